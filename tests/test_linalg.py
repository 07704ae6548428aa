"""la.linalg: gradients against autograd and central finite differences, domain errors,
refusals and conventions (signs, triangles, kinks), on single and stacked matrices.

The registry-wide checks of the matrix rows (JVP against finite differences, the dot-product
test, explicit Jacobians, multiply-add counts) run in test_primitives.py on the operands of
linalg_cases.py.
"""

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from linalg_cases import LINALG_CASES, general, rect, spd, symmetric

import lagrange_ad as la
from lagrange_ad.errors import DomainError, LagrangeADError, TracingError
from lagrange_ad.primitives import dense_jacobian, lookup

RNG = np.random.default_rng(20261205)


def fd_directional(f, args, directions, h=1e-6):
    plus = f(*[a + h * d for a, d in zip(args, directions)])
    minus = f(*[a - h * d for a, d in zip(args, directions)])
    return (float(plus) - float(minus)) / (2 * h)


def check_gradient(loss, *args, autograd_loss=None, rtol=1e-6):
    """la.grad of ``loss(ns, *args)`` (ns = la) against central differences in random
    directions and, when given, against autograd's gradient of the same loss (ns = anp)."""
    grads = la.grad(lambda *xs: loss(la, *xs))(*args)
    assert len(grads) == len(args)
    for _ in range(2):
        directions = [RNG.standard_normal(np.shape(a)) for a in args]
        fd = fd_directional(lambda *xs: loss(la, *xs), args, directions)
        ours = sum(float(np.sum(g * d)) for g, d in zip(grads, directions))
        assert ours == pytest.approx(fd, rel=rtol, abs=1e-6)
    if autograd_loss is not None:
        theirs = autograd.grad(lambda xs: autograd_loss(anp, *xs))(list(args))
        for g, t in zip(grads, theirs):
            np.testing.assert_allclose(g, t, rtol=1e-8, atol=1e-10)
    return grads


def weights_for(f, *args):
    """A fixed random weighting of the output of ``f``, so that the loss is a scalar."""
    return RNG.standard_normal(np.shape(f(*args)))


# -- the rows' sparsity patterns --------------------------------------------------------------

ROW_CASES = [(name, case) for name in sorted(LINALG_CASES) for case in LINALG_CASES[name]]


@pytest.mark.parametrize("name, case", ROW_CASES,
                         ids=[f"{name}-{k}" for k, (name, _) in enumerate(ROW_CASES)])
def test_row_patterns_hold_every_nonzero_partial(name, case):
    # the explicit blocks keep the entries of a pattern (their number is the multiply-add
    # count); every partial outside it must vanish
    operands, params = (case[0], case[1]) if isinstance(case[-1], dict) else (case, {})
    row = lookup(name)
    ans = row.evaluate(*operands, **params)
    for explicit, dense in zip(row.jacobian(ans, *operands, **params),
                               dense_jacobian(row, ans, operands, params)):
        kept = set(zip(explicit.rows.tolist(), explicit.cols.tolist()))
        outside = [v for r, c, v in zip(dense.rows, dense.cols, dense.vals) if (r, c) not in kept]
        assert len(kept) == len(explicit.rows)
        assert np.max(np.abs(outside), initial=0.0) < 1e-12


# -- gradients against autograd and finite differences ----------------------------------------

SQUARE_CASES = {
    "single": lambda: general(3, 3),
    "stacked": lambda: general(2, 3, 3),
}


