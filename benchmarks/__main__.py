"""`python -m benchmarks [--quick] [--case NAME ...] [--tool NAME ...] [--out RESULTS.md]`."""

from __future__ import annotations

import argparse
import os
import sys

from benchmarks import report
from benchmarks.cases import select
from benchmarks.measure import Row
from benchmarks.runner import Limits, compile_sources, run_case
from benchmarks.targets import evaluate

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the short subset (a few minutes)")
    parser.add_argument("--case", action="append", help="only cases whose name starts with this (repeatable)")
    parser.add_argument("--tool", action="append", default=[], help="only this tool (repeatable)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per measurement")
    parser.add_argument("--out", help="write RESULTS.md here (default: benchmarks/RESULTS.md on a full run only)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    return parser.parse_args(argv)


def _progress(row: Row) -> None:
    took = f"{row.tool_s:.2f} s" if row.tool_s is not None else ""
    print(f"  {row.case:<22} {row.tool:<20} {row.status:<8} {took:>10}  {row.error or row.note}"[:180], flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    cases = select(args.case, args.quick)
    limits = Limits(timeout_s=args.timeout, tools=tuple(args.tool))
    compile_sources()
    load_before = report.load_average()
    rows: list[Row] = []
    for case in cases:
        print(f"{case.name}: {case.description}", flush=True)
        rows.extend(run_case(case, limits, _progress))
    targets = evaluate(rows)
    print("\n" + report.render_table(rows) + "\n\n" + report.render_targets(targets))
    out = args.out or (None if args.quick or args.case or args.tool else DEFAULT_OUT)
    if out and not args.no_write:
        command = "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv)
        report.write_results(out, rows, targets, report.machine(load_before, report.load_average()), command.strip())
        print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
