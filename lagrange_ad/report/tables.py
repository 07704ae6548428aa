"""A `Comparison` as text, markdown, plain data, JSON or a pandas frame.

The computation lives in `lagrange_ad.compare`; this module only shows its rows. Tables have
a caption saying what ``max rel diff`` measures; `answer_text` gives the answer the schedules
agree on (the value ``v_N`` and the gradient, the multipliers of the input constraints), and
the JSON form carries both.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np

from . import formatting as fmt
from .optional import require_module

if TYPE_CHECKING:  # only for annotations: compare.py imports this module
    from ..compare import Comparison, ComparisonRow

HEADERS = ("method", "status", "iterations", "multiply-adds", "time", "peak memory",
           "KKT residual", "max rel diff", "converged", "note")


def cells(row: ComparisonRow) -> list[str]:
    """The row's cells as text, ``-`` for what is missing."""
    return [row.label, row.status, fmt.count(row.iterations), fmt.count(row.multiply_adds),
            fmt.duration(row.wall_time), fmt.nbytes(row.peak_memory), fmt.number(row.kkt_residual),
            fmt.number(row.max_rel_diff),
            "-" if row.converged is None else str(row.converged).lower(),
            " ".join(row.note.split())]


def caption(comparison: Comparison) -> str:
    """What was solved and what ``max rel diff`` measures (or why it is missing)."""
    from ..compare import NORMALIZATION

    if comparison.reference_note:
        text = f"{comparison.program_summary}; no max rel diff: {comparison.reference_note}"
    else:
        text = (f"{comparison.program_summary}; max rel diff = {NORMALIZATION}, lam_ref from "
                f"{comparison.reference!r}")
    if getattr(comparison, "order", 1) == 2:
        text = ("second adjoint system A^T mu = W t along a direction d (lam read as mu, e_N as "
                "W t); " + text)
    budget = getattr(comparison, "budget", None)
    if budget is not None:
        text += f"; budget {fmt.count(int(budget)) if math.isfinite(budget) else 'none'} " \
                f"multiply-adds per schedule"
    memory = getattr(comparison, "memory_note", "")
    return text + (f"; {memory}" if memory else "")


def answer(comparison: Comparison) -> tuple[object, tuple[np.ndarray, ...], list[str]] | None:
    """``(value, gradient, input names)`` of the compared program; None without a gradient.

    The comparison's own ``value`` and ``gradient`` (the reference's) when it carries them,
    else the gradient of the reference row (or of the first row) that solved. A row that did
    not converge never gives the answer.
    """
    gradient = getattr(comparison, "gradient", None)
    if gradient is None:
        solved = [row.label for row in comparison.rows if row.status == "solved"
                  and row.label in comparison.solutions]
        first = comparison.reference if comparison.reference in solved else \
            (solved[0] if solved else None)
        if first is None:
            return None
        gradient = comparison.solutions[first].gradient
    # every solution holds the program's graph, which names the inputs
    graph = next((s.multipliers.graph for s in comparison.solutions.values()), None)
    gradient = tuple(np.asarray(g, dtype=np.float64) for g in gradient)
    return getattr(comparison, "value", None), gradient, input_names(graph, len(gradient))


def input_names(graph, n_inputs: int) -> list[str]:
    """The inputs' names in the graph (``x0``, ``x1``, ... where it has none)."""
    names = {} if graph is None else graph.names
    inputs = range(n_inputs) if graph is None else graph.inputs
    return [str(names.get(int(i)) or f"x{k}") for k, i in enumerate(inputs)]


def answer_lines(value, gradient: Sequence, names: Sequence[str],
                 threshold: int = 6, label: str = "gradient") -> list[str]:
    """``f = ...`` and the gradient, one line for scalar inputs, one line per array input.

    ``label`` names the second part (``"H d"`` for the second-order multipliers).

    Arrays with more than ``threshold`` entries are abbreviated (``la.compare(...).solutions``
    and ``--format json`` hold them whole).
    """
    lines = [] if value is None else [f"f = {fmt.array(value, threshold)}"]
    if all(np.ndim(g) == 0 for g in gradient):
        parts = ", ".join(f"{name} {fmt.array(g)}" for name, g in zip(names, gradient))
        lines.append(f"{label}: {parts}")
    else:
        lines.append(f"{label}:")
        lines += [f"  {name}: {fmt.array(g, threshold)}" for name, g in zip(names, gradient)]
    return lines


