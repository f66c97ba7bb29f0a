"""The lake on S3: the air and HJ 212 specs run into ``s3://…`` on a real S3-protocol server (moto's
server mode on loopback) and into a ``file://`` lake, and every published table matches row for row;
serving views and ``ecocloud sql`` read the S3 lake with no DuckDB extension; an object written but
not published in the ledger (a crash between the two) is never read; a replaced part's object is
deleted by the serving refresh after the ledger has published its successor; `ecocloud risk` and the
report behind the /risk pages rank the risk marts of an S3 lake."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import os
import posixpath
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import outside_env
from moto.server import ThreadedMotoServer
from risk_data import MN_AIR, MN_WATER, D, air_hours, base_inputs, bj, hourly, series

from ecocloud.builds import air as air_steps
from ecocloud.builds import sources
from ecocloud.ports import free_port
from ecocloud.risk_export import to_json
from ecocloud.risk_report import RiskFilters, open_report
from ecocloud.runner import engine
from ecocloud.runner.context import RunInfo, read_published
from ecocloud.settings import Settings
from ecocloud.simulator.air import generate_day, station_list_csv
from ecocloud.simulator.province import jiangxi_stations
from ecocloud.specs import get_spec
from ingest.hj212.protocol import build_packet
from ingest.hj212.segments import SegmentWriter
from schemas import air as air_schema
from schemas.clock import BEIJING
from schemas.registry import Table, get_table
from warehouse import lake as lk
from warehouse import results_rollup
from warehouse.catalog import RESULTS_TABLE
from warehouse.fs import NotLocalError, S3Lake
from warehouse.ledger import WHOLE, Ledger, Part, UnitState
from warehouse.serving import connect_readonly
from warehouse.sweep import listed_files, sweep, swept_tables

pytestmark = pytest.mark.integration

KEY = "ecocloud-test"
SECRET = "ecocloud-test-secret"
REGION = "us-east-1"
SIM_DAY = dt.date(2026, 3, 1)
MN = "88883600000000000000014D"


# -- the S3 server --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port, for this module."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name=REGION
    )


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    name = f"lake-{uuid.uuid4().hex[:12]}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name


def keys(endpoint: str, bucket: str, prefix: str) -> list[str]:
    pages = s3_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


# -- two homes: one lake on S3, one on local disk ---------------------------------------------------
@dataclass(frozen=True)
class Homes:
    s3: Settings
    file: Settings
    env: dict[str, str]  # the S3 home's environment, for `ecocloud` commands


@pytest.fixture
def homes(tmp_path: Path, s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch) -> Homes:
    for var in [v for v in os.environ if v.startswith("ECOCLOUD_")]:
        monkeypatch.delenv(var)
    s3_env = {
        "ECOCLOUD_HOME": str(tmp_path / "s3home"),
        "ECOCLOUD_LAKE_URL": f"s3://{bucket}/lake",
        "ECOCLOUD_S3_ENDPOINT_URL": s3_endpoint,
        "ECOCLOUD_S3_ACCESS_KEY_ID": KEY,
        "ECOCLOUD_S3_SECRET_ACCESS_KEY": SECRET,
        "ECOCLOUD_S3_REGION": REGION,
        # the object a part replaced is deleted by the refresh that ends its run: the tests count objects
        "ECOCLOUD_SERVING_RETIRED_GRACE_MINUTES": "0",
    }
    for name, value in s3_env.items():
        monkeypatch.setenv(name, value)
    s3 = Settings(workers=2)  # read from the environment, as every process does
    for name in s3_env:
        monkeypatch.delenv(name)
    file = Settings(
        home=tmp_path / "filehome",
        lake_url=(tmp_path / "filelake").as_uri(),
        workers=2,
        serving_retired_grace_minutes=0,
    )
    env = outside_env() | s3_env
    return Homes(s3, file, env)


# -- inputs ------------------------------------------------------------------------------------------
def simulator_air(folder: Path, hours: int) -> list[Path]:
    """The simulator's station list and one day file holding the first ``hours`` hours."""
    folder.mkdir(parents=True, exist_ok=True)
    stations = jiangxi_stations(7)
    listed = folder / "station_list.csv"
    listed.write_bytes(station_list_csv(stations))
    day = folder / f"china_sites_{SIM_DAY:%Y%m%d}.csv"
    day.write_bytes(generate_day(SIM_DAY, stations, seed=7, hours=range(hours)))
    return [listed, day]


