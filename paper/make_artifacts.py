"""Every table, figure and number of the paper, computed by lagrange_ad.

    python paper/make_artifacts.py [--size small|full] [--out DIR]

writes into ``DIR`` (default: ``paper/generated``):

- ``lecture.tex``: values ``v_i`` and multipliers ``lam_i`` of the lecture's example;
- ``schedules_cost_acyclic.tex``, ``schedules_cost_cyclic.tex``: iterations and multiply-adds
  of every schedule on every example; ``schedules_accuracy.tex``: the largest KKT residual
  ``||e_N - A^T lam||`` and the largest distance to the reverse sweep's multipliers;
  ``schedules_detail.tex``: one table per example with all four numbers;
- ``sweeps.pdf``: sweeps of Gauss-Seidel and Jacobi against the longest path on random DAGs;
- ``paths.pdf``: paths against multiply-adds on the fully connected graph;
- ``convergence.pdf``: KKT residual per iteration of the iterative schedules;
- ``unrolled.pdf``: unrolled against implicit multipliers on the cyclic examples;
- ``elimination.tex``: multiplications of vertex elimination in three orders;
- ``checkpointing.tex``, ``checkpointing.pdf``: recomputations against stored states;
- ``marginals.tex``: multipliers of log-partition functions against enumerated marginals;
- ``verification.tex``: finite-difference and Taylor checks of every example;
- ``second_order_lecture.tex``, ``lagrangian_hessian.pdf``, ``second_order_schedules.tex``,
  ``hvp_cost.tex``: second order (``second_order_artifacts.py``);
- ``numbers.tex``: ``\\gen...`` macros for every number quoted in the text.

Figures are written as PDF and PNG. ``--size small`` runs in seconds (the tests use it);
``--size full`` gives the paper's sizes. Everything is seeded, so the output is the same on
every run (apart from the PNG/PDF metadata matplotlib may stamp), except ``hvp_cost.tex``:
ratios of times measured on the machine that runs the script.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from second_order_artifacts import second_order_artifacts  # noqa: E402
from tex import tabular, tex_count, tex_fixed, tex_float, tex_text  # noqa: E402

import lagrange_ad as la  # noqa: E402
from lagrange_ad.compare import (  # noqa: E402
    Comparison,
    ComparisonRow,
    max_relative_difference,
)
from lagrange_ad.progress import Progress  # noqa: E402
from lagrange_ad.report.plots import legend_outside  # noqa: E402
from lagrange_ad.report.style import STYLES, styles  # noqa: E402

HERE = Path(__file__).resolve().parent
ACYCLIC = ("lecture", "domke", "random_dag", "fully_connected", "mlp", "hmm")
CYCLIC = ("fixed_cos", "jacobi_solve", "pagerank", "equilibrium")
LOG_PARTITION = ("hmm", "pcfg", "loglinear")

# (label in the tables, schedule, options); one schedule may appear with several options
METHODS = (
    ("reverse", "reverse", {}),
    ("reverse, levels", "reverse", {"blocks": "levels"}),
    ("reverse, checkpointed", "reverse", {"checkpoints": 2}),
    ("reverse, cycles by LU", "reverse", {"inner": "direct"}),
    ("forward", "forward", {}),
    ("GS, forward order", "gauss-seidel", {"order": "forward"}),
    ("GS, reverse order", "gauss-seidel", {"order": "reverse"}),
    ("GS, random order", "gauss-seidel", {"order": "random", "seed": 0}),
    ("Jacobi", "jacobi", {}),
    ("sparse direct", "spsolve", {}),
    ("GMRES", "gmres", {}),
    ("BiCGSTAB", "bicgstab", {}),
    ("LSQR", "lsqr", {}),
    ("dual descent (CG)", "dual-descent", {"algorithm": "cg"}),
    ("cvxpy duals", "cvxpy", {}),
    ("trust-constr", "nlp", {"start": "perturbed"}),
    ("sum over paths", "paths", {}),
    ("unrolled, K = 50", "unrolled", {"steps": 50}),
)
# on a DAG "reverse, cycles by LU" is the plain reverse sweep: shown for cyclic graphs only
CYCLIC_ONLY = ("reverse, cycles by LU",)
ITERATIVE = ("GS, random order", "Jacobi", "GMRES", "BiCGSTAB", "LSQR", "dual descent (CG)")

SIZES = {
    "small": {
        "random_dag": {"n": 60, "window": 20},
        "sweep_graphs": [(n, w, s) for n in (40, 80) for w in (2, 5, 20) for s in (0, 1)],
        "fully_connected": range(4, 10),
        "unroll_steps": (1, 2, 4, 8, 16, 32),
        "chain": 100,
        "checkpoints": (0, 1, 2, 3, 5, 10),
        "elimination_dag": 40,
    },
    "full": {
        "random_dag": {"n": 500, "window": 50},
        "sweep_graphs": [(n, w, s) for n in (50, 100, 200, 400) for w in (2, 3, 5, 10, 30, 100)
                         for s in (0, 1, 2)],
        "fully_connected": range(4, 17),
        "unroll_steps": (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 125,
                         150, 200, 250),
        "chain": 1000,
        "checkpoints": (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50),
        "elimination_dag": 150,
    },
}


# ------------------------------------------------------------------------------ formatting


class Artifacts:
    """The output directory and the macros collected for ``numbers.tex``."""

    def __init__(self, out: Path):
        self.out = out
        self.macros: dict[str, str] = {}
        out.mkdir(parents=True, exist_ok=True)

    def number(self, name: str, value: str, math_mode: bool = True) -> None:
        assert name.isalpha() and name not in self.macros, name
        self.macros[name] = f"\\ensuremath{{{value}}}" if math_mode else value

    def write(self, name: str, text: str) -> None:
        (self.out / name).write_text(text)

    def figure(self, fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(self.out / f"{name}.pdf", metadata={"CreationDate": None})
        fig.savefig(self.out / f"{name}.png", dpi=120)
        plt.close(fig)

    def write_numbers(self) -> None:
        lines = ["% generated by make_artifacts.py; do not edit"]
        lines += [f"\\newcommand{{\\gen{name}}}{{{value}}}" for name, value in self.macros.items()]
        self.write("numbers.tex", "\n".join(lines) + "\n")


# ------------------------------------------------------------------------- (a) the lecture


def lecture_table(art: Artifacts) -> None:
    example = la.examples.lecture()
    program = example.program()
    graph = program.graph
    solution = la.solve(program, "reverse")
    rows = []
    for i in graph.topological_order().tolist():
        equation = graph.describe(i).split(" = ", 1)[1]
        rows.append([f"$v_{{{i}}}$", f"\\texttt{{{tex_text(equation)}}}",
                     f"${tex_fixed(float(program.values[i]))}$",
                     f"${tex_fixed(float(solution.multipliers[i]))}$"])
    art.write("lecture.tex", tabular("llrr", ["node", "constraint", "$v_i$", "$\\lambda_i$"],
                                     rows))
    gradient = [float(g) for g in solution.gradient]
    for axis, g in zip("XYZ", gradient):
        art.number(f"LectureGrad{axis}", tex_fixed(g))
    art.number("LectureValue", tex_fixed(float(program.output_value)))
    art.number("LectureNodes", str(len(graph)))
    art.number("LectureDepth", str(graph.depth))
    closed = np.array([float(g) for g in example.gradient])
    art.number("LectureClosedFormDiff", tex_float(float(np.max(np.abs(closed - gradient)))))


# ------------------------------------------------------------------ (b) schedule comparison


def compare(program: la.Program) -> Comparison:
    """`la.compare` over `METHODS`, without memory tracing (times are not reported).

    On a DAG a cycle-only row runs without its options, which apply to cycles alone.
    """
    acyclic = program.graph.is_acyclic
    methods = [(label, method, {} if acyclic and label in CYCLIC_ONLY else options)
               for label, method, options in METHODS]
    return la.compare(program, methods, track_memory=False)


def example_for(name: str, size: dict) -> la.examples.Example:
    options = size["random_dag"] if name == "random_dag" else {}
    return la.examples.get(name, **options)


def schedule_tables(art: Artifacts, size: dict) -> dict[str, Comparison]:
    comparisons = {}
    for name in ACYCLIC + CYCLIC:
        comparisons[name] = compare(example_for(name, size).program())
    labels = [label for label, _, _ in METHODS]

    def cost(row: ComparisonRow) -> str:
        if row.status == "refused":
            return "--"
        if row.status == "failed":
            return "fail"
        mark = "" if row.converged else "$^\\dagger$"
        return f"{tex_count(row.iterations)} / {tex_count(row.multiply_adds)}{mark}"

    for kind, names in (("acyclic", ACYCLIC), ("cyclic", CYCLIC)):
        header = ["schedule"] + [f"\\texttt{{{tex_text(n)}}}" for n in names]
        rows = []
        for label in labels:
            if kind == "acyclic" and label in CYCLIC_ONLY:
                continue
            cells = [cost(comparisons[n][label]) for n in names]
            if any(cell != "--" for cell in cells):
                rows.append([label] + cells)
        art.write(f"schedules_cost_{kind}.tex", tabular("l" + "r" * len(names), header, rows))

    def worst(rows: list[ComparisonRow], field: str) -> str:
        values = [getattr(r, field) for r in rows if r.status == "solved"]
        return f"${tex_float(max(values))}$" if values else "--"

    rows = []
    for label in labels:
        groups = [[comparisons[n][label] for n in names] for names in (ACYCLIC, CYCLIC)]
        if label in CYCLIC_ONLY:
            groups[0] = []
        cells = [worst(group, field) for group in groups
                 for field in ("kkt_residual", "max_rel_diff")]
        rows.append([label] + cells)
    header = ["schedule", "residual, DAGs", "difference, DAGs", "residual, cycles",
              "difference, cycles"]
    art.write("schedules_accuracy.tex", tabular("lrrrr", header, rows))

    detail = []
    for name, comparison in comparisons.items():
        rows = []
        for row in comparison.rows:
            if row.status != "solved":
                continue
            mark = "" if row.converged else "$^\\dagger$"
            rows.append([row.label + mark, tex_count(row.iterations),
                         tex_count(row.multiply_adds), f"${tex_float(row.kkt_residual)}$",
                         f"${tex_float(row.max_rel_diff)}$"])
        refused = [row.label for row in comparison.rows if row.status != "solved"]
        caption = (f"Schedules on \\texttt{{{tex_text(name)}}} "
                   f"({tex_text(comparison.program_summary)}). ")
        if refused:
            caption += "Not applicable: " + ", ".join(refused) + "."
        detail += ["\\begin{table}[htbp]", "\\centering", "\\small",
                   tabular("lrrrr", ["schedule", "iterations", "multiply-adds",
                                     "KKT residual", "difference"], rows),
                   f"\\caption{{{caption}}}", f"\\label{{tab:detail-{name.replace('_', '-')}}}",
                   "\\end{table}", ""]
    art.write("schedules_detail.tex", "\n".join(detail))

    solved = [r for c in comparisons.values() for r in c.rows if r.status == "solved"]
    art.number("ScheduleCount", str(len(la.SCHEDULES)))
    art.number("VariantCount", str(len(METHODS)))
    art.number("ExampleCount", str(len(comparisons)))
    art.number("SolvedRuns", str(len(solved)))
    art.number("NotConvergedRuns", str(sum(not r.converged for r in solved)))
    worst_name, worst_row = max(((n, r) for n, c in comparisons.items() for r in c.rows
                                 if r.status == "solved"), key=lambda pair: pair[1].max_rel_diff)
    art.number("WorstDifference", tex_float(worst_row.max_rel_diff))
    art.number("WorstDifferenceLabel", tex_text(worst_row.label), math_mode=False)
    art.number("WorstDifferenceExample", f"\\texttt{{{tex_text(worst_name)}}}", math_mode=False)
    gmres_within = sum(comparisons[n]["GMRES"].iterations <= comparisons[n]["Jacobi"].iterations
                       for n in ACYCLIC)
    art.number("GmresWithinJacobi", str(gmres_within))
    art.number("AcyclicCount", str(len(ACYCLIC)))
    art.number("CyclicCount", str(len(CYCLIC)))
    lecture = comparisons["lecture"]
    art.number("LectureCvxpyDiff", tex_float(lecture["cvxpy duals"].max_rel_diff))
    art.number("LectureForwardSweeps", str(lecture["forward"].iterations))
    art.number("LectureJacobiSweeps", str(lecture["Jacobi"].iterations))
    art.number("LectureGmresIterations", str(lecture["GMRES"].iterations))
    dag = comparisons["random_dag"]
    art.number("RandomDagNodes", str(size["random_dag"]["n"]))
    art.number("RandomDagReverseMadds", tex_count(dag["reverse"].multiply_adds))
    art.number("RandomDagForwardMadds", tex_count(dag["forward"].multiply_adds))
    art.number("RandomDagGmresIterations", str(dag["GMRES"].iterations))
    art.number("RandomDagJacobiSweeps", str(dag["Jacobi"].iterations))
    art.number("RandomDagLsqrIterations", tex_count(dag["LSQR"].iterations))
    return comparisons


# ------------------------------------------------------------------ (c) sweeps against depth


def longest_path_to_output(program: la.Program) -> int:
    """Edges on the longest path ending at the output along nonzero local partials J_ij.

    The sweep counts of the forward order and of Jacobi are one more than this number: a zero
    partial (as in ``v - v``) cuts a path of the graph, so it can be shorter than the depth.
    """
    graph = program.graph
    jac = program.local_jacobian().tocsr()
    distance = np.full(graph.total_size, -1, np.int64)
    distance[graph.offsets[graph.output]:graph.offsets[graph.output + 1]] = 0
    offsets = graph.offsets
    entries = [range(offsets[j], offsets[j + 1]) for j in graph.topological_order().tolist()]
    for i in [i for block in entries[::-1] for i in block]:
        if distance[i] < 0:
            continue
        lo, hi = jac.indptr[i], jac.indptr[i + 1]
        parents = jac.indices[lo:hi][jac.data[lo:hi] != 0]
        distance[parents] = np.maximum(distance[parents], distance[i] + 1)
    return int(distance.max())


def sweep_figure(art: Artifacts, size: dict) -> None:
    orders = (("GS, forward order", "gauss-seidel", {"order": "forward"}),
              ("Jacobi", "jacobi", {}),
              ("GS, random order", "gauss-seidel", {"order": "random", "seed": 0}),
              ("GS, reverse order", "gauss-seidel", {"order": "reverse"}))
    lengths, depths, sweeps = [], [], {label: [] for label, _, _ in orders}
    for n, window, seed in size["sweep_graphs"]:
        program = la.examples.random_dag(n=n, window=window, seed=seed).program()
        lengths.append(longest_path_to_output(program))
        depths.append(int(program.graph.levels()[program.graph.output]))
        for label, name, options in orders:
            # tol = 0: stop at the first sweep whose residual is exactly zero
            sweeps[label].append(la.solve(program, name, tol=0.0, **options).iterations)
    lengths = np.array(lengths)
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    span = np.arange(0, lengths.max() + 2)
    ax.plot(span, span + 1, color="0.7", lw=1, label="$L + 1$")
    looks = styles((label, name) for label, name, _ in orders)
    for k, (label, _, _) in enumerate(orders):
        look = looks[label]
        # hollow markers of shrinking size: coinciding counts (GS forward = Jacobi) stay visible
        ax.plot(lengths, sweeps[label], linestyle="none", marker=look.marker, color=look.color,
                markerfacecolor="none", markersize=8 - 1.5 * k, markeredgewidth=1.2, label=label)
    ax.set_xlabel("longest path $L$ to the output (edges with nonzero partials)")
    ax.set_ylabel("sweeps until $A^\\top\\lambda = e_N$ exactly")
    legend_outside(ax, fontsize=8)
    art.figure(fig, "sweeps")
    predicted = lengths + 1
    forward, jacobi = np.array(sweeps["GS, forward order"]), np.array(sweeps["Jacobi"])
    art.number("SweepGraphs", str(len(lengths)))
    art.number("SweepEarly", str(int(np.sum((forward < predicted) | (jacobi < predicted)))))
    art.number("SweepLate", str(int(np.sum((forward > predicted) | (jacobi > predicted)))))
    art.number("SweepForwardEqualsJacobi", str(int(np.sum(forward == jacobi))))
    art.number("SweepForwardMatches",
               str(int(np.sum(np.array(sweeps["GS, forward order"]) == predicted))))
    art.number("SweepJacobiMatches", str(int(np.sum(np.array(sweeps["Jacobi"]) == predicted))))
    art.number("SweepReverseOnes",
               str(int(np.sum(np.array(sweeps["GS, reverse order"]) == 1))))
    art.number("SweepCutGraphs", str(int(np.sum(lengths < np.array(depths)))))
    art.number("SweepMaxDepth", str(max(depths)))


# ---------------------------------------------------------------- (d) paths on the full graph


def paths_figure(art: Artifacts, size: dict) -> None:
    ns, paths, enumerated, reverse, forward = [], [], [], [], []
    for n in size["fully_connected"]:
        example = la.examples.fully_connected(n=n)
        program = example.program()
        ns.append(n)
        paths.append(example.data["paths"])
        enumerated.append(la.solve(program, "paths").stats.multiply_adds)
        reverse.append(la.solve(program, "reverse").stats.multiply_adds)
        forward.append(la.solve(program, "forward", inputs_only=True).stats.multiply_adds)
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    ax.plot(ns, paths, color="0.55", linestyle="-", label="input-output paths $2^{n-2}$")
    ax.plot(ns, enumerated, **STYLES["paths"].kwargs(), label="sum over paths: multiplications")
    ax.plot(ns, reverse, **STYLES["reverse"].kwargs(), markerfacecolor="none", markersize=9,
            label="reverse sweep: multiply-adds")
    ax.plot(ns, forward, **STYLES["forward"].kwargs(), markersize=4,
            label="forward sweep (gradient): multiply-adds")
    ax.set_yscale("log")
    ax.set_xlabel("nodes $n$ of the fully connected graph")
    ax.set_ylabel("count")
    legend_outside(ax, fontsize=8)
    art.figure(fig, "paths")
    art.number("PathsLargestN", str(ns[-1]))
    art.number("PathsLargest", tex_count(paths[-1]))
    art.number("PathsLargestEnumerated", tex_count(enumerated[-1]))
    art.number("PathsLargestReverse", tex_count(reverse[-1]))


# --------------------------------------------------------------------------- (e) convergence


def convergence_figure(art: Artifacts, comparisons: dict[str, Comparison]) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.6))
    schedule_of = {label: name for label, name, _ in METHODS}
    looks = styles((label, schedule_of[label]) for label in ITERATIVE)
    for ax, name in zip(axes, ("random_dag", "equilibrium")):
        comparison = comparisons[name]
        for label in ITERATIVE:
            solution = comparison.solutions.get(label)
            if solution is None or len(solution.residuals) < 2:
                continue
            history = np.maximum(np.asarray(solution.residuals, float), 1e-18)
            every = max(1, history.size // 10)
            ax.semilogy(np.arange(1, history.size + 1), history, label=label, lw=1.2,
                        markevery=every, markersize=4, **looks[label].kwargs())
        ax.set_xlabel("iteration")
        ax.set_ylabel("$\\|e_N - A^\\top\\lambda\\|_2$")
        ax.set_title(f"{name} ({comparison.program_summary})", fontsize=9)
        ax.set_xscale("log")
    # one legend for both panels, outside the right one
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    axes[1].legend(list(handles.values()), list(handles), loc="upper left",
                   bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=7, frameon=False)
    art.figure(fig, "convergence")


# --------------------------------------------------------------- (f) unrolled against implicit


def unrolled_figure(art: Artifacts, size: dict) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.6))
    for k, name in enumerate(CYCLIC):
        program = la.examples.get(name).program()
        implicit = la.solve(program, "reverse")
        reference = np.concatenate([np.ravel(g) for g in implicit.gradient])
        radius = max(c["spectral_radius"] for c in implicit.stats.extra["cycles"])
        errors, costs = [], []
        for steps in size["unroll_steps"]:
            unrolled = la.solve(program, "unrolled", steps=steps)
            gradient = np.concatenate([np.ravel(g) for g in unrolled.gradient])
            errors.append(max_relative_difference(gradient, reference))
            costs.append(unrolled.stats.multiply_adds)
        label = f"{name} ($\\rho(J_{{CC}}) = {radius:.2f}$)"
        axes[0].semilogy(size["unroll_steps"], np.maximum(errors, 1e-17), "o-", ms=3,
                         color=f"C{k}")
        axes[1].loglog(size["unroll_steps"], costs, "o-", ms=3, color=f"C{k}", label=label)
        axes[1].axhline(implicit.stats.multiply_adds, color=f"C{k}", ls=":", lw=1)
        macro = name.replace("_", " ").title().replace(" ", "")
        art.number(f"Radius{macro}", f"{radius:.2f}")
        art.number(f"UnrolledLastError{macro}", tex_float(errors[-1]))
        art.number(f"ImplicitMadds{macro}", tex_count(implicit.stats.multiply_adds))
    axes[0].set_xlabel("unrolled sweeps $K$")
    axes[0].set_ylabel("gradient difference from implicit")
    axes[1].set_xlabel("unrolled sweeps $K$")
    axes[1].set_ylabel("multiply-adds (dotted: implicit)")
    for ax in axes:  # sweep counts span decades in the full run
        ax.set_xscale("log")
    legend_outside(axes[1], fontsize=7)
    art.figure(fig, "unrolled")
    art.number("UnrollLargestK", str(size["unroll_steps"][-1]))


# ------------------------------------------------------------------------- (g) elimination


def elimination_table(art: Artifacts, size: dict) -> None:
    dag = la.examples.random_dag(n=size["elimination_dag"], window=10, seed=0).program()
    several = tuple(range(len(dag.graph) - 5, len(dag.graph)))
    cases = (("lecture", la.examples.lecture().program(), None),
             ("domke", la.examples.domke().program(), None),
             ("fully\\_conn.\\ ($n = 8$)", la.examples.fully_connected(n=8).program(), None),
             ("loglinear", la.examples.loglinear().program(), None),
             (f"random\\_dag ($n = {size['elimination_dag']}$)", dag, several))
    rows, spread = [], 0.0
    for label, program, outputs in cases:
        counts, matrices = [], []
        for mode, order in (("reverse", None), ("forward", None), ("elimination", "forward"),
                            ("elimination", "reverse"), ("elimination", "markowitz")):
            result = la.jacobian(program, outputs, mode=mode, order=order)
            counts.append(result.multiplications)
            matrices.append(result.matrix)
        spread = max(spread, max(float(np.max(np.abs(m - matrices[0]))) for m in matrices))
        shape = matrices[0].shape
        rows.append([label, f"${shape[0]} \\times {shape[1]}$"] + [tex_count(c) for c in counts])
    header = ["graph", "$D$", "rev.\\ sweeps", "fwd.\\ sweeps", "elim.\\ fwd.",
              "elim.\\ rev.", "Markowitz"]
    art.write("elimination.tex", tabular("lrrrrrr", header, rows))
    art.number("EliminationSpread", tex_float(spread))


# ----------------------------------------------------------------------- (h) checkpointing


def chain_program(length: int) -> la.Program:
    """``v_t = sin(v_{t-1})``, ``length`` steps from one input."""
    builder = la.GraphBuilder()
    x = builder.input(name="x")
    builder.add_many("sin", np.r_[x, -np.ones(length - 1, np.int64)])
    return la.Program(builder.build(), 0.3)


def checkpointing_artifacts(art: Artifacts, size: dict) -> None:
    program = chain_program(size["chain"])
    plain = la.solve(program, "reverse").multipliers.flat
    rows, ks, recomputed, optimal, spread = [], [], [], [], 0.0
    for k in size["checkpoints"]:
        solution = la.solve(program, "reverse", checkpoints=k)
        extra = solution.stats.extra
        spread = max(spread, float(np.max(np.abs(solution.multipliers.flat - plain))))
        ks.append(k)
        recomputed.append(extra["recomputations"])
        optimal.append(extra["optimal_recomputations"])
        rows.append([str(k), tex_count(extra["peak_stored_values"]),
                     tex_count(extra["recomputations"]),
                     tex_count(extra["optimal_recomputations"]),
                     f"{extra['evaluations'] / extra['steps']:.2f}"])
    header = ["checkpoints $k$", "peak values held", "recomputations", "binomial optimum",
              "evaluations per step"]
    art.write("checkpointing.tex", tabular("rrrrr", header, rows))
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.semilogy(ks, recomputed, "o", label="measured recomputations")
    ax.semilogy(ks, optimal, "-", color="0.5", label="$t(T, k+1)$, binomial optimum")
    ax.set_xlabel("stored states $k$ (beyond the input)")
    ax.set_ylabel("recomputed steps")
    ax.set_title(f"chain of T = {size['chain']} sin nodes", fontsize=9)
    ax.legend(fontsize=8)
    art.figure(fig, "checkpointing")
    art.number("ChainLength", tex_count(size["chain"]))
    art.number("CheckpointSpread", tex_float(spread))
    art.number("CheckpointMatches", str(sum(a == b for a, b in zip(recomputed, optimal))))
    art.number("CheckpointCases", str(len(ks)))


# ---------------------------------------------------------------- (i) marginals, verification


def marginals_table(art: Artifacts) -> None:
    meaning = {"hmm": "unary and pairwise posterior marginals",
               "pcfg": "expected rule counts",
               "loglinear": "observed minus expected features"}
    rows = []
    for name in LOG_PARTITION:
        example = la.examples.get(name)
        program = example.program()
        gradient = la.solve(program, "reverse").gradient
        error = max(float(np.max(np.abs(g - e))) for g, e in zip(gradient, example.gradient))
        if name == "hmm":
            states, length = example.gradient[0].size, len(example.data["observations"])
            structures = tex_count(states ** length)
        elif name == "pcfg":
            structures = tex_count(example.data["trees"])
        else:
            structures = "closed form"
        rows.append([f"\\texttt{{{name}}}", meaning[name], tex_count(len(program.graph)),
                     structures, f"${tex_float(error)}$"])
    header = ["example", "input multipliers are", "nodes", "enumerated", "max error"]
    art.write("marginals.tex", tabular("llrrr", header, rows))


def verification_table(art: Artifacts, size: dict) -> None:
    rows, passed = [], 0
    for name in ACYCLIC + ("pcfg", "loglinear") + CYCLIC:
        program = example_for(name, size).program()
        report = la.verify(program)
        checks = {check.name: check for check in report.checks}
        ran = [check for check in report.checks if not check.skipped]
        fd, taylor = checks["finite differences"], checks["taylor remainder"]
        passed += report.ok
        order = "--" if taylor.error is None else f"{2 - taylor.error:.2f}"
        rows.append([f"\\texttt{{{tex_text(name)}}}",
                     f"{sum(c.ok for c in ran)} / {len(ran)}",
                     f"${tex_float(checks['kkt residual'].error)}$",
                     f"${tex_float(fd.error)}$", order])
    header = ["example", "checks passed", "relative KKT residual", "finite-difference error",
              "Taylor order"]
    art.write("verification.tex", tabular("lrrrr", header, rows))
    art.number("VerifiedExamples", str(passed))
    art.number("VerificationExamples", str(len(rows)))


# ------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=tuple(SIZES), default="full")
    parser.add_argument("--out", type=Path, default=HERE / "generated")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    art = Artifacts(args.out)
    steps = (("lecture", lambda: lecture_table(art)),
             ("schedules", lambda: schedule_tables(art, size)),
             ("sweeps", lambda: sweep_figure(art, size)),
             ("paths", lambda: paths_figure(art, size)),
             ("unrolled", lambda: unrolled_figure(art, size)),
             ("elimination", lambda: elimination_table(art, size)),
             ("checkpointing", lambda: checkpointing_artifacts(art, size)),
             ("marginals", lambda: marginals_table(art)),
             ("verification", lambda: verification_table(art, size)),
             ("second order", lambda: second_order_artifacts(
                 art, args.size, size, lambda name: example_for(name, size).program())))
    start = time.perf_counter()
    # one line per step on stderr when it is a terminal (silent in pipes and tests)
    progress = Progress("artifacts", len(steps))
    for name, step in steps:
        progress.start(name)
        result = step()
        if name == "schedules":
            convergence_figure(art, result)
        progress.done(name)
    art.number("Size", args.size, math_mode=False)
    art.write_numbers()
    print(f"wrote {len(list(args.out.iterdir()))} files to {args.out} in "
          f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
