"""numpy's override tables: which ufunc and which numpy function does what on traced values.

``__array_ufunc__`` and ``__array_function__`` of `numpy_api.Tracer` call `array_ufunc` and
`array_function`, which look the numpy callable up here: `UFUNCS` and `ARRAY_FUNCTIONS` map it
to the ``la.`` function of the same name (numpy's arguments), comparisons and ``argmax``
included (masks and indices are nodes, recomputed when the graph is replayed); `VALUE_UFUNCS`
and `VALUE_FUNCTIONS` are tests whose answer is the same at every point (``isfinite``), computed
on the values; `DECIDING_FUNCTIONS` (``nonzero``, ``unique``) would give a shape that depends
on the values and raise `ControlFlowError`; functions of ``numpy.linalg`` go to
``lagrange_ad.linalg``. Anything else raises `TracingError` naming the function.
"""

from __future__ import annotations

import importlib
import inspect

import numpy as np

from ..errors import TracingError
from . import functions as la
from .functions.core import check_dtype, control_flow_error, lift, refuse, value_of
from .functions.elementwise import divmod_, floor_divide
from .tape import Traced, holds_traced

BUFFER = ("traced arrays are immutable: build the array from a list (np.array([...])), with "
          "la.stack / np.stack, or select with np.where")


# ---------------------------------------------------------------- numpy's ufuncs

def _special(name: str):
    import scipy.special

    return getattr(scipy.special, name, None)


UFUNCS = {
    np.add: la.add, np.subtract: la.subtract, np.multiply: la.multiply,
    np.divide: la.divide, np.negative: la.negative, np.positive: lambda x: lift(x),
    np.power: la.power, np.float_power: la.power, np.square: la.square, np.sqrt: la.sqrt,
    np.exp: la.exp, np.log: la.log, np.sin: la.sin, np.cos: la.cos, np.tan: la.tan,
    np.tanh: la.tanh, np.absolute: la.abs, np.fabs: la.fabs, np.maximum: la.maximum,
    np.minimum: la.minimum, np.fmax: la.fmax, np.fmin: la.fmin, np.matmul: la.matmul,
    np.sign: la.sign, np.expm1: la.expm1, np.log1p: la.log1p, np.log2: la.log2,
    np.log10: la.log10, np.exp2: la.exp2, np.logaddexp: la.logaddexp,
    np.logaddexp2: la.logaddexp2, np.sinh: la.sinh, np.cosh: la.cosh, np.arcsin: la.arcsin,
    np.arccos: la.arccos, np.arctan: la.arctan, np.arcsinh: la.arcsinh,
    np.arccosh: la.arccosh, np.arctanh: la.arctanh, np.arctan2: la.arctan2,
    np.reciprocal: la.reciprocal, np.floor: la.floor, np.ceil: la.ceil, np.rint: la.rint,
    np.trunc: la.fix,
    np.remainder: la.mod, np.floor_divide: floor_divide, np.divmod: divmod_,
    np.deg2rad: la.deg2rad, np.rad2deg: la.rad2deg, np.conjugate: lambda x: lift(x),
    np.degrees: la.rad2deg, np.radians: la.deg2rad, np.hypot: la.hypot,
    np.vecdot: la.vecdot, np.matvec: la.matvec, np.vecmat: la.vecmat,
    np.cbrt: lambda x: la.multiply(la.sign(x), la.power(la.abs(x), 1.0 / 3.0)),
}
for _name, _function_ in (("expit", la.expit), ("logit", la.logit), ("log_expit", la.log_expit),
                          ("erf", la.erf), ("erfc", la.erfc), ("gammaln", la.gammaln),
                          ("psi", la.digamma), ("digamma", la.digamma), ("xlogy", la.xlogy),
                          ("xlog1py", la.xlog1py)):
    if isinstance(_special(_name), np.ufunc):
        UFUNCS[_special(_name)] = _function_

# comparisons and logical operations: masks (0.0 / 1.0) as nodes, recomputed on replay; and
# the ufuncs written with them
UFUNCS.update({getattr(np, name): getattr(la, name) for name in (
    "less", "less_equal", "greater", "greater_equal", "equal", "not_equal", "logical_and",
    "logical_or", "logical_xor", "logical_not", "signbit", "copysign", "fmod", "heaviside")})

