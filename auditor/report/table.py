"""Tables of string cells in tabulate's "simple" (text) and "github" (Markdown) layouts.  Rendering only.

Importing tabulate (and the wcwidth and importlib.metadata it loads) was a tenth of a whole
`audit model.keras` process.  A table of plain cells (printable ASCII, one line each) is laid out here,
character for character as `tabulate(..., disable_numparse=True)` lays it out: each column as wide as
its widest (stripped) cell or its header plus two, cells padded to their column's alignment, headers
not stripped, trailing spaces cut.  Any other table (wide characters, control codes, line breaks) is
handed to tabulate itself.
"""

from __future__ import annotations

from collections.abc import Sequence


def table(rows: Sequence[Sequence[str]], headers: Sequence[str], markdown: bool,
          colalign: Sequence[str] | None = None) -> str:
    """`rows` under `headers`, each column aligned "left" or "right" (`colalign`; all left when None)."""
    aligns = list(colalign) if colalign is not None else ["left"] * len(headers)
    if not _plain(rows, headers, aligns):
        from tabulate import tabulate

        return str(tabulate(rows, headers=list(headers), tablefmt="github" if markdown else "simple",
                            colalign=colalign, disable_numparse=True))
    columns = [[cell.strip() for cell in column] for column in zip(*rows)]
    widths = [max(len(header) + 2, *map(len, column)) for header, column in zip(headers, columns)]
    lines = [_row([_pad(h, w, a) for h, w, a in zip(headers, widths, aligns)], markdown),
             _row(["-" * (w + 2 if markdown else w) for w in widths], markdown, pad=False)]
    padded = [[_pad(cell, w, a) for cell in column] for column, w, a in zip(columns, widths, aligns)]
    lines.extend(_row(list(cells), markdown) for cells in zip(*padded))
    return "\n".join(lines)


def _plain(rows: Sequence[Sequence[str]], headers: Sequence[str], aligns: list[str]) -> bool:
    """True when the layout here is tabulate's: rows and headers of one width, printable ASCII strings."""
    if not rows or not headers or len(aligns) != len(headers) or any(a not in ("left", "right") for a in aligns):
        return False
    cells = [*headers, *(cell for row in rows for cell in row)]
    return (all(len(row) == len(headers) for row in rows) and all(type(cell) is str for cell in cells)
            and _printable("".join(cells)))


def _printable(text: str) -> bool:
    return text.isascii() and text.isprintable()


def _pad(text: str, width: int, align: str) -> str:
    return text.rjust(width) if align == "right" else text.ljust(width)


def _row(cells: list[str], markdown: bool, pad: bool = True) -> str:
    if markdown:
        return "|" + "|".join(f" {c} " if pad else c for c in cells) + "|"
    return "  ".join(cells).rstrip()
