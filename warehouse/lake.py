"""The Parquet lake: hive-partitioned tables, each partition one or more part files, replaced atomically.

Layout: ``<lake>/<layer>/<table>/date=YYYY-MM-DD/<part>.parquet`` (the partition column lives in the
directory name, not in the file). An unpartitioned table is ``<lake>/<layer>/<table>/<part>.parquet``.
Most producers write the single part ``data``; a table fed by several producers (quality results,
one part per checked table) gives each its own part, replaced whole by that producer alone.

Every read and write goes through a :class:`warehouse.fs.Lake` (a local folder or an S3 prefix);
functions here also take a ``Path``, the local lake in that folder.

* On a local lake a part is written to a hidden temporary file in its folder, fsynced, then renamed
  over ``<part>.parquet``: readers see the old partition or the new one, never half of either, and a
  crash mid-write leaves only a hidden temp file that globbing ``*.parquet`` ignores.
* On S3 an object PUT is atomic but an object replaced in place could be read half old, half new by
  a reader fetching byte ranges; so a part is written under a new name, ``<part>.<sha256[:16]>.parquet``
  (its content's hash: the same content keeps its name), and the runner publishes that name in the
  ledger, which retires the object it replaced (deleted later by a serving refresh: ``warehouse.ledger``). Readers go
  through the ledger's part list, so an object written but never published (a crash between the
  two) is never read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas.registry import Table, cast_keeping_dictionaries
from warehouse.fs import DEFAULT_CODEC, LakeLike, as_lake, write_parquet_to

DEFAULT_PART = "data"
SUFFIX = ".parquet"
RAW_ZONE = "raw"  # <lake>/raw/<source>/…: the bytes as received (``ingest.raw``), beside the layers


# -- locations relative to the lake root ---------------------------------------------------------
def table_prefix(table: Table) -> str:
    return f"{table.layer.value}/{table.name}"


def partition_prefix(table: Table, value: dt.date | None) -> str:
    if table.partition_by is None:
        if value is not None:
            raise ValueError(f"{table.name} is not partitioned")
        return table_prefix(table)
    if value is None:
        raise ValueError(f"{table.name} is partitioned by {table.partition_by}: give a value")
    return f"{table_prefix(table)}/{table.partition_by}={value.isoformat()}"


def part_file(table: Table, value: dt.date | None, part: str) -> str:
    """Where part ``part`` (as the ledger names it) of a partition lives, relative to the lake."""
    return f"{partition_prefix(table, value)}/{part}{SUFFIX}"


def table_pattern(table: Table) -> str:
    """Glob (relative to the lake) of every data file of ``table``."""
    return f"{table_prefix(table)}/*/*{SUFFIX}" if table.partition_by else f"{table_prefix(table)}/*{SUFFIX}"


# -- local paths and globs (kept for callers that hold a local lake folder) ----------------------
def table_dir(lake: LakeLike, table: Table) -> Path:
    """The table's folder of a local lake (raises :class:`warehouse.fs.NotLocalError` on S3)."""
    return as_lake(lake).local_path(table_prefix(table))


def partition_dir(lake: LakeLike, table: Table, value: dt.date | None) -> Path:
    """A partition's folder of a local lake (raises :class:`warehouse.fs.NotLocalError` on S3)."""
    return as_lake(lake).local_path(partition_prefix(table, value))


def table_glob(lake: LakeLike, table: Table) -> str:
    """Glob of every data file of ``table`` (for DuckDB ``read_parquet``)."""
    return as_lake(lake).uri(table_pattern(table))


# -- writing ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PartFile:
    """A part file just written: its name in the ledger, where it is, its size."""

    part: str  # ``data`` on a local lake; ``data.<sha256[:16]>`` on S3
    rel: str  # relative to the lake root
    uri: str
    size_bytes: int


def _conformed(table: Table, data: pa.Table, value: dt.date | None) -> pa.Table:
    data = table.conform(data)
    if table.partition_by is not None:
        assert value is not None
        values = pc.unique(data.column(table.partition_by)).to_pylist()
        if any(v != value for v in values):
            raise ValueError(f"{table.name}: rows for {values} written to partition {value}")
        data = data.drop_columns([table.partition_by])
    # strict: NOT NULL columns hold no NULL
    return cast_keeping_dictionaries(data, table.arrow_schema(include_partition=False))


