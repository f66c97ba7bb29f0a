"""The catalog builder on a tiny hand-made lake, gate results and lineage in the platform schemas."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from ecocloud.web.queries import ingestion_health
from schemas import catalog as cat
from schemas.platform import expectation_results
from schemas.platform import lineage as lineage_schema
from schemas.registry import (
    Codes,
    Column,
    DateSpan,
    Department,
    Frequency,
    Layer,
    PairEquality,
    Severity,
    Sharing,
    Table,
    all_tables,
    get_table,
)
from warehouse import catalog
from warehouse import lake as lk
from warehouse.fs import LocalLake
from warehouse.ledger import Part, UnitState
from warehouse.serving import view_sql

BJ = dt.timezone(dt.timedelta(hours=8))
UTC = dt.UTC
DEPT = Department("测试处", "Test division", "test@example.gov.cn")
HOURLY = Frequency("每小时", "hourly", dt.timedelta(hours=1))
DAILY = Frequency("每日", "daily", dt.timedelta(days=1))
ON_CHANGE = Frequency("变更时", "on change", None)


def _table(name: str, layer: Layer, columns: tuple[Column, ...], key: tuple[str, ...], **kw: Any) -> Table:
    return Table(
        name=name,
        layer=layer,
        source="demo",
        title=f"{name} title",
        title_zh=f"{name} 标题",
        description="what it holds",
        description_zh="内容",
        columns=columns,
        primary_key=key,
        owner=DEPT,
        frequency=kw.pop("frequency", HOURLY),
        sharing=kw.pop("sharing", Sharing.UNCONDITIONAL),
        source_system="演示系统 (demo system)",
        **kw,
    )


DATE = Column("date", "date", "Beijing day", nullable=False)
HOURS = _table(
    "core_demo__hourly",
    Layer.CORE,
    (
        DATE,
        Column("station", "string", "station", nullable=False),
        Column("observed_at", "timestamp", "hour", nullable=False),
        Column("aqi", "int16", "computed", unit="1", min=0, max=500),
        Column("aqi_published", "int16", "published", unit="1", min=0, max=500),
        Column("category", "string", "category", allowed=("优", "良")),
    ),
    ("station", "observed_at"),
    freshness_column="observed_at",
    freshness_tolerance=dt.timedelta(hours=3),
    pair_checks=(PairEquality("aqi", "aqi_published", mostly=0.9, description="agree"),),
)
QUARANTINE = _table(
    "quarantine_demo__rows",
    Layer.QUARANTINE,
    (DATE, Column("line_no", "int32", "line", unit="1"), Column("reason", "string", "why", nullable=False)),
    ("line_no",),
    sharing=Sharing.NOT_SHARED,
    sharing_conditions="内部 (internal)",
)
DAILY_MART = _table(
    "mart_demo__daily",
    Layer.MART,
    (
        DATE,
        Column("station", "string", "station", nullable=False),
        Column("n", "int32", "hours", unit="count"),
    ),
    ("station", "date"),
    frequency=DAILY,
)
STATIONS = _table(
    "core_demo__stations",
    Layer.CORE,
    (Column("station", "string", "station", nullable=False),),
    ("station",),
    partition_by=None,
    frequency=ON_CHANGE,
)
TABLES = [HOURS, QUARANTINE, DAILY_MART, STATIONS, expectation_results, lineage_schema]

D1, D2 = dt.date(2026, 11, 19), dt.date(2026, 11, 20)


def hours_rows(day: dt.date, aqi: list[tuple[int | None, int | None]]) -> pa.Table:
    start = dt.datetime.combine(day, dt.time(1), BJ).astimezone(UTC)
    return pa.Table.from_pylist(
        [
            {
                "date": day,
                "station": "1001A",
                "observed_at": start + dt.timedelta(hours=i),
                "aqi": a,
                "aqi_published": p,
                "category": "优",
            }
            for i, (a, p) in enumerate(aqi)
        ],
        schema=HOURS.arrow_schema(strict=False),
    )


def registry_rows(table: Table, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows in ``table``'s registry schema; columns not given are NULL (the builder must cope)."""
    names = table.column_names
    return pa.Table.from_pylist(
        [{n: r.get(n) for n in names} for r in rows], schema=table.arrow_schema(strict=False)
    )


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    lk.write_partition(root, HOURS, hours_rows(D1, [(10, 10), (20, 20), (30, 31)]), D1)
    lk.write_partition(root, HOURS, hours_rows(D2, [(40, 40), (None, 50)]), D2)
    q = registry_rows(QUARANTINE, [{"date": D2, "line_no": i, "reason": "bad"} for i in range(4)])
    lk.write_partition(root, QUARANTINE, q, D2)
    lk.write_partition(
        root, DAILY_MART, registry_rows(DAILY_MART, [{"date": D1, "station": "1001A", "n": 3}]), D1
    )
    return root


