"""Module paths from the node names exporters write.

PyTorch's TorchScript exporter (`torch.onnx.export(..., dynamo=False)`) names a node by the module scopes
it ran in and the op: `/resnet/encoder/stages.0/layers.0/layer/layer.0/convolution/Conv`.  A scope is
the child's name in its parent, and a container that was called itself adds its own scope before its
child's (`layer`, then `layer.0`), so the module path is the scopes joined by dots with such a repeated
container dropped: `resnet.encoder.stages.0.layers.0.layer.0.convolution`, the name `named_modules()`
gives (and the dynamo exporter records), so a model and its export line up by name.
"""

from __future__ import annotations


def scope_path(node_name: str) -> str | None:
    """The module path of a TorchScript-exported node name ("/f/f.3/Conv" -> "f.3"); None for other names."""
    if not node_name.startswith("/"):
        return None
    scopes = [s for s in node_name.split("/") if s][:-1]  # the last part is the op ("Conv", "MatMul_1")
    if not scopes:
        return None
    parts: list[str] = []
    for scope in scopes:
        if parts and scope.startswith(parts[-1] + "."):
            parts[-1] = scope  # "layer" then "layer.0": the container's call, then its child's
        else:
            parts.append(scope)
    return ".".join(parts)


__all__ = ["scope_path"]
