"""Sequences, grids and 1-D signals: linspace, logspace, geomspace, meshgrid, convolve,
correlate, interp.

All are compositions of existing rows. The spaced sequences are affine in their end points,

    linspace(a, b, n)_k = a + (b - a) t_k,      t_k = k / (n - 1)   (k / n without endpoint),

so traced end points are differentiated. A full 1-D convolution
``(a * v)_k = sum_i a_i v_{k - i}`` is a gather of ``v`` (zero outside it) by the constant
index matrix ``k - i``, multiplied by ``a`` and summed: bilinear in ``a`` and ``v``; the
modes "same" and "valid" are slices of it. ``interp`` finds each point's segment by
comparisons (`comparisons.searchsorted`, a node), so a replay at another point finds its own
segment; between the knots it is linear in ``x``, ``xp`` and ``fp``.
"""

from __future__ import annotations

import numpy as np

from .comparisons import searchsorted
from .core import call, check_dtype, is_traced, lift, ndim_of, refuse, shape_of
from .elementwise import (
    abs,
    add,
    clip,
    divide,
    exp,
    log,
    multiply,
    power,
    sign,
    subtract,
    where,
)
from .reductions import sum
from .selections import take
from .shapes import moveaxis, reshape


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *,
             device=None):
    """``num`` evenly spaced values from ``start`` to ``stop`` (end points may be traced)."""
    check_dtype("linspace", dtype)
    num = int(num)
    if num < 0:
        refuse("linspace", "num", num, "give a non-negative number of samples")
    divisions = (num - 1 if endpoint else num) or 1
    start, stop = lift(start), lift(stop)
    ends = np.broadcast_shapes(shape_of(start), shape_of(stop))
    t = reshape(np.arange(num, dtype=np.float64) / divisions, (num,) + (1,) * len(ends))
    step = divide(subtract(stop, start), float(divisions))
    out = add(start, multiply(t, subtract(stop, start)))
    if endpoint and num > 1:  # the last sample is stop itself, as numpy makes it
        out = call("concatenate", call("getitem", out, index=slice(0, num - 1)),
                   call("broadcast_to", reshape(stop, (1,) + shape_of(stop)),
                        shape=(1,) + ends), axis=0)
    if axis != 0:
        out = moveaxis(out, 0, axis)
    return (out, step) if retstep else out


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """``base ** linspace(start, stop)``."""
    return power(base, linspace(start, stop, num, endpoint, dtype=dtype, axis=axis))


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """A geometric sequence from ``start`` to ``stop`` (of one sign, neither zero):
    ``sign(start) exp(linspace(log |start|, log |stop|))``."""
    exponents = linspace(log(abs(start)), log(abs(stop)), num, endpoint, dtype=dtype)
    out = multiply(sign(start), exp(exponents))
    return out if axis == 0 else moveaxis(out, 0, axis)


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate arrays from 1-D coordinate vectors (numpy's meshgrid)."""
    if indexing not in ("xy", "ij"):
        refuse("meshgrid", "indexing", indexing, "use 'xy' or 'ij'")
    vectors = [reshape(lift(x), (-1,)) for x in xi]
    n = len(vectors)
    lengths = [shape_of(v)[0] for v in vectors]
    if indexing == "xy" and n > 1:
        lengths[0], lengths[1] = lengths[1], lengths[0]
    grids = []
    for k, v in enumerate(vectors):
        place = (1 - k if k < 2 else k) if indexing == "xy" and n > 1 else k
        shape = [1] * n
        shape[place] = shape_of(v)[0]
        grid = reshape(v, tuple(shape))
        grids.append(grid if sparse else call("broadcast_to", grid, shape=tuple(lengths)))
    return tuple(grids)


def _full_convolution(a, v):
    """``sum_i a_i v_{k - i}`` for k = 0 .. n + m - 2 (1-D operands)."""
    a, v = lift(a), lift(v)
    if ndim_of(a) != 1 or ndim_of(v) != 1:
        refuse("convolve", "operands", f"shapes {shape_of(a)} and {shape_of(v)}",
               "give two 1-D arrays")
    n, m = shape_of(a)[0], shape_of(v)[0]
    if n == 0 or m == 0:
        refuse("convolve", "operands", "an empty array", "give non-empty 1-D arrays")
    lags = np.arange(n + m - 1)[:, None] - np.arange(n)[None, :]
    lags = np.where((lags >= 0) & (lags < m), lags, m)  # index m: a zero appended to v
    padded = call("concatenate", v, np.zeros(1), axis=0)
    shifted = call("getitem", padded, index=lags)
    return sum(multiply(shifted, a), axis=1), n, m


def _mode_slice(full, n, m, mode):
    if mode == "full":
        return full
    if mode == "same":
        start, length = (min(n, m) - 1) // 2, max(n, m)
    elif mode == "valid":
        start, length = min(n, m) - 1, max(n, m) - min(n, m) + 1
    else:
        refuse("convolve", "mode", mode, "use 'full', 'same' or 'valid'")
    return call("getitem", full, index=slice(start, start + length))


def convolve(a, v, mode="full"):
    """The discrete linear convolution of two 1-D arrays (numpy's modes)."""
    full, n, m = _full_convolution(a, v)
    return _mode_slice(full, n, m, mode)


def correlate(a, v, mode="valid"):
    """The cross-correlation ``c_k = sum_n a_{n + k} v_n`` of two 1-D arrays (numpy's modes):
    the convolution with ``v`` reversed (numpy reverses the result when ``v`` is longer)."""
    if shape_of(v)[0] > shape_of(a)[0]:
        swapped = correlate(v, a, mode)
        return call("getitem", swapped, index=slice(None, None, -1))
    reversed_v = call("getitem", lift(v), index=slice(None, None, -1))
    return convolve(a, reversed_v, mode)


def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation of the knots ``(xp, fp)`` at ``x`` (``xp`` increasing);
    ``fp[0]`` (or ``left``) below the first knot and ``fp[-1]`` (or ``right``) above the last.

    Each point's segment ``k`` (``xp[k] <= x < xp[k + 1]``) is a sum of comparisons, a node;
    the value ``fp[k] + (x - xp[k]) (fp[k+1] - fp[k]) / (xp[k+1] - xp[k])`` is differentiated
    in ``x``, ``xp`` and ``fp`` (at a knot, the segment to its right).
    """
    if period is not None:
        refuse("interp", "period", period, "map x into one period first (np.mod)")
    xp, fp = lift(xp), lift(fp)
    if ndim_of(xp) != 1 or shape_of(xp) != shape_of(fp) or shape_of(xp)[0] < 2:
        refuse("interp", "xp, fp", f"shapes {shape_of(xp)}, {shape_of(fp)}",
               "give 1-D knots of one length, at least 2")
    n = shape_of(xp)[0]
    segment = clip(subtract(searchsorted(xp, x, side="right"), 1.0), 0.0, float(n - 2))
    following = add(segment, 1.0)
    if not is_traced(segment):  # plain points: plain integer indices
        segment, following = (np.asarray(k).astype(np.intp) for k in (segment, following))
    x0, x1 = take(xp, segment), take(xp, following)
    f0, f1 = take(fp, segment), take(fp, following)
    slope = divide(subtract(f1, f0), subtract(x1, x0))
    inside = add(f0, multiply(subtract(x, x0), slope))
    first = call("getitem", fp, index=0) if left is None else left
    last = call("getitem", fp, index=n - 1) if right is None else right
    below = call("less", x, call("getitem", xp, index=0))
    above = call("greater", x, call("getitem", xp, index=n - 1))
    return where(below, first, where(above, last, inside))


def polyval(p, x):
    """The polynomial with coefficients ``p`` (highest power first) at ``x``, by Horner's rule
    ``y <- y x + p_k``: differentiated in ``p`` and ``x``."""
    p = lift(p)
    if ndim_of(p) != 1 or shape_of(p)[0] == 0:
        refuse("polyval", "p", f"shape {shape_of(p)}", "give a non-empty 1-D coefficient array")
    coefficients = [call("getitem", p, index=k) for k in range(shape_of(p)[0])]
    y = multiply(coefficients[0], call("broadcast_to", 1.0, shape=shape_of(x)))
    for c in coefficients[1:]:
        y = add(multiply(y, x), c)
    return y


def vander(x, N=None, increasing=False):  # noqa: N803  (numpy's name)
    """The Vandermonde matrix ``x_i ** k`` (powers decreasing unless ``increasing``)."""
    x = lift(x)
    if ndim_of(x) != 1:
        refuse("vander", "x", f"shape {shape_of(x)}", "give a 1-D array")
    n = shape_of(x)[0] if N is None else int(N)
    powers = range(n) if increasing else range(n - 1, -1, -1)
    return call("stack", *[power(x, float(k)) for k in powers], axis=1)


def _coefficients(p, name: str):
    p = lift(p)
    if ndim_of(p) != 1:
        refuse(name, "p", f"shape {shape_of(p)}", "give a 1-D coefficient array")
    return p


def polyadd(a1, a2):
    """The sum of two polynomials (coefficients highest power first; the shorter one padded
    with leading zeros)."""
    a1, a2 = _coefficients(a1, "polyadd"), _coefficients(a2, "polyadd")
    n1, n2 = shape_of(a1)[0], shape_of(a2)[0]
    n = max(n1, n2)
    return add(call("pad", a1, pad_width=((n - n1, 0),)), call("pad", a2, pad_width=((n - n2, 0),)))


def polysub(a1, a2):
    """The difference of two polynomials."""
    return polyadd(a1, multiply(a2, -1.0))


def polymul(a1, a2):
    """The product of two polynomials: the full convolution of their coefficients."""
    return convolve(_coefficients(a1, "polymul"), _coefficients(a2, "polymul"))


def polyder(p, m=1):
    """The m-th derivative of a polynomial: each step multiplies ``p_k`` by its power and drops
    the constant."""
    p = _coefficients(p, "polyder")
    for _ in range(int(m)):
        n = shape_of(p)[0]
        if n <= 1:
            return np.zeros(1)
        p = multiply(call("getitem", p, index=slice(0, n - 1)), np.arange(n - 1, 0, -1.0))
    return p
