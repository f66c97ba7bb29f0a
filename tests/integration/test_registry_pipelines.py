"""Permits, credit and master data against the running simulator over real HTTP, into a real lake.

Covers: API paging and ``updated_since``; retries on 503; the credit XLSX read through openpyxl; the
three pipelines and the join-quality report end to end in a temporary ECOCLOUD_HOME; an idempotent
rerun that leaves the lake byte-for-byte unchanged; the ``ecocloud`` commands.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests
from openpyxl import load_workbook
from typer.testing import CliRunner

from ecocloud.builds import credit, master, permits, sources
from ecocloud.cli import app
from ecocloud.runner.report import RunReport, UnitReport
from ecocloud.settings import Settings
from ecocloud.simulator.enterprises import simulated_sources
from ecocloud.simulator.server import RunningSimulator, running_simulator
from ingest.credit.parse import parse_credit_file
from ingest.hj212.protocol import build_packet
from ingest.http import make_session
from ingest.permits.fetch import fetch_pages
from ingest.permits.parse import parse_updated_at
from schemas.clock import BEIJING

ANCHOR = dt.date(2026, 11, 20)  # the simulator's "today": start + days - 1
BJ = dt.timezone(dt.timedelta(hours=8))
SOURCES = simulated_sources(0, ANCHOR)


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    # 09:00 on the anchor day: before the revocation (10:00), after the rename (3 days earlier)
    with running_simulator(
        start_date=ANCHOR - dt.timedelta(days=2), days=3, seed=0, now=dt.datetime(2026, 11, 20, 9)
    ) as s:
        yield s


def test_permit_api_paging_and_updated_since(sim: RunningSimulator) -> None:
    session = make_session(3, 0.01)
    base = f"{sim.base_url}/permits"
    pages = fetch_pages(session, base, updated_since=None, page_size=7)
    records = [r for p in pages for r in p.records]
    total = pages[0].total
    assert len(pages) == pages[0].total_pages == -(-total // 7) >= 9
    assert len(records) == total == len({(r["permitNo"], r["version"]) for r in records})
    assert sim.app.hits("/permits/api/v1/permits") == [200] * len(pages)
    assert not any(r["permitNo"] == SOURCES.faults.revoked_permit and r["version"] == 2 for r in records)

    watermark = max(parse_updated_at(r["updatedAt"]) for r in records)
    sim.clock.set(dt.datetime(2026, 11, 20, 12))  # the revocation is published at 10:00
    sim.app.inject_failures(2, paths="/permits/")  # and the platform is flaky: retried
    newer = [r for p in fetch_pages(session, base, updated_since=watermark, page_size=7) for r in p.records]
    assert all(parse_updated_at(r["updatedAt"]) >= watermark for r in newer)
    assert (SOURCES.faults.revoked_permit, 2, "revoked") in {
        (r["permitNo"], r["version"], r["status"]) for r in newer
    }
    assert len(newer) <= 3  # the boundary record(s) again, plus what is new
    assert sim.app.hits("/permits/api/v1/permits")[-3:] == [503, 503, 200]


def test_credit_xlsx_through_openpyxl(sim: RunningSimulator) -> None:
    year = SOURCES.credit_years[1]
    got = requests.get(f"{sim.base_url}/credit/files/jiangxi_credit_{year}.xlsx", timeout=10)
    assert got.status_code == 200 and got.content[:2] == b"PK"
    ws = load_workbook(io.BytesIO(got.content), read_only=True).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == f"江西省{year}年度企业环境信用评价结果"
    assert rows[1][:6] == ("序号", "设区市", "县（市、区）", "企业名称", "统一社会信用代码", "评价等级")
    parsed = parse_credit_file(
        got.content, file_name="jiangxi_credit.xlsx", raw_file="r", received_at=dt.datetime.now(dt.UTC)
    )
    assert parsed.rows.num_rows == len(rows) - 2 == sum(1 for e in SOURCES.enterprises if e.credit)
    assert set(parsed.rows["year"].to_pylist()) == {year}


def write_packets(settings: Settings, tmp: Path, counts: dict[str, int], day: dt.date) -> Path:
    """A capture file holding ``counts`` real-time packets per MN on ``day``."""
    noon = dt.datetime.combine(day, dt.time(12), BEIJING)
    lines = [
        build_packet(
            qn=f"{noon + dt.timedelta(minutes=i):%Y%m%d%H%M%S}000", st="32", cn="2011", mn=mn, flag=4,
            data_time=noon + dt.timedelta(minutes=i),
            items={"w01018": {"Rtd": 20.0 + i, "Flag": "N"}},
        )
        for mn, k in counts.items()
        for i in range(k)
    ]  # fmt: skip
    path = tmp / f"fleet-{day:%Y%m%d}.h212"
    path.write_bytes(b"".join(lines))
    return path


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def query(settings: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.duckdb_file), read_only=True)
    try:  # the serving file carries the limit_in_force macro
        return con.execute(sql).fetchall()
    finally:
        con.close()


def unit(report: RunReport, build: str) -> UnitReport:
    [found] = report.of(build)
    return found


def landed_names(report: RunReport) -> list[str]:
    return [Path(p).name.split(".")[0] for p in report.landed]


def test_pipelines_end_to_end_and_idempotent(
    settings: Settings,
    sim: RunningSimulator,
    ingest: Callable[..., RunReport],
    tmp_path: Path,
    expected: dict[str, Any],
) -> None:
    want = expected["enterprises"]
    f = SOURCES.faults
    base = sim.base_url
    # Day 1 (before the rename): the registries only; the report says what it could not check
    sim.clock.set(dt.datetime(2026, 11, 16, 9))
    report = ingest("master", lambda s, led: master.land(s, led, [f"{base}/master"]))
    reg, joined = unit(report, "registries"), unit(report, "join_report")
    assert (reg.status, reg.counts["enterprises"], reg.counts["monitoring_points"]) == (
        "published",
        want["count"],
        want["monitoring_points"],
    )
    assert joined.counts["mn_unregistered"] == "not checked"
    assert joined.counts["outlet_without_permit"] == "not checked"

    # Anchor day, noon: permits (with the revocation), credit files, packets, a new registry snapshot
    sim.clock.set(dt.datetime(2026, 11, 20, 12))
    fetched: list[permits.FetchReport] = []

    def land_permits(s: Settings, led: object) -> list[object]:
        fetched.append(permits.fetch(s, led, base_url=f"{base}/permits"))  # type: ignore[arg-type]
        return list(fetched[-1].landed)

    prep = unit(ingest("permit", land_permits), "permits")
    assert fetched[0].updated_since is None and prep.status == "published"
    assert prep.counts["permits"] == want["permits_current"] and prep.counts["revoked"] == want["revoked"]
    assert prep.counts["uscc_invalid"] == want["permit_uscc_invalid"]
    report = ingest("credit", lambda s, led: credit.land(s, led, [f"{base}/credit"]))
    crep = unit(report, "ratings")
    assert len(report.landed) == 2 and crep.status == "published"
    assert crep.counts["ratings"] == want["ratings"]
    assert crep.counts["uscc_invalid"] == want["ratings_uscc_invalid"]
    fleet = {p.mn: 3 for p in SOURCES.monitoring_points} | {f.unregistered_mn: 3}
    capture = write_packets(settings, tmp_path, fleet, ANCHOR)
    ingest("source", lambda s, led: sources.land_captures(s, led, [capture]))
    report = ingest("master", lambda s, led: master.land(s, led, [f"{base}/master"]))
    reg = unit(report, "registries")
    assert landed_names(report) == ["enterprises"]  # points unchanged: 304
    assert (
        reg.counts["enterprise_versions"] == 61 and reg.counts["enterprises"] == 59
    )  # rename; closed works left

    # permits: history and the limit in force
    renewed = f.renewed_permit
    v1, v2 = SOURCES.enterprise(renewed[:18]).permits
    assert query(
        settings,
        f"SELECT count(*), count(*) FILTER (WHERE is_current) FROM core_permit__permits WHERE permit_no = '{renewed}'",
    ) == [(2, 1)]
    so2 = "SELECT version, limit_value FROM limit_in_force('{}', 'DA001', 'a21026', TIMESTAMPTZ '{}')"
    before = query(settings, so2.format(renewed[:18], f"{v1.valid_to} 23:59:59+08"))
    after = query(settings, so2.format(renewed, f"{v2.valid_from} 00:00:00+08"))
    assert before[0][0] == 1 and after[0][0] == 2 and after[0][1] < before[0][1]
    assert (
        query(settings, so2.format(f.revoked_permit, "2026-11-20 12:00+08").replace("a21026", "a24088")) == []
    )
    assert query(settings, "SELECT DISTINCT limit_unit FROM core_permit__outlet_limits ORDER BY 1") == [
        ("-",),
        ("mg/L",),
        ("mg/m³",),
    ]

    # credit: ordered levels per scheme, invalid USCCs kept
    levels = query(
        settings,
        "SELECT level, min(level_rank), max(level_rank) FROM core_credit__ratings GROUP BY 1 ORDER BY 2",
    )
    assert [lvl[0] for lvl in levels] == ["green", "blue", "yellow", "red", "black"][: len(levels)]
    assert all(lo == hi for _, lo, hi in levels)
    assert query(
        settings,
        f"SELECT count(*) FROM core_credit__ratings WHERE uscc = '{f.credit_typo[0]}' AND NOT uscc_valid",
    ) == [(1,)]

    # master data: versions
    renamed = SOURCES.enterprise(f.renamed_uscc)
    assert query(
        settings,
        f"SELECT enterprise_name, valid_to IS NULL FROM core_master__enterprises WHERE uscc = '{f.renamed_uscc}' ORDER BY valid_from",
    ) == [
        (renamed.former_name, False),
        (renamed.name, True),
    ]

    # the join-quality report finds every injected fault
    items = {
        (c, k)
        for c, k in query(
            settings,
            "SELECT check_name, subject_key FROM quality_master__join_report WHERE row_kind = 'item'",
        )
    }
    assert ("mn_unregistered", f.unregistered_mn) in items
    assert {k for c, k in items if c == "mn_unregistered"} == {f.unregistered_mn}
    by_mn = {p.mn: p for p in SOURCES.monitoring_points}
    no_permit = {(by_mn[k].uscc, by_mn[k].outlet_code) for c, k in items if c == "outlet_without_permit"}
    assert f.unpermitted_outlet in no_permit
    assert {u for u, _ in no_permit} == {
        f.unpermitted_outlet[0],
        f.revoked_permit[:18],
        f.expired_permit[:18],
    }
    unmatched = {k.split("/")[2].split(" ")[0] for c, k in items if c == "credit_uscc_unmatched"}
    assert unmatched == {*f.credit_only, f.credit_typo[0]}
    suggestion = query(
        settings,
        f"SELECT detail FROM quality_master__join_report WHERE subject_key LIKE '%{f.credit_typo[0]}%' AND check_name = 'credit_uscc_unmatched'",
    )
    assert suggestion[0][0].endswith(f"the registry has this name under {f.credit_typo[1]}")
    assert any(
        c == "name_mismatch" and f.renamed_uscc in k for c, k in items
    )  # credit files carry the old name
    assert not any(
        c == "name_mismatch"
        and SOURCES.enterprise(next(e.uscc for e in SOURCES.enterprises if e.name == f.bracket_name)).uscc
        in k
        for c, k in items
    )
    assert ("uscc_invalid", f.invalid_uscc) in items
    assert not any(c in ("permit_uscc_unmatched", "point_uscc_unmatched") for c, _ in items)
    gate = query(
        settings,
        "SELECT count(*) FILTER (WHERE NOT success AND severity = 'blocking') FROM quality_platform__expectation_results",
    )
    assert gate == [(0,)]

    # rerun everything: nothing new upstream, nothing changes in the lake
    before_lake = digest(settings.lake)
    assert unit(ingest("permit", land_permits), "permits").status == "skipped"
    assert (
        unit(ingest("credit", lambda s, led: credit.land(s, led, [f"{base}/credit"])), "ratings").status
        == "skipped"
    )
    report = ingest("master", lambda s, led: master.land(s, led, [f"{base}/master"]))
    assert {u.status for u in report.units} == {"skipped"}
    assert digest(settings.lake) == before_lake

    # the commands
    runner = CliRunner(env={"COLUMNS": "240"})
    out = runner.invoke(app, ["quality", "--limit", "3"])
    assert out.exit_code == 0, out.output
    assert "mn_unregistered" in out.output and f.unregistered_mn in out.output
    out = runner.invoke(app, ["quality", "--check", "uscc_invalid", "--format", "csv"])
    assert out.exit_code == 0 and f.invalid_uscc in out.output
    out = runner.invoke(app, ["ingest", "permits", f"{base}/permits"])
    assert (
        out.exit_code == 0
        and "landed 0 new raw object(s)" in out.output
        and "nothing pending: all " in out.output
    )
    assert digest(settings.lake) == before_lake


def test_drop_folder_and_cli_ingest(settings: Settings, tmp_path: Path) -> None:
    """Credit files and registries from local folders, as a data engineer drops them."""
    from ecocloud.simulator.enterprise_feeds import credit_csv, master_enterprises_csv, master_points_csv

    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "results.csv").write_bytes(credit_csv(SOURCES, SOURCES.credit_years[0]))  # name says nothing
    (drop / "~$results.xlsx").write_bytes(b"lock file")  # Excel's lock file is ignored
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "企业名录.csv").write_bytes(master_enterprises_csv(SOURCES, dt.datetime(2026, 11, 20)))
    (registry / "点位.csv").write_bytes(master_points_csv(SOURCES))
    runner = CliRunner(env={"COLUMNS": "240"})
    out = runner.invoke(app, ["ingest", "credit", str(drop), "--year", str(SOURCES.credit_years[0])])
    assert out.exit_code == 0, out.output
    assert "landed 1 new raw object(s)" in out.output and "published" in out.output
    assert f"{SOURCES.credit_years[0]}_results" in out.output
    out = runner.invoke(app, ["ingest", "master", str(registry)])
    assert out.exit_code == 0, out.output
    assert "landed 2 new raw object(s)" in out.output
    assert "/enterprises." in out.output and "/monitoring_points." in out.output
    out = runner.invoke(app, ["quality"])
    assert out.exit_code == 0 and "not in the lake yet" in out.output.replace("\n", " ")


def test_a_refused_registry_file_ends_no_enterprises_history(settings: Settings, tmp_path: Path) -> None:
    """A snapshot file refused whole (here a quote that never closes) is no snapshot: it must not be
    read as an empty one, which would end every enterprise's current version until the next file."""
    from ecocloud.runner.context import read_published
    from ecocloud.runner.engine import ledger
    from ecocloud.simulator.enterprise_feeds import master_enterprises_csv

    registry = tmp_path / "registry"
    registry.mkdir()
    good = master_enterprises_csv(SOURCES, dt.datetime(2026, 11, 20))
    (registry / "enterprises.csv").write_bytes(good)
    runner = CliRunner(env={"COLUMNS": "240"})

    def current() -> tuple[int, int]:
        led = ledger(settings)
        try:
            versions = read_published(settings.lake_store, led, "core_master__enterprises")
            quarantined = read_published(settings.lake_store, led, "quarantine_master__rows")
        finally:
            led.close()
        return sum(versions.column("is_current").to_pylist()), quarantined.num_rows

    assert runner.invoke(app, ["ingest", "master", str(registry)]).exit_code == 0
    enterprises, quarantined = current()
    assert enterprises > 0
    broken = good.decode().splitlines()
    broken[1] = broken[1].replace(",", ',"', 1)  # a quote opened in the first record, never closed
    (registry / "enterprises.csv").write_text("\n".join(broken) + "\n")
    out = runner.invoke(app, ["ingest", "master", str(registry)])
    assert out.exit_code == 0, out.output
    assert "landed 1 new raw object(s)" in out.output
    assert current() == (enterprises, quarantined + 1)  # the file quarantined whole, nobody ended


