"""A checkpoint against its architecture: every difference a finding, amounts adding up to the delta."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
st = pytest.importorskip("safetensors.torch")

import auditor  # noqa: E402
from auditor.checkpoint import Comparison  # noqa: E402
from auditor.cli import main  # noqa: E402
from benchmarks.checkpoint_files import LlamaShape, Spec, llama_tensors, write_safetensors  # noqa: E402

TINY = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 32000,
        "torch_dtype": "float16", "tie_word_embeddings": False}
TINY_SHAPE = LlamaShape(64, 128, 2, 4, 2)


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "config.json"
    path.write_text(json.dumps(TINY))
    return path


@pytest.fixture(scope="module")
def tiny_architecture(tiny_config: Path) -> auditor.Audit:
    return auditor.audit(tiny_config)


def _compare(architecture: auditor.Audit, tmp_path: Path, specs: list[Spec]) -> Comparison:
    path = tmp_path / "model.safetensors"
    write_safetensors(path, specs)
    result = auditor.compare_checkpoint(architecture, path)
    assert result.explained == result.delta and result.unexplained == 0, "the findings reconcile the totals"
    return result


def test_a_matching_checkpoint_has_no_findings(tiny_architecture: auditor.Audit, tmp_path: Path) -> None:
    result = _compare(tiny_architecture, tmp_path, llama_tensors(TINY_SHAPE))
    assert result.findings == [] and not result.differs
    assert result.expected_total == result.stored_total == tiny_architecture.totals.reported


def test_a_vocab_difference_is_explained_by_the_rules(tiny_architecture: auditor.Audit, tmp_path: Path) -> None:
    shape = LlamaShape(64, 128, 2, 4, 2, vocab=32001)
    result = _compare(tiny_architecture, tmp_path, llama_tensors(shape))
    by_code = {f.code: f for f in result.findings}
    assert set(by_code) == {"num_embeddings", "out_features"} and result.differs
    assert by_code["num_embeddings"].amount == by_code["out_features"].amount == 64
    assert "vocab 32,000 in the config, 32,001 in the checkpoint" in by_code["num_embeddings"].message
    assert "model.embed_tokens.weight 32,000x64 in the config, 32,001x64 in the checkpoint" in \
        by_code["num_embeddings"].message


def test_missing_and_unexpected_tensors_have_signed_amounts(tiny_architecture: auditor.Audit, tmp_path: Path) -> None:
    specs = [s for s in llama_tensors(TINY_SHAPE) if "layers.1.mlp.up_proj" not in s.name]
    specs.append(Spec("model.layers.0.mlp.extra.weight", (3, 5)))
    result = _compare(tiny_architecture, tmp_path, specs)
    amounts = {f.code: f.amount for f in result.findings}
    assert amounts == {"missing_tensor": -128 * 64, "unexpected_tensor": 15}
    assert result.differs


def test_dtypes_per_tensor_are_reported_without_changing_counts(tiny_architecture: auditor.Audit, tmp_path: Path) -> None:
    result = _compare(tiny_architecture, tmp_path, llama_tensors(TINY_SHAPE, dtype="BF16"))
    (finding,) = result.findings
    assert finding.code == "dtype" and finding.amount == 0 and not result.differs
    assert finding.message.startswith("21 tensor(s) stored as bfloat16, built as float16")


def test_a_gptq_checkpoint_loads_into_the_dense_architecture(tiny_architecture: auditor.Audit, tmp_path: Path) -> None:
    specs = []
    for spec in llama_tensors(TINY_SHAPE):
        layer = spec.name.removesuffix(".weight")
        if ".layers." in spec.name and len(spec.shape) == 2:
            out, n_in = spec.shape
            specs += [Spec(f"{layer}.qweight", (n_in // 8, out), "I32"), Spec(f"{layer}.qzeros", (n_in // 32, out // 8), "I32"),
                      Spec(f"{layer}.scales", (n_in // 32, out)), Spec(f"{layer}.g_idx", (n_in,), "I32")]
        else:
            specs.append(spec)
    result = _compare(tiny_architecture, tmp_path, specs)
    assert {f.code for f in result.findings} == {"quantization_state", "dtype"} and not result.differs
    assert result.stored_total == tiny_architecture.totals.reported


def test_gpt2_names_without_the_transformer_prefix_and_its_tied_head(tmp_path: Path) -> None:
    """A GPT-2 checkpoint saved from GPT2Model (`h.0.attn...`, `wte`), with the causal-mask buffers older
    versions saved (the Hub's 137,022,720 = 124,439,808 + 12 x 1,024 x 1,024) and no lm_head (tied, stored once)."""
    config = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=100, n_positions=64)
    base = transformers.GPT2Model(config)
    tensors = {k: v.contiguous() for k, v in base.state_dict().items()}
    tensors.update({f"h.{i}.attn.bias": torch.ones(1, 1, 64, 64) for i in range(2)})
    st.save_file(tensors, str(tmp_path / "model.safetensors"))
    architecture = auditor.audit(transformers.GPT2LMHeadModel(config))
    result = auditor.compare_checkpoint(architecture, tmp_path / "model.safetensors")
    assert result.prefixes == ("transformer.", "")
    assert [(f.code, f.amount) for f in result.findings] == [("saved_buffer", 2 * 64 * 64)]
    assert result.unexplained == 0 and not result.differs
    assert any(r.name == "lm_head.weight" and r.status == "tied" for r in result.rows)
    tensors["lm_head.weight"] = torch.zeros(100, 32)
    st.save_file(tensors, str(tmp_path / "twice.safetensors"))
    twice = auditor.compare_checkpoint(architecture, tmp_path / "twice.safetensors")
    assert ("tied_stored_twice", 3200) in [(f.code, f.amount) for f in twice.findings]
    assert twice.unexplained == 0


def test_audit_config_and_checkpoint_from_the_command_line(tiny_config: Path, tmp_path: Path,
                                                           capfd: pytest.CaptureFixture[str]) -> None:
    shape = LlamaShape(64, 128, 2, 4, 2, vocab=32001)
    write_safetensors(tmp_path / "model.safetensors", llama_tensors(shape))
    capfd.readouterr()
    code = main([str(tiny_config), str(tmp_path / "model.safetensors")])
    out, _ = capfd.readouterr()
    assert code == 1
    assert "Checkpoint vs architecture:" in out and "architecture 4,170,048 + explained +128 = checkpoint 4,170,176" in out
    assert main([str(tmp_path / "model.safetensors"), str(tiny_config), "--format", "json"]) == 1
    document = json.loads(capfd.readouterr().out)
    assert document["totals"]["delta"] == 128 and document["differs"] is True


def test_configs_transformers_cannot_build_are_one_clear_error(tmp_path: Path) -> None:
    for config, message in (({"model_type": "my-own-llm", "auto_map": {"AutoModel": "x.Y"}}, "never runs"),
                            ({**TINY, "architectures": ["NotAModel"]}, "not a transformers"),
                            ({**TINY, "num_attention_heads": 5}, "not a multiple")):
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        with pytest.raises(auditor.InputError, match=message):
            auditor.audit(path)
