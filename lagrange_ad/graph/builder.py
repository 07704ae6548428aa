"""The explicit graph builder: add nodes by primitive name and parents.

`GraphBuilder.add` adds one node; `GraphBuilder.add_many` adds a whole batch of nodes of one
primitive from an index array of parents, with no Python loop per node, which is how
million-node graphs are made. `GraphBuilder.declare` reserves a node whose definition comes
later, so self-loops and longer cycles can be written. Shapes are inferred by each primitive's
shape rule as nodes are added, so errors point at the line that caused them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import GraphError, NonFiniteError, ShapeError
from ..primitives import lookup
from ..program.vectors import all_finite
from . import scopes
from .graph import Graph
from .nodetable import NodeTable, distinct_rows


def _hashable(value):
    """A hashable stand-in for a parameter value, used to share equal parameter sets."""
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, slice):
        return ("slice", value.start, value.stop, value.step)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__,) + tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


class GraphBuilder:
    """Accumulates nodes, then `build` freezes them into a `Graph`.

    Examples
    --------
    >>> import lagrange_ad as la
    >>> b = la.GraphBuilder()
    >>> x, y, z = b.input(name="x"), b.input(name="y"), b.input(name="z")
    >>> d = b.add("add", b.add("pow", x, exponent=2), b.add("mul", y, b.add("exp", z)))
    >>> f = b.add("add", z, b.add("sin", d))
    >>> graph = b.build()
    >>> print(graph.describe(f))
    v8 = v2 + v7
    """

    def __init__(self):
        self._op_names: list[str] = []
        self._op_index: dict[str, int] = {}
        self._shapes: list[tuple] = []
        self._shape_index: dict[tuple, int] = {}
        self._params: list[dict] = []
        self._param_index: dict = {}
        self._nodes = NodeTable()
        self._recorded: dict = {}
        self._undefined: dict[int, tuple] = {}
        self._names: dict[int, str] = {}
        self._initial: dict[int, np.ndarray] = {}
        self._n_inputs = 0
        # (node count, scope path from then on) at each change of `la.scope`; see graph.scopes
        self._scope_marks: list[tuple[int, str]] = [(0, scopes.current())]
        self._scopes: dict[int, str] = {}  # scopes given node by node (`set_scope`)
        scopes.listen(self)

    def __len__(self) -> int:
        return len(self._nodes)

    # ----------------------------------------------------------------- tables

    def _code(self, table: list, index: dict, key, value) -> int:
        code = index.get(key)
        if code is None:
            code = index[key] = len(table)
            table.append(value)
        return code

    def _op_code(self, name: str) -> int:
        lookup(name)
        return self._code(self._op_names, self._op_index, name, name)

    def _shape_code(self, shape) -> int:
        shape = tuple(int(n) for n in shape)
        return self._code(self._shapes, self._shape_index, shape, shape)

    def _param_code(self, params: dict) -> int:
        if any(isinstance(v, np.ndarray) and v.size > 64 for v in params.values()):
            # comparing large arrays (a captured data matrix) costs more than a table entry
            self._params.append(dict(params))
            return len(self._params) - 1
        try:
            key = _hashable(params)
            hash(key)
        except TypeError:
            self._params.append(dict(params))
            return len(self._params) - 1
        return self._code(self._params, self._param_index, key, dict(params))

    def mark_scope(self, path: str) -> None:
        """Nodes added from now on belong to the scope ``path`` (``""``: to none)."""
        marks = self._scope_marks
        if marks[-1][0] == len(self):
            marks[-1] = (len(self), path)
        else:
            marks.append((len(self), path))

    def set_scope(self, node: int, path: str | None) -> None:
        """Put one node in the scope ``path`` whatever scope was in force when it was added."""
        node = self._check_node(node, "a scoped node")
        if path:
            self._scopes[node] = str(path)

    def shape(self, node: int) -> tuple:
        """The shape of a node added so far."""
        return self._shapes[self._nodes.shape_id(node)]

    @property
    def table(self) -> NodeTable:
        """The node columns (tracing appends to their lists directly)."""
        return self._nodes

    def step(self, node: int) -> tuple:
        """``(primitive, params, parents)`` of one node (cheap in increasing node order)."""
        op, param_id, parents = self._nodes.node(node)
        return lookup(self._op_names[op]), self._params[param_id], parents

    def describe(self, node: int) -> str:
        """The node's line, ``v5 = sin(v4)`` (for messages while building)."""
        primitive, params, parents = self.step(node)
        return f"v{node} = " + primitive.label([f"v{j}" for j in parents], params)

    def _check_node(self, node, role: str) -> int:
        if isinstance(node, (bool, np.bool_)) or not isinstance(node, (int, np.integer)):
            raise GraphError(f"{role} must be a node index (an int); got {node!r}")
        if not 0 <= node < len(self):
            raise GraphError(f"{role} v{node} does not exist (nodes are v0..v{len(self) - 1})")
        return int(node)

    def _append(self, op: str, shape, params: dict, parents: Sequence[int], name) -> int:
        kind = self._nodes.kind(self._op_code(op), self._shape_code(shape),
                                self._param_code(params), len(parents))
        node = self._nodes.append(kind, parents)
        if name is not None:
            self._names[node] = str(name)
        return node

    # ----------------------------------------------------------------- adding nodes

    def input(self, shape: Sequence[int] = (), name: str | None = None) -> int:
        """Add an input node of the given shape; inputs must come before every other node."""
        if self._n_inputs != len(self):
            raise GraphError("inputs must come first: add every input before other nodes")
        self._n_inputs += 1
        return self._append("input", shape, {"shape": tuple(shape)}, (), name)

    def const(self, value, name: str | None = None) -> int:
        """Add a constant node ``v_i = value`` (a finite number or array of numbers)."""
        try:
            value = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise GraphError(f"const: expected a number or an array of numbers, got "
                             f"{type(value).__name__} {value!r}") from None
        if not all_finite(value):
            raise NonFiniteError(f"const v{len(self)}: the value contains NaN or infinity")
        value.flags.writeable = False
        return self._append("const", value.shape, {"value": value}, (), name)

    def add(self, primitive: str, *parents: int, name: str | None = None, **params) -> int:
        """Add the node ``p(v_parents...)`` and return its index.

        Raises `UnknownPrimitiveError` for an unknown name, `GraphError` for a missing parent,
        wrong arity or unknown or missing parameters, and `ShapeError` when the operand shapes
        do not fit the primitive.
        """
        rule = self._rule(primitive, params)
        parents = tuple(self._check_node(p, f"parent {k} of {primitive}")
                        for k, p in enumerate(parents))
        self._check_arity(primitive, rule.arity, len(parents))
        shape = self._infer_shape(primitive, rule, parents, params)
        return self._append(primitive, shape, params, parents, name)

    def add_recorded(self, primitive: str, parents: list[int], params: dict):
        """`add` for tracing: parents are known nodes; returns the node and its primitive.

        The checks and the shape rule run once per combination of primitive, parameters and
        operand shapes; later nodes of the same kind reuse the result.
        """
        try:
            shape_id = self._nodes.shape_id
            key = (primitive, tuple([shape_id(p) for p in parents]),
                   tuple(params.items()) if params else ())
            known = self._recorded.get(key)
        except TypeError:  # unhashable parameters (index arrays): no reuse
            key = known = None
        if known is None:
            node = self.add(primitive, *parents, **params)
            known = (self._nodes.kinds[node - self._nodes.tail_start], lookup(primitive))
            if key is not None:
                self._recorded[key] = known
            return node, known[1]
        return self._nodes.append(known[0], parents), known[1]

    def _rule(self, primitive: str, params: dict):
        """The registered rule of an operation node, with its parameters checked by name."""
        rule = lookup(primitive)
        if primitive in ("input", "const"):
            article = "an" if primitive == "input" else "a"
            raise GraphError(f"use GraphBuilder.{primitive}() to add {article} {primitive} node")
        problem = rule.params_problem(params)
        if problem:
            raise GraphError(f"primitive {primitive!r} {problem}")
        return rule

    def _check_arity(self, primitive, arity, count):
        if (arity is None and count < 1) or (arity is not None and count != arity):
            want = "at least 1" if arity is None else str(arity)
            raise GraphError(f"primitive {primitive!r} takes {want} operand(s), got {count}")

    def _infer_shape(self, primitive, rule, parents, params):
        shapes = [self.shape(p) for p in parents]
        pending = [p for p in parents if p in self._undefined]
        try:
            return tuple(rule.shape(*shapes, **params))
        except ShapeError as exc:
            raise ShapeError(f"{primitive} of " + ", ".join(f"v{p} (shape {s})" for p, s in
                                                         zip(parents, shapes))
                             + f": {exc}" + (f" (v{pending[0]} is declared, not yet defined)"
                                             if pending else "")) from None
        except TypeError as exc:
            raise GraphError(f"{primitive}: bad parameters {params}: {exc}") from None

    def add_many(self, primitive: str, parents, **params) -> np.ndarray:
        """Add ``k`` nodes of one primitive at once; returns their indices.

        Parameters
        ----------
        primitive : str
            A registered primitive name.
        parents : array_like of int, shape (k, arity)
            Row r lists the parents of the r-th new node. Entries may refer to nodes added
            earlier in the same call: a negative entry ``-m`` names the node ``m`` places before
            the new node (in row 0, ``-1`` is the last node added before the call), so chains
            need no loop either. A 1-D array is one parent per row.
        **params
            Static parameters shared by all new nodes.

        Examples
        --------
        >>> import numpy as np, lagrange_ad as la
        >>> b = la.GraphBuilder()
        >>> x = b.input()
        >>> nodes = b.add_many("sin", np.r_[x, -np.ones(999, int)][:, None])
        >>> len(b.build())
        1001
        """
        rule = self._rule(primitive, params)
        rows = np.asarray(parents)
        if rows.size and rows.dtype.kind not in "iu":
            raise GraphError(f"add_many: parents must be an integer array of node indices; got "
                             f"dtype {rows.dtype}")
        if rows.ndim == 1:
            rows = rows[:, None]
        if rows.ndim != 2:
            raise GraphError(f"add_many: parents must be a (k, arity) array; got shape "
                             f"{rows.shape}")
        self._check_arity(primitive, rule.arity, rows.shape[1])
        k = rows.shape[0]
        first = len(self)
        if k == 0:
            return np.zeros(0, np.int64)
        new = np.arange(first, first + k, dtype=np.int64)
        # the table keeps this copy; relative entries -m become new - m in place
        rows = np.array(rows, dtype=np.int64, order="C")
        np.add(rows, new[:, None], out=rows, where=rows < 0)
        # a parent must satisfy 0 <= p < new; as unsigned numbers negatives are huge, so one
        # comparison tests both ends
        bad = rows.view(np.uint64) >= new.view(np.uint64)[:, None]
        if bad.any():
            r = int(np.flatnonzero(bad.any(axis=1))[0])
            raise GraphError(f"add_many: row {r} names parents {rows[r].tolist()}, which are not "
                             f"earlier nodes (the row becomes node v{first + r})")
        shape = self._batch_shape(primitive, rule, rows, params, first)
        op, shape_code, param_code = (self._op_code(primitive), self._shape_code(shape),
                                      self._param_code(params))
        self._nodes.extend(op, shape_code, param_code, rows)
        return new

    def _batch_shape(self, primitive, rule, rows, params, first):
        """The one output shape of a batch; every distinct operand-shape row is checked once.

        Row 0 only names earlier nodes, so it fixes the batch's shape; rows that name new nodes
        of the batch are then checked with that shape standing in for them.
        """
        known = self._nodes.shape_ids()
        first_shapes = [self._shapes[known[p]] for p in rows[0]]
        result = self._checked_shape(primitive, rule, first_shapes, params)
        if len(self._shapes) == 1 and self._shapes[0] == result:
            # every node, old or new, has this one shape: each row is row 0 over again
            return result
        # row 0 names earlier nodes, so there is at least one
        earlier = known[np.minimum(rows, first - 1)]
        codes = np.where(rows >= first, self._shape_code(result), earlier)
        if codes.min() == codes.max():
            return result  # one shape throughout: row 0 was the only combination
        for combo in distinct_rows(*codes.T):
            out = self._checked_shape(primitive, rule, [self._shapes[c] for c in combo], params)
            if out != result:
                raise ShapeError(f"add_many {primitive}: rows give different output shapes "
                                 f"{result} and {out}; split the batch by shape")
        return result

    def _checked_shape(self, primitive, rule, shapes, params):
        try:
            return tuple(rule.shape(*shapes, **params))
        except ShapeError as exc:
            raise ShapeError(f"add_many {primitive} of shapes {shapes}: {exc}") from None

    def declare(self, shape: Sequence[int] = (), name: str | None = None,
                initial=None) -> int:
        """Reserve a node whose definition comes later with `define` (for cycles).

        ``initial`` is where the fixed-point iteration starts for this node (zeros by default).
        """
        shape = tuple(int(n) for n in shape)
        node = self._append("const", shape, {"value": np.zeros(shape)}, (), name)
        self._undefined[node] = shape
        if initial is not None:
            start = np.array(initial, dtype=np.float64)
            if start.shape != shape:
                raise ShapeError(f"declare: initial value of shape {start.shape} for a node of "
                                 f"shape {shape}")
            self._initial[node] = start
        return node

    def define(self, node: int, primitive: str, *parents: int, **params) -> int:
        """Give a declared node its primitive and parents; parents may include the node itself."""
        if node not in self._undefined:
            raise GraphError(f"v{node} was not declared (or is already defined)")
        rule = self._rule(primitive, params)
        parents = tuple(self._check_node(p, f"parent {k} of {primitive}")
                        for k, p in enumerate(parents))
        self._check_arity(primitive, rule.arity, len(parents))
        shape = self._infer_shape(primitive, rule, parents, params)
        if shape != self._undefined[node]:
            raise ShapeError(f"v{node} was declared with shape {self._undefined[node]} but "
                             f"{primitive} gives shape {shape}")
        self._redefine(node, primitive, params, parents)
        del self._undefined[node]
        return node

    def define_as_last(self, node: int) -> int:
        """Define a declared node as a copy of the node added last, and remove that node.

        Used to close a cycle: the last node computes the declared node's new value.
        """
        last = len(self) - 1
        if last == node or self._undefined.get(node) is None:
            raise GraphError(f"v{node} is not a declared node distinct from the last node")
        op, param_id, parents = self._nodes.pop()
        primitive, params = self._op_names[op], self._params[param_id]
        self._names.pop(last, None)
        self._scopes.pop(last, None)
        return self.define(node, primitive, *parents, **params)

    def _redefine(self, node, primitive, params, parents):
        self._nodes.rewrite(node, self._op_code(primitive), self._param_code(params), parents)

    # ----------------------------------------------------------------- freezing

    def build(self, output: int | None = None, point=None) -> Graph:
        """Freeze the nodes into a `Graph` whose output is ``output`` (default: the last node)."""
        if self._undefined:
            missing = ", ".join(f"v{i}" for i in self._undefined)
            raise GraphError(f"declared nodes were never defined: {missing}")
        if not len(self):
            raise GraphError("the graph has no nodes")
        output = len(self) - 1 if output is None else self._check_node(output, "output")
        op, shape_id, param_id, parent_ptr, parent_idx = self._nodes.arrays()
        node_scopes = scopes.expand(self._scope_marks, len(self))
        node_scopes.update(self._scopes)
        return Graph(
            op_names=tuple(self._op_names),
            op=op,
            parent_ptr=parent_ptr,
            parent_idx=parent_idx,
            shape_table=tuple(self._shapes),
            shape_id=shape_id,
            param_table=tuple(self._params),
            param_id=param_id,
            n_inputs=self._n_inputs,
            output=output,
            names=self._names,
            point=point,
            initial=self._initial,
            scopes=node_scopes,
            trusted=True,
        )