def packet(when: dt.datetime, value: float, *, cn: str = "2011") -> bytes:
    stat = "Rtd" if cn == "2011" else "Avg"
    return build_packet(
        qn=when.strftime("%Y%m%d%H%M%S") + "000",
        st="32",
        cn=cn,
        mn=MN,
        flag=5,
        data_time=when,
        items={"w01018": {stat: value, "Flag": "N"}, "w00000": {stat: value / 10}},
    )


def at(hh: int, mm: int) -> dt.datetime:
    return dt.datetime(2026, 11, 20, hh, mm, tzinfo=BEIJING)


def synthetic_capture(folder: Path) -> Path:
    """A capture file: real-time and hourly packets of one outlet, and a line that is not HJ 212."""
    lines = [packet(at(h, m), 30.0 + h + m) for h in range(8, 11) for m in range(0, 60, 10)]
    lines += [packet(at(h, 0), 40.0 + h, cn="2061") for h in range(8, 11)] + [b"not a packet\r\n"]
    path = folder / "2026-11-20T08.h212.gz"
    path.write_bytes(gzip.compress(b"".join(lines), mtime=0))
    return path


class Clock:
    def __init__(self, t: dt.datetime) -> None:
        self.t = t.timestamp()

    def __call__(self) -> float:
        return self.t


def synthetic_segments(landing: Path) -> None:
    """Closed receiver segments, accepted and rejected lines, as ``ecocloud receive`` leaves them."""
    clock = Clock(at(12, 0))
    data = SegmentWriter(landing, "r1", rotate_seconds=10**9, clock=clock)
    rejects = SegmentWriter(
        landing.with_name(landing.name + "_quarantine"),
        "r1",
        kind="quarantine",
        rotate_seconds=10**9,
        clock=clock,
    )
    lines = [packet(at(12, m), 50.0 + m) for m in range(12)]
    data.write_batch([(clock.t, "ok", "10.1.1.1:4000", line) for line in lines])
    rejects.write_batch([(clock.t, "crc_mismatch", "10.1.1.1:4000", lines[0][:-6] + b"0000\r\n")])
    clock.t = at(12, 30).timestamp()
    data.close()
    rejects.close()


def copy_landing(segments: Path, settings: Settings) -> None:
    """The same closed segments (bytes and manifests) into the home's landing zone."""
    for folder in (segments, segments.with_name(segments.name + "_quarantine")):
        target = settings.hj212_landing.with_name(
            folder.name.replace(segments.name, settings.hj212_landing.name)
        )
        shutil.copytree(folder, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".receivers"))


# -- running -----------------------------------------------------------------------------------------
def run(settings: Settings, spec: str, land: Callable[[Settings, Ledger], Sequence[Any]]) -> Any:
    return engine.land_and_run(settings, get_spec(spec), land, RunInfo.cli("test-lake-s3"))


def air(settings: Settings, files: Sequence[Path]) -> Any:
    return run(settings, "air", lambda s, led: air_steps.land(s, led, [str(f) for f in files]))


def hj212(settings: Settings, captures: Sequence[Path]) -> Any:
    def land(s: Settings, led: Ledger) -> list[Any]:
        return sources.land_captures(s, led, captures) + sources.register_segments(s, led)

    return run(settings, "source", land)


