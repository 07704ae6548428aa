"""Compiled forward propagation of scalar graphs, generated from the primitive registry.

For a graph whose nodes are all scalars and whose primitives are elementwise, one compiled
loop in topological order computes every value and every local partial:

    v_i = p_i(v_Pa(i)),      J[i, Pa(i)] = partials_i(v_i, v_Pa(i)).

The loop is not written by hand: its source is generated from the registry, one branch per
elementwise primitive calling that primitive's own ``evaluate`` and ``partials`` rules, so a
primitive is still defined in one place. The generated module is written to a cache directory
and compiled by numba with on-disk caching, so the compilation cost is paid once per machine.
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

from .graph import Graph
from .primitives import PRIMITIVES

try:
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is absent
    numba = None


def compilable(name: str) -> bool:
    """Whether a primitive can run in the compiled loop: elementwise, at most an exponent."""
    primitive = PRIMITIVES[name]
    return (primitive.partials is not None and primitive.arity in (1, 2)
            and set(primitive.param_names) <= {"exponent"})


def _source(names: tuple[str, ...]) -> str:
    lines = [
        "import numba",
        "import numpy as np",
        "from lagrange_ad.compiled import rule",
        "",
    ]
    for code, name in enumerate(names, start=1):
        lines.append(f"E{code} = rule({name!r}, 'evaluate')")
        lines.append(f"P{code} = rule({name!r}, 'partials')")
    lines += [
        "",
        "",
        "@numba.njit(cache=True, nogil=True, error_model='numpy')",
        "def forward(order, op, ptr, idx, exponent, v, partials, with_partials):",
        "    for k in range(order.shape[0]):",
        "        i = order[k]",
        "        o = op[i]",
        "        e = ptr[i]",
        "        if o == 0:",
        "            continue",
    ]
    for code, name in enumerate(names, start=1):
        primitive = PRIMITIVES[name]
        xs = ", ".join(f"v[idx[e + {k}]]" for k in range(primitive.arity))
        extra = ", exponent[i]" if "exponent" in primitive.param_names else ""
        lines += [
            f"        elif o == {code}:  # {name}",
            f"            a = E{code}({xs}{extra})",
            "            v[i] = a",
            "            if with_partials:",
            f"                d = P{code}(a, {xs}{extra})",
        ]
        lines += [f"                partials[e + {k}] = d[{k}]" for k in range(primitive.arity)]
    lines += [
        "        if not np.isfinite(v[i]):",
        "            return i",
        "    return -1",
        "",
    ]
    return "\n".join(lines)


def rule(name: str, which: str):
    """A primitive's rule as something numba can call from the generated loop."""
    function = getattr(PRIMITIVES[name], which)
    if isinstance(function, types.FunctionType):
        return numba.njit(cache=False, error_model="numpy")(function)
    return function  # numpy ufuncs are understood by numba as they are


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
    """The compiled loop and the primitive names it knows, in code order (codes from 1)."""
    names = kernel_names()
    source = _source(names)
    digest = hashlib.sha256((source + numba.__version__).encode()).hexdigest()[:16]
    path = _cache_dir() / f"forward_{digest}.py"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(source)
        partial.replace(path)
    spec = importlib.util.spec_from_file_location(f"lagrange_ad_forward_{digest}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.forward, names


def available(graph: Graph) -> bool:
    """Whether `forward_scalar` can run this graph."""
    if numba is None or graph.shape_table != ((),) or not graph.is_acyclic:
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
    forward, names = _kernel()
    code_of = {name: code for code, name in enumerate(names, start=1)}
    codes = np.array([code_of.get(name, 0) for name in graph.op_names], np.int64)
    op = codes[graph.op]
    n = len(graph)
    v = np.zeros(n)
    v[:graph.n_inputs] = [float(x) for x in point]
    exponent = np.zeros(n)
    for k, params in enumerate(graph.param_table):
        nodes = None
        for key, value in params.items():
            if key in ("value", "exponent"):
                nodes = np.flatnonzero(graph.param_id == k) if nodes is None else nodes
                target = v if key == "value" else exponent
                target[nodes] = float(value)
    partials = np.zeros(graph.parent_idx.size)
    stopped = forward(graph.topological_order(), op, graph.parent_ptr, graph.parent_idx,
                      exponent, v, partials, with_partials)
    if stopped >= 0 or not np.all(np.isfinite(partials)):
        return None
    return v, partials
