"""The source spec's compact build on a real lake, through the real runner: hourly receiver segments
→ many parts per date → one sorted part; rows, marts and lineage kept; idempotent; a late segment
after compaction; a crash mid-compaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecocloud.builds import compaction, sources
from ecocloud.runner import engine, tasks
from ecocloud.runner.context import RunInfo, read_published
from ecocloud.runner.report import RunReport
from ecocloud.runner.units import unit_lock
from ecocloud.settings import Settings
from ecocloud.specs import get_spec
from ingest.hj212.protocol import build_packet
from ingest.hj212.segments import SegmentWriter
from schemas import source as schema
from schemas.clock import BEIJING
from schemas.registry import Table
from warehouse import lake as lk
from warehouse.ledger import Ledger, Part
from warehouse.sweep import sweep

pytestmark = pytest.mark.integration

Ingest = Callable[..., RunReport]
MNS = ("88883600000000000000014D", "88883600000000000000014E", "88883600000000000000014F")
D1, D2 = dt.date(2026, 11, 20), dt.date(2026, 11, 21)
CORE = (schema.packets, schema.readings, schema.quarantine)
# the partitions four_hours_and_one leaves: D1's three tables, D2's packets and readings (no rejects)
EVERY_PARTITION = {f"{t.name}/{D1}" for t in CORE} | {f"{t.name}/{D2}" for t in CORE[:2]}
MARTS = (schema.hourly, schema.daily)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def packet(when: dt.datetime, value: float, mn: str) -> bytes:
    return build_packet(
        qn=when.strftime("%Y%m%d%H%M%S") + "000",
        st="32",
        cn="2011",
        mn=mn,
        flag=5,
        data_time=when,
        items={"w01018": {"Rtd": value, "Flag": "N"}, "w00000": {"Rtd": value / 10}},
    )


def write_hour(settings: Settings, day: dt.date, hour: int, *, reject: bool = True) -> None:
    """One closed data segment with an hour of packets (and one retransmission of the hour before),
    plus a closed quarantine segment with a damaged line."""
    clock = Clock()
    start = dt.datetime(day.year, day.month, day.day, hour, 0, tzinfo=BEIJING)
    clock.t = start.timestamp()
    lines = [
        packet(start + dt.timedelta(minutes=m), 20.0 + m + hour, mn) for m in range(0, 60, 10) for mn in MNS
    ]
    if hour:
        lines.append(packet(start - dt.timedelta(minutes=10), 19.0 + hour, MNS[0]))  # a retransmission
    with_rid = f"r{hour:02d}"  # one receiver id per hour keeps segment names apart in one test
    writer = SegmentWriter(settings.hj212_landing, with_rid, rotate_seconds=10**9, clock=clock)
    writer.write_batch([(clock.t, "ok", "10.1.1.1:4000", line) for line in lines])
    if reject:
        rejects = SegmentWriter(
            sources.quarantine_dir(settings), with_rid, kind="quarantine", rotate_seconds=10**9, clock=clock
        )
        rejects.write_batch([(clock.t, "crc_mismatch", "10.1.1.1:4000", lines[0][:-6] + b"0000\r\n")])
        clock.t += 600
        rejects.close()
    clock.t = (start + dt.timedelta(minutes=59)).timestamp()
    writer.close()


def register(s: Settings, led: Any) -> list[Any]:
    return sources.register_segments(s, led)


def ledger_parts(settings: Settings, table: Table, day: dt.date) -> list[str]:
    led = Ledger(settings.state_url)
    try:
        return [p.part for p in led.parts(table.name, partition=day.isoformat())]
    finally:
        led.close()


def written_at(settings: Settings) -> dict[tuple[str, str], list[str]]:
    """(table, partition) → the ledger's write times of its parts."""
    led = Ledger(settings.state_url)
    try:
        found: dict[tuple[str, str], list[str]] = {}
        for table in CORE:
            for p in led.parts(table.name):
                found.setdefault((table.name, p.partition), []).append(p.written_at)
        return found
    finally:
        led.close()


def files(settings: Settings, table: Table, day: dt.date) -> list[str]:
    return sorted(p.name for p in lk.partition_dir(settings.lake, table, day).glob("*.parquet"))