@pytest.mark.parametrize("stack", sorted(SQUARE_CASES))
def test_solve_inv_det_slogdet(stack):
    a = SQUARE_CASES[stack]()
    b_vec = rect(3)
    b_mat = rect(*a.shape[:-2], 3, 2)
    w_vec = weights_for(np.linalg.solve, a, b_vec)
    w_mat = weights_for(np.linalg.solve, a, b_mat)
    w_inv = weights_for(np.linalg.inv, a)
    w_det = rect(*a.shape[:-2])

    def loss(ns, a, b_vec, b_mat):
        lin = ns.linalg
        sign, logdet = lin.slogdet(a)
        return (ns.sum(lin.solve(a, b_vec) * w_vec) + ns.sum(lin.solve(a, b_mat) * w_mat)
                + ns.sum(lin.inv(a) * w_inv) + ns.sum(lin.det(a) * w_det)
                + ns.sum(sign * logdet * w_det))

    # autograd's solve VJP takes numpy 1's rule for right-hand sides of stacks: finite
    # differences alone there, and autograd one matrix at a time
    grads = check_gradient(loss, a, b_vec, b_mat, autograd_loss=loss if a.ndim == 2 else None)
    if a.ndim > 2:
        for k in range(a.shape[0]):
            def one(ns, a, b_mat, k=k):
                lin = ns.linalg
                return (ns.sum(lin.solve(a, b_mat) * w_mat[k])
                        + ns.sum(lin.inv(a) * w_inv[k]) + lin.det(a) * w_det[k])
            theirs = autograd.grad(lambda a, k=k: one(anp, a, b_mat[k]))(a[k])
            ours = la.grad(lambda a, k=k: one(la, a, b_mat[k]))(a[k])[0]
            np.testing.assert_allclose(ours, theirs, rtol=1e-8)
        assert grads[0].shape == a.shape


def test_large_matrices_pass_the_lu_test_of_singularity():
    a, b = general(2, 20, 20), rect(2, 20, 3)
    np.testing.assert_allclose(la.linalg.solve(a, b), np.linalg.solve(a, b), rtol=1e-10)
    check_gradient(lambda ns, a: ns.linalg.slogdet(a)[1][1], a)


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
def test_cholesky_through_a_parametrization(shape, upper):
    # autograd symmetrizes its cholesky gradient and we keep the triangle numpy reads; on a
    # matrix built symmetric from a parameter the two agree
    b = rect(*shape)
    w = rect(*shape)

    def loss(ns, b):
        a = b @ ns.swapaxes(b, -1, -2) + 3.0 * np.eye(shape[-1])
        if ns is la:
            return ns.sum(ns.linalg.cholesky(a, upper=upper) * w)
        factor = ns.linalg.cholesky(a)  # autograd's has no upper=
        return ns.sum((ns.swapaxes(factor, -1, -2) if upper else factor) * w)

    check_gradient(loss, b, autograd_loss=loss)


def test_cholesky_gradient_is_the_lower_triangle_pullback():
    a = spd(3, 3)
    w = np.tril(rect(3, 3))
    ours = la.grad(lambda a: la.sum(la.linalg.cholesky(a) * w))(a)[0]
    theirs = autograd.grad(lambda a: anp.sum(anp.linalg.cholesky(a) * w))(a)  # symmetric
    np.testing.assert_allclose(ours, np.tril(theirs + theirs.T, -1) + np.diag(np.diag(theirs)),
                               rtol=1e-9, atol=1e-12)
    assert np.all(np.triu(ours, 1) == 0)
    check_gradient(lambda ns, a: ns.sum(ns.linalg.cholesky(a) * w), a)


@pytest.mark.parametrize("uplo", ["L", "U"])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_eigh_against_autograd(shape, uplo):
    # autograd keeps numpy's triangle too; the loss is invariant to the eigenvectors' signs
    a = symmetric(*shape) + np.triu(rect(*shape), 1)  # the unread triangle holds garbage
    w_values = rect(*shape[:-1])
    w_proj = symmetric(*shape)

    def loss(ns, a):
        values, vectors = ns.linalg.eigh(a, UPLO=uplo)
        projector = vectors[..., :, :1] @ ns.swapaxes(vectors[..., :, :1], -1, -2)
        # autograd has no rule for eigvalsh: eigh's values stand in for it there
        again = ns.linalg.eigvalsh(a, UPLO=uplo) if ns is la else values
        return ns.sum(values * w_values) + ns.sum(projector * w_proj) + ns.sum(again ** 2)

    check_gradient(loss, a, autograd_loss=loss)


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 3), (2, 3, 4)])
def test_svd_against_autograd(shape):
    a = rect(*shape)
    k = min(shape[-2:])
    w_u = rect(*shape[:-1], k)
    w_s = rect(*shape[:-2], k)

    def loss(ns, a):
        u, s, vh = ns.linalg.svd(a, full_matrices=False)
        # each term is invariant to the signs of the pairs (u_i, v_i)
        rebuilt = (u * s[..., None, :]) @ vh
        proj = u @ ns.swapaxes(u, -1, -2)
        return (ns.sum(s * w_s) + ns.sum(rebuilt ** 3) + ns.sum(proj[..., :, :k] * w_u)
                + ns.sum(ns.linalg.svd(a, compute_uv=False)))

    check_gradient(loss, a, autograd_loss=loss)


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 5, 2), (2, 4)])
def test_qr_against_finite_differences(shape):
    a = rect(*shape)
    q0, r0 = np.linalg.qr(a)
    w_q, w_r = rect(*q0.shape), rect(*r0.shape)

    def loss(ns, a):
        q, r = ns.linalg.qr(a)
        return ns.sum(q * w_q) + ns.sum(r * w_r) + ns.sum(ns.linalg.qr(a, mode="r") ** 2)

    check_gradient(loss, a)
    q, r = la.linalg.qr(a)
    np.testing.assert_allclose(q, q0, atol=1e-12)
    np.testing.assert_allclose(r, r0, atol=1e-12)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 2)])
