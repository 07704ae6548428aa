"""The memory-lean gradient plan: a forward pass that keeps only what the gradient sweep reads.

`la.grad` with the plain reverse sweep by VJP rules, asked for the gradient alone
(``gradient_only=True``), reads few values: a node's own value when its rule reads it (exp,
tanh), its operands' values when its rule reads them (products), and those only for nodes
that depend on an input (`gradient_reads`). This accelerator of task ``"forward"`` computes
every value in topological order like the reference loop, but

* frees each value that the sweep will not read right after its last use (`last_use`), so a
  deep network holds a few layers at a time instead of all of them;
* lets a node whose primitive is a numpy ufunc write its result into the buffer of an operand
  freed at that node, as numpy does with temporaries in ``a @ b + c``. A buffer is lent only
  when nothing else refers to it: it must own its memory, and ``sys.getrefcount`` must count
  only the list of values (no view of it is kept anywhere, no caller holds it).

The values it leaves out come back missing from the `NodeVector`; reading one raises an error
that says why. When a value is not finite or outside a primitive's domain the plan declines
(returns None): the reference loop then runs and names the node, with every operand intact.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from ..graph.graph import Graph
from ..program.analysis import depends_on_input, per_graph
from ..program.values import Forward, NodeEvaluator, Reads, node_vector
from ..program.vectors import all_finite
from .costs import jacobian_is_sparse
from .dispatch import Accelerator, register_accelerator
from .scalar_graphs import is_scalar_graph

DROPPED = ("the values were computed by the memory-lean gradient plan, which keeps only those "
           "that the gradient-only reverse sweep reads; construct la.Program(graph, *point) "
           "for every value")

# the consumer this plan is made for: the reverse sweep asked for the gradient alone, with no
# option that would make it read other values (levels, checkpoints, a sweep over J)
CONSUMER = "reverse"
CONSUMER_OPTIONS = frozenset({"check", "gradient_only"})


@per_graph
def gradient_reads(graph: Graph) -> np.ndarray:
    """Whether the gradient-only reverse sweep by VJP rules reads each node's value.

    The sweep applies the VJP of every node that depends on an input; the value of node j
    is read when j's own rule reads its value, or a child's rule reads its operands (see
    `Primitive.vjp_reads`). Inputs, constants and the output always count as read.
    """
    runs = depends_on_input(graph) & ~graph.is_source
    reads_ans = np.array(["ans" in p.vjp_reads for p in graph.primitives], bool)[graph.op]
    reads_operands = np.array(["operands" in p.vjp_reads for p in graph.primitives],
                              bool)[graph.op]
    read = graph.is_source | (runs & reads_ans)
    owner = np.repeat(np.arange(len(graph)), np.diff(graph.parent_ptr))
    read[graph.parent_idx[(runs & reads_operands)[owner]]] = True
    read[graph.output] = True
    return read


@per_graph
def last_use(graph: Graph) -> np.ndarray:
    """Per node, the position in `Graph.topological_order` of its last child (or its own)."""
    order = graph.topological_order()
    position = np.empty(len(graph), np.int64)
    position[order] = np.arange(len(graph))
    last = position.copy()
    owner = np.repeat(np.arange(len(graph)), np.diff(graph.parent_ptr))
    np.maximum.at(last, graph.parent_idx, position[owner])
    return last


def serves(graph: Graph, reads: Reads) -> bool:
    """A DAG of arrays, swept by VJP rules for the gradient alone."""
    options = dict(reads.options)
    return (reads.schedule == CONSUMER and options.get("gradient_only") is True
            and options.get("check") is False  # the KKT residual reads every value
            and set(options) <= CONSUMER_OPTIONS and graph.is_acyclic
            and not is_scalar_graph(graph) and not jacobian_is_sparse(graph))


def freed_after(graph: Graph) -> dict[int, list[int]]:
    """Position in topological order -> the values not read by the sweep last used there."""
    freed: dict = {}
    for j in np.flatnonzero(~gradient_reads(graph)).tolist():
        freed.setdefault(int(last_use(graph)[j]), []).append(j)
    return freed


def lean_forward(graph: Graph, point, fixed_point, reads: Reads) -> Forward | None:
    """The values the gradient sweep reads (the others freed after their last use), or None
    when a value is not finite or a point is outside a primitive's domain."""
    node = NodeEvaluator(graph)
    freed = freed_after(graph)
    values: list = [None] * len(graph)
    values[:graph.n_inputs] = point
    with np.errstate(all="ignore"):
        for position, i in enumerate(graph.topological_order().tolist()):
            last = freed.get(position, ())
            if i >= graph.n_inputs:
                primitive, params, shape = node.primitives[i], node.params[i], node.shapes[i]
                # the buffer first: the operands' list below would count as a reference
                out = _spare(values, last, shape) if last and _writes_in_place(primitive) \
                    else None
                xs = [values[j] for j in node.idx[node.ptr[i]:node.ptr[i + 1]]]
                if primitive.domain is not None and primitive.domain(*xs, **params) is not None:
                    return None
                ans = primitive.evaluate(*xs, **params) if out is None else \
                    primitive.evaluate(*xs, out=out, **params)
                if not (math.isfinite(ans) if np.ndim(ans) == 0 else all_finite(ans)):
                    return None
                values[i] = ans if np.shape(ans) == shape else np.reshape(ans, shape)
            for j in last:
                values[j] = None
    return Forward(node_vector(graph, values, DROPPED), ())


def _writes_in_place(primitive) -> bool:
    """Whether the primitive is a numpy ufunc, which can write into an array given."""
    return isinstance(primitive.evaluate, np.ufunc) and primitive.evaluate.nout == 1


def _spare(values: list, candidates, shape: tuple) -> np.ndarray | None:
    """A value among ``candidates`` (about to be freed) that can take a result of ``shape``.

    It must be a writable float64 array of that shape owning its memory, referenced by the
    list alone: ``getrefcount`` counts the list, the name here and its own argument.
    """
    for j in candidates:
        x = values[j]
        if isinstance(x, np.ndarray) and x.shape == shape and x.dtype == np.float64 \
                and x.flags.writeable and x.flags.owndata and sys.getrefcount(x) <= 3:
            return x
    return None


LEAN_FORWARD = register_accelerator(Accelerator(
    name="lean-gradient-forward",
    task="forward",
    serves=serves,
    run=lean_forward,
    doc="DAGs of arrays swept by VJP rules for the gradient alone: keeps only the values the "
        "sweep reads and reuses freed buffers in place.",
))
