"""Generators of hostile and odd model files: every input is written by code, into a folder a test owns.

Each `Case` writes one input and says how the auditor must handle it: `refused` (exit 2, one line
on stderr), `unverified` (exit 0, the unknown part is an `unverified` row), or `audited` (exit 0 or
1 with exact numbers).  Framework-made seed files (.keras, .h5, .pt2) are built once by `Seeds`.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from support.onnx_graphs import conv_dense_graph, model, point_first_weight_at, value, weight

MARKER_NAME = "PWNED_MARKER"
HUGE = 2**62

Builder = Callable[[Path, "Seeds"], Path]


@dataclass(frozen=True)
class Case:
    """One hostile input: how to write it and what the auditor must do with it."""

    family: str
    name: str
    build: Builder
    expect: str  # "refused" | "unverified" | "audited"
    message: str = ""  # regex the one stderr line must match (refused) or a row's note (unverified)

    @property
    def id(self) -> str:
        return f"{self.family}/{self.name}"


@dataclass
class Seeds:
    """Valid small model files in every format, built on first use into `folder` (torch/keras imported lazily)."""

    folder: Path
    _bytes: dict[str, bytes] = field(default_factory=dict)

    def data(self, suffix: str) -> bytes:
        """The bytes of a valid model file of this format."""
        if suffix not in self._bytes:
            path = self.folder / f"seed{suffix}"
            builders = {".onnx": _seed_onnx, ".keras": _seed_keras, ".h5": _seed_keras, ".pt2": _seed_pt2,
                        ".jit": _seed_torchscript}
            builders[suffix](path)
            self._bytes[suffix] = path.read_bytes()
        return self._bytes[suffix]


def _stable_zip(path: Path) -> None:
    """Rewrite the zip at `path` with fixed timestamps and no save date, so its bytes are reproducible."""
    with zipfile.ZipFile(path) as source:
        members = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members:
            if name == "config.json":
                data = re.sub(rb'"shared_object_id": \d+', b'"shared_object_id": 1', data)
            if name == "metadata.json":
                data = b'{"keras_version": "3", "date_saved": "2000-01-01@00:00:00"}'
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)


def _seed_onnx(path: Path) -> None:
    onnx.save(conv_dense_graph(), str(path))


def _seed_keras(path: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(0)
    layers = [keras.Input((8, 8, 3), name="image"), keras.layers.Conv2D(4, 3, name="conv"),
              keras.layers.Flatten(name="flatten"), keras.layers.Dense(2, name="dense")]
    net = keras.Sequential(layers, name="seed")
    net.save(str(path))
    if path.suffix == ".keras":
        _stable_zip(path)


def _seed_pt2(path: Path) -> None:
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 2))
    torch.export.save(torch.export.export(net, (torch.randn(1, 3, 8, 8),)), str(path))
    _stable_zip(path)


def _seed_torchscript(path: Path) -> None:
    """A scripted CNN saved by torch.jit.save (".jit": TorchScript is recognised by content, not extension)."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 2))
    torch.jit.save(torch.jit.script(net), str(path))
    _stable_zip(path)
    with zipfile.ZipFile(path) as source:
        members = [(i.filename, source.read(i)) for i in source.infolist()]
    with zipfile.ZipFile(path, "w") as archive:  # a fixed serialization id: the same bytes every run
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)),
                             b"0" * len(data) if name.endswith("serialization_id") else data)


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _save(folder: Path, proto: onnx.ModelProto, name: str = "model.onnx") -> Path:
    path = folder / name
    onnx.save(proto, str(path))
    return path


# ---- empty, truncated, bit-flipped, wrong extension ---------------------------------------------

SUFFIXES = (".onnx", ".keras", ".h5", ".pt2", ".jit")


def _empty(suffix: str) -> Builder:
    return lambda folder, seeds: _write(folder, f"empty{suffix}", b"")


def _truncated(suffix: str, fraction: float) -> Builder:
    def build(folder: Path, seeds: Seeds) -> Path:
        data = seeds.data(suffix)
        return _write(folder, f"cut{suffix}", data[: int(len(data) * fraction)])

    return build


