"""Schedules: interchangeable ways of solving ``A^T lam = e_N``, registered by name.

Importing a schedule module registers it; the order below is the order in which listings and
comparisons show them, from backpropagation to the exotic.
"""

from importlib import import_module

from .registry import SCHEDULES, Outcome, Schedule, get_schedule, register_schedule, solve

for _module in ("backprop", "forward", "sweeps", "direct", "krylov", "convex", "nlp", "dual",
                "paths", "unrolled"):
    import_module(f"{__name__}.{_module}")

__all__ = ["SCHEDULES", "Outcome", "Schedule", "get_schedule", "register_schedule", "solve"]
