"""The simulated surface-water board: network, registry, reply format, published class."""

from __future__ import annotations

import datetime as dt
import json
import re

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ecocloud.simulator.server import SimClock
from ecocloud.simulator.water import (
    THEAD,
    WaterQuirks,
    WaterUpstream,
    board_reply,
    jiangxi_sections,
    published_class,
    registry_csv,
)
from ingest.water.parse import parse_page
from ingest.water.sections import parse_sections_csv
from schemas.clock import BEIJING
from transforms.water_class import attach_sections, classify


def test_simulated_network_and_its_registry() -> None:
    sections = jiangxi_sections(0)
    assert 30 <= len(sections) <= 60
    bodies = {s.water_body for s in sections}
    assert {"鄱阳湖", "赣江", "抚河", "信江", "饶河", "修河"} <= bodies
    assert sum(s.section_type == "lake" for s in sections) == 8
    reg = parse_sections_csv(registry_csv(sections))
    assert reg.num_rows == len(sections)
    assert set(reg.column("section_type").to_pylist()) == {"river", "lake", "reservoir"}


def test_simulated_board_has_the_real_reply_format() -> None:
    now = dt.datetime(2026, 7, 15, 20, 40)
    up = WaterUpstream(jiangxi_sections(1), seed=1, clock=SimClock(now), quirks=WaterQuirks(gap_rate=0.1))
    rows, updated = up.board()
    assert updated == dt.datetime(2026, 7, 15, 20, 30)  # the 20:00 readings, published 30 minutes later
    body = board_reply(rows, 2, 20)
    assert b"\\u003cspan title=\\u0027" in body and b"<" not in body  # .NET-style escaping
    page = json.loads(body)
    assert set(page) == {"result", "total", "records", "thead", "tbody"}
    assert (page["result"], page["total"], page["records"]) == (1, 3, len(rows))
    assert page["thead"] == list(THEAD) and len(page["tbody"]) == 20
    cells = [c for r in page["tbody"] for c in r[5:]]
    assert any(c == "--" for c in cells)
    assert all(c == "--" or re.fullmatch(r"<span[^>]*title='[^']+'>[^<]*</span>", c) for c in cells)
    assert all(re.fullmatch(r"\d\d-\d\d \d\d:00", r[3]) for r in page["tbody"] if r[3] != "--")
    assert {r[4] for r in page["tbody"]} <= {"-1", "1", "2", "3", "4", "5", "6"}
    parsed = parse_page(
        body,
        raw_file="x",
        page=2,
        reference=updated.replace(tzinfo=BEIJING),
        snapshot_id="s",
        fetch_date=now.date(),
    )
    assert parsed.counts["rows_in"] == 20


def test_simulated_published_class_leaves_tn_out_and_uses_lake_tp() -> None:
    """Over a year of boards, our class with the registry's lake types equals the published one
    (computed by the simulator's own classifier, not ours) except where the platform withheld a
    QC-failed value it classified with."""
    sections = jiangxi_sections(3)
    reg = parse_sections_csv(registry_csv(sections))
    both = same = lake_tp_rows = 0
    for day in range(0, 365, 11):
        now = dt.datetime(2026, 1, 1, 9) + dt.timedelta(days=day, hours=4 * (day % 6))
        up = WaterUpstream(sections, seed=3, clock=SimClock(now), quirks=WaterQuirks(qc_fail_rate=0.0))
        rows, updated = up.board()
        assert updated is not None
        parsed = parse_page(
            board_reply(rows, 1, 100),
            raw_file="x",
            page=1,
            reference=updated.replace(tzinfo=BEIJING),
            snapshot_id="s",
            fetch_date=now.date(),
        )
        r = attach_sections(parsed.readings, reg)
        ours = classify(r).column("water_class")
        has = pc.and_(pc.is_valid(ours), pc.is_valid(r.column("class_published")))
        both += pc.sum(has).as_py()
        same += pc.sum(pc.and_(has, pc.equal(ours, r.column("class_published")))).as_py()
        # lake/reservoir rows whose TP is class II on river limits but III–IV on lake limits
        lake = pc.is_in(r.column("section_type"), pa.array(["lake", "reservoir"]))
        tp = r.column("tp_mgl")
        in_band = pc.and_(pc.greater(tp, 0.025), pc.less_equal(tp, 0.1))
        lake_tp_rows += pc.sum(pc.fill_null(pc.and_(lake, in_band), False)).as_py()
    assert lake_tp_rows > 100  # the lake TP rule is exercised, not just present
    assert both > 1000 and same == both


@pytest.mark.parametrize(
    ("values", "section_type", "expected"),
    [
        # DOMAIN.md §4 limits at and just past each boundary; the class of the worst item wins
        ({"tp_mgl": 0.025}, "lake", 2),
        ({"tp_mgl": 0.026}, "lake", 3),
        ({"tp_mgl": 0.026}, "river", 2),
        ({"tp_mgl": 0.1}, "reservoir", 4),
        ({"tp_mgl": 0.201}, "lake", 6),
        ({"tp_mgl": 0.4}, "river", 5),
        ({"do_mgl": 7.5}, "river", 1),
        ({"do_mgl": 1.99}, "river", 6),
        ({"codmn_mgl": 6.0, "nh3n_mgl": 1.01}, "river", 4),
        ({"ph": 9.0, "codmn_mgl": 1.0}, "river", 1),
        ({"ph": 5.99, "codmn_mgl": 1.0}, "river", 6),
        ({"tn_mgl": 5.0, "codmn_mgl": 1.0}, "lake", 1),  # TN is left out of the published class
        ({"ph": None, "tn_mgl": 1.0}, "lake", -1),  # nothing classifiable measured
        ({"ph": 7.0}, "river", -1),  # pH inside 6–9 alone says nothing of the class
        ({"ph": 9.5}, "river", 6),
    ],
)
def test_simulator_published_class_follows_the_standard(
    values: dict[str, float | None], section_type: str, expected: int
) -> None:
    assert published_class(values, section_type) == expected
