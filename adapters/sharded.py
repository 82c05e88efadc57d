"""Sharded checkpoints: `model.safetensors.index.json` (or `pytorch_model.bin.index.json`) and its shards.

The index's `weight_map` names, for every tensor, the shard that holds it.  Every shard is read
(headers only) and validated; every tensor the index names must be in the shard it names, no tensor
may sit in two shards, and a shard must be a file inside the index's own folder (a `../` or an
absolute path, or a symlink out of the folder, is refused, as for ONNX external data).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from adapters.checkpoint import checkpoint_ir
from adapters.checkpoint_kinds import Stored
from auditor.errors import InputError
from auditor.ir import ModelIR
from auditor.options import AuditOptions, resolve

MAX_INDEX_BYTES = 64 * 2**20
"""An index larger than this is refused unread (the 70B Llama index is about 70 KB)."""


def read_json_limited(path: str, limit: int = MAX_INDEX_BYTES) -> Any:
    """A JSON file, refused (InputError) when it is larger than `limit` or not JSON."""
    try:
        size = os.path.getsize(path)
        if size > limit:
            raise InputError(f"{path}: {size:,} bytes is too large for a JSON index or config (limit {limit:,})")
        with open(path, "rb") as handle:
            return json.loads(handle.read())
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not a readable JSON file ({type(err).__name__})") from None


def read_index(path: str, options: AuditOptions | None = None, index: dict[str, Any] | None = None,
               **values: Any) -> ModelIR:
    """The whole sharded checkpoint an index describes, as one ModelIR."""
    options = resolve(options, values)
    index = index if index is not None else read_json_limited(path)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise InputError(f"{path}: not a readable checkpoint index (no weight_map of tensor -> shard file)")
    folder = os.path.dirname(os.path.abspath(path))
    shards = sorted(set(weight_map.values()))
    tensors, notes, total_bytes = _read_shards(path, folder, shards, weight_map)
    declared = (index.get("metadata") or {}).get("total_size") if isinstance(index.get("metadata"), dict) else None
    notes.insert(0, f"sharded checkpoint: {len(shards)} shard(s), {len(tensors):,} tensors, headers only")
    if isinstance(declared, int) and declared != total_bytes:
        notes.append(f"the index's total_size {declared:,} differs from the shards' tensor bytes {total_bytes:,}")
    framework = "safetensors" if all(s.endswith(".safetensors") for s in shards) else "state_dict"
    name = options.name or os.path.basename(folder) or "checkpoint"
    return checkpoint_ir(tensors, name=name, source=options.source or path, framework=framework,
                         notes=notes, metadata={"shards": len(shards)})


def shard_path(index_path: str, folder: str, shard: str) -> str:
    """The shard's path, refused unless it is an existing file inside the index's folder."""
    if not shard or "\0" in shard or os.path.isabs(shard) or ".." in shard.replace("\\", "/").split("/"):
        raise InputError(f"{index_path}: shard {shard!r} is outside the model's folder")
    candidate = os.path.join(folder, shard)
    real_folder = os.path.realpath(folder)
    if not os.path.realpath(candidate).startswith(real_folder + os.sep):
        raise InputError(f"{index_path}: shard {shard!r} is outside the model's folder (a link out of it)")
    if not os.path.isfile(candidate):
        raise InputError(f"{index_path}: shard {shard!r} is missing")
    return candidate


def _read_shards(
    path: str, folder: str, shards: list[str], weight_map: dict[str, str]
) -> tuple[list[Stored], list[str], int]:
    tensors: list[Stored] = []
    where: dict[str, str] = {}
    unlisted = 0
    for shard in shards:
        for tensor in _shard_reader(shard)(shard_path(path, folder, shard)):
            if tensor.name in where:
                raise InputError(f"{path}: tensor {tensor.name!r} is in both {where[tensor.name]} and {shard}")
            where[tensor.name] = shard
            unlisted += tensor.name not in weight_map
            tensors.append(tensor)
    for name, shard in weight_map.items():
        if where.get(name) != shard:
            found = f" (it is in {where[name]})" if name in where else ""
            raise InputError(f"{path}: the index puts tensor {name!r} in {shard}, which does not hold it{found}")
    notes = [f"{unlisted:,} tensor(s) in the shards are not in the index's weight_map (counted)"] if unlisted else []
    return tensors, notes, sum(t.nbytes for t in tensors if t.shares is None)


def _shard_reader(shard: str) -> Callable[[str], list[Stored]]:
    if shard.endswith(".safetensors"):
        from adapters.safetensors_file import read_safetensors_tensors

        return read_safetensors_tensors
    from adapters.state_dict import read_state_dict_tensors

    return read_state_dict_tensors