def test_pinv_against_autograd(shape):
    a = rect(*shape)
    w = weights_for(np.linalg.pinv, a)
    check_gradient(lambda ns, a: ns.sum(ns.linalg.pinv(a) * w), a,
                   autograd_loss=lambda ns, a: ns.sum(ns.linalg.pinv(a) * w))


def test_products_trace_powers():
    a, b, c = general(3, 3), rect(3, 4), rect(4)
    stack = general(2, 3, 3)

    def loss(ns, a, b, c, stack):
        lin = la.linalg if ns is la else np.linalg
        out = ns.sum(lin.multi_dot([a, b, c]) ** 2)
        out = out + ns.sum(lin.matrix_power(a, 3) * a) + ns.sum(lin.matrix_power(a, -2))
        out = out + lin.trace(a @ a) + ns.sum(lin.trace(stack, offset=1))
        out = out + ns.sum(lin.diagonal(stack) ** 2) + ns.sum(lin.outer(c, c) * 0.5)
        return out + ns.sum(lin.vecdot(stack, stack)) + ns.sum(lin.matrix_transpose(b) * b.T)

    check_gradient(loss, a, b, c, stack)
    u, v = rect(2, 3), rect(3)
    check_gradient(lambda ns, u, v: ns.sum(la.linalg.cross(u, v) ** 2)
                   + ns.sum(la.linalg.tensordot(u, u.T, axes=1) * u[:, :2]), u, v)
    np.testing.assert_allclose(la.linalg.cross(u, v), np.linalg.cross(u, v), rtol=1e-12)
    np.testing.assert_allclose(la.linalg.tensordot(b, b, axes=2),
                               np.linalg.tensordot(b, b, axes=2), rtol=1e-12)
    np.testing.assert_allclose(la.linalg.trace(stack, offset=1), np.linalg.trace(stack, offset=1))
    np.testing.assert_allclose(la.linalg.matrix_power(a, -2),
                               np.linalg.matrix_power(a, -2), rtol=1e-12)


def test_multi_dot_takes_the_cheapest_bracketing():
    a, b, c, v = rect(10, 2), rect(2, 10), rect(10, 3), rect(3)
    graph = la.trace(lambda a, b, c: la.linalg.multi_dot([a, b, c, v]), a, b, c)
    # a (b (c v)) forms no 10 x 10 product
    assert "shape (10, 10)" not in str(graph)
    np.testing.assert_allclose(la.linalg.multi_dot([a, b, c, v]),
                               np.linalg.multi_dot([a, b, c, v]), rtol=1e-12)
    check_gradient(lambda ns, a, b, c: ns.sum(la.linalg.multi_dot([v, c.T, b.T, a.T]))
                   + ns.sum(la.linalg.multi_dot([a, b, c]) ** 2), a, b, c)


# -- norms ------------------------------------------------------------------------------------

VECTOR_ORDS = [None, 1, 2, 3, 1.5, np.inf, -np.inf]
MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]


