"""Platform state shared across machines: the ledger in PostgreSQL, real concurrent processes.

* two workers publishing different partitions of one table at once, through the runner, lose no
  part and duplicate none: the ledger's parts, the lake's files and the rows agree;
* two receivers with different ids on one landing zone never collide, and `ecocloud run
  pollution_sources` — run twice at once while they are still receiving, and once after — ingests
  every acknowledged packet exactly once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import REPO, ecocloud_bin, outside_env

from ecocloud.settings import Settings
from ingest.hj212.protocol import Packet, build_packet, parse_line
from schemas.clock import BEIJING
from warehouse.ledger import Ledger

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
SPAWN = multiprocessing.get_context("spawn")


def _packet(mn: str, when: dt.datetime, n: int) -> bytes:
    return build_packet(
        qn=f"{when:%Y%m%d%H%M%S}{n % 1000:03d}", st="32", cn="2011", mn=mn, flag=5, data_time=when,
        items={"w01018": {"Rtd": 30.0 + n % 50, "Flag": "N"}},
    )  # fmt: skip


def _query(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(settings.duckdb_file), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# -------------------------------------------------------------- two workers, different partitions
def _worker(settings: Settings, build: str, batch: list[Any], barrier: Any) -> list[str]:
    """A runner worker on its own machine: one batch of units of one build (the runner's worker
    entry point, the one its forked build workers run), started at the same moment as the other."""
    from ecocloud.runner import engine
    from ecocloud.runner.context import RunInfo

    barrier.wait(60)
    reports = engine._run_batch_job((settings, "source", build, RunInfo.cli(f"worker-{os.getpid()}"), batch))
    return [r.status for r in reports]


def _split_pending(settings: Settings, build: str) -> list[list[Any]]:
    """The build's units, dealt to two workers: each gets other days (other partitions)."""
    from ecocloud.runner.context import RunInfo, StepContext
    from ecocloud.runner.engine import resolve
    from ecocloud.specs import get_spec

    ledger = Ledger(settings.state_url)
    try:
        ctx = StepContext(settings, ledger, RunInfo.cli("plan"), f"source.{build}")
        units = list(resolve(get_spec("source").build(build).steps)().plan(ctx))
    finally:
        ledger.close()
    return [units[0::2], units[1::2]]


def _run_two_workers(settings: Settings, build: str) -> list[list[str]]:
    batches = _split_pending(settings, build)
    barrier = SPAWN.Manager().Barrier(2)
    with SPAWN.Pool(2) as pool:
        return pool.starmap(_worker, [(settings, build, batch, barrier) for batch in batches])


def _parts_match_files(settings: Settings, ledger: Ledger, table: str) -> list[Any]:
    parts = ledger.parts(table)
    layer = table.split("_", 1)[0]
    on_disk = {
        (p.parent.name.removeprefix("date="), p.stem)
        for p in (settings.lake / layer / table).rglob("*.parquet")
    }
    assert {(p.partition, p.part) for p in parts} == on_disk, table  # no lost part, no stray file
    return parts


