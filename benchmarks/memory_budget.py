"""Memory budget benchmark: Llama-2-7B-shaped on meta, trained in bf16-mixed with AdamW at batch 1, 4096 tokens.

`python -m benchmarks.memory_budget [--out FILE]` times the command a user runs,

    audit benchmarks.memory_budget:llama_2_7b --memory train --precision bf16-mixed --optimizer adamw \\
          --batch 1 --seq 4096

(in a fresh process, and the audit call alone in this one), and compares every item with what
`accelerate estimate-memory` computes for the same model.  accelerate's method (its
`commands/estimate.py`): the model is built in float32 on the meta device; its size is the bytes of
every parameter and buffer (`calculate_maximum_sizes`, tied weights once); for training with Adam it
lists model = size, gradients = size (float32) or 1.5 x size (float16/bfloat16: "weight gradient +
computation"), optimizer = 2 x size, and prints the largest of those entries as "Training using Adam"
(float32: a 4 x size "step" entry; mixed precision: 2 x size).  Activations, batch and sequence length
do not enter it.  When accelerate is installed its own functions are called; otherwise the same method
is computed here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

LLAMA_2_7B = dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                  num_key_value_heads=32, vocab_size=32000)
FLAGS = ["--memory", "train", "--precision", "bf16-mixed", "--optimizer", "adamw", "--batch", "1", "--seq", "4096"]
SPEC = "benchmarks.memory_budget:llama_2_7b"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GIB = 2**30


def llama_2_7b() -> Any:
    """LlamaForCausalLM with Llama-2-7B's sizes, on the meta device (nothing allocated)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    with torch.device("meta"):
        return LlamaForCausalLM(LlamaConfig(**LLAMA_2_7B))


@dataclass(frozen=True)
class Accelerate:
    """accelerate's figures for one model: its size and its training entries (bytes)."""

    total_size: int
    entries: dict[str, int]
    source: str

    @property
    def training(self) -> int:
        return max(self.entries.values())


def accelerate_method(model: Any) -> Accelerate:
    """accelerate's bfloat16/float16 training estimate, restated from its source (module docstring)."""
    size = sum(t.numel() * 4 for t in (*model.parameters(), *model.buffers()))
    half = size // 2
    return Accelerate(size, {"model": size, "gradients": size + half, "optimizer": 2 * size, "step": 2 * size},
                      "accelerate's method, restated (accelerate not installed)")


def accelerate_estimate(model: Any, mixed_precision: str = "bfloat16") -> Accelerate:
    """accelerate's own functions when installed, else `accelerate_method`."""
    try:
        from accelerate.commands.estimate import estimate_training_usage
        from accelerate.utils import calculate_maximum_sizes
    except ImportError:
        return accelerate_method(model)
    total, _largest = calculate_maximum_sizes(model)
    return Accelerate(int(total), {k: int(v) for k, v in estimate_training_usage(total, mixed_precision).items()},
                      "accelerate.utils.calculate_maximum_sizes + accelerate.commands.estimate.estimate_training_usage")


def cli_seconds() -> tuple[float, str]:
    """Wall time of the whole command in a fresh process (interpreter, imports, build, pass, render)."""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "auditor", SPEC, *FLAGS], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=600)
    return time.perf_counter() - start, done.stdout


def compare(budget: Any, reference: Accelerate) -> list[tuple[str, int | None, int | None, str]]:
    """(what, nn-auditor bytes, accelerate bytes, why they differ)."""
    def ours(prefix: str) -> int:
        return sum(i.bytes or 0 for i in budget.items if i.name.startswith(prefix))

    e = reference.entries
    return [
        ("weights", ours("weights") + ours("buffers"), e["model"],
         "same: float32 parameters + buffers (autocast reads the float32 master weights)"),
        ("bf16 weight copies", ours("weight copies"), None,
         "autocast's casts of every matmul weight, saved for backward; accelerate folds half of them into "
         "'gradients' (its 1.5 x)"),
        ("gradients", ours("gradients"), e["gradients"],
         "nn-auditor: one float32 .grad per parameter; accelerate: 1.5 x (gradient + GEMM copies)"),
        ("optimizer state", ours("optimizer"), e["optimizer"],
         "same 2 x float32 states; nn-auditor adds AdamW's float32 step scalar per tensor"),
        ("activations", ours("activations"), None,
         "accelerate has no activations: batch and sequence length do not enter its estimate"),
        ("total", budget.total_bytes, reference.training,
         "nn-auditor sums every item; accelerate prints its largest entry (the optimizer) as the training peak"),
    ]


def render(budget: Any, reference: Accelerate, audit_s: float, cli_s: float) -> str:
    def cell(n: int | None) -> str:
        return "-" if n is None else f"{n:,} ({n / GIB:.1f} GiB)"

    lines = [
        "# Memory budget: Llama-2-7B, bf16-mixed, AdamW, batch 1, 4096 tokens",
        "",
        f"`audit {SPEC} {' '.join(FLAGS)}`",
        "",
        f"- whole command, fresh process: {cli_s:.2f} s; the audit call alone (model built): {audit_s:.2f} s",
        f"- accelerate figures from: {reference.source}",
        "",
        "| item | formula (nn-auditor) | bytes |",
        "|---|---|---|",
        *[f"| {i.name} | {i.formula} | {i.bytes:,} |" for i in budget.items],
        f"| TOTAL | sum of the items | {budget.total_bytes:,} |",
        "",
        "| | nn-auditor | accelerate estimate-memory | where and why they differ |",
        "|---|---|---|---|",
        *[f"| {what} | {cell(a)} | {cell(b)} | {why} |" for what, a, b, why in compare(budget, reference)],
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory_budget", description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the Markdown here")
    args = parser.parse_args(argv)
    import auditor

    model = llama_2_7b()
    start, cpu = time.perf_counter(), time.process_time()
    report = auditor.audit(model, input_shape=(1, 4096), input_dtype="int64", memory="train", precision="bf16-mixed",
                           optimizer="adamw", batch=1, seq=4096)
    audit_s, audit_cpu = time.perf_counter() - start, time.process_time() - cpu
    cli_s, _ = cli_seconds()
    assert report.memory is not None
    text = render(report.memory, accelerate_estimate(model), audit_s, cli_s)
    text += f"\n(audit call: {audit_cpu:.2f} s of CPU time; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)\n"
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
