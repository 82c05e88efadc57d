"""Child process: build one case's model, run one tool on it, write the measured `Row` as JSON.

Usage: python -m benchmarks.run_case CASE TOOL WORKDIR RESULT_JSON   (TOOL "prepare" writes the case's file)
"""

from __future__ import annotations

import sys

from benchmarks.cases import CASES, Case
from benchmarks.measure import Row, Stopwatch, children_peak_mb, first_line, peak_mb, rss_mb
from benchmarks.tools import TOOLS


def prepare(case: Case, folder: str, row: Row) -> None:
    """Write the case's model file (timed, but it is not a measurement of any tool)."""
    from benchmarks.fixtures import folder_size_mb

    if case.prepare is None:
        row.note = "nothing to prepare"
        return
    watch = Stopwatch()
    with watch.timing():
        case.prepare(folder)
    row.tool_s = round(watch.seconds, 3)
    row.note = f"{folder_size_mb(folder):,} MB written"


def measure(case: Case, tool_name: str, folder: str, row: Row) -> None:
    """Setup (framework import, model build) then the tool, each timed; the tool's numbers into `row`."""
    tool = TOOLS[case.family][tool_name]
    setup, work = Stopwatch(), Stopwatch()
    with setup.timing():
        material = case.build(folder)
    row.setup_s = round(setup.seconds, 3)
    row.rss_before_mb = rss_mb()
    with work.timing():
        numbers = tool.run(material)
    row.tool_s, row.tool_cpu_s = round(work.seconds, 3), round(work.cpu_seconds, 3)
    row.tool_thread_cpu_s = round(work.thread_cpu_seconds, 3)
    row.params, row.macs, row.note, row.extra = numbers.params, numbers.macs, numbers.note, numbers.extra


def main(argv: list[str]) -> int:
    case_name, tool_name, folder, result = argv
    row = Row(case_name, tool_name)
    try:
        if tool_name == "prepare":
            prepare(CASES[case_name], folder, row)
        else:
            measure(CASES[case_name], tool_name, folder, row)
    except BaseException as err:  # the harness records every failure as one line and carries on
        row.status, row.error = "failed", first_line(err)
    row.peak_mb = max(peak_mb(), children_peak_mb())
    with open(result, "w") as out:
        out.write(row.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
