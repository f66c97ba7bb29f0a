"""Segment writer under I/O faults (ENOSPC, EIO, EMFILE injected through its SegmentIO): a failed
batch raises and is not kept, nothing is appended after a failure, every closed segment matches its
manifest, a failure while closing is retried, the async log never hangs, and the receiver-id lock."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.hj212 import segments
from ingest.hj212.devices import AuthThrottle
from ingest.hj212.segments import (
    AsyncSegmentLog,
    ReceiverIdInUse,
    SegmentIO,
    SegmentLogDown,
    SegmentWriter,
    _try_lock,
    iter_records,
    read_manifest,
)

pytestmark = pytest.mark.unit

T0 = datetime(2024, 5, 1, 3, 0, 0, tzinfo=UTC).timestamp()


class FaultyIO(SegmentIO):
    """Fails the next call(s) of an operation with an errno; a failing write first writes half."""

    def __init__(self) -> None:
        self.armed: dict[str, list[int]] = {}
        self.injected: Counter[str] = Counter()

    def arm(self, op: str, err: int, times: int = 1) -> None:
        self.armed.setdefault(op, []).extend([err] * times)

    def _fault(self, op: str) -> None:
        queue = self.armed.get(op)
        if queue:
            err = queue.pop(0)
            self.injected[f"{op}:{errno.errorcode[err]}"] += 1
            raise OSError(err, os.strerror(err))

    def open(self, path: Path, flags: int, mode: int = 0o644) -> int:
        self._fault("open")
        return super().open(path, flags, mode)

    def write(self, fd: int, data: memoryview) -> int:
        if self.armed.get("write"):
            super().write(fd, data[: len(data) // 2])  # a short write, then the error
            self._fault("write")
        return super().write(fd, data)

    def datasync(self, fd: int) -> None:
        self._fault("datasync")
        super().datasync(fd)

    def fsync(self, fd: int) -> None:
        self._fault("fsync")
        super().fsync(fd)

    def truncate(self, fd: int, size: int) -> None:
        self._fault("truncate")
        super().truncate(fd, size)

    def replace(self, src: Path, dst: Path) -> None:
        self._fault("replace")
        super().replace(src, dst)

    def write_file(self, path: Path, data: bytes) -> None:
        self._fault("write_file")
        super().write_file(path, data)

    def fsync_dir(self, path: Path) -> None:
        self._fault("fsync_dir")
        super().fsync_dir(path)


def lines(tag: str, n: int) -> list[bytes]:
    return [f"##0010QN={tag}{i};ST=32\r\n".encode() for i in range(n)]


def write(w: SegmentWriter, raws: list[bytes]) -> None:
    w.write_batch([(T0, "ok", "10.0.0.1:4000", raw) for raw in raws])


def closed_records(root: Path) -> list[bytes]:
    """Records of every closed segment, each checked against its manifest; no ``.open`` left."""
    assert not list(root.rglob("*.h212.open"))
    out: list[bytes] = []
    for seg in sorted(root.rglob("*.h212")):
        m = read_manifest(seg)
        data = seg.read_bytes()
        recs = [r.raw for r in iter_records(seg)]
        assert (m["bytes"], m["sha256"], m["records"]) == (
            len(data),
            hashlib.sha256(data).hexdigest(),
            len(recs),
        ), seg
        out += recs
    return out


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EIO])
def test_failed_write_keeps_no_half_record_and_nothing_is_appended_after_it(tmp_path: Path, err: int) -> None:
    io = FaultyIO()
    w = SegmentWriter(tmp_path, "r1", clock=lambda: T0, io=io)
    write(w, lines("a", 3))
    first = w.current_path
    io.arm("write", err)
    with pytest.raises(OSError, match=os.strerror(err)):
        write(w, lines("b", 3))
    write(w, lines("c", 3))  # the receiver acknowledges these
    assert w.current_path != first  # a new segment: never append after a failure
    w.close()
    assert closed_records(tmp_path) == lines("a", 3) + lines("c", 3)
    assert io.injected == {f"write:{errno.errorcode[err]}": 1}
    assert w.errors == 1


def test_failed_fdatasync_is_not_kept_either(tmp_path: Path) -> None:
    io = FaultyIO()
    w = SegmentWriter(tmp_path, "r1", clock=lambda: T0, io=io)
    write(w, lines("a", 2))
    io.arm("datasync", errno.EIO)
    with pytest.raises(OSError, match="Input/output error"):
        write(w, lines("b", 2))  # written in full, but not known to be durable
    write(w, lines("c", 2))
    w.close()
    assert closed_records(tmp_path) == lines("a", 2) + lines("c", 2)


def test_failed_cut_back_is_redone_before_publishing(tmp_path: Path) -> None:
    io = FaultyIO()
    w = SegmentWriter(tmp_path, "r1", clock=lambda: T0, io=io)
    write(w, lines("a", 2))
    io.arm("write", errno.EIO)
    io.arm("truncate", errno.EIO)  # the half record cannot be cut off at once
    with pytest.raises(OSError, match="Input/output error"):
        write(w, lines("b", 2))
    assert len(w.unpublished) == 0  # cut on the retry (reopened), then published
    write(w, lines("c", 1))
    w.close()
    assert closed_records(tmp_path) == lines("a", 2) + lines("c", 1)


def test_emfile_when_opening_a_segment(tmp_path: Path) -> None:
    io = FaultyIO()
    w = SegmentWriter(tmp_path, "r1", clock=lambda: T0, io=io)
    write(w, lines("a", 2))
    w.close()
    io.arm("open", errno.EMFILE)  # the next segment cannot be opened
    with pytest.raises(OSError, match="Too many open files"):
        write(w, lines("b", 2))
    io.arm("fsync_dir", errno.EMFILE)  # opened, but its directory entry cannot be made durable
    with pytest.raises(OSError, match="Too many open files"):
        write(w, lines("c", 2))
    write(w, lines("d", 2))
    w.close()
    assert closed_records(tmp_path) == lines("a", 2) + lines("d", 2)


class RecordingIO(SegmentIO):
    """Logs the folders the writer syncs, each with the folders that existed at that moment."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.synced: list[tuple[Path, set[Path]]] = []

    def fsync_dir(self, path: Path) -> None:
        super().fsync_dir(path)
        self.synced.append((path, {p for p in self.root.rglob("*") if p.is_dir()}))