def result(
    run: str, at: dt.datetime, table: str, part: dt.date, expectation: str, ok: bool, **kw: Any
) -> dict:
    return {
        "date": part
        if "partition_date" not in expectation_results.column_names
        else at.astimezone(BJ).date(),
        "partition_date": part,
        "validated_at": at,
        "run_id": run,
        "task": "air_quality.build",
        "gate_run_id": f"{run}-{table}",
        "build": "demo.hourly",
        "unit": part.isoformat(),
        "table_name": table,
        "expectation": expectation,
        "column_name": kw.get("column"),
        "severity": kw.get("severity", "blocking"),
        "success": ok,
        "element_count": 3,
        "unexpected_count": 0 if ok else kw.get("unexpected", 1),
        "unexpected_percent": 0.0 if ok else 33.3,
        "details": kw.get("details", "{}"),
        "published": kw.get("published", True),
    }


T_OLD = dt.datetime(2026, 11, 20, 1, tzinfo=UTC)
T_NEW = dt.datetime(2026, 11, 20, 5, tzinfo=UTC)
GATE = [
    # an older run: everything failed; it must not count
    result(
        "run-old", T_OLD, HOURS.name, D1, "expect_table_row_count_to_be_between", False, severity="warning"
    ),
    result("run-old", T_OLD, HOURS.name, D1, "expect_column_values_to_not_be_null", False, column="aqi"),
    # the latest run checked both partitions; D2 failed a blocking check and was not published
    *(
        result(
            "run-new", T_NEW, HOURS.name, d, "expect_table_row_count_to_be_between", True, severity="warning"
        )
        for d in (D1, D2)
    ),
    result("run-new", T_NEW, HOURS.name, D1, "expect_column_values_to_not_be_null", True, column="station"),
    result(
        "run-new",
        T_NEW,
        HOURS.name,
        D2,
        "expect_column_values_to_not_be_null",
        False,
        column="station",
        unexpected=2,
        published=False,
    ),
    result(
        "run-new",
        T_NEW,
        HOURS.name,
        D1,
        "expect_column_pair_values_to_be_equal",
        False,
        column="aqi,aqi_published",
        severity="warning",
    ),
    result(
        "run-new",
        T_NEW,
        HOURS.name,
        D2,
        "expect_column_pair_values_to_be_equal",
        True,
        column="aqi,aqi_published",
        severity="warning",
        published=False,
    ),
]

RECORDED = dt.datetime(2026, 11, 20, 6, tzinfo=UTC)


def lineage_row(run: str, out: str, part: dt.date, kind: str, input_id: str, build: str, task: str) -> dict:
    return {
        "run_id": run,
        "task": task,
        "build": build,
        "unit": part.isoformat(),
        "output_table": out,
        "output_partition": part,
        "part": "data",
        "input_kind": kind,
        "input_id": input_id,
        "input_partition": None if kind == "raw" else part,
        "input_version": "v",
        "recorded_at": RECORDED + dt.timedelta(minutes=len(run)),
    }


LINEAGE = [
    lineage_row(
        "r1",
        HOURS.name,
        D1,
        "raw",
        "raw/air/date=2026-11-19/china_sites_20261119.csv",
        "demo.hourly",
        "air_quality.build",
    ),
    lineage_row(
        "r1",
        QUARANTINE.name,
        D1,
        "raw",
        "raw/air/date=2026-11-19/china_sites_20261119.csv",
        "demo.hourly",
        "air_quality.build",
    ),
    lineage_row(
        "r22",
        HOURS.name,
        D2,
        "raw",
        "raw/air/date=2026-11-20/china_sites_20261120.csv",
        "demo.hourly",
        "air_quality.build",
    ),
    lineage_row(
        "r22",
        HOURS.name,
        D2,
        "raw",
        "raw/air/date=2026-11-20/china_sites_20261120.1.csv",
        "demo.hourly",
        "air_quality.build",
    ),
    lineage_row("r22", DAILY_MART.name, D1, "table", HOURS.name, "demo.daily", "air_quality.daily"),
]


