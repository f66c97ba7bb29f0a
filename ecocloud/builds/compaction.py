"""Compaction of Publish.PART tables: many small part files of a date partition → one sorted file.

A ``PART`` build writes a part per input in every date it touches; the HJ 212 receiver's hourly
segments make dozens of small files per date in ``core_source__packets``, ``core_source__readings``
and ``quarantine_source__packets``, and every scan opens them all. ``Compaction`` is the steps of a
build (run by the same runner as every other build) that rewrites such a partition into one file:

* **plan** — one unit per (table, date) whose parts were all written at least ``after_hours`` ago
  (the ledger's ``written_at``): once for a partition never compacted, whatever its part count (a
  single fresh part too: it still has the producing build's codec and order); again for a compacted
  one only when at least ``min_parts`` parts make it worth rewriting (settings name both). Its inputs
  are the partition's version (its parts) and the raw objects those parts were built from (their
  lineage), so the compacted part's lineage still reaches the raw bytes. A compacted partition has
  one part and is not planned again: a rerun with nothing new does nothing. A new part landing
  beside the compacted one (a late segment) makes it eligible again once it is old enough.
* **build** — reads exactly the parts the plan named, checks rows read = rows the ledger recorded,
  sorts by the table's key (row-group pruning) and returns them; ``Output.replaces`` names the parts
  the compacted file replaces, and the ledger records it as written when the newest of them was
  (its rows are no newer: the catalog's freshness must not take a rewrite for new data). Other tables of the build get no rows (so none of their parts move).
* **publish** (the runner) — writes the compacted file under a name derived from its inputs
  (``compact-<digest>``: never the name of a part the ledger lists), then, in one ledger transaction,
  adds it and retires the replaced parts; their files are deleted later by a serving refresh, once
  no serving file has listed them for a grace period (the views of the last one still read them).
  A crash before the ledger records it leaves the previous parts listed and intact; the unlisted
  file is removed by the next run of that partition (a retired compacted file is left to the
  refresh), which then completes. Nothing is re-gated: the rows are the ones the gate passed when
  their parts were published (all outputs are declared evidence).
* **exclusion** — a unit is built holding the locks of the producing build's units whose parts it
  rewrites (``Unit.excludes``), so a concurrent run cannot republish one of them meanwhile: committed
  beside it, the compaction would retire that unit's new part or put its old rows back.

The compacted part belongs to this build's unit, so the producing build's units (their
fingerprints) are untouched: ``core`` does not re-ingest anything. Builds that read the partition
see a new partition version and rebuild once from identical rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from ecocloud.runner.context import StepContext, partition_key
from ecocloud.runner.units import RAW, TABLE, Input, Output, Unit, safe_name
from schemas import source
from schemas.registry import Table, get_table
from warehouse import lake as lk
from warehouse.ledger import WHOLE, Part

PREFIX = "compact-"


@dataclass(frozen=True)
class CompactUnit(Unit):
    """A compaction unit: keyed by (table, date); its part is named after its inputs."""

    @property
    def part(self) -> str:
        return safe_name(f"{PREFIX}{self.param('digest')}")


class Compaction:
    """Steps of a compaction build over ``tables`` (Publish.PART, partitioned by date).

    ``after_hours`` and ``min_parts`` name the settings (attributes of ``ecocloud.settings.Settings``)
    that hold the age and the part count a partition needs before it is compacted. ``origin`` is the
    column holding the raw object a row was built from (its lineage input id): when the producing build
    republishes a part for an input a compacted part already holds (a forced rerun, a new code
    version), the partition is compacted at once, the compacted rows of that input giving way to the
    new part's — so the partition never keeps both. A rebuilt unit that now writes nothing in such a
    partition writes an empty part there (the runner's ``_held_elsewhere``): its compacted rows give
    way to none.
    """

    def __init__(self, tables: Iterable[str], *, after_hours: str, min_parts: str, origin: str) -> None:
        self.tables = tuple(tables)
        self.after_hours = after_hours
        self.min_parts = min_parts
        self.origin = origin

    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        hours = float(getattr(ctx.settings, self.after_hours))
        least = int(getattr(ctx.settings, self.min_parts))
        cutoff = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)).isoformat(timespec="microseconds")
        for name in self.tables:
            by_partition: dict[str, list[Part]] = defaultdict(list)
            for part in ctx.ledger.parts(name):
                by_partition[part.partition].append(part)
            versions = ctx.ledger.partition_versions(name)
            for key, parts in sorted(by_partition.items()):
                mine = any(p.build == ctx.build for p in parts)
                if key == WHOLE or (len(parts) == 1 and mine):
                    continue  # one compacted part: the partition's final form
                # never compacted: once, whatever its part count (sorted, in the lake's codec);
                # compacted before: again once at least `least` parts make it worth rewriting
                due = (not mine or len(parts) >= least) and all(p.written_at <= cutoff for p in parts)
                if not due and not mine:
                    continue
                candidate = _Candidate(ctx, name, key, parts)
                if due or candidate.superseded:
                    yield candidate.unit(versions[key])

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        assert unit.partition is not None
        table = get_table(unit.param("table"))
        names: list[str] = list(unit.param("parts"))
        # a compacted file a later compaction retired stays until a serving refresh deletes it
        retired = {r.part for r in ctx.ledger.retired(table.name, partition=partition_key(unit.partition))}
        _remove_orphans(ctx, table, unit.partition, keep={*names, unit.part, *retired})
        superseded = pa.array(unit.param("superseded"), pa.string())
        pieces = []
        for group in (unit.param("compacted"), [p for p in names if p not in unit.param("compacted")]):
            rels = [lk.part_file(table, unit.partition, p) for p in group]
            pieces.append(lk.read_parts(ctx.lake, table, rels, unit.partition))
        read = pieces[0].num_rows + pieces[1].num_rows
        expected = int(unit.param("rows"))
        if read != expected:
            raise ValueError(f"{table.name} {unit.partition}: read {read} rows, the ledger lists {expected}")
        pieces[0] = pieces[0].filter(pc.invert(pc.is_in(pieces[0].column(self.origin), superseded)))
        data = pa.concat_tables([table.conform(t) for t in pieces])  # an empty group has no NOT NULL marks
        data = data.take(pc.sort_indices(data, [(k, "ascending") for k in table.sort_key()]))
        tables = {t: get_table(t).empty() for t in self.tables} | {table.name: data}
        key = partition_key(unit.partition)
        counts = {
            "table": table.name,
            "parts_in": len(names),
            "rows_in": expected,
            "rows_superseded": read - data.num_rows,  # 0 unless a compacted input was republished
            "rows_out": data.num_rows,
        }
        rewritten = [p.written_at for p in ctx.ledger.parts(table.name, partition=key) if p.part in names]
        return Output(
            tables,
            counts,
            replaces=[(table.name, key, p) for p in names if p != unit.part],
            rows_written_at=max(rewritten, default=None),
        )


class _Candidate:
    """A partition that may be compacted: its parts, the raw objects each was built from (lineage)."""

    def __init__(self, ctx: StepContext, name: str, key: str, parts: list[Part]) -> None:
        self.name, self.key, self.parts, self.build = name, key, parts, ctx.build
        listed = {p.part for p in parts}
        self.origins: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for row in ctx.ledger.lineage(name, partition=key):
            if row["part"] in listed and row["input_kind"] == RAW:
                self.origins[row["part"]].add((row["input_id"], row["input_version"]))
        self.compacted = sorted(p.part for p in parts if p.build == ctx.build)
        held = {i for p in self.compacted for i, _ in self.origins[p]}
        others = {i for p in listed - set(self.compacted) for i, _ in self.origins[p]}
        self.superseded = sorted(held & others)  # inputs a compacted part holds and a new part republished

    def unit(self, version: str) -> Unit:
        """Its inputs: the partition version, the raw objects of its parts (so the compacted part's
        lineage reaches them)."""
        day = dt.date.fromisoformat(self.key)
        # the raw objects its rows come from: not a superseded one whose new part is empty (the
        # producing unit now writes nothing here), so a later rebuild of it finds no rows here
        raws = {o for p in self.compacted for o in self.origins[p] if o[0] not in self.superseded}
        raws |= {
            o for p in self.parts if p.part not in self.compacted and p.rows for o in self.origins[p.part]
        }
        inputs = (Input(TABLE, self.name, version, day), *(Input(RAW, i, v) for i, v in sorted(raws)))
        params = (
            ("table", self.name),
            ("parts", tuple(sorted(p.part for p in self.parts))),
            ("compacted", tuple(self.compacted)),
            ("superseded", tuple(self.superseded)),
            ("rows", sum(p.rows for p in self.parts)),
            ("digest", hashlib.sha256(f"{self.name}\n{self.key}\n{version}".encode()).hexdigest()[:16]),
        )
        size = sum(p.size_bytes for p in self.parts)
        # the producing build's units whose parts it rewrites: none of them may republish meanwhile
        # (its part would be retired, or replaced by the old rows, when the compaction commits)
        owners = tuple(sorted({(p.build, p.unit) for p in self.parts if p.build != self.build}))
        return CompactUnit(
            f"{self.name}/{self.key}", inputs, partition=day, size=size, params=params, excludes=owners
        )


def _remove_orphans(ctx: StepContext, table: Table, day: dt.date, keep: set[str]) -> None:
    """Delete compacted files of this partition that the ledger never listed (a crash between the
    write and the ledger's record); the runner holds this unit's lock, so none is being published."""
    prefix = lk.partition_prefix(table, day)
    for rel in ctx.lake.glob(f"{prefix}/{PREFIX}*{lk.SUFFIX}"):
        if rel.rsplit("/", 1)[-1].removesuffix(lk.SUFFIX) not in keep:
            ctx.lake.delete(rel)


SOURCE = Compaction(
    (source.packets.name, source.readings.name, source.quarantine.name),
    after_hours="hj212_compact_after_hours",
    min_parts="hj212_compact_min_parts",
    origin="segment",  # the raw location every row of the three tables carries (part of their keys)
)
