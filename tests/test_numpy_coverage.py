"""Which of numpy's callables trace: every ufunc and every function numpy dispatches to
``__array_function__`` either has a rule in the tables of ``numpy_tables`` or raises a named
library error on a traced value (never a raw numpy exception, never a silent result)."""

import importlib

import numpy as np
import pytest

import lagrange_ad as la
from lagrange_ad.errors import ControlFlowError, TracingError
from lagrange_ad.tracing import numpy_tables as tables

UFUNCS = sorted({getattr(np, name) for name in dir(np)
                 if isinstance(getattr(np, name), np.ufunc)}, key=lambda u: u.__name__)


def dispatched_functions() -> dict:
    """numpy's public functions that dispatch on ``__array_function__``, by qualified name."""
    found = {}
    for module in (np, np.linalg, np.fft):
        for name in sorted(dir(module)):
            function = getattr(module, name)
            if callable(function) and hasattr(function, "_implementation") and \
                    not isinstance(function, np.ufunc):
                found.setdefault(function, f"{module.__name__}.{name}")
    return found


FUNCTIONS = dispatched_functions()
LINALG = importlib.import_module("lagrange_ad.linalg")


def served(function, name: str) -> str:
    """'traced' (a rule), 'plain' (a test with the same answer at every point), 'decision'
    (ControlFlowError) or 'refused' (TracingError)."""
    if name.startswith("numpy.linalg."):
        return "traced" if hasattr(LINALG, function.__name__) else "refused"
    if function in tables.ARRAY_FUNCTIONS:
        return "traced"
    if function in tables.VALUE_FUNCTIONS:
        return "plain"
    if function in tables.DECIDING_FUNCTIONS:
        return "decision"
    return "refused"


def test_most_of_numpy_traces():
    kinds = [served(f, name) for f, name in FUNCTIONS.items()]
    traced_ufuncs = [u for u in UFUNCS if u in tables.UFUNCS or u in tables.VALUE_UFUNCS]
    # floors, not exact counts: adding rules only raises them
    assert kinds.count("traced") >= 175 and len(traced_ufuncs) >= 78
    assert kinds.count("decision") >= 25


@pytest.mark.parametrize("name", [name for f, name in FUNCTIONS.items()
                                  if served(f, name) in ("decision", "refused")])
def test_a_function_without_a_rule_raises_a_named_error(name):
    function = next(f for f, n in FUNCTIONS.items() if n == name)
    expected = ControlFlowError if served(function, name) == "decision" else TracingError

    def f(x):
        with pytest.raises(expected, match=r"numpy"):
            tables.array_function(function, (x,), {})
        return la.sum(x)

    la.trace(f, np.ones(3))


@pytest.mark.parametrize("ufunc", [u for u in UFUNCS if u not in tables.UFUNCS
                                   and u not in tables.VALUE_UFUNCS],
                         ids=lambda u: u.__name__)
def test_a_ufunc_without_a_rule_raises_a_named_error(ufunc):
    def f(x):
        with pytest.raises(TracingError, match=rf"numpy.{ufunc.__name__} cannot be traced"):
            tables.array_ufunc(ufunc, "__call__", (x,) * ufunc.nin, {})
        return la.sum(x)

    la.trace(f, np.ones(3))


def test_writing_functions_say_traced_values_are_immutable():
    def f(x):
        with pytest.raises(TracingError, match=r"numpy.put writes into an array; .* np.where"):
            np.put(x, [0], [1.0])
        return la.sum(x)

    la.trace(f, np.ones(3))
