"""lagrange_ad: backpropagation as the method of Lagrange multipliers.

A computation graph is the program ``max v_N s.t. v_i = x_i (inputs), v_i = p_i(v_Pa(i))``.
Its KKT system ``A^T lam = e_N`` (``A = I - J``) has the adjoints as its solution; every
schedule in ``la.SCHEDULES`` solves it, backpropagation (``"reverse"``) in one sweep.
"""

from . import examples, linalg
from .accel.dispatch import use_reference
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
                     UnsupportedOperationError,
)
from .grad import grad
from .graph.builder import GraphBuilder
from .graph.graph import Graph
from .graph.unroll import Unrolled, unroll
from .hessian import hessian, hvp
from .importers.jaxpr import from_jax
from .importers.torch_export import from_torch
from .jacobians.jacobian import jacobian
from .primitives import PRIMITIVES, Primitive
from .program.program import Program
from .program.vectors import NodeVector
from .schedules import SCHEDULES, Schedule, solve
from .schedules.solution import Solution, SolveStats
from .tracing import functions as _functions
from .tracing.fixed_point import fixed_point
from .tracing.functions import *  # noqa: F403  (the la. functions, by numpy's names)
from .tracing.scope import scope
from .tracing.tracer import Tracer, trace  # after the functions: la.trace traces
from .verify import Check, VerificationReport, verify

__version__ = "0.1.0"

__all__ = [
    "Check", "CheckpointError", "Comparison", "ComparisonRow", "ConvergenceError",
    "CyclicGraphError", "DomainError", "EliminationOrderError", "Graph", "GraphBuilder",
    "GraphError", "LagrangeADError", "MethodNotApplicableError", "NodeVector", "NonFiniteError",
    "NonScalarOutputError", "PRIMITIVES", "Primitive", "Program", "SCHEDULES", "Schedule",
    "ShapeError", "SingularKKTError", "Solution", "SolveStats", "Tracer", "UnknownMethodError",
    "UnknownPrimitiveError", "Unrolled", "VerificationReport", "compare", "examples",
    "fixed_point", "grad", "hessian", "hvp", "jacobian", "linalg", "solve", "trace", "unroll",
    "use_reference", "verify",
    "UnsupportedOperationError", "from_jax", "from_torch",
    "scope",
    *(name for name in _functions.__all__ if name != "trace"),
]
