"""What a build's steps exchange with the runner: units of work, their inputs, their output."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from schemas.registry import Table

RAW = "raw"
TABLE = "table"


@dataclass(frozen=True)
class Input:
    """One thing a unit is built from: a raw object, or a partition of a registry table."""

    kind: str  # RAW | TABLE
    id: str  # raw path (relative to the lake), or registry table name
    version: str  # sha256 of the raw object, or the input partition's version
    partition: dt.date | None = None  # TABLE inputs of a partitioned table


@dataclass(frozen=True)
class Unit:
    """One unit of work of a build: what it owns, what it is built from."""

    key: str  # "2026-11-20", "segment/data/x.h212", "all" — unique within the build
    inputs: tuple[Input, ...]
    partition: dt.date | None = None  # Publish.PARTITION: the partition it owns in every output
    size: int = 0  # input bytes (batching)
    params: tuple[tuple[str, Any], ...] = ()  # anything else the build step needs, JSON-able
    # (build, unit) of other builds' units it must not run beside — a compaction rewrites and deletes
    # their parts — held locked with it; not part of its identity (fingerprint)
    excludes: tuple[tuple[str, str], ...] = ()

    def param(self, name: str, default: Any = None) -> Any:
        return dict(self.params).get(name, default)

    @property
    def part(self) -> str:
        """Part-file name of this unit's rows (Publish.PART), safe as a file name."""
        return safe_name(self.key)


@dataclass
class Output:
    """What a unit's build returns: a table per output (registry name), counts, warnings.

    ``blocking``: reasons the input itself is unusable (e.g. not a day file at all): the unit is
    blocked like a failed gate — its other outputs are not published, its evidence (quarantine) only
    where no earlier input's rows are (see ``engine._publish``).
    ``replaces``: (table, partition key, part) of *other* units' parts whose rows this unit's parts
    now hold (compaction): retired in the same ledger transaction that publishes this unit's parts,
    for the tables it publishes (also when no rows are left), and deleted from the lake later by a serving refresh (``warehouse.ledger``).
    ``rows_written_at``: when its rows were first published, where that is earlier than this run
    (compaction: the newest of the parts it rewrites); recorded as its parts' write time, so a rewrite
    does not make old rows look new to the catalog's freshness.
    """

    tables: dict[str, pa.Table]
    counts: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    blocking: list[str] = field(default_factory=list)
    replaces: list[tuple[str, str, str]] = field(default_factory=list)
    rows_written_at: str | None = None


def unit_lock(build: str, key: str) -> str:
    """The ledger lock a unit of ``build`` is built under (``Unit.excludes`` names others' this way)."""
    return f"unit:{build}/{key}"


def safe_name(text: str) -> str:
    """A file-name-safe rendering of a key: letters, digits, ``-_.=`` kept, the rest ``_``."""
    keep = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in text)
    return keep.strip("._") or "_"


def table_signature(table: Table) -> str:
    """What about a table changes its data: columns with types and checks, key, partitioning."""
    cols = [
        (c.name, c.type, c.nullable, c.min, c.max, c.allowed, c.mostly, c.severity.value)
        for c in table.columns
    ]
    return json.dumps([table.name, cols, table.primary_key, table.partition_by], default=str)


def logic_fingerprint(build: str, code_version: str, outputs: list[Table]) -> str:
    """What every unit's fingerprint shares: the build, its code version and its outputs' signatures."""
    return fingerprint(build, code_version, outputs, Unit("", ()))


def fingerprint(build: str, code_version: str, outputs: list[Table], unit: Unit) -> str:
    """A unit's identity: build, code version, output table signatures, every input's version."""
    digest = hashlib.sha256()
    digest.update(f"{build}\n{code_version}\n{unit.key}\n".encode())
    for table in outputs:
        digest.update(table_signature(table).encode() + b"\n")
    for inp in sorted(unit.inputs, key=lambda i: (i.kind, i.id, str(i.partition))):
        digest.update(f"{inp.kind}|{inp.id}|{inp.partition}|{inp.version}\n".encode())
    digest.update(json.dumps(unit.params, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:32]