def test_a_new_date_folder_is_synced_in_its_parent_before_anything_in_it_is_acknowledged(
    tmp_path: Path,
) -> None:
    """A segment's own folder entry is not enough: after a crash, a date folder made that day (and a
    receiver root made at start) must still be found by its parent, or the acked records are lost."""
    root = tmp_path / "segments" / "hj212"
    io = RecordingIO(tmp_path)
    w = SegmentWriter(root, "r1", clock=lambda: T0, io=io)
    write(w, lines("a", 2))  # acknowledged once this returns
    created = [p for p in tmp_path.rglob("*") if p.is_dir() and not p.name.startswith(".")]
    assert {p.name for p in created} == {"segments", "hj212", "date=2024-05-01"}
    for folder in created:
        assert any(synced == folder.parent and folder in existing for synced, existing in io.synced), (
            f"{folder.relative_to(tmp_path)} never synced in its parent after it was made"
        )
    w.close()
    assert closed_records(root) == lines("a", 2)


def test_a_date_folder_whose_entry_cannot_be_synced_is_made_again_on_the_next_try(tmp_path: Path) -> None:
    io = FaultyIO()
    now = [T0]
    w = SegmentWriter(tmp_path, "r1", clock=lambda: now[0], io=io)
    write(w, lines("a", 2))
    w.close()  # published: the next fault is the new folder's
    now[0] = T0 + 86_400  # the next Beijing day: a new date folder
    io.arm("fsync_dir", errno.EIO)  # its entry in the root cannot be made durable
    with pytest.raises(OSError, match=os.strerror(errno.EIO)):
        write(w, lines("b", 2))
    assert not (tmp_path / "date=2024-05-02").exists()  # not left to hold acked records unsynced
    write(w, lines("c", 2))
    w.close()
    assert closed_records(tmp_path) == lines("a", 2) + lines("c", 2)
    assert (tmp_path / "date=2024-05-02").is_dir()


