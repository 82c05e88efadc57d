"""Optimizer state per optimizer, per parameter group (dtype), as PyTorch and bitsandbytes keep it.

- sgd: none.  momentum: one buffer per parameter (SGD's momentum_buffer), in the parameter's dtype.
- adam / adamw: exp_avg and exp_avg_sq in the parameter's dtype, and a float32 `step` scalar per tensor.
- adam8bit (bitsandbytes Adam8bit, block-wise): two uint8 states per element and a float32 absmax per
  2,048-element block and state, for tensors of at least 4,096 elements; smaller tensors keep two
  float32 states; plus the two 256-entry float32 quantisation maps.
- adafactor (torch.optim.Adafactor): for a matrix (or higher rank) one row and one column statistic
  (numel/cols + numel/rows), for a vector one per element; a float32 `step` scalar per tensor; no momentum.
"""

from __future__ import annotations

import math

from auditor.ir import ParamTensor
from auditor.memory.items import MemoryItem, count, dtype_bytes
from auditor.memory.options import Recipe
from auditor.memory.weights import by_dtype, stored_dtype

STEP_BYTES = 4
"""PyTorch keeps Adam's and Adafactor's step count as a float32 scalar tensor per parameter."""
BNB_MIN_8BIT, BNB_BLOCK, BNB_QMAP = 4096, 2048, 256


def optimizer_state(name: str, params: list[ParamTensor], recipe: Recipe) -> list[MemoryItem]:
    if name == "sgd":
        return [MemoryItem("optimizer state (sgd)", 0, "plain SGD keeps no state = 0 B")]
    if name == "adam8bit":
        return [_adam8bit(params)]
    if name == "adafactor":
        return _adafactor(params, recipe)
    states = 1 if name == "momentum" else 2
    what = "momentum buffer" if name == "momentum" else "exp_avg + exp_avg_sq"
    items = []
    for dtype, (n, tensors) in by_dtype(params, recipe).items():
        size = dtype_bytes(dtype)
        total = states * size * n
        formula = f"{states} x {size} B x {count(n)} params"
        if name in ("adam", "adamw"):
            total += STEP_BYTES * tensors
            formula += f" + {STEP_BYTES} B x {count(tensors)} step counters"
        items.append(MemoryItem(f"optimizer state ({name}: {what}, {dtype})", total, f"{formula} = {total:,} B"))
    return items or [MemoryItem(f"optimizer state ({name})", 0, "no trainable parameters = 0 B")]


def _adam8bit(params: list[ParamTensor]) -> MemoryItem:
    big = [p for p in params if p.numel >= BNB_MIN_8BIT]
    small = [p for p in params if p.numel < BNB_MIN_8BIT]
    n_big, n_small = sum(p.numel for p in big), sum(p.numel for p in small)
    blocks = sum(math.ceil(p.numel / BNB_BLOCK) for p in big)
    maps = 2 * BNB_QMAP * 4 if big else 0
    total = 2 * n_big + 2 * 4 * blocks + 2 * 4 * n_small + maps
    formula = (f"2 x 1 B x {count(n_big)} params + 2 x 4 B x {count(blocks)} blocks of {BNB_BLOCK:,} (absmax)"
               f" + 2 x 4 B x {count(n_small)} params of tensors < {BNB_MIN_8BIT:,} elements (float32)"
               f" + 2 x {BNB_QMAP} x 4 B (quantisation maps) = {total:,} B")
    return MemoryItem("optimizer state (adam8bit: two 8-bit states + block scales)", total, formula)


def _adafactor(params: list[ParamTensor], recipe: Recipe) -> list[MemoryItem]:
    groups: dict[str, list[int]] = {}
    for p in params:
        factored = len(p.shape) >= 2
        stats = (p.numel // p.shape[-1] + p.numel // p.shape[-2]) if factored and p.numel else p.numel
        group = groups.setdefault(stored_dtype(p, recipe), [0, 0])
        group[0] += stats
        group[1] += 1
    items = []
    for dtype, (stats, tensors) in sorted(groups.items()):
        size = dtype_bytes(dtype)
        total = size * stats + STEP_BYTES * tensors
        formula = (f"{size} B x {count(stats)} statistics (rows + cols of each matrix, every element of a vector)"
                   f" + {STEP_BYTES} B x {count(tensors)} step counters = {total:,} B")
        items.append(MemoryItem(f"optimizer state (adafactor: row/column statistics, {dtype})", total, formula))
    return items or [MemoryItem("optimizer state (adafactor)", 0, "no trainable parameters = 0 B")]


def grad_scaler(recipe: Recipe) -> list[MemoryItem]:
    """fp16 mixed precision scales the loss: GradScaler keeps a float32 scale and an int32 growth tracker."""
    if recipe.autocast != "float16":
        return []
    return [MemoryItem("GradScaler (scale, growth tracker)", 8, "4 B + 4 B = 8 B")]
