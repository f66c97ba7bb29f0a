"""One DuckDB query over Arrow tables: the helper the transforms and builds share."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from transforms.arrow_sql import arrow_connection, query_arrow

BEIJING = dt.timezone(dt.timedelta(hours=8))


def test_a_query_reads_the_tables_named_by_keyword_with_parameters() -> None:
    t = pa.table({"x": [1, 2, 3]})
    u = pa.table({"x": [2, 3], "y": ["b", "c"]})
    out = query_arrow("SELECT x, y FROM t JOIN u USING (x) WHERE x > $1 ORDER BY x", [2], t=t, u=u)
    assert out.to_pydict() == {"x": [3], "y": ["c"]}


def test_the_session_is_utc_whatever_the_machine_zone() -> None:
    # 2026-11-21 07:30 in Beijing is 2026-11-20 23:30 UTC: a cast to DATE gives the UTC day, and a time-zone-aware
    # result comes back labelled UTC (as the registry's schemas are), not in the machine's zone
    at = dt.datetime(2026, 11, 21, 7, 30, tzinfo=BEIJING)
    out = query_arrow(
        "SELECT observed_at, observed_at::DATE AS day FROM r", r=pa.table({"observed_at": pa.array([at])})
    )
    assert out.column("day").to_pylist() == [dt.date(2026, 11, 20)]
    assert out.schema.field("observed_at").type == pa.timestamp("us", tz="UTC")
    assert out.column("observed_at").to_pylist() == [at.astimezone(dt.UTC)]


def test_a_connection_holds_its_tables_for_several_queries_and_is_closed_after() -> None:
    with arrow_connection(t=pa.table({"x": [1, 2]})) as con:
        assert con.sql("SELECT sum(x) FROM t").fetchall() == [(3,)]
        assert con.sql("SELECT count(*) FROM t").fetchall() == [(2,)]
    with pytest.raises(Exception, match="closed"):
        con.sql("SELECT 1")
