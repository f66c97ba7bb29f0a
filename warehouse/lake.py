"""The Parquet lake: hive-partitioned tables, each partition one file, replaced whole and atomically.

Layout: ``<lake>/<layer>/<table>/date=YYYY-MM-DD/<part>.parquet`` (the partition column lives in the
directory name, not in the file). An unpartitioned table is ``<lake>/<layer>/<table>/<part>.parquet``.
Most producers write the single part ``data``; a table fed by several producers (quality results,
one part per checked table) gives each its own part, replaced whole by that producer alone.

A partition is written to a hidden temporary file in its directory, fsynced, then renamed over
``data.parquet``: readers see the old partition or the new one, never half of either, and a crash
mid-write leaves only a hidden temp file that globbing ``*.parquet`` ignores.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas.registry import Table

DEFAULT_PART = "data"


def table_dir(lake: Path, table: Table) -> Path:
    return lake / table.layer.value / table.name


def partition_dir(lake: Path, table: Table, value: dt.date | None) -> Path:
    if table.partition_by is None:
        if value is not None:
            raise ValueError(f"{table.name} is not partitioned")
        return table_dir(lake, table)
    if value is None:
        raise ValueError(f"{table.name} is partitioned by {table.partition_by}: give a value")
    return table_dir(lake, table) / f"{table.partition_by}={value.isoformat()}"


def table_glob(lake: Path, table: Table) -> str:
    """Glob of every data file of ``table`` (for DuckDB ``read_parquet``)."""
    base = table_dir(lake, table)
    return str(base / "*" / "*.parquet") if table.partition_by else str(base / "*.parquet")


def _atomic_write(path: Path, data: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        pq.write_table(data, tmp, compression="zstd", row_group_size=256_000)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_partition(
    lake: Path, table: Table, data: pa.Table, value: dt.date | None, *, part: str = DEFAULT_PART
) -> Path:
    """Replace one partition of ``table`` with ``data`` (conformed to the registry schema).

    ``data`` must hold only rows of that partition; an empty table writes an empty partition,
    so a rerun that now yields nothing replaces what an earlier run wrote.
    """
    data = table.conform(data)
    if table.partition_by is not None:
        assert value is not None
        values = pc.unique(data.column(table.partition_by)).to_pylist()
        if any(v != value for v in values):
            raise ValueError(f"{table.name}: rows for {values} written to partition {value}")
        data = data.drop_columns([table.partition_by])
    data = data.cast(table.arrow_schema(include_partition=False))  # strict: NOT NULL columns hold no NULL
    path = partition_dir(lake, table, value) / f"{part}.parquet"
    _atomic_write(path, data)
    return path


def write_partitions(lake: Path, table: Table, data: pa.Table) -> dict[dt.date, Path]:
    """Split ``data`` by the partition column and replace each partition it touches."""
    if table.partition_by is None:
        return {}
    col = data.column(table.partition_by)
    written: dict[dt.date, Path] = {}
    for value in sorted(v for v in pc.unique(col).to_pylist() if v is not None):
        written[value] = write_partition(lake, table, data.filter(pc.equal(col, value)), value)
    if col.null_count:
        raise ValueError(f"{table.name}: {col.null_count} rows have no {table.partition_by}")
    return written


def delete_partition(lake: Path, table: Table, value: dt.date | None, *, part: str = DEFAULT_PART) -> None:
    """Remove one part file (the partition folder stays; readers see the other parts)."""
    path = partition_dir(lake, table, value) / f"{part}.parquet"
    if path.exists():
        path.unlink()
        _fsync_dir(path.parent)


def partitions(lake: Path, table: Table) -> list[dt.date]:
    if table.partition_by is None:
        return []
    prefix = f"{table.partition_by}="
    base = table_dir(lake, table)
    if not base.exists():
        return []
    return sorted(
        dt.date.fromisoformat(p.name[len(prefix) :])
        for p in base.iterdir()
        if p.name.startswith(prefix) and any(p.glob("*.parquet"))
    )


def read_partition(lake: Path, table: Table, value: dt.date | None) -> pa.Table:
    """One partition (every part file in its folder) as an Arrow table with the registry schema."""
    return read_files(table, sorted(partition_dir(lake, table, value).glob("*.parquet")), value)


def read_files(table: Table, files: list[Path], value: dt.date | None) -> pa.Table:
    """Part files of one partition of ``table`` (the partition column restored) with its schema."""
    if not files:
        return table.arrow_schema().empty_table()
    schema = table.arrow_schema(include_partition=False)
    data = pa.concat_tables([pq.read_table(f, schema=schema) for f in files])
    if table.partition_by is not None:
        data = data.append_column(
            table.partition_by,
            pa.array([value] * data.num_rows, type=table.column(table.partition_by).arrow_type),
        )
    return table.conform(data)
