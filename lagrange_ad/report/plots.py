"""Plots of schedules side by side, in the fixed per-schedule look of `report.style`.

Every plot here puts its legend outside the axes (curves stay visible), draws a method that
reports one residual only as a single marker labelled with its iteration count, and uses a
log axis for iteration counts that span decades.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .optional import require_module
from .style import styles

if TYPE_CHECKING:
    from ..compare import Comparison

# iteration counts whose largest is this many times the smallest get a log axis
LOG_SPAN = 30.0
# histories longer than this show about this many markers
MARKED_POINTS = 12


def pyplot(purpose: str):
    """``matplotlib.pyplot``, or a `LagrangeADError` naming the ``plot`` extra."""
    return require_module("matplotlib.pyplot", purpose, package="matplotlib")


def legend_outside(ax, title: str | None = None, fontsize: str | float = "small",
                   texts: Mapping[str, str] | None = None, notes: Sequence[str] = ()):
    """A legend to the right of the axes, in as many columns as keep it below the axes' height.

    ``texts`` replaces the legend text of the artists whose label it maps; ``notes`` are
    lines of text added at its end (with no symbol). Returns the legend, or None when there
    is nothing to show.
    """
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    labels = [(texts or {}).get(label, label) for label in labels]
    handles += [Line2D([], [], linestyle="none") for _ in notes]
    labels += list(notes)
    if not handles:
        return None
    ncol = 1 + (len(handles) - 1) // 18
    return ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                     borderaxespad=0.0, fontsize=fontsize, ncol=ncol, title=title,
                     title_fontsize=fontsize, frameon=False)


def log_axis_if_wide(ax, counts: Sequence[float], axis: str = "x") -> bool:
    """Put ``axis`` on a log scale when the positive ``counts`` span more than `LOG_SPAN`."""
    counts = np.asarray([c for c in counts if c is not None and c > 0], dtype=np.float64)
    wide = counts.size > 0 and counts.max() / counts.min() > LOG_SPAN
    if wide:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    return bool(wide)


def residuals(comparison: Comparison, ax=None, floor: float = 1e-18):
    """Each solved method's KKT residual ``||e_N - A^T lam||`` per iteration, on a log scale.

    Parameters
    ----------
    comparison : Comparison
    ax : matplotlib Axes, optional
        Where to draw; a new figure (wide enough for the legend) is made when omitted.
    floor : float
        Residuals below ``floor`` (exact zeros, as direct methods give) are drawn at ``floor``,
        since a log scale cannot show zero.

    Returns
    -------
    matplotlib.axes.Axes
        One line per method with a residual history. A method that reports a single residual
        (a direct solve, or a solver that keeps no history) is one marker at its iteration
        count, labelled with that count. Markers of methods at the same point are spread
        sideways a few points so that none hides another. Rows without multipliers (refused,
        over budget, failed) are listed at the end of the legend.
    """
    plt = pyplot("Comparison.plot")
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 4.5), layout="constrained")
    solved = [row for row in comparison.rows if row.label in comparison.solutions]
    looks = styles((row.label, row.method) for row in solved)
    points: dict[tuple[float, float], int] = {}
    spans, texts = [], {}
    for row in solved:
        history = np.asarray(comparison.solutions[row.label].residuals, dtype=np.float64)
        look = looks[row.label]
        if history.size >= 2:
            steps = np.arange(1, history.size + 1)
            spans.append(history.size)
            # long histories: markers evenly spaced on screen, whatever the axis scale
            every = None if history.size <= MARKED_POINTS else 1.0 / MARKED_POINTS
            ax.plot(steps, np.maximum(history, floor), label=row.label, markevery=every,
                    markersize=5, linewidth=1.3, **look.kwargs())
            if row.status != "solved":
                texts[row.label] = f"{row.label} ({row.status})"
            continue
        residual = row.kkt_residual if history.size == 0 else float(history[-1])
        steps = max(1, row.iterations or 0)
        spans.append(steps)
        y = max(float(residual), floor)
        # same point as an earlier marker: shift it sideways in display units
        k = points.get((steps, y), 0)
        points[(steps, y)] = k + 1
        count = "?" if row.iterations is None else f"{row.iterations:,}"
        shifted = {} if k == 0 else {"transform": _sideways(ax, 7.0 * k)}
        ax.plot([steps], [y], linestyle="none", marker=look.marker, color=look.color,
                markersize=8, markerfacecolor="none", markeredgewidth=1.5, label=row.label,
                **shifted)
        ax.update_datalim([(steps, y)])  # a shifted marker is not counted by autoscaling
        texts[row.label] = f"{row.label}: {count} it., last residual only" + \
            ("" if row.status == "solved" else f" ({row.status})")
    ax.autoscale_view()
    ax.set_yscale("log")
    log_axis_if_wide(ax, [1] + spans)
    ax.set_xlabel("iteration")
    ax.set_ylabel(r"KKT residual $\|e_N - A^\top\lambda\|_2$")
    ax.set_title(f"{comparison.program_summary}; residuals below {floor:g} (exact zeros) "
                 f"drawn at {floor:g}", fontsize="medium")
    missing = [f"{row.label}: {row.status}, not drawn" for row in comparison.rows
               if row.label not in comparison.solutions]
    legend_outside(ax, texts=texts, notes=missing)
    return ax


def _sideways(ax, points: float):
    """Data coordinates shifted right by ``points`` typographic points."""
    from matplotlib.transforms import ScaledTranslation

    return ax.transData + ScaledTranslation(points / 72.0, 0.0, ax.figure.dpi_scale_trans)
