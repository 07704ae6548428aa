"""Cyclic examples: fixed points whose multipliers come from the implicit function theorem."""

from __future__ import annotations

import numpy as np

from ..program.program import Program
from ..tracing import functions as la
from ..tracing.fixed_point import fixed_point
from ..tracing.tracer import trace
from .registry import Example, example


@example
def fixed_cos(a: float = 0.8) -> Example:
    """The fixed point h = a cos(h), differentiated implicitly: dh/da = cos h / (1 + a sin h)."""
    def function(a):
        return fixed_point(lambda h, a: a * la.cos(h), 0.5, a)

    graph = trace(function, a)
    h = float(Program(graph).output_value)
    return Example(name="fixed_cos", summary="h = a cos(h): implicit derivative of a fixed point",
                   graph=graph, value=h,
                   gradient=(np.array(np.cos(h) / (1 + a * np.sin(h))),), function=function)


def _diagonally_dominant(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-1, 1, (n, n))
    return matrix + np.diag(np.abs(matrix).sum(axis=1) + 1.0)


@example
def jacobi_solve(n: int = 4, seed: int = 0) -> Example:
    """A x = b solved by Jacobi iteration x = (b - R x) / d, with loss 0.5 ||x - t||^2.

    Closed form: with lam = A^-T (x - t), the gradient is -lam x^T for A and lam for b.
    """
    rng = np.random.default_rng(seed + 1)
    matrix = _diagonally_dominant(n, seed)
    rhs, target = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    diagonal = np.arange(n)

    def function(A, b):
        d = A[diagonal, diagonal]
        x = fixed_point(lambda x, A, b, d: (b - (A @ x - d * x)) / d, np.zeros(n), A, b, d)
        return 0.5 * la.sum((x - target) ** 2)

    x = np.linalg.solve(matrix, rhs)
    lam = np.linalg.solve(matrix.T, x - target)
    return Example(name="jacobi_solve", summary=f"Jacobi iteration for a {n}x{n} linear system",
                   graph=trace(function, matrix, rhs), value=float(0.5 * np.sum((x - target) ** 2)),
                   gradient=(-np.outer(lam, x), lam), function=function)


@example
def pagerank(n: int = 5, damping: float = 0.85, seed: int = 0) -> Example:
    """PageRank r = (1 - d)/n + d M r, M = W / colsum(W), objective c . r.

    Closed form: r = (1 - d)/n (I - d M)^-1 1; with mu = (I - d M)^-T c the gradient is
    mu . (M r - 1/n) for the damping d and, for the link weights,
    d mu_i r_j / s_j - d (mu . M_:j) r_j / s_j with s_j the column sums.
    """
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.1, 1.0, (n, n))
    weights[np.diag_indices(n)] = 0.0
    c = rng.uniform(0, 1, n)

    def function(d, W):
        M = W / la.sum(W, axis=0)
        r = fixed_point(lambda r, d, M: (1 - d) / n + d * (M @ r), np.full(n, 1.0 / n), d, M)
        return la.sum(c * r)

    s = weights.sum(axis=0)
    M = weights / s
    system = np.eye(n) - damping * M
    r = np.linalg.solve(system, np.full(n, (1 - damping) / n))
    mu = np.linalg.solve(system.T, c)
    g_d = mu @ (M @ r - 1.0 / n)
    g_w = damping * (np.outer(mu, r) - (mu @ M) * r) / s
    g_w[np.diag_indices(n)] = damping * (mu - mu @ M) * r / s
    return Example(name="pagerank", summary=f"PageRank of {n} pages: damping and link weights",
                   graph=trace(function, damping, weights), value=float(c @ r),
                   gradient=(np.array(g_d), g_w), function=function)


@example
def equilibrium(n: int = 8, m: int = 3, seed: int = 0) -> Example:
    """An equilibrium layer h = tanh(W h + U x + b) (||W|| < 1), objective c . h.

    The reference, by the implicit function theorem in numpy: at the fixed point h (found by
    iterating the map), with D = diag(1 - h^2) and mu solving (I - W^T D) mu = c, the
    cotangent of z = W h + U x + b is z_bar = D mu, and the gradient is U^T z_bar for x,
    z_bar h^T for W, z_bar x^T for U and z_bar for b.
    """
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, n))
    W *= 0.5 / np.linalg.norm(W, 2)
    U, b, c = rng.standard_normal((n, m)), rng.standard_normal(n), rng.standard_normal(n)
    x = rng.standard_normal(m)

    def function(x, W, U, b):
        h = fixed_point(lambda h, W, U, b, x: la.tanh(W @ h + U @ x + b), np.zeros(n), W, U, b, x)
        return la.sum(c * h)

    h = np.zeros(n)
    for _ in range(10_000):  # a contraction of rate <= 1/2: about 55 steps to rounding
        h, previous = np.tanh(W @ h + U @ x + b), h
        if np.max(np.abs(h - previous)) <= 1e-15:
            break
    d = 1 - h * h
    z_bar = d * np.linalg.solve(np.eye(n) - W.T * d, c)
    return Example(name="equilibrium", summary=f"equilibrium layer h = tanh(W h + U x + b), n={n}",
                   graph=trace(function, x, W, U, b), value=float(c @ h),
                   gradient=(U.T @ z_bar, np.outer(z_bar, h), np.outer(z_bar, x), z_bar),
                   function=function, data={"c": c})
