"""Helpers that build a primitive's rules from its structure.

A primitive family says what it is ("elementwise with these partials", "a selection of operand
entries") and these helpers derive the VJP, JVP and explicit Jacobian entries from it, so no
family restates the chain rule.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import ShapeError
from .registry import Block, Primitive, register


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a cotangent over the axes that broadcasting added or stretched to reach ``shape``."""
    g = np.asarray(g)
    if g.shape == tuple(shape):
        return g
    extra = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(extra))) if extra > 0 else g
    stretched = tuple(k for k, n in enumerate(shape) if n == 1 and g.shape[k] != 1)
    return g.sum(axis=stretched, keepdims=True) if stretched else g


def size_of(shape: tuple) -> int:
    """The number of entries of an array of this shape."""
    return int(np.prod(shape, dtype=np.int64))


def broadcast_shape(*shapes: tuple) -> tuple:
    """The broadcast of operand shapes, or `ShapeError` naming them."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(f"operand shapes {', '.join(map(str, shapes))} do not broadcast") from None


def single_axis(axis, ndim: int, name: str) -> int:
    """An axis given as an int, made non-negative; `ShapeError` for other values or ranges."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise ShapeError(f"{name} takes one axis, an int; got {axis!r} (for all entries, "
                         f"flatten the operand first)")
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{name}: axis {axis} is out of range for an operand of {ndim} "
                         f"dimensions")
    return int(axis) % ndim


def first_offender(mask: np.ndarray, x: np.ndarray) -> str:
    """Describe the first entry where ``mask`` holds: its index (for arrays) and value."""
    mask = np.asarray(mask)
    x = np.broadcast_to(np.asarray(x), mask.shape)
    if mask.ndim == 0:
        return f"{float(x)!r}"
    where = tuple(int(k) for k in np.argwhere(mask)[0])
    return f"{float(x[where])!r} at index {where}"


def broadcast_sources(shape: tuple, out_shape: tuple) -> np.ndarray:
    """For each entry of ``out_shape`` (C order) the flat index of the operand entry it reads."""
    size = int(np.prod(shape, dtype=np.int64))
    return np.broadcast_to(np.arange(size).reshape(shape), out_shape).ravel()


def _is_one(d) -> bool:
    return np.ndim(d) == 0 and d == 1.0


def linear_curvature(g, ts, ans, *xs, **params) -> tuple:
    """The curvature rule of a linear row (or a piecewise linear one away from its kinks).

    Every second derivative is zero, so every entry is None (zero).
    """
    return (None,) * len(xs)


def multilinear_curvature(vjp_operand: Callable[..., np.ndarray]) -> Callable[..., tuple]:
    """The curvature rule of a row that is linear in each operand separately (a product).

    For such a row ``d^2 p / d x_k^2 = 0`` and ``d^2 p / (d x_k d x_j) [t_j]`` is p's
    derivative in x_k with operand j replaced by ``t_j``, so

        curvature_k = sum_{j != k}  vjp_k(g, ans, x_1, .., t_j, .., x_m).

    ``vjp_operand(k, g, ans, *xs, **params)`` is the row's per-operand VJP; it must not read
    ``ans``, which is not the product of the replaced operands.
    """

    def curvature(g, ts, ans, *xs, **params):
        out = []
        for k in range(len(xs)):
            total = None
            for j, t in enumerate(ts):
                if j == k or t is None:
                    continue
                swapped = xs[:j] + (t,) + xs[j + 1:]
                term = vjp_operand(k, g, ans, *swapped, **params)
                total = term if total is None else total + term
            out.append(total)
        return tuple(out)

    return curvature


def _elementwise_curvature(second: Callable[..., tuple]) -> Callable[..., tuple]:
    """The curvature rule of an elementwise row from its second partials.

    ``second(ans, *xs)`` gives ``(d11,)`` for one operand and ``(d11, d12, d22)`` for two
    (``dkj = d^2 ans / d x_k d x_j``, broadcasting to ``ans``). Entrywise,
    ``curvature_k = g * sum_j dkj t_j``, summed back over broadcast axes.
    """

    def curvature(g, ts, ans, *xs, **params):
        d = second(ans, *xs, **params)
        hess = [[d[0]]] if len(xs) == 1 else [[d[0], d[1]], [d[1], d[2]]]
        out = []
        for k, x in enumerate(xs):
            total = None
            for j, t in enumerate(ts):
                if t is not None:
                    term = hess[k][j] * t
                    total = term if total is None else total + term
            out.append(None if total is None else unbroadcast(g * total, np.shape(x)))
        return tuple(out)

    return curvature