def test_failure_while_closing_is_retried_and_survives_a_restart(tmp_path: Path) -> None:
    io = FaultyIO()
    w = SegmentWriter(tmp_path, "r1", clock=lambda: T0, io=io)
    write(w, lines("a", 2))
    io.arm("write_file", errno.ENOSPC)  # the manifest
    assert w.close() is None  # logged and counted, not raised
    assert len(w.unpublished) == 1 and w.errors == 1
    io.arm("replace", errno.EIO)
    w.settle()  # the rename fails this time
    assert len(w.unpublished) == 1
    assert [p.name for p in w.settle()] == ["r1-20240501T030000-000000.h212"]
    write(w, lines("b", 1))
    io.arm("write_file", errno.EIO, times=2)
    w.close()
    w.release()  # the process dies with a segment it could not publish
    w2 = SegmentWriter(tmp_path, "r1", clock=lambda: T0)
    assert len(w2.recover()) == 1
    assert closed_records(tmp_path) == lines("a", 2) + lines("b", 1)


def test_idle_rotation_failure_does_not_stall_the_log(tmp_path: Path) -> None:
    io = FaultyIO()

    async def main() -> None:
        w = SegmentWriter(tmp_path, "r1", rotate_seconds=0.1, io=io)
        log = AsyncSegmentLog(w, group_commit_s=0.001, idle_check_s=0.05)
        log.start()
        await log.append(T0, "ok", "p", lines("a", 1)[0])
        io.arm("fsync", errno.EIO)
        io.arm("write_file", errno.EIO)
        await asyncio.sleep(0.4)  # idle rotation fails (both faults), then is retried
        assert io.injected == {"fsync:EIO": 1, "write_file:EIO": 1}
        await asyncio.wait_for(log.append(T0, "ok", "p", lines("b", 1)[0]), 2)  # never hangs
        await log.close()

    asyncio.run(main())
    assert closed_records(tmp_path) == lines("a", 1) + lines("b", 1)


def test_a_dead_log_task_fails_appends_fast_and_restarts(tmp_path: Path) -> None:
    async def main() -> None:
        w = SegmentWriter(tmp_path, "r1")
        log = AsyncSegmentLog(w, group_commit_s=0.001, restart_s=0.2)
        log.start()
        await log.append(T0, "ok", "p", lines("a", 1)[0])
        assert log._task is not None
        log._task.cancel()  # whatever kills the task
        await asyncio.sleep(0.01)
        with pytest.raises(SegmentLogDown):
            await asyncio.wait_for(log.append(T0, "ok", "p", lines("x", 1)[0]), 1)
        await asyncio.sleep(0.3)  # restarted
        await asyncio.wait_for(log.append(T0, "ok", "p", lines("b", 1)[0]), 2)
        assert log.restarts == 1
        await log.close()

    asyncio.run(main())
    assert closed_records(tmp_path) == lines("a", 1) + lines("b", 1)


def test_one_receiver_id_one_writer(tmp_path: Path) -> None:
    w1 = SegmentWriter(tmp_path, "r1", clock=lambda: T0)
    write(w1, lines("a", 1))
    live = w1.current_path
    w2 = SegmentWriter(tmp_path, "r1", clock=lambda: T0)
    with pytest.raises(ReceiverIdInUse, match="'r1' is in use"):
        w2.recover()
    with pytest.raises(ReceiverIdInUse):
        write(w2, lines("b", 1))
    assert live is not None and live.exists()  # the live segment was not touched
    write(w1, lines("c", 1))
    w1.close()
    w1.release()
    w2.recover()
    write(w2, lines("d", 1))
    w2.close()
    assert closed_records(tmp_path) == lines("a", 1) + lines("c", 1) + lines("d", 1)


