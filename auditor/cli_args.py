"""The `audit` command's arguments: the parser (every flag and its help) and what reads them into values.

Bad usage is a `UsageError` (one line, exit 2), never argparse's own exit; `auditor.cli` runs the command.
"""

from __future__ import annotations

import argparse
from typing import Any

from auditor.options import parse_shapes


class UsageError(Exception):
    """The command line itself is wrong."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, as for any bad input
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="audit",
        description="Recount every layer of a model analytically and compare with what the framework says.",
        epilog="MODEL: a .onnx, .keras, .h5, .pt2 file, a TorchScript archive (any extension), a checkpoint "
        "(.safetensors, its index .json, .gguf, a state dict .bin/.pt/.pth, .weights.h5), a config.json, a Hugging "
        "Face model folder, a folder of models, reference:NAME, or package.module:factory.",
    )
    parser.add_argument("models", nargs="*", metavar="MODEL", help="one model; two to diff them; a folder")
    parser.add_argument("--expect", metavar="TABLE", help="compare with an expectation table (CSV, YAML or JSON) "
                        f"with columns {_table_columns()}; a row named TOTAL gives the table's total")
    parser.add_argument("--format", default="table", choices=("table", "json", "csv", "markdown", "html"),
                        help="html: one self-contained page with charts (write it to a file: > report.html)")
    parser.add_argument("--depth", type=int, metavar="N",
                        help="fold layers under their first N path components (N >= 1; default: one row per layer)")
    parser.add_argument("--strict", action="store_true",
                        help="unverified layers, unattributed tensors and MACs missing for concrete input shapes "
                             "count as failures (exit 1)")
    parser.add_argument("--claim", metavar="COUNT", help="explain a headline figure: 138M, 25.6M, 6.7B, 138,344,128 or "
                        "trainable=60000 (exit 0 when some way of counting reproduces it)")
    parser.add_argument("--exact", action="store_true",
                        help="a diff fails on any difference, even counting conventions or an exporter's rewrites")
    parser.add_argument("--input-shape", metavar="1x3x224x224",
                        help="input shape for factories, TorchScript and symbolic dims; several inputs, each with an "
                             "optional dtype: 1x128:int32,1x128:int32")
    parser.add_argument("--input-dtype", metavar="DTYPE", help="input dtype for PyTorch factories and TorchScript (e.g. int64)")
    parser.add_argument("--each", action="store_true", help="audit every MODEL on its own (continue after a bad one)")
    parser.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                        help="audit several models in N processes (0: one per core); output stays in input order")
    parser.add_argument("--list-references", action="store_true", help="list the bundled reference models")
    _memory_arguments(parser)
    sides = parser.add_argument_group("per side of a diff (LEFT RIGHT); --input-shape/--input-dtype apply to both")
    for side in ("left", "right"):
        sides.add_argument(f"--{side}-input-shape", metavar="SHAPE", help=f"input shape of the {side} model only")
        sides.add_argument(f"--{side}-input-dtype", metavar="DTYPE", help=f"input dtype of the {side} model only")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and the frameworks' own log lines")
    return parser


def _table_columns() -> str:
    from auditor.expect import HYPER_COLUMNS

    return "layer and params (required), " + ", ".join(HYPER_COLUMNS) + " (optional)"


def _memory_arguments(parser: argparse.ArgumentParser) -> None:
    """The memory budget's flags (see auditor.memory); AuditOptions checks them as it checks the API's."""
    group = parser.add_argument_group("memory budget")
    group.add_argument("--memory", choices=("train", "infer"), help="add the memory budget for training or inference")
    group.add_argument("--batch", type=int, metavar="B", help="batch size of the budget (sets the input's first dim)")
    group.add_argument("--seq", type=int, metavar="S", help="sequence length of the budget (the input's second dim)")
    group.add_argument("--precision", choices=("fp32", "bf16", "fp16", "bf16-mixed", "fp16-mixed"),
                       help="weights, gradients and activations (default: the model's own dtypes)")
    group.add_argument("--optimizer", default="adamw",
                       choices=("sgd", "momentum", "adam", "adamw", "adam8bit", "adafactor"))
    group.add_argument("--checkpointing", default="none", choices=("none", "blocks"))


def memory_options(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in ("memory", "batch", "seq", "precision", "optimizer", "checkpointing")}


def parse_shape(text: str | None) -> tuple[int, ...] | None:
    """"1x3x224x224" (or "1,3,224,224") -> (1, 3, 224, 224), read as every option is (`AuditOptions`)."""
    if text is None:
        return None
    try:
        shapes = parse_shapes(text)
    except ValueError as err:
        raise UsageError(f"--input-shape {text!r} {err}") from None
    if len(shapes) != 1:
        raise UsageError(f"--input-shape {text!r} gives {len(shapes)} shapes, not one")
    return shapes[0]


__all__ = ["UsageError", "build_parser", "memory_options", "parse_shape"]