@pytest.mark.parametrize("ord", VECTOR_ORDS)
def test_vector_norms(ord):
    x = rect(5)
    stack = rect(2, 3, 4)
    values = [la.linalg.norm(x, ord), la.linalg.norm(stack, ord, axis=1),
              la.linalg.norm(stack, ord, axis=-1, keepdims=True)]
    for ours, theirs in zip(values, [np.linalg.norm(x, ord), np.linalg.norm(stack, ord, axis=1),
                                     np.linalg.norm(stack, ord, axis=-1, keepdims=True)]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)

    def loss(ns, x, stack):
        # autograd's norm VJP mishandles keepdims=True: the keepdims term is ours alone
        kept = ns.sum(ns.linalg.norm(stack, ord, axis=-1, keepdims=True) ** 3) \
            if ns is la else ns.sum(ns.linalg.norm(stack, ord, axis=-1) ** 3)
        return ns.linalg.norm(x, ord) + ns.sum(ns.linalg.norm(stack, ord, axis=1) ** 2) + kept

    smooth = ord is None or (not np.isinf(ord) and ord > 1)  # autograd's supported ords
    check_gradient(loss, x, stack, autograd_loss=loss if smooth else None)


@pytest.mark.parametrize("ord", MATRIX_ORDS)
def test_matrix_norms(ord):
    a = rect(3, 4)
    stack = rect(2, 3, 3, 2)
    axes = (1, 3)
    traced = la.trace(lambda a, s: la.linalg.norm(a, ord) + la.sum(
        la.linalg.norm(s, ord, axis=axes, keepdims=True)), a, stack)
    assert traced is not None
    np.testing.assert_allclose(la.linalg.norm(stack, ord, axis=axes),
                               np.linalg.norm(stack, ord, axis=axes), rtol=1e-12)
    np.testing.assert_allclose(la.linalg.matrix_norm(stack, ord="fro" if ord is None else ord),
                               np.linalg.matrix_norm(stack, ord="fro" if ord is None else ord),
                               rtol=1e-12)

    def loss(ns, a, stack):
        return ns.linalg.norm(a, ord) + ns.sum(ns.linalg.norm(stack, ord, axis=axes) ** 2)

    smooth = ord in (None, "fro", "nuc")
    check_gradient(loss, a, stack, autograd_loss=loss if smooth else None)


def test_norm_of_stack_keepdims_and_vector_norm():
    x = rect(2, 3, 4)
    traced = la.grad(lambda x: la.sum(la.linalg.norm(x, axis=(0, 2), keepdims=True) ** 3))(x)[0]
    theirs = autograd.grad(lambda x: anp.sum(anp.linalg.norm(x, axis=(0, 2)) ** 3))(x)
    np.testing.assert_allclose(traced, theirs, rtol=1e-10)
    assert la.linalg.norm(x, axis=(0, 2), keepdims=True).shape == (1, 3, 1)
    np.testing.assert_allclose(la.linalg.vector_norm(x, axis=(0, 2), ord=3),
                               np.linalg.vector_norm(x, axis=(0, 2), ord=3), rtol=1e-12)
    check_gradient(lambda ns, x: ns.sum(la.linalg.vector_norm(x, axis=(0, 2), ord=3)), x)


def test_two_norm_at_zero_takes_the_subgradient_zero():
    # norm(w) ** 2 at w = 0 has the true gradient 0 (JAX and autograd give NaN there)
    grads = la.grad(lambda w: la.linalg.norm(w) ** 2 + la.sum(w))(np.zeros(3))[0]
    np.testing.assert_array_equal(grads, np.ones(3))
    grads = la.grad(lambda w: la.linalg.norm(w))(np.zeros((2, 2)))[0]
    np.testing.assert_array_equal(grads, np.zeros((2, 2)))


def test_matrix_two_norm_splits_ties():
    # the identity has every singular value 1: the derivative is averaged over the tie
    grads = la.grad(lambda a: la.linalg.norm(a, 2))(np.eye(3))[0]
    np.testing.assert_allclose(grads, np.eye(3) / 3, atol=1e-12)


# -- conventions ------------------------------------------------------------------------------

def test_det_at_a_singular_matrix_has_the_adjugate_as_gradient():
    # rank n - 1: the adjugate is nonzero, det = 0, and inv does not exist
    u = rect(3, 2)
    a = u @ rect(2, 3)
    grads = la.grad(lambda a: la.linalg.det(a))(a)[0]
    cofactor = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1))
                          for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(grads, cofactor, atol=1e-12)
    # rank n - 2: the adjugate vanishes
    low = rect(3, 1) @ rect(1, 3)
    np.testing.assert_allclose(la.grad(lambda a: la.linalg.det(a))(low)[0], 0.0, atol=1e-12)


