"""The tools measured: nn-auditor and the peers, each as one function from a built model to its `Numbers`.

Every function imports its own library (that import is part of what the user pays) and converts
units explicitly: torchinfo "mult-adds", fvcore "flops" and onnx-tool "MACs" are all MACs.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.checkpoint_files import bytes_read
from benchmarks.measure import Numbers, heavy_imports, quiet_env


@dataclass(frozen=True)
class Tool:
    name: str
    run: Callable[[Any], Numbers]
    description: str


# ---- nn-auditor ---------------------------------------------------------------------------------


def _audit_numbers(result: Any) -> Numbers:
    totals = result.totals
    note = f"{totals.mismatches} mismatch, {totals.unverified_layers} unverified of {totals.layers} layers"
    if totals.shared:
        note += f"; tied {totals.shared:,} counted once"
    if not totals.macs_complete:
        note += "; MACs incomplete"
    stopped = [n for n in result.model.notes if "stopped early" in n]
    if stopped:
        note += "; " + stopped[0].replace("later layers have no shapes: ", "")
    return Numbers(totals.reported, totals.macs, note, {"analytic": totals.analytic, "notes": result.model.notes})


def auditor_torch(model: Any) -> Numbers:
    """auditor.audit on a module with its example inputs."""
    import auditor

    return _audit_numbers(auditor.audit(model.module, example_inputs=model.inputs))


def auditor_torch_fake(model: Any) -> Numbers:
    """auditor.audit run inside FakeTensorMode: the user-side workaround for models that call `.item()` on meta."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    import auditor

    with FakeTensorMode(allow_non_fake_inputs=True):
        return _audit_numbers(auditor.audit(model.module, example_inputs=model.inputs))


def auditor_object(model: Any) -> Numbers:
    """auditor.audit on an in-memory Keras model."""
    import auditor

    return _audit_numbers(auditor.audit(model))


def auditor_file(path: str) -> Numbers:
    """auditor.audit on a model file; notes which heavy frameworks the process imported and, for
    checkpoints, how many bytes the audit read."""
    import auditor

    before = bytes_read()
    numbers = _audit_numbers(auditor.audit(path))
    numbers.extra["bytes_read"] = bytes_read() - before
    heavy = heavy_imports()
    numbers.extra["heavy_imports"] = heavy
    if path.endswith(".onnx"):
        numbers.note += "; imported " + (", ".join(heavy) if heavy else "no torch/tensorflow")
    elif any("no weight data loaded" in n for n in numbers.extra["notes"]):
        numbers.note += "; no weight data loaded; imported " + (", ".join(heavy) if heavy else "no tensorflow/keras")
    elif ".safetensors" in path:
        numbers.note += f"; read {numbers.extra['bytes_read']:,} bytes"
    return numbers


def safetensors_listing(path: str) -> Numbers:
    """safetensors.safe_open on every shard of an index: keys and shapes (the library's own header read)."""
    import json
    import math
    import os

    from safetensors import safe_open

    before = bytes_read()
    shards = sorted(set(json.load(open(path))["weight_map"].values()))
    total = 0
    for shard in shards:
        with safe_open(os.path.join(os.path.dirname(path), shard), "np") as handle:
            total += sum(math.prod(handle.get_slice(k).get_shape()) for k in handle.keys())  # noqa: SIM118
    return Numbers(total, None, f"{len(shards)} shards listed", {"bytes_read": bytes_read() - before})


def auditor_cli(path: str) -> Numbers:
    """`python -m auditor FILE` in its own process: time to the first byte of output, in total, and its CPU time."""
    import resource

    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    start, cpu = time.perf_counter(), children_cpu()
    process = subprocess.Popen([sys.executable, "-m", "auditor", path], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env=quiet_env())
    assert process.stdout is not None
    process.stdout.read(1)
    first = time.perf_counter() - start
    process.stdout.read()
    code = process.wait()
    total, used = time.perf_counter() - start, children_cpu() - cpu
    return Numbers(note=f"first output {first:.2f} s, whole process {total:.2f} s ({used:.2f} s CPU), exit {code}",
                   extra={"first_output_s": round(first, 3), "cli_total_s": round(total, 3),
                          "cli_cpu_s": round(used, 3), "exit_code": code})


def _folder(jobs: int) -> Callable[[str], Numbers]:
    def run(folder: str) -> Numbers:
        """`python -m auditor FOLDER --jobs N --format json`: the whole folder, wall time from spawn to exit."""
        import json

        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "auditor", folder, "--jobs", str(jobs), "--format", "json"],
                              capture_output=True, text=True, env=quiet_env())
        wall = time.perf_counter() - start
        summary = json.loads(done.stdout)["summary"]
        statuses = [row["status"] for row in summary]
        busy = sum(row["seconds"] for row in summary)
        return Numbers(sum(row["params"] or 0 for row in summary), None,
                       f"{len(summary)} models, {statuses.count('ok')} ok, exit {done.returncode}; wall {wall:.1f} s, "
                       f"per-model audits add up to {busy:.1f} s",
                       {"wall_s": round(wall, 3), "models": len(summary), "audit_s": round(busy, 3)})

    return run


# ---- PyTorch peers ------------------------------------------------------------------------------


def forward_pass(model: Any) -> Numbers:
    """One plain forward pass under no_grad on the model's device: the floor an audit is measured against.

    On meta, transformers >= 5 calls `.item()` while it builds the causal mask from a 2-D one (meta tensors
    have no values), so the pass is given the 4-D mask it would have built (its values do not matter on meta)."""
    import torch

    with torch.no_grad():
        if model.device == "meta":
            tokens = model.inputs.shape[-1]
            mask = torch.zeros((model.inputs.shape[0], 1, tokens, tokens), device="meta")
            model.module(model.inputs, attention_mask=mask)
            return Numbers(note="plain forward on meta (prepared 4-D mask)")
        model.module(model.inputs)
    return Numbers(note=f"plain forward on {model.device}")


