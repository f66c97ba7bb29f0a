"""The HJ 212 spec on a real lake: real captures, receiver segments ingested exactly once whenever
they closed, a late segment in a later run, reruns leave the lake byte-identical."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from ecocloud.builds import sources
from ecocloud.cli import app
from ecocloud.runner.report import RunReport
from ecocloud.settings import Settings
from ingest.hj212.protocol import build_packet
from ingest.hj212.segments import SegmentWriter
from schemas.clock import BEIJING
from schemas.source import QUARANTINE_REASONS

pytestmark = pytest.mark.integration

MN = "88883600000000000000014D"
MN2 = "88883600000000000000014E"
Ingest = Callable[..., RunReport]


def digest(root: Path) -> dict[str, str]:
    """Every file of the lake except the append-only gate results (each run adds its own)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and "quality_platform__expectation_results" not in p.parts
    }


def query(settings: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.duckdb_file), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def captures(files: list[Path]) -> Callable[[Settings, Any], list[Any]]:
    return lambda s, led: sources.land_captures(s, led, files)


def register(s: Settings, led: Any) -> list[Any]:
    return sources.register_segments(s, led)


@pytest.mark.realdata
def test_real_captures_lines_in_equal_accepted_plus_quarantined(
    settings: Settings, shared_data: Path, ingest: Ingest
) -> None:
    files = [shared_data / "hj212-real" / f"2016-08-24T{h}.h212.gz" for h in ("00", "04", "05")]
    settings.workers = 2
    report = ingest("source", captures(files))
    got = sorted(
        (u.status, u.counts["lines"], u.counts["accepted"], u.counts["quarantined"])
        for u in report.of("core")
    )
    assert got == sorted(
        [("published", 9455, 9447, 8), ("published", 8624, 8622, 2), ("published", 8698, 8692, 6)]
    )
    assert report.status == "published" and all(m.status == "published" for m in report.of("marts"))
    # real captures touch many dates: loggers back-fill history, some clocks are wrong
    assert len(report.of("marts")) == 7  # these three hours touch seven dates
    packets, quarantined, readings = query(
        settings,
        "SELECT (SELECT count(*) FROM core_source__packets), (SELECT count(*) FROM quarantine_source__packets), "
        "(SELECT count(*) FROM core_source__readings)",
    )[0]
    assert (packets, quarantined) == (26761, 16)
    assert readings == sum(r.counts["readings"] for r in report.of("core"))
    # per raw object, from the lake itself: lines in = accepted + quarantined
    per_file = query(
        settings,
        "SELECT segment, sum(n) FROM (SELECT segment, count(*) AS n FROM core_source__packets GROUP BY ALL "
        "UNION ALL SELECT segment, count(*) FROM quarantine_source__packets GROUP BY ALL) GROUP BY ALL ORDER BY 1",
    )
    assert [n for _, n in per_file] == [9455, 8624, 8698]
    reasons = dict(query(settings, "SELECT reason, count(*) FROM quarantine_source__packets GROUP BY ALL"))
    assert reasons == {
        "length_mismatch": 10,
        "bad_length_field": 1,
        "crc_mismatch": 1,
        "bad_header": 3,
        "missing_tail": 1,
    }
    # 2005 codes arrive mapped, the original kept; units from the code table
    cod = query(
        settings,
        "SELECT DISTINCT pollutant_code_original, unit FROM core_source__readings "
        "WHERE pollutant_code = 'w01018' AND stat = 'Rtd'",
    )
    assert cod == [("011", "mg/L")]
    bases = dict(query(settings, "SELECT basis, count(*) FROM mart_source__hourly GROUP BY ALL"))
    assert set(bases) == {"2061", "2051", "2011"}
    # the 2021 packets' facility states are readings (they were dropped), and no mart's pollutants
    states = query(
        settings,
        "SELECT count(*), count(DISTINCT mn), min(value), max(value) FROM core_source__readings "
        "WHERE stat = 'RS' AND cn = '2021' AND pollutant_code LIKE 'SB%'",
    )
    assert states[0][0] > 2000 and states[0][1] > 10 and 0 <= states[0][2] <= states[0][3] <= 5
    in_marts = "SELECT count(*) FROM {} WHERE pollutant_code LIKE 'SB%'"
    assert query(settings, in_marts.format("mart_source__hourly")) == [(0,)]
    assert query(settings, in_marts.format("mart_source__daily")) == [(0,)]
    # lineage: every readings part names the capture it came from
    lineage = query(
        settings,
        "SELECT DISTINCT input_id FROM platform_ledger__lineage WHERE output_table = 'core_source__readings'",
    )
    assert len(lineage) == 3 and all(i.startswith("raw/hj212_capture/") for (i,) in lineage)

    # the same files again: nothing is rebuilt, the lake is byte-identical
    before = digest(settings.lake)
    again = ingest("source", captures(files))
    assert {r.status for r in again.units} == {"skipped"}
    assert digest(settings.lake) == before