def codecs(settings: Settings, table: Table, day: dt.date) -> set[str]:
    """The Parquet codecs of every column chunk of the partition's files."""
    found = set()
    for path in lk.partition_dir(settings.lake, table, day).glob("*.parquet"):
        meta = pq.read_metadata(path)
        for g in range(meta.num_row_groups):
            found |= {meta.row_group(g).column(c).compression for c in range(meta.num_columns)}
    return found


def rows(settings: Settings, table: Table, day: dt.date) -> pa.Table:
    """The partition as the ledger publishes it, in key order (compaction changes the layout only)."""
    led = Ledger(settings.state_url)
    try:
        data = read_published(settings.lake, led, table.name, day)
    finally:
        led.close()
    return data.sort_by([(c, "ascending") for c in table.primary_key])


def snapshot(settings: Settings) -> dict[str, pa.Table]:
    return {f"{t.name}/{d}": rows(settings, t, d) for t in CORE + MARTS for d in (D1, D2)}


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and "quality_platform__expectation_results" not in p.parts
    }


def core_states(settings: Settings) -> dict[str, tuple[str, str]]:
    led = Ledger(settings.state_url)
    try:
        return {k: (s.fingerprint, s.built_at) for k, s in led.unit_states("source.core").items()}
    finally:
        led.close()


def assert_same(before: dict[str, pa.Table], after: dict[str, pa.Table]) -> None:
    assert before.keys() == after.keys()
    for name, table in before.items():
        assert after[name].num_rows == table.num_rows, name
        assert after[name].equals(table), name


def four_hours_and_one(settings: Settings, ingest: Ingest) -> dict[str, pa.Table]:
    """Four hourly segments on D1, one on D2, ingested (fresh parts: nothing compacted yet)."""
    for hour in (10, 11, 12, 13):
        write_hour(settings, D1, hour)
    write_hour(settings, D2, 9, reject=False)
    first = ingest("source", register)
    assert first.status == "published"
    assert first.of("compact") == []  # every part younger than ECOCLOUD_HJ212_COMPACT_AFTER_HOURS
    assert len(ledger_parts(settings, schema.readings, D1)) == 4
    taken = snapshot(settings)
    assert taken[f"{schema.readings.name}/{D1}"].num_rows == 4 * (len(MNS) * 6 + 1) * 2
    assert (
        taken[f"{schema.hourly.name}/{D1}"].num_rows > 0 and taken[f"{schema.daily.name}/{D1}"].num_rows > 0
    )
    assert taken[f"{schema.quarantine.name}/{D1}"].num_rows == 4
    # fresh parts are written with the core build's fast codec; compaction rewrites them with zstd
    assert {c for t in CORE for c in codecs(settings, t, D1)} == {"LZ4"}
    return taken


def test_compaction_keeps_rows_marts_lineage_and_is_idempotent(
    settings: Settings, ingest: Ingest, state_url: str
) -> None:
    settings.state_db_url = state_url  # the ledger on SQLite and on PostgreSQL
    before = four_hours_and_one(settings, ingest)
    core_before = core_states(settings)
    published_at = written_at(settings)
    settings.hj212_compact_after_hours = 0

    run = ingest("source", register)
    # the compacted part keeps its rows' publication time: the catalog must not see fresh data
    assert written_at(settings) == {k: [max(w)] for k, w in published_at.items()}
    compacted = {u.unit for u in run.of("compact") if u.status == "published"}
    # D1: four parts per table; D2: one fresh part (no quarantine), compacted once all the same — into
    # the lake's codec and the table's order
    assert compacted == EVERY_PARTITION
    assert all(u.counts["rows_in"] == u.counts["rows_out"] for u in run.of("compact"))
    for table, day in ((t, d) for t in CORE for d in (D1, D2) if f"{t.name}/{d}" in compacted):
        [part] = ledger_parts(settings, table, day)
        assert part.startswith(compaction.PREFIX) and files(settings, table, day) == [f"{part}.parquet"]
        assert codecs(settings, table, day) == {"ZSTD"}, (table.name, day)
    assert_same(before, snapshot(settings))  # rows in = rows out; marts rebuilt once, identical rows
    assert {u.status for u in run.of("core")} == {"skipped"} and core_states(settings) == core_before
    assert [u.unit for u in run.of("marts") if u.status == "published"] == [D1.isoformat(), D2.isoformat()]

    # sorted by the table's key
    [part] = ledger_parts(settings, schema.readings, D1)
    stored = lk.read_parts(settings.lake, schema.readings, [lk.part_file(schema.readings, D1, part)], D1)
    keys = schema.readings.sort_key()
    assert stored.select(keys).equals(stored.select(keys).sort_by([(k, "ascending") for k in keys]))

    # lineage: the compacted part names every raw segment its rows came from
    led = Ledger(settings.state_url)
    try:
        raw = {r["input_id"] for r in led.lineage(schema.readings.name) if r["part"] == part}
        segments = {r["input_id"] for r in led.lineage(schema.readings.name, partition=D1.isoformat())}
    finally:
        led.close()
    assert len(raw - {schema.readings.name}) == 4 and raw - {schema.readings.name} <= segments

    # a rerun with nothing new does nothing: every unit skipped, the lake unchanged
    settled = digest(settings.lake)
    again = ingest("source", register)
    assert {u.status for u in again.units} == {"skipped"} and again.of("compact") == []
    assert digest(settings.lake) == settled

    # a forced rerun of core (as a new code version would) republishes parts for inputs the compacted
    # parts hold: the same run compacts them at once, the republished rows replacing the compacted ones
    forced = ingest("source", register, force=True)
    assert {u.status for u in forced.of("core")} == {"published"}
    recompacted = [u for u in forced.of("compact") if u.status == "published"]
    assert {u.unit for u in recompacted} == EVERY_PARTITION
    assert all(u.counts["rows_superseded"] == u.counts["rows_out"] > 0 for u in recompacted)
    for table in CORE:
        assert len(ledger_parts(settings, table, D1)) == 1 and len(files(settings, table, D1)) == 1
    assert_same(before, snapshot(settings))


