"""AuditOptions: one parser for every option, the same clear error for a typo or a bad value everywhere."""

from __future__ import annotations

import pytest

from auditor.errors import InputError
from auditor.options import AuditOptions, OptionError


def test_shapes_read_like_the_command_line():
    assert AuditOptions.parse(input_shape="1x3x224x224").input_shapes == ((1, 3, 224, 224),)
    assert AuditOptions.parse(input_shape="1,4").input_shapes == ((1, 4),)
    assert AuditOptions.parse(input_shape="1x16;1x16").input_shapes == ((1, 16), (1, 16))
    assert AuditOptions.parse(input_shape=(1, 3)).input_shapes == ((1, 3),)
    assert AuditOptions.parse(input_shape=[(1, 16), [1, 8]]).input_shapes == ((1, 16), (1, 8))
    assert AuditOptions.parse(input_shape=()).input_shapes == ((),)
    assert AuditOptions.parse(input_shape="1x128,1x64").input_shapes == ((1, 128), (1, 64))


def test_a_dtype_after_each_shape():
    """keras_hub's token ids and padding mask: --input-shape 1x128:int32,1x128:int32."""
    options = AuditOptions.parse(input_shape="1x3x224x224:float16,1x77:int64")
    assert options.input_shapes == ((1, 3, 224, 224), (1, 77))
    assert options.input_dtypes == ("float16", "int64") and options.dtype_of(1) == "int64"
    with pytest.raises(OptionError, match="some inputs only"):
        AuditOptions.parse(input_shape="1x16:int64,1x16")
    with pytest.raises(OptionError, match="so does input_dtype; give them in one place"):
        AuditOptions.parse(input_shape="1x16:int64", input_dtype="int32")


@pytest.mark.parametrize("values, message", [
    ({"input_shap": (1, 3)}, "did you mean input_shape?"),
    ({"input_shape": "1xA"}, "is not like 1x3x224x224"),
    ({"input_shape": (1, -3)}, "negative dim"),
    ({"input_shape": 3}, "is not like"),
    ({"dtype": "float99"}, "is not a dtype"),
    ({"input_dtype": "int64", "dtype": "float32"}, "disagrees with input_dtype='int64'"),
    ({"input_shape": "1x4;1x4;1x4", "dtype": "int64,float32"}, "2 dtypes for 3 input shapes"),
    ({"depth": -1}, "whole number"),
    ({"strict": "yes"}, "True or False"),
    ({"framework": "jax"}, "use 'torch' or 'keras'"),
    ({"batch_size": 0}, "at least 1"),
])
def test_a_typo_or_a_bad_value_is_one_option_error(values, message):
    with pytest.raises(OptionError, match=message.replace("?", r"\?").replace("(", r"\(")) as caught:
        AuditOptions.parse(**values)
    assert isinstance(caught.value, InputError) and "\n" not in str(caught.value)


def test_synonyms_that_agree_and_dtype_spellings():
    options = AuditOptions.parse(input_dtype="int64", dtype="long")
    assert options.input_dtypes == ("int64",) and options.dtype_of(3) == "int64"
    assert AuditOptions.parse(dtype="torch.float16;bfloat16").input_dtypes == ("float16", "bfloat16")


def test_options_parse_on_top_of_a_base_and_are_frozen():
    base = AuditOptions.parse(input_shape=(1, 3), name="m")
    options = AuditOptions.parse(base, depth=2)
    assert (options.input_shapes, options.name, options.depth) == (((1, 3),), "m", 2)
    with pytest.raises(AttributeError):
        options.depth = 3  # type: ignore[misc]


def test_every_entry_point_refuses_an_unknown_option(tmp_path):
    pytest.importorskip("onnx")
    from support.onnx_graphs import conv_dense_graph, save

    import adapters
    import auditor
    from adapters.onnx import read_onnx

    path = save(conv_dense_graph(), str(tmp_path))
    for call in (lambda: auditor.audit(path, input_shap=(1, 3, 16, 16)),
                 lambda: auditor.to_ir(path, input_shap=(1, 3, 16, 16)),
                 lambda: adapters.read_file(path, input_shap=(1, 3, 16, 16)),
                 lambda: read_onnx(path, input_shap=(1, 3, 16, 16))):
        with pytest.raises(OptionError, match="input_shap="):
            call()


def test_the_cli_reports_a_bad_option_value_as_a_usage_error(capsys):
    from auditor.cli import main

    assert main(["x.onnx", "--depth", "-2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("audit: usage error: --depth -2 is not a whole number") and err.count("\n") == 1


def test_each_side_of_a_diff_reads_its_own_input_shapes_and_dtypes():
    options = AuditOptions.parse(input_shape="1x3x32x32", input_dtype="float32", left_input_shape="1x32x32x3",
                                 right_input_dtype="float16")
    left, right = options.side("left"), options.side("right")
    assert left.input_shapes == ((1, 32, 32, 3),) and left.input_dtypes == ("float32",)
    assert right.input_shapes == ((1, 3, 32, 32),) and right.input_dtypes == ("float16",)
    assert options.per_side and not left.per_side and not right.per_side
    assert not AuditOptions.parse(input_shape="1x3").per_side


def test_a_side_whose_dtypes_do_not_fit_its_shapes_is_refused():
    with pytest.raises(OptionError, match=r"right_input_dtype='int64,float32,int8' gives 3 dtypes for 2 input shapes"):
        AuditOptions.parse(input_shape="1x16;1x16", right_input_dtype="int64,float32,int8")
    with pytest.raises(ValueError, match="side 'middle'"):
        AuditOptions().side("middle")
