"""The common layer IR every adapter translates into.

Pure data: a model is an ordered list of layers; each layer carries its canonical kind, canonical
attributes (explicit defaults, never implied), the shapes the framework saw, and the parameter
tensors the framework says the layer owns.  Nothing here imports a deep-learning framework.
"""

from __future__ import annotations

import math
from dataclasses import field
from typing import TYPE_CHECKING, Any

from auditor.records import record

if TYPE_CHECKING:  # re-exported (see _ELSEWHERE)
    from auditor.ir_tensors import LooseTensor as LooseTensor
    from auditor.ir_tensors import Packing as Packing
    from auditor.pass_facts import PassInfo as PassInfo
    from auditor.pass_facts import TensorFact as TensorFact

Dim = int | str
"""One tensor dimension: an int, or a str naming a symbolic dim ("batch", "seq_len")."""

Shape = tuple[Dim, ...]

DTYPE_BYTES: dict[str, int] = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "float8": 1,
    "float8_e4m3fn": 1,
    "float8_e4m3fnuz": 1,
    "float8_e5m2": 1,
    "float8_e5m2fnuz": 1,
    "float8_e8m0fnu": 1,
    "uint64": 8,
    "uint32": 4,
    "uint16": 2,
    "int64": 8,
    "int32": 4,
    "int16": 2,
    "int8": 1,
    "uint8": 1,
    "bool": 1,
    "qint8": 1,
    "quint8": 1,
    "qint32": 4,
    "complex64": 8,
    "complex128": 16,
}
"""Bytes per element of the dtypes the adapters report; unknown dtypes count as 4 bytes."""

_ELSEWHERE = {
    "PassInfo": "auditor.pass_facts",
    "TensorFact": "auditor.pass_facts",
    "Packing": "auditor.ir_tensors",
    "LooseTensor": "auditor.ir_tensors",
}
"""IR records most audits never create, each importable from here but defined in the module named, which
loads on first use: what a memory budget's shape pass records (`Layer.inputs`, `ModelIR.pass_info`), a
packed weight's stored form (`ParamTensor.packing`) and a tensor no layer owns (`ModelIR.unattributed`)."""


