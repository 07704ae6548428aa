"""lagrange_ad: backpropagation as the method of Lagrange multipliers.

A computation graph is the program ``max v_N s.t. v_i = x_i (inputs), v_i = p_i(v_Pa(i))``.
Its KKT system ``A^T lam = e_N`` (``A = I - J``) has the adjoints as its solution; every
schedule in ``la.SCHEDULES`` solves it, backpropagation (``"reverse"``) in one sweep.
"""

from . import examples
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
from .grad import grad
from .graph.builder import GraphBuilder
from .graph.graph import Graph
from .graph.unroll import Unrolled, unroll
from .jacobians.jacobian import jacobian
from .primitives import PRIMITIVES, Primitive
from .program.program import Program
from .program.vectors import NodeVector
from .schedules import SCHEDULES, Schedule, solve
from .schedules.solution import Solution, SolveStats
from .tracing.fixed_point import fixed_point
from .tracing.functions import (
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
from .tracing.tracer import Tracer, trace
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
