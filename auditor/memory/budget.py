"""Assemble a training or inference budget from an audit: every item with its formula, and the total."""

from __future__ import annotations

from dataclasses import asdict

from auditor.ir import ModelIR
from auditor.memory.activations import activation_item, saved_per_layer, tally, weight_copy_item
from auditor.memory.checkpointing import checkpointed_item
from auditor.memory.forward import output_rows, peak_item
from auditor.memory.items import LayerMemory, MemoryBudget, MemoryItem
from auditor.memory.kv_cache import kv_cache_item
from auditor.memory.optimizers import grad_scaler, optimizer_state
from auditor.memory.options import MemoryOptions
from auditor.memory.weights import buffers, gradients, trainable, weights
from auditor.registry import Registry
from auditor.rules import RULES, Rule
from auditor.rules.saved_records import SaveContext


def memory_budget(model: ModelIR, options: MemoryOptions, rules: Registry[str, Rule] | None = None) -> MemoryBudget:
    """The budget for `model` (an IR, ideally from a pass run with `options.pass_request()`), with `rules`
    (default: the global ones) saying what each layer keeps."""
    notes = _notes(model, options)
    if options.training:
        items, rows = _training(model, options, notes, rules or RULES)
    else:
        items, rows = _inference(model, options, rules or RULES)
    return MemoryBudget(options.mode, tuple(items), tuple(rows), tuple(notes), _described(options))


def _training(model: ModelIR, options: MemoryOptions, notes: list[str],
              rules: Registry[str, Rule]) -> tuple[list[MemoryItem], list[LayerMemory]]:
    recipe = options.recipe
    items = weights(model, recipe) + buffers(model, recipe)
    entries = saved_per_layer(model, SaveContext(options.device, training=True), rules)
    result = tally(entries)
    if result.weight_copy_bytes:
        items.append(weight_copy_item(result, recipe.autocast or "float16"))
    items += gradients(model, recipe)
    items += optimizer_state(options.optimizer, trainable(model), recipe)
    items += grad_scaler(recipe)
    activations = activation_item(result)
    if options.checkpointing == "blocks":
        checkpointed = checkpointed_item(model, entries)
        if checkpointed is None:
            notes.append("--checkpointing blocks: no repeated blocks found in the layer paths; nothing checkpointed")
        else:
            activations = checkpointed[0]
    items.append(activations)
    return items, list(result.rows)


def _inference(model: ModelIR, options: MemoryOptions,
               rules: Registry[str, Rule]) -> tuple[list[MemoryItem], list[LayerMemory]]:
    recipe = options.recipe
    dtype = recipe.autocast or recipe.weights or _first_dtype(model)
    items = weights(model, recipe) + buffers(model, recipe)
    items.append(peak_item(model, dtype))
    cache = kv_cache_item(model, rules=rules)
    if cache is not None:
        items.append(cache)
    return items, output_rows(model, dtype)


def _first_dtype(model: ModelIR) -> str:
    for layer in model.layers:
        for p in layer.params:
            return p.dtype
    return "float32"


def _notes(model: ModelIR, options: MemoryOptions) -> list[str]:
    notes = []
    if model.pass_info is None:
        notes.append("no tensor facts were recorded for this model: saved tensors are matched by shape, "
                     "and dtypes are the weights'")
    if options.device == "cuda":
        notes.append("kernels as on CUDA: dropout keeps a 1-byte mask, attention uses PyTorch's fused kernels "
                     "where they apply; the pass itself ran on fake CPU tensors")
    return notes


def _described(options: MemoryOptions) -> dict[str, object]:
    described = asdict(options)
    described["precision"] = options.recipe.name
    return described
