"""Acyclic examples: the lecture's function, Domke's example, random DAGs."""

from __future__ import annotations

import numpy as np

from ..errors import LagrangeADError
from ..graph.graph import Graph
from ..primitives import PRIMITIVES
from ..tracing import functions as la
from ..tracing.tracer import trace
from .registry import Example, example


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
REFERENCE_NODES = 20_000
"""Random DAGs up to this size get a reference gradient (a Python loop over the nodes)."""


def _random_dag_reference(names, op, ptr, parents, point) -> tuple[float, np.ndarray]:
    """The output and its gradient by forward-mode differentiation written out in numpy.

    Every node carries its value and its derivatives with respect to all inputs, by
    d sin a = cos a da, d cos a = -sin a da, d tanh a = (1 - tanh^2 a) da,
    d sigmoid a = s (1 - s) da, d(a +- b) = da +- db and d(ab) = b da + a db.
    """
    n, n_inputs = op.size, len(point)
    value, tangent = np.zeros(n), np.zeros((n, n_inputs))
    value[:n_inputs], tangent[:n_inputs] = point, np.eye(n_inputs)
    for i in range(n_inputs, n):
        name, a = names[op[i] - 1], parents[ptr[i]]
        u, du = value[a], tangent[a]
        if name in RANDOM_BINARY:
            b = parents[ptr[i] + 1]
            w, dw = value[b], tangent[b]
            value[i], tangent[i] = {"add": (u + w, du + dw), "sub": (u - w, du - dw),
                                    "mul": (u * w, w * du + u * dw)}[name]
            continue
        if name == "sigmoid":
            s = 1 / (1 + np.exp(-u))
            value[i], tangent[i] = s, s * (1 - s) * du
        else:
            f, df = {"sin": (np.sin, np.cos), "cos": (np.cos, lambda x: -np.sin(x)),
                     "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2)}[name]
            value[i], tangent[i] = f(u), df(u) * du
    return float(value[-1]), tangent[-1]


@example
def random_dag(n: int = 200, n_inputs: int = 3, window: int = 100, seed: int = 0) -> Example:
    """A seeded random scalar DAG: each node applies a random primitive to earlier nodes.

    Node i applies one of sin, cos, tanh, sigmoid (one parent) or add, sub, mul (two
    parents), with parents drawn uniformly from the previous ``window`` nodes; the output is
    the last node. Inputs are drawn from [-1, 1]. Built directly as arrays (no Python loop per
    node), so millions of nodes are cheap. Up to `REFERENCE_NODES` nodes the value and gradient
    are also computed by forward-mode differentiation in numpy (`_random_dag_reference`).
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
    value, gradient = None, None
    if n <= REFERENCE_NODES:
        value, tangent = _random_dag_reference(names, op, ptr, parents, graph.point)
        gradient = tuple(np.array(g) for g in tangent)
    return Example(name="random_dag", summary=f"random scalar DAG of {n} nodes (seed {seed})",
                   graph=graph, value=value, gradient=gradient)
