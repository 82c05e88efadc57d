"""The in-house table layout is tabulate's, character for character; other tables are tabulate's own."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tabulate import tabulate

from auditor.report.table import table

ASCII = st.text(st.sampled_from(" abcxyz019,.=*()_-/|:"), max_size=12) | st.sampled_from(["True", "False", "", "  "])
ANY_TEXT = st.text(st.sampled_from(" a1|\t\n\x1b\x01é世\u200b"), max_size=6)


def expected(rows: list[list[str]], headers: list[str], markdown: bool, colalign: Any) -> str:
    return str(tabulate(rows, headers=headers, tablefmt="github" if markdown else "simple", colalign=colalign,
                        disable_numparse=True))


@st.composite
def tables(draw: st.DrawFn, cells: st.SearchStrategy[str]) -> tuple[list[list[str]], list[str], Any]:
    width = draw(st.integers(1, 5))
    headers = draw(st.lists(cells, min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(cells, min_size=width, max_size=width), max_size=6))
    colalign = draw(st.none() | st.lists(st.sampled_from(["left", "right"]), min_size=width, max_size=width))
    return rows, headers, colalign


@settings(max_examples=400, deadline=None)
@given(tables(ASCII), st.booleans())
def test_plain_tables_are_laid_out_as_tabulate_lays_them_out(case: Any, markdown: bool) -> None:
    rows, headers, colalign = case
    assert table(rows, headers, markdown, colalign) == expected(rows, headers, markdown, colalign)


@settings(max_examples=200, deadline=None)
@given(tables(ANY_TEXT), st.booleans())
def test_other_tables_are_tabulate_own(case: Any, markdown: bool) -> None:
    rows, headers, colalign = case
    assert table(rows, headers, markdown, colalign) == expected(rows, headers, markdown, colalign)
