"""Compiled forward propagation of scalar graphs, generated from the primitive registry.

For a graph whose nodes are all scalars and whose primitives are elementwise, one compiled
loop in topological order computes every value and every local partial:

    v_i = p_i(v_Pa(i)),      J[i, Pa(i)] = partials_i(v_i, v_Pa(i)).

The loop is not written by hand: its source is generated from the registry, one branch per
elementwise primitive calling that primitive's own ``evaluate`` and ``partials`` rules, so a
primitive is still defined in one place (inside the loop the rules see every operand as a
scalar, so their ``np.where`` is a plain select). Constants and exponents are read from the
graph's small parameter table, so nothing per node is prepared in Python. The generated
module is written to a cache directory and compiled by numba with on-disk caching, so the
compilation cost is paid once per machine.
Domain checks do not run inside the loop: a point outside a domain shows up as a NaN or an
infinity, and then the checked Python loop is run instead to report it by name.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import types
from functools import cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..graph.graph import Graph
from ..primitives import PRIMITIVES
from ..program.analysis import per_graph
from ..program.values import Forward, Reads
from ..program.vectors import NodeVector, all_finite
from .dispatch import Accelerator, register_accelerator
from .kernels import distinct_columns
from .scalar_graphs import is_scalar_graph

try:
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is absent
    numba = None


def compilable(name: str) -> bool:
    """Whether a primitive can run in the compiled loop: elementwise, at most an exponent."""
    primitive = PRIMITIVES[name]
    return (primitive.compiled and primitive.partials is not None and primitive.arity in (1, 2)
            and set(primitive.param_names) <= {"exponent"})


# the loop's codes: 0 for an input (nothing to compute), 1 for a constant, then one per primitive
INPUT, CONST, FIRST_PRIMITIVE = 0, 1, 2


def _source(names: tuple[str, ...]) -> str:
    lines = [
        "import numba",
        "import numpy as np",
        "from lagrange_ad.accel.compiled import rule",
        "",
    ]
    for code, name in enumerate(names, start=FIRST_PRIMITIVE):
        lines.append(f"E{code} = rule({name!r}, 'evaluate')")
        lines.append(f"P{code} = rule({name!r}, 'partials')")
    lines += _loop("forward", names, with_partials=True)
    lines += _loop("values", names, with_partials=False)
    return "\n".join(lines) + "\n"


def _loop(function: str, names: tuple[str, ...], with_partials: bool) -> list[str]:
    """One loop over the nodes, a branch per primitive; with or without the partials.

    Two loops rather than one with a flag: when a rule and its partials sit in one branch
    without a test between them, the compiler can share their work (sin and cos of one
    operand become one sincos).
    """
    arguments = "order, op, code, ptr, idx, param_id, param_value, v"
    lines = [
        "",
        "",
        "@numba.njit(cache=True, nogil=True, error_model='numpy')",
        f"def {function}({arguments}{', partials' if with_partials else ''}):",
        "    for k in range(order.shape[0]):",
        "        i = order[k]",
        "        o = code[op[i]]",
        "        e = ptr[i]",
        f"        if o == {INPUT}:",
        "            continue",
        f"        elif o == {CONST}:",
        "            v[i] = param_value[param_id[i]]",
    ]
    for code, name in enumerate(names, start=FIRST_PRIMITIVE):
        primitive = PRIMITIVES[name]
        xs = ", ".join(f"x{k}" for k in range(primitive.arity))
        extra = ", param_value[param_id[i]]" if "exponent" in primitive.param_names else ""
        lines.append(f"        elif o == {code}:  # {name}")
        lines += [f"            x{k} = v[idx[e + {k}]]" for k in range(primitive.arity)]
        lines.append(f"            a = E{code}({xs}{extra})")
        if with_partials:
            lines.append(f"            d = P{code}(a, {xs}{extra})")
            lines += [f"            partials[e + {k}] = d[{k}]" for k in range(primitive.arity)]
        lines.append("            v[i] = a")
    lines += [
        "        if not np.isfinite(v[i]):",
        "            return i",
        "    return -1",
    ]
    return lines


@cache
def _numpy_on_scalars() -> types.ModuleType:
    """numpy as the rules see it inside the loop, where every operand is a scalar.

    On scalars ``np.where`` is a plain select. numba's own ``np.where`` returns a 0-d array,
    an allocation per node that costs more than the rule itself (sigmoid, maximum, minimum).
    """
    module = types.ModuleType("numpy_on_scalars")
    module.__dict__.update(vars(np))
    module.where = numba.njit(inline="always")(lambda condition, x, y: x if condition else y)
    return module


def rule(name: str, which: str):
    """A primitive's rule as something numba can call from the generated loop."""
    function = getattr(PRIMITIVES[name], which)
    if isinstance(function, types.FunctionType):
        # the same code, reading ``np`` as numpy on scalars
        scalar = types.FunctionType(function.__code__,
                                    {**function.__globals__, "np": _numpy_on_scalars()},
                                    function.__name__, function.__defaults__,
                                    function.__closure__)
        return numba.njit(cache=False, error_model="numpy")(scalar)
    return function  # numpy ufuncs are understood by numba as they are