class Clock:
    def __init__(self, t: dt.datetime) -> None:
        self.t = t.timestamp()

    def __call__(self) -> float:
        return self.t

    def at(self, t: dt.datetime) -> Clock:
        self.t = t.timestamp()
        return self


def packet(when: dt.datetime, value: float, *, mn: str = MN, cn: str = "2011", flag: str = "N") -> bytes:
    stat = "Rtd" if cn == "2011" else "Avg"
    return build_packet(
        qn=when.strftime("%Y%m%d%H%M%S") + "000",
        st="32",
        cn=cn,
        mn=mn,
        flag=5,
        data_time=when,
        items={"w01018": {stat: value, "Flag": flag}, "w00000": {stat: value / 10}},
    )


def at(hh: int, mm: int, ss: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, 20, hh, mm, ss, tzinfo=BEIJING)


def segments(settings: Settings, opened: dt.datetime) -> Callable[[list[bytes], dt.datetime], None]:
    """``segment(lines, closed)``: a receiver segment of ``lines`` in the landing zone, closed at
    ``closed`` (the next one opens then)."""
    clock = Clock(opened)
    writer = SegmentWriter(settings.hj212_landing, "r1", rotate_seconds=10**9, clock=clock)

    def segment(lines: list[bytes], closed: dt.datetime) -> None:
        writer.write_batch([(clock.t, "ok", "10.1.1.1:4000", line) for line in lines])
        clock.at(closed)
        writer.close()

    return segment


