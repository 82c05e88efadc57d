"""How PyTorch inputs are given: `(args, kwargs)` example inputs, and one dtype per input shape
(`--input-shape 1x128:int64,1x128:int64`)."""

from __future__ import annotations

import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import auditor  # noqa: E402
from auditor.cli import main  # noqa: E402
from auditor.errors import InputError  # noqa: E402
from auditor.options import AuditOptions  # noqa: E402


class Captioner(nn.Module):
    """An image (float) and token ids (int64) as positional inputs, an optional keyword scale."""

    def __init__(self):
        super().__init__()
        self.conv, self.emb, self.head = nn.Conv2d(3, 8, 3), nn.Embedding(50, 8), nn.Linear(8, 5)

    def forward(self, image, ids, scale=None):
        pooled = self.conv(image).mean((2, 3))
        h = self.emb(ids) + pooled[:, None, :]
        return self.head(h * (1.0 if scale is None else scale))


def test_typed_input_shapes_give_each_input_its_dtype():
    options = AuditOptions.parse(input_shape="1x3x8x8:float32,1x6:int64")
    assert options.input_shapes == ((1, 3, 8, 8), (1, 6)) and options.input_dtypes == ("float32", "int64")
    audit = auditor.audit(Captioner(), options)
    assert audit.totals.macs_complete and [c.macs for c in audit.checks][2] == 6 * 8 * 5
    assert audit.checks[1].layer.input_shapes == [(1, 6)] and audit.checks[1].status == "ok"


@pytest.mark.parametrize("text, problem", [("1x128:int64,1x128", "a dtype for some inputs only"),
                                           ("1x128:int99", "not a dtype")])
def test_bad_typed_input_shapes_are_option_errors(text, problem):
    with pytest.raises(InputError, match=problem):
        AuditOptions.parse(input_shape=text)


def test_example_inputs_may_be_args_and_kwargs():
    image, ids = torch.zeros(2, 3, 8, 8), torch.zeros(2, 6, dtype=torch.long)
    audit = auditor.audit(Captioner(), example_inputs=((image, ids), {"scale": torch.full((2, 6, 1), 2.0)}))
    assert audit.model.input_shapes == [(2, 3, 8, 8), (2, 6), (2, 6, 1)]
    assert audit.checks[2].macs == 2 * 6 * 8 * 5 and audit.totals.macs_complete


def test_a_list_of_tensors_is_still_positional():
    audit = auditor.audit(Captioner(), example_inputs=[torch.zeros(1, 3, 8, 8), torch.zeros(1, 6, dtype=torch.long)])
    assert audit.totals.macs_complete and audit.checks[2].macs == 6 * 8 * 5


def test_cli_typed_input_shapes_on_a_transformers_model(tmp_path, monkeypatch, capsys):
    pytest.importorskip("transformers")
    (tmp_path / "typed_inputs.py").write_text(textwrap.dedent("""
        import transformers

        def bert():
            config = transformers.BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                             intermediate_size=128, vocab_size=100)
            return transformers.BertModel(config)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        code = main(["typed_inputs:bert", "--input-shape", "1x16:int64,1x16:int64", "--format", "json"])
    finally:
        sys.modules.pop("typed_inputs", None)
    assert code == 0
    out = capsys.readouterr().out
    assert '"macs_complete": true' in out and '"macs_incomplete": null' in out
