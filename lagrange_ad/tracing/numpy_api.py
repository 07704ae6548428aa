"""The ndarray surface of a traced value: operators, methods, numpy's ufunc and function tables.

`Tracer` adds to the graph handle `Traced` everything numpy code does to an array of float64:
operators, the attributes and methods of ``numpy.ndarray``, and the two override protocols
(``__array_ufunc__`` for ``np.sin(x)``, ``__array_function__`` for ``np.sum(x)``), each
routed to the ``la.`` function of the same name. Functions of ``numpy.linalg`` go to
``lagrange_ad.linalg``. What only reads values (comparisons, ``argmax``, ``np.isfinite``)
returns plain arrays of the values at the traced point: a program that branches on them is
traced along the branch taken. What cannot be traced (reading a value as a Python number,
writing into a buffer, complex numbers, in-place methods) raises `TracingError` saying what to
write instead. numpy's own array constructors see lists of traced values only while a function
is traced (`constructors_stacking`).
"""

from __future__ import annotations

import importlib
import inspect

import numpy as np

from ..errors import ShapeError, TracingError
from . import functions as la
from .functions.core import check_dtype, lift, refuse, value_of
from .functions.elementwise import divmod_, floor_divide
from .functions.shapes import squeeze, swapaxes
from .tape import Traced


def _value(x):
    return x.value if isinstance(x, Traced) else x


def _cut(what: str, instead: str):
    """A method that refuses: reading the value would cut it out of the graph."""
    def method(self, *args, **kwargs):
        raise TracingError(f"{what} of traced value v{self.node} would cut it out of the "
                           f"graph, and its derivative would be lost; {instead}")
    method.__name__ = what
    return method


def _on_values(name: str):
    """A method computed on the values alone (not differentiated): a plain array."""
    def method(self, *args, **kwargs):
        return getattr(self.value, name)(*[_value(a) for a in args], **kwargs)
    method.__name__ = name
    return method


def _function(function):
    """A method that is the ``la.`` function with the tracer as first argument."""
    def method(self, *args, **kwargs):
        return function(self, *args, **kwargs)
    method.__name__ = function.__name__
    method.__doc__ = function.__doc__
    return method


class TracedFloat64(np.float64):
    """numpy's float64 as the scalar type of a traced value: it leaves traced values traced.

    numpy's own code converts a result with ``result.dtype.type(result)``; for a traced result
    that must return it unchanged.
    """

    def __new__(cls, value=0.0):
        return value if isinstance(value, Traced) else np.float64(value)


class TracedDType:
    """The dtype of a traced value: numpy's float64 in everything but ``type``.

    It compares equal to ``np.float64``, ``np.dtype(x.dtype)`` is float64, and every other
    attribute is float64's.
    """

    __slots__ = ()
    dtype = np.dtype(np.float64)  # what np.dtype(x.dtype) reads
    type = TracedFloat64

    def __getattr__(self, name):
        return getattr(np.dtype(np.float64), name)

    def __eq__(self, other) -> bool:
        try:
            return np.dtype(other) == np.float64
        except TypeError:
            return False

    def __hash__(self) -> int:
        return hash(np.dtype(np.float64))

    def __repr__(self) -> str:
        return "dtype('float64')"

    def __str__(self) -> str:
        return "float64"


NUMBER = ("keep it traced (use la. or numpy functions on it), or read x.value for the number; "
          "to put traced values into an array, build it from a list (np.array([...])) or with "
          "la.stack instead of writing into a numpy buffer")
BUFFER = ("traced arrays are immutable: build the array from a list (np.array([...])), with "
          "la.stack / np.stack, or select with np.where")