def elementwise(
    name: str,
    arity: int,
    evaluate: Callable[..., np.ndarray],
    partials: Callable[..., tuple],
    *,
    domain: Callable[..., str | None] | None = None,
    template: str | None = None,
    param_names: tuple[str, ...] = (),
    reads: tuple[str, ...] = ("ans", "operands"),
    compiled: bool = True,
    second: Callable[..., tuple] | None = None,
    linear: bool = False,
    multilinear: bool = False,
) -> Primitive:
    """Register an elementwise primitive (operands broadcast) from its partial derivatives.

    ``partials(ans, *xs, **params)`` returns ``d ans / d x_k`` for every operand as arrays that
    broadcast to ``ans``; ``reads`` says which of ans and the operands it reads and
    ``compiled`` whether the compiled scalar loop may run the rules (see `Primitive`). Then,
    entrywise and summed back over broadcast axes,

        vjp_k = g * d_k,      jvp = sum_k t_k * d_k,      J_k = diag(d_k) (broadcast).

    ``second(ans, *xs, **params)`` gives the second partials, ``(d11,)`` or
    ``(d11, d12, d22)``, from which ``curvature_k = g * sum_j dkj t_j``; ``linear=True``
    declares them all zero (add, sub, neg, piecewise linear rows away from their kinks).
    Without either the row has no curvature rule. ``multilinear=True`` says the row is
    linear in each operand separately (mul; see `Primitive`).
    """

    def vjp(g, ans, *xs, **params):
        ds = partials(ans, *xs, **params)
        # a unit partial (add, sub) passes g on as it is: callers never write into cotangents
        return tuple(unbroadcast(g if _is_one(d) else g * d, np.shape(x)) for d, x in zip(ds, xs))

    def jvp(ts, ans, *xs, **params):
        ds = partials(ans, *xs, **params)
        out = np.zeros(np.shape(ans))
        for t, d in zip(ts, ds):
            if t is not None:
                out = out + t * d
        return out

    def jacobian(ans, *xs, **params):
        ds = partials(ans, *xs, **params)
        out_shape = np.shape(ans)
        rows = np.arange(int(np.prod(out_shape, dtype=np.int64)))
        return tuple(
            Block(rows, broadcast_sources(np.shape(x), out_shape),
                  np.broadcast_to(np.asarray(d, dtype=np.float64), out_shape).ravel())
            for d, x in zip(ds, xs)
        )

    def shape(*shapes, **params):
        return broadcast_shape(*shapes)

    return register(Primitive(
        name=name, arity=arity, evaluate=evaluate, vjp=vjp, jvp=jvp, shape=shape,
        jacobian=jacobian, domain=domain, template=template, param_names=param_names,
        multiply_adds=lambda ans_shape, *shapes, **params: size_of(ans_shape) * len(shapes),
        partials=partials, vjp_reads=reads, compiled=compiled,
        curvature=linear_curvature if linear else
        None if second is None else _elementwise_curvature(second),
        multilinear=multilinear,
    ))


ZERO = np.float64(0.0)
# entrywise partials of a piecewise constant row, by arity (plain functions: the compiled
# scalar loop calls them)
_ZERO_PARTIALS = {1: lambda ans, x: (ZERO,), 2: lambda ans, x, y: (ZERO, ZERO)}