def flip_bits(data: bytes, seed: int, flips: int = 8) -> bytes:
    """`data` with `flips` random bits inverted (deterministic in `seed`)."""
    rng = np.random.default_rng(seed)
    out = bytearray(data)
    for position in rng.integers(0, len(out) * 8, size=flips):
        out[position // 8] ^= 1 << (position % 8)
    return bytes(out)


def _flipped(suffix: str, seed: int) -> Builder:
    return lambda folder, seeds: _write(folder, f"flip{seed}{suffix}", flip_bits(seeds.data(suffix), seed))


def _renamed(source: str, suffix: str) -> Builder:
    return lambda folder, seeds: _write(folder, f"renamed{suffix}", seeds.data(source))


def _text(name: str) -> Builder:
    return lambda folder, seeds: _write(folder, name, b"this is a text file, not a model\n")


# ---- archives: zip bombs and pickles ------------------------------------------------------------

BOMB_BYTES = 256 * 2**20


def zip_bomb(path: Path, member: str, size: int = BOMB_BYTES, extra: dict[str, bytes] | None = None) -> Path:
    """A zip whose `member` inflates to `size` bytes of spaces from a few hundred KB (streamed, never held)."""
    chunk = b" " * 2**20
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
        with archive.open(member, "w", force_zip64=True) as out:
            for _ in range(size // len(chunk)):
                out.write(chunk)
    return path


def _bomb(member: str, suffix: str, extra: dict[str, bytes] | None = None) -> Builder:
    return lambda folder, seeds: zip_bomb(folder / f"bomb{suffix}", member, extra=extra)


def _many_members(folder: Path, seeds: Seeds) -> Path:
    """A .keras zip with 20,000 empty members and no config.json."""
    path = folder / "many.keras"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(20_000):
            archive.writestr(f"junk/{i}", b"")
    return path


class Marker:
    """Unpickling this creates the marker file (the attack a pickled `.pt` can carry)."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str, ...]]:
        return (os.system, (f"touch {self.target}",))


def marker_pickle(target: Path) -> bytes:
    return pickle.dumps({"state_dict": Marker(str(target))}, protocol=2)


def marker_path(folder: Path) -> Path:
    """Where an executed payload would leave its marker (outside the model's folder)."""
    return folder.parent / f"{folder.name}_{MARKER_NAME}"


def _raw_pickle(name: str) -> Builder:
    return lambda folder, seeds: _write(folder, name, marker_pickle(marker_path(folder)))


def _zipped_pickle(name: str, top: str = "archive") -> Builder:
    """A pickle laid out as torch.save (and torch.export.save) zip it: top/data.pkl, top/version."""

    def build(folder: Path, seeds: Seeds) -> Path:
        path = folder / name
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(f"{top}/data.pkl", marker_pickle(marker_path(folder)))
            archive.writestr(f"{top}/version", b"3\n")
            archive.writestr(f"{top}/byteorder", b"little")
        return path

    return build


def _pt2_with_pickle(folder: Path, seeds: Seeds) -> Path:
    """A real .pt2 archive whose every .pt/.pkl member is replaced by the marker pickle."""
    path = folder / "poisoned.pt2"
    payload = marker_pickle(marker_path(folder))
    with zipfile.ZipFile(_write(folder, "seed_copy.pt2", seeds.data(".pt2"))) as source, \
            zipfile.ZipFile(path, "w") as archive:
        for info in source.infolist():
            data = source.read(info)
            archive.writestr(info.filename, payload if info.filename.endswith((".pt", ".pkl")) else data)
    os.remove(folder / "seed_copy.pt2")
    return path


def _torchscript_rewritten(name: str, rewrite: Callable[[str, bytes, Path], bytes]) -> Builder:
    """The seed TorchScript archive with every member passed through `rewrite(member, data, folder)`."""

    def build(folder: Path, seeds: Seeds) -> Path:
        path = folder / name
        seed = _write(folder, "seed_copy.jit", seeds.data(".jit"))
        with zipfile.ZipFile(seed) as source, zipfile.ZipFile(path, "w") as archive:
            for info in source.infolist():
                archive.writestr(info.filename, rewrite(info.filename, source.read(info), folder))
        os.remove(seed)
        return path

    return build


def _code_saves_a_file(member: str, data: bytes, folder: Path) -> bytes:
    """Sequential.forward also calls torch.save (aten::save) onto the marker path."""
    if member.endswith(".py") and b"def forward" in data:
        return data.replace(b"return", f'torch.save(input, "{marker_path(folder)}")\n    return'.encode(), 1)
    return data


def _pickled_global(member: str, data: bytes, folder: Path) -> bytes:
    """data.pkl replaced by a Python pickle whose global is os.system (TorchScript's unpickler refuses it)."""
    return marker_pickle(marker_path(folder)) if member.endswith("data.pkl") else data


# ---- ONNX graphs --------------------------------------------------------------------------------


def _external(location: str, create: bool = False) -> Builder:
    def build(folder: Path, seeds: Seeds) -> Path:
        proto = point_first_weight_at(conv_dense_graph(), location)
        if create:
            target = folder.parent / "outside_secret.bin"
            target.write_bytes(b"\0" * 1024)
            os.symlink(target, folder / location)
        return _save(folder, proto)

    return build


def _cycle(folder: Path, seeds: Seeds) -> Path:
    nodes = [helper.make_node("Relu", ["x", "b"], ["a"], name="r1"), helper.make_node("Add", ["a", "x"], ["b"], name="r2")]
    return _save(folder, model(nodes, [value("x", [1])], [value("b", None)], []))


def _self_loop(folder: Path, seeds: Seeds) -> Path:
    nodes = [helper.make_node("Add", ["x", "a"], ["a"], name="self")]
    return _save(folder, model(nodes, [value("x", [1])], [value("a", None)], []))


def _missing_initializer(folder: Path, seeds: Seeds) -> Path:
    proto = conv_dense_graph()
    del proto.graph.initializer[0]  # the conv weight "w" is now produced by nothing
    return _save(folder, proto)


def _missing_required_attribute(folder: Path, seeds: Seeds) -> Path:
    """A Concat without its required axis: the schema has no default for it, so the file is malformed."""
    proto = conv_dense_graph()
    proto.graph.node.append(helper.make_node("Concat", ["y", "y"], ["yy"], name="cat"))
    proto.graph.output[0].name = "yy"
    return _save(folder, proto)


def _duplicate_outputs(folder: Path, seeds: Seeds) -> Path:
    proto = conv_dense_graph()
    proto.graph.node[1].output[0] = "c"  # Relu writes the value Conv wrote (SSA broken)
    return _save(folder, proto)


def _channel_mismatch(folder: Path, seeds: Seeds) -> Path:
    """Conv weight expects 4 input channels; the declared input has 3."""
    proto = conv_dense_graph()
    proto.graph.initializer[0].CopyFrom(weight("w", (8, 4, 3, 3)))
    return _save(folder, proto)


def _dense_mismatch(folder: Path, seeds: Seeds) -> Path:
    """MatMul (1x6) @ (5x4): inner dims disagree."""
    nodes = [helper.make_node("MatMul", ["x", "fc.weight"], ["y"], name="fc")]
    return _save(folder, model(nodes, [value("x", [1, 6])], [value("y", None)], [weight("fc.weight", (5, 4))]))


def _shape_free_initializer(dims: list[int], name: str) -> Builder:
    """A MatMul whose weight declares `dims` and carries no data (never read, so never allocated)."""

    def build(folder: Path, seeds: Seeds) -> Path:
        tensor = helper.make_tensor("fc.weight", TensorProto.FLOAT, [1], [1.0])
        tensor.ClearField("dims")
        tensor.ClearField("float_data")
        tensor.dims.extend(dims)
        nodes = [helper.make_node("MatMul", ["x", "fc.weight"], ["y"], name="fc")]
        inputs = [value("x", [1, dims[0]])]
        return _save(folder, model(nodes, inputs, [value("y", None)], [tensor]), name)

    return build


def _negative_input_dim(folder: Path, seeds: Seeds) -> Path:
    proto = conv_dense_graph()
    proto.graph.input[0].type.tensor_type.shape.dim[2].dim_value = -16
    return _save(folder, proto)


def _minus_one_dims(folder: Path, seeds: Seeds) -> Path:
    """-1 for "unknown" in the declared input dims (as Paddle writes them): symbolic, not invalid."""
    proto = conv_dense_graph()
    for axis in (0, 2, 3):
        proto.graph.input[0].type.tensor_type.shape.dim[axis].dim_value = -1
    return _save(folder, proto)


def _huge_input(folder: Path, seeds: Seeds) -> Path:
    """A conv on a 2^62-sample batch: MACs are exact Python ints, nothing is allocated."""
    return _save(folder, conv_dense_graph(batch=HUGE))


def _symbolic(folder: Path, seeds: Seeds) -> Path:
    nodes = [
        helper.make_node("LSTM", ["x", "W", "R", "B"], ["y"], hidden_size=5, name="lstm"),
        helper.make_node("Squeeze", ["y"], ["s"], name="squeeze"),
        helper.make_node("MatMul", ["s", "head.weight"], ["z"], name="head"),
    ]
    inits = [weight("W", (1, 20, 3)), weight("R", (1, 20, 5)), weight("B", (1, 40)), weight("head.weight", (5, 2))]
    return _save(folder, model(nodes, [value("x", ["seq", "batch", 3])], [value("z", None)], inits))


def _symbolic_conv(folder: Path, seeds: Seeds) -> Path:
    proto = conv_dense_graph(batch="N")
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "H", "W"
    return _save(folder, proto)


def _reversed_chain(folder: Path, seeds: Seeds) -> Path:
    """20,000 Relu nodes listed last-first: ordering them must take linear, not quadratic, time."""
    count = 20_000
    nodes = [helper.make_node("Relu", [f"v{i}"], [f"v{i + 1}"], name=f"r{i}") for i in range(count)]
    nodes.reverse()
    return _save(folder, model(nodes, [value("v0", [1, 4])], [value(f"v{count}", None)], []))


def _huge_kernel(folder: Path, seeds: Seeds) -> Path:
    """A conv whose weight declares 2^62 x 2^62 kernels (no data): exact counts, no negative sizes."""
    tensor = helper.make_tensor("w", TensorProto.FLOAT, [1], [1.0])
    tensor.ClearField("dims")
    tensor.ClearField("float_data")
    tensor.dims.extend([8, 3, HUGE, HUGE])
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")]
    return _save(folder, model(nodes, [value("x", [1, 3, 16, 16])], [value("y", None)], [tensor]))


def _branch(name: str, channels: int) -> onnx.GraphProto:
    nodes = [helper.make_node("Conv", ["x", f"{name}.w"], [f"{name}_y"], kernel_shape=[1, 1], name=f"{name}_conv")]
    return helper.make_graph(nodes, name, [], [value(f"{name}_y", None)], [weight(f"{name}.w", (channels, 3, 1, 1))])


def _if_subgraph(folder: Path, seeds: Seeds) -> Path:
    nodes = [helper.make_node("If", ["cond"], ["y"], then_branch=_branch("then", 4), else_branch=_branch("else", 4),
                              name="branch")]
    inputs = [value("cond", [], TensorProto.BOOL), value("x", [1, 3, 8, 8])]
    return _save(folder, model(nodes, inputs, [value("y", None)], []))


def _loop_subgraph(folder: Path, seeds: Seeds) -> Path:
    body_nodes = [
        helper.make_node("Identity", ["cond_in"], ["cond_out"]),
        helper.make_node("MatMul", ["h_in", "cell.weight"], ["h_out"], name="cell"),
    ]
    body = helper.make_graph(
        body_nodes, "body",
        [value("iter", [], TensorProto.INT64), value("cond_in", [], TensorProto.BOOL), value("h_in", [1, 6])],
        [value("cond_out", [], TensorProto.BOOL), value("h_out", [1, 6])],
        [weight("cell.weight", (6, 6))],
    )
    nodes = [helper.make_node("Loop", ["trip", "", "h0"], ["h"], body=body, name="loop")]
    inputs = [value("trip", [], TensorProto.INT64), value("h0", [1, 6])]
    return _save(folder, model(nodes, inputs, [value("h", None)], []))


def _custom_domain(folder: Path, seeds: Seeds) -> Path:
    proto = conv_dense_graph()
    proto.graph.node[1].op_type = "EvilRelu"
    proto.graph.node[1].domain = "com.evil"
    proto.opset_import.append(helper.make_opsetid("com.evil", 99))
    return _save(folder, proto)


def _custom_domain_weights(folder: Path, seeds: Seeds) -> Path:
    nodes = [helper.make_node("FusedDense", ["x", "k"], ["y"], domain="com.microsoft.custom", name="fused")]
    proto = model(nodes, [value("x", [1, 6])], [value("y", None)], [weight("k", (6, 3))])
    proto.opset_import.append(helper.make_opsetid("com.microsoft.custom", 1))
    return _save(folder, proto)


def _unknown_opset(folder: Path, seeds: Seeds) -> Path:
    proto = conv_dense_graph()
    del proto.opset_import[:]
    proto.opset_import.append(helper.make_opsetid("", 999))
    return _save(folder, proto)


# ---- Keras --------------------------------------------------------------------------------------


def _keras_lambda(suffix: str) -> Builder:
    def build(folder: Path, seeds: Seeds) -> Path:
        import keras

        marker = str(marker_path(folder))
        x = keras.Input((4,))
        net = keras.Model(x, keras.layers.Lambda(lambda t, m=marker: (__import__("pathlib").Path(m).touch(), t)[1])(x))
        path = folder / f"lambda{suffix}"
        net.save(str(path))
        os.remove(marker)  # building the model ran the lambda once; the audit must not run it again
        return path

    return build


def _keras_bad_class(folder: Path, seeds: Seeds) -> Path:
    """A .keras whose config names a class in a module that would run code on import (os.system)."""
    path = folder / "badclass.keras"
    config = json.dumps({"module": "os", "class_name": "system", "config": {"command": f"touch {marker_path(folder)}"},
                         "registered_name": None})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", config)
        archive.writestr("metadata.json", '{"keras_version": "3.15.0"}')
    return path


# ---- checkpoints: safetensors headers, GGUF, pickled modules under a state-dict name ----------------


def _safetensors(name: str, header: object, data: int = 0, claim: int | None = None, cut: int | None = None) -> Builder:
    """A safetensors file with this JSON header (or a header length claim that is a lie)."""

    def build(folder: Path, seeds: Seeds) -> Path:
        raw = json.dumps(header).encode()
        blob = (claim if claim is not None else len(raw)).to_bytes(8, "little") + raw + b"\0" * data
        return _write(folder, name, blob[:cut] if cut is not None else blob)

    return build


def _f32(begin: int, count: int) -> dict[str, object]:
    return {"dtype": "F32", "shape": [count], "data_offsets": [begin, begin + 4 * count]}


def _bad_magic_gguf(folder: Path, seeds: Seeds) -> Path:
    """The start of a GGUF v3 file (counts of 0 tensors, 0 keys) with its magic changed."""
    return _write(folder, "model.gguf", b"GGUX" + (3).to_bytes(4, "little") + bytes(16))


def _pickled_module_as_bin(folder: Path, seeds: Seeds) -> Path:
    import torch

    path = folder / "pytorch_model.bin"
    torch.save(torch.nn.Linear(2, 2), path)
    return path


def _index_escape(folder: Path, seeds: Seeds) -> Path:
    path = folder / "model.safetensors.index.json"
    path.write_text(json.dumps({"weight_map": {"w": "../../etc/passwd"}}))
    return path


# ---- the corpus ---------------------------------------------------------------------------------

NOT_READABLE = r"(not a|no model|cannot|empty|unknown model format|refus|not loaded)"

CASES: list[Case] = [
    *[Case("empty", s.lstrip("."), _empty(s), "refused", NOT_READABLE) for s in (*SUFFIXES, ".pt")],
    *[Case("truncated", f"{s.lstrip('.')}-{int(f * 100)}", _truncated(s, f), "refused", NOT_READABLE)
      for s in SUFFIXES for f in (0.1, 0.5, 0.99)],
    *[Case("bit-flipped", f"{s.lstrip('.')}-{seed}", _flipped(s, seed), "any") for s in SUFFIXES for seed in range(4)],
    Case("wrong-extension", "onnx-as-keras", _renamed(".onnx", ".keras"), "refused", NOT_READABLE),
    Case("wrong-extension", "onnx-as-h5", _renamed(".onnx", ".h5"), "refused", NOT_READABLE),
    Case("wrong-extension", "keras-as-onnx", _renamed(".keras", ".onnx"), "refused", NOT_READABLE),
    Case("wrong-extension", "pt2-as-keras", _renamed(".pt2", ".keras"), "refused", NOT_READABLE),
    Case("wrong-extension", "h5-as-pt2", _renamed(".h5", ".pt2"), "refused", NOT_READABLE),
    Case("wrong-extension", "text-as-h5", _text("notes.h5"), "refused", NOT_READABLE),
    Case("wrong-extension", "unknown-suffix", _text("model.bin"), "refused", "unknown model format"),
    Case("wrong-extension", "no-suffix", _text("model"), "refused", "unknown model format"),
    Case("zip-bomb", "keras-config", _bomb("config.json", ".keras"), "refused", NOT_READABLE),
    Case("zip-bomb", "keras-weights", _bomb("model.weights.h5", ".keras", {"config.json": b"{}"}), "refused",
         NOT_READABLE),
    Case("zip-bomb", "pt2-member", _bomb("archive/data.pkl", ".pt2"), "refused", NOT_READABLE),
    Case("zip-bomb", "keras-20000-members", _many_members, "refused", NOT_READABLE),
    Case("zip-bomb", "torchscript-code", _bomb("archive/code/__torch__.py", ".pt", {"archive/constants.pkl": b""}),
         "refused", "zip bomb"),
    Case("external-data", "parent-escape", _external("../../etc/passwd"), "refused", "outside the model's folder"),
    Case("external-data", "absolute", _external("/etc/passwd"), "refused", "outside the model's folder"),
    Case("external-data", "symlink-out", _external("weights.bin", create=True), "refused", "outside the model's folder"),
    Case("external-data", "missing-file", _external("weights.bin"), "audited", "'weights.bin' .* is absent"),
    Case("external-data", "nul-byte", _external("w\0.bin"), "refused", "external data"),
    Case("graph-structure", "cycle", _cycle, "refused", "cycle"),
    Case("graph-structure", "self-loop", _self_loop, "refused", "cycle"),
    Case("graph-structure", "missing-initializer", _missing_initializer, "refused", "no node or initializer provides"),
    Case("graph-structure", "value-written-twice", _duplicate_outputs, "refused", "written twice"),
    Case("graph-structure", "missing-required-attribute", _missing_required_attribute, "refused", "malformed"),
    Case("mismatched-dims", "conv-channels", _channel_mismatch, "refused", "channels"),
    Case("mismatched-dims", "matmul-inner", _dense_mismatch, "refused", "Incompatible dimensions"),
    Case("dims", "negative-weight-dim", _shape_free_initializer([-4, 3], "neg.onnx"), "refused", "negative"),
    Case("dims", "negative-input-dim", _negative_input_dim, "refused", "negative"),
    Case("graph-structure", "20000-node-chain-reversed", _reversed_chain, "audited"),
    Case("dims", "kernel-2^62", _huge_kernel, "audited"),
    Case("dims", "weight-2^62", _shape_free_initializer([HUGE, 4], "huge.onnx"), "audited"),
    Case("dims", "batch-2^62", _huge_input, "audited"),
    Case("dims", "symbolic-seq-batch", _symbolic, "audited"),
    Case("dims", "symbolic-batch-height-width", _symbolic_conv, "audited"),
    Case("dims", "minus-one-dims", _minus_one_dims, "audited"),
    Case("subgraphs", "if", _if_subgraph, "audited"),
    Case("subgraphs", "loop", _loop_subgraph, "audited"),
    Case("custom-domain", "weightless-op", _custom_domain, "unverified", "no rule"),
    Case("custom-domain", "op-with-weights", _custom_domain_weights, "unverified", "no rule"),
    Case("custom-domain", "opset-999", _unknown_opset, "audited"),
    Case("code-execution", "pickle-as-pt", _raw_pickle("model.pt"), "refused", "unpickling it can run arbitrary code"),
    Case("code-execution", "pickle-as-pth", _raw_pickle("model.pth"), "refused", "unpickling it can run arbitrary code"),
    Case("code-execution", "torch-save-zip", _zipped_pickle("model.pt"), "refused", "unpickling it can run arbitrary code"),
    Case("code-execution", "pickle-as-pt2", _zipped_pickle("model.pt2", "model"), "refused", "torch.export"),
    Case("code-execution", "pt2-poisoned", _pt2_with_pickle, "refused", "torch.export"),
    Case("code-execution", "raw-pickle-as-pt2", _raw_pickle("model.pt2"), "refused", "torch.export"),
    Case("code-execution", "torchscript-code-saves-a-file", _torchscript_rewritten("saves.pt", _code_saves_a_file),
         "refused", "reads or writes files"),
    Case("code-execution", "torchscript-pickle-os-system", _torchscript_rewritten("global.jit", _pickled_global),
         "refused", "not a readable TorchScript archive"),
    Case("code-execution", "keras-lambda", _keras_lambda(".keras"), "refused", "safe_mode"),
    Case("code-execution", "h5-lambda", _keras_lambda(".h5"), "refused", "safe_mode"),
    Case("code-execution", "keras-config-os-system", _keras_bad_class, "refused", NOT_READABLE),
    Case("checkpoint", "safetensors-truncated-header", _safetensors("cut.safetensors", {"w": _f32(0, 2)}, 8, cut=20),
         "refused", "only 12 follow the length"),
    Case("checkpoint", "safetensors-header-longer-than-file", _safetensors("long.safetensors", {}, claim=4096),
         "refused", "claims 4,096 bytes but only 2 follow"),
    Case("checkpoint", "safetensors-overlapping-offsets",
         _safetensors("overlap.safetensors", {"a": _f32(0, 2), "b": _f32(4, 2)}, 12), "refused", "overlap"),
    Case("checkpoint", "safetensors-offset-outside-file",
         _safetensors("outside.safetensors", {"a": _f32(0, 1024)}, 16), "refused", "holds only 16 bytes"),
    Case("checkpoint", "safetensors-unknown-dtype",
         _safetensors("dtype.safetensors", {"a": {"dtype": "F12", "shape": [1], "data_offsets": [0, 2]}}, 2),
         "refused", "unknown dtype"),
    Case("checkpoint", "safetensors-1GiB-header-claim", _safetensors("huge.safetensors", {}, claim=2**30),
         "refused", "claims 1,073,741,824 bytes, more than"),
    Case("checkpoint", "safetensors-index-escape", _index_escape, "refused", "outside the model's folder"),
    Case("checkpoint", "gguf-bad-magic", _bad_magic_gguf, "refused", "not a readable GGUF file.*magic"),
    Case("checkpoint", "pickled-module-as-bin", _pickled_module_as_bin, "refused",
         "it pickles torch.nn.modules.linear.Linear.*unpickling it can run arbitrary code"),
]
"""The whole corpus, in the order of the README's table."""


def families() -> dict[str, list[Case]]:
    grouped: dict[str, list[Case]] = {}
    for case in CASES:
        grouped.setdefault(case.family, []).append(case)
    return grouped
