"""Values on cycles: each strongly connected component is a fixed point.

For a component C of a cyclic graph the constraints ``v_i = p_i(v_Pa(i))``, i in C, say that
``v_C = P(v_C)`` with the values outside C already known (components are visited in
topological order of the condensation). Three solvers, chosen by ``method``:

``"picard"``
    ``v_C <- P(v_C)``, one Gauss-Seidel sweep over C in node order per iteration; converges
    when P is a contraction (spectral radius of ``J_CC`` below 1).
``"anderson"``
    Anderson acceleration of the same sweep with a memory of ``m`` past iterates (Walker and
    Ni 2011): ``x <- G(x) - dG gamma`` with ``gamma`` the least-squares fit of the residual
    ``F = G(x) - x`` by its recent differences ``dF``.
``"newton"``
    ``scipy.optimize.root`` on ``F(v_C) = v_C - P(v_C)`` with Jacobian ``I - J_CC``.

Every solver stops at ``tol``: the change per iteration (or ``||F||`` for Newton), relative to
``max(1, ||v_C||)``, and for the iterations the a posteriori bound ``change q / (1 - q)`` on
the distance to the fixed point (q the observed contraction), must both be below it. After
``maxiter`` iterations it raises `ConvergenceError` with the residual trace and the
estimated spectral radius of ``J_CC`` (power iteration), never hangs or returns a
non-fixed point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.optimize

from ..errors import ConvergenceError, LagrangeADError

METHODS = ("picard", "anderson", "newton")


@dataclass(frozen=True)
class FixedPointReport:
    """How the values of one cyclic component were found.

    Attributes
    ----------
    nodes : tuple of int
        The component.
    method : str
    iterations : int
    residuals : tuple of float
        Relative residual after each iteration.
    spectral_radius : float (property)
        Estimated spectral radius of ``J_CC`` at the fixed point (below 1 for a contraction),
        computed when first read.
        J is over the component's nodes, so for a cycle of L nodes whose composed map has
        derivative d the radius is about ``|d| ** (1 / L)``: below 1 exactly when ``|d|`` is.
    """

    nodes: tuple[int, ...]
    method: str
    iterations: int
    residuals: tuple[float, ...]
    jacobian: Callable[[], object] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def spectral_radius(self) -> float:
        """Power-iteration estimate of the spectral radius of ``J_CC`` at the fixed point.

        Computed when first read: it costs a few hundred products with ``J_CC``.
        """
        return spectral_radius(self.jacobian()) if self.jacobian is not None else float("nan")


def spectral_radius(matrix, iterations: int = 200, seed: int = 0) -> float:
    """Estimate ``max |eig(matrix)|`` by power iteration: ``||M^k x|| ^ (1/k)`` growth rate.

    The geometric mean of the last half of the step ratios is used, which also settles for
    complex dominant pairs, where single ratios oscillate.
    """
    n = matrix.shape[0]
    if n == 0:
        return 0.0
    x = np.random.default_rng(seed).standard_normal(n)
    x /= np.linalg.norm(x)
    logs = []
    for _ in range(iterations):
        y = matrix @ x
        norm = float(np.linalg.norm(y))
        if norm == 0.0 or not np.isfinite(norm):
            return 0.0 if norm == 0.0 else float("inf")
        logs.append(np.log(norm))
        x = y / norm
    tail = logs[len(logs) // 2:]
    return float(np.exp(np.mean(tail)))


class ComponentMap:
    """The map ``P`` of one component over a flat vector of its entries."""

    def __init__(self, graph, nodes, values: list, evaluate: Callable[[int, list], np.ndarray]):
        self.graph = graph
        self.nodes = [int(i) for i in nodes]
        self.values = values
        self.evaluate = evaluate
        sizes = [int(graph.sizes[i]) for i in self.nodes]
        self.cuts = np.cumsum([0] + sizes)

    def get(self) -> np.ndarray:
        return np.concatenate([np.ravel(self.values[i]) for i in self.nodes])

    def put(self, x: np.ndarray) -> None:
        for k, i in enumerate(self.nodes):
            self.values[i] = x[self.cuts[k]:self.cuts[k + 1]].reshape(self.graph.shape(i))

    def sweep(self) -> np.ndarray:
        """One Gauss-Seidel sweep in node order; returns the new iterate."""
        for i in self.nodes:
            self.values[i] = np.reshape(self.evaluate(i, self.values), self.graph.shape(i))
        return self.get()

    def jacobi(self, x: np.ndarray) -> np.ndarray:
        """``P(x)``: every node evaluated from the same iterate x."""
        self.put(x)
        frozen = list(self.values)
        return np.concatenate([np.ravel(self.evaluate(i, frozen)) for i in self.nodes])


def _frozen_jacobian(jacobian):
    """A callable returning J_CC at the values as they are now (they change no more)."""
    if jacobian is None:
        return None
    matrix = []

    def at_fixed_point():
        if not matrix:
            matrix.append(jacobian())
        return matrix[0]

    return at_fixed_point


def observed_rate(changes: list[float]) -> float:
    """The contraction per iteration seen in the last few changes (geometric mean of ratios)."""
    tail = [c for c in changes[-8:] if c > 0]
    if len(tail) < 3:
        return float("nan")
    ratios = np.array(tail[1:]) / np.array(tail[:-1])
    return float(np.exp(np.mean(np.log(ratios))))


def error_bound(changes: list[float]) -> float:
    """A posteriori error of a linearly converging iteration from its last two changes.

    With contraction factor q estimated as the ratio of the last two changes, the distance to
    the fixed point is at most ``change * q / (1 - q)``; the change itself is used when q has
    no estimate yet or is not below 1. Changes at rounding level count as converged.
    """
    change = changes[-1]
    if change <= 4 * np.finfo(float).eps:
        return 0.0
    if len(changes) < 2 or changes[-2] <= 0:
        return change
    q = changes[-1] / changes[-2]
    return change * q / (1 - q) if q < 1 else change


def _relative(step: np.ndarray, x: np.ndarray) -> float:
    return float(np.max(np.abs(step)) / max(1.0, float(np.max(np.abs(x)))))


def solve_component(component: ComponentMap, *, method: str = "picard", tol: float = 1e-14,
                    maxiter: int = 1000, memory: int = 5,
                    jacobian: Callable[[], object] | None = None) -> FixedPointReport:
    """Find the fixed point of one component in place; see the module docstring.

    ``jacobian()`` returns ``J_CC`` at the current values (for Newton and the diagnostics).
    """
    if method not in METHODS:
        raise LagrangeADError(f"unknown fixed-point method {method!r}; use one of {METHODS}")
    if maxiter < 1 or tol <= 0:
        raise LagrangeADError(f"fixed-point iteration needs maxiter >= 1 and tol > 0; got "
                              f"maxiter={maxiter}, tol={tol}")
    residuals: list[float] = []
    try:
        if method == "newton":
            iterations = _newton(component, tol, maxiter, jacobian, residuals)
        else:
            iterations = _iterate(component, tol, maxiter, memory if method == "anderson" else 0,
                                  residuals)
    except (FloatingPointError, ValueError, LagrangeADError) as exc:
        if isinstance(exc, ConvergenceError):
            raise
        raise _failure(component, method, residuals, jacobian,
                       f"the iteration left the domain or overflowed ({exc})") from None
    if residuals and residuals[-1] > tol and error_bound(residuals) > 0:
        raise _failure(component, method, residuals, jacobian,
                       f"no convergence in {maxiter} iterations")
    return FixedPointReport(tuple(component.nodes), method, iterations, tuple(residuals),
                            _frozen_jacobian(jacobian))


def _iterate(component: ComponentMap, tol, maxiter, memory, residuals) -> int:
    x = component.get()
    past_f, past_g = [], []
    for k in range(1, maxiter + 1):
        g = component.sweep()
        f = g - x
        residuals.append(_relative(f, g))
        if not np.isfinite(residuals[-1]):
            raise FloatingPointError("non-finite iterate")
        if max(residuals[-1], error_bound(residuals)) <= tol or error_bound(residuals) == 0:
            return k
        if memory:
            past_f.append(f)
            past_g.append(g)
            if len(past_f) > memory + 1:
                past_f.pop(0)
                past_g.pop(0)
            if len(past_f) > 1:
                d_f = np.diff(np.array(past_f), axis=0).T
                d_g = np.diff(np.array(past_g), axis=0).T
                gamma = np.linalg.lstsq(d_f, f, rcond=None)[0]
                g = g - d_g @ gamma
                component.put(g)
        x = g
        if k > 20 and residuals[-1] > 1e8 * max(residuals[0], 1e-300):
            raise ConvergenceError("the fixed-point iteration diverges", residuals, k)
    return maxiter


def _newton(component: ComponentMap, tol, maxiter, jacobian, residuals) -> int:
    n = int(component.cuts[-1])

    def residual(x):
        r = x - component.jacobi(x)
        residuals.append(_relative(r, x))
        return r

    def derivative(x):
        component.put(x)
        return np.eye(n) - jacobian().toarray()

    x0 = component.get()
    solution = scipy.optimize.root(residual, x0, jac=derivative, method="hybr",
                                   options={"xtol": tol, "maxfev": maxiter * (n + 1)})
    residual(solution.x)  # the last entry of the trace is the residual at the answer
    component.put(solution.x)
    return int(solution.nfev)


def _failure(component, method, residuals, jacobian, what) -> ConvergenceError:
    shown = ", ".join(f"v{i}" for i in component.nodes[:6])
    more = "" if len(component.nodes) <= 6 else f" (+{len(component.nodes) - 6} more)"
    radius = ""
    if jacobian is not None:
        try:
            rho = spectral_radius(jacobian())
            radius = (f"; the estimated spectral radius of its Jacobian at the last iterate is "
                      f"{rho:.4g}"
                      + (" (not a contraction: Picard iteration needs < 1)" if rho >= 1 else
                         " (the iteration may be cycling or far from a fixed point, where the "
                         "radius can differ)"))
        except (LagrangeADError, ValueError, FloatingPointError):
            radius = ""
    last = f"{residuals[-1]:.3g}" if residuals else "none"
    return ConvergenceError(
        f"fixed point of the cycle through {shown}{more} not found by {method!r}: {what}; last "
        f"relative residual {last}{radius}. Try method='newton' or 'anderson', a better initial "
        f"value, or check that a fixed point exists", residuals, len(residuals))

