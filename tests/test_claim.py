"""Headline figures explained (seeds 003/004 and the published totals): within the claim's rounding, by
the counting conventions that reproduce it, or the nearest ones when none does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import diff_models as M

from auditor.claim import check_claim, parse_claim
from auditor.cli import main
from auditor.count import audit_ir
from auditor.report import audit_to_dict


@pytest.mark.parametrize("text, value, low, high, count", [
    ("138M", 138_000_000, 137_500_000, 138_499_999, "parameters"),
    ("25.6M", 25_600_000, 25_550_000, 25_649_999, "parameters"),
    ("6.7B", 6_700_000_000, 6_650_000_000, 6_749_999_999, "parameters"),
    ("117m", 117_000_000, 116_500_000, 117_499_999, "parameters"),
    ("138,344,128", 138_344_128, 138_344_128, 138_344_128, "parameters"),
    ("trainable=60000", 60_000, 60_000, 60_000, "trainable"),
    ("1.5k", 1_500, 1_450, 1_549, "parameters"),
])
def test_a_claim_is_the_interval_its_rounding_allows(text, value, low, high, count):
    claim = parse_claim(text)
    assert (claim.value, claim.low, claim.high, claim.count) == (value, low, high, count)


@pytest.mark.parametrize("text", ["138 parameters", "12.5", "1.23456k", "buffers=3", "M", ""])
def test_what_is_not_a_count_is_refused(text):
    with pytest.raises(ValueError):
        parse_claim(text)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 10**12), st.sampled_from([("k", 10**3), ("M", 10**6), ("B", 10**9)]), st.integers(0, 2))
def test_a_rounded_figure_admits_the_count_it_was_rounded_from(n, unit, decimals):
    suffix, scale = unit
    text = f"{n / scale:.{decimals}f}{suffix}"
    claim = parse_claim(text)
    step = scale // 10**decimals
    assert claim.high - claim.low + 1 == step
    assert claim.admits(n) or abs(n - claim.value) * 2 == step  # a count exactly half-way rounds either way



def conventions_of(readings):
    return [tuple(c.words for c in r.conventions) for r in readings]


def test_vgg16_weights_only_claim_is_no_biases():
    check = check_claim(audit_ir(M.vgg16()), parse_claim("138,344,128"))
    assert check.reproduced and conventions_of(check.matches) == [("weights only, no biases",)]
    (reading,) = check.matches
    assert reading.count == 138_344_128 and len(reading.conventions[0].deltas) == 16


def test_vgg16_138m_is_the_count_within_rounding():
    check = check_claim(audit_ir(M.vgg16()), parse_claim("138M"))
    assert check.matches[0].conventions == () and check.matches[0].count == 138_357_544


def test_alexnet_one_tower_figure_from_the_two_tower_model_is_groups():
    check = check_claim(audit_ir(M.alexnet(two_tower=True)), parse_claim("62,378,344"))
    assert conventions_of(check.matches) == [("grouped convs counted as one tower (groups=1)",)]
    assert check.matches[0].conventions[0].layers(audit_ir(M.alexnet(two_tower=True))) == ["conv2", "conv4", "conv5"]


def test_without_the_head_and_a_figure_nothing_reproduces():
    vgg = audit_ir(M.vgg16())
    head = check_claim(vgg, parse_claim(f"{138_357_544 - 4_097_000:,}"))
    assert conventions_of(head.matches) == [("without the classifier head",)]
    nothing = check_claim(vgg, parse_claim("150M"))
    assert not nothing.reproduced and nothing.nearest and nothing.nearest[0].count == 138_357_544


@pytest.fixture(scope="session")
def gpt2_config(tmp_path_factory: pytest.TempPathFactory) -> str:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from support.hub_configs import write_config

    return str(write_config(tmp_path_factory.mktemp("claims") / "gpt2", "gpt2"))


@pytest.fixture(scope="session")
def gpt2(gpt2_config):
    import auditor

    return auditor.audit(gpt2_config)


def test_gpt2_163m_is_the_tied_head_counted_twice(gpt2):
    check = check_claim(gpt2, parse_claim("163,037,184"))
    assert conventions_of(check.matches) == [("tied head counted twice (once per layer that uses it)",)]
    assert check.matches[0].conventions[0].layers(gpt2) == ["lm_head"]


def test_gpt2_117m_is_reproduced_by_nothing_and_the_nearest_is_named(gpt2):
    check = check_claim(gpt2, parse_claim("117M"))
    assert not check.reproduced and len(check.nearest) == 3
    assert all(abs(r.count - 117_000_000) > 6_000_000 for r in check.nearest)
    assert "without position embeddings" in conventions_of(check.nearest)[0]
    assert check.nearest[0].conventions[0].layers(gpt2) == ["transformer.wpe"]


def test_gpt2_kaplan_non_embedding_count(gpt2):
    check = check_claim(gpt2, parse_claim("85,056,000"))
    assert conventions_of(check.matches)[0][0].startswith("without embeddings (token and position tables")
    assert 124_439_808 - 50_257 * 768 - 1_024 * 768 == 85_056_000


def test_claims_from_the_command_line(gpt2_config, capsys):
    assert main([gpt2_config, "--claim", "117M"]) == 1
    out = capsys.readouterr().out
    assert "Claim 117M (116,500,000 to 117,499,999), parameters: no counting convention reproduces it" in out
    assert out.count("- nearest: ") == 3
    assert main([gpt2_config, "--claim", "163,037,184", "--format", "json"]) == 0
    block = json.loads(capsys.readouterr().out)["claim"]
    assert block["value"] == 163_037_184 and block["reproduced"] is True
    assert block["matches"][0]["conventions"] == ["tied head counted twice (once per layer that uses it)"]
    assert block["matches"][0]["count"] == 163_037_184
    assert main([gpt2_config, "--claim", "124M", "--format", "markdown"]) == 0
    assert "### Claim 124M (123,500,000 to 124,499,999), parameters: reproduced" in capsys.readouterr().out
    assert main([gpt2_config, "--claim", "lots"]) == 2
    assert main([gpt2_config, gpt2_config, "--claim", "124M"]) == 2


@pytest.fixture(scope="session")
def references():
    """Bundled reference models, each audited once: VGG-16, ResNet-50 (torchvision's and Keras's), LeNet-5 (1998)."""
    pytest.importorskip("torch")
    import auditor

    found: dict[str, object] = {}

    def get(name: str):
        if name not in found:
            found[name] = auditor.audit(f"reference:{name}")
        return found[name]

    return get


@pytest.mark.parametrize("name, claim, first", [
    ("vgg16", "138,344,128", ("weights only, no biases",)),
    ("vgg16", "138M", ()),
    ("resnet50", "25.6M", ()),
    ("resnet50", "25,610,152", ("BatchNorm running statistics counted as parameters",)),
    ("resnet50", "25,610,205", ("buffers counted as parameters",)),
    ("lenet5-1998", "trainable=60000", ()),
])
def test_reference_models_and_their_published_figures(references, name, claim, first):
    """Seed 003's VGG-16 figures, ResNet-50's paper figure, and Keras's count of torchvision's ResNet-50
    (its BatchNorm statistics are parameters there: 53 x 2C = 53,120; buffers add 53 batch counters)."""
    check = check_claim(references(name), parse_claim(claim))
    assert check.reproduced and conventions_of(check.matches)[0] == first


def test_keras_trainable_figure_leaves_the_batchnorm_statistics_out(references):
    pytest.importorskip("keras")
    keras = references("resnet50-keras")
    check = check_claim(keras, parse_claim("25,583,592"))
    assert conventions_of(check.matches) == [("trainable only",)]
    assert check_claim(keras, parse_claim("trainable=25,583,592")).matches[0].conventions == ()


def test_a_count_within_rounding_needs_no_convention(gpt2):
    """Readings with the fewest conventions only: 124M is GPT-2 as counted, whatever else also rounds to it."""
    check = check_claim(gpt2, parse_claim("124M"))
    assert [(r.conventions, r.count) for r in check.matches] == [((), 124_439_808)]


@pytest.fixture(scope="session")
def llama2_7b(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from support.hub_configs import write_config

    import auditor

    return auditor.audit(str(write_config(tmp_path_factory.mktemp("claims") / "llama", "llama-2-7b")))


def test_llama2_7b_hub_figures(llama2_7b):
    """The Hub's 6,738,417,664 is today's 6,738,415,616 plus the 32 layers' rotary inv_freq (64 each) that
    the first checkpoints stored; the model card's 6.7B is the count within its rounding."""
    hub = check_claim(llama2_7b, parse_claim("6,738,417,664"))
    assert [r.count for r in hub.matches] == [6_738_417_664] and hub.counted == 6_738_415_616
    (convention,) = hub.matches[0].conventions
    assert convention.key == "rotary_buffers" and convention.deltas[0][1] == 32 * 64
    for claim in ("6.7B", "6,738,415,616"):
        assert check_claim(llama2_7b, parse_claim(claim)).matches[0].conventions == ()


