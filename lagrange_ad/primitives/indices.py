"""Indices that depend on values, and the entries they pick: argmax, argmin, argsort, take.

``argmax(x, axis)`` is the position of the (first) largest entry, as float64; ``argmin`` and
``argsort`` likewise. They are constant between the points where the order of entries
changes, so their derivative is zero (`structure.piecewise_constant`); as nodes of the graph
they are recomputed when the graph is replayed at another point.

``take(x, i, axis)`` and ``take_along(x, i, axis)`` are numpy's ``take`` and
``take_along_axis`` with the index array ``i`` a node (its values integers). They are linear
in ``x``: the derivative copies the picked entries, and its transpose scatter-adds the
cotangent back (entries picked twice receive both); the derivative in ``i`` is zero.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .registry import Block, Primitive, register
from .structure import linear_curvature, piecewise_constant, single_axis, size_of


def _reduced_shape(x_shape, axis=None) -> tuple:
    if size_of(x_shape) == 0:
        raise ShapeError("the index of an extreme entry of an empty array is undefined")
    if axis is None:
        return ()
    axis = single_axis(axis, len(x_shape), "argmax")
    return tuple(x_shape[:axis]) + tuple(x_shape[axis + 1:])


def _same_shape(x_shape, axis=-1) -> tuple:
    single_axis(axis, len(x_shape), "argsort")
    return tuple(x_shape)


piecewise_constant("argmax", lambda x, axis=None: np.argmax(x, axis=axis).astype(np.float64),
                   shape=_reduced_shape, param_names=("axis",), compiled=False)
piecewise_constant("argmin", lambda x, axis=None: np.argmin(x, axis=axis).astype(np.float64),
                   shape=_reduced_shape, param_names=("axis",), compiled=False)
piecewise_constant("argsort", lambda x, axis=-1: np.argsort(x, axis=axis, kind="stable")
                   .astype(np.float64), shape=_same_shape, param_names=("axis",),
                   compiled=False)

# the rows whose values are indices (integers as float64)
INDEX_ROWS = ("argmax", "argmin", "argsort")


def _as_indices(i) -> np.ndarray:
    return np.rint(i).astype(np.intp)


def _take(x, i, axis=None):
    return np.take(x, _as_indices(i), axis=axis)


def _take_along(x, i, axis=-1):
    return np.take_along_axis(x, _as_indices(i), axis=axis)


def _index_domain(x, i, axis=None):
    """Indices must be integers inside the axis they pick from."""
    i = np.asarray(i)
    if np.any(i != np.round(i)):
        return f"indices must be integers; got {i[i != np.round(i)].ravel()[0]!r}"
    n = np.size(x) if axis is None else np.shape(x)[axis]
    bad = (i < -n) | (i >= n)
    if np.any(bad):
        return f"index {int(i[bad].ravel()[0])} is out of range for an axis of length {n}"
    return None


def _picked_sources(pick, x, i, params) -> np.ndarray:
    """For each output entry (C order) the flat index of the entry of ``x`` it copies."""
    ids = np.arange(np.size(x)).reshape(np.shape(x))
    return np.asarray(pick(ids, i, **params)).ravel()


def _picking(name: str, pick) -> Primitive:
    """Register a row that picks entries of ``x`` at the indices held by a second operand."""

    def vjp(g, ans, x, i, **params):
        out = np.zeros(np.size(x))
        np.add.at(out, _picked_sources(pick, x, i, params), np.ravel(g))
        return (out.reshape(np.shape(x)), np.zeros(np.shape(i)))

    def jvp(ts, ans, x, i, **params):
        t = ts[0]
        return np.zeros(np.shape(ans)) if t is None else pick(t, i, **params)

    def jacobian(ans, x, i, **params):
        sources = _picked_sources(pick, x, i, params)
        empty = np.zeros(0, np.int64)
        return (Block(np.arange(sources.size), sources, np.ones(sources.size)),
                Block(empty, empty, np.zeros(0)))

    def shape(x_shape, i_shape, **params):
        try:
            probe = np.zeros(x_shape, dtype=np.int8)
            return np.shape(pick(probe, np.zeros(i_shape), **params))
        except (ValueError, IndexError, TypeError, np.exceptions.AxisError) as exc:
            raise ShapeError(f"{name} cannot pick from shape {x_shape} with indices of shape "
                             f"{i_shape} and {params}: {exc}") from None

    return register(Primitive(
        name=name, arity=2, evaluate=pick, vjp=vjp, jvp=jvp, shape=shape, jacobian=jacobian,
        domain=_index_domain, param_names=("axis",),
        multiply_adds=lambda ans_shape, *shapes, **params: size_of(ans_shape),
        vjp_reads=("operands",), curvature=linear_curvature,
    ))


_picking("take", _take)
_picking("take_along", _take_along)
