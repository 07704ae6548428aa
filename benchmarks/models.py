"""Tensor workloads: a tanh MLP with softmax cross-entropy, and an equilibrium layer.

MLP. Four layers ``h_k = tanh(h_{k-1} W_k + b_k)`` (k = 1, 2, 3) and logits
``z = h_3 W_4 + b_4`` on a batch X with one-hot labels Y; the loss is the mean cross-entropy
``-sum(Y * log_softmax(z)) / batch``. One loss function serves every system, given that
system's tanh, log-softmax and sum. The hand-written numpy backprop uses
``dloss/dz = (softmax(z) - Y) / batch`` and ``dh/dpre = 1 - h^2``.

Equilibrium layer. ``h* = tanh(W h* + U x + b)`` with ``||W||_2 < 1``, so the map is a
contraction (`equilibrium_problem` has a fast and a slow one). With ``D = diag(1 - h*^2)``
and the loss ``l = sum(h*)``, the implicit function theorem gives ``dl/db = D lam`` where
``(I - W^T D) lam = 1``; backprop through K unrolled steps from ``h_0 = 0`` approaches it as
K grows.

CNN. Two blocks of a 3x3 convolution (padding 1), a bias, relu and a 2x2 max-pool on 28x28
images, then a linear layer and the same cross-entropy (`cnn_loss`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

CLASSES = 10
DEPTH = 4


def mlp_problem(width: int, batch: int, seed: int = 0):
    """Parameters ``(W1, b1, ..., W4, b4)``, inputs X and one-hot labels Y."""
    rng = np.random.default_rng(seed)
    dims = [width] * DEPTH + [CLASSES]
    params = []
    for k in range(DEPTH):
        params.append(rng.standard_normal((dims[k], dims[k + 1])) / np.sqrt(dims[k]))
        params.append(0.1 * rng.standard_normal(dims[k + 1]))
    X = rng.standard_normal((batch, width))
    Y = np.eye(CLASSES)[rng.integers(0, CLASSES, batch)]
    return tuple(params), X, Y


def mlp_loss(X, Y, tanh: Callable, log_softmax: Callable, total: Callable) -> Callable:
    """The loss as a function of the parameters, written with one system's functions."""
    batch = X.shape[0]

    def loss(*params):
        h = X
        for k in range(DEPTH):
            z = h @ params[2 * k] + params[2 * k + 1]
            h = tanh(z) if k < DEPTH - 1 else z
        return -total(Y * log_softmax(h)) / batch

    return loss


def lagrange_mlp(X, Y) -> Callable:
    import lagrange_ad as la

    return mlp_loss(X, Y, la.tanh, lambda z: la.log_softmax(z, axis=1), la.sum)


def autograd_mlp(X, Y) -> Callable:
    from .peers import load

    anp = load("autograd.numpy")
    logsumexp = load("autograd.scipy.special").logsumexp
    return mlp_loss(X, Y, anp.tanh, lambda z: z - logsumexp(z, axis=1, keepdims=True), anp.sum)


def torch_mlp(X, Y) -> Callable:
    from .peers import load

    torch = load("torch")
    return mlp_loss(torch.from_numpy(X), torch.from_numpy(Y), torch.tanh,
                    lambda z: torch.log_softmax(z, dim=1), torch.sum)


def numpy_mlp_grad(X, Y, *params) -> tuple[float, list[np.ndarray]]:
    """The loss and its gradient by hand-written backprop."""
    batch = X.shape[0]
    hs = [X]
    for k in range(DEPTH - 1):
        hs.append(np.tanh(hs[-1] @ params[2 * k] + params[2 * k + 1]))
    z = hs[-1] @ params[-2] + params[-1]
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -float(np.sum(Y * log_p)) / batch
    g = (np.exp(log_p) - Y) / batch  # rows of Y sum to one
    grads: list[np.ndarray] = [None] * (2 * DEPTH)
    for k in range(DEPTH - 1, -1, -1):
        grads[2 * k] = hs[k].T @ g
        grads[2 * k + 1] = g.sum(axis=0)
        if k:
            g = (g @ params[2 * k].T) * (1.0 - hs[k] ** 2)
    return loss, grads


# ----------------------------------------------------------------- the equilibrium layer


