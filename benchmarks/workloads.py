"""The workloads: scalar graphs, end-to-end gradients, sweeps, scaling, tensors, cycles, memory.

Scalar graphs have N nodes: the chain ``x -> sin -> ... -> sin`` and the seeded random DAG of
`lagrange_ad.examples.random_dag` (each node applies sin, cos, tanh, sigmoid, add, sub or mul
to one or two of the previous 100 nodes). Every other system replays the same graph arrays
(`peers.scalar_plan`). Systems built of one Python object per node run at most at the size's
``peer_cap`` nodes (JAX eager at ``jax_cap``); the N column says what was used and ratios are
per node. Every peer's gradient is checked against lagrange_ad's before it is timed.

Each workload is a function ``(Context) -> list[Table]`` registered in `WORKLOADS`; the
tensor workloads live in `tensors`, the imported PyTorch and JAX models in `importing`.
"""

from __future__ import annotations

import math
import tracemalloc
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve_triangular

import lagrange_ad as la
from lagrange_ad.accel.compiled import forward_scalar

from . import peers
from .context import (
    KIND_TITLES,
    KINDS,
    MILLION,
    SIZES,
    Context,
    chain_graph,
    check_gradient,
    graph_from_arrays,
    local_partials,
    named,
    per_node_goal,
    reverse_sweep,
    sweep_only,
)
from .harness import (
    NotAvailable,
    Row,
    Table,
    Timing,
    failed,
    format_count,
    format_time,
    in_deep_thread,
    timed_row,
    timing_table,
    verdict,
)
from .importing import imported_workload
from .tensors import cnn_workload, cyclic_workload, mlp_forward_backward, mlp_workload

SWEEPS = 3
__all__ = ["SIZES", "WORKLOADS", "Context"]


# ----------------------------------------------------------------- shared measurements


def lagrange_timing(ctx: Context, kind: str, n: int, what: str) -> Row:
    """One lagrange_ad measurement on a scalar graph, memoized per run."""
    def work():
        case = ctx.case(kind, n)
        graph, program, point = case.graph, case.program, case.graph.point
        if what == "trace":
            f = peers.scalar_function(case.plan, peers.lagrange_unary())
            return ctx.time(lambda: la.trace(f, *point), n)
        if what == "build":
            build = (lambda: chain_graph(n)) if kind == "chain" else (
                lambda: graph_from_arrays(graph))
            return ctx.time(build, n)
        if what == "values":
            return ctx.time(lambda: la.Program(graph, *point), n)
        if what == "values only":
            # the forward evaluation alone: the compiled loop without its partials
            return ctx.time(lambda: forward_scalar(graph, point, with_partials=False), n)
        if what == "gradient":
            def gradient():
                fresh = la.Program(graph, *point)  # values and partials in one compiled pass
                fresh.local_jacobian()
                reverse_sweep(fresh)
            return ctx.time(gradient, n)
        if what == "partials":
            return ctx.time(lambda: local_partials(program), n)
        if what == "values+partials":
            return ctx.time(lambda: la.Program(graph, *point).local_jacobian(), n)
        if what == "sweep":
            return ctx.time(lambda: reverse_sweep(program), n)
        if what == "sweep only":
            return ctx.time(lambda: sweep_only(program), n)
        if what == "partials+sweep":
            def both():
                local_partials(program)
                reverse_sweep(program)
            return ctx.time(both, n)
        if what == "grad":
            f = peers.scalar_function(case.plan, peers.lagrange_unary())
            g = la.grad(f)
            check_gradient("la.grad", g(*point), case.gradient)
            return ctx.time(lambda: g(*point), n)
        raise AssertionError(what)

    return ctx.memo(("lagrange_ad", kind, n, what), lambda: timed_row(what, n, work))


