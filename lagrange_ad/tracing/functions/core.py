"""What every ``la.`` function shares: `call` (record or evaluate) and argument checks.

``call(name, *operands, **params)`` records a node of primitive ``name`` when an operand is
traced; otherwise it evaluates the primitive on plain arrays with the same shape, domain and
finiteness checks, so ``la.log(-1.0)`` raises `DomainError` rather than returning NaN.
Operands that are lists, tuples or object arrays holding traced values are first stacked into
one traced array (`lift`), as ``np.array`` would stack numbers.
"""

from __future__ import annotations

import numpy as np

from ...errors import ControlFlowError, ShapeError, TracingError
from ...primitives import lookup
from ...primitives.comparisons import MASK_ROWS
from ...primitives.indices import INDEX_ROWS
from ...primitives.reductions import normalize_axes
from ...program.values import apply_primitive
from ..tape import Traced, finite_array, holds_traced, record


def call(name: str, *operands, **params):
    """Apply primitive ``name``: a traced node if any operand is traced, else its value."""
    operands = tuple(lift(x) for x in operands)
    for x in operands:
        if isinstance(x, Traced):
            return record(name, *operands, **params)
    xs = [finite_array(x, f"operand {k} of {name}") for k, x in enumerate(operands)]
    primitive = lookup(name)
    try:
        primitive.shape(*[x.shape for x in xs], **params)
    except ShapeError as exc:
        shapes = ", ".join(str(x.shape) for x in xs)
        raise ShapeError(f"{name} of operands of shapes {shapes}: {exc}") from None
    return apply_primitive(primitive, xs, params, lambda: name)


def lift(x):
    """``x`` with (nested) lists, tuples and object arrays of traced values stacked.

    ``[x, x + 2]`` becomes one traced array of shape ``(2,) + x.shape`` (a ``stack`` node);
    plain numbers inside are constants. Everything else is returned as it is.
    """
    if type(x) in (list, tuple) or (isinstance(x, np.ndarray) and x.dtype == object):
        if not holds_traced(x):
            return x
        parts = [lift(e) for e in (x.tolist() if isinstance(x, np.ndarray) else x)]
        if not parts:
            return np.zeros(0)
        shapes = {np.shape(p.value if isinstance(p, Traced) else p) for p in parts}
        if len(shapes) > 1:
            raise ShapeError(f"cannot stack a list of traced values of different shapes "
                             f"{sorted(shapes)}; numpy would make an object array")
        return record("stack", *parts, axis=0)
    return x


def shape_of(x) -> tuple:
    """The shape of a traced value or of anything numpy can make an array of."""
    x = lift(x)
    return x.shape if isinstance(x, Traced) else np.shape(x)


def ndim_of(x) -> int:
    return len(shape_of(x))


def is_traced(*xs) -> bool:
    """Whether any of ``xs`` is traced (or a list holding traced values)."""
    return any(holds_traced(x) for x in xs)


def as_int(value, what: str) -> int:
    """An axis or a length as an int, or `ShapeError` saying what was given."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ShapeError(f"{what} must be an int; got {value!r}")
    return int(value)


def as_ints(values, what: str) -> tuple[int, ...]:
    """A sequence of ints (a shape, a permutation), or `ShapeError`."""
    try:
        return tuple(as_int(v, what) for v in values)
    except TypeError:
        raise ShapeError(f"{what} must be a sequence of ints; got {values!r}") from None


def as_axis(axis):
    """None, an int or a tuple of ints (the ``axis`` argument of a reduction)."""
    if axis is None or np.ndim(axis) == 0:
        return None if axis is None else as_int(axis, "axis")
    return as_ints(axis, "axis")


def axes_of(axis, ndim: int, name: str) -> tuple[int, ...]:
    """``axis`` (None, int or tuple of ints) as sorted non-negative axes of an ndim-array."""
    return normalize_axes(as_axis(axis), ndim, name)


def keep(out, shape: tuple, axes: tuple, keepdims: bool):
    """With ``keepdims``, the reduced ``axes`` of ``shape`` put back with length 1."""
    if not keepdims:
        return out
    return call("reshape", out, shape=tuple(1 if k in axes else n for k, n in enumerate(shape)))


def refuse(name: str, argument: str, value, instead: str = "") -> None:
    """Raise `TracingError` for an argument value the function does not support."""
    raise TracingError(f"{name}: {argument}={value!r} is not supported on traced values"
                       + (f"; {instead}" if instead else ""))


def check_out(name: str, out) -> None:
    """``out=`` must be None: a traced result cannot be written into a numpy buffer."""
    if out is not None and not (isinstance(out, tuple) and all(o is None for o in out)):
        refuse(name, "out", type(out).__name__,
               "a traced result cannot be written into a buffer; use the returned value")


def check_dtype(name: str, dtype) -> None:
    """``dtype=`` may be None or a float type (traced values are float64)."""
    if dtype is not None and np.dtype(dtype).kind != "f":
        refuse(name, "dtype", dtype, "traced values are float64; only a float dtype fits")


def value_of(x):
    """The value of a traced operand (lists stacked), or ``x`` as an array."""
    x = lift(x)
    return x.value if isinstance(x, Traced) else np.asarray(x)


def is_mask(x) -> bool:
    """Whether ``x`` is a traced mask: a comparison or logical operation of traced values."""
    return isinstance(x, Traced) and x.tape.builder.step(x.node)[0].name in MASK_ROWS


def is_integral(x) -> bool:
    """Whether ``x`` is a traced mask or index (``argmax``): integers at every point."""
    return isinstance(x, Traced) and x.tape.builder.step(x.node)[0].name in \
        MASK_ROWS + INDEX_ROWS


INSTEAD = ("write the choice as data: np.where(condition, a, b) (la.where) or a product with "
           "the mask (x * (x > 0)), which the graph recomputes at every point; for a loop that "
           "runs until a traced value converges use la.fixed_point")


def control_flow_error(x, what: str, why: str = "") -> ControlFlowError:
    """The error for a Python decision taken on traced value ``x``: it says what to write."""
    node = f" v{x.node}" if isinstance(x, Traced) else ""
    because = why or ("the branch taken would depend on a traced value, and the graph would "
                      "keep the one taken at the traced point")
    return ControlFlowError(f"{what} of traced value{node}: {because}; {INSTEAD}")