def test_two_workers_publishing_different_partitions_of_one_table_lose_and_duplicate_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    """Eight capture files, each of another day; two worker processes build and publish four each at
    the same moment (core tables: a part per input; then the marts: a partition per day), recording
    in one Postgres ledger."""
    from ecocloud.builds import sources
    from ecocloud.runner.engine import refresh_serving

    settings = Settings(home=tmp_path / "home", state_db_url=postgres_url)
    days = [dt.date(2026, 11, 1) + dt.timedelta(days=i) for i in range(8)]
    captures, expected_packets = [], 0
    for i, day in enumerate(days):
        start = dt.datetime.combine(day, dt.time(8), BEIJING)
        lines = [
            _packet(f"{0x888836 << 72 | i:024X}", start + dt.timedelta(minutes=m), m)
            for m in range(0, 240, 2)
        ]
        path = tmp_path / f"cap{i}-{day.isoformat()}.h212"
        path.write_bytes(b"".join(lines))
        captures.append(path)
        expected_packets += len(lines)
    ledger = Ledger(postgres_url)
    sources.land_captures(settings, ledger, captures)

    for build in ("core", "marts"):
        statuses = _run_two_workers(settings, build)
        assert [len(s) for s in statuses] == [4, 4] and {x for s in statuses for x in s} == {"published"}
    refresh_serving(settings)

    try:
        for table in ("core_source__packets", "core_source__readings"):
            parts = _parts_match_files(settings, ledger, table)
            assert sorted(p.partition for p in parts) == [d.isoformat() for d in days]  # one part per input
        for table in ("mart_source__hourly", "mart_source__daily"):
            parts = _parts_match_files(settings, ledger, table)
            assert sorted(p.partition for p in parts) == [d.isoformat() for d in days]  # one per day
            assert set(ledger.partition_versions(table)) == {d.isoformat() for d in days}
        built = [u for u in ledger.all_units() if u.build in ("source.core", "source.marts")]
        assert len(built) == 16 and {u.status for u in built} == {"published"}
        assert len({u.run_id for u in built}) == 4  # two workers, two builds
        ledger_rows = sum(p.rows for p in ledger.parts("core_source__packets"))
    finally:
        ledger.close()
    [(stored, distinct)] = _query(
        settings, "SELECT count(*), count(DISTINCT (mn, qn)) FROM core_source__packets"
    )
    assert stored == distinct == ledger_rows == expected_packets
    [(hours,)] = _query(settings, "SELECT count(*) FROM mart_source__hourly")
    assert hours == 8 * 4  # per logger (one a day) and hour 08-11, one pollutant


# ---------------------------------------------------- two receivers, one landing zone, exactly once
@contextmanager
def _receiver(landing: Path, receiver_id: str, log: Path) -> Iterator[int]:
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "ingest.hj212.receiver", "--landing-dir", str(landing)),
                *("--host", "127.0.0.1", "--port", "0", "--receiver-id", receiver_id),
                *(
                    "--rotate-seconds",
                    "0.5",
                    "--group-commit-ms",
                    "2",
                ),  # many segments: many chances to collide
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("LISTENING"), log.read_text()
        yield int(line.split()[2])
    finally:
        proc.send_signal(signal.SIGTERM)  # closes its open segments
        assert proc.wait(30) == 0, log.read_text()[-2000:]