def tape_timing(ctx: Context, kind: str, n: int, phase: str) -> Row:
    """The plain Python tape: ``forward``, ``backward`` or ``grad`` (both)."""
    def work():
        case = ctx.case(kind, n)
        forward, point = peers.tape_function(case.plan), case.graph.point
        check_gradient("the tape", peers.tape_backward(forward(*point)), case.gradient)
        if phase == "forward":
            return ctx.time(lambda: forward(*point), n)
        if phase == "backward":
            tape = forward(*point)
            return ctx.time(lambda: peers.tape_backward(tape), n)
        return ctx.time(lambda: peers.tape_backward(forward(*point)), n)

    return ctx.memo(("tape", kind, n, phase), lambda: timed_row("tape", n, work))


def peer_timing(ctx: Context, peer: peers.ScalarPeer, kind: str, n: int, phase: str) -> Row:
    """A peer's ``forward``, ``backward`` or ``grad`` at its capped N, memoized per run."""
    n = ctx.peer_n(peer.name, n)

    def work():
        case = ctx.case(kind, n)
        point = case.graph.point
        f = peers.scalar_function(case.plan, peer.unary())

        def timed():
            check_gradient(peer.name, peer.grad(f, point), case.gradient)
            if phase == "forward":
                return ctx.time(lambda: peer.forward(f, point), n)
            if phase == "backward":
                state = peer.forward(f, point)
                return ctx.time(lambda: peer.backward(state), n)
            return ctx.time(lambda: peer.grad(f, point), n)

        return in_deep_thread(timed, n) if peer.deep else timed()

    return ctx.memo((peer.name, kind, n, phase), lambda: timed_row(peer.name, n, work))


# ----------------------------------------------------------------- 1. scalar graphs


def build_forward_table(ctx: Context, kind: str, n: int) -> Table:
    builder = "add_many" if kind == "chain" else "arrays -> Graph"
    trace = lagrange_timing(ctx, kind, n, "trace")
    build = lagrange_timing(ctx, kind, n, "build")
    both = lagrange_timing(ctx, kind, n, "values+partials")
    rows = [
        named(trace, "lagrange_ad trace (build + values)",
              per_node_goal(trace, 500, "<= 500 ns/node")),
        named(build, f"lagrange_ad build ({builder})", per_node_goal(build, 50, "<= 50 ns/node")),
        named(lagrange_timing(ctx, kind, n, "values"), "lagrange_ad values Program(graph, *x)"),
        named(lagrange_timing(ctx, kind, n, "partials"), "lagrange_ad local partials (J)"),
        named(both, "lagrange_ad values + local partials", per_node_goal(both, 50,
                                                                         "<= 50 ns/node")),
        named(tape_timing(ctx, kind, n, "forward"), "plain Python tape (records partials)"),
    ]
    rows += [named(peer_timing(ctx, p, kind, n, "forward"), PEER_LABELS[p.name]["forward"])
             for p in peers.SCALAR_PEERS]
    return timing_table(f"{KIND_TITLES[kind]}, N = {format_count(n)}: build + forward", rows,
                        notes=FORWARD_NOTES)


def backward_table(ctx: Context, kind: str, n: int) -> Table:
    sweep = lagrange_timing(ctx, kind, n, "sweep")
    rows = [
        named(sweep, "lagrange_ad reverse sweep (J given)",
              per_node_goal(sweep, 10, "<= 10 ns/node", at=MILLION)),
        named(lagrange_timing(ctx, kind, n, "partials"), "lagrange_ad local partials (J)"),
        named(lagrange_timing(ctx, kind, n, "partials+sweep"),
              "lagrange_ad local partials + sweep"),
        ctx.memo(("scipy", kind, n), lambda: scipy_row(ctx, kind, n)),
        named(tape_timing(ctx, kind, n, "backward"), "plain Python tape backward"),
    ]
    rows += [named(peer_timing(ctx, p, kind, n, "backward"), PEER_LABELS[p.name]["backward"])
             for p in peers.SCALAR_PEERS]
    return timing_table(f"{KIND_TITLES[kind]}, N = {format_count(n)}: backward", rows,
                        notes=BACKWARD_NOTES)