def test_segments_exactly_once_whenever_they_closed_late_segment_and_reruns(
    settings: Settings, ingest: Ingest
) -> None:
    landing = settings.hj212_landing
    clock = Clock(at(10, 5))
    writer = SegmentWriter(landing, "r1", rotate_seconds=10**9, clock=clock)
    rejects = SegmentWriter(
        sources.quarantine_dir(settings), "r1", kind="quarantine", rotate_seconds=10**9, clock=clock
    )

    def write(w: SegmentWriter, lines: list[bytes], status: str = "ok") -> None:
        w.write_batch([(clock.t, status, "10.1.1.1:4000", line) for line in lines])

    # A: opened 10:05, closed 10:10
    seg_a = [packet(at(10, m), 30.0 + m) for m in range(10)]
    write(writer, seg_a)
    clock.at(at(10, 10))
    writer.close()
    # Q: the receiver's rejects, closed 10:30
    clock.at(at(10, 20))
    write(rejects, [seg_a[0][:-6] + b"0000\r\n"], "crc_mismatch")
    # B: opened 10:20, data of 10:20-10:29 plus a retransmitted copy of A's first packet; still open
    seg_b = [packet(at(10, 20 + m), 50.0 + m) for m in range(10)] + [seg_a[0]]
    write(writer, seg_b)
    clock.at(at(10, 30))
    rejects.close()

    run1 = ingest("source", register)
    assert sorted((r.status, r.counts["lines"]) for r in run1.of("core")) == [
        ("published", 1),
        ("published", 10),
    ]
    assert query(settings, "SELECT count(*) FROM core_source__packets")[0][0] == 10
    assert query(settings, "SELECT reason, count(*) FROM quarantine_source__packets GROUP BY ALL") == [
        ("crc_mismatch", 1)
    ]
    after_run1 = digest(settings.lake)

    # a rerun: everything skipped, the lake unchanged byte for byte
    rerun = ingest("source", register)
    assert {r.status for r in rerun.units} == {"skipped"}
    assert digest(settings.lake) == after_run1

    # B closes late — stamped by a receiver clock a day behind the scheduler's — and C opens: the next
    # run takes both, once, whatever their close times say
    clock.at(at(11, 5) - dt.timedelta(days=1))
    writer.close()
    clock.at(at(11, 6))
    seg_c = [packet(at(11, m), 70.0, mn=MN2, cn="2051") for m in range(0, 60, 10)]
    write(writer, seg_c)
    clock.at(at(11, 20))
    writer.close()
    run2 = ingest("source", register)
    assert sorted(r.counts["lines"] for r in run2.of("core") if r.status == "published") == [6, 11]
    counts = query(settings, "SELECT mn, count(*) FROM core_source__packets GROUP BY ALL ORDER BY 1")
    assert counts == [(MN, 21), (MN2, 6)]  # 10 + 11 (one retransmitted copy kept in the core table)
    hours = query(
        settings,
        "SELECT mn, strftime(hour_at AT TIME ZONE 'Asia/Shanghai', '%H'), basis, samples, retransmissions "
        "FROM mart_source__hourly WHERE pollutant_code = 'w01018' ORDER BY 1, 2",
    )
    assert hours == [(MN, "10", "2011", 20, 1), (MN2, "11", "2051", 6, 0)]
    [marts] = [m for m in run2.of("marts") if m.status == "published"]
    assert marts.counts["hours_recomputed"] == 2  # hours 10 and 11 only: parts were only added
    assert marts.counts["outlet_hours_recomputed"] == 2  # MN at 10 h, MN2 at 11 h: not every outlet
    from schemas import source as schema
    from warehouse import lake as lk

    incremental = lk.read_partition(settings.lake, schema.hourly, dt.date(2026, 11, 20))
    ingest("source", force=True, builds=["marts"])  # the whole day from scratch
    assert lk.read_partition(settings.lake, schema.hourly, dt.date(2026, 11, 20)).equals(incremental)
    settled = digest(settings.lake)

    # reruns change nothing; a forced rerun rewrites the same content
    again = ingest("source", register)
    assert {r.status for r in again.units} == {"skipped"}
    assert digest(settings.lake) == settled
    forced = ingest("source", register, force=True)
    assert {r.status for r in forced.of("core")} == {"published"}
    assert query(settings, "SELECT count(*) FROM core_source__packets")[0][0] == 27
    data_parts = sorted(p.name for p in (settings.lake / "core" / "core_source__packets").rglob("*.parquet"))
    assert len(data_parts) == 3  # one part per data segment, replaced whole on the forced rerun


