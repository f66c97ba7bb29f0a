"""The ledger: the platform's state that every process and machine shares, in one SQL database.

* ``raw_objects`` — the raw manifest: one row per object landed (sha256, size, origin, received).
* ``raw_groups`` — objects landed together as one input (a board snapshot's pages).
* ``fetch_state`` — validators of the last fetch of each URL, for conditional GET.
* ``units`` — per spec build and unit: the fingerprint it was last built from and the outcome.
  The runner compares fingerprints to decide what is pending; nothing else decides.
* ``parts`` — every part file published in the lake. A partition's *version* is derived from its
  parts (``partition_versions``), so a downstream build sees when an input partition changed.
* ``lineage`` — which inputs built which output partition, in which run and task.
* ``source_checks`` — per build: when the scheduled landing of its source last completed (asked the
  upstream and landed whatever was new, or nothing): a build that then finds nothing to do is current
  as of that check although it writes nothing (the catalog's freshness of the permit tables).
* ``landings`` — per source: its latest scheduled landing attempt, its latest success, and the error
  of the latest attempt when it failed (an upstream down shows where operators look, not only in the
  scheduler's task logs: a failed landing records no unit).
* ``retired_parts`` — parts a unit no longer has (replaced by a compaction or by a new object of other
  content, a partition it no longer writes): they leave ``parts`` in the transaction that retires them;
  the next serving refresh stops listing them (``unlisted_at``), and a refresh a grace period after
  that deletes their files (``ecocloud.runner.engine.refresh_serving``); a part recorded again under
  its name is no longer retired.
* locks — one per unit of work, so concurrent runs (a DAG and a CLI, two workers) serialise on
  the same unit instead of overwriting each other.
* ``lock_holders`` — per lock key, the fencing token of its latest holder: written by ``locked`` once
  it holds its locks, and checked by ``record_unit`` in the transaction that records (``Fence``). A
  holder whose lock session ended (PostgreSQL) can then no longer record a unit after another took
  its lock: the other's token write either follows that record (and the other re-plans from it) or
  precedes it (and the record fails with ``LockLost``). The ledger is fenced, not the lake: on S3 the
  fenced-off holder's objects stay unlisted (for the sweep); on a local lake it may already have
  renamed its part over the other's file of the same name (``ecocloud.runner.engine``, step 6).

The database is SQLite on one machine (``sqlite:///<home>/state.sqlite``, WAL, writers serialised by
``BEGIN IMMEDIATE``, connections pooled per process and closed by ``close``, so the ``-wal`` and
``-shm`` files stay beside it while a ledger is open; locks are ``flock``s beside it) or any
SQLAlchemy URL (PostgreSQL with advisory locks) when several machines share the platform. The column
meanings of ``raw_objects``, ``units``, ``parts`` and ``lineage`` are those of the registry's
``platform_ledger__*`` tables (``schemas/platform.py``), and the serving database holds a copy of them;
the other tables are the platform's own bookkeeping.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import sqlite3
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

_META = sa.MetaData()

raw_objects = sa.Table(
    "raw_objects",
    _META,
    sa.Column("raw_path", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("logical_name", sa.Text, nullable=False),
    sa.Column("partition", sa.Text),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("origin", sa.Text, nullable=False),
    sa.Column("received_at", sa.Text, nullable=False),
    sa.Index("raw_objects_by_name", "source", "logical_name", "received_at"),
)
raw_groups = sa.Table(
    "raw_groups",
    _META,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("group_id", sa.Text, primary_key=True),
    sa.Column("members", sa.Text, nullable=False),  # JSON list of raw paths, in order
    sa.Column("meta", sa.Text, nullable=False),  # JSON
    sa.Column("recorded_at", sa.Text, nullable=False),
)
fetch_state = sa.Table(
    "fetch_state",
    _META,
    sa.Column("url", sa.Text, primary_key=True),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("sha256", sa.Text),
    sa.Column("fetched_at", sa.Text, nullable=False),
)
units = sa.Table(
    "units",
    _META,
    sa.Column("build", sa.Text, primary_key=True),
    sa.Column("unit", sa.Text, primary_key=True),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("counts", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("task", sa.Text, nullable=False),
    sa.Column("built_at", sa.Text, nullable=False),
    sa.Column("error", sa.Text),
)
parts = sa.Table(
    "parts",
    _META,
    sa.Column("table_name", sa.Text, primary_key=True),
    sa.Column("partition", sa.Text, primary_key=True),  # ISO date, '' for an unpartitioned table
    sa.Column("part", sa.Text, primary_key=True),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("build", sa.Text, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("written_at", sa.Text, nullable=False),
    sa.Index("parts_by_unit", "build", "unit"),
)
source_checks = sa.Table(
    "source_checks",
    _META,
    sa.Column("build", sa.Text, primary_key=True),
    sa.Column("checked_at", sa.Text, nullable=False),
)
landings = sa.Table(
    "landings",
    _META,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("attempted_at", sa.Text, nullable=False),
    sa.Column("succeeded_at", sa.Text),  # NULL: never succeeded
    sa.Column("error", sa.Text),  # NULL: the latest attempt succeeded
    sa.Column("run_id", sa.Text),
)
retired_parts = sa.Table(
    "retired_parts",
    _META,
    sa.Column("table_name", sa.Text, primary_key=True),
    sa.Column("partition", sa.Text, primary_key=True),
    sa.Column("part", sa.Text, primary_key=True),
    sa.Column("build", sa.Text, nullable=False),  # the build and unit that wrote it (who may write it again)
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("retired_at", sa.Text, nullable=False),
    # when a serving file that no longer lists it took the place of the last that did (NULL: not yet)
    sa.Column("unlisted_at", sa.Text),
)
lock_holders = sa.Table(
    "lock_holders",
    _META,
    sa.Column("lock_key", sa.Text, primary_key=True),
    sa.Column("token", sa.Text, nullable=False),  # a uuid per ``Ledger.locked`` block
    sa.Column("taken_at", sa.Text, nullable=False),
)
lineage = sa.Table(
    "lineage",
    _META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("task", sa.Text, nullable=False),
    sa.Column("build", sa.Text, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("output_table", sa.Text, nullable=False),
    sa.Column("output_partition", sa.Text, nullable=False),
    sa.Column("part", sa.Text, nullable=False),
    sa.Column("input_kind", sa.Text, nullable=False),
    sa.Column("input_id", sa.Text, nullable=False),
    sa.Column("input_partition", sa.Text, nullable=False),
    sa.Column("input_version", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.Text, nullable=False),
    sa.Index("lineage_by_output", "output_table", "output_partition"),
    sa.Index("lineage_by_input", "input_id"),
)

WHOLE = ""  # the partition key of an unpartitioned table


def partition_date(key: str) -> dt.date | None:
    """The date a partition key names (None: ``WHOLE``, the one partition of an unpartitioned table)."""
    return None if key == WHOLE else dt.date.fromisoformat(key)


@dataclass(frozen=True)
class RawObject:
    raw_path: str
    source: str
    logical_name: str
    partition: str | None
    sha256: str
    size: int
    origin: str
    received_at: str


@dataclass(frozen=True)
class RawGroup:
    source: str
    group_id: str
    members: tuple[str, ...]
    meta: dict[str, Any]
    recorded_at: str


# a unit's recorded outcome (``units.status``; the runner's reports add "skipped", never recorded)
PUBLISHED, BLOCKED, FAILED = "published", "blocked", "failed"


@dataclass(frozen=True)
class UnitState:
    build: str
    unit: str
    fingerprint: str
    status: str  # PUBLISHED | BLOCKED | FAILED
    counts: dict[str, Any]
    run_id: str
    task: str
    built_at: str
    error: str | None

    @property
    def published_counts(self) -> dict[str, Any] | None:
        """The counts of what the unit has published — a planner reading them sees what is in the
        lake: a published unit's own; a blocked unit's parts stay as last published, and its record
        keeps their counts (``LAST_PUBLISHED``) beside the attempt's; a failed unit's record keeps the
        counts it had before (so, those of a blocked one with theirs inside)."""
        if self.status == PUBLISHED:
            return self.counts
        kept = self.counts.get(LAST_PUBLISHED, self.counts if self.status == FAILED else None)
        return kept if isinstance(kept, dict) else None


LAST_PUBLISHED = "_last_published"  # in a blocked or failed unit's counts: UnitState.published_counts


@dataclass(frozen=True)
class Part:
    table_name: str
    partition: str  # ISO date or WHOLE
    part: str
    fingerprint: str
    build: str
    unit: str
    rows: int
    size_bytes: int
    run_id: str
    written_at: str


KEYS_PER_STATEMENT = 5_000  # part keys (3 bound values each) looked up in one statement


@dataclass(frozen=True)
class PartName:
    """Where a part's file is: its table, partition and name."""

    table_name: str
    partition: str
    part: str