@pytest.fixture
def con(lake: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    for t in (HOURS, QUARANTINE, DAILY_MART, STATIONS):
        c.execute(view_sql(t, [str(lake / rel) for rel in LocalLake(lake).glob(lk.table_pattern(t))]))
    for t, rows in ((expectation_results, GATE), (lineage_schema, LINEAGE)):
        c.register("rows_in", registry_rows(t, rows))
        c.execute(f'CREATE TABLE "{t.name}" AS SELECT * FROM rows_in')
        c.unregister("rows_in")
    yield c
    c.close()


def build(con: duckdb.DuckDBPyConnection, lake: Path, now: dt.datetime) -> dict[str, dict[str, Any]]:
    out = catalog.catalog_tables(con, lake, now=now, tables=TABLES)
    return {r["table_name"]: r for r in out[cat.datasets.name].to_pylist()}


# --------------------------------------------------------------------------------------------- tests


def test_freshness_on_time_late_no_data_on_change() -> None:
    now = dt.datetime(2026, 11, 20, 12, tzinfo=UTC)
    hour, tol = dt.timedelta(hours=1), dt.timedelta(hours=3)
    assert catalog.freshness(hour, tol, now - dt.timedelta(hours=4), now) == catalog.Freshness(
        "on time", 4.0, 0.0
    )
    # late by the time since it fell due (its data's end + 1 h + 3 h), not by its age over the hour
    assert catalog.freshness(hour, tol, now - dt.timedelta(hours=6, minutes=30), now) == catalog.Freshness(
        "late", 6.5, 2.5
    )
    assert catalog.freshness(hour, tol, None, now).status == "no data"
    assert catalog.freshness(None, tol, now - dt.timedelta(days=40), now) == catalog.Freshness(
        "on change", 960.0, None
    )


def test_a_date_lasts_its_whole_beijing_day() -> None:
    assert catalog.newest_end(D1) == dt.datetime(2026, 11, 20, tzinfo=BJ)
    assert catalog.as_instant(D1) == dt.datetime(2026, 11, 18, 16, tzinfo=UTC)
    stamp = dt.datetime(2026, 11, 20, 3, tzinfo=UTC)
    assert catalog.newest_end(stamp) == stamp
    # a day still being written ends at its last publication, within the day
    during = dt.datetime(2026, 11, 19, 8, tzinfo=BJ)
    assert catalog.newest_end(D1, during) == during
    assert catalog.newest_end(D1, during - dt.timedelta(days=1)) == dt.datetime(2026, 11, 19, tzinfo=BJ)
    assert catalog.newest_end(D1, during + dt.timedelta(days=1)) == dt.datetime(2026, 11, 20, tzinfo=BJ)


def test_lake_facts_read_from_files_and_footers(lake: Path) -> None:
    facts = catalog.lake_facts(lake, HOURS)
    files = sorted((lake / "core" / HOURS.name).rglob("*.parquet"))
    assert facts.files == len(files) == 2
    assert facts.rows == 5
    assert facts.size_bytes == sum(f.stat().st_size for f in files)
    assert facts.partitions == (D1, D2)
    assert facts.last_write == dt.datetime.fromtimestamp(max(f.stat().st_mtime for f in files), UTC)
    assert catalog.lake_facts(lake, STATIONS) == catalog.LakeFacts()


def test_facts_from_the_ledger_agree_with_the_files(tmp_path: Path) -> None:
    """A serving refresh takes the facts of ledger parts from their records, opening no file: the
    catalog must say what the files say (the last write is the publication time instead)."""
    root = tmp_path / "lake"
    writes = [
        (D1, "a", [{"date": D1, "station": "1001A", "n": 3}, {"date": D1, "station": "1002A", "n": 2}]),
        (D1, "b", [{"date": D1, "station": "1003A", "n": 1}]),
        (D2, "a", []),  # a partition emptied by a rerun: a file, no rows, no coverage
    ]
    parts = []
    for day, name, rows in writes:
        put = lk.write_part(root, DAILY_MART, registry_rows(DAILY_MART, rows), day, part=name)
        parts.append(
            Part(
                DAILY_MART.name,
                day.isoformat(),
                put.part,
                "fp",
                "b",
                "u",
                len(rows),
                put.size_bytes,
                "r",
                T_NEW.isoformat(),
            )
        )
    from_ledger, from_files = catalog.ledger_facts(parts), catalog.lake_facts(root, DAILY_MART)
    assert from_ledger.partitions == (D1, D2) and from_ledger.dated_rows == (D1, D1)
    assert from_ledger.last_write == from_ledger.newest_rows_written == T_NEW
    writes = {"last_write": None, "newest_rows_written": None}
    assert dataclasses.replace(from_ledger, **writes) == dataclasses.replace(from_files, **writes)

    c = duckdb.connect()
    c.execute(
        view_sql(DAILY_MART, [str(root / r) for r in LocalLake(root).glob(lk.table_pattern(DAILY_MART))])
    )
    given = catalog.catalog_tables(
        c, root, now=T_NEW, tables=[DAILY_MART], given={DAILY_MART.name: from_ledger}
    )
    read = catalog.catalog_tables(c, root, now=T_NEW, tables=[DAILY_MART])
    (row_given,), (row_read,) = (t[cat.datasets.name].to_pylist() for t in (given, read))
    assert row_given["coverage_start"] == row_read["coverage_start"] == catalog.as_instant(D1)
    assert row_given["coverage_end"] == row_read["coverage_end"]
    unlike = {"last_updated_at"}
    assert {k: v for k, v in row_given.items() if k not in unlike} == {
        k: v for k, v in row_read.items() if k not in unlike
    }
    assert catalog.ledger_facts([]) == catalog.LakeFacts()


def test_datasets_live_facts_freshness_gate_quarantine_agreement(
    con: duckdb.DuckDBPyConnection, lake: Path
) -> None:
    newest = dt.datetime.combine(D2, dt.time(2), BJ).astimezone(UTC)  # the last hour written
    now = newest + dt.timedelta(hours=7)
    rows = build(con, lake, now)
    assert set(rows) == {t.name for t in TABLES}
    h = rows[HOURS.name]
    assert (h["rows"], h["partitions"], h["files"]) == (5, 2, 2)
    assert (h["first_partition"], h["last_partition"]) == (D1, D2)
    assert h["coverage_start"] == dt.datetime.combine(D1, dt.time(1), BJ)
    assert h["coverage_end"] == newest
    assert h["time_column"] == "observed_at"
    # hourly, tolerance 3 h: 7 h old is late, by the 3 h since it fell due (the hour and the tolerance)
    assert (h["freshness_status"], h["data_age_h"], h["late_by_h"]) == ("late", 7.0, 3.0)
    assert h["freshness_due_at"] == newest + dt.timedelta(hours=4)
    assert (h["owner_zh"], h["contact"], h["frequency_en"], h["expected_interval_h"]) == (
        "测试处",
        "test@example.gov.cn",
        "hourly",
        1.0,
    )
    assert h["sharing"] == "无条件共享" and h["sharing_conditions"] is None
    assert h["primary_key"] == "station,observed_at" and h["partition_by"] == "date"
    # latest gate run only: 4 expectation groups, 1 blocking failed, 1 warning failed, D2 blocked
    assert h["last_gate_run"] == "run-new" and h["last_gate_at"] == T_NEW
    assert (h["gate_passed"], h["gate_failed"], h["gate_warnings"]) == (1, 1, 1)
    assert (h["gate_partitions"], h["gate_partitions_blocked"]) == (2, 1)
    # quarantine: written by the same build (lineage)
    assert h["quarantine_tables"] == QUARANTINE.name and h["quarantined_rows"] == 4
    # agreement: 4 rows have both values, 3 agree
    assert h["agreement_percent"] == 75.0

    d = rows[DAILY_MART.name]
    # a daily table whose newest day is D1 (written after it ended) covers it to D2 00:00 Beijing
    assert d["coverage_start"] == dt.datetime.combine(D1, dt.time(0), BJ)
    assert d["coverage_end"] == dt.datetime.combine(D2, dt.time(0), BJ)
    expected_age = (now - dt.datetime.combine(D2, dt.time(0), BJ)).total_seconds() / 3600
    assert d["data_age_h"] == round(expected_age, 2) and d["freshness_status"] == "on time"
    assert d["quarantine_tables"] is None  # built from a table, not from raw input

    s = rows[STATIONS.name]
    assert (s["rows"], s["files"], s["freshness_status"], s["partitions"]) == (0, 0, "no data", 0)
    q = rows[QUARANTINE.name]
    assert q["sharing"] == "不予共享" and q["sharing_conditions"] == "内部 (internal)"
    # tables kept outside the lake: rows counted in the database, no bytes claimed
    lin = rows[lineage_schema.name]
    assert lin["rows"] == len(LINEAGE) and lin["size_bytes"] is None


def test_quality_rows_latest_run_agreement_and_quarantine(con: duckdb.DuckDBPyConnection, lake: Path) -> None:
    out = catalog.catalog_tables(con, lake, now=T_NEW, tables=TABLES)
    rows = [r for r in out[cat.quality.name].to_pylist() if r["table_name"] == HOURS.name]
    by = {(r["kind"], r["check_name"], r["column_name"]): r for r in rows}
    nn = by[("expectation", "expect_column_values_to_not_be_null", "station")]
    assert (nn["checked"], nn["failed"], nn["unexpected_count"], nn["success"], nn["run_id"]) == (
        2,
        1,
        2,
        False,
        "run-new",
    )
    assert ("expectation", "expect_column_values_to_not_be_null", "aqi") not in by  # older run only
    ag = by[("agreement", "aqi = aqi_published", "aqi")]
    assert (ag["checked"], ag["failed"], ag["share_percent"], ag["success"]) == (4, 1, 75.0, False)
    assert json.loads(ag["details"])["mostly"] == 0.9
    qu = by[("quarantine", QUARANTINE.name, None)]
    assert qu["failed"] == 4
    # why, per day: the rows of every quarantine table grouped by date and reason
    reasons = out[cat.quarantine_reasons.name].to_pylist()
    assert reasons == [
        {"table_name": QUARANTINE.name, "source": QUARANTINE.source, "date": D2, "reason": "bad", "rows": 4}
    ]


def test_lineage_edges_collapse_raw_objects_to_their_source(con: duckdb.DuckDBPyConnection) -> None:
    edges = catalog.lineage_table(con).to_pylist()
    by = {(e["output_table"], e["input_id"]): e for e in edges}
    raw = by[(HOURS.name, "raw/air")]
    assert (raw["input_kind"], raw["build"], raw["task"]) == ("raw", "demo.hourly", "air_quality.build")
    assert (raw["runs"], raw["output_partitions"]) == (2, 2)
    assert raw["first_recorded_at"] < raw["recorded_at"]
    down = by[(DAILY_MART.name, HOURS.name)]
    assert (down["input_kind"], down["task"], down["runs"]) == ("table", "air_quality.daily", 1)
    assert len(edges) == 3


def test_columns_describe_every_registry_column() -> None:
    tables = all_tables()
    cols = catalog.columns_table(tables).to_pylist()
    assert len(cols) == sum(len(t.columns) for t in tables)
    mine = {c["column_name"]: c for c in catalog.columns_table([HOURS]).to_pylist()}
    assert mine["aqi"]["unit"] == "1" and mine["aqi"]["max_value"] == 500
    assert json.loads(mine["category"]["allowed_values"]) == ["优", "良"]
    assert mine["category"]["value_check_severity"] == Severity.BLOCKING.value
    assert mine["station"]["is_primary_key"] and mine["date"]["is_partition_key"]
    assert mine["station"]["value_check_severity"] is None
    assert [c["position"] for c in mine.values()] == list(range(1, len(HOURS.columns) + 1))
    assert mine["category"]["value_labels"] is None  # plain allowed values have no labels


def test_coded_values_carry_their_labels_into_the_catalog() -> None:
    """Codes declared with labels in the registry (a permit version's status) are what the catalog,
    the risk pages and the exports show for each code: one declaration."""
    versions = get_table("core_permit__permits")
    [status] = [c for c in catalog.columns_table([versions]).to_pylist() if c["column_name"] == "status"]
    assert json.loads(status["allowed_values"]) == ["valid", "revoked", "cancelled"]
    assert json.loads(status["value_labels"]) == {"valid": "有效", "revoked": "已撤销", "cancelled": "已注销"}
    codes = Codes({"a": "甲", "b": "乙"})
    column = Column("kind", "string", "a kind", allowed=codes)
    assert (column.allowed, column.labels) == (("a", "b"), codes)
    assert (codes.label("b"), codes.label("z"), codes.label(None, "—")) == ("乙", "z", "—")
    assert dataclasses.replace(column, description="restated").labels == codes  # as a table restates it
    with pytest.raises(ValueError, match="labels must be of exactly its allowed values"):
        Column("kind", "string", "a kind", allowed=("a",), labels=codes)


def test_write_catalog_replaces_the_empty_views(
    con: duckdb.DuckDBPyConnection, lake: Path, tmp_path: Path
) -> None:
    for t in (cat.datasets, cat.columns, cat.lineage, cat.quality, cat.quarantine_reasons):
        con.execute(view_sql(t, []))  # what the serving refresh creates first
    built = catalog.catalog_tables(con, lake, now=T_NEW, tables=TABLES)
    catalog.write_catalog(con, built)
    catalog.write_catalog(con, built)  # and again over its own tables
    n = con.execute("SELECT count(*) FROM catalog_datasets").fetchone()
    assert n == (len(TABLES),)
    kinds = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name LIKE 'catalog_%' ORDER BY 1"
    ).fetchall()
    assert kinds == [("BASE TABLE",)] * 5
    typed = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'catalog_datasets'"
        ).fetchall()
    )
    assert typed["coverage_end"] == "TIMESTAMP WITH TIME ZONE" and typed["rows"] == "BIGINT"


