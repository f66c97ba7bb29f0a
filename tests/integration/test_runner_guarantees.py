"""What the runner guarantees for every source, each shown on a real lake with real processes.

* one bad record, page or file goes to quarantine with its reason and the rest publishes;
* a segment whose readable records disagree with its manifest is quarantined whole;
* gate results are appended for every run, never overwritten;
* concurrent runs (a DAG task and a command, two workers) never lose a part or leave a mart stale;
* a derived table that comes out empty is a warning, not a blocked day.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from services import end_advisory_lock_sessions
from typer.testing import CliRunner

from ecocloud.builds import credit, permits, sources
from ecocloud.cli import app
from ecocloud.runner import engine
from ecocloud.runner.context import RunInfo, StepContext
from ecocloud.runner.report import RunReport
from ecocloud.runner.spec import Arrival, Build, Publish, Schedule, SourceSpec
from ecocloud.runner.units import Output, Unit
from ecocloud.settings import Settings
from ecocloud.simulator.enterprise_feeds import credit_csv, credit_xlsx, permit_record
from ecocloud.simulator.enterprises import simulated_sources
from ingest.hj212.protocol import build_packet
from ingest.hj212.segments import SegmentWriter, read_manifest
from schemas.clock import BEIJING
from schemas.source import QUARANTINE_REASONS
from warehouse.ledger import Ledger, LockLost

Ingest = Callable[..., RunReport]
SOURCES = simulated_sources(0, dt.date(2026, 11, 20))
MN = "88883600000000000000014D"


def query(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(settings.duckdb_file), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_bad_permit_records_are_quarantined_and_the_page_publishes(
    settings: Settings, tmp_path: Path, ingest: Ingest
) -> None:
    good = [permit_record(v, e) for e in SOURCES.enterprises[:5] for v in e.permits]
    null_date = dict(good[0], permitNo="91360000000000000X001P", updatedAt="0001-01-01T00:00:00")
    not_a_list = dict(good[1], permitNo="91360000000000001X001P", outlets=5)
    records = [*good, null_date, not_a_list]
    page = {"code": 0, "msg": "success", "page": 1, "pageSize": 100, "total": len(records), "totalPages": 1}
    saved = tmp_path / "permits_page-0001.json"
    saved.write_text(json.dumps(page | {"records": records}, ensure_ascii=False), encoding="utf-8")

    report = ingest("permit", lambda s, led: permits.land_saved_pages(s, led, [str(tmp_path)]))
    [unit] = report.of("permits")
    assert unit.status == "published"
    assert unit.counts["versions"] == len(good) and unit.counts["quarantined"] == 2
    quarantined = dict(query(settings, "SELECT permit_no, reason FROM quarantine_permit__records"))
    assert quarantined == {
        "91360000000000000X001P": "updatedAt is out of range",
        "91360000000000001X001P": "outlets is not a list",
    }
    assert query(settings, "SELECT count(*) FROM core_permit__permits") == [(len(good),)]
    assert unit.counts["pages_unreadable"] == 0 and not unit.warnings


def test_an_unreadable_permit_page_is_quarantined_and_said(
    settings: Settings, tmp_path: Path, ingest: Ingest
) -> None:
    records = [permit_record(v, e) for e in SOURCES.enterprises[:3] for v in e.permits]
    page = {"code": 0, "msg": "success", "page": 1, "pageSize": 100, "total": len(records), "totalPages": 1}
    text = json.dumps(page | {"records": records}, ensure_ascii=False)
    (tmp_path / "permits_page-0001.json").write_text(text[: len(text) // 2], encoding="utf-8")  # cut short
    report = ingest("permit", lambda s, led: permits.land_saved_pages(s, led, [str(tmp_path)]))
    [unit] = report.of("permits")
    assert unit.counts["pages_unreadable"] == 1
    said = [w for w in unit.warnings if "1 page(s) unreadable" in w]
    assert len(said) == 1 and "permits_page-0001" in said[0], unit.warnings
    assert query(settings, "SELECT count(*) FROM quarantine_permit__records") == [(1,)]


def test_unreadable_credit_file_and_rows_are_quarantined_the_rest_publishes(
    settings: Settings, tmp_path: Path, ingest: Ingest
) -> None:
    first, second = SOURCES.credit_years
    drop = tmp_path / "drop"
    drop.mkdir()
    whole = credit_xlsx(SOURCES, second)
    (drop / f"jiangxi_credit_{second}.xlsx").write_bytes(whole[: len(whole) // 2])  # truncated download
    text = credit_csv(SOURCES, first).decode("gb18030")  # as the province publishes it
    header = text.splitlines()[0].split(",")
    uscc_only = ",".join(SOURCES.enterprises[0].uscc if h == "社会信用代码" else "" for h in header)
    patched = text.rstrip("\r\n") + "\n" + uscc_only + "\n"
    (drop / f"jiangxi_credit_{first}.csv").write_bytes(patched.encode("gb18030"))

    report = ingest("credit", lambda s, led: credit.land(s, led, [str(drop)]))
    [unit] = report.of("ratings")
    assert unit.status == "published"
    assert (unit.counts["files"], unit.counts["files_unreadable"]) == (2, 1)
    reasons = [r for (r,) in query(settings, "SELECT reason FROM quarantine_credit__rows ORDER BY row_no")]
    assert reasons[0].startswith("not a readable XLSX workbook")
    assert reasons[1:] == ["neither enterprise name nor level"]
    # the run says why the file changed nothing, not only in the quarantine table
    assert [w for w in unit.warnings if f"jiangxi_credit_{second}" in w and "not a readable XLSX" in w]
    rated = sum(1 for e in SOURCES.enterprises if e.credit)
    assert query(settings, "SELECT count(*) FROM core_credit__ratings") == [(rated,)]


def _packet(minute: int, *, mn: str = MN, day: dt.date = dt.date(2026, 11, 20)) -> bytes:
    when = dt.datetime.combine(day, dt.time(10, minute), BEIJING)
    return build_packet(
        qn=f"{when:%Y%m%d%H%M%S}000", st="32", cn="2011", mn=mn, flag=5, data_time=when,
        items={"w01018": {"Rtd": 30.0 + minute, "Flag": "N"}},
    )  # fmt: skip


def test_a_segment_that_disagrees_with_its_manifest_is_quarantined_whole(
    settings: Settings, ingest: Ingest
) -> None:
    writer = SegmentWriter(settings.hj212_landing, "r1", rotate_seconds=10**9)
    writer.write_batch([(0.0, "ok", "10.0.0.1:1", _packet(m)) for m in range(5)])
    [segment] = [writer.close()]
    manifest_path = segment.with_name(segment.name.removesuffix(".h212") + ".h212.manifest.json")
    manifest = read_manifest(segment)
    manifest["records"] = 7  # two acknowledged records the bytes no longer hold
    manifest_path.write_text(json.dumps(manifest))

    report = ingest("source", sources.register_segments)
    [unit] = report.of("core")
    assert unit.status == "published"
    assert (unit.counts["lines"], unit.counts["accepted"], unit.counts["quarantined"]) == (5, 0, 5)
    assert any("the manifest says 7 records, 5 are readable" in w for w in unit.warnings)
    assert query(settings, "SELECT count(*) FROM core_source__packets") == [(0,)]
    assert query(settings, "SELECT DISTINCT reason, detail FROM quarantine_source__packets") == [
        ("segment_manifest_mismatch", "the manifest says 7 records, 5 are readable")
    ]
    assert "segment_manifest_mismatch" in QUARANTINE_REASONS  # labelled for the ingestion page


def test_a_segment_quarantined_whole_is_dated_by_receipt_not_by_its_packets_data_time(
    settings: Settings, ingest: Ingest
) -> None:
    """Quarantine rows are dated by their receipt in Beijing: back-filled packets of three days
    received on 2026-11-20 are that day's rejects (they were dated 11-18, 11-19 and 11-20)."""
    received = dt.datetime(2026, 11, 20, 12, 0, tzinfo=BEIJING).timestamp()
    days = [dt.date(2026, 11, 18), dt.date(2026, 11, 19), dt.date(2026, 11, 20)]
    writer = SegmentWriter(settings.hj212_landing, "r1", rotate_seconds=10**9)
    writer.write_batch([(received, "ok", "10.0.0.1:1", _packet(1, day=d)) for d in days])
    [segment] = [writer.close()]
    segment.with_name(segment.name.removesuffix(".h212") + ".h212.manifest.json").write_text("{not json")

    report = ingest("source", sources.register_segments)
    [unit] = report.of("core")
    assert (unit.counts["lines"], unit.counts["quarantined"]) == (3, 3)
    assert query(settings, "SELECT date, count(*) FROM quarantine_source__packets GROUP BY date") == [
        (dt.date(2026, 11, 20), 3)
    ]


