"""Benchmark of the HJ 212 receiver on loopback: acknowledged packets/s, ack latency, idle memory.

Everything runs on 127.0.0.1 against the real receiver process
(``python -m ingest.hj212.receiver``) with durable landing (group-commit fdatasync before every
9014) in a temporary landing directory.

* **throughput** — ``--clients`` client processes each open ``--connections`` TCP connections;
  every connection pipelines up to ``--window`` HJ 212-2017 packets (CN=2011, Flag=5, ~270 bytes)
  and refills as 9014 acks arrive.  After ``--warmup`` seconds the acks received in ``--seconds``
  seconds are counted; latency = time from writing a packet to reading its 9014 (replies come in
  line order per connection, so they are matched FIFO).
* **memory** — a fresh receiver; its VmRSS (``/proc/<pid>/status``) is sampled before, with 1,000
  and with 5,000 idle connections, after ``--idle`` seconds idle, and after the connections closed.

``RLIMIT_NOFILE`` is raised to its hard limit in this process and in the receiver.  Bounded: every
phase has a time limit; the receiver is stopped with SIGTERM (SIGKILL after 15 s).

    python bench/run_hj212_receiver.py                       # both phases, JSON summary on stdout
    python bench/run_hj212_receiver.py --skip-memory --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing as mp
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import machine  # noqa: E402
from ingest.hj212.protocol import build_packet  # noqa: E402
from ingest.hj212.segments import iter_records  # noqa: E402

HOST = "127.0.0.1"
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat)."""
    vals = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tck = os.sysconf("SC_CLK_TCK")
    idle = vals[3] + vals[4]
    total = sum(vals[:8])
    return (total - idle) / tck, total / tck


def cpu_seconds(pid: int) -> float:
    return sum(cpu_user_sys(pid))


