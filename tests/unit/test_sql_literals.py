"""Every string, quotes and backslashes and control characters included, reads back from its literal."""

from __future__ import annotations

import duckdb
from hypothesis import given
from hypothesis import strategies as st

from schemas.sql import string_list, string_literal

# DuckDB strings cannot hold NUL; everything else may come from a file name, a check or a comment —
# as UTF-8: a lone surrogate (U+D800…U+DFFF) is no text any file or query can carry.
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)


@given(TEXT)
def test_a_string_literal_reads_back_as_the_string(text: str) -> None:
    assert duckdb.sql(f"SELECT {string_literal(text)}").fetchall() == [(text,)]


@given(st.lists(TEXT, max_size=5))
def test_a_string_list_matches_exactly_its_members(values: list[str]) -> None:
    con = duckdb.connect()
    probe = ["x'", "y", "", *values]
    rows = con.sql(
        f"SELECT v, v IN ({string_list(values)}) FROM unnest({'[' + string_list(probe) + ']'}) t(v)"
    ).fetchall()
    assert [(v, v in values) for v in probe] == [(v, bool(hit)) for v, hit in rows]