def equilibrium_problem(n: int, seed: int = 0, slow: bool = False):
    """``W``, ``U``, ``x`` and ``b`` of size n.

    By default W is Gaussian with spectral norm 1/2 (its eigenvalues are smaller still, and
    tanh's saturation shrinks ``W^T D`` further: spectral radius about 0.34). With ``slow``,
    W is 0.98 times an orthogonal matrix and the inputs are small, so that D is near I and
    every eigenvalue of ``W^T D`` lies near the circle of radius 0.98: the fixed point, the
    adjoint and unrolling all converge slowly.
    """
    rng = np.random.default_rng(seed)
    if slow:
        W = 0.98 * np.linalg.qr(rng.standard_normal((n, n)))[0]
        scale = 0.1
    else:
        W = rng.standard_normal((n, n))
        W *= 0.5 / np.linalg.norm(W, 2)
        scale = 1.0
    U = scale * rng.standard_normal((n, n)) / np.sqrt(n)
    return W, U, rng.standard_normal(n), 0.1 * scale * rng.standard_normal(n)


def equilibrium_state(W, c, tol: float = 1e-14, maxiter: int = 10_000) -> np.ndarray:
    """``h* = tanh(W h* + c)`` by fixed-point iteration (a contraction here)."""
    h = np.zeros_like(c)
    for _ in range(maxiter):
        new = np.tanh(W @ h + c)
        if np.linalg.norm(new - h) <= tol * max(1.0, np.linalg.norm(new)):
            return new
        h = new
    raise RuntimeError("the equilibrium iteration did not converge; is ||W|| < 1?")


def implicit_gradient(W, U, x, b) -> np.ndarray:
    """``dl/db = D lam`` with ``(I - W^T D) lam = 1`` at the equilibrium."""
    h = equilibrium_state(W, U @ x + b)
    d = 1.0 - h * h
    lam = np.linalg.solve(np.eye(len(b)) - W.T * d, np.ones_like(b))
    return d * lam


def unrolled_loss(W, U, x, steps: int) -> Callable:
    """``l(b) = sum(h_K)`` after K steps of ``h <- tanh(W h + U x + b)`` from 0, for la.grad."""
    import lagrange_ad as la

    ux = U @ x

    def loss(b):
        h = la.tanh(ux + b)  # the first step, from h_0 = 0
        for _ in range(steps - 1):
            h = la.tanh(W @ h + ux + b)
        return la.sum(h)

    return loss


def implicit_loss(W, U, x, tol: float = 1e-14, maxiter: int = 1000) -> Callable:
    """``l(b) = sum(h*)`` with h* from ``la.fixed_point`` (to ``tol``): a cycle in the graph."""
    import lagrange_ad as la

    ux = U @ x

    def loss(b):
        h = la.fixed_point(lambda h, b: la.tanh(W @ h + ux + b), np.zeros(len(b)), b, tol=tol,
                           maxiter=maxiter)
        return la.sum(h)

    return loss


# ----------------------------------------------------------------- a small CNN

CNN_BATCH = 32


def cnn_problem(batch: int, seed: int = 0):
    """Parameters of conv 1->8 (3x3), conv 8->16 (3x3) and a linear layer to the ten classes,
    28x28 single-channel images X and one-hot labels Y."""
    rng = np.random.default_rng(seed)
    params = (0.3 * rng.standard_normal((8, 1, 3, 3)), 0.1 * rng.standard_normal(8),
              0.1 * rng.standard_normal((16, 8, 3, 3)), 0.1 * rng.standard_normal(16),
              0.05 * rng.standard_normal((16 * 7 * 7, CLASSES)), np.zeros(CLASSES))
    X = rng.standard_normal((batch, 1, 28, 28))
    Y = np.eye(CLASSES)[rng.integers(0, CLASSES, batch)]
    return params, X, Y


def cnn_loss(X, Y, conv: Callable, relu: Callable, pool: Callable, log_softmax: Callable,
             total: Callable) -> Callable:
    """conv (padding 1), relu, 2x2 max-pool, twice; linear; mean cross-entropy."""
    batch = X.shape[0]

    def loss(w1, b1, w2, b2, W, c):
        h = pool(relu(conv(X, w1) + b1[:, None, None]))
        h = pool(relu(conv(h, w2) + b2[:, None, None]))
        return -total(Y * log_softmax(h.reshape(batch, -1) @ W + c)) / batch

    return loss


def lagrange_cnn(X, Y) -> Callable:
    import lagrange_ad as la

    return cnn_loss(X, Y, lambda x, w: la.conv(x, w, padding=1), la.relu,
                    lambda h: la.max_pool(h, 2), lambda z: la.log_softmax(z, axis=1), la.sum)


def torch_cnn(X, Y) -> Callable:
    from .peers import load

    torch = load("torch")
    functional = torch.nn.functional
    return cnn_loss(torch.from_numpy(X), torch.from_numpy(Y),
                    lambda x, w: functional.conv2d(x, w, padding=1), torch.relu,
                    lambda h: functional.max_pool2d(h, 2), lambda z: torch.log_softmax(z, dim=1),
                    torch.sum)
