"""The ndarray surface of a traced value: operators, methods, numpy's ufunc and function tables.

`Tracer` adds to the graph handle `Traced` everything numpy code does to an array of float64:
operators, the attributes and methods of ``numpy.ndarray``, and the two override protocols
(``__array_ufunc__`` for ``np.sin(x)``, ``__array_function__`` for ``np.sum(x)``), each
routed by the tables of `numpy_tables` to the ``la.`` function of the same name. Functions of
``numpy.linalg`` go to ``lagrange_ad.linalg``. Comparisons, logical operations, ``all``,
``any`` and ``argmax`` are nodes too (masks and indices, derivative zero), so a graph replayed at
another point recomputes them. A Python decision on a traced value (``if``, ``while``,
``bool()``, ``int()``, ``float()``, ``.item()``, an index, a boolean mask) raises
`ControlFlowError`, which says to write the choice with ``np.where`` or a mask. What else
cannot be traced (writing into a buffer, complex numbers, in-place methods) raises
`TracingError` saying what to write instead. numpy's own array constructors see lists of
traced values only while a function is traced (`interception`).
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError, TracingError
from . import functions as la
from .functions.core import control_flow_error, is_integral, is_mask, refuse
from .functions.elementwise import divmod_, floor_divide
from .functions.shapes import squeeze, swapaxes
from .numpy_tables import BUFFER, array_function, array_ufunc, compress
from .tape import Traced


def _cut(what: str, instead: str):
    """A method that refuses: reading the value would cut it out of the graph."""
    def method(self, *args, **kwargs):
        raise TracingError(f"{what} of traced value v{self.node} would cut it out of the "
                           f"graph, and its derivative would be lost; {instead}")
    method.__name__ = what
    return method


def _operators(function):
    """The operator and its reflected form (``x + y`` and ``y + x``) of an ``la.`` function."""
    def forward(self, other):
        return function(self, other)

    def reflected(self, other):
        return function(other, self)

    return forward, reflected


def _comparison(function):
    """A comparison: a mask node (``la.greater``, ...); None and strings are never equal."""
    def method(self, other):
        if other is None or isinstance(other, str):
            return NotImplemented
        return function(self, other)
    method.__name__ = function.__name__
    return method


def _decision(what: str, why: str = ""):
    """A method that would take a Python decision on the value: `ControlFlowError`."""
    def method(self, *args, **kwargs):
        raise control_flow_error(self, what, why)
    method.__name__ = what
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


NUMBER_READ = ("a Python number read from a traced value is fixed at the traced point and loses "
               "its derivative; " + NUMBER)


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
        if kind == "f" or (kind in "biu" and is_integral(self)):
            return self  # a mask or an index is 0/1 or integers already
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

    __bool__ = _decision("the truth value (if, while, and, or, bool())")
    __float__ = _decision("float()", NUMBER_READ)
    __int__ = _decision("int()", NUMBER_READ + "; to pick entries of a numpy array W by a "
                        "traced index i, write la.take(W, i, axis=0)")
    __complex__ = _cut("complex()", "complex values are not supported; " + NUMBER)
    __index__ = _decision("use as an index", "an index read from a traced value is fixed at "
                          "the traced point; to pick entries by a traced index use "
                          "np.take(a, i, axis=...) or np.take_along_axis, which the graph "
                          "recomputes")
    item = _decision("item()", NUMBER_READ)
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
    resize = _cut("resize()", "use x.reshape(...), np.tile or np.pad (new values)")
    sort = _cut("the in-place sort()", "use np.sort(x), which returns a new traced value")
    partition = _cut("the in-place partition()", "use np.sort(x)")
    choose = _cut("choose()", "a traced value cannot be an index array; use np.select")
    nonzero = _decision("nonzero()", "the number of nonzero entries depends on the values")
    argpartition = _decision("argpartition()", "the partition depends on the values; use "
                             "np.argsort")

    # ------------------------------------------------------------ methods
    sum = _function(la.sum)
    mean = _function(la.mean)
    max = _function(la.max)
    min = _function(la.min)
    prod = _function(la.prod)
    var = _function(la.var)
    std = _function(la.std)
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
    all = _function(la.all)
    any = _function(la.any)
    argmax = _function(la.argmax)
    argmin = _function(la.argmin)
    argsort = _function(la.argsort)
    searchsorted = _function(la.searchsorted)

    def compress(self, condition, axis=None, out=None):
        return compress(self, condition, axis=axis, out=out)

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
        if isinstance(index, Traced) and not is_mask(index):
            return la.take(self, index, axis=0)  # an index computed from values: a node
        return la.call("getitem", self, index=static_index(index))

    __add__, __radd__ = _operators(la.add)
    __sub__, __rsub__ = _operators(la.subtract)
    __mul__, __rmul__ = _operators(la.multiply)
    __truediv__, __rtruediv__ = _operators(la.divide)
    __floordiv__, __rfloordiv__ = _operators(floor_divide)
    __mod__, __rmod__ = _operators(la.mod)
    __divmod__, __rdivmod__ = _operators(divmod_)
    __pow__, __rpow__ = _operators(la.power)
    __matmul__, __rmatmul__ = _operators(la.matmul)

    def __neg__(self):
        return la.negative(self)

    def __pos__(self):
        return self

    def __round__(self, ndigits=None):
        return la.round(self, 0 if ndigits is None else ndigits)

    __contains__ = _decision("the test 'in'", "the answer (a Python bool) depends on the "
                             "values; use np.any(x == value)")

    def __copy__(self):
        return self  # traced values are immutable

    def __deepcopy__(self, memo):
        return self

    def __abs__(self):
        return la.abs(self)

    # comparisons are mask nodes (1.0 where true), recomputed on replay; derivative zero
    __lt__, __le__ = _comparison(la.less), _comparison(la.less_equal)
    __gt__, __ge__ = _comparison(la.greater), _comparison(la.greater_equal)
    __eq__, __ne__ = _comparison(la.equal), _comparison(la.not_equal)
    __and__, __rand__ = _operators(la.logical_and)
    __or__, __ror__ = _operators(la.logical_or)
    __xor__, __rxor__ = _operators(la.logical_xor)

    def __invert__(self):
        return la.logical_not(self)

    __hash__ = object.__hash__


def static_index(index):
    """An index with lists turned into arrays; traced parts are refused (indices are static).

    Traced indices go through ``take`` instead (`Tracer.__getitem__`); a traced mask would
    select a value-dependent number of entries (`ControlFlowError`).
    """
    parts = index if isinstance(index, tuple) else (index,)
    fixed = []
    for part in parts:
        if isinstance(part, Traced):
            if is_mask(part):
                raise control_flow_error(part, "indexing by a traced mask (x[x > 0])",
                                         MASK_INDEX)
            raise TracingError(f"a traced index v{part.node} inside a tuple index; pick along "
                               f"one axis with np.take(x, i, axis=k), which the graph "
                               f"recomputes")
        fixed.append(np.asarray(part) if isinstance(part, list) else part)
    return tuple(fixed) if isinstance(index, tuple) else fixed[0]


MASK_INDEX = ("the number of entries selected depends on the values; keep the shape and zero "
              "the others out with np.where(mask, x, 0) or x * mask (then np.sum, ...)")