def test_two_lists_of_one_kind_in_one_place_are_refused_before_either_lands(
    settings: Settings, tmp_path: Path
) -> None:
    """Each kind is one complete list. Two enterprise files in the folder were landed in turn, each
    the whole list after the other: every landing flipped the first file's enterprises out and back
    in (versions minutes apart, none current). Refused, naming both; nothing lands."""
    from ecocloud.runner.engine import ledger
    from ingest.master import MasterFileError

    folder = tmp_path / "master"
    folder.mkdir()
    (folder / "enterprises_guizhou.csv").write_text("uscc,enterprise_name\n91520100MA6DK12345,贵州乙\n")
    (folder / "enterprises_jiangxi.csv").write_text("uscc,enterprise_name\n91360100641893144E,江西甲\n")
    (folder / "points.csv").write_text("mn,uscc,outlet_code\n88888880000001,91360100641893144E,DW001\n")
    led = ledger(settings)
    try:
        with pytest.raises(MasterFileError, match=r"2 files hold the enterprises list \(enterprises_guizhou"):
            master.land(settings, led, [str(folder)])
        assert led.raw_objects("master") == []
        other = tmp_path / "other"  # one in each of two places: the same flipping
        other.mkdir()
        (folder / "enterprises_guizhou.csv").rename(other / "enterprises_guizhou.csv")
        with pytest.raises(MasterFileError, match="2 files hold the enterprises list"):
            master.land(settings, led, [str(folder), str(other)])
        assert led.raw_objects("master") == []
        assert sorted(o.logical_name for o in master.land(settings, led, [str(folder)])) == [
            "enterprises.csv",
            "monitoring_points.csv",
        ]
    finally:
        led.close()


