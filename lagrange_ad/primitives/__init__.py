"""The primitive registry, filled by importing each family of primitives."""

from . import (  # noqa: F401  (registration)
    arrays,
    convolution,
    einsum,
    elementwise,
    linalg,
    reductions,
    scans,
    special,
)
from .registry import PRIMITIVES, Block, Primitive, lookup, register
from .structure import dense_jacobian

__all__ = ["PRIMITIVES", "Block", "Primitive", "dense_jacobian", "lookup", "register"]
