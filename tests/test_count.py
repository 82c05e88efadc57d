"""The counter: statuses, totals, tied weights, buffers, the framework's own total, depth folding."""

from __future__ import annotations

from auditor import Layer, ModelIR, ParamTensor, Status, audit_ir
from auditor.folded import fold_checks


def conv(path="c", cin=1, cout=32, k=5, params=None, shape=(1, 1, 28, 28), out=(1, 32, 24, 24)):
    attrs = dict(in_channels=cin, out_channels=cout, kernel_size=(k, k), stride=(1, 1), dilation=(1, 1),
                 padding="valid", groups=1, use_bias=True, layout="channels_first")
    params = params if params is not None else [ParamTensor("weight", (cout, cin, k, k)), ParamTensor("bias", (cout,))]
    return Layer(path, "conv", "test.Conv", attrs, [shape], [out], params)


def model(*layers, total=None):
    return ModelIR("m", "test", "memory", list(layers), input_shapes=[(1, 1, 28, 28)], framework_total=total)


def test_a_matching_layer_is_ok_and_a_different_one_is_a_mismatch_with_both_numbers():
    good = conv("good")
    bad = conv("bad", params=[ParamTensor("weight", (32, 1, 3, 3)), ParamTensor("bias", (32,))])
    result = audit_ir(model(good, bad))
    assert [c.status for c in result.checks] == [Status.OK, Status.MISMATCH]
    finding = result.checks[1].findings[0]
    assert finding.code == "param_count"
    assert "320" in finding.message and "(5*5*1+1)*32 = 832" in finding.message
    assert not result.consistent and result.totals.mismatches == 1


def test_unknown_kinds_are_unverified_with_their_count_and_do_not_make_the_audit_inconsistent():
    custom = Layer("mine", "my_layer", "user.MyLayer", {}, [(1, 4)], [(1, 4)], [ParamTensor("w", (4,))])
    result = audit_ir(model(conv(), custom))
    assert result.checks[1].status is Status.UNVERIFIED and "my_layer" in result.checks[1].note
    assert result.totals.unverified == 4 and result.totals.analytic == 832 and result.totals.reported == 836
    assert result.consistent
    assert abs(result.totals.verified_fraction - 832 / 836) < 1e-12


def test_output_shape_disagreement_is_a_mismatch():
    wrong = conv(out=(1, 32, 26, 26))
    result = audit_ir(model(wrong))
    assert result.checks[0].status is Status.MISMATCH
    assert result.checks[0].findings[0].code == "output_shape"
    assert "32x24x24" in result.checks[0].findings[0].message


def test_batchnorm_buffers_are_checked_and_totalled_separately():
    attrs = dict(num_features=8, scale=True, center=True, stats="buffers", tracks_batches=True,
                 layout="channels_first")
    params = [ParamTensor("weight", (8,)), ParamTensor("bias", (8,)), ParamTensor("running_mean", (8,), False, True),
              ParamTensor("running_var", (8,), False, True), ParamTensor("num_batches_tracked", (), False, True)]
    bn = Layer("bn", "batch_norm", "torch.nn.BatchNorm2d", attrs, [(1, 8, 4, 4)], [(1, 8, 4, 4)], params)
    result = audit_ir(model(bn))
    assert result.checks[0].status is Status.OK
    assert (result.totals.reported, result.totals.buffers) == (16, 17)
    missing = Layer("bn", "batch_norm", "x", attrs, [(1, 8, 4, 4)], [(1, 8, 4, 4)], params[:2])
    assert audit_ir(model(missing)).checks[0].findings[0].code == "buffers"


def test_tied_weights_are_counted_once_and_checked_where_reused():
    emb = Layer("wte", "embedding", "t", dict(num_embeddings=100, embedding_dim=16), [(1, 7)], [(1, 7, 16)],
                [ParamTensor("weight", (100, 16))])
    head = Layer("lm_head", "dense", "t", dict(in_features=16, out_features=100, use_bias=False), [(1, 7, 16)],
                 [(1, 7, 100)], [ParamTensor("weight", (100, 16), shared_with="wte")])
    result = audit_ir(model(emb, head, total=1600))
    assert [c.status for c in result.checks] == [Status.OK, Status.OK]
    assert (result.totals.reported, result.totals.shared) == (1600, 1600)
    assert result.totals.analytic == 1600, "the reuse is verified, not counted a second time"
    assert result.consistent