def test_a_segment_after_compaction_adds_a_part_then_recompacts(settings: Settings, ingest: Ingest) -> None:
    four_hours_and_one(settings, ingest)
    settings.hj212_compact_after_hours = 0
    ingest("source", register)
    settings.hj212_compact_after_hours = 24
    write_hour(settings, D1, 14)  # a late segment for the compacted date
    late = ingest("source", register)
    assert [u.status for u in late.of("core")].count("published") == 2  # its data and quarantine segments
    assert late.of("compact") == []  # the new part is too young
    [compacted, new] = sorted(ledger_parts(settings, schema.readings, D1))
    assert compacted.startswith(compaction.PREFIX) and not new.startswith(compaction.PREFIX)
    with_late = snapshot(settings)
    assert with_late[f"{schema.readings.name}/{D1}"].num_rows == 5 * (len(MNS) * 6 + 1) * 2
    hours = with_late[f"{schema.hourly.name}/{D1}"].column("hour_at").to_pylist()
    assert dt.datetime(2026, 11, 20, 14, tzinfo=BEIJING) in hours  # marts include the late hour

    settings.hj212_compact_after_hours = 0
    again = ingest("source", register)
    assert {u.unit for u in again.of("compact") if u.status == "published"} == {
        f"{t.name}/{D1}" for t in CORE
    }
    for table in CORE:
        assert len(ledger_parts(settings, table, D1)) == 1 and len(files(settings, table, D1)) == 1
    assert_same(with_late, snapshot(settings))


def test_a_compacted_date_is_rewritten_again_only_with_min_parts(settings: Settings, ingest: Ingest) -> None:
    """ECOCLOUD_HJ212_COMPACT_MIN_PARTS bounds rewriting a compacted date for a few late parts; a date
    never compacted is compacted once whatever its part count."""
    four_hours_and_one(settings, ingest)
    settings.hj212_compact_after_hours = 0
    settings.hj212_compact_min_parts = 3
    first = ingest("source", register)
    assert {u.unit for u in first.of("compact") if u.status == "published"} == EVERY_PARTITION
    late_tables = {f"{t.name}/{D1}" for t in CORE[:2]}  # late segments without rejects

    write_hour(settings, D1, 14, reject=False)
    late = ingest("source", register)
    assert late.of("compact") == []  # the compacted part and one late part: 2 < 3
    assert len(ledger_parts(settings, schema.readings, D1)) == 2

    write_hour(settings, D1, 15, reject=False)
    third = ingest("source", register)
    assert {u.unit for u in third.of("compact") if u.status == "published"} == late_tables
    for table in CORE[:2]:
        [part] = ledger_parts(settings, table, D1)
        assert part.startswith(compaction.PREFIX) and files(settings, table, D1) == [f"{part}.parquet"]
    assert rows(settings, schema.readings, D1).num_rows == 6 * (len(MNS) * 6 + 1) * 2


