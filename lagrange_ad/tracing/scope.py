"""``la.scope``: label the nodes recorded in a block with the part of the model they belong to."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..graph import scopes


@contextlib.contextmanager
def scope(name: str) -> Iterator[str]:
    """Label every node recorded inside the block with the scope path ``name``.

    Scopes nest: inside ``scope("encoder")``, ``scope("layers.0")`` labels nodes
    ``"encoder.layers.0"``. The labels are the graph's ``scopes`` (node index to path); they
    change no value and no multiplier, and ``lagrange-ad show`` draws the nodes of one scope
    together (one Graphviz cluster per scope).

    Parameters
    ----------
    name : str
        A non-empty name, which may itself be a dotted path (``"layers.0.self_attn"``).

    Yields
    ------
    str
        The full scope path in force inside the block.

    Examples
    --------
    >>> import lagrange_ad as la
    >>> def f(x, w):
    ...     with la.scope("layer"):
    ...         with la.scope("linear"):
    ...             h = w * x
    ...         y = la.tanh(h)
    ...     return y * y
    >>> graph = la.trace(f, 0.5, 2.0)
    >>> graph.scopes
    {2: 'layer.linear', 3: 'layer'}
    """
    scopes.enter(name)
    try:
        yield scopes.current()
    finally:
        scopes.leave()
