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

Failures (every file-system call goes through a :class:`SegmentIO`, which tests replace to inject
ENOSPC, EIO, EMFILE): a batch whose write or fdatasync fails is not durable — the call raises, the
segment is cut back to its last synced length and closed, and the next batch opens a new segment,
so nothing is ever appended after a failure and a closed segment always matches its manifest
(records, bytes, sha256).  A segment that cannot be published yet (manifest, rename) stays
``.open`` and is retried; the next start recovers it if this process dies first.

Receiver identity: a writer holds ``<root>/.receivers/<receiver_id>.lock`` (``flock``) while it
lives, so two receivers with one id cannot both write (the second fails with
:class:`ReceiverIdInUse`); :meth:`SegmentWriter.recover` closes the ``.open`` segments of its own id
and of any other id whose lock is free (a receiver that is gone, e.g. a container with a new host
name), and never touches a live receiver's segment.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import re
import socket
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from schemas.clock import BEIJING

__all__ = [
    "RECEIVED_AT_FORMAT",
    "RECEIVED_AT_LEN",
    "AsyncSegmentLog",
    "ReceiverIdInUse",
    "SegmentIO",
    "SegmentInfo",
    "SegmentLogDown",
    "SegmentRecord",
    "SegmentWriter",
    "ThrottledLog",
    "format_received_at",
    "iter_records",
    "list_closed_segments",
    "parse_received_at",
    "read_manifest",
    "record_size",
    "scan_records",
]

OPEN_SUFFIX = ".h212.open"
CLOSED_SUFFIX = ".h212"
MANIFEST_SUFFIX = ".h212.manifest.json"
_NAME_RE = re.compile(r"^(?P<rid>.+)-(?P<start>\d{8}T\d{6})-(?P<seq>\d{6})\.h212(?:\.open)?$")
_RID_RE = re.compile(r"^[A-Za-z0-9_.]+$")

log = logging.getLogger("ecocloud.hj212.segments")


class ThrottledLog:
    """Logs at most once per ``every_s`` seconds, saying how many were suppressed: a full or
    failing disk makes every commit fail (a hostile peer can repeat a refused connection), and the
    log must not flood (it may share that disk)."""

    def __init__(self, logger: logging.Logger, every_s: float = 10.0) -> None:
        self.logger = logger
        self.every_s = every_s
        self._next = 0.0
        self._suppressed = 0

    def error(self, msg: str, *args: object) -> None:
        self._log(logging.ERROR, msg, args)

    def warning(self, msg: str, *args: object) -> None:
        self._log(logging.WARNING, msg, args)

    def _log(self, level: int, msg: str, args: tuple[object, ...]) -> None:
        now = time.monotonic()
        if now < self._next:
            self._suppressed += 1
            return
        if self._suppressed:
            msg += f" (and {self._suppressed} more like it since the last report)"
        self._suppressed = 0
        self._next = now + self.every_s
        self.logger.log(level, msg, *args, stacklevel=3)  # the caller of error() / warning()


# a record's receive time (and a manifest's opened_at / closed_at): UTC, microseconds, ``Z``; the
# vectorised reader (``batch``, ``_tokens.datatimes`` with ``iso``) relies on its fixed length
RECEIVED_AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
RECEIVED_AT_LEN = len("YYYY-MM-DDTHH:MM:SS.ffffffZ")
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
        prefix = datetime.fromtimestamp(sec, UTC).strftime(RECEIVED_AT_FORMAT.removesuffix("%fZ"))
        _SECOND_PREFIX = (sec, prefix)
    return f"{prefix}{us:06d}Z"


def encode_record(received_at: float, status: str, peer: str, raw: bytes) -> bytes:
    head = f"{format_received_at(received_at)}\t{status}\t{peer}\t{len(raw)}\t".encode()
    return head + raw + b"\n"


def record_size(status: str, peer: str, raw: bytes) -> int:
    """The bytes ``encode_record`` writes for ``raw`` (its header, then the line), without encoding it."""
    return RECEIVED_AT_LEN + len(status.encode()) + len(peer.encode()) + len(str(len(raw))) + 5 + len(raw)


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    received_at: datetime
    status: str
    peer: str
    raw: bytes
    offset: int