def test_a_snapshot_that_lost_most_of_its_rows_is_refused_until_accepted(
    settings: Settings, tmp_path: Path
) -> None:
    """A failed export (the header alone) read as a snapshot ends every enterprise's version, and the
    history keeps that gap for good: it is refused, saying how to take it; once accepted, it stays so."""
    from ecocloud.runner.context import read_published
    from ecocloud.runner.engine import ledger
    from ecocloud.simulator.enterprise_feeds import master_enterprises_csv

    registry = tmp_path / "registry"
    registry.mkdir()
    good = master_enterprises_csv(SOURCES, dt.datetime(2026, 11, 20))
    (registry / "enterprises.csv").write_bytes(good)
    runner = CliRunner(env={"COLUMNS": "240"})

    def current() -> int:
        led = ledger(settings)
        try:
            return sum(
                read_published(settings.lake_store, led, "core_master__enterprises")["is_current"].to_pylist()
            )
        finally:
            led.close()

    def reasons() -> list[str]:
        led = ledger(settings)
        try:
            return read_published(settings.lake_store, led, "quarantine_master__rows")["reason"].to_pylist()
        finally:
            led.close()

    assert runner.invoke(app, ["ingest", "master", str(registry)]).exit_code == 0
    enterprises = current()
    assert enterprises >= 10
    (registry / "enterprises.csv").write_bytes(good.splitlines(keepends=True)[0])  # the header alone
    refused = runner.invoke(app, ["ingest", "master", str(registry)])
    assert refused.exit_code == 0
    assert current() == enterprises  # nobody ended
    assert "warning: raw/master/" in refused.output and "refused as a snapshot" in refused.output  # said
    assert any(r.startswith(f"refused as a snapshot: 0 rows against {enterprises}") for r in reasons())
    out = runner.invoke(
        app, ["run", "master", "--no-land", "--build", "registries", "--force", "--accept-shrink"]
    )
    assert out.exit_code == 0, out.output
    assert current() == 0  # the operator's word: the registry is empty now
    assert (
        runner.invoke(app, ["run", "master", "--no-land", "--build", "registries", "--force"]).exit_code == 0
    )
    assert current() == 0 and not any(r.startswith("refused as a snapshot") for r in reasons())  # remembered


