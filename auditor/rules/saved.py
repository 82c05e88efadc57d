"""What a layer keeps from its forward pass for its backward pass: the vocabulary rules answer in.

`Rule.saved_for_backward(layer, context)` returns a list of `SavedTensor` (`saved_records`; one of the layer's own
inputs or outputs, a new tensor it makes, or a low-precision copy of one of its weights), or None when
the rule does not know (never a guess).  The memory budget resolves each entry to a storage and
counts every storage once, so "a Linear keeps its input" and "the ReLU before it keeps its output" add
up to one tensor.  The convention follows PyTorch autograd (what `saved_tensors_hooks` sees).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auditor.ir import DTYPE_BYTES, Layer, Shape
from auditor.rules.saved_sources import INPUT as INPUT  # the vocabulary, importable from here too
from auditor.rules.saved_sources import NEW as NEW
from auditor.rules.saved_sources import OUTPUT as OUTPUT
from auditor.rules.saved_sources import WEIGHT as WEIGHT

if TYPE_CHECKING:
    from auditor.pass_facts import TensorFact
    from auditor.rules.saved_records import CachedKeysValues as CachedKeysValues  # re-exported (see _RECORDS)
    from auditor.rules.saved_records import SaveContext as SaveContext
    from auditor.rules.saved_records import SavedTensor as SavedTensor

FLOATS_WITH_OPMATH = ("float16", "bfloat16")

_RECORDS = ("CachedKeysValues", "SaveContext", "SavedTensor")
"""The records live in `auditor.rules.saved_records`, imported on first use (only a memory budget asks what
a layer keeps); importable from here as well."""


def __getattr__(name: str) -> Any:
    if name in _RECORDS:
        return getattr(_records(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _records() -> Any:
    """The records' module, imported here on first use: a plain audit never creates their classes."""
    from auditor.rules import saved_records

    return saved_records


def _saved(*args: Any, **values: Any) -> SavedTensor:
    """`SavedTensor(*args, **values)`, its class created on first use."""
    return _records().SavedTensor(*args, **values)  # type: ignore[no-any-return]


def fact(layer: Layer, source: str, index: int = 0) -> TensorFact | None:
    facts = layer.inputs if source == INPUT else layer.outputs
    return facts[index] if index < len(facts) else None


def dtype_of(layer: Layer, source: str = INPUT, index: int = 0, default: str = "float32") -> str:
    found = fact(layer, source, index)
    return found.dtype if found is not None else default


def requires_grad(layer: Layer, index: int = 0) -> bool:
    """Input `index` needs a gradient: as recorded, else assumed for floating inputs."""
    found = fact(layer, INPUT, index)
    if found is None:
        return index < len(layer.input_shapes)
    if found.requires_grad is not None:
        return found.requires_grad
    return found.dtype.startswith(("float", "bfloat", "complex"))


def trains_weights(layer: Layer) -> bool:
    """Some parameter of the layer (its own or a tied one) is trainable."""
    return any(p.trainable and not p.buffer for p in layer.params)


def opmath(dtype: str) -> str:
    """The dtype PyTorch accumulates statistics in: float32 for half types, else the dtype itself."""
    return "float32" if dtype in FLOATS_WITH_OPMATH else dtype


def element_bytes(dtype: str) -> int:
    return DTYPE_BYTES.get(dtype, 4)


def saved_input(what: str = "input", index: int = 0) -> SavedTensor:
    return _saved(what, INPUT, index)


def saved_output(what: str = "output", index: int = 0) -> SavedTensor:
    return _saved(what, OUTPUT, index)


def new_tensor(what: str, shape: Shape, dtype: str) -> SavedTensor:
    return _saved(what, NEW, shape=tuple(shape), dtype=dtype)


def first_output_shape(layer: Layer, rule: object) -> Shape | None:
    """The recorded output shape, else the rule's own (None when neither is known)."""
    if layer.output_shapes:
        return layer.output_shapes[0]
    shapes = rule.output_shapes(layer)  # type: ignore[attr-defined]
    return shapes[0] if shapes else None


def computes_in(layer: Layer) -> str | None:
    """The dtype the layer computed in (its first output's), when recorded."""
    found = fact(layer, OUTPUT, 0)
    return found.dtype if found is not None else None


def as_computed(layer: Layer, index: int, what: str) -> SavedTensor:
    """Input `index` as the op keeps it: itself, or (under autocast) the new copy cast to the dtype the op
    computes in, when the two differ."""
    compute = computes_in(layer)
    source = dtype_of(layer, INPUT, index, compute or "float32")
    if compute is not None and source != compute and source.startswith(("float", "bfloat")):
        return new_tensor(f"{what} (cast to {compute})", layer.input_shapes[index], compute)
    return saved_input(what, index)


def weighted_inputs(layer: Layer, what: str = "input") -> list[SavedTensor]:
    """A matmul-like layer with weights (Linear, conv): the input when the weights train, as autocast
    casts it (a new low-precision copy when the input's dtype differs from the compute dtype), plus
    autocast's copies of the floating weights when the layer computes in a lower precision."""
    saved: list[SavedTensor] = []
    compute = computes_in(layer)
    if trains_weights(layer) and layer.input_shapes:
        saved.append(as_computed(layer, 0, what))
    if compute is not None and requires_grad(layer, 0):
        saved.extend(
            _saved(p.name, WEIGHT, shape=p.shape, dtype=compute)
            for p in layer.params
            if not p.buffer and p.dtype != compute and p.dtype.startswith("float")
        )
    return saved