def scan_records(data: bytes) -> tuple[list[SegmentRecord], int]:
    """A segment's records and the byte length of its valid prefix (a torn last record is not in it)."""
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
            ts = parse_received_at(parts[0].decode())
            out.append(SegmentRecord(ts, parts[1].decode(), parts[2].decode(), data[fields_end:end], pos))
            pos = end + 1
        except (ValueError, UnicodeDecodeError):
            break
    return out, pos


def iter_records(path: str | Path) -> Iterator[SegmentRecord]:
    """Records of a segment (open or closed); a torn last record is ignored."""
    records, _ = scan_records(Path(path).read_bytes())
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


class ReceiverIdInUse(RuntimeError):
    """Another live receiver holds this receiver id's lock on the landing zone."""


class SegmentIO:
    """The file-system calls of the segment writer, one method each.

    The writer makes every open, write, sync, truncate, rename and manifest write through this
    object, so a test can substitute a subclass that fails chosen calls (ENOSPC, EIO, EMFILE) and
    check that no failure damages a segment or loses an acknowledged record.
    """

    def mkdir(self, path: Path) -> None:
        """Make ``path`` and its missing parents, each folder's entry synced in its parent: a date
        folder made at midnight must survive a crash like the segments acknowledged inside it."""
        missing: list[Path] = []
        while not path.is_dir():
            missing.append(path)
            path = path.parent
        for folder in reversed(missing):
            with contextlib.suppress(FileExistsError):  # another writer of this root made it first
                folder.mkdir()
            try:
                self.fsync_dir(folder.parent)
            except OSError:
                with contextlib.suppress(OSError):  # not left behind unsynced: the next try makes it again
                    folder.rmdir()
                raise

    def open(self, path: Path, flags: int, mode: int = 0o644) -> int:
        return os.open(path, flags, mode)

    def write(self, fd: int, data: memoryview) -> int:
        return os.write(fd, data)

    def datasync(self, fd: int) -> None:
        # fdatasync flushes the data and the size needed to read it back.
        (getattr(os, "fdatasync", None) or os.fsync)(fd)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def truncate(self, fd: int, size: int) -> None:
        os.ftruncate(fd, size)

    def close(self, fd: int) -> None:
        os.close(fd)

    def replace(self, src: Path, dst: Path) -> None:
        os.replace(src, dst)

    def unlink(self, path: Path) -> None:
        os.unlink(path)

    def write_file(self, path: Path, data: bytes) -> None:
        """Create or overwrite ``path`` with ``data`` and fsync it (the manifest's temp file)."""
        fd = self.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            view = memoryview(data)
            while view:
                view = view[self.write(fd, view) :]
            self.fsync(fd)
        finally:
            self.close(fd)

    def fsync_dir(self, path: Path) -> None:
        fd = self.open(path, os.O_RDONLY)
        try:
            self.fsync(fd)
        finally:
            self.close(fd)


_LOCK_DIR = ".receivers"


