"""Files in the lake's table folders that the ledger does not list: crash leftovers, deleted once old.

ecocloud's builds and serving views read only the ledger's parts, so such a file is never counted by
ecocloud — but an engine that reads a table by its folder (the external tables of ``ecocloud export-ddl``:
Trino, Spark, DuckDB over ``<table>/*/*.parquet``) reads every file there, and would count it twice.
They come from crashes: a part written and never recorded (a killed run; on S3 every publish writes a
new content-named object first), and a local write's hidden temporary file (``.<name>.<id>.tmp``)
left by a killed process — in a table folder, or in the raw zone's folders (a capture, a day file
or a segment copy whose landing was killed mid-write; its bytes are still where they came from, and
the next landing writes them anew). Nothing else in the raw zone is swept: a raw object is the
record of what was received, and a landing zone's open segments belong to the receiver.

A part a unit replaced is *retired* in the ledger, not unlisted: the serving refresh deletes it
once no view lists it, under its unit's lock (``ecocloud.runner.engine.refresh_serving``); the caller
passes the retired parts with the listed ones, and the sweep leaves them alone. A part another run
has just written and not yet recorded is unlisted too, for a moment. So, like
Iceberg's ``remove_orphan_files(older_than=…)``, only files last modified before ``older_than`` are
deleted (a few days back: far longer than any unit's write-to-record), and only those still unlisted
when the ledger is read again after the listing, and still that old then (a unit may have renamed a
new part over an old leftover of its name). The gate results are not ledger parts
(``warehouse.results_rollup`` keeps them) and are left alone.

The sweep trusts the ledger it is given, so it refuses to delete when the ledger lists less than a
tenth of the lake's table files: that is a ledger that does not describe this lake (a new empty one
created where no ``ECOCLOUD_STATE_DB_URL`` was set, another environment's database), not crash
leftovers beside listed parts — a small lake may have more leftovers than parts (a unit killed a few
times on S3 leaves a new object each time). ``force`` overrides it.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from schemas.registry import Layer, Table, all_tables, get_table
from warehouse.catalog import RESULTS_TABLE
from warehouse.fs import TEMPORARY_NAME, Lake
from warehouse.lake import RAW_ZONE, part_file, table_pattern, table_prefix
from warehouse.ledger import partition_date

_RAW_FOLDERS = f"{RAW_ZONE}/*/*"  # raw/<source>/<date=… or undated>/


class PartKey(Protocol):
    """A part the ledger names (``warehouse.ledger.Part``, ``RetiredPart``, ``PartName``)."""

    @property
    def table_name(self) -> str: ...
    @property
    def partition(self) -> str: ...
    @property
    def part(self) -> str: ...


@dataclass(frozen=True)
class Unlisted:
    rel: str  # relative to the lake
    size: int
    modified: dt.datetime  # UTC


def swept_tables() -> list[Table]:
    """The tables whose folders hold only ledger parts: every lake table but the gate results."""
    return [
        t for t in all_tables() if t.layer not in (Layer.STAGE, Layer.PLATFORM) and t.name != RESULTS_TABLE
    ]


def listed_files(parts: Iterable[PartKey]) -> set[str]:
    """Where the ledger's ``parts`` live, relative to the lake."""
    return {part_file(get_table(p.table_name), partition_date(p.partition), p.part) for p in parts}


class SweepRefused(RuntimeError):
    """The ledger lists too few of the lake's table files to describe this lake: nothing is deleted."""


@dataclass(frozen=True)
class Swept:
    """What a sweep found (with ``delete``: deleted), and how many unlisted files it left alone for
    being modified at or after ``older_than`` (a run may be writing them; the listing does not show them)."""

    files: list[Unlisted]
    young: int


def unlisted(lake: Lake, table_files: list[str], parts: Sequence[PartKey], older_than: dt.datetime) -> Swept:
    """The ``table_files`` (``_table_files``: hidden temporary files of local writes included) that
    ``parts`` do not list and that were last modified before ``older_than``, and the raw zone's
    temporary files as old; and how many of either are younger."""
    listed = listed_files(parts)
    found = []
    young = 0
    for rel in [rel for rel in table_files if rel not in listed] + _raw_temporaries(lake):
        info = lake.info(rel)
        if info.modified < older_than:
            found.append(Unlisted(rel, info.size, info.modified))
        else:
            young += 1
    return Swept(found, young)


def _raw_temporaries(lake: Lake) -> list[str]:
    """The temporary files killed local writes left in the raw zone's folders (an object store's
    writes leave none)."""
    if not lake.is_local:
        return []
    return [
        rel
        for rel in lake.glob(f"{_RAW_FOLDERS}/.*.tmp")
        if TEMPORARY_NAME.fullmatch(posixpath.basename(rel))
    ]


def sweep(
    lake: Lake,
    read_parts: Callable[[], Sequence[PartKey]],
    older_than: dt.datetime,
    *,
    delete: bool,
    force: bool = False,
) -> Swept:
    """The unlisted files older than ``older_than`` (see the module doc); with ``delete``, those still
    unlisted in a second read of the ledger (``read_parts``) are deleted — unless that ledger lists
    less than a tenth of the table files and not ``force`` (``SweepRefused``). Returns what was found
    (and deleted), with the count of the younger unlisted files left alone, from the same listing."""
    table_files = _table_files(lake)
    found = unlisted(lake, table_files, read_parts(), older_than)
    if not delete or not found.files:
        return found
    # still old (a unit may have renamed a new file over an old leftover of its name since the
    # listing), then still unlisted: read last, so a part recorded before it is never deleted
    old = [u for u in found.files if _modified_before(lake, u.rel, older_than)]
    listed = listed_files(read_parts())
    gone = [u for u in old if u.rel not in listed]
    if not force:
        _refuse_a_stranger(listed, table_files)
    lake.delete_many([u.rel for u in gone])
    return Swept(gone, found.young)


def _modified_before(lake: Lake, rel: str, older_than: dt.datetime) -> bool:
    try:
        return lake.info(rel).modified < older_than
    except FileNotFoundError:  # gone meanwhile (a serving refresh, another sweep)
        return False


def _refuse_a_stranger(listed: set[str], table_files: list[str]) -> None:
    """``SweepRefused`` when ``listed`` names less than a tenth of ``table_files``."""
    known = len(listed.intersection(table_files))
    if table_files and known * 10 < len(table_files):
        raise SweepRefused(
            f"refusing to delete: the ledger lists {known:,} of the lake's {len(table_files):,} table "
            "files, too few to be this lake's own (is ECOCLOUD_STATE_DB_URL, or ECOCLOUD_HOME for a "
            "local ledger, the one the builds use?). If the others really are crash leftovers, "
            "`ecocloud sweep --delete --force` deletes them."
        )


def _table_files(lake: Lake) -> list[str]:
    """Every file in the swept tables' folders."""
    return [rel for table in swept_tables() for rel in _files(lake, table)]


def _files(lake: Lake, table: Table) -> list[str]:
    folder = f"{table_prefix(table)}/*" if table.partition_by else table_prefix(table)
    return lake.glob(table_pattern(table)) + (lake.glob(f"{folder}/.*.tmp") if lake.is_local else [])
