"""A dataset's rows as a file (``/datasets/{name}/data.csv`` and ``.parquet``): what the public may
take of a 无条件共享 dataset, and a logged-in role of what it may see.

DuckDB writes the file (``COPY``: vectorised, streamed from the lake's parts, memory bounded) into a
temporary folder the response deletes once sent. Parquet keeps the registry's types (instants in
UTC); CSV is for a spreadsheet, as every CSV the platform writes for people (``ecocloud.spreadsheet``):
UTF-8 with a BOM, instants as Beijing wall time, text that would start a formula prefixed with ``'``.
A download is one partition range of at most ``web_download_max_days`` days and
``web_download_max_rows`` rows; at most ``web_download_concurrency`` are prepared at once.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb

from ecocloud.errors import InTwoLanguages
from schemas.clock import BEIJING_ZONE
from schemas.registry import Table
from schemas.sql import string_literal

__all__ = ["FORMATS", "Busy", "Download", "DownloadRefused", "date_range", "prepare", "select_sql"]

FORMATS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
_BOM = "\ufeff".encode()
_CHUNK = 1 << 20
# what a spreadsheet would read as the start of a formula (ecocloud.spreadsheet._FORMULA_START)
_FORMULA_START_SQL = "['=', '+', '-', '@', chr(9), chr(13)]"


class DownloadRefused(InTwoLanguages):
    """The range asked for cannot be a download (bad dates, too long, too many rows): a 400."""


class Busy(InTwoLanguages):
    """Downloads are being prepared up to the limit: a 503, try again."""


class _Slots:
    """At most ``n`` downloads prepared at once; the next is told to come back (not queued: each
    holds a DuckDB scan and a temporary file)."""

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
    first: str | None, last: str | None, newest: dt.date | None, max_days: int
) -> tuple[dt.date, dt.date] | None:
    """The partition range to write: as given (one end alone: that day), else the newest partition;
    None for a table that has none yet."""
    start, end = _day(first, "from", "起始日"), _day(last, "to", "截止日")
    start, end = start or end or newest, end or start or newest
    if start is None or end is None:
        return None
    if start > end:
        raise DownloadRefused(f"from {start} is after to {end}", f"起始日 {start} 晚于截止日 {end}")
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
            f"CASE WHEN list_contains({_FORMULA_START_SQL}, left({quoted}, 1)) THEN '''' || {quoted} "
            f"ELSE {quoted} END AS {quoted}"
        )
    return quoted


def select_sql(table: Table, fmt: str, where: str) -> str:
    """The rows of ``table`` satisfying ``where``, in key order, as ``fmt`` holds them."""
    names = table.column_names
    listed = ", ".join(f'"{n}"' if fmt == "parquet" else _spreadsheet_cell(table, n) for n in names)
    order = ", ".join(f'"{k}"' for k in table.primary_key)
    return f'SELECT {listed} FROM "{table.name}" WHERE {where}' + (f" ORDER BY {order}" if order else "")


class Download:
    """A prepared file: its name for the reader, its bytes streamed once, then deleted."""

    def __init__(self, folder: Path, path: Path, filename: str, fmt: str) -> None:
        self.folder, self.path, self.filename, self.fmt = folder, path, filename, fmt

    def chunks(self) -> Iterator[bytes]:
        if self.fmt == "csv":
            yield _BOM
        with self.path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                yield chunk

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def prepare(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    fmt: str,
    days: tuple[dt.date, dt.date] | None,
    *,
    max_rows: int,
    concurrency: int,
) -> Download:
    """Write the rows of ``table`` in ``days`` (its whole content when it has no partition column) to
    a temporary ``fmt`` file. Raises DownloadRefused beyond ``max_rows`` and Busy beyond
    ``concurrency`` downloads being prepared."""
    where, span = "true", ""
    if table.partition_by and days is not None:
        # dates, not text: literals are safe (COPY takes no parameters)
        where = f"\"{table.partition_by}\" BETWEEN DATE '{days[0]}' AND DATE '{days[1]}'"
        span = f"_{days[0]}" + (f"_{days[1]}" if days[1] != days[0] else "")
    (rows,) = con.execute(f'SELECT count(*) FROM "{table.name}" WHERE {where}').fetchone() or (0,)
    if rows > max_rows:
        raise DownloadRefused(
            f"{rows:,} rows in that range: at most {max_rows:,} per download, choose fewer days",
            f"所选范围共 {rows:,} 行，每次下载至多 {max_rows:,} 行，请缩短日期范围",
        )
    _SLOTS.take(concurrency)
    folder = Path(tempfile.mkdtemp(prefix="ecocloud-download-"))
    try:
        path = folder / f"{table.name}{span}.{fmt}"
        options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
        con.execute(f"COPY ({select_sql(table, fmt, where)}) TO {string_literal(str(path))} ({options})")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        _SLOTS.give_back()
    return Download(folder, path, path.name, fmt)
