"""The ``lagrange-ad`` command line: compare schedules, verify multipliers, show graphs.

``lagrange-ad compare`` alone compares every schedule on the lecture's example. A program is
named either as an example (``lagrange-ad examples`` lists them) or as ``path/to/file.py:name``,
a Python function of numbers or arrays written with ``la.`` functions; ``--at`` gives the
point. Bad input ends with exit status 2 and a one-line message.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from . import examples
from .compare import compare
from .errors import LagrangeADError
from .program.program import Program
from .schedules import SCHEDULES, solve
from .tracing.tracer import trace
from .verify import verify


class UsageError(Exception):
    """Bad command-line input: reported in one line with exit status 2."""


# ----------------------------------------------------------------------------- the program


def load_program(target: str, at: str | None) -> Program:
    """The program named by an example name or ``file.py:function``, at ``--at`` if given."""
    if ":" in target or target.endswith(".py"):
        return _program_from_file(target, at)
    if target not in examples.EXAMPLES:
        raise UsageError(f"unknown example {target!r}; examples are: "
                         f"{', '.join(examples.EXAMPLES)} (or give path/to/file.py:function)")
    graph = examples.get(target).graph
    if at is None:
        return Program(graph)
    values = _parse_at(at)
    shapes = [graph.shape(i) for i in graph.inputs]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    if len(values) != sum(sizes):
        raise UsageError(f"--at gives {len(values)} number(s) but example {target!r} has "
                         f"{sum(sizes)} input entries (inputs of shapes {shapes})")
    cuts = np.cumsum([0] + sizes)
    point = [np.reshape(values[a:b], s) for a, b, s in zip(cuts, cuts[1:], shapes)]
    return Program(graph, *point)


def _parse_at(text: str) -> np.ndarray:
    try:
        values = np.array([float(part) for part in text.split(",")], dtype=np.float64)
    except ValueError:
        raise UsageError(f"--at needs comma-separated numbers such as 2,-1,0; got {text!r}") \
            from None
    if not np.all(np.isfinite(values)):
        raise UsageError(f"--at values must be finite numbers; got {text!r}")
    return values


def _program_from_file(target: str, at: str | None) -> Program:
    path_text, _, name = target.rpartition(":") if ":" in target else (target, "", "f")
    path = Path(path_text)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    spec = importlib.util.spec_from_file_location(f"lagrange_ad_user_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's module: any failure is reported in one line
        raise UsageError(f"importing {path} failed: {type(exc).__name__}: {exc}") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise UsageError(f"{path} has no function {name!r}")
    if at is not None:
        point = list(_parse_at(at))
    else:
        defaults = [p.default for p in inspect.signature(function).parameters.values()]
        if not defaults or any(d is inspect.Parameter.empty for d in defaults):
            raise UsageError(f"{name} needs a point: give --at with one number per argument, "
                             f"or default values for every argument")
        point = defaults
    try:
        return Program(trace(function, *point))
    except LagrangeADError:
        raise
    except Exception as exc:  # the user's function raised while being traced
        raise UsageError(f"{name}{tuple(point)} raised {type(exc).__name__}: {exc}") from None


# ----------------------------------------------------------------------------- commands


def _cmd_compare(args) -> int:
    program = load_program(args.target, args.at)
    methods = None
    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = [m for m in methods if m not in SCHEDULES]
        if unknown:
            raise UsageError(f"unknown method {unknown[0]!r}; methods are: "
                             f"{', '.join(SCHEDULES)}")
    show_progress = args.progress or sys.stderr.isatty()
    comparison = compare(program, methods=methods, progress=show_progress,
                         track_memory=not args.no_memory)
    print({"text": str, "markdown": lambda c: c.to_markdown(),
           "json": lambda c: c.to_json()}[args.format](comparison))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ax = comparison.plot()
        ax.figure.savefig(args.plot, dpi=120, bbox_inches="tight")
        plt.close(ax.figure)
        print(f"convergence plot written to {args.plot}", file=sys.stderr)
    return 0


def _cmd_verify(args) -> int:
    report = verify(load_program(args.target, args.at))
    print(report)
    return 0 if report.ok else 1


def _cmd_show(args) -> int:
    for target in args.targets or ["lecture"]:
        program = load_program(target, args.at)
        solution = solve(program, "reverse")
        graph = program.graph
        if args.format == "text":
            print(_node_table(program, solution))
            continue
        labels = {i: f"value {_fmt(program.values[i])}\nlam {_fmt(solution.multipliers[i])}"
                  for i in range(len(graph))}
        dot = graph.to_dot(labels)
        if args.format == "dot":
            print(dot)
            continue
        output = args.output or f"{target.replace(':', '_').replace('/', '_')}.{args.format}"
        _render(graph, dot, labels, args.format, output)
        print(f"{target}: drawing written to {output}")
    return 0


def _render(graph, dot: str, labels, fmt: str, output: str) -> None:
    """Graphviz when its ``dot`` program is installed, a matplotlib drawing otherwise."""
    if shutil.which("dot"):
        subprocess.run(["dot", f"-T{fmt}", "-o", output], input=dot.encode(), check=True)
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    g = graph.to_networkx()
    order = graph.topological_order() if graph.is_acyclic else np.arange(len(graph))
    rank = {int(i): k for k, i in enumerate(order)}
    layers = graph.levels() if graph.is_acyclic else np.zeros(len(graph), int)
    height = {}
    positions = {}
    for i in sorted(g.nodes, key=lambda i: rank[i]):
        level = int(layers[i])
        positions[i] = (level, -height.get(level, 0))
        height[level] = height.get(level, 0) + 1
    fig, ax = plt.subplots(figsize=(2 + 2.2 * (max(layers) + 1), 1.5 + 1.2 * max(height.values())))
    text = {i: graph.describe(i).split("  #")[0] + "\n" + labels[i] for i in g.nodes}
    nx.draw_networkx(g, positions, ax=ax, labels=text, node_size=3000, node_color="#dde8f5",
                     font_size=7, arrows=True)
    ax.set_axis_off()
    fig.savefig(output, dpi=120, bbox_inches="tight")
    plt.close(fig)


def _node_table(program: Program, solution) -> str:
    graph = program.graph
    rows = [("node", "value", "multiplier")]
    for i in range(len(graph)):
        rows.append((graph.describe(i), _fmt(program.values[i]), _fmt(solution.multipliers[i])))
    widths = [max(len(r[k]) for r in rows) for k in range(3)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                     for row in rows)


def _fmt(x) -> str:
    x = np.asarray(x)
    return f"{float(x):.6g}" if x.size == 1 else np.array2string(x, precision=4, threshold=6)


def _cmd_examples(args) -> int:
    width = max(len(name) for name in examples.EXAMPLES)
    for name, factory in examples.EXAMPLES.items():
        summary = (factory.__doc__ or "").strip().splitlines()[0]
        print(f"{name:{width}s}  {summary}")
    return 0


# ----------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``lagrange-ad``."""
    parser = argparse.ArgumentParser(
        prog="lagrange-ad",
        description="Backpropagation as Lagrange multipliers: solve the KKT system "
                    "A^T lam = e_N of a computation graph with many schedules.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    target_help = "an example name (see 'lagrange-ad examples') or path/to/file.py:function"
    at_help = "the point: comma-separated input values, e.g. 2,-1,0"

    p = sub.add_parser("compare", help="compare schedules on one program (the main job)",
                       description="Solve the program's KKT system with several schedules "
                                   "and print a comparison table.")
    p.add_argument("target", nargs="?", default="lecture", help=target_help)
    p.add_argument("--methods", help="comma-separated schedules (default: all that apply)")
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    p.add_argument("--plot", metavar="FILE.png", help="write the KKT residual per iteration")
    p.add_argument("--at", help=at_help)
    p.add_argument("--progress", action="store_true", help="report each method as it runs")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    p.set_defaults(run=_cmd_compare)

    p = sub.add_parser("verify", help="check that the multipliers are the adjoints",
                       description="Reverse multipliers against other schedules, finite "
                                   "differences and a Taylor test; exit status 1 on failure.")
    p.add_argument("target", nargs="?", default="lecture", help=target_help)
    p.add_argument("--at", help=at_help)
    p.set_defaults(run=_cmd_verify)

    p = sub.add_parser("show", help="draw the hypergraph with values and multipliers",
                       description="Print or draw the graph with each node's value and "
                                   "multiplier (Graphviz when installed, else matplotlib).")
    p.add_argument("targets", nargs="*", metavar="target", help=target_help)
    p.add_argument("--format", choices=("text", "dot", "svg", "png"), default="text")
    p.add_argument("--output", help="the file for svg or png (default: TARGET.FORMAT)")
    p.add_argument("--at", help=at_help)
    p.set_defaults(run=_cmd_show)

    p = sub.add_parser("examples", help="list the named examples",
                       description="List the named examples, one line each.")
    p.set_defaults(run=_cmd_examples)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 verification failed, 2 error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except (UsageError, LagrangeADError) as exc:
        print(f"lagrange-ad: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
