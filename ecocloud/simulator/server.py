"""The upstream simulator's HTTP server: real HTTP on loopback, a simulated clock, injected faults.

Routes are grouped by upstream: each ``Upstream`` owns the first path segment (``/air/…``) and
answers with a ``Resource`` (the server adds Content-Length, ETag and Last-Modified and answers
conditional requests with 304), a ready ``Response``, or ``None`` (404). More upstreams (water
JSON API, permits, credit files) mount the same way: ``SimulatorApp.mount(upstream)``.

Air (the national real-time release):

* ``GET /air/station_list.csv`` — the station list;
* ``GET /air/china_sites_YYYYMMDD.csv`` — the day file. Days outside the simulated range and days
  after the simulated "now" are 404; the current day holds only the hours the clock has reached
  (it grows during the day like the real release); past days are complete, minus the hours the
  release deliberately lacks. Last-Modified is the publication time of the last hour in the file.

Clock: ``now`` is Beijing time. ``now=None`` follows the wall clock; a given ``now`` stands still
(``speed=0``, the default) or runs ``speed`` simulated seconds per wall second; tests move it with
``app.clock.set(...)`` / ``advance(...)``.

Faults: ``fail_first=N`` answers the first N requests of every path (matching ``fail_paths``, a
regular expression, when given) with ``fail_status`` (503) — to test client retries. Change at
run time with ``app.inject_failures(...)``. Every request is logged in ``app.requests``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import hashlib
import logging
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from ecocloud.simulator.air import Quirks, generate_day_labeled, station_list_csv
from ecocloud.simulator.province import Station, jiangxi_stations, national_stations
from schemas.clock import BEIJING

__all__ = [
    "BEIJING",
    "AirUpstream",
    "Request",
    "Resource",
    "Response",
    "RunningSimulator",
    "SimClock",
    "SimulatorApp",
    "SimulatorConfig",
    "Upstream",
    "running_simulator",
    "serve",
    "start_simulator",
]

log = logging.getLogger(__name__)


def beijing_now() -> dt.datetime:
    """Current Beijing wall-clock time, naive."""
    return dt.datetime.now(BEIJING).replace(tzinfo=None)


class SimClock:
    """Simulated Beijing time (naive datetimes). Thread-safe."""

    def __init__(self, now: dt.datetime | None = None, speed: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._wall = now is None
        self._anchor = _naive_beijing(now) if now is not None else beijing_now()
        self._anchor_mono = time.monotonic()
        self._speed = speed

    def now(self) -> dt.datetime:
        if self._wall:
            return beijing_now()
        with self._lock:
            elapsed = (time.monotonic() - self._anchor_mono) * self._speed
            return self._anchor + dt.timedelta(seconds=elapsed)

    def set(self, now: dt.datetime) -> None:
        """Jump to ``now`` (Beijing; aware datetimes are converted); stops following the wall clock."""
        with self._lock:
            self._wall = False
            self._anchor = _naive_beijing(now)
            self._anchor_mono = time.monotonic()

    def advance(self, delta: dt.timedelta) -> None:
        self.set(self.now() + delta)


def _naive_beijing(t: dt.datetime) -> dt.datetime:
    return t.astimezone(BEIJING).replace(tzinfo=None) if t.tzinfo else t


def _http_date(beijing: dt.datetime) -> str:
    return email.utils.format_datetime(beijing.replace(tzinfo=BEIJING).astimezone(dt.UTC), usegmt=True)


# --------------------------------------------------------------------------------------------------
# Routing


@dataclass(frozen=True)
class Request:
    method: str  # GET or HEAD
    path: str  # without the query string
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # names lower-cased


@dataclass(frozen=True)
class Resource:
    """A representation the server serves with validators and conditional-request handling."""

    body: bytes
    content_type: str
    last_modified: dt.datetime | None = None  # Beijing, naive
    etag: str | None = None  # default: a strong hash of the body

    def strong_etag(self) -> str:
        return self.etag or f'"{hashlib.sha256(self.body).hexdigest()[:32]}"'


@dataclass(frozen=True)
class Response:
    """A ready answer (errors, redirects, API replies that need no caching)."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)


