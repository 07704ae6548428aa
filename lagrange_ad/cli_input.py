"""What the command line reads: a program (an example or ``file.py:function``), its point
(``--at``) and the files it writes. Every problem is a `UsageError` with a one-line message.

``--at`` is a comma-separated list of items, each one argument of the function:

- a number: ``2``, ``-1.5e-3``;
- a nested list in brackets, read as a float64 array: ``[[1,2],[3,4]]``;
- a ``.npy`` file (one array) or a ``.npz`` file (all its arrays, in stored order, or matched
  to the inputs by name when its names are the inputs' names).

For an example, the items give its inputs in order; plain numbers may also give every entry
of every input, flattened in order (``--at 1,2,3,4,5`` for inputs of shapes ``(2,)`` and
``(3,)``).
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import os
from pathlib import Path

import numpy as np

from . import examples
from .errors import LagrangeADError
from .program.program import Program
from .tracing.tracer import trace

DEFAULT_FUNCTION = "f"
# what matplotlib writes without extra packages
PLOT_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp")


class UsageError(Exception):
    """Bad command-line input: reported in one line with exit status 2."""


# ----------------------------------------------------------------------------- programs


def load_program(target: str, at: str | None) -> Program:
    """The program named by an example name, ``file.py[:function]`` or a saved torch program
    (``model.pt2``), at ``--at`` if given."""
    from . import cli_models

    if cli_models.is_saved_export(target):
        return program_at(cli_models.graph_from_export(Path(target)), at, target)
    if cli_models.is_zoo_model(target):
        return program_at(cli_models.graph_from_zoo(target), at, target)
    if ":" in target or target.endswith(".py"):
        return _program_from_file(target, at)
    if target not in examples.EXAMPLES:
        raise UsageError(f"unknown example {target!r}; examples are: "
                         f"{', '.join(examples.EXAMPLES)} (or give path/to/file.py:function, "
                         f"a saved torch.export program model.pt2, or a model torch:NAME or "
                         f"jax:NAME listed by lagrange-ad examples)")
    return program_at(examples.get(target).graph, at, f"example {target!r}")


def program_at(graph, at: str | None, what: str) -> Program:
    """The program of ``graph`` at its recorded point, or at ``--at`` (one value per input)."""
    if at is None:
        return Program(graph)
    shapes = [graph.shape(i) for i in graph.inputs]
    names = [graph.names.get(int(i), f"v{i}") for i in graph.inputs]
    return Program(graph, *fit_to_inputs(parse_point(at, names), shapes, what))


def split_target(target: str) -> tuple[Path, str]:
    """``file.py:function`` as a path and a function name (``f`` when the name is omitted)."""
    if target.endswith(".py"):
        return Path(target), DEFAULT_FUNCTION
    path_text, _, name = target.rpartition(":")
    if not path_text.endswith(".py"):
        raise UsageError(f"{target!r} is neither an example nor path/to/file.py:function")
    return Path(path_text), name or DEFAULT_FUNCTION


def _program_from_file(target: str, at: str | None) -> Program:
    from . import cli_models

    path, name = split_target(target)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    spec = importlib.util.spec_from_file_location(f"lagrange_ad_user_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's module: any failure is reported in one line
        reason = cli_models.missing_library(exc) or f"{type(exc).__name__}: {exc}"
        raise UsageError(f"importing {path} failed: {reason}") from None
    function = getattr(module, name, None)
    if not callable(function):
        hint = "" if name != DEFAULT_FUNCTION or ":" in target else \
            " (file.py alone means file.py:f; name another function as file.py:function)"
        raise UsageError(f"{path} has no function {name!r}{hint}")
    model = None if at is not None else _model_of(function, name)
    if model is not None:
        return Program(cli_models.graph_from_pair(*model, f"the model of {name}()"))
    if at is not None:
        point = [float(x) if x.ndim == 0 else x for x in parse_point(at)]
    else:
        defaults = [p.default for p in inspect.signature(function).parameters.values()]
        if not defaults or any(d is inspect.Parameter.empty for d in defaults):
            raise UsageError(f"{name} needs a point: give --at with one value per argument, "
                             f"or default values for every argument")
        point = defaults
    try:
        return Program(trace(function, *point))
    except LagrangeADError:
        raise
    except Exception as exc:  # the user's function raised while being traced
        shown = ", ".join(_short(x) for x in point)
        raise UsageError(f"{name}({shown}) raised {type(exc).__name__}: {exc}") from None


def _model_of(function, name: str):
    """``(model, args)`` when ``function()`` (at its defaults) returns a model with its example
    inputs, else None (the function itself is then traced)."""
    from . import cli_models

    parameters = inspect.signature(function).parameters.values()
    if any(p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL,
                                                                    p.VAR_KEYWORD)
           for p in parameters):
        return None
    try:
        result = function()
    except Exception as exc:  # the user's function: reported in one line
        if parameters:
            return None  # tracing it at its defaults reports what goes wrong
        reason = cli_models.missing_library(exc) or f"{type(exc).__name__}: {exc}"
        raise UsageError(f"{name}() raised {reason}") from None
    model = cli_models.model_pair(result)
    if model is None and not parameters:
        raise UsageError(f"{name}() returned {type(result).__name__}; a function of no "
                         f"arguments must return (model, (example inputs...)): a torch.nn.Module "
                         f"or a JAX function with its inputs")
    return model


def _short(x) -> str:
    x = np.asarray(x)
    return f"{float(x):g}" if x.ndim == 0 else f"<array of shape {x.shape}>"


# ----------------------------------------------------------------------------- points


def parse_point(text: str, names: list[str] | None = None) -> list[np.ndarray]:
    """The float64 arrays of ``--at``: numbers, bracketed lists, ``.npy`` and ``.npz`` files.

    Examples
    --------
    >>> [x.tolist() for x in parse_point("[[1,2],[3,4]],0.5")]
    [[[1.0, 2.0], [3.0, 4.0]], 0.5]
    """
    values: list[np.ndarray] = []
    for item in _split_items(text):
        if item.endswith(".npy") or item.endswith(".npz"):
            values += _load_arrays(item, names)
        else:
            values.append(_literal(item, text))
    for value in values:
        if not np.all(np.isfinite(value)):
            raise UsageError(f"--at values must be finite numbers; got {text!r}")
    return values


def _split_items(text: str) -> list[str]:
    """``text`` cut at the commas outside brackets."""
    items, depth, start = [], 0, 0
    for k, char in enumerate(text):
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
            if depth < 0:
                break
        elif char == "," and depth == 0:
            items.append(text[start:k].strip())
            start = k + 1
    if depth != 0:
        raise UsageError(f"--at has unbalanced brackets: {text!r}")
    items.append(text[start:].strip())
    if any(not item for item in items):
        raise UsageError(f"--at has an empty item: {text!r} (give comma-separated numbers "
                         f"such as 2,-1,0)")
    return items


_NAMES = {"nan": np.nan, "inf": np.inf, "infinity": np.inf}


def _literal(item: str, text: str) -> np.ndarray:
    """A number or a nested bracketed list of numbers, as a float64 array."""
    bad = UsageError(f"--at needs comma-separated numbers such as 2,-1,0, bracketed arrays "
                     f"such as [[1,2],[3,4]], or .npy/.npz files; got {text!r}")
    try:
        tree = ast.parse(item, mode="eval").body
    except SyntaxError:
        raise bad from None
    # an explicit stack of (node, the list its value goes into): no recursion
    root: list = []
    stack = [(tree, root)]
    while stack:
        node, into = stack.pop()
        if isinstance(node, (ast.List, ast.Tuple)):
            inner: list = []
            into.append(inner)
            stack += [(element, inner) for element in reversed(node.elts)]
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
            into.append(sign * _scalar(node.operand, bad))
        else:
            into.append(_scalar(node, bad))
    try:
        return np.array(root[0], dtype=np.float64)
    except ValueError:
        raise UsageError(f"--at: the array {item} is ragged (rows of different lengths)") \
            from None


def _scalar(node, bad: UsageError) -> float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id.lower() in _NAMES:
        return _NAMES[node.id.lower()]
    raise bad


def _load_arrays(item: str, names: list[str] | None) -> list[np.ndarray]:
    path = Path(item)
    if not path.is_file():
        raise UsageError(f"--at: no such file: {path}")
    try:
        if path.suffix == ".npy":
            return [np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)]
        with np.load(path, allow_pickle=False) as data:
            keys = list(data.files)
            if names is not None and sorted(keys) == sorted(names):
                keys = names
            return [np.asarray(data[key], dtype=np.float64) for key in keys]
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"--at: cannot read {path} as float arrays: {exc}") from None


def fit_to_inputs(values: list[np.ndarray], shapes: list[tuple[int, ...]],
                  what: str, option: str = "--at") -> list[np.ndarray]:
    """``values`` shaped as the inputs: one value per input, or every entry flattened in order."""
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    # one value per input: its own shape, or flat with the right number of entries
    if len(values) == len(shapes) and all(v.shape == s or (v.ndim <= 1 and v.size == n)
                                          for v, s, n in zip(values, shapes, sizes)):
        return [np.reshape(v, s) for v, s in zip(values, shapes)]
    if all(v.ndim == 0 for v in values):
        if len(values) != sum(sizes):
            raise UsageError(f"{option} gives {len(values)} number(s) but {what} has {sum(sizes)} "
                             f"input entries (inputs of shapes {shapes})")
        cuts = np.cumsum([0] + sizes)
        flat = np.array(values, dtype=np.float64)
        return [np.reshape(flat[a:b], s) for a, b, s in zip(cuts, cuts[1:], shapes)]
    given = [tuple(v.shape) for v in values]
    raise UsageError(f"{option} gives values of shapes {given} but {what} has inputs of shapes "
                     f"{shapes}")


# ----------------------------------------------------------------------------- outputs


def writable_file(text: str, formats: tuple[str, ...], what: str) -> Path:
    """Check, before any work, that ``text`` names a file we can write in one of ``formats``."""
    path = Path(text)
    example = f"{what}.{formats[0]}"
    if text.endswith(("/", os.sep)) or path.is_dir():
        raise UsageError(f"{text} is a directory; give a file name such as "
                         f"{path / example}")
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in formats:
        raise UsageError(f"cannot tell the format of {text!r}: give a file name ending in "
                         f"{', '.join('.' + f for f in formats[:3])} (e.g. {example})")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {text}: {parent} is not an existing directory")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write {text}: permission denied")
    return path


def second_order_option(text: str) -> int:
    """``--order``: 1 or 2, else `UsageError`."""
    if text.strip() not in ("1", "2"):
        raise UsageError(f"--order must be 1 or 2; got {text!r}")
    return int(text)


def direction_for(program: Program, text: str) -> list[np.ndarray]:
    """``--direction``: one value per input (or every entry in order), shaped as the inputs."""
    graph = program.graph
    names = [graph.names.get(int(i), f"v{i}") for i in graph.inputs]
    shapes = [graph.shape(int(i)) for i in graph.inputs]
    return fit_to_inputs(parse_point(text, names), shapes, "the program", "--direction")
