"""Source specs: what a source is, declared as data (no heavy imports: DAG files read these).

A ``SourceSpec`` names how the source's bytes arrive, the step that lands them on a schedule, its
builds in order, its schedule and its DAG. A ``Build`` declares the registry tables it publishes,
how it publishes them (``Publish``) and where its steps live (``steps``: ``"module:attribute"``,
an object with ``plan`` and ``build``, imported only when the build runs). Adding a source is a
registry module, an ingest package, transforms, one steps module and one spec.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Publish(StrEnum):
    """How a build's units become lake partitions (every write is atomic)."""

    PARTITION = "replace partition"  # a unit owns one partition of each output; written whole
    PART = "add part"  # a unit owns one part file in each partition it touches (one input → parts)
    WHOLE = "rebuild whole"  # the single unit owns the whole (unpartitioned) table


class Arrival(StrEnum):
    """How the source's bytes reach the raw zone."""

    FILES = "conditional-GET files"
    PAGED_API = "paged API with a cursor"
    SNAPSHOTS = "file snapshots"
    SEGMENTS = "receiver segments"
    TABLES = "registry tables"  # a derived spec: its inputs are other specs' tables


@dataclass(frozen=True)
class Build:
    name: str  # short name; the full name is "<source>.<name>"
    outputs: tuple[str, ...]  # registry tables it publishes (its Assets)
    publish: Publish
    steps: str  # "module:attribute" of an object with plan(ctx) and build(ctx, unit)
    evidence: tuple[str, ...] = ()  # outputs written whatever the gate says (quarantine)
    code_version: str = "1"  # bump when the transform's logic changes: every unit rebuilds
    parallel: bool = False  # batches may run in worker processes
    batch_units: int = 32  # units validated together in one gate pass
    batch_bytes: int = 256 << 20  # … and at most this many input bytes per batch
    freshness: bool = False  # scheduled runs check freshness against their data interval
    # codec of its part files, one of warehouse.fs.CODECS (its default: this module imports nothing
    # heavy); lz4 for parts a compaction rewrites later
    compression: str = "zstd"
    summary: tuple[str, ...] = ()  # counts the CLI shows per unit (all when empty)
    doc: str = ""


@dataclass(frozen=True)
class Schedule:
    cron: str | None = None  # Asia/Shanghai; each run gets that interval as its data interval
    assets: tuple[str, ...] = ()  # registry tables whose updates also trigger a run
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class SourceSpec:
    name: str  # "air"
    dag_id: str  # "air_quality"
    title: str
    arrival: Arrival
    builds: tuple[Build, ...]
    schedule: Schedule
    land: str | None = None  # "module:function" landing the interval's bytes (scheduled runs)
    refreshes: tuple[str, ...] = ()  # registry tables the serving refresh rebuilds (the catalog)
    description: str = ""
    start_date: dt.date = dt.date(2026, 11, 1)
    task_policy: dict[str, Any] = field(default_factory=dict)  # overrides of dag_defaults.task_defaults
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [b.name for b in self.builds]
        if len(set(names)) != len(names):
            raise ValueError(f"spec {self.name}: build names repeat")
        for b in self.builds:
            if not set(b.evidence) <= set(b.outputs):
                raise ValueError(f"spec {self.name}.{b.name}: evidence tables must be outputs")

    def build(self, name: str) -> Build:
        for b in self.builds:
            if b.name == name:
                return b
        raise KeyError(f"spec {self.name} has no build {name!r} (builds: {[b.name for b in self.builds]})")

    def full_name(self, build: Build) -> str:
        return f"{self.name}.{build.name}"

    @property
    def outputs(self) -> tuple[str, ...]:
        # a table may be the output of two builds (core publishes parts, compact rewrites them): once
        return tuple(dict.fromkeys([t for b in self.builds for t in b.outputs] + list(self.refreshes)))