def _crash_after_write(settings: Settings) -> None:
    """In a child: compact, and die (no cleanup, no ledger record) right after the first compacted
    file is written — as a killed worker would."""
    real = lk.write_part

    def write_then_die(*args: Any, **kwargs: Any) -> Any:
        written = real(*args, **kwargs)
        os._exit(17)
        return written  # pragma: no cover

    lk.write_part = write_then_die  # type: ignore[assignment]
    engine.run_spec(settings, get_spec("source"), RunInfo.cli("test"), builds=["compact"])
    os._exit(0)


def _fail_write(*_args: Any, **_kwargs: Any) -> Any:
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("fault", ["crash after the write", "the write fails"])
def test_a_fault_mid_compaction_leaves_the_parts_readable_and_the_next_run_completes(
    settings: Settings, ingest: Ingest, monkeypatch: pytest.MonkeyPatch, fault: str, state_url: str
) -> None:
    settings.state_db_url = state_url
    before = four_hours_and_one(settings, ingest)
    settings.hj212_compact_after_hours = 0
    parts_before = {t.name: ledger_parts(settings, t, D1) for t in CORE}
    if fault == "crash after the write":
        child = multiprocessing.get_context("fork").Process(target=_crash_after_write, args=(settings,))
        child.start()
        child.join(120)
        assert child.exitcode == 17
        orphans = [f for t in CORE for f in files(settings, t, D1) if f.startswith(compaction.PREFIX)]
        assert len(orphans) == 1  # written, never published
    else:
        with monkeypatch.context() as patch:
            patch.setattr(lk, "write_part", _fail_write)
            with pytest.raises(OSError, match="No space left"):
                engine.run_spec(settings, get_spec("source"), RunInfo.cli("test"), builds=["compact"])
    # the ledger still lists the previous parts, every one readable, the same rows
    assert {t.name: ledger_parts(settings, t, D1) for t in CORE} == parts_before
    assert_same(before, snapshot(settings))

    run = ingest("source", register)
    assert {u.status for u in run.of("compact")} == {"published"}
    assert {u.unit for u in run.of("compact")} == EVERY_PARTITION
    for table in CORE:
        assert len(ledger_parts(settings, table, D1)) == 1 and len(files(settings, table, D1)) == 1
    assert_same(before, snapshot(settings))


def served_counts(settings: Settings) -> dict[str, int]:
    """Rows of each core table on D1 as an analyst reads them: the serving database's views. The
    catalog's row count of each table (from the ledger's part records) is what its view reads."""
    engine.refresh_serving(settings)
    con = duckdb.connect(str(settings.duckdb_file), read_only=True)
    try:
        for t in CORE:
            ((viewed,),) = con.execute(f'SELECT count(*) FROM "{t.name}"').fetchall()
            ((listed,),) = con.execute(
                "SELECT rows FROM catalog_datasets WHERE table_name = ?", [t.name]
            ).fetchall()
            assert listed == viewed, t.name
        return {
            t.name: con.execute(f'SELECT count(*) FROM "{t.name}" WHERE date = ?', [D1]).fetchall()[0][0]
            for t in CORE
        }
    finally:
        con.close()


def test_serving_never_counts_a_crashed_compaction_twice(settings: Settings, ingest: Ingest) -> None:
    """A compacted file a crash left beside the published parts, never recorded, is not read by the
    serving views; the sweep deletes it once past its grace period."""
    before = four_hours_and_one(settings, ingest)
    expected = {t.name: before[f"{t.name}/{D1}"].num_rows for t in CORE}
    assert served_counts(settings) == expected
    settings.hj212_compact_after_hours = 0
    child = multiprocessing.get_context("fork").Process(target=_crash_after_write, args=(settings,))
    child.start()
    child.join(120)
    assert child.exitcode == 17
    on_disk = sum(len(files(settings, t, D1)) for t in CORE)
    listed = sum(len(ledger_parts(settings, t, D1)) for t in CORE)
    assert on_disk > listed  # the crash left an unlisted file
    assert served_counts(settings) == expected
    assert_same(before, snapshot(settings))
    assert (
        folder_counts(settings) != expected
    )  # a reader of the folders (ecocloud export-ddl's tables) counts them

    # the sweep: nothing younger than its grace period goes; once past it, exactly the leftovers do
    led = Ledger(settings.state_url)
    try:
        not_yet = sweep(
            settings.lake_store, led.known_parts, dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), delete=True
        ).files
        assert not_yet == [] and sum(len(files(settings, t, D1)) for t in CORE) == on_disk
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
        gone = sweep(settings.lake_store, led.known_parts, later, delete=True).files
        assert len(gone) == on_disk - listed
        assert sweep(settings.lake_store, led.known_parts, later, delete=True).files == []  # idempotent
    finally:
        led.close()
    assert [files(settings, t, D1) for t in CORE] == [
        [f"{p}.parquet" for p in ledger_parts(settings, t, D1)] for t in CORE
    ]
    assert folder_counts(settings) == served_counts(settings) == expected
    assert_same(before, snapshot(settings))


