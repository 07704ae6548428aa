"""The equality-constrained program of a computation graph at a point.

For a graph with inputs ``x`` and output node N the program is

    maximize  v_N   subject to   c_i(v) = v_i - x_i = 0               (inputs)
                                 c_i(v) = v_i - p_i(v_Pa(i)) = 0      (every other node)

with Lagrangian ``L(v, lam) = v_N - sum_i lam_i . c_i(v)``. Its gradient in v is

    grad_v L = e_N - lam + J^T lam = e_N - A^T lam,     J_ij = d p_i / d v_j,   A = I - J,

so the stationarity (KKT) condition is the linear system ``A^T lam = e_N``. All vectors here
are flat over every scalar entry of every node (the layout of `NodeVector`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

from ..errors import GraphError, LagrangeADError, NonFiniteError, NonScalarOutputError
from ..graph.graph import Graph
from ..tracing.tracer import traced_program
from . import analysis
from .assembly import assemble_jacobian, scalar_partials
from .values import Forward, apply_primitive, check_point, forward_values
from .vectors import NodeVector


class Program:
    """The program ``max v_N s.t. v = p(v)`` of a graph at a point, and its KKT system.

    Parameters
    ----------
    graph : Graph
        The computation graph.
    *point : array_like
        One value per input. When omitted, the point recorded by `trace` is used. Values are
        copied, except read-only float64 arrays, which are kept as they are.
    fixed_point : dict, optional
        For graphs with cycles: options of the fixed-point solver of each cyclic component
        (``method`` "picard", "anderson" or "newton", ``tol``, ``maxiter``, ``memory``).

    Attributes
    ----------
    graph : Graph
    point : tuple of ndarray
        The input values.
    values : NodeVector
        The forward values ``v`` (every constraint holds). A program made for one schedule
        (`from_forward`, as `la.grad` does) may lack values that schedule does not read.
    fixed_points : tuple of FixedPointReport
        One report per cyclic component (empty on a DAG).

    Notes
    -----
    The multipliers that make ``grad_v L`` vanish solve ``A^T lam = e_N`` and equal the
    adjoints ``d v_N / d v_i``; those of the input constraints form the gradient.

    Examples
    --------
    >>> import numpy as np, lagrange_ad as la
    >>> graph = la.trace(lambda x, y, z: z + la.sin(x**2 + y * la.exp(z)), 2.0, -1.0, 0.0)
    >>> program = la.Program(graph)
    >>> round(float(program.output_value), 6)
    0.14112
    >>> solution = la.solve(program)
    >>> np.round(solution.gradient, 2)
    array([-3.96, -0.99,  1.99])
    """

    def __init__(self, graph: Graph, *point, fixed_point: dict | None = None):
        if not isinstance(graph, Graph):
            raise GraphError(f"Program needs a Graph (from la.trace or GraphBuilder); got "
                             f"{type(graph).__name__}")
        checked = tuple(check_point(graph, point))
        self._set(graph, checked, forward_values(graph, checked, fixed_point))

    def _set(self, graph: Graph, point: tuple, forward: Forward) -> None:
        self.graph = graph
        self.point = point
        self.values = forward.values
        self.fixed_points = forward.fixed_points
        self._jacobian_of_forward = forward.jacobian

    @classmethod
    def from_forward(cls, graph: Graph, point: tuple, forward: Forward) -> Program:
        """The program of ``graph`` at a checked ``point`` whose forward pass is done.

        ``forward`` comes from `lagrange_ad.program.values.forward_values` at that point.
        """
        program = cls.__new__(cls)
        program._set(graph, tuple(point), forward)
        return program

    @classmethod
    def from_function(cls, f, *args) -> Program:
        """Trace ``f`` at ``args`` and make its program, propagating forward only once.

        Equivalent to ``Program(la.trace(f, *args))``, which evaluates the graph twice.
        """
        graph, forward = traced_program(f, *args)
        return cls.from_forward(graph, graph.point, forward)

    def __repr__(self) -> str:
        return f"Program({self.graph!r}, output value {self.output_value!r})"

    # ----------------------------------------------------------------- the program

    @property
    def output_value(self):
        """The objective ``v_N`` at the point."""
        return self.values[self.graph.output]

    @property
    def is_source(self) -> np.ndarray:
        """Whether each node is an input or a constant (a row of J that is zero)."""
        return self.graph.is_source

    def value(self, i: int) -> np.ndarray:
        """Node i's value, shaped like the node."""
        return self.values[i]

    def operands(self, i: int) -> list[np.ndarray]:
        """The values of node i's parents, in operand order."""
        return [self.values[int(j)] for j in self.graph.parents(i)]

    # the right-hand side of A^T lam = rhs is e_N: a sweep may seed the output's block alone
    seeds_output: bool = True
    # how messages name the residual of this system
    residual_name: str = "||e_N - A^T lam||"

    def rhs(self) -> np.ndarray:
        """``e_N``: the gradient of the objective v_N (requires a scalar output)."""
        e = np.zeros(self.graph.total_size)
        e[self._output_entry] = 1.0
        return e

    @cached_property
    def _output_entry(self) -> int:
        """Where v_N sits in the flat vectors (checked once to be a single entry)."""
        self.require_scalar_output()
        return int(self.graph.offsets[self.graph.output])

    def require_scalar_output(self) -> None:
        """Raise `NonScalarOutputError` unless v_N has exactly one entry."""
        shape = self.graph.shape(self.graph.output)
        if self.graph.sizes[self.graph.output] != 1:
            raise NonScalarOutputError(
                f"the output {self.graph.name(self.graph.output)} has shape {shape}; a gradient "
                f"(one KKT right-hand side e_N) needs a single entry. Reduce it with la.sum or "
                f"la.mean, or use la.jacobian for several outputs")

    def constraint_residuals(self, v=None) -> NodeVector:
        """``c(v)``: ``v_i - x_i`` for inputs and ``v_i - p_i(v_Pa(i))`` for the other nodes."""
        v = self.values if v is None else NodeVector(self.graph, _as_flat(self.graph, v))
        c = np.empty(self.graph.total_size)
        graph, offsets = self.graph, self.graph.offsets
        for i in range(len(graph)):
            if i < graph.n_inputs:
                target = self.point[i]
            else:
                xs = [v[int(j)] for j in graph.parents(i)]
                target = apply_primitive(graph.primitive(i), xs, graph.params(i),
                                         lambda i=i: f"node {graph.describe(i)}")
            c[offsets[i]:offsets[i + 1]] = np.ravel(v[i] - target)
        return NodeVector(graph, c)

    def lagrangian(self, multipliers, v=None) -> float:
        """``L(v, lam) = v_N - sum_i lam_i . c_i(v)`` (at the forward values by default)."""
        self.require_scalar_output()
        lam = _as_flat(self.graph, multipliers)
        values = self.values if v is None else NodeVector(self.graph, _as_flat(self.graph, v))
        c = self.constraint_residuals(values).flat
        return float(np.asarray(values[self.graph.output]).item() - lam @ c)

    def lagrangian_gradient(self, multipliers) -> NodeVector:
        """``grad_v L = e_N - lam + J^T lam`` at the forward values."""
        lam = _as_flat(self.graph, multipliers)
        return NodeVector(self.graph, self.rhs() - lam + self.apply_jacobian_transpose(lam))

    def kkt_residual(self, multipliers) -> float:
        """``||grad_v L||_2 = ||e_N - A^T lam||_2``, zero exactly at the adjoints."""
        return float(np.linalg.norm(self.lagrangian_gradient(multipliers).flat))

    # ----------------------------------------------------------------- local derivatives

    def node_vjp(self, i: int, g: np.ndarray, ans=None, operands=None, wanted=None) -> tuple:
        """``g^T d p_i / d v_j`` for each parent j of node i (in operand order).

        ``ans`` and ``operands`` default to the program's values; a sweep that recomputes
        values (checkpointing) passes its own. ``wanted`` (one flag per operand) lets a
        primitive with a per-operand rule skip cotangents nobody needs; those come back None.
        """
        graph = self.graph
        primitive, params = graph.primitive(i), graph.params(i)
        ans = self.values[i] if ans is None else ans
        operands = self.operands(i) if operands is None else operands
        g = np.reshape(g, graph.shape(i))
        if wanted is not None and primitive.vjp_operand is not None and not all(wanted):
            return tuple(primitive.vjp_operand(k, g, ans, *operands, **params) if w else None
                         for k, w in enumerate(wanted))
        return primitive.vjp(g, ans, *operands, **params)

    def node_jvp(self, i: int, tangents: list) -> np.ndarray:
        """``sum_j d p_i / d v_j t_j`` over node i's parents (``None`` tangents are zero)."""
        graph = self.graph
        return graph.primitive(i).jvp(tuple(tangents), self.values[i], *self.operands(i),
                                      **graph.params(i))

    @cached_property
    def _scalar_groups(self):
        """Partials of the scalar elementwise nodes, grouped by primitive (see assembly)."""
        scalar = analysis.scalar_elementwise(self.graph)
        rest = ~self.is_source
        rest[scalar] = False
        return scalar_partials(self.values, scalar), np.flatnonzero(rest).tolist()

    def apply_jacobian(self, x) -> np.ndarray:
        """``J x``: every node's JVP applied to its parents' blocks of x (no propagation).

        Scalar elementwise nodes apply their partials one primitive at a time, vectorized.
        """
        x = NodeVector(self.graph, _as_flat(self.graph, x))
        out = np.zeros(self.graph.total_size)
        offsets = self.graph.offsets
        groups, rest = self._scalar_groups
        for group in groups:
            rows = offsets[group.nodes]
            for k, d in enumerate(group.partials):
                out[rows] += d * x.flat[offsets[group.parents[:, k]]]
        for i in rest:
            ts = [x[int(j)] for j in self.graph.parents(i)]
            out[offsets[i]:offsets[i + 1]] = np.ravel(self.node_jvp(i, ts))
        return self._finite(out, "J x")

    def apply_jacobian_transpose(self, y) -> np.ndarray:
        """``J^T y``: every node's VJP of its block of y, added into its parents' blocks."""
        y = _as_flat(self.graph, y)
        out = np.zeros(self.graph.total_size)
        offsets = self.graph.offsets
        groups, rest = self._scalar_groups
        for group in groups:
            g = y[offsets[group.nodes]]
            for k, d in enumerate(group.partials):
                out += np.bincount(offsets[group.parents[:, k]], weights=g * d,
                                   minlength=out.size)
        for i in rest:
            g = y[offsets[i]:offsets[i + 1]]
            if g.any():
                self.scatter_vjp(i, g, out)
        return self._finite(out, "J^T y")

    def _finite(self, out: np.ndarray, what: str) -> np.ndarray:
        if not np.all(np.isfinite(out)):
            raise NonFiniteError(self.nonfinite_partial() or
                                 f"{what} is not finite although every local derivative is finite: "
                                 f"the vector or its products overflowed")
        return out

    def nonfinite_partial(self) -> str | None:
        """Which node has a local derivative that is NaN or infinite (None when all are finite)."""
        if not self.values.complete:
            # the search reads every value: evaluate them all again (a rare, failing path)
            return Program(self.graph, *self.point).nonfinite_partial()
        graph = self.graph
        order = graph.topological_order().tolist() if graph.is_acyclic else range(len(graph))
        for i in order:
            if self.is_source[i]:
                continue
            with np.errstate(all="ignore"):
                cts = self.node_vjp(i, np.ones(graph.shape(i)))
            for j, ct in zip(graph.parents(i).tolist(), cts):
                if not np.all(np.isfinite(ct)):
                    return (f"node {graph.describe(i)}: the local derivative of "
                            f"{graph.primitive(i).name} with respect to v{j} is not finite at "
                            f"v{j} = {self.values[j]!r}, so the gradient does not exist there")
        return None

    def scatter_vjp(self, i: int, g: np.ndarray, out: np.ndarray, ans=None,
                    operands=None) -> None:
        """``out[Pa(i)] += g^T d p_i / d v_Pa(i)``: one block step of every multiplier sweep."""
        offsets = self.graph.offsets
        for j, ct in zip(self.graph.parents(i).tolist(), self.node_vjp(i, g, ans, operands)):
            out[offsets[j]:offsets[j + 1]] += np.ravel(ct)

    @property
    def depends_on_input(self) -> np.ndarray:
        """Whether each node is an input or depends on one (`analysis.depends_on_input`)."""
        return analysis.depends_on_input(self.graph)

    @cached_property
    def total_multiply_adds(self) -> int:
        """The number of local partials over all nodes (nonzeros of J; one product with J)."""
        return int(self.multiply_adds.sum())

    @property
    def multiply_adds(self) -> np.ndarray:
        """Per node, the number of local partials its VJP or JVP applies (nonzeros of J_i,Pa(i))."""
        return analysis.multiply_adds(self.graph)

    def local_jacobian(self, max_entries: int = 50_000_000) -> sp.csr_array:
        """J as a sparse matrix over all scalar entries (rows: nodes' outputs, columns: operands).

        Raises `LagrangeADError` when it would hold more than ``max_entries`` nonzeros, and
        `NonFiniteError` naming the node whose local derivative is infinite or NaN.
        """
        return self._jacobian_cached(max_entries)

    def _jacobian_cached(self, max_entries):
        cached = self.__dict__.get("_jacobian")
        if cached is not None:
            return cached
        if self._jacobian_of_forward is not None:
            jac = self._jacobian_of_forward()  # from the partials the forward pass computed
            entries = jac.nnz
        else:
            jac, entries = None, self.total_multiply_adds  # counted before assembling
        if entries > max_entries:
            raise LagrangeADError(
                f"the local Jacobian has about {entries} nonzeros, more than "
                f"max_entries={max_entries}; use the matrix-free kkt_operator() instead")
        if jac is None:
            jac = assemble_jacobian(self.values)
        self.__dict__["_jacobian"] = jac
        return jac

    def kkt_matrix(self) -> sp.csr_array:
        """``A = I - J`` as a sparse matrix."""
        jac = self.local_jacobian()
        return (sp.eye_array(jac.shape[0], format="csr") - jac).tocsr()

    def kkt_operator(self) -> LinearOperator:
        """``A = I - J`` as a matrix-free `scipy.sparse.linalg.LinearOperator`.

        ``matvec(x) = x - J x`` applies every node's JVP rule, ``rmatvec(y) = y - J^T y`` every
        VJP rule, so ``A^T lam = e_N`` can be handed to any scipy solver.
        """
        n = self.graph.total_size
        return LinearOperator(
            (n, n), dtype=np.float64,
            matvec=lambda x: np.ravel(x) - self.apply_jacobian(np.ravel(x)),
            rmatvec=lambda y: np.ravel(y) - self.apply_jacobian_transpose(np.ravel(y)),
        )

    def lagrangian_hessian(self, multipliers, sparse: bool = False):
        """``W = sum_i lam_i Hess(p_i)``, the Hessian of the Lagrangian in v at ``multipliers``.

        A `LinearOperator`; with ``sparse=True`` a scipy.sparse matrix, for programs within
        the limits of `second_order.lagrangian_hessian_matrix`.
        """
        from . import second_order  # which imports this module

        if sparse:
            return second_order.lagrangian_hessian_matrix(self, multipliers)
        return second_order.lagrangian_hessian(self, multipliers)


def _as_flat(graph: Graph, vector) -> np.ndarray:
    """A flat vector over all entries from a NodeVector, a Solution, an array or a mapping."""
    vector = getattr(vector, "multipliers", vector)
    if isinstance(vector, NodeVector):
        return vector.flat
    if isinstance(vector, Mapping):
        flat = np.zeros(graph.total_size)
        for i, block in vector.items():
            flat[graph.offsets[i]:graph.offsets[i + 1]] = np.ravel(block)
        return flat
    flat = np.asarray(vector, dtype=np.float64)
    if flat.shape != (graph.total_size,):
        raise GraphError(f"expected a flat vector of {graph.total_size} entries (one per scalar "
                         f"entry of every node); got shape {flat.shape}")
    return flat
