"""The raw manifest and the processing ledger (OpenAQ's fetch-log pattern), in one SQLite file.

* ``raw_objects``: one row per raw object landed (sha256, size, origin, received time).
* ``fetch_state``: validators of the last fetch of each URL, for conditional GET.
* ``builds``: which raw object(s) built each published partition, with the run's counts; a rerun
  skips a partition whose inputs and pipeline version are unchanged and redoes one whose inputs
  changed.

SQLite is used because Airflow tasks run in separate processes: its transactions make concurrent
writers safe, which a Parquet file or a DuckDB file is not.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS raw_objects (
    raw_path     TEXT PRIMARY KEY,       -- relative to the lake
    source       TEXT NOT NULL,
    logical_name TEXT NOT NULL,          -- upstream file name, e.g. china_sites_20230120.csv
    partition    TEXT,                   -- Beijing date the object belongs to
    sha256       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    origin       TEXT NOT NULL,          -- URL or local path it came from
    received_at  TEXT NOT NULL           -- UTC ISO-8601
);
CREATE INDEX IF NOT EXISTS raw_objects_by_name ON raw_objects(source, logical_name, received_at);
CREATE TABLE IF NOT EXISTS fetch_state (
    url           TEXT PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    sha256        TEXT,
    fetched_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS builds (
    source           TEXT NOT NULL,
    partition        TEXT NOT NULL,
    inputs           TEXT NOT NULL,      -- sha256 of the raw object(s), comma-separated
    pipeline_version TEXT NOT NULL,
    status           TEXT NOT NULL,      -- published | blocked
    counts           TEXT NOT NULL,      -- JSON: rows in / published / quarantined ...
    built_at         TEXT NOT NULL,
    PRIMARY KEY (source, partition)
);
"""


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
class Build:
    source: str
    partition: str
    inputs: str
    pipeline_version: str
    status: str
    counts: dict[str, Any]
    built_at: str


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=60)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)  # executescript manages its own transaction
        finally:
            con.close()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            con.execute("PRAGMA busy_timeout=60000")
            con.execute("BEGIN IMMEDIATE")
            yield con
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    # -- raw manifest -------------------------------------------------------------------------
    def record_raw(self, obj: RawObject) -> RawObject:
        """Record a landed object; landing the same bytes again returns the first record."""
        with self._connect() as con:
            row = con.execute("SELECT * FROM raw_objects WHERE raw_path = ?", (obj.raw_path,)).fetchone()
            if row:
                return RawObject(*row)
            con.execute(
                "INSERT INTO raw_objects VALUES (?,?,?,?,?,?,?,?)",
                (
                    obj.raw_path,
                    obj.source,
                    obj.logical_name,
                    obj.partition,
                    obj.sha256,
                    obj.size,
                    obj.origin,
                    obj.received_at,
                ),
            )
        return obj

    def latest_raw(self, source: str, logical_name: str) -> RawObject | None:
        """The newest object received under an upstream name (day files grow during the day)."""
        with self._connect() as con:
            row = con.execute(
                "SELECT * FROM raw_objects WHERE source = ? AND logical_name = ? "
                "ORDER BY received_at DESC, raw_path DESC LIMIT 1",
                (source, logical_name),
            ).fetchone()
        return RawObject(*row) if row else None

    def raw_objects(self, source: str | None = None) -> list[RawObject]:
        with self._connect() as con:
            if source is None:
                rows = con.execute("SELECT * FROM raw_objects ORDER BY received_at").fetchall()
            else:
                rows = con.execute(
                    "SELECT * FROM raw_objects WHERE source = ? ORDER BY received_at", (source,)
                ).fetchall()
        return [RawObject(*r) for r in rows]

    # -- conditional GET ----------------------------------------------------------------------
    def fetch_state(self, url: str) -> tuple[str | None, str | None, str | None]:
        with self._connect() as con:
            row = con.execute(
                "SELECT etag, last_modified, sha256 FROM fetch_state WHERE url = ?", (url,)
            ).fetchone()
        return (row[0], row[1], row[2]) if row else (None, None, None)

    def record_fetch(self, url: str, etag: str | None, last_modified: str | None, sha256: str) -> None:
        with self._connect() as con:
            con.execute(
                "INSERT INTO fetch_state VALUES (?,?,?,?,?) ON CONFLICT(url) DO UPDATE SET "
                "etag=excluded.etag, last_modified=excluded.last_modified, sha256=excluded.sha256, "
                "fetched_at=excluded.fetched_at",
                (url, etag, last_modified, sha256, _now()),
            )

    # -- builds -------------------------------------------------------------------------------
    def build(self, source: str, partition: str) -> Build | None:
        with self._connect() as con:
            row = con.execute(
                "SELECT * FROM builds WHERE source = ? AND partition = ?", (source, partition)
            ).fetchone()
        if not row:
            return None
        return Build(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6])

    def is_current(self, source: str, partition: str, inputs: str, pipeline_version: str) -> bool:
        """True when the partition was already published from exactly these inputs by this version."""
        b = self.build(source, partition)
        return (
            b is not None
            and b.inputs == inputs
            and b.pipeline_version == pipeline_version
            and b.status == "published"
        )

    def record_build(
        self,
        source: str,
        partition: str,
        inputs: str,
        pipeline_version: str,
        status: str,
        counts: dict[str, Any],
    ) -> None:
        with self._connect() as con:
            con.execute(
                "INSERT INTO builds VALUES (?,?,?,?,?,?,?) ON CONFLICT(source, partition) DO UPDATE SET "
                "inputs=excluded.inputs, pipeline_version=excluded.pipeline_version, "
                "status=excluded.status, counts=excluded.counts, built_at=excluded.built_at",
                (source, partition, inputs, pipeline_version, status, json.dumps(counts), _now()),
            )

    def builds(self, source: str | None = None) -> list[Build]:
        with self._connect() as con:
            q = "SELECT * FROM builds" + (" WHERE source = ?" if source else "") + " ORDER BY partition"
            rows = con.execute(q, (source,) if source else ()).fetchall()
        return [Build(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6]) for r in rows]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