def test_vectors_are_signed_and_match_numpy_up_to_sign():
    a = symmetric(2, 4, 4)
    w, v = la.linalg.eigh(a)
    w0, v0 = np.linalg.eigh(a)
    np.testing.assert_allclose(w, w0, rtol=1e-12)
    np.testing.assert_allclose(np.abs(v), np.abs(v0), atol=1e-12)
    top = np.take_along_axis(v, np.argmax(np.abs(v), axis=-2)[..., None, :], axis=-2)
    assert np.all(top > 0)
    b = rect(2, 3, 5)
    u, s, vh = la.linalg.svd(b, full_matrices=False)
    np.testing.assert_allclose((u * s[..., None, :]) @ vh, b, atol=1e-12)
    np.testing.assert_allclose(s, np.linalg.svd(b, compute_uv=False), rtol=1e-12)


def test_eigvalsh_needs_no_gap():
    # a repeated eigenvalue: the values' gradient is the symmetric one, V diag(g) V^T
    grads = la.grad(lambda a: la.sum(la.linalg.eigvalsh(a) * np.array([1.0, 1.0, 2.0])))(
        np.diag([1.0, 1.0, 3.0]))[0]
    np.testing.assert_allclose(grads, np.diag([1.0, 1.0, 2.0]), atol=1e-12)


def test_a_traced_graph_follows_the_sign_of_the_determinant():
    # the sign is a node (derivative 0), not a constant of the trace
    a = general(3, 3)
    graph = la.trace(lambda a: np.linalg.slogdet(a)[0] * np.linalg.slogdet(a)[1], a)
    flipped = a[::-1].copy()  # a row swap flips the sign of det
    (ours,) = la.grad(graph)(flipped)
    sign, logdet = np.linalg.slogdet(flipped)
    np.testing.assert_allclose(ours, sign * np.linalg.inv(flipped).T, rtol=1e-10)
    assert la.Program(graph, flipped).output_value == pytest.approx(sign * logdet)


def test_results_are_named_like_numpy():
    a = spd(3, 3)
    assert la.linalg.slogdet(a).logabsdet == pytest.approx(np.linalg.slogdet(a).logabsdet)
    assert la.linalg.eigh(a).eigenvalues.shape == (3,)
    assert la.linalg.svd(a).Vh.shape == (3, 3)
    assert la.linalg.qr(a).R.shape == (3, 3)


def test_numpy_linalg_names_reach_la_linalg_on_traced_values():
    a = spd(2, 3, 3)
    b = rect(2, 3)

    def loss(ns, a, b):
        lin = np.linalg if ns is la else ns.linalg
        x = lin.solve(a, b[..., None])
        return ns.sum(x) + ns.sum(lin.slogdet(a)[1]) + ns.sum(lin.eigh(a)[0] ** 2)

    check_gradient(loss, a, b, autograd_loss=loss)


def test_every_schedule_agrees_on_a_program_of_matrix_functions():
    # the explicit Jacobians of the rows (assembled J) against the sweeps by VJP rules, finite
    # differences and a Taylor test
    def f(a, b):
        s = b @ b.T + 3.0 * np.eye(3)
        w, v = la.linalg.eigh(s)
        u, sv, vh = la.linalg.svd(a, full_matrices=False)
        q, r = la.linalg.qr(a)
        return (la.sum(w ** 2) + la.sum((v[:, :1] @ v[:, :1].T) * s) + la.sum(sv ** 3)
                + la.sum((u @ vh) * a) + la.sum((q @ r) * a) + la.linalg.det(s)
                + la.linalg.slogdet(s)[1] + la.sum(la.linalg.solve(s, a.T))
                + la.sum(la.log(la.linalg.diagonal(la.linalg.cholesky(s))))
                + la.sum(la.linalg.pinv(a)) + la.linalg.norm(a, "nuc"))

    program = la.Program(la.trace(f, rect(4, 3), rect(3, 3)))
    report = la.verify(program)
    assert report.ok, str(report)


