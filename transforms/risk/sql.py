"""Small helpers shared by the risk transforms: time arithmetic in SQL, literals, Arrow output.

Every instant inside the risk SQL is an integer — epoch microseconds (``*_us``) or epoch hours
(``hr``) — so the session time zone of the caller's connection never matters. Beijing is UTC+8 all
year: Beijing day n (days since 1970-01-01) starts at hour ``24 n − 8``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import duckdb
import pyarrow as pa

from schemas.registry import Table
from schemas.sql import string_list

HOUR_US = 3_600_000_000
BEIJING_H = 8
FAR_US = 9_000_000_000_000_000_000  # beyond any real instant: open interval ends
EPOCH = dt.date(1970, 1, 1)


# an outlet-day's hourly values of a pollutant missing while its logger was online (a row of
# mart_source__exceedance_daily): hours without one, and hours whose value had too few minutes
MISSING_HOURS = "(logger_hours - hours_present + hours_incomplete)"


def day_num(d: dt.date) -> int:
    return (d - EPOCH).days


def day_start_hr(d: dt.date) -> int:
    """Epoch hour at which Beijing day ``d`` starts."""
    return day_num(d) * 24 - BEIJING_H


def lit(values: Iterable[str]) -> str:
    """A SQL list of string literals: ``'a', 'b'`` (``NULL`` when empty, so ``IN (…)`` is false)."""
    return string_list(values)


def labels_sql(labels: Mapping[str, str], expr: str) -> str:
    """``expr``'s label (a code's, from the registry's ``Codes``); the value itself where it has none."""
    cases = " ".join(f"WHEN {lit([k])} THEN {lit([v])}" for k, v in labels.items())
    return f"CASE {expr} {cases} ELSE {expr} END"


def date_sql(expr_day_num: str) -> str:
    """A DATE from an integer Beijing day number."""
    return f"(DATE '1970-01-01' + ({expr_day_num})::INTEGER)"


def beijing_text(expr_us: str, fmt: str = "%m-%d %H:%M") -> str:
    """Beijing wall time of an epoch-µs expression, as text."""
    return f"strftime(make_timestamp(({expr_us}) + {BEIJING_H * HOUR_US}), '{fmt}')"


def to_table(rel: duckdb.DuckDBPyRelation, table: Table) -> pa.Table:
    """A relation as rows of ``table``; ``*_at`` columns may come as epoch µs (cast here)."""
    data = rel.to_arrow_table()
    for i, name in enumerate(data.column_names):
        col = data.column(i)
        if name in table.column_names and pa.types.is_integer(col.type):
            target = table.column(name).arrow_type
            if pa.types.is_timestamp(target):
                data = data.set_column(i, name, col.cast(pa.int64()).cast(target))
    return table.conform(data)
