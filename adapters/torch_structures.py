"""PyTorch structures around a model's layers, translated for the IR: no math here.

- Wrappers (`torch.compile`'s OptimizedModule, DataParallel, DistributedDataParallel, peft's
  PeftModel) are unwrapped: the audit reads the module they run.
- Reparametrized weights (`torch.nn.utils.prune`, `parametrizations.weight_norm` / `spectral_norm` /
  `orthogonal`, and the older hook-based `weight_norm` / `spectral_norm`) are described in the
  layer's attrs under "reparametrized", so `auditor.rules.reparam` can count what they add.
- Quantized modules (`torch.ao.nn.quantized`, static and dynamic) keep their weights packed outside
  `parameters()`: their logical weight and bias tensors are listed instead.
- peft adapters: the layers under a tuner layer's adapter attributes (`lora_A`, `lora_B`, ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

WRAPPERS = {
    "torch._dynamo.eval_frame.OptimizedModule": ("_orig_mod", "torch.compile's OptimizedModule"),
    "torch.nn.parallel.data_parallel.DataParallel": ("module", "DataParallel"),
    "torch.nn.parallel.distributed.DistributedDataParallel": ("module", "DistributedDataParallel"),
    "peft.peft_model.PeftModel": ("base_model.model", "peft's PeftModel"),
}
"""Qualified wrapper class (or a base of it) -> (attribute path of the module it runs, its name for notes)."""


def _qualified_names(obj: Any) -> Iterator[str]:
    for cls in type(obj).__mro__:
        yield f"{cls.__module__}.{cls.__qualname__}"


def unwrap(module: torch.nn.Module) -> tuple[torch.nn.Module, list[str]]:
    """The module a wrapper runs (repeatedly, for a compiled DataParallel), and the wrappers' names."""
    names: list[str] = []
    while True:
        found = next((WRAPPERS[n] for n in _qualified_names(module) if n in WRAPPERS), None)
        if found is None:
            return module, names
        inner: Any = module
        for attribute in found[0].split("."):
            inner = getattr(inner, attribute)
        module = inner
        names.append(found[1])


# ---- reparametrized weights ---------------------------------------------------------------------


def _shape(t: torch.Tensor) -> tuple[int, ...]:
    return tuple(int(d) for d in t.shape)


def _kept(mask: torch.Tensor) -> int | None:
    """Weights a pruning mask keeps, when its values exist (not on meta)."""
    return None if mask.device.type == "meta" else int(torch.count_nonzero(mask))


def _hook_entries(module: torch.nn.Module, prefix: str) -> Iterator[dict[str, Any]]:
    """Pruning and the older weight_norm / spectral_norm, which work through forward pre-hooks."""
    from torch.nn.utils import prune
    from torch.nn.utils.spectral_norm import SpectralNorm
    from torch.nn.utils.weight_norm import WeightNorm

    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, prune.BasePruningMethod):
            name = hook._tensor_name
            mask = getattr(module, f"{name}_mask")
            yield {"tensor": prefix + name, "method": "prune", "shape": _shape(mask), "kept": _kept(mask)}
        elif isinstance(hook, WeightNorm):
            yield {"tensor": prefix + hook.name, "method": "weight_norm", "dim": hook.dim,
                   "shape": _shape(getattr(module, f"{hook.name}_v"))}
        elif isinstance(hook, SpectralNorm):
            yield {"tensor": prefix + hook.name, "method": "spectral_norm", "dim": hook.dim,
                   "shape": _shape(getattr(module, f"{hook.name}_orig"))}


_PARAMETRIZATIONS = {"_WeightNorm": "weight_norm", "_SpectralNorm": "spectral_norm", "_Orthogonal": "orthogonal"}
"""torch.nn.utils.parametrizations' classes -> the method name the reparam rule knows."""


def _parametrization_entries(module: Any, prefix: str) -> Iterator[dict[str, Any]]:
    """`torch.nn.utils.parametrize`: one entry per parametrization of each parametrized tensor."""
    from torch.nn.utils import parametrize

    if not parametrize.is_parametrized(module):
        return
    for name, chain in module.parametrizations.items():
        shape = _shape(getattr(module, name))
        for step in chain:
            method = _PARAMETRIZATIONS.get(type(step).__name__, type(step).__qualname__)
            entry: dict[str, Any] = {"tensor": prefix + name, "method": method, "shape": shape}
            if hasattr(step, "dim"):
                entry["dim"] = step.dim
            if method == "orthogonal":
                entry["base"] = "base" in step._buffers
            yield entry


def reparametrizations(module: torch.nn.Module) -> tuple[dict[str, Any], ...]:
    """Every reparametrized tensor in `module`'s subtree (a mapped layer owns its subtree)."""
    entries: list[dict[str, Any]] = []
    for path, sub in module.named_modules():
        prefix = f"{path}." if path else ""
        entries.extend(_hook_entries(sub, prefix))
        entries.extend(_parametrization_entries(sub, prefix))
    return tuple(entries)


# ---- quantized modules --------------------------------------------------------------------------

_QUANTIZED_WEIGHTED = ("torch.ao.nn.quantized.modules.linear.Linear", "torch.ao.nn.quantized.modules.conv._ConvNd")
_QUANTIZED_RNN = "torch.ao.nn.quantized.dynamic.modules.rnn.RNNBase"


def packed_tensors(module: Any) -> list[tuple[str, torch.Tensor]] | None:
    """(name, logical tensor) of a quantized module's packed weights; None for any other module."""
    names = set(_qualified_names(module))
    if names.intersection(_QUANTIZED_WEIGHTED):
        bias = module.bias()
        return [("weight", module.weight())] + ([("bias", bias)] if bias is not None else [])
    if _QUANTIZED_RNN in names:
        found = module._weight_bias()
        return [(n, t) for n, t in {**found["weight"], **found["bias"]}.items()]
    return None


_QUANTIZE = "torch.ao.nn.quantized.modules.Quantize"
_QUANT_STATE = frozenset({"scale", "zero_point"})


def quant_state(module: Any, name: str) -> bool:
    """A quantizer's scale or zero point: quantization state (as an ONNX QuantizeLinear's), not a buffer."""
    return name in _QUANT_STATE and _QUANTIZE in set(_qualified_names(module))


def packed_elements(model: torch.nn.Module) -> int:
    """Logical elements of every quantized module's packed weights (outside `parameters()`)."""
    return sum(t.numel() for m in model.modules() for _, t in packed_tensors(m) or [])


# ---- peft adapters ------------------------------------------------------------------------------


def adapter_paths(model: torch.nn.Module) -> dict[str, str]:
    """Path prefix of every adapter submodule (`q_proj.lora_A.default`) -> its adapter's name."""
    found: dict[str, str] = {}
    for path, module in model.named_modules():
        for attribute in getattr(module, "adapter_layer_names", ()) if hasattr(module, "base_layer") else ():
            container = getattr(module, attribute, None)
            for name in getattr(container, "keys", lambda: ())():
                found[f"{path}.{attribute}.{name}" if path else f"{attribute}.{name}"] = str(name)
    return found
