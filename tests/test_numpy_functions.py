"""Every numpy and scipy.special function the Tracer supports, through numpy's own name:
gradients against autograd and against central finite differences in random directions, on
random inputs, with broadcasting and axis/keepdims combinations; and the conventions at
points where a function is not differentiable."""

import autograd
import autograd.numpy as anp
import autograd.scipy.special as asp
import numpy as np
import pytest
import scipy.special as sp

import lagrange_ad as la
from lagrange_ad.errors import TracingError

RNG = np.random.default_rng(11)
SCALE = RNG.standard_normal((1, 5, 1))
WEIGHTS = RNG.uniform(0.5, 2.0, 4)
KNOTS = np.array([-2.0, -0.5, 0.3, 1.1, 2.5])


def normal(*shape):
    return RNG.standard_normal(shape)


def positive(*shape):
    return RNG.uniform(0.5, 2.0, shape)


def inside(*shape):
    return RNG.uniform(-0.8, 0.8, shape)


def weigh(xp, out):
    """A scalar that sees every entry of ``out`` with a different weight."""
    weights = np.cos(np.arange(np.size(out)) + 0.3).reshape(np.shape(out))
    return xp.sum(out * weights)


# (name, f(xp, special, *args), args): f is written once and run with numpy (traced) and
# with autograd's numpy; special is scipy.special or autograd's (None: no autograd reference)
CASES = [
    ("max axis keepdims", lambda xp, s, x: x - xp.max(x, axis=1, keepdims=True), (normal(3, 4),)),
    ("amax tuple", lambda xp, s, x: xp.amax(x, axis=(0, 2)), (normal(2, 3, 4),)),
    ("min", lambda xp, s, x: xp.min(x, axis=0), (normal(3, 4),)),
    ("amin all", lambda xp, s, x: xp.amin(x), (normal(3, 4),)),
    ("method max", lambda xp, s, x: x.max(axis=-1), (normal(3, 4),)),
    ("prod", lambda xp, s, x: xp.prod(x, axis=1, keepdims=True), (positive(3, 4),)),
    ("var ddof", lambda xp, s, x: xp.var(x, axis=0, ddof=1), (normal(4, 3),)),
    ("std keepdims", lambda xp, s, x: xp.std(x, axis=1, keepdims=True), (normal(3, 4),)),
    ("std all", lambda xp, s, x: xp.std(x), (normal(3, 4),)),
    ("mean tuple", lambda xp, s, x: xp.mean(x, axis=(0, 1)), (normal(2, 3, 2),)),
    ("sum keepdims", lambda xp, s, x: xp.sum(x, axis=-1, keepdims=True), (normal(3, 4),)),
    ("cumsum", lambda xp, s, x: xp.cumsum(x, axis=1), (normal(3, 4),)),
    ("cumsum flat", lambda xp, s, x: xp.cumsum(x), (normal(3, 4),)),
    ("cumprod", lambda xp, s, x: xp.cumprod(x, axis=0), (positive(3, 4),)),
    ("sort", lambda xp, s, x: xp.sort(x, axis=1), (normal(3, 4),)),
    ("where", lambda xp, s, x, y: xp.where(x > 0, x, y), (normal(3, 4), normal(4))),
    ("clip", lambda xp, s, x: xp.clip(x, -0.5, 0.5), (normal(3, 4),)),
    ("einsum", lambda xp, s, x, y: xp.einsum("ij,jk->ik", x, y), (normal(2, 3), normal(3, 4))),
    ("einsum implicit", lambda xp, s, x, y: xp.einsum("ij,ij", x, y), (normal(2, 3),
                                                                        normal(2, 3))),
    ("outer", lambda xp, s, x, y: xp.outer(x, y), (normal(3), normal(4))),
    ("inner", lambda xp, s, x, y: xp.inner(x, y), (normal(2, 3), normal(4, 3))),
    ("tensordot", lambda xp, s, x, y: xp.tensordot(x, y, axes=([1, 2], [0, 1])),
     (normal(2, 3, 4), normal(3, 4, 2))),
    ("tensordot int", lambda xp, s, x, y: xp.tensordot(x, y, 1), (normal(2, 3), normal(3, 2))),
    ("dot 0-d", lambda xp, s, x, y: xp.dot(x[0, 0], y), (normal(2, 3), normal(3))),
    ("dot N-d", lambda xp, s, x, y: xp.dot(x, y), (normal(2, 2, 3), normal(4, 3, 2))),
    ("expand_dims", lambda xp, s, x: xp.expand_dims(x, 1) * SCALE, (normal(3, 4),)),
    ("squeeze", lambda xp, s, x: xp.squeeze(x, axis=0), (normal(1, 3, 1),)),
    ("ravel", lambda xp, s, x: xp.ravel(x), (normal(3, 4),)),
    ("vstack", lambda xp, s, x, y: xp.vstack([x, y]), (normal(4), normal(2, 4))),
    ("hstack", lambda xp, s, x, y: xp.hstack([x, y]), (normal(3, 1), normal(3, 2))),
    ("column_stack", lambda xp, s, x, y: xp.column_stack([x, y]), (normal(3), normal(3, 2))),
    ("repeat", lambda xp, s, x: xp.repeat(x, 2, axis=1), (normal(3, 4),)),
    ("tile", lambda xp, s, x: xp.tile(x, (2, 1)), (normal(3, 4),)),
    ("pad", lambda xp, s, x: xp.pad(x, ((1, 0), (2, 1))), (normal(3, 4),)),
    ("pad edge", lambda xp, s, x: xp.pad(x, 2, mode="edge"), (normal(3, 4),)),
    ("diag of vector", lambda xp, s, x: xp.diag(x, 1), (normal(3),)),
    ("diag of matrix", lambda xp, s, x: xp.diag(x), (normal(3, 4),)),
    ("diagonal", lambda xp, s, x: xp.diagonal(x, 1, 0, 2), (normal(3, 2, 4),)),
    ("trace", lambda xp, s, x: xp.trace(x), (normal(3, 4),)),
    ("tril", lambda xp, s, x: xp.tril(x, -1), (normal(3, 4),)),
    ("triu", lambda xp, s, x: xp.triu(x), (normal(3, 4),)),
    ("swapaxes", lambda xp, s, x: xp.swapaxes(x, 0, 2), (normal(2, 3, 4),)),
    ("moveaxis", lambda xp, s, x: xp.moveaxis(x, 0, -1), (normal(2, 3, 4),)),
    ("roll", lambda xp, s, x: xp.roll(x, 2, axis=1), (normal(3, 4),)),
    ("flip", lambda xp, s, x: xp.flip(x, 0), (normal(3, 4),)),
    ("split", lambda xp, s, x: xp.split(x, 2, axis=1)[1], (normal(3, 4),)),
    ("atleast_3d", lambda xp, s, x: xp.atleast_3d(x), (normal(3, 4),)),
    ("append", lambda xp, s, x, y: xp.append(x, y), (normal(3, 4), normal(2))),
    ("diff", lambda xp, s, x: xp.diff(x, n=2, axis=1), (normal(3, 5),)),
    ("kron", lambda xp, s, x, y: xp.kron(x, y), (normal(2, 3), normal(3, 2))),
    ("cross", lambda xp, s, x, y: xp.cross(x, y), (normal(4, 3), normal(3))),
    ("sign", lambda xp, s, x: xp.sign(x) * x, (normal(3, 4),)),
    ("expm1", lambda xp, s, x: xp.expm1(x), (normal(3, 4),)),
    ("log1p", lambda xp, s, x: xp.log1p(x), (positive(3, 4),)),
    ("log2", lambda xp, s, x: xp.log2(x), (positive(3, 4),)),
    ("log10", lambda xp, s, x: xp.log10(x), (positive(3, 4),)),
    ("exp2", lambda xp, s, x: xp.exp2(x), (normal(3, 4),)),
    ("logaddexp", lambda xp, s, x, y: xp.logaddexp(x, y), (normal(3, 4), normal(4))),
    ("logaddexp2", lambda xp, s, x, y: xp.logaddexp2(x, y), (normal(3, 4), normal(4))),
    ("sinh cosh", lambda xp, s, x: xp.sinh(x) * xp.cosh(x), (normal(3, 4),)),
    ("arc", lambda xp, s, x: xp.arcsin(x) + xp.arccos(x) * xp.arctan(x), (inside(3, 4),)),
    ("arch", lambda xp, s, x: xp.arcsinh(x) + xp.arctanh(x) + xp.arccosh(x + 2), (inside(3, 4),)),
    ("arctan2", lambda xp, s, x, y: xp.arctan2(x, y), (normal(3, 4), positive(4))),
    ("reciprocal fabs", lambda xp, s, x: xp.reciprocal(x) + xp.fabs(x), (positive(3, 4),)),
    ("floor ceil round", lambda xp, s, x: x * (xp.floor(x) + xp.ceil(x) + xp.round(x)),
     (normal(3, 4),)),
    ("mod", lambda xp, s, x, y: xp.mod(x, y), (normal(3, 4), positive(4))),
    ("remainder", lambda xp, s, x: xp.remainder(x, 0.7), (normal(3, 4),)),
    ("fmax fmin", lambda xp, s, x, y: xp.fmax(x, y) + xp.fmin(x, 0.1), (normal(3, 4), normal(4))),
    ("select", lambda xp, s, x: xp.select([x < -0.5, x > 0.5], [x ** 2, xp.sin(x)], 0.5),
     (normal(3, 4),)),
    ("sinc", lambda xp, s, x: xp.sinc(x), (normal(3, 4),)),
    ("deg2rad rad2deg", lambda xp, s, x: xp.deg2rad(x) * xp.rad2deg(x), (normal(3, 4),)),
    ("nan_to_num", lambda xp, s, x: xp.nan_to_num(x) * x, (normal(3, 4),)),
    ("expit", lambda xp, s, x: s.expit(x), (normal(3, 4),)),
    ("logit", lambda xp, s, x: s.logit(x), (RNG.uniform(0.1, 0.9, (3, 4)),)),
    ("erf erfc", lambda xp, s, x: s.erf(x) * s.erfc(x), (normal(3, 4),)),
    ("gammaln digamma", lambda xp, s, x: s.gammaln(x) + s.digamma(x), (positive(3, 4),)),
    ("logsumexp", lambda xp, s, x: s.logsumexp(x, axis=1), (normal(3, 4),)),
    ("logsumexp b", lambda xp, s, x: s.logsumexp(x, b=WEIGHTS), (normal(3, 4),)),
    ("softmax", lambda xp, s, x: sp.softmax(x, axis=0), (normal(3, 4),)),
    ("log_softmax", lambda xp, s, x: sp.log_softmax(x), (normal(3, 4),)),
    ("xlogy", lambda xp, s, x, y: sp.xlogy(x, y), (normal(3, 4), positive(4))),
    ("xlog1py", lambda xp, s, x, y: sp.xlog1py(x, y), (normal(3, 4), positive(4))),
    ("log_expit", lambda xp, s, x: sp.log_expit(x), (normal(3, 4) * 10,)),
    ("norm", lambda xp, s, x: np.linalg.norm(x, axis=1), (normal(3, 4),)),
    ("outer of a matrix", lambda xp, s, x, y: xp.outer(x, y), (normal(3), normal(2, 2))),
    ("hypot", lambda xp, s, x, y: xp.hypot(x, y), (normal(3, 4), normal(4))),
    ("fix", lambda xp, s, x: x * xp.fix(3 * x), (normal(3, 4),)),
    ("trapezoid", lambda xp, s, x: np.trapezoid(x, dx=0.5, axis=0), (normal(3, 4),)),
    ("trapezoid x", lambda xp, s, x, y: np.trapezoid(x, y), (normal(3, 4), normal(4))),
    ("median", lambda xp, s, x: np.median(x, axis=1), (normal(3, 4),)),
    ("median odd", lambda xp, s, x: np.median(x), (normal(3, 5),)),
    ("cumulative_sum", lambda xp, s, x: np.cumulative_sum(x, axis=1, include_initial=True),
     (normal(3, 4),)),
    ("vsplit unstack", lambda xp, s, x: np.vsplit(x, 3)[1] * np.unstack(x)[2],
     (normal(3, 4),)),
    ("rollaxis matrix_transpose", lambda xp, s, x: np.rollaxis(np.matrix_transpose(x), 2),
     (normal(2, 3, 4),)),
    ("take_along_axis", lambda xp, s, x: np.take_along_axis(x, np.argsort(x, axis=1), 1),
     (normal(3, 4),)),
    ("ediff1d diagflat", lambda xp, s, x: np.diagflat(np.ediff1d(x, to_end=[1.0])),
     (normal(2, 2),)),
    ("nan reductions", lambda xp, s, x: np.nansum(x, axis=0) * np.nanstd(x, axis=0),
     (normal(3, 4),)),
    ("vecdot matvec vecmat", lambda xp, s, x, y: np.vecdot(x, y) + np.matvec(x, y)
     + np.vecmat(y, x), (normal(3, 3), normal(3))),
    ("degrees radians", lambda xp, s, x: np.degrees(x) * np.radians(x), (normal(3, 4),)),
    ("quantile", lambda xp, s, x: np.quantile(x, [0.2, 0.7], axis=1), (normal(3, 5),)),
    ("percentile", lambda xp, s, x: np.percentile(x, 35, keepdims=True), (normal(3, 5),)),
    ("cov corrcoef", lambda xp, s, x: np.cov(x) + np.corrcoef(x, rowvar=True), (normal(3, 6),)),
    ("cov of two", lambda xp, s, x, y: np.cov(x, y, bias=True), (normal(6), normal(6))),
    ("compress", lambda xp, s, x: np.compress([True, False, True], x, axis=0), (normal(3, 4),)),
    ("copysign", lambda xp, s, x, y: xp.copysign(x, y), (normal(3, 4), normal(4))),
    ("fmod", lambda xp, s, x, y: xp.fmod(x, y), (normal(3, 4), positive(4))),
    ("heaviside", lambda xp, s, x, y: xp.heaviside(x, y) * x + y, (normal(3, 4), normal(4))),
    ("convolve full", lambda xp, s, x, y: xp.convolve(x, y), (normal(6), normal(3))),
    ("convolve same", lambda xp, s, x, y: xp.convolve(x, y, mode="same"), (normal(3), normal(5))),
    ("convolve valid", lambda xp, s, x, y: xp.convolve(x, y, "valid"), (normal(6), normal(4))),
    ("correlate", lambda xp, s, x, y: xp.correlate(x, y), (normal(6), normal(3))),
    ("correlate full", lambda xp, s, x, y: xp.correlate(x, y, "full"), (normal(3), normal(5))),
    ("interp", lambda xp, s, x, y: xp.interp(x, KNOTS, y), (2 * normal(3, 4), normal(5))),
    ("interp knots", lambda xp, s, x: xp.interp(np.linspace(-1, 3, 7), xp.cumsum(x), x ** 2,
                                                left=0.5), (positive(4),)),
    ("linspace", lambda xp, s, x: xp.linspace(x[0], x[1], 5), (normal(2, 3),)),
    ("linspace axis", lambda xp, s, x: xp.linspace(x[0], 2.0, 4, endpoint=False, axis=-1),
     (normal(2, 3),)),
    ("logspace", lambda xp, s, x: xp.logspace(x[0], x[1], 4, base=2.0), (normal(2),)),
    ("geomspace", lambda xp, s, x: xp.geomspace(x[0], x[1], 4), (positive(2, 3),)),
    ("meshgrid", lambda xp, s, x, y: xp.meshgrid(x, y)[0] * xp.meshgrid(x, y, indexing="ij")[1]
     .T, (normal(3), normal(4))),
    ("block", lambda xp, s, x, y: xp.block([[x, y[:, :1]], [y.T @ x, 2.0 * y[:, 1:]]]),
     (normal(2, 2), normal(2, 2))),
    ("insert", lambda xp, s, x, y: xp.insert(x, np.array([1, 3]), y, axis=1),
     (normal(2, 4), normal(2, 1))),
    ("delete", lambda xp, s, x: xp.delete(x, np.array([0, 2]), axis=1) + xp.delete(x, 1)[:2],
     (normal(2, 4),)),
    ("polyval", lambda xp, s, x, y: xp.polyval(x, y), (normal(4), normal(2, 3))),
    ("vander", lambda xp, s, x: xp.vander(x, 4), (normal(3),)),
    ("gradient", lambda xp, s, x: xp.gradient(x, 0.5)[0] * xp.gradient(x, axis=1), (normal(3, 4),)),
    ("polyadd polysub", lambda xp, s, x, y: xp.polyadd(x, y) * xp.polysub(y, x),
     (normal(3), normal(5))),
    ("polymul polyder", lambda xp, s, x, y: xp.polyder(xp.polymul(x, y), 2),
     (normal(3), normal(4))),
    ("modf ldexp", lambda xp, s, x: xp.modf(x)[0] * xp.ldexp(x, 3), (normal(3, 4) * 3,)),
    ("angle resize", lambda xp, s, x: xp.angle(x, deg=True) * xp.resize(x, (2, 7)).sum(),
     (normal(3, 4),)),
    ("astype indices_from", lambda xp, s, x: xp.astype(x, np.float64)[xp.triu_indices_from(x, 1)]
     + x[xp.diag_indices_from(x)].sum() + x[xp.tril_indices_from(x)][:3], (normal(3, 3),)),
]
# autograd has no rule for these (or none for these shapes); finite differences check them
NO_AUTOGRAD = {"softmax", "log_softmax", "xlogy", "xlog1py", "log_expit", "norm",
               "logsumexp b", "sinc", "pad edge", "diag of vector", "kron", "nan_to_num",
               "einsum implicit", "dot N-d", "arc", "select", "cumprod", "sort", "where",
               "pad", "diag of matrix", "diagonal", "flip", "cross", "outer of a matrix",
               "fix", "trapezoid", "trapezoid x", "median", "median odd", "cumulative_sum",
               "vsplit unstack", "rollaxis matrix_transpose", "take_along_axis",
               "ediff1d diagflat", "nan reductions", "vecdot matvec vecmat",
               "degrees radians", "quantile", "percentile", "cov corrcoef", "cov of two",
               "compress", "interp", "interp knots", "linspace axis", "geomspace", "block",
               "insert", "delete", "copysign", "fmod", "heaviside", "convolve full",
               "convolve same", "convolve valid", "correlate", "correlate full", "logspace",
               "meshgrid", "polyval", "vander", "gradient", "polyadd polysub",
               "polymul polyder", "modf ldexp", "astype indices_from", "angle resize"}