def publish_tables(settings: Settings, led: Ledger, tables: Mapping[str, pa.Table]) -> list[str]:
    """Every partition of ``tables`` written to the lake and published in the ledger, as the builds
    of other specs leave them; returns the parts' paths."""
    now = dt.datetime.now(dt.UTC).isoformat()
    written = []
    for name, data in tables.items():
        table = get_table(name)
        column = table.partition_by
        days = sorted(set(data.column(column).to_pylist())) if column else [None]
        for day in days:
            rows = data.filter(pc.equal(data.column(column), day)) if column else data
            put = lk.write_part(settings.lake_store, table, rows, day)
            key = day.isoformat() if day else WHOLE
            unit = f"{name}/{key}"
            state = UnitState("test.inputs", unit, "fp", "published", {}, "test", "test", now, None)
            part = Part(
                name, key, put.part, "fp", "test.inputs", unit, rows.num_rows, put.size_bytes, "test", now
            )
            led.record_unit(state, written=[part])
            written.append(put.rel)
    return written


def spec_tables(*specs: str) -> list[Table]:
    names = dict.fromkeys(t for s in specs for b in get_spec(s).builds for t in b.outputs)
    return [get_table(n) for n in names]


def published(settings: Settings, tables: Sequence[Table]) -> dict[str, list[tuple[Any, ...]]]:
    """Every table as its serving view returns it, sorted by its primary key (then every column)."""
    con = connect_readonly(settings.duckdb_file, settings.lake_store)
    try:
        out = {}
        for t in tables:
            order = ", ".join(f'"{c}"' for c in dict.fromkeys([*t.primary_key, *t.column_names]))
            out[t.name] = con.execute(f'SELECT * FROM "{t.name}" ORDER BY {order}').fetchall()
        return out
    finally:
        con.close()


def part_rows(settings: Settings) -> dict[tuple[str, str], int]:
    """Rows per (table, partition) as the ledger lists the parts (part names differ: S3 versions them)."""
    led = Ledger(settings.state_url)
    try:
        out: dict[tuple[str, str], int] = {}
        for p in led.parts():
            if p.table_name != "quality_platform__expectation_results":
                out[p.table_name, p.partition] = out.get((p.table_name, p.partition), 0) + p.rows
        return out
    finally:
        led.close()


def ecocloud_sql(env: dict[str, str], query: str) -> subprocess.CompletedProcess[str]:
    return ecocloud_command(env, "sql", query, "--format", "csv")


