"""numpy's constructors and scipy's log-sum-exp family while a function is traced.

Two kinds of functions cannot see a traced value through numpy's override protocols:

* ``numpy.array``, ``asarray``, ``asanyarray`` and ``ascontiguousarray`` are not dispatched
  on their arguments, so ``np.array([x, x + 2])`` would make an object array;
* ``scipy.special.logsumexp``, ``softmax`` and ``log_softmax`` are Python functions written
  against the array API; their algorithm writes ``-inf`` into a copy of the input, which a
  graph of finite values cannot hold (scipy 1.17 treats an unknown array type as numpy's
  namespace unless ``SCIPY_ARRAY_API=1``, and reads no override of ours).

While a trace runs, and only then, `names_intercepted` replaces numpy's constructors in their
module with wrappers that stack traced values and call the original otherwise. scipy's
functions are redirected in place instead, so that a name bound before the trace
(``from scipy.special import logsumexp`` at the top of a module) is redirected too: the
function object's code is swapped for a two-line trampoline that calls `redirected`, which
runs the ``la.`` function (with scipy's signature) when an argument holds a traced value and a
copy of scipy's original function otherwise. Everything is restored when the outermost trace
ends. numpy's internal calls bind the original constructors and are unaffected.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import types

import numpy as np

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


def _replacements() -> list[tuple[object, str, object]]:
    """``(module, name, wrapper)`` for every numpy name replaced while tracing."""
    return [(np, name, _stacking(getattr(np, name))) for name in CONSTRUCTORS]


def _scipy_functions() -> list:
    """scipy.special's functions that are redirected while tracing (none without scipy)."""
    try:
        special = importlib.import_module("scipy.special")
    except ImportError:
        return []
    functions = [getattr(special, name, None) for name in SCIPY_FUNCTIONS]
    return [f for f in functions if isinstance(f, types.FunctionType)]


REDIRECTS = "__lagrange_ad_redirects__"  # the name of `_redirects` in scipy's module, in a trace
_redirects: dict = {}  # function name -> redirected(...), while a trace runs
_codes: dict = {}  # function -> its own code, while a trace runs


def _trampoline(name: str) -> types.CodeType:
    """The code ``def name(*args, **kwargs): return __lagrange_ad_redirects__[name](...)``,
    which reads the dispatcher from the globals of the function whose code it becomes."""
    namespace: dict = {}
    exec(f"def {name}(*args, **kwargs):\n    return {REDIRECTS}[{name!r}](*args, **kwargs)\n",
         namespace)
    return namespace[name].__code__


def _redirecting(function):
    """The dispatcher of one scipy function: the ``la.`` version on traced values, else a copy
    of scipy's function as it was."""
    original = types.FunctionType(function.__code__, function.__globals__, function.__name__,
                                  function.__defaults__, function.__closure__)
    original.__kwdefaults__ = function.__kwdefaults__
    traced = globals()[function.__name__]

    def redirected(x, *args, **kwargs):
        if holds_traced(x) or holds_traced(kwargs.get("b")) or holds_traced(args):
            return traced(x, *args, **kwargs)
        return original(x, *args, **kwargs)
    return redirected


def _redirect_scipy() -> None:
    for function in _scipy_functions():
        _redirects[function.__name__] = _redirecting(function)
        _codes[function] = function.__code__
        function.__globals__[REDIRECTS] = _redirects
        function.__code__ = _trampoline(function.__name__)


def _restore_scipy() -> None:
    for function, code in _codes.items():
        function.__code__ = code
        function.__globals__.pop(REDIRECTS, None)
    _codes.clear()
    _redirects.clear()


@contextlib.contextmanager
def names_intercepted():
    """Replace numpy's constructors and redirect scipy's log-sum-exp family during a trace."""
    with _lock:
        if _depth[0] == 0:
            for module, name, wrapper in _replacements():
                _originals[(module, name)] = getattr(module, name)
                setattr(module, name, wrapper)
            _redirect_scipy()
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
                _restore_scipy()