async def _client(port: int, mn: str, first: int, count: int, done: Callable[[], bool]) -> tuple[int, int]:
    """One data logger: sends its packets ``first`` … ``first + count - 1`` (30 s of data time apart),
    one at a time, until ``done()``; returns the packets it sent and the 9014 acks it got."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = acks = 0
    # two days back: up to 5,100 packets 30 s apart all stay before their receipt (a packet dated over
    # an hour after it is quarantined as from a clock running ahead, and this test counts every ack)
    start = dt.datetime.now(BEIJING).replace(second=0, microsecond=0) - dt.timedelta(hours=48)
    for n in range(first, first + count):
        if done():
            break
        writer.write(_packet(mn, start + dt.timedelta(seconds=30 * n), n))
        sent += 1
        reply = parse_line(await asyncio.wait_for(reader.readuntil(b"\n"), 10))
        assert isinstance(reply, Packet)
        acks += reply.cn == "9014"
        await asyncio.sleep(0.02)  # spread over many segment rotations
    writer.close()
    await writer.wait_closed()
    return sent, acks


def _loggers(ports: list[int], first: int, count: int, done: Callable[[], bool] = lambda: False) -> int:
    """Three loggers per receiver at once; the acks they got (one for every packet sent)."""

    async def all_loggers() -> int:
        mns = [
            (port, f"{0x888837 << 72 | r * 100 + k:024X}") for r, port in enumerate(ports) for k in range(3)
        ]
        results = await asyncio.gather(*(_client(port, mn, first, count, done) for port, mn in mns))
        sent, acks = (sum(r[i] for r in results) for i in (0, 1))
        assert acks == sent  # every packet was valid, landed and acknowledged
        return acks

    return asyncio.run(all_loggers())


def _run_pollution_sources(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [ecocloud_bin(), "run", "pollution_sources"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_receivers_on_one_landing_zone_are_ingested_exactly_once(
    tmp_path: Path, postgres_url: str
) -> None:
    home = tmp_path / "home"
    env = outside_env()
    env |= {"ECOCLOUD_HOME": str(home), "ECOCLOUD_STATE_DB_URL": postgres_url}
    settings = Settings(home=home, state_db_url=postgres_url)
    landing = settings.hj212_landing
    with (
        _receiver(landing, "rxa", tmp_path / "rxa.log") as port_a,
        _receiver(landing, "rxb", tmp_path / "rxb.log") as port_b,
    ):
        acked = _loggers([port_a, port_b], first=0, count=100)
        # two runs at once (a DAG task on two workers, or a DAG task and a command) while the
        # receivers go on landing: each segment closed by then is ingested by one of them
        runs = [_run_pollution_sources(env) for _ in range(2)]
        acked += _loggers(
            [port_a, port_b], first=100, count=5000, done=lambda: all(r.poll() is not None for r in runs)
        )
        outputs = [r.communicate(timeout=600)[0] for r in runs]
        assert [r.returncode for r in runs] == [0, 0], outputs
    final = subprocess.run(
        [ecocloud_bin(), "run", "pollution_sources"],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert final.returncode == 0, final.stdout + final.stderr
    assert acked > 6 * 100 + 6 * 20  # landed during the concurrent runs as well

    segments = [p.name for p in landing.rglob("*.h212")]
    assert len(segments) == len(set(segments)) > 4  # rotated often, no name twice
    assert {name.split("-")[0] for name in segments} == {"rxa", "rxb"}, segments[:5]
    [(stored, distinct)] = _query(
        settings, "SELECT count(*), count(DISTINCT (mn, qn)) FROM core_source__packets"
    )
    assert stored == distinct == acked  # every acknowledged packet once: none lost, none twice
    ledger = Ledger(postgres_url)
    try:
        registered = ledger.raw_objects("hj212")  # receiver segments in the raw manifest
        units = ledger.unit_states("source.core")
    finally:
        ledger.close()
    assert len(registered) == len({o.raw_path for o in registered}) >= len(segments)
    assert set(units) == {f"segment/{o.raw_path}" for o in registered}
    assert {u.status for u in units.values()} == {"published"}
    assert len({u.run_id for u in units.values()}) >= 2  # the concurrent runs ingested, and the last one


def test_login_attempts_sent_at_once_count_each_other(state_url: str) -> None:
    """Twelve wrong passwords for one name from one client at once, three allowed: three are checked,
    nine throttled — on SQLite and on PostgreSQL (each attempt is recorded before its password is checked)."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from ecocloud.web.users import Throttled, UserStore

    store = UserStore(state_url, max_failures=3)
    store.add_user("ana", "long-enough-pw", "analyst")
    barrier = Barrier(12)

    def attempt(i: int) -> str:
        barrier.wait()
        try:
            return "refused" if store.authenticate("ana", f"wrong-{i}", "10.0.0.1") is None else "in"
        except Throttled:
            return "throttled"

    with ThreadPoolExecutor(12) as pool:
        outcomes = sorted(pool.map(attempt, range(12)))
    assert outcomes == ["refused"] * 3 + ["throttled"] * 9
    with pytest.raises(Throttled):  # the right password from that client waits for the window too
        store.authenticate("ana", "long-enough-pw", "10.0.0.1")
    store.engine.dispose()


@pytest.mark.parametrize("spread", ["clients", "names"])
def test_login_attempts_at_once_from_many_clients_or_for_many_names_count_each_other(
    state_url: str, spread: str
) -> None:
    """Twelve wrong passwords at once, one failure allowed per name and client: for one name from
    twelve clients the name's limit (10) holds, from one client for twelve names the client's (4)."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from ecocloud.web.users import CLIENT_FACTOR, NAME_FACTOR, Throttled, UserStore

    store = UserStore(state_url, max_failures=1)
    barrier = Barrier(12)

    def attempt(i: int) -> str:
        name, client = ("ana", f"10.0.0.{i}") if spread == "clients" else (f"user{i}", "10.0.0.1")
        barrier.wait()
        try:
            return "refused" if store.authenticate(name, "wrong-password", client) is None else "in"
        except Throttled:
            return "throttled"

    with ThreadPoolExecutor(12) as pool:
        outcomes = sorted(pool.map(attempt, range(12)))
    allowed = NAME_FACTOR if spread == "clients" else CLIENT_FACTOR
    assert outcomes == ["refused"] * allowed + ["throttled"] * (12 - allowed)
    store.engine.dispose()
