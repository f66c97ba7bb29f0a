"""A dataset's rows as a file (``/datasets/{name}/data.csv`` and ``.parquet``): what the public may
take of a 无条件共享 dataset, and a logged-in role of what it may see.

DuckDB writes the file (``COPY``, streamed from the lake's parts, within the SQL service's memory
and thread limits, spilling into the download's own folder) into a temporary folder; the file is
then opened and its folder deleted, so the bytes go when the response closes the file — sent, given
up by the client, or the process gone. Parquet keeps the registry's types (instants in UTC); CSV is
for a spreadsheet, as every CSV the platform writes for people (``ecocloud.spreadsheet``): UTF-8
with a BOM, instants as Beijing wall time, text that would start a formula prefixed with ``'``.

A download is one partition range of at most ``web_download_max_days`` days (a monthly table's
months are whole) and ``web_download_max_rows`` rows; a table without a partition column downloads
whole. At most ``web_download_concurrency`` files exist at once (being written or being sent): the
disk they take is bounded, and one more reader is told to come back.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import duckdb

from ecocloud.errors import InTwoLanguages
from ecocloud.spreadsheet import FORMULA_START, NOT_A_FORMULA
from schemas.clock import BEIJING_ZONE
from schemas.registry import DateSpan, Table
from schemas.sql import string_literal

__all__ = [
    "FORMATS",
    "Busy",
    "Download",
    "DownloadRefused",
    "date_range",
    "prepare",
    "prepare_file",
    "rows_sql",
]

FORMATS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
_BOM = "\ufeff".encode()
_CHUNK = 1 << 20
_FORMULA_START_SQL = "[" + ", ".join(string_literal(c) for c in FORMULA_START) + "]"
_NOT_A_FORMULA_SQL = ", ".join(string_literal(c) for c in NOT_A_FORMULA)


class DownloadRefused(InTwoLanguages):
    """The range asked for cannot be a download (bad dates, too long, too many rows): a 400."""


class Busy(InTwoLanguages):
    """Downloads are being prepared or sent up to the limit: a 503, try again."""


class _Slots:
    """At most ``limit`` download files at once; the next reader is told to come back (not queued:
    each holds a DuckDB scan or a file on the temporary disk)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy = 0

    def take(self, limit: int) -> None:
        with self._lock:
            if self._busy >= limit:
                raise Busy(
                    "downloads are being prepared for other users: try again in a minute",
                    "其他用户的下载正在准备中，请稍后再试",
                )
            self._busy += 1

    def give_back(self) -> None:
        with self._lock:
            self._busy -= 1


_SLOTS = _Slots()


