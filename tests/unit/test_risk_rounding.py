"""One rounding of risk numbers everywhere people see them (schemas.risk): pages and the CLI
(``fixed``), spreadsheet cells (``rounded``), SQL (``rounded_sql``: reasons_json, the demo's summary).
DuckDB's round() takes a tie away from zero: the demo's "sources to inspect first" said 80.63 for the
80.625 every other surface showed as 80.62."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from ecocloud import demo
from schemas import risk as schema

# x.xx5 ties (exact in binary: 80.625, 0.625, 0.15625 …) and near-ties (2.675, 1.005, 1.015: a hair
# under or over in binary), and ordinary values
VALUES = [
    80.625,
    35.625,
    25.625,
    45.625,
    0.625,
    0.15625,
    0.125,
    2.675,
    1.005,
    1.015,
    12.345,
    18.5399,
    0.0,
    100.0,
]


@pytest.mark.parametrize(
    "field", ["score", "permit_points", "max_exceedance_multiple", "near_limit_share_pct"]
)
def test_python_and_sql_round_alike(field: str) -> None:
    con = duckdb.connect()
    sql = ", ".join(schema.rounded_sql(f"{v!r}::DOUBLE", field) + "::VARCHAR" for v in VALUES)
    (in_sql,) = con.sql(f"SELECT {sql}").fetchall()
    shown = [schema.fixed(v, field) for v in VALUES]
    assert list(in_sql) == shown
    assert [schema.fixed(schema.rounded(v, field), field) for v in VALUES] == shown
    assert con.sql(f"SELECT {schema.rounded_sql('NULL', field)}").fetchall() == [(None,)]


def test_a_tie_rounds_to_even_as_the_pages_show_it() -> None:
    assert [schema.fixed(v, "score") for v in (80.625, 35.625, 25.625, 0.625, 0.15625)] == [
        "80.62",
        "35.62",
        "25.62",
        "0.62",
        "0.16",
    ]


def test_the_demo_summary_shows_a_score_as_the_pages_do() -> None:
    """The demo's "sources to inspect first" printed DuckDB's round(80.625, 2) = 80.63."""
    con = duckdb.connect()
    scores = [80.625, 35.625, 25.625]
    rows = pa.table(
        {
            "date": pa.array([demo.dt.date(2026, 12, 8)] * 3),
            "period_days": pa.array([30] * 3, pa.int16()),
            "rank": pa.array([1, 2, 3], pa.int32()),
            "score": pa.array(scores),
            "enterprise_name": pa.array(["a", "b", "c"]),
            "outlet_code": pa.array(["DA001"] * 3),
            "top_reasons": pa.array(["x"] * 3),
        }
    )
    con.register("mart_risk__outlet_scores", rows)
    shown = [str(r[1]) for r in con.sql(demo._RISK).fetchall()]
    assert shown == [schema.fixed(s, "score") for s in scores] == ["80.62", "35.62", "25.62"]
