"""Smoke test of the benchmark harness: one tiny ONNX case, end to end, in child processes (seconds)."""

from __future__ import annotations

import pytest

pytest.importorskip("onnx")

from benchmarks import report  # noqa: E402
from benchmarks.cases import CASES, select  # noqa: E402
from benchmarks.measure import Row  # noqa: E402
from benchmarks.runner import Limits, run_case  # noqa: E402
from benchmarks.targets import evaluate  # noqa: E402


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    limits = Limits(timeout_s=120, tools=("nn-auditor", "onnx-floor"))
    return list(run_case(CASES["tiny-mlp.onnx"], limits, lambda row: None))


def test_prepare_then_each_tool_gives_one_row(rows: list[Row]) -> None:
    assert [r.tool for r in rows] == ["prepare", "nn-auditor", "onnx-floor"]
    assert all(r.status == "ok" for r in rows), [r.error for r in rows]


def test_auditor_row_is_well_formed(rows: list[Row]) -> None:
    audit = rows[1]
    assert audit.params == 2 * (64 * 64 + 64) == rows[2].params
    assert audit.macs == 2 * 64 * 64
    assert audit.tool_s is not None and audit.tool_s > 0
    assert audit.process_s is not None and audit.process_s >= audit.tool_s
    assert audit.peak_mb is not None and audit.peak_mb > 0
    assert audit.extra["heavy_imports"] == []


def test_table_and_targets_render(rows: list[Row]) -> None:
    table = report.render_table(rows)
    assert "tiny-mlp.onnx" in table and "nn-auditor" in table and "prepare" not in table
    verdicts = {t.name: t.verdict for t in evaluate(rows)}
    assert verdicts["audit x.onnx: no torch/tensorflow import"] == "met"


def test_a_failing_tool_becomes_a_failed_row(tmp_path) -> None:
    from benchmarks.runner import run_child

    row = run_child("tiny-mlp.onnx", "nn-auditor", str(tmp_path), timeout_s=60)  # no model file prepared
    assert row.status == "failed" and "no such file" in row.error


def test_selection() -> None:
    assert "tiny-mlp.onnx" not in [c.name for c in select(None, quick=False)]
    assert all(c.quick for c in select(None, quick=True))
    assert [c.name for c in select(["llama-70b"], quick=False)] == ["llama-70b-meta"]


def test_memory_benchmark_compares_with_accelerates_method() -> None:
    """On a tiny Llama: accelerate's figures (its own functions when installed) against the budget's items."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import auditor
    from benchmarks.memory_budget import accelerate_estimate, accelerate_method, compare

    config = transformers.LlamaConfig(vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4)
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(config)
    budget = auditor.audit(model, memory="train", precision="bf16-mixed", seq=16).memory
    reference = accelerate_estimate(model)
    assert reference.entries == accelerate_method(model).entries  # the restatement is accelerate's method
    size = 4 * sum(t.numel() for t in (*model.parameters(), *model.buffers()))
    assert reference.total_size == size and reference.training == 2 * size
    rows = {what: (ours, theirs) for what, ours, theirs, _ in compare(budget, reference)}
    assert rows["weights"] == (size, size)
    params = list(model.parameters())
    assert rows["optimizer state"][0] == 2 * 4 * sum(p.numel() for p in params) + 4 * len(params)
    assert rows["total"][0] == budget.total_bytes > rows["total"][1]


def test_the_floor_target_compares_main_thread_cpu_time(rows: list[Row]) -> None:
    """Both tools are single-threaded: the ratio is of their main threads' CPU time, shown with the others."""
    audit, floor = rows[1], rows[2]
    assert audit.tool_thread_cpu_s is not None and 0 < audit.tool_thread_cpu_s <= audit.tool_cpu_s + 0.01
    target = next(t for t in evaluate(rows) if t.name.startswith("tiny-mlp.onnx: <= 1.5x"))
    assert target.detail.startswith(f"{audit.tool_thread_cpu_s / floor.tool_thread_cpu_s:.2f}x (main thread ")
    assert "process CPU" in target.detail and "wall" in target.detail


def test_the_floor_ratio_pairs_the_rounds_so_a_slow_round_hits_both_tools() -> None:
    """Round 2 ran on a machine half as fast: each pair keeps its ratio, the medians' ratio does not."""
    from benchmarks.targets import paired_thread_ratio

    audit = Row("x.onnx", "nn-auditor", tool_thread_cpu_s=0.28, extra={"thread_runs_s": [0.14, 0.28, 0.15]})
    floor = Row("x.onnx", "onnx-floor", tool_thread_cpu_s=0.11, extra={"thread_runs_s": [0.10, 0.20, 0.11]})
    assert paired_thread_ratio(audit, floor) == pytest.approx(1.4)
    assert audit.tool_thread_cpu_s / floor.tool_thread_cpu_s > 2.5
    single = Row("x.onnx", "nn-auditor", tool_thread_cpu_s=0.3)
    assert paired_thread_ratio(single, Row("x.onnx", "onnx-floor", tool_thread_cpu_s=0.2)) == pytest.approx(1.5)


def test_the_whole_process_target_pairs_the_rounds_too() -> None:
    """A slow build in one round lands on both tools of that round, not on one tool's median."""
    from benchmarks.targets import paired_process_ratio

    audit = Row("llama", "nn-auditor", process_s=10.5, extra={"process_runs_s": [10.0, 14.0, 10.5]})
    forward = Row("llama", "forward", process_s=9.7, extra={"process_runs_s": [9.6, 13.5, 9.7]})
    assert paired_process_ratio(audit, forward) == pytest.approx(10.0 / 9.6)
    assert audit.process_s / forward.process_s > 1.08 > paired_process_ratio(audit, forward)
    assert paired_process_ratio(Row("llama", "nn-auditor", process_s=11.0),
                                Row("llama", "forward", process_s=10.0)) == pytest.approx(1.1)
    assert paired_process_ratio(audit, Row("llama", "forward")) is None


def test_rounds_take_the_tools_in_turn_forwards_and_backwards(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each tool is as often first as last in a round, so what the first process of a round meets (a cold
    cache, the previous round's last process exiting) does not land on one tool; rows stay in round order."""
    from dataclasses import replace

    from benchmarks import runner

    calls: list[str] = []

    def child(case: str, tool: str, folder: str, timeout_s: float) -> Row:
        calls.append(tool)
        return Row(case, tool, tool_s=float(len(calls)), process_s=float(len(calls)))

    monkeypatch.setattr(runner, "run_child", child)
    case = replace(CASES["tiny-mlp.onnx"], prepare=None, repeat=3)
    rows = list(run_case(case, Limits(timeout_s=10, tools=("nn-auditor", "onnx-floor")), lambda row: None))
    assert calls == ["nn-auditor", "onnx-floor", "onnx-floor", "nn-auditor", "nn-auditor", "onnx-floor"]
    assert rows[0].extra["process_runs_s"] == [1.0, 4.0, 5.0] and rows[1].extra["process_runs_s"] == [2.0, 3.0, 6.0]