def ecocloud_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    ecocloud = str(Path(sys.executable).parent / "ecocloud")
    return subprocess.run(
        [ecocloud, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_same_lakes(homes: Homes, tables: Sequence[Table]) -> dict[str, list[tuple[Any, ...]]]:
    on_s3, on_disk = published(homes.s3, tables), published(homes.file, tables)
    for t in tables:
        assert on_s3[t.name] == on_disk[t.name], t.name
    assert part_rows(homes.s3) == part_rows(homes.file)
    return on_s3


# -- tests -------------------------------------------------------------------------------------------
def test_air_and_hj212_on_s3_match_a_file_lake(
    homes: Homes, tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    inputs = tmp_path / "inputs"
    half_day = simulator_air(inputs / "half", hours=12)
    full_day = simulator_air(inputs / "full", hours=24)
    captures = [synthetic_capture(inputs)]
    synthetic_segments(inputs / "landing" / "hj212")
    for home in (homes.s3, homes.file):
        copy_landing(inputs / "landing" / "hj212", home)
        assert air(home, half_day).status == "published"
        assert hj212(home, captures).status == "published"
    tables = spec_tables("air", "source")
    rows = assert_same_lakes(homes, tables)
    for name in ("core_air__station_hourly", "core_air__stations", "mart_air__city_daily_ranking"):
        assert rows[name], f"{name} is empty: the comparison would prove nothing"
    for name in (
        "core_source__packets",
        "core_source__readings",
        "quarantine_source__packets",
        "mart_source__hourly",
    ):
        assert rows[name], f"{name} is empty: the comparison would prove nothing"
    segment = get_table("core_source__packets").column_names.index("segment")
    segments = {r[segment] for r in rows["core_source__packets"]}
    assert any(str(s).startswith("raw/hj212/date=") for s in segments)  # the segment copied into the lake

    # nothing of the S3 home's lake is on local disk; the bucket holds raw bytes, parts and segments
    with pytest.raises(NotLocalError):
        _ = homes.s3.lake
    assert not (homes.s3.root / "lake").exists()
    stored = keys(s3_endpoint, bucket, "lake/")
    assert any(k.startswith("lake/raw/air/date=2026-03-01/china_sites_20260301.") for k in stored)
    assert any(k.startswith("lake/raw/hj212/date=") and k.endswith(".h212") for k in stored)
    assert any(k.startswith("lake/raw/hj212/date=") and k.endswith(".h212.manifest.json") for k in stored)
    hourly_day = f"lake/core/core_air__station_hourly/date={SIM_DAY}/"
    first = [k for k in stored if k.startswith(hourly_day)]
    assert len(first) == 1 and first[0].startswith(hourly_day + "data.")

    # the day file grows: the partition is replaced by a new object, the old one deleted after the
    # serving refresh that ends the run
    for home in (homes.s3, homes.file):
        assert air(home, full_day).status == "published"
    rows = assert_same_lakes(homes, tables)
    observed = air_schema.station_hourly.column_names.index("observed_at")
    assert len({r[observed] for r in rows["core_air__station_hourly"]}) == 24
    second = keys(s3_endpoint, bucket, hourly_day)
    led = Ledger(homes.s3.state_url)
    try:
        listed = [p.part for p in led.parts("core_air__station_hourly", partition=SIM_DAY.isoformat())]
    finally:
        led.close()
    assert second == [f"{hourly_day}{listed[0]}.parquet"] and second != first

    # serving views and `ecocloud sql` over the S3 lake, through the same filesystem, no extension
    con = connect_readonly(homes.s3.duckdb_file, homes.s3.lake_store)
    try:
        count = con.execute("SELECT count(*) FROM core_air__station_hourly").fetchone()
        loaded = con.execute(
            "SELECT count(*) FROM duckdb_extensions() WHERE loaded AND extension_name = 'httpfs'"
        )
        assert loaded.fetchone() == (0,)
    finally:
        con.close()
    assert count == (len(rows["core_air__station_hourly"]),)
    got = ecocloud_sql(
        homes.env, "SELECT count(*) AS n, count(DISTINCT station_code) AS s FROM core_air__station_hourly"
    )
    code = air_schema.station_hourly.column_names.index("station_code")
    stations = len({r[code] for r in rows["core_air__station_hourly"]})
    assert got.returncode == 0, got.stderr
    assert got.stdout.split() == ["n,s", f"{count[0]},{stations}"]
    # the sandbox's allowed directories are the lake's table prefixes: not the raw zone, not the bucket
    refused = ecocloud_sql(homes.env, f"SELECT * FROM glob('s3://{bucket}/lake/raw/air/*/*')")
    assert refused.returncode != 0 and "lake's tables and nothing else" in refused.stderr + refused.stdout


def test_an_object_written_but_not_published_is_never_read(
    homes: Homes, tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    home = homes.s3
    assert air(home, simulator_air(tmp_path / "inputs", hours=6)).status == "published"
    table = air_schema.station_hourly
    led = Ledger(home.state_url)
    try:
        before = read_published(home.lake_store, led, table.name, SIM_DAY)
    finally:
        led.close()
    assert before.num_rows > 0
    # What a crash between the two steps of a publish leaves: the runner wrote the part objects (a
    # replacement of the day, and a new day), the ledger never recorded them.
    other_day = SIM_DAY + dt.timedelta(days=1)
    doubled = pa.concat_tables([before, before])
    moved = before.set_column(
        before.column_names.index("date"), "date", pa.array([other_day] * before.num_rows, pa.date32())
    )
    orphans = [
        lk.write_part(home.lake_store, table, doubled, SIM_DAY),
        lk.write_part(home.lake_store, table, moved, other_day),
    ]
    assert all(o.rel.endswith(".parquet") and home.lake_store.exists(o.rel) for o in orphans)
    assert isinstance(home.lake_store, S3Lake)

    # builds read the ledger's parts: unchanged; a rerun finds nothing pending and reads the same
    led = Ledger(home.state_url)
    try:
        assert read_published(home.lake_store, led, table.name, SIM_DAY).equals(before)
        assert read_published(home.lake_store, led, table.name, other_day).num_rows == 0
    finally:
        led.close()
    again = air(home, simulator_air(tmp_path / "inputs", hours=6))
    assert {u.status for u in again.units} == {"skipped"}
    # serving views (rebuilt now) and `ecocloud sql` list the ledger's parts, not the bucket
    engine.refresh_serving(home)
    got = ecocloud_sql(homes.env, "SELECT date, count(*) AS n FROM core_air__station_hourly GROUP BY date")
    assert got.returncode == 0, got.stderr
    assert got.stdout.split() == ["date,n", f"{SIM_DAY},{before.num_rows}"]

    # `ecocloud sweep` lists nothing within its grace period; past it, the sweep deletes exactly the
    # orphans, and the bucket's table folders then hold just the ledger's parts
    listing = ecocloud_command(homes.env, "sweep", "--delete")
    assert listing.returncode == 0, listing.stderr
    assert "no unlisted files older than 72 h" in listing.stdout
    led = Ledger(home.state_url)
    try:
        gone = sweep(
            home.lake_store, led.known_parts, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1), delete=True
        ).files
        assert sorted(u.rel for u in gone) == sorted(o.rel for o in orphans)
        in_folders = {rel for t in swept_tables() for rel in home.lake_store.glob(lk.table_pattern(t))}
        assert in_folders == listed_files(led.parts())
        assert read_published(home.lake_store, led, table.name, SIM_DAY).equals(before)
    finally:
        led.close()


@pytest.mark.realdata
def test_real_air_files_and_captures_on_s3_match_a_file_lake(homes: Homes, shared_data: Path) -> None:
    air_files = sorted((shared_data / "cnemc-air").iterdir())
    captures = [shared_data / "hj212-real" / "2016-08-24T05.h212.gz"]
    for home in (homes.s3, homes.file):
        assert air(home, air_files).status in ("published", "blocked")
        assert hj212(home, captures).status == "published"
    rows = assert_same_lakes(homes, spec_tables("air", "source"))
    assert len(rows["core_air__station_hourly"]) > 100_000
    assert len(rows["core_source__packets"]) > 8_000


def test_a_segment_never_overwrites_other_bytes_in_the_lake(homes: Homes) -> None:
    home = homes.s3
    synthetic_segments(home.hj212_landing)
    segment = next(home.hj212_landing.glob("date=*/*.h212"))
    target = f"raw/hj212/{segment.parent.name}/{segment.name}"
    home.lake_store.write_bytes(target, b"another receiver's bytes under the same name\n")
    led = Ledger(home.state_url)
    try:
        with pytest.raises(FileExistsError, match="receiver ids must be unique"):
            sources.register_segments(home, led)
        assert led.raw_objects(sources.SEGMENTS) == []
    finally:
        led.close()
    assert home.lake_store.read_bytes(target) == b"another receiver's bytes under the same name\n"
    home.lake_store.delete(target)  # the clash resolved: the segment is copied and registered
    led = Ledger(home.state_url)
    try:
        landed = sources.register_segments(home, led)
    finally:
        led.close()
    assert target in {o.raw_path for o in landed}
    assert home.lake_store.read_bytes(target) == segment.read_bytes()


def test_segments_land_under_raw_hj212_whatever_the_landing_folder_is_called(
    homes: Homes, tmp_path: Path, s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in homes.env.items():
        if name.startswith("ECOCLOUD_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("ECOCLOUD_HJ212_LANDING_DIR", str(tmp_path / "spool"))
    home = Settings(workers=2)
    synthetic_segments(home.hj212_landing)  # spool/ and spool_quarantine/, as the receiver leaves them
    led = Ledger(home.state_url)
    try:
        landed = sorted(o.raw_path for o in sources.register_segments(home, led))
        assert sources.register_segments(home, led) == []  # registered once
    finally:
        led.close()
    folders = {posixpath.dirname(posixpath.dirname(p)) for p in landed}
    assert folders == {"raw/hj212", "raw/hj212_quarantine"}, landed
    stored = keys(s3_endpoint, bucket, "lake/raw/")
    assert not [k for k in stored if k.startswith("lake/raw/spool")]
    assert {f"lake/{p}" for p in landed} <= set(stored)

    # moved to another folder, the receiver's segments are still known by the ledger: nothing lands twice
    moved = tmp_path / "moved" / "landing"
    shutil.copytree(home.hj212_landing, moved)
    shutil.copytree(sources.quarantine_dir(home), moved.with_name("landing_quarantine"))
    monkeypatch.setenv("ECOCLOUD_HJ212_LANDING_DIR", str(moved))
    led = Ledger(home.state_url)
    try:
        assert sources.register_segments(Settings(workers=2), led) == []
    finally:
        led.close()

    result = run(home, "source", sources.register_segments)
    assert result.status == "published"
    rows = published(home, [get_table("core_source__packets"), get_table("quarantine_source__packets")])
    assert len(rows["core_source__packets"]) == 12
    assert len(rows["quarantine_source__packets"]) == 1


def test_compaction_on_s3_replaces_the_part_objects_with_one(
    homes: Homes, s3_endpoint: str, bucket: str
) -> None:
    """The compact build on an S3 lake: three hourly segments' parts of a date become one object
    (named after its content), the rows are the same; the replaced objects, which the serving views
    listed until now, are deleted by the next serving refresh."""
    s3 = homes.s3
    for hour in (9, 10, 11):
        clock = Clock(at(hour, 0))
        writer = SegmentWriter(s3.hj212_landing, f"r{hour}", rotate_seconds=10**9, clock=clock)
        lines = [packet(at(hour, m), 20.0 + hour + m) for m in range(0, 60, 10)]
        writer.write_batch([(clock.t, "ok", "10.1.1.1:4000", line) for line in lines])
        clock.t = at(hour, 59).timestamp()
        writer.close()
    assert run(s3, "source", sources.register_segments).status == "published"
    day = dt.date(2026, 11, 20)
    table = get_table("core_source__readings")
    prefix = f"lake/core/{table.name}/date={day}/"

    def rows() -> pa.Table:
        led = Ledger(s3.state_url)
        try:
            return read_published(s3.lake_store, led, table.name, day).sort_by(
                [(c, "ascending") for c in table.primary_key]
            )
        finally:
            led.close()

    before = rows()
    assert len(keys(s3_endpoint, bucket, prefix)) == 3 and before.num_rows == 3 * 6 * 2
    s3.hj212_compact_after_hours = 0
    report = engine.run_spec(s3, get_spec("source"), RunInfo.cli("test-lake-s3"), builds=["compact"])
    assert {u.unit for u in report.of("compact") if u.status == "published"} >= {f"{table.name}/{day}"}
    assert rows().equals(before)
    assert len(keys(s3_endpoint, bucket, prefix)) == 4  # retired, not yet deleted
    con = connect_readonly(s3.duckdb_file, s3.lake_store)  # the views refreshed before the compaction
    try:
        assert con.execute(f'SELECT count(*) FROM "{table.name}"').fetchall() == [(before.num_rows,)]
    finally:
        con.close()
    engine.refresh_serving(s3)
    [stored] = keys(s3_endpoint, bucket, prefix)
    assert stored.startswith(prefix + "compact-")
    assert rows().equals(before)


def test_gate_results_of_a_closed_day_roll_up_into_one_object(
    homes: Homes, s3_endpoint: str, bucket: str
) -> None:
    """The serving refresh rolls up a closed day's gate results on S3 as on disk: one object holding
    every row, named in its footer's list of the objects it replaced."""
    lake, day = homes.s3.lake_store, dt.date(2026, 11, 20)
    results = get_table(RESULTS_TABLE)
    for run in ("run-a", "run-b"):
        row = {
            "validated_at": dt.datetime(2026, 11, 20, 3, tzinfo=dt.UTC),
            "gate_run_id": run,
            "build": "source.core",
            "unit": "capture/x",
            "table_name": "core_source__readings",
            "expectation": "expect_column_values_to_not_be_null",
            "severity": "blocking",
            "success": True,
            "published": True,
            "date": day,
        }
        rows = pa.Table.from_pylist(
            [{c: row.get(c) for c in results.column_names}], schema=results.arrow_schema(strict=False)
        )
        lk.write_part(lake, results, rows, day, part=f"{run}-source.core-0000")
    folder = f"lake/{lk.partition_prefix(results, day)}/"
    assert len(keys(s3_endpoint, bucket, folder)) == 2

    engine.refresh_serving(homes.s3.model_copy(update={"serving_retired_grace_minutes": 15}))

    listed = keys(s3_endpoint, bucket, folder)
    (rollup,) = [k for k in listed if k.rsplit("/", 1)[1].startswith(results_rollup.PREFIX)]
    assert len(listed) == 3  # the objects it holds stay for the serving grace: older files list them
    con = connect_readonly(homes.s3.duckdb_file, lake)
    try:
        got = con.execute(f'SELECT gate_run_id FROM "{RESULTS_TABLE}" ORDER BY 1').fetchall()
    finally:
        con.close()
    assert got == [("run-a",), ("run-b",)]  # counted once meanwhile
    engine.refresh_serving(homes.s3)  # the tests' grace: none
    assert keys(s3_endpoint, bucket, folder) == [rollup]


def test_risk_ranking_reads_the_risk_marts_on_s3(homes: Homes) -> None:
    """The risk spec on an S3 lake, then `ecocloud risk` and the report the /risk pages show: both
    open the serving file with the lake's filesystem (the views read s3:// parts)."""
    start = bj(D - dt.timedelta(days=1))
    so2 = [20.0] * 24 + [70.0] * 6 + [20.0] * 18  # over the permit's 35 mg/m³ for 6 hours on D
    water = series(MN_WATER, "w01018", start, [20.0] * 48) + series(MN_WATER, "w00000", start, [5.0] * 48)
    inputs = base_inputs(mart_source__hourly=hourly(air_hours(so2) + water))
    s3 = homes.s3
    assert run(s3, "risk", lambda s, led: publish_tables(s, led, inputs)).status == "published"

    got = ecocloud_command(homes.env, "risk", "--format", "json")
    assert got.returncode == 0, got.stderr
    ranked = json.loads(got.stdout)
    assert ranked["period"]["newest_day"] == D.isoformat()
    assert [o["mn"] for o in ranked["outlets"]] == [MN_WATER, MN_AIR]  # unpermitted before exceeding
    (exceeded,) = [e for e in ranked["evidence"] if e["category"] == "exceedance"]
    assert (exceeded["mn"], exceeded["date"], exceeded["hours"]) == (MN_AIR, D.isoformat(), 6)
    assert json.loads(to_json(open_report(s3, RiskFilters()))) == ranked
