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

from ..accel.kernels import distinct_columns
from ..errors import CyclicGraphError, GraphError, ShapeError
from ..primitives import Primitive, lookup


def distinct_rows(*columns: np.ndarray) -> list[tuple[int, ...]]:
    """The distinct tuples ``(c0[k], c1[k], ...)`` of non-negative integer columns, sorted.

    One integer key per row and a 1-D unique: far faster than ``np.unique(axis=...)``.
    """
    if not columns[0].size:
        return []
    bases = [int(c.max()) + 1 for c in columns]
    key = np.zeros(columns[0].size, np.int64)
    for column, base in zip(columns, bases):
        key = key * base + column
    rows = []
    for value in np.unique(key).tolist():
        digits = []
        for base in reversed(bases):
            value, digit = divmod(value, base)
            digits.append(digit)
        rows.append(tuple(reversed(digits)))
    return rows


def _frozen(array, dtype, copy: bool = True) -> np.ndarray:
    """A read-only array of ``dtype``; with ``copy=False`` an array of that dtype is kept."""
    out = np.array(array, dtype=dtype, copy=True if copy else None)
    out.flags.writeable = False
    return out


def _frozen_point(x) -> np.ndarray:
    """An input value as a read-only float64 array; one that is already so is kept, not copied.

    (`la.grad` traces read-only views of its arguments, which live only for the call.)
    """
    if isinstance(x, np.ndarray) and x.dtype == np.float64 and not x.flags.writeable:
        return x
    return _frozen(x, np.float64)


def _frozen_param(value, copy: bool = True):
    """A read-only copy of a parameter value (arrays, also inside tuples, are copied).

    With ``copy=False`` a read-only array is kept as it is (a builder's constants).
    """
    if isinstance(value, np.ndarray):
        if not copy and not value.flags.writeable:
            return value
        return _frozen(value, value.dtype)
    if isinstance(value, tuple):
        return tuple(_frozen_param(v, copy) for v in value)
    return value


