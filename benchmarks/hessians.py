"""The cost of a Hessian-vector product, in gradients, against jax and PyTorch.

For one function, one point x and one seeded direction d, each system times three calls in
turn (`harness.measure_alternating`, so that the machine's drift hits each alike):

* ``gradient``: the gradient at x from scratch (lagrange_ad: ``la.grad(f)(*x)``);
* ``first HVP``: ``H d`` at x from scratch, including the forward pass and the first-order
  solve (lagrange_ad: ``la.hvp(f)(x, d)``, that is the trace, the values, ``A^T lam = e_N``,
  the tangent sweep ``A t = E d``, the curvature contraction ``w = W t`` and the second
  adjoint sweep ``A^T mu = w``);
* ``further HVP``: another ``H d`` at the same x, the first-order work kept
  (lagrange_ad: `lagrange_ad.hessian.SecondOrder.hvp`: tangent sweep, contraction, second
  sweep).

The rows report the two HVP times as multiples of the same system's gradient. The peers are
jax's forward-over-reverse product (``jvp`` of ``grad``, eager as in the other rows; the
further product applies ``linearize(grad f, x)``) and PyTorch's double backward (the
gradient with ``create_graph=True``, then the gradient of ``<grad f, d>``; the further product
differentiates the retained gradient graph again). Every peer's product is checked against
lagrange_ad's, and lagrange_ad's against central differences of its gradient, before timing.

`hvp_cost` is the measurement; the paper's table (``paper/make_artifacts.py``) calls it too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

import lagrange_ad as la
from lagrange_ad.hessian import SecondOrder

from . import models, peers
from .context import KIND_TITLES, KINDS, Context, chain_graph, dag_graph, relative_error
from .harness import Table, Timing, failed, format_count, format_time, measure_alternating, verdict

SYSTEMS = ("lagrange_ad", "jax", "torch")
LABELS = {"lagrange_ad": "lagrange_ad (la.hvp; SecondOrder.hvp)",
          "jax": "jax jvp of grad (eager; linearize)",
          "torch": "torch double backward (create_graph)"}
TARGET = 3.0  # gradients per Hessian-vector product
ROUNDS = 4  # rounds of the three alternating calls per repeat (ratios are the point)
FD_STEP = 1e-5  # central differences of the gradient, for checking lagrange_ad's product


@dataclass(frozen=True)
class Problem:
    """A scalar function of several arguments at a point, with a direction, for every system.

    ``function(system)`` is the function written with that system's operations (``"jax"``
    takes one vector on scalar graphs, see `peers._on_vector`); ``units`` is its size
    (nodes of a scalar graph; 1 for the MLP).
    """

    label: str
    units: int
    point: tuple
    direction: tuple
    function: Callable[[str], Callable]
    tensors: bool


@dataclass(frozen=True)
class HvpCost:
    """Timings of one system's gradient, first HVP and further HVP at one point."""

    system: str
    gradient: Timing
    first: Timing
    further: Timing

    @property
    def first_ratio(self) -> float:
        return self.first.median / self.gradient.median

    @property
    def further_ratio(self) -> float:
        return self.further.median / self.gradient.median


def seeded_direction(point: Sequence, seed: int = 0) -> tuple:
    """One standard normal tangent per argument, shaped like it."""
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(np.shape(x)) if np.ndim(x) else float(rng.standard_normal())
                 for x in point)


def scalar_problem(kind: str, n: int, graph: la.Graph | None = None) -> Problem:
    """The chain or the random DAG of the other workloads, replayed by every system."""
    graph = graph or (chain_graph(n) if kind == "chain" else dag_graph(n))
    plan = peers.scalar_plan(graph)
    unary = {"lagrange_ad": peers.lagrange_unary, "jax": peers.jax_unary,
             "torch": peers.torch_unary}

    def function(system: str) -> Callable:
        f = peers.scalar_function(plan, unary[system]())
        return peers._on_vector(f, graph.n_inputs) if system == "jax" else f

    return Problem(kind, n, tuple(graph.point), seeded_direction(graph.point), function, False)


