"""The `Example` record and the registry of named examples."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import LagrangeADError
from ..graph.graph import Graph
from ..program.program import Program


@dataclass(frozen=True)
class Example:
    """A graph at a point with its known value and gradient.

    Attributes
    ----------
    name : str
        The key in ``EXAMPLES``, and the name the command line takes.
    summary : str
    graph : Graph
        The graph; its recorded point is the example's point.
    value : float or None
        The closed-form value of the output at the point.
    gradient : tuple of ndarray or None
        The closed-form gradient at the point.
    function : callable or None
        The traced Python function, for finite differences and other AD libraries.
    data : mapping
        Constants of the example that a check may need (weights, targets).
    """

    name: str
    summary: str
    graph: Graph
    value: float | None = None
    gradient: tuple[np.ndarray, ...] | None = None
    function: Callable | None = field(default=None, repr=False)
    data: dict = field(default_factory=dict, repr=False)

    @property
    def point(self) -> tuple[np.ndarray, ...]:
        """The input values."""
        return self.graph.point

    def program(self) -> Program:
        """The example's program at its point."""
        return Program(self.graph)


EXAMPLES: dict[str, Callable[..., Example]] = {}


def example(factory: Callable[..., Example]) -> Callable[..., Example]:
    """Register an example factory under its function name."""
    EXAMPLES[factory.__name__] = factory
    return factory


def get(name: str, **options) -> Example:
    """The example called ``name``, built with ``options``."""
    try:
        factory = EXAMPLES[name]
    except KeyError:
        raise LagrangeADError(f"unknown example {name!r}; examples are: "
                              f"{', '.join(EXAMPLES)}") from None
    return factory(**options)
