"""la.linalg at the edges: domain errors (plain and traced, and as numpy.linalg.LinAlgError),
refusals of what has no derivative, named errors for misuse, and the conventions at
non-differentiable points (the adjugate, signs of vectors, ties).
"""

import numpy as np
import pytest
from linalg_cases import general, rect, spd, symmetric

import lagrange_ad as la
from lagrange_ad.errors import DomainError, LagrangeADError, TracingError

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
    # the failed factorization left no node, only the guard of the branch it decided
    assert [graph.primitive(i).name for i in range(len(graph))].count("cholesky") == 1
    assert [graph.primitive(i).name for i in range(len(graph))].count("outside_domain") == 1
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
