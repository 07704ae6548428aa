"""Scope paths: which part of a model (``"layers.0.self_attn"``) recorded each node.

The path in force is a stack of names joined with ``"."``. Entering or leaving a scope tells
every open `GraphBuilder` how many nodes it holds at that moment (a *mark*); a builder turns
its marks into one scope per node when it is frozen. Nodes are therefore labelled without any
work per node, also by the fast recording paths that append to a builder's columns directly.
The public context manager is ``la.scope`` (`lagrange_ad.tracing.scope`).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

from ..errors import LagrangeADError

# the names of the scopes entered and not yet left, outermost first
_stack: list[str] = []
# every builder that may still record nodes (a builder is gone once its graph is built and
# nothing holds it)
_builders: weakref.WeakSet = weakref.WeakSet()


def current() -> str:
    """The scope path in force, ``""`` outside every scope."""
    return ".".join(_stack)


def listen(builder) -> None:
    """Tell ``builder`` of every later change of scope (through its ``mark_scope``)."""
    _builders.add(builder)


def enter(name: str) -> None:
    """Open the scope ``name`` inside the current one."""
    if not isinstance(name, str) or not name or name.strip(".") != name or ".." in name:
        raise LagrangeADError(f"a scope name must be a non-empty string such as 'encoder' or "
                              f"'layers.0' (no leading, trailing or doubled dots); got {name!r}")
    _stack.append(name)
    _mark()


def leave() -> None:
    """Close the innermost scope."""
    _stack.pop()
    _mark()


def _mark() -> None:
    path = current()
    for builder in list(_builders):
        builder.mark_scope(path)


def expand(marks: Sequence[tuple[int, str]], count: int) -> dict[int, str]:
    """Per node, the path of the last mark at or before it: ``{node: path}`` (unscoped left out).

    ``marks`` are ``(node count when the scope changed, path from then on)``, in order.
    """
    scopes: dict[int, str] = {}
    for k, (start, path) in enumerate(marks):
        stop = marks[k + 1][0] if k + 1 < len(marks) else count
        if path and start < stop:
            scopes.update(dict.fromkeys(range(start, min(stop, count)), path))
    return scopes