def traced_gradient(f, args):
    return la.grad(lambda *a: weigh(np, f(np, sp, *a)))(*args)


@pytest.mark.parametrize("name, f, args", CASES, ids=[c[0] for c in CASES])
def test_gradient_against_finite_differences(name, f, args):
    gradient = traced_gradient(f, args)
    value = lambda *a: float(weigh(np, f(np, sp, *a)))  # noqa: E731
    h = 1e-6
    directions = [RNG.standard_normal(np.shape(a)) for a in args]
    up = value(*[a + h * d for a, d in zip(args, directions)])
    down = value(*[a - h * d for a, d in zip(args, directions)])
    predicted = sum(float(np.sum(g * d)) for g, d in zip(gradient, directions))
    assert predicted == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("name, f, args", [c for c in CASES if c[0] not in NO_AUTOGRAD],
                         ids=[c[0] for c in CASES if c[0] not in NO_AUTOGRAD])
def test_gradient_against_autograd(name, f, args):
    gradient = traced_gradient(f, args)
    expected = autograd.grad(lambda *a: weigh(anp, f(anp, asp, *a)),
                             argnum=tuple(range(len(args))))(*args)
    for got, want in zip(gradient, expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


# functions autograd has no rule for, against JAX (the same f with jax.numpy)
JAX_CASES = ["copysign", "fmod", "heaviside", "convolve full", "convolve same",
             "convolve valid", "correlate", "correlate full", "interp", "interp knots",
             "linspace axis", "logspace", "geomspace", "meshgrid", "block", "insert", "delete",
             "polyval", "vander", "gradient", "polyadd polysub", "polymul polyder", "modf ldexp",
             "astype indices_from", "angle resize"]


@pytest.mark.parametrize("name, f, args", [c for c in CASES if c[0] in JAX_CASES],
                         ids=[c[0] for c in CASES if c[0] in JAX_CASES])
def test_gradient_against_jax(name, f, args):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    gradient = traced_gradient(f, args)
    expected = jax.grad(lambda *a: weigh(jnp, f(jnp, None, *a)),
                        argnums=tuple(range(len(args))))(*args)
    for got, want in zip(gradient, expected):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-10, atol=1e-12)


