"""keras_hub backbones built from explicit constructor arguments (never from_preset: no network), weight-free.

Each small backbone (2 layers, real head/width ratios) must audit exact (total = count_params()), be fully
verified and get MACs for a given sequence length; BERT-tiny, BERT-base and GPT-2 must match the
parameter counts keras_hub's model cards publish; an encoder block's MACs must match a hand formula.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")
keras_hub = pytest.importorskip("keras_hub")

import auditor  # noqa: E402
from adapters.keras import deferred_variables  # noqa: E402

SEQ = 16
TEXT = dict(vocabulary_size=1000, num_layers=2)


def _clip() -> Any:
    vision = keras_hub.models.CLIPVisionEncoder(patch_size=8, hidden_dim=64, num_layers=2, num_heads=2,
                                                intermediate_dim=128, image_shape=(32, 32, 3))
    text = keras_hub.models.CLIPTextEncoder(vocabulary_size=1000, embedding_dim=64, hidden_dim=64, num_layers=2,
                                            num_heads=2, intermediate_dim=128, max_sequence_length=SEQ)
    return keras_hub.models.CLIPBackbone(vision, text, projection_dim=32)


BACKBONES: dict[str, tuple[Callable[[], Any], list[tuple[int, ...]]]] = {
    "bert": (lambda: keras_hub.models.BertBackbone(**TEXT, num_heads=2, hidden_dim=64, intermediate_dim=128,
                                                   max_sequence_length=64), [(1, SEQ)] * 3),
    "gpt2": (lambda: keras_hub.models.GPT2Backbone(**TEXT, num_heads=2, hidden_dim=64, intermediate_dim=256,
                                                   max_sequence_length=64), [(1, SEQ)] * 2),
    "distil_bert": (lambda: keras_hub.models.DistilBertBackbone(**TEXT, num_heads=2, hidden_dim=64,
                                                                intermediate_dim=128, max_sequence_length=64),
                    [(1, SEQ)] * 2),
    "bart": (lambda: keras_hub.models.BartBackbone(**TEXT, num_heads=2, hidden_dim=64, intermediate_dim=128,
                                                   max_sequence_length=64),
             [(1, SEQ // 2), (1, SEQ // 2), (1, SEQ), (1, SEQ)]),
    "llama": (lambda: keras_hub.models.LlamaBackbone(**TEXT, num_query_heads=4, num_key_value_heads=2,
                                                     hidden_dim=64, intermediate_dim=176), [(1, SEQ)] * 2),
    "gemma": (lambda: keras_hub.models.GemmaBackbone(**TEXT, num_query_heads=4, num_key_value_heads=1,
                                                     hidden_dim=64, intermediate_dim=256, head_dim=16),
              [(1, SEQ)] * 2),
    "mistral": (lambda: keras_hub.models.MistralBackbone(**TEXT, num_query_heads=4, num_key_value_heads=2,
                                                         hidden_dim=64, intermediate_dim=224, sliding_window=8),
                [(1, SEQ)] * 2),
    "vit": (lambda: keras_hub.models.ViTBackbone(image_shape=(32, 32, 3), patch_size=8, num_layers=2, num_heads=2,
                                                 hidden_dim=64, mlp_dim=128), [(1, 32, 32, 3)]),
    "clip": (_clip, [(1, 32, 32, 3), (1, SEQ)]),
}


@pytest.fixture(scope="session")
def hub_backbones() -> dict[str, Any]:
    """Every small backbone, built once per session, weight-free."""
    with deferred_variables():
        return {name: build() for name, (build, _) in BACKBONES.items()}


@pytest.fixture(scope="session")
def hub_audits(hub_backbones: dict[str, Any]) -> dict[str, Any]:
    return {name: auditor.audit(model, input_shape=BACKBONES[name][1]) for name, model in hub_backbones.items()}


@pytest.mark.parametrize("name", list(BACKBONES))
def test_backbone_is_exact_verified_and_has_macs(name: str, hub_backbones: dict[str, Any],
                                                 hub_audits: dict[str, Any]) -> None:
    result, model = hub_audits[name], hub_backbones[name]
    totals = result.totals
    assert totals.reported == totals.analytic == model.count_params()
    assert result.consistent and totals.unverified_layers == 0 and totals.verified_fraction == 1.0
    assert totals.macs_complete and totals.macs > 0 and totals.activation_elements > 0
    assert all(isinstance(d, int) for c in result.checks for s in c.layer.output_shapes for d in s)


def _encoder_block_macs(length: int, hidden: int, heads: int, inner: int) -> int:
    """One post-norm encoder block by hand: Q, K, V, O projections, QKᵀ and AV, the two FFN matmuls, 2 LayerNorms."""
    head = hidden // heads
    return (4 * length * hidden * hidden + 2 * heads * length * length * head
            + 2 * length * hidden * inner + 2 * length * hidden)


def test_bert_encoder_block_macs_match_the_hand_formula(hub_audits: dict[str, Any]) -> None:
    block = [c for c in hub_audits["bert"].checks if c.path.startswith("transformer_layer_0.")]
    assert sum(c.macs for c in block) == _encoder_block_macs(SEQ, 64, 2, 128)


def test_llama_decoder_block_macs_match_the_hand_formula(hub_audits: dict[str, Any]) -> None:
    """Grouped-query attention (4 query, 2 key/value heads of 16), a gated FFN of 176, 2 RMS norms."""
    block = [c for c in hub_audits["llama"].checks if c.path.startswith("transformer_layer_0.")]
    attention = SEQ * 64 * (2 * 64 + 2 * 32) + 2 * 4 * SEQ * SEQ * 16
    assert sum(c.macs for c in block) == attention + 3 * SEQ * 64 * 176 + 2 * SEQ * 64


def test_untied_llama_embedding_is_verified_not_a_mismatch(hub_audits: dict[str, Any]) -> None:
    (check,) = [c for c in hub_audits["llama"].checks if c.path == "token_embedding"]
    assert str(check.status) == "ok" and check.analytic == 2 * 1000 * 64
    assert "reverse projection" in check.formula


def test_open_sequence_length_prints_as_question_mark_with_a_hint(hub_backbones: dict[str, Any]) -> None:
    result = auditor.audit(hub_backbones["gpt2"])
    shapes = {s for c in result.checks for s in c.layer.output_shapes}
    assert ("batch", "?", 64) in shapes and not any("dim" in str(d) for s in shapes for d in s)
    assert not result.totals.macs_complete
    assert any("--input-shape 1x128:int32,1x128:int32" in note for note in result.model.notes)


def test_input_shapes_name_the_inputs_when_they_do_not_fit(hub_backbones: dict[str, Any]) -> None:
    with pytest.raises(auditor.InputError, match="padding_mask batchx\\?, token_ids batchx\\?"):
        auditor.audit(hub_backbones["gpt2"], input_shape=(1, SEQ))
    too_long = auditor.audit(hub_backbones["gpt2"], input_shape=[(1, 65), (1, 65)])
    (check,) = [c for c in too_long.checks if c.kind == "position_embedding"]
    assert "65 positions exceed the table's 64" in check.note and not too_long.totals.macs_complete


def test_a_dtype_per_input_reaches_the_trace(hub_backbones: dict[str, Any]) -> None:
    result = auditor.audit(hub_backbones["clip"], input_shape=[(2, 32, 32, 3), (2, SEQ)],
                           input_dtype=["float16", "int64"])
    assert result.model.input_shapes == [(2, 32, 32, 3), (2, SEQ)] and result.totals.macs_complete


def test_cli_takes_a_shape_and_dtype_per_input(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import json

    from auditor.cli import main

    (tmp_path / "nn_auditor_hub_factory.py").write_text(
        "import keras_hub\n"
        "def build():\n"
        "    return keras_hub.models.GPT2Backbone(vocabulary_size=100, num_layers=1, num_heads=2, hidden_dim=8,\n"
        "                                         intermediate_dim=16, max_sequence_length=32)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    code = main(["nn_auditor_hub_factory:build", "--input-shape", "1x16:int32,1x16:int32", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["totals"]["macs"] > 0
    assert report["totals"]["reported"] == report["totals"]["analytic"]


def _published(build: Callable[[], Any]) -> Any:
    with deferred_variables():
        return build()


@pytest.mark.parametrize(("name", "build", "published"), [
    ("bert_tiny_en_uncased", lambda: keras_hub.models.BertBackbone(
        vocabulary_size=30522, num_layers=2, num_heads=2, hidden_dim=128, intermediate_dim=512), 4_385_920),
    ("gpt2_base_en", lambda: keras_hub.models.GPT2Backbone(
        vocabulary_size=50257, num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072,
        max_sequence_length=1024), 124_439_808),
])
def test_published_sizes(name: str, build: Callable[[], Any], published: int) -> None:
    """keras_hub's model cards: bert_tiny_en_uncased 4.39M, gpt2_base_en 124.44M (= Hugging Face's GPT-2)."""
    result = auditor.audit(_published(build))
    assert result.totals.reported == result.totals.analytic == published
    assert result.totals.verified_fraction == 1.0 and result.consistent


@pytest.fixture(scope="module")
def bert_base_audit() -> Any:
    """bert_base_en_uncased's architecture, weight-free, audited at 128 tokens (built and traced once)."""
    model = _published(lambda: keras_hub.models.BertBackbone(
        vocabulary_size=30522, num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072))
    return auditor.audit(model, input_shape=[(1, 128)] * 3)