def mlp_problem(width: int, batch: int) -> Problem:
    """The tanh MLP with softmax cross-entropy of `models`, as a function of its parameters."""
    params, X, Y = models.mlp_problem(width, batch)

    def function(system: str) -> Callable:
        if system == "lagrange_ad":
            return models.lagrange_mlp(X, Y)
        if system == "torch":
            return models.torch_mlp(X, Y)
        jax = peers._jax()
        return models.mlp_loss(jax.numpy.asarray(X), jax.numpy.asarray(Y), jax.numpy.tanh,
                               lambda z: jax.nn.log_softmax(z, axis=1), jax.numpy.sum)

    return Problem(f"MLP width {width}, batch {batch}", 1, params, seeded_direction(params, 1),
                   function, True)


# ----------------------------------------------------------------- the three calls per system


def lagrange_calls(problem: Problem) -> tuple[Callable, Callable, Callable]:
    f, x, d = problem.function("lagrange_ad"), problem.point, problem.direction
    grad, hvp = la.grad(f), la.hvp(f)
    second = SecondOrder(la.Program(la.trace(f, *x)))
    return (lambda: grad(*x)), (lambda: hvp(x, d)), (lambda: second.hvp(d))


def torch_calls(problem: Problem) -> tuple[Callable, Callable, Callable]:
    torch = peers.load("torch")
    f = problem.function("torch")
    tangents = [torch.as_tensor(np.asarray(t, np.float64)) for t in problem.direction]

    def leaves():
        return [torch.tensor(np.asarray(x, np.float64), requires_grad=True)
                for x in problem.point]

    def gradient():
        xs = leaves()
        return torch.autograd.grad(f(*xs), xs)

    def gradient_graph():
        xs = leaves()
        return xs, torch.autograd.grad(f(*xs), xs, create_graph=True)

    def first():
        xs, gs = gradient_graph()
        return torch.autograd.grad(gs, xs, grad_outputs=tangents)

    xs, gs = gradient_graph()  # kept for the further products

    def further():
        return torch.autograd.grad(gs, xs, grad_outputs=tangents, retain_graph=True)

    return gradient, first, further


def jax_calls(problem: Problem) -> tuple[Callable, Callable, Callable]:
    jax = peers._jax()
    f = problem.function("jax")
    if problem.tensors:  # one argument per parameter array
        grad = jax.grad(f, argnums=tuple(range(len(problem.point))))
        x = tuple(jax.numpy.asarray(p) for p in problem.point)
        d = tuple(jax.numpy.asarray(t) for t in problem.direction)
    else:  # one vector of the scalar inputs
        grad = jax.grad(f)
        x, d = (jax.numpy.asarray(problem.point),), (jax.numpy.asarray(problem.direction),)
    _, linear = jax.linearize(grad, *x)
    return (lambda: grad(*x)), (lambda: jax.jvp(grad, x, d)[1]), (lambda: linear(*d))


CALLS = {"lagrange_ad": lagrange_calls, "jax": jax_calls, "torch": torch_calls}


def flat(arrays) -> np.ndarray:
    """A gradient or product (arrays, tensors or one vector) as one float64 vector."""
    if not isinstance(arrays, (tuple, list)):
        arrays = (arrays,)
    return np.concatenate([np.ravel(np.asarray(a, np.float64)) for a in arrays])


def gradient_differences(problem: Problem) -> np.ndarray:
    """``(g(x + h d) - g(x - h d)) / 2h`` with lagrange_ad's gradient g."""
    grad = la.grad(problem.function("lagrange_ad"))
    x, d = problem.point, problem.direction

    def at(sign: float):
        return flat(grad(*[np.asarray(a) + sign * FD_STEP * np.asarray(t)
                           for a, t in zip(x, d)]))

    return (at(1.0) - at(-1.0)) / (2 * FD_STEP)


