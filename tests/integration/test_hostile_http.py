"""Hostile upstreams over real HTTP on loopback: each reply a server should not send, and what we do.

One ``http.server`` in a thread serves every hostile reply (a route per path): oversized bodies,
gzip bombs, trickled bodies and headers, redirects to other hosts and in loops, Retry-After beyond
the deadline, a paged API that never ends, listings naming files outside the raw zone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import threading
import time
import types
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ecocloud.settings import Settings
from ingest.air.fetch import land_location, raw_bytes
from ingest.air.parse import AirFileError
from ingest.credit import fetch as credit_fetch
from ingest.http import FetchError, FetchRefused, HttpLimits, fetch, make_session
from ingest.listing import ListingError
from ingest.permits.fetch import PagingError, fetch_pages
from ingest.water.fetch import fetch_board
from warehouse.ledger import Ledger

Route = Callable[[BaseHTTPRequestHandler], None]
MiB = 2**20
SMALL = HttpLimits(max_bytes=1 * MiB, deadline_s=2.0)


class Upstream:
    """A loopback HTTP server whose replies are set per path by the test."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                upstream.hits[path] += 1
                route = upstream.routes.get(path)
                if route is None:
                    self.send_error(404)
                    return
                # the client giving up on us is the point of most routes
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    route(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    up = Upstream()
    try:
        yield up
    finally:
        up.server.shutdown()
        up.server.server_close()


def reply(status: int, body: bytes = b"", **headers: str) -> Route:
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k.replace("_", "-"), v)
        if "Content_Length" not in headers:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return route


def gzip_bomb(mib: int, head: bytes = b"") -> bytes:
    """gzip of ``head`` + ``mib`` MiB of zeros, built without holding the inflated bytes."""
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * MiB
    return co.compress(head) + b"".join(co.compress(zeros) for _ in range(mib)) + co.flush()


def session(limits: HttpLimits = SMALL, retries: int = 0) -> Any:
    return make_session(retries, 0.01, limits=limits)


# -------------------------------------------------------------------------------- size and gzip
@pytest.mark.timeout(30)  # only against hanging: a client reading the body would wait for it for 10 min
def test_a_declared_oversized_body_is_refused_before_reading(upstream: Upstream) -> None:
    """The body is held back until the client has answered, and nothing else ends the wait (deadline
    and per-read timeout 10 min): a client that read any of the body before refusing would hang."""
    release, body_sent = threading.Event(), threading.Event()

    def huge(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(10 * 2**30))
        h.end_headers()
        h.wfile.flush()
        release.wait(60)
        body_sent.set()
        h.wfile.write(b"x" * 1000)

    upstream.routes["/huge"] = huge
    patient = HttpLimits(max_bytes=MiB, deadline_s=600.0)
    try:
        with pytest.raises(FetchRefused, match=r"exceeds 1048576 bytes .*Content-Length 10737418240"):
            fetch(session(patient), upstream.url("/huge"), timeout_s=600)
        assert not body_sent.is_set()  # refused on the headers alone
    finally:
        release.set()


