"""Domains, conventions at non-differentiable points, and agreement with autograd.

The registry-wide checks in test_primitives.py hold at points where a primitive is smooth. Here:
points outside a domain raise `DomainError` naming the node; at kinks, jumps and ties the rules
give the documented one-sided or averaged derivative (the conventions of autograd and JAX);
and on random inputs the rows agree with autograd's derivatives of the numpy functions.
"""

import numpy as np
import pytest

import lagrange_ad as la
from lagrange_ad.primitives import lookup
from lagrange_ad.tracing.functions import call

RNG = np.random.default_rng(20261204)

DOMAIN_ERRORS = [
    ("log1p", (np.array([0.5, -1.0]),), {}, r"log1p needs arguments greater than -1"),
    ("arcsin", (np.array([0.2, 1.0]),), {}, r"arcsin .*open interval \(-1, 1\).*infinite"),
    ("arccos", (np.array(-1.5),), {}, r"arccos needs arguments in the open interval"),
    ("arctanh", (np.array([1.0]),), {}, r"arctanh"),
    ("arccosh", (np.array([2.0, 1.0]),), {}, r"arccosh needs arguments greater than 1"),
    ("gammaln", (np.array([1.5, -2.0]),), {}, r"gammaln has a pole .* -2\.0 at index \(1,\)"),
    ("digamma", (np.array(0.0),), {}, r"digamma has a pole"),
    ("xlogy", (np.array([1.0, 2.0]), np.array([1.0, 0.0])), {}, r"xlogy\(x, y\) needs y > 0"),
    ("xlogy", (np.array(0.0), np.array(-1.0)), {}, r"xlogy"),
    ("xlog1py", (np.array(1.0), np.array(-1.0)), {}, r"xlog1py\(x, y\) needs 1 \+ y > 0"),
    ("mod", (np.array([1.0, 2.0]), np.array([3.0, 0.0])), {}, r"mod by zero"),
    ("arctan2", (np.array([0.0, 1.0]), np.array([0.0, 1.0])), {}, r"arctan2 .*both .*zero"),
]


@pytest.mark.parametrize("name, xs, params, message", DOMAIN_ERRORS,
                         ids=[f"{case[0]}-{k}" for k, case in enumerate(DOMAIN_ERRORS)])
def test_points_outside_a_domain_raise_and_name_the_node(name, xs, params, message):
    with pytest.raises(la.DomainError, match=message):
        call(name, *xs, **params)
    # traced: the message names the node of the graph
    with pytest.raises(la.DomainError, match=rf"v\d+ = .*{name}"):
        la.trace(lambda *vs: la.sum(call(name, *vs, **params)), *xs)


def test_xlogy_is_zero_where_x_is_zero_and_its_y_partial_too():
    # scipy's definition: the entropy term p log p at p = 0 is 0; d/dy = 0 there
    assert float(call("xlogy", 0.0, 0.0)) == 0.0
    rule = lookup("xlogy")
    dx, dy = rule.partials(0.0, np.array([0.0, 2.0]), np.array([3.0, 4.0]))
    np.testing.assert_array_equal(dy, [0.0, 0.5])
    np.testing.assert_allclose(dx, np.log([3.0, 4.0]))
    # d/dx = log 0 is infinite: the gradient does not exist, and says so
    with pytest.raises(la.NonFiniteError):
        la.grad(lambda p: call("xlogy", p, p))(0.0)


@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "rint"])
def test_piecewise_constant_rows_have_zero_derivative_at_their_jumps_too(name):
    jumps = {"sign": 0.0, "floor": 2.0, "ceil": -1.0, "rint": 0.5}[name]
    x = np.array([jumps, jumps + 0.25, -3.7])
    g = la.grad(lambda v: la.sum(call(name, v) * v))(x)[0]
    np.testing.assert_array_equal(g, getattr(np, name)(x))  # d(f(x) x)/dx = f(x) + 0
    rule = lookup(name)
    assert rule.node_multiply_adds((3,), (3,)) == 0
    assert rule.jacobian(x, x)[0].vals.size == 0