def test_a_late_daily_packet_recomputes_only_its_outlet_day_until_the_code_changes(
    settings: Settings, ingest: Ingest
) -> None:
    """A run that only adds parts recomputes the daily rows of the outlet days its new readings touch
    (here a late 2031 packet of one outlet) and keeps the other outlets' rows as published; the day
    then equals a rebuild from scratch. After a change of the marts' code, a date is rebuilt whole."""
    from ecocloud.runner import engine
    from ecocloud.runner.context import RunInfo
    from ecocloud.specs import get_spec
    from schemas import source as schema
    from warehouse import lake as lk

    segment = segments(settings, at(10, 5))

    segment([packet(at(10, m), 30.0 + m, mn=mn) for mn in (MN, MN2) for m in range(0, 60, 10)], at(11, 0))
    ingest("source", register)
    daily = "SELECT mn, basis, avg_value FROM mart_source__daily WHERE pollutant_code = 'w01018' ORDER BY 1"
    assert query(settings, daily) == [(MN, "2011", 55.0), (MN2, "2011", 55.0)]

    # the day's 2031 packet of MN arrives late, and nothing else
    segment([packet(at(0, 0), 31.0, cn="2031")], at(12, 0))
    run = ingest("source", register)
    [marts] = [m for m in run.of("marts") if m.status == "published"]
    assert marts.counts["outlet_days_recomputed"] == 1  # MN's day; MN2's row kept as published
    assert marts.counts["hours_recomputed"] == 0  # a 2031 packet feeds no hour
    assert query(settings, daily) == [(MN, "2031", 31.0), (MN2, "2011", 55.0)]

    day = dt.date(2026, 11, 20)
    incremental = [lk.read_partition(settings.lake, t, day) for t in (schema.hourly, schema.daily)]
    ingest("source", force=True, builds=["marts"])  # the whole day from scratch
    assert [lk.read_partition(settings.lake, t, day) for t in (schema.hourly, schema.daily)] == incremental

    # the marts' code changes (a new code version): the next run rebuilds the whole date, though its
    # readings only gained a part — rows published by the old code are not kept
    segment([packet(at(13, m), 20.0, mn=MN2) for m in range(0, 60, 10)], at(14, 0))
    spec = get_spec("source")
    bumped = replace(
        spec,
        builds=tuple(
            replace(b, code_version=b.code_version + "+1") if b.name == "marts" else b for b in spec.builds
        ),
    )
    run = engine.land_and_run(settings, bumped, register, RunInfo.cli("test"))
    [marts] = [m for m in run.of("marts") if m.status == "published"]
    assert marts.counts["hours_recomputed"] == 24 and marts.counts["outlet_days_recomputed"] is None


def test_a_facility_state_in_a_data_packet_is_a_reading_and_no_marts_pollutant(
    settings: Settings, ingest: Ingest
) -> None:
    """A logger that sends its facilities' states in its real-time packets (SB1-RS beside w01018-Rtd):
    the states are kept as readings; the hourly mart has the pollutants only."""
    line = build_packet(
        qn="20261120100000000",
        st="32",
        cn="2011",
        mn=MN,
        flag=5,
        data_time=at(10, 0),
        items={"w01018": {"Rtd": 30.0, "Flag": "N"}},
        facilities={"SB1": {"RS": 1, "RT": 10.5}},
    )
    segments(settings, at(10, 5))([line], at(11, 0))
    ingest("source", register)
    assert query(
        settings, "SELECT pollutant_code, stat, value, unit, flag FROM core_source__readings ORDER BY 1, 2"
    ) == [
        ("SB1", "RS", 1.0, None, None),
        ("SB1", "RT", 10.5, "h", None),
        ("w01018", "Rtd", 30.0, "mg/L", "N"),
    ]
    assert query(settings, "SELECT pollutant_code, avg_value FROM mart_source__hourly") == [("w01018", 30.0)]


def test_a_date_whose_readings_are_all_gone_gets_empty_marts(settings: Settings, ingest: Ingest) -> None:
    """A forced rerun finds one segment's bytes changed on disk: quarantined whole, its readings leave
    their date. The date's marts are rebuilt empty — not left as computed from readings no longer there."""
    segment = segments(settings, at(10, 5))

    segment([packet(at(10, m), 30.0) for m in range(0, 60, 10)], at(11, 0))
    # back-filled: the day before's packets (a packet dated after its receipt would be quarantined)
    segment([packet(at(10, m) - dt.timedelta(days=1), 40.0) for m in range(0, 60, 10)], at(12, 0))
    ingest("source", register)
    per_date = "SELECT strftime(date, '%d'), count(*) FROM {} GROUP BY ALL ORDER BY 1"
    assert query(settings, per_date.format("mart_source__hourly")) == [("19", 2), ("20", 2)]

    [closed] = [
        p
        for p in settings.hj212_landing.rglob(f"*{sources.CLOSED_SUFFIX}")
        if b"DataTime=20261119" in p.read_bytes()
    ]
    data = bytearray(closed.read_bytes())
    data[-3] ^= 1  # a bit flipped on disk
    closed.write_bytes(bytes(data))
    ingest("source", register, force=True, builds=["core"])
    assert query(settings, per_date.format("core_source__readings")) == [("20", 12)]
    assert query(settings, "SELECT DISTINCT reason FROM quarantine_source__packets") == [
        ("segment_manifest_mismatch",)
    ]
    run = ingest("source", register)
    # the 20th's readings are as they were; the 19th's marts are rebuilt from no readings at all
    assert {(m.unit, m.status) for m in run.of("marts")} == {
        ("2026-11-19", "published"),
        ("2026-11-20", "skipped"),
    }
    for mart in ("mart_source__hourly", "mart_source__daily"):
        assert [d for d, _ in query(settings, per_date.format(mart))] == ["20"], mart
    again = ingest("source", register)
    assert {r.status for r in again.units} == {"skipped"}