def scipy_row(ctx: Context, kind: str, n: int) -> Row:
    """scipy's sparse triangular solve of ``A^T lam = e_N`` alone (A assembled beforehand)."""
    def work():
        case = ctx.case(kind, n)
        upper = sp.csr_matrix(case.program.kkt_matrix().T)
        e = case.program.rhs()
        lam = spsolve_triangular(upper, e, lower=False, unit_diagonal=True)
        check_gradient("spsolve_triangular", [lam[:case.graph.n_inputs]], case.gradient)
        return ctx.time(lambda: spsolve_triangular(upper, e, lower=False, unit_diagonal=True),
                        n)

    return timed_row("scipy spsolve_triangular(A^T) alone", n, work)


PEER_LABELS = {
    "micrograd": {"forward": "micrograd Value graph", "backward": "micrograd backward()",
                  "grad": "micrograd"},
    "torch": {"forward": "torch 0-d tensors", "backward": "torch backward()",
              "grad": "torch 0-d tensors"},
    "autograd": {"forward": "autograd make_vjp (forward)", "backward": "autograd vjp(1.0)",
                 "grad": "autograd grad"},
    "jax": {"forward": "jax vjp (eager forward)", "backward": "jax vjp_fn(1.0) (eager)",
            "grad": "jax grad (eager, no jit)"},
}
FORWARD_NOTES = (
    "Ratio: this row's median over lagrange_ad's trace (above 1: slower). The trace and every "
    "peer build the graph and compute the values; the builder rows build only, the values row "
    "evaluates a built graph. Peers with one Python object per node run at the N shown.",
)
BACKWARD_NOTES = (
    "Ratio: over lagrange_ad's reverse sweep given the local partials J. Peers run their "
    "backward on a graph built beforehand; scipy solves A^T lam = e_N with A assembled "
    "beforehand.",
)


def scalar_workload(kind: str) -> Callable[[Context], list[Table]]:
    def run(ctx: Context) -> list[Table]:
        tables = []
        for n in ctx.size.nodes:
            tables += [build_forward_table(ctx, kind, n), backward_table(ctx, kind, n)]
        return tables

    return run


# ----------------------------------------------------------------- 2. la.grad end to end


def grad_workload(ctx: Context) -> list[Table]:
    n = min(max(ctx.size.nodes), ctx.size.peer_cap)
    tables = []
    for kind in KINDS:
        mine = lagrange_timing(ctx, kind, n, "grad")
        rows = [named(mine, "lagrange_ad la.grad (trace + values + partials + sweep)"),
                named(tape_timing(ctx, kind, n, "grad"), "plain Python tape")]
        for peer in peers.SCALAR_PEERS:
            row = peer_timing(ctx, peer, kind, n, "grad")
            factor = {"micrograd": 3, "torch": 10}.get(peer.name)
            target = ""
            if factor and row.timing is not None and mine.timing is not None:
                target = verdict(row.timing.median >= factor * mine.timing.median,
                                 f"lagrange_ad >= {factor}x faster")
            rows.append(named(row, PEER_LABELS[peer.name]["grad"], target))
        tables.append(timing_table(
            f"la.grad end to end, {KIND_TITLES[kind]}, N = {format_count(n)}", rows,
            notes=("Every system runs the same Python function of the inputs and returns the "
                   "gradient.",)))
    return tables


# ----------------------------------------------------------------- 3. sweeps


