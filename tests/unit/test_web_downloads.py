"""A dataset download's rows as a spreadsheet reads the CSV (formulas, Beijing time) and its range."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import duckdb
import pytest

from ecocloud.web.downloads import DownloadRefused, date_range, prepare
from schemas.clock import BEIJING
from schemas.registry import get_table

pytestmark = pytest.mark.unit

TABLE = get_table("core_air__station_hourly")
DAY = dt.date(2026, 12, 5)


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    row = {c.name: None for c in TABLE.columns} | {
        "date": DAY,
        "observed_at": dt.datetime(2026, 12, 5, 8, 0, tzinfo=BEIJING),
        "station_code": '=HYPERLINK("http://x")',
    }
    hostile = TABLE.from_rows([row, row | {"station_code": "-1+2", "date": DAY + dt.timedelta(days=1)}])
    con.register("rows_in", hostile)
    con.execute(f'CREATE TABLE "{TABLE.name}" AS SELECT * FROM rows_in')
    return con


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_a_csv_download_never_makes_a_formula_and_says_beijing_time() -> None:
    got = prepare(_con(), TABLE, "csv", (DAY, DAY), max_rows=10, concurrency=1)
    try:
        (row,) = _csv(got.path)
        assert row["station_code"] == '\'=HYPERLINK("http://x")'
        assert row["observed_at"] == "2026-12-05 08:00:00"  # 00:00 UTC
        assert b"".join(got.chunks()).startswith("\ufeff".encode())  # Excel reads the Chinese right
        assert got.filename == f"{TABLE.name}_2026-12-05.csv"
    finally:
        got.remove()
    assert not got.folder.exists()


def test_a_parquet_download_keeps_the_values_as_they_are() -> None:
    import pyarrow.parquet as pq

    got = prepare(_con(), TABLE, "parquet", (DAY, DAY + dt.timedelta(days=1)), max_rows=10, concurrency=1)
    try:
        data = pq.read_table(got.path)
        assert data.column("station_code").to_pylist() == ["-1+2", '=HYPERLINK("http://x")']  # key order
    finally:
        got.remove()


def test_too_many_rows_or_days_are_refused_before_any_file() -> None:
    with pytest.raises(DownloadRefused, match="2 rows in that range: at most 1"):
        prepare(_con(), TABLE, "csv", (DAY, DAY + dt.timedelta(days=1)), max_rows=1, concurrency=1)
    with pytest.raises(DownloadRefused, match="32 days asked for: at most 31"):
        date_range("2026-11-01", "2026-12-02", None, 31)
    assert date_range(None, "2026-12-01", DAY, 31) == (dt.date(2026, 12, 1), dt.date(2026, 12, 1))
    assert date_range(None, None, DAY, 31) == (DAY, DAY)  # the newest partition
    assert date_range(None, None, None, 31) is None  # nothing published yet


def test_more_downloads_at_once_than_allowed_are_told_to_come_back() -> None:
    from ecocloud.web.downloads import _SLOTS, Busy

    _SLOTS.take(1)  # one download being prepared
    try:
        with pytest.raises(Busy, match="try again"):
            prepare(_con(), TABLE, "csv", (DAY, DAY), max_rows=10, concurrency=1)
    finally:
        _SLOTS.give_back()
    prepare(_con(), TABLE, "csv", (DAY, DAY), max_rows=10, concurrency=1).remove()  # its slot is free again