def test_capture_files_gz_and_plain_are_content_addressed(
    settings: Settings, tmp_path: Path, ingest: Ingest
) -> None:
    import gzip

    lines = b"".join(packet(at(9, m), 1.0 + m) for m in range(5)) + b"##bad\r\n"
    plain = tmp_path / "cap-2026-11-20.h212"
    plain.write_bytes(lines)
    gz = tmp_path / "cap-20261120.h212.gz"
    gz.write_bytes(gzip.compress(lines))
    report = ingest("source", captures([plain, gz]))
    assert [
        (r.counts["lines"], r.counts["accepted"], r.counts["quarantined"]) for r in report.of("core")
    ] == [(6, 5, 1)] * 2
    raw = sorted(p.relative_to(settings.lake).as_posix() for p in (settings.lake / "raw").rglob("*.h212*"))
    assert len(raw) == 2 and all(p.startswith("raw/hj212_capture/date=2026-11-20/") for p in raw)
    with pytest.raises(FileNotFoundError):
        ingest("source", captures([tmp_path / "missing.h212"]))


def test_the_same_capture_under_another_name_builds_nothing_new(
    settings: Settings, tmp_path: Path, ingest: Ingest
) -> None:
    """The same bytes landed again under another name planned a second unit of the same key, and
    every later run of the spec stopped with "plan gave unit … twice" until the ledger was edited."""
    first = tmp_path / "cap-2026-11-20.h212"
    first.write_bytes(b"".join(packet(at(9, m), 1.0 + m) for m in range(3)))
    again = tmp_path / "unread.h212"
    again.write_bytes(first.read_bytes())
    landed_first = ingest("source", captures([first]))
    assert [u.status for u in landed_first.of("core")] == ["published"]
    report = ingest("source", captures([again]))  # a new raw object, the same content
    assert len(report.landed) == 1 and not [u for u in report.of("core") if u.status != "skipped"]
    # the report says why nothing was built: `ingest` prints it beside the landed path
    assert report.same_bytes == {report.landed[0]: landed_first.landed[0]}
    third = tmp_path / "third.h212"
    third.write_bytes(first.read_bytes())
    out = CliRunner(env={"COLUMNS": "250"}).invoke(app, ["ingest", "hj212", str(third)])
    assert out.exit_code == 0 and "nothing new to build)" in out.output, out.output
    assert query(settings, "SELECT count(*) FROM core_source__packets") == [(3,)]
    rerun = ingest("source", captures([first]))  # already landed under this name: nothing new
    assert rerun.landed == [] and rerun.status in ("published", "skipped")
    assert ingest("source").status in ("published", "skipped")  # later runs go on


