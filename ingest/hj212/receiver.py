"""HJ 212 TCP receiver: land every line durably, then acknowledge.

Per connection, lines (``\\n``-terminated, at most ``max_line_bytes``) are parsed with
:func:`ingest.hj212.protocol.parse_line` and appended to a segment log (see
:mod:`ingest.hj212.segments` for the file layout and the record format
``<received_at>\\t<status>\\t<peer>\\t<n>\\t<raw>\\n``):

* accepted packets → ``landing_dir`` (status ``ok``; in ``open`` registry mode an unknown MN or a
  wrong PW is accepted and flagged ``unregistered`` / ``bad_pw``);
* rejects → ``quarantine_dir`` with the reason as status (parse reasons, ``unknown_mn`` and
  ``bad_pw`` in ``registered`` mode, ``line_too_long`` — landed truncated to ``max_line_bytes``
  — and ``missing_tail`` for bytes left when a peer disconnects mid-line).

Acknowledgement only after durability: a line's 9014 (packet whose Flag asks for an ack; replies
— CN 9xxx — are never acked) or 9011 (reject with a recoverable QN; ``QnRtn`` from
:func:`~ingest.hj212.protocol.qn_rtn_for`: CRC → 9, PW → 3, MN → 4, Flag → 6 …, other format
errors → 2) is written to the socket only after the group commit that contains the line has
fsynced.  Reading is pipelined: a connection keeps reading while earlier lines wait for their
fsync; replies go out in line order.  If landing fails (disk error) no reply is sent and the
connection is dropped, so the logger retransmits.

Limits: ``max_line_bytes`` (StreamReader limit; an over-long line is rejected and the stream
resyncs at the next newline), ``idle_timeout_s``, ``max_connections`` (further connections are
closed at once), ``max_inflight_per_connection`` lines awaiting fsync per connection and
``max_pending_bytes`` per segment log (backpressure: the receiver stops reading, TCP flow control
does the rest), and ``drain()`` on replies when the peer does not read.

SIGTERM/SIGINT: stop accepting, stop reading, send the replies of what was read once it is
fsynced, close (fsync + rename + manifest) the open segments.  On start, ``.open`` segments left by
a crash of the same ``receiver_id`` are recovered (torn tail dropped) and closed.

Counters (lines, bytes, packets, rejects by reason, acks, ack latency p50/p99 from receipt to
reply written) are logged every ``stats_interval_s`` and at shutdown.

Entry points: ``async run_receiver(config)``, ``serve(config)`` (sync; what ``ecocloud receive``
calls) and ``python -m ingest.hj212.receiver --landing-dir DIR [--port 0] …`` which prints
``LISTENING <host> <port>`` once bound.

Hot path (bench/run_hj212_receiver.py): per line one ``readuntil`` (the idle timeout is one
re-armed timer per connection, not a timeout per read), one parse, the landing record encoded on
the loop thread; the lines of one group commit share one future, and the replies of lines landed
by the same commit go out in one write.  The process entry points raise the GC thresholds
(:func:`tune_gc`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import re
import signal
import socket
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingest.hj212.devices import DeviceRegistry, RegistryMode
from ingest.hj212.protocol import (
    LINE_TOO_LONG,
    MISSING_TAIL,
    Packet,
    Reject,
    build_ack_9011,
    build_ack_9014,
    parse_line,
    salvage_header,
)
from ingest.hj212.segments import AsyncSegmentLog, SegmentWriter, list_closed_segments

__all__ = [
    "Receiver",
    "ReceiverConfig",
    "ReceiverStats",
    "list_closed_segments",
    "main",
    "run_receiver",
    "serve",
]

log = logging.getLogger("ecocloud.hj212.receiver")


def default_receiver_id() -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "receiver"


@dataclass
class ReceiverConfig:
    landing_dir: Path
    quarantine_dir: Path | None = None  # default: <landing_dir>_quarantine beside it
    host: str = "0.0.0.0"
    port: int = 9212
    receiver_id: str = field(default_factory=default_receiver_id)
    rotate_seconds: float = 300.0
    rotate_bytes: int = 64 << 20
    group_commit_ms: float = 5.0  # ≤ 20 ms: extra wait to group fsyncs
    max_line_bytes: int = 4096
    idle_timeout_s: float = 900.0
    max_connections: int = 10_000
    max_inflight_per_connection: int = 512
    max_pending_bytes: int = 16 << 20
    registry: DeviceRegistry | None = None
    registry_mode: RegistryMode | None = None  # None: the registry's own mode
    reply_to_rejects: bool = True
    stats_interval_s: float = 60.0

    def __post_init__(self) -> None:
        self.landing_dir = Path(self.landing_dir)
        if self.quarantine_dir is None:
            self.quarantine_dir = self.landing_dir.with_name(self.landing_dir.name + "_quarantine")
        self.quarantine_dir = Path(self.quarantine_dir)


@dataclass
class ReceiverStats:
    lines: int = 0
    bytes: int = 0
    packets: int = 0
    acks_9014: int = 0
    replies_9011: int = 0
    flagged: Counter[str] = field(default_factory=Counter)
    rejects: Counter[str] = field(default_factory=Counter)
    connections: int = 0
    connections_total: int = 0
    connections_refused: int = 0
    landing_errors: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=20_000))

    def latency_ms(self, q: float) -> float | None:
        if not self.latencies:
            return None
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(q * len(data)))] * 1000.0

    def summary(self) -> str:
        p50, p99 = self.latency_ms(0.50), self.latency_ms(0.99)
        lat = f"{p50:.1f}/{p99:.1f} ms" if p50 is not None and p99 is not None else "n/a"
        return (
            f"lines={self.lines} bytes={self.bytes} packets={self.packets} acks={self.acks_9014} "
            f"nacks={self.replies_9011} rejects={dict(self.rejects)} flagged={dict(self.flagged)} "
            f"conns={self.connections}/{self.connections_total} refused={self.connections_refused} "
            f"landing_errors={self.landing_errors} ack_latency_p50/p99={lat}"
        )


_Item = tuple[asyncio.Future[None], bytes | None, bool, float]  # (landed, reply, reply is 9014, t0)


class _IdleWatch:
    """Cancels a connection's task once it has waited ``timeout`` seconds for a line.

    One timer per connection, re-armed when it fires — cheaper than a timeout around every
    read (the hot path only stores the time the wait began).  Time spent blocked on backpressure
    (not waiting for the peer) does not count as idle.
    """

    __slots__ = ("handle", "idle", "loop", "reading", "since", "task", "timeout")

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[None], timeout: float) -> None:
        self.loop = loop
        self.task = task
        self.timeout = timeout
        self.since = loop.time()
        self.reading = False
        self.idle = False
        self.handle = loop.call_at(self.since + timeout, self._check)

    def _check(self) -> None:
        now = self.loop.time()
        if self.reading and now - self.since >= self.timeout:
            self.idle = True
            self.task.cancel()
            return
        self.handle = self.loop.call_at((self.since if self.reading else now) + self.timeout, self._check)

    def cancel(self) -> None:
        self.handle.cancel()


class Receiver:
    def __init__(self, config: ReceiverConfig) -> None:
        self.config = config
        self.stats = ReceiverStats()
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self._data: AsyncSegmentLog | None = None
        self._quarantine: AsyncSegmentLog | None = None
        self._stopping = False

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def data_writer(self) -> SegmentWriter:
        assert self._data is not None
        return self._data.writer

    @property
    def quarantine_writer(self) -> SegmentWriter:
        assert self._quarantine is not None
        return self._quarantine.writer

    async def start(self) -> None:
        c = self.config
        assert c.quarantine_dir is not None
        logs = []
        for root, kind in ((c.landing_dir, "data"), (c.quarantine_dir, "quarantine")):
            w = SegmentWriter(
                root, c.receiver_id, kind=kind, rotate_seconds=c.rotate_seconds, rotate_bytes=c.rotate_bytes
            )
            recovered = await asyncio.get_running_loop().run_in_executor(None, w.recover)
            for p in recovered:
                log.warning("recovered unclosed segment %s", p)
            sl = AsyncSegmentLog(
                w, group_commit_s=c.group_commit_ms / 1000.0, max_pending_bytes=c.max_pending_bytes
            )
            sl.start()
            logs.append(sl)
        self._data, self._quarantine = logs
        self._server = await asyncio.start_server(
            self._on_connect, c.host, c.port, limit=c.max_line_bytes, reuse_address=True
        )
        log.info("hj212 receiver %s listening on %s:%d", c.receiver_id, c.host, self.port)

    async def stop(self) -> None:
        """Graceful: stop accepting and reading, reply to what was landed, close segments."""
        if self._stopping:
            return
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for t in list(self._conns):
            t.cancel()
        if self._conns:
            await asyncio.wait(list(self._conns), timeout=10)
        for sl in (self._data, self._quarantine):
            if sl is not None:
                await sl.close()
        log.info("hj212 receiver stopped: %s", self.stats.summary())

    async def __aenter__(self) -> Receiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- connections
    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        st = self.stats
        if self._stopping or st.connections >= self.config.max_connections:
            st.connections_refused += 1
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        st.connections += 1
        st.connections_total += 1
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
        queue: asyncio.Queue[_Item | None] = asyncio.Queue(self.config.max_inflight_per_connection)
        loop = asyncio.get_running_loop()
        replier = loop.create_task(self._reply_loop(queue, writer))
        watch = _IdleWatch(loop, task, self.config.idle_timeout_s)
        try:
            await self._read_loop(reader, queue, peer, replier, watch)
        except asyncio.CancelledError:
            # shutdown or idle: stop reading, still reply to what was landed
            if watch.idle:
                log.info("connection %s idle for %.0fs: closing", peer, self.config.idle_timeout_s)
        except (ConnectionError, OSError) as exc:
            log.debug("connection %s: %s", peer, exc)
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                if not replier.done():
                    await queue.put(None)
                    await asyncio.wait_for(replier, timeout=10)
            if not replier.done():
                replier.cancel()
            with contextlib.suppress(Exception):
                writer.close()
            st.connections -= 1
            self._conns.discard(task)

    async def _read_loop(
        self,
        reader: asyncio.StreamReader,
        queue: asyncio.Queue[_Item | None],
        peer: str,
        replier: asyncio.Task[None],
        watch: _IdleWatch,
    ) -> None:
        c = self.config
        clock = watch.loop.time
        while not replier.done():
            try:
                watch.since = clock()
                watch.reading = True  # idle time counts only while waiting for the peer
                line = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError as e:
                watch.reading = False
                # Over-long line: land its first max_line_bytes as a reject, then resync by
                # discarding up to and including the next newline.
                head = (await reader.readexactly(e.consumed))[: c.max_line_bytes]
                await self._land(head, peer, queue, forced=LINE_TOO_LONG)
                if not await self._discard_line(reader):
                    return
                continue
            except asyncio.IncompleteReadError as e:
                watch.reading = False
                if e.partial:
                    await self._land(e.partial, peer, queue, forced=MISSING_TAIL)
                return
            watch.reading = False
            await self._land(line, peer, queue)

    async def _discard_line(self, reader: asyncio.StreamReader) -> bool:
        """Skip to after the next newline; False if the peer went away or idled meanwhile."""
        while True:
            try:
                await asyncio.wait_for(reader.readuntil(b"\n"), self.config.idle_timeout_s)
                return True
            except asyncio.LimitOverrunError as e:
                await reader.readexactly(e.consumed)
            except (asyncio.IncompleteReadError, TimeoutError):
                return False

    async def _land(
        self, line: bytes, peer: str, queue: asyncio.Queue[_Item | None], forced: str | None = None
    ) -> None:
        t0 = time.monotonic()
        received_at = time.time()
        st = self.stats
        st.lines += 1
        st.bytes += len(line)
        result: Packet | Reject
        if forced is not None:
            h = salvage_header(line[6:]) if line.startswith(b"##") else {}
            result = Reject(
                forced, forced, line, h.get("QN"), h.get("ST"), h.get("CN"), h.get("PW"), h.get("MN")
            )
        else:
            result = parse_line(line)
        status = "ok"
        registry = self.config.registry
        if registry is not None and isinstance(result, Packet):
            problem = registry.check(result.mn, result.pw)
            if problem is not None:
                if (self.config.registry_mode or registry.mode) == "registered":
                    result = Reject(
                        problem,
                        f"MN={result.mn} {problem}",
                        line,
                        result.qn,
                        result.st,
                        result.cn,
                        result.pw,
                        result.mn,
                        result.flag,
                    )
                else:
                    status = "unregistered" if problem == "unknown_mn" else problem
                    st.flagged[status] += 1
        reply: bytes | None = None
        if isinstance(result, Packet):
            sl = self._data
            st.packets += 1
            if result.ack_wanted and not result.cn.startswith("9"):
                reply = build_ack_9014(result)
        else:
            sl = self._quarantine
            status = result.reason
            st.rejects[status] += 1
            if self.config.reply_to_rejects and result.qn and result.reason != "empty":
                reply = build_ack_9011(result.qn, result.qn_rtn, mn=result.mn or "", pw=result.pw or "")
        assert sl is not None
        if sl.congested:
            await sl.wait_space()
        fut = sl.submit(received_at, status, peer, line)
        item = (fut, reply, isinstance(result, Packet), t0)
        if queue.full():
            await queue.put(item)
        else:
            queue.put_nowait(item)

    async def _reply_loop(self, queue: asyncio.Queue[_Item | None], writer: asyncio.StreamWriter) -> None:
        """Reply in line order once each line is landed.  Replies whose lines are already landed
        are written together (one write per group commit, not one per line)."""
        st = self.stats
        out: list[bytes] = []
        kinds: list[tuple[bool, float]] = []

        async def flush() -> bool:
            if not out:
                return True
            data = b"".join(out)
            out.clear()
            try:
                if writer.is_closing():
                    kinds.clear()
                    return True
                writer.write(data)
                if writer.transport.get_write_buffer_size() > 65536:
                    await writer.drain()
            except (ConnectionError, OSError):
                kinds.clear()
                writer.transport.abort()
                return False
            now = time.monotonic()
            for is_ack, t0 in kinds:
                st.latencies.append(now - t0)
                if is_ack:
                    st.acks_9014 += 1
                else:
                    st.replies_9011 += 1
            kinds.clear()
            return True

        item = await queue.get()
        while True:
            if item is None:
                await flush()
                return
            fut, reply, is_ack, t0 = item
            if not fut.done() and not await flush():
                return
            try:
                await fut
            except Exception as exc:
                await flush()
                st.landing_errors += 1
                log.error("landing failed, dropping connection without reply: %s", exc)
                writer.transport.abort()
                return
            if reply is not None:
                out.append(reply)
                kinds.append((is_ack, t0))
            if queue.empty():
                if not await flush():
                    return
                item = await queue.get()
            else:
                item = queue.get_nowait()


async def run_receiver(
    config: ReceiverConfig,
    *,
    stop_event: asyncio.Event | None = None,
    on_ready: Callable[[Receiver], None] | None = None,
    handle_signals: bool = True,
) -> ReceiverStats:
    """Run until SIGTERM/SIGINT (if ``handle_signals``) or ``stop_event``; returns the counters."""
    stop = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    receiver = Receiver(config)
    await receiver.start()
    installed: list[signal.Signals] = []
    if handle_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
    if on_ready is not None:
        on_ready(receiver)

    async def report() -> None:
        while True:
            await asyncio.sleep(config.stats_interval_s)
            log.info("hj212 receiver %s: %s", config.receiver_id, receiver.stats.summary())

    reporter = loop.create_task(report())
    try:
        await stop.wait()
    finally:
        reporter.cancel()
        await receiver.stop()
        for sig in installed:
            loop.remove_signal_handler(sig)
    return receiver.stats


def tune_gc() -> None:
    """Process-wide GC setting for a receiver process: parsing allocates many short-lived,
    acyclic objects, and with the default thresholds the cyclic collector costs ~20 % of the
    per-packet CPU.  Young collections run every 50,000 allocations instead of 700 (memory stays
    bounded: the collector still runs), and the objects alive after start-up are frozen out of
    the older generations' scans."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def serve(config: ReceiverConfig) -> ReceiverStats:
    """Blocking entry point (``ecocloud receive``): run the receiver until SIGTERM/SIGINT."""
    tune_gc()
    return asyncio.run(run_receiver(config))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ingest.hj212.receiver", description="HJ 212 TCP receiver")
    p.add_argument("--landing-dir", required=True, type=Path, help="e.g. <lake>/raw/hj212")
    p.add_argument("--quarantine-dir", type=Path, default=None)
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=9212, help="0 = ephemeral (printed)")
    p.add_argument("--receiver-id", default=default_receiver_id())
    p.add_argument("--rotate-seconds", type=float, default=300.0)
    p.add_argument("--rotate-bytes", type=int, default=64 << 20)
    p.add_argument("--group-commit-ms", type=float, default=5.0)
    p.add_argument("--max-line-bytes", type=int, default=4096)
    p.add_argument("--idle-timeout", type=float, default=900.0)
    p.add_argument("--max-connections", type=int, default=10_000)
    p.add_argument("--devices", type=Path, default=None, help="device registry CSV/JSON")
    p.add_argument("--mode", choices=["open", "registered"], default="open")
    p.add_argument("--stats-interval", type=float, default=60.0)
    return p


def config_from_args(argv: Sequence[str] | None = None) -> ReceiverConfig:
    a = _parser().parse_args(argv)
    registry = DeviceRegistry.load(a.devices, a.mode) if a.devices else None
    if a.mode == "registered" and registry is None:
        raise SystemExit("--mode registered needs --devices")
    return ReceiverConfig(
        landing_dir=a.landing_dir,
        quarantine_dir=a.quarantine_dir,
        host=a.host,
        port=a.port,
        receiver_id=a.receiver_id,
        rotate_seconds=a.rotate_seconds,
        rotate_bytes=a.rotate_bytes,
        group_commit_ms=a.group_commit_ms,
        max_line_bytes=a.max_line_bytes,
        idle_timeout_s=a.idle_timeout,
        max_connections=a.max_connections,
        registry=registry,
        registry_mode=a.mode,
        stats_interval_s=a.stats_interval,
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("ECOCLOUD_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    config = config_from_args(argv)

    def ready(r: Receiver) -> None:
        print(f"LISTENING {config.host} {r.port}", flush=True)

    tune_gc()
    asyncio.run(run_receiver(config, on_ready=ready))
    return 0


if __name__ == "__main__":
    sys.exit(main())