UFUNCS.update({
    np.ldexp: lambda x1, x2: la.multiply(x1, la.exp2(x2)),
    np.modf: lambda x: (la.subtract(x, la.fix(x)), la.fix(x)),
})

# tests whose answer is the same at every point (traced values are finite and real): plain
# arrays
VALUE_UFUNCS = (np.isfinite, np.isnan, np.isinf, np.isnat)

REDUCE = {np.add: la.sum, np.multiply: la.prod, np.maximum: la.max, np.minimum: la.min,
          np.fmax: la.max, np.fmin: la.min, np.logaddexp: la.logsumexp}
ACCUMULATE = {np.add: la.cumsum, np.multiply: la.cumprod}


def array_ufunc(ufunc, method, inputs, kwargs):
    """``ufunc.method(*inputs, **kwargs)`` on traced values (numpy's ``__array_ufunc__``)."""
    name = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    if ufunc in VALUE_UFUNCS and method == "__call__":
        return ufunc(*[value_of(x) for x in inputs], **kwargs)
    _check_ufunc_kwargs(name, kwargs, method)
    if method == "__call__" and ufunc in UFUNCS:
        return UFUNCS[ufunc](*inputs)
    if method == "reduce" and ufunc in REDUCE:
        (a,) = inputs
        kwargs.setdefault("axis", 0)
        return REDUCE[ufunc](a, **kwargs)
    if method == "accumulate" and ufunc in ACCUMULATE:
        (a,) = inputs
        return ACCUMULATE[ufunc](a, axis=kwargs.get("axis", 0))
    if method == "outer" and ufunc in UFUNCS:
        a, b = (lift(x) for x in inputs)
        na = np.ndim(a.value if isinstance(a, Traced) else a)
        return UFUNCS[ufunc](la.reshape(a, np.shape(value_of(a)) + (1,) * np.ndim(value_of(b)))
                             if na else a, b)
    raise TracingError(f"{name} cannot be traced; supported ufuncs are the la. functions "
                       f"(la.sin, la.exp, la.logaddexp, ...) and their numpy names")


def _check_ufunc_kwargs(name, kwargs, method):
    out = kwargs.pop("out", None)
    if out is not None and not all(o is None for o in out):
        refuse(name, "out", "a buffer", BUFFER)
    if kwargs.pop("where", True) is not True:
        refuse(name, "where", "a mask", "use np.where(mask, f(x), x) to select the entries")
    check_dtype(name, kwargs.pop("dtype", None))
    for key in ("casting", "order", "subok"):
        kwargs.pop(key, None)
    if method == "__call__" and kwargs:
        refuse(name, next(iter(kwargs)), kwargs[next(iter(kwargs))])


# ---------------------------------------------------------------- numpy's functions

def _like(fill):
    def function(a, dtype=None, order="K", subok=True, shape=None, **kwargs):
        return np.full(np.shape(value_of(a)) if shape is None else shape, fill(kwargs))
    return function


def _same(a, *args, **kwargs):
    return lift(a)


ARRAY_FUNCTIONS = {getattr(np, name): getattr(la, name) for name in (
    "sum", "mean", "max", "min", "amax", "amin", "prod", "var", "std", "cumsum", "cumprod",
    "ptp", "sort", "where", "clip", "einsum", "outer", "inner", "tensordot", "dot", "vdot",
    "matmul", "expand_dims", "squeeze", "ravel", "reshape", "transpose", "swapaxes",
    "moveaxis", "concatenate", "stack", "vstack", "hstack", "dstack", "column_stack", "repeat",
    "tile", "pad", "diag", "diagonal", "trace", "tril", "triu", "roll", "flip", "fliplr",
    "flipud", "rot90", "take", "split", "array_split", "atleast_1d", "atleast_2d",
    "atleast_3d", "append", "diff", "kron", "cross", "select", "sinc", "nan_to_num", "round",
    "around", "broadcast_to", "vsplit", "hsplit", "dsplit", "unstack", "rollaxis",
    "matrix_transpose", "take_along_axis", "ediff1d", "diagflat", "cumulative_sum",
    "cumulative_prod", "median", "fix", "trapezoid", "quantile", "percentile", "cov",
    "corrcoef", "argmax", "argmin", "argsort", "all", "any", "count_nonzero", "isclose",
    "allclose", "array_equal", "searchsorted", "digitize", "convolve", "correlate", "interp",
    "linspace", "logspace", "geomspace", "meshgrid", "block", "insert", "delete", "polyval",
    "vander", "gradient", "polyadd", "polysub", "polymul", "polyder",
)}
# traced values are never NaN: numpy's nan-ignoring reductions are the plain ones
ARRAY_FUNCTIONS.update({getattr(np, "nan" + name): getattr(la, name) for name in (
    "sum", "mean", "max", "min", "prod", "var", "std", "cumsum", "cumprod", "median",
    "quantile", "percentile")})
