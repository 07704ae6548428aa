"""Property test of numpy programs: random compositions of numpy functions, traced as they are.

Hypothesis draws a program (a list of steps over a pool of arrays of random shapes), which is
written once against a namespace ``ops``: numpy itself when lagrange_ad traces it, and
autograd.numpy for the reference. Each program's gradient from `la.grad` must match
autograd's and central finite differences in random directions. Steps cover broadcasting,
``axis``/``keepdims`` combinations, reductions, scans, shape changes and stable idioms.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lagrange_ad as la

autograd = pytest.importorskip("autograd")
anp = pytest.importorskip("autograd.numpy")
aspecial = pytest.importorskip("autograd.scipy.special")
import scipy.special as special  # noqa: E402


class Numpy:
    """The namespace a program is written against, when lagrange_ad traces it."""

    np = np
    # looked up at each call, as scipy.special.logsumexp(...) in user code
    logsumexp = staticmethod(lambda *args, **kwargs: special.logsumexp(*args, **kwargs))
    flip_first = staticmethod(lambda u: np.flip(u, axis=0))
    sort_last = staticmethod(lambda u: np.sort(u, axis=-1))


def _sort_rows(u):
    # autograd sorts 1-D arrays only: sort each row of the last axis and stack them back
    rows = anp.reshape(u, (-1, anp.shape(u)[-1]))
    return anp.reshape(anp.stack([anp.sort(rows[k]) for k in range(rows.shape[0])]),
                       anp.shape(u))


class Autograd:
    """The same namespace from autograd, for the reference gradient (its own spellings of
    flip and of sort along an axis, which autograd does not differentiate)."""

    np = anp
    logsumexp = staticmethod(aspecial.logsumexp)
    flip_first = staticmethod(lambda u: u[::-1])
    sort_last = staticmethod(_sort_rows)


# smooth maps of one array (bounded inputs keep every function in its domain)
UNARY = {
    "sin": lambda o, u: o.np.sin(u),
    "tanh": lambda o, u: o.np.tanh(u),
    "exp_tanh": lambda o, u: o.np.exp(o.np.tanh(u)),
    "arctan": lambda o, u: o.np.arctan(u),
    "log1p_square": lambda o, u: o.np.log1p(u * u),
    "sqrt_one_plus": lambda o, u: o.np.sqrt(1.0 + u**2),
    "expm1_tanh": lambda o, u: o.np.expm1(o.np.tanh(u)),
    "softplus": lambda o, u: o.np.logaddexp(0.0, u),
    "sinh_tanh": lambda o, u: o.np.sinh(o.np.tanh(u)),
    "square": lambda o, u: o.np.square(u),
    "abs_shift": lambda o, u: o.np.abs(u + 3.0),
    "cumsum_last": lambda o, u: o.np.cumsum(u, axis=-1),
    "flip_first": lambda o, u: o.flip_first(u),
    "roll_last": lambda o, u: o.np.roll(u, 1, axis=-1),
    "sort_last": lambda o, u: o.sort_last(u),
    "transpose": lambda o, u: o.np.transpose(u),
    "stable_softmax": lambda o, u: _softmax(o, u),
    "clip_wide": lambda o, u: o.np.clip(u, -10.0, 10.0),
}
# maps of two arrays that broadcast against each other
BINARY = {
    "add": lambda o, u, w: u + w,
    "sub": lambda o, u, w: u - w,
    "mul": lambda o, u, w: u * w,
    "div": lambda o, u, w: u / (1.0 + w * w),
    "maximum_shifted": lambda o, u, w: o.np.maximum(u, w + 5.0),
    "arctan2": lambda o, u, w: o.np.arctan2(u, 2.0 + w * w),
    "logaddexp": lambda o, u, w: o.np.logaddexp(u, w),
    "hypot_like": lambda o, u, w: o.np.sqrt(u * u + w * w + 1.0),
}
# reductions of one array, with an axis and keepdims drawn by the test
REDUCE = {
    "sum": lambda o, u, axis, keep: o.np.sum(u, axis=axis, keepdims=keep),
    "mean": lambda o, u, axis, keep: o.np.mean(u, axis=axis, keepdims=keep),
    "max": lambda o, u, axis, keep: o.np.max(u, axis=axis, keepdims=keep),
    "min": lambda o, u, axis, keep: o.np.min(u, axis=axis, keepdims=keep),
    # entries kept away from 0, where autograd's rule divides by them (ours does not)
    "prod_tanh": lambda o, u, axis, keep: o.np.prod(2.0 + o.np.tanh(u), axis=axis,
                                                    keepdims=keep),
    "var": lambda o, u, axis, keep: o.np.var(u, axis=axis, keepdims=keep),
    # a ramp added first: a value constant along the axis (a broadcast) has std 0, where the
    # square root has no derivative
    "std_shift": lambda o, u, axis, keep: o.np.std(u + _ramp(o.np.shape(u)), axis=axis,
                                                   keepdims=keep) + 0.5,
    "logsumexp": lambda o, u, axis, keep: o.logsumexp(u, axis=axis, keepdims=keep),
}


def _ramp(shape) -> np.ndarray:
    """A constant that differs between any two entries of an array of ``shape``."""
    return 0.37 * np.arange(int(np.prod(shape)), dtype=float).reshape(shape)


def _softmax(o, u):
    z = u - u.max(axis=-1, keepdims=True)
    e = o.np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


shapes = st.lists(st.integers(2, 3), min_size=1, max_size=3).map(tuple)


@st.composite
def programs(draw):
    """``(steps, shapes)``: a recipe over two input arrays and the shapes of the inputs."""
    shape = draw(shapes)
    # the second input broadcasts against the first: a suffix of its shape, or ones
    suffix = shape[draw(st.integers(0, len(shape))):]
    other = tuple(draw(st.sampled_from([n, 1])) for n in suffix)
    steps = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["unary", "binary", "reduce"]))
        table = {"unary": UNARY, "binary": BINARY, "reduce": REDUCE}[kind]
        name = draw(st.sampled_from(sorted(table)))
        axis = draw(st.sampled_from([None, 0, -1, (0, -1)]))
        keep = draw(st.booleans())
        steps.append((kind, name, axis, keep, draw(st.integers(0, 10**6))))
    return steps, (shape, other)


def _reduced_count(shape, axis) -> int:
    axes = range(len(shape)) if axis is None else np.atleast_1d(axis)
    return int(np.prod([shape[a] for a in axes]))


def build(steps):
    """The program ``f(o, x, y)``: each step reads earlier values and appends one."""

    def f(o, x, y):
        values = [x, y]
        for kind, name, axis, keep, pick in steps:
            u = values[pick % len(values)]
            if kind == "unary":
                # scans, flips and sorts need an axis: a 0-d value becomes 1-d first
                values.append(UNARY[name](o, o.np.atleast_1d(u)))
            elif kind == "binary":
                w = values[(pick // 7) % len(values)]
                try:
                    np.broadcast_shapes(o.np.shape(u), o.np.shape(w))
                except ValueError:
                    w = o.np.sum(w)  # shapes that do not broadcast: combine with a total
                values.append(BINARY[name](o, u, w))
            else:
                ndim = o.np.ndim(u)
                if ndim == 0:
                    values.append(u * 1.0)
                    continue
                if isinstance(axis, tuple) and ndim < 2:
                    axis = 0
                if name == "std_shift" and _reduced_count(o.np.shape(u), axis) == 1:
                    name = "var"  # the standard deviation of one entry has no derivative
                values.append(REDUCE[name](o, u, axis, keep))
        total = 0.0
        for v in values[2:]:
            total = total + o.np.sum(o.np.tanh(v))
        return total + o.np.sum(x * x) + o.np.sum(y)

    return f


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 2**32 - 1))
def test_random_numpy_programs_match_autograd_and_differences(program, seed):
    steps, (shape, other) = program
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.5, 1.5, shape)
    y = rng.uniform(-1.5, 1.5, other)
    f = build(steps)

    gx, gy = la.grad(lambda a, b: f(Numpy, a, b))(x, y)
    rx, ry = autograd.grad(lambda a, b: f(Autograd, a, b), argnum=(0, 1))(x, y)
    np.testing.assert_allclose(gx, rx, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(gy, np.reshape(ry, other), rtol=1e-9, atol=1e-11)

    # central differences in a random direction: the dot-product test
    dx, dy = rng.standard_normal(shape), rng.standard_normal(other)
    h = 1e-6
    plus = f(Numpy, x + h * dx, y + h * dy)
    minus = f(Numpy, x - h * dx, y - h * dy)
    slope = (plus - minus) / (2 * h)
    assert abs(slope - (np.sum(gx * dx) + np.sum(gy * dy))) <= 1e-5 * max(1.0, abs(slope))
