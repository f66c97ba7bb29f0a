"""Two rows of one snapshot with the same section and reading time: kept once, the other quarantined."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa

from ecocloud.builds.water import _drop_duplicates
from ingest.water.fetch import Snapshot
from ingest.water.parse import parse_page
from schemas.clock import BEIJING
from warehouse.ledger import RawObject

THEAD = [
    "省份",
    "流域",
    "断面名称",
    "监测时间",
    "水质类别",
    "pH<br/><span class='unit'>(无量纲)</span>",
    "总磷<br/><span class='unit'>(mg/L)</span>",
]
REFERENCE = dt.datetime(2027, 1, 10, 9, 0, tzinfo=BEIJING)


def _row(name: str, ph: str, tp: str, cls: str = "3") -> list[str]:
    cell = "<span title='原始值：{0}'>{0}</span>".format
    return ["江西省", "长江流域", name, "01-10 08:00", cls, cell(ph), cell(tp)]


def _page(rows: list[list[str]], page: int) -> pa.Table:
    body = json.dumps(
        {"result": 1, "total": 2, "records": 4, "thead": THEAD, "tbody": rows}, ensure_ascii=False
    ).encode()
    parsed = parse_page(
        body,
        raw_file=f"p{page}",
        page=page,
        reference=REFERENCE,
        snapshot_id="s",
        fetch_date=REFERENCE.date(),
    )
    assert parsed.counts["rows_typed"] == len(rows)
    return parsed.readings


def _snapshot() -> Snapshot:
    pages = tuple(
        RawObject(f"raw/water/p{i}.json", "water", f"realtime_p{i}.json", None, "0" * 64, 1, "x", "")
        for i in (1, 2)
    )
    return Snapshot("s", REFERENCE.astimezone(dt.UTC), REFERENCE.astimezone(dt.UTC), "x", pages)


def test_a_duplicate_with_other_values_is_quarantined_as_conflicting_with_both_values() -> None:
    page1 = _page([_row("湖区北", "7.50", "0.050"), _row("湖区南", "7.80", "0.040")], 1)
    # the board shifted rows between the two page fetches: 湖区北 again as it was, 湖区南 with other values
    page2 = _page([_row("湖区北", "7.50", "0.050"), _row("湖区南", "7.80", "0.120", cls="5")], 2)
    keep, quarantined = _drop_duplicates(pa.concat_tables([page1, page2]), _snapshot())

    # the first row in page order is kept (the documented rule), each section once
    assert sorted(zip(keep["section_name"].to_pylist(), keep["tp_mgl"].to_pylist(), strict=True)) == [
        ("湖区北", 0.05),
        ("湖区南", 0.04),
    ]
    reasons = dict(
        zip(quarantined["section_name"].to_pylist(), quarantined["reason"].to_pylist(), strict=True)
    )
    assert reasons == {
        "湖区北": "duplicate: same section and reading time as page 1 row 0",
        "湖区南": "conflicting duplicate: same section and reading time as page 1 row 1, which is kept "
        "(the first in page order), but different values: tp_mgl 0.04 kept vs 0.12 here; "
        "class_published 3 kept vs 5 here",
    }
    assert quarantined["page"].to_pylist() == [2, 2]