def __getattr__(name: str) -> Any:
    if name in _ELSEWHERE:
        import importlib

        return getattr(importlib.import_module(_ELSEWHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_static(shape: Shape) -> bool:
    """True when every dim of `shape` is a known non-negative int."""
    return all(isinstance(d, int) and d >= 0 for d in shape)


def numel(shape: Shape) -> int | None:
    """Number of elements of `shape`, or None when any dim is symbolic."""
    if not is_static(shape):
        return None
    return math.prod(d for d in shape if isinstance(d, int))


@record(frozen=True)
class ParamTensor:
    """One parameter or buffer tensor a layer owns, as the framework reports it."""

    name: str
    shape: tuple[int, ...]
    trainable: bool = True
    buffer: bool = False
    shared_with: str | None = None
    """Tied weights: the path of the layer that owns this tensor first (counted there only)."""
    dtype: str = "float32"
    persistent: bool = True
    """False for a buffer the framework does not save with the weights (PyTorch `persistent=False`)."""
    stored_bytes: int | None = None
    """Bytes on disk when a file says so exactly (checkpoint headers, quantization blocks)."""
    packing: Packing | None = None
    """Set when the tensor is stored packed (quantized): `shape` is then the logical shape."""
    quant_state: bool = False
    """Quantization metadata of another tensor (scales, zero points, absmax): stored, but neither a
    parameter nor a buffer of the logical model."""

    @property
    def numel(self) -> int:
        """Logical elements (a packed 4-bit weight counts every weight)."""
        return math.prod(self.shape)

    @property
    def stored_numel(self) -> int:
        """Elements as stored (a packed tensor counts its containers: int32 words, uint8 bytes)."""
        return self.packing.stored_numel if self.packing is not None else self.numel

    @property
    def stored_dtype(self) -> str:
        return self.packing.stored_dtype if self.packing is not None else self.dtype

    @property
    def nbytes(self) -> int:
        if self.stored_bytes is not None:
            return self.stored_bytes
        return self.stored_numel * DTYPE_BYTES.get(self.stored_dtype, 4)

    @property
    def counted(self) -> bool:
        """Counts toward the layer's parameters: not a buffer, not quantization state, not a second use of a tied tensor."""
        return not self.buffer and not self.quant_state and self.shared_with is None


@record
class Layer:
    """One layer (or one weighted operator) in execution order."""

    path: str
    kind: str
    source_type: str
    attrs: dict[str, Any] = field(default_factory=dict)
    input_shapes: list[Shape] = field(default_factory=list)
    output_shapes: list[Shape] = field(default_factory=list)
    params: list[ParamTensor] = field(default_factory=list)
    inferred: str = ""
    """Empty when the framework states the layer; else what its kind and attrs were inferred from
    (a checkpoint's tensor names and shapes), which no rule can confirm."""
    inputs: list[TensorFact] = field(default_factory=list)
    """Per input (aligned with input_shapes) when the adapter recorded them; empty otherwise."""
    outputs: list[TensorFact] = field(default_factory=list)
    called: bool | None = None
    """False when a complete forward pass never called this layer (it is unused: no shapes, 0 MACs);
    None when no pass said (no inputs given, or the pass stopped before reaching it)."""
    adapter: str | None = None
    """The parameter-efficient adapter this layer belongs to (a LoRA matrix of adapter "default");
    None for the base model's own layers."""
    ops_recorded: bool = False
    """The layer has no rule but its multiply-accumulating operators are recorded as layers of their own
    (a PyTorch module without a mapping): its own row adds 0 MACs once a pass called it."""

    # The audit asks every layer for these sums several times, and most layers (activations, reshapes)
    # own no tensor: for them each is 0 without building a generator.

    @property
    def reported_params(self) -> int:
        """Parameters the framework says this layer owns (buffers and tied second uses excluded)."""
        return sum(p.numel for p in self.params if p.counted) if self.params else 0

    @property
    def reported_trainable(self) -> int:
        return sum(p.numel for p in self.params if p.counted and p.trainable) if self.params else 0

    @property
    def reported_buffers(self) -> int:
        return sum(p.numel for p in self.params if p.buffer and not p.quant_state and p.shared_with is None) if self.params else 0

    @property
    def shared_params(self) -> int:
        """Elements of parameters this layer uses but another layer owns (tied weights)."""
        return sum(p.numel for p in self.params if p.shared_with is not None and not p.quant_state) if self.params else 0

    @property
    def reported_quantization(self) -> int:
        """Elements of the quantization state (scales, zero points) this layer owns."""
        return sum(p.numel for p in self.params if p.quant_state and p.shared_with is None) if self.params else 0


@record(compiled_init=False)
class ModelIR:
    """A whole model: its layers in execution order, and where it came from."""

    name: str
    framework: str
    """"onnx", "torch", "keras", or a user adapter's name."""
    source: str
    """The file path, factory spec or "reference:NAME" the model was read from."""
    layers: list[Layer] = field(default_factory=list)
    input_shapes: list[Shape] = field(default_factory=list)
    framework_total: int | None = None
    """The framework's own whole-model count (`model.count_params()`, sum of numel), if it has one."""
    path_separator: str = "."
    notes: list[str] = field(default_factory=list)
    """Things the adapter saw and the user should know (e.g. "BatchNorm folded by the exporter")."""
    tensors: dict[str, ParamTensor] = field(default_factory=dict)
    """Every tensor under its full name as a state dict or checkpoint lists it (a tied second name
    included, with shared_with set; a non-persistent buffer with persistent=False); empty when the
    adapter does not list them.  The same objects as in `layers`."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Facts the file states about the architecture (GGUF's block_count, a config's hidden_size)."""
    exporter: str | None = None
    """Who wrote the graph when it is an export ("ONNX"): exporters fold layers into others (BatchNorm into convs)."""
    pass_info: PassInfo | None = None
    """Set when the layers carry `TensorFact`s from a pass run for a memory budget."""
    unattributed: list[LooseTensor] = field(default_factory=list)
    """Tensors the model consumes that no layer owns (so no rule can have verified them)."""
    caveats: list[str] = field(default_factory=list)
    """What the adapter could not check although the counts stand (an absent external data file):
    reported with the notes, and failures under --strict."""
    shapes_missing: str | None = None
    """Why some layers have no shapes (and so no MACs), in one line: a stopped forward pass, no inputs."""
