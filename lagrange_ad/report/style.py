"""One look per schedule: the same colour, marker and line style in every plot.

`STYLES` fixes a `Style` for every registered schedule (and for the fixed-point solvers and
reference curves the notebooks draw), all with distinct colours and distinct markers.
A variant of a schedule (a row labelled ``"GS, reverse order"`` running ``gauss-seidel``)
keeps its schedule's colour and takes another marker and line style, chosen from its label,
so it looks the same in every plot too. `styles` settles the rare clash within one plot.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    """How one method is drawn: matplotlib ``color``, ``marker`` and ``linestyle``."""

    color: str
    marker: str
    linestyle: str

    def kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``Axes.plot``."""
        return {"color": self.color, "marker": self.marker, "linestyle": self.linestyle}


STYLES: dict[str, Style] = {
    "reverse": Style("#000000", "o", "-"),
    "forward": Style("#1f77b4", "s", "--"),
    "gauss-seidel": Style("#2ca02c", "^", "-"),
    "jacobi": Style("#ff7f0e", "v", "-."),
    "spsolve": Style("#7f7f7f", "D", ":"),
    "gmres": Style("#d62728", "P", "-"),
    "bicgstab": Style("#9467bd", "X", "--"),
    "lsqr": Style("#8c564b", "*", "-."),
    "cvxpy": Style("#e377c2", "h", ":"),
    "nlp": Style("#bcbd22", "p", "-"),
    "dual-descent": Style("#17becf", "<", "--"),
    "paths": Style("#393b79", ">", "-."),
    "unrolled": Style("#7b4173", "d", ":"),
    # the fixed-point solvers of cyclic components
    "picard": Style("#637939", "8", "-"),
    "anderson": Style("#8c6d31", "H", "--"),
    "newton": Style("#006d6d", "x", "-."),
}

# markers and line styles left for variants and for names not in STYLES
SPARE_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "h", "p", "<", ">", "d", "8", "H")
LINESTYLES = ("-", "--", "-.", ":")
SPARE_COLORS = ("#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363", "#a55194", "#843c39",
                "#bd9e39")


def style(label: str, method: str | None = None) -> Style:
    """The style of a row labelled ``label`` that runs the schedule ``method``.

    Examples
    --------
    >>> style("gmres")
    Style(color='#d62728', marker='P', linestyle='-')
    >>> style("GS, reverse order", "gauss-seidel").color == STYLES["gauss-seidel"].color
    True
    """
    if label in STYLES:
        return STYLES[label]
    key = zlib.crc32(label.encode())  # stable across runs, unlike hash()
    if method in STYLES:
        base = STYLES[method]
        markers = [m for m in SPARE_MARKERS if m != base.marker]
        return Style(base.color, markers[key % len(markers)],
                     LINESTYLES[(key // len(markers)) % len(LINESTYLES)])
    return Style(SPARE_COLORS[key % len(SPARE_COLORS)],
                 SPARE_MARKERS[(key // 8) % len(SPARE_MARKERS)],
                 LINESTYLES[(key // 128) % len(LINESTYLES)])


def styles(entries: Iterable[tuple[str, str | None]]) -> dict[str, Style]:
    """``label -> Style`` for the ``(label, method)`` rows of one plot, no two alike.

    A row whose style another row of the plot already has takes the next free marker of its
    colour (in `SPARE_MARKERS` order), so a plot never shows two rows the same way.
    """
    chosen: dict[str, Style] = {}
    taken: set[tuple[str, str]] = set()
    for label, method in entries:
        look = style(label, method)
        if (look.color, look.marker) in taken:
            free = [m for m in SPARE_MARKERS if (look.color, m) not in taken]
            if free:
                look = Style(look.color, free[0], look.linestyle)
        taken.add((look.color, look.marker))
        chosen[label] = look
    return chosen
