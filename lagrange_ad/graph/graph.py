"""The computation graph: a labeled directed hypergraph stored as flat arrays.

Nodes are variables ``v_0, ..., v_{N-1}``; inputs come first. Every other node carries one
primitive label ``p_i`` and an ordered tuple of parents ``Pa(i)``, and stands for the constraint

    v_i = p_i(v_Pa(i)).

The structure is plain immutable data: primitive codes, parents in CSR form (``parent_ptr``,
``parent_idx``), and small tables of the distinct shapes and parameter sets that nodes point
into. No Python object is kept per node, so graphs of millions of nodes are cheap, and every
walk over the graph is a loop, never a recursion.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property

import numpy as np

from ..accel.dispatch import accelerator_for
from ..errors import CyclicGraphError, GraphError
from ..primitives import Primitive, lookup
from . import order
from .readonly import ReadOnlyDict, index_value, read_only, read_only_param, read_only_point
from .validation import check_node, check_structure


@dataclass(frozen=True, eq=False)
class Graph:
    """An immutable computation graph.

    Build one with `trace` or `GraphBuilder`; the constructor validates what it is given.

    Parameters
    ----------
    op_names : tuple of str
        The primitive names that occur; ``op[i]`` indexes this table.
    op : ndarray of int32, shape (N,)
        The primitive of each node.
    parent_ptr, parent_idx : ndarray of int64
        Parents in CSR form: the parents of node i are
        ``parent_idx[parent_ptr[i]:parent_ptr[i+1]]``, in operand order.
    shape_table, shape_id
        The distinct node shapes and, per node, which one it has.
    param_table, param_id
        The distinct static parameter sets and, per node, which one it uses.
    n_inputs : int
        Nodes ``0 .. n_inputs-1`` are the inputs.
    output : int
        The node ``v_N`` whose value the program maximizes.
    names : mapping of int to str, optional
        Names of some nodes (the traced function's argument names, for instance).
    point : tuple of ndarray, optional
        Input values recorded when tracing; `Program` uses them when given no point.
    initial : mapping of int to ndarray, optional
        Starting values for nodes on cycles, whose values are found by fixed-point iteration
        (zeros when absent).
    scopes : mapping of int to str, optional
        The scope path of some nodes: the part of a model that recorded them, such as
        ``"layers.0.self_attn"`` (`la.scope`, or a module's path when imported from torch).
    trusted : bool, optional
        Set by `GraphBuilder`, which checks every node as it is added (so the graph is not
        checked twice) and hands over node arrays made for this graph alone (kept without a
        copy). Leave it False for arrays made elsewhere: they are copied and validated.
    """

    op_names: tuple[str, ...]
    op: np.ndarray
    parent_ptr: np.ndarray
    parent_idx: np.ndarray
    shape_table: tuple[tuple[int, ...], ...]
    shape_id: np.ndarray
    param_table: tuple[Mapping, ...]
    param_id: np.ndarray
    n_inputs: int
    output: int
    names: Mapping[int, str] = field(default_factory=dict)
    point: tuple[np.ndarray, ...] | None = None
    initial: Mapping[int, np.ndarray] = field(default_factory=dict)
    scopes: Mapping[int, str] = field(default_factory=dict)
    trusted: bool = field(default=False, repr=False)

    def __post_init__(self):
        set_ = object.__setattr__
        copy = not self.trusted  # a builder's arrays belong to this graph alone
        set_(self, "op", read_only(self.op, np.int32, copy))
        set_(self, "parent_ptr", read_only(self.parent_ptr, np.int64, copy))
        set_(self, "parent_idx", read_only(self.parent_idx, np.int64, copy))
        set_(self, "shape_id", read_only(self.shape_id, np.int32, copy))
        set_(self, "param_id", read_only(self.param_id, np.int32, copy))
        set_(self, "op_names", tuple(self.op_names))
        set_(self, "shape_table", tuple(tuple(int(n) for n in s) for s in self.shape_table))
        # read-only views and copies, so that nothing reachable from a graph can change it
        if not all(isinstance(p, Mapping) for p in self.param_table):
            raise GraphError("param_table must hold one mapping of parameter names to values "
                             "per entry")
        set_(self, "param_table", tuple(
            ReadOnlyDict({k: read_only_param(v, copy) for k, v in p.items()})
            for p in self.param_table))
        set_(self, "names", ReadOnlyDict(self.names))
        set_(self, "scopes", ReadOnlyDict(self.scopes))
        set_(self, "initial", ReadOnlyDict({index_value(i, "initial node"): read_only(x, np.float64)
                                            for i, x in self.initial.items()}))
        if self.point is not None:
            try:
                set_(self, "point", tuple(read_only_point(x) for x in self.point))
            except (TypeError, ValueError):
                raise GraphError(f"point must hold one number or array of numbers per input; "
                                 f"got {self.point!r}") from None
        set_(self, "n_inputs", index_value(self.n_inputs, "n_inputs"))
        set_(self, "output", index_value(self.output, "output"))
        if not self.trusted:
            check_structure(self)
            self._check_nodes()

    def __getstate__(self) -> dict:
        # the fields only: cached properties (primitive rules, levels) are made again on demand
        return {f.name: self.__dict__[f.name] for f in fields(self)}

    def __setstate__(self, state: dict) -> None:
        state.setdefault("scopes", ReadOnlyDict())  # pickled before graphs had scopes
        for name, value in state.items():
            object.__setattr__(self, name, value)

    # ----------------------------------------------------------------- node access

    def __len__(self) -> int:
        return int(self.op.size)

    @cached_property
    def primitives(self) -> tuple[Primitive, ...]:
        """The registered primitive of each entry of ``op_names``."""
        return tuple(lookup(name) for name in self.op_names)

    def primitive(self, i: int) -> Primitive:
        """The primitive labeling node ``i``."""
        return self.primitives[self.op[i]]

    def parents(self, i: int) -> np.ndarray:
        """The parents of node ``i`` in operand order."""
        return self.parent_idx[self.parent_ptr[i]:self.parent_ptr[i + 1]]

    def shape(self, i: int) -> tuple[int, ...]:
        """The shape of node ``i``'s value."""
        return self.shape_table[self.shape_id[i]]

    def params(self, i: int) -> Mapping:
        """The static parameters of node ``i``'s primitive (read-only)."""
        return self.param_table[self.param_id[i]]

    def name(self, i: int) -> str:
        """``v{i}``, followed by the node's name when it has one."""
        return f"v{i}" if i not in self.names else f"v{i} ({self.names[i]})"

    def describe(self, i: int) -> str:
        """The node's line: ``v5 = sin(v4)``, followed by its shape when it is not a scalar."""
        shape = self.shape(i)
        return self.equation(i) + (f"  # shape {shape}" if shape else "")

    def equation(self, i: int) -> str:
        operands = [f"v{j}" for j in self.parents(i)]
        rhs = self.primitive(i).label(operands, self.params(i))
        if self.op_names[self.op[i]] == "input":
            rhs = f"input {self.names.get(i, '')}".rstrip()
        # parameters such as boolean masks print over several lines; a node keeps to one
        return f"v{i} = " + " ".join(rhs.split())

    @property
    def inputs(self) -> range:
        """The input nodes."""
        return range(self.n_inputs)

    @cached_property
    def sizes(self) -> np.ndarray:
        """The number of scalar entries of each node."""
        table = np.array([math.prod(s) for s in self.shape_table], np.int64)
        return read_only(table[self.shape_id], np.int64)

    @cached_property
    def is_source(self) -> np.ndarray:
        """Whether each node is an input or a constant (a row of J that is zero)."""
        source = np.array([name in ("input", "const") for name in self.op_names], bool)
        return read_only(source[self.op], bool, False)

    @cached_property
    def offsets(self) -> np.ndarray:
        """Where each node's entries start in a flat vector over all entries; length N + 1."""
        return read_only(np.concatenate([[0], np.cumsum(self.sizes)]), np.int64)

    @property
    def total_size(self) -> int:
        """The number of scalar entries over all nodes."""
        return int(self.offsets[-1])

    def __str__(self) -> str:
        lines = [self.describe(i) for i in range(len(self))]
        lines.append(f"output: v{self.output}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"Graph({len(self)} nodes, {self.n_inputs} inputs, "
                f"{self.parent_idx.size} edges, output v{self.output})")

    # ----------------------------------------------------------------- validation

    def _check_nodes(self) -> None:
        """Each node's parameters and shape against its primitive's rules."""
        accelerator = accelerator_for("validate", self)
        if accelerator is not None:
            accelerator.run(self)
            return
        for i in range(self.n_inputs, len(self)):
            check_node(self, i)

    # ----------------------------------------------------------------- order and structure

    @cached_property
    def children(self) -> tuple[np.ndarray, np.ndarray]:
        """Children in CSR form ``(child_ptr, child_idx)``; the transpose of the parent lists."""
        return tuple(read_only(a, np.int64) for a in order.children(self.parent_ptr,
                                                                      self.parent_idx))

    @cached_property
    def parents_precede_children(self) -> bool:
        """Whether every parent has a smaller index than its child (index order is topological)."""
        return order.parents_precede_children(self.parent_ptr, self.parent_idx)

    @cached_property
    def _levels(self) -> np.ndarray | None:
        levels = order.levels(self.parent_ptr, self.parent_idx, self.parents_precede_children)
        return None if levels is None else read_only(levels, np.int64, False)

    def levels(self) -> np.ndarray:
        """Topological level of each node: 0 for sources, else 1 + the largest parent level.

        Raises `CyclicGraphError` when the graph has a cycle.
        """
        if self._levels is None:
            raise CyclicGraphError(self._cycle_message())
        return self._levels

    @property
    def depth(self) -> int:
        """The number of edges on the longest path (the largest level)."""
        return int(self.levels().max()) if len(self) else 0

    @cached_property
    def is_acyclic(self) -> bool:
        """Whether the graph is a DAG."""
        # parents before children is the common case and needs no level computation
        return self.parents_precede_children or self._levels is not None

    def topological_order(self) -> np.ndarray:
        """Every node after its parents (index order when that already holds).

        Raises `CyclicGraphError` naming a cycle when there is none.
        """
        if self.parents_precede_children:
            return np.arange(len(self), dtype=np.int64)
        return np.argsort(self.levels(), kind="stable")

    def strongly_connected_components(self) -> list[np.ndarray]:
        """Strongly connected components in topological order of the condensation."""
        return order.strongly_connected_components(self.parent_ptr, self.parent_idx)

    def _cycle_message(self) -> str:
        for component in self.strongly_connected_components():
            if component.size > 1 or np.any(self.parents(int(component[0])) == component[0]):
                shown = ", ".join(f"v{i}" for i in component[:8])
                more = "" if component.size <= 8 else f" and {component.size - 8} more"
                return (f"the graph has a cycle through {shown}{more}; this operation needs a "
                        f"DAG (cyclic graphs are solved as fixed points)")
        return "the graph has a cycle"

    # ----------------------------------------------------------------- export

    def to_networkx(self):
        """A `networkx.MultiDiGraph`: an edge parent -> child per operand, keyed by position.

        Node attributes: ``primitive``, ``shape``, ``label`` (the node's line) and ``name``.
        """
        from .export import to_networkx

        return to_networkx(self)

    def to_dot(self, node_labels: Mapping[int, str] | None = None) -> str:
        """Graphviz DOT text; hyperedges are drawn as edges labeled by operand position.

        ``node_labels`` adds lines (values, multipliers) under some nodes' own lines.
        """
        from .export import to_dot

        return to_dot(self, node_labels)