NUMPY_SPELLINGS = {
    "cond": lambda a: np.linalg.cond(a),
    "matrix_norm": lambda a: np.linalg.matrix_norm(a, ord="nuc"),
    "vector_norm": lambda a: np.linalg.vector_norm(a, ord=3),
    "svdvals": lambda a: np.sum(np.linalg.svdvals(a)),
    "multi_dot": lambda a: np.sum(np.linalg.multi_dot([a, a, a])),
    "matrix_power": lambda a: np.sum(np.linalg.matrix_power(a, 3)),
    "trace": lambda a: np.linalg.trace(a @ a),
    "outer": lambda a: np.sum(np.linalg.outer(a[0], a[1]) ** 2),
    "lstsq": lambda a: np.sum(np.linalg.lstsq(a, a[0])[0]),
    "pinv": lambda a: np.sum(np.linalg.pinv(a)),
    "qr": lambda a: np.sum(np.linalg.qr(a).R),
    "cholesky": lambda a: np.sum(np.linalg.cholesky(a @ a.T)),
    "svd": lambda a: np.sum(np.linalg.svd(a).S ** 2),
    "inv": lambda a: np.sum(np.linalg.inv(a)),
    "det": lambda a: np.linalg.det(a),
    "norm": lambda a: np.linalg.norm(a, axis=0, keepdims=True).sum(),
    "cross": lambda a: np.sum(np.linalg.cross(a[0], a[1]) ** 2),
    "vecdot": lambda a: np.sum(np.linalg.vecdot(a, a)),
}


@pytest.mark.parametrize("name", sorted(NUMPY_SPELLINGS))
def test_numpy_spellings_differentiate(name):
    f = NUMPY_SPELLINGS[name]
    check_gradient(lambda ns, a: f(a), general(3, 3))


# -- domain errors and refusals ---------------------------------------------------------------

SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])
LARGE_SINGULAR = rect(20, 19) @ rect(19, 20)  # above LU_ORDER: tested by an LU factorization

DOMAIN_CASES = [
    ("solve", lambda: la.linalg.solve(SINGULAR, np.ones(2)), r"solve: .*singular"),
    ("inv", lambda: la.linalg.inv(np.stack([np.eye(2), SINGULAR])),
     r"inv: .*singular .*\(matrix \(1,\) of the stack\)"),
    ("slogdet", lambda: la.linalg.slogdet(SINGULAR), r"slogdet: .*singular"),
    ("inv-large", lambda: la.linalg.inv(np.stack([np.eye(20), LARGE_SINGULAR])),
     r"inv: .*singular .*\(matrix \(1,\) of the stack\).*reciprocal condition"),
    ("cholesky", lambda: la.linalg.cholesky(np.diag([1.0, -1.0])),
     r"cholesky: .*not positive definite"),
    ("cholesky-semidefinite", lambda: la.linalg.cholesky(SINGULAR), r"not positive definite"),
    ("cholesky-large", lambda: la.linalg.cholesky(LARGE_SINGULAR @ LARGE_SINGULAR.T),
     r"not positive definite .*reciprocal condition"),
    ("eigh", lambda: la.linalg.eigh(np.eye(3)), r"eigh: .*distinct"),
    ("svd-repeated", lambda: la.linalg.svd(np.diag([2.0, 2.0, 1.0])), r"svd: .*distinct"),
    ("svd-zero", lambda: la.linalg.svd(np.diag([2.0, 1.0, 0.0])), r"svd: .*distinct or zero"),
    ("pinv", lambda: la.linalg.pinv(np.ones((3, 2))), r"pinv: .*rank deficient"),
    ("qr", lambda: la.linalg.qr(np.ones((3, 2))), r"qr: .*rank deficient"),
]


@pytest.mark.parametrize("name, run, message", DOMAIN_CASES, ids=[c[0] for c in DOMAIN_CASES])
def test_domain_errors_on_plain_arrays(name, run, message):
    with pytest.raises(DomainError, match=message):
        run()