@dataclass(frozen=True)
class RetiredPart:
    table_name: str
    partition: str
    part: str
    build: str  # who wrote it
    unit: str
    retired_at: str
    unlisted_at: str | None = None  # when serving stopped listing it (NULL: not yet)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.table_name, self.partition, self.part)


@dataclass(frozen=True)
class LineageRow:
    output_table: str
    output_partition: str
    part: str
    input_kind: str
    input_id: str
    input_partition: str
    input_version: str


class LockTimeout(TimeoutError):
    """Another process held a unit's lock for longer than the wait allowed."""


class LockLost(RuntimeError):
    """The locks of a ``Ledger.locked`` block are gone (their database session ended: the server
    restarted, or dropped the connection): another process may hold them now, so nothing the block
    built may be published. Raised by ``HeldLocks.verify``, and by a fenced ``record_unit`` once
    another holder has taken a lock over."""


@dataclass(frozen=True)
class Fence:
    """What ``record_unit`` checks before it writes: every lock of ``keys`` last taken with ``token``."""

    keys: tuple[str, ...]
    token: str


@dataclass(frozen=True)
class HeldLocks:
    """The locks a ``Ledger.locked`` block holds, taken with ``token`` (``lock_holders``); ``verify``
    before publishing what it built, and record it with a ``fence``."""

    keys: tuple[str, ...]
    token: str
    _verify: Callable[[], None] = lambda: None

    def verify(self) -> None:
        """Raise ``LockLost`` unless every lock is still held (a cheap early check: ``fence`` is what
        makes a record safe, since the locks may be lost after it)."""
        self._verify()

    def fence(self, *keys: str) -> Fence:
        """The fence of a record that needs the locks of ``keys`` (of those held)."""
        if not set(keys) <= set(self.keys):
            raise ValueError(f"locks not held: {sorted(set(keys) - set(self.keys))}")
        return Fence(tuple(sorted(set(keys))), self.token)


