"""What PyTorch itself holds, measured on real CPU tensors: the figures memory budgets are checked against.

- saved activations: every tensor autograd saves during one training forward, seen through
  `torch.autograd.graph.saved_tensors_hooks`, each storage once (by its data pointer), parameters and
  buffers excluded (they are weights);
- gradients: the bytes of every `.grad` after one backward;
- optimizer state: the bytes of every tensor in `optimizer.state` after one `step()`;
- KV cache: the bytes of the key and value tensors transformers' cache holds after one forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Saved:
    bytes: int
    storages: int


def _model_storages(model: torch.nn.Module) -> set[int]:
    return {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}


def saved_activations(model: torch.nn.Module, *args: Any, **kwargs: Any) -> tuple[Saved, Any]:
    """Unique non-parameter storages autograd keeps for backward in one forward (the output is returned)."""
    state = _model_storages(model)
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in state:
            seen.setdefault(storage.data_ptr(), storage.nbytes())
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(*args, **kwargs)
    return Saved(sum(seen.values()), len(seen)), out


def loss_of(out: Any) -> torch.Tensor:
    """A scalar that depends on every floating output (so every used parameter gets a gradient)."""
    if hasattr(out, "to_tuple"):
        out = out.to_tuple()
    leaves = [t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor) and t.is_floating_point()]
    return sum(t.float().sum() for t in leaves)  # type: ignore[return-value]


def gradient_bytes(model: torch.nn.Module) -> int:
    return sum(p.grad.numel() * p.grad.element_size() for p in model.parameters() if p.grad is not None)


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Every tensor in `optimizer.state`, each once (bitsandbytes shares its quantisation maps)."""
    seen: dict[int, int] = {}
    for state in optimizer.state.values():
        for value in state.values():
            if isinstance(value, torch.Tensor):
                seen.setdefault(value.untyped_storage().data_ptr(), value.numel() * value.element_size())
    return sum(seen.values())


def kv_cache_bytes(cache: Any) -> int:
    """Bytes of the keys and values a transformers cache holds."""
    total = 0
    for layer in cache.layers:
        for name in ("keys", "values"):
            tensor = getattr(layer, name, None)
            if isinstance(tensor, torch.Tensor):
                total += tensor.numel() * tensor.element_size()
    return total