def answer_text(comparison: Comparison) -> str:
    """The value and the gradient (abbreviated) in a few lines; empty when nothing solved."""
    found = answer(comparison)
    return "" if found is None else "\n".join(answer_lines(*found))


def text(comparison: Comparison) -> str:
    """The caption and the table with aligned columns."""
    table = [HEADERS] + [cells(row) for row in comparison.rows]
    widths = [max(len(line[k]) for line in table) for k in range(len(HEADERS))]
    lines = [caption(comparison)]
    for n, line in enumerate(table):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines + left_out_lines(comparison))


def left_out_lines(comparison: Comparison, bullet: str = "  ") -> list[str]:
    """The schedules a default comparison did not run, each with why (none when all ran)."""
    left_out = getattr(comparison, "left_out", ())
    if not left_out:
        return []
    return ["", "not run (they refuse this program):"] + \
        [f"{bullet}{name}: {' '.join(reason.split())}" for name, reason in left_out]


def markdown(comparison: Comparison) -> str:
    """The table in GitHub markdown, with the caption above it."""
    lines = [caption(comparison), "", "| " + " | ".join(HEADERS) + " |",
              "|" + "|".join("---" for _ in HEADERS) + "|"]
    for row in comparison.rows:
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells(row)) + " |")
    return "\n".join(lines + left_out_lines(comparison, bullet="- "))


def as_dict(comparison: Comparison, multipliers: bool = False) -> dict:
    """Plain data: metadata, the answer, one dict per row; missing or non-finite numbers None.

    Parameters
    ----------
    comparison : Comparison
    multipliers : bool
        Also give ``multipliers``: the reference solution's ``lam_i`` of every node, as
        nested lists shaped like the node (None when the reference did not solve).
    """
    from ..compare import NORMALIZATION

    found = answer(comparison)
    data = {"program": comparison.program_summary, "reference": comparison.reference,
            "reference_note": comparison.reference_note, "normalization": NORMALIZATION,
            "budget": plain(getattr(comparison, "budget", None)),
            "memory_note": getattr(comparison, "memory_note", ""),
            "value": None, "gradient": None}
    order = getattr(comparison, "order", 1)
    key = "gradient" if order == 1 else "hvp"  # order 2: the reference's mu at the inputs, H d
    if order == 2:
        data["order"] = 2
        data["hvp"] = None
    if found is not None:
        value, gradient, names = found
        data["value"] = plain(value)
        data[key] = {name: plain(g) for name, g in zip(names, gradient)}
        if order == 2:
            data["direction"] = {name: plain(d) for name, d in zip(names, comparison.direction)}
    if multipliers:
        solution = comparison.solutions.get(comparison.reference)
        data["multipliers"] = None if solution is None else \
            [plain(solution.multipliers[i]) for i in range(len(solution.multipliers.graph))]
    data["rows"] = [{key: plain(item) for key, item in asdict(row).items()}
                    for row in comparison.rows]
    data["left_out"] = [{"method": name, "reason": reason}
                        for name, reason in getattr(comparison, "left_out", ())]
    return data


def as_json(comparison: Comparison, indent: int | None = 2, multipliers: bool = False) -> str:
    """`as_dict` as strict JSON (no NaN or Infinity: they are null)."""
    return dumps(as_dict(comparison, multipliers), indent)


def dumps(data: dict, indent: int | None = 2) -> str:
    """Strict JSON of data made by `plain` (a NaN left in it raises instead of printing NaN)."""
    return json.dumps(data, indent=indent, allow_nan=False)


def verification_dict(report) -> dict:
    """A `VerificationReport` as plain data: ``ok`` and one dict per check."""
    return {"ok": bool(report.ok),
            "checks": [{key: plain(item) for key, item in asdict(check).items()}
                       for check in report.checks]}


def frame(comparison: Comparison):
    """The rows as a `pandas.DataFrame` indexed by label (needs pandas)."""
    pandas = require_module("pandas", "Comparison.to_pandas")
    table = pandas.DataFrame.from_records([asdict(row) for row in comparison.rows])
    return table.set_index("label")


def plain(x):
    """JSON-ready data: arrays as nested lists, numpy scalars as Python ones, NaN and inf None."""
    if x is None or isinstance(x, (str, bool)):
        return x
    if isinstance(x, (np.ndarray, np.generic)) and np.ndim(x) > 0:
        return [plain(item) for item in np.asarray(x).tolist()]
    if isinstance(x, (list, tuple)):
        return [plain(item) for item in x]
    if isinstance(x, (np.bool_,)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    x = float(x)
    return x if math.isfinite(x) else None
