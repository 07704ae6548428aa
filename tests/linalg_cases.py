"""Sample operands of the matrix rows for the registry-wide checks in test_primitives.py, and
the gradient check shared by the la.linalg tests.

Well conditioned on purpose: symmetric positive definite matrices ``B B^T + n I``, symmetric
matrices and general matrices whose eigenvalues and singular values are well separated.
"""

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import lagrange_ad as la

RNG = np.random.default_rng(20261204)


def general(*shape):
    """Random matrices shifted towards the identity (far from singular)."""
    return RNG.standard_normal(shape) + 3.0 * np.eye(shape[-1])


def spd(*shape):
    b = RNG.standard_normal(shape)
    return b @ np.swapaxes(b, -1, -2) + shape[-1] * np.eye(shape[-1])


def symmetric(*shape):
    b = RNG.standard_normal(shape)
    return b + np.swapaxes(b, -1, -2)


def rect(*shape):
    return RNG.standard_normal(shape)


LINALG_CASES = {
    "solve": [((general(3, 3), rect(3))), ((general(2, 3, 3), rect(3))),
              ((general(3, 3), rect(2, 3, 2))), ((general(2, 3, 3), rect(3, 2)))],
    "inv": [((general(3, 3),)), ((general(2, 2, 2),))],
    "det": [((general(3, 3),)), ((rect(2, 3, 3),))],
    "logabsdet": [((general(3, 3),)), ((general(2, 2, 2),))],
    "det_sign": [((general(2, 3, 3),))],
    "pinv": [((rect(4, 3),), {}), ((rect(2, 2, 3),), {"rtol": 1e-10})],
    "cholesky": [((spd(3, 3),)), ((spd(2, 3, 3) + np.triu(rect(3, 3), 1),))],
    "qr_q": [((rect(4, 3),)), ((rect(2, 3, 3),))],
    "qr_r": [((rect(4, 3),)), ((rect(2, 3, 3),))],
    "eigh_values": [((symmetric(3, 3),), {}), ((rect(2, 3, 3),), {"UPLO": "U"})],
    "eigh_vectors": [((symmetric(3, 3),), {}), ((rect(2, 3, 3),), {"UPLO": "U"})],
    "svd_values": [((rect(3, 4),)), ((rect(2, 3, 2),))],
    "svd_u": [((rect(3, 3),)), ((rect(2, 4, 3),))],
    "norm2": [((rect(3),), {}), ((rect(2, 3, 4),), {"axis": (1, 2)}),
              ((rect(2, 3),), {"axis": 0})],
    "svd_vh": [((rect(3, 3),)), ((rect(2, 2, 3),))],
}


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