def test_an_unannounced_endless_body_is_cut_at_the_cap(upstream: Upstream) -> None:
    def endless(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.end_headers()  # no Content-Length: the body runs until the server closes (HTTP/1.0)
        for _ in range(64):
            h.wfile.write(b"\0" * MiB)

    upstream.routes["/endless"] = endless
    with pytest.raises(FetchRefused, match="exceeds 1048576 bytes"):
        fetch(session(), upstream.url("/endless"), timeout_s=5)


def test_a_gzip_bomb_is_refused_without_inflating_it(upstream: Upstream) -> None:
    upstream.routes["/bomb"] = reply(200, gzip_bomb(64), Content_Encoding="gzip")  # ~64 KB on the wire
    with pytest.raises(FetchRefused, match="inflates beyond 1048576 bytes"):
        fetch(session(), upstream.url("/bomb"), timeout_s=5)


def test_gzip_content_encoding_is_inflated(upstream: Upstream) -> None:
    text = "监测点编码,监测点名称\n".encode() * 1000
    upstream.routes["/gz"] = reply(200, gzip.compress(text), Content_Encoding="gzip", ETag='"v1"')
    got = fetch(session(), upstream.url("/gz"), timeout_s=5)
    assert got.content == text and got.etag == '"v1"'


def test_an_encoding_we_did_not_ask_for_is_refused(upstream: Upstream) -> None:
    upstream.routes["/br"] = reply(200, b"\x1b\x00\x00", Content_Encoding="br")
    with pytest.raises(FetchRefused, match="Content-Encoding 'br'"):
        fetch(session(), upstream.url("/br"), timeout_s=5)


def test_a_gzipped_day_file_bomb_is_landed_raw_and_refused_when_inflated(
    upstream: Upstream, tmp_path: Path
) -> None:
    """Air day files arrive as .gz and are inflated by us (ingest/air/fetch.py raw_bytes)."""
    bomb = gzip_bomb(64, b"date,hour,type\n")
    upstream.routes["/air/china_sites_20260301.csv.gz"] = reply(200, bomb)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    obj = land_location(
        tmp_path / "lake", ledger, upstream.url("/air/china_sites_20260301.csv.gz"), session=session()
    )
    assert obj is not None and obj.size == len(bomb)  # the raw zone keeps the exact bytes
    with pytest.raises(AirFileError, match="inflates beyond 1048576 bytes") as refused:
        raw_bytes(tmp_path / "lake", obj.raw_path, max_bytes=MiB)
    assert refused.value.reason == "unreadable_file"  # the day's quarantine row says so


# ---------------------------------------------------------------------------- time: the deadline
class Trickle:
    """A route writing ``head`` then one byte of ``unit`` every 0.1 s, ``n`` times (10 s in all, every
    write well inside the client's 5 s per-read timeout): ``sent`` counts the bytes written before the
    route ended, ``cut`` whether it ended because the client had hung up."""

    def __init__(self, head: Callable[[BaseHTTPRequestHandler], None], unit: bytes, n: int = 100) -> None:
        self.head, self.unit, self.n = head, unit, n
        self.sent = 0
        self.cut = False
        self.done = threading.Event()

    def __call__(self, h: BaseHTTPRequestHandler) -> None:
        try:
            self.head(h)
            for _ in range(self.n):
                h.wfile.write(self.unit)
                h.wfile.flush()
                self.sent += 1
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            self.cut = True
        finally:
            self.done.set()

    def wait(self) -> None:
        """Until the route has ended: a client that hung up is noticed at the next write or two."""
        assert self.done.wait(30), "the route is still writing"


def test_a_trickled_body_is_cut_at_the_total_deadline(upstream: Upstream) -> None:
    def head(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100")
        h.end_headers()

    trickle = upstream.routes["/trickle"] = Trickle(head, b"x")
    with pytest.raises(FetchRefused, match="within the 1 s deadline"):
        fetch(session(HttpLimits(deadline_s=1.0)), upstream.url("/trickle"), timeout_s=5)
    trickle.wait()
    # the client hung up mid-body: the deadline shut its socket; it did not read the body to its end
    assert trickle.cut and 0 < trickle.sent < 100, (trickle.cut, trickle.sent)


def test_trickled_headers_are_cut_at_the_total_deadline(upstream: Upstream) -> None:
    def head(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")

    trickle = upstream.routes["/trickle-headers"] = Trickle(head, b"a")
    with pytest.raises(FetchRefused, match="within the 1 s deadline"):
        fetch(session(HttpLimits(deadline_s=1.0)), upstream.url("/trickle-headers"), timeout_s=5)
    trickle.wait()
    assert trickle.cut and trickle.sent < 100, (trickle.cut, trickle.sent)  # hung up mid-header


def test_retry_after_beyond_the_deadline_fails_at_once(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.http

    slept: list[float] = []  # fetch's back-off sleeps, recorded instead of slept
    clock = types.SimpleNamespace(monotonic=time.monotonic, time=time.time, sleep=slept.append)
    monkeypatch.setattr(ingest.http, "time", clock)
    upstream.routes["/later"] = reply(503, b"busy", Retry_After="3600")
    with pytest.raises(FetchRefused, match=r"5 s deadline \(last: HTTP 503; next try in 3600 s\)"):
        fetch(session(HttpLimits(deadline_s=5.0), retries=3), upstream.url("/later"), timeout_s=5)
    assert (upstream.hits["/later"], slept) == (1, [])  # one request, no wait, no retry


def test_transient_failures_are_still_retried(upstream: Upstream) -> None:
    served = iter([reply(503, b"busy", Retry_After="0"), reply(502), reply(200, b"ok")])

    def flaky(h: BaseHTTPRequestHandler) -> None:
        next(served)(h)

    upstream.routes["/flaky"] = flaky
    assert fetch(session(retries=3), upstream.url("/flaky"), timeout_s=5).content == b"ok"
    upstream.routes["/down"] = reply(503)
    with pytest.raises(FetchError, match="failed after 2 retries: HTTP 503"):
        fetch(session(retries=2), upstream.url("/down"), timeout_s=5)


def test_validators_still_give_a_304(upstream: Upstream) -> None:
    def conditional(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-None-Match") == '"v7"':
            reply(304)(h)
        else:
            reply(200, b"data", ETag='"v7"')(h)

    upstream.routes["/cond"] = conditional
    first = fetch(session(), upstream.url("/cond"), timeout_s=5)
    again = fetch(session(), upstream.url("/cond"), timeout_s=5, etag=first.etag)
    assert (first.status, first.content, again.status, again.content) == (200, b"data", 304, b"")


# -------------------------------------------------------------------------------------- redirects
def test_a_redirect_to_another_host_is_refused_unless_allowed(upstream: Upstream) -> None:
    upstream.routes["/ok"] = reply(200, b"landed")
    upstream.routes["/elsewhere"] = reply(302, Location=upstream.url("/ok", host="localhost"))
    with pytest.raises(FetchRefused, match="'localhost' is another host"):
        fetch(session(), upstream.url("/elsewhere"), timeout_s=5)
    allowed = HttpLimits(redirect_hosts=frozenset({"localhost"}))
    assert fetch(session(allowed), upstream.url("/elsewhere"), timeout_s=5).content == b"landed"


def test_a_same_host_redirect_is_followed_and_a_loop_is_not(upstream: Upstream) -> None:
    upstream.routes["/ok"] = reply(200, b"landed")
    upstream.routes["/moved"] = reply(301, Location="/ok")
    assert fetch(session(), upstream.url("/moved"), timeout_s=5).content == b"landed"
    upstream.routes["/loop"] = reply(302, Location="/loop")
    before = upstream.hits["/loop"]
    with pytest.raises(FetchRefused, match="more than 5 redirects"):
        fetch(session(), upstream.url("/loop"), timeout_s=5)
    assert upstream.hits["/loop"] - before == 6


def test_a_redirect_out_of_http_is_refused(upstream: Upstream) -> None:
    upstream.routes["/to-file"] = reply(302, Location="file:///etc/passwd")
    with pytest.raises(FetchRefused, match="scheme 'file'"):
        fetch(session(), upstream.url("/to-file"), timeout_s=5)


def test_https_to_http_is_a_downgrade() -> None:
    assert (
        HttpLimits().refusal("https://a.example/x", "http://a.example/y") == "a downgrade from https to http"
    )
    assert HttpLimits().refusal("http://a.example/x", "https://a.example/y") is None


# ------------------------------------------------------------------------------------ page caps
def test_a_permit_api_that_always_has_more_pages_is_not_followed_forever(upstream: Upstream) -> None:
    def endless_pages(h: BaseHTTPRequestHandler) -> None:
        page = int(parse_qs(urlsplit(h.path).query)["page"][0])
        at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=page)
        record = {"permitNo": f"P{page:06d}", "version": 1, "updatedAt": at.isoformat()}
        if upstream.hits["/permits/api/v1/permits"] > 200:
            reply(500)(h)  # a safety stop for the test itself
            return
        body = {"code": 0, "page": page, "total": 10**9, "totalPages": page + 1, "records": [record]}
        reply(200, json.dumps(body).encode())(h)

    upstream.routes["/permits/api/v1/permits"] = endless_pages
    with pytest.raises(PagingError, match="more than the 20 we follow"):
        fetch_pages(session(), upstream.url("/permits"), updated_since=None, page_size=1, max_pages=20)
    assert upstream.hits["/permits/api/v1/permits"] == 20


def test_a_permit_api_announcing_absurd_pages_is_refused_at_page_one(upstream: Upstream) -> None:
    upstream.routes["/huge-permits/api/v1/permits"] = reply(
        200,
        json.dumps(
            {"code": 0, "total": 10**9, "totalPages": 10**7, "records": [{"permitNo": "P1", "version": 1}]}
        ).encode(),
    )
    with pytest.raises(PagingError, match="says 10000000 pages"):
        fetch_pages(session(), upstream.url("/huge-permits"), updated_since=None)
    assert upstream.hits["/huge-permits/api/v1/permits"] == 1


def test_a_water_board_announcing_absurd_pages_is_refused_at_page_one(
    upstream: Upstream, tmp_path: Path
) -> None:
    upstream.routes["/water/Publish.ashx"] = reply(200, json.dumps({"total": 10**6, "rows": []}).encode())
    with pytest.raises(FetchRefused, match="says 1000000 pages, more than the 500"):
        fetch_board(
            tmp_path / "lake", Ledger(tmp_path / "l.sqlite"), upstream.url("/water"), session=session()
        )
    assert upstream.hits["/water/Publish.ashx"] == 1
    assert not (tmp_path / "lake").exists()  # nothing landed


# ------------------------------------------------------------------------ listings and raw paths
HOSTILE_NAMES = [
    "../../../escaped.xlsx",
    "/tmp/absolute.xlsx",
    "..\\..\\backslash.xlsx",
    "nul\x00byte.xlsx",
    ".xlsx",  # empty once the suffix is taken off
    "  .xlsx",
    "sub/dir.xlsx",
    "C:evil.xlsx",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_listing_naming_files_outside_the_raw_zone_is_refused(
    upstream: Upstream, tmp_path: Path, name: str
) -> None:
    upstream.routes["/credit/f.xlsx"] = reply(200, b"PK\x03\x04 not really")
    entries = [{"name": "jiangxi_credit_2025.xlsx", "url": "f.xlsx"}, {"name": name, "url": "f.xlsx"}]
    upstream.routes["/credit/index.json"] = reply(200, json.dumps({"files": entries}).encode())
    with pytest.raises(ListingError, match=r"unsafe entries: '.*': "):
        credit_fetch.discover(upstream.url("/credit"), session=session())


ODD_BUT_PLAIN = [
    "江西省2025年度企业环境信用评价结果.xlsx",
    "a..b.xlsx",
    "%2e%2e%2fx.xlsx",
    "~x.xlsx",
    "名" * 120 + ".xlsx",
]


def test_every_landed_path_of_a_listing_stays_in_the_raw_zone(upstream: Upstream, tmp_path: Path) -> None:
    entries = []
    for i, name in enumerate(ODD_BUT_PLAIN):
        upstream.routes[f"/odd/f{i}.xlsx"] = reply(200, f"bytes {i}".encode())
        entries.append({"name": name, "url": f"f{i}.xlsx", "province": "jiangxi", "year": 2025})
    upstream.routes["/odd/index.json"] = reply(200, json.dumps({"files": entries}).encode())
    lake, ledger = tmp_path / "lake", Ledger(tmp_path / "l.sqlite")
    found = credit_fetch.discover(upstream.url("/odd"), session=session())
    landed = [credit_fetch.land_file(lake, ledger, item, session=session()) for item in found]
    assert len([o for o in landed if o]) == len(ODD_BUT_PLAIN)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.parent != tmp_path]
    assert len(files) == len(ODD_BUT_PLAIN)
    assert all(p.resolve().is_relative_to((lake / "raw" / "credit").resolve()) for p in files)
    names = sorted(o.logical_name for o in ledger.raw_objects("credit"))  # the manifest keeps them as sent
    assert names == sorted(item.logical_name for item in found)
    assert all(any(n.endswith(odd) for n in names) for odd in ODD_BUT_PLAIN)


def test_a_listing_pointing_at_another_host_is_refused(upstream: Upstream) -> None:
    entries = [{"name": "a.xlsx", "url": upstream.url("/credit/f.xlsx", host="localhost")}]
    upstream.routes["/other/index.json"] = reply(200, json.dumps({"files": entries}).encode())
    with pytest.raises(ListingError, match="'localhost' is another host"):
        credit_fetch.discover(upstream.url("/other/index.json"), session=session())


def test_a_file_url_whose_name_climbs_out_is_refused(upstream: Upstream) -> None:
    with pytest.raises(ListingError, match="path separator"):
        credit_fetch.discover(upstream.url("/credit/..%2F..%2Fescaped.xlsx"), session=session())


def test_the_settings_give_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOCLOUD_HTTP_MAX_BYTES", "1000")
    monkeypatch.setenv("ECOCLOUD_HTTP_DEADLINE_S", "7.5")
    monkeypatch.setenv("ECOCLOUD_HTTP_REDIRECT_HOSTS", "cdn.example.org, Mirror.Example.org")
    assert Settings().http_limits() == HttpLimits(
        max_bytes=1000, deadline_s=7.5, redirect_hosts=frozenset({"cdn.example.org", "mirror.example.org"})
    )