class Tracer(Traced):
    """A traced value that behaves as a float64 ``numpy.ndarray``."""

    __slots__ = ()

    # ------------------------------------------------------------ numpy protocols
    __array_priority__ = 100.0

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return array_function(func, args, kwargs)

    # ------------------------------------------------------------ attributes
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    dtype = TracedDType()
    itemsize = 8
    device = "cpu"
    base = None

    @property
    def nbytes(self) -> int:
        return 8 * self.size

    @property
    def strides(self) -> tuple:
        return tuple(int(8 * np.prod(self.shape[k + 1:], dtype=np.int64))
                     for k in range(self.ndim))

    @property
    def T(self):
        return la.transpose(self)

    @property
    def mT(self):
        if self.ndim < 2:
            raise ShapeError(f"mT needs at least 2 axes; v{self.node} has shape {self.shape}")
        return swapaxes(self, -1, -2)

    @property
    def real(self):
        return self

    @property
    def imag(self):
        return np.zeros(self.shape)

    @property
    def flat(self):
        return la.ravel(self)

    def conj(self):
        return self

    conjugate = conj

    def copy(self, order="C"):
        return self

    def to_device(self, device, /, *, stream=None):
        if device != "cpu":
            refuse("to_device", "device", device, "traced values live on the cpu")
        return self

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        kind = np.dtype(dtype).kind
        if kind == "f":
            return self
        raise TracingError(f"astype({np.dtype(dtype)}) of traced value v{self.node}: an "
                           f"{'integer' if kind in 'iu' else np.dtype(dtype).name} copy "
                           f"has no derivative; keep float64, or use np.floor / np.rint "
                           f"(derivative 0) if the rounding is meant")

    def __repr__(self) -> str:
        return f"Tracer(v{self.node}, value={self.value!r})"

    def __len__(self) -> int:
        if not self.shape:
            raise TracingError("len() of a traced scalar: it has no length")
        return self.shape[0]

    def __iter__(self):
        for k in range(len(self)):
            yield self[k]

    def __bool__(self):
        if self.size != 1:
            raise TracingError(f"the truth value of traced array v{self.node} of shape "
                               f"{self.shape} is ambiguous; use np.all(x > 0) or np.any(...)")
        return bool(self.value)

    __float__ = _cut("float()", NUMBER)
    __int__ = _cut("int()", NUMBER)
    __complex__ = _cut("complex()", "complex values are not supported; " + NUMBER)
    __index__ = _cut("use as an index", "indices are static; use int(x.value) if the index "
                     "is data")
    item = _cut("item()", NUMBER)
    tolist = _cut("tolist()", "keep it traced; iterate over it (for row in x) if you need parts")
    tobytes = _cut("tobytes()", NUMBER)
    tofile = _cut("tofile()", NUMBER)
    dump = _cut("dump()", NUMBER)
    dumps = _cut("dumps()", NUMBER)
    view = _cut("view()", "use the value itself, or x.reshape(...)")
    byteswap = _cut("byteswap()", "traced values have no bytes")
    getfield = _cut("getfield()", "traced values have no fields")
    ctypes = property(_cut("ctypes", "traced values have no memory buffer"))
    data = property(_cut("data", "traced values have no memory buffer"))
    flags = property(_cut("flags", "traced values have no memory buffer"))
    __setitem__ = _cut("item assignment", BUFFER)
    fill = _cut("fill()", BUFFER)
    put = _cut("put()", BUFFER)
    setfield = _cut("setfield()", BUFFER)
    setflags = _cut("setflags()", BUFFER)
    resize = _cut("resize()", "use np.resize(x, shape) or x.reshape(...) (a new value)")
    sort = _cut("the in-place sort()", "use np.sort(x), which returns a new traced value")
    partition = _cut("the in-place partition()", "use np.sort(x)")
    choose = _cut("choose()", "a traced value cannot be an index array; use np.select")

    # ------------------------------------------------------------ values only
    all = _on_values("all")
    any = _on_values("any")
    argmax = _on_values("argmax")
    argmin = _on_values("argmin")
    argsort = _on_values("argsort")
    argpartition = _on_values("argpartition")
    nonzero = _on_values("nonzero")
    searchsorted = _on_values("searchsorted")

    # ------------------------------------------------------------ methods
    sum = _function(la.sum)
    mean = _function(la.mean)
    max = _function(la.max)
    min = _function(la.min)
    prod = _function(la.prod)
    var = _function(la.var)
    std = _function(la.std)
    ptp = _function(la.ptp)
    cumsum = _function(la.cumsum)
    cumprod = _function(la.cumprod)
    clip = _function(la.clip)
    round = _function(la.round)
    dot = _function(la.dot)
    ravel = _function(la.ravel)
    flatten = _function(la.ravel)
    squeeze = _function(squeeze)
    swapaxes = _function(swapaxes)
    repeat = _function(la.repeat)
    take = _function(la.take)
    diagonal = _function(la.diagonal)
    trace = _function(la.trace)

    def compress(self, condition, axis=None):
        return la.take(self, np.flatnonzero(np.asarray(_value(condition))), axis=axis)

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)) \
            else axes
        return la.transpose(self, tuple(axes) if axes else None)

    def reshape(self, *shape, order="C", copy=None):
        shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)) \
            else shape
        return la.reshape(self, shape, order=order)

    # ------------------------------------------------------------ operators
    def __getitem__(self, index):
        return la.call("getitem", self, index=static_index(index))

    def __add__(self, other):
        return la.add(self, other)

    def __radd__(self, other):
        return la.add(other, self)

    def __sub__(self, other):
        return la.subtract(self, other)

    def __rsub__(self, other):
        return la.subtract(other, self)

    def __mul__(self, other):
        return la.multiply(self, other)

    def __rmul__(self, other):
        return la.multiply(other, self)

    def __truediv__(self, other):
        return la.divide(self, other)

    def __rtruediv__(self, other):
        return la.divide(other, self)

    def __floordiv__(self, other):
        return floor_divide(self, other)

    def __rfloordiv__(self, other):
        return floor_divide(other, self)

    def __mod__(self, other):
        return la.mod(self, other)

    def __rmod__(self, other):
        return la.mod(other, self)

    def __divmod__(self, other):
        return divmod_(self, other)

    def __rdivmod__(self, other):
        return divmod_(other, self)

    def __pow__(self, exponent):
        return la.power(self, exponent)

    def __rpow__(self, base):
        return la.power(base, self)

    def __matmul__(self, other):
        return la.matmul(self, other)

    def __rmatmul__(self, other):
        return la.matmul(other, self)

    def __neg__(self):
        return la.negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return la.abs(self)

    # comparisons read values (for control flow and masks); they are not differentiated
    def __lt__(self, other):
        return self.value < _value(lift(other))

    def __le__(self, other):
        return self.value <= _value(lift(other))

    def __gt__(self, other):
        return self.value > _value(lift(other))

    def __ge__(self, other):
        return self.value >= _value(lift(other))

    def __eq__(self, other):
        return self.value == _value(lift(other))

    def __ne__(self, other):
        return self.value != _value(lift(other))

    __hash__ = object.__hash__