def cpu_user_sys(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tck, int(fields[12]) / tck


# ------------------------------------------------------------------------------------------------
# receiver process


def _child_setup(nice: int) -> None:
    """In the receiver's process: > 5,000 descriptors; a scheduling priority (``--receiver-nice``)."""
    raise_nofile()
    if nice:
        os.setpriority(os.PRIO_PROCESS, 0, nice)


class ReceiverProc:
    def __init__(
        self, landing: Path, group_commit_ms: float, receiver_id: str, nice: int = 0, stats_s: float = 3600.0
    ) -> None:
        self.landing = landing
        env = {**os.environ, "ECOCLOUD_LOG_LEVEL": "INFO", "PYTHONPATH": str(REPO)}  # INFO: stats only
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ingest.hj212.receiver",
                "--landing-dir",
                str(landing),
                "--host",
                HOST,
                "--port",
                "0",
                "--receiver-id",
                receiver_id,
                "--group-commit-ms",
                str(group_commit_ms),
                "--idle-timeout",
                "600",
                "--stats-interval",
                str(stats_s),  # its stats lines go to a pipe read only at the end: few of them
                "--max-connections",
                "20000",
                "--max-connections-per-peer",
                "0",  # every client here is 127.0.0.1 (as behind a local proxy)
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=lambda: _child_setup(nice),  # noqa: PLW1509 — no threads yet
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        line = b""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(b"LISTENING") or not line:
                break
        if not line.startswith(b"LISTENING"):
            self.stop()
            raise RuntimeError(f"receiver did not start: {line!r}")
        self.port = int(line.split()[2])
        self.pid = self.proc.pid

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                _, errs = self.proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                _, errs = self.proc.communicate(timeout=5)
        else:
            _, errs = self.proc.communicate(timeout=5)
        return errs.decode("utf-8", "replace")


# ------------------------------------------------------------------------------------------------
# throughput clients


def packet_pool(client_id: int, n: int) -> list[bytes]:
    out = []
    for i in range(n):
        mn = f"{0x010000A8900016F000000000 + client_id * 100_000 + i % 997:024X}"
        out.append(
            build_packet(
                qn=f"20240501{client_id:03d}{i:06d}",
                st="31",
                cn="2011",
                pw="123456",
                mn=mn,
                flag=5,
                data_time="20240501120000",
                items={
                    "a21026": {"Rtd": 23.5 + i % 10, "ZsRtd": 28.1, "Flag": "N"},
                    "a21002": {"Rtd": 41.2, "ZsRtd": 49.4, "Flag": "N"},
                    "a34013": {"Rtd": 4.7, "ZsRtd": 5.6, "Flag": "N"},
                    "a19001": {"Rtd": 8.2, "Flag": "N"},
                    "a00000": {"Rtd": 182.4, "Flag": "N"},
                },
            )
        )
    return out


async def _connection(
    stream: Stream,
    pool: list[bytes],
    offset: int,
    window: int,
    t_start: float,
    t_end: float,
    out: dict[str, Any],
) -> None:
    reader, writer = stream
    inflight: deque[float] = deque()
    lat: list[float] = out["lat"]
    i = offset
    n_pool = len(pool)
    clock = time.perf_counter
    try:
        while True:
            now = clock()
            if now >= t_end:
                break
            room = window - len(inflight)
            if room > 0:
                chunk = [pool[(i + k) % n_pool] for k in range(room)]
                i += room
                writer.write(b"".join(chunk))
                inflight.extend([now] * room)
            data = await reader.read(1 << 16)
            if not data:
                out["errors"] += 1
                break
            k = data.count(b"\n")
            acks = data.count(b"CN=9014")
            t = clock()
            if k:
                counting = t >= t_start
                for _ in range(k):
                    sent = inflight.popleft()
                    if counting and sent >= t_start:
                        lat.append(t - sent)
                if counting:
                    out["acks"] += acks
                    out["lines"] += k
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _paced_sender(
    writer: asyncio.StreamWriter,
    pool: list[bytes],
    offset: int,
    rate: float,
    t0: float,
    t_end: float,
    inflight: deque[float],
) -> None:
    """Send at ``rate`` packets/s on a fixed schedule (packet k is due at t0 + k / rate).

    The scheduled time, not the time the write happened, is what latency is measured from, so a
    stalled receiver or client shows up as latency instead of being hidden by a slower send rate
    (no coordinated omission).
    """
    clock = time.perf_counter
    sent = 0
    n_pool = len(pool)
    while True:
        now = clock()
        if now >= t_end:
            return
        due = int((now - t0) * rate) + 1 - sent
        if due > 0:
            writer.write(b"".join(pool[(offset + sent + k) % n_pool] for k in range(due)))
            inflight.extend(t0 + (sent + k) / rate for k in range(due))
            sent += due
        await asyncio.sleep(max(0.0, t0 + sent / rate - clock()))


async def _paced_connection(
    stream: Stream,
    pool: list[bytes],
    offset: int,
    rate: float,
    t_start: float,
    t_end: float,
    out: dict[str, Any],
) -> None:
    reader, writer = stream
    inflight: deque[float] = deque()
    lat: list[float] = out["lat"]
    t0 = time.perf_counter() + (offset % 1000) / 1000 / max(rate, 1.0)  # spread the connections
    sender = asyncio.create_task(_paced_sender(writer, pool, offset, rate, t0, t_end, inflight))
    clock = time.perf_counter
    try:
        while not ((sender.done() or clock() >= t_end) and not inflight):
            try:
                data = await asyncio.wait_for(reader.read(1 << 16), 5.0)
            except TimeoutError:
                if not inflight:  # nothing was awaited: the sender stopped at t_end meanwhile
                    break
                out["errors"] += 1
                out.setdefault("error_kinds", []).append("no ack within 5 s")
                break
            except ConnectionError as exc:
                out["errors"] += 1
                out.setdefault("error_kinds", []).append(type(exc).__name__)
                break
            if not data:
                out["errors"] += 1
                out.setdefault("error_kinds", []).append("closed by the receiver")
                break
            t = clock()
            for _ in range(data.count(b"\n")):
                due = inflight.popleft()
                if due >= t_start:
                    lat.append(t - due)
                    out["lines"] += 1
            if t_start <= t <= t_end:
                out["acks"] += data.count(b"CN=9014")
    finally:
        sender.cancel()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _client_main(
    client_id: int, port: int, connections: int, window: int, warmup: float, seconds: float, rate: float
) -> dict[str, Any]:
    pool = packet_pool(client_id, 4096)
    out: dict[str, Any] = {"acks": 0, "lines": 0, "errors": 0, "lat": []}
    # one connect at a time: the receiver's accept queue is short (32), and a burst of connects that
    # overflows it waits for the kernel's SYN retransmission (1 s, 3 s, …) or is reset
    streams = [await asyncio.open_connection(HOST, port) for _ in range(connections)]
    t0 = time.perf_counter()
    t_start = t0 + warmup
    t_end = t_start + seconds
    if rate > 0:
        per_conn = rate / connections
        await asyncio.gather(
            *[
                _paced_connection(st, pool, c * 131, per_conn, t_start, t_end, out)
                for c, st in enumerate(streams)
            ]
        )
        return out

    async def cpu_window() -> None:
        await asyncio.sleep(warmup)
        c0 = time.process_time()
        await asyncio.sleep(seconds)
        out["cpu_window_s"] = time.process_time() - c0

    await asyncio.gather(
        cpu_window(),
        *[_connection(st, pool, c * 131, window, t_start, t_end, out) for c, st in enumerate(streams)],
    )
    return out


def client_process(
    client_id: int,
    port: int,
    connections: int,
    window: int,
    warmup: float,
    seconds: float,
    rate: float,
    q: Any,
) -> None:
    raise_nofile()
    cpu0 = time.process_time()
    res = asyncio.run(_client_main(client_id, port, connections, window, warmup, seconds, rate))
    res["cpu_s"] = round(time.process_time() - cpu0, 2)
    lat = sorted(res.pop("lat"))
    step = max(1, len(lat) // 200_000)  # a bounded sample for the parent to merge
    res["lat_sample"] = lat[::step]
    res["lat_count"] = len(lat)
    res["lat_max"] = lat[-1] if lat else None
    q.put(res)


STATS_INTERVAL_S = 2.0
_STATS = re.compile(r"^(\S+ \S+) INFO .*ack_latency_p50/p99=([\d.]+)/([\d.]+) ms")


def receiver_p99s(log: str, since: float, until: float) -> list[float]:
    """p99 ack latencies the receiver logged between two wall-clock times (its stats lines)."""
    out = []
    for line in log.splitlines():
        m = _STATS.match(line)
        if m:
            at = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if since <= at <= until:
                out.append(float(m.group(3)))
    return out


def pct(sorted_vals: list[float], q: float) -> float | None:
    if not sorted_vals:
        return None
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))]


