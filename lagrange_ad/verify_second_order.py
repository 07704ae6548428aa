"""Second-order checks of a scalar function at a point, each returning a `Check`.

With g the gradient and H the Hessian (``la.grad``, ``la.hvp``) at x, and random directions
u, v, d drawn from a seeded generator:

* symmetry: ``u . H v = v . H u`` (H is symmetric wherever f is twice differentiable);
* agreement with the gradient: ``H d = (g(x + h d) - g(x - h d)) / 2h + O(h^2)``;
* the Taylor test of order 3: ``r(e) = |f(x + e d) - f(x) - e g.d - e^2/2 d.H d| = O(e^3)``,
  so the slope of ``log r`` against ``log e`` is close to 3 (a wrong H leaves slope 2).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .grad import grad
from .graph.graph import Graph
from .hessian import hvp
from .program.program import Program
from .tracing.tracer import trace
from .verify import Check

# the steps of the Taylor test, e = 2^-3 .. 2^-8, and how far below 3 the slope may fall
TAYLOR_STEPS = 2.0 ** -np.arange(3, 9)
TAYLOR_SHORTFALL = 0.3


def _flat(blocks) -> np.ndarray:
    return np.concatenate([np.ravel(b) for b in blocks]) if len(blocks) else np.zeros(0)


def _directions(point, rng, count: int) -> list:
    return [tuple(rng.standard_normal(np.shape(x)) for x in point) for _ in range(count)]


def hessian_symmetry(f: Callable | Graph, point: tuple, seed: int = 0,
                     rtol: float = 1e-10) -> Check:
    """``|u.Hv - v.Hu|`` relative to ``|u||Hv| + |v||Hu|`` for two random directions."""
    u, v = _directions(point, np.random.default_rng(seed), 2)
    product = hvp(f)
    hu, hv = _flat(product(point, u)), _flat(product(point, v))
    uf, vf = _flat(u), _flat(v)
    scale = np.linalg.norm(uf) * np.linalg.norm(hv) + np.linalg.norm(vf) * np.linalg.norm(hu)
    error = abs(uf @ hv - vf @ hu) / max(scale, np.finfo(float).tiny)
    return Check("Hessian symmetry", bool(error <= rtol), float(error), rtol,
                 "|u.Hv - v.Hu| / (|u||Hv| + |v||Hu|) in two random directions")


def hvp_against_gradients(f: Callable | Graph, point: tuple, seed: int = 0, h: float = 1e-5,
                          rtol: float = 1e-5) -> Check:
    """``H d`` against central differences of the gradient along a random direction."""
    (d,) = _directions(point, np.random.default_rng(seed), 1)
    gradient = grad(f)
    plus = gradient(*[x + h * t for x, t in zip(point, d)])
    minus = gradient(*[x - h * t for x, t in zip(point, d)])
    fd = (_flat(plus) - _flat(minus)) / (2 * h)
    ours = _flat(hvp(f)(point, d))
    error = np.linalg.norm(ours - fd) / max(np.linalg.norm(fd), 1.0)
    return Check("Hessian-vector product vs differences of the gradient", bool(error <= rtol),
                 float(error), rtol, f"central differences of la.grad with step {h:g}")


def taylor_order_three(f: Callable | Graph, point: tuple, seed: int = 0) -> Check:
    """The slope of the second-order Taylor remainder against the step, on a log-log scale.

    The error is how far the slope falls short of 3 (0 above it); the check passes when that
    is at most `TAYLOR_SHORTFALL`, or when the remainders are at the level of rounding (a
    quadratic function, whose remainder vanishes).
    """
    graph = f if isinstance(f, Graph) else trace(f, *point)
    (d,) = _directions(point, np.random.default_rng(seed), 1)

    def value(x) -> float:
        return float(np.asarray(Program(graph, *x).output_value).item())

    f0 = value(point)
    slope_1 = _flat(grad(graph)(*point)) @ _flat(d)
    curvature = _flat(hvp(graph)(point, d)) @ _flat(d)
    remainders = np.array([abs(value([x + e * t for x, t in zip(point, d)]) - f0 - e * slope_1
                               - 0.5 * e * e * curvature) for e in TAYLOR_STEPS])
    rounding = 64 * np.finfo(float).eps * max(abs(f0), 1.0)
    if np.all(remainders <= rounding):
        return Check("Taylor test of order 3", True, 0.0, TAYLOR_SHORTFALL,
                     "remainders at the level of rounding (no third-order term)")
    usable = remainders > rounding
    if usable.sum() < 2:
        return Check("Taylor test of order 3", False, None, None,
                     "too few remainders above rounding to measure a slope")
    slope = float(np.polyfit(np.log(TAYLOR_STEPS[usable]), np.log(remainders[usable]), 1)[0])
    shortfall = max(0.0, 3.0 - slope)
    return Check("Taylor test of order 3", shortfall <= TAYLOR_SHORTFALL, shortfall,
                 TAYLOR_SHORTFALL, f"slope {slope:.3f} of log remainder against log step over "
                 f"steps {TAYLOR_STEPS[0]:g} .. {TAYLOR_STEPS[-1]:g}; the error is how far it "
                 f"falls short of 3")


def second_order_checks(f: Callable | Graph, *point, seed: int = 0) -> list[Check]:
    """The three second-order checks of ``f`` at ``point`` (see the module docstring)."""
    point = tuple(np.asarray(x, dtype=np.float64) for x in point)
    return [hessian_symmetry(f, point, seed), hvp_against_gradients(f, point, seed),
            taylor_order_three(f, point, seed)]
