"""Block Gauss-Seidel and Jacobi sweeps on ``A^T lam = e_N``, sharing one sweep core.

Row j of ``A^T lam = e_N`` reads ``lam_j = [j = N] + sum_{i : j in Pa(i)} (J_ij)^T lam_i``, so a
block update of node j is the j-th block of ``e_N + J^T lam``. A sweep visits groups of nodes
in a fixed order and updates each group at once from the current iterate, with relaxation
``omega``::

    lam_G <- (1 - omega) lam_G + omega (e_N + J^T lam)_G          for each group G in turn

* ``"gauss-seidel"``: one group per node, in the order ``order`` (topological ``"forward"``,
  ``"reverse"`` = backpropagation, ``"random"`` or an explicit list); ``omega != 1`` is SOR.
* ``"jacobi"``: one group holding every node, so every block reads the previous iterate,
  ``lam <- e_N + J^T lam``: the partial sums of the Neumann series
  ``lam = sum_m (J^T)^m e_N`` (``omega != 1`` damps it).

The reverse sweep by levels (``reverse`` with ``blocks="levels"``) is the same core with one
group per topological level, visited deepest first.

Stopping rule. Start from ``lam^(0) = 0``; after sweep k compute the KKT residual
``res_k = e_N - A^T lam^(k) = (e_N + J^T lam^(k)) - lam^(k)`` and stop at the first k with
``||res_k|| <= tol * max(1, ||lam^(k)||)``, or report ``converged=False`` with a message after
``maxiter`` sweeps (no exception; default ``max(N + 1, 1000)``). ``iterations`` is the number
of sweeps and ``residuals`` holds ``||res_k||`` after each one. No pass of its own computes
``res_k``: it comes exactly with sweep k or k + 1 (`lagrange_ad.schedules.plans`).

Sweep counts on a DAG (``omega = 1``). Say node r *settles* in sweep s(r) when ``lam_r^(k)`` is
exact for every ``k >= s(r)``. A node that is not an ancestor of N keeps ``lam_r = 0``:
s(r) = 0. The output settles in its first update: s(N) = 1. Any other ancestor r settles when
it is updated after all its children have settled, so

    s(r) = max over children c of r  ( s(c) + [c is visited after r] ).

The iterate is exact after ``S = max_r s(r)`` sweeps. A is nonsingular, so ``res_k = 0`` exactly
when ``lam^(k)`` is exact; with ``tol = 0`` the rule stops after at most S sweeps (in floating
point a settled block is recomputed from the same numbers in the same order, so the residual
is then exactly 0.0), and earlier when the contributions still missing cancel exactly or are
lost to rounding; the tests check S exactly on graphs where that does not happen. A positive
``tol`` may stop earlier still, once the missing path products fall below it. In particular:

* reverse order: every child is visited before its parents, S = 1 (backpropagation);
* forward (topological) order: every child is visited after, s(r) = 1 + the longest path from
  r to N, so S = 1 + ``graph.levels()[N]`` (= 1 + ``graph.depth`` when N is the deepest node);
* Jacobi: every block reads the previous iterate, as if every child came after, so the same
  S = 1 + ``levels[N]``. Forward-order Gauss-Seidel and Jacobi give identical iterates on a DAG:
  ``lam^(k) = sum_{m<k} (J^T)^m e_N`` and ``res_k = (J^T)^k e_N``, which vanishes first for
  k = 1 + the longest path ending at N.

The edges counted are those whose local partial is nonzero (a zero partial, as in ``v - v``,
cuts a path and gives fewer sweeps). With relaxation, forward and reverse orders and Jacobi
have iteration matrices that are triangular with every eigenvalue ``1 - omega``, so they
converge linearly for ``0 < omega < 2`` but no longer finitely.

On a graph with cycles the blocks of a node's self-loop are applied explicitly (the old
``lam_j`` on the right), the order ``"random"``, explicit orders and Jacobi still run, and
convergence is that of the fixed-point iteration; the topological orders are refused.

Cost, estimated before the first sweep (`lagrange_ad.schedules.budget`): sweeps times the
nonzeros of J, with the exact S + 1 sweeps where the count above is known in advance (a DAG,
``omega = 1``, Jacobi or a topological order) and the cap ``maxiter`` otherwise. On a chain of
n nodes the forward order and Jacobi need n + 1 sweeps, about n^2 multiply-adds: beyond the
default budget from n of about 30,000. With ``time_limit`` every sweep checks the clock.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..program.program import Program
from .budget import Cost, per_iteration
from .options import choice, integer, only_with, real
from .plans import SweepPlan, default_maxiter, iterate_sweeps, jacobi_plan, node_plan
from .registry import Outcome, Schedule, choice_problem, register_schedule

ORDERS = ("forward", "reverse", "random")


def order_problem(program: Program, order) -> str | None:
    """Why ``order`` is not a node order of this program (a name or every node once), or None."""
    n = len(program.graph)
    if isinstance(order, str):
        return choice_problem("order", order, ORDERS, "a list of every node index exactly once")
    if not isinstance(order, (Sequence, np.ndarray)):
        return f"order={order!r}: expected a name or a sequence of node indices"
    nodes = np.asarray(order)
    if nodes.ndim != 1 or (nodes.size and not np.issubdtype(nodes.dtype, np.integer)):
        return f"order: expected a flat sequence of node indices (ints); got {order!r:.80}"
    if nodes.size and (nodes.min() < 0 or nodes.max() >= n):
        bad = int(nodes[(nodes < 0) | (nodes >= n)][0])
        return f"order names node v{bad}, which does not exist (nodes are v0..v{n - 1})"
    counts = np.bincount(nodes.astype(np.int64), minlength=n)
    if np.any(counts > 1):
        return f"order lists node v{int(np.argmax(counts > 1))} more than once"
    if np.any(counts == 0):
        missing = np.flatnonzero(counts == 0)
        return (f"order must list every node exactly once; v{int(missing[0])} is missing "
                f"({missing.size} node(s) missing of {n})")
    return None


def resolve_order(program: Program, order, seed: int) -> np.ndarray:
    """The visiting order as node indices."""
    graph = program.graph
    if isinstance(order, str):
        if order == "forward":
            return graph.topological_order()
        if order == "reverse":
            return graph.topological_order()[::-1].copy()
        return np.random.default_rng(seed).permutation(len(graph))
    return np.asarray(order, np.int64)


def order_plan(program: Program, order, seed: int) -> SweepPlan:
    """The cached node plan of a named or explicit order; the order is resolved only to build."""
    if isinstance(order, str):
        name = (order, seed) if order == "random" else order
    else:
        name = np.ascontiguousarray(order, np.int64).tobytes()
    return node_plan(program, name, lambda: resolve_order(program, order, seed))


# ----------------------------------------------------------------- the schedules


def _run_gauss_seidel(program: Program, *, order: str | Sequence[int] = "forward",
                      omega: float = 1.0, seed: int = 0, tol: float = 1e-12,
                      maxiter: int | None = None) -> Outcome:
    shown = order if isinstance(order, str) else "explicit"
    return iterate_sweeps(program, order_plan(program, order, seed), omega=float(omega),
                          tol=float(tol), maxiter=maxiter, label="gauss-seidel",
                          extra={"order": shown})


def _run_jacobi(program: Program, *, omega: float = 1.0, tol: float = 1e-12,
                maxiter: int | None = None) -> Outcome:
    return iterate_sweeps(program, jacobi_plan(program), omega=float(omega), tol=float(tol),
                          maxiter=maxiter, label="jacobi", extra={})


def _refuses_gauss_seidel(program: Program, options: dict) -> str | None:
    order = options.get("order", "forward")
    if isinstance(order, str) and order != "random" and not program.graph.is_acyclic:
        return (f"order={order!r} needs a topological order, and the graph has a cycle; "
                f"use order='random', an explicit order, or method='jacobi'")
    return None


def sweeps_cost(program: Program, options: dict, order) -> Cost:
    """Sweeps times the partials of one sweep; ``order=None`` is Jacobi.

    The sweeps are the exact count S + 1 (S from the module docstring, plus the sweep that
    brings the last residual) where it is known in advance (a DAG, ``omega = 1``, Jacobi or a
    topological order), else the cap ``maxiter``.
    """
    graph = program.graph
    sweeps = options.get("maxiter") or default_maxiter(program)
    if graph.is_acyclic and options.get("omega", 1.0) == 1.0 and order in (None, "forward",
                                                                         "reverse"):
        settled = 1 if order == "reverse" else 1 + int(graph.levels()[graph.output])
        sweeps = min(sweeps, settled + 1)
    nnz = program.total_multiply_adds
    return per_iteration(sweeps, nnz, f"{nnz:,} partials", "sweeps")


def _known_order(options: dict) -> str:
    """The order's name when its sweep count is known in advance, else ``"capped"``."""
    order = options.get("order", "forward")
    return order if isinstance(order, str) and order != "random" else "capped"