def sweeps_workload(ctx: Context) -> list[Table]:
    n = max(ctx.size.nodes)
    tables = []
    for kind in KINDS:
        sweep = lagrange_timing(ctx, kind, n, "sweep")
        rows = [named(sweep, "lagrange_ad reverse sweep")]
        variants = (("gauss-seidel", {"order": "reverse"}, "gauss-seidel, reverse order"),
                    ("gauss-seidel", {"order": "forward", "maxiter": SWEEPS, "tol": 0.0},
                     f"gauss-seidel, forward order, {SWEEPS} sweeps"),
                    ("jacobi", {"maxiter": SWEEPS, "tol": 0.0}, f"jacobi, {SWEEPS} sweeps"))
        for method, options, label in variants:
            row = sweep_row(ctx, kind, n, method, options, f"lagrange_ad {label}")
            rows.append(named(row, row.system, per_node_goal(row, 10, "<= 10 ns/node/sweep")))
        tables.append(timing_table(
            f"Gauss-Seidel and Jacobi sweeps, {KIND_TITLES[kind]}, N = {format_count(n)}", rows,
            unit="node/sweep",
            notes=("Time per node per sweep: a solve's time over (sweeps x N); each solve "
                   "includes building its sweep plan.",)))
    return tables


def sweep_row(ctx: Context, kind: str, n: int, method: str, options: dict, label: str) -> Row:
    def work():
        if method not in la.SCHEDULES:
            raise NotAvailable(method)
        program = ctx.case(kind, n).program
        sweeps = la.solve(program, method, **options).iterations
        return ctx.time(lambda: la.solve(program, method, **options), n * max(sweeps, 1))

    return timed_row(label, n, work)


# ----------------------------------------------------------------- 4. cheap gradient


def cheap_gradient_workload(ctx: Context) -> list[Table]:
    n = max(ctx.size.nodes)
    header = ("graph", "N", "forward values (median)", "local partials + reverse sweep (median)",
              "ratio", "target")
    rows = []
    for kind in KINDS:
        forward = lagrange_timing(ctx, kind, n, "values only")
        total = lagrange_timing(ctx, kind, n, "gradient")
        rows.append(ratio_line(KIND_TITLES[kind], format_count(n), forward,
                               overhead(total, forward)))
    for width in ctx.size.widths:
        forward, backward = mlp_forward_backward(ctx, width)
        rows.append(ratio_line(f"MLP width {width}, batch {ctx.size.batch}", "1 graph",
                               forward, backward))
    return [Table("Cheap-gradient ratio: time(local partials + reverse sweep) / time(forward)",
                  header, tuple(rows),
                  ("Scalar graphs: per node; the forward evaluation is the compiled loop "
                   "computing values only, and partials + sweep is the time of values, partials, "
                   "J and the reverse sweep minus that forward time. MLP: per gradient, forward "
                   "= Program(graph), the sweep applies each node's VJP rule.",))]


def overhead(total: Row, forward: Row) -> Row:
    """The row ``total - forward`` (medians and minima subtracted)."""
    if total.timing is None or forward.timing is None:
        return total
    seconds = tuple(max(t - f, 0.0) for t, f in zip(sorted(total.timing.seconds),
                                                     sorted(forward.timing.seconds)))
    return Row(total.system, total.n, Timing(seconds, total.timing.units), total.status)


def ratio_line(label: str, n: str, forward: Row, backward: Row) -> tuple[str, ...]:
    if forward.timing is None or backward.timing is None:
        return (label, n, *(format_time(r.timing.median) if r.timing else r.status
                            for r in (forward, backward)), "", "n/a (<= 3)")
    ratio = backward.timing.median / forward.timing.median
    return (label, n, format_time(forward.timing.median), format_time(backward.timing.median),
            f"{ratio:.3g}", verdict(ratio <= 3, "<= 3"))


# ----------------------------------------------------------------- 5. scaling