def _try_lock(root: Path, receiver_id: str) -> int | None:
    """Take ``<root>/.receivers/<receiver_id>.lock`` (flock, exclusive); None if a live process holds
    it.  The kernel drops the lock when its holder dies, however it dies."""
    d = root / _LOCK_DIR
    d.mkdir(parents=True, exist_ok=True)
    fd = os.open(d / f"{receiver_id}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


@dataclass(slots=True)
class _Segment:
    """A segment being written, or closed but not yet published (manifest + rename pending)."""

    path: Path
    opened_at: float
    date: str
    fd: int | None
    size: int = 0  # bytes written and synced: the segment's good length
    records: int = 0
    sha: Any = field(default_factory=hashlib.sha256)
    first: float | None = None
    last: float | None = None
    exact: bool = True  # False: a failed write may have left bytes past ``size`` on disk


def _closed_name(path: Path) -> Path:
    return path.with_name(path.name[: -len(OPEN_SUFFIX)] + CLOSED_SUFFIX)


class SegmentWriter:
    """Synchronous segment writer; not thread-safe (one thread at a time, see AsyncSegmentLog).

    Failures: a batch whose write or sync fails raises and is not durable (so not acknowledged);
    the segment is cut back to its last synced length and closed, and the next batch opens a new
    segment — nothing is ever appended after a failure.  A segment that cannot be published yet
    (closing, manifest or rename failed) stays ``.open`` in :attr:`unpublished` and is retried by
    :meth:`settle` / :meth:`housekeeping`; ``close`` and ``housekeeping`` log such failures and count
    them in :attr:`errors` instead of raising.

    The writer holds ``<root>/.receivers/<receiver_id>.lock`` from its first write or recovery until
    :meth:`release`: a second writer with the same id fails with :class:`ReceiverIdInUse`.
    """

    def __init__(
        self,
        root: str | Path,
        receiver_id: str,
        *,
        kind: str = "data",
        rotate_seconds: float = 300.0,
        rotate_bytes: int = 64 << 20,
        sweep_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
        io: SegmentIO | None = None,
        lock_wait_s: float = 0.0,
    ) -> None:
        if not _RID_RE.match(receiver_id):
            raise ValueError(f"receiver_id {receiver_id!r}: use letters, digits, '_' and '.' only")
        self.root = Path(root)
        self.receiver_id = receiver_id
        self.kind = kind
        self.rotate_seconds = rotate_seconds
        self.rotate_bytes = rotate_bytes
        self.sweep_seconds = sweep_seconds
        self.io = io or SegmentIO()
        # another receiver's sweep holds a dead receiver's lock while it closes that one's segments:
        # a receiver restarting under that id then waits for it instead of exiting
        self.lock_wait_s = lock_wait_s
        self._clock = clock
        self._seq = 0
        self._seg: _Segment | None = None
        self._lock_fd: int | None = None
        self._next_sweep = clock() + sweep_seconds
        self.unpublished: list[_Segment] = []
        self.closed: list[Path] = []
        self.errors = 0
        self.last_error: str | None = None
        self._error_log = ThrottledLog(log)

    @property
    def current_path(self) -> Path | None:
        return None if self._seg is None else self._seg.path

    # -- receiver id lock
    def lock(self) -> None:
        """Take this receiver id's lock on ``root`` (idempotent); :class:`ReceiverIdInUse` if it is
        still held after ``lock_wait_s``."""
        if self._lock_fd is not None:
            return
        self.io.mkdir(self.root)  # a root made here is synced in its parent, like the date folders
        deadline = time.monotonic() + self.lock_wait_s
        fd = _try_lock(self.root, self.receiver_id)
        while fd is None and time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
            fd = _try_lock(self.root, self.receiver_id)
        if fd is None:
            raise ReceiverIdInUse(
                f"receiver id {self.receiver_id!r} is in use on {self.root} (a live receiver holds "
                f"{self.root / _LOCK_DIR / self.receiver_id}.lock): give each receiver its own id"
            )
        note = f"{socket.gethostname()} pid {os.getpid()}\n".encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, note, 0)
        self._lock_fd = fd

    def release(self) -> None:
        """Drop the receiver id lock (after the last close)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def _error(self, doing: str, path: Path, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = f"{doing} {path.name}: {exc}"
        self._error_log.error(
            "segment writer %s/%s: %s %s failed: %s", self.receiver_id, self.kind, doing, path, exc
        )

    # -- lifecycle
    def _open(self, now: float, date: str) -> None:
        self.lock()
        d = self.root / f"date={date}"
        self.io.mkdir(d)
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S")
        while True:
            base = f"{self.receiver_id}-{stamp}-{self._seq:06d}"
            self._seq += 1
            path = d / (base + OPEN_SUFFIX)
            if (d / (base + CLOSED_SUFFIX)).exists():
                continue
            try:
                fd = self.io.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            except FileExistsError:
                continue
            break
        try:
            self.io.fsync_dir(d)  # the new name must survive a crash before anything in it is acked
        except OSError:
            with contextlib.suppress(OSError):
                self.io.close(fd)
            with contextlib.suppress(OSError):
                self.io.unlink(path)
            raise
        self._seg = _Segment(path, now, date, fd)

    def _needs_rotation(self, now: float, incoming: int, date: str | None = None) -> bool:
        seg = self._seg
        if seg is None:
            return False
        if now - seg.opened_at >= self.rotate_seconds:
            return True
        if seg.size and seg.size + incoming > self.rotate_bytes:
            return True
        if date is None:
            date = _beijing_date(now)
        return date != seg.date

    def write_batch(self, records: list[tuple[float, str, str, bytes]]) -> None:
        """Append records ``(received_at epoch, status, peer, raw)`` and fsync (once per file)."""
        self.write_encoded([(r[0], encode_record(*r)) for r in records])

    def write_encoded(self, records: list[tuple[float, bytes]]) -> None:
        """Append records already encoded by :func:`encode_record`, as ``(received_at, record)``,
        and fsync (once per file).  Raises ``OSError`` if they are not all durable."""
        if not records:
            return
        if self.unpublished:
            self.settle()
        now = self._clock()
        date = _beijing_date(now)
        chunk: list[tuple[float, bytes]] = []
        size = 0
        for item in records:
            n = len(item[1])
            if self._seg is None or self._needs_rotation(now, size + n, date):
                if chunk:
                    self._commit(chunk)
                    chunk, size = [], 0
                if self._seg is not None:
                    self.close()
                self._open(now, date)
            chunk.append(item)
            size += n
        self._commit(chunk)

    def _commit(self, chunk: list[tuple[float, bytes]]) -> None:
        seg = self._seg
        assert seg is not None and seg.fd is not None
        data = b"".join([rec for _, rec in chunk])
        try:
            view = memoryview(data)
            while view:
                view = view[self.io.write(seg.fd, view) :]
            self.io.datasync(seg.fd)
        except OSError as exc:
            self._error("writing", seg.path, exc)
            self._abandon(seg)
            raise
        seg.sha.update(data)
        seg.size += len(data)
        seg.records += len(chunk)
        if seg.first is None:
            seg.first = chunk[0][0]
        seg.last = chunk[-1][0]

    def _abandon(self, seg: _Segment) -> None:
        """After a failed write or sync: cut the segment back to its last synced length and close
        it (published now or later); the next batch goes to a new segment."""
        self._seg = None
        fd, seg.fd = seg.fd, None
        assert fd is not None
        try:
            self.io.truncate(fd, seg.size)
            self.io.datasync(fd)
        except OSError:
            seg.exact = False  # cut again (reopening the file) before it is published
        with contextlib.suppress(OSError):
            self.io.close(fd)
        self.unpublished.append(seg)
        self.settle()

    def maybe_rotate(self) -> None:
        """Close the open segment if it is due."""
        if self._seg is not None and self._needs_rotation(self._clock(), 0):
            self.close()

    def housekeeping(self) -> None:
        """Periodic work (the async log calls it about once a second, loaded or idle): rotate a
        segment that is due, retry unpublished ones, and every ``sweep_seconds`` recover ``.open``
        segments whose receiver is gone.  Failures are logged and counted, never raised."""
        self.maybe_rotate()
        if self.unpublished:
            self.settle()
        now = self._clock()
        if now >= self._next_sweep:
            self._next_sweep = now + self.sweep_seconds
            try:
                for p in self.recover():
                    log.warning("recovered unclosed segment %s", p)
            except OSError as exc:
                self._error("sweeping", self.root, exc)

    def close(self) -> Path | None:
        """fsync, write manifest, rename ``.open`` → ``.h212``, fsync dir.  Returns the closed path,
        or None if there was no open segment or it could not be published yet (it stays in
        :attr:`unpublished`; its synced records are safe)."""
        seg = self._seg
        if seg is None:
            return None
        self._seg = None
        fd, seg.fd = seg.fd, None
        assert fd is not None
        try:
            self.io.fsync(fd)  # the records are already datasynced; this is for the metadata
        except OSError as exc:
            self._error("closing", seg.path, exc)
        finally:
            with contextlib.suppress(OSError):
                self.io.close(fd)
        self.unpublished.append(seg)
        self.settle()
        return None if seg in self.unpublished else _closed_name(seg.path)

    def settle(self) -> list[Path]:
        """Publish closed segments that could not be published yet (each failure is logged and
        retried later).  Returns the segments published now."""
        out: list[Path] = []
        for seg in list(self.unpublished):
            try:
                final = self._settle(seg)
            except OSError as exc:
                self._error("publishing", seg.path, exc)
                continue
            self.unpublished.remove(seg)
            if final is not None:
                self.closed.append(final)
                out.append(final)
        return out

    def _settle(self, seg: _Segment) -> Path | None:
        if not seg.exact:
            fd = self.io.open(seg.path, os.O_WRONLY)
            try:
                self.io.truncate(fd, seg.size)
                self.io.datasync(fd)
            finally:
                self.io.close(fd)
            seg.exact = True
        if seg.records == 0:  # nothing good in it: remove rather than publish an empty segment
            if seg.path.exists():
                self.io.unlink(seg.path)
                self.io.fsync_dir(seg.path.parent)
            return None
        return self._publish(
            seg.path,
            receiver_id=self.receiver_id,
            opened_at=seg.opened_at,
            records=seg.records,
            size=seg.size,
            sha256=seg.sha.hexdigest(),
            first=seg.first,
            last=seg.last,
        )

    def recover(self) -> list[Path]:
        """Close ``.open`` segments left behind by a dead receiver: this receiver id's (a crash) and
        those of any other id whose lock is free (e.g. a container that came back with a new host
        name).  A torn last record is dropped; each is published with ``closed_at`` = now and
        ``recovered: true``.  Called on start (before writing) and by :meth:`housekeeping`."""
        self.lock()
        out: list[Path] = []
        if not self.root.is_dir():
            return out
        skip = {s.path for s in self.unpublished}
        if self._seg is not None:
            skip.add(self._seg.path)
        by_rid: dict[str, list[Path]] = {}
        for path in sorted(self.root.glob(f"date=*/*{OPEN_SUFFIX}")):
            m = _NAME_RE.match(path.name)
            if m and path not in skip and _RID_RE.match(m.group("rid")):
                by_rid.setdefault(m.group("rid"), []).append(path)
        for rid, paths in by_rid.items():
            if rid == self.receiver_id:
                out += self._recover_files(paths, rid)
                continue
            held = _try_lock(self.root, rid)
            if held is None:
                continue  # its receiver is alive: its open segments are its own business
            try:
                out += self._recover_files(paths, rid)
            finally:
                os.close(held)
        return out

    def _recover_files(self, paths: list[Path], rid: str) -> list[Path]:
        out: list[Path] = []
        for path in paths:
            try:
                out.append(self._recover_file(path, rid))
            except FileNotFoundError:
                continue  # published meanwhile
            except OSError as exc:
                self._error("recovering", path, exc)
        return out

    def _recover_file(self, path: Path, rid: str) -> Path:
        m = _NAME_RE.match(path.name)
        assert m is not None
        data = path.read_bytes()
        records, valid = scan_records(data)
        if valid != len(data):
            fd = self.io.open(path, os.O_WRONLY)
            try:
                self.io.truncate(fd, valid)
                self.io.fsync(fd)
            finally:
                self.io.close(fd)
        opened = datetime.strptime(m.group("start"), "%Y%m%dT%H%M%S").replace(tzinfo=UTC).timestamp()
        return self._publish(
            path,
            receiver_id=rid,
            opened_at=opened,
            records=len(records),
            size=valid,
            sha256=hashlib.sha256(data[:valid]).hexdigest(),
            first=records[0].received_at.timestamp() if records else None,
            last=records[-1].received_at.timestamp() if records else None,
            recovered=True,
        )

    def _publish(
        self,
        path: Path,
        *,
        receiver_id: str,
        opened_at: float,
        records: int,
        size: int,
        sha256: str,
        first: float | None,
        last: float | None,
        recovered: bool = False,
    ) -> Path:
        """Manifest (temp file, fsync, rename), then ``.open`` → ``.h212``, then fsync the
        directory.  Safe to repeat after a failure at any step."""
        final = _closed_name(path)
        if not path.exists() and final.exists():  # renamed before a failure: only the dir sync was missing
            self.io.fsync_dir(path.parent)
            return final
        manifest = {
            "segment": final.name,
            "receiver_id": receiver_id,
            "kind": self.kind,
            "opened_at": _iso(opened_at),
            "closed_at": _iso(self._clock()),
            "records": records,
            "bytes": size,
            "sha256": sha256,
            "first_received_at": _iso(first),
            "last_received_at": _iso(last),
            "recovered": recovered,
            "format": "hj212-segment-v1: <received_at>\\t<status>\\t<peer>\\t<n>\\t<n raw bytes>\\n",
        }
        if receiver_id != self.receiver_id:
            manifest["recovered_by"] = self.receiver_id
        mpath = path.with_name(path.name[: -len(OPEN_SUFFIX)] + MANIFEST_SUFFIX)
        tmp = mpath.with_name(mpath.name + ".tmp")
        self.io.write_file(tmp, json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
        self.io.replace(tmp, mpath)
        self.io.replace(path, final)
        self.io.fsync_dir(path.parent)
        return final


def _beijing_date(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).astimezone(BEIJING).strftime("%Y-%m-%d")


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else format_received_at(epoch)


def parse_received_at(s: object) -> datetime:
    """The inverse of :func:`format_received_at`, as an aware UTC datetime."""
    return datetime.strptime(str(s), RECEIVED_AT_FORMAT).replace(tzinfo=UTC)


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
            closed = parse_received_at(m["closed_at"])
            seg = mpath.with_name(mpath.name[: -len(MANIFEST_SUFFIX)] + CLOSED_SUFFIX)
            if start <= closed < end and seg.exists():
                out.append(
                    SegmentInfo(
                        seg,
                        str(m["receiver_id"]),
                        str(m.get("kind", "data")),
                        parse_received_at(m["opened_at"]),
                        closed,
                        int(m["records"]),
                        int(m["bytes"]),
                        str(m["sha256"]),
                    )
                )
    out.sort(key=lambda s: (s.closed_at, s.path.name))
    return out


class SegmentLogDown(OSError):
    """The segment log's task is not running (it failed and is restarting): nothing is landed."""