def test_a_segment_whose_manifest_cannot_be_read_is_quarantined_whole(
    settings: Settings, ingest: Ingest
) -> None:
    """Not a unit that fails on every run (holding back nothing else, but never done): its lines land in
    quarantine, with the reason, like a segment that disagrees with its manifest."""
    writer = SegmentWriter(settings.hj212_landing, "r1", rotate_seconds=10**9)
    writer.write_batch([(0.0, "ok", "10.0.0.1:1", _packet(m)) for m in range(5)])
    [segment] = [writer.close()]
    segment.with_name(segment.name.removesuffix(".h212") + ".h212.manifest.json").write_text("{not json")

    report = ingest("source", sources.register_segments)
    [unit] = report.of("core")
    assert unit.status == "published"
    assert (unit.counts["lines"], unit.counts["accepted"], unit.counts["quarantined"]) == (5, 0, 5)
    assert query(settings, "SELECT DISTINCT reason FROM quarantine_source__packets") == [
        ("segment_manifest_unreadable",)
    ]
    assert "segment_manifest_unreadable" in QUARANTINE_REASONS  # labelled for the ingestion page


def test_gate_results_are_appended_for_every_run(settings: Settings, tmp_path: Path, ingest: Ingest) -> None:
    capture = tmp_path / "cap-2026-11-20.h212"
    capture.write_bytes(b"".join(_packet(m) for m in range(5)))
    land = lambda s, led: sources.land_captures(s, led, [capture])  # noqa: E731
    ingest("source", land)
    results_dir = settings.lake / "quality" / "quality_platform__expectation_results"
    first_files = set(results_dir.rglob("*.parquet"))
    first = query(
        settings, "SELECT count(*), count(DISTINCT run_id) FROM quality_platform__expectation_results"
    )
    ingest("source", land, force=True)
    files = set(results_dir.rglob("*.parquet"))
    assert first_files < files  # new parts; none of the first run's files replaced
    again = query(
        settings, "SELECT count(*), count(DISTINCT run_id) FROM quality_platform__expectation_results"
    )
    assert again == [(2 * first[0][0], 2)]