def write_part(
    lake: LakeLike,
    table: Table,
    data: pa.Table,
    value: dt.date | None,
    *,
    part: str = DEFAULT_PART,
    compression: str = DEFAULT_CODEC,
) -> PartFile:
    """Write one part of a partition of ``table`` (``data`` conformed to the registry schema).

    ``data`` must hold only rows of that partition; an empty table writes an empty part, so a rerun
    that now yields nothing replaces what an earlier run wrote. On a local lake the part replaces
    ``<part>.parquet`` in place (atomic rename); on S3 it is a new object named after its content,
    which the caller publishes (the ledger), retiring the one it replaces. ``compression``: a
    codec of ``warehouse.fs.CODECS``.
    """
    store = as_lake(lake)
    data = _conformed(table, data, value)
    statistics = [c for c in table.statistics_columns() if c in data.column_names]
    if store.is_local:
        rel = part_file(table, value, part)
        size = store.write_parquet(rel, data, statistics=statistics, compression=compression)
        return PartFile(part, rel, store.uri(rel), size)
    buf = io.BytesIO()
    write_parquet_to(buf, data, statistics, None, compression)
    body = buf.getvalue()
    versioned = f"{part}.{hashlib.sha256(body).hexdigest()[:16]}"
    rel = part_file(table, value, versioned)
    if not store.exists(rel):  # the same name holds the same bytes: nothing to replace
        store.write_bytes(rel, body)
    return PartFile(versioned, rel, store.uri(rel), len(body))


def write_partition(
    lake: LakeLike, table: Table, data: pa.Table, value: dt.date | None, *, part: str = DEFAULT_PART
) -> Path:
    """Replace one partition of a local lake's ``table`` with ``data``; returns the file's path.

    (The runner uses :func:`write_part`, which works on every lake.)
    """
    written = write_part(lake, table, data, value, part=part)
    return as_lake(lake).local_path(written.rel)


def write_partitions(lake: LakeLike, table: Table, data: pa.Table) -> dict[dt.date, Path]:
    """Split ``data`` by the partition column and replace each partition it touches (local lake)."""
    if table.partition_by is None:
        return {}
    col = data.column(table.partition_by)
    written: dict[dt.date, Path] = {}
    for value in sorted(v for v in pc.unique(col).to_pylist() if v is not None):
        written[value] = write_partition(lake, table, data.filter(pc.equal(col, value)), value)
    if col.null_count:
        raise ValueError(f"{table.name}: {col.null_count} rows have no {table.partition_by}")
    return written


def delete_partition(
    lake: LakeLike, table: Table, value: dt.date | None, *, part: str = DEFAULT_PART
) -> None:
    """Remove one part file (the partition folder stays; readers see the other parts)."""
    as_lake(lake).delete(part_file(table, value, part))


def delete_parts(lake: LakeLike, parts: Iterable[tuple[Table, dt.date | None, str]]) -> None:
    """Remove part files (table, partition, part) at once: one folder sync per partition."""
    as_lake(lake).delete_many([part_file(table, value, part) for table, value, part in parts])


# -- reading ---------------------------------------------------------------------------------------
def partitions(lake: LakeLike, table: Table) -> list[dt.date]:
    """Partitions holding at least one part file (by listing the lake)."""
    if table.partition_by is None:
        return []
    prefix = f"{table.partition_by}="
    folders = {rel.rsplit("/", 2)[-2] for rel in as_lake(lake).glob(table_pattern(table))}
    return sorted(dt.date.fromisoformat(f[len(prefix) :]) for f in folders if f.startswith(prefix))


def read_partition(lake: LakeLike, table: Table, value: dt.date | None) -> pa.Table:
    """One partition (every part file in its folder, by listing) with the registry schema."""
    store = as_lake(lake)
    return read_parts(store, table, store.glob(f"{partition_prefix(table, value)}/*{SUFFIX}"), value)


def read_parts(
    lake: LakeLike,
    table: Table,
    rels: list[str],
    value: dt.date | None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """Part files (relative to the lake) of one partition of ``table``, the partition column
    restored, with the registry schema — or only ``columns`` of it, in the registry's order."""
    if not rels:
        return _projected(table, table.arrow_schema().empty_table(), columns)
    store = as_lake(lake)
    schema = table.arrow_schema(include_partition=False)
    stored = None if columns is None else [c for c in schema.names if c in columns]
    parts = pa.concat_tables([store.read_parquet(r, schema, stored) for r in rels])
    if columns is None:
        return _with_partition(table, parts, value)
    if table.partition_by in columns:
        parts = _with_partition_column(table, parts, value)
    return _projected(table, parts, columns)


def _projected(table: Table, data: pa.Table, columns: Sequence[str] | None) -> pa.Table:
    return (
        data
        if columns is None
        else table.conform(data.select([c for c in data.column_names if c in columns]), columns)
    )


def read_files(table: Table, files: list[Path], value: dt.date | None) -> pa.Table:
    """Local part files of one partition of ``table`` (the partition column restored) with its schema."""
    if not files:
        return table.arrow_schema().empty_table()
    schema = table.arrow_schema(include_partition=False)
    return _with_partition(table, pa.concat_tables([pq.read_table(f, schema=schema) for f in files]), value)


def _with_partition(table: Table, data: pa.Table, value: dt.date | None) -> pa.Table:
    return table.conform(_with_partition_column(table, data, value))


def _with_partition_column(table: Table, data: pa.Table, value: dt.date | None) -> pa.Table:
    if table.partition_by is None:
        return data
    value_type = table.column(table.partition_by).arrow_type
    return data.append_column(table.partition_by, pa.repeat(pa.scalar(value, value_type), data.num_rows))