class _ReadOnlyDict(dict):
    """A dict that refuses changes (and still pickles and copies like a dict)."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("a graph is immutable: its parameters and names cannot be changed")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self):
        return type(self), (dict(self),)


def _index(value, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise GraphError(f"{what} must be an int; got {value!r}")
    return int(value)


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
    checked : bool, optional
        Set by `GraphBuilder`, which checks every node as it is added, so that freezing a
        large graph does not check it twice, and which hands over node arrays made for this
        graph alone, kept without a copy. Leave it False for arrays made elsewhere.
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
    checked: bool = field(default=False, repr=False)

    def __post_init__(self):
        set_ = object.__setattr__
        copy = not self.checked  # a builder's arrays belong to this graph alone
        set_(self, "op", _frozen(self.op, np.int32, copy))
        set_(self, "parent_ptr", _frozen(self.parent_ptr, np.int64, copy))
        set_(self, "parent_idx", _frozen(self.parent_idx, np.int64, copy))
        set_(self, "shape_id", _frozen(self.shape_id, np.int32, copy))
        set_(self, "param_id", _frozen(self.param_id, np.int32, copy))
        set_(self, "op_names", tuple(self.op_names))
        set_(self, "shape_table", tuple(tuple(int(n) for n in s) for s in self.shape_table))
        # read-only views and copies, so that nothing reachable from a graph can change it
        if not all(isinstance(p, Mapping) for p in self.param_table):
            raise GraphError("param_table must hold one mapping of parameter names to values "
                             "per entry")
        set_(self, "param_table", tuple(
            _ReadOnlyDict({k: _frozen_param(v, copy) for k, v in p.items()})
            for p in self.param_table))
        set_(self, "names", _ReadOnlyDict(self.names))
        set_(self, "initial", _ReadOnlyDict(
            {_index(i, "initial node"): _frozen(x, np.float64) for i, x in self.initial.items()}))
        if self.point is not None:
            try:
                set_(self, "point", tuple(_frozen_point(x) for x in self.point))
            except (TypeError, ValueError):
                raise GraphError(f"point must hold one number or array of numbers per input; "
                                 f"got {self.point!r}") from None
        set_(self, "n_inputs", _index(self.n_inputs, "n_inputs"))
        set_(self, "output", _index(self.output, "output"))
        if not self.checked:
            # a GraphBuilder checks every node as it is added and sets ``checked``
            self._check_structure()
            self._check_shapes()

    def __getstate__(self) -> dict:
        # the fields only: cached properties (primitive rules, levels) are rebuilt on demand
        return {f.name: self.__dict__[f.name] for f in fields(self)}

    def __setstate__(self, state: dict) -> None:
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
        return self._equation(i) + (f"  # shape {shape}" if shape else "")

    def _equation(self, i: int) -> str:
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
        return _frozen(table[self.shape_id], np.int64)

    @cached_property
    def distinct_parents(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Parent lists without repeats, or None when no node uses a parent twice.

        ``(ptr, idx, slot)``: node i's distinct parents are ``idx[ptr[i]:ptr[i + 1]]``, and
        edge e (an entry of ``parent_idx``) is ``slot[e]`` among them; ``x * x`` has one.
        """
        ptr, idx, slot, repeated = distinct_columns(self.parent_ptr, self.parent_idx)
        if not repeated:
            return None
        return _frozen(ptr, np.int64, False), _frozen(idx, np.int64), _frozen(slot, np.int64, False)

    @cached_property
    def is_source(self) -> np.ndarray:
        """Whether each node is an input or a constant (a row of J that is zero)."""
        return _frozen(np.array([name in ("input", "const") for name in self.op_names],
                                bool)[self.op], bool, False)

    @cached_property
    def scalar_elementwise(self) -> np.ndarray:
        """Nodes whose value and operands are scalars and whose primitive has a partials rule.

        Their local partials come from one vectorized call per primitive (see `assembly`).
        """
        has_rule = np.array([p.partials is not None for p in self.primitives], bool)[self.op]
        counts = np.diff(self.parent_ptr)
        widest = np.zeros(len(self), np.int64)
        nonempty = counts > 0
        if self.parent_idx.size:
            widest[nonempty] = np.maximum.reduceat(self.sizes[self.parent_idx],
                                                   self.parent_ptr[:-1][nonempty])
        return _frozen(np.flatnonzero(has_rule & ~self.is_source & (self.sizes == 1)
                                      & (widest == 1)), np.int64, False)

    @cached_property
    def depends_on_input(self) -> np.ndarray:
        """Whether each node is an input or has one among its ancestors.

        Only these multipliers reach the gradient: multipliers flow from a node to its parents,
        and a node that depends on no input has no input among its ancestors.
        """
        depends = np.zeros(len(self), bool)
        depends[:self.n_inputs] = True
        ptr, idx = self.parent_ptr, self.parent_idx
        if self.is_acyclic:
            # plain lists: the loop reads single entries, where numpy scalars are slow
            flags, ptr_list, idx_list = depends.tolist(), ptr.tolist(), idx.tolist()
            for i in self.topological_order().tolist():
                if not flags[i]:
                    flags[i] = any([flags[j] for j in idx_list[ptr_list[i]:ptr_list[i + 1]]])
            return _frozen(np.array(flags, bool), bool, False)
        # on a cycle every node depends on every other: components, in topological order
        for component in self.strongly_connected_components():
            parents = np.concatenate([idx[ptr[i]:ptr[i + 1]] for i in component.tolist()])
            depends[component] = depends[component].any() or depends[parents].any()
        return _frozen(depends, bool, False)

    @cached_property
    def gradient_reads(self) -> np.ndarray:
        """Whether the gradient-only reverse sweep reads each node's value.

        The sweep applies the VJP of every node that depends on an input; the value of node j
        is read when j's own rule reads its value, or a child's rule reads its operands (see
        `Primitive.vjp_reads`). Inputs, constants and the output always count as read.
        """
        runs = self.depends_on_input & ~self.is_source
        reads_ans = np.array(["ans" in p.vjp_reads for p in self.primitives], bool)[self.op]
        reads_operands = np.array(["operands" in p.vjp_reads for p in self.primitives],
                                  bool)[self.op]
        read = self.is_source | (runs & reads_ans)
        owner = np.repeat(np.arange(len(self)), np.diff(self.parent_ptr))
        read[self.parent_idx[(runs & reads_operands)[owner]]] = True
        read[self.output] = True
        return _frozen(read, bool, False)

    @cached_property
    def last_use(self) -> np.ndarray:
        """Per node, the position in `topological_order` of its last child (or its own)."""
        order = self.topological_order()
        position = np.empty(len(self), np.int64)
        position[order] = np.arange(len(self))
        last = position.copy()
        owner = np.repeat(np.arange(len(self)), np.diff(self.parent_ptr))
        np.maximum.at(last, self.parent_idx, position[owner])
        return _frozen(last, np.int64, False)

    @cached_property
    def multiply_adds(self) -> np.ndarray:
        """Per node, the number of local partials its VJP or JVP applies (nonzeros of J_i,Pa(i)).

        One per operand for scalar elementwise nodes; otherwise the primitive's ``cost`` of the
        node's shapes and parameters, computed once per distinct combination.
        """
        counts = np.zeros(len(self), np.int64)
        fast = self.scalar_elementwise
        counts[fast] = np.diff(self.parent_ptr)[fast]
        rest = ~self.is_source
        rest[fast] = False
        rest = np.flatnonzero(rest).tolist()
        if not rest:
            return _frozen(counts, np.int64, False)
        # plain lists: the loop reads single entries, where numpy scalars are slow
        op, shape_id, param_id = self.op.tolist(), self.shape_id.tolist(), self.param_id.tolist()
        ptr, idx = self.parent_ptr.tolist(), self.parent_idx.tolist()
        cache: dict = {}
        for i in rest:
            parents = idx[ptr[i]:ptr[i + 1]]
            key = (op[i], shape_id[i], param_id[i], *[shape_id[j] for j in parents])
            if key not in cache:
                shapes = [self.shape_table[shape_id[j]] for j in parents]
                cache[key] = self.primitives[op[i]].node_multiply_adds(
                    self.shape_table[shape_id[i]], *shapes, **self.param_table[param_id[i]])
            counts[i] = cache[key]
        return _frozen(counts, np.int64, False)

    @cached_property
    def offsets(self) -> np.ndarray:
        """Where each node's entries start in a flat vector over all entries; length N + 1."""
        return _frozen(np.concatenate([[0], np.cumsum(self.sizes)]), np.int64)

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

    def _check_structure(self) -> None:
        n = len(self)
        ptr = self.parent_ptr
        if ptr.shape != (n + 1,) or ptr[0] != 0 or ptr[-1] != self.parent_idx.size \
                or np.any(np.diff(ptr) < 0):
            raise GraphError("parent_ptr must start at 0, never decrease and end at "
                             "len(parent_idx)")
        for name, ids, table in (("op", self.op, self.op_names),
                                 ("shape_id", self.shape_id, self.shape_table),
                                 ("param_id", self.param_id, self.param_table)):
            if ids.shape != (n,) or (n and (ids.min() < 0 or ids.max() >= len(table))):
                raise GraphError(f"{name} must hold one valid table index per node")
        if not 0 <= self.n_inputs <= n:
            raise GraphError(f"n_inputs = {self.n_inputs} is not between 0 and {n}")
        if not 0 <= self.output < n:
            raise GraphError(f"output node v{self.output} does not exist (the graph has {n} nodes)")
        for i in self.names:
            if not 0 <= _index(i, "a named node") < n:
                raise GraphError(f"names: node v{i} does not exist (the graph has {n} nodes)")
        bad = np.flatnonzero((self.parent_idx < 0) | (self.parent_idx >= n))
        if bad.size:
            child = int(np.searchsorted(self.parent_ptr, bad[0], side="right") - 1)
            raise GraphError(f"node v{child} names parent v{self.parent_idx[bad[0]]}, "
                             f"which does not exist (nodes are v0..v{n - 1})")
        is_input = np.array([name == "input" for name in self.op_names])[self.op] \
            if n else np.zeros(0, bool)
        misplaced = np.flatnonzero(is_input != (np.arange(n) < self.n_inputs))
        if misplaced.size:
            i = int(misplaced[0])
            raise GraphError(f"inputs must be nodes v0..v{self.n_inputs - 1}; node v{i} is "
                             f"{'an input' if is_input[i] else 'not an input'}")
        arity = np.array([lookup(name).arity if lookup(name).arity is not None else -1
                          for name in self.op_names], np.int64)
        counts = np.diff(self.parent_ptr)
        expected = arity[self.op] if n else np.zeros(0, np.int64)
        wrong = np.flatnonzero(((expected >= 0) & (counts != expected))
                               | ((expected < 0) & (counts < 1)))
        if wrong.size:
            i = int(wrong[0])
            want = "at least 1" if expected[i] < 0 else str(expected[i])
            raise GraphError(f"node v{i}: primitive {self.op_names[self.op[i]]!r} takes {want} "
                             f"operand(s), got {counts[i]}")

    def _check_shapes(self) -> None:
        # parameter names first, once per (primitive, parameter set) pair
        for op, param in distinct_rows(self.op, self.param_id):
            problem = self.primitives[op].params_problem(self.param_table[param])
            if problem:
                i = int(np.flatnonzero((self.op == op) & (self.param_id == param))[0])
                raise GraphError(f"node v{i}: primitive {self.op_names[op]!r} {problem}")
        if self.shape_table == ((),):
            # all scalar: one check per (primitive, parameters, arity) combination
            arity = np.diff(self.parent_ptr)
            rest = slice(self.n_inputs, None)
            for op, param, k in distinct_rows(self.op[rest], self.param_id[rest], arity[rest]):
                try:
                    out = tuple(self.primitives[op].shape(*[()] * k, **self.param_table[param]))
                except ShapeError as exc:
                    raise ShapeError(f"primitive {self.op_names[op]} on scalars: {exc}") from None
                except (TypeError, ValueError) as exc:
                    raise GraphError(f"primitive {self.op_names[op]}: bad parameters "
                                     f"{dict(self.param_table[param])}: {exc}") from None
                if out != ():
                    i = self.n_inputs + int(np.flatnonzero(
                        (self.op[self.n_inputs:] == op) & (self.param_id[self.n_inputs:] == param)
                        & (arity[self.n_inputs:] == k))[0])
                    raise ShapeError(f"node {self._equation(i)} is declared as a scalar but "
                                     f"{self.op_names[op]} of {k} scalar(s) gives shape {out}")
            return
        for i in range(self.n_inputs, len(self)):
            primitive = self.primitive(i)
            operand_shapes = [self.shape(j) for j in self.parents(i)]
            try:
                expected = tuple(primitive.shape(*operand_shapes, **self.params(i)))
            except ShapeError as exc:
                raise ShapeError(f"node {self._equation(i)}: {exc}") from None
            except (TypeError, ValueError) as exc:
                raise GraphError(f"node v{i}: primitive {primitive.name}: bad parameters "
                                 f"{dict(self.params(i))}: {exc}") from None
            if expected != self.shape(i):
                raise ShapeError(f"node {self._equation(i)} is declared with shape "
                                 f"{self.shape(i)} but {primitive.name} of shapes "
                                 f"{operand_shapes} gives {expected}")

    # ----------------------------------------------------------------- order and structure

    @cached_property
    def children(self) -> tuple[np.ndarray, np.ndarray]:
        """Children in CSR form ``(child_ptr, child_idx)``; the transpose of the parent lists."""
        n = len(self)
        owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.parent_ptr))
        order = np.argsort(self.parent_idx, kind="stable")
        ptr = np.concatenate([[0], np.cumsum(np.bincount(self.parent_idx, minlength=n))])
        return _frozen(ptr, np.int64), _frozen(owner[order], np.int64)

    @cached_property
    def _levels(self) -> np.ndarray | None:
        """Longest distance from a source for every node, or None when there is a cycle.

        Kahn's algorithm over plain lists: O(N + E), iterative.
        """
        n = len(self)
        ptr = self.parent_ptr.tolist()
        idx = self.parent_idx.tolist()
        level = [0] * n
        if self.parents_precede_children:
            for i in range(n):
                for e in range(ptr[i], ptr[i + 1]):
                    if level[idx[e]] >= level[i]:
                        level[i] = level[idx[e]] + 1
            return _frozen(level, np.int64)
        child_ptr, child_idx = (a.tolist() for a in self.children)
        indegree = [ptr[i + 1] - ptr[i] for i in range(n)]
        ready = [i for i in range(n) if indegree[i] == 0]
        seen = 0
        while ready:
            j = ready.pop()
            seen += 1
            for e in range(child_ptr[j], child_ptr[j + 1]):
                i = child_idx[e]
                if level[j] >= level[i]:
                    level[i] = level[j] + 1
                indegree[i] -= 1
                if indegree[i] == 0:
                    ready.append(i)
        return _frozen(level, np.int64) if seen == n else None

    @cached_property
    def parents_precede_children(self) -> bool:
        """Whether every parent has a smaller index than its child (index order is topological)."""
        owner = np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.parent_ptr))
        return bool(np.all(self.parent_idx < owner))

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
        """Every node after its parents (index order when that already holds); no recursion.

        Raises `CyclicGraphError` naming a cycle when there is none.
        """
        if self.parents_precede_children:
            return np.arange(len(self), dtype=np.int64)
        return np.argsort(self.levels(), kind="stable")

    def strongly_connected_components(self) -> list[np.ndarray]:
        """Strongly connected components in topological order of the condensation.

        Tarjan's algorithm with an explicit stack, so deep graphs cannot overflow recursion.
        """
        n = len(self)
        # plain lists: this loop touches single entries, where numpy scalars are slow
        ptr, idx = self.parent_ptr.tolist(), self.parent_idx.tolist()
        index = [-1] * n
        low = [0] * n
        on_stack = [False] * n
        stack: list[int] = []
        components: list[np.ndarray] = []
        counter = 0
        for root in range(n):
            if index[root] >= 0:
                continue
            work = [(root, ptr[root])]
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack[root] = True
            while work:
                v, edge = work[-1]
                if edge < ptr[v + 1]:
                    work[-1] = (v, edge + 1)
                    w = idx[edge]  # edges run child -> parent; components are the same
                    if index[w] < 0:
                        index[w] = low[w] = counter
                        counter += 1
                        stack.append(w)
                        on_stack[w] = True
                        work.append((w, ptr[w]))
                    elif on_stack[w]:
                        low[v] = min(low[v], index[w])
                    continue
                work.pop()
                if work:
                    parent_v = work[-1][0]
                    low[parent_v] = min(low[parent_v], low[v])
                if low[v] == index[v]:
                    members = []
                    while True:
                        w = stack.pop()
                        on_stack[w] = False
                        members.append(w)
                        if w == v:
                            break
                    components.append(np.array(sorted(members), np.int64))
        # following parent edges, Tarjan emits a component after all components it depends on
        return components

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