def _refresh_then_die_deleting(settings: Settings) -> None:
    """In a child: refresh serving, and die when it starts deleting the retired parts."""
    lk.delete_parts = lambda *_a, **_k: os._exit(18)  # type: ignore[assignment]
    engine.refresh_serving(settings)
    os._exit(0)


def test_replaced_parts_are_served_until_the_next_refresh_which_deletes_them(
    settings: Settings, ingest: Ingest
) -> None:
    """A compaction retires the parts it replaced: an analyst's views (refreshed before it) still read
    them — a view over a deleted file would fail —, and so does a connection opened on that serving
    file after the next refresh, for the grace period; the first refresh after it deletes them. A
    refresh killed before its deletes leaves them retired, and the next refresh deletes them."""
    before = four_hours_and_one(settings, ingest)
    expected = {t.name: before[f"{t.name}/{D1}"].num_rows for t in CORE}
    assert served_counts(settings) == expected
    settings.hj212_compact_after_hours = 0
    engine.run_spec(settings, get_spec("source"), RunInfo.cli("test"), builds=["compact"])
    assert [len(ledger_parts(settings, t, D1)) for t in CORE] == [1, 1, 1]
    assert len(files(settings, schema.readings, D1)) == 5  # the 4 replaced and the compacted part
    con = duckdb.connect(str(settings.duckdb_file), read_only=True)  # the views of before the compaction
    try:

        def viewed() -> dict[str, int]:
            query = 'SELECT count(*) FROM "{}" WHERE date = ?'
            return {t.name: con.execute(query.format(t.name), [D1]).fetchall()[0][0] for t in CORE}

        assert viewed() == expected
        assert folder_counts(settings) != expected  # a reader of the folders counts both until the refresh
        _, swept = tasks.unlisted_files(settings, delete=True, grace_hours=-1)  # every file old enough
        assert (
            swept.files == [] and len(files(settings, schema.readings, D1)) == 5
        )  # retired: not the sweep's
        with pytest.MonkeyPatch.context() as patch:  # the default grace, not the tests' 0
            patch.delenv("ECOCLOUD_SERVING_RETIRED_GRACE_MINUTES")
            settings.serving_retired_grace_minutes = Settings().serving_retired_grace_minutes
        assert settings.serving_retired_grace_minutes > 0
        assert served_counts(settings) == expected  # the refresh stops listing them, deletes nothing
        assert len(files(settings, schema.readings, D1)) == 5
        assert viewed() == expected  # a connection opened on the earlier serving file reads on
    finally:
        con.close()

    settings.serving_retired_grace_minutes = 0
    child = multiprocessing.get_context("fork").Process(target=_refresh_then_die_deleting, args=(settings,))
    child.start()
    child.join(120)
    assert child.exitcode == 18
    assert len(files(settings, schema.readings, D1)) == 5
    led = Ledger(settings.state_url)
    try:
        assert {(r.table_name, r.build) for r in led.retired()} >= {(schema.readings.name, "source.core")}
    finally:
        led.close()
    assert served_counts(settings) == expected  # refreshes: the views follow the ledger, then it deletes
    assert [files(settings, t, D1) for t in CORE] == [
        [f"{p}.parquet" for p in ledger_parts(settings, t, D1)] for t in CORE
    ]
    assert folder_counts(settings) == expected
    led = Ledger(settings.state_url)
    try:
        assert led.retired() == []
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
        assert sweep(settings.lake_store, led.known_parts, later, delete=False).files == []
    finally:
        led.close()
    assert_same(before, snapshot(settings))


