"""The budget's vocabularies (what --memory, --optimizer, --checkpointing, --device and --precision accept),
apart from the records that use them, so `AuditOptions` can check its fields without building a budget's."""

from __future__ import annotations

MODES = ("train", "infer")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "adam8bit", "adafactor")
CHECKPOINTING = ("none", "blocks")
DEVICES = ("cuda", "cpu")

RECIPES: dict[str, tuple[str, str | None]] = {
    "fp32": ("float32", None),
    "bf16": ("bfloat16", None),
    "fp16": ("float16", None),
    "bf16-mixed": ("float32", "bfloat16"),
    "fp16-mixed": ("float32", "float16"),
}
"""Precision name -> (dtype of floating weights, autocast dtype), as `auditor.memory.options.PRECISIONS`
spells them out.  Lightning's names: "-mixed" is torch.autocast over float32 weights (the float32 weights
are the master copy; autocast makes half-precision working copies), the others keep everything in one dtype."""