def fake_forward_pass(model: Any) -> Numbers:
    """One forward pass under FakeTensorMode (the pass the audit falls back to when a plain one stops), for comparison."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    with torch.no_grad(), FakeTensorMode(allow_non_fake_inputs=True):
        model.module(model.inputs)
    return Numbers(note="forward under FakeTensorMode")


def torchinfo_summary(model: Any) -> Numbers:
    """torchinfo.summary(model, input_data=...); total_mult_adds are MACs."""
    from torchinfo import summary

    stats = summary(model.module, input_data=[model.inputs], verbose=0, device=model.device)
    return Numbers(int(stats.total_params), int(stats.total_mult_adds), "mult-adds = MACs")


def fvcore_flops(model: Any) -> Numbers:
    """fvcore FlopCountAnalysis (its "flops" count one per multiply-accumulate) and parameter_count."""
    from fvcore.nn import FlopCountAnalysis, parameter_count

    analysis = FlopCountAnalysis(model.module, (model.inputs,))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    macs = int(analysis.total())
    skipped = analysis.unsupported_ops()
    note = "flops = MACs"
    if skipped:
        note += f"; skipped {sum(skipped.values())} ops: " + ", ".join(sorted(skipped)[:4])
    return Numbers(int(parameter_count(model.module)[""]), macs, note)


# ---- Keras peers --------------------------------------------------------------------------------


def _summary(model: Any) -> Numbers:
    lines: list[str] = []
    model.summary(print_fn=lambda line, *a, **k: lines.append(line), line_length=200)
    return Numbers(int(model.count_params()), None, f"summary() printed {sum(map(len, lines)):,} chars; no MACs")


def keras_summary(model: Any) -> Numbers:
    """model.summary() and count_params() on the in-memory model."""
    return _summary(model)


def keras_load_summary(path: str) -> Numbers:
    """keras.saving.load_model (reads every weight) then summary(); importing Keras is part of the tool."""
    import keras

    return _summary(keras.saving.load_model(path))


# ---- ONNX peers ---------------------------------------------------------------------------------


def onnx_floor(path: str) -> Numbers:
    """onnx.load(load_external_data=False) + onnx.shape_inference.infer_shapes: the least a tool can do."""
    import onnx

    model = onnx.load(path, load_external_data=False)
    onnx.shape_inference.infer_shapes(model)
    params = sum(math.prod(t.dims) for t in model.graph.initializer)
    return Numbers(params, None, "initializer elements; no MACs")


def onnx_tool_profile(path: str) -> Numbers:
    """onnx-tool's model_profile steps (load, reorder, shape_infer, profile) without printing the table."""
    import onnx_tool

    model = onnx_tool.Model(path)
    graph = model.graph
    graph.graph_reorder_nodes()
    graph.shape_infer(None)
    graph.profile(exclude_ops=onnx_tool.NoMacsOps)
    if not graph.valid_profile:
        raise RuntimeError("profile() did not produce a valid profile")
    return Numbers(int(graph.params), int(round(graph.macs[0])), "MACs")


AUDITOR = "nn-auditor"

TOOLS: dict[str, dict[str, Tool]] = {
    "torch": {t.name: t for t in (
        Tool(AUDITOR, auditor_torch, "auditor.audit(module, example_inputs=...)"),
        Tool(AUDITOR + " (fake mode)", auditor_torch_fake, "auditor.audit(...) inside FakeTensorMode"),
        Tool("forward", forward_pass, "one plain forward pass under torch.no_grad()"),
        Tool("forward (fake mode)", fake_forward_pass, "one forward pass under FakeTensorMode"),
        Tool("torchinfo", torchinfo_summary, "torchinfo.summary(model, input_data=...)"),
        Tool("fvcore", fvcore_flops, "fvcore FlopCountAnalysis + parameter_count"),
    )},
    "keras": {t.name: t for t in (
        Tool(AUDITOR, auditor_object, "auditor.audit(keras_model)"),
        Tool("keras-summary", keras_summary, "model.summary() + count_params()"),
    )},
    "keras-file": {t.name: t for t in (
        Tool(AUDITOR, auditor_file, "auditor.audit(path)"),
        Tool("audit-cli", auditor_cli, "python -m auditor FILE in its own process"),
        Tool("keras-load+summary", keras_load_summary, "keras.saving.load_model(path) + summary()"),
    )},
    "folder": {t.name: t for t in (
        Tool(AUDITOR + " --jobs 1", _folder(1), "python -m auditor FOLDER --jobs 1 (one process)"),
        Tool(AUDITOR + " --jobs 2", _folder(2), "python -m auditor FOLDER --jobs 2 (two worker processes)"),
        Tool(AUDITOR + " --jobs 4", _folder(4), "python -m auditor FOLDER --jobs 4 (more workers than cores)"),
    )},
    "onnx": {t.name: t for t in (
        Tool(AUDITOR, auditor_file, "auditor.audit(path)"),
        Tool("audit-cli", auditor_cli, "python -m auditor FILE in its own process"),
        Tool("onnx-floor", onnx_floor, "onnx.load(load_external_data=False) + infer_shapes"),
        Tool("onnx-tool", onnx_tool_profile, "onnx_tool.Model + shape_infer + profile"),
    )},
    "checkpoint": {t.name: t for t in (
        Tool(AUDITOR, auditor_file, "auditor.audit(index.json): headers only"),
        Tool("safe_open", safetensors_listing, "safetensors.safe_open per shard: keys and shapes"),
    )},
}
"""Family -> tool name -> Tool; every family's first tool is nn-auditor."""
