"""Named programs with known answers, usable from Python and the command line by name.

Each example is a graph with a point and, where one exists, the closed form of its value and
gradient, so every schedule can be checked against it. ``EXAMPLES`` maps names to factories;
``get(name, **options)`` builds one.
"""

from .basic import domke, domke_function, lecture, lecture_function, random_dag
from .cyclic import equilibrium, fixed_cos, jacobi_solve, pagerank
from .models import hmm, loglinear, mlp, pcfg
from .numpy_programs import crf, gaussian_process, logistic, transformer
from .registry import EXAMPLES, Example, example, get
from .structure import fully_connected

__all__ = [
    "EXAMPLES", "Example", "crf", "domke", "domke_function", "equilibrium", "example",
    "fixed_cos", "fully_connected", "gaussian_process", "get", "hmm", "jacobi_solve", "lecture",
    "lecture_function", "logistic", "loglinear", "mlp", "pagerank", "pcfg", "random_dag",
    "transformer",
]
