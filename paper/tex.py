"""LaTeX formatting of the paper's numbers and tables."""

from __future__ import annotations

import numpy as np


def tex_count(n: int | None) -> str:
    """An integer with thin spaces between groups of three digits."""
    return "--" if n is None else f"{n:,}".replace(",", "\\,")


def tex_float(x: float | None, digits: int = 1) -> str:
    """``x`` in scientific notation for math mode (0 stays 0)."""
    if x is None or not np.isfinite(x):
        return "--"
    if x == 0:
        return "0"
    mantissa, exponent = f"{x:.{digits}e}".split("e")
    return f"{mantissa}\\times 10^{{{int(exponent)}}}"


def tex_fixed(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}f}"


def tex_text(text: str) -> str:
    """Plain text made safe for LaTeX."""
    for old, new in (("\\", "\\textbackslash{}"), ("_", "\\_"), ("&", "\\&"), ("%", "\\%"),
                     ("#", "\\#"), ("^", "\\^{}"), ("$", "\\$")):
        text = text.replace(old, new)
    return text


def tabular(columns: str, header: list[str], rows: list[list[str]]) -> str:
    """A booktabs tabular (no float environment: main.tex owns captions and labels)."""
    lines = [f"\\begin{{tabular}}{{{columns}}}", "\\toprule", " & ".join(header) + " \\\\",
             "\\midrule"]
    lines += [" & ".join(row) + " \\\\" for row in rows]
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(lines)
