"""config.json contents of published models, as their Hub repositories give them (no download: the
numbers are written here), with the parameter counts their authors and the Hub publish."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_LLAMA: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu", "bos_token_id": 1,
    "eos_token_id": 2, "initializer_range": 0.02, "max_position_embeddings": 4096, "pretraining_tp": 1,
    "rms_norm_eps": 1e-05, "rope_scaling": None, "tie_word_embeddings": False, "torch_dtype": "float16",
    "use_cache": True, "vocab_size": 32000,
}

CONFIGS: dict[str, dict[str, Any]] = {
    "llama-2-7b": {**_LLAMA, "hidden_size": 4096, "intermediate_size": 11008, "num_attention_heads": 32,
                   "num_hidden_layers": 32, "num_key_value_heads": 32},
    "llama-2-13b": {**_LLAMA, "hidden_size": 5120, "intermediate_size": 13824, "num_attention_heads": 40,
                    "num_hidden_layers": 40, "num_key_value_heads": 40},
    "llama-2-70b": {**_LLAMA, "hidden_size": 8192, "intermediate_size": 28672, "num_attention_heads": 64,
                    "num_hidden_layers": 80, "num_key_value_heads": 8},
    "llama-3.1-8b": {**_LLAMA, "bos_token_id": 128000, "eos_token_id": 128001, "hidden_size": 4096,
                     "intermediate_size": 14336, "max_position_embeddings": 131072, "num_attention_heads": 32,
                     "num_hidden_layers": 32, "num_key_value_heads": 8, "rope_theta": 500000.0,
                     "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                      "original_max_position_embeddings": 8192, "rope_type": "llama3"},
                     "torch_dtype": "bfloat16", "vocab_size": 128256},
    "mixtral-8x7b": {"architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_act": "silu",
                     "hidden_size": 4096, "intermediate_size": 14336, "max_position_embeddings": 32768,
                     "num_attention_heads": 32, "num_experts_per_tok": 2, "num_hidden_layers": 32,
                     "num_key_value_heads": 8, "num_local_experts": 8, "rms_norm_eps": 1e-05, "rope_theta": 1e6,
                     "sliding_window": None, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
                     "vocab_size": 32000},
    "gpt2": {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new",
             "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024, "vocab_size": 50257,
             "layer_norm_epsilon": 1e-05, "initializer_range": 0.02},
}

PUBLISHED: dict[str, int] = {
    "llama-2-7b": 6_738_415_616, "llama-2-13b": 13_015_864_320, "llama-2-70b": 68_976_648_192,
    "llama-3.1-8b": 8_030_261_248, "mixtral-8x7b": 46_702_792_704, "gpt2": 124_439_808,
}
"""Parameters of each architecture (tied weights once): the papers' and transformers' own counts."""

ACTIVE: dict[str, int] = {"mixtral-8x7b": 12_879_925_248}
"""Parameters one token uses (the router sends it to 2 of 8 experts): Mistral AI's "12.9B active"."""


def write_config(folder: Path, name: str, **changes: Any) -> Path:
    """`folder/config.json` for a published model (with `changes` applied)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    path.write_text(json.dumps({**CONFIGS[name], **changes}, indent=2))
    return path