class AsyncSegmentLog:
    """Group commit in front of a :class:`SegmentWriter` for asyncio code.

    ``await append(...)`` returns once the record is fsynced.  Appends arriving while a commit is
    in flight, or within ``group_commit_s`` of the first pending one, share one write + fsync
    (run in a worker thread so the event loop keeps serving).  ``max_pending_bytes`` bounds the
    memory of not-yet-written records: appenders wait (backpressure) when it is exceeded.

    Records are encoded on the event-loop thread by ``submit`` and the records of one commit share
    one future, so the worker thread holds the GIL only briefly (write + fsync release it) and a
    commit of N records resolves one future, not N.

    Failures are never silent: a commit that fails fails its future (the receiver then sends no
    reply and drops the connections, loggers resend); :meth:`SegmentWriter.housekeeping` runs every
    ``idle_check_s`` whether busy or idle and handles its own errors; and should the task itself
    die, every waiting future fails with :class:`SegmentLogDown`, new submissions fail at once, and
    the task is restarted after ``restart_s``.
    """

    def __init__(
        self,
        writer: SegmentWriter,
        *,
        group_commit_s: float = 0.005,
        max_pending_bytes: int = 16 << 20,
        idle_check_s: float = 1.0,
        restart_s: float = 1.0,
    ) -> None:
        self.writer = writer
        self.group_commit_s = group_commit_s
        self.max_pending_bytes = max_pending_bytes
        self.idle_check_s = idle_check_s
        self.restart_s = restart_s
        self._pending: list[tuple[float, bytes]] = []
        self._batch_future: asyncio.Future[None] | None = None
        self._inflight: asyncio.Future[None] | None = None
        self._pending_bytes = 0
        self._wake = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._task: asyncio.Task[None] | None = None
        self._down: BaseException | None = None
        self._closing = False
        self.commits = 0
        self.records = 0
        self.failed_commits = 0
        self.restarts = 0

    def start(self) -> None:
        if self._task is None:
            self._down = None
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"segment-log-{self.writer.kind}"
            )
            self._task.add_done_callback(self._on_task_done)

    @property
    def congested(self) -> bool:
        return self._pending_bytes > self.max_pending_bytes

    async def wait_space(self) -> None:
        """Wait while more than ``max_pending_bytes`` are waiting to be written (backpressure)."""
        while self._pending_bytes > self.max_pending_bytes and not self._closing and self._down is None:
            self._space.clear()
            await self._space.wait()

    def submit(self, received_at: float, status: str, peer: str, raw: bytes) -> asyncio.Future[None]:
        """Queue a record; the returned future resolves once it is fsynced (or fails).  Records
        committed together share the future."""
        if self._task is None or self._down is not None:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            fut.set_exception(SegmentLogDown(f"segment log {self.writer.kind} is down: {self._down}"))
            return fut
        fut_ = self._batch_future
        if fut_ is None:
            fut_ = self._batch_future = asyncio.get_running_loop().create_future()
            self._wake.set()
        self._pending.append((received_at, encode_record(received_at, status, peer, raw)))
        self._pending_bytes += record_size(status, peer, raw)
        return fut_

    async def append(self, received_at: float, status: str, peer: str, raw: bytes) -> None:
        """Queue a record and wait until it is durable."""
        await self.wait_space()
        await self.submit(received_at, status, peer, raw)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        chores_at = loop.time() + self.idle_check_s
        while True:
            if not self._pending:
                if self._closing:
                    break
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(0.0, chores_at - loop.time()))
                if not self._pending:
                    await self._housekeeping()
                    chores_at = loop.time() + self.idle_check_s
                    continue
                if self.group_commit_s > 0 and not self._closing:
                    await asyncio.sleep(self.group_commit_s)
            batch, fut = self._pending, self._batch_future
            self._pending, self._batch_future = [], None
            self._inflight = fut
            self._pending_bytes = 0
            self._space.set()
            try:
                await loop.run_in_executor(None, self.writer.write_encoded, batch)
            except Exception as exc:  # disk full, I/O error: fail the appenders, no ack
                self.failed_commits += 1
                _fail(fut, exc)
            else:
                self.commits += 1
                self.records += len(batch)
                if fut is not None and not fut.done():
                    fut.set_result(None)
            self._inflight = None
            if loop.time() >= chores_at:
                await self._housekeeping()
                chores_at = loop.time() + self.idle_check_s
        await loop.run_in_executor(None, self.writer.close)

    async def _housekeeping(self) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.writer.housekeeping)
        except Exception as exc:  # housekeeping handles I/O errors itself; anything else: log, go on
            log.exception("segment log %s: housekeeping failed: %s", self.writer.kind, exc)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        if self._task is not task:
            return
        exc: BaseException | None = (
            asyncio.CancelledError("segment log task cancelled") if task.cancelled() else task.exception()
        )
        if exc is None and self._closing:
            return
        self._down = exc or RuntimeError("segment log task ended")
        log.error(
            "segment log %s: task died (%r); failing waiting appends, restarting", self.writer.kind, exc
        )
        down = SegmentLogDown(f"segment log {self.writer.kind} failed: {exc!r}")
        _fail(self._inflight, down)
        _fail(self._batch_future, down)
        self._pending, self._batch_future, self._inflight = [], None, None
        self._pending_bytes = 0
        self._space.set()
        self._task = None
        if not self._closing:
            self.restarts += 1
            asyncio.get_running_loop().call_later(self.restart_s, self._restart)

    def _restart(self) -> None:
        if not self._closing and self._task is None:
            self.start()

    async def close(self) -> None:
        """Commit everything pending, fsync and close the open segment, publish what can be
        published (the rest stays ``.open`` for the next start's recovery), release the lock."""
        self._closing = True
        self._wake.set()
        self._space.set()
        loop = asyncio.get_running_loop()
        task = self._task
        if task is not None:
            await asyncio.wait([task])  # its outcome is handled by _on_task_done
            self._task = None
        if task is None or task.cancelled() or task.exception() is not None:
            await loop.run_in_executor(None, self.writer.close)
        await loop.run_in_executor(None, self.writer.settle)
        for seg in self.writer.unpublished:
            log.error("segment %s could not be published; the next start recovers it", seg.path)
        self.writer.release()


def _fail(fut: asyncio.Future[None] | None, exc: BaseException) -> None:
    if fut is not None and not fut.done():
        fut.set_exception(exc)
        fut.exception()  # retrieved here; every appender awaiting it still gets it


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
                    parse_received_at(str(m["opened_at"])),
                    parse_received_at(str(m["closed_at"])),
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