def test_mod_follows_numpy_remainder_and_its_piecewise_slopes():
    x, y = np.array([5.3, -5.3, 5.3, -5.3]), np.array([2.0, 2.0, -2.0, -2.0])
    np.testing.assert_array_equal(call("mod", x, y), np.remainder(x, y))
    gx, gy = la.grad(lambda a, b: la.sum(call("mod", a, b)))(x, y)
    np.testing.assert_array_equal(gx, np.ones(4))
    np.testing.assert_array_equal(gy, -np.floor(x / y))
    # on a jump (x / y an integer) the piece numpy's quotient selects, as autograd takes it
    jumps = np.array([4.0, -4.0, 0.0]), np.array([2.0, 2.0, 3.0])
    np.testing.assert_array_equal(
        la.grad(lambda a, b: la.sum(call("mod", a, b)))(*jumps)[1], [-2.0, 2.0, 0.0])


def test_logaddexp_is_stable_far_from_zero():
    x, y = np.array([800.0, -800.0]), np.array([799.0, -801.0])
    gx, gy = la.grad(lambda a, b: la.sum(call("logaddexp", a, b)))(x, y)
    s = 1.0 / (1.0 + np.exp(-1.0))
    np.testing.assert_allclose(gx, [s, s], rtol=1e-12)
    np.testing.assert_allclose(gy, [1 - s, 1 - s], rtol=1e-12)


def test_special_rows_run_in_the_python_loop_on_scalar_graphs():
    from lagrange_ad.accel import compiled

    graph = la.trace(lambda x: call("erf", x) * call("gammaln", x), 1.3)
    assert not compiled.available(graph)
    g = la.grad(graph)(1.3)[0]
    from scipy import special

    want = 2 / np.sqrt(np.pi) * np.exp(-1.69) * special.gammaln(1.3) + \
        special.erf(1.3) * special.digamma(1.3)
    assert float(g) == pytest.approx(want, rel=1e-14)


# ------------------------------------------------------------------- ties and zeros

TIED = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.5, -1.0, 0.25]])


@pytest.mark.parametrize("name, axis", [("max", (1,)), ("min", (0,)), ("max", None)])
def test_tied_extremes_share_the_cotangent_evenly_and_average_the_tangents(name, axis):
    rule = lookup(name)
    ans = rule.evaluate(TIED, axis=axis)
    hit = TIED == np.expand_dims(ans, axis if axis is not None else (0, 1))
    share = hit / hit.sum(axis=axis, keepdims=True)
    g = RNG.standard_normal(np.shape(ans))
    (ct,) = rule.vjp(g, ans, TIED, axis=axis)
    np.testing.assert_allclose(ct, share * np.expand_dims(g, axis if axis is not None
                                                          else (0, 1)), rtol=1e-15)
    t = RNG.standard_normal(TIED.shape)
    mean_tangent = np.sum(t * hit, axis=axis) / np.sum(hit, axis=axis)
    np.testing.assert_allclose(rule.jvp((t,), ans, TIED, axis=axis), mean_tangent, rtol=1e-14)


def test_max_ties_agree_with_autograd():
    pytest.importorskip("autograd")
    import autograd.numpy as anp
    from autograd import grad

    w = np.array([0.7, -1.1, 2.0])
    want = grad(lambda x: (anp.max(x, axis=1) * w).sum())(TIED)
    got = la.grad(lambda x: la.sum(call("max", x, axis=(1,)) * w))(TIED)[0]
    np.testing.assert_allclose(got, want, rtol=1e-15)
    np.testing.assert_allclose(got[1], [w[1] / 3] * 3, rtol=1e-15)


def test_prod_is_exact_with_zeros():
    x = np.array([[0.0, 2.0, 3.0, -1.5], [0.0, 0.0, 1.5, 2.0], [1.0, 2.0, -0.5, 4.0]])
    got = la.grad(lambda v: la.sum(call("prod", v, axis=(1,))))(x)[0]
    brute = np.array([[np.prod(np.delete(row, k)) for k in range(row.size)] for row in x])
    np.testing.assert_array_equal(got, brute)
    assert got[0, 0] == -9.0 and np.all(got[1] == 0.0)