def piecewise_constant(
    name: str,
    evaluate: Callable[..., np.ndarray],
    *,
    arity: int = 1,
    shape: Callable[..., tuple] | None = None,
    param_names: tuple[str, ...] = (),
    template: str | None = None,
    compiled: bool = True,
    domain: Callable[..., str | None] | None = None,
) -> Primitive:
    """Register a primitive that is constant between its jumps.

    Rounding and sign functions, comparisons (1.0 where ``x > y``, else 0.0) and the index of
    a maximum are locally constant except on a set of measure zero, where they jump. Their
    derivative is taken as zero everywhere, jumps included (the convention of autograd and
    JAX): ``vjp = 0``, ``jvp = 0``, no nonzero Jacobian entries. Without a ``shape`` rule the
    primitive is elementwise (operands broadcast) and has entrywise partials 0; a row whose
    output has another shape (an index along an axis) gives its own ``shape(*shapes,
    **params)``.
    """

    def vjp(g, ans, *xs, **params):
        return tuple(np.zeros(np.shape(x)) for x in xs)

    def jvp(ts, ans, *xs, **params):
        return np.zeros(np.shape(ans))

    def jacobian(ans, *xs, **params):
        empty = np.zeros(0, np.int64)
        return tuple(Block(empty, empty, np.zeros(0)) for _ in xs)

    def broadcast(*shapes, **params):
        return broadcast_shape(*shapes)

    return register(Primitive(
        name=name, arity=arity, evaluate=evaluate, vjp=vjp, jvp=jvp,
        shape=broadcast if shape is None else shape, jacobian=jacobian,
        multiply_adds=lambda ans_shape, *shapes, **params: 0,
        partials=_ZERO_PARTIALS.get(arity) if shape is None else None,
        vjp_reads=(), curvature=linear_curvature, param_names=param_names,
        template=template, compiled=compiled, domain=domain,
    ))


def selection(
    name: str,
    arity: int | None,
    evaluate: Callable[..., np.ndarray],
    vjp: Callable[..., tuple],
    *,
    template: str | None = None,
    param_names: tuple[str, ...] = (),
    multiply_adds: Callable[..., int] | None = None,
) -> Primitive:
    """Register a linear primitive whose output entries are copies of operand entries or zeros.

    Reshape, transpose, indexing, concatenation and stacking only move entries; zero padding
    also writes zeros. Applying the primitive to arrays of global entry numbers (counted from
    1, so that a written zero copies nothing) tells which operand entry each output entry
    copies, which gives the explicit Jacobian (one 1 per copied entry) and the JVP
    (the same gather applied to the tangents). The VJP is passed in because numpy has a direct
    form for each (the transpose of a gather is a scatter-add). ``multiply_adds`` counts the
    copied entries; it defaults to every output entry.
    """

    def numbered(xs):
        starts = np.cumsum([1] + [np.size(x) for x in xs])
        ids = [np.arange(a, b).reshape(np.shape(x)) for a, b, x in zip(starts, starts[1:], xs)]
        return ids, starts

    def jvp(ts, ans, *xs, **params):
        filled = [np.zeros(np.shape(x)) if t is None else t for t, x in zip(ts, xs)]
        return evaluate(*filled, **params)

    def jacobian(ans, *xs, **params):
        ids, starts = numbered(xs)
        source = np.asarray(evaluate(*ids, **params)).ravel()
        blocks = []
        for k in range(len(xs)):
            rows = np.flatnonzero((source >= starts[k]) & (source < starts[k + 1]))
            blocks.append(Block(rows, source[rows] - starts[k], np.ones(rows.size)))
        return tuple(blocks)

    def shape(*shapes, **params):
        try:
            probes = [np.broadcast_to(np.empty((), dtype=np.int8), s) for s in shapes]
            return np.shape(evaluate(*probes, **params))
        except (ValueError, IndexError, TypeError) as exc:
            raise ShapeError(
                f"{name} cannot take operands of shapes {', '.join(map(str, shapes))}"
                f" with {params}: {exc}"
            ) from None

    return register(Primitive(
        name=name, arity=arity, evaluate=evaluate, vjp=vjp, jvp=jvp, shape=shape,
        jacobian=jacobian, template=template, param_names=param_names,
        multiply_adds=multiply_adds or (lambda ans_shape, *shapes, **params: size_of(ans_shape)),
        vjp_reads=(),  # moving entries back needs the operands' shapes only
        curvature=linear_curvature,
    ))


def dense_jacobian(primitive: Primitive, ans, xs, params) -> tuple:
    """Explicit Jacobian entries from the VJP rule, one output entry at a time (small blocks)."""
    ans = np.asarray(ans)
    columns = [[] for _ in xs]
    for r in range(ans.size):
        e = np.zeros(ans.size)
        e[r] = 1.0
        for k, ct in enumerate(primitive.vjp(e.reshape(ans.shape), ans, *xs, **params)):
            columns[k].append(np.asarray(ct, dtype=np.float64).ravel())
    blocks = []
    for rows_of_k in columns:
        dense = np.array(rows_of_k).reshape(ans.size, -1)
        r, c = np.nonzero(dense)
        blocks.append(Block(r, c, dense[r, c]))
    return tuple(blocks)
