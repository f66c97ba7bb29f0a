"""Durable landing of raw HJ 212 lines in append-only segment files (the raw zone).

Layout (``root`` is e.g. ``<lake>/raw/hj212`` for accepted lines and
``<lake>/raw/hj212_quarantine`` for rejected ones)::

    <root>/date=YYYY-MM-DD/<receiver_id>-<UTC open time yyyymmddThhmmss>-<seq 6 digits>.h212.open
        -> closed: ….h212  plus  ….h212.manifest.json

``date=`` is the Beijing date of the segment's open time (DESIGN.md: date partitions are Beijing
days).  A segment is rotated when it is older than ``rotate_seconds``, would exceed
``rotate_bytes``, or the Beijing date changed.  Closing = fsync, write the manifest (temp file,
fsync, rename), rename ``.open`` → ``.h212``, fsync the directory.  A closed ``.h212`` therefore
always has its manifest; ``closed_at`` in the manifest is when the segment became visible, which
is what :func:`list_closed_segments` selects on, so segments closed late (long-lived, or
recovered after a crash) are picked up by a later run instead of being missed.

Record format (one per received line; raw bytes kept exact, including their ``\\r\\n``)::

    <received_at>\\t<status>\\t<peer>\\t<n>\\t<n raw bytes>\\n

``received_at`` is UTC ISO-8601 with microseconds and ``Z``; ``status`` is ``ok`` (or an
acceptance flag such as ``unregistered``/``bad_pw`` in open registry mode) in data segments and
the reject reason in quarantine segments; ``peer`` is ``ip:port``; ``n`` is the byte length of the
raw line.  The explicit length keeps lines exact even when they lack a newline (truncated or
over-long lines) and lets a reader detect a torn last record after a crash (it is ignored; on
restart :meth:`SegmentWriter.recover` truncates it and closes the segment).

Durability: :class:`SegmentWriter.write_batch` writes a batch and fsyncs once (group commit);
:class:`AsyncSegmentLog` collects appends from many connections for at most ``group_commit_s``
(or until an in-flight fsync finishes) and resolves each append only after its bytes are on disk,
so the receiver acks only durable lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest.hj212.protocol import BEIJING

__all__ = [
    "AsyncSegmentLog",
    "SegmentInfo",
    "SegmentRecord",
    "SegmentWriter",
    "format_received_at",
    "iter_records",
    "list_closed_segments",
    "read_manifest",
]

OPEN_SUFFIX = ".h212.open"
CLOSED_SUFFIX = ".h212"
MANIFEST_SUFFIX = ".h212.manifest.json"
_NAME_RE = re.compile(r"^(?P<rid>.+)-(?P<start>\d{8}T\d{6})-(?P<seq>\d{6})\.h212(?:\.open)?$")
_RID_RE = re.compile(r"^[A-Za-z0-9_.]+$")


_SECOND_PREFIX: tuple[int, str] = (-(1 << 62), "")


def format_received_at(epoch: float) -> str:
    """UTC ISO-8601 with microseconds and ``Z`` (same rounding as ``datetime.fromtimestamp``).

    The ``YYYY-MM-DDThh:mm:ss.`` prefix is cached per second: this runs once per landed line.
    """
    global _SECOND_PREFIX
    frac, whole = math.modf(epoch)
    us = round(frac * 1e6)  # round-half-even, like datetime.fromtimestamp
    sec = int(whole)
    if us >= 1_000_000:
        sec += 1
        us -= 1_000_000
    elif us < 0:
        sec -= 1
        us += 1_000_000
    cached_sec, prefix = _SECOND_PREFIX
    if sec != cached_sec:
        prefix = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        _SECOND_PREFIX = (sec, prefix)
    return f"{prefix}{us:06d}Z"


def encode_record(received_at: float, status: str, peer: str, raw: bytes) -> bytes:
    head = f"{format_received_at(received_at)}\t{status}\t{peer}\t{len(raw)}\t".encode()
    return head + raw + b"\n"


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    received_at: datetime
    status: str
    peer: str
    raw: bytes
    offset: int


def _scan(data: bytes) -> tuple[list[SegmentRecord], int]:
    """Parse records; return them and the byte length of the valid prefix."""
    out: list[SegmentRecord] = []
    pos = 0
    n = len(data)
    while pos < n:
        try:
            fields_end = pos
            parts: list[bytes] = []
            for _ in range(4):
                tab = data.index(b"\t", fields_end)
                parts.append(data[fields_end:tab])
                fields_end = tab + 1
            size = int(parts[3])
            end = fields_end + size
            if size < 0 or end >= n or data[end : end + 1] != b"\n":
                break
            ts = datetime.strptime(parts[0].decode(), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            out.append(SegmentRecord(ts, parts[1].decode(), parts[2].decode(), data[fields_end:end], pos))
            pos = end + 1
        except (ValueError, UnicodeDecodeError):
            break
    return out, pos


def iter_records(path: str | Path) -> Iterator[SegmentRecord]:
    """Records of a segment (open or closed); a torn last record is ignored."""
    records, _ = _scan(Path(path).read_bytes())
    yield from records


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    path: Path
    receiver_id: str
    kind: str
    opened_at: datetime
    closed_at: datetime
    records: int
    bytes: int
    sha256: str


def read_manifest(segment: str | Path) -> dict[str, object]:
    p = Path(segment)
    return json.loads(p.with_name(p.name[: -len(CLOSED_SUFFIX)] + MANIFEST_SUFFIX).read_text())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync(fd: int) -> None:
    # fdatasync flushes the data and the size needed to read it back.
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


class SegmentWriter:
    """Synchronous segment writer; not thread-safe (one thread at a time, see AsyncSegmentLog)."""

    def __init__(
        self,
        root: str | Path,
        receiver_id: str,
        *,
        kind: str = "data",
        rotate_seconds: float = 300.0,
        rotate_bytes: int = 64 << 20,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not _RID_RE.match(receiver_id):
            raise ValueError(f"receiver_id {receiver_id!r}: use letters, digits, '_' and '.' only")
        self.root = Path(root)
        self.receiver_id = receiver_id
        self.kind = kind
        self.rotate_seconds = rotate_seconds
        self.rotate_bytes = rotate_bytes
        self._clock = clock
        self._seq = 0
        self._fd: int | None = None
        self._path: Path | None = None
        self._opened_at = 0.0
        self._date = ""
        self._size = 0
        self._records = 0
        self._sha = hashlib.sha256()
        self._first: float | None = None
        self._last: float | None = None
        self.closed: list[Path] = []

    @property
    def current_path(self) -> Path | None:
        return self._path

    # -- lifecycle
    def _open(self, now: float) -> None:
        opened = datetime.fromtimestamp(now, UTC)
        date = opened.astimezone(BEIJING).strftime("%Y-%m-%d")
        d = self.root / f"date={date}"
        d.mkdir(parents=True, exist_ok=True)
        stamp = opened.strftime("%Y%m%dT%H%M%S")
        while True:
            base = f"{self.receiver_id}-{stamp}-{self._seq:06d}"
            self._seq += 1
            path = d / (base + OPEN_SUFFIX)
            if (d / (base + CLOSED_SUFFIX)).exists():
                continue
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            except FileExistsError:
                continue
            break
        _fsync_dir(d)  # the new name must survive a crash before anything in it is acked
        self._fd, self._path, self._opened_at, self._date = fd, path, now, date
        self._size = self._records = 0
        self._sha = hashlib.sha256()
        self._first = self._last = None

    def _needs_rotation(self, now: float, incoming: int, date: str | None = None) -> bool:
        if self._fd is None:
            return False
        if now - self._opened_at >= self.rotate_seconds:
            return True
        if self._size and self._size + incoming > self.rotate_bytes:
            return True
        if date is None:
            date = datetime.fromtimestamp(now, UTC).astimezone(BEIJING).strftime("%Y-%m-%d")
        return date != self._date

    def write_batch(self, records: list[tuple[float, str, str, bytes]]) -> None:
        """Append records ``(received_at epoch, status, peer, raw)`` and fsync (once per file)."""
        self.write_encoded([(r[0], encode_record(*r)) for r in records])

    def write_encoded(self, records: list[tuple[float, bytes]]) -> None:
        """Append records already encoded by :func:`encode_record`, as ``(received_at, record)``,
        and fsync (once per file)."""
        if not records:
            return
        now = self._clock()
        date = datetime.fromtimestamp(now, UTC).astimezone(BEIJING).strftime("%Y-%m-%d")
        buf: list[bytes] = []
        buf_size = 0
        for received_at, rec in records:
            if self._fd is None or self._needs_rotation(now, buf_size + len(rec), date):
                self._flush(buf)
                buf, buf_size = [], 0
                if self._fd is not None:
                    self.close()
                self._open(now)
            buf.append(rec)
            buf_size += len(rec)
            self._records += 1
            if self._first is None:
                self._first = received_at
            self._last = received_at
        self._flush(buf)

    def _flush(self, buf: list[bytes]) -> None:
        if not buf or self._fd is None:
            return
        data = b"".join(buf)
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._sha.update(data)
        self._size += len(data)
        _sync(self._fd)

    def maybe_rotate(self) -> None:
        """Close the open segment if it is due (call periodically when idle)."""
        if self._fd is not None and self._needs_rotation(self._clock(), 0):
            self.close()

    def close(self) -> Path | None:
        """fsync, write manifest, rename ``.open`` → ``.h212``, fsync dir.  Returns the closed path."""
        if self._fd is None or self._path is None:
            return None
        fd, path = self._fd, self._path
        self._fd = None
        self._path = None
        os.fsync(fd)
        os.close(fd)
        final = _publish(
            path,
            receiver_id=self.receiver_id,
            kind=self.kind,
            opened_at=self._opened_at,
            closed_at=self._clock(),
            records=self._records,
            size=self._size,
            sha256=self._sha.hexdigest(),
            first=self._first,
            last=self._last,
        )
        self.closed.append(final)
        return final

    def recover(self) -> list[Path]:
        """Close ``.open`` segments this receiver_id left behind (crash): drop a torn last record,
        then publish them with ``closed_at`` = now.  Call before writing."""
        out: list[Path] = []
        if not self.root.is_dir():
            return out
        for path in sorted(self.root.glob(f"date=*/{self.receiver_id}-*{OPEN_SUFFIX}")):
            m = _NAME_RE.match(path.name)
            if not m or m.group("rid") != self.receiver_id or path == self._path:
                continue
            data = path.read_bytes()
            records, valid = _scan(data)
            if valid != len(data):
                with path.open("r+b") as fh:
                    fh.truncate(valid)
                    fh.flush()
                    os.fsync(fh.fileno())
            opened = datetime.strptime(m.group("start"), "%Y%m%dT%H%M%S").replace(tzinfo=UTC).timestamp()
            out.append(
                _publish(
                    path,
                    receiver_id=self.receiver_id,
                    kind=self.kind,
                    opened_at=opened,
                    closed_at=self._clock(),
                    records=len(records),
                    size=valid,
                    sha256=hashlib.sha256(data[:valid]).hexdigest(),
                    first=records[0].received_at.timestamp() if records else None,
                    last=records[-1].received_at.timestamp() if records else None,
                    recovered=True,
                )
            )
        return out


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else format_received_at(epoch)


def _publish(
    path: Path,
    *,
    receiver_id: str,
    kind: str,
    opened_at: float,
    closed_at: float,
    records: int,
    size: int,
    sha256: str,
    first: float | None,
    last: float | None,
    recovered: bool = False,
) -> Path:
    base = path.name[: -len(OPEN_SUFFIX)]
    final = path.with_name(base + CLOSED_SUFFIX)
    manifest = {
        "segment": final.name,
        "receiver_id": receiver_id,
        "kind": kind,
        "opened_at": _iso(opened_at),
        "closed_at": _iso(closed_at),
        "records": records,
        "bytes": size,
        "sha256": sha256,
        "first_received_at": _iso(first),
        "last_received_at": _iso(last),
        "recovered": recovered,
        "format": "hj212-segment-v1: <received_at>\\t<status>\\t<peer>\\t<n>\\t<n raw bytes>\\n",
    }
    mpath = path.with_name(base + MANIFEST_SUFFIX)
    tmp = mpath.with_name(mpath.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(manifest, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, mpath)
    os.replace(path, final)
    _fsync_dir(path.parent)
    return final


def _parse_iso(s: object) -> datetime:
    return datetime.strptime(str(s), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def list_closed_segments(
    root: str | Path,
    start: datetime,
    end: datetime,
    *,
    receiver_id: str | None = None,
    lookback: timedelta = timedelta(days=31),
) -> list[SegmentInfo]:
    """Closed segments whose ``closed_at`` is in ``[start, end)`` (aware datetimes), oldest first.

    Selecting on close time (not on the data's time) makes consecutive DAG runs over adjacent
    intervals see every segment exactly once, including ones closed late.  Date partitions
    opened more than ``lookback`` before ``start`` are not scanned.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    base = Path(root)
    if not base.is_dir():
        return []
    first_date = (start - lookback).astimezone(BEIJING).strftime("%Y-%m-%d")
    last_date = end.astimezone(BEIJING).strftime("%Y-%m-%d")
    out: list[SegmentInfo] = []
    for d in base.glob("date=*"):
        date = d.name[5:]
        if not (first_date <= date <= last_date):
            continue
        for mpath in d.glob(f"*{MANIFEST_SUFFIX}"):
            try:
                m = json.loads(mpath.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if receiver_id is not None and m.get("receiver_id") != receiver_id:
                continue
            closed = _parse_iso(m["closed_at"])
            seg = mpath.with_name(mpath.name[: -len(MANIFEST_SUFFIX)] + CLOSED_SUFFIX)
            if start <= closed < end and seg.exists():
                out.append(
                    SegmentInfo(
                        seg,
                        str(m["receiver_id"]),
                        str(m.get("kind", "data")),
                        _parse_iso(m["opened_at"]),
                        closed,
                        int(m["records"]),
                        int(m["bytes"]),
                        str(m["sha256"]),
                    )
                )
    out.sort(key=lambda s: (s.closed_at, s.path.name))
    return out


class AsyncSegmentLog:
    """Group commit in front of a :class:`SegmentWriter` for asyncio code.

    ``await append(...)`` returns once the record is fsynced.  Appends arriving while a commit is
    in flight, or within ``group_commit_s`` of the first pending one, share one write + fsync
    (run in a worker thread so the event loop keeps serving).  ``max_pending_bytes`` bounds the
    memory of not-yet-written records: appenders wait (backpressure) when it is exceeded.

    Records are encoded on the event-loop thread by ``submit`` and the records of one commit share
    one future, so the worker thread holds the GIL only briefly (write + fsync release it) and a
    commit of N records resolves one future, not N.
    """

    def __init__(
        self,
        writer: SegmentWriter,
        *,
        group_commit_s: float = 0.005,
        max_pending_bytes: int = 16 << 20,
        idle_check_s: float = 1.0,
    ) -> None:
        self.writer = writer
        self.group_commit_s = group_commit_s
        self.max_pending_bytes = max_pending_bytes
        self.idle_check_s = idle_check_s
        self._pending: list[tuple[float, bytes]] = []
        self._batch_future: asyncio.Future[None] | None = None
        self._pending_bytes = 0
        self._wake = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.commits = 0
        self.records = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"segment-log-{self.writer.kind}"
            )

    @property
    def congested(self) -> bool:
        return self._pending_bytes > self.max_pending_bytes

    async def wait_space(self) -> None:
        """Wait while more than ``max_pending_bytes`` are waiting to be written (backpressure)."""
        while self._pending_bytes > self.max_pending_bytes and not self._closing:
            self._space.clear()
            await self._space.wait()

    def submit(self, received_at: float, status: str, peer: str, raw: bytes) -> asyncio.Future[None]:
        """Queue a record; the returned future resolves once it is fsynced (or fails).  Records
        committed together share the future."""
        if self._task is None:
            raise RuntimeError("segment log not started or already closed")
        fut = self._batch_future
        if fut is None:
            fut = self._batch_future = asyncio.get_running_loop().create_future()
            self._wake.set()
        self._pending.append((received_at, encode_record(received_at, status, peer, raw)))
        self._pending_bytes += len(raw) + 64
        return fut

    async def append(self, received_at: float, status: str, peer: str, raw: bytes) -> None:
        """Queue a record and wait until it is durable."""
        await self.wait_space()
        await self.submit(received_at, status, peer, raw)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                if self._closing:
                    break
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_check_s)
                if not self._pending:
                    await loop.run_in_executor(None, self.writer.maybe_rotate)
                    continue
                if self.group_commit_s > 0 and not self._closing:
                    await asyncio.sleep(self.group_commit_s)
            batch, fut = self._pending, self._batch_future
            self._pending, self._batch_future = [], None
            self._pending_bytes = 0
            self._space.set()
            try:
                await loop.run_in_executor(None, self.writer.write_encoded, batch)
            except Exception as exc:  # disk full, I/O error: fail the appenders, no ack
                if fut is not None and not fut.done():
                    fut.set_exception(exc)
                    fut.exception()  # retrieved here; every appender awaiting it still gets it
                continue
            self.commits += 1
            self.records += len(batch)
            if fut is not None and not fut.done():
                fut.set_result(None)
        await loop.run_in_executor(None, self.writer.close)

    async def close(self) -> None:
        """Commit everything pending, fsync and close the open segment."""
        self._closing = True
        self._wake.set()
        self._space.set()
        if self._task is not None:
            await self._task
            self._task = None
        else:
            self.writer.close()


