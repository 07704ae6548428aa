"""``python -m benchmarks``: run the workloads and print markdown tables.

Options: ``--size smoke|small|full`` (smoke takes seconds; full uses 10^5 and 10^6 nodes),
``--only WORKLOAD,...``, ``--repeat N`` (timed calls after the warm-up), ``--output FILE.md``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lagrange_ad.progress import Progress

from .harness import machine_info
from .peers import PEERS
from .workloads import SIZES, WORKLOADS, Context


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=tuple(SIZES), default="small")
    parser.add_argument("--only", default="",
                        help=f"comma-separated workloads among: {', '.join(WORKLOADS)}")
    parser.add_argument("--repeat", type=int, default=None,
                        help="timed calls per measurement (default: by size)")
    parser.add_argument("--output", default=None, help="also write the tables to this file")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; choose among "
                     f"{', '.join(WORKLOADS)}")
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.workloads = chosen or list(WORKLOADS)
    return args


def main(argv: Sequence[str] | None = None) -> str:
    """Run the benchmarks; print the report and return it."""
    args = parse(argv)
    ctx = Context(SIZES[args.size], args.repeat)
    parts = [f"# lagrange_ad benchmarks (size {args.size}, {ctx.repeat} timed runs after a "
             f"warm-up; median and min)", "", machine_info(PEERS).markdown()]
    print("\n".join(parts), flush=True)
    # one line per workload on stderr when it is a terminal (silent in pipes and tests)
    progress = Progress("benchmarks", len(args.workloads))
    for name in args.workloads:
        progress.start(name)
        for table in WORKLOADS[name](ctx):
            text = table.markdown()
            parts.append(text)
            print(text, flush=True)
        progress.done(name)
    report = "\n".join(parts)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(report + "\n")
    return report


if __name__ == "__main__":
    main()
