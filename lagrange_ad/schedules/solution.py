"""What every schedule returns: the multipliers and how they were found."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..program.vectors import NodeVector


@dataclass(frozen=True)
class SolveStats:
    """Costs of one solve.

    Attributes
    ----------
    multiply_adds : int
        Local partials applied (one multiply-add each), summed over all sweeps or products.
    wall_time : float
        Seconds spent in the schedule.
    peak_memory : int or None
        Peak bytes allocated during the solve, when ``track_memory=True`` was passed.
    extra : mapping
        Schedule-specific figures (paths counted, recomputations, ...).
    """

    multiply_adds: int
    wall_time: float
    peak_memory: int | None = None
    extra: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Solution:
    """The multipliers ``lam`` solving ``A^T lam = e_N``, and the gradient they contain.

    Attributes
    ----------
    method : str
        The schedule that produced them.
    multipliers : NodeVector
        ``lam_i`` for every node, shaped like the node; ``multipliers[output]`` is 1.
    gradient : tuple of ndarray
        The multipliers of the input constraints, one per input, shaped like it (read-only
        views of ``multipliers``; copy one to change it).
    iterations : int
        Sweeps, tangent sweeps or solver iterations, as the schedule defines them.
    converged : bool
        Whether the schedule met its tolerance.
    residuals : ndarray
        The KKT residual norm ``||e_N - A^T lam||`` after each iteration.
    stats : SolveStats
    message : str
        A note from the schedule (why it stopped, what it assumed).
    """

    method: str
    multipliers: NodeVector
    gradient: tuple[np.ndarray, ...]
    iterations: int
    converged: bool
    residuals: np.ndarray
    stats: SolveStats
    message: str = ""

    @property
    def kkt_residual(self) -> float:
        """The last KKT residual norm (NaN when none was computed)."""
        return float(self.residuals[-1]) if len(self.residuals) else float("nan")

    def __repr__(self) -> str:
        return (f"Solution(method={self.method!r}, iterations={self.iterations}, "
                f"converged={self.converged}, kkt_residual={self.kkt_residual:.3g}, "
                f"gradient={self.gradient!r})")
