"""The context a build's steps get: settings, the ledger, the run, and reads of input tables.

Steps read registry tables through the ledger's part list (``read``, ``files``), never by globbing:
a build reads exactly the parts whose versions its fingerprint names, so a part added meanwhile makes
the unit pending again instead of silently half-included, and an object written but never published
(a crash before the ledger recorded it) is never read. Reads go through the lake's filesystem layer
(``ctx.lake``: a local folder or S3); DuckDB connections that read ``files`` come from ``connect``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import duckdb
import pyarrow as pa

from ecocloud.runner.units import RAW, TABLE, Input, Unit
from ecocloud.settings import Settings
from schemas.registry import Table, get_table
from schemas.sql import string_literal
from warehouse import lake as lk
from warehouse.fs import Lake, LakeLike, as_lake
from warehouse.ledger import WHOLE, Ledger, RawObject, UnitState, partition_date
from warehouse.serving import select_sql

_KEPT_READS = 2  # partitions a context keeps after reading them
_KEPT_READ_BYTES = 64 << 20  # the largest it keeps (a day of air station-hours is ~5 MB)
_ReadKey = tuple[str, dt.date | None, tuple[str, ...] | None]  # table, partition, columns
_PartVersions = tuple[tuple[str, str, str], ...]  # the parts read: name, fingerprint, written at


@dataclass(frozen=True)
class RunInfo:
    """Who runs: the pipeline run, the task, the data interval of a scheduled run, options."""

    run_id: str
    task: str
    interval: tuple[dt.datetime, dt.datetime] | None = None  # [start, end) of a scheduled run
    force: bool = False  # rebuild even units whose fingerprint is current
    workers: int | None = None  # processes for parallel builds (None: settings.workers)
    # publish parts that shrink more than their table's ``max_shrink`` (the gate warns), and rebuild
    # the units held back for shrinking alone: an operator's word that a smaller upstream file is right;
    # for every unit, or for the units named in ``accept_shrink_of`` (their keys: dates, mostly)
    accept_shrink: bool = False
    accept_shrink_of: frozenset[str] = frozenset()
    # rebuild these units (their keys: dates, mostly) of every build even when current: --force for one day
    rebuild: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # keys as typed or pasted into a trigger form: " 2026-11-20" names the unit 2026-11-20
        for name in ("accept_shrink_of", "rebuild"):
            keys = frozenset(k.strip() for k in getattr(self, name) if k.strip())
            object.__setattr__(self, name, keys)

    @staticmethod
    def cli(
        command: str,
        *,
        force: bool = False,
        workers: int | None = None,
        accept_shrink: bool = False,
        accept_shrink_of: Iterable[str] = (),
        rebuild: Iterable[str] = (),
    ) -> RunInfo:
        now = dt.datetime.now(dt.UTC)
        run_id = f"cli-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        return RunInfo(
            run_id,
            command,
            None,
            force,
            workers,
            accept_shrink,
            frozenset(accept_shrink_of),
            frozenset(rebuild),
        )

    def accepts_shrink(self, unit: str) -> bool:
        """Whether the run accepts a shrink of the unit keyed ``unit``."""
        return self.accept_shrink or unit in self.accept_shrink_of

    @property
    def expected_latest(self) -> dt.datetime | None:
        """Freshness reference: the start of the data interval (a UTC datetime)."""
        if self.interval is None:
            return None
        return dt.datetime.fromtimestamp(self.interval[0].timestamp(), dt.UTC)


class StepContext:
    """Handed to ``plan`` and ``build``: everything a step may look at."""

    def __init__(self, settings: Settings, ledger: Ledger, run: RunInfo, build: str, logic: str = "") -> None:
        self.settings = settings
        self.ledger = ledger
        self.run = run
        self.build = build  # "<source>.<build>"
        # the build's code version and output signatures as one digest: a step that reuses rows it
        # published earlier (an incremental mart) must check they came from the same logic
        self.logic = logic
        # the last few small partitions read, by (table, partition, columns): consecutive units of a
        # batch that share an input (a day and the day after) read it once
        self._recent_reads: dict[_ReadKey, tuple[_PartVersions, pa.Table]] = {}

    def previous(self, unit_key: str) -> UnitState | None:
        """What the ledger recorded when this build last built the unit."""
        return self.ledger.unit_state(self.build, unit_key)

    @cached_property
    def lake(self) -> Lake:
        return self.settings.lake_store

    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection that can read the lake's ``files``."""
        return self.lake.connect()

    # -- inputs -------------------------------------------------------------------------------
    @staticmethod
    def raw_input(obj: RawObject) -> Input:
        return Input(RAW, obj.raw_path, obj.sha256)

    def partition_versions(self, table_name: str) -> dict[dt.date | None, str]:
        """Version of every published partition of a table (None: the unpartitioned table)."""
        return {partition_date(p): v for p, v in self.ledger.partition_versions(table_name).items()}

    def table_inputs(self, table_name: str) -> dict[dt.date | None, Input]:
        return {p: Input(TABLE, table_name, v, p) for p, v in self.partition_versions(table_name).items()}

    def dimension_unit(self, registry: RawObject | None, table_name: str) -> Unit | None:
        """The one unit of a dimension built from a registry file and every partition of a table
        (stations seen in the station-hours, sections seen in the readings); None without either."""
        parts = self.table_inputs(table_name)
        if registry is None and not parts:
            return None
        inputs = ([self.raw_input(registry)] if registry else []) + [parts[d] for d in sorted(parts, key=str)]
        return Unit("all", tuple(inputs))

    def input_files(self, unit: Unit) -> list[str]:
        """The part files of every table partition ``unit`` names as an input."""
        return [f for i in unit.inputs if i.kind == TABLE for f in self.files(i.id, i.partition)]

    # -- reads --------------------------------------------------------------------------------
    def files(self, table_name: str, partition: dt.date | None) -> list[str]:
        """The part files of a partition, as the ledger lists them (locations DuckDB opens)."""
        return published_files(self.lake, self.ledger, table_name, partition)

    def part_files(self, table_name: str, partition: dt.date | None, parts: Sequence[str]) -> list[str]:
        """The locations of the named parts (as the ledger names them) of a partition."""
        table = get_table(table_name)
        return [self.lake.uri(lk.part_file(table, partition, p)) for p in parts]

    def read(
        self, table_name: str, partition: dt.date | None = None, columns: Sequence[str] | None = None
    ) -> pa.Table:
        """One published partition (empty, with the registry schema, when there is none); only
        ``columns`` (in the registry's order) when given."""
        parts = self.ledger.parts(table_name, partition=_key(partition))
        # a part file is replaced in place (same name): the ledger's record of it says which version
        key = (table_name, partition, None if columns is None else tuple(columns))
        versions = tuple((p.part, p.fingerprint, p.written_at) for p in parts)
        if (recent := self._recent_reads.get(key)) is not None and recent[0] == versions:
            return recent[1]
        table = get_table(table_name)
        rels = [lk.part_file(table, partition, p.part) for p in parts]
        data = lk.read_parts(self.lake, table, rels, partition, columns)
        if data.nbytes <= _KEPT_READ_BYTES:
            self._recent_reads.pop(key, None)
            self._recent_reads[key] = (versions, data)
            while len(self._recent_reads) > _KEPT_READS:
                del self._recent_reads[next(iter(self._recent_reads))]
        return data

    def create_views(self, con: duckdb.DuckDBPyConnection, unit: Unit, names: Iterable[str]) -> None:
        """A view per table in ``names`` on ``con``, named as the registry table, over exactly the
        parts of the partitions ``unit`` names as inputs (none: an empty relation with the
        table's columns) — for transforms that read relations by name."""
        self.lake.register(con)
        for name in names:
            files = [
                f
                for i in unit.inputs
                if i.kind == TABLE and i.id == name
                for f in self.files(name, i.partition)
            ]
            con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {select_sql(get_table(name), files)}')

    def read_inputs(self, unit: Unit, table_name: str, columns: Sequence[str] | None = None) -> pa.Table:
        """Every partition of ``table_name`` that ``unit`` names as an input, concatenated (only
        ``columns`` when given)."""
        table: Table = get_table(table_name)
        parts = [
            self.read(table_name, i.partition, columns)
            for i in unit.inputs
            if i.kind == TABLE and i.id == table_name
        ]
        return pa.concat_tables(parts) if parts else table.conform(table.empty(), columns)


