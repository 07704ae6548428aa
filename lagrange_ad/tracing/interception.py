"""numpy's constructors and scipy's log-sum-exp family while a function is traced.

Two kinds of functions cannot see a traced value through numpy's override protocols:

* ``numpy.array``, ``asarray``, ``asanyarray`` and ``ascontiguousarray`` are not dispatched
  on their arguments, so ``np.array([x, x + 2])`` would make an object array;
* ``scipy.special.logsumexp``, ``softmax`` and ``log_softmax`` are Python functions written
  against the array API; their algorithm writes ``-inf`` into a copy of the input, which a
  graph of finite values cannot hold (scipy 1.17 treats an unknown array type as numpy's
  namespace unless ``SCIPY_ARRAY_API=1``).

While a trace runs, and only then, `names_intercepted` replaces these names in their modules
with wrappers that handle traced values (the ``la.`` functions, with scipy's signatures) and
call the original otherwise; the originals are restored when the outermost trace ends.
numpy's internal calls bind the originals and are unaffected. A name bound before the trace
(``from scipy.special import logsumexp``) still refers to the original, which fails inside
scipy; `explain` turns that failure into a `TracingError` that says what to write instead.
"""

from __future__ import annotations

import contextlib
import importlib
import threading

import numpy as np

from ..errors import LagrangeADError, TracingError
from . import functions as la
from .functions.core import check_dtype, lift
from .tape import Traced, holds_traced

CONSTRUCTORS = ("array", "asarray", "asanyarray", "ascontiguousarray")
SCIPY_FUNCTIONS = ("logsumexp", "softmax", "log_softmax")
_lock = threading.RLock()
_depth = [0]
_originals: dict = {}


def _stacking(original):
    def constructor(obj, *args, **kwargs):
        if isinstance(obj, Traced) or (type(obj) in (list, tuple) and holds_traced(obj)):
            check_dtype(f"numpy.{original.__name__}", kwargs.get("dtype", args[0] if args
                                                                 else None))
            out = lift(obj)
            ndmin = kwargs.get("ndmin", 0)
            if ndmin > out.ndim:
                out = la.reshape(out, (1,) * (ndmin - out.ndim) + out.shape)
            return out
        return original(obj, *args, **kwargs)
    constructor.__name__ = original.__name__
    constructor.__doc__ = original.__doc__
    return constructor


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """scipy.special.logsumexp on traced values."""
    return la.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)


def softmax(x, axis=None):
    """scipy.special.softmax on traced values (over all entries by default, as scipy)."""
    return la.softmax(x, axis=axis)


def log_softmax(x, axis=None):
    """scipy.special.log_softmax on traced values (over all entries by default, as scipy)."""
    return la.log_softmax(x, axis=axis)


def _dispatching(traced, original):
    def function(x, *args, **kwargs):
        if holds_traced(x) or holds_traced(kwargs.get("b")):
            return traced(x, *args, **kwargs)
        return original(x, *args, **kwargs)
    function.__name__ = original.__name__
    function.__doc__ = original.__doc__
    return function


def _replacements() -> list[tuple[object, str, object]]:
    """``(module, name, wrapper)`` for every name replaced while tracing."""
    out = [(np, name, _stacking(getattr(np, name))) for name in CONSTRUCTORS]
    try:
        special = importlib.import_module("scipy.special")
    except ImportError:
        return out
    for name in SCIPY_FUNCTIONS:
        original = getattr(special, name, None)
        if original is not None:
            out.append((special, name, _dispatching(globals()[name], original)))
    return out


@contextlib.contextmanager
def names_intercepted():
    """Replace numpy's constructors and scipy's log-sum-exp family during a trace."""
    with _lock:
        if _depth[0] == 0:
            for module, name, wrapper in _replacements():
                _originals[(module, name)] = getattr(module, name)
                setattr(module, name, wrapper)
        _depth[0] += 1
    try:
        yield
    finally:
        with _lock:
            _depth[0] -= 1
            if _depth[0] == 0:
                for (module, name), original in _originals.items():
                    setattr(module, name, original)
                _originals.clear()


def explain(exc: BaseException) -> LagrangeADError | None:
    """A library error for a failure inside scipy's log-sum-exp family called on a traced value
    through a name bound before the trace, or None for any other failure."""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name in SCIPY_FUNCTIONS and "scipy" in code.co_filename:
            return TracingError(
                f"scipy.special.{code.co_name} was called on a traced value through a name "
                f"imported before the trace (from scipy.special import {code.co_name}); call "
                f"it as scipy.special.{code.co_name}(...) or use la.{code.co_name}")
        tb = tb.tb_next
    return None