@pytest.mark.parametrize("n", [1, 2, 5, 8, 13])
def test_cumprod_is_exact_with_zeros(n):
    x = RNG.uniform(-2, 2, n)
    x[RNG.integers(0, n, 2)] = 0.0
    g = RNG.standard_normal(n)
    got = la.grad(lambda v: la.sum(call("cumprod", v, axis=0) * g))(x)[0]
    # d ans_i / d x_j = prod_{k <= i, k != j} x_k, by brute force
    brute = [sum(g[i] * np.prod(np.delete(x[:i + 1], j)) for i in range(j, n))
             for j in range(n)]
    np.testing.assert_allclose(got, brute, rtol=1e-13, atol=1e-15)


def test_sort_ties_follow_the_stable_permutation():
    x = np.array([2.0, 1.0, 2.0, 1.0, 0.5])
    g = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    rule = lookup("sort")
    ans = rule.evaluate(x, axis=0)
    # sorted order: x[4], x[1], x[3], x[0], x[2] (ties in index order)
    np.testing.assert_array_equal(rule.vjp(g, ans, x, axis=0)[0], [40.0, 20.0, 50.0, 30.0, 10.0])
    np.testing.assert_array_equal(rule.jvp((g,), ans, x, axis=0), [50.0, 20.0, 40.0, 10.0, 30.0])


def test_where_masks_and_unbroadcasts_cotangents():
    mask = np.array([[True], [False]])
    x, y = np.array([1.0, 2.0, 3.0]), np.array(5.0)
    gx, gy = la.grad(lambda a, b: la.sum(call("where", a, b, mask=mask) * [[1, 2, 3], [4, 5, 6]]))(
        x, y)
    np.testing.assert_array_equal(gx, [1.0, 2.0, 3.0])
    assert float(gy) == 15.0


SHAPE_ERRORS = [
    ("pad", (np.ones((2, 2)),), {"pad_width": ((1, 1),)}, r"one \(before, after\) pair"),
    ("pad", (np.ones(2),), {"pad_width": ((1, -1),)}, r"non-negative"),
    ("sort", (np.ones(3),), {"axis": None}, r"sort takes one axis, an int"),
    ("sort", (np.array(1.0),), {"axis": -1}, r"out of range"),
    ("cumsum", (np.ones(3),), {"axis": (0,)}, r"cumsum takes one axis, an int"),
    ("cumprod", (np.ones((2, 3)),), {"axis": 2}, r"out of range"),
    ("max", (np.ones((2, 0)),), {"axis": (1,)}, r"max of zero entries"),
    ("broadcast_to", (np.ones(3),), {"shape": (2,)}, r"broadcast_to cannot"),
    ("where", (np.ones(3), np.ones(3)), {"mask": np.ones(2, bool)}, r"where cannot"),
    ("einsum", (np.ones((2, 3)), np.ones((3, 2))), {"subscripts": "ij,jk"}, r"explicit"),
    ("einsum", (np.ones((2, 3)),), {"subscripts": "...j->j"}, r"'\.\.\.' is not supported"),
    ("einsum", (np.ones((2, 3)), np.ones((2, 2))), {"subscripts": "ij,jk->ik"},
     r"letter 'j' has lengths 3 and 2"),
    ("einsum", (np.ones(3),), {"subscripts": "i->ii"}, r"twice in the output"),
    ("einsum", (np.ones(3),), {"subscripts": "i->j"}, r"output letter 'j' is in no operand"),
    ("einsum", (np.ones(3),), {"subscripts": "i,i->"}, r"name 2 operand\(s\); 1 given"),
    ("einsum", (np.ones((3, 2)),), {"subscripts": "i->i"}, r"has shape \(3, 2\) but 1"),
    ("einsum", (np.ones(3),), {"subscripts": "1->"}, r"letters a-z and A-Z"),
    ("einsum", (np.ones(3),), {"subscripts": "\u00e9->"}, r"letters a-z and A-Z"),
]