# ------------------------------------------------------- freshness of registry tables from ledger parts


def ledger_part(table: str, partition: str, rows: int, written: dt.datetime, part: str = "p0") -> Part:
    stamp = written.astimezone(UTC).isoformat()
    return Part(table, partition, part, "fp", "b", "u", rows, 1000, "run", stamp)


def from_ledger(
    parts: dict[str, list[Part]], now: dt.datetime, checks: dict[str, dt.datetime] | None = None
) -> dict[str, dict[str, Any]]:
    """The catalog rows of registry tables whose facts are their ledger parts and the source checks of
    their builds (as a serving refresh gives them), over empty views: the facts alone must say it."""
    c = duckdb.connect()
    tables = [get_table(n) for n in parts]
    for t in tables:
        c.execute(view_sql(t, []))
    given = {n: catalog.ledger_facts(p, checks) for n, p in parts.items()}
    out = catalog.catalog_tables(c, "/nonexistent-lake", now=now, tables=tables, given=given)
    return {r["table_name"]: r for r in out[cat.datasets.name].to_pylist()}


HOURLY_BY_DATE = (
    "core_source__readings",
    "core_source__packets",
    "mart_source__hourly",
    "mart_source__daily",
)


def test_an_hourly_table_dated_by_day_is_late_once_its_feed_stops_not_at_the_days_end() -> None:
    """Tables expected hourly whose only time column is the date partition: today's data reach only
    as far as their last publication (a receiver fleet silent since 08:00), not to midnight."""
    stopped = dt.datetime(2026, 11, 20, 8, tzinfo=BJ)
    parts = {
        n: [
            ledger_part(n, "2026-11-19", 5000, stopped - dt.timedelta(hours=20)),
            ledger_part(n, "2026-11-20", 800, stopped, part="p1"),
        ]
        for n in HOURLY_BY_DATE
    }
    late = from_ledger(parts, dt.datetime(2026, 11, 20, 23, tzinfo=BJ))
    for n in HOURLY_BY_DATE:
        row = late[n]
        assert (row["freshness_status"], row["data_age_h"], row["late_by_h"]) == ("late", 15.0, 12.0)
    fresh = from_ledger(parts, stopped + dt.timedelta(minutes=30))
    assert {r["freshness_status"] for r in fresh.values()} == {"on time"}
    # a day published after it ended still ends at its midnight (a daily mart built at 01:00)
    built_next_day = {"mart_source__daily": [ledger_part("mart_source__daily", "2026-11-19", 9, stopped)]}
    row = from_ledger(built_next_day, stopped)["mart_source__daily"]
    assert row["data_age_h"] == 8.0


