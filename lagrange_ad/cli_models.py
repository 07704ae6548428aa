"""What the command line reads from PyTorch and JAX: saved ``torch.export`` programs, and
functions that return a model with its example inputs.

- ``model.pt2``: a program saved by ``torch.export.save``, imported by `la.from_torch`.
- ``torch:NAME``, ``jax:NAME``: an example model of `lagrange_ad.examples.torch_models` or
  `lagrange_ad.examples.jax_models` (``lagrange-ad examples`` lists them).
- ``file.py:function`` where ``function()`` returns ``(model, (args...))``: ``model`` is a
  ``torch.nn.Module`` (or a function of torch tensors), imported by `la.from_torch`; or a JAX
  function, imported by `la.from_jax`; or a function of numbers and arrays written with
  ``la.`` functions, traced by `la.trace`.

Which importer a pair needs is read from the objects themselves: torch and JAX are never
imported here; a pair is torch's or JAX's only when that library is already loaded (the
user's file imported it) and the model, its arguments or the names its code uses come from
it. A missing library is a one-line error naming the extra to install.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from pathlib import Path

from .cli_input import UsageError
from .errors import LagrangeADError
from .graph.graph import Graph
from .report.optional import EXTRAS, require_module

SAVED_EXPORT = ".pt2"  # the suffix torch.export.save writes
# the example models of each library, by the prefix that names them on the command line
ZOOS = {"torch": "lagrange_ad.examples.torch_models", "jax": "lagrange_ad.examples.jax_models"}


def is_saved_export(target: str) -> bool:
    """Whether ``target`` names a saved ``torch.export`` program."""
    return target.endswith(SAVED_EXPORT)


def graph_from_export(path: Path) -> Graph:
    """The graph of the program saved at ``path`` by ``torch.export.save``."""
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    require_module("torch", f"reading {path.name} (a saved torch.export program)")
    from .importers.torch_export import from_torch

    return _imported(lambda: from_torch(str(path)), f"importing {path.name}")


def is_zoo_model(target: str) -> bool:
    """Whether ``target`` names an example model, ``torch:transformer`` or ``jax:mlp``."""
    library, _, name = target.partition(":")
    return library in ZOOS and bool(name) and not name.endswith(".py")


def zoo(library: str) -> dict[str, Callable]:
    """The example models of ``library`` by name (their modules import the library lazily)."""
    return importlib.import_module(ZOOS[library]).MODELS


def graph_from_zoo(target: str) -> Graph:
    """The graph of the example model ``torch:NAME`` or ``jax:NAME`` at its example inputs."""
    library, _, name = target.partition(":")
    models = zoo(library)
    if name not in models:
        raise UsageError(f"unknown {library} model {name!r}; {library} models are: "
                         f"{', '.join(models)}")
    require_module(library, f"the {library} model {name!r}")
    model, args = models[name]()
    return graph_from_pair(model, tuple(args), target)


def model_pair(result) -> tuple[object, tuple] | None:
    """``(model, args)`` when ``result`` is a pair of a model and its example inputs, else None.

    The inputs may be a tuple or list of arguments, or one argument alone.
    """
    if not isinstance(result, tuple) or len(result) != 2:
        return None
    model, args = result
    if not (callable(model) or library_of(model) == "torch"):
        return None
    return model, tuple(args) if isinstance(args, (tuple, list)) else (args,)


def graph_from_pair(model, args: tuple, what: str) -> Graph:
    """The graph of ``model`` at ``args`` by the importer of the library it comes from."""
    library = library_of(model, args)
    if library == "torch":
        from .importers.torch_export import from_torch

        return _imported(lambda: from_torch(model, *args), f"importing {what} (torch)")
    if library == "jax":
        from .importers.jaxpr import from_jax

        return _imported(lambda: from_jax(model, *args), f"importing {what} (JAX)")
    from .tracing.tracer import trace

    return _imported(lambda: trace(model, *args), f"tracing {what}")


def library_of(model, args: tuple = ()) -> str | None:
    """``"torch"``, ``"jax"`` or None: the already loaded library ``model`` and ``args`` use."""
    for library in ("torch", "jax"):
        if library not in sys.modules:
            continue  # the user's code did not load it, so nothing here comes from it
        if _from(model, library) or any(_from(a, library) for a in args) \
                or any(_from(value, library) for value in _names_used(model)):
            return library
    return None


def _from(obj, library: str) -> bool:
    """Whether ``obj`` (a module, a class instance, a function) belongs to ``library``."""
    if inspect.ismodule(obj):
        return obj.__name__.split(".")[0] == library
    classes = type(obj).__mro__ if not isinstance(obj, type) else obj.__mro__
    # jax's arrays and jitted functions are defined in jaxlib
    roots = (library, "jaxlib") if library == "jax" else (library,)
    return any(c.__module__.split(".")[0] in roots for c in classes)


def _names_used(function) -> list:
    """The global and enclosing values that a Python function's code names (``jnp``, ``torch``)."""
    if not inspect.isfunction(function):
        return []
    found = inspect.getclosurevars(function)
    return list(found.nonlocals.values()) + list(found.globals.values())


def missing_library(exc: BaseException) -> str | None:
    """The one-line message for a user's file that failed to import torch or jax, else None."""
    name = getattr(exc, "name", None) or ""
    root = name.split(".")[0]
    if isinstance(exc, ImportError) and root in ("torch", "jax"):
        return (f"it imports {root}, which is not installed; install it with: "
                f'pip install "lagrange_ad[{EXTRAS[root]}]"')
    return None


def _imported(make: Callable[[], Graph], what: str) -> Graph:
    """``make()``; a failure that is not the library's own error becomes one line."""
    try:
        return make()
    except LagrangeADError:
        raise
    except Exception as exc:  # torch.export and jax raise many kinds; each is one line here
        first = (str(exc).strip().splitlines() or [""])[0]
        raise UsageError(f"{what} failed: {type(exc).__name__}: {first}") from None
