"""Named programs with known answers, usable from Python and the command line by name.

Each example is a graph with a point and, where one exists, the closed form of its value and
gradient, so every schedule can be checked against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import functions as la
from .errors import LagrangeADError
from .graph import Graph
from .primitives import PRIMITIVES
from .program import Program
from .trace import trace


@dataclass(frozen=True)
class Example:
    """A graph at a point with its known value and gradient.

    Attributes
    ----------
    name : str
    summary : str
    graph : Graph
        The graph; its recorded point is the example's point.
    value : float or None
        The closed-form value of the output at the point.
    gradient : tuple of ndarray or None
        The closed-form gradient at the point.
    function : callable or None
        The traced Python function, for finite differences and other AD libraries.
    data : mapping
        Constants of the example that a check may need (weights, targets).
    """

    name: str
    summary: str
    graph: Graph
    value: float | None = None
    gradient: tuple[np.ndarray, ...] | None = None
    function: Callable | None = field(default=None, repr=False)
    data: dict = field(default_factory=dict, repr=False)

    @property
    def point(self) -> tuple[np.ndarray, ...]:
        """The input values."""
        return self.graph.point

    def program(self) -> Program:
        """The example's program at its point."""
        return Program(self.graph)


EXAMPLES: dict[str, Callable[..., Example]] = {}


def example(factory: Callable[..., Example]) -> Callable[..., Example]:
    """Register an example factory under its function name."""
    EXAMPLES[factory.__name__] = factory
    return factory


def get(name: str, **options) -> Example:
    """The example called ``name``, built with ``options``."""
    try:
        factory = EXAMPLES[name]
    except KeyError:
        raise LagrangeADError(f"unknown example {name!r}; examples are: "
                              f"{', '.join(EXAMPLES)}") from None
    return factory(**options)


def lecture_function(x, y, z):
    """``f(x, y, z) = z + sin(x^2 + y exp(z))``."""
    return z + la.sin(x**2 + y * la.exp(z))


@example
def lecture(x: float = 2.0, y: float = -1.0, z: float = 0.0) -> Example:
    """The lecture's f(x, y, z) = z + sin(x^2 + y exp(z)), by default at (2, -1, 0).

    Closed form: with d = x^2 + y e^z,
    grad f = (2x cos d, e^z cos d, 1 + y e^z cos d); at (2, -1, 0) that is
    f = sin 3 = 0.14112 and grad f = (4 cos 3, cos 3, 1 + ... ) = (-3.96, -0.99, 1.99).
    """
    d = x * x + y * np.exp(z)
    gradient = (2 * x * np.cos(d), np.exp(z) * np.cos(d), 1 + y * np.exp(z) * np.cos(d))
    return Example(
        name="lecture",
        summary="f(x,y,z) = z + sin(x^2 + y exp(z)) at (2, -1, 0)",
        graph=trace(lecture_function, x, y, z),
        value=float(z + np.sin(d)),
        gradient=tuple(np.array(g) for g in gradient),
        function=lecture_function,
    )


def domke_function(x):
    """``f(x) = exp(exp(x) + exp(x)^2) + sin(exp(x) + exp(x)^2)``."""
    a = la.exp(x)
    b = a + a**2
    return la.exp(b) + la.sin(b)


@example
def domke(x: float = 0.5) -> Example:
    """Justin Domke's example f(x) = exp(exp(x) + exp(x)^2) + sin(exp(x) + exp(x)^2).

    Closed form: with a = e^x and b = a + a^2, f'(x) = (e^b + cos b)(a + 2 a^2).
    """
    a = np.exp(x)
    b = a + a * a
    return Example(
        name="domke",
        summary="f(x) = exp(exp(x) + exp(x)^2) + sin(exp(x) + exp(x)^2)",
        graph=trace(domke_function, x),
        value=float(np.exp(b) + np.sin(b)),
        gradient=(np.array((np.exp(b) + np.cos(b)) * (a + 2 * a * a)),),
        function=domke_function,
    )


RANDOM_UNARY = ("sin", "cos", "tanh", "sigmoid")
RANDOM_BINARY = ("add", "sub", "mul")


@example
def random_dag(n: int = 200, n_inputs: int = 3, window: int = 100, seed: int = 0) -> Example:
    """A seeded random scalar DAG: each node applies a random primitive to earlier nodes.

    Node i applies one of sin, cos, tanh, sigmoid (one parent) or add, sub, mul (two
    parents), with parents drawn uniformly from the previous ``window`` nodes; the output is
    the last node. Inputs are drawn from [-1, 1]. Built directly as arrays (no Python loop per
    node), so millions of nodes are cheap.
    """
    if n <= n_inputs or n_inputs < 1:
        raise LagrangeADError(f"random_dag needs 1 <= n_inputs < n; got n={n}, "
                              f"n_inputs={n_inputs}")
    rng = np.random.default_rng(seed)
    names = RANDOM_UNARY + RANDOM_BINARY
    op = np.concatenate([np.zeros(n_inputs, np.int32),
                         rng.integers(1, len(names) + 1, n - n_inputs).astype(np.int32)])
    binary = op >= 1 + len(RANDOM_UNARY)
    arity = np.where(np.arange(n) < n_inputs, 0, np.where(binary, 2, 1))
    ptr = np.concatenate([[0], np.cumsum(arity)])
    owner = np.repeat(np.arange(n), arity)
    low = np.maximum(owner - window, 0)
    parents = low + (rng.random(owner.size) * (owner - low)).astype(np.int64)
    graph = Graph(
        op_names=("input",) + names, op=op, parent_ptr=ptr, parent_idx=parents,
        shape_table=((),), shape_id=np.zeros(n, np.int32), param_table=({"shape": ()}, {}),
        param_id=(np.arange(n) >= n_inputs).astype(np.int32), n_inputs=n_inputs,
        output=n - 1, point=tuple(rng.uniform(-1, 1, n_inputs)),
    )
    assert all(name in PRIMITIVES for name in names)
    return Example(name="random_dag", summary=f"random scalar DAG of {n} nodes (seed {seed})",
                   graph=graph)


# ----------------------------------------------------------------------------- cyclic examples


@example
def fixed_cos(a: float = 0.8) -> Example:
    """The fixed point h = a cos(h), differentiated implicitly: dh/da = cos h / (1 + a sin h)."""
    from .implicit import fixed_point

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
    from .implicit import fixed_point

    rng = np.random.default_rng(seed + 1)
    matrix, rhs, target = _diagonally_dominant(n, seed), rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
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
    from .implicit import fixed_point

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

    No closed form; the tests compare the implicit gradient with finite differences of a
    long forward iteration.
    """
    from .implicit import fixed_point

    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, n))
    W *= 0.5 / np.linalg.norm(W, 2)
    U, b, c = rng.standard_normal((n, m)), rng.standard_normal(n), rng.standard_normal(n)
    x = rng.standard_normal(m)

    def function(x, W, U, b):
        h = fixed_point(lambda h, W, U, b, x: la.tanh(W @ h + U @ x + b), np.zeros(n), W, U, b, x)
        return la.sum(c * h)

    return Example(name="equilibrium", summary=f"equilibrium layer h = tanh(W h + U x + b), n={n}",
                   graph=trace(function, x, W, U, b), function=function, data={"c": c})