def test_a_retired_part_waits_while_its_unit_is_built_and_is_kept_when_written_again(
    settings: Settings, ingest: Ingest
) -> None:
    """The refresh deletes a retired part under the lock of the unit that wrote it: while that unit
    is being built (it may write the part again in place), the part waits for a later refresh; a part
    recorded again under its name is no longer retired, and its file stays."""
    four_hours_and_one(settings, ingest)
    settings.hj212_compact_after_hours = 0
    engine.run_spec(settings, get_spec("source"), RunInfo.cli("test"), builds=["compact"])
    led = Ledger(settings.state_url)
    try:
        marked_at = dt.datetime.now(dt.UTC)
        retired = led.mark_unlisted(led.retired(), marked_at)  # as a serving refresh marks them
        assert retired and all(r.unlisted_at is not None for r in retired)
        assert {r.build for r in retired} == {"source.core"}  # the receiver segments' units
        owners = sorted({(r.build, r.unit) for r in retired if r.table_name == schema.readings.name})
        assert len(owners) == 5  # the segments of the five hours (four on D1, one on D2)
        busy, written_again = owners[0], owners[1]
        again = [
            r for r in retired if (r.build, r.unit) == written_again and r.table_name == schema.readings.name
        ]
        assert len(again) == 1
        state = led.unit_state(*written_again)
        assert state is not None
        led.record_unit(
            state,
            written=[
                Part(r.table_name, r.partition, r.part, "fp", r.build, r.unit, 1, 1, "test", "now")
                for r in again
            ],
        )
        [busy_part] = [
            r.part for r in retired if (r.build, r.unit) == busy and r.table_name == again[0].table_name
        ]
        [compacted] = [p for p in ledger_parts(settings, schema.readings, D1) if p.startswith("compact-")]
        assert len(files(settings, schema.readings, D1)) == 5
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
        with led.locked([unit_lock(*busy)]):
            # none unlisted before it was marked
            assert engine.delete_retired(settings.lake_store, led, retired, before=marked_at) == 0
            deleted = engine.delete_retired(settings.lake_store, led, retired, before=soon)
        assert deleted == len([r for r in retired if (r.build, r.unit) != busy]) - len(again)
        left = led.retired()
        assert {(r.build, r.unit) for r in left} == {busy}
        # the busy unit's file waits, the part recorded again stays, the others are gone
        assert files(settings, schema.readings, D1) == sorted(
            f"{p}.parquet" for p in (compacted, again[0].part, busy_part)
        )
        assert engine.delete_retired(settings.lake_store, led, left, before=soon) == len(
            left
        )  # the lock is free
        assert led.retired() == []
        assert files(settings, schema.readings, D1) == sorted(
            f"{p}.parquet" for p in (compacted, again[0].part)
        )
    finally:
        led.close()


def test_the_grace_period_runs_from_the_refresh_that_stopped_listing_a_part(
    settings: Settings, ingest: Ingest
) -> None:
    """A part retired long before the next refresh (a long run) is still listed by the serving file in
    place until that refresh: it gets its grace period from then, not from its retirement."""
    four_hours_and_one(settings, ingest)
    settings.hj212_compact_after_hours = 0
    engine.run_spec(settings, get_spec("source"), RunInfo.cli("test"), builds=["compact"])
    settings.serving_retired_grace_minutes = 0.005  # 0.3 s
    time.sleep(0.5)  # retired longer ago than the grace period
    assert engine.refresh_serving(settings) == 0  # stops listing them: their grace starts now
    assert len(files(settings, schema.readings, D1)) == 5
    time.sleep(0.5)
    assert engine.refresh_serving(settings) > 0
    assert files(settings, schema.readings, D1) == [
        f"{p}.parquet" for p in ledger_parts(settings, schema.readings, D1)
    ]


def test_the_maintenance_sweep_deletes_the_retired_parts_no_run_refreshed_serving_for(
    settings: Settings, ingest: Ingest
) -> None:
    """Parts a run retired and no serving refresh followed (a home whose runs stopped): the daily
    maintenance task refreshes serving first, which deletes them; nothing else is swept."""
    four_hours_and_one(settings, ingest)
    settings.hj212_compact_after_hours = 0
    engine.run_spec(settings, get_spec("source"), RunInfo.cli("test"), builds=["compact"])
    assert len(files(settings, schema.readings, D1)) == 5
    assert tasks.sweep_lake() == 0  # no crash leftover
    for t in CORE:
        assert files(settings, t, D1) == [f"{p}.parquet" for p in ledger_parts(settings, t, D1)]
    led = Ledger(settings.state_url)
    try:
        assert led.retired() == []
    finally:
        led.close()