def default_url(home: Path) -> str:
    return f"sqlite:///{home / 'state.sqlite'}"


class Ledger:
    """The ledger at ``url`` (an SQLAlchemy URL, or the path of an SQLite file); tables are created on
    first use."""

    def __init__(self, url: str | Path) -> None:
        url = str(url) if "://" in str(url) else f"sqlite:///{Path(url).resolve()}"
        self.url = url
        self.engine = _engine(url)
        self._sqlite = self.engine.dialect.name == "sqlite"
        with self._tx() as con:
            if not self._sqlite:  # processes starting on a fresh database would race to create the tables
                con.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_id("ledger:schema")})
            _META.create_all(con)
            for index in lineage.indexes:  # create_all adds none to a table an older version made
                index.create(con, checkfirst=True)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as con:
            yield con

    def _insert(self, table: sa.Table, row: Mapping[str, Any]) -> Any:
        from sqlalchemy.dialects import postgresql, sqlite

        return (sqlite.insert if self._sqlite else postgresql.insert)(table).values(**row)

    def _insert_values(self, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> Any:
        """One multi-row insert (``on_conflict_*`` may follow)."""
        from sqlalchemy.dialects import postgresql, sqlite

        return (sqlite.insert if self._sqlite else postgresql.insert)(table).values(list(rows))

    def _upsert(self, table: sa.Table, row: Mapping[str, Any], keys: Sequence[str]) -> Any:
        return self._insert(table, row).on_conflict_do_update(
            index_elements=list(keys), set_={k: v for k, v in row.items() if k not in keys}
        )

    def _upsert_many(self, table: sa.Table, keys: Sequence[str]) -> Any:
        """An upsert statement for ``executemany`` (rows given at execution)."""
        from sqlalchemy.dialects import postgresql, sqlite

        stmt = (sqlite.insert if self._sqlite else postgresql.insert)(table)
        return stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys},
        )

    # -- raw manifest -------------------------------------------------------------------------
    def record_raw(self, obj: RawObject) -> RawObject:
        """Record a landed object; landing the same bytes again returns the first record (also when two
        processes record it at once: the insert of the second is a no-op, not an error)."""
        with self._tx() as con:
            con.execute(self._insert(raw_objects, _as_dict(obj)).on_conflict_do_nothing())
            row = con.execute(sa.select(raw_objects).where(raw_objects.c.raw_path == obj.raw_path)).one()
        return RawObject(*row)

    def latest_raw(self, source: str, logical_name: str) -> RawObject | None:
        """The newest object received under an upstream name (day files grow during the day)."""
        versions = self.raw_versions(source, logical_name, newest_first=True, limit=1)
        return versions[0] if versions else None

    def raw_versions(
        self, source: str, logical_name: str, *, newest_first: bool = False, limit: int | None = None
    ) -> list[RawObject]:
        """The objects received under an upstream name, in received order (or newest first)."""
        order = [raw_objects.c.received_at, raw_objects.c.raw_path]
        q = (
            sa.select(raw_objects)
            .where(raw_objects.c.source == source, raw_objects.c.logical_name == logical_name)
            .order_by(*(c.desc() for c in order) if newest_first else order)
            .limit(limit)
        )
        with self._tx() as con:
            return [RawObject(*r) for r in con.execute(q)]

    def raw_objects(self, source: str | None = None) -> list[RawObject]:
        q = sa.select(raw_objects).order_by(raw_objects.c.received_at, raw_objects.c.raw_path)
        if source is not None:
            q = q.where(raw_objects.c.source == source)
        with self._tx() as con:
            return [RawObject(*r) for r in con.execute(q)]

    def record_group(
        self, source: str, group_id: str, members: Sequence[str], meta: Mapping[str, Any]
    ) -> RawGroup:
        """Record raw objects landed together as one input; the first record of a group wins."""
        new = {
            "source": source,
            "group_id": group_id,
            "members": json.dumps(list(members)),
            "meta": json.dumps(dict(meta), ensure_ascii=False, default=str),
            "recorded_at": _now(),
        }
        with self._tx() as con:
            con.execute(self._insert(raw_groups, new).on_conflict_do_nothing())
            row = con.execute(
                sa.select(raw_groups).where(raw_groups.c.source == source, raw_groups.c.group_id == group_id)
            ).one()
        return _group(row)

    def group(self, source: str, group_id: str) -> RawGroup | None:
        with self._tx() as con:
            row = con.execute(
                sa.select(raw_groups).where(raw_groups.c.source == source, raw_groups.c.group_id == group_id)
            ).first()
        return _group(row) if row else None

    def groups(self, source: str) -> list[RawGroup]:
        q = sa.select(raw_groups).where(raw_groups.c.source == source).order_by(raw_groups.c.recorded_at)
        with self._tx() as con:
            return [_group(r) for r in con.execute(q)]

    # -- conditional GET ----------------------------------------------------------------------
    def fetch_state(self, url: str) -> tuple[str | None, str | None, str | None]:
        q = sa.select(fetch_state.c.etag, fetch_state.c.last_modified, fetch_state.c.sha256).where(
            fetch_state.c.url == url
        )
        with self._tx() as con:
            row = con.execute(q).first()
        return (row[0], row[1], row[2]) if row else (None, None, None)

    def record_fetch(self, url: str, etag: str | None, last_modified: str | None, sha256: str) -> None:
        row = {
            "url": url,
            "etag": etag,
            "last_modified": last_modified,
            "sha256": sha256,
            "fetched_at": _now(),
        }
        with self._tx() as con:
            con.execute(self._upsert(fetch_state, row, ["url"]))

    # -- units --------------------------------------------------------------------------------
    def unit_states(self, build: str) -> dict[str, UnitState]:
        q = sa.select(units).where(units.c.build == build)
        with self._tx() as con:
            return {r.unit: _unit(r) for r in con.execute(q)}

    def unit_state(self, build: str, unit: str) -> UnitState | None:
        q = sa.select(units).where(units.c.build == build, units.c.unit == unit)
        with self._tx() as con:
            row = con.execute(q).first()
        return _unit(row) if row else None

    def all_units(self) -> list[UnitState]:
        with self._tx() as con:
            return [_unit(r) for r in con.execute(sa.select(units).order_by(units.c.build, units.c.unit))]

    def record_unit(
        self,
        state: UnitState,
        *,
        written: Sequence[Part] = (),
        removed: Sequence[tuple[str, str, str]] = (),
        lineage_rows: Sequence[LineageRow] = (),
        fence: Fence | None = None,
    ) -> None:
        """Record a unit's outcome, the parts it wrote (``removed``: (table, partition, part) it no
        longer has: retired, see the module doc) and its lineage — in one transaction, so readers
        never see half of it. With a ``fence`` (a holder of the unit's locks), only while its locks
        are still the holder's: ``LockLost`` otherwise, and nothing is recorded."""
        now = _now()
        with self._tx() as con:
            if fence is not None:
                _check_fence(con, fence)
            row = _as_dict(state) | {"counts": json.dumps(state.counts, ensure_ascii=False, default=str)}
            con.execute(self._upsert(units, row, ["build", "unit"]))
            if removed:  # executemany too: a compaction retires hundreds of parts
                keys = [_key_params(*r) for r in removed]
                con.execute(
                    sa.insert(retired_parts).from_select(
                        ["table_name", "partition", "part", "build", "unit", "retired_at"],
                        sa.select(
                            parts.c.table_name, parts.c.partition, parts.c.part, parts.c.build, parts.c.unit,
                            sa.literal(now),
                        ).where(*_bound_key(parts)),
                    ),
                    keys,
                )  # fmt: skip
                con.execute(sa.delete(parts).where(*_bound_key(parts)), keys)
            if written:  # one executemany: a statement per part cost more than the part's write
                con.execute(
                    self._upsert_many(parts, ["table_name", "partition", "part"]),
                    [_as_dict(p) for p in written],
                )
                con.execute(_unretire(), [_key_params(p.table_name, p.partition, p.part) for p in written])
            if lineage_rows:
                con.execute(
                    sa.insert(lineage),
                    [
                        _as_dict(r)
                        | {
                            "run_id": state.run_id,
                            "task": state.task,
                            "build": state.build,
                            "unit": state.unit,
                            "recorded_at": now,
                        }
                        for r in lineage_rows
                    ],
                )

    # -- source checks ------------------------------------------------------------------------
    def record_source_check(self, builds: Sequence[str], at: dt.datetime | None = None) -> None:
        """The scheduled landing of the source of ``builds`` completed (``at``, default now)."""
        checked = stamp(at) if at is not None else _now()
        with self._tx() as con:
            for build in builds:
                con.execute(self._upsert(source_checks, {"build": build, "checked_at": checked}, ["build"]))

    def source_checks(self) -> dict[str, str]:
        """build → when the scheduled landing of its source last completed."""
        with self._tx() as con:
            return {r.build: r.checked_at for r in con.execute(sa.select(source_checks))}

    # -- landings -----------------------------------------------------------------------------
    def record_landing(
        self, source: str, *, run_id: str | None, error: str | None, at: dt.datetime | None = None
    ) -> None:
        """A scheduled landing of ``source`` ended (``at``, default now): with ``error`` when it failed,
        keeping the time of the last success."""
        when = stamp(at) if at is not None else _now()
        row: dict[str, Any] = {"source": source, "attempted_at": when, "error": error, "run_id": run_id}
        if error is None:
            row["succeeded_at"] = when
        with self._tx() as con:
            con.execute(self._upsert(landings, row, ["source"]))

    def landings(self) -> list[dict[str, Any]]:
        """Per source, its latest scheduled landing: attempted_at, succeeded_at, error, run_id."""
        with self._tx() as con:
            return [dict(r._mapping) for r in con.execute(sa.select(landings).order_by(landings.c.source))]

    def retired(self, table_name: str | None = None, *, partition: str | None = None) -> list[RetiredPart]:
        """The parts retired and not yet deleted (of one table, one partition), oldest first."""
        q = sa.select(retired_parts).order_by(retired_parts.c.retired_at, retired_parts.c.table_name)
        q = _of_table(q, retired_parts, table_name, partition)
        with self._tx() as con:
            return [RetiredPart(**r._mapping) for r in con.execute(q)]

    def known_parts(self) -> list[PartName]:
        """Every part the lake may hold a file of, listed or retired, in one statement (two reads
        would miss a part recorded again or retired between them: on PostgreSQL each statement of a
        transaction sees what committed before it)."""
        names = [sa.select(t.c.table_name, t.c.partition, t.c.part) for t in (parts, retired_parts)]
        with self._tx() as con:
            return [PartName(*r) for r in con.execute(sa.union_all(*names))]

    def still_retired(self, retired: Sequence[RetiredPart]) -> list[RetiredPart]:
        """Of ``retired``, those still retired as they were (as they are now: ``unlisted_at`` may be
        set since): not recorded again since, nor recorded again and retired anew (a later
        retirement is a later refresh's to delete)."""
        c = retired_parts.c
        keys = [r.key for r in retired]
        now: dict[tuple[str, str, str], RetiredPart] = {}
        with self._tx() as con:
            # in slices: a statement takes at most 32,766 (SQLite) or 65,535 (PostgreSQL) bound values
            for i in range(0, len(keys), KEYS_PER_STATEMENT):
                q = sa.select(retired_parts).where(
                    sa.tuple_(c.table_name, c.partition, c.part).in_(keys[i : i + KEYS_PER_STATEMENT])
                )
                now |= {
                    (r.table_name, r.partition, r.part): RetiredPart(**r._mapping) for r in con.execute(q)
                }
        return [now[r.key] for r in retired if r.key in now and now[r.key].retired_at == r.retired_at]

    def mark_unlisted(self, retired: Sequence[RetiredPart], at: dt.datetime) -> list[RetiredPart]:
        """Record that a serving file listing none of ``retired`` is in place since ``at`` (for those
        not marked before: the first such refresh counts); returns them as they are now."""
        if retired:
            stmt = (
                sa.update(retired_parts)
                .where(*_retired_key(as_retired=True), retired_parts.c.unlisted_at.is_(None))
                .values(unlisted_at=sa.bindparam("unlisted"))
            )
            with self._tx() as con:
                con.execute(stmt, [_retired_params(r) | {"unlisted": stamp(at)} for r in retired])
        return self.still_retired(retired)

    def forget_retired(self, retired: Sequence[RetiredPart]) -> None:
        """Drop ``retired`` from the retired parts (their files are deleted), each as it was retired."""
        if retired:
            with self._tx() as con:
                con.execute(
                    sa.delete(retired_parts).where(*_retired_key(as_retired=True)),
                    [_retired_params(r) for r in retired],
                )

    # -- parts and partition versions ---------------------------------------------------------
    def parts(self, table_name: str | None = None, *, partition: str | None = None) -> list[Part]:
        q = sa.select(parts).order_by(parts.c.table_name, parts.c.partition, parts.c.part)
        q = _of_table(q, parts, table_name, partition)
        with self._tx() as con:
            return [Part(*r) for r in con.execute(q)]

    def parts_of_units(self, build: str, units: Sequence[str]) -> list[Part]:
        """The parts ``build`` published for any of ``units``, in one query."""
        q = sa.select(parts).where(parts.c.build == build, parts.c.unit.in_(list(units)))
        with self._tx() as con:
            return [Part(*r) for r in con.execute(q)]

    def partition_versions(self, table_name: str) -> dict[str, str]:
        """partition → version of every published partition of ``table_name``."""
        q = (
            sa.select(parts.c.partition, parts.c.part, parts.c.fingerprint)
            .where(parts.c.table_name == table_name)
            .order_by(parts.c.partition, parts.c.part)
        )
        with self._tx() as con:
            rows = con.execute(q).all()
        digests: dict[str, Any] = {}
        for partition, part, fingerprint in rows:
            digests.setdefault(partition, hashlib.sha256()).update(f"{part}={fingerprint}\n".encode())
        return {p: d.hexdigest()[:32] for p, d in digests.items()}

    def lineage(
        self, output_table: str | None = None, *, partition: str | None = None
    ) -> list[dict[str, Any]]:
        q = sa.select(lineage).order_by(lineage.c.id)
        if output_table is not None:
            q = q.where(lineage.c.output_table == output_table)
        if partition is not None:
            q = q.where(lineage.c.output_partition == partition)
        with self._tx() as con:
            return [dict(r._mapping) for r in con.execute(q)]

    def held_elsewhere(
        self, build: str, tables: Sequence[str], input_ids: Sequence[str]
    ) -> list[tuple[str, str, str]]:
        """(input id, table, partition) of the listed parts of ``tables`` that builds other than
        ``build`` wrote from any of ``input_ids`` (by their lineage): a compaction's part holding rows
        ``build`` made from those inputs."""
        q = (
            sa.select(lineage.c.input_id, parts.c.table_name, parts.c.partition)
            .distinct()
            .join(
                parts,
                sa.and_(
                    parts.c.table_name == lineage.c.output_table,
                    parts.c.partition == lineage.c.output_partition,
                    parts.c.part == lineage.c.part,
                ),
            )
            .where(parts.c.build != build, parts.c.table_name.in_(list(tables)))
        )
        found: list[tuple[str, str, str]] = []
        with self._tx() as con:
            for i in range(0, len(input_ids), KEYS_PER_STATEMENT):
                ids = list(input_ids[i : i + KEYS_PER_STATEMENT])
                found += [tuple(r) for r in con.execute(q.where(lineage.c.input_id.in_(ids)))]
        return sorted(found)

    # -- locks --------------------------------------------------------------------------------
    @contextmanager
    def locked(self, keys: Iterable[str], *, timeout_s: float = 3600.0) -> Iterator[HeldLocks]:
        """Hold a lock per key (sorted, so two holders never deadlock) for the block.

        A killed holder's locks are released by the operating system (flock) or by the database
        when its session ends (PostgreSQL advisory locks, all held by one connection of their own).
        That session can also end under a living holder: ``HeldLocks.verify`` tells, and a record
        fenced by ``HeldLocks.fence`` fails once another holder has taken a lock over — each holder
        writes a fresh token for its keys into ``lock_holders`` before the block starts.
        """
        ordered = tuple(sorted(set(keys)))
        if not self._sqlite:
            with self._advisory_locks(ordered, timeout_s) as held:
                yield held
            return
        with ExitStack() as stack:
            for key in ordered:
                path = self._lock_dir() / f"{hashlib.sha1(key.encode()).hexdigest()}.lock"
                stack.enter_context(_flock(path, key, timeout_s))
            token = uuid.uuid4().hex
            with self._tx() as con:
                self._take_over(con, ordered, token)
            yield HeldLocks(ordered, token)  # a living process keeps its flocks

    def _take_over(self, con: sa.Connection, ordered: tuple[str, ...], token: str) -> None:
        """Write ``token`` as the holder's of every lock of ``ordered``: one multi-row upsert per slice
        of keys (on an autocommit connection each commits by itself: each row is still written while
        its lock is held)."""
        taken_at = _now()
        rows = [{"lock_key": key, "token": token, "taken_at": taken_at} for key in ordered]
        for i in range(0, len(rows), KEYS_PER_STATEMENT):
            stmt = self._insert_values(lock_holders, rows[i : i + KEYS_PER_STATEMENT])
            con.execute(
                stmt.on_conflict_do_update(
                    index_elements=["lock_key"], set_={"token": token, "taken_at": taken_at}
                )
            )

    @contextmanager
    def _advisory_locks(self, ordered: tuple[str, ...], timeout_s: float) -> Iterator[HeldLocks]:
        # Session-level locks on one autocommit connection: a batch of many units needs one
        # connection, not one per key, and no transaction stays open while the block runs.
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as con:
            try:
                # a holder whose machine vanished (no FIN) keeps its locks until the server notices:
                # by TCP keepalive, after about a minute here instead of the system's two hours
                con.execute(sa.text(_KEEPALIVE))
                deadline = time.monotonic() + timeout_s
                for key in ordered:
                    ident = _lock_id(key)
                    while not con.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": ident}).scalar():
                        if time.monotonic() > deadline:
                            raise LockTimeout(f"lock {key!r} still held after {timeout_s:.0f} s")
                        time.sleep(0.05)
                # on the locks' own session: written only while it holds them, so never after a
                # holder that took them over wrote its token
                token = uuid.uuid4().hex
                self._take_over(con, ordered, token)
                yield HeldLocks(ordered, token, lambda: _verify_advisory(con, {_lock_id(k) for k in ordered}))
            finally:
                try:
                    con.execute(sa.text("SELECT pg_advisory_unlock_all()"))
                except sa.exc.SQLAlchemyError:  # lost already (LockLost), or failing now
                    con.invalidate()  # the session ends, and its locks with it

    def _lock_dir(self) -> Path:
        db = self.engine.url.database
        folder = (Path(db).parent if db and db != ":memory:" else Path(".")) / "locks"
        folder.mkdir(parents=True, exist_ok=True)
        return folder


