"""The ledger (raw manifest, units, parts, lineage, locks) on both of its databases: an SQLite file
(one machine) and PostgreSQL (machines sharing the platform's state), with real processes where
the guarantee is about several of them."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from services import end_advisory_lock_sessions

from ingest.raw import land_bytes
from warehouse.ledger import Ledger, LineageRow, LockLost, LockTimeout, Part, RawObject, UnitState, stamp

SPAWN = multiprocessing.get_context("spawn")


def test_same_bytes_land_once_and_new_bytes_become_the_latest(tmp_path: Path, state_url: str) -> None:
    ledger = Ledger(state_url)
    day = dt.date(2024, 1, 2)
    kw = {"source": "air", "logical_name": "china_sites_20240102.csv", "partition": day, "origin": "test"}
    first = land_bytes(tmp_path, ledger, data=b"v1", **kw)  # type: ignore[arg-type]
    again = land_bytes(tmp_path, ledger, data=b"v1", **kw)  # type: ignore[arg-type]
    assert again == first
    assert (tmp_path / first.raw_path).read_bytes() == b"v1"
    assert first.raw_path.startswith("raw/air/date=2024-01-02/china_sites_20240102.")
    second = land_bytes(tmp_path, ledger, data=b"v2 longer", **kw)  # type: ignore[arg-type]
    assert ledger.latest_raw("air", "china_sites_20240102.csv") == second
    assert len(ledger.raw_objects("air")) == 2
    assert (tmp_path / first.raw_path).read_bytes() == b"v1"  # raw objects are never edited
    ledger.close()


def _state(unit: str, fp: str, status: str = "published") -> UnitState:
    return UnitState(
        "air.hourly", unit, fp, status, {"rows": 3}, "run-1", "test", "2024-01-02T00:00:00+00:00", None
    )


def _part(partition: str, part: str, fp: str) -> Part:
    return Part(
        "core_x__y", partition, part, fp, "x.y", partition, 3, 100, "run-1", "2024-01-02T00:00:00+00:00"
    )


def test_units_parts_and_lineage_are_recorded_together(state_url: str) -> None:
    ledger = Ledger(state_url)
    assert ledger.unit_states("air.hourly") == {}
    lineage = [LineageRow("core_x__y", "2024-01-02", "data", "raw", "raw/air/f.csv", "", "sha1")]
    ledger.record_unit(
        _state("2024-01-02", "fp1"), written=[_part("2024-01-02", "data", "fp1")], lineage_rows=lineage
    )
    [state] = ledger.unit_states("air.hourly").values()
    assert (state.fingerprint, state.status, state.counts) == ("fp1", "published", {"rows": 3})
    assert [r["input_id"] for r in ledger.lineage("core_x__y")] == ["raw/air/f.csv"]
    ledger.record_unit(_state("2024-01-02", "fp2", "blocked"))
    assert ledger.unit_state("air.hourly", "2024-01-02").status == "blocked"  # type: ignore[union-attr]
    # a failure inside the transaction leaves nothing half-written
    with pytest.raises(sa.exc.IntegrityError):
        ledger.record_unit(
            _state("2024-01-03", "fp3"),
            written=[_part("2024-01-03", "data", "fp3")],
            lineage_rows=[LineageRow(None, "", "", "", "", "", "")],  # type: ignore[arg-type]
        )
    assert ledger.unit_state("air.hourly", "2024-01-03") is None
    assert [p.partition for p in ledger.parts("core_x__y")] == ["2024-01-02"]
    ledger.close()


def test_partition_versions_follow_their_parts(state_url: str) -> None:
    ledger = Ledger(state_url)
    ledger.record_unit(_state("a", "f1"), written=[_part("2024-01-02", "a", "f1")])
    v1 = ledger.partition_versions("core_x__y")
    ledger.record_unit(_state("b", "f2"), written=[_part("2024-01-02", "b", "f2")])
    v2 = ledger.partition_versions("core_x__y")
    assert set(v1) == set(v2) == {"2024-01-02"} and v1 != v2  # a part added: a new version
    ledger.record_unit(_state("b", "f2"), removed=[("core_x__y", "2024-01-02", "b")])
    assert ledger.partition_versions("core_x__y") == v1  # the same parts: the same version
    assert [p.part for p in ledger.parts("core_x__y")] == ["a"]
    ledger.close()


def test_a_removed_part_is_retired_until_recorded_again_or_forgotten_as_it_was_retired(
    state_url: str,
) -> None:
    ledger = Ledger(state_url)
    ledger.record_unit(
        _state("a", "f1"), written=[_part("2024-01-02", "a", "f1"), _part("2024-01-03", "a", "f1")]
    )
    ledger.record_unit(
        _state("a", "f1"), removed=[("core_x__y", "2024-01-02", "a"), ("core_x__y", "2024-01-03", "a")]
    )
    assert [r.key for r in ledger.retired("core_x__y", partition="2024-01-03")] == [
        ("core_x__y", "2024-01-03", "a")
    ]
    assert ledger.retired("core_other") == [] and ledger.parts() == []
    assert sorted(p.partition for p in ledger.known_parts()) == ["2024-01-02", "2024-01-03"]
    first = ledger.retired()
    assert [(r.build, r.unit, r.unlisted_at) for r in first] == [
        ("x.y", d, None) for d in ("2024-01-02", "2024-01-03")
    ]

    at = dt.datetime(2024, 1, 5, 8, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    marked = ledger.mark_unlisted(first, at)
    assert {r.unlisted_at for r in marked} == {"2024-01-05T00:00:00.000000+00:00"}
    again = ledger.mark_unlisted(first, at + dt.timedelta(hours=1))  # the first refresh that unlisted counts
    assert {r.unlisted_at for r in again} == {"2024-01-05T00:00:00.000000+00:00"}

    # recorded again: no longer retired; then retired anew: a new retirement the old one can't forget
    ledger.record_unit(_state("a", "f1"), written=[_part("2024-01-02", "a", "f1")])
    assert [r.partition for r in ledger.retired()] == ["2024-01-03"]
    ledger.record_unit(_state("a", "f1"), removed=[("core_x__y", "2024-01-02", "a")])
    assert len(ledger.still_retired(first)) == 1  # the 01-03 one, as it was
    ledger.forget_retired(first)
    [anew] = ledger.retired()
    assert (
        anew.partition == "2024-01-02" and anew.retired_at > first[0].retired_at and anew.unlisted_at is None
    )
    ledger.close()


def test_a_refresh_after_a_long_pause_checks_every_retired_part(state_url: str) -> None:
    """Retired parts waiting for a refresh after weeks without one: more keys than one statement may
    bind (12,000 × 3 values) are still looked up, marked and forgotten."""
    ledger = Ledger(state_url)
    written = [_part(f"2024-01-{1 + i % 28:02d}", f"p{i}", "f1") for i in range(12_000)]
    ledger.record_unit(_state("a", "f1"), written=written)
    ledger.record_unit(_state("a", "f1"), removed=[(p.table_name, p.partition, p.part) for p in written])
    retired = ledger.retired()
    assert len(retired) == len(ledger.still_retired(retired)) == 12_000
    marked = ledger.mark_unlisted(retired, dt.datetime(2024, 2, 1, tzinfo=dt.UTC))
    assert len(marked) == 12_000 and {r.unlisted_at for r in marked} == {"2024-02-01T00:00:00.000000+00:00"}
    ledger.forget_retired(marked)
    assert ledger.retired() == []
    ledger.close()


def test_fetch_state_and_groups_round_trip(state_url: str) -> None:
    ledger = Ledger(state_url)
    assert ledger.fetch_state("http://x/a") == (None, None, None)
    ledger.record_fetch("http://x/a", '"e1"', "Mon, 01 Jan 2024 00:00:00 GMT", "abc")
    ledger.record_fetch("http://x/a", '"e2"', None, "def")
    assert ledger.fetch_state("http://x/a") == ('"e2"', None, "def")
    first = ledger.record_group("water", "snap-1", ["raw/a", "raw/b"], {"pages": 2})
    again = ledger.record_group("water", "snap-1", ["raw/c"], {"pages": 1})
    assert again == first and first.members == ("raw/a", "raw/b") and first.meta == {"pages": 2}
    assert ledger.groups("water") == [first]
    ledger.close()


def _hold(url: str, keys: list[str], ready: Any, release: Any) -> None:
    ledger = Ledger(url)
    with ledger.locked(keys):
        ready.set()
        release.wait(60)


def test_a_lock_held_by_another_process_waits_and_dies_with_it(state_url: str) -> None:
    ready, release = SPAWN.Event(), SPAWN.Event()
    holder = SPAWN.Process(target=_hold, args=(state_url, ["unit:air.hourly/2024-01-02"], ready, release))
    holder.start()
    assert ready.wait(60)
    ledger = Ledger(state_url)
    with pytest.raises(LockTimeout), ledger.locked(["unit:air.hourly/2024-01-02"], timeout_s=0.3):
        pass
    with ledger.locked(["unit:air.hourly/2024-01-03"], timeout_s=0.3):
        pass  # another key is free
    holder.kill()  # a killed holder: the operating system (flock) or the database session releases it
    holder.join()
    with ledger.locked(["unit:air.hourly/2024-01-02"], timeout_s=10):
        pass
    ledger.close()


def test_a_batch_holds_many_locks_and_releases_them_all(state_url: str) -> None:
    """A runner batch locks every unit it holds (up to hundreds); another process then waits on any
    of them, and finds them all free once the batch is done."""
    keys = [f"unit:source.core/segment-{i:03d}" for i in range(300)]
    ready, release = SPAWN.Event(), SPAWN.Event()
    holder = SPAWN.Process(target=_hold, args=(state_url, keys, ready, release))
    holder.start()
    assert ready.wait(120)
    ledger = Ledger(state_url)
    for key in (keys[0], keys[150], keys[-1]):
        with pytest.raises(LockTimeout), ledger.locked([key], timeout_s=0.2):
            pass
    assert ledger.unit_states("source.core") == {}  # the ledger stays usable meanwhile
    release.set()
    holder.join(60)
    assert holder.exitcode == 0
    with ledger.locked(keys, timeout_s=10):
        pass
    ledger.close()


def _record_same_object(url: str, barrier: Any, n: int) -> list[str]:
    barrier.wait(60)
    ledger = Ledger(url)  # every process creates the tables if missing, at the same moment
    out = []
    for i in range(n):
        obj = RawObject(f"raw/hj212/seg-{i}.h212", "hj212", f"seg-{i}", None, f"sha-{i}", i, "r1", _now())
        out.append(ledger.record_raw(obj).received_at)
    ledger.close()
    return out


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def test_processes_starting_together_share_one_schema_and_one_record_per_object(state_url: str) -> None:
    """Four processes open a fresh database at once (creating its tables) and record the same 50
    objects: no error, one row per object, and every process was answered with the first record."""
    barrier = SPAWN.Manager().Barrier(4)
    with SPAWN.Pool(4) as pool:
        answers = pool.starmap(_record_same_object, [(state_url, barrier, 50)] * 4)
    ledger = Ledger(state_url)
    stored = {o.raw_path: o.received_at for o in ledger.raw_objects("hj212")}
    ledger.close()
    assert len(stored) == 50
    assert all(answer == [stored[f"raw/hj212/seg-{i}.h212"] for i in range(50)] for answer in answers)


def _close_inherited_and_record(ledger: Ledger, url: str) -> None:
    ledger.close()  # what a forked child's exit or garbage collection may do to the engine it inherited
    own = Ledger(url)
    own.record_unit(_state("from-child", "fp"))
    own.close()


def test_a_forked_child_never_ends_the_parents_database_sessions(postgres_url: str) -> None:
    """The runner forks build workers while its ledger holds pooled connections: a child that closes
    what it inherited must not end the parent's sessions (their sockets are shared after fork)."""
    ledger = Ledger(postgres_url)

    def backend() -> int:
        with ledger.engine.connect() as con:
            return int(con.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())

    before = backend()  # the pooled connection the parent will reuse
    child = multiprocessing.get_context("fork").Process(
        target=_close_inherited_and_record, args=(ledger, postgres_url)
    )
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert backend() == before  # the same session: the child did not terminate it
    assert ledger.unit_state("air.hourly", "from-child") is not None
    ledger.close()


