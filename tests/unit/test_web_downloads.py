"""A dataset download: its rows as a spreadsheet reads the CSV (formulas, Beijing time), its range,
its file gone from the disk as soon as it is open, and the limit on files at once."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from ecocloud.web.downloads import _SLOTS, Busy, Download, DownloadRefused, date_range, prepare
from schemas.clock import BEIJING
from schemas.registry import get_table

pytestmark = pytest.mark.unit

TABLE = get_table("core_air__station_hourly")
MONTHLY = get_table("mart_water__basin_monthly")
WHOLE = get_table("core_permit__outlets")
DAY = dt.date(2026, 12, 5)
LIMITS = {"memory_limit": "256MB", "threads": 1}


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder downloads are written in, empty."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


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


def _read(got: Download) -> bytes:
    return b"".join(got.chunks())


def test_a_csv_download_never_makes_a_formula_and_says_beijing_time(tmp: Path) -> None:
    got = prepare(_con(), TABLE, "csv", (DAY, DAY), max_rows=10, concurrency=1, **LIMITS)
    assert list(tmp.iterdir()) == []  # open, its folder gone: the bytes go when it closes
    data = _read(got)
    assert data.startswith("\ufeff".encode()) and len(data) == got.size  # Excel reads the Chinese right
    (row,) = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert row["station_code"] == '\'=HYPERLINK("http://x")'
    assert row["observed_at"] == "2026-12-05 08:00:00"  # 00:00 UTC
    assert got.filename == f"{TABLE.name}_2026-12-05.csv"


def test_a_parquet_download_keeps_the_values_as_they_are(tmp: Path) -> None:
    got = prepare(
        _con(), TABLE, "parquet", (DAY, DAY + dt.timedelta(days=1)), max_rows=10, concurrency=1, **LIMITS
    )
    data = pq.read_table(io.BytesIO(_read(got)))
    assert data.column("station_code").to_pylist() == ["-1+2", '=HYPERLINK("http://x")']  # key order


def test_too_many_rows_or_days_are_refused_before_any_file(tmp: Path) -> None:
    with pytest.raises(DownloadRefused, match="2 rows: at most 1 per download"):
        prepare(_con(), TABLE, "csv", (DAY, DAY + dt.timedelta(days=1)), max_rows=1, concurrency=1, **LIMITS)
    assert list(tmp.iterdir()) == []
    with pytest.raises(DownloadRefused, match="32 days asked for: at most 31"):
        date_range(TABLE, "2026-11-01", "2026-12-02", None, 31)
    assert date_range(TABLE, None, "2026-12-01", DAY, 31) == (dt.date(2026, 12, 1), dt.date(2026, 12, 1))
    assert date_range(TABLE, None, None, DAY, 31) == (DAY, DAY)  # the newest partition
    assert date_range(TABLE, None, None, None, 31) is None  # nothing published yet


def test_a_monthly_table_downloads_whole_months_and_an_unpartitioned_one_whole() -> None:
    """A monthly table's rows are keyed by the month's first day: 5–30 November is November."""
    assert date_range(MONTHLY, "2026-11-05", "2026-11-30", None, 31) == (dt.date(2026, 11, 1),) * 2
    assert date_range(MONTHLY, "2026-01-15", "2026-12-31", None, 31) == (
        dt.date(2026, 1, 1),
        dt.date(2026, 12, 1),
    )
    assert date_range(WHOLE, None, None, DAY, 31) is None
    with pytest.raises(DownloadRefused, match="no partitions: it downloads whole"):
        date_range(WHOLE, "2026-12-01", None, DAY, 31)


def test_files_at_once_are_limited_until_each_is_read_or_given_up(tmp: Path) -> None:
    first = prepare(_con(), TABLE, "csv", (DAY, DAY), max_rows=10, concurrency=1, **LIMITS)
    with pytest.raises(Busy, match="try again"):  # the first one is not read yet
        prepare(_con(), TABLE, "csv", (DAY, DAY), max_rows=10, concurrency=1, **LIMITS)
    _read(first)  # read to its end: closed
    second = prepare(_con(), TABLE, "csv", (DAY, DAY), max_rows=10, concurrency=1, **LIMITS)
    second.close()  # given up (the client went away): closed too
    second.close()  # the stream's end and the response's background task may both close it
    prepare(_con(), TABLE, "csv", (DAY, DAY), max_rows=10, concurrency=1, **LIMITS).close()


def test_a_failure_while_writing_gives_the_slot_back(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk at mkdtemp, or DuckDB failing while it writes, must not leave a slot taken for good."""

    def full(*args: object, **kwargs: object) -> str:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(tempfile, "mkdtemp", full)
        for _ in range(3):
            with pytest.raises(OSError, match="No space left"):
                prepare(_con(), TABLE, "csv", (DAY, DAY), max_rows=10, concurrency=2, **LIMITS)
    with pytest.raises(duckdb.Error):  # DuckDB refuses, inside the slot
        prepare(_con(), TABLE, "csv", None, max_rows=10, concurrency=2, memory_limit="lots", threads=1)
    assert list(tmp.iterdir()) == []
    with _SLOTS._lock:
        assert _SLOTS._busy == 0