_KEEPALIVE = "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3"


def _verify_advisory(con: sa.Connection, idents: set[int]) -> None:
    """Raise ``LockLost`` unless ``con``'s session still holds every advisory lock of ``idents``."""
    try:
        rows = con.execute(
            sa.text(
                "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks "
                "WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted"
            )
        ).scalars()
        missing = len(idents - set(rows))
    except sa.exc.DBAPIError as e:
        raise LockLost(f"the session holding {len(idents)} lock(s) ended: {e.orig}") from e
    if missing:
        raise LockLost(f"{missing} of {len(idents)} lock(s) no longer held by this session")


def _check_fence(con: sa.Connection, fence: Fence) -> None:
    """Raise ``LockLost`` unless every lock of ``fence`` was last taken with its token. The rows stay
    locked (PostgreSQL; SQLite's writer holds the database) to the end of the transaction: a holder
    taking one over now waits for it, then re-plans from what it recorded. Sorted, as a holder
    writes them, so that the two never deadlock."""
    c = lock_holders.c
    rows = con.execute(
        sa.select(c.lock_key, c.token)
        .where(c.lock_key.in_(fence.keys))
        .order_by(c.lock_key)
        .with_for_update()
    ).all()
    lost = sorted(set(fence.keys) - {key for key, token in rows if token == fence.token})
    if lost:
        named = ", ".join(lost[:3]) + (", …" if len(lost) > 3 else "")
        raise LockLost(f"{len(lost)} of {len(fence.keys)} lock(s) taken by another holder since: {named}")