@pytest.mark.parametrize("name, xs, params, message", SHAPE_ERRORS,
                         ids=[f"{case[0]}-{k}" for k, case in enumerate(SHAPE_ERRORS)])
def test_bad_parameters_raise_shape_errors(name, xs, params, message):
    with pytest.raises(la.ShapeError, match=message):
        call(name, *xs, **params)


def test_einsum_cotangent_of_a_diagonal_is_zero_off_it():
    x = RNG.standard_normal((3, 3))
    g = la.grad(lambda v: call("einsum", v, subscripts="ii->"))(x)[0]
    np.testing.assert_array_equal(g, np.eye(3))
    rule = lookup("einsum")
    assert rule.node_multiply_adds((), (3, 3), subscripts="ii->") == 3
    assert rule.node_multiply_adds((2, 4), (2, 3), (3, 4), subscripts="ij,jk->ik") == \
        lookup("matmul").node_multiply_adds((2, 4), (2, 3), (3, 4))


# ------------------------------------------------------------------- against autograd

UNARY = {  # row -> (autograd's function, the interval of the samples, inside the domain)
    "expm1": ("expm1", -2, 2), "log1p": ("log1p", -0.9, 3), "sinh": ("sinh", -2, 2),
    "cosh": ("cosh", -2, 2), "arcsin": ("arcsin", -0.95, 0.95),
    "arccos": ("arccos", -0.95, 0.95), "arctan": ("arctan", -3, 3),
    "arcsinh": ("arcsinh", -3, 3), "arccosh": ("arccosh", 1.05, 4),
    "arctanh": ("arctanh", -0.95, 0.95), "sign": ("sign", -2, 2), "floor": ("floor", -2, 2),
    "ceil": ("ceil", -2, 2), "rint": ("rint", -2, 2), "erf": ("special.erf", -2, 2),
    "erfc": ("special.erfc", -2, 2), "gammaln": ("special.gammaln", 0.1, 6),
    "digamma": ("special.digamma", 0.1, 6),
}
BINARY = {  # row -> (autograd's function, the intervals of x and y)
    "arctan2": (lambda anp: anp.arctan2, (-2, 2), (-2, 2)),
    "logaddexp": (lambda anp: anp.logaddexp, (-5, 5), (-5, 5)),
    "xlogy": (lambda anp: lambda x, y: x * anp.log(y), (-2, 2), (0.1, 3)),
    "xlog1py": (lambda anp: lambda x, y: x * anp.log1p(y), (-2, 2), (-0.9, 3)),
    "mod": (lambda anp: anp.mod, (-5, 5), (0.5, 2)),
}


def autograd_function(path):
    pytest.importorskip("autograd")
    import autograd.numpy as anp
    import autograd.scipy.special as special

    return getattr(special, path.split(".")[1]) if path.startswith("special.") else \
        getattr(anp, path)


@pytest.mark.filterwarnings("ignore:Output seems independent of input")
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_rows_agree_with_autograd(name):
    import_path, low, high = UNARY[name]
    f = autograd_function(import_path)
    from autograd import grad

    x, w = RNG.uniform(low, high, (3, 4)), RNG.standard_normal((3, 4))
    want = grad(lambda v: (f(v) * w).sum())(x)
    got = la.grad(lambda v: la.sum(call(name, v) * w))(x)[0]
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_rows_agree_with_autograd_with_broadcasting(name):
    pytest.importorskip("autograd")
    import autograd.numpy as anp
    from autograd import grad

    make, (xlow, xhigh), (ylow, yhigh) = BINARY[name]
    f = make(anp)
    x, y = RNG.uniform(xlow, xhigh, (3, 4)), RNG.uniform(ylow, yhigh, (4,))
    w = RNG.standard_normal((3, 4))
    want = grad(lambda a, b: (f(a, b) * w).sum(), argnum=(0, 1))(x, y)
    got = la.grad(lambda a, b: la.sum(call(name, a, b) * w))(x, y)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