def test_a_restarting_receiver_waits_for_its_lock_while_another_sweeps_its_segments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = SegmentWriter(tmp_path, "r1", clock=lambda: T0)
    write(gone, lines("a", 2))
    gone.release()  # died with its segment open
    sweeper_holds = _try_lock(tmp_path, "r1")  # another receiver's sweep, closing r1's segment
    assert sweeper_holds is not None
    attempts: list[str] = []

    def try_lock(root: Path, receiver_id: str) -> int | None:
        attempts.append(receiver_id)
        if len(attempts) == 3:  # the sweep is done after the restarting receiver's second try
            os.close(sweeper_holds)
        return _try_lock(root, receiver_id)

    monkeypatch.setattr(segments, "_try_lock", try_lock)
    back = SegmentWriter(tmp_path, "r1", clock=lambda: T0, lock_wait_s=60)  # a bound against hanging only
    back.recover()  # waits instead of failing with ReceiverIdInUse
    assert attempts == ["r1"] * 3  # refused twice while the sweep held the lock, then taken
    monkeypatch.undo()
    write(back, lines("b", 1))
    back.close()
    assert closed_records(tmp_path) == lines("a", 2) + lines("b", 1)
    twin = SegmentWriter(tmp_path, "r1", clock=lambda: T0, lock_wait_s=0.2)
    with pytest.raises(ReceiverIdInUse):  # a live writer holds it for good: given up after the wait
        twin.recover()


def test_recover_takes_orphans_of_gone_receivers_only(tmp_path: Path) -> None:
    gone = SegmentWriter(tmp_path, "oldhost", clock=lambda: T0)
    write(gone, lines("g", 2))
    gone.release()  # its container is gone; a new one comes back under another host name
    live = SegmentWriter(tmp_path, "livehost", clock=lambda: T0)
    write(live, lines("l", 1))
    new = SegmentWriter(tmp_path, "newhost", clock=lambda: T0 + 60)
    (recovered,) = new.recover()
    assert recovered.name == "oldhost-20240501T030000-000000.h212"
    m = read_manifest(recovered)
    assert (m["receiver_id"], m["recovered"], m["recovered_by"], m["records"]) == (
        "oldhost",
        True,
        "newhost",
        2,
    )
    assert live.current_path is not None and live.current_path.exists()  # a live receiver's: untouched
    assert new.recover() == []
    live.close()
    assert sorted(closed_records(tmp_path)) == sorted(lines("g", 2) + lines("l", 1))


def test_auth_throttle_blocks_a_peer_or_mn_for_a_while() -> None:
    now = [0.0]
    t = AuthThrottle(max_failures=3, window_s=60, block_s=300, clock=lambda: now[0])
    assert not t.active
    assert t.failed("10.0.0.1", "MN1") == []
    now[0] = 61.0  # the window passed: counting starts again
    assert t.failed("10.0.0.1", "MN1") == []
    assert t.failed("10.0.0.2", "MN1") == []
    assert t.failed("10.0.0.3", "MN1") == ["mn:MN1"]  # 3 failures for MN1 within the window
    assert t.active and t.blocks == 1
    assert t.blocked("10.0.0.9", "MN1") and not t.blocked("10.0.0.9", "MN2")
    for _ in range(2):
        t.failed("10.0.0.1", "MN2")
    assert t.blocked("10.0.0.1", "MN3")  # 3 failures from 10.0.0.1 (MN1, MN2, MN2)
    assert t.refused == 2
    now[0] = 61.0 + 301
    assert not t.blocked("10.0.0.1", "MN1") and not t.active


def test_auth_throttle_memory_is_bounded() -> None:
    t = AuthThrottle(max_failures=2, max_keys=100, clock=lambda: 0.0)
    for i in range(1000):
        t.failed(f"10.0.{i // 250}.{i % 250}", f"MN{i}")
    # 2,000 counters of one failure each (a peer and an MN per failure), the newest 100 kept
    assert len(t._failures) == 100
    assert not t._blocked and not t.blocked("10.0.3.249", "MN999")  # one failure of two: not yet
    # the newest peer and MN are still counted: one more failure each blocks them …
    assert t.failed("10.0.3.249", "MN-other") == ["peer:10.0.3.249"]
    assert t.failed("10.9.9.9", "MN999") == ["mn:MN999"]
    assert t.blocked("10.0.3.249", "MN-any") and t.blocked("10.8.8.8", "MN999")
    # … the oldest were forgotten: their next failure is a first one
    assert t.failed("10.0.0.0", "MN0") == []
    assert not t.blocked("10.0.0.0", "MN0")
    assert len(t._failures) == 100