class _WithAuxHead:
    """A net whose auxiliary classifier forward never calls in eval mode (GoogLeNet's aux1/aux2)."""

    @staticmethod
    def build():
        import torch

        class Net(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.body = torch.nn.Linear(8, 16)
                self.aux = torch.nn.Linear(16, 3)
                self.head = torch.nn.Linear(16, 4)

            def forward(self, x):
                h = self.body(x)
                return (self.head(h), self.aux(h)) if self.training else self.head(h)

        return Net().eval()


def test_a_figure_without_the_auxiliary_head():
    pytest.importorskip("torch")
    import auditor

    audit = auditor.audit(_WithAuxHead.build(), input_shape=(1, 8))
    total = 8 * 16 + 16 + 16 * 3 + 3 + 16 * 4 + 4
    check = check_claim(audit, parse_claim(f"{total - (16 * 3 + 3)}"))
    assert conventions_of(check.matches) == [("without the auxiliary heads (layers forward never calls)",)]
    assert check.matches[0].conventions[0].layers(audit) == ["aux"]


def test_the_claim_block_is_in_the_audit_json(tmp_path: Path):
    audit = audit_ir(M.vgg16())
    data = audit_to_dict(audit, check_claim(audit, parse_claim("138M")))
    assert data["claim"]["low"] == 137_500_000 and data["claim"]["counted"] == 138_357_544
    assert "claim" not in audit_to_dict(audit)
