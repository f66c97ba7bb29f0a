"""The ledger (raw manifest, units, parts, lineage, locks) and the read-only SQL guard."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ecocloud.query import ReadOnlyError, check_read_only
from ingest.raw import land_bytes
from warehouse.ledger import Ledger, LineageRow, LockTimeout, Part, UnitState


def ledger_at(tmp_path: Path) -> Ledger:
    return Ledger(f"sqlite:///{tmp_path / 'state.sqlite'}")


def test_same_bytes_land_once_and_new_bytes_become_the_latest(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path)
    day = dt.date(2024, 1, 2)
    kw = {"source": "air", "logical_name": "china_sites_20240102.csv", "partition": day, "origin": "test"}
    first = land_bytes(tmp_path, ledger, data=b"v1", **kw)  # type: ignore[arg-type]
    again = land_bytes(tmp_path, ledger, data=b"v1", **kw)  # type: ignore[arg-type]
    assert again == first
    assert (tmp_path / first.raw_path).read_bytes() == b"v1"
    assert first.raw_path.startswith("raw/air/date=2024-01-02/china_sites_20240102.")
    second = land_bytes(tmp_path, ledger, data=b"v2 longer", **kw)  # type: ignore[arg-type]
    assert ledger.latest_raw("air", "china_sites_20240102.csv") == second
    assert len(ledger.raw_objects("air")) == 2
    assert (tmp_path / first.raw_path).read_bytes() == b"v1"  # raw objects are never edited


def _state(unit: str, fp: str, status: str = "published") -> UnitState:
    return UnitState(
        "air.hourly", unit, fp, status, {"rows": 3}, "run-1", "test", "2024-01-02T00:00:00+00:00", None
    )


def _part(partition: str, part: str, fp: str) -> Part:
    return Part(
        "core_x__y", partition, part, fp, "x.y", partition, 3, 100, "run-1", "2024-01-02T00:00:00+00:00"
    )


def test_units_parts_and_lineage_are_recorded_together(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path)
    assert ledger.unit_states("air.hourly") == {}
    lineage = [LineageRow("core_x__y", "2024-01-02", "data", "raw", "raw/air/f.csv", "", "sha1")]
    ledger.record_unit(
        _state("2024-01-02", "fp1"), written=[_part("2024-01-02", "data", "fp1")], lineage_rows=lineage
    )
    [state] = ledger.unit_states("air.hourly").values()
    assert (state.fingerprint, state.status, state.counts) == ("fp1", "published", {"rows": 3})
    assert [r["input_id"] for r in ledger.lineage("core_x__y")] == ["raw/air/f.csv"]
    ledger.record_unit(_state("2024-01-02", "fp2", "blocked"))
    assert ledger.unit_state("air.hourly", "2024-01-02").status == "blocked"  # type: ignore[union-attr]
    # a failure inside the transaction leaves nothing half-written
    with pytest.raises(sa.exc.IntegrityError):
        ledger.record_unit(
            _state("2024-01-03", "fp3"), lineage_rows=[LineageRow(None, "", "", "", "", "", "")]
        )  # type: ignore[arg-type]
    assert ledger.unit_state("air.hourly", "2024-01-03") is None


def test_partition_versions_follow_their_parts(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path)
    ledger.record_unit(_state("a", "f1"), written=[_part("2024-01-02", "a", "f1")])
    v1 = ledger.partition_versions("core_x__y")
    ledger.record_unit(_state("b", "f2"), written=[_part("2024-01-02", "b", "f2")])
    v2 = ledger.partition_versions("core_x__y")
    assert set(v1) == set(v2) == {"2024-01-02"} and v1 != v2  # a part added: a new version
    ledger.record_unit(_state("b", "f2"), removed=[("core_x__y", "2024-01-02", "b")])
    assert ledger.partition_versions("core_x__y") == v1  # the same parts: the same version
    assert [p.part for p in ledger.parts("core_x__y")] == ["a"]


def test_fetch_state_round_trip(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path)
    assert ledger.fetch_state("http://x/a") == (None, None, None)
    ledger.record_fetch("http://x/a", '"e1"', "Mon, 01 Jan 2024 00:00:00 GMT", "abc")
    ledger.record_fetch("http://x/a", '"e2"', None, "def")
    assert ledger.fetch_state("http://x/a") == ('"e2"', None, "def")


def _hold(url: str, key: str, ready: Any, release: Any) -> None:
    ledger = Ledger(url)
    with ledger.locked([key]):
        ready.set()
        release.wait(30)


def test_a_lock_held_by_another_process_waits_and_dies_with_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(url, "unit:air.hourly/2024-01-02", ready, release))
    holder.start()
    assert ready.wait(30)
    ledger = Ledger(url)
    with pytest.raises(LockTimeout), ledger.locked(["unit:air.hourly/2024-01-02"], timeout_s=0.3):
        pass
    with ledger.locked(["unit:air.hourly/2024-01-03"], timeout_s=0.3):
        pass  # another key is free
    holder.kill()  # a killed holder: the operating system releases its lock
    holder.join()
    with ledger.locked(["unit:air.hourly/2024-01-02"], timeout_s=5):
        pass


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1",
        "with a as (select 1) select * from a",
        "DESCRIBE SELECT 1",
        "SHOW TABLES",
        "EXPLAIN SELECT 1",
        "EXPLAIN ANALYZE SELECT 1",
        "EXPLAIN (FORMAT json) SELECT 1",
        "/* why */ EXPLAIN ANALYZE -- how long\n SELECT 1",
        "SUMMARIZE SELECT 1 AS a",
        "FROM range(3) SELECT range",
        "VALUES (1), (2)",
        "PIVOT (SELECT 'a' AS k, 1 AS v) ON k USING sum(v)",
        "PIVOT (SELECT 'a' AS k, 1 AS v) ON k IN ('a') USING sum(v)",
        "UNPIVOT (SELECT 1 AS a, 2 AS b) ON a, b INTO NAME k VALUE v",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
        "SELECT unnest([1, 2]), list_transform([1], x -> x + 1)",
        "SELECT * FROM generate_series(1, 3) UNION ALL BY NAME SELECT * FROM range(2)",
        "SELECT * FROM duckdb_tables()",
    ],
)
def test_reads_are_allowed(query: str) -> None:
    check_read_only(query)


def test_table_macros_of_the_serving_database_are_allowed() -> None:
    query = "SELECT * FROM limit_in_force('x', 'DA001', 'a21026', now())"
    check_read_only(query, table_macros=frozenset({"limit_in_force"}))
    with pytest.raises(ReadOnlyError, match="limit_in_force"):
        check_read_only(query)  # unknown table functions fail closed


@pytest.mark.parametrize(
    "query",
    [
        "CREATE TABLE t (a INT)",
        "COPY (SELECT 1) TO '/tmp/x.csv'",
        "ATTACH 'x.db'",
        "INSTALL httpfs",
        "SET threads = 1",
        "SELECT 1; DROP VIEW core_air__station_hourly",
        "",
        # statement forms that hide a write behind a read
        "EXPLAIN ANALYZE COPY (SELECT 1) TO '/tmp/x.csv'",
        "EXPLAIN (ANALYZE, FORMAT json) COPY (SELECT 1) TO '/tmp/x.csv'",
        "/* c */ EXPLAIN /* c */ ANALYZE COPY (SELECT 1) TO '/tmp/x.csv'",
        "WITH x AS (COPY (SELECT 1) TO '/tmp/x.csv') SELECT 1",
        "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
        "WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x",
        "SELECT * FROM json_execute_serialized_sql('{}')",
        "SELECT * FROM main.json_execute_serialized_sql('{}')",
        "SELECT * FROM \"query\"('SELECT 1')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM arrow_scan(1, 2, 3)",
        "SELECT * FROM checkpoint()",
        "CREATE TABLE x AS PIVOT (SELECT 'a' AS k, 1 AS v) ON k USING sum(v)",
        "PIVOT (SELECT * FROM json_execute_serialized_sql('{}')) ON k USING count(*)",
        "WITH c AS (COPY (SELECT 1) TO '/tmp/x') PIVOT (SELECT 'a' AS k) ON k USING count(*)",
        # every other statement type
        "CALL pragma_version()",
        "PRAGMA threads = 4",
        "RESET memory_limit",
        "SET VARIABLE x = 1",
        "USE system",
        "DETACH ecocloud",
        "LOAD httpfs",
        "PREPARE p AS SELECT 1",
        "EXECUTE p",
        "EXPORT DATABASE '/tmp/x'",
        "CREATE TEMP TABLE t AS SELECT 1",
        "CHECKPOINT",
    ],
)
def test_writes_are_refused(query: str) -> None:
    with pytest.raises(ReadOnlyError):
        check_read_only(query)