def _concurrent_ingest(home: str, capture: str, barrier: Any) -> str:
    import os

    os.environ["ECOCLOUD_HOME"] = home
    from ecocloud.builds import sources as steps
    from ecocloud.runner import engine
    from ecocloud.runner.context import RunInfo
    from ecocloud.specs import get_spec

    settings = Settings()
    barrier.wait(60)
    report = engine.land_and_run(
        settings,
        get_spec("source"),
        lambda s, led: steps.land_captures(s, led, [capture]),
        RunInfo.cli(capture),
    )
    return report.status


def test_concurrent_runs_lose_no_part_and_leave_no_mart_stale(
    settings: Settings, tmp_path: Path, ingest: Ingest
) -> None:
    """Two processes (say a DAG task and `ecocloud ingest hj212`) at once, on inputs that touch the
    same dates; afterwards every part is there and the marts equal a rebuild from scratch."""
    captures = []
    for n, mn in enumerate((MN, "88883600000000000000014E")):
        path = tmp_path / f"cap{n}-2026-11-20.h212"
        days = (dt.date(2026, 11, 20), dt.date(2026, 11, 19))  # each touches both dates
        path.write_bytes(b"".join(_packet(m, mn=mn, day=d) for d in days for m in range(0, 60, 5)))
        captures.append(str(path))
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(2)
    with ctx.Pool(2) as pool:
        statuses = pool.starmap(_concurrent_ingest, [(str(settings.root), c, barrier) for c in captures])
    # each input is built once, by whichever run reached it first; the other run finds it current
    assert "published" in statuses and set(statuses) <= {"published", "skipped"}
    ingest("source")  # whatever the other run left pending: nothing, or a mart behind a part
    builds = query(
        settings,
        "SELECT status, count(*) FROM platform_ledger__builds WHERE build = 'source.core' GROUP BY ALL",
    )
    assert builds == [("published", 2)]
    parts = query(
        settings,
        "SELECT table_name, partition_date, count(*) FROM platform_ledger__parts "
        "WHERE table_name = 'core_source__readings' GROUP BY ALL ORDER BY 2",
    )
    assert [p[2] for p in parts] == [2, 2]  # both inputs' parts in both dates
    hourly = query(settings, "SELECT * FROM mart_source__hourly ORDER BY mn, pollutant_code, hour_at")
    assert {row[1] for row in hourly} == {MN, "88883600000000000000014E"}
    ingest("source", force=True, builds=["marts"])
    assert query(settings, "SELECT * FROM mart_source__hourly ORDER BY mn, pollutant_code, hour_at") == hourly