def throughput(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    landing = work / "tp" / "raw" / "hj212"
    shutil.rmtree(landing, ignore_errors=True)
    load_before = os.getloadavg()
    rcv = ReceiverProc(landing, args.group_commit_ms, "benchtp", args.receiver_nice, STATS_INTERVAL_S)
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [
        ctx.Process(
            target=client_process,
            args=(
                c,
                rcv.port,
                args.connections,
                args.window,
                args.warmup,
                args.seconds,
                args.rate / args.clients,
                q,
            ),
        )
        for c in range(args.clients)
    ]
    for p in procs:
        p.start()
    results = []
    try:
        time.sleep(args.warmup + 0.2)  # the clients connect and warm up; then the measured window
        wall0 = time.time()
        (u0, s0), m0 = cpu_user_sys(rcv.pid), machine_cpu()
        time.sleep(max(0.0, args.seconds - 0.4))
        wall1 = time.time()
        (u1, s1), m1 = cpu_user_sys(rcv.pid), machine_cpu()
        for _ in procs:
            results.append(q.get(timeout=args.warmup + args.seconds + 60))
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    rss = rss_kib(rcv.pid)
    window = max(0.1, args.seconds - 0.4)
    busy, total = m1[0] - m0[0], m1[1] - m0[1]
    cpu0, cpu1 = u0 + s0, u1 + s1
    receiver_cores = (cpu1 - cpu0) / window
    client_cores = sum(r.get("cpu_window_s", 0.0) for r in results) / args.seconds
    log = rcv.stop()
    acks = sum(r["acks"] for r in results)
    lat = sorted(x for r in results for x in r["lat_sample"])
    landed = 0
    for seg in landing.rglob("*.h212"):
        landed += sum(1 for _ in iter_records(seg))
    p50, p99 = pct(lat, 0.50), pct(lat, 0.99)
    internal = receiver_p99s(log, wall0 + STATS_INTERVAL_S, wall1)
    lat_max = max((r["lat_max"] for r in results if r["lat_max"] is not None), default=None)
    return {
        "offered_rate_per_s": args.rate or "saturation",
        "receiver_nice": args.receiver_nice,
        "load_average_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "clients": args.clients,
        "connections_per_client": args.connections,
        "window_per_connection": args.window,
        "group_commit_ms": args.group_commit_ms,
        "measured_s": args.seconds,
        "acked": acks,
        "acked_per_s": round(acks / args.seconds, 1),
        "ack_latency_ms": {
            "p50": None if p50 is None else round(p50 * 1000, 2),
            "p99": None if p99 is None else round(p99 * 1000, 2),
            "max": None if lat_max is None else round(lat_max * 1000, 2),
            "samples": sum(r["lat_count"] for r in results),
        },
        # the receiver's own view, from receipt of a line to its reply written (its last 20,000 acks,
        # logged every STATS_INTERVAL_S inside the window): what is left of the end-to-end latency is
        # the clients' own lateness and the time lines wait in the socket before the receiver reads them
        "receiver_internal_p99_ms_per_interval": internal,
        "client_errors": sum(r["errors"] for r in results),
        "client_error_kinds": sorted({k for r in results for k in r.get("error_kinds", [])}),
        "client_cpu_s": [r["cpu_s"] for r in results],
        "cpu_cores_used_in_window": {
            "receiver": round(receiver_cores, 2),
            "receiver_user_sys": [round((u1 - u0) / window, 2), round((s1 - s0) / window, 2)],
            "clients": round(client_cores, 2),
            "machine_total": round(busy / window, 2),
            "other_processes": round(max(0.0, busy / window - receiver_cores - client_cores), 2),
            "machine_busy_pct": round(100 * busy / total, 1) if total else None,
        },
        "receiver_cpu_us_per_ack": round(1e6 * (cpu1 - cpu0) / window / max(acks / args.seconds, 1), 1),
        "receiver_rss_kib_end": rss,
        "landed_records_total": landed,
        "receiver_log_tail": [x for x in log.strip().splitlines() if "WARNING" in x or "ERROR" in x][-3:],
    }


def spread(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """min / median / max over runs of the throughput and the ack latencies."""

    def mmm(vals: list[float]) -> dict[str, float]:
        return {"min": min(vals), "median": statistics.median(vals), "max": max(vals)}

    lat = [r["ack_latency_ms"] for r in runs]
    return {
        "runs": len(runs),
        "acked_per_s": mmm([r["acked_per_s"] for r in runs]),
        **{f"ack_{k}_ms": mmm([x[k] for x in lat if x[k] is not None]) for k in ("p50", "p99", "max")},
        "client_errors": sum(r["client_errors"] for r in runs),
        "load_average_1m": [r["load_average_1m_before_after"] for r in runs],
    }


# ------------------------------------------------------------------------------------------------
# idle-connection memory


async def _open_idle(port: int, n: int, into: list[asyncio.StreamWriter]) -> None:
    sem = asyncio.Semaphore(200)

    async def one() -> None:
        async with sem:
            for attempt in range(5):
                try:
                    _, w = await asyncio.wait_for(asyncio.open_connection(HOST, port), 10)
                    into.append(w)
                    return
                except (OSError, TimeoutError):
                    await asyncio.sleep(0.05 * (attempt + 1))
            raise RuntimeError("could not open an idle connection")

    await asyncio.gather(*[one() for _ in range(n)])


async def _memory_main(args: argparse.Namespace, rcv: ReceiverProc) -> dict[str, Any]:
    samples: dict[str, Any] = {}
    conns: list[asyncio.StreamWriter] = []
    await asyncio.sleep(1.0)
    samples["before_kib"] = rss_kib(rcv.pid)
    await _open_idle(rcv.port, 1000, conns)
    await asyncio.sleep(2.0)
    samples["idle_1k_kib"] = rss_kib(rcv.pid)
    await _open_idle(rcv.port, args.idle_connections - 1000, conns)
    await asyncio.sleep(2.0)
    samples[f"idle_{args.idle_connections // 1000}k_kib"] = rss_kib(rcv.pid)
    series = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < args.idle:
        await asyncio.sleep(min(10.0, args.idle))
        series.append(rss_kib(rcv.pid))
    samples[f"after_{int(args.idle)}s_idle_kib"] = rss_kib(rcv.pid)
    samples["idle_series_kib"] = series
    alive = sum(1 for w in conns if not w.is_closing())
    samples["connections_open"] = alive
    for w in conns:
        w.close()
    conns.clear()
    await asyncio.sleep(3.0)
    samples["after_close_kib"] = rss_kib(rcv.pid)
    # a second round reuses the memory of the first (freed objects stay in Python's allocator)
    await _open_idle(rcv.port, args.idle_connections, conns)
    await asyncio.sleep(2.0)
    samples[f"reopened_{args.idle_connections // 1000}k_kib"] = rss_kib(rcv.pid)
    for w in conns:
        w.close()
    await asyncio.sleep(2.0)
    n = args.idle_connections
    samples["per_idle_connection_kib"] = round(
        (samples[f"idle_{n // 1000}k_kib"] - samples["before_kib"]) / n, 2
    )
    return samples


def memory(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    rcv = ReceiverProc(work / "mem" / "raw" / "hj212", args.group_commit_ms, "benchmem")
    try:
        return asyncio.run(asyncio.wait_for(_memory_main(args, rcv), args.idle + 120))
    finally:
        rcv.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=1, help="client processes")
    ap.add_argument("--connections", type=int, default=64, help="connections per client process")
    ap.add_argument("--window", type=int, default=32, help="packets in flight per connection")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--seconds", type=float, default=20.0, help="measured throughput run (≤ 120)")
    ap.add_argument(
        "--runs", type=int, default=1, help="throughput runs (fresh receiver each); min/median/max"
    )
    ap.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="total offered packets/s, paced over all connections (0: saturate)",
    )
    ap.add_argument(
        "--receiver-nice",
        type=int,
        default=0,
        help="the receiver's nice value (< 0 needs root): a diagnostic of what other jobs' CPU costs it",
    )
    ap.add_argument("--group-commit-ms", type=float, default=5.0)
    ap.add_argument("--idle-connections", type=int, default=5000)
    ap.add_argument("--idle", type=float, default=60.0, help="seconds to hold the idle connections")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--workdir", type=Path, default=None, help="default: a temporary directory")
    args = ap.parse_args(argv)
    args.seconds = min(args.seconds, 120.0)
    args.idle = min(args.idle, 300.0)
    nofile = raise_nofile()
    work = Path(tempfile.mkdtemp(prefix="hj212bench-", dir=args.workdir))
    summary: dict[str, Any] = {
        "host": machine.describe() | {"nofile": nofile},
        "workdir": str(work),
    }
    try:
        if not args.skip_throughput:
            runs = [throughput(args, work) for _ in range(args.runs)]
            summary["throughput"] = runs[0] if args.runs == 1 else {"runs": runs, "summary": spread(runs)}
        if not args.skip_memory:
            if nofile < args.idle_connections + 100:
                summary["memory"] = {"skipped": f"RLIMIT_NOFILE {nofile} too low"}
            else:
                summary["memory"] = memory(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
