"""Fetching the surface-water board: which clock dates the ``MM-DD`` readings of a snapshot."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from ingest.http import Fetched
from ingest.raw import read_raw
from ingest.water import fetch as water_fetch
from ingest.water.parse import parse_page
from schemas.clock import BEIJING
from warehouse.ledger import Ledger

THEAD = ["省份", "流域", "断面名称", "监测时间", "水质类别", "pH<br/><span class='unit'>(无量纲)</span>"]
# Fetched at 2027-01-10 09:00 Beijing: the board shows that morning's 08:00 reading.
FETCHED_AT = dt.datetime(2027, 1, 10, 1, 0, tzinfo=dt.UTC)
BOARD = json.dumps(
    {
        "result": 1,
        "total": 1,
        "records": 1,
        "thead": THEAD,
        "tbody": [
            ["江西省", "长江流域", "湖区北", "01-10 08:00", "2", "<span title='原始值：7.5'>7.50</span>"]
        ],
    },
    ensure_ascii=False,
).encode()


def _land(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, last_modified: dt.datetime | None) -> Any:
    header = None if last_modified is None else email.utils.format_datetime(last_modified, usegmt=True)

    def fake_fetch(session: requests.Session, url: str, **_: Any) -> Fetched:
        return Fetched(url, 200, BOARD, None, header)

    monkeypatch.setattr(water_fetch, "fetch", fake_fetch)
    lake, ledger = tmp_path / "lake", Ledger(tmp_path / "l.sqlite")
    snap = water_fetch.fetch_board(
        lake, ledger, "http://board/water", session=requests.Session(), now=FETCHED_AT
    )
    parsed = parse_page(
        read_raw(lake, snap.pages[0]),
        raw_file=snap.pages[0].raw_path,
        page=1,
        reference=snap.reference_at,
        snapshot_id=snap.snapshot_id,
        fetch_date=snap.fetch_date,
    )
    return snap, parsed.readings.column("observed_at").to_pylist()


@pytest.mark.parametrize(
    "last_modified",
    [
        dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC),  # a static / proxy-cached header, months old
        FETCHED_AT - dt.timedelta(days=1, hours=1),  # just over a day old
        FETCHED_AT + dt.timedelta(days=40),  # in the future: no clock at all
        None,  # no header
    ],
)
def test_a_stale_last_modified_does_not_date_the_readings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, last_modified: dt.datetime | None
) -> None:
    snap, observed = _land(tmp_path, monkeypatch, last_modified)
    assert snap.reference_at == FETCHED_AT
    assert snap.fetch_date == dt.date(2027, 1, 10)
    assert observed == [dt.datetime(2027, 1, 10, 8, 0, tzinfo=BEIJING)]  # not 2026-01-10


def test_a_current_last_modified_is_the_board_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    modified = FETCHED_AT - dt.timedelta(minutes=30)  # the board's 08:30 update
    snap, observed = _land(tmp_path, monkeypatch, modified)
    assert snap.reference_at == modified
    assert observed == [dt.datetime(2027, 1, 10, 8, 0, tzinfo=BEIJING)]
