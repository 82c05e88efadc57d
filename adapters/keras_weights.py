"""Keras weight files without a model config: `model.weights.h5` (Keras 3 `save_weights`) and a legacy
weights-only `.h5`, read with h5py from the dataset headers (dims, never data).

Keras 3 stores each layer's variables positionally (`layers/conv2d/vars/0`, `vars/1`; the layer's
own name is an attribute of `vars`), so the positions are named by Keras's variable order: kernel
(or embeddings) then bias, and four equal vectors are BatchNorm's gamma, beta, moving mean and
variance.  Kernels are in Keras layout ((in, out) for Dense, (*kernel, in, out) for convs).
"""

from __future__ import annotations

import os
from typing import Any

from adapters.checkpoint import checkpoint_ir
from adapters.checkpoint_kinds import KERAS_BATCH_NORM, Stored
from adapters.h5_datasets import Dataset, datasets
from auditor.errors import InputError
from auditor.ir import ModelIR
from auditor.options import AuditOptions, resolve

READ_ERRORS = (OSError, ValueError, KeyError, TypeError, RuntimeError)


def read_keras_weights(path: str, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """`audit model.weights.h5`: the stored weights as layers of inferred kind."""
    options = resolve(options, values)
    import h5py

    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as store:
            found = datasets(store)
            names = _layer_names(store, found)
    except READ_ERRORS as err:
        raise InputError(f"{path}: not a readable HDF5 weights file ({type(err).__name__}: {err})"[:300]) from None
    tensors = _named(found, names)
    notes = [f"Keras weights only ({len(tensors)} variables, dims from the HDF5 headers, no data read); "
             "variables are named by Keras's order (kernel, bias; BatchNorm gamma, beta, moving mean, variance)"]
    return checkpoint_ir(tensors, name=options.name or os.path.basename(path).split(".")[0],
                         source=options.source or path, framework="keras_weights", layout="keras",
                         separator="/", notes=notes)


def _layer_of(dataset_path: str) -> tuple[str, str]:
    """(layer group, variable key): Keras 3 `layers/dense/vars/0` -> ("layers/dense", "0"); legacy
    `dense/dense/kernel:0` -> ("dense/dense", "kernel")."""
    if "/vars/" in f"/{dataset_path}":
        group, _, key = f"/{dataset_path}".rpartition("/vars/")
        return group.strip("/"), key
    group, _, key = dataset_path.rpartition("/")
    return group, key.split(":", 1)[0]


def _layer_names(store: Any, found: list[Dataset]) -> dict[str, str]:
    """Layer group -> display path: the `layers/` levels dropped, the last level replaced by the layer's
    own name when Keras recorded it (the `name` attribute of `vars`)."""
    names = {}
    for d in found:
        group, _ = _layer_of(d.path)
        if group in names:
            continue
        parts = [p for p in group.split("/") if p and p != "layers"]
        vars_group = store.get(f"{group}/vars") if group else store.get("vars")
        own = vars_group.attrs.get("name") if vars_group is not None else None
        if isinstance(own, bytes):
            own = own.decode("utf-8", "replace")
        if isinstance(own, str) and own:
            parts = [*parts[:-1], own] if parts else [own]
        names[group] = "/".join(parts) or "(root)"
    return names


def _named(found: list[Dataset], names: dict[str, str]) -> list[Stored]:
    by_layer: dict[str, list[tuple[str, Dataset]]] = {}
    for d in found:
        group, key = _layer_of(d.path)
        by_layer.setdefault(group, []).append((key, d))
    out: list[Stored] = []
    for group, members in by_layer.items():
        keys = _variable_names(group, members)
        out.extend(Stored(f"{names[group]}/{keys[key]}", d.shape, d.dtype, d.nbytes) for key, d in members)
    return out


def _variable_names(layer: str, members: list[tuple[str, Dataset]]) -> dict[str, str]:
    """Positional variable keys ("0", "1", ...) as Keras names them; named keys kept as they are."""
    keys = [k for k, _ in members]
    if not all(k.isdigit() for k in keys):
        return {k: k for k in keys}
    ordered = sorted(members, key=lambda m: int(m[0]))
    shapes = [d.shape for _, d in ordered]
    if len(shapes) == 4 and all(len(s) == 1 and s == shapes[0] for s in shapes):
        return {k: name for (k, _), name in zip(ordered, KERAS_BATCH_NORM)}
    first = "embeddings" if "embedding" in layer.lower() and len(shapes[0]) == 2 else "kernel"
    if len(shapes) <= 2 and len(shapes[0]) == 1:
        first = "gamma"
    names = {ordered[0][0]: first}
    if len(ordered) > 1:
        names[ordered[1][0]] = "beta" if first == "gamma" else "bias"
    names.update({k: f"var{k}" for k, _ in ordered[2:]})
    return names
