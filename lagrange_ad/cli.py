"""The ``lagrange-ad`` command line: compare schedules, verify multipliers, show graphs.

``lagrange-ad compare`` alone compares every schedule on the lecture's example. A program is
named either as an example (``lagrange-ad examples`` lists them) or as
``path/to/file.py:function`` (``file.py`` alone means its function ``f``), a Python function of
numbers or arrays written with ``la.`` functions; ``--at`` gives the point (see
`lagrange_ad.cli_input` for its forms). A function of no arguments may instead return a
PyTorch module or a JAX function with its example inputs, ``(model, (args...))``, and a
program saved by ``torch.export.save`` is named by its file, ``model.pt2``
(`lagrange_ad.cli_models`). Every failure ends with one line on stderr and exit
status 2; a failed verification exits with status 1.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

import numpy as np

from .cli_input import (
    PLOT_FORMATS,
    UsageError,
    direction_for,
    load_program,
    second_order_option,
    writable_file,
)
from .errors import LagrangeADError
from .report import formatting, tables
from .report.optional import require_module

DRAWING_FORMATS = ("svg", "png")
# an --at value that starts with a minus sign: argparse would take it for an option
_NEGATIVE = re.compile(r"^-(\d|\.\d|\[|\(|inf|nan)", re.IGNORECASE)


# ----------------------------------------------------------------------------- commands


def _answer(program, comparison=None) -> tuple[object, tuple, list[str]]:
    """``(value, gradient, input names)``: the comparison's, else the reverse sweep's."""
    found = None if comparison is None else tables.answer(comparison)
    if found is None:
        from .schedules import solve

        solution = solve(program, "reverse")
        gradient = tuple(np.asarray(g, dtype=np.float64) for g in solution.gradient)
        found = (None, gradient, tables.input_names(program.graph, len(gradient)))
    value, gradient, _ = found
    names = tables.input_names(program.graph, len(gradient))
    return (program.output_value if value is None else value), gradient, names


def _cmd_compare(args) -> int:
    from .compare import compare
    from .schedules import SCHEDULES

    if args.plot:
        require_module("matplotlib", "--plot", package="matplotlib")
        writable_file(args.plot, PLOT_FORMATS, "residuals")
    program = load_program(args.target, args.at)
    methods = None
    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = [m for m in methods if m not in SCHEDULES]
        if unknown:
            raise UsageError(f"unknown method {unknown[0]!r}; methods are: "
                             f"{', '.join(SCHEDULES)}")
    order = second_order_option(args.order)
    direction = None
    if args.direction is not None:
        if order != 2:
            raise UsageError("--direction needs --order 2")
        direction = direction_for(program, args.direction)
    comparison = compare(program, methods=methods, track_memory=False if args.no_memory else None,
                         order=order, direction=direction, **_limits(args))
    value, gradient, names = _answer(program, comparison)
    label = "H d" if order == 2 else "gradient"
    if args.format == "json":
        data = comparison.to_dict(multipliers=args.multipliers)
        data["value"] = tables.plain(value)
        data[label if order == 1 else "hvp"] = {
            name: tables.plain(g) for name, g in zip(names, gradient)}
        print(tables.dumps(data))
    elif args.format == "markdown":
        # the answer as a list above the table
        lines = tables.answer_lines(value, gradient, names, label=label)
        print("\n".join(("  - " if line.startswith("  ") else "- ") + line.strip()
                        for line in lines) + "\n")
        print(comparison.to_markdown())
    else:
        print("\n".join(tables.answer_lines(value, gradient, names, label=label)))
        print(comparison)
    if args.plot:
        _save_plot(comparison, args.plot)
    return 0


def _limits(args) -> dict:
    """The budget, time limit and progress options given on the command line (only those)."""
    given = {"budget": args.budget, "time_limit": args.time_limit,
             "progress": True if args.progress else None}
    return {key: value for key, value in given.items() if value is not None}


def _positive(text: str) -> float:
    """A number > 0 for --budget and --time-limit (``inf`` allowed)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _save_plot(comparison, path: str) -> None:
    plt = require_module("matplotlib.pyplot", "--plot", package="matplotlib")
    ax = comparison.plot()
    try:
        ax.figure.savefig(path, dpi=120, bbox_inches="tight")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(ax.figure)
    print(f"convergence plot written to {path}", file=sys.stderr)