ARRAY_ROWS = [  # (row, params, autograd's function of the operands, operand shapes)
    ("max", {"axis": None}, lambda anp, x: anp.max(x), [(3, 4)]),
    ("max", {"axis": (0, 2)}, lambda anp, x: anp.max(x, axis=(0, 2)), [(2, 3, 4)]),
    ("min", {"axis": (1,)}, lambda anp, x: anp.min(x, axis=1), [(3, 4)]),
    ("prod", {"axis": None}, lambda anp, x: anp.prod(x), [(2, 3)]),
    ("prod", {"axis": (0, 2)}, lambda anp, x: anp.prod(x, axis=(0, 2)), [(2, 3, 2)]),
    # autograd sorts vectors only, broadcasts without new axes, and unbroadcasts no where
    ("sort", {"axis": 0}, lambda anp, x: anp.sort(x), [(7,)]),
    ("broadcast_to", {"shape": (2, 3)}, lambda anp, x: anp.broadcast_to(x, (2, 3)), [(2, 1)]),
    ("pad", {"pad_width": ((1, 0), (2, 3))},
     lambda anp, x: anp.pad(x, ((1, 0), (2, 3)), mode="constant"), [(2, 3)]),
    ("where", {"mask": np.array([True, False, True, True])},
     lambda anp, x, y: anp.where(np.array([True, False, True, True]), x, y), [(3, 4), (3, 4)]),
    ("einsum", {"subscripts": "ij,jk->ik"}, lambda anp, a, b: anp.einsum("ij,jk->ik", a, b),
     [(3, 4), (4, 2)]),
    ("einsum", {"subscripts": "bij,bkj->bik"},
     lambda anp, a, b: anp.einsum("bij,bkj->bik", a, b), [(2, 3, 4), (2, 5, 4)]),
    ("einsum", {"subscripts": "ij,jk,k->i"},
     lambda anp, a, b, c: anp.einsum("ij,jk,k->i", a, b, c), [(2, 3), (3, 4), (4,)]),
    # autograd differentiates no einsum with a repeated letter: diagonals by indexing instead
    ("einsum", {"subscripts": "ii->i"}, lambda anp, a: anp.stack([a[i, i] for i in range(4)]),
     [(4, 4)]),
    ("einsum", {"subscripts": "iij,j->i"}, lambda anp, a, b: anp.dot(
        anp.stack([a[i, i] for i in range(a.shape[0])]), b), [(3, 3, 2), (2,)]),
    ("cumsum", {"axis": -1}, lambda anp, x: anp.cumsum(x, axis=-1), [(3, 5)]),
    # autograd has no cumprod rule: the products of the prefixes, by its prod rule
    ("cumprod", {"axis": 0}, lambda anp, x: anp.stack(
        [anp.prod(x[:i + 1], axis=0) for i in range(x.shape[0])]), [(6, 2)]),
    ("cumprod", {"axis": 1}, lambda anp, x: anp.stack(
        [anp.prod(x[:, :i + 1], axis=1) for i in range(x.shape[1])], axis=1), [(2, 9, 2)]),
]


@pytest.mark.parametrize("name, params, f, shapes", ARRAY_ROWS,
                         ids=[f"{row[0]}-{k}" for k, row in enumerate(ARRAY_ROWS)])
def test_array_rows_agree_with_autograd(name, params, f, shapes):
    pytest.importorskip("autograd")
    import autograd.numpy as anp
    from autograd import grad

    xs = [RNG.uniform(-1.5, 1.5, shape) for shape in shapes]
    w = RNG.standard_normal(np.shape(f(np, *xs)))
    argnums = tuple(range(len(xs)))
    want = grad(lambda *vs: (f(anp, *vs) * w).sum(), argnum=argnums)(*xs)
    got = la.grad(lambda *vs: la.sum(call(name, *vs, **params) * w))(*xs)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