def test_the_newest_write_of_the_newest_partition_with_rows(lake: Path) -> None:
    late_empty = dt.datetime(2026, 11, 21, 3, tzinfo=UTC)
    parts = [
        ledger_part(DAILY_MART.name, "2026-11-20", 3, T_OLD),
        ledger_part(DAILY_MART.name, "2026-11-20", 2, T_NEW, part="p1"),
        ledger_part(DAILY_MART.name, "2026-11-19", 4, late_empty, part="p2"),  # an older day rewritten
        ledger_part(DAILY_MART.name, "2026-11-21", 0, late_empty, part="p3"),  # a file without rows
    ]
    facts = catalog.ledger_facts(parts)
    assert facts.dated_rows == (D1, D2) and facts.newest_rows_written == T_NEW
    files = sorted((lake / "core" / HOURS.name).rglob("*.parquet"))
    newest = max(f for f in files if f"date={D2}" in str(f))
    assert catalog.lake_facts(lake, HOURS).newest_rows_written == dt.datetime.fromtimestamp(
        newest.stat().st_mtime, UTC
    )


MONTHLY_MARTS = ("mart_water__basin_monthly", "mart_water__section_monthly")


def test_a_month_key_covers_its_month_and_a_month_to_date_mart_is_judged_by_its_last_rebuild() -> None:
    """The water marts are keyed by the month's first day and rebuilt every 4 h while the month's
    readings arrive: November's partition covers November so far, not 1 November alone."""
    now = dt.datetime(2026, 11, 20, 10, tzinfo=BJ)
    rebuilt = now - dt.timedelta(hours=1)
    parts = {
        n: [
            ledger_part(n, "2026-10-01", 40, dt.datetime(2026, 11, 1, 2, tzinfo=BJ)),
            ledger_part(n, "2026-11-01", 30, rebuilt, part="p1"),
        ]
        for n in MONTHLY_MARTS
    }
    rows = from_ledger(parts, now)
    for n in MONTHLY_MARTS:
        r = rows[n]
        assert r["coverage_start"] == dt.datetime(2026, 10, 1, tzinfo=BJ)
        assert r["coverage_end"] == rebuilt  # the month so far
        assert (r["freshness_status"], r["data_age_h"], r["late_by_h"]) == ("on time", 1.0, 0.0)
    # a month that closed, and no rebuild since: late by all but its expected 4 h and tolerance 2 h
    closed = {n: p[:1] for n, p in parts.items()}
    for r in from_ledger(closed, now).values():
        assert r["coverage_end"] == dt.datetime(2026, 11, 1, tzinfo=BJ)
        assert (r["freshness_status"], r["late_by_h"]) == ("late", 460.0)
    stalled = from_ledger(parts, now + dt.timedelta(days=2))
    assert {r["freshness_status"] for r in stalled.values()} == {"late"}