def test_held_locks_verify_while_held_and_tell_when_their_session_ended(state_url: str) -> None:
    ledger = Ledger(state_url)
    try:
        with ledger.locked(["unit:source.core/a", "unit:source.core/b"]) as held:
            held.verify()  # every lock held
            if state_url.startswith("sqlite"):
                return  # flocks live as long as the process
            assert end_advisory_lock_sessions(state_url) == 1
            with pytest.raises(LockLost, match="2 lock"):
                held.verify()
        with ledger.locked(["unit:source.core/a"], timeout_s=5) as again:  # free, and the ledger usable
            again.verify()
    finally:
        ledger.close()


def test_a_source_check_is_recorded_per_build_and_the_latest_kept(state_url: str) -> None:
    ledger = Ledger(state_url)
    assert ledger.source_checks() == {}
    first = dt.datetime(2026, 11, 19, 22, tzinfo=dt.UTC)
    ledger.record_source_check(["permit.permits"], first)
    ledger.record_source_check(["source.core", "source.marts"], first)
    ledger.record_source_check(["permit.permits"], first + dt.timedelta(days=1))
    assert ledger.source_checks() == {
        "permit.permits": stamp(first + dt.timedelta(days=1)),
        "source.core": stamp(first),
        "source.marts": stamp(first),
    }
    ledger.close()


