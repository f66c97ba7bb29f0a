"""HTTP fetching for upstream files and APIs, defended against slow, huge and misdirecting servers.

Every :func:`fetch`:

* ends within a total deadline (``HttpLimits.deadline_s``) covering connecting, every read, retries,
  their back-off and redirects: at the deadline the sockets of the request are shut down, so a
  server trickling a byte at a time cannot hold a task (``timeout_s`` still bounds each read);
* reads at most ``max_bytes`` of body after decompression; a larger ``Content-Length`` is refused
  before reading; gzip / deflate ``Content-Encoding`` is inflated here, streamed, under the same
  cap (a gzip bomb is refused, not inflated);
* follows at most ``max_redirects`` redirects, to the same host (never https → http) unless
  ``redirect_hosts`` names the target host;
* retries connection errors and HTTP 429/500/502/503/504 with exponential back-off, honouring
  ``Retry-After`` while it fits in the deadline; a refusal (size, deadline, redirect) is final;
* sends validators so an unchanged file costs a 304 and no bytes.

Sessions come from :func:`make_session`; its connections register with the deadline from the
first byte sent. A plain ``requests.Session`` also works, but then the deadline can only cut the
body, not a server that trickles its headers.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

from ingest.inflate import InflateError, Inflater

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
# errors of a connection or a read: worth a retry (unless the deadline has passed)
_TRANSIENT = (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)


class FetchError(RuntimeError):
    """The upstream could not be fetched, or what it sent was refused (message says why)."""


class NotPublished(FetchError):
    """The upstream answered 404 or 410: it has no such file (not yet, or not any more)."""


class FetchRefused(FetchError):
    """The upstream's answer broke a limit (size, deadline, redirect policy, encoding); not retried."""


@dataclass(frozen=True)
class HttpLimits:
    """What one request may cost (defaults; ``Settings.http_limits()`` gives the configured ones)."""

    max_bytes: int = 256 * 2**20  # body after decompression
    deadline_s: float = 300.0  # the whole request: connect, reads, retries, back-off, redirects
    max_redirects: int = 5
    redirect_hosts: frozenset[str] = frozenset()  # other hosts redirects (and listings) may point to

    def refusal(self, origin: str, target: str) -> str | None:
        """Why a request that started at ``origin`` may not go on to ``target``; None when it may."""
        o, t = urlsplit(origin), urlsplit(target)
        if t.scheme not in ("http", "https"):
            return f"scheme {t.scheme or '(none)'!r} is not http(s)"
        if o.scheme == "https" and t.scheme == "http":
            return "a downgrade from https to http"
        host = (t.hostname or "").lower()
        if host != (o.hostname or "").lower() and host not in self.redirect_hosts:
            allowed = ", ".join(sorted(self.redirect_hosts)) or "none"
            return f"{host!r} is another host (other hosts allowed: {allowed})"
        return None


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int  # 200, or 304 when unchanged since the validators we sent
    content: bytes
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


# ------------------------------------------------------------------------------------ the deadline
_local = threading.local()


class _Deadline:
    """Shuts down the sockets of this thread's request when time is up, so a blocked read returns."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.expired:
                _shut(sock)
            else:
                self._sockets.append(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def __enter__(self) -> _Deadline:
        _local.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _local.deadline = None


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)  # wakes a recv blocked in another thread; close() would not


def _watch_current(sock: socket.socket | None) -> None:
    deadline: _Deadline | None = getattr(_local, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


# The socket is registered when it is made (connect) or reused (request): the response keeps
# reading from it even after http.client drops it from the connection (``Connection: close``).
class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _watch_current(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_current(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _watch_current(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_current(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(HTTPAdapter):
    """No retries of its own (``fetch`` retries within the deadline); connections join the deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools are their own classes
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


class GuardedSession(requests.Session):
    """A session carrying its retry policy and limits, whose connections honour the deadline."""

    def __init__(self, retries: int, backoff_s: float, limits: HttpLimits) -> None:
        super().__init__()
        self.retries = retries
        self.backoff_s = backoff_s
        self.limits = limits
        adapter = _WatchedAdapter(max_retries=0)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.headers["User-Agent"] = "ecocloud-ingest/0.1"


def make_session(retries: int, backoff_s: float, *, limits: HttpLimits | None = None) -> GuardedSession:
    return GuardedSession(retries, backoff_s, limits or HttpLimits())


def limits_of(session: requests.Session) -> HttpLimits:
    limits = getattr(session, "limits", None)
    return limits if isinstance(limits, HttpLimits) else HttpLimits()