def _key(partition: dt.date | None) -> str:
    return WHOLE if partition is None else partition.isoformat()


def partition_key(partition: dt.date | None) -> str:
    """The ledger's key of a partition ('' for an unpartitioned table)."""
    return _key(partition)


def parquet_sql(files: Sequence[str | Path], partition_by: str | None = "date") -> str:
    """``read_parquet([...])`` over part files of one table, the partition column read from the folders."""
    listed = ", ".join(string_literal(str(f)) for f in files)
    hive = f", hive_partitioning = true, hive_types = {{'{partition_by}': DATE}}" if partition_by else ""
    return f"read_parquet([{listed}]{hive})"


def published_parts(ledger: Ledger, table_name: str, partition: dt.date | None) -> list[str]:
    """The part files of one partition of a table as the ledger lists them, relative to the lake."""
    table = get_table(table_name)
    return [
        lk.part_file(table, partition, p.part) for p in ledger.parts(table_name, partition=_key(partition))
    ]


def published_files(lake: LakeLike, ledger: Ledger, table_name: str, partition: dt.date | None) -> list[str]:
    """The part files of one partition of a table, as the ledger lists them (full locations)."""
    store = as_lake(lake)
    return [store.uri(rel) for rel in published_parts(ledger, table_name, partition)]


def read_published(
    lake: LakeLike,
    ledger: Ledger,
    table_name: str,
    partition: dt.date | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """One published partition (or the unpartitioned table); empty with the registry schema if none.
    Only ``columns`` of it when given: the others are not read."""
    rels = published_parts(ledger, table_name, partition)
    return lk.read_parts(lake, get_table(table_name), rels, partition, columns)
