"""The ``lagrange-ad`` command line."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import examples
from .errors import LagrangeADError
from .program import Program
from .schedules import SCHEDULES, solve


def _multiplier_table(program: Program, solution) -> str:
    graph = program.graph
    rows = [("node", "value", "multiplier (d output / d node)")]
    for i in range(len(graph)):
        rows.append((graph.describe(i), _fmt(program.values[i]), _fmt(solution.multipliers[i])))
    widths = [max(len(r[k]) for r in rows) for k in range(3)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows)


def _fmt(x) -> str:
    x = np.asarray(x)
    return f"{float(x):.6g}" if x.size == 1 else np.array2string(x, precision=4, threshold=6)


def _cmd_solve(args) -> int:
    example = examples.get(args.example)
    program = example.program()
    solution = solve(program, args.method)
    print(f"{example.name}: {example.summary}")
    print(_multiplier_table(program, solution))
    print(f"gradient: {tuple(float(g) if np.size(g) == 1 else g for g in solution.gradient)}")
    print(f"KKT residual ||e_N - A^T lam||: {solution.kkt_residual:.3g}")
    return 0


def _cmd_examples(args) -> int:
    for name, factory in examples.EXAMPLES.items():
        print(f"{name:12s} {(factory.__doc__ or '').strip().splitlines()[0]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lagrange-ad",
                                     description="Backpropagation as Lagrange multipliers.")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("solve", help="solve an example's KKT system and print the multipliers")
    p.add_argument("example", nargs="?", default="lecture")
    p.add_argument("--method", default="reverse", choices=list(SCHEDULES))
    p.set_defaults(run=_cmd_solve)
    p = sub.add_parser("examples", help="list the named examples")
    p.set_defaults(run=_cmd_examples)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["solve"])
    try:
        return args.run(args)
    except LagrangeADError as exc:
        print(f"lagrange-ad: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