@pytest.mark.parametrize("name, run, message", DOMAIN_CASES, ids=[c[0] for c in DOMAIN_CASES])
def test_domain_errors_while_tracing(name, run, message):
    # the same matrices, reached from a traced input: the node is named, no NaN escapes
    function = {
        "solve": lambda a: la.linalg.solve(a, np.ones(2)),
        "inv": lambda a: la.linalg.inv(a),
        "inv-large": lambda a: la.linalg.inv(a),
        "slogdet": lambda a: la.linalg.slogdet(a)[1],
        "cholesky": lambda a: la.linalg.cholesky(a),
        "cholesky-semidefinite": lambda a: la.linalg.cholesky(a),
        "cholesky-large": lambda a: la.linalg.cholesky(a),
        "eigh": lambda a: la.linalg.eigh(a)[1],
        "svd-repeated": lambda a: la.linalg.svd(a)[0],
        "svd-zero": lambda a: la.linalg.svd(a)[2],
        "pinv": lambda a: la.linalg.pinv(a),
        "qr": lambda a: la.linalg.qr(a)[0],
    }[name]
    point = {"solve": SINGULAR, "inv": np.stack([np.eye(2), SINGULAR]), "slogdet": SINGULAR,
             "inv-large": np.stack([np.eye(20), LARGE_SINGULAR]),
             "cholesky": np.diag([1.0, -1.0]), "cholesky-semidefinite": SINGULAR,
             "cholesky-large": LARGE_SINGULAR @ LARGE_SINGULAR.T,
             "eigh": np.eye(3), "svd-repeated": np.diag([2.0, 2.0, 1.0]),
             "svd-zero": np.diag([2.0, 1.0, 0.0]), "pinv": np.ones((3, 2)),
             "qr": np.ones((3, 2))}[name]
    with pytest.raises(DomainError, match=message):
        la.grad(lambda a: la.sum(function(a)))(point)


def test_numpy_code_that_catches_linalgerror_takes_its_except_branch():
    # the Gaussian-process idiom: a jitter when the kernel matrix is numerically singular
    points = np.array([0.0, 0.0, 1.0])  # a repeated point: the kernel matrix is singular

    def log_likelihood_term(scale):
        k = scale * np.exp(-0.5 * (points[:, None] - points[None, :]) ** 2)
        try:
            factor = np.linalg.cholesky(k)
        except np.linalg.LinAlgError:
            factor = np.linalg.cholesky(k + 1e-6 * np.eye(3))
        return np.sum(np.log(np.diagonal(factor)))

    # sum(log(diag(L))) = log(det(K)) / 2, whose derivative in the scale is
    # tr(K^{-1} dK/ds) / 2 with K = s K0 + 1e-6 I
    (ours,) = la.grad(log_likelihood_term)(2.0)
    k0 = np.exp(-0.5 * (points[:, None] - points[None, :]) ** 2)
    expected = 0.5 * np.trace(np.linalg.solve(2.0 * k0 + 1e-6 * np.eye(3), k0))
    assert float(ours) == pytest.approx(expected, rel=1e-9)
    graph = la.trace(log_likelihood_term, 2.0)
    assert str(graph).count("cholesky") == 1  # the failed factorization left no node
    for singular in (lambda: la.linalg.cholesky(np.zeros((2, 2))),
                     lambda: la.linalg.solve(SINGULAR, np.ones(2)),
                     lambda: la.linalg.inv(SINGULAR)):
        with pytest.raises(np.linalg.LinAlgError):
            singular()


def test_the_gap_tolerance_is_relative():
    # GAP_RTOL = 1e-8 of the largest magnitude: 1e-10 apart is refused, 1e-6 apart is not
    # (the derivative is then of the order of the inverse gap), at any scale
    for scale in (1e-6, 1.0, 1e6):
        with pytest.raises(DomainError, match="distinct"):
            la.linalg.eigh(scale * np.diag([1.0, 1.0 + 1e-10, 3.0]))
        w, v = la.linalg.eigh(scale * np.diag([1.0, 1.0 + 1e-6, 3.0]))
        np.testing.assert_allclose(np.abs(v), np.eye(3), atol=1e-12)
        with pytest.raises(DomainError, match="distinct or zero"):
            la.linalg.svd(scale * np.diag([3.0, 1.0, 1e-10]))
        u, s, vh = la.linalg.svd(scale * np.diag([3.0, 1.0, 1e-6]))
        np.testing.assert_allclose(s, scale * np.array([3.0, 1.0, 1e-6]), rtol=1e-12)


