"""Schedules: interchangeable ways of solving ``A^T lam = e_N``, registered by name."""

from . import convex, direct, dual, forward, krylov, nlp, paths, reverse, sweeps, unrolled  # noqa: F401  (registration)
from .registry import SCHEDULES, Outcome, Schedule, get_schedule, register_schedule, solve

__all__ = ["SCHEDULES", "Outcome", "Schedule", "get_schedule", "register_schedule", "solve"]
