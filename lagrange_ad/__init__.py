"""lagrange_ad: backpropagation as the method of Lagrange multipliers.

A computation graph is the program ``max v_N s.t. v_i = x_i (inputs), v_i = p_i(v_Pa(i))``.
Its KKT system ``A^T lam = e_N`` (``A = I - J``) has the adjoints as its solution; every
schedule in ``la.SCHEDULES`` solves it, backpropagation (``"reverse"``) in one sweep.
"""

from . import examples
from .builder import GraphBuilder
from .compare import Comparison, ComparisonRow, compare
from .errors import (
                     CheckpointError,
                     ConvergenceError,
                     CyclicGraphError,
                     DomainError,
                     EliminationOrderError,
                     GraphError,
                     LagrangeADError,
                     MethodNotApplicableError,
                     NonFiniteError,
                     NonScalarOutputError,
                     ShapeError,
                     SingularKKTError,
                     UnknownMethodError,
                     UnknownPrimitiveError,
)
from .functions import (
                     abs,
                     add,
                     concatenate,
                     cos,
                     divide,
                     dot,
                     exp,
                     log,
                     log_softmax,
                     logsumexp,
                     matmul,
                     maximum,
                     mean,
                     minimum,
                     multiply,
                     negative,
                     power,
                     relu,
                     reshape,
                     sigmoid,
                     sin,
                     softmax,
                     sqrt,
                     square,
                     stack,
                     subtract,
                     sum,
                     tan,
                     tanh,
                     transpose,
)
from .grad import grad
from .graph import Graph
from .implicit import fixed_point
from .jacobian import jacobian
from .primitives import PRIMITIVES, Primitive
from .program import Program
from .schedules import SCHEDULES, Schedule, solve
from .solution import Solution, SolveStats
from .trace import Tracer, trace
from .unroll import Unrolled, unroll
from .vectors import NodeVector
from .verify import Check, VerificationReport, verify

__version__ = "0.1.0"

__all__ = [
    "PRIMITIVES", "SCHEDULES", "ConvergenceError", "CyclicGraphError", "DomainError", "Graph",
    "GraphBuilder", "GraphError", "LagrangeADError", "MethodNotApplicableError", "NodeVector",
    "NonFiniteError", "NonScalarOutputError", "Primitive", "Program", "Schedule", "ShapeError",
    "Solution", "SolveStats", "Tracer", "UnknownMethodError", "UnknownPrimitiveError", "abs",
    "add", "concatenate", "cos", "divide", "dot", "examples", "exp", "grad", "jacobian", "log",
    "log_softmax", "logsumexp", "matmul", "maximum", "mean", "minimum", "multiply", "negative",
    "power", "relu", "reshape", "sigmoid", "sin", "softmax", "solve", "sqrt", "square", "stack",
    "subtract", "sum", "tan", "tanh", "trace", "transpose",
    "Check", "Comparison", "ComparisonRow", "VerificationReport", "compare", "verify",
    "CheckpointError", "EliminationOrderError", "SingularKKTError", "Unrolled", "fixed_point",
    "unroll",
]