NUMPY_NAMES = (
    "max min amax amin where clip einsum outer inner tensordot dot var std prod cumsum cumprod "
    "sort expand_dims squeeze ravel vstack hstack column_stack repeat tile pad diag diagonal "
    "tril triu swapaxes moveaxis roll flip split atleast_1d atleast_2d atleast_3d append diff "
    "kron cross sign expm1 log1p log2 log10 exp2 logaddexp logaddexp2 sinh cosh arcsin arccos "
    "arctan arcsinh arccosh arctanh arctan2 reciprocal fabs floor ceil round rint mod remainder "
    "fmax fmin select sinc deg2rad rad2deg nan_to_num copysign fmod heaviside convolve "
    "correlate interp linspace logspace geomspace meshgrid block insert delete polyval vander "
    "gradient polyadd polysub polymul polyder").split()
SPECIAL_NAMES = "expit logit log_expit erf erfc gammaln digamma xlogy xlog1py logsumexp " \
    "softmax log_softmax".split()


@pytest.mark.parametrize("name", NUMPY_NAMES + SPECIAL_NAMES)
def test_each_function_is_also_an_la_function(name):
    assert callable(getattr(la, name))


# ----------------------------------------------------------------- non-differentiable points


def test_ties_in_max_and_min_share_the_derivative_evenly():
    x = np.array([1.0, 3.0, 3.0, 2.0])
    np.testing.assert_array_equal(la.grad(lambda x: np.max(x))(x)[0], [0, 0.5, 0.5, 0])
    np.testing.assert_array_equal(la.grad(lambda x: x.min())(np.array([1.0, 1.0, 1.0]))[0],
                                  [1 / 3] * 3)