def _cmd_verify(args) -> int:
    from .verify import verify

    program = load_program(args.target, args.at)
    report = verify(program, **_limits(args))
    value, gradient, names = _answer(program)
    if args.format == "json":
        data = tables.verification_dict(report)
        data["value"] = tables.plain(value)
        data["gradient"] = {name: tables.plain(g) for name, g in zip(names, gradient)}
        if args.multipliers:
            from .schedules import solve

            lam = solve(program, "reverse").multipliers
            data["multipliers"] = [tables.plain(lam[i]) for i in range(len(program.graph))]
        print(tables.dumps(data))
    else:
        print("\n".join(tables.answer_lines(value, gradient, names)))
        print(report)
    return 0 if report.ok else 1


def _cmd_show(args) -> int:
    from .report import drawing
    from .schedules import solve

    targets = args.targets or ["lecture"]
    if args.output and len(targets) > 1:
        raise UsageError("--output names one file; give one target, or leave --output out "
                         "to write TARGET.FORMAT for each")
    for target in targets:
        output = None
        if args.format in DRAWING_FORMATS:
            output = args.output or f"{target.replace(':', '_').replace('/', '_')}.{args.format}"
            writable_file(output, (args.format,), "graph")
            drawing.require_renderer()
        program = load_program(target, args.at)
        solution = solve(program, "reverse")
        if args.format == "text":
            print(_node_table(program, solution))
            continue
        labels = {i: f"value {formatting.array(program.values[i], 4)}\n"
                     f"lam {formatting.array(solution.multipliers[i], 4)}"
                  for i in range(len(program.graph))}
        full = True if args.full else None
        if args.format == "dot":
            print(drawing.dot_text(program.graph, labels, full=full))
            continue
        note = drawing.render(program.graph, labels, output, args.format, full=full)
        print(f"{target}: drawing written to {output}" + (f" ({note})" if note else ""))
    return 0


def _node_table(program, solution) -> str:
    graph = program.graph
    rows = [("node", "value", "multiplier")]
    for i in range(len(graph)):
        rows.append((graph.describe(i), formatting.array(program.values[i]),
                     formatting.array(solution.multipliers[i])))
    widths = [max(len(r[k]) for r in rows) for k in range(3)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                     for row in rows)


def _cmd_examples(args) -> int:
    from . import examples
    from .cli_models import ZOOS, zoo

    entries = dict(examples.EXAMPLES)
    for library in ZOOS:  # their modules import torch or jax only when a model is built
        entries.update((f"{library}:{name}", factory) for name, factory in zoo(library).items())
    width = max(len(name) for name in entries)
    for name, factory in entries.items():
        summary = (factory.__doc__ or "").strip().splitlines()[0]
        print(f"{name:{width}s}  {summary}")
    return 0


# ----------------------------------------------------------------------------- parser