def test_framework_total_that_differs_from_the_layer_sum_is_a_model_finding():
    result = audit_ir(model(conv(), total=900))
    assert [f.code for f in result.findings] == ["framework_total"]
    assert not result.consistent


def test_frozen_parameters_are_parameters_and_show_as_non_trainable():
    frozen = conv(params=[ParamTensor("weight", (32, 1, 5, 5), trainable=False), ParamTensor("bias", (32,), False)])
    result = audit_ir(model(frozen))
    assert result.checks[0].status is Status.OK
    assert (result.totals.reported, result.totals.trainable, result.totals.non_trainable) == (832, 0, 832)


def test_rule_errors_make_a_layer_unverified_with_the_reason():
    broken = conv()
    del broken.attrs["in_channels"]
    check = audit_ir(model(broken)).checks[0]
    assert check.status is Status.UNVERIFIED and "in_channels" in check.note


def test_totals_add_up_the_layers():
    layers = [conv("a"), conv("b", cin=32, cout=32, k=3, shape=(1, 32, 12, 12), out=(1, 32, 10, 10))]
    result = audit_ir(model(*layers))
    assert result.totals.reported == sum(c.reported for c in result.checks) == 832 + 9248
    assert result.totals.macs == sum(c.macs for c in result.checks)
    assert result.totals.param_bytes == 4 * (832 + 9248)


def test_fold_checks_groups_consecutive_layers_by_path_prefix():
    layers = [conv("features.0"), conv("features.1"), conv("classifier.0")]
    result = audit_ir(model(*layers))
    rows = fold_checks(result, 1)
    assert [(r.path, r.reported, len(r.checks)) for r in rows] == [("features", 1664, 2), ("classifier", 832, 1)]
    assert [r.path for r in fold_checks(result, 0)] == ["features.0", "features.1", "classifier.0"]


def test_activation_memory_counts_one_sample_when_the_batch_is_symbolic():
    layer = conv(shape=("batch", 1, 28, 28), out=("batch", 32, 24, 24))
    result = audit_ir(ModelIR("m", "test", "x", [layer], input_shapes=[("batch", 1, 28, 28)]))
    assert result.totals.activation_elements == 32 * 24 * 24 + 28 * 28



def test_macs_are_missing_only_when_the_inputs_are_concrete_or_a_pass_stopped():
    """--strict fails a MAC total that should be complete, not one that waits for --input-shape."""
    from auditor.batch import exit_code

    def dense(path, shape):
        attrs = {"in_features": 4, "out_features": 4, "use_bias": False}
        shapes = [[shape], [(*shape[:-1], 4)]] if shape else [[], []]
        return Layer(path, "dense", "test.Linear", attrs, *shapes, [ParamTensor("weight", (4, 4))])

    def audited(shape, stopped=None):
        layers = [dense("seen", shape), dense("not_reached", None)]
        return audit_ir(ModelIR("m", "test", "x", layers, input_shapes=[shape], shapes_missing=stopped))

    concrete, symbolic, batch_only = audited((2, 7, 4)), audited((2, "seq", 4)), audited(("batch", 7, 4))
    stopped = audited((2, "seq", 4), stopped="the pass stopped at aten.nonzero in model.head")
    assert all(r.consistent and not r.totals.macs_complete for r in (concrete, symbolic, batch_only, stopped))
    assert [r.macs_missing for r in (concrete, symbolic, batch_only, stopped)] == [True, False, False, True]
    assert [exit_code(r, strict=True) for r in (concrete, symbolic, stopped)] == [1, 0, 1]
    assert exit_code(concrete, strict=False) == 0


def test_activations_are_priced_by_the_first_floating_tensor_not_an_integer_buffer():
    from auditor.count import bytes_per_element

    ids = Layer("emb", "torch:Embeddings", "x", {}, [], [], [ParamTensor("position_ids", (1, 16), buffer=True,
                                                                      trainable=False, dtype="int64")])
    half = conv(params=[ParamTensor("weight", (32, 1, 5, 5), dtype="float16"), ParamTensor("bias", (32,), dtype="float16")])
    assert bytes_per_element(model(ids, half)) == 2
    assert bytes_per_element(model(ids)) == 4, "no floating tensor at all: float32"
