"""The primitive registry: one `Primitive` record per hyperedge label.

A primitive p maps its operands ``xs = (x_1, ..., x_k)`` to ``ans = p(xs)``. Its local
derivatives enter the KKT system through the blocks ``J[i, j] = d p_i / d v_j``. Every rule
in the table uses the same argument names:

``g``
    the incoming cotangent, shaped like ``ans`` (a multiplier block ``lam_i``);
``ts``
    the operand tangents, one per operand (``None`` stands for a zero tangent);
``ans``
    the primitive's output at the point;
``xs``
    the operands, passed positionally;
``**params``
    static parameters (an exponent, an axis, an index), never differentiated.

Rules:

``evaluate(*xs, **params) -> ans``
``vjp(g, ans, *xs, **params) -> tuple``        ``(g^T d ans/d x_k  for each k)``
``jvp(ts, ans, *xs, **params) -> ndarray``     ``sum_k  d ans/d x_k  t_k``
``jacobian(ans, *xs, **params) -> tuple``      one `Block` of explicit entries per operand
``shape(*shapes, **params) -> tuple``          the output shape, or `ShapeError`
``domain(*xs, **params) -> str | None``        a description of a point outside the domain
``multiply_adds(ans_shape, *shapes, **params) -> int``  nonzeros of the local Jacobian (all
                                               operands): the multiply-adds of one VJP or JVP
``vjp_operand(k, g, ans, *xs, **params)``     the k-th entry of ``vjp`` alone (optional)
``jacobian_operand(k, ans, *xs, **params)``   the k-th entry of ``jacobian`` alone (optional;
                                               see below)
``curvature(g, ts, ans, *xs, **params) -> tuple``   the second-order part of the VJP of the
                                               JVP (optional; see below)

The curvature rule gives, for each operand k, the contraction of the cotangent with the
second derivatives of p along the tangents of all operands,

    curvature_k = sum_j  g . d^2 p / (d x_k d x_j) [t_j],

the derivative of ``vjp_k(g, p(xs), xs)`` along ``xs + h ts`` with g held fixed. An entry may
be None for zero. With g = lam_i, the multiplier of node i, these are the products of the
block ``lam_i Hess(p_i)`` of the Hessian of the Lagrangian with the parents' tangents. Linear
rows (moves of entries, sums, piecewise linear rows away from their kinks) have none
(`structure.linear_curvature`); multilinear rows (mul, matmul, dot, einsum) have the cross
terms only: ``curvature_k = sum_{j != k} vjp_k`` with operand j replaced by ``t_j``
(`structure.multilinear_curvature`); elementwise rows are diagonal, built from their second
partials (`structure.elementwise`). A row without the rule has ``curvature=None``, and
second-order functions refuse it with `NoCurvatureRuleError`.

Explicit blocks of some operands only: a caller that needs ``d ans / d x_k`` for a few
operands (the columns of one cyclic block, not those of a constant factor) calls
`Primitive.explicit_jacobian` with one ``wanted`` flag per operand, as ``vjp_operand`` serves
a sweep that needs some cotangents. A row with a ``jacobian_operand`` rule then builds the
wanted blocks alone; the others come back None. That rule may return, instead of a `Block`,
the dense ``(ans.size, x_k.size)`` matrix itself when every entry of the block is in its
pattern (``d (A @ h) / d h = A``): read-only, possibly a view of an operand, never written.
`as_entries` turns either form into a `Block`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import numpy as np

from ..errors import NoCurvatureRuleError, UnknownPrimitiveError


class Block(NamedTuple):
    """Explicit entries ``d ans[rows] / d x[cols] = vals`` of one local Jacobian block.

    Rows index ``ans`` and columns index the operand, both flattened in C order.
    """

    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray


@dataclass(frozen=True)
class Primitive:
    """A hyperedge label with its evaluation and local derivative rules.

    Parameters
    ----------
    name : str
        The registry key and the label printed in graphs.
    arity : int or None
        The number of operands; ``None`` for variadic primitives (at least one operand).
    evaluate, vjp, jvp, shape : callable
        The rules described in the module docstring.
    jacobian : callable, optional
        Explicit sparse entries of the local Jacobian; when absent they are assembled from the
        VJP rule one output entry at a time.
    domain : callable, optional
        Returns a message when the operands lie outside the primitive's domain.
    template : str, optional
        How a node prints, with ``{0}``, ``{1}``, ... for operands and parameter names in braces.
    param_names : tuple of str
        Every static parameter the primitive takes (the builder refuses others); they are
        shown when the node prints, unless ``template`` says how it prints.
    multiply_adds : callable, optional
        The number of nonzero local partials (the multiply-adds of one VJP or JVP); dense
        when absent.
    partials : callable, optional
        For elementwise primitives, ``partials(ans, *xs, **params)``: the entrywise
        derivatives ``d ans / d x_k``. It lets the local partials of many scalar nodes of one
        primitive be computed in a single vectorized call.
    vjp_operand : callable, optional
        ``vjp_operand(k, g, ans, *xs, **params)``: the cotangent of operand k alone, for
        primitives whose cotangents cost separately (products), so that a sweep needing only
        some of them skips the rest.
    jacobian_operand : callable, optional
        ``jacobian_operand(k, ans, *xs, **params)``: block k of ``jacobian`` alone, as a
        `Block` or as a dense read-only matrix (see the module docstring), for primitives
        whose blocks cost separately (products), so that `explicit_jacobian` asked for some
        operands skips the rest.
    vjp_reads : tuple of str
        Which values the VJP rule reads: ``"ans"``, ``"operands"``, both (the default) or
        neither. Of the others it uses the shapes alone, so a gradient-only sweep need not
        keep them (``d tanh = 1 - ans^2`` reads ans; ``add`` reads nothing).
    curvature : callable, optional
        ``curvature(g, ts, ans, *xs, **params)``: the second-order rule of the module
        docstring; None where the row has none yet.
    compiled : bool
        Whether the compiled scalar loop may call the ``evaluate`` and ``partials`` rules of an
        elementwise primitive: numpy code is understood there, scipy's special functions are
        not (their scalar graphs run in the checked Python loop).
    multilinear : bool
        Whether the row is linear in each operand separately, a sum of products of operand
        entries with positive coefficients (mul, matmul, dot, einsum): its second derivatives
        pair different operands only, and its explicit Jacobian at operands of ones has every
        entry that can be nonzero (read by `lagrange_ad.program.hessian_pattern`).
    """

    name: str
    arity: int | None
    evaluate: Callable[..., np.ndarray]
    vjp: Callable[..., tuple]
    jvp: Callable[..., np.ndarray]
    shape: Callable[..., tuple]
    jacobian: Callable[..., tuple] | None = None
    domain: Callable[..., str | None] | None = None
    template: str | None = None
    param_names: tuple[str, ...] = field(default=())
    multiply_adds: Callable[..., int] | None = None
    partials: Callable[..., tuple] | None = None
    vjp_operand: Callable[..., np.ndarray] | None = None
    jacobian_operand: Callable[..., object] | None = None
    vjp_reads: tuple[str, ...] = ("ans", "operands")
    compiled: bool = True
    curvature: Callable[..., tuple] | None = None
    multilinear: bool = False

    @cached_property
    def required_params(self) -> tuple[str, ...]:
        """The parameters without a default (pow's exponent); ufuncs take no parameters."""
        if not inspect.isfunction(self.evaluate):
            return ()
        return tuple(p.name for p in inspect.signature(self.evaluate).parameters.values()
                     if p.name in self.param_names and p.default is p.empty)

    def params_problem(self, params: Mapping) -> str | None:
        """Why ``params`` do not fit this primitive (an unknown or a missing name), or None."""
        unknown = [key for key in params if key not in self.param_names]
        if unknown:
            return (f"has no parameter {unknown[0]!r}; its parameters are: "
                    f"{', '.join(self.param_names) or 'none'}")
        missing = [name for name in self.required_params if name not in params]
        if missing:
            return f"needs the parameter {missing[0]!r}"
        return None

    def node_multiply_adds(self, ans_shape: tuple, *shapes: tuple, **params) -> int:
        """Multiply-adds of one application of the VJP or JVP rule (nonzeros of the block)."""
        if self.multiply_adds is not None:
            return int(self.multiply_adds(ans_shape, *shapes, **params))
        return _size(ans_shape) * sum(_size(s) for s in shapes)

    def explicit_jacobian(self, ans, xs, params: Mapping, wanted=None) -> tuple:
        """The explicit blocks ``d ans / d x_k``, one per operand, of the wanted operands.

        ``wanted`` holds one flag per operand (all operands when None); an operand not wanted
        gets None. Each block is a `Block` of entries or, from a ``jacobian_operand`` rule, a
        dense read-only matrix (`as_entries` gives its entries). Rows without a ``jacobian``
        rule assemble the blocks from the VJP rule, one output entry at a time.
        """
        wanted = [True] * len(xs) if wanted is None else list(wanted)
        if self.jacobian_operand is not None:
            return tuple(self.jacobian_operand(k, ans, *xs, **params) if w else None
                         for k, w in enumerate(wanted))
        if self.jacobian is not None:
            blocks = self.jacobian(ans, *xs, **params)
        else:
            from .structure import dense_jacobian  # structure builds on this module
            blocks = dense_jacobian(self, ans, xs, params)
        return tuple(block if w else None for block, w in zip(blocks, wanted))

    def node_curvature(self, g, ts, ans, *xs, **params) -> tuple:
        """The curvature rule's contraction, or `NoCurvatureRuleError` naming this primitive."""
        if self.curvature is None:
            raise NoCurvatureRuleError(
                f"primitive {self.name!r} has no curvature rule, so second derivatives "
                f"through it are not available; first derivatives (la.grad) still are")
        return self.curvature(g, ts, ans, *xs, **params)

    def label(self, operands: list[str], params: dict) -> str:
        """The right-hand side of ``v5 = sin(v4)`` for this primitive."""
        if self.template is not None:
            return self.template.format(*operands, **params)
        shown = [f"{key}={params[key]!r}" for key in self.param_names if key in params]
        return f"{self.name}({', '.join(list(operands) + shown)})"


def as_entries(block) -> Block:
    """The explicit entries of a block: a `Block` as it is, a dense matrix all its entries."""
    if isinstance(block, Block):
        return block
    matrix = np.asarray(block, np.float64)
    rows, cols = np.indices(matrix.shape)
    return Block(rows.ravel(), cols.ravel(), matrix.ravel())


def _size(shape: tuple) -> int:
    return int(np.prod(shape, dtype=np.int64))


PRIMITIVES: dict[str, Primitive] = {}


def register(primitive: Primitive) -> Primitive:
    """Add a primitive to the registry; a name may be registered once."""
    known = PRIMITIVES.get(primitive.name)
    # a module imported twice (doctest collection) registers the same rule again
    if known is not None and getattr(known.evaluate, "__qualname__", None) != \
            getattr(primitive.evaluate, "__qualname__", None):
        raise ValueError(f"primitive {primitive.name!r} is already registered")
    PRIMITIVES[primitive.name] = primitive
    return primitive


def lookup(name: str) -> Primitive:
    """The registered primitive called `name`, or `UnknownPrimitiveError` listing the valid ones."""
    try:
        return PRIMITIVES[name]
    except KeyError:
        known = ", ".join(sorted(PRIMITIVES))
        raise UnknownPrimitiveError(
            f"unknown primitive {name!r}; registered primitives are: {known}"
        ) from None