def test_a_dip_stays_refused_and_a_shrink_confirmed_by_the_next_snapshot_is_taken(
    settings: Settings, tmp_path: Path
) -> None:
    """A failed export followed by a full one is a dip: refused for good, nobody's history broken. A
    small snapshot followed by one as small is a real clean-up: taken without anyone's word (history
    from before the guard replays as it was), and a later registration counts."""
    from ecocloud.runner.context import read_published
    from ecocloud.runner.engine import ledger
    from ecocloud.simulator.enterprise_feeds import master_enterprises_csv

    registry = tmp_path / "registry"
    registry.mkdir()
    lines = master_enterprises_csv(SOURCES, dt.datetime(2026, 11, 20)).splitlines(keepends=True)
    runner = CliRunner(env={"COLUMNS": "240"})

    def land(body: bytes) -> None:
        (registry / "enterprises.csv").write_bytes(body)
        assert runner.invoke(app, ["ingest", "master", str(registry)]).exit_code == 0

    def versions() -> tuple[int, int]:
        led = ledger(settings)
        try:
            t = read_published(settings.lake_store, led, "core_master__enterprises")
        finally:
            led.close()
        return t.num_rows, sum(t["is_current"].to_pylist())

    land(b"".join(lines))
    full = len(lines) - 1
    land(lines[0])  # the header alone
    land(b"".join(lines))  # the full list again: the header-only file was a dip
    assert versions() == (full, full)  # no version ended and reopened
    land(b"".join(lines[:6]))  # five kept: refused while newest …
    assert versions() == (full, full)
    newcomer = "91999999999999999X,新登记企业,360100,D4411,火力发电,地址\r\n".encode()
    land(b"".join(lines[:6]) + newcomer)  # … and taken once the next snapshot is as small
    assert versions()[1] == 6
