"""Benchmarks: nn-auditor against the tools a user would otherwise run, one fresh process per measurement.

`python -m benchmarks` runs every case, `--quick` a short subset, `--case NAME` a few; see RESULTS.md.
"""
