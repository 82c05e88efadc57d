"""A Hugging Face `config.json` as an architecture: built with transformers on the meta device and
audited like any PyTorch model.

Only classes transformers itself ships are built (never `trust_remote_code`): the config class from
`model_type`, the model class from `architectures[0]` (else the base `AutoModel`).  A config that
needs its own code (`auto_map`) or names a type transformers does not know is one clear error.
Parameters are created on the meta device in the config's dtype, so no weight memory is allocated.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from auditor.errors import InputError, one_line
from auditor.ir import ModelIR
from auditor.options import AuditOptions, resolve

SHOWN_KEYS = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
              "intermediate_size", "vocab_size", "max_position_embeddings", "num_local_experts",
              "num_experts_per_tok", "tie_word_embeddings", "dtype", "torch_dtype", "n_embd", "n_layer", "n_head",
              "n_positions")
"""Config entries kept as the model's metadata (shown in JSON, used to word findings)."""


def from_config_dict(document: dict[str, Any], path: str, options: AuditOptions | None = None,
                     **values: Any) -> ModelIR:
    """The architecture a config describes, as a ModelIR (its `tensors` are the expected state dict)."""
    options = resolve(options, values)
    model, architecture = build_model(document, path)
    from adapters.torch import from_module

    token_ids = options.input_dtypes or (("int64",) if options.input_shapes else None)
    ir = from_module(model, dataclasses.replace(options, input_dtypes=token_ids, name=options.name or architecture,
                                                source=options.source or path))
    import transformers

    ir.notes.insert(0, f"architecture {architecture} built from {path} with transformers {transformers.__version__} "
                       "on the meta device (no weights allocated, no remote code)")
    ir.metadata.update({k: document[k] for k in SHOWN_KEYS if k in document})
    ir.metadata["architecture"] = architecture
    ir.metadata["base_model_prefix"] = getattr(model, "base_model_prefix", "") or ""
    return ir


def build_model(document: dict[str, Any], path: str) -> tuple[Any, str]:
    """(model on the meta device, its class name) for a config dict; InputError when transformers cannot."""
    import torch
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    model_type = document.get("model_type")
    if not isinstance(model_type, str) or model_type not in CONFIG_MAPPING:
        remote = " and needs its own code (auto_map), which nn-auditor never runs" if "auto_map" in document else ""
        raise InputError(f"{path}: transformers {transformers.__version__} does not know model_type "
                         f"{model_type!r}{remote}")
    from adapters.quiet import quiet_loggers

    with quiet_loggers("transformers", level=logging.ERROR):
        try:
            config = CONFIG_MAPPING[model_type].from_dict(dict(document))
        except Exception as err:  # a config with wrong value types fails inside transformers
            raise InputError(f"{path}: transformers cannot read this {model_type} config ({one_line(err)})") from None
        cls, name = _model_class(document, path)
        try:
            with torch.device("meta"):
                model = cls._from_config(config, dtype=_dtype(config))
        except Exception as err:  # inconsistent sizes (heads not dividing hidden_size, ...)
            raise InputError(f"{path}: transformers cannot build {name} from this config ({one_line(err)})") from None
    return model, name


def _model_class(document: dict[str, Any], path: str) -> tuple[Any, str]:
    import transformers

    names = document.get("architectures") or []
    if not names:
        return transformers.AutoModel, "AutoModel"
    name = str(names[0])
    cls = getattr(transformers, name, None) if name.isidentifier() else None
    if not isinstance(cls, type) or not issubclass(cls, transformers.PreTrainedModel):
        remote = " (the config's auto_map points at code nn-auditor never runs)" if "auto_map" in document else ""
        raise InputError(f"{path}: architecture {name!r} is not a transformers {transformers.__version__} "
                         f"model class{remote}")
    return cls, name


def _dtype(config: Any) -> Any:
    import torch

    value = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if isinstance(value, torch.dtype):
        return value
    found = getattr(torch, str(value), None) if value else None
    return found if isinstance(found, torch.dtype) else torch.float32


