"""Parsing the surface-water platform's reply: HTML cells, ``--``, QC spans, years, header, quarantine."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from ingest.water.fetch import reference_from_name
from ingest.water.parse import (
    BEIJING,
    WaterReplyError,
    header_item,
    infer_year,
    parse_cells,
    parse_page,
    parse_reading_times,
    section_id,
)

THEAD = [
    "省份",
    "流域",
    "断面名称",
    "监测时间",
    "水质类别",
    "水温<br/><span class='unit'>(℃)</span>",
    "pH<br/><span class='unit'>(无量纲)</span>",
    "溶解氧<br/><span class='unit'>(mg/L)</span>",
    "高锰酸盐指数<br/><span class='unit'>(mg/L)</span>",
    "氨氮<br/><span class='unit'>(mg/L)</span>",
    "总磷<br/><span class='unit'>(mg/L)</span>",
    "总氮<br/><span class='unit'>(mg/L)</span>",
    "藻密度<br/><span class='unit'>(cells/L)</span>",
]
QC = "<span data-toggle='tooltip' data-placement='right' title='当天质控不合格'>--</span>"


def span(raw: str, shown: str) -> str:
    return f"<span title='原始值：{raw}'>{shown}</span>"


def good_row(name: str = "沙窝", time: str = "08-21 20:00") -> list[str]:
    return [
        "北京市",
        "海河流域",
        name,
        time,
        "6",
        span("28.17", "28.2"),
        span("7.26", "7.26"),
        span("0.8", "0.80"),
        span("7.07", "7.07"),
        span("3.693", "3.693"),
        span("0.281", "0.281"),
        span("7.584", "7.58"),
        span("8.426694E+07", "84266940"),
    ]


def reply(rows: list, thead: list[str] | None = None) -> bytes:
    return json.dumps(
        {"result": 1, "total": 4, "records": 1616, "thead": thead or THEAD, "tbody": rows}, ensure_ascii=False
    ).encode()


REF = dt.datetime(2026, 8, 21, 21, 5, tzinfo=BEIJING)


def parse(rows: list, **kw) -> object:
    return parse_page(
        reply(rows, kw.pop("thead", None)),
        raw_file="raw/water/x.json",
        page=2,
        reference=kw.pop("reference", REF),
        snapshot_id="snap",
        fetch_date=dt.date(2026, 8, 21),
    )


def test_cells_take_the_raw_value_from_the_title_and_know_missing_and_qc() -> None:
    cells = pa.array(
        [
            span("26.58", "26.6"),
            "--",
            QC,
            span("8.426694E+07", "84266940"),
            "12.5",
            "故障",
            None,
            span("", "3.1"),
        ]
    )
    values, qc, bad, _, _ = parse_cells(cells)
    assert values.to_pylist() == [26.58, None, None, 84266940.0, 12.5, None, None, 3.1]
    assert qc.tolist() == [False, False, True, False, False, False, False, False]
    assert bad.tolist() == [False, False, False, False, False, True, False, False]


def test_cells_typed_full_width_or_saying_not_detected_are_read_not_quarantined() -> None:
    """Full-width marks (－－, ＜0.01, ０.１２) read as their ASCII; ND / 未检出 is below detection with
    no limit given: no value, flagged — each made its whole reading a quarantined "not a number"."""
    cells = pa.array(["－－", "＜0.01", span("０.１２３", "0.12"), "ND", "未检出", "n.d.", "ａｂｃ"])
    values, _, bad, text, below = parse_cells(cells)
    assert values.to_pylist() == [None, 0.005, 0.123, None, None, None, None]
    assert below.tolist() == [False, True, False, True, True, True, False]
    assert bad.tolist() == [False] * 6 + [True]
    assert text.to_pylist()[-1] == "ａｂｃ"  # the evidence as given


def test_header_cells() -> None:
    assert header_item("水温<br/><span class='unit'>(℃)</span>") == ("水温", "℃")
    assert header_item("电导率<br/><span class='unit'>(μS/cm)</span>") == ("电导率", "μS/cm")
    assert header_item("省份") == ("省份", None)


def test_year_inference_across_new_year() -> None:
    jan1 = dt.datetime(2027, 1, 1, 0, 30, tzinfo=BEIJING)
    # a December reading fetched on 1 January belongs to the previous year
    assert infer_year(12, 31, 20, 0, jan1) == dt.datetime(2026, 12, 31, 20, 0, tzinfo=BEIJING)
    assert infer_year(1, 1, 0, 0, jan1) == dt.datetime(2027, 1, 1, 0, 0, tzinfo=BEIJING)
    # a reading a little ahead of the fetch clock (skew) stays in the fetch's year
    dec31 = dt.datetime(2026, 12, 31, 23, 50, tzinfo=BEIJING)
    assert infer_year(1, 1, 0, 0, dec31) == dt.datetime(2027, 1, 1, 0, 0, tzinfo=BEIJING)
    assert infer_year(12, 31, 20, 0, dec31).year == 2026
    # 02-29 goes back to the last leap year; 02-30 is no date at all
    assert infer_year(2, 29, 8, 0, dt.datetime(2027, 3, 1, tzinfo=BEIJING)).year == 2024
    assert infer_year(2, 30, 8, 0, REF) is None
    # the reference may be in any time zone (UTC 2026-12-31 17:00 is already 1 January in Beijing)
    assert infer_year(12, 31, 23, 0, dt.datetime(2026, 12, 31, 17, 0, tzinfo=dt.UTC)).year == 2026
    with pytest.raises(ValueError, match="timezone"):
        infer_year(1, 1, 0, 0, dt.datetime(2027, 1, 1))


def test_reading_times_vectorised_to_utc() -> None:
    texts = pa.array(["12-31 20:00", "01-01 00:00", "2026-12-30 16:00", "--", "13-01 00:00", "12-31 24:00"])
    times, bad = parse_reading_times(texts, dt.datetime(2027, 1, 1, 0, 30, tzinfo=BEIJING))
    assert bad.tolist() == [False, False, False, True, True, True]
    assert times.to_pylist()[:3] == [
        dt.datetime(2026, 12, 31, 12, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 31, 16, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 30, 8, 0, tzinfo=dt.UTC),
    ]


def test_reference_from_the_file_name() -> None:
    assert reference_from_name("realtime_snapshot_20260821_p1.json") == dt.datetime(
        2026, 8, 21, 15, 59, 59, tzinfo=dt.UTC
    )
    assert reference_from_name("board_20261231_2330.json") == dt.datetime(2026, 12, 31, 15, 30, tzinfo=dt.UTC)
    assert reference_from_name("board.json") is None


def test_section_id_is_stable_and_trims() -> None:
    sid = section_id("北京市", "海河流域", "沙窝")
    assert sid == section_id(" 北京市", "海河流域 ", "沙窝") and sid.startswith("WS") and len(sid) == 14
    assert sid != section_id("天津市", "海河流域", "沙窝")


def test_page_is_typed_with_registry_names_and_units() -> None:
    page = parse([good_row()])
    [row] = page.readings.to_pylist()
    assert row["water_temp_c"] == 28.17 and row["do_mgl"] == 0.8 and row["tn_mgl"] == 7.584
    assert row["algae_density_cells_l"] == 84266940.0 and row["conductivity_uscm"] is None  # no such column
    assert row["observed_at"] == dt.datetime(2026, 8, 21, 12, 0, tzinfo=dt.UTC)
    assert row["date"] == dt.date(2026, 8, 21) and row["class_published"] == 6
    assert (row["page"], row["row_index"]) == (2, 0)
    assert page.counts == {"rows_in": 1, "rows_typed": 1, "rows_quarantined": 0, "values_qc_failed": 0}
    assert (page.total, page.records) == (4, 1616)


def test_missing_qc_and_no_class_are_typed_not_quarantined() -> None:
    r = good_row()
    r[4], r[8], r[9], r[11] = "-1", QC, "--", QC
    page = parse([r])
    [row] = page.readings.to_pylist()
    assert row["class_published"] is None and row["codmn_mgl"] is None and row["nh3n_mgl"] is None
    assert row["qc_failed_items"] == "codmn_mgl,tn_mgl"
    assert page.counts["values_qc_failed"] == 2


def test_a_value_below_the_detection_limit_is_half_the_limit_and_named() -> None:
    """0.01L / <0.01 are results below the method's detection limit, the cleanest water: typed as half
    the limit (the evaluation method's rule), not quarantined with the reading's other items."""
    r, s = good_row("a"), good_row("b")
    r[9], r[10] = "0.025L", span("<0.01", "<0.01")  # NH3-N, TP
    s[9] = "ND"  # no limit given: no value to count, flagged; the reading's other items are kept
    page = parse([r, s])
    row, nd = page.readings.to_pylist()
    assert (row["nh3n_mgl"], row["tp_mgl"]) == (0.0125, 0.005)
    assert row["below_detection_items"] == "nh3n_mgl,tp_mgl" and row["codmn_mgl"] == 7.07
    assert (nd["section_name"], nd["nh3n_mgl"], nd["below_detection_items"], nd["codmn_mgl"]) == (
        "b",
        None,
        "nh3n_mgl",
        7.07,
    )
    assert page.quarantine.num_rows == 0


def test_untypeable_rows_are_quarantined_with_reason_and_location() -> None:
    bad_time, bad_value, negative, bad_class, empty_name = (good_row(f"s{i}") for i in range(5))
    bad_time[3] = "--"
    bad_value[9] = span("仪器故障", "故障")
    negative[10] = span("-0.02", "-0.02")
    bad_class[4] = "Ⅲ"
    empty_name[2] = " "
    short = ["北京市", "海河流域"]
    page = parse([good_row("ok"), bad_time, bad_value, negative, bad_class, empty_name, short])
    assert page.readings.column("section_name").to_pylist() == ["ok"]
    q = page.quarantine.to_pylist()
    assert [r["row_index"] for r in q] == [1, 2, 3, 4, 5, 6]
    assert all(
        r["page"] == 2 and r["raw_file"] == "raw/water/x.json" and r["snapshot_id"] == "snap" for r in q
    )
    assert "监测时间" in q[0]["reason"] and q[0]["column_name"] == "监测时间" and q[0]["raw_value"] == "--"
    assert q[1]["reason"] == "氨氮 is not a number" and q[1]["raw_value"] == "仪器故障"
    assert "总磷 outside the possible range" in q[2]["reason"] and q[2]["raw_value"] == "-0.02"
    assert "水质类别" in q[3]["reason"] and q[4]["reason"] == "断面名称 is empty"
    assert "row has 2 cells, header has 13" in q[5]["reason"]
    assert page.counts["rows_in"] == 7 == page.counts["rows_typed"] + page.counts["rows_quarantined"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html>error</html>", "not a JSON reply"),
        (b'{"result":0,"msg":"busy"}', "result=0"),
        (b"[]", "JSON list"),
        (json.dumps({"result": 1, "thead": ["省份"], "tbody": []}).encode(), "header lacks"),
    ],
)
def test_pages_that_are_not_replies_raise(data: bytes, message: str) -> None:
    with pytest.raises(WaterReplyError, match=message):
        parse_page(data, raw_file="x", page=1, reference=REF, snapshot_id="s", fetch_date=REF.date())


def test_an_item_in_another_unit_is_refused_not_converted() -> None:
    thead = [*THEAD[:-1], "藻密度<br/><span class='unit'>(万个/L)</span>"]
    with pytest.raises(WaterReplyError, match="refusing to guess"):
        parse([good_row()], thead=thead)


def test_unknown_header_items_are_reported_and_micro_sign_variants_match() -> None:
    thead = [
        *THEAD,
        "电导率<br/><span class='unit'>(µS/cm)</span>",
        "石油类<br/><span class='unit'>(mg/L)</span>",
    ]
    page = parse([[*good_row(), span("300.5", "300.5"), "--"]], thead=thead)
    assert page.unknown_headers == ["石油类"]
    assert page.readings.column("conductivity_uscm").to_pylist() == [300.5]