def test_abs_and_sign_at_zero_have_derivative_zero():
    assert la.grad(lambda x: np.abs(x))(0.0)[0] == 0.0
    assert la.grad(lambda x: np.sign(x) + x)(0.0)[0] == 1.0


def test_clip_at_a_bound_splits_the_derivative_as_jax_does():
    g = la.grad(lambda x: np.sum(np.clip(x, -1.0, 1.0)))(np.array([-1.0, 0.0, 1.0, 2.0]))[0]
    np.testing.assert_array_equal(g, [0.5, 1.0, 0.5, 0.0])


def test_sinc_at_zero_is_one_with_derivative_zero():
    graph = la.trace(lambda x: np.sinc(x), 0.0)
    assert la.Program(graph).output_value == 1.0
    assert la.grad(lambda x: np.sinc(x))(0.0)[0] == 0.0


# ----------------------------------------------------------------- arguments and refusals


@pytest.mark.parametrize("f, pattern", [
    (lambda x: np.sum(x, out=np.zeros(())), r"sum: out=.*not supported"),
    (lambda x: np.max(x, where=x > 0), r"where=.*select the entries first"),
    (lambda x: np.sum(x, dtype=np.int64), r"dtype=.*float64"),
    (lambda x: np.fft.fft(x), r"numpy.fft.fft cannot be traced"),
    (lambda x: np.var(x, mean=np.zeros(4)), r"var: mean=.*recomputed"),
    (lambda x: np.exp(x, where=x > 0), r"numpy.exp: where=.*np.where"),
])
def test_unsupported_arguments_are_refused_by_name(f, pattern):
    with pytest.raises(TracingError, match=pattern):
        la.trace(f, normal(3, 4))


