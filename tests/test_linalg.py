"""la.linalg: gradients against autograd and central finite differences, on single and
stacked matrices, for every function and numpy's own spellings of them.

The registry-wide checks of the matrix rows (JVP against finite differences, the dot-product
test, explicit Jacobians, multiply-add counts) run in test_primitives.py on the operands of
linalg_cases.py; domains, refusals and conventions are in test_linalg_domains.py.
"""

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from linalg_cases import (
    LINALG_CASES,
    check_gradient,
    general,
    rect,
    spd,
    symmetric,
    weights_for,
)

import lagrange_ad as la
from lagrange_ad.primitives import dense_jacobian, lookup

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


# -- numpy's spellings, schedules, least squares ------------------------------------------

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
    assert la.linalg.matrix_rank(np.array([[1.0, 2.0], [2.0, 4.0]])) == 1