def _day(text: str | None, what_en: str, what_zh: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise DownloadRefused(
            f"{what_en} {text!r} is not a date (YYYY-MM-DD)", f"{what_zh} {text!r} 不是日期（YYYY-MM-DD）"
        ) from None


def date_range(
    table: Table, first: str | None, last: str | None, newest: dt.date | None, max_days: int
) -> tuple[dt.date, dt.date] | None:
    """The partition range to write: as given (one end alone: that day), else the newest partition;
    a monthly table's months whole (its rows are keyed by their month's first day). None: the
    table has no partition column (it downloads whole) or no partition yet."""
    start, end = _day(first, "from", "起始日"), _day(last, "to", "截止日")
    if table.partition_by is None:
        if start or end:
            raise DownloadRefused(
                f"{table.name} has no partitions: it downloads whole, without from/to",
                f"{table.name} 不分区，整表下载，无需起始日与截止日",
            )
        return None
    start, end = start or end or newest, end or start or newest
    if start is None or end is None:
        return None
    if start > end:
        raise DownloadRefused(f"from {start} is after to {end}", f"起始日 {start} 晚于截止日 {end}")
    if table.date_span is DateSpan.MONTH:
        return start.replace(day=1), end.replace(day=1)
    if (end - start).days + 1 > max_days:
        raise DownloadRefused(
            f"{(end - start).days + 1} days asked for: at most {max_days} per download",
            f"所选 {(end - start).days + 1} 天，每次下载至多 {max_days} 天",
        )
    return start, end


def _spreadsheet_cell(table: Table, name: str) -> str:
    """A column as a spreadsheet should read it from CSV (see the module's docstring)."""
    col, quoted = table.column(name), f'"{name}"'
    if col.type == "timestamp":
        return (
            f"strftime(timezone({string_literal(BEIJING_ZONE)}, {quoted}), '%Y-%m-%d %H:%M:%S') AS {quoted}"
        )
    if col.type == "string":
        return (
            f"CASE WHEN list_contains({_FORMULA_START_SQL}, left({quoted}, 1)) "
            f"AND {quoted} NOT IN ({_NOT_A_FORMULA_SQL}) THEN '''' || {quoted} "
            f"ELSE {quoted} END AS {quoted}"
        )
    return quoted


def rows_sql(table: Table, fmt: str, where: str) -> str:
    """The rows of ``table`` satisfying ``where``, in key order, as ``fmt`` holds them."""
    names = table.column_names
    listed = ", ".join(f'"{n}"' if fmt == "parquet" else _spreadsheet_cell(table, n) for n in names)
    order = ", ".join(f'"{k}"' for k in table.primary_key)
    return f'SELECT {listed} FROM "{table.name}" WHERE {where}' + (f" ORDER BY {order}" if order else "")


class Download:
    """A prepared file, open, its folder already gone: its bytes are read once, then the file closed
    (which frees its disk space and its slot)."""

    def __init__(self, handle: BinaryIO, filename: str, fmt: str) -> None:
        self.handle, self.filename, self.fmt = handle, filename, fmt
        self.size = os.fstat(handle.fileno()).st_size + (len(_BOM) if fmt == "csv" else 0)
        self._closed = False
        self._lock = threading.Lock()  # the stream's end and the response's background task both close

    def chunks(self) -> Iterator[bytes]:
        try:
            if self.fmt == "csv":
                yield _BOM
            while chunk := self.handle.read(_CHUNK):
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.handle.close()
        _SLOTS.give_back()


def prepare(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    fmt: str,
    days: tuple[dt.date, dt.date] | None,
    *,
    max_rows: int,
    concurrency: int,
    memory_limit: str,
    threads: int,
) -> Download:
    """Write the rows of ``table`` in ``days`` (all of them for None) to a temporary ``fmt`` file and
    open it. Raises DownloadRefused beyond ``max_rows`` and Busy beyond ``concurrency`` files."""
    where, span = "true", ""
    if table.partition_by and days is not None:
        # dates, not text: literals are safe (COPY takes no parameters)
        where = f"\"{table.partition_by}\" BETWEEN DATE '{days[0]}' AND DATE '{days[1]}'"
        span = f"_{days[0]}" + (f"_{days[1]}" if days[1] != days[0] else "")
    (rows,) = con.execute(f'SELECT count(*) FROM "{table.name}" WHERE {where}').fetchone() or (0,)
    if rows > max_rows:
        fewer = " (choose fewer days)" if table.partition_by else ""
        raise DownloadRefused(
            f"{rows:,} rows: at most {max_rows:,} per download{fewer}",
            f"共 {rows:,} 行，每次下载至多 {max_rows:,} 行"
            + ("，请缩短日期范围" if table.partition_by else ""),
        )

    def write(path: Path) -> None:
        con.execute(f"SET memory_limit = {string_literal(memory_limit)}")
        con.execute(f"SET threads = {int(threads)}")
        con.execute(f"SET temp_directory = {string_literal(str(path.parent / 'spill'))}")
        options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
        con.execute(f"COPY ({rows_sql(table, fmt, where)}) TO {string_literal(str(path))} ({options})")

    return prepare_file(write, f"{table.name}{span}.{fmt}", fmt, concurrency=concurrency)


def prepare_file(write: Callable[[Path], object], filename: str, fmt: str, *, concurrency: int) -> Download:
    """A download file ``write`` writes (given its path, in a folder of its own), open, its folder
    gone; raises Busy beyond ``concurrency`` files, and what ``write`` raises (nothing kept)."""
    _SLOTS.take(concurrency)
    folder: Path | None = None
    try:
        folder = Path(tempfile.mkdtemp(prefix="ecocloud-download-"))
        path = folder / filename
        write(path)
        handle = path.open("rb")
    except BaseException:
        _SLOTS.give_back()
        raise
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)  # an open file keeps its bytes until closed
    return Download(handle, path.name, fmt)
