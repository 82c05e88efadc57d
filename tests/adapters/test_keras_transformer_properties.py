"""Property tests for the transformer rules: random hyper-parameters, Keras's own count_params() must equal
the analytic count, the traced output shape the rule's, and MACs an independent figure where one exists
(Keras's own einsum equations replayed under torch's FlopCounterMode on the meta device)."""

from __future__ import annotations

import math
import os
import string
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import auditor  # noqa: E402
from adapters.keras import deferred_variables  # noqa: E402

_COUNT = int(os.environ.get("KERAS_PROPERTY_EXAMPLES", "10"))
EXAMPLES = settings(max_examples=_COUNT, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BLOCK_EXAMPLES = settings(EXAMPLES, max_examples=max(_COUNT // 2, 1))
"""Whole attention and transformer blocks take a second each to trace: half as many examples."""


def audit_model(build: Any, shapes: list[tuple[int, ...]], dtypes: list[str] | None = None) -> tuple[Any, Any]:
    """Build `build(*inputs)` on Inputs of `shapes` (batch 2 prepended), weight-free; audit it on those shapes."""
    dtypes = dtypes or ["float32"] * len(shapes)
    with deferred_variables():
        inputs = [keras.Input(shape, dtype=dtype) for shape, dtype in zip(shapes, dtypes)]
        model = keras.Model(inputs, build(*inputs))
    return model, auditor.audit(model, input_shape=[(2, *s) for s in shapes])


def layer_checks(result: Any) -> list[Any]:
    return [c for c in result.checks if c.layer.source_type != "keras.layers.InputLayer"]


def assert_exact(model: Any, result: Any) -> None:
    """Every layer verified, and the analytic total is Keras's own."""
    bad = [(c.path, c.status, c.note, [f.message for f in c.findings]) for c in layer_checks(result)
           if str(c.status) not in ("ok", "no-params")]
    assert bad == []
    assert result.totals.analytic == result.totals.reported == model.count_params()


def torch_macs(steps: list[tuple[str, tuple[int, ...], tuple[int, ...]]]) -> int:
    """MACs of einsums (equation, left shape, right shape) as torch's FlopCounterMode counts them on meta."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        for equation, left, right in steps:
            torch.einsum(equation, torch.empty(left, device="meta"), torch.empty(right, device="meta"))
    return counter.get_total_flops() // 2


# ---------------------------------------------------------------- EinsumDense -------------------------


@st.composite
def einsum_case(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid EinsumDense: input labels summed away, shared with the kernel, or passed through;
    new kernel labels; "..." on the left, right or nowhere; a random bias."""
    labels = iter(string.ascii_lowercase[1:])
    inputs = [next(labels) for _ in range(draw(st.integers(1, 3)))]
    roles = {label: draw(st.sampled_from(["sum", "shared", "free"])) for label in inputs}
    roles[draw(st.sampled_from(inputs))] = "sum"  # a dense layer sums over at least one input dim
    new = [next(labels) for _ in range(draw(st.integers(1, 2)))]
    kernel = draw(st.permutations([lab for lab in inputs if roles[lab] != "free"] + new))
    output = draw(st.permutations([lab for lab in inputs if roles[lab] != "sum"] + new))
    sizes = {label: draw(st.integers(2, 4)) for label in inputs + new}  # torch turns size-1 products elementwise
    mode = draw(st.sampled_from(["", "left", "right"]))
    extra = tuple(draw(st.integers(2, 3)) for _ in range(draw(st.integers(0, 2))))
    body = "".join(inputs)
    if mode == "left":
        equation = f"...{body},{''.join(kernel)}->...{''.join(output)}"
        shape, given_labels = (*extra, *(sizes[x] for x in inputs)), output
    elif mode == "right":
        equation = f"a{body}...,{''.join(kernel)}->a{''.join(output)}..."
        shape, given_labels = (*(sizes[x] for x in inputs), *extra), output
    else:
        equation = f"a{body},{''.join(kernel)}->a{''.join(output)}"
        shape, given_labels = tuple(sizes[x] for x in inputs), output
    bias = draw(st.one_of(st.none(), st.sets(st.sampled_from(output), min_size=1).map(lambda s: "".join(sorted(s)))))
    fixed = set(new) | set(bias or "") | {x for x in inputs if roles[x] == "shared"}  # Keras sizes weights from these
    partial = tuple(sizes[x] if x in fixed or draw(st.booleans()) else None for x in given_labels)
    return {"equation": equation, "output_shape": partial, "bias_axes": bias, "shape": shape}


@EXAMPLES
@given(einsum_case())
def test_einsum_dense(case: dict[str, Any]) -> None:
    layer = keras.layers.EinsumDense(case["equation"], output_shape=case["output_shape"], bias_axes=case["bias_axes"])
    model, result = audit_model(layer, [case["shape"]])
    assert_exact(model, result)
    (check,) = layer_checks(result)
    assert check.analytic_output_shape == check.layer.output_shapes[0]
    kernel = tuple(int(d) for d in layer.kernel.shape)
    assert check.macs == torch_macs([(case["equation"], (2, *case["shape"]), kernel)])


# ---------------------------------------------------------------- MultiHeadAttention ------------------


@st.composite
def attention_case(draw: st.DrawFn) -> dict[str, Any]:
    """Random Keras attention; every dim >= 2 (torch's counter sees a size-1 product as elementwise)."""
    dim = st.integers(2, 5)
    rank = draw(st.sampled_from([3, 3, 4]))
    axes = draw(st.sampled_from([None, (1,), (2,), (1, 2)])) if rank == 4 else None
    lengths = tuple(draw(st.integers(2, 4)) for _ in range(rank - 2))
    key_lengths = lengths if rank == 4 else (draw(dim),)
    output = draw(st.sampled_from([None, draw(dim), (draw(dim), draw(dim))]))
    return {
        "num_heads": draw(st.integers(1, 3)), "key_dim": draw(dim), "value_dim": draw(st.one_of(st.none(), dim)),
        "use_bias": draw(st.booleans()), "output_shape": output, "attention_axes": axes,
        "use_gate": draw(st.booleans()), "query": (*lengths, draw(dim)), "value": (*key_lengths, draw(dim)),
        "key_width": draw(st.one_of(st.none(), dim)), "cached": rank == 3 and draw(st.booleans()),
    }


def _attention_macs(layer: Any, query: tuple[int, ...], value: tuple[int, ...], key: tuple[int, ...]) -> int:
    """Keras's own projection, score and combine equations, replayed under torch's flop counter."""
    from torch.utils.flop_counter import FlopCounterMode

    def project(dense: Any, x: Any) -> Any:
        return torch.einsum(dense.equation, x, torch.empty(tuple(dense.kernel.shape), device="meta"))

    with FlopCounterMode(display=False) as counter:
        q = project(layer._query_dense, torch.empty(query, device="meta"))
        k = project(layer._key_dense, torch.empty(key, device="meta"))
        v = project(layer._value_dense, torch.empty(value, device="meta"))
        if layer._use_gate:
            project(layer._gate_dense, torch.empty(query, device="meta"))
        scores = torch.einsum(layer._dot_product_equation, k, q)
        project(layer._output_dense, torch.einsum(layer._combine_equation, scores, v))
    return counter.get_total_flops() // 2


@EXAMPLES
@given(attention_case())
def test_multi_head_attention(case: dict[str, Any]) -> None:
    cls = keras.layers.MultiHeadAttention
    if case["cached"]:
        import keras_hub

        cls = keras_hub.layers.CachedMultiHeadAttention
    layer = cls(case["num_heads"], case["key_dim"], value_dim=case["value_dim"], use_bias=case["use_bias"],
                output_shape=case["output_shape"], attention_axes=case["attention_axes"], use_gate=case["use_gate"])
    key = (*case["value"][:-1], case["key_width"]) if case["key_width"] else None
    shapes = [case["query"], case["value"]] + ([key] if key else [])
    model, result = audit_model(lambda q, v, *k: layer(q, v, *k), shapes)
    assert_exact(model, result)
    (check,) = layer_checks(result)
    assert check.analytic_output_shape == check.layer.output_shapes[0]
    batch = [(2, *s) for s in shapes]
    assert check.macs == _attention_macs(layer, batch[0], batch[1], batch[-1])


# ---------------------------------------------------------------- keras_hub layers --------------------

keras_hub = pytest.importorskip("keras_hub")


@EXAMPLES
@given(vocab=st.integers(1, 50), width=st.integers(1, 16), tied=st.booleans(), soft_cap=st.sampled_from([None, 30.0]))
def test_reversible_embedding(vocab: int, width: int, tied: bool, soft_cap: float | None) -> None:
    """Untied, it owns a second (width x vocab) matrix; the logit soft cap changes no count."""
    layer = keras_hub.layers.ReversibleEmbedding(vocab, width, tie_weights=tied, logit_soft_cap=soft_cap)
    model, result = audit_model(layer, [(5,)], ["int32"])
    assert_exact(model, result)
    assert model.count_params() == vocab * width * (1 if tied else 2)


@EXAMPLES
@given(positions=st.integers(4, 40), width=st.integers(1, 16), length=st.integers(1, 4))
def test_position_embedding(positions: int, width: int, length: int) -> None:
    model, result = audit_model(keras_hub.layers.PositionEmbedding(positions), [(length, width)])
    assert_exact(model, result)
    (check,) = layer_checks(result)
    assert check.analytic_output_shape == (2, length, width) == check.layer.output_shapes[0]


@EXAMPLES
@given(vocab=st.integers(1, 50), positions=st.integers(4, 20), width=st.integers(1, 16), tied=st.booleans())
def test_token_and_position_embedding(vocab: int, positions: int, width: int, tied: bool) -> None:
    """A composite: walked into its token and position embeddings, each verified by its own rule."""
    layer = keras_hub.layers.TokenAndPositionEmbedding(vocab, positions, width, tie_weights=tied)
    model, result = audit_model(layer, [(4,)], ["int32"])
    assert_exact(model, result)
    assert {c.kind for c in layer_checks(result)} == {"embedding", "position_embedding"}


def _rms_norms() -> list[Any]:
    from keras_hub.src.models.gemma.rms_normalization import RMSNormalization as GemmaRMS
    from keras_hub.src.models.llama.llama_layernorm import LlamaLayerNorm
    from keras_hub.src.models.mistral.mistral_layer_norm import MistralLayerNormalization

    return [keras_hub.layers.RMSNormalization, LlamaLayerNorm, MistralLayerNormalization, GemmaRMS]


@EXAMPLES
@given(cls=st.sampled_from(_rms_norms()), width=st.integers(1, 32), lead=st.lists(st.integers(1, 4), max_size=2))
def test_rms_norms(cls: Any, width: int, lead: list[int]) -> None:
    """One scale per feature; Gemma's (1 + scale) convention counts the same."""
    layer = cls(width) if cls is keras_hub.layers.RMSNormalization else cls()  # that one is sized up front
    model, result = audit_model(layer, [(*lead, width)])
    assert_exact(model, result)
    (check,) = layer_checks(result)
    assert check.kind == "rms_norm" and check.macs == 2 * math.prod(lead) * width


@EXAMPLES
@given(length=st.integers(1, 6), heads=st.integers(1, 3), half=st.integers(1, 4), llama=st.booleans())
def test_rotary_embedding(length: int, heads: int, half: int, llama: bool) -> None:
    from keras_hub.src.models.llama.llama_rotary_embedding import LlamaRotaryEmbedding

    layer = LlamaRotaryEmbedding() if llama else keras_hub.layers.RotaryEmbedding()
    model, result = audit_model(layer, [(length, heads, 2 * half)])
    assert_exact(model, result)
    (check,) = layer_checks(result)
    assert check.analytic_output_shape == (2, length, heads, 2 * half) == check.layer.output_shapes[0]
    assert check.macs == length * half + 2 * 2 * length * heads * 2 * half


def _grouped_attention(family: str, heads: int, kv: int, head_dim: int) -> Any:
    if family == "llama":
        from keras_hub.src.models.llama.llama_attention import LlamaAttention

        return LlamaAttention(num_query_heads=heads, num_key_value_heads=kv)
    if family == "mistral":
        from keras_hub.src.models.mistral.mistral_attention import CachedMistralAttention

        return CachedMistralAttention(num_query_heads=heads, num_key_value_heads=kv)
    from keras_hub.src.models.gemma.gemma_attention import CachedGemmaAttention

    return CachedGemmaAttention(head_dim=head_dim, num_query_heads=heads, num_key_value_heads=kv)


@BLOCK_EXAMPLES
@given(family=st.sampled_from(["llama", "mistral", "gemma"]), kv=st.integers(1, 2), groups=st.integers(1, 3),
       head_dim=st.sampled_from([2, 4, 6]), length=st.integers(1, 5))
def test_grouped_query_attention(family: str, kv: int, groups: int, head_dim: int, length: int) -> None:
    heads = kv * groups
    hidden = heads * head_dim
    layer = _grouped_attention(family, heads, kv, head_dim)
    model, result = audit_model(lambda x, mask: layer(x, attention_mask=mask), [(length, hidden), (length, length)],
                                ["float32", "int32"])
    assert_exact(model, result)
    (check,) = layer_checks(result)
    projections = 2 * length * hidden * (2 * heads * head_dim + 2 * kv * head_dim)
    assert check.macs == projections + 2 * heads * length * length * 2 * head_dim


@BLOCK_EXAMPLES
@given(hidden=st.sampled_from([4, 8]), heads=st.sampled_from([1, 2]), inner=st.integers(1, 16),
       decoder=st.booleans(), norm_first=st.booleans(), length=st.integers(1, 4))
def test_transformer_blocks(hidden: int, heads: int, inner: int, decoder: bool, norm_first: bool, length: int) -> None:
    """keras_hub's TransformerEncoder/Decoder are walked: each sublayer verified, their sum is the block's."""
    cls = keras_hub.layers.TransformerDecoder if decoder else keras_hub.layers.TransformerEncoder
    block = cls(inner, heads, normalize_first=norm_first)
    if decoder:
        model, result = audit_model(lambda x, y: block(x, y), [(length, hidden), (length + 1, hidden)])
    else:
        model, result = audit_model(block, [(length, hidden)])
    assert_exact(model, result)
    assert result.totals.macs_complete


@EXAMPLES
@given(patch=st.sampled_from([2, 4]), patches=st.integers(1, 3), hidden=st.integers(2, 12), clip=st.booleans())
def test_vit_and_clip_patch_embeddings(patch: int, patches: int, hidden: int, clip: bool) -> None:
    """Blocks holding a class token next to their patch conv and position table: every weight verified."""
    side = patch * patches
    if clip:
        from keras_hub.src.models.clip.clip_layers import CLIPVisionEmbedding

        layer = CLIPVisionEmbedding(hidden, patch, side)
    else:
        from keras_hub.src.models.vit.vit_layers import ViTPatchingAndEmbedding

        layer = ViTPatchingAndEmbedding((side, side), (patch, patch), hidden, 3)
    model, result = audit_model(layer, [(side, side, 3)])
    assert_exact(model, result)
    assert [c.kind for c in layer_checks(result) if c.kind == "class_token"] == ["class_token"]