class _FailsOnRebuild:
    """Steps whose one unit publishes, then fails when rebuilt (a read error on a forced rerun)."""

    builds = 0

    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        return [Unit("snap", ())]

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        type(self).builds += 1
        if type(self).builds > 1:
            raise OSError("the raw page could not be read")
        return Output({}, {"dates": ["2026-11-20"]})


def test_a_unit_that_fails_keeps_the_counts_of_what_it_still_has_published(settings: Settings) -> None:
    """Its parts stay as last published, and builds downstream plan from its counts (the water
    readings take a snapshot's days from them): a failure must not erase them."""
    _FailsOnRebuild.builds = 0
    build = Build("snapshots", (), Publish.WHOLE, f"{__name__}:_FailsOnRebuild")
    spec = SourceSpec("fails", "fails", "fails on rebuild", Arrival.TABLES, (build,), Schedule())
    engine.run_build(settings, spec, build, RunInfo.cli("test"))
    engine.run_build(settings, spec, build, RunInfo.cli("test", force=True))
    led = engine.ledger(settings)
    try:
        state = led.unit_states("fails.snapshots")["snap"]
    finally:
        led.close()
    assert (state.status, state.counts) == ("failed", {"dates": ["2026-11-20"]})
    assert "the raw page could not be read" in (state.error or "")


class _PlannedOnce:
    """Steps whose unit is pending at the run's plan and gone at the batch's re-plan under its lock —
    as when a concurrent run compacted the partition meanwhile, or the unit's input went away."""

    plans = 0

    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        type(self).plans += 1
        return [Unit("once", ())] if type(self).plans == 1 else []

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        raise AssertionError("a unit gone at the re-plan must not be built")


def test_a_unit_gone_when_its_batch_re_plans_is_reported_skipped(settings: Settings) -> None:
    _PlannedOnce.plans = 0
    build = Build("once", (), Publish.WHOLE, f"{__name__}:_PlannedOnce")
    spec = SourceSpec("replan", "replan", "re-plan", Arrival.TABLES, (build,), Schedule())
    reports = engine.run_build(settings, spec, build, RunInfo.cli("test"))
    assert _PlannedOnce.plans == 2  # planned by the run, re-planned by its batch under the lock
    assert [(r.unit, r.status) for r in reports] == [("once", "skipped")]
    led = engine.ledger(settings)
    try:
        assert led.unit_states("replan.once") == {}  # nothing recorded for it
    finally:
        led.close()


@pytest.mark.realdata
def test_air_without_a_station_list_publishes_with_warnings(settings: Settings, shared_data: Path) -> None:
    """An empty city ranking (no station list yet) is a warning with its reason, not a blocked day."""
    files = sorted(str(p) for p in (shared_data / "cnemc-air").glob("china_sites_*.csv.gz"))
    out = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["ingest", "air", *files])
    assert out.exit_code == 0, out.output
    assert "blocked" not in out.output
    assert out.output.count("city ranking is empty (no station list landed yet)") == len(files)
    statuses = query(settings, "SELECT DISTINCT status FROM platform_ledger__builds")
    assert statuses == [("published",)]


