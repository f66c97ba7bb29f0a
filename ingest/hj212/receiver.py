"""HJ 212 TCP receiver: land every line durably, then acknowledge.

Per connection, lines (``\\n``-terminated, at most ``max_line_bytes``) are parsed with
:func:`ingest.hj212.protocol.parse_line` and appended to a segment log (see
:mod:`ingest.hj212.segments` for the file layout and the record format
``<received_at>\\t<status>\\t<peer>\\t<n>\\t<raw>\\n``):

* accepted packets → ``landing_dir`` (status ``ok``; in ``open`` registry mode an unknown MN or a
  wrong PW is accepted and flagged ``unregistered`` / ``bad_pw``);
* rejects → ``quarantine_dir`` with the reason as status (parse reasons, ``unknown_mn`` and
  ``bad_pw`` in ``registered`` mode, ``auth_throttled`` while a peer or MN is blocked after
  repeated failures, ``line_too_long`` — landed truncated to ``max_line_bytes`` — and
  ``missing_tail`` for bytes left when a peer disconnects mid-line).

Acknowledgement only after durability: a line's 9014 (packet whose Flag asks for an ack; replies
— CN 9xxx — are never acked) or 9011 (reject with a recoverable QN whose Flag, if it has one,
asks for a reply; the reply's Flag carries the line's protocol version; ``QnRtn`` from
:func:`~ingest.hj212.protocol.qn_rtn_for`: CRC → 9, PW → 3, MN → 4, Flag → 6 …, other format
errors → 2; ``auth_throttled`` → 3, or 4 for an unknown MN) is written to the socket only after the
group commit that contains the line has fsynced.  A line is landed before its reply is built; a
reply that cannot be built — its echoed QN/PW/MN would exceed the standard's 1,024-byte data
segment — is not sent (counted in ``replies_unbuildable``; the logger's resend lands again, and
it gives up after its ReCount).  Reading is
pipelined: a connection keeps reading while earlier lines wait for their fsync; replies go out in
line order.  If landing fails (disk error, segment log down) no reply is sent and the connection
is dropped, so the logger retransmits.

Who may send (see :class:`ReceiverConfig`): the default bind address is 127.0.0.1.  With a device
registry the default mode is ``registered``; binding a non-loopback address without a registry
needs ``registry_mode="open"`` (every packet is then flagged ``unregistered``).  In registered mode
:class:`~ingest.hj212.devices.AuthThrottle` blocks a peer address or an MN after
``auth_max_failures`` failures within ``auth_window_s`` for ``auth_block_s``; connections that
already authenticated that MN are exempt, and an MN's block spares the peer addresses that
authenticated it recently (the last ``auth_remember_peers`` per MN, for ``auth_remember_s``), so a
stranger's guesses cannot lock the genuine logger's reconnections out.  Quarantine landing is capped per peer address
(``quarantine_peer_bytes`` per ``quarantine_window_s``; lines over the cap are counted, answered,
not landed).  The data zone is capped per MN (``data_mn_bytes`` per ``data_window_s``, thousands of
times what a logger sends, back-fills included): a logger resending in a loop — or anyone sending
under its MN in open mode — cannot fill the disk; its packets over the cap are quarantined as
``mn_budget_exceeded`` (answered 9011, rejected), where the peer's quarantine cap bounds them too.

Behind a TCP gateway (``proxy_protocol``; every connection would otherwise come from the gateway's
address): a connection must come from one of ``trusted_proxies`` — any other is closed at once
(``proxy_untrusted``: a header is never believed from anyone else) — and start with a PROXY protocol
header, v1 or v2 (:mod:`ingest.hj212.proxy_protocol`), whole within ``proxy_header_timeout_s``; a
missing, garbled or late header closes the connection (``proxy_header_errors``, by reason).  The
address the header carries is the connection's peer for everything: the per-peer connection and
quarantine caps, the auth throttle, the landing records.  A header that carries none (v2 LOCAL, v1
UNKNOWN: the gateway's health checks) leaves the socket's own.

Limits: ``max_line_bytes`` (StreamReader limit; an over-long line is rejected and the stream
resyncs at the next newline), ``idle_timeout_s``, ``max_connections`` (capped by the file-descriptor
limit, which is first raised to its hard limit) and ``max_connections_per_peer`` (further
connections are closed at once), ``max_inflight_per_connection`` lines awaiting fsync per
connection and ``max_pending_bytes`` per segment log (backpressure: the receiver stops reading, TCP
flow control does the rest), and ``reply_stall_timeout_s``: a peer whose reply buffer stays full
that long (it does not read) is disconnected.

SIGTERM/SIGINT: stop accepting, stop reading, send the replies of what was read once it is
fsynced, close (fsync + rename + manifest) the open segments.  The receiver id is locked on the
landing zone (a second receiver with the same id refuses to start); on start, and then every
``sweep_seconds``, ``.open`` segments left by a dead receiver — this id's, or any id whose lock is
free — are recovered (torn tail dropped) and closed.

Counters (lines, bytes, packets, rejects by reason, acks, refusals, I/O errors, ack latency p50/p99
from receipt to reply written) are logged every ``stats_interval_s`` and at shutdown.

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
import ipaddress
import itertools
import logging
import os
import re
import resource
import signal
import socket
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingest.addresses import client_key
from ingest.hj212.devices import AuthThrottle, DeviceRegistry, RegistryMode
from ingest.hj212.protocol import (
    AUTH_THROTTLED,
    LINE_TOO_LONG,
    MISSING_TAIL,
    MN_OVER_BUDGET,  # the MN's data-zone cap for the window is spent
    UNKNOWN_MN,
    Packet,
    Reject,
    build_ack_9011,
    build_ack_9014,
    parse_line,
    reply_flag,
    salvaged_reject,
)
from ingest.hj212.proxy_protocol import (
    ProxyHeaderError,
    TrustedNetworks,
    is_trusted,
    parse_networks,
    read_proxy_header,
)
from ingest.hj212.segments import (
    AsyncSegmentLog,
    ReceiverIdInUse,
    SegmentIO,
    SegmentWriter,
    ThrottledLog,
    list_closed_segments,
    record_size,
)
from schemas.hj212_codes import QnRtn

__all__ = [
    "AUTH_THROTTLED",
    "MN_OVER_BUDGET",
    "Receiver",
    "ReceiverConfig",
    "ReceiverStats",
    "list_closed_segments",
    "main",
    "registry_for",
    "run_receiver",
    "serve",
]

log = logging.getLogger("ecocloud.hj212.receiver")

FD_RESERVE = 64  # descriptors kept free for segments, manifests, locks, the listener and the loop


def default_receiver_id() -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "receiver"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def registry_for(
    devices: str | Path | None, mode: str | None
) -> tuple[DeviceRegistry | None, RegistryMode | None]:
    """The registry and mode for ``--devices`` / ``--mode``: with a registry the default mode is
    ``registered``; ``open`` must be asked for; ``registered`` without a registry is an error."""
    if mode not in (None, "open", "registered"):
        raise ValueError(f"mode {mode!r}: use open or registered")
    if devices is None:
        if mode == "registered":
            raise ValueError("registered mode needs a device registry (--devices)")
        return None, "open" if mode == "open" else None
    chosen: RegistryMode = "open" if mode == "open" else "registered"
    return DeviceRegistry.load(devices, chosen), chosen


@dataclass
class ReceiverConfig:
    landing_dir: Path
    quarantine_dir: Path | None = None  # default: <landing_dir>_quarantine beside it
    host: str = "127.0.0.1"
    port: int = 9212
    receiver_id: str = field(default_factory=default_receiver_id)
    rotate_seconds: float = 300.0
    rotate_bytes: int = 64 << 20
    group_commit_ms: float = 5.0  # ≤ 20 ms: extra wait to group fsyncs
    max_line_bytes: int = 4096
    idle_timeout_s: float = 900.0
    max_connections: int = 10_000  # capped by RLIMIT_NOFILE minus FD_RESERVE
    max_connections_per_peer: int = 256  # per peer address; 0 = no cap
    max_inflight_per_connection: int = 512
    max_pending_bytes: int = 16 << 20
    reply_stall_timeout_s: float = 30.0  # reply buffer full that long: the peer is not reading
    raise_fd_limit: bool = True  # raise the soft RLIMIT_NOFILE to the hard limit at start
    registry: DeviceRegistry | None = None
    # None: the registry's own mode; without a registry, no authentication (loopback only).
    # "open" without a registry: every packet is accepted and flagged "unregistered".
    registry_mode: RegistryMode | None = None
    auth_max_failures: int = 5  # registered mode: failures per peer address or MN …
    auth_window_s: float = 60.0  # … within this window …
    auth_block_s: float = 300.0  # … block it for this long; 0 failures = no throttling
    auth_remember_peers: int = 4  # an MN's block spares the last addresses that authenticated it …
    auth_remember_s: float = 7 * 86400.0  # … seen within this long (last success or end of connection)
    quarantine_peer_bytes: int = 8 << 20  # quarantine bytes landed per peer address per window; 0 = no cap
    quarantine_window_s: float = 3600.0
    # data bytes landed per MN per window; 0 = no cap. A logger sends ~0.1 MB an hour (real-time,
    # minute and hourly data) and a week's back-fill ~15 MB: 64 MB stops only a loop
    data_mn_bytes: int = 64 << 20
    data_window_s: float = 3600.0
    reply_to_rejects: bool = True
    stats_interval_s: float = 60.0
    sweep_seconds: float = 300.0  # how often to look for dead receivers' open segments
    segment_io: SegmentIO | None = None  # file-system calls of the segment writers (tests fault them)
    # how long a starting receiver waits for its id's lock: another receiver's sweep holds it while it
    # closes the segments this id left open (a live receiver with the same id holds it for good)
    lock_wait_s: float = 10.0
    # Behind a TCP gateway sending the PROXY protocol: every connection must come from one of
    # trusted_proxies and start with a header, whose address is then the connection's peer.
    proxy_protocol: bool = False
    trusted_proxies: TrustedNetworks = ()  # parse_networks("10.0.0.0/8,::1")
    proxy_header_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        self.landing_dir = Path(self.landing_dir)
        if self.quarantine_dir is None:
            self.quarantine_dir = self.landing_dir.with_name(self.landing_dir.name + "_quarantine")
        self.quarantine_dir = Path(self.quarantine_dir)
        if self.registry_mode == "registered" and self.registry is None:
            raise ValueError("registered mode needs a device registry")
        if self.proxy_protocol and not self.trusted_proxies:
            raise ValueError(
                "the PROXY protocol needs the gateways' addresses (trusted proxies): "
                "a header from any other address is never believed"
            )
        if self.registry is None and self.registry_mode is None and not is_loopback(self.host):
            raise ValueError(
                f"binding {self.host} without a device registry would accept any sender as genuine: "
                "give a registry (registered mode) or choose open mode explicitly (packets flagged)"
            )


@dataclass
class ReceiverStats:
    lines: int = 0
    bytes: int = 0
    packets: int = 0
    acks_9014: int = 0
    replies_9011: int = 0
    replies_unbuildable: int = 0  # not sent: the reply would exceed 1,024 bytes
    flagged: Counter[str] = field(default_factory=Counter)
    rejects: Counter[str] = field(default_factory=Counter)
    connections: int = 0
    connections_total: int = 0
    connections_refused: int = 0  # over max_connections (or shutting down)
    connections_refused_peer: int = 0  # over max_connections_per_peer
    proxy_untrusted: int = 0  # PROXY protocol on, connection not from a trusted proxy: closed
    proxy_header_errors: Counter[str] = field(default_factory=Counter)  # missing/garbled/late: closed
    stalled_disconnects: int = 0  # peers not reading their replies
    auth_blocks: int = 0  # peer addresses / MNs blocked after repeated failures
    quarantine_capped: int = 0  # lines not landed: their peer's quarantine budget was spent
    landing_errors: int = 0
    io_errors: int = 0  # segment writer errors (write, sync, close, publish), from both logs
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
            f"refused_peer={self.connections_refused_peer} stalled={self.stalled_disconnects} "
            f"proxy_untrusted={self.proxy_untrusted} proxy_header_errors={dict(self.proxy_header_errors)} "
            f"auth_blocks={self.auth_blocks} quarantine_capped={self.quarantine_capped} "
            f"replies_unbuildable={self.replies_unbuildable} "
            f"landing_errors={self.landing_errors} io_errors={self.io_errors} ack_latency_p50/p99={lat}"
        )


_Item = tuple[asyncio.Future[None], bytes | None, bool, float]  # (landed, reply, reply is 9014, t0)


class _Conn:
    """One connection's identity and state."""

    __slots__ = ("closing", "ip", "peer", "queue", "trusted")

    def __init__(self, ip: str, peer: str, queue: asyncio.Queue[_Item | None]) -> None:
        self.ip = ip
        self.peer = peer
        self.queue = queue
        self.trusted: set[str] = set()  # MNs this connection authenticated (registered mode)
        self.closing = False