def test_an_mns_block_spares_the_addresses_that_authenticated_it_recently() -> None:
    now = [0.0]
    t = AuthThrottle(
        max_failures=3, window_s=60, block_s=5000, remember_peers=2, remember_s=1000, clock=lambda: now[0]
    )
    t.succeeded("10.0.0.7", "MN1")  # the genuine logger
    for stranger in ("10.6.6.1", "10.6.6.2", "10.6.6.3"):
        t.failed(stranger, "MN1")
    assert t.blocked("10.6.6.4", "MN1")  # MN1 is blocked for strangers …
    assert not t.blocked("10.0.0.7", "MN1")  # … not for the address that authenticated it
    now[0] = 999.0
    assert not t.blocked("10.0.0.7", "MN1") and t.remembered("10.0.0.7", "MN1")
    t.succeeded("10.0.0.7", "MN1")  # seen again: remembered 1,000 s from now
    now[0] = 1998.0
    assert not t.blocked("10.0.0.7", "MN1")
    now[0] = 2000.0
    assert t.blocked("10.0.0.7", "MN1") and not t.remembered("10.0.0.7", "MN1")  # forgotten
    # one address, many loggers (an enterprise's router, a carrier's NAT): a misconfigured logger
    # there blocks the address for strangers, not for the loggers that authenticated from it
    t.succeeded("10.0.0.8", "MN2")
    for _ in range(3):
        t.failed("10.0.0.8", "MN9")
    assert t.blocked("10.0.0.8", "MN9") and t.blocked("10.0.0.8", "MN3")
    assert not t.blocked("10.0.0.8", "MN2")
    # guessing MN2's password from that address: the first failure forgets the pair, the block holds
    t.failed("10.0.0.8", "MN2")
    assert t.blocked("10.0.0.8", "MN2") and not t.remembered("10.0.0.8", "MN2")


def test_only_the_last_few_addresses_of_an_mn_are_remembered_and_memory_is_bounded() -> None:
    now = [0.0]
    t = AuthThrottle(remember_peers=2, max_keys=100, clock=lambda: now[0])
    for peer in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        now[0] += 1
        t.succeeded(peer, "MN1")
    assert [t.remembered(p, "MN1") for p in ("10.0.0.1", "10.0.0.2", "10.0.0.3")] == [False, True, True]
    t.succeeded("10.0.0.2", "MN1")  # seen again: now the newest
    t.succeeded("10.0.0.4", "MN1")
    assert [t.remembered(p, "MN1") for p in ("10.0.0.2", "10.0.0.3", "10.0.0.4")] == [True, False, True]
    for i in range(1000):
        t.succeeded(f"10.1.{i // 250}.{i % 250}", f"MN{i}")
    assert len(t._known) == 100 and t.remembered("10.1.3.249", "MN999")
    assert not t.remembered("10.0.0.2", "MN1")  # the least recent MNs were forgotten first
    off = AuthThrottle(max_failures=0)
    off.succeeded("10.0.0.1", "MN1")
    assert off._known == {}  # no throttling: nothing to remember for


def test_a_running_writer_sweeps_up_orphans_that_appear_later(tmp_path: Path) -> None:
    now = [T0]
    new = SegmentWriter(tmp_path, "newhost", sweep_seconds=300, clock=lambda: now[0])
    new.recover()
    write(new, lines("n", 1))
    gone = SegmentWriter(tmp_path, "oldhost", clock=lambda: now[0])
    write(gone, lines("g", 1))
    gone.release()  # dies after the new one started
    now[0] += 299
    new.housekeeping()
    assert list(tmp_path.rglob("oldhost-*.h212.open"))  # not yet: sweeps are every 300 s
    now[0] += 2
    new.housekeeping()
    assert not list(tmp_path.rglob("oldhost-*.h212.open"))
    new.close()
    assert sorted(closed_records(tmp_path)) == sorted(lines("g", 1) + lines("n", 1))
