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


# the largest magnitude summed exactly: DECIMAL(38, 10) holds 28 integer digits, so 10^10 values below
# 10^18 cannot overflow a sum
_EXACT_BOUND = "1e18"


def exact_decimal(column: str) -> str:
    """A DOUBLE expression as DECIMAL(38, 10) for summing: exact, so a sum or mean does not depend on
    the order in which DuckDB's threads combine partial sums (floating-point sums do, in the last
    bits), and a rebuilt table is identical whichever rows were read with it. |value| ≥ 10^18
    (nonsense for any quantity here) is left out (NULL) — count with this same expression, so a
    mean leaves it out of its count too — and so 10^10 kept values still sum within DECIMAL(38, 10)
    (a hostile logger's 60 minutes of 9 × 10^26 overflowed it and failed the batch)."""
    return f"CASE WHEN abs({column}) < {_EXACT_BOUND} THEN {column}::DECIMAL(38, 10) END"


def exact_mean(column: str) -> str:
    """The mean of a DOUBLE ``column`` over the values ``exact_decimal`` keeps, summed exactly (the
    same whichever other rows were aggregated with them); NULL when there are none."""
    return f"(sum({exact_decimal(column)}) / count({exact_decimal(column)}))::DOUBLE"
