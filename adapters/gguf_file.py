"""GGUF checkpoints (llama.cpp) through the `gguf` package's reader: metadata and tensor infos only.

`gguf.GGUFReader` memory-maps the file; the tensor data is never touched (no dequantization).
Logical element counts come from each tensor's dims (GGUF lists them innermost first, so the shape
shown is the reversed, PyTorch-order one); stored bytes from the quantization type through gguf's own
block table (`GGML_QUANT_SIZES`: Q4_K holds 256 weights in 144 bytes); the architecture's metadata
(block count, heads, context length ...) is kept and shown.
"""

from __future__ import annotations

import os
from typing import Any

from adapters.checkpoint import checkpoint_ir
from adapters.checkpoint_kinds import Stored
from auditor.errors import InputError
from auditor.ir import ModelIR
from auditor.ir_tensors import Packing
from auditor.options import AuditOptions, resolve

PLAIN_TYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64", "I8": "int8",
               "I16": "int16", "I32": "int32", "I64": "int64"}
"""GGML types that store one element per value (no blocks), with their canonical dtype names."""

SHOWN = ("block_count", "context_length", "embedding_length", "feed_forward_length", "attention.head_count",
         "attention.head_count_kv", "expert_count", "expert_used_count", "vocab_size", "rope.dimension_count")
"""Architecture keys (under `{general.architecture}.`) summarised in the report's notes."""


def read_gguf(path: str, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """`audit model.gguf`: tensor infos and metadata as a ModelIR."""
    options = resolve(options, values)
    reader = _open(path)
    try:
        stored, packings = _tensors(reader)
    except (ValueError, KeyError) as err:
        raise InputError(f"{path}: not a readable GGUF file ({type(err).__name__}: {err})"[:300]) from None
    metadata = _metadata(reader)
    return checkpoint_ir(stored, name=options.name or str(metadata.get("general.name") or _stem(path)),
                         source=options.source or path, framework="gguf", notes=_notes(metadata, stored),
                         metadata=metadata, packings=packings)


def _stem(path: str) -> str:
    return os.path.basename(path).rsplit(".", 1)[0]


def _open(path: str) -> Any:
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    import gguf

    try:
        return gguf.GGUFReader(path, "r")
    except (ValueError, KeyError, IndexError, OverflowError, TypeError) as err:
        text = " ".join(str(err).split())[:160]
        raise InputError(f"{path}: not a readable GGUF file ({type(err).__name__}: {text})") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from None


def _tensors(reader: Any) -> tuple[list[Stored], dict[str, Packing]]:
    """Stored tensors in PyTorch dim order, and the block packing of each quantized one."""
    import gguf

    from auditor.rules.quantization import gguf_bytes

    stored, packings = [], {}
    for t in reader.tensors:
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        type_name = t.tensor_type.name
        block, type_size = gguf.GGML_QUANT_SIZES[t.tensor_type]
        nbytes, formula = gguf_bytes(shape, type_name, block, type_size)
        stored.append(Stored(t.name, shape, PLAIN_TYPES.get(type_name, type_name), nbytes))
        if type_name not in PLAIN_TYPES:
            packings[t.name] = Packing(t.name.rsplit(".", 1)[-1], shape, type_name, formula)
    return stored, packings


def _metadata(reader: Any) -> dict[str, Any]:
    """Every scalar or string metadata field (arrays such as the tokenizer's vocabulary by their length)."""
    import gguf

    out: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        if field.types and field.types[0] == gguf.GGUFValueType.ARRAY:
            out[key] = f"array of {len(field.data)}"
            continue
        value = field.contents()
        out[key] = value.item() if hasattr(value, "item") else value
    return out


def _notes(metadata: dict[str, Any], stored: list[Stored]) -> list[str]:
    arch = str(metadata.get("general.architecture", "unknown"))
    shown = [f"{key} {metadata[f'{arch}.{key}']}" for key in SHOWN if f"{arch}.{key}" in metadata]
    types = sorted({t.dtype for t in stored})
    return [
        f"GGUF tensor infos and metadata only ({len(stored):,} tensors, types {', '.join(types)}): "
        "no tensor data read or dequantized",
        f"architecture {arch}" + (": " + ", ".join(shown) if shown else ""),
    ]


def architecture_names(checkpoint: ModelIR, expected: list[str]) -> ModelIR:
    """The GGUF checkpoint with its tensors under the architecture's (transformers) names, through the
    gguf package's own name table (`blk.0.attn_q.weight` is `model.layers.0.self_attn.q_proj.weight`);
    names the table does not map keep their GGUF name."""
    import dataclasses

    import gguf

    arch_name = str(checkpoint.metadata.get("general.architecture", ""))
    arch = next((a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == arch_name), None)
    blocks = checkpoint.metadata.get(f"{arch_name}.block_count")
    if arch is None or not isinstance(blocks, int):
        return checkpoint
    table = gguf.get_tensor_name_map(arch, blocks)
    renamed = {}
    for name in expected:
        mapped = table.get_name(name, try_suffixes=(".weight", ".bias"))
        if mapped and mapped in checkpoint.tensors:
            renamed[mapped] = name
    tensors = {renamed.get(n, n): t for n, t in checkpoint.tensors.items()}
    notes = [*checkpoint.notes, f"{len(renamed):,} GGUF tensor names read as transformers names through gguf's name table"]
    return dataclasses.replace(checkpoint, tensors=tensors, notes=notes)