def test_where_and_initial_where_numpy_has_them():
    x, mask = normal(3, 4), RNG.uniform(size=(3, 4)) > 0.3
    for f in (lambda x: np.sum(x ** 2, where=mask, initial=1.0),
              lambda x: np.mean(x ** 2, axis=1, where=mask).sum(),
              lambda x: np.std(x, where=mask), lambda x: np.max(x, initial=5.0)):
        graph = la.trace(f, x)
        assert la.Program(graph).output_value == pytest.approx(f(x), rel=1e-13)


def test_ufunc_methods_reduce_accumulate_and_outer():
    x = positive(3, 4)
    for f in (lambda x: np.add.reduce(x, axis=1), lambda x: np.multiply.accumulate(x),
              lambda x: np.maximum.reduce(x, axis=None), lambda x: np.subtract.outer(x[0], x[1])):
        graph = la.trace(lambda x, f=f: weigh(np, f(x)), x)
        assert la.Program(graph).output_value == pytest.approx(weigh(np, f(x)), rel=1e-13)


def test_la_functions_work_on_plain_arrays():
    x = normal(3, 4)
    np.testing.assert_allclose(la.std(x, axis=0, ddof=1), np.std(x, axis=0, ddof=1), rtol=1e-14)
    np.testing.assert_allclose(la.kron(x, x), np.kron(x, x), rtol=1e-14)
    np.testing.assert_allclose(la.cross(x[:, :3], x[:, 1:]), np.cross(x[:, :3], x[:, 1:]),
                               rtol=1e-14)


