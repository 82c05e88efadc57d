"""JSON files and folders as Hugging Face lays them out: a checkpoint index, a `config.json`, or a
model folder holding either or both.

What a JSON file is, is read from its content (`weight_map`: a sharded checkpoint's index;
`model_type` / `architectures`: a model config), never from its name.  A folder's weights are its
safetensors index, else its single `.safetensors` file, else its PyTorch `.bin` index or state
dict; its architecture is its `config.json`.
"""

from __future__ import annotations

import os
from typing import Any

from auditor.errors import InputError
from auditor.ir import ModelIR
from auditor.options import AuditOptions, resolve

CONFIG_NAME = "config.json"
WEIGHT_FILES = ("model.safetensors.index.json", "model.safetensors", "pytorch_model.bin.index.json",
                "pytorch_model.bin")
"""A Hugging Face folder's weights, in the order transformers prefers them."""


def read_json(path: str, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """`audit config.json` (the architecture) or `audit model.safetensors.index.json` (the checkpoint)."""
    options = resolve(options, values)
    from adapters.sharded import read_index, read_json_limited

    document = read_json_limited(path)
    if isinstance(document, dict) and "weight_map" in document:
        return read_index(path, options, index=document)
    if isinstance(document, dict) and ("model_type" in document or "architectures" in document):
        from adapters.hf_config import from_config_dict

        return from_config_dict(document, path, options)
    raise InputError(f"{path}: unknown model format: a JSON file that is neither a checkpoint index (weight_map) "
                     "nor a model config (model_type)")


def folder_files(folder: str) -> tuple[str | None, str | None]:
    """(config.json path, weights path) of a Hugging Face model folder; either may be None."""
    config = os.path.join(folder, CONFIG_NAME)
    weights = next((os.path.join(folder, n) for n in WEIGHT_FILES if os.path.isfile(os.path.join(folder, n))), None)
    if weights is None:
        found = sorted(n for n in os.listdir(folder) if n.endswith((".safetensors", ".gguf")))
        weights = os.path.join(folder, found[0]) if len(found) == 1 else None
    return (config if os.path.isfile(config) else None), weights


def is_model_folder(folder: str) -> bool:
    """A folder that is one model (a config.json or a sharded index), not a collection of model files."""
    config, weights = folder_files(folder)
    return config is not None or (weights is not None and weights.endswith(".index.json"))