def _rule_sources(names: tuple[str, ...]) -> str:
    """The text of every module defining a rule of the loop: a changed rule changes the key."""
    files = []
    for name in names:
        for which in ("evaluate", "partials"):
            function = getattr(PRIMITIVES[name], which)
            path = getattr(getattr(function, "__code__", None), "co_filename", None)
            if path is not None and path not in files:
                files.append(path)
    texts = []
    for path in files:
        try:
            texts.append(Path(path).read_text())
        except OSError:  # pragma: no cover - rules defined without a source file
            texts.append(path)
    return "\n".join(texts)


def _cache_dir() -> Path:
    base = os.environ.get("LAGRANGE_AD_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "lagrange_ad")
    path = Path(base)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError:
        path = Path(tempfile.gettempdir()) / f"lagrange_ad-{os.getuid()}"
        path.mkdir(parents=True, exist_ok=True)
    return path


@cache
def kernel_names() -> tuple[str, ...]:
    """The primitives of the compiled loop: those compilable when it is first needed.

    A primitive registered later runs in the checked Python loop instead.
    """
    return tuple(name for name in PRIMITIVES if compilable(name))


@cache
def _kernel():
    """The compiled loops (values and partials; values only) and the primitives they know.

    The names are in code order, from `FIRST_PRIMITIVE` on.
    """
    names = kernel_names()
    source = _source(names)
    key = source + numba.__version__ + _rule_sources(names)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    path = _cache_dir() / f"forward_{digest}.py"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(source)
        partial.replace(path)
    spec = importlib.util.spec_from_file_location(f"lagrange_ad_forward_{digest}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.forward, module.values, names


def available(graph: Graph) -> bool:
    """Whether `forward_scalar` can run this graph."""
    if numba is None or not is_scalar_graph(graph) or not graph.is_acyclic:
        return False
    known = kernel_names()
    return all(name in known or name in ("input", "const") for name in graph.op_names)


def forward_scalar(graph: Graph, point,
                   with_partials: bool = True) -> tuple[np.ndarray, np.ndarray] | None:
    """Values and edge partials of a scalar graph, or None when a value is not finite.

    ``partials[e]`` is ``d v_i / d v_parent_idx[e]`` for the edges of node i, so the local
    Jacobian is the CSR matrix ``(partials, parent_idx, parent_ptr)``. With
    ``with_partials=False`` only the values are computed (the partials stay zero): the
    forward evaluation alone, against which the cost of the gradient is measured.
    """
    forward, values, names = _kernel()
    code_of = {name: code for code, name in enumerate(names, start=FIRST_PRIMITIVE)}
    code_of["const"] = CONST
    # small tables indexed inside the loop, so that nothing per node is made here
    code = np.array([code_of.get(name, INPUT) for name in graph.op_names], np.int64)
    param_value = np.array([_scalar_param(params) for params in graph.param_table], np.float64)
    v = np.zeros(len(graph))
    v[:graph.n_inputs] = [float(x) for x in point]
    partials = np.zeros(graph.parent_idx.size)
    arguments = (graph.topological_order(), graph.op, code, graph.parent_ptr, graph.parent_idx,
                 graph.param_id, param_value, v)
    stopped = forward(*arguments, partials) if with_partials else values(*arguments)
    if stopped >= 0 or not all_finite(partials):
        return None
    return v, partials


def _scalar_param(params) -> float:
    """The one number of a parameter set the loop reads: a constant's value or an exponent."""
    for key in ("value", "exponent"):
        if key in params:
            return float(params[key])
    return 0.0


@per_graph
def distinct_parents(graph: Graph) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Parent lists without repeats, or None when no node uses a parent twice.

    ``(ptr, idx, slot)``: node i's distinct parents are ``idx[ptr[i]:ptr[i + 1]]``, and
    edge e (an entry of ``parent_idx``) is ``slot[e]`` among them; ``x * x`` has one.
    """
    ptr, idx, slot, repeated = distinct_columns(graph.parent_ptr, graph.parent_idx)
    return (ptr, idx, slot) if repeated else None


def edge_jacobian(graph: Graph, partials: np.ndarray) -> sp.csr_array:
    """J of a scalar graph from its edge partials: rows and columns are node indices.

    A node using one parent twice (``x * x``) has its two partials summed into one entry.
    """
    ptr, idx = graph.parent_ptr, graph.parent_idx
    if distinct_parents(graph) is not None:
        ptr, idx, slot = distinct_parents(graph)
        partials = np.bincount(slot, weights=partials, minlength=idx.size)
    return sp.csr_array((partials, idx, ptr), shape=(len(graph), len(graph)), copy=False)


def forward(graph: Graph, point, fixed_point, reads: Reads) -> Forward | None:
    """The task ``"forward"``: values (and, when read, partials) by the compiled loop, or
    None when one is not finite (the checked loop then names the node)."""
    result = forward_scalar(graph, point, with_partials=reads.partials)
    if result is None:
        return None
    values, partials = result
    jacobian = (lambda: edge_jacobian(graph, partials)) if reads.partials else None
    return Forward(NodeVector(graph, values, copy=False), (), jacobian)


COMPILED_FORWARD = register_accelerator(Accelerator(
    name="compiled-forward",
    task="forward",
    serves=lambda graph, reads: available(graph),
    run=forward,
    doc="Scalar DAGs of elementwise primitives: one compiled loop computes every value and "
        "every local partial.",
))
