"""A model against its own ONNX export, by both torch exporters: every element of the delta accounted for.

Five transformers families built from config objects (an encoder, a decoder with a tied head, a BatchNorm
CNN, a ConvNeXt, an encoder whose pooler output is unused) with perturbed parameters, plus fresh-init
exports (where the exporters merge equal tensors and drop zero biases), a rotary decoder and a small net
with a module never called, a float buffer and an LSTM's zero initial state.  Exported once per session.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("transformers")

from support import export_models as X  # noqa: E402

from auditor.count import Audit, audit_ir  # noqa: E402
from auditor.diff import Diff, diff_audits  # noqa: E402
from auditor.reconcile import counted  # noqa: E402

EXPORTERS = {"dynamo": True, "legacy": False}
FAMILIES = ["bert", "gpt2", "resnet", "convnext", "vit"]

EXPECTED = {
    ("bert", "dynamo"): {"sliced_constant", "constant_initializer"},
    ("bert", "legacy"): {"buffers_as_constants"},
    ("gpt2", "dynamo"): {"sliced_constant", "constant_initializer", "tied_weights"},
    ("gpt2", "legacy"): {"tied_weights"},
    ("resnet", "dynamo"): {"bn_folded"},
    ("resnet", "legacy"): {"bn_folded"},
    ("convnext", "dynamo"): set(),
    ("convnext", "legacy"): set(),
    ("vit", "dynamo"): {"regrouped", "pruned", "constant_initializer"},
    ("vit", "legacy"): {"regrouped", "pruned"},
}
"""What each exporter did to each family (measured with torch 2.13; see DESIGN.md).  The ONNX reader counts
a table read at constant indices (the traced positions, token type 0) whole, as the file stores it: the
TorchScript exporter keeps the whole position table (the same count on both sides), the dynamo exporter
stores only the rows the traced input reads, as a constant of their own (`sliced_constant`)."""


class Pairs:
    """Models and their exports, built on first use and kept for the session."""

    def __init__(self, folder) -> None:
        self.folder, self.models, self.diffs, self.exports = folder, {}, {}, {}

    def model(self, name: str, fresh: bool) -> tuple[object, Audit]:
        key = (name, fresh)
        if key not in self.models:
            from adapters.torch import from_module

            module = getattr(X, name)()
            module = module if fresh else X.perturbed(module)
            self.models[key] = (module, audit_ir(from_module(module, example_inputs=(X.example(name),))))
        return self.models[key]

    def diff(self, name: str, exporter: str, fresh: bool = False) -> Diff:
        key = (name, exporter, fresh)
        if key not in self.diffs:
            from adapters.onnx import read_onnx

            module, audit = self.model(name, fresh)
            path = str(self.folder / f"{name}-{exporter}{'-fresh' if fresh else ''}.onnx")
            X.export(module, (X.example(name),), path, EXPORTERS[exporter])
            self.exports[key] = (path, audit_ir(read_onnx(path)))
            self.diffs[key] = diff_audits(audit, self.exports[key][1])
        return self.diffs[key]

    def export(self, name: str, exporter: str) -> tuple[str, Audit]:
        """The exported file and its audit (the perturbed model's)."""
        self.diff(name, exporter)
        return self.exports[(name, exporter, False)]


@pytest.fixture(scope="session")
def pairs(tmp_path_factory) -> Pairs:
    return Pairs(tmp_path_factory.mktemp("exports"))


def codes(diff: Diff) -> set[str]:
    return {f.code for row in diff.rows for f in counted(row.findings)}


def check_accounted(diff: Diff) -> None:
    """Every element: the whole delta explained, row by row, by rewrites that compute the same."""
    rec = diff.reconciliation
    assert rec.unexplained == 0 and not rec.remainders, rec.remainders
    assert rec.explained == rec.delta == diff.right_total - diff.left_total
    for row in diff.rows:
        assert row.unexplained == 0, (row.where, row.findings)
    assert not diff.differs or diff.equivalent, [(r.where, r.findings) for r in diff.rows if r.findings]


@pytest.mark.parametrize("exporter", sorted(EXPORTERS))
@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_by_both_exporters_has_nothing_unexplained(pairs: Pairs, name: str, exporter: str) -> None:
    diff = pairs.diff(name, exporter)
    check_accounted(diff)
    assert codes(diff) == EXPECTED[(name, exporter)]


@pytest.mark.parametrize("exporter", sorted(EXPORTERS))
def test_bert_exports_count_every_tensor_the_file_holds_once(pairs: Pairs, exporter: str) -> None:
    """Token type 0 at each position reads a 2x32 table as 1x8x32; the positions read 8 of 64 rows (legacy):
    each table counts the elements the file stores, once, at its embedding layer, verified by its rule."""
    import math

    import onnx

    path, audit = pairs.export("bert", exporter)
    module, _ = pairs.model("bert", False)
    stored = {t.name: math.prod(t.dims) for t in onnx.load(path).graph.initializer
              if t.data_type == onnx.TensorProto.FLOAT and math.prod(t.dims) > 1}
    assert audit.totals.reported == sum(stored.values()) and audit.totals.unattributed == 0
    params = dict(module.named_parameters())
    assert all(stored[name] == p.numel() for name, p in params.items() if name in stored)
    if exporter == "legacy":  # every parameter kept (the linear weights transposed, renamed): the same total
        assert audit.totals.reported == sum(p.numel() for p in params.values())
    rows = {c.path: c for c in audit.checks}
    table = rows["model.embeddings.token_type_embeddings"]
    assert (table.kind, table.reported, table.status.value) == ("embedding", 2 * 32, "ok")
    positions = rows.get("model.embeddings.position_embeddings")
    assert positions is None if exporter == "dynamo" else (positions.reported, positions.analytic) == (64 * 32,) * 2


def test_the_folded_batchnorms_are_minus_c_each_and_the_biases_plus_c(pairs: Pairs) -> None:
    rec = pairs.diff("resnet", "legacy").reconciliation
    by_label = {c.label: c for c in rec.causes}
    folded = by_label["BatchNorm folded into the conv before it"]
    biases = by_label["conv bias created by a folded BatchNorm"]
    assert folded.count == biases.count == 8
    assert [-a // 2 for a in folded.amounts] == list(biases.amounts), "-2C for the BatchNorm, +C for the conv bias"


def test_the_unused_pooler_is_pruned_and_the_tied_head_written_twice(pairs: Pairs) -> None:
    vit = pairs.diff("vit", "dynamo")
    (pruned,) = [row for row in vit.rows if any(f.code == "pruned" for f in row.findings)]
    assert pruned.where == "model.pooler.dense" and pruned.delta == -(32 * 32 + 32)
    gpt2 = pairs.diff("gpt2", "legacy")
    (tied,) = [row for row in gpt2.rows if any(f.code == "tied_weights" for f in row.findings)]
    assert tied.where.startswith("model.lm_head") and tied.delta == 99 * 32


@pytest.mark.parametrize("exporter", sorted(EXPORTERS))
def test_fresh_init_exports_merge_equal_tensors(pairs: Pairs, exporter: str) -> None:
    """Fresh transformers init: equal LayerNorm weights and zero biases merged by both exporters; the
    dynamo optimizer also drops all-zero biases."""
    diff = pairs.diff("gpt2", exporter, fresh=True)
    check_accounted(diff)
    assert "merged_tensors" in codes(diff)
    assert ("zero_bias_dropped" in codes(diff)) == (exporter == "dynamo")


@pytest.mark.parametrize("exporter", sorted(EXPORTERS))
def test_rotary_caches_and_a_never_called_module(pairs: Pairs, exporter: str) -> None:
    llama = pairs.diff("llama", exporter)
    check_accounted(llama)
    assert {"constant_initializer", "tied_weights", "buffers_as_constants"} <= codes(llama)
    sidecar = pairs.diff("sidecar", exporter)
    check_accounted(sidecar)
    by_code = {f.code: (row.where, f.amount, f.message) for row in sidecar.rows for f in counted(row.findings)}
    assert by_code["pruned"][:2] == ("unused", -(8 * 8 + 8))
    assert by_code["buffer_initializer"][1] == 4 and by_code["buffer_initializer"][2].startswith("scale: ")
    (lstm,) = [row for row in sidecar.rows if row.where.startswith("lstm")]
    assert lstm.status.value == "same", "the zero initial states are constant inputs, no parameters, on both sides"


def test_audit_model_export_from_the_command_line(pairs: Pairs, tmp_path, capsys) -> None:
    """`audit MODEL EXPORT.onnx`: exit 0 with the one equivalence line; --exact exit 1."""
    import torch

    from auditor.cli import main

    module, _ = pairs.model("gpt2", False)
    path = X.export(module, (X.example("gpt2"),), str(tmp_path / "gpt2.onnx"), dynamo=False)
    spec = ["support.export_models:gpt2", path, "--input-shape", f"1x{X.SEQUENCE}", "--input-dtype", "int64"]
    assert torch.is_tensor(X.example("gpt2"))
    assert main(spec) == 0
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("equivalent: ")]
    assert "tied_weights: +3,168 = tied weights counted once in torch, as a copy in onnx" in out
    assert main([*spec, "--exact"]) == 1