def test_a_landing_failure_is_kept_until_a_landing_succeeds_and_the_last_success_with_it(
    state_url: str,
) -> None:
    ledger = Ledger(state_url)
    first = dt.datetime(2026, 11, 19, 22, tzinfo=dt.UTC)
    later = first + dt.timedelta(hours=1)
    ledger.record_landing("water", run_id="r1", error=None, at=first)
    ledger.record_landing("water", run_id="r2", error="ConnectionError: refused", at=later)
    ledger.record_landing("air", run_id=None, error="HTTPError: 503", at=later)
    assert ledger.landings() == [
        {
            "source": "air",
            "attempted_at": stamp(later),
            "succeeded_at": None,
            "error": "HTTPError: 503",
            "run_id": None,
        },
        {
            "source": "water",
            "attempted_at": stamp(later),
            "succeeded_at": stamp(first),
            "error": "ConnectionError: refused",
            "run_id": "r2",
        },
    ]
    ledger.record_landing("water", run_id="r3", error=None, at=later + dt.timedelta(hours=1))
    (_, water) = ledger.landings()
    assert (water["error"], water["succeeded_at"]) == (None, stamp(later + dt.timedelta(hours=1)))
    ledger.close()


def test_a_holder_records_under_its_locks_and_not_once_another_holder_took_them(state_url: str) -> None:
    """A record fenced by the locks it was built under goes through while they are the holder's; once
    another holder has taken them (here after a release), that fence records nothing."""
    ledger = Ledger(state_url)
    key, excluded = "unit:air.hourly/2024-01-02", "unit:source.core/segment-1"
    try:
        with ledger.locked([key, excluded]) as first:
            ledger.record_unit(
                _state("2024-01-02", "fp1"),
                written=[_part("2024-01-02", "p1", "fp1")],
                fence=first.fence(key),
            )
            with pytest.raises(ValueError, match="not held"):
                first.fence("unit:air.hourly/2024-01-03")
        with ledger.locked([key]) as second:
            with pytest.raises(LockLost, match="taken by another holder"):
                ledger.record_unit(_state("2024-01-02", "stale"), fence=first.fence(key))
            ledger.record_unit(_state("2024-01-02", "fp2"), fence=second.fence(key))
        assert ledger.unit_state("air.hourly", "2024-01-02").fingerprint == "fp2"  # type: ignore[union-attr]
        assert [p.part for p in ledger.parts()] == ["p1"]
    finally:
        ledger.close()


