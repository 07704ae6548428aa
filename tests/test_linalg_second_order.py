"""Second derivatives through ``la.linalg``: la.hessian against autograd's and JAX's Hessians.

Each loss is written once as ``loss(ns, a)`` and run with ``ns = la`` (traced, our Hessian)
and ``ns = autograd.numpy`` (autograd's Hessian, the reverse of its reverse mode); QR and the
matrix 2-norm, which autograd does not differentiate, are checked against ``jax.hessian``.
Losses of eigenvectors, singular vectors and QR factors are invariant under the sign choices
the libraries make differently (``u_i v_i^T``, ``v_i v_i^T``, ``Q diag(c) Q^T``). The matrices
come from the well-conditioned generators of `linalg_cases`, stacks included.
"""

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from linalg_cases import general, rect, spd, symmetric

import lagrange_ad as la
from lagrange_ad.errors import LinAlgDomainError

RNG = np.random.default_rng(20261205)


def weights(*shape):
    return RNG.standard_normal(shape)


W33, W233, W34, W43, C3, C23 = (weights(3, 3), weights(2, 3, 3), weights(3, 4), weights(4, 3),
                                weights(3), weights(2, 3))
B3 = weights(3)


def logdet(ns, a):
    return ns.linalg.slogdet(a)[1]


def inverse(ns, a):
    return ns.sum(W233 * ns.linalg.inv(a))


def solved(ns, a):
    x = ns.linalg.solve(a, B3)
    return ns.sum(x * x)


def determinants(ns, a):
    return ns.sum(C3[:2] * ns.linalg.det(a))


def eigenvalues(ns, a):
    # autograd differentiates eigh, not eigvalsh
    w = ns.linalg.eigvalsh(a) if ns is la else ns.linalg.eigh(a)[0]
    return ns.sum(C23 * w)


def eigenvectors(ns, a):
    w, v = ns.linalg.eigh(a)
    return ns.sum(C3 * w) + ns.sum(W33 * ((v * C3) @ ns.swapaxes(v, -1, -2)))


def singular_values(ns, a):
    return ns.sum(C3 * ns.linalg.svd(a, compute_uv=False))


def singular_vectors(ns, a):
    u, s, vh = ns.linalg.svd(a, full_matrices=False)
    return ns.sum(W34 * ((u * C3) @ vh)) + ns.sum(s * s * s)


def cholesky_factor(ns, a):
    return ns.sum(W233 * ns.linalg.cholesky(a @ ns.swapaxes(a, -1, -2) + 3.0 * np.eye(3)))


def pseudo_inverse(ns, a):
    return ns.sum(W34 * ns.linalg.pinv(a))


def norms(ns, a):
    return ns.linalg.norm(a) + ns.sum(C3 * ns.linalg.norm(a, axis=0)) ** 2


def composition(ns, a):
    # log det of a Gram matrix plus a quadratic form in its inverse
    gram = ns.swapaxes(a, -1, -2) @ a + np.eye(3)
    return ns.linalg.slogdet(gram)[1] + B3 @ ns.linalg.inv(gram) @ B3


AUTOGRAD_CASES = [
    (logdet, general(3, 3)),
    (inverse, general(2, 3, 3)),
    (solved, general(3, 3)),
    (determinants, rect(2, 3, 3)),
    (eigenvalues, symmetric(2, 3, 3)),
    (eigenvectors, symmetric(3, 3)),
    (singular_values, rect(3, 4)),
    (singular_vectors, rect(3, 4)),
    (cholesky_factor, rect(2, 3, 3)),
    (pseudo_inverse, rect(4, 3)),
    (norms, rect(3, 3)),
    (composition, rect(4, 3)),
]


def flat(h, x):
    return np.reshape(h, (np.size(x), np.size(x)))


@pytest.mark.parametrize("loss, a", AUTOGRAD_CASES, ids=[c[0].__name__ for c in AUTOGRAD_CASES])
def test_hessian_matches_autograd(loss, a):
    ours = flat(la.hessian(lambda x: loss(la, x))(a), a)
    theirs = flat(autograd.hessian(lambda x: loss(anp, x))(a), a)
    np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-9 * np.abs(theirs).max())


