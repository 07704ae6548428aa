"""The lecture's fully connected graph, where the number of paths grows as 2^(n-2).

Nodes ``v_1, ..., v_n`` with ``v_1 = x`` and every later node a function of all the nodes
before it:

    v_k = sin(m_k),    m_k = (v_1 + ... + v_{k-1}) / (k - 1)        (k = 2, ..., n).

A path from ``v_1`` to ``v_n`` is fixed by the set of intermediate nodes it visits, any subset
of ``{v_2, ..., v_{n-1}}``, so there are ``2^(n-2)`` of them (equivalently
``P(k) = P(1) + ... + P(k-1)`` with ``P(1) = 1``). Summing products of partials over paths is
therefore exponential, while the reverse sweep does one multiply-add per edge, n(n-1)/2 of them.

The independent derivative is forward mode written out by hand: with ``d_k = d v_k / d x``,

    d_1 = 1,    d_k = cos(m_k) (d_1 + ... + d_{k-1}) / (k - 1).
"""

from __future__ import annotations

import numpy as np

from ..errors import LagrangeADError
from ..tracing import functions as la
from ..tracing.tracer import trace
from .registry import Example, example


def _fully_connected_numpy(n: int, x: float) -> tuple[float, float]:
    """``v_n`` by a plain forward pass and ``d v_n / d x`` by the forward-mode recurrence."""
    v, d = [x], [1.0]
    for k in range(1, n):
        m = sum(v) / k
        d.append(np.cos(m) * sum(d) / k)
        v.append(np.sin(m))
    return float(v[-1]), float(d[-1])


@example
def fully_connected(n: int = 8, x: float = 0.5) -> Example:
    """The lecture's fully connected graph: v_k = sin(mean(v_1..v_{k-1})), 2^(n-2) paths.

    Each node ``v_k`` (k >= 2) is recorded as three nodes, ``stack`` of all earlier nodes,
    their ``mean`` and ``sin``, so an edge ``v_j -> v_k`` of the lecture's graph is a chain of
    single scalar edges and the paths are the lecture's:
    ``data["paths"] = 2^(n-2)`` paths from the input to the output. Counting every path that ends
    at the output, from every scalar entry (the empty path included), as the ``"paths"``
    schedule enumerates them, gives ``data["all_paths"] = 2^n + 2^(n-2) - 1``.

    Parameters
    ----------
    n : int
        Number of lecture nodes, at least 2.
    x : float
        The input ``v_1``.

    Examples
    --------
    >>> import lagrange_ad as la
    >>> example = la.examples.fully_connected(n=8)
    >>> example.data["paths"], la.solve(example.program(), "paths").stats.extra["paths"]
    (64, 319)
    """
    if n < 2:
        raise LagrangeADError(f"fully_connected needs n >= 2 nodes; got n={n}")

    def function(x):
        nodes = [x]
        for _ in range(1, n):
            nodes.append(la.sin(la.mean(la.stack(nodes))))
        return nodes[-1]

    value, derivative = _fully_connected_numpy(n, float(x))
    return Example(
        name="fully_connected",
        summary=f"fully connected graph of {n} nodes: {2 ** (n - 2)} input-output paths",
        graph=trace(function, x),
        value=value,
        gradient=(np.array(derivative),),
        function=function,
        data={"paths": 2 ** (n - 2), "all_paths": 2**n + 2 ** (n - 2) - 1},
    )
