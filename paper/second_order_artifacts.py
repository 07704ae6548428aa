"""The paper's second-order artifacts, called by ``make_artifacts.py``.

- ``second_order_lecture.tex``: tangents t, curvature contractions W t, second-order multipliers
  mu and central differences of the multipliers, node by node on the lecture's example;
- ``lagrangian_hessian.pdf``: W of the lecture's example as the block-diagonal matrix of its
  nodes' curvature blocks, W itself, and W's pattern on a random DAG;
- ``second_order_schedules.tex``: iterations of every schedule on the second adjoint system
  ``A^T mu = W t`` beside those on ``A^T lam = e_N``, on every example;
- ``hvp_cost.tex``: Hessian-vector products timed in gradients by the benchmarks' own
  measurement (`benchmarks.hessians.hvp_cost`), for lagrange_ad and, when installed, PyTorch.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy.linalg import block_diag

import lagrange_ad as la
from lagrange_ad.program.second_order import curvature_blocks, second_adjoints, tangents
from lagrange_ad.report.style import style

if importlib.util.find_spec("benchmarks") is None:  # the benchmarks live beside the paper
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tex import tabular, tex_count, tex_fixed, tex_float, tex_text  # noqa: E402

from benchmarks import hessians  # noqa: E402
from benchmarks.harness import PeerMissing  # noqa: E402

DIRECTION = (1.0, 0.5, -1.0)  # d of the lecture's tangent system A t = E d
FD_STEP = 1e-6
# examples whose second adjoint systems the schedules solve (one column each)
SECOND_EXAMPLES = ("lecture", "domke", "random_dag", "mlp", "hmm", "fixed_cos", "jacobi_solve",
                   "pagerank", "equilibrium")
HVP_SIZES = {"small": {"nodes": 1000, "width": 32, "batch": 16, "repeat": 3, "budget": 1.0},
             "full": {"nodes": 10**4, "width": 256, "batch": 64, "repeat": 10, "budget": 5.0}}


def lecture_hessian(x: float, y: float, z: float) -> np.ndarray:
    """The closed form: with u = x^2 + y e^z, Hess f = -sin u grad u grad u^T + cos u Hess u."""
    u = x * x + y * np.exp(z)
    grad_u = np.array([2 * x, np.exp(z), y * np.exp(z)])
    hess_u = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, np.exp(z)], [0.0, np.exp(z), y * np.exp(z)]])
    return -np.sin(u) * np.outer(grad_u, grad_u) + np.cos(u) * hess_u


def lecture_second_order(art) -> None:
    example = la.examples.lecture()
    program = example.program()
    graph = program.graph
    lam = la.solve(program, "reverse").multipliers
    d = tuple(np.array(x) for x in DIRECTION)
    t = np.array([float(x) for x in tangents(program, d)])
    w = program.lagrangian_hessian(lam, sparse=True).toarray()
    mu = second_adjoints(program, lam, d).flat

    def multipliers_at(step: float) -> np.ndarray:
        point = [x + step * dx for x, dx in zip(example.point, d)]
        return la.solve(la.Program(graph, *point), "reverse").multipliers.flat

    differences = (multipliers_at(FD_STEP) - multipliers_at(-FD_STEP)) / (2 * FD_STEP)
    rows = []
    for i in graph.topological_order().tolist():
        equation = graph.describe(i).split(" = ", 1)[1]
        rows.append([f"$v_{{{i}}}$", f"\\texttt{{{tex_text(equation)}}}",
                     f"${tex_fixed(t[i])}$", f"${tex_fixed((w @ t)[i])}$", f"${tex_fixed(mu[i])}$",
                     f"${tex_fixed(differences[i])}$"])
    header = ["node", "constraint", "$t_i$", "$(Wt)_i$", "$\\mu_i$",
              "$\\mathrm{d}\\lambda_i/\\mathrm{d}x\\,[d]$ (differences)"]
    art.write("second_order_lecture.tex", tabular("llrrrr", header, rows))
    a = program.kkt_matrix().toarray()
    tangent_map = np.linalg.solve(a, np.eye(len(graph))[:, :graph.n_inputs])
    closed = lecture_hessian(*example.point)
    art.number("HessianClosedFormDiff",
               tex_float(float(np.max(np.abs(tangent_map.T @ w @ tangent_map - closed)))))
    art.number("SecondAdjointDifferencesDiff", tex_float(float(np.max(np.abs(mu - differences)))))
    art.number("CurvedNodes", str(len(curvature_blocks(program, lam))))


def hessian_figure(art, size: dict) -> None:
    """W of the lecture's example by node blocks and as a matrix; W's pattern on a random DAG."""
    program = la.examples.lecture().program()
    graph = program.graph
    lam = la.solve(program, "reverse").multipliers
    blocks = curvature_blocks(program, lam)
    w = program.lagrangian_hessian(lam, sparse=True).toarray()
    labels = [f"$v_{{{i}}}$" for i in range(len(graph))]
    slots = [f"$v_{{{j}}}$ of $v_{{{i}}}$" for i, _, _ in blocks for j in graph.parents(i)]
    dag = la.examples.get("random_dag", **size["random_dag"]).program()
    dag_w = dag.lagrangian_hessian(la.solve(dag, "reverse"), sparse=True)

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), width_ratios=(1, 1.15, 1))
    bound = np.abs(w).max()
    for ax, matrix, ticks, title in (
            (axes[0], block_diag(*[b for _, _, b in blocks]), slots,
             "$\\mathrm{diag}(\\lambda_i \\nabla^2 p_i)$ over parent slots"),
            (axes[1], w, labels, "$W = P^\\top \\mathrm{diag}(\\lambda_i \\nabla^2 p_i)\\, P$")):
        image = ax.imshow(matrix, cmap="RdBu_r", vmin=-bound, vmax=bound)
        ax.set_xticks(range(len(ticks)), ticks, rotation=90, fontsize=8)
        ax.set_yticks(range(len(ticks)), ticks, fontsize=8)
        ax.set_title(title, fontsize=10)
    start = 0
    for _, _, block in blocks:
        axes[0].add_patch(plt.Rectangle((start - 0.5, start - 0.5), len(block), len(block),
                                        fill=False, edgecolor=style("reverse").color))
        start += len(block)
    fig.colorbar(image, ax=axes[1], fraction=0.046)
    axes[2].spy(dag_w, markersize=1.5, color=style("reverse").color)
    axes[2].xaxis.tick_bottom()
    axes[2].set_title(f"pattern of $W$, random DAG ({len(dag.graph)} nodes, "
                      f"{dag_w.nnz} nonzeros)", fontsize=10)
    art.figure(fig, "lagrangian_hessian")
    art.number("DagHessianNonzeros", str(dag_w.nnz))
    art.number("DagHessianNodes", str(len(dag.graph)))


def second_schedules_table(art, programs: dict[str, la.Program]) -> None:
    """Iterations on A^T mu = W t (and on A^T lam = e_N) of every schedule, every example."""
    second, first = {}, {}
    for name, program in programs.items():
        second[name] = la.compare(program, order=2, track_memory=False)
        first[name] = la.compare(program, track_memory=False)
    labels = list(dict.fromkeys(row.label for c in second.values() for row in c.rows))
    rows, worst, same, solved = [], 0.0, 0, 0
    for label in labels:
        cells = []
        for name in SECOND_EXAMPLES:
            row = next((r for r in second[name].rows if r.label == label), None)
            if row is None or row.status == "refused":
                cells.append("--")
                continue
            if row.status == "failed":
                cells.append("fail")
                continue
            one = next(r for r in first[name].rows if r.label == label)
            mark = "" if row.converged else "$^\\dagger$"
            cells.append(f"{row.iterations} ({one.iterations}){mark}")
            if row.converged and row.max_rel_diff is not None:
                worst = max(worst, row.max_rel_diff)
                solved += 1
                same += row.iterations == one.iterations
        rows.append([tex_text(label)] + cells)
    header = ["schedule"] + [f"\\texttt{{{tex_text(n)}}}" for n in SECOND_EXAMPLES]
    art.write("second_order_schedules.tex",
              tabular("l" + "r" * len(SECOND_EXAMPLES), header, rows))
    art.number("SecondWorstDiff", tex_float(worst))
    art.number("SecondSolvedRuns", str(solved))
    art.number("SecondSameIterations", str(same))


def hvp_cost_table(art, size_name: str) -> None:
    """HVP time over gradient time, lagrange_ad and PyTorch, by `benchmarks.hessians`."""
    size = HVP_SIZES[size_name]
    problems = [hessians.scalar_problem("chain", size["nodes"]),
                hessians.scalar_problem("dag", size["nodes"]),
                hessians.mlp_problem(size["width"], size["batch"])]
    names = {"chain": "chain of sines", "dag": "random DAG"}
    rows, first, further = [], [], []
    for problem in problems:
        expected = hessians.lagrange_product(problem)
        label = names.get(problem.label, problem.label)
        n = tex_count(problem.units) if not problem.tensors else "--"
        for system in ("lagrange_ad", "torch"):
            try:
                cost = hessians.hvp_cost(problem, system, size["repeat"], size["budget"],
                                         None if system == "lagrange_ad" else expected)
            except PeerMissing:
                rows.append([tex_text(label), n, system, "--", "--"])
                continue
            if system == "lagrange_ad":
                first.append(cost.first_ratio)
                further.append(cost.further_ratio)
            rows.append([tex_text(label), n, tex_text(system), f"{cost.first_ratio:.2f}",
                         f"{cost.further_ratio:.2f}"])
    header = ["function", "nodes", "system", "first HVP / gradient", "further HVP / gradient"]
    art.write("hvp_cost.tex", tabular("lrlrr", header, rows))
    art.number("HvpFirstMax", f"{max(first):.1f}")
    art.number("HvpFurtherMax", f"{max(further):.1f}")
    art.number("HvpFurtherMin", f"{min(further):.2f}")


def second_order_artifacts(art, size_name: str, size: dict, program_for) -> None:
    """Every second-order artifact; ``program_for(name)`` is an example's program at the
    paper's size."""
    lecture_second_order(art)
    hessian_figure(art, size)
    second_schedules_table(art, {name: program_for(name) for name in SECOND_EXAMPLES})
    hvp_cost_table(art, size_name)