def test_refusals_on_traced_values_and_numpy_on_plain_arrays():
    a = rect(4, 3)
    refused = [
        lambda x: la.linalg.svd(x)[0],                      # full_matrices of a tall matrix
        lambda x: la.linalg.qr(x, mode="complete")[0],
        lambda x: la.linalg.qr(x, mode="raw")[0],
        lambda x: la.linalg.svd(x, hermitian=True)[0],
        lambda x: la.linalg.pinv(x, hermitian=True),
        lambda x: la.linalg.norm(x[0], 0),
        lambda x: la.linalg.eig(x[:3])[0],
        lambda x: la.linalg.eigvals(x[:3]),
    ]
    for f in refused:
        with pytest.raises(TracingError, match="numpy.linalg"):
            la.grad(lambda x, f=f: la.sum(f(x)))(a)
    np.testing.assert_allclose(la.linalg.svd(a)[0], np.linalg.svd(a)[0])
    assert la.linalg.norm(np.array([0.0, 2.0, 0.0]), 0) == 1.0
    with pytest.raises(LagrangeADError):
        la.linalg.norm(rect(3), "fro")
    with pytest.raises(LagrangeADError):
        la.linalg.multi_dot([rect(2, 2)])


def test_lstsq_matches_numpy_and_differentiates():
    a, b = rect(5, 3), rect(5)
    x, residuals, rank, s = la.linalg.lstsq(a, b)
    x0, residuals0, rank0, s0 = np.linalg.lstsq(a, b)
    np.testing.assert_allclose(x, x0, rtol=1e-10)
    np.testing.assert_allclose(residuals, residuals0, rtol=1e-10)
    assert rank == rank0
    check_gradient(lambda ns, a, b: ns.sum(la.linalg.lstsq(a, b)[0] ** 2)
                   + la.linalg.lstsq(a, b)[1][0], a, b)


def test_cond_and_matrix_rank():
    a = general(3, 3)
    for p in (None, 2, -2, 1, np.inf, "fro"):
        assert la.linalg.cond(a, p) == pytest.approx(np.linalg.cond(a, p), rel=1e-10)
    check_gradient(lambda ns, a: la.linalg.cond(a), a)
    assert la.linalg.matrix_rank(SINGULAR) == 1


MISUSES = [
    (lambda x: la.linalg.lstsq(x, np.ones(3)), (2, 3, 3), r"lstsq takes a matrix"),
    (lambda x: la.linalg.qr(x), (3,), r"qr takes a matrix"),
    (lambda x: la.linalg.svd(x), (3,), r"svd takes a matrix"),
    (lambda x: la.linalg.trace(x), (3,), r"diagonal takes a matrix"),
    (lambda x: la.linalg.solve(x, np.ones(3)), (3,), r"square matrix"),
    (lambda x: la.linalg.solve(x, np.ones((2, 3))), (2, 3, 3), r"right-hand side needs"),
    (lambda x: la.linalg.cholesky(x), (2, 3), r"square matrix"),
    (lambda x: la.linalg.norm(x, 2), (2, 2, 2), r"an ord needs a vector or a matrix"),
    (lambda x: la.linalg.norm(x, "nuc"), (3,), r"matrix norm"),
    (lambda x: la.linalg.norm(x, 3), (3, 3), r"not a matrix norm"),
    (lambda x: la.linalg.norm(x, axis=(0, 0)), (3, 3), r"repeated axis"),
    (lambda x: la.linalg.norm(x, axis=2), (3, 3), r"not an axis"),
    (lambda x: la.linalg.matrix_power(x, 2), (3,), r"square matrices"),
    (lambda x: la.linalg.matrix_power(x, 1.5), (2, 2), r"integer exponent"),
    (lambda x: la.linalg.eigh(x, UPLO="X"), (2, 2), r"UPLO must be"),
    (lambda x: la.linalg.qr(x, mode="foo"), (2, 2), r"mode must be"),
    (lambda x: la.linalg.slogdet(x), (2, 3), r"square matrix"),
    (lambda x: la.linalg.outer(x, x), (2, 2), r"outer takes two vectors"),
    (lambda x: la.linalg.cross(x, x), (2,), r"3-vectors"),
    (lambda x: la.linalg.multi_dot([x, x], out=np.zeros((2, 2))), (2, 2), r"out= "),
    (lambda x: la.linalg.trace(x, dtype=int), (2, 2), r"not a float type"),
]


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize("f, shape, message", MISUSES, ids=[m[2] for m in MISUSES])
def test_misuse_raises_a_named_error(f, shape, message, traced):
    x = np.ones(shape)
    with pytest.raises(LagrangeADError, match=message):
        la.trace(f, x) if traced else f(x)