def static_index(index):
    """An index with lists turned into arrays; traced values are refused (indices are static)."""
    parts = index if isinstance(index, tuple) else (index,)
    fixed = []
    for part in parts:
        if isinstance(part, Traced):
            raise TracingError("an index cannot be a traced value: indices are static; use "
                               "part.value if the index is data")
        fixed.append(np.asarray(part) if isinstance(part, list) else part)
    return tuple(fixed) if isinstance(index, tuple) else fixed[0]


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
    np.trunc: lambda x: la.where(value_of(x) >= 0, la.floor(x), la.ceil(x)),
    np.remainder: la.mod, np.floor_divide: floor_divide, np.divmod: divmod_,
    np.deg2rad: la.deg2rad, np.rad2deg: la.rad2deg, np.conjugate: lambda x: lift(x),
    np.cbrt: lambda x: la.multiply(la.sign(x), la.power(la.abs(x), 1.0 / 3.0)),
}
for _name, _function_ in (("expit", la.expit), ("logit", la.logit), ("log_expit", la.log_expit),
                          ("erf", la.erf), ("erfc", la.erfc), ("gammaln", la.gammaln),
                          ("psi", la.digamma), ("digamma", la.digamma), ("xlogy", la.xlogy),
                          ("xlog1py", la.xlog1py)):
    if isinstance(_special(_name), np.ufunc):
        UFUNCS[_special(_name)] = _function_

# ufuncs of values alone (masks, tests): plain arrays of the values, not differentiated
VALUE_UFUNCS = (np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal,
                np.logical_and, np.logical_or, np.logical_xor, np.logical_not, np.isfinite,
                np.isnan, np.isinf, np.signbit, np.isnat)

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
    "around", "broadcast_to",
)}
ARRAY_FUNCTIONS.update({
    np.shape: lambda a: tuple(np.shape(value_of(a))) if not isinstance(a, Traced) else a.shape,
    np.ndim: lambda a: len(a.shape) if isinstance(a, Traced) else np.ndim(value_of(a)),
    np.size: lambda a, axis=None: int(np.prod(a.shape if isinstance(a, Traced) else
                                              np.shape(value_of(a)), dtype=np.int64))
    if axis is None else (a.shape if isinstance(a, Traced) else np.shape(value_of(a)))[axis],
    np.copy: _same, np.real: _same, np.conjugate: _same,
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

# functions of values alone: plain results, not differentiated
VALUE_FUNCTIONS = {getattr(np, name) for name in (
    "argmax", "argmin", "argsort", "argpartition", "nonzero", "flatnonzero", "argwhere",
    "searchsorted", "all", "any", "isclose", "allclose", "array_equal", "array_equiv",
    "count_nonzero", "isfinite", "isnan", "isinf", "digitize", "histogram", "unique",
    "array_repr", "array_str", "shares_memory", "may_share_memory", "isreal", "iscomplex",
)}


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
