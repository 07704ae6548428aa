"""The other systems, each run on the same scalar graph, and a plain Python tape.

A scalar graph is replayed from its arrays (``graph.op``, ``graph.op_names``,
``graph.parent_ptr``, ``graph.parent_idx``, ``graph.point``) as a *plan*: one
``(primitive, a, b)`` per non-input node, ``b = -1`` for unary primitives. Each system binds
the plan's primitive names to its own functions once (untimed), which gives the same Python
function ``f(*inputs)`` for every system. Peers are imported only inside their functions; a
missing one raises `PeerMissing`.

Every peer offers ``forward(f, point) -> state`` (build the graph and the values),
``backward(state) -> gradient`` (repeatable on one state) and ``grad(f, point) -> gradient``
end to end.
"""

from __future__ import annotations

import importlib
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .harness import PeerMissing

UNARY = ("sin", "cos", "tanh", "sigmoid")
BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul}
PEERS = ("micrograd", "torch", "autograd", "jax")


def load(module: str):
    """Import a peer, or raise `PeerMissing`."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise PeerMissing(module) from exc


# ----------------------------------------------------------------- plans and replay


def scalar_plan(graph) -> list[tuple[str, int, int]]:
    """``(primitive, a, b)`` for every non-input node of a scalar graph, in node order."""
    names = [graph.op_names[k] for k in graph.op.tolist()]
    ptr, idx = graph.parent_ptr.tolist(), graph.parent_idx.tolist()
    plan = []
    for i in range(graph.n_inputs, len(graph)):
        parents = idx[ptr[i]:ptr[i + 1]]
        plan.append((names[i], parents[0], parents[1] if len(parents) == 2 else -1))
    return plan


def replay(bound: Sequence[tuple[Callable, int, int]], inputs: Sequence):
    """Run a bound plan on the inputs; the value of the last node."""
    v = list(inputs)
    append = v.append
    for fn, a, b in bound:
        append(fn(v[a]) if b < 0 else fn(v[a], v[b]))
    return v[-1]


def scalar_function(plan, unary: dict[str, Callable]) -> Callable:
    """The plan as a Python function of the inputs, with ``unary`` supplying sin, cos, ..."""
    table = {**unary, **BINARY}
    bound = [(table[name], a, b) for name, a, b in plan]

    def f(*inputs):
        return replay(bound, inputs)

    return f


# ----------------------------------------------------------------- lagrange_ad


def lagrange_unary() -> dict[str, Callable]:
    import lagrange_ad as la

    return {"sin": la.sin, "cos": la.cos, "tanh": la.tanh, "sigmoid": la.sigmoid}


# ----------------------------------------------------------------- a plain Python tape


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _tape_sin(x):
    return math.sin(x), (math.cos(x),)


def _tape_cos(x):
    return math.cos(x), (-math.sin(x),)


def _tape_tanh(x):
    t = math.tanh(x)
    return t, (1.0 - t * t,)


def _tape_sigmoid(x):
    s = _sigmoid(x)
    return s, (s * (1.0 - s),)


TAPE_OPS = {
    "sin": _tape_sin, "cos": _tape_cos, "tanh": _tape_tanh, "sigmoid": _tape_sigmoid,
    "add": lambda x, y: (x + y, (1.0, 1.0)),
    "sub": lambda x, y: (x - y, (1.0, -1.0)),
    "mul": lambda x, y: (x * y, (y, x)),
}


@dataclass(frozen=True)
class Tape:
    """Values, parents and local partials recorded by the forward pass, one entry per node."""

    n_inputs: int
    values: list
    parents: list
    partials: list


def tape_function(plan) -> Callable:
    """The plan on Python floats, recording a `Tape` as it goes."""
    bound = [(TAPE_OPS[name], a, b) for name, a, b in plan]

    def forward(*inputs) -> Tape:
        v = [float(x) for x in inputs]
        parents, partials = [], []
        for fn, a, b in bound:
            if b < 0:
                y, d = fn(v[a])
                parents.append((a,))
            else:
                y, d = fn(v[a], v[b])
                parents.append((a, b))
            v.append(y)
            partials.append(d)
        return Tape(len(inputs), v, parents, partials)

    return forward


def tape_backward(tape: Tape) -> list[float]:
    """Adjoints by one loop in reverse node order; those of the inputs."""
    m = tape.n_inputs
    adj = [0.0] * len(tape.values)
    adj[-1] = 1.0
    parents, partials = tape.parents, tape.partials
    for i in range(len(adj) - 1, m - 1, -1):
        g = adj[i]
        if g:
            for j, d in zip(parents[i - m], partials[i - m]):
                adj[j] += g * d
    return adj[:m]


# ----------------------------------------------------------------- micrograd


def micrograd_unary() -> dict[str, Callable]:
    """sin, cos, tanh, sigmoid written the way micrograd writes its own operations."""
    Value = load("micrograd.engine").Value

    def unary(name, f, df):
        def op(x):
            out = Value(f(x.data), (x,), name)

            def _backward():
                x.grad += df(x.data, out.data) * out.grad

            out._backward = _backward
            return out

        return op

    return {
        "sin": unary("sin", math.sin, lambda x, y: math.cos(x)),
        "cos": unary("cos", math.cos, lambda x, y: -math.sin(x)),
        "tanh": unary("tanh", math.tanh, lambda x, y: 1.0 - y * y),
        "sigmoid": unary("sigmoid", _sigmoid, lambda x, y: y * (1.0 - y)),
    }


def micrograd_forward(f, point):
    Value = load("micrograd.engine").Value
    xs = [Value(float(x)) for x in point]
    return xs, f(*xs)


def micrograd_backward(state) -> list[float]:
    """micrograd's backward (a recursive topological sort, then the closures in reverse).

    Gradients accumulate across calls on one state; only the timing of repeats is used.
    """
    xs, out = state
    out.backward()
    return [x.grad for x in xs]


def micrograd_grad(f, point) -> list[float]:
    return micrograd_backward(micrograd_forward(f, point))


# ----------------------------------------------------------------- PyTorch


def torch_unary() -> dict[str, Callable]:
    torch = load("torch")
    return {"sin": torch.sin, "cos": torch.cos, "tanh": torch.tanh, "sigmoid": torch.sigmoid}


def torch_forward(f, point):
    torch = load("torch")
    xs = [torch.tensor(float(x), dtype=torch.float64, requires_grad=True) for x in point]
    return xs, f(*xs)


def torch_backward(state) -> list[float]:
    xs, out = state
    for x in xs:
        x.grad = None
    out.backward(retain_graph=True)
    return [float(x.grad) for x in xs]


def torch_grad(f, point) -> list[float]:
    xs, out = torch_forward(f, point)
    out.backward()
    return [float(x.grad) for x in xs]


# ----------------------------------------------------------------- HIPS autograd


def autograd_unary() -> dict[str, Callable]:
    anp = load("autograd.numpy")
    special = load("autograd.scipy.special")
    return {"sin": anp.sin, "cos": anp.cos, "tanh": anp.tanh, "sigmoid": special.expit}


def _on_vector(f, n_inputs: int) -> Callable:
    """``f`` as a function of one vector (autograd and JAX differentiate one argument)."""
    def g(x):
        return f(*[x[k] for k in range(n_inputs)])

    return g


def autograd_forward(f, point):
    autograd = load("autograd")
    vjp, _ = autograd.make_vjp(_on_vector(f, len(point)))(np.array(point, np.float64))
    return vjp


def autograd_backward(vjp) -> list[float]:
    return list(vjp(1.0))


def autograd_grad(f, point) -> list[float]:
    autograd = load("autograd")
    return list(autograd.grad(_on_vector(f, len(point)))(np.array(point, np.float64)))


# ----------------------------------------------------------------- JAX (eager, no jit)


def _jax():
    jax = load("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


def jax_unary() -> dict[str, Callable]:
    jax = _jax()
    return {"sin": jax.numpy.sin, "cos": jax.numpy.cos, "tanh": jax.numpy.tanh,
            "sigmoid": jax.nn.sigmoid}


def jax_forward(f, point):
    jax = _jax()
    _, vjp = jax.vjp(_on_vector(f, len(point)), jax.numpy.asarray(point, jax.numpy.float64))
    return vjp


def jax_backward(vjp) -> list[float]:
    (g,) = vjp(1.0)
    return [float(x) for x in np.asarray(g)]


def jax_grad(f, point) -> list[float]:
    jax = _jax()
    g = jax.grad(_on_vector(f, len(point)))(jax.numpy.asarray(point, jax.numpy.float64))
    return [float(x) for x in np.asarray(g)]


@dataclass(frozen=True)
class ScalarPeer:
    """A peer's entry points on scalar graphs; ``deep`` peers recurse over the graph."""

    name: str
    unary: Callable[[], dict]
    forward: Callable
    backward: Callable
    grad: Callable
    deep: bool = False


SCALAR_PEERS = (
    ScalarPeer("micrograd", micrograd_unary, micrograd_forward, micrograd_backward,
               micrograd_grad, deep=True),
    ScalarPeer("torch", torch_unary, torch_forward, torch_backward, torch_grad),
    ScalarPeer("autograd", autograd_unary, autograd_forward, autograd_backward, autograd_grad),
    ScalarPeer("jax", jax_unary, jax_forward, jax_backward, jax_grad),
)