def folder_counts(settings: Settings) -> dict[str, int]:
    """Rows of each core table on D1 read by its partition folder, as an external engine reads it."""
    return {
        t.name: duckdb.sql(
            f"SELECT count(*) FROM read_parquet('{lk.partition_dir(settings.lake, t, D1)}/*.parquet')"
        ).fetchall()[0][0]
        for t in CORE
    }


def _fail_mart_writes(real: Callable[..., Any]) -> Callable[..., Any]:
    def write(lake: Any, table: Table, *args: Any, **kwargs: Any) -> Any:
        if table in MARTS:
            raise OSError(28, "No space left on device")
        return real(lake, table, *args, **kwargs)

    return write


def test_serving_follows_the_ledger_after_a_run_that_compacted_and_then_failed(
    settings: Settings, ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compaction retires the parts it replaced; the marts build after it fails on a full disk.
    The run still refreshes serving, so the views follow the ledger (and, the grace being 0 in the
    tests, that refresh deletes the retired files)."""
    before = four_hours_and_one(settings, ingest)
    settings.hj212_compact_after_hours = 0
    with monkeypatch.context() as patch:
        patch.setattr(lk, "write_part", _fail_mart_writes(lk.write_part))
        with pytest.raises(OSError, match="No space left"):
            ingest("source", register)
    assert (
        len(files(settings, schema.readings, D1)) == 1
    )  # compacted: the four retired parts deleted by the refresh
    con = duckdb.connect(str(settings.duckdb_file), read_only=True)
    try:
        ((served,),) = con.execute(
            f'SELECT count(*) FROM "{schema.readings.name}" WHERE date = ?', [D1]
        ).fetchall()
    finally:
        con.close()
    assert served == before[f"{schema.readings.name}/{D1}"].num_rows


def test_a_compaction_waits_for_the_units_whose_parts_it_rewrites(settings: Settings, ingest: Ingest) -> None:
    """While a core unit of the partition is being published (its lock held, as a concurrent run's batch
    holds it), the compaction of that partition waits: committed beside it, the compaction would retire
    the unit's new part, or put its old rows back in its place."""
    before = four_hours_and_one(settings, ingest)
    settings.hj212_compact_after_hours = 0
    led = Ledger(settings.state_url)
    try:
        owner = min((p.build, p.unit) for p in led.parts(schema.readings.name, partition=D1.isoformat()))
        assert owner[0] == "source.core"
        finished = threading.Event()
        runs: list[RunReport] = []

        def compact() -> None:
            runs.append(
                engine.run_spec(settings, get_spec("source"), RunInfo.cli("test"), builds=["compact"])
            )
            finished.set()

        with led.locked([unit_lock(*owner)]):
            compacting = threading.Thread(target=compact)
            compacting.start()
            assert not finished.wait(3)  # a compaction of these few parts takes well under a second
            assert len(ledger_parts(settings, schema.readings, D1)) == 4
        compacting.join(120)
    finally:
        led.close()
    assert {u.status for u in runs[0].of("compact")} == {"published"}
    assert len(ledger_parts(settings, schema.readings, D1)) == 1
    assert_same(before, snapshot(settings))


def test_a_compaction_that_must_wait_for_a_new_unit_too_is_left_for_the_next_run(
    settings: Settings, ingest: Ingest
) -> None:
    """A segment published into the partition while the compaction waited for its locks: the re-planned
    compaction must exclude that unit too, which its batch did not lock — it is left for the next run,
    which compacts every part."""
    four_hours_and_one(settings, ingest)
    settings.hj212_compact_after_hours = 0
    led = Ledger(settings.state_url)
    try:
        owner = min((p.build, p.unit) for p in led.parts(schema.readings.name, partition=D1.isoformat()))
        runs: list[RunReport] = []
        compacting = threading.Thread(
            target=lambda: runs.append(
                engine.run_spec(settings, get_spec("source"), RunInfo.cli("test"), builds=["compact"])
            )
        )
        with led.locked([unit_lock(*owner)]):
            compacting.start()
            write_hour(settings, D1, 14, reject=False)  # a late segment, built while the compaction waits
            late = engine.land_and_run(
                settings, get_spec("source"), register, RunInfo.cli("t"), builds=["core"]
            )
            assert [u.status for u in late.of("core")].count("published") == 1
        compacting.join(120)
    finally:
        led.close()
    waited = {u.unit: u for u in runs[0].of("compact")}
    key = f"{schema.readings.name}/{D1}"
    assert waited[key].status == "skipped" and "left for the next run" in waited[key].warnings[0]
    assert waited[key].deferred and not waited[key].blocked_before  # not "current", nor "still blocked"
    assert len(ledger_parts(settings, schema.readings, D1)) == 5  # nothing compacted on D1 yet
    assert waited[f"{schema.readings.name}/{D2}"].status == "published"  # other partitions went on
    rows_before = rows(settings, schema.readings, D1)
    after = ingest("source", register)
    assert {u.unit for u in after.of("compact") if u.status == "published"} >= {key}
    assert len(ledger_parts(settings, schema.readings, D1)) == 1
    assert rows(settings, schema.readings, D1).equals(rows_before)


def segment_rows(settings: Settings, table: Table, day: dt.date, segment: str) -> int:
    """Rows of ``table`` on ``day`` built from ``segment`` (its raw path), as the ledger publishes them."""
    column = rows(settings, table, day).column("segment")
    return sum(1 for s in column.to_pylist() if s == segment)


@pytest.mark.parametrize("reject", [False, True], ids=["alone", "beside a rejected line"])
def test_a_rebuilt_segment_that_writes_nothing_in_a_compacted_date_takes_its_rows_out_of_it(
    settings: Settings, ingest: Ingest, reject: bool
) -> None:
    """A segment first quarantined whole (its manifest unreadable) has its lines in D1's quarantine; the
    partition is compacted. With the manifest repaired and core rebuilt (``--force``, as a new code
    version would), the segment's lines are packets: nothing of it belongs in D1's quarantine any more.
    The rebuilt unit writes an empty part there, so the compaction takes its rows out at once — rows
    in = packets + quarantined again, none counted twice."""
    write_hour(settings, D1, 10, reject=reject)
    manifest = next(settings.hj212_landing.rglob(f"*r10*{sources.MANIFEST_SUFFIX}"))
    good = manifest.read_bytes()
    manifest.write_text("{not json")
    settings.hj212_compact_after_hours = 0
    first = ingest("source", register)
    [unit] = [u for u in first.of("core") if u.counts["lines"] > 1]
    segment = unit.unit.removeprefix("segment/")
    lines = len(MNS) * 6 + 1  # and the retransmission of the hour before
    assert (unit.counts["accepted"], unit.counts["quarantined"]) == (0, lines)
    assert segment_rows(settings, schema.quarantine, D1, segment) == lines
    [compacted] = ledger_parts(settings, schema.quarantine, D1)
    assert compacted.startswith(compaction.PREFIX)

    manifest.write_bytes(good)
    forced = ingest("source", register, force=True)
    [rebuilt] = [u for u in forced.of("core") if u.unit == unit.unit]
    assert (rebuilt.counts["accepted"], rebuilt.counts["quarantined"]) == (lines, 0)
    assert f"{schema.quarantine.name}/{D1}" in rebuilt.partitions  # its empty part there
    assert segment_rows(settings, schema.packets, D1, segment) == lines
    assert segment_rows(settings, schema.quarantine, D1, segment) == 0
    [recompacted] = [u for u in forced.of("compact") if u.unit == f"{schema.quarantine.name}/{D1}"]
    assert recompacted.status == "published"
    assert (recompacted.counts["rows_superseded"], recompacted.counts["rows_out"]) == (
        lines + reject,  # the rejected line's segment was rebuilt too: its new part replaces its rows
        int(reject),
    )
    if not reject:  # no rows of D1's quarantine are left: no part either
        assert ledger_parts(settings, schema.quarantine, D1) == []
        return
    [part] = ledger_parts(settings, schema.quarantine, D1)
    assert part.startswith(compaction.PREFIX) and rows(settings, schema.quarantine, D1).num_rows == 1
    # the compacted part's lineage no longer names the segment: a later rebuild writes no empty part
    settled = ingest("source", register, force=True)
    [again] = [u for u in settled.of("core") if u.unit == unit.unit]
    assert f"{schema.quarantine.name}/{D1}" not in again.partitions
    assert segment_rows(settings, schema.quarantine, D1, segment) == 0