class _Parser(argparse.ArgumentParser):
    """Argument errors in one line (no usage block), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


TARGET_HELP = ("an example name or a model torch:NAME or jax:NAME (see 'lagrange-ad "
               "examples'), path/to/file.py:function "
               "(file.py alone: its function f; a function of no arguments may return "
               "(torch module or JAX function, (example inputs...))), or a saved "
               "torch.export program model.pt2")
AT_HELP = ("the point, one comma-separated item per input: numbers (2,-1,0), bracketed "
           "arrays ([[1,2],[3,4]],0.5) or .npy/.npz files; for an example, plain numbers may "
           "also list every input entry in order")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``lagrange-ad``."""
    parser = _Parser(
        prog="lagrange-ad",
        description="Backpropagation as Lagrange multipliers: solve the KKT system "
                    "A^T lam = e_N of a computation graph with many schedules.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("compare", help="compare schedules on one program (the main job)",
                       description="Print the value and the gradient, then solve the "
                                   "program's KKT system with several schedules and print a "
                                   "comparison table.")
    p.add_argument("target", nargs="?", default="lecture", help=TARGET_HELP)
    p.add_argument("--methods", help="comma-separated schedules (default: all that apply)")
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    p.add_argument("--multipliers", action="store_true",
                   help="with --format json: also the multipliers of every node")
    p.add_argument("--plot", metavar="FILE.png",
                   help="write the KKT residual per iteration (needs the plot extra: "
                        "pip install \"lagrange_ad[plot]\")")
    p.add_argument("--at", help=AT_HELP)
    p.add_argument("--order", default="1",
                   help="1: the multipliers (A^T lam = e_N); 2: the second adjoint system "
                        "A^T mu = W t along --direction")
    p.add_argument("--direction",
                   help="with --order 2: the direction d, written like --at (default: "
                        "standard normal entries from a generator seeded with 0)")
    _add_limits(p)
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    p.set_defaults(run=_cmd_compare)

    p = sub.add_parser("verify", help="check that the multipliers are the adjoints",
                       description="Print the value and the gradient, then check the reverse "
                                   "multipliers against other schedules, finite differences "
                                   "and a Taylor test; exit status 1 on failure.")
    p.add_argument("target", nargs="?", default="lecture", help=TARGET_HELP)
    p.add_argument("--at", help=AT_HELP)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--multipliers", action="store_true",
                   help="with --format json: also the multipliers of every node")
    _add_limits(p)
    p.set_defaults(run=_cmd_verify)

    p = sub.add_parser("show", help="draw the hypergraph with values and multipliers",
                       description="Print or draw the graph with each node's value and "
                                   "multiplier (Graphviz's dot when installed, else matplotlib "
                                   "from the plot extra: pip install \"lagrange_ad[plot]\"). "
                                   "Large graphs are drawn collapsed, one box per level.")
    p.add_argument("targets", nargs="*", metavar="target", help=TARGET_HELP)
    p.add_argument("--format", choices=("text", "dot", "svg", "png"), default="text")
    p.add_argument("--output", help="the file for svg or png (default: TARGET.FORMAT)")
    p.add_argument("--full", action="store_true",
                   help="draw every node even of a large graph (default: collapse large graphs)")
    p.add_argument("--at", help=AT_HELP)
    p.set_defaults(run=_cmd_show)

    p = sub.add_parser("examples", help="list the named examples",
                       description="List the named examples, one line each.")
    p.set_defaults(run=_cmd_examples)
    return parser


def _add_limits(p: argparse.ArgumentParser) -> None:
    p.add_argument("--budget", type=_positive, metavar="MULTIPLY_ADDS",
                   help="the most work a schedule may be estimated to need (default 1e9; inf "
                        "for no limit); a schedule above it is skipped with its estimate")
    p.add_argument("--time-limit", type=_positive, metavar="SECONDS",
                   help="stop an iterating schedule after this many seconds")
    p.add_argument("--progress", action="store_true",
                   help="report each method as it runs (the default when stderr is a terminal)")


# the options whose value is a point and may start with a minus sign
_POINT_OPTIONS = ("--at", "--direction")


def _join_negative_points(argv: list[str]) -> list[str]:
    """``--at -1,2`` as ``--at=-1,2`` (also ``--direction``): argparse reads a leading minus as
    an option."""
    joined, k = [], 0
    while k < len(argv):
        if argv[k] in _POINT_OPTIONS and k + 1 < len(argv) and _NEGATIVE.match(argv[k + 1]):
            joined.append(f"{argv[k]}={argv[k + 1]}")
            k += 2
        else:
            joined.append(argv[k])
            k += 1
    return joined


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 verification failed, 2 error).

    Set ``LAGRANGE_AD_TRACEBACK=1`` to see the traceback of an unexpected error.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(_join_negative_points(list(sys.argv[1:] if argv is None
                                                            else argv)))
    except SystemExit as exc:  # --help, or an argument error already printed in one line
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except (UsageError, LagrangeADError) as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        print("lagrange-ad: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout (e.g. head) stopped early: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # never a traceback on the command line, unless asked for
        if os.environ.get("LAGRANGE_AD_TRACEBACK") == "1":
            raise
        return _fail(f"unexpected {type(exc).__name__}: {exc} (LAGRANGE_AD_TRACEBACK=1 shows "
                     f"where)")


def _fail(message) -> int:
    print(f"lagrange-ad: error: {' '.join(str(message).split())}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