@pytest.mark.parametrize("reduction", ["sum", "mean", "max", "min", "prod", "var", "std"])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_over_axes_with_and_without_keepdims_match_autograd(reduction, axis,
                                                                       keepdims):
    x = positive(2, 3, 4)

    def f(xp, x):
        out = getattr(xp, reduction)(x, axis=axis, keepdims=keepdims)
        return weigh(xp, out * xp.ones((2, 1, 1)))  # the result broadcast against a stack

    (got,) = la.grad(lambda x: f(np, x))(x)
    np.testing.assert_allclose(got, autograd.grad(lambda x: f(anp, x))(x), rtol=1e-10,
                               atol=1e-12)


def test_clip_takes_numpy_min_and_max_keywords():
    x = np.linspace(0.0, 1.0, 5)
    g = la.grad(lambda x: np.sum(x.clip(min=0.2, max=0.8)) + np.sum(np.clip(x, 0.1, None)))(x)
    np.testing.assert_array_equal(g[0], [0.0, 2.0, 2.0, 2.0, 1.0])


def test_sort_with_ties_sends_each_derivative_along_the_stable_permutation():
    weights = np.array([1.0, 10.0, 100.0])
    g = la.grad(lambda x: np.sum(np.sort(x) * weights))(np.array([1.0, 1.0, 0.0]))[0]
    np.testing.assert_array_equal(g, [10.0, 100.0, 1.0])