def test_a_ledger_made_before_lock_holders_gets_the_table_when_opened(state_url: str) -> None:
    Ledger(state_url).close()
    older = sa.create_engine(state_url, poolclass=sa.pool.NullPool)
    with older.begin() as con:
        con.execute(sa.text("DROP TABLE lock_holders"))
    older.dispose()
    ledger = Ledger(state_url)
    try:
        with ledger.locked(["unit:air.hourly/2024-01-02"]) as held:
            ledger.record_unit(_state("2024-01-02", "fp1"), fence=held.fence(*held.keys))
        assert ledger.unit_state("air.hourly", "2024-01-02") is not None
    finally:
        ledger.close()


def test_a_holder_whose_lock_session_ended_cannot_record_after_another_took_the_lock(
    postgres_url: str,
) -> None:
    """The race a lost lock session opens: holder A verified its lock and wrote its part (content
    named, as on S3), then its lock session ended before it recorded; B took the lock, re-planned from
    the ledger (A's part not in it) and recorded its own part, retiring the old one. A's record — its
    part set planned before B's — fails, as does its recording a failure: only B's part is listed."""
    key = "unit:air.hourly/2024-01-02"
    old = _part("2024-01-02", "data.old", "fp0")
    a, b = Ledger(postgres_url), Ledger(postgres_url)
    a.record_unit(_state("2024-01-02", "fp0"), written=[old])
    removed = [(old.table_name, old.partition, old.part)]
    try:
        with a.locked([key]) as held_by_a:
            held_by_a.verify()  # A's early check passes
            assert end_advisory_lock_sessions(postgres_url) == 1  # A's lock session ends
            with b.locked([key], timeout_s=5) as held_by_b:
                b.record_unit(
                    _state("2024-01-02", "fp-b"),
                    written=[_part("2024-01-02", "data.b", "fp-b")],
                    removed=removed,
                    fence=held_by_b.fence(key),
                )
            with pytest.raises(LockLost, match="taken by another holder"):
                a.record_unit(
                    _state("2024-01-02", "fp-a"),
                    written=[_part("2024-01-02", "data.a", "fp-a")],
                    removed=removed,
                    fence=held_by_a.fence(key),
                )
            with pytest.raises(LockLost, match="taken by another holder"):
                a.record_unit(_state("2024-01-02", "fp-a", "failed"), fence=held_by_a.fence(key))
        assert [p.part for p in a.parts("core_x__y")] == ["data.b"]
        assert a.unit_state("air.hourly", "2024-01-02").fingerprint == "fp-b"  # type: ignore[union-attr]
        assert [r.part for r in a.retired()] == ["data.old"]
    finally:
        a.close()
        b.close()