class Upstream(Protocol):
    """One simulated upstream system, mounted at ``/<prefix>/``."""

    prefix: str

    def handle(self, request: Request, subpath: str) -> Resource | Response | None: ...


class AirUpstream:
    """The national real-time air release (see the module docstring)."""

    prefix = "air"
    _DAY_FILE = re.compile(r"china_sites_(\d{8})\.csv")

    def __init__(
        self,
        stations: Sequence[Station],
        *,
        start_date: dt.date,
        days: int,
        seed: int,
        clock: SimClock,
        quirks: Quirks | None = None,
        publish_delay: dt.timedelta = dt.timedelta(0),
    ) -> None:
        if days < 1:
            raise ValueError("days must be ≥ 1")
        self.stations = tuple(stations)
        self.start_date = start_date
        self.days = days
        self.seed = seed
        self.clock = clock
        self.quirks = quirks or Quirks()
        self.publish_delay = publish_delay
        self._station_list = station_list_csv(self.stations)
        self._render = lru_cache(maxsize=48)(self._render_day)

    @property
    def end_date(self) -> dt.date:
        """Last simulated day (inclusive)."""
        return self.start_date + dt.timedelta(days=self.days - 1)

    def handle(self, request: Request, subpath: str) -> Resource | None:
        if subpath == "station_list.csv":
            start = dt.datetime.combine(self.start_date, dt.time())
            return Resource(self._station_list, "text/csv; charset=utf-8", start)
        m = self._DAY_FILE.fullmatch(subpath)
        if not m:
            return None
        try:
            date = dt.datetime.strptime(m.group(1), "%Y%m%d").date()
        except ValueError:
            return None
        return self.day_file(date)

    def visible_hours(self, date: dt.date) -> int:
        """How many hours (0..n-1) of ``date`` the release has reached at the simulated now."""
        elapsed = self.clock.now() - self.publish_delay - dt.datetime.combine(date, dt.time())
        if elapsed < dt.timedelta(0):
            return 0
        return min(24, int(elapsed // dt.timedelta(hours=1)) + 1)

    def day_file(self, date: dt.date) -> Resource | None:
        if not self.start_date <= date <= self.end_date:
            return None
        n = self.visible_hours(date)
        if n == 0:
            return None
        body, last_hour = self._render(date, n)
        published = dt.datetime.combine(date, dt.time()) + dt.timedelta(hours=last_hour) + self.publish_delay
        return Resource(body, "text/csv; charset=utf-8", published)

    def _render_day(self, date: dt.date, n_hours: int) -> tuple[bytes, int]:
        body, labels = generate_day_labeled(
            date, self.stations, seed=self.seed, hours=range(n_hours), quirks=self.quirks
        )
        return body, labels.hours[-1] if labels.hours else 0


class SimulatorApp:
    """Dispatch, conditional GET, fault injection and the request log, independent of the socket."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.upstreams: dict[str, Upstream] = {}
        self.requests: deque[tuple[str, str, int]] = deque(maxlen=10_000)  # (method, path, status), latest
        self._lock = threading.Lock()
        self._fail_left: dict[str, int] = {}
        self._fail_first = 0
        self._fail_status = 503
        self._fail_paths: re.Pattern[str] | None = None

    def mount(self, upstream: Upstream) -> None:
        if upstream.prefix in self.upstreams:
            raise ValueError(f"/{upstream.prefix}/ is already mounted")
        self.upstreams[upstream.prefix] = upstream

    def inject_failures(self, first: int, *, status: int = 503, paths: str | None = None) -> None:
        """Answer the first ``first`` requests of each path (matching ``paths``) with ``status``,
        counting from now."""
        with self._lock:
            self._fail_first = first
            self._fail_status = status
            self._fail_paths = re.compile(paths) if paths else None
            self._fail_left.clear()

    def hits(self, path: str) -> list[int]:
        """Statuses answered for ``path``, in order."""
        with self._lock:
            return [status for _, p, status in self.requests if p == path]

    def dispatch(self, request: Request) -> Response:
        response = self._dispatch(request)
        with self._lock:
            self.requests.append((request.method, request.path, response.status))
        return response

    def _dispatch(self, request: Request) -> Response:
        if self._take_failure(request.path):
            return Response(self._fail_status, b"simulated failure\n", headers={"Retry-After": "0"})
        if request.path in ("/", "/healthz"):
            text = "ecocloud upstream simulator\n" + "".join(f"/{p}/\n" for p in sorted(self.upstreams))
            return Response(200, text.encode())
        prefix, _, subpath = request.path.lstrip("/").partition("/")
        upstream = self.upstreams.get(prefix)
        try:
            answer = upstream.handle(request, subpath) if upstream else None
        except Exception:
            log.exception("simulator: %s %s failed", request.method, request.path)
            return Response(500, b"internal error\n")
        if answer is None:
            return Response(404, b"not found\n")
        if isinstance(answer, Response):
            return answer
        return _conditional(answer, request.headers)

    def _take_failure(self, path: str) -> bool:
        with self._lock:
            if self._fail_first <= 0 or (self._fail_paths and not self._fail_paths.search(path)):
                return False
            left = self._fail_left.setdefault(path, self._fail_first)
            if left <= 0:
                return False
            self._fail_left[path] = left - 1
            return True


def _conditional(resource: Resource, headers: Mapping[str, str]) -> Response:
    """200 with validators, or 304 when the client's validators still match (RFC 9110 §13.2.2:
    If-None-Match wins over If-Modified-Since)."""
    etag = resource.strong_etag()
    out = {"ETag": etag}
    last_modified = resource.last_modified.replace(microsecond=0) if resource.last_modified else None
    if last_modified is not None:
        out["Last-Modified"] = _http_date(last_modified)
    inm = headers.get("if-none-match")
    ims = headers.get("if-modified-since")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        if "*" in tags or etag in tags:
            return Response(304, b"", resource.content_type, out)
    elif ims is not None and last_modified is not None:
        try:
            since = email.utils.parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            since = None
        if since is not None and since.tzinfo is not None and last_modified.replace(tzinfo=BEIJING) <= since:
            return Response(304, b"", resource.content_type, out)
    return Response(200, resource.body, resource.content_type, out)


# --------------------------------------------------------------------------------------------------
# HTTP


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ecocloud-simulator/0.1"
    timeout = 30  # idle keep-alive connections end after this (seconds)
    app: SimulatorApp  # set on the subclass made per server

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _answer(self, *, head: bool) -> None:
        url = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = Request(self.command, url.path, parse_qs(url.query), headers)
        response = self.app.dispatch(request)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status != HTTPStatus.NOT_MODIFIED:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if not head and response.status != HTTPStatus.NOT_MODIFIED:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("simulator %s: " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    """Threaded server that can also end its open keep-alive connections when stopped."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: SimulatorApp) -> None:
        handler = type("Handler", (_Handler,), {"app": app})
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: socket.socket, client_address: Any) -> None:  # type: ignore[override]
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@dataclass
class SimulatorConfig:
    """What the simulator serves. ``start_date=None``: the ``days`` days ending today (Beijing)."""

    start_date: dt.date | None = None
    days: int = 30
    seed: int = 0
    now: dt.datetime | None = None  # simulated Beijing time; None follows the wall clock
    speed: float = 0.0  # simulated seconds per wall second when ``now`` is given
    stations: str | Sequence[Station] = "jiangxi"  # "jiangxi", "national" or explicit stations
    quirks: Quirks | None = None  # None: Quirks() defaults
    publish_delay: dt.timedelta = dt.timedelta(0)  # hour h appears at h:00 + delay
    fail_first: int = 0
    fail_status: int = 503
    fail_paths: str | None = None

    def build_app(self) -> SimulatorApp:
        clock = SimClock(self.now, self.speed)
        start = self.start_date or (clock.now().date() - dt.timedelta(days=self.days - 1))
        if isinstance(self.stations, str):
            if self.stations == "jiangxi":
                stations: Sequence[Station] = jiangxi_stations(self.seed)
            elif self.stations == "national":
                stations = national_stations(seed=self.seed)
            else:
                raise ValueError(f"stations: 'jiangxi', 'national' or a list, got {self.stations!r}")
        else:
            stations = self.stations
        app = SimulatorApp(clock)
        app.mount(
            AirUpstream(
                stations,
                start_date=start,
                days=self.days,
                seed=self.seed,
                clock=clock,
                quirks=self.quirks,
                publish_delay=self.publish_delay,
            )
        )
        # permits API, credit files, master-data CSVs; "today" of their timeline = the last simulated day
        from ecocloud.simulator.enterprise_feeds import enterprise_upstreams

        for upstream in enterprise_upstreams(
            seed=self.seed, anchor=start + dt.timedelta(days=self.days - 1), clock=clock
        ):
            app.mount(upstream)
        from ecocloud.simulator.water import WaterUpstream, jiangxi_sections  # surface-water board

        app.mount(WaterUpstream(jiangxi_sections(self.seed), seed=self.seed, clock=clock))
        if self.fail_first:
            app.inject_failures(self.fail_first, status=self.fail_status, paths=self.fail_paths)
        return app