OMEGA = real("omega", 1.0, "relaxation factor (1: plain sweeps; else SOR or damped Jacobi)",
             low=0, high=2, low_open=True, high_open=True)
TOL = real("tol", 1e-12, "stop at the first sweep with ||e_N - A^T lam|| <= tol * "
                         "max(1, ||lam||)", low=0)
MAXITER = integer("maxiter", None, "sweep cap; None is max(nodes + 1, 1000)", low=1, none=True)


_seed_applies = only_with("order", "random", "forward", "seed only seeds order='random'")


GAUSS_SEIDEL = register_schedule(Schedule(
    name="gauss-seidel",
    run=_run_gauss_seidel,
    summary="block Gauss-Seidel (SOR) sweeps in a chosen node order; reverse order = backprop",
    refuses=_refuses_gauss_seidel,
    accepts=(
        choice("order", "forward", ORDERS, "'forward' (topological), 'reverse' (backprop), "
               "'random', or a list of every node index once", check=order_problem),
        OMEGA,
        integer("seed", 0, "seed of order='random'", low=0, applies=_seed_applies),
        TOL, MAXITER),
    cost=lambda program, options: sweeps_cost(program, options, _known_order(options)),
))

JACOBI = register_schedule(Schedule(
    name="jacobi",
    run=_run_jacobi,
    summary="block Jacobi sweeps lam <- e_N + J^T lam (the Neumann series)",
    accepts=(OMEGA, TOL, MAXITER),
    cost=lambda program, options: sweeps_cost(program, options, None),
))