def qr_factors(ns, a):
    q, r = ns.linalg.qr(a)
    return (ns.sum(W43 * ((q * C3) @ ns.swapaxes(q, -1, -2))[..., :3])
            + ns.sum(W33 * (ns.swapaxes(r, -1, -2) @ (r * C3[:, None]))))


def spectral_norm(ns, a):
    return ns.linalg.norm(a, 2) ** 2 + ns.linalg.norm(a, "nuc")


@pytest.mark.parametrize("loss, a", [(qr_factors, rect(4, 3)), (spectral_norm, rect(3, 4))],
                         ids=["qr", "spectral_norm"])
def test_hessian_matches_jax(loss, a):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    ours = flat(la.hessian(lambda x: loss(la, x))(a), a)
    theirs = flat(np.asarray(jax.hessian(lambda x: loss(jax.numpy, x))(a)), a)
    np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-9 * np.abs(theirs).max())


def test_gaussian_process_hessian_matches_autograd():
    example = la.examples.get("gaussian_process")
    inputs, targets = example.data["inputs"], example.data["targets"]
    squared = np.sum((inputs[:, None, :] - inputs[None, :, :]) ** 2, axis=-1)
    n = len(targets)

    def nlml(log_params):  # the example's function, in autograd's numpy
        kernel = (anp.exp(2 * log_params[1]) * anp.exp(-0.5 * squared / anp.exp(2 * log_params[0]))
                  + anp.exp(2 * log_params[2]) * np.eye(n))
        whitened = anp.linalg.solve(anp.linalg.cholesky(kernel), targets)
        return (0.5 * anp.dot(whitened, whitened) + 0.5 * anp.linalg.slogdet(kernel)[1]
                + 0.5 * n * np.log(2 * np.pi))

    (point,) = example.point
    theirs = autograd.hessian(nlml)(point)
    np.testing.assert_allclose(la.hessian(example.graph)(point), theirs, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(la.hessian(example.function)(point), theirs, rtol=1e-8,
                               atol=1e-10)


def test_stacked_hessian_blocks_are_per_matrix():
    # the Hessian of a sum over a stack has no coupling between different matrices
    a = spd(2, 3, 3)
    h = la.hessian(lambda x: la.sum(la.linalg.slogdet(x)[1]))(a).reshape(2, 9, 2, 9)
    assert not np.any(h[0, :, 1, :]) and not np.any(h[1, :, 0, :])
    single = la.hessian(lambda x: la.linalg.slogdet(x)[1])(a[1]).reshape(9, 9)
    np.testing.assert_allclose(h[1, :, 1, :], single, rtol=1e-12)


@pytest.mark.parametrize("values", [lambda x: la.linalg.eigvalsh(x),
                                    lambda x: la.linalg.svd(x, compute_uv=False)],
                         ids=["eigvalsh", "svdvals"])
def test_tied_values_are_refused_in_second_order(values):
    # at a repeated eigenvalue (singular value) the values have a gradient but no Hessian
    a = np.diag([1.0, 1.0, 2.0])
    c = np.array([1.0, 2.0, 3.0])
    la.grad(lambda x: la.sum(c * values(x)))(a)
    with pytest.raises(LinAlgDomainError, match="distinct"):
        la.hessian(lambda x: la.sum(c * values(x)))(a)


@pytest.mark.parametrize("rank", [2, 1])
def test_det_hessian_at_singular_matrices_matches_differences_of_its_gradient(rank):
    # det is a polynomial: its Hessian exists at singular matrices, where A^{-1} does not
    a = rect(3, rank) @ rect(rank, 3)
    h = flat(la.hessian(lambda x: la.linalg.det(x))(a), a)
    gradient = la.grad(lambda x: la.linalg.det(x))
    for _ in range(2):
        d, step = rect(3, 3), 1e-4
        fd = (gradient(a + step * d)[0] - gradient(a - step * d)[0]) / (2 * step)
        np.testing.assert_allclose(h @ d.ravel(), fd.ravel(), rtol=1e-8, atol=1e-10)
    assert np.any(h)
