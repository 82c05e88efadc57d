"""What a PyTorch-named file (`.pt`, `.pth`, `.ts`, `.bin`) holds, read from its content, and the reader
for it: a TorchScript archive (`adapters.torchscript`), a safetensors file under another name
(`adapters.safetensors_file`), else a torch.save state dict (`adapters.state_dict`, weights_only).

One dispatcher above the three readers, so none of them imports another to hand a file on.
"""

from __future__ import annotations

import os
from typing import Any

from adapters.state_dict import file_kind, read_state_dict
from adapters.torchscript_archive import is_torchscript
from auditor.errors import InputError
from auditor.ir import ModelIR
from auditor.options import AuditOptions, resolve


def read_torch_file(path: str, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """`audit model.pt` / `pytorch_model.bin`: TorchScript, safetensors or a state dict, by content."""
    options = resolve(options, values)
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    if is_torchscript(path):
        from adapters.torchscript import read_torchscript

        return read_torchscript(path, options)
    if file_kind(path) == "safetensors":
        from adapters.safetensors_file import read_safetensors

        return read_safetensors(path, options)
    return read_state_dict(path, options)


__all__ = ["read_torch_file"]