# ---------------------------------------------------------------------------------------- fetching
class _StatusError(Exception):
    def __init__(self, status: int, excerpt: bytes, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status, self.excerpt, self.retry_after = status, excerpt, retry_after


def fetch(
    session: requests.Session,
    url: str,
    *,
    timeout_s: float,
    etag: str | None = None,
    last_modified: str | None = None,
    limits: HttpLimits | None = None,
) -> Fetched:
    """GET ``url`` within the limits (the session's unless given); validators make a 304 possible."""
    limits = limits or limits_of(session)
    retries = int(getattr(session, "retries", 0))
    backoff_s = float(getattr(session, "backoff_s", 0.0))
    headers = {"Accept-Encoding": "gzip, deflate"}  # what _read_body can inflate
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    with _Deadline(limits.deadline_s) as deadline:
        failures = 0
        while True:
            try:
                status, content, answer_headers = _follow(session, url, headers, timeout_s, limits, deadline)
                break
            except _StatusError as exc:
                if exc.status not in RETRY_STATUSES:
                    error = NotPublished if exc.status in (404, 410) else FetchError
                    raise error(f"GET {url} answered HTTP {exc.status}: {exc.excerpt!r}") from None
                last, retry_after = f"HTTP {exc.status}", exc.retry_after
            except _TRANSIENT as exc:
                if deadline.expired:
                    raise _late(url, limits) from exc
                last, retry_after = f"{type(exc).__name__}: {exc}", None
            failures += 1
            if failures > retries:
                raise FetchError(f"GET {url} failed after {retries} retries: {last}")
            wait = max(0.0 if failures == 1 else backoff_s * 2 ** (failures - 1), retry_after or 0.0)
            if wait >= deadline.remaining():
                raise _late(url, limits, f" (last: {last}; next try in {wait:g} s)")
            log.info("GET %s: %s; retry %d/%d in %.1f s", url, last, failures, retries, wait)
            time.sleep(wait)
    if status == 304:
        return Fetched(url, 304, b"", etag, last_modified)
    return Fetched(url, 200, content, answer_headers.get("ETag"), answer_headers.get("Last-Modified"))


def _late(url: str, limits: HttpLimits, detail: str = "") -> FetchRefused:
    return FetchRefused(
        f"GET {url}: no complete answer within the {limits.deadline_s:g} s deadline{detail} "
        "(ECOCLOUD_HTTP_DEADLINE_S)"
    )


def _follow(
    session: requests.Session,
    url: str,
    headers: dict[str, str],
    timeout_s: float,
    limits: HttpLimits,
    deadline: _Deadline,
) -> tuple[int, bytes, CaseInsensitiveDict[str]]:
    """One try: the answer to ``url`` after the redirects the policy allows."""
    current = url
    for _ in range(limits.max_redirects + 1):
        remaining = deadline.remaining()
        if remaining <= 0:
            raise _late(url, limits)
        per_read = min(timeout_s, remaining)
        resp = session.get(
            current, headers=headers, timeout=(per_read, per_read), stream=True, allow_redirects=False
        )
        connection = getattr(resp.raw, "connection", None)  # for sessions not made by make_session
        deadline.watch(getattr(connection, "sock", None))
        try:
            if resp.status_code in REDIRECT_STATUSES:
                location = resp.headers.get("Location")
                if not location:
                    raise FetchError(f"GET {current} answered HTTP {resp.status_code} without a Location")
                target = urljoin(current, location)
                why = limits.refusal(url, target)
                if why:
                    raise FetchRefused(
                        f"GET {url}: redirected to {target}: {why}; refused (ECOCLOUD_HTTP_REDIRECT_HOSTS)"
                    )
                current = target
                continue
            if resp.status_code == 304:
                return 304, b"", resp.headers
            if resp.status_code != 200:
                excerpt = resp.raw.read(200, decode_content=False)
                raise _StatusError(resp.status_code, excerpt, _retry_after(resp.headers.get("Retry-After")))
            return 200, _read_body(resp, current, limits, deadline), resp.headers
        finally:
            resp.close()
    raise FetchRefused(f"GET {url}: more than {limits.max_redirects} redirects; refused")


def _read_body(resp: requests.Response, url: str, limits: HttpLimits, deadline: _Deadline) -> bytes:
    """The body, inflated when encoded, never more than ``limits.max_bytes``."""
    encoding = resp.headers.get("Content-Encoding", "").strip().lower()
    inflater = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = Inflater("deflate" if encoding == "deflate" else "gzip", max_bytes=limits.max_bytes)
    elif encoding not in ("", "identity"):
        raise FetchRefused(f"GET {url}: Content-Encoding {encoding!r} is not supported (we ask for gzip)")
    too_big = f"GET {url}: the answer exceeds {limits.max_bytes} bytes (ECOCLOUD_HTTP_MAX_BYTES); refused"
    declared = resp.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise FetchRefused(f"{too_big} (Content-Length {declared})")
    body = bytearray()
    received = 0
    try:
        for chunk in resp.raw.stream(_CHUNK, decode_content=False):
            received += len(chunk)
            body += inflater.feed(chunk) if inflater else chunk
            if received > limits.max_bytes or len(body) > limits.max_bytes:
                raise FetchRefused(too_big)
        if inflater:
            inflater.finish()
    except InflateError as exc:
        if deadline.expired:
            raise _late(url, limits) from exc
        raise FetchRefused(f"GET {url}: {exc}") from exc
    if deadline.expired:  # a body read until the server closed looks complete when we cut it
        raise _late(url, limits)
    return bytes(body)


def _retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