def test_an_unreadable_gzip_capture_is_quarantined_whole_and_not_retried(
    settings: Settings, tmp_path: Path, ingest: Ingest
) -> None:
    """A truncated .gz failed its unit with a traceback in every later run (the unit stayed pending):
    the file is one quarantined line with the reason, and the run goes on."""
    import gzip

    whole = gzip.compress(b"".join(packet(at(9, m), 1.0 + m) for m in range(50)))
    truncated = tmp_path / "cap-2026-11-20T09.h212.gz"
    truncated.write_bytes(whole[: len(whole) // 2])
    report = ingest("source", captures([truncated]))
    (core,) = report.of("core")
    assert core.status == "published" and (core.counts["lines"], core.counts["quarantined"]) == (1, 1)
    assert any("capture_unreadable: not a readable gzip file" in w for w in core.warnings)
    ((reason, detail, offset),) = query(
        settings, 'SELECT reason, detail, "offset" FROM quarantine_source__packets'
    )
    assert reason == "capture_unreadable" and "gzip" in detail and offset == 0
    assert reason in QUARANTINE_REASONS  # labelled for the ingestion page
    assert [u.status for u in ingest("source").of("core")] in ([], ["skipped"])  # not pending again


def test_a_capture_quarantined_mostly_warns_and_a_folder_is_its_captures(
    settings: Settings, tmp_path: Path, ingest: Ingest
) -> None:
    """A file whose every line was quarantined (LF line ends: no HJ 212 tail) published nothing and
    said so only in the quarantine table; and a folder given as a capture was 'no such file'."""
    folder = tmp_path / "captures"
    folder.mkdir()
    lf_only = b"".join(packet(at(9, m), 1.0 + m).replace(b"\r\n", b"\n") for m in range(4))
    (folder / "2026-11-20T09.h212").write_bytes(lf_only)
    (folder / "2026-11-20T10.h212").write_bytes(b"".join(packet(at(10, m), 2.0) for m in range(2)))
    (folder / "notes.md").write_text("not a capture")
    report = ingest("source", captures([folder]))
    core = sorted(report.of("core"), key=lambda u: u.counts["accepted"])
    assert [(u.counts["accepted"], u.counts["quarantined"]) for u in core] == [(0, 4), (2, 0)]
    assert any("4 of 4 lines quarantined (missing_tail ×4)" in w for w in core[0].warnings)
    assert any("were the file's line ends converted" in w for w in core[0].warnings)  # what it likely means
    assert not core[1].warnings
    with pytest.raises(ValueError, match="is not a file or a folder"):
        ingest("source", captures([Path("/dev/null")]))
    # named .gz, but its bytes are something else: read as they are, and the warning says which
    (tmp_path / "2026-11-20T11.h212.gz").write_bytes(b"<html>an error page saved as the capture</html>\n" * 3)
    run = ingest("source", captures([tmp_path / "2026-11-20T11.h212.gz"]))
    (named,) = [u for u in run.of("core") if u.status != "skipped"]
    assert named.counts["quarantined"] == 3
    assert any("its name ends in .gz, but its bytes are not gzip" in w for w in named.warnings), (
        named.warnings
    )


@pytest.mark.parametrize(
    "name",
    ["LD130121000133_20160824.h212", "logger-1301-2016-08-24.log", "88883600000000000000014D-20160824.txt"],
)
def test_a_captures_rows_without_time_take_the_first_date_in_its_name(
    settings: Settings, tmp_path: Path, ingest: Ingest, name: str
) -> None:
    """The first valid date in the name, not the first eight digits (1301-20-16, an MN's digits):
    those gave up and dated the file's rejects today."""
    (tmp_path / name).write_bytes(b"not a packet\r\n" * 2)
    ingest("source", captures([tmp_path / name]))
    assert query(settings, "SELECT date, count(*) FROM quarantine_source__packets GROUP BY date") == [
        (dt.date(2016, 8, 24), 2)
    ]


def test_a_run_whose_units_only_failed_still_shows_them_in_sql(
    settings: Settings, tmp_path: Path, ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serving was refreshed only when something was published or blocked: after a run whose units
    failed, `ecocloud sql` showed neither the failures nor the objects just landed."""
    capture = tmp_path / "cap-2026-11-20.h212"
    capture.write_bytes(packet(at(9, 0), 1.0))
    ingest("source")  # a serving database, before anything lands

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a parser bug")

    monkeypatch.setattr(sources.hj_batch, "parse_capture", broken)
    report = ingest("source", captures([capture]))
    assert [u.status for u in report.of("core")] == ["failed"]
    failed = query(settings, "SELECT count(*) FROM platform_ledger__builds WHERE status = 'failed'")
    landed = query(
        settings, "SELECT count(*) FROM platform_ledger__raw_manifest WHERE raw_path LIKE '%cap-2026-11-20%'"
    )
    assert failed == [(1,)] and landed == [(1,)]


def test_rebuild_names_one_day_and_leaves_the_others_as_they_are(
    settings: Settings, tmp_path: Path, ingest: Ingest
) -> None:
    """--force rebuilt every unit of every build (years of partitions on a real lake, for a one-day
    fix); --rebuild DATE rebuilds that day's units alone."""
    from ecocloud.runner import engine
    from ecocloud.runner.context import RunInfo
    from ecocloud.specs import get_spec

    day_after = at(9, 0) + dt.timedelta(days=1)
    (tmp_path / "a.h212").write_bytes(packet(at(9, 0), 1.0) + packet(day_after, 2.0))
    ingest("source", captures([tmp_path / "a.h212"]))
    parts_sql = (
        "SELECT partition_date, written_at FROM platform_ledger__parts "
        "WHERE table_name = 'mart_source__hourly' ORDER BY 1"
    )
    before = query(settings, parts_sql)
    assert [str(d) for d, _ in before] == ["2026-11-20", "2026-11-21"]
    run = RunInfo.cli("test", rebuild=[" 2026-11-21"])
    report = engine.land_and_run(settings, get_spec("source"), lambda _s, _l: [], run)
    built = {(u.build, u.unit) for u in report.units if u.status != "skipped"}
    assert ("source.marts", "2026-11-21") in built and {unit for _, unit in built} == {"2026-11-21"}
    after = query(settings, parts_sql)
    assert after[0] == before[0] and after[1][1] > before[1][1]  # the other day's part untouched
    # from the command: a unit no build has is a usage error (it exited 0), and --no-land says nothing
    # of landing
    runner = CliRunner(env={"COLUMNS": "250", "ECOCLOUD_HOME": str(settings.root)})
    typo = runner.invoke(app, ["run", "source", "--no-land", "--rebuild", "2026-12-31"])
    assert typo.exit_code == 2 and "no build of source has a unit 2026-12-31" in typo.output
    assert "landed" not in typo.output
    again = runner.invoke(app, ["run", "source", "--no-land", "--rebuild", "2026-11-21"])
    assert again.exit_code == 0, again.output


def test_a_receiver_quarantine_segment_does_not_warn_that_its_lines_were_quarantined(
    settings: Settings, ingest: Ingest
) -> None:
    """Every receiver quarantine segment (rejects by construction) warned "20 of 20 lines quarantined
    (bad_header ×10, …)" at every run; a data segment mostly rejected still warns."""
    clock = Clock(at(10, 5))
    data = SegmentWriter(settings.hj212_landing, "r1", rotate_seconds=10**9, clock=clock)
    rejects = SegmentWriter(
        sources.quarantine_dir(settings), "r1", kind="quarantine", rotate_seconds=10**9, clock=clock
    )
    data.write_batch(
        [(clock.t, "ok", "10.1.1.1:4000", line) for line in (packet(at(10, 0), 1.0), b"##junk\r\n")]
    )
    rejects.write_batch([(clock.t, "bad_header", "10.1.1.1:4000", b"junk\r\n")] * 3)
    clock.at(at(10, 10))
    data.close()
    rejects.close()
    run = ingest("source", register)
    by_accepted = {u.counts["accepted"]: u for u in run.of("core")}
    assert sorted((u.counts["accepted"], u.counts["quarantined"]) for u in by_accepted.values()) == [
        (0, 3),
        (1, 1),
    ]
    assert by_accepted[0].warnings == []  # the quarantine segment
    assert any("1 of 2 lines quarantined (bad_length_field ×1)" in w for w in by_accepted[1].warnings)
