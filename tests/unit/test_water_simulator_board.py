"""The simulated surface-water board: network, registry, reply format, published class."""

from __future__ import annotations

import datetime as dt
import json
import re

import pyarrow.compute as pc

from ecocloud.simulator.server import SimClock
from ecocloud.simulator.water import (
    THEAD,
    WaterQuirks,
    WaterUpstream,
    board_reply,
    jiangxi_sections,
    registry_csv,
)
from ingest.water.parse import BEIJING, parse_page
from ingest.water.sections import parse_sections_csv
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
    except where the platform withheld a QC-failed value it classified with."""
    sections = jiangxi_sections(3)
    reg = parse_sections_csv(registry_csv(sections))
    both = same = 0
    for day in range(0, 365, 11):
        now = dt.datetime(2026, 1, 1, 9) + dt.timedelta(days=day, hours=4 * (day % 6))
        up = WaterUpstream(sections, seed=3, clock=SimClock(now), quirks=WaterQuirks(qc_fail_rate=0.0))
        rows, updated = up.board()
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
    assert both > 1000 and same == both