def test_a_month_ends_with_its_month() -> None:
    assert catalog.period_end(dt.date(2026, 1, 1), DateSpan.MONTH) == dt.date(2026, 2, 1)
    assert catalog.period_end(dt.date(2026, 2, 1), DateSpan.MONTH) == dt.date(2026, 3, 1)
    assert catalog.period_end(dt.date(2026, 12, 1), DateSpan.MONTH) == dt.date(2027, 1, 1)
    assert catalog.period_end(dt.date(2026, 12, 31)) == dt.date(2027, 1, 1)
    assert [t.name for t in all_tables() if t.date_span is DateSpan.MONTH] == list(MONTHLY_MARTS)
    with pytest.raises(ValueError, match="date span"):
        dataclasses.replace(STATIONS, date_span=DateSpan.MONTH)


def test_files_without_rows_are_no_data_never_on_time() -> None:
    """mart_risk__outlet_scores with only a 0-row part, written an hour ago: nothing is on time."""
    now = dt.datetime(2026, 11, 20, 10, tzinfo=BJ)
    name = "mart_risk__outlet_scores"
    row = from_ledger({name: [ledger_part(name, "2026-11-20", 0, now - dt.timedelta(hours=1))]}, now)[name]
    assert (row["files"], row["rows"], row["coverage_end"]) == (1, 0, None)
    assert (row["freshness_status"], row["data_age_h"], row["late_by_h"]) == ("no data", None, None)
    assert row["last_updated_at"] == now - dt.timedelta(hours=1)


