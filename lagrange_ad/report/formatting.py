"""Numbers as short text: counts, floats, durations, byte sizes and abbreviated arrays."""

from __future__ import annotations

import numpy as np

TIME_UNITS = (("s", 1.0), ("ms", 1e-3), ("us", 1e-6))
BYTE_UNITS = (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10), ("B", 1))


def count(n: int | None) -> str:
    """``1,234,567``; ``-`` for a missing count."""
    return "-" if n is None else f"{n:,}"


def number(x: float | None) -> str:
    """Three significant digits in exponent form (``0`` for zero); ``-`` when missing."""
    if x is None:
        return "-"
    return "0" if x == 0 else f"{x:.2e}"


def scaled(x: float | None, units: tuple[tuple[str, float], ...]) -> str:
    """``x`` in the largest unit it reaches (the last unit for anything smaller)."""
    if x is None:
        return "-"
    for unit, scale in units:
        if x >= scale or unit == units[-1][0]:
            return f"{x / scale:.3g} {unit}"
    raise AssertionError("unreachable: the last unit always matches")


def duration(seconds: float | None) -> str:
    """Seconds in s, ms or us."""
    return scaled(seconds, TIME_UNITS)


def nbytes(n: int | None) -> str:
    """Bytes in GiB, MiB, KiB or B."""
    return scaled(n, BYTE_UNITS)


def array(x, threshold: int = 6, precision: int = 6) -> str:
    """A value on one line: ``0.14112`` for a scalar, the array itself when it is small.

    An array of more than ``threshold`` entries shows its shape and first entries in index
    order: ``(3, 3) [-2.789, -0.809, -0.7068, ...]``.

    Examples
    --------
    >>> array(0.5), array([1.0, 2.0]), array(np.arange(9.0).reshape(3, 3), threshold=4)
    ('0.5', '[1, 2]', '(3, 3) [0, 1, 2, ...]')
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        return f"{float(x):.{precision}g}"
    digits = min(precision, 4)
    if x.size <= threshold:
        text = np.array2string(x, precision=digits, separator=", ", max_line_width=10**6,
                               formatter={"float_kind": lambda v: f"{v:.{digits}g}"})
        return " ".join(text.split())
    head = ", ".join(f"{v:.{digits}g}" for v in x.ravel()[:3])
    return f"{x.shape} [{head}, ...]"
