"""Raw manifest, build ledger and the read-only SQL guard."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ecocloud.query import ReadOnlyError, check_read_only
from ingest.raw import land_bytes
from warehouse.ledger import Ledger


def test_same_bytes_land_once_and_new_bytes_become_the_latest(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
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


def test_build_is_current_only_for_same_inputs_version_and_success(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    assert not ledger.is_current("air", "hourly/2024-01-02", "sha1", "v1")
    ledger.record_build("air", "hourly/2024-01-02", "sha1", "v1", "published", {"rows": 3})
    assert ledger.is_current("air", "hourly/2024-01-02", "sha1", "v1")
    assert not ledger.is_current("air", "hourly/2024-01-02", "sha2", "v1")
    assert not ledger.is_current("air", "hourly/2024-01-02", "sha1", "v2")
    ledger.record_build("air", "hourly/2024-01-02", "sha1", "v1", "blocked", {})
    assert not ledger.is_current("air", "hourly/2024-01-02", "sha1", "v1")
    assert ledger.build("air", "hourly/2024-01-02").status == "blocked"  # type: ignore[union-attr]


def test_fetch_state_round_trip(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    assert ledger.fetch_state("http://x/a") == (None, None, None)
    ledger.record_fetch("http://x/a", '"e1"', "Mon, 01 Jan 2024 00:00:00 GMT", "abc")
    ledger.record_fetch("http://x/a", '"e2"', None, "def")
    assert ledger.fetch_state("http://x/a") == ('"e2"', None, "def")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1",
        "with a as (select 1) select * from a",
        "DESCRIBE SELECT 1",
        "SHOW TABLES",
        "EXPLAIN SELECT 1",
    ],
)
def test_reads_are_allowed(query: str) -> None:
    check_read_only(query)


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
    ],
)
def test_writes_are_refused(query: str) -> None:
    with pytest.raises(ReadOnlyError):
        check_read_only(query)
