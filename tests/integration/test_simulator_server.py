"""The upstream simulator over real HTTP on loopback: validators, 304, 404, a growing day file, 503s."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ecocloud.simulator.air import generate_day, generate_day_labeled, station_list_csv
from ecocloud.simulator.province import jiangxi_stations
from ecocloud.simulator.server import RunningSimulator, running_simulator

pytestmark = pytest.mark.integration

START = dt.date(2026, 2, 20)
NOW = dt.datetime(2026, 2, 25, 10, 30)  # Beijing
SEED = 4


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(start_date=START, days=10, seed=SEED, now=NOW) as running:
        yield running


def url(sim: RunningSimulator, date: dt.date) -> str:
    return f"{sim.base_url}/air/china_sites_{date:%Y%m%d}.csv"


def rows_of(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def hours_in(content: bytes) -> list[int]:
    return sorted({int(r[1]) for r in rows_of(content)[1:]})


def test_serves_on_an_ephemeral_loopback_port(sim: RunningSimulator) -> None:
    assert sim.port > 0
    assert sim.base_url == f"http://127.0.0.1:{sim.port}"
    assert requests.get(f"{sim.base_url}/healthz", timeout=5).status_code == 200


def test_station_list(sim: RunningSimulator) -> None:
    r = requests.get(f"{sim.base_url}/air/station_list.csv", timeout=5)
    assert r.status_code == 200
    assert r.content == station_list_csv(jiangxi_stations(SEED))
    assert r.headers["Content-Length"] == str(len(r.content))
    assert r.headers["ETag"].startswith('"')
    assert r.headers["Last-Modified"].endswith("GMT")
    assert r.headers["Content-Type"].startswith("text/csv")


def test_past_day_is_complete_with_validators(sim: RunningSimulator) -> None:
    day = dt.date(2026, 2, 23)
    r = requests.get(url(sim, day), timeout=5)
    assert r.status_code == 200
    assert r.content == generate_day(day, jiangxi_stations(SEED), seed=SEED)
    assert r.headers["Content-Length"] == str(len(r.content))
    labels = generate_day_labeled(day, jiangxi_stations(SEED), seed=SEED)[1]
    assert hours_in(r.content) == list(labels.hours)
    assert len(labels.hours) + len(labels.dropped_hours) == 24
    # Last-Modified: publication of the last hour in the file (Beijing → GMT)
    last = dt.datetime.combine(day, dt.time(labels.hours[-1])) - dt.timedelta(hours=8)
    assert r.headers["Last-Modified"] == last.strftime("%a, %d %b %Y %H:%M:%S GMT")


def test_conditional_requests(sim: RunningSimulator) -> None:
    target = url(sim, dt.date(2026, 2, 22))
    first = requests.get(target, timeout=5)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]

    r = requests.get(target, headers={"If-None-Match": etag}, timeout=5)
    assert r.status_code == 304 and r.content == b"" and r.headers["ETag"] == etag
    assert requests.get(target, headers={"If-None-Match": f'"x", W/{etag}'}, timeout=5).status_code == 304
    assert requests.get(target, headers={"If-None-Match": "*"}, timeout=5).status_code == 304
    assert requests.get(target, headers={"If-Modified-Since": modified}, timeout=5).status_code == 304

    stale = requests.get(
        target, headers={"If-None-Match": '"stale"', "If-Modified-Since": modified}, timeout=5
    )
    assert stale.status_code == 200 and stale.content == first.content  # If-None-Match wins
    older = "Sat, 21 Feb 2026 00:00:00 GMT"
    assert requests.get(target, headers={"If-Modified-Since": older}, timeout=5).status_code == 200


def test_head(sim: RunningSimulator) -> None:
    target = url(sim, dt.date(2026, 2, 21))
    head = requests.head(target, timeout=5)
    get = requests.get(target, timeout=5)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(get.content))
    assert head.headers["ETag"] == get.headers["ETag"]


@pytest.mark.parametrize(
    "path",
    [
        "/air/china_sites_20260219.csv",  # before the simulated range
        "/air/china_sites_20260302.csv",  # after it
        "/air/china_sites_20260226.csv",  # in range, but after the simulated now
        "/air/china_sites_20261399.csv",  # not a date
        "/air/china_sites_2026022.csv",
        "/air/nothing.csv",
        "/water/anything",
    ],
)
def test_not_found(sim: RunningSimulator, path: str) -> None:
    r = requests.get(sim.base_url + path, timeout=5)
    assert r.status_code == 404
    assert r.headers["Content-Length"] == str(len(r.content))


def test_the_current_day_grows_with_the_clock() -> None:
    day = dt.date(2026, 2, 25)
    with running_simulator(start_date=START, days=10, seed=SEED, now=dt.datetime(2026, 2, 25, 3, 10)) as sim:
        first = requests.get(url(sim, day), timeout=5)
        assert first.status_code == 200
        assert max(hours_in(first.content)) <= 3

        validators = {"If-None-Match": first.headers["ETag"]}
        assert requests.get(url(sim, day), headers=validators, timeout=5).status_code == 304

        sim.clock.advance(dt.timedelta(hours=5))  # 08:10
        grown = requests.get(url(sim, day), headers=validators, timeout=5)
        assert grown.status_code == 200
        assert grown.headers["ETag"] != first.headers["ETag"]
        assert grown.headers["Last-Modified"] != first.headers["Last-Modified"]
        assert 3 < max(hours_in(grown.content)) <= 8
        # the rows already published stay as they were: the new file extends the old one
        old_rows = rows_of(first.content)
        assert rows_of(grown.content)[: len(old_rows)] == old_rows

        assert requests.get(url(sim, day + dt.timedelta(1)), timeout=5).status_code == 404
        sim.clock.set(dt.datetime(2026, 2, 26, 0, 5))
        full = requests.get(url(sim, day), timeout=5)
        labels = generate_day_labeled(day, jiangxi_stations(SEED), seed=SEED)[1]
        assert full.content == generate_day(day, jiangxi_stations(SEED), seed=SEED)
        assert hours_in(full.content) == list(labels.hours)
        assert requests.get(url(sim, day + dt.timedelta(1)), timeout=5).status_code == 200


def test_injected_503_then_success() -> None:
    with running_simulator(start_date=START, days=3, seed=SEED, now=NOW, fail_first=2) as sim:
        target = url(sim, START)
        assert requests.get(target, timeout=5).status_code == 503
        assert requests.get(target, timeout=5).status_code == 503
        assert requests.get(target, timeout=5).status_code == 200
        assert sim.app.hits("/air/china_sites_20260220.csv") == [503, 503, 200]

        # per path: another file fails twice too; a client with retries gets through
        session = requests.Session()
        retry = Retry(total=3, backoff_factor=0, status_forcelist=(503,), allowed_methods=frozenset({"GET"}))
        session.mount("http://", HTTPAdapter(max_retries=retry))
        r = session.get(f"{sim.base_url}/air/station_list.csv", timeout=5)
        assert r.status_code == 200
        assert sim.app.hits("/air/station_list.csv") == [503, 503, 200]

        sim.app.inject_failures(1, status=500, paths=r"china_sites_")
        assert requests.get(target, timeout=5).status_code == 500
        assert requests.get(target, timeout=5).status_code == 200
        assert requests.get(f"{sim.base_url}/air/station_list.csv", timeout=5).status_code == 200


def test_concurrent_clients_get_the_same_bytes(sim: RunningSimulator) -> None:
    target = url(sim, dt.date(2026, 2, 24))
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: requests.get(target, timeout=10), range(16)))
    assert {r.status_code for r in answers} == {200}
    assert len({r.content for r in answers}) == 1


def test_stop_frees_the_port() -> None:
    with running_simulator(start_date=START, days=1, now=NOW) as sim:
        session = requests.Session()  # keep-alive connection open while stopping
        assert session.get(f"{sim.base_url}/healthz", timeout=5).status_code == 200
        base = sim.base_url
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/healthz", timeout=2)
    sim.stop()  # idempotent