ARRAY_FUNCTIONS.update({np.nanargmax: la.argmax, np.nanargmin: la.argmin})
ARRAY_FUNCTIONS[np.compress] = lambda condition, a, axis=None, out=None: compress(
    a, condition, axis=axis, out=out)
ARRAY_FUNCTIONS.update({
    np.shape: lambda a: tuple(np.shape(value_of(a))) if not isinstance(a, Traced) else a.shape,
    np.ndim: lambda a: len(a.shape) if isinstance(a, Traced) else np.ndim(value_of(a)),
    np.size: lambda a, axis=None: int(np.prod(a.shape if isinstance(a, Traced) else
                                              np.shape(value_of(a)), dtype=np.int64))
    if axis is None else (a.shape if isinstance(a, Traced) else np.shape(value_of(a)))[axis],
    np.copy: _same, np.real: _same, np.conjugate: _same, np.real_if_close: _same,
    np.astype: lambda x, dtype, /, *, copy=True, device=None: lift(x).astype(dtype),
    # the angle of a real number: pi where its sign bit is set (a mask node), else 0
    np.angle: lambda z, deg=False: la.multiply(la.signbit(z), 180.0 if deg else np.pi),
    np.resize: lambda a, new_shape: la.resize(a, new_shape),
    # index arrays that depend on the shape alone
    np.diag_indices_from: lambda arr: np.diag_indices(np.shape(value_of(arr))[0],
                                                      np.ndim(value_of(arr))),
    np.tril_indices_from: lambda arr, k=0: np.tril_indices_from(np.zeros(arr.shape), k),
    np.triu_indices_from: lambda arr, k=0: np.triu_indices_from(np.zeros(arr.shape), k),
    np.imag: lambda a: np.zeros(np.shape(value_of(a))),
    np.iscomplexobj: lambda x: False, np.isrealobj: lambda x: True,
    np.result_type: lambda *a: np.dtype(np.float64),
    np.zeros_like: _like(lambda k: 0.0), np.ones_like: _like(lambda k: 1.0),
    np.empty_like: _like(lambda k: 0.0), np.full_like: lambda a, fill_value, **k:
    np.full(np.shape(value_of(a)), fill_value),
    np.broadcast_arrays: lambda *args, subok=False: [
        la.broadcast_to(a, np.broadcast_shapes(*[np.shape(value_of(b)) for b in args]))
        for a in args],
    np.average: lambda a, axis=None, weights=None, returned=False, keepdims=False:
    la.mean(a, axis=axis, keepdims=keepdims) if weights is None else la.divide(
        la.sum(la.multiply(a, weights), axis=axis, keepdims=keepdims),
        np.sum(np.broadcast_to(weights, np.shape(value_of(a))), axis=axis, keepdims=keepdims)),
})

# tests whose answer is the same at every point (traced values are finite and real), and
# displays: plain results
VALUE_FUNCTIONS = {getattr(np, name) for name in (
    "isfinite", "isnan", "isinf", "array_repr", "array_str", "shares_memory",
    "may_share_memory", "isreal", "iscomplex", "isneginf", "isposinf",
)}