@contextmanager
def _flock(path: Path, key: str, timeout_s: float) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeout(f"lock {key!r} still held after {timeout_s:.0f} s") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _lock_id(key: str) -> int:
    """The 64-bit PostgreSQL advisory lock id of a key."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


def make_sqlite_folder(url: str) -> None:
    """For a SQLite file URL: create the folder the file goes in (a new home has none yet)."""
    path = sa.engine.make_url(url).database if url.startswith("sqlite") else None
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _engine(url: str) -> sa.Engine:
    if not url.startswith("sqlite"):
        return _server_engine(url)
    make_sqlite_folder(url)
    path = sa.engine.make_url(url).database
    if not path or path == ":memory:":
        engine = sa.create_engine(url, connect_args={"timeout": 120}, poolclass=sa.pool.NullPool)
    else:
        # pooled: opening a connection (and checking its WAL mode) cost more than the transaction in
        # a batch of small ones; forked children never use or close inherited connections (below)
        engine = sa.create_engine(
            url, connect_args={"timeout": 120, "check_same_thread": False}, poolclass=sa.pool.QueuePool
        )
        _POOLED_ENGINES.add(engine)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_con: Any, _record: Any) -> None:
        dbapi_con.isolation_level = None  # let BEGIN below start every transaction
        dbapi_con.execute("PRAGMA busy_timeout=120000")
        _wal(dbapi_con)

    @sa.event.listens_for(engine, "begin")
    def _on_begin(con: sa.Connection) -> None:
        con.exec_driver_sql("BEGIN IMMEDIATE")  # writers queue at the start, never deadlock mid-way

    return engine


def _wal(dbapi_con: Any) -> None:
    """WAL mode (readers never block the writer). It is a property of the database file, set once:
    switching needs a moment alone with the file, which another process's open transaction denies
    without waiting for the busy timeout, so the switch is retried."""
    deadline = time.monotonic() + 120
    while dbapi_con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            dbapi_con.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _server_engine(url: str) -> sa.Engine:
    """A pooled engine for a database server. The runner forks build workers: a child forgets the
    pooled connections it inherited (``_forget_inherited_connections``) and opens its own."""
    engine = sa.create_engine(url, pool_pre_ping=True)
    _POOLED_ENGINES.add(engine)
    return engine


_POOLED_ENGINES: weakref.WeakSet[sa.Engine] = weakref.WeakSet()
_INHERITED_POOLS: list[Any] = []  # a forked child's copies of its parent's pools: kept, never closed


def _forget_inherited_connections() -> None:
    """In a forked child: new, empty pools. The inherited connections are neither used nor closed:
    closing would end the parent's sessions on the shared sockets, and SQLite forbids using a
    connection across fork (its pool is kept referenced, so that no finaliser closes one either)."""
    for engine in list(_POOLED_ENGINES):
        _INHERITED_POOLS.append(engine.pool)
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


def _of_table(
    q: sa.Select[Any], table: sa.Table, table_name: str | None, partition: str | None
) -> sa.Select[Any]:
    """``q`` narrowed to the rows of ``table`` (parts, retired parts) of one table and partition, where given."""
    if table_name is not None:
        q = q.where(table.c.table_name == table_name)
    if partition is not None:
        q = q.where(table.c.partition == partition)
    return q


def _bound_key(table: sa.Table) -> list[sa.ColumnElement[bool]]:
    """A part's row of ``table`` (parts, retired_parts) by the bound key ``t``, ``p``, ``n`` (executemany:
    ``_key_params``)."""
    c = table.c
    return [c.table_name == sa.bindparam("t"), c.partition == sa.bindparam("p"), c.part == sa.bindparam("n")]


def _retired_key(*, as_retired: bool) -> list[sa.ColumnElement[bool]]:
    """A retired part's row by the bound key; ``as_retired``: only as it was retired at the bound ``at``
    (not retired anew since)."""
    key = _bound_key(retired_parts)
    return [*key, retired_parts.c.retired_at == sa.bindparam("at")] if as_retired else key


def _unretire() -> sa.Delete:
    """A part recorded again is no longer retired, whenever it was (bound key: ``_key_params``)."""
    return sa.delete(retired_parts).where(*_retired_key(as_retired=False))


def _key_params(table_name: str, partition: str, part: str) -> dict[str, str]:
    return {"t": table_name, "p": partition, "n": part}


def _retired_params(r: RetiredPart) -> dict[str, str]:
    return _key_params(*r.key) | {"at": r.retired_at}


def _as_dict(obj: Any) -> dict[str, Any]:
    return dict(obj.__dict__)


def _unit(row: Any) -> UnitState:
    return UnitState(
        build=row.build,
        unit=row.unit,
        fingerprint=row.fingerprint,
        status=row.status,
        counts=json.loads(row.counts),
        run_id=row.run_id,
        task=row.task,
        built_at=row.built_at,
        error=row.error,
    )


def _group(row: Any) -> RawGroup:
    return RawGroup(
        row.source, row.group_id, tuple(json.loads(row.members)), json.loads(row.meta), row.recorded_at
    )


def stamp(at: dt.datetime) -> str:
    """The ledger's time stamps: UTC ISO 8601 text to the microsecond, so that they compare as text."""
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _now() -> str:
    return stamp(dt.datetime.now(dt.UTC))