def closed_segments(
    root: str | Path, *, skip: Collection[str] = (), relative_to: Path | None = None
) -> list[SegmentInfo]:
    """Every closed segment under ``root``, oldest first, except those in ``skip``.

    ``skip`` holds paths as the caller records them: relative to ``relative_to`` when the segment
    is under it, else absolute. Only segments not skipped have their manifest read, so listing a
    landing zone whose segments are almost all known costs a directory scan.
    """
    base = Path(root)
    if not base.is_dir():
        return []
    out: list[SegmentInfo] = []
    for d in sorted(base.glob("date=*")):
        for seg in sorted(d.glob(f"*{CLOSED_SUFFIX}")):
            try:
                name = seg.relative_to(relative_to).as_posix() if relative_to else str(seg)
            except ValueError:
                name = str(seg)
            if name in skip:
                continue
            try:
                m = read_manifest(seg)
                info = SegmentInfo(
                    seg,
                    str(m["receiver_id"]),
                    str(m.get("kind", "data")),
                    _parse_iso(str(m["opened_at"])),
                    _parse_iso(str(m["closed_at"])),
                    int(str(m["records"])),
                    int(str(m["bytes"])),
                    str(m["sha256"]),
                )
            except (OSError, ValueError, KeyError):
                # A closed segment always has its manifest (written before the rename): this one is
                # damaged. Listed with what its bytes say, so ingesting it fails loudly, not never.
                data = seg.read_bytes()
                when = datetime.fromtimestamp(seg.stat().st_mtime, UTC)
                info = SegmentInfo(
                    seg, "unknown", "data", when, when, -1, len(data), hashlib.sha256(data).hexdigest()
                )
            out.append(info)
    return sorted(out, key=lambda s: (s.closed_at, s.path.name))