# functions whose result has a shape or an order that depends on the values: a graph cannot
# hold them (the reason, for `ControlFlowError`)
DECIDING_FUNCTIONS = {getattr(np, name): why for name, why in (
    ("nonzero", "the number of nonzero entries depends on the values"),
    ("flatnonzero", "the number of nonzero entries depends on the values"),
    ("argwhere", "the number of entries found depends on the values"),
    ("unique", "the number of distinct values depends on the values"),
    ("histogram", "the counts are integers read from the values"),
    ("argpartition", "the partition depends on the values; use np.argsort"),
    ("lexsort", "the order depends on the values; use np.argsort"),
    ("isin", "membership is decided on the values; compare with np.equal and np.any"),
    ("array_equiv", "the answer is decided on the values; use np.all(a == b)"),
    ("partition", "the partition depends on the values; use np.sort"),
    ("unique_all", "the number of distinct values depends on the values"),
    ("unique_counts", "the number of distinct values depends on the values"),
    ("unique_inverse", "the number of distinct values depends on the values"),
    ("unique_values", "the number of distinct values depends on the values"),
    ("union1d", "the number of distinct values depends on the values"),
    ("intersect1d", "the number of common values depends on the values"),
    ("setdiff1d", "the number of values kept depends on the values"),
    ("setxor1d", "the number of values kept depends on the values"),
    ("trim_zeros", "the number of zeros trimmed depends on the values"),
    ("extract", "the number of entries kept depends on the values; use np.where(c, x, 0)"),
    ("bincount", "the counts are integers read from the values"),
    ("histogram2d", "the counts are integers read from the values"),
    ("histogramdd", "the counts are integers read from the values"),
    ("histogram_bin_edges", "the edges are read from the values"),
    ("piecewise", "each piece runs on the entries its condition selects, a value-dependent "
                  "subset; use np.select or np.where, which evaluate every piece"),
)}

# functions that write into an array: traced values are immutable
WRITING_FUNCTIONS = {getattr(np, name) for name in (
    "put", "putmask", "place", "copyto", "fill_diagonal", "put_along_axis")}


def compress(a, condition, axis=None, out=None):
    """numpy's compress: entries where a constant ``condition`` holds (a traced one would give
    a value-dependent shape: `ControlFlowError`)."""
    if holds_traced(condition):
        raise control_flow_error(lift(condition), "compress by a traced condition",
                                 "the number of entries kept depends on the values")
    return la.take(a, np.flatnonzero(np.asarray(condition)), axis=axis, out=out)


def _values(x):
    x = lift(x)
    if isinstance(x, Traced):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(_values(e) for e in x)
    return x


def array_function(func, args, kwargs):
    """``func(*args, **kwargs)`` on traced values (numpy's ``__array_function__``)."""
    module = getattr(func, "__module__", "") or ""
    if module.startswith("numpy.linalg"):
        return _linalg(func.__name__)(*args, **kwargs)
    if func in DECIDING_FUNCTIONS:
        traced = next((x for x in list(args) + list(kwargs.values()) if holds_traced(x)), None)
        raise control_flow_error(lift(traced), _qualified(func), DECIDING_FUNCTIONS[func])
    if func in WRITING_FUNCTIONS:
        raise TracingError(f"{_qualified(func)} writes into an array; {BUFFER}")
    if func in VALUE_FUNCTIONS:
        return func(*_values(list(args)), **{k: _values(v) for k, v in kwargs.items()})
    function = ARRAY_FUNCTIONS.get(func)
    if function is None:
        raise TracingError(f"{_qualified(func)} cannot be traced; see "
                           f"lagrange_ad.tracing.numpy_api.ARRAY_FUNCTIONS for those that can")
    try:
        return function(*args, **kwargs)
    except TypeError as exc:
        try:
            inspect.signature(function).bind(*args, **kwargs)
        except TypeError:
            raise TracingError(f"{_qualified(func)} on traced values: {exc}; the arguments "
                               f"supported are {inspect.signature(function)}") from None
        except ValueError:  # no signature to compare with
            pass
        raise


def _qualified(func) -> str:
    module = getattr(func, "__module__", None) or "numpy"
    return f"{'numpy' if module.startswith('numpy._') else module}.{func.__name__}"


def _linalg(name: str):
    """The function of ``lagrange_ad.linalg`` that stands for ``numpy.linalg.<name>``."""
    try:
        module = importlib.import_module("lagrange_ad.linalg")
    except ImportError:
        module = None
    function = getattr(module, name, None)
    if function is None:
        raise TracingError(f"numpy.linalg.{name} cannot be traced (lagrange_ad.linalg has no "
                           f"{name})")
    return function
