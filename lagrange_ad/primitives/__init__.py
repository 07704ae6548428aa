"""The primitive registry, filled by importing each family of primitives."""

from . import arrays, elementwise, linalg, reductions, scans, special  # noqa: F401  (registration)
from .registry import PRIMITIVES, Block, Primitive, lookup, register
from .structure import dense_jacobian

__all__ = ["PRIMITIVES", "Block", "Primitive", "dense_jacobian", "lookup", "register"]