def scaling_workload(ctx: Context) -> list[Table]:
    tables = []
    for kind in KINDS:
        series = {"sweep": [], "solve": []}
        rows = []
        for n in ctx.size.scaling:
            line = [format_count(n)]
            for what, key in (("sweep only", "sweep"), ("sweep", "solve")):
                row = lagrange_timing(ctx, kind, n, what)
                if row.timing is None:
                    line += [row.status, row.status]
                    continue
                series[key].append((n, row.timing.median * n))
                line += [format_time(row.timing.median * n), format_time(row.timing.median)]
            rows.append(tuple(line))
        for key, label in (("sweep", "reverse_sweep"), ("solve", "la.solve")):
            ns, seconds = [n for n, _ in series[key]], [t for _, t in series[key]]
            slope = log_log_slope(ns, seconds)
            target = verdict(0.9 <= slope <= 1.1, "slope in [0.9, 1.1]") if key == "sweep" else ""
            rows.append((f"log-log slope, {label}", f"{slope:.3f}", target, "", ""))
        tables.append(Table(
            f"Scaling of the reverse sweep (J given), {KIND_TITLES[kind]}",
            ("N", "reverse_sweep total", "per node", "la.solve total", "per node"), tuple(rows),
            ("reverse_sweep: the schedule's sweep (lagrange_ad.schedules.reverse.reverse_sweep), "
             "J given, returning the multipliers. la.solve: the same sweep plus what every solve "
             "adds (option and refusal checks, the finiteness check of the multipliers, the "
             "Solution with gradient and timings), a fixed cost of 10-20 us that flattens the "
             "slope at N = 10^3. Slope: least squares of log(median time) on log(N).",)))
    return tables


def log_log_slope(ns, seconds) -> float:
    """Least-squares slope of log(seconds) against log(N)."""
    if len(ns) < 2:
        return math.nan
    return float(np.polyfit(np.log(ns), np.log(seconds), 1)[0])


# ----------------------------------------------------------------- 8. memory


def memory_workload(ctx: Context) -> list[Table]:
    header = ("system", "graph", "N", "peak bytes", "bytes / node", "target")
    rows = []
    for kind in KINDS:
        for n in ctx.size.nodes:
            program = ctx.case(kind, n).program
            peak = traced_peak(lambda program=program: reverse_sweep(program))
            rows.append(("lagrange_ad reverse sweep (J given)", kind, format_count(n), str(peak),
                         f"{peak / n:.1f}", verdict(peak / n <= 100, "<= 100 bytes/node")))
        n = ctx.peer_n("tape", max(ctx.size.nodes))
        tape = peers.tape_function(ctx.case(kind, n).plan)(*ctx.case(kind, n).graph.point)
        peak = traced_peak(lambda tape=tape: peers.tape_backward(tape))
        rows.append(("plain Python tape backward", kind, format_count(n), str(peak),
                     f"{peak / n:.1f}", ""))
        rows.append(micrograd_memory(ctx, kind, n))
    return [Table("Peak memory of the backward pass beyond the graph (tracemalloc)", header,
                  tuple(rows), ("tracemalloc sees Python and numpy allocations only, so torch "
                                "and JAX are not listed.",))]


def traced_peak(run: Callable) -> int:
    """Peak bytes allocated during ``run()`` (after one untraced call to settle caches)."""
    run()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        run()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def micrograd_memory(ctx: Context, kind: str, n: int) -> tuple[str, ...]:
    label = "micrograd backward()"
    try:
        peer = next(p for p in peers.SCALAR_PEERS if p.name == "micrograd")
        f = peers.scalar_function(ctx.case(kind, n).plan, peer.unary())
        state = peer.forward(f, ctx.case(kind, n).graph.point)
        peak = in_deep_thread(lambda: traced_peak(lambda: peer.backward(state)), n)
    except Exception as exc:  # reported in the table
        return (label, kind, format_count(n), failed(label, n, exc).status, "", "")
    return (label, kind, format_count(n), str(peak), f"{peak / n:.1f}", "")


WORKLOADS: dict[str, Callable[[Context], list[Table]]] = {
    "chain": scalar_workload("chain"),
    "dag": scalar_workload("dag"),
    "grad": grad_workload,
    "sweeps": sweeps_workload,
    "cheap-gradient": cheap_gradient_workload,
    "scaling": scaling_workload,
    "mlp": mlp_workload,
    "cnn": cnn_workload,
    "cyclic": cyclic_workload,
    "memory": memory_workload,
    "imported": imported_workload,
}
