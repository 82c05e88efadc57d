"""BatchNorm's rule: a `NormRule` (see `auditor.rules.norm` for its attrs, MACs and saved tensors) that checks
its channels against its input, and the one norm exporters fold into the conv before it (its `Folding`).
Apart from the other norms so a model without BatchNorm (a transformer's layer norms) never creates `Folding`.
"""

from __future__ import annotations

from auditor.ir import Layer
from auditor.rules.base import RuleError, first_input
from auditor.rules.folding import Folding
from auditor.rules.norm import FEATURE_COLUMNS, NormRule
from auditor.rules.registry import register


class BatchNormRule(NormRule):
    """BatchNorm: gamma, beta per channel; running mean/variance as buffers or parameters."""

    kind = "batch_norm"
    statistics = {"stats": "params"}
    columns = FEATURE_COLUMNS
    aliases = ("bn", "batchnorm", "batchnorm2d", "batchnormalization")
    table_prefixes = ("bn",)
    folding = Folding(into="conv", code="bn_folded", name="BatchNorm", bias_attr="num_features")
    """Exporters fold an inference BatchNorm into the conv before it: scale into weights, shift into a bias."""

    def features(self, layer: Layer) -> tuple[int, str]:
        n, text = super().features(layer)
        shape = first_input(layer) if layer.input_shapes else ()
        if len(shape) >= 2:
            channels = shape[1] if layer.attrs.get("layout", "channels_first") == "channels_first" else shape[-1]
            if isinstance(channels, int) and channels != n:
                raise RuleError(f"input has {channels} channels but num_features={n}")
        return n, text


register(BatchNormRule())