class RunningSimulator:
    """A simulator serving in a background thread. ``stop()`` (or leaving the ``with``) ends it."""

    def __init__(self, app: SimulatorApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._server = _Server((host, port), app)
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="ecocloud-simulator",
            daemon=True,
        )
        self._thread.start()
        self._stopped = False

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def clock(self) -> SimClock:
        return self.app.clock

    @property
    def air(self) -> AirUpstream:
        upstream = self.app.upstreams["air"]
        if not isinstance(upstream, AirUpstream):
            raise TypeError("/air/ is not the simulated air release")
        return upstream

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_simulator(host: str = "127.0.0.1", port: int = 0, **config: Any) -> RunningSimulator:
    """Start serving in a background thread (``port=0``: an ephemeral port); ``config`` are
    ``SimulatorConfig`` fields."""
    return RunningSimulator(SimulatorConfig(**config).build_app(), host, port)


@contextmanager
def running_simulator(host: str = "127.0.0.1", port: int = 0, **config: Any) -> Iterator[RunningSimulator]:
    """Context manager around :func:`start_simulator`::

    with running_simulator(start_date=..., days=..., now=...) as sim:
        requests.get(f"{sim.base_url}/air/station_list.csv")
    """
    sim = start_simulator(host, port, **config)
    try:
        yield sim
    finally:
        sim.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    start_date: dt.date | None = None,
    days: int = 30,
    seed: int = 0,
    now: dt.datetime | None = None,
    speed: float = 0.0,
    stations: str = "jiangxi",
    quirks: Quirks | None = None,
) -> None:
    """Serve until interrupted (Ctrl-C): the CLI's ``ecocloud simulate``."""
    app = SimulatorConfig(
        start_date=start_date, days=days, seed=seed, now=now, speed=speed, stations=stations, quirks=quirks
    ).build_app()
    air = app.upstreams["air"]
    if not isinstance(air, AirUpstream):
        raise TypeError("/air/ is not the simulated air release")
    with _Server((host, port), app) as server:
        print(
            f"ecocloud simulator on http://{host}:{server.server_address[1]}/  "
            f"air: {len(air.stations)} stations, {air.start_date}..{air.end_date}, "
            f"simulated now {app.clock.now():%Y-%m-%d %H:%M} (Beijing)",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever(poll_interval=0.2)
