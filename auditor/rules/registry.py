"""The rule registry `kind -> Rule` (`RULES`): the only global state of the core.

Built-in rules register when their module is imported, which `RULES` does the first time their kind
is looked up (or the registry is listed); users register rules for their own layers the same way
(`register(MyRule())`).  Registering a kind twice is an error, so a user rule never
silently replaces a built-in one (pass `replace=True` to mean it).  `RULES` is an
`auditor.registry.Registry`; `RULES.copy()` gives a caller rules of their own for
`auditor.audit(model, rules=...)`, and `RULES.override(kind, rule)` swaps one for a `with` block.
"""

from __future__ import annotations

from auditor.registry import Registry, RegistryError
from auditor.rules.base import Rule

BUILT_IN: dict[str, str] = {kind: f"auditor.rules.{module}" for module, kinds in (
    ("activation", ("prelu",)),
    ("attention", ("attention", "sdpa")),
    ("batch_norm", ("batch_norm",)),
    ("contrastive", ("contrastive_head",)),
    ("conv", ("conv", "conv_transpose", "separable_conv")),
    ("dense", ("dense", "matmul")),
    ("einsum", ("einsum",)),
    ("einsum_dense", ("einsum_dense",)),
    ("embedding", ("class_token", "embed_layer_norm", "embedding", "position_embedding")),
    ("functional", ("batch_norm_op", "conv_op", "conv_transpose_op", "embedding_op", "group_norm_op",
                    "instance_norm_op", "layer_norm_op", "linear_op", "rms_norm_op")),
    ("moe", ("moe",)),
    ("norm", ("group_norm", "instance_norm", "layer_norm", "rms_norm")),
    ("pointwise", ("activation", "dropout", "elementwise", "softmax")),
    ("pooling", ("adaptive_pool", "global_pool", "pool", "resize")),
    ("preprocessing", ("input_normalization",)),
    ("recurrent", ("rnn",)),
    ("reshape", ("cast", "concat", "dequantize", "flatten", "identity", "pad", "quantize", "reshape", "tensor_op",
                 "transpose")),
    ("rotary", ("rotary_apply", "rotary_embedding")),
    ("scale", ("bias", "scale")),
) for kind in kinds}
"""Kind -> the module that registers its built-in rule: imported on the kind's first look-up, so an audit
imports the rules of the kinds it meets (an ONNX BERT: 6 of these 19 modules).  `tests/test_registry.py`
checks that each module registers exactly its kinds here."""

RULES: Registry[str, Rule] = Registry("rule", providers=BUILT_IN)
"""The process-wide rules every audit uses unless it is given a registry of its own."""

DuplicateRuleError = RegistryError
"""The registry's one error class, under the name this module has always exported."""


def register(rule: Rule, *, kind: str | None = None, replace: bool = False,
             registry: Registry[str, Rule] | None = None) -> Rule:
    """Register `rule` for `kind` (default: `rule.kind`) in `registry` (default: `RULES`); returns the rule."""
    name = kind or rule.kind
    if not name:
        raise ValueError(f"{type(rule).__name__} has no kind to register under")
    return (RULES if registry is None else registry).register(name, rule, replace=replace)


def unregister(kind: str) -> None:
    """Remove the rule for `kind`, if there is one (for tests and for users replacing their own rules)."""
    RULES.unregister(kind, missing_ok=True)


def get_rule(kind: str) -> Rule | None:
    return RULES.get(kind)


def kinds() -> list[str]:
    return sorted(RULES)