def test_a_clean_feeds_quarantine_is_not_late_nor_is_its_source() -> None:
    """Rejects two days ago, none since (the air build writes empty evidence parts): the quarantine
    has nothing to hold, which is not lateness; ingestion health must not call the source late.
    (Built at the real time: ingestion health judges freshness when it reads.)"""
    now = dt.datetime.now(BJ)
    q, core = "quarantine_air__station_hourly", "core_air__station_hourly"

    def day(back: int) -> str:
        return (now - dt.timedelta(days=back)).date().isoformat()

    parts = {
        q: [
            ledger_part(q, day(2), 3, now - dt.timedelta(hours=40)),
            ledger_part(q, day(1), 0, now - dt.timedelta(hours=12)),
            ledger_part(q, day(0), 0, now - dt.timedelta(minutes=30)),
        ],
        core: [ledger_part(core, day(0), 48, now - dt.timedelta(minutes=30))],
    }
    rows = from_ledger(parts, now)
    assert rows[q]["freshness_status"] == "on change" and rows[q]["late_by_h"] is None
    assert (rows[q]["frequency_en"], rows[q]["expected_interval_h"]) == ("when input is rejected", None)
    c = duckdb.connect()
    c.register("catalog_datasets", pa.Table.from_pylist(list(rows.values())))
    (air,) = ingestion_health(c)
    assert (air["source"], air["tables"], air["late_tables"], air["late_names"]) == ("air", 2, 0, None)
    assert air["quarantined_rows"] == 3


PERMITS = ("core_permit__permits", "core_permit__outlets", "core_permit__outlet_limits")


def unit_state(build: str, status: str) -> UnitState:
    return UnitState(build, "all", "fp", status, {}, "run", "permit.build", "2026-11-17T02:00:00+00:00", None)


def test_permits_unchanged_for_days_are_on_time_after_a_successful_check() -> None:
    """The permit build publishes nothing when the API has nothing new: the daily landing that found
    nothing is what says the permits are current, not their last write three days ago."""
    now = dt.datetime(2026, 11, 20, 10, tzinfo=BJ)
    written, checked = now - dt.timedelta(hours=72), now - dt.timedelta(hours=4)
    parts = {n: [ledger_part(n, "", 120, written)] for n in PERMITS}
    checks = {"b": checked.astimezone(UTC).isoformat()}  # ledger_part's parts are by build "b"

    def rows(units: list[UnitState]) -> dict[str, dict[str, Any]]:
        return from_ledger(parts, now, catalog.settled_checks(checks, units))

    for r in rows([unit_state("b", "published")]).values():
        assert (r["freshness_status"], r["data_age_h"], r["late_by_h"]) == ("on time", 4.0, 0.0)
        assert r["last_updated_at"] == written  # the last write stays what it is
    # a unit that failed (new pages landed, not published) or was blocked: the check vouches for nothing
    for status in ("failed", "blocked"):
        for r in rows([unit_state("b", "published"), unit_state("b", status)]).values():
            assert (r["freshness_status"], r["data_age_h"], r["late_by_h"]) == ("late", 72.0, 46.0)
    assert {r["freshness_status"] for r in from_ledger(parts, now).values()} == {"late"}  # no check
    # a check older than the last write does not make the data older
    stale = {"b": (written - dt.timedelta(days=1)).isoformat()}
    for r in from_ledger(parts, now, catalog.settled_checks(stale, [])).values():
        assert r["data_age_h"] == 72.0


def _read_at(rows: dict[str, dict[str, Any]], when: dt.datetime) -> dict[str, tuple[Any, Any, Any]]:
    """(freshness_status, data_age_h, late_by_h) of every row as a reader judges them at ``when``."""
    c = duckdb.connect()
    c.register("stored", cat.datasets.conform(pa.Table.from_pylist(list(rows.values()))))
    c.execute("CREATE TABLE catalog_datasets AS SELECT * FROM stored")
    at = f"TIMESTAMPTZ '{when.astimezone(UTC).isoformat()}'"
    found = c.execute(
        f"SELECT table_name, freshness_status, data_age_h, late_by_h FROM {catalog.datasets_as_of(at)} d"
    ).fetchall()
    return {name: (status, age, late) for name, status, age, late in found}