class _Budget:
    """Bytes each key (a peer address, an MN) may land per window; bounded memory: keys are cut to
    ``_KEY_CHARS`` (an MN of thousands of characters would cost as much to remember), and past
    ``max_peers`` keys the expired ones go, then the oldest down to nine tenths — at once, so a flood
    of new keys costs one sweep per tenth of the table, not one per line. ``what`` names the cap in the
    warning logged once per key and window."""

    def __init__(self, limit: int, window_s: float, what: str, max_peers: int = 100_000) -> None:
        self.what = what
        self.limit = limit
        self.window_s = window_s
        self.max_peers = max_peers
        self._used: dict[str, tuple[float, int]] = {}
        self._warned: set[str] = set()

    def take(self, key: str, n: int, now: float) -> bool:
        if self.limit <= 0:
            return True
        ip = key[:_KEY_CHARS]
        start, used = self._used.get(ip, (now, 0))
        if now - start >= self.window_s:
            start, used = now, 0
            self._warned.discard(ip)
        if used + n > self.limit:
            if ip not in self._warned:
                self._warned.add(ip)
                log.warning(
                    "%s %s: cap of %d bytes per %.0fs reached", self.what, ip, self.limit, self.window_s
                )
            self._used[ip] = (start, used)
            return False
        self._used[ip] = (start, used + n)
        if len(self._used) > self.max_peers:
            for k in [k for k, (s, _) in self._used.items() if now - s >= self.window_s]:
                del self._used[k]
            for k in list(itertools.islice(self._used, max(0, len(self._used) - self.max_peers * 9 // 10))):
                del self._used[k]  # the oldest entries first (insertion order)
            self._warned &= self._used.keys()
        return True


_KEY_CHARS = 64  # an MN is 24 characters, an IPv6 address at most 45


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


# connections accepted per wake-up: an accepted socket over max_connections is refused only some
# three loop iterations later (asyncio makes its transport, then runs the callback), while the next
# wake-ups accept more; a busy CPU lets a burst of connects keep every wake-up full, so in flight are
# about three batches — within the reserve (FD_RESERVE // 2 ran out of descriptors under load: EMFILE)
ACCEPT_BATCH = FD_RESERVE // 8
# the kernel's queue of connections not yet accepted (capped by net.core.somaxconn): thousands of
# loggers reconnect at once after a restart, and a connect beyond a full queue waits 1–3 s to retry
LISTEN_BACKLOG = 4096


def connection_cap(max_connections: int, *, raise_limit: bool) -> int:
    """``max_connections`` within the file-descriptor limit (first raised to the hard limit if
    ``raise_limit``), keeping :data:`FD_RESERVE` descriptors free."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max_connections + FD_RESERVE
    if raise_limit and soft != resource.RLIM_INFINITY and soft < want:
        target = want if hard == resource.RLIM_INFINITY else min(want, hard)
        if target > soft:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                soft = target
    if soft == resource.RLIM_INFINITY:
        return max_connections
    cap = max(1, soft - FD_RESERVE)
    if cap < max_connections:
        log.warning(
            "max_connections %d capped to %d by the file-descriptor limit %d (raise `ulimit -n`)",
            max_connections,
            cap,
            soft,
        )
    return min(max_connections, cap)


class Receiver:
    def __init__(self, config: ReceiverConfig) -> None:
        self.config = config
        self.stats = ReceiverStats()
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self._per_peer: Counter[str] = Counter()
        self._data: AsyncSegmentLog | None = None
        self._quarantine: AsyncSegmentLog | None = None
        self._stopping = False
        self._max_connections = config.max_connections
        registry, mode = config.registry, config.registry_mode
        if registry is None and mode == "open":
            registry = DeviceRegistry(mode="open")  # nobody is registered: every packet is flagged
        self._registry = registry
        self._registered = registry is not None and (mode or registry.mode) == "registered"
        self._throttle = AuthThrottle(
            max_failures=config.auth_max_failures,
            window_s=config.auth_window_s,
            block_s=config.auth_block_s,
            remember_peers=config.auth_remember_peers,
            remember_s=config.auth_remember_s,
        )
        self._qbudget = _Budget(
            config.quarantine_peer_bytes, config.quarantine_window_s, "quarantine of peer"
        )
        self._dbudget = _Budget(config.data_mn_bytes, config.data_window_s, "data of MN")
        self._nothing_to_land: asyncio.Future[None] | None = None
        self._landing_error_log = ThrottledLog(log)
        self._untrusted_log = ThrottledLog(log)
        self._proxy_header_log = ThrottledLog(log)

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

    @property
    def max_connections(self) -> int:
        """``max_connections`` after the file-descriptor cap."""
        return self._max_connections

    async def start(self) -> None:
        c = self.config
        assert c.quarantine_dir is not None
        loop = asyncio.get_running_loop()
        self._max_connections = connection_cap(c.max_connections, raise_limit=c.raise_fd_limit)
        self._nothing_to_land = loop.create_future()
        self._nothing_to_land.set_result(None)
        writers: list[SegmentWriter] = []
        try:
            for root, kind in ((c.landing_dir, "data"), (c.quarantine_dir, "quarantine")):
                w = SegmentWriter(
                    root,
                    c.receiver_id,
                    kind=kind,
                    rotate_seconds=c.rotate_seconds,
                    rotate_bytes=c.rotate_bytes,
                    sweep_seconds=c.sweep_seconds,
                    io=c.segment_io,
                    lock_wait_s=c.lock_wait_s,
                )
                writers.append(w)
                await loop.run_in_executor(None, w.lock)  # ReceiverIdInUse if a live receiver has this id
                for p in await loop.run_in_executor(None, w.recover):
                    log.warning("recovered unclosed segment %s", p)
        except BaseException:
            for w in writers:
                w.release()
            raise
        logs = []
        for w in writers:
            sl = AsyncSegmentLog(
                w, group_commit_s=c.group_commit_ms / 1000.0, max_pending_bytes=c.max_pending_bytes
            )
            sl.start()
            logs.append(sl)
        self._data, self._quarantine = logs
        try:
            # asyncio accepts up to `backlog` sockets per wake-up before any is refused: keep that
            # within the descriptors held in reserve, or a burst of connects hits EMFILE in accept()
            self._server = await asyncio.start_server(
                self._on_connect,
                c.host,
                c.port,
                limit=c.max_line_bytes,
                reuse_address=True,
                backlog=ACCEPT_BATCH,
            )
        except BaseException:  # e.g. the port is taken: close the logs, release the id
            for sl in logs:
                await sl.close()
            raise
        for listening in self._server.sockets:  # asyncio listens with its per-wake-up batch: widen
            with socket.socket(fileno=os.dup(listening.fileno())) as same:
                same.listen(LISTEN_BACKLOG)
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
        log.info("hj212 receiver stopped: %s", self.summary())

    def summary(self) -> str:
        self.stats.io_errors = sum(
            sl.writer.errors for sl in (self._data, self._quarantine) if sl is not None
        )
        self.stats.auth_blocks = self._throttle.blocks
        return self.stats.summary()

    async def __aenter__(self) -> Receiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- connections
    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        st = self.stats
        ip, peer = _address(writer.get_extra_info("peername"))
        if self._stopping or st.connections >= self._max_connections:
            st.connections_refused += 1
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        st.connections += 1  # from here on: counted against max_connections, cancelled by stop()
        try:
            if self.config.proxy_protocol:
                carried = await self._carried_address(reader, ip, peer)
                if carried is None:
                    writer.transport.abort()
                    return
                ip, peer = carried
            # the caps and the throttle count an IPv6 peer by its /64 (``client_key``)
            conn = _Conn(client_key(ip), peer, asyncio.Queue(self.config.max_inflight_per_connection))
            await self._admit(reader, writer, conn, task)
        finally:
            st.connections -= 1
            self._conns.discard(task)

    async def _carried_address(
        self, reader: asyncio.StreamReader, ip: str, peer: str
    ) -> tuple[str, str] | None:
        """The (address, ``address:port``) a trusted proxy's PROXY header carries — the socket's own
        when the header carries none (LOCAL, UNKNOWN); None: close the connection."""
        c = self.config
        if not is_trusted(ip, c.trusted_proxies):
            self.stats.proxy_untrusted += 1
            self._untrusted_log.warning(
                "connection from %s closed: not a trusted proxy (the PROXY protocol is on)", peer
            )
            return None
        try:
            async with asyncio.timeout(c.proxy_header_timeout_s):
                header = await read_proxy_header(reader)
        except ProxyHeaderError as exc:
            reason, detail = exc.reason, str(exc)
        except TimeoutError:
            reason, detail = "timeout", f"timeout: no whole header within {c.proxy_header_timeout_s:g}s"
        except (ConnectionError, OSError) as exc:
            reason, detail = "truncated", f"truncated: {exc}"
        except asyncio.CancelledError:  # shutting down
            return None
        else:
            if header.source is None:
                return ip, peer
            host, port = header.source
            return host, f"{host}:{port}"
        self.stats.proxy_header_errors[reason] += 1
        self._proxy_header_log.warning(
            "connection from proxy %s closed: no valid PROXY protocol header (%s)", peer, detail
        )
        return None

    async def _admit(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        conn: _Conn,
        task: asyncio.Task[None],
    ) -> None:
        """Serve the connection unless its peer address already holds its cap of connections."""
        cap = self.config.max_connections_per_peer
        if cap and self._per_peer[conn.ip] >= cap:
            self.stats.connections_refused_peer += 1
            writer.transport.abort()
            return
        self.stats.connections_total += 1
        self._per_peer[conn.ip] += 1
        try:
            await self._serve(reader, writer, conn, task)
        finally:
            self._per_peer[conn.ip] -= 1
            if self._per_peer[conn.ip] <= 0:
                del self._per_peer[conn.ip]

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        conn: _Conn,
        task: asyncio.Task[None],
    ) -> None:
        """Read, land and reply until the peer goes, idles, stalls or the receiver stops."""
        loop = asyncio.get_running_loop()
        replier = loop.create_task(self._reply_loop(conn, writer))
        # a replier that gave up (landing failed, peer stalled) ends the connection's reading too
        replier.add_done_callback(lambda _: None if conn.closing else task.cancel())
        watch = _IdleWatch(loop, task, self.config.idle_timeout_s)
        try:
            await self._read_loop(reader, conn, replier, watch)
        except asyncio.CancelledError:
            # shutdown or idle: stop reading, still reply to what was landed
            if watch.idle:
                log.info("connection %s idle for %.0fs: closing", conn.peer, self.config.idle_timeout_s)
                await self._land_unfinished(reader, conn)
        except (ConnectionError, OSError) as exc:
            log.debug("connection %s: %s", conn.peer, exc)
        finally:
            conn.closing = True
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                if not replier.done():
                    await conn.queue.put(None)
                    await asyncio.wait_for(replier, timeout=10)
            if not replier.done():
                replier.cancel()
            with contextlib.suppress(Exception):
                writer.close()
            for mn in conn.trusted:  # the logger was here until now: remember it from now
                self._throttle.succeeded(conn.ip, mn)

    async def _read_loop(
        self,
        reader: asyncio.StreamReader,
        conn: _Conn,
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
                await self._land(head, conn, forced=LINE_TOO_LONG)
                if not await self._discard_line(reader):
                    return
                continue
            except asyncio.IncompleteReadError as e:
                watch.reading = False
                if e.partial:
                    await self._land(e.partial, conn, forced=MISSING_TAIL)
                return
            watch.reading = False
            await self._land(line, conn)

    async def _land_unfinished(self, reader: asyncio.StreamReader, conn: _Conn) -> None:
        """The bytes of a line the peer started and never ended (a link that died silently mid-packet),
        landed as ``missing_tail`` as when the peer closes: the raw zone keeps every byte received."""
        with contextlib.suppress(TimeoutError, ConnectionError, OSError):
            # buffered bytes come back at once; an empty buffer would wait for the peer: do not
            partial = await asyncio.wait_for(reader.read(self.config.max_line_bytes), timeout=0.05)
            if partial:
                await self._land(partial, conn, forced=MISSING_TAIL)

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

    async def _land(self, line: bytes, conn: _Conn, forced: str | None = None) -> None:
        """Land the line (or count it, over its peer's quarantine cap), then queue its reply."""
        t0 = time.monotonic()
        received_at = time.time()
        st = self.stats
        st.lines += 1
        st.bytes += len(line)
        result: Packet | Reject
        result = salvaged_reject(forced, forced, line) if forced is not None else parse_line(line)
        status = "ok"
        if self._registry is not None and isinstance(result, Packet):
            result, status = self._authenticate(result, line, conn)
        if isinstance(result, Packet) and not self._dbudget.take(
            result.mn, record_size(status, conn.peer, line), t0
        ):
            result = Reject(
                MN_OVER_BUDGET,
                f"MN={result.mn}: over {self.config.data_mn_bytes:,} bytes in {self.config.data_window_s:.0f}s",
                line, result.qn, result.st, result.cn, result.pw, result.mn, result.flag,
            )  # fmt: skip
        if isinstance(result, Packet):
            sl = self._data
            st.packets += 1
        else:
            sl = self._quarantine
            status = result.reason
            st.rejects[status] += 1
            # the record as landed (its header too): a flood of empty lines costs what it fills
            if not self._qbudget.take(conn.ip, record_size(status, conn.peer, line), t0):
                st.quarantine_capped += 1
                sl = None
        if sl is None:
            assert self._nothing_to_land is not None
            fut = self._nothing_to_land
        else:
            if sl.congested:
                await sl.wait_space()
            fut = sl.submit(received_at, status, conn.peer, line)
        item = (fut, self._reply(result), isinstance(result, Packet), t0)
        if conn.queue.full():
            await conn.queue.put(item)
        else:
            conn.queue.put_nowait(item)

    def _authenticate(self, packet: Packet, line: bytes, conn: _Conn) -> tuple[Packet | Reject, str]:
        """Check MN and PW against the registry: (packet, "ok"), (packet, flag) in open mode, or a
        reject in registered mode (refused unchecked while the peer or MN is blocked)."""
        assert self._registry is not None
        mn = packet.mn
        throttle = self._throttle
        if self._registered and throttle.active and mn not in conn.trusted and throttle.blocked(conn.ip, mn):
            detail = (
                f"MN={mn}: authentication refused for {self.config.auth_block_s:.0f}s after repeated failures"
            )
            return self._auth_reject(packet, AUTH_THROTTLED, detail, line), AUTH_THROTTLED
        problem = self._registry.check(mn, packet.pw)
        if problem is None:
            if self._registered and mn not in conn.trusted:  # once per connection: off the hot path
                conn.trusted.add(mn)
                throttle.succeeded(conn.ip, mn)
            return packet, "ok"
        if self._registered:
            for key in throttle.failed(conn.ip, mn):
                log.warning(
                    "%s blocked for %.0fs after %d failed authentications",
                    key,
                    self.config.auth_block_s,
                    self.config.auth_max_failures,
                )
            return self._auth_reject(packet, problem, f"MN={mn} {problem}", line), problem
        status = "unregistered" if problem == UNKNOWN_MN else problem
        self.stats.flagged[status] += 1
        return packet, status

    @staticmethod
    def _auth_reject(p: Packet, reason: str, detail: str, line: bytes) -> Reject:
        return Reject(reason, detail, line, p.qn, p.st, p.cn, p.pw, p.mn, p.flag)

    def _reply(self, result: Packet | Reject) -> bytes | None:
        """The line's 9014 / 9011, or None.  Never raises: a reply that cannot be built — its
        echoed QN/PW/MN would make it exceed the standard's 1,024 bytes — is not sent (counted)."""
        try:
            if isinstance(result, Packet):
                if result.ack_wanted and not result.cn.startswith("9"):
                    return build_ack_9014(result)
                return None
            if not self.config.reply_to_rejects or not result.qn or result.reason == "empty":
                return None
            if result.flag is not None and not result.flag & 1:
                return None  # its Flag says no reply is wanted (a line without one cannot say so)
            rtn = result.qn_rtn
            if result.reason == AUTH_THROTTLED:  # the standard's codes: PW error, or MN error if unknown
                assert self._registry is not None
                rtn = QnRtn.MN_ERROR if self._registry.get(result.mn) is None else QnRtn.PW_ERROR
            flag = reply_flag(result.flag)
            return build_ack_9011(result.qn, rtn, mn=result.mn or "", pw=result.pw or "", flag=flag)
        except Exception as exc:  # never keep a line from being landed or the stream from going on
            self.stats.replies_unbuildable += 1
            log.debug("no reply to a line (QN %.40s…): %s", result.qn, exc)
            return None

    async def _reply_loop(self, conn: _Conn, writer: asyncio.StreamWriter) -> None:
        """Reply in line order once each line is landed.  Replies whose lines are already landed
        are written together (one write per group commit, not one per line)."""
        st = self.stats
        queue = conn.queue
        stall_s = self.config.reply_stall_timeout_s
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
                    await asyncio.wait_for(writer.drain(), stall_s)
            except TimeoutError:
                st.stalled_disconnects += 1
                log.warning("peer %s does not read its replies (%.0fs): disconnecting", conn.peer, stall_s)
                kinds.clear()
                writer.transport.abort()
                return False
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
                self._landing_error_log.error("landing failed, dropping connection without reply: %s", exc)
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


def _address(peername: object) -> tuple[str, str]:
    """A socket's peer as (address, ``address:port``)."""
    if isinstance(peername, tuple):
        return str(peername[0]), f"{peername[0]}:{peername[1]}"
    return str(peername), str(peername)


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
            log.info("hj212 receiver %s: %s", config.receiver_id, receiver.summary())

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
    d = ReceiverConfig(landing_dir=Path("landing"), receiver_id="defaults")  # the defaults
    p = argparse.ArgumentParser(prog="python -m ingest.hj212.receiver", description="HJ 212 TCP receiver")
    p.add_argument("--landing-dir", required=True, type=Path, help="e.g. <lake>/raw/hj212")
    p.add_argument("--quarantine-dir", type=Path, default=None)
    p.add_argument("--host", default=d.host, help="address to listen on (default: loopback only)")
    p.add_argument("--port", type=int, default=d.port, help="0 = ephemeral (printed)")
    p.add_argument("--receiver-id", default=default_receiver_id())
    p.add_argument("--rotate-seconds", type=float, default=d.rotate_seconds)
    p.add_argument("--rotate-bytes", type=int, default=d.rotate_bytes)
    p.add_argument("--group-commit-ms", type=float, default=d.group_commit_ms)
    p.add_argument("--max-line-bytes", type=int, default=d.max_line_bytes)
    p.add_argument("--idle-timeout", type=float, default=d.idle_timeout_s)
    p.add_argument("--max-connections", type=int, default=d.max_connections)
    p.add_argument(
        "--max-connections-per-peer", type=int, default=d.max_connections_per_peer, help="0 = no cap"
    )
    p.add_argument("--reply-stall-timeout", type=float, default=d.reply_stall_timeout_s)
    p.add_argument("--devices", type=Path, default=None, help="device registry CSV/JSON")
    p.add_argument(
        "--mode", choices=["open", "registered"], default=None, help="default: registered with --devices"
    )
    p.add_argument("--auth-max-failures", type=int, default=d.auth_max_failures, help="0 = no throttling")
    p.add_argument("--auth-block-seconds", type=float, default=d.auth_block_s)
    p.add_argument("--quarantine-peer-bytes", type=int, default=d.quarantine_peer_bytes, help="0 = no cap")
    p.add_argument("--data-mn-bytes", type=int, default=d.data_mn_bytes, help="per MN per hour; 0 = no cap")
    p.add_argument(
        "--proxy-protocol",
        action="store_true",
        help="connections come through a gateway sending the PROXY protocol (HAProxy send-proxy-v2)",
    )
    p.add_argument(
        "--trusted-proxies",
        default="",
        help="comma-separated addresses/networks whose PROXY headers are believed",
    )
    p.add_argument("--stats-interval", type=float, default=d.stats_interval_s)
    return p


def config_from_args(argv: Sequence[str] | None = None) -> ReceiverConfig:
    a = _parser().parse_args(argv)
    try:
        registry, mode = registry_for(a.devices, a.mode)
        trusted_proxies = parse_networks(a.trusted_proxies)
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
            max_connections_per_peer=a.max_connections_per_peer,
            reply_stall_timeout_s=a.reply_stall_timeout,
            registry=registry,
            registry_mode=mode,
            auth_max_failures=a.auth_max_failures,
            auth_block_s=a.auth_block_seconds,
            quarantine_peer_bytes=a.quarantine_peer_bytes,
            data_mn_bytes=a.data_mn_bytes,
            stats_interval_s=a.stats_interval,
            proxy_protocol=a.proxy_protocol,
            trusted_proxies=trusted_proxies,
        )
    except ValueError as exc:
        raise SystemExit(f"receiver: {exc}") from None


def main(argv: Sequence[str] | None = None, *, segment_io: SegmentIO | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("ECOCLOUD_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    config = config_from_args(argv)
    config.segment_io = segment_io

    def ready(r: Receiver) -> None:
        print(f"LISTENING {config.host} {r.port}", flush=True)

    tune_gc()
    try:
        asyncio.run(run_receiver(config, on_ready=ready))
    except ReceiverIdInUse as exc:
        print(f"receiver: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
