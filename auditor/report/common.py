"""Formatting helpers every renderer shares: numbers, shapes, byte sizes, JSON-safe shapes."""

from __future__ import annotations

from typing import Any

from auditor.ir import Shape

FORMATS = ("table", "json", "csv", "markdown", "html")


def count_text(n: int | None) -> str:
    """9,248, or "-" when there is no value."""
    return "-" if n is None else f"{n:,}"


def shape_text(shape: Shape | None, drop_batch: bool = False) -> str:
    """"32x24x24" (per sample when `drop_batch`), or "-" when unknown."""
    if shape is None:
        return "-"
    dims = shape[1:] if drop_batch and len(shape) > 1 else shape
    return "x".join(dim_text(d) for d in dims) if dims else "scalar"


def dim_text(dim: Any) -> str:
    """A dim as text: its size, the name the model gives a symbolic dim ("batch", "H"), and "?" for a dim
    no one named (ONNX shape inference calls those unk__0, unk__1 ...)."""
    if isinstance(dim, str) and dim.startswith("unk__"):
        return "?"
    return str(dim)


def shape_json(shape: Shape | None) -> list[Any] | None:
    return None if shape is None else list(shape)


def bytes_text(n: int) -> str:
    """Binary-prefixed size as people quote model sizes: 527.8 MiB."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{n} B"
        value /= 1024
    return f"{n} B"


def si_text(n: int) -> str:
    """1.59 M / 15.47 G: a large count at a glance (the exact figure is printed next to it)."""
    for factor, unit in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= factor:
            return f"{n / factor:.2f} {unit}"
    return str(n)


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return fmt


def symbolic_input_dims(audit: Any) -> list[str]:
    """The names of the inputs' symbolic dims past the batch (an ONNX file's `H`, `W`), in order, once each."""
    names: list[str] = []
    for shape in audit.model.input_shapes:
        for d in shape[1:]:
            if not isinstance(d, int) and str(d) not in names:
                names.append(str(d))
    return names


def unknown_shapes(audit: Any) -> str:
    """Why no layer has a shape, and what to do about it."""
    if audit.model.input_shapes and audit.model.shapes_missing:
        return f"unknown ({audit.model.shapes_missing})"
    symbolic = symbolic_input_dims(audit)
    if symbolic:
        return f"unknown (the input dims {', '.join(symbolic)} are symbolic: give --input-shape with numbers)"
    if audit.model.input_shapes:
        return "unknown (no layer got a shape: the forward pass did not run, see the notes)"
    return "unknown (no shapes are known: give --input-shape, e.g. 1x3x224x224)"


def macs_gap(audit: Any) -> str:
    """Why the MAC total is incomplete, in one line: how many layers, and the adapter's reason if it gave one."""
    t = audit.totals
    unknown = f"{t.unknown_macs_layers} of {t.layers} layers have unknown MACs"
    return f"{unknown}: {audit.model.shapes_missing}" if audit.model.shapes_missing else unknown


def macs_unknown(audit: Any) -> bool:
    """No MAC total to print: no shapes at all, or no layer whose MACs are known (never a 0 for unknown)."""
    t = audit.totals
    return not t.shapes_known or (not t.macs_complete and t.macs == 0)


def activation_unknown(audit: Any) -> bool:
    """No activation was counted because no shape (or no concrete size) is known."""
    t = audit.totals
    return not t.shapes_known or (t.activation_elements == 0 and (
        not audit.model.input_shapes or t.activation_unknown_layers > 0))


def activation_gap(audit: Any) -> str:
    """" (incomplete: ...)" when some outputs' sizes are symbolic, so the activation total is a lower bound."""
    n = audit.totals.activation_unknown_layers
    return f" (incomplete: {n} output{'s' if n != 1 else ''} with symbolic dims not counted)" if n else ""
