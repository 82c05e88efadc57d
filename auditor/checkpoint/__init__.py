"""A checkpoint against its architecture: tensors paired by name, the delta decomposed into findings.

Owns: name alignment of two tensor lists (`names`) and the comparison with signed amounts (`compare`).
May import: the core (`auditor.count`, `auditor.explain`, `auditor.ir`, `auditor.reconcile`, `auditor.rules`, `auditor.findings`).
"""

from auditor.checkpoint.compare import BENIGN, Comparison, TensorRow, compare

CHECKPOINT_FRAMEWORKS = ("safetensors", "gguf", "state_dict", "keras_weights")
"""`ModelIR.framework` of the checkpoint readers: a weight file with no architecture of its own."""


def is_checkpoint(model: object) -> bool:
    """True for the ModelIR (or Audit of one) of a weight file without an architecture."""
    ir = getattr(model, "model", model)
    return getattr(ir, "framework", None) in CHECKPOINT_FRAMEWORKS


__all__ = ["BENIGN", "CHECKPOINT_FRAMEWORKS", "Comparison", "TensorRow", "compare", "is_checkpoint"]
