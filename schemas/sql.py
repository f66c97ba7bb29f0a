"""SQL text for values, for every layer that writes DuckDB SQL: one way to quote a string literal,
one way to sum floating-point values reproducibly."""

from __future__ import annotations

from collections.abc import Iterable


def string_literal(text: str) -> str:
    """``text`` as a SQL string literal (standard SQL: a quote is doubled, nothing else escapes)."""
    return "'" + text.replace("'", "''") + "'"


def string_list(values: Iterable[str]) -> str:
    """A comma-separated list of string literals; ``NULL`` when empty, so ``x IN (…)`` is false."""
    quoted = [string_literal(v) for v in values]
    return ", ".join(quoted) if quoted else "NULL"


def exact_decimal(column: str) -> str:
    """A DOUBLE expression as DECIMAL(38, 10) for summing: exact, so a sum or mean does not depend on
    the order in which DuckDB's threads combine partial sums (floating-point sums do, in the last
    bits), and a rebuilt table is identical whichever rows were read with it. |value| ≥ 10^27
    (nonsense for any quantity here) is left out (NULL)."""
    return f"CASE WHEN abs({column}) < 1e27 THEN {column}::DECIMAL(38, 10) END"


def exact_mean(column: str) -> str:
    """The mean of a DOUBLE ``column`` over the values ``exact_decimal`` keeps, summed exactly (the
    same whichever other rows were aggregated with them); NULL when there are none."""
    return f"(sum({exact_decimal(column)}) / count({exact_decimal(column)}))::DOUBLE"
