"""Read-only copies of what a graph holds, so that nothing reachable from a graph can change it."""

from __future__ import annotations

import numpy as np

from ..errors import GraphError


def read_only(array, dtype, copy: bool = True) -> np.ndarray:
    """A read-only array of ``dtype``; with ``copy=False`` an array of that dtype is kept."""
    out = np.array(array, dtype=dtype, copy=True if copy else None)
    out.flags.writeable = False
    return out


def read_only_point(x) -> np.ndarray:
    """An input value as a read-only float64 array; one that is already so is kept, not copied.

    (`la.grad` traces read-only views of its arguments, which live only for the call.)
    """
    if isinstance(x, np.ndarray) and x.dtype == np.float64 and not x.flags.writeable:
        return x
    return read_only(x, np.float64)


def read_only_param(value, copy: bool = True):
    """A read-only copy of a parameter value (arrays, also inside tuples, are copied).

    With ``copy=False`` a read-only array is kept as it is (a builder's constants).
    """
    if isinstance(value, np.ndarray):
        if not copy and not value.flags.writeable:
            return value
        return read_only(value, value.dtype)
    if isinstance(value, tuple):
        return tuple(read_only_param(v, copy) for v in value)
    return value


class ReadOnlyDict(dict):
    """A dict that refuses changes (and still pickles and copies like a dict)."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("a graph is immutable: its parameters and names cannot be changed")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self):
        return type(self), (dict(self),)


def index_value(value, what: str) -> int:
    """``value`` as an int (a node index or a count); ``what`` names it in the error."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise GraphError(f"{what} must be an int; got {value!r}")
    return int(value)