def hvp_cost(problem: Problem, system: str, repeat: int, budget: float,
             expected: np.ndarray | None = None, rtol: float = 1e-8) -> HvpCost:
    """Time ``system``'s gradient, first and further HVP alternately, after checking its product.

    ``expected`` is the product to check against (lagrange_ad's, for a peer); without it the
    product is checked against central differences of the gradient (to 1e-5 relative).
    """
    gradient, first, further = CALLS[system](problem)
    got = flat(first())
    reference, tol = (expected, rtol) if expected is not None else (
        gradient_differences(problem), 1e-5)
    for what, value in (("first", got), ("further", flat(further()))):
        error = relative_error(value, reference)
        if not error <= tol:
            raise ArithmeticError(f"{system}'s {what} Hessian-vector product differs from the "
                                  f"reference by {error:.2e}")
    timings = measure_alternating([gradient, first, further], problem.units, repeat, budget)
    return HvpCost(system, *timings)


def lagrange_product(problem: Problem) -> np.ndarray:
    return flat(la.hvp(problem.function("lagrange_ad"))(problem.point, problem.direction))


# ----------------------------------------------------------------- the workload


def problems(ctx: Context) -> list[Problem]:
    """The chain and the DAG at the size's largest N up to ``peer_cap``, and each MLP width."""
    n = min(max(ctx.size.nodes), ctx.size.peer_cap)
    return ([scalar_problem(kind, n, ctx.case(kind, n).graph) for kind in KINDS]
            + [mlp_problem(width, ctx.size.batch) for width in ctx.size.widths])


def peer_problem(ctx: Context, problem: Problem, system: str) -> Problem:
    """The problem at the peer's capped N (scalar graphs; JAX eager runs fewer nodes)."""
    if problem.tensors:
        return problem
    n = ctx.peer_n(system, problem.units)
    return problem if n == problem.units else scalar_problem(problem.label, n,
                                                             ctx.case(problem.label, n).graph)


def cost_line(system: str, problem: Problem, cost: HvpCost | None,
              status: str = "") -> tuple[str, ...]:
    graph = KIND_TITLES.get(problem.label, problem.label)
    n = format_count(problem.units) if not problem.tensors else "1 graph"
    if cost is None:
        return (LABELS[system], graph, n, "", status, status, status, "")
    target = ""
    if system == "lagrange_ad":
        worst = max(cost.first_ratio, cost.further_ratio)
        target = verdict(worst <= TARGET, f"<= {TARGET:g} gradients per HVP")
    unit = "node" if not problem.tensors else "gradient"
    return (LABELS[system], graph, n, str(cost.gradient.runs),
            f"{format_time(cost.gradient.median)} / {unit}", f"{cost.first_ratio:.3g}",
            f"{cost.further_ratio:.3g}", target)


def hvp_workload(ctx: Context) -> list[Table]:
    repeat = ROUNDS * ctx.repeat
    lines = []
    for problem in problems(ctx):
        products: dict = {}  # lagrange_ad's product per problem label and N, for the peers
        for system in SYSTEMS:
            mine = system == "lagrange_ad"
            task = problem if mine else peer_problem(ctx, problem, system)
            try:
                expected = None if mine else products.setdefault(
                    task.units, lagrange_product(task))
                cost = hvp_cost(task, system, repeat, ctx.size.budget, expected)
            except Exception as exc:  # every failure is reported in the table, never hidden
                lines.append(cost_line(system, task, None, failed(system, task.units,
                                                                  exc).status))
                continue
            lines.append(cost_line(system, task, cost))
    header = ("system", "graph", "N", "runs", "gradient (median)", "first HVP / gradient",
              "further HVP / gradient", "target")
    return [Table("Hessian-vector products: time in gradients", header, tuple(lines), (
        "Each system's own gradient is the unit: first HVP = H d at a new point (forward, "
        "first-order solve, tangent sweep, curvature contraction W t, second adjoint sweep); "
        "further HVP = another direction at the same point. The three calls are timed in "
        "turn; every product is checked before timing (lagrange_ad's against central "
        "differences of its gradient, the peers' against lagrange_ad's).",))]
