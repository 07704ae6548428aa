"""Comparisons, logical operations and the selection they drive: masks as nodes of the graph.

A comparison ``x > y`` is the row ``greater``, whose value is the float64 mask
``1.0 where x > y, else 0.0``; logical operations read their operands as truth values
(nonzero is true) and give masks too. Every one is constant between its jumps, so its
derivative is zero (`structure.piecewise_constant`). Because the mask is a node, replaying a
graph at another point recomputes it.

``switch(c, x, y)`` is numpy's ``where`` with the condition a node: ``x`` where ``c`` is
nonzero, else ``y`` (operands broadcast). Entrywise

    d switch / d x = [c != 0],      d switch / d y = [c == 0],      d switch / d c = 0,

piecewise linear, so no curvature. The row ``where`` (`arrays`) takes a constant mask as a
parameter instead.
"""

from __future__ import annotations

import numpy as np

from .structure import elementwise, piecewise_constant

ZERO = np.float64(0.0)


def _mask(test):
    """The evaluation of a mask row: numpy's boolean ``test`` as float64 0/1."""
    def evaluate(*xs):
        return np.asarray(test(*xs), dtype=np.float64)
    evaluate.__name__ = test.__name__
    return evaluate


COMPARISONS = {
    "less": (np.less, "<"), "less_equal": (np.less_equal, "<="),
    "greater": (np.greater, ">"), "greater_equal": (np.greater_equal, ">="),
    "equal": (np.equal, "=="), "not_equal": (np.not_equal, "!="),
}
LOGICAL = {"logical_and": np.logical_and, "logical_or": np.logical_or,
           "logical_xor": np.logical_xor}

for _name, (_test, _symbol) in COMPARISONS.items():
    piecewise_constant(_name, _mask(_test), arity=2, template=f"{{0}} {_symbol} {{1}}",
                       compiled=False)
for _name, _test in LOGICAL.items():
    piecewise_constant(_name, _mask(_test), arity=2, compiled=False)
piecewise_constant("logical_not", _mask(np.logical_not), compiled=False)
piecewise_constant("signbit", _mask(np.signbit), compiled=False)

# the rows whose values are masks (0.0 or 1.0): indexing by one of them is boolean indexing
MASK_ROWS = (*COMPARISONS, *LOGICAL, "logical_not", "signbit")


def _switch(c, x, y):
    return np.where(c != 0, x, y)


def _switch_partials(ans, c, x, y):
    taken = np.asarray(c != 0, dtype=np.float64)
    return (ZERO, taken, 1.0 - taken)


elementwise("switch", 3, _switch, _switch_partials, reads=("operands",), linear=True,
            compiled=False)
