"""Checkpoint files written by the benchmarks and the tests: safetensors headers over sparse data,
sharded indexes, and the tensor layout of Llama-style models computed from their config numbers.

`write_safetensors` writes a real header (8-byte length, JSON padded to 8 bytes as the safetensors
library pads it) and extends the file to its full size with `os.truncate`, so a 137 GB Llama-2-70B
checkpoint costs a few hundred KB of disk.  Tests confirm these headers with `safetensors.safe_open`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

DTYPE_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "I32": 4, "I64": 8, "U8": 1, "I8": 1, "F8_E4M3": 1}


@dataclass(frozen=True)
class Spec:
    name: str
    shape: tuple[int, ...]
    dtype: str = "F16"

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * DTYPE_BYTES[self.dtype]


@dataclass(frozen=True)
class LlamaShape:
    """The numbers of a Llama config that fix its tensor shapes."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int = 32000
    tied: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


LLAMA2_7B = LlamaShape(4096, 11008, 32, 32, 32)
LLAMA2_70B = LlamaShape(8192, 28672, 80, 64, 8)


def llama_tensors(shape: LlamaShape, dtype: str = "F16", inv_freq: bool = False) -> list[Spec]:
    """The state dict of LlamaForCausalLM for `shape`, in the order transformers lists it."""
    h, kv = shape.hidden, shape.kv_heads * shape.head_dim
    specs = [Spec("model.embed_tokens.weight", (shape.vocab, h), dtype)]
    for i in range(shape.layers):
        p = f"model.layers.{i}"
        specs += [
            Spec(f"{p}.self_attn.q_proj.weight", (h, h), dtype), Spec(f"{p}.self_attn.k_proj.weight", (kv, h), dtype),
            Spec(f"{p}.self_attn.v_proj.weight", (kv, h), dtype), Spec(f"{p}.self_attn.o_proj.weight", (h, h), dtype),
            Spec(f"{p}.mlp.gate_proj.weight", (shape.intermediate, h), dtype),
            Spec(f"{p}.mlp.up_proj.weight", (shape.intermediate, h), dtype),
            Spec(f"{p}.mlp.down_proj.weight", (h, shape.intermediate), dtype),
            Spec(f"{p}.input_layernorm.weight", (h,), dtype), Spec(f"{p}.post_attention_layernorm.weight", (h,), dtype),
        ]
        if inv_freq:
            specs.append(Spec(f"{p}.self_attn.rotary_emb.inv_freq", (shape.head_dim // 2,), "F32"))
    specs.append(Spec("model.norm.weight", (h,), dtype))
    if not shape.tied:
        specs.append(Spec("lm_head.weight", (shape.vocab, h), dtype))
    return specs


def header_bytes(specs: list[Spec], metadata: dict[str, str] | None = None) -> tuple[bytes, int]:
    """(length-prefixed header padded to 8 bytes, data bytes) for tensors laid out in order."""
    header: dict[str, object] = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    for spec in specs:
        header[spec.name] = {"dtype": spec.dtype, "shape": list(spec.shape), "data_offsets": [offset, offset + spec.nbytes]}
        offset += spec.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text, offset


def write_safetensors(path: Path, specs: list[Spec], metadata: dict[str, str] | None = None) -> int:
    """Write a real header and a sparse data section; returns the header's size in bytes (length included)."""
    head, data = header_bytes(specs, metadata)
    with open(path, "wb") as out:
        out.write(head)
    os.truncate(path, len(head) + data)
    return len(head)


def write_sharded(folder: Path, specs: list[Spec], shards: int) -> tuple[Path, int]:
    """A sharded checkpoint as transformers names it: model-0000K-of-0000N.safetensors + index.

    Returns (index path, bytes of all headers).  Tensors go to shards in order, about evenly by bytes.
    """
    folder.mkdir(parents=True, exist_ok=True)
    total = sum(s.nbytes for s in specs)
    groups: list[list[Spec]] = [[] for _ in range(shards)]
    running = 0
    for spec in specs:
        groups[min(shards - 1, running * shards // total)].append(spec)
        running += spec.nbytes
    weight_map, header_total = {}, 0
    for k, group in enumerate(groups, start=1):
        name = f"model-{k:05d}-of-{shards:05d}.safetensors"
        header_total += write_safetensors(folder / name, group)
        weight_map.update({s.name: name for s in group})
    index = folder / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
    return index, header_total


def bytes_read() -> int:
    """Bytes this process has read through read() system calls so far (Linux /proc/self/io rchar)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise RuntimeError("no rchar in /proc/self/io")
