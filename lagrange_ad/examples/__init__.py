"""Named programs with known answers, usable from Python and the command line by name.

Each example is a graph with a point and, where one exists, the closed form of its value and
gradient, so every schedule can be checked against it. ``EXAMPLES`` maps names to factories;
``get(name, **options)`` builds one.
"""

from .basic import domke, domke_function, lecture, lecture_function, random_dag
from .cyclic import equilibrium, fixed_cos, jacobi_solve, pagerank
from .registry import EXAMPLES, Example, example, get

__all__ = [
    "EXAMPLES", "Example", "domke", "domke_function", "equilibrium", "example", "fixed_cos",
    "get", "jacobi_solve", "lecture", "lecture_function", "pagerank", "random_dag",
]
