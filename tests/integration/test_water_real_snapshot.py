"""The surface-water pipeline on the real platform reply in ../shared/data/cnemc-water."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ecocloud.builds import water
from ecocloud.runner.report import RunReport
from ecocloud.settings import Settings
from ingest.water.fetch import reference_from_name
from ingest.water.parse import parse_page
from ingest.water.sections import empty_registry, parse_sections_csv
from transforms.water_class import attach_sections, classify

pytestmark = pytest.mark.realdata

SNAPSHOT = "realtime_snapshot_20260821_p1.json"
# The ten lake sections of this page (the data README names them); the reply does not say.
LAKES_CSV = """province,basin,section_name,section_type,target_class,water_body
江苏省,太湖流域,锡东水厂,lake,3,太湖
江苏省,太湖流域,拖山,lake,3,太湖
江苏省,太湖流域,五里湖心,lake,3,太湖
江苏省,太湖流域,乌龟山南,lake,3,太湖
浙江省,浙闽片河流,小金山,lake,3,西湖
浙江省,浙闽片河流,三潭岛,lake,3,西湖
安徽省,巢湖流域,湖滨,lake,3,巢湖
安徽省,巢湖流域,黄麓,lake,3,巢湖
安徽省,巢湖流域,西半湖湖心,lake,3,巢湖
安徽省,巢湖流域,龟山,lake,3,巢湖
"""


@pytest.fixture
def page_file(shared_data: Path) -> Path:
    return shared_data / "cnemc-water" / SNAPSHOT


def agreement(readings: pa.Table, registry: pa.Table) -> tuple[int, int]:
    enriched = attach_sections(readings, registry)
    ours = classify(enriched).column("water_class")
    published = enriched.column("class_published")
    both = pc.and_(pc.is_valid(ours), pc.is_valid(published))
    same = pc.and_(both, pc.equal(ours, published))
    return pc.sum(both).as_py(), pc.sum(same).as_py()


def test_our_gb3838_class_reproduces_the_published_class(page_file: Path) -> None:
    reference = reference_from_name(SNAPSHOT)
    assert reference is not None
    page = parse_page(
        page_file.read_bytes(),
        raw_file=SNAPSHOT,
        page=1,
        reference=reference,
        snapshot_id="real",
        fetch_date=dt.date(2026, 8, 21),
    )
    assert page.counts == {"rows_in": 480, "rows_typed": 480, "rows_quarantined": 0, "values_qc_failed": 49}
    assert (page.total, page.records) == (4, 1616)
    # every section a river: 465 of the 479 published classes (安固桥 has -1, no class)
    assert agreement(page.readings, empty_registry()) == (479, 465)
    # the ten lake sections on lake TP limits: 475 of 479
    registry = parse_sections_csv(LAKES_CSV.encode())
    assert agreement(page.readings, registry) == (479, 475)
    # the MM-DD HH:MM readings are of 2026-08-21, 13:00 to 20:00 Beijing
    times = page.readings.column("observed_at")
    assert pc.min(times).as_py() == dt.datetime(2026, 8, 21, 5, 0, tzinfo=dt.UTC)
    assert pc.max(times).as_py() == dt.datetime(2026, 8, 21, 12, 0, tzinfo=dt.UTC)


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def query(settings: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.duckdb_file), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_ingest_the_real_page_end_to_end_and_twice_is_once(
    page_file: Path, settings: Settings, tmp_path: Path, ingest: Callable[..., RunReport]
) -> None:
    registry = tmp_path / "sections.csv"
    registry.write_text(LAKES_CSV, encoding="utf-8")

    def land(s: Settings, led: object, *, page: Path = page_file) -> list[object]:
        water.land_registry(s, led, registry)  # type: ignore[arg-type]
        return [p for snap in water.land(s, led, [str(page)]) for p in snap.pages]  # type: ignore[arg-type]

    report = ingest("water", land)
    status = {u.build: u.status for u in report.units}
    assert status == {
        "water.snapshots": "published",
        "water.readings": "published",
        "water.sections": "published",
        "water.monthly": "published",
    }
    [snap] = report.of("snapshots")
    # rows in = published + quarantined, for the snapshot
    assert snap.counts["rows_in"] == 480 == snap.counts["rows_typed"] + snap.counts["rows_quarantined"]
    [day] = report.of("readings")
    assert day.unit == "2026-08-21"
    assert (day.counts["class_compared"], day.counts["class_agree"]) == (479, 475)
    assert day.counts["sections_unlisted"] == 470  # everything but the ten lakes: a warning, not a failure
    assert any("not in the section registry" in w for w in day.warnings)

    published, quarantined = query(
        settings,
        "SELECT (SELECT count(*) FROM core_water__section_readings), "
        "(SELECT count(*) FROM quarantine_water__section_readings)",
    )[0]
    assert (published, quarantined) == (480, 0)
    assert query(
        settings,
        "SELECT count(*) FILTER (WHERE water_class = class_published), count(class_published), "
        "count(*) FILTER (WHERE section_type = 'lake'), count(tn_class), "
        "count(*) FILTER (WHERE (exceed_items IS NOT NULL) = (water_class > target_class)) "
        "FROM core_water__section_readings",
    )[0] == (475, 479, 10, 10, 479)
    # the gate's pair check records the agreement on the partition
    pair = query(
        settings,
        "SELECT success, unexpected_count, element_count FROM quality_platform__expectation_results "
        "WHERE table_name = 'core_water__section_readings' AND column_name = 'water_class,class_published'",
    )
    assert pair == [(True, 4, 480)]
    blocking = query(
        settings,
        "SELECT count(*) FROM quality_platform__expectation_results WHERE severity = 'blocking' AND NOT success",
    )[0][0]
    assert blocking == 0
    assert query(settings, "SELECT count(*), count(*) FILTER (WHERE listed) FROM core_water__sections")[
        0
    ] == (480, 10)
    monthly = query(
        settings,
        "SELECT count(*), count(*) FILTER (WHERE meets_target), min(month) FROM mart_water__section_monthly",
    )[0]
    assert monthly[0] == 480 and monthly[2] == dt.date(2026, 8, 1)
    basins = dict(
        query(
            settings,
            "SELECT coalesce(water_body, basin), sections FROM mart_water__basin_monthly "
            "WHERE basin IN ('太湖流域', '巢湖流域')",
        )
    )
    assert basins["太湖"] == 4 and basins["巢湖"] == 4 and basins["巢湖流域"] == 16

    before = digest(settings.lake)
    again = ingest("water", land)
    assert {r.status for r in again.units} == {"skipped"}  # same bytes, same registry, same code
    assert digest(settings.lake) == before

    # A forced rebuild recomputes from the raw zone and yields the same rows.
    rows = query(settings, "SELECT * FROM core_water__section_readings ORDER BY section_id")
    ingest("water", land, force=True)
    assert query(settings, "SELECT * FROM core_water__section_readings ORDER BY section_id") == rows


def test_a_refused_registry_keeps_the_one_before_and_the_board_still_lands(
    page_file: Path, settings: Settings, tmp_path: Path, ingest: Callable[..., RunReport]
) -> None:
    registry = tmp_path / "sections.csv"
    registry.write_text(LAKES_CSV, encoding="utf-8")
    board = tmp_path / "board" / SNAPSHOT  # the board as a saved page: land_interval lands a path
    board.parent.mkdir()
    board.write_bytes(page_file.read_bytes())
    s = settings.model_copy(update={"water_base_url": str(board), "water_sections_csv": registry})
    scheduled = lambda _s, led: water.land_interval(s, led)  # noqa: E731
    ingest("water", scheduled)

    # an engineer saves a broken registry; the board moves on meanwhile (other bytes, a new snapshot)
    registry.write_text(LAKES_CSV.replace("锡东水厂,", '"锡东水厂,', 1), encoding="utf-8")
    board.write_bytes(page_file.read_bytes() + b"\n")
    report = ingest("water", scheduled)
    # the new snapshot landed and was typed (the first one stands)
    assert sorted(u.status for u in report.of("snapshots")) == ["published", "skipped"]
    [day] = report.of("readings")
    # the lake registry before it stays in force: 475 of 479, the ten lakes listed
    assert (day.counts["class_agree"], day.counts["sections_unlisted"]) == (475, 470)
    [sections] = report.of("sections")
    assert any("section registry" in w and "refused" in w for w in sections.warnings)
    assert query(settings, "SELECT count(*) FROM core_water__sections WHERE listed")[0][0] == 10

    # the registry file gone (a lost mount): the board still lands, the lake registry stays in force
    registry.unlink()
    board.write_bytes(page_file.read_bytes() + b"\n\n")
    report = ingest("water", scheduled)
    assert sorted(u.status for u in report.of("snapshots")) == ["published", "skipped", "skipped"]
    assert query(settings, "SELECT count(*) FROM core_water__sections WHERE listed")[0][0] == 10


def test_an_incomplete_snapshot_is_a_warning(
    page_file: Path, settings: Settings, tmp_path: Path, ingest: Callable[..., RunReport]
) -> None:
    busy = tmp_path / "realtime_snapshot_20260821_p2.json"  # a page that is no reply of the board
    busy.write_bytes(b"<html><body>Server busy, try again later</body></html>")
    report = ingest(
        "water",
        lambda s, led: [p for snap in water.land(s, led, [str(page_file), str(busy)]) for p in snap.pages],
    )
    assert {u.status for u in report.units} == {"published"}  # warnings, not a failed run
    warned = {u.counts["rows_in"]: u.warnings for u in report.of("snapshots")}
    # page 1 of 4: 480 rows of the 1616 records its reply declares
    assert "480 row(s) of the 1616 records the board declared" in " ".join(warned[480])
    # the busy page: one quarantine row, and the snapshot says its readings are missing
    assert any("1 page(s) not a usable reply" in w for w in warned[0])
    assert query(settings, "SELECT count(*) FROM quarantine_water__section_readings")[0][0] == 1
