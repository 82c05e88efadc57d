"""The benchmark cases: which model, built how, measured by which family of tools."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import checkpoint_files, fixtures, models


@dataclass(frozen=True)
class Case:
    """One model. `prepare` writes its file into the work folder (once, before any tool runs)."""

    name: str
    family: str
    """torch | keras | keras-file | onnx: selects the tools in `benchmarks.tools.TOOLS`."""
    build: Callable[[str], Any]
    description: str
    quick: bool = False
    prepare: Callable[[str], Any] | None = None
    full: bool = True
    """Part of a plain `python -m benchmarks` run (the smoke-test case is not)."""
    repeat: int = 1
    """Fresh processes per tool; the median by tool time is kept (for the cases the targets compare)."""


def _torch(make: Callable[[], models.TorchModel]) -> Callable[[str], Any]:
    return lambda _folder: make()


def _keras(name: str) -> Callable[[str], Any]:
    return lambda _folder: models.keras_application(name)


def _file(filename: str, framework: str | None = None) -> Callable[[str], str]:
    """The prepared file's path; imports `framework` first so its import is setup, not tool time."""

    def build(folder: str) -> str:
        if framework:
            __import__(framework)
        return os.path.join(folder, filename)

    return build


def _saved_keras(name: str, filename: str = "model.keras") -> Callable[[str], Any]:
    return lambda folder: fixtures.save_keras(folder, models.keras_application(name), filename)


def _exported(make: Callable[[], models.TorchModel]) -> Callable[[str], Any]:
    return lambda folder: fixtures.export_torch_onnx(folder, make())


def _mlp(width: int, depth: int) -> Callable[[str], Any]:
    return lambda folder: fixtures.synthetic_mlp_onnx(folder, width, depth)


FLOOR_REPEAT = 7
"""Rounds for the ONNX cases the 1.5x floor target compares: each tool takes 0.1-0.3 s of main-thread CPU,
which a change of load on the shared cores moves by +-30% from one process to the next (15 alternating
pairs of bert-base.onnx ranged 0.17-0.26 s for the floor), so a median of 3 is not a measurement."""
SMALL_FLOOR_REPEAT = 15
"""bert-base.onnx, whose tools take 0.15-0.35 s and whose onnx-tool row fails at once, gets more rounds: its
per-round ratios scattered 1.06x-2.68x over 9 pairs on this machine (the 3 GB case's rounds take 20 s each)."""


BIG_TORCH_REPEAT = 7
"""Rounds for the Llama-70B case, whose whole-process target compares two processes that each spend ~5-7 s
building the model: the build alone moved by +-0.6 s from one process to the next here, as much as the
audit and the plain forward differ (5 alternating pairs: 0.92x-1.17x per round)."""


def _sparse_llama70b(folder: str) -> Any:
    return checkpoint_files.write_sharded(Path(folder), checkpoint_files.llama_tensors(checkpoint_files.LLAMA2_70B), 15)


CASES: dict[str, Case] = {
    case.name: case
    for case in (
        Case("bert-base", "torch", _torch(models.bert_base), "transformers BertModel, default config, CPU weights"),
        Case("gpt2", "torch", _torch(models.gpt2), "transformers GPT2LMHeadModel (tied LM head), CPU weights",
             quick=True),
        Case("llama-7b-meta", "torch", _torch(partial(models.llama, models.LLAMA_7B)),
             "LlamaForCausalLM, Llama-2-7B sizes, built on the meta device", quick=True),
        Case("llama-70b-meta", "torch", _torch(partial(models.llama, models.LLAMA_70B)),
             "LlamaForCausalLM, Llama-2-70B sizes (GQA 8 kv heads), built on the meta device", repeat=BIG_TORCH_REPEAT),
        Case("resnet50", "keras", _keras("ResNet50"), "keras.applications.ResNet50(weights=None), in memory"),
        Case("efficientnetb0", "keras", _keras("EfficientNetB0"), "keras.applications.EfficientNetB0, in memory",
             quick=True),
        Case("resnet50.keras", "keras-file", _file("model.keras"), "ResNet50 saved as .keras (~100 MB)",
             prepare=_saved_keras("ResNet50"), repeat=3),
        Case("resnet50.h5", "keras-file", _file("model.h5"), "ResNet50 saved as a legacy .h5",
             prepare=_saved_keras("ResNet50", "model.h5")),
        Case("efficientnetb0.keras", "keras-file", _file("model.keras"), "EfficientNetB0 saved as .keras",
             quick=True, prepare=_saved_keras("EfficientNetB0")),
        Case("bert-base.onnx", "onnx", _file("model.onnx"), "BERT-base, torch.onnx.export(dynamo=True), external data",
             prepare=_exported(models.bert_base), repeat=SMALL_FLOOR_REPEAT),
        Case("mlp-256mb.onnx", "onnx", _file("model.onnx"), "4 MatMul+Add layers of 4096², 256 MB external data",
             quick=True, prepare=_mlp(4096, 4), repeat=FLOOR_REPEAT),
        Case("mlp-3gb.onnx", "onnx", _file("model.onnx"), "12 MatMul+Add layers of 8192², 3.0 GB external data",
             prepare=_mlp(8192, 12), repeat=FLOOR_REPEAT),
        Case("sharded-llama-70b.safetensors", "checkpoint", _file("model.safetensors.index.json"),
             "Llama-2-70B as 15 safetensors shards: real headers, sparse data (137 GB apparent, ~200 KB on disk)",
             quick=True, prepare=_sparse_llama70b, repeat=3),
        Case("zoo-20", "folder", lambda folder: folder, "a folder of 20 models (10 .keras applications, 10 ONNX "
             "MLPs): audit FOLDER with --jobs 1, 2 and 4", prepare=fixtures.model_zoo),
        Case("tiny-mlp.onnx", "onnx", _file("model.onnx"), "2 MatMul+Add layers of 64² (smoke test)",
             prepare=_mlp(64, 2), full=False),
    )
}


def select(names: list[str] | None, quick: bool) -> list[Case]:
    """Cases named (exact or prefix match), else the quick subset, else every full case."""
    if names:
        chosen = [c for c in CASES.values() if any(c.name == n or c.name.startswith(n) for n in names)]
        if not chosen:
            raise SystemExit(f"no case matches {', '.join(names)}; known: {', '.join(CASES)}")
        return chosen
    return [c for c in CASES.values() if (c.quick if quick else c.full)]