def test_readers_judge_freshness_when_they_read_not_when_the_catalog_was_built() -> None:
    """A catalog built at 10:00 with every feed on time, then no run rebuilt it (the runs stopped):
    read two days later, the hourly tables are late by what their data's age says; the tables with no
    interval (on change) or no rows (no data) keep their verdict."""
    now = dt.datetime(2026, 11, 20, 10, tzinfo=BJ)
    recent = now - dt.timedelta(minutes=30)
    parts = {n: [ledger_part(n, "2026-11-20", 48, recent)] for n in HOURLY_BY_DATE}
    parts["quarantine_air__station_hourly"] = [
        ledger_part("quarantine_air__station_hourly", "2026-11-20", 3, recent)
    ]
    parts["mart_risk__outlet_scores"] = [ledger_part("mart_risk__outlet_scores", "2026-11-20", 0, recent)]
    rows = from_ledger(parts, now)
    as_built = {n: (r["freshness_status"], r["data_age_h"], r["late_by_h"]) for n, r in rows.items()}
    assert _read_at(rows, now) == as_built  # the same judgement at the same time
    assert {as_built[n][0] for n in HOURLY_BY_DATE} == {"on time"}

    later = _read_at(rows, now + dt.timedelta(days=2))
    for n in HOURLY_BY_DATE:
        r = rows[n]
        assert (
            r["freshness_due_at"]
            == r["freshness_reference_at"]
            + dt.timedelta(hours=r["expected_interval_h"])
            + get_table(n).freshness_tolerance
        )
        age = round((now + dt.timedelta(days=2) - r["freshness_reference_at"]).total_seconds() / 3600, 2)
        since_due = (now + dt.timedelta(days=2) - r["freshness_due_at"]).total_seconds() / 3600
        assert later[n] == ("late", age, round(since_due, 2))  # late by the time since it fell due
    assert as_built["quarantine_air__station_hourly"] == ("on change", 0.5, None)
    assert later["quarantine_air__station_hourly"] == ("on change", 48.5, None)  # its data only older
    assert (
        later["mart_risk__outlet_scores"] == as_built["mart_risk__outlet_scores"] == ("no data", None, None)
    )


def test_rows_dated_in_the_future_do_not_keep_a_stalled_feed_on_time() -> None:
    """One logger's clock runs years ahead: its readings land in a 2030 partition. The fleet stalled
    ten hours ago; the table is late by what its last write says, though its coverage reads 2030."""
    now = dt.datetime(2026, 11, 20, 10, tzinfo=BJ)
    stalled = now - dt.timedelta(hours=10)
    name = "core_source__readings"
    parts = {
        name: [
            ledger_part(name, "2026-11-20", 5000, stalled),
            ledger_part(name, "2030-01-01", 12, stalled, part="p1"),
        ]
    }
    r = from_ledger(parts, now)[name]
    assert r["coverage_end"] == dt.datetime(2030, 1, 1, tzinfo=BJ)  # what the rows say (the day begun)
    assert r["freshness_reference_at"] == stalled
    assert (r["freshness_status"], r["data_age_h"]) == ("late", 10.0)


def test_a_core_table_names_the_quarantine_of_a_build_reading_its_raw_input() -> None:
    """Water: the snapshots build quarantines the rows the readings build never sees; they share the
    raw input, not a build, and the readings' page said nothing was quarantined."""
    from schemas.registry import get_table
    from warehouse.catalog import related_quarantine

    lineage = pa.table(
        {
            "output_table": [
                "core_water__section_readings",
                "quarantine_water__section_readings",
                "mart_water__section_monthly",
                "mart_water__section_monthly",
                "core_air__station_hourly",
            ],
            "build": ["water.readings", "water.snapshots", "water.monthly", "water.monthly", "air.hourly"],
            "input_kind": ["raw", "raw", "raw", "table", "raw"],
            "input_id": ["raw/water", "raw/water", "raw/water", "core_water__section_readings", "raw/air"],
        }
    )
    names = (
        "core_water__section_readings",
        "quarantine_water__section_readings",
        "mart_water__section_monthly",
        "core_air__station_hourly",
        "quarantine_air__station_hourly",
    )
    tables = [get_table(n) for n in names]
    assert related_quarantine(tables[0], tables, lineage) == ["quarantine_water__section_readings"]
    assert related_quarantine(tables[2], tables, lineage) == []  # a mart: built from a table
    assert related_quarantine(tables[3], tables, lineage) == []  # another raw input


def test_an_events_table_covers_its_days_without_events() -> None:
    """Exceedances on the 19th, none on the 20th (the daily risk build publishes an empty day): the
    table is current to the 20th, not late from the 19th's last exceedance hour; a table of outlet
    scores is no events table — its empty day is still no data."""
    built = dt.datetime(2026, 11, 21, 1, tzinfo=BJ)  # the 20th's risk marts, built after it ended
    names = ("mart_source__exceedance_hourly", "mart_source__exceedance_daily", "mart_risk__indicators")
    parts = {
        n: [
            ledger_part(n, "2026-11-19", 3, built - dt.timedelta(days=1)),
            ledger_part(n, "2026-11-20", 0, built, part="p1"),
        ]
        for n in names
    }
    rows = from_ledger(parts, built + dt.timedelta(hours=2))
    for n in names:
        assert rows[n]["freshness_status"] == "on time", n
        assert rows[n]["coverage_end"] == dt.datetime(2026, 11, 21, 0, tzinfo=BJ), n
    # only empty days: still covered (nothing happened yet), not "no data"
    quiet = {n: [ledger_part(n, "2026-11-20", 0, built)] for n in names}
    assert {r["freshness_status"] for r in from_ledger(quiet, built).values()} == {"on time"}