def test_bert_base_total_and_macs(bert_base_audit: Any) -> None:
    """bert_base_en_uncased: 109,482,240 parameters (the card's 109.48M); at 128 tokens its MACs are twelve
    hand-formula encoder blocks plus the embedding LayerNorm and the pooler."""
    result = bert_base_audit
    assert result.totals.reported == result.totals.analytic == 109_482_240
    assert result.totals.verified_fraction == 1.0 and result.consistent
    assert result.totals.macs == 12 * _encoder_block_macs(128, 768, 12, 3072) + 128 * 768 + 768 * 768
    assert result.totals.macs == 11_176_673_280


def test_bert_base_macs_agree_with_torchs_flop_counter_on_transformers_bert(bert_base_audit: Any) -> None:
    """An independent figure from another framework and implementation: torch's FlopCounterMode on
    transformers' BertModel (default config = BERT-base) on the meta device, 128 tokens, counts the matrix
    products only; keras_hub's BERT-base audit minus its LayerNorms (one MAC per element) is the same."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        reference = transformers.BertModel(transformers.BertConfig())
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        reference(input_ids=torch.zeros((1, 128), dtype=torch.long, device="meta"))
    products = sum(c.macs for c in bert_base_audit.checks if c.kind != "layer_norm")
    assert products == counter.get_total_flops() // 2 == 11_174_215_680