@pytest.mark.realdata
def test_a_refused_station_list_leaves_the_one_before_it_in_use(
    settings: Settings, shared_data: Path, tmp_path: Path
) -> None:
    """A new station list with a quote that never closes is refused with its reason; the days keep
    their rankings from the list before it, instead of failing on every run until upstream fixes it."""
    air = shared_data / "cnemc-air"
    day_file = str(sorted(air.glob("china_sites_*.csv.gz"))[0])
    listed = tmp_path / "station_list.csv"
    listed.write_bytes((air / "station-list-2022-02-13.csv").read_bytes())
    runner = CliRunner(env={"COLUMNS": "240"})
    ranked = "SELECT count(*) FROM mart_air__city_daily_ranking"
    assert runner.invoke(app, ["ingest", "air", str(listed), day_file]).exit_code == 0
    [(cities,)] = query(settings, ranked)
    assert cities > 0
    broken = listed.read_text(encoding="utf-8-sig").splitlines()
    broken[2] = broken[2].replace(",", ',"', 1)  # opened, never closed
    listed.write_text("\n".join(broken) + "\n", encoding="utf-8")
    out = runner.invoke(app, ["ingest", "air", str(listed), day_file])
    assert out.exit_code == 0, out.output
    assert "refused, the one before it used" in out.output.replace("\n", " ")
    assert query(settings, ranked) == [(cities,)]


def test_a_run_whose_locks_are_lost_publishes_nothing_more(
    settings: Settings, tmp_path: Path, ingest: Ingest, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The advisory locks of a batch live in a PostgreSQL session of their own; when it ends under a
    living run (the server restarted, or dropped the connection), another run may take them. The run
    stops with LockLost before publishing another unit — the gate results of the one it published are
    kept — and the next run publishes the rest."""
    settings.state_db_url, settings.workers = postgres_url, 1  # one batch: both units
    captures = [tmp_path / f"cap-2026-11-2{d}.h212" for d in (0, 1)]
    for d, capture in enumerate(captures):
        capture.write_bytes(b"".join(_packet(m, day=dt.date(2026, 11, 20 + d)) for m in range(5)))
    land = lambda s, led: sources.land_captures(s, led, captures)  # noqa: E731
    real_publish = engine._publish

    def publish_then_end_lock_sessions(*args: Any, **kwargs: Any) -> Any:
        done = real_publish(*args, **kwargs)
        assert end_advisory_lock_sessions(postgres_url)  # the batch's lock session
        return done

    with monkeypatch.context() as patch:
        patch.setattr(engine, "_publish", publish_then_end_lock_sessions)
        with pytest.raises(LockLost, match="ended"):
            ingest("source", land)
    led = Ledger(postgres_url)
    try:
        [first] = led.unit_states("source.core").values()
        assert first.status == "published" and len(led.parts("core_source__packets")) == 1
    finally:
        led.close()
    results = settings.lake / "quality" / "quality_platform__expectation_results"
    assert list(results.rglob("*.parquet"))  # the published unit's gate results
    again = ingest("source", land)
    assert sorted(u.status for u in again.of("core")) == ["published", "skipped"]


def test_a_run_that_lost_its_locks_records_nothing_once_another_run_took_them(
    settings: Settings, tmp_path: Path, ingest: Ingest, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's lock session ends after it verified its locks and wrote a unit's parts, before it
    records them; another run takes the locks, builds the unit and records it. The first run's record
    then fails with LockLost (recording its stale plan would keep the other's parts beside its own —
    on S3 both listed, the rows served twice), and the ledger keeps the other run's record."""
    settings.state_db_url, settings.workers = postgres_url, 1
    capture = tmp_path / "cap-2026-11-20.h212"
    capture.write_bytes(b"".join(_packet(m) for m in range(5)))
    land = lambda s, led: sources.land_captures(s, led, [capture])  # noqa: E731
    real_record = Ledger.record_unit
    other: list[RunReport] = []

    def lose_the_locks_to_another_run_then_record(self: Ledger, state: Any, **kwargs: Any) -> None:
        if state.build == "source.core" and not other:
            # the first run's record of the unit only: the other run's records go straight through
            other.append(RunReport("source", "not run yet"))
            assert end_advisory_lock_sessions(postgres_url) == 1  # the first run's lock session
            other[0] = ingest("source", land)
            assert [u.status for u in other[0].of("core")] == ["published"]
        real_record(self, state, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Ledger, "record_unit", lose_the_locks_to_another_run_then_record)
        with pytest.raises(LockLost, match="taken by another holder"):
            ingest("source", land)
    led = Ledger(postgres_url)
    try:
        [state] = led.unit_states("source.core").values()
        assert (state.status, state.run_id) == ("published", other[0].run_id)
        assert {p.run_id for p in led.parts("core_source__packets")} == {other[0].run_id}
    finally:
        led.close()
    assert query(settings, "SELECT count(*) FROM core_source__packets") == [(5,)]
