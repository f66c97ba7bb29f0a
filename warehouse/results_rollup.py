"""The gate results of a closed day, rolled up into one file; the result files a reader lists.

The runner appends a results file per run, build and batch to ``quality_platform__expectation_results``
(``date=<the run's day>/<run>-<build>-<id>.parquet``, never replaced). An hourly DAG adds dozens a day,
and the serving refresh after every run read all of them: 2,000 files (a few weeks) took 13 s a
refresh, growing without end. Once a day is closed — ``CLOSED_AFTER_DAYS`` back, no run writes into
it any more — ``roll_up`` rewrites its files as one ``rollup-<digest>.parquet`` whose footer names the
files it holds, then deletes them.

Crash-safe and idempotent: a rollup is written whole before any file it holds is deleted; a file some
rollup names is never listed (``listed``), so a crash in between counts nothing twice, and the next
``roll_up`` deletes what was left. A day holding a rollup and a file that landed later is rolled up
again, the older rollup being one of the files the new one holds. The files a rollup holds are
deleted only once the rollup is ``keep_members`` old: a serving file made before it lists them by
name, and its connections keep reading them that long (the serving refresh passes its grace).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import posixpath
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from schemas.registry import Table
from warehouse.fs import Lake
from warehouse.lake import table_pattern

PREFIX = "rollup-"
MEMBERS_KEY = "ecocloud.rollup_of"  # footer metadata: JSON list of the file names a rollup holds
CLOSED_AFTER_DAYS = 2  # results are written under the run's day: two days back, no run writes any more


def listed(lake: Lake, table: Table, files: Sequence[str] | None = None) -> list[str]:
    """The table's result files a reader should read: every file (``files``: the table's listing, when
    the caller has it), less those a rollup holds."""
    files = lake.glob(table_pattern(table)) if files is None else files
    held = _held_by(lake, files)
    return [f for f in files if f not in held]


@dataclass(frozen=True)
class Rolled:
    written: list[str]  # the rollups written
    files: list[str]  # the table's files afterwards (for ``listed``: no second listing of the lake)


def roll_up(
    lake: Lake, table: Table, today: dt.date, *, keep_members: dt.timedelta = dt.timedelta(0)
) -> Rolled:
    """Roll up every closed day holding more than one file (or files a rollup holds already); delete
    the files a rollup holds once it is ``keep_members`` old."""
    cutoff = dt.datetime.now(dt.UTC) - keep_members
    by_day: dict[str, list[str]] = defaultdict(list)
    for rel in lake.glob(table_pattern(table)):
        by_day[posixpath.dirname(rel)].append(rel)
    prefix = f"{table.partition_by}="
    written = []
    for folder, files in sorted(by_day.items()):
        name = posixpath.basename(folder).removeprefix(prefix)
        if not _is_date(name) or dt.date.fromisoformat(name) > today - dt.timedelta(days=CLOSED_AFTER_DAYS):
            continue
        held = _held_by(lake, files)
        live = [f for f in files if f not in held]
        rollup = [_write_rollup(lake, folder, live)] if len(live) > 1 else []
        if rollup:
            held |= dict.fromkeys(live, rollup[0])
        holders = set(held.values())
        if keep_members > dt.timedelta(0):  # a rollup just written (or too young) keeps its members
            holders = {r for r in holders if r not in rollup and lake.info(r).modified <= cutoff}
        due = sorted(f for f, r in held.items() if f in files and r in holders)
        lake.delete_many(due)  # held names outlive their files
        written += rollup
        by_day[folder] = [f for f in files if f not in due] + rollup
    return Rolled(written, sorted(f for files in by_day.values() for f in files))


def _write_rollup(lake: Lake, folder: str, files: Sequence[str]) -> str:
    names = sorted(posixpath.basename(f) for f in files)
    rows = pa.concat_tables([lake.read_parquet(f) for f in files], promote_options="permissive")
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
    target = f"{folder}/{PREFIX}{digest}.parquet"
    lake.write_parquet(target, rows, key_value={MEMBERS_KEY: json.dumps(names)})
    return target


def _held_by(lake: Lake, files: Sequence[str]) -> dict[str, str]:
    """Files of ``files``' folders that a rollup among ``files`` holds → that rollup. Only a folder
    holding more than one file is looked at: a closed day is one rollup alone (no footer read) unless
    a crash, a late file or members within their keep time left more."""
    by_folder: dict[str, list[str]] = defaultdict(list)
    for rel in files:
        by_folder[posixpath.dirname(rel)].append(rel)
    held: dict[str, str] = {}
    for folder, rels in by_folder.items():
        for rel in rels if len(rels) > 1 else ():
            if posixpath.basename(rel).startswith(PREFIX):
                meta = lake.parquet_metadata(rel).metadata or {}
                names = json.loads(meta.get(MEMBERS_KEY.encode(), b"[]"))
                held |= dict.fromkeys((f"{folder}/{name}" for name in names), rel)
    return held


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True
