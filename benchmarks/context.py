"""What the workloads share: sizes, the scalar test graphs, the run context and checks.

The scalar graphs have N nodes: the chain ``x -> sin -> ... -> sin`` (built by the vectorized
builder) and the seeded random DAG of `lagrange_ad.examples.random_dag`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import lagrange_ad as la
from lagrange_ad.program.assembly import assemble_jacobian
from lagrange_ad.schedules.reverse import reverse_sweep as schedule_sweep

from . import peers
from .harness import Row, Timing, format_count, measure, verdict

KINDS = ("chain", "dag")
KIND_TITLES = {"chain": "chain x -> sin -> ... -> sin", "dag": "random DAG (window 100, seed 0)"}
MILLION = 10**6


@dataclass(frozen=True)
class Size:
    """How big each workload is."""

    name: str
    nodes: tuple[int, ...]
    peer_cap: int
    jax_cap: int
    scaling: tuple[int, ...]
    widths: tuple[int, ...]
    batch: int
    equilibrium_n: int
    repeat: int
    budget: float


SIZES = {
    "smoke": Size("smoke", nodes=(300,), peer_cap=300, jax_cap=30, scaling=(300, 1000, 3000),
                  widths=(16, 32), batch=8, equilibrium_n=30, repeat=2, budget=0.2),
    "small": Size("small", nodes=(10**4,), peer_cap=10**4, jax_cap=1000,
                  scaling=(10**3, 10**4, 10**5), widths=(256, 1024), batch=64,
                  equilibrium_n=1000, repeat=5, budget=10.0),
    "full": Size("full", nodes=(10**5, MILLION), peer_cap=10**5, jax_cap=2000,
                 scaling=(10**3, 10**4, 10**5, MILLION), widths=(256, 1024), batch=64,
                 equilibrium_n=1000, repeat=5, budget=20.0),
}


@dataclass(frozen=True)
class ScalarCase:
    """A scalar graph with its plan, its program (J assembled) and lagrange_ad's gradient."""

    kind: str
    n: int
    graph: la.Graph
    plan: list
    program: la.Program
    gradient: np.ndarray


def chain_graph(n: int) -> la.Graph:
    """``x -> sin -> ... -> sin`` with n nodes, by the vectorized builder."""
    builder = la.GraphBuilder()
    x = builder.input(name="x")
    builder.add_many("sin", np.r_[x, -np.ones(n - 2, np.int64)][:, None])
    return builder.build(point=(0.5,))


def dag_graph(n: int) -> la.Graph:
    return la.examples.random_dag(n, seed=0).graph


def graph_from_arrays(graph: la.Graph) -> la.Graph:
    """A new Graph from another's arrays (the constructor validates them)."""
    return la.Graph(op_names=graph.op_names, op=graph.op, parent_ptr=graph.parent_ptr,
                    parent_idx=graph.parent_idx, shape_table=graph.shape_table,
                    shape_id=graph.shape_id, param_table=graph.param_table,
                    param_id=graph.param_id, n_inputs=graph.n_inputs, output=graph.output,
                    point=graph.point)


def reverse_sweep(program: la.Program) -> la.Solution:
    """The timed backward of lagrange_ad: J is assembled beforehand (Program caches it)."""
    return la.solve(program, "reverse", check=False)


def sweep_only(program: la.Program):
    """The reverse schedule's sweep without the bookkeeping of `la.solve`."""
    return schedule_sweep(program)


def local_partials(program: la.Program):
    """J assembled afresh from the program's values (``program.local_jacobian`` caches it)."""
    return assemble_jacobian(program.values)


class Context:
    """The size, the repeat count, and caches shared by the workloads of one run."""

    def __init__(self, size: Size, repeat: int | None = None):
        self.size = size
        self.repeat = repeat or size.repeat
        self._cases: dict = {}
        self._memo: dict = {}

    def time(self, run: Callable, units: int, setup: Callable | None = None) -> Timing:
        return measure(run, units, self.repeat, setup, self.size.budget)

    def memo(self, key, work: Callable):
        """``work()`` once per key per run (timings reused by several tables)."""
        if key not in self._memo:
            self._memo[key] = work()
        return self._memo[key]

    def case(self, kind: str, n: int) -> ScalarCase:
        if (kind, n) not in self._cases:
            graph = chain_graph(n) if kind == "chain" else dag_graph(n)
            program = la.Program(graph)
            program.local_jacobian()
            gradient = np.concatenate([np.ravel(g) for g in reverse_sweep(program).gradient])
            self._cases[kind, n] = ScalarCase(kind, n, graph, peers.scalar_plan(graph), program,
                                              gradient)
        return self._cases[kind, n]

    def peer_n(self, peer: str, n: int) -> int:
        return min(n, self.size.jax_cap if peer == "jax" else self.size.peer_cap)


def relative_error(got, expected: np.ndarray) -> float:
    """``max |got - expected| / max(1, max |expected|)``."""
    scale = max(1.0, float(np.max(np.abs(expected))))
    return float(np.max(np.abs(np.asarray(got, np.float64) - expected))) / scale


def check_gradient(system: str, got, expected: np.ndarray, rtol: float = 1e-8) -> None:
    """Raise `ArithmeticError` unless a gradient (a sequence of arrays) matches ``expected``."""
    got = np.concatenate([np.ravel(np.asarray(g, np.float64)) for g in got])
    error = relative_error(got, expected)
    if not error <= rtol:
        raise ArithmeticError(f"{system}'s gradient differs from lagrange_ad's by {error:.2e}")


def named(row: Row, system: str, target: str = "") -> Row:
    return Row(system, row.n, row.timing, row.status, target or row.target)


def per_node_goal(row: Row, limit_ns: float, goal: str, at: int | None = None) -> str:
    """``met``/``missed`` against a per-node limit; judged only at N = ``at`` when given."""
    if row.timing is None:
        return f"n/a ({goal})"
    if at is not None and row.n != at:
        return f"judged at {format_count(at)} ({goal})"
    return verdict(row.timing.median * 1e9 <= limit_ns, goal)


def ratio_goal(mine: Row, other: Row, factor: float, goal: str) -> str:
    """Whether lagrange_ad's median is within ``factor`` times the other row's."""
    if mine.timing is None or other.timing is None:
        return f"n/a ({goal})"
    return verdict(mine.timing.median <= factor * other.timing.median, goal)
