"""SQL text for values: one way to quote a string literal, for every layer that writes DuckDB SQL."""

from __future__ import annotations

from collections.abc import Iterable


def string_literal(text: str) -> str:
    """``text`` as a SQL string literal (standard SQL: a quote is doubled, nothing else escapes)."""
    return "'" + text.replace("'", "''") + "'"


def string_list(values: Iterable[str]) -> str:
    """A comma-separated list of string literals; ``NULL`` when empty, so ``x IN (…)`` is false."""
    quoted = [string_literal(v) for v in values]
    return ", ".join(quoted) if quoted else "NULL"
