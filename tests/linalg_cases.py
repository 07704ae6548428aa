"""Sample operands of the matrix rows for the registry-wide checks in test_primitives.py.

Well conditioned on purpose: symmetric positive definite matrices ``B B^T + n I``, symmetric
matrices and general matrices whose eigenvalues and singular values are well separated.
"""

import numpy as np

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
