"""Primitives that move entries without arithmetic, and the sources of a graph.

Reshape, transpose, indexing (basic and fancy), concatenate and stack are linear selections:
each output entry is a copy of one operand entry, so their Jacobians hold a single 1 per row and
their VJPs scatter-add the cotangent back. ``input`` and ``const`` have no operands; their
constraints ``v_i = x_i`` and ``v_i = c_i`` give the multipliers of inputs (the gradient) and of
constants.
"""

from __future__ import annotations

import numpy as np

from ..errors import LagrangeADError
from .registry import Primitive, register
from .structure import selection


def _no_operands(**params):
    return ()


def _no_jvp(ts, ans, **params):
    return np.zeros(np.shape(ans))


def _input_evaluate(**params):
    raise LagrangeADError("an input node has no rule: its value is given at the point")


register(Primitive(
    name="input", arity=0, evaluate=_input_evaluate, vjp=lambda g, ans, **params: (),
    jvp=_no_jvp, shape=lambda **params: tuple(params["shape"]),
    jacobian=_no_operands, template="input", param_names=("shape",),
    multiply_adds=lambda *a, **k: 0,
))
register(Primitive(
    name="const", arity=0, evaluate=lambda value: np.asarray(value, dtype=np.float64),
    vjp=lambda g, ans, **params: (), jvp=_no_jvp,
    shape=lambda value: np.shape(value), jacobian=_no_operands, template="const",
    param_names=("value",), multiply_adds=lambda *a, **k: 0,
))


def _reshape_vjp(g, ans, x, shape):
    return (np.reshape(g, np.shape(x)),)


def _transpose_vjp(g, ans, x, axes=None):
    # the inverse permutation, of the axes made non-negative first (argsort of (-1, 0) is wrong)
    inverse = None if axes is None else tuple(np.argsort([a % np.ndim(x) for a in axes]))
    return (np.transpose(g, inverse),)


def _getitem_vjp(g, ans, x, index):
    out = np.zeros(np.shape(x))
    np.add.at(out, index, g)
    return (out,)


def _concatenate(*xs, axis=0):
    return np.concatenate(xs, axis=axis)


def _concatenate_vjp(g, ans, *xs, axis=0):
    cuts = np.cumsum([np.shape(x)[axis] for x in xs])[:-1]
    return tuple(np.split(g, cuts, axis=axis))


def _stack(*xs, axis=0):
    return np.stack(xs, axis=axis)


def _stack_vjp(g, ans, *xs, axis=0):
    return tuple(np.moveaxis(g, axis, 0))


selection("reshape", 1, lambda x, shape: np.reshape(x, shape), _reshape_vjp,
          param_names=("shape",))
selection("transpose", 1, lambda x, axes=None: np.transpose(x, axes), _transpose_vjp,
          param_names=("axes",))
selection("getitem", 1, lambda x, index: np.asarray(x)[index], _getitem_vjp,
          template="{0}[{index}]", param_names=("index",))
selection("concatenate", None, _concatenate, _concatenate_vjp, param_names=("axis",))
selection("stack", None, _stack, _stack_vjp, param_names=("axis",))
