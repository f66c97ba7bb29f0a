"""The risk report behind `ecocloud risk` and the enforcement pages: filter validation, the period,
the ranking cut to the top N with its evidence, and the exports (CSV, XLSX, JSON) — on tiny inline
marts built by the real transforms (risk_data)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import math
import re

import duckdb
import pytest
from openpyxl import load_workbook
from risk_data import (
    E_AIR,
    E_WATER,
    MN_AIR,
    MN_WATER,
    REGISTRY_AT,
    D,
    air_hours,
    base_inputs,
    bj,
    hourly,
    refresh,
    series,
    table,
)

from ecocloud import spreadsheet
from ecocloud.risk_export import (
    ENTERPRISE_COLUMNS,
    EVIDENCE_COLUMNS,
    RANKING_COLUMNS,
    to_csv,
    to_json,
    to_xlsx,
)
from ecocloud.risk_report import (
    DEFAULT_TOP,
    FilterError,
    NoRiskMarts,
    Period,
    RiskFilters,
    build_report,
    rank,
    region_label,
    report_of,
    resolve_period,
)
from schemas import risk as schema
from schemas.clock import BEIJING
from schemas.registry import get_table
from schemas.risk import fixed, printf_format
from transforms.risk import RiskMarts, load_rules

RULES = load_rules()
START = bj(D - dt.timedelta(days=1))


# ------------------------------------------------------------------------------------------ filters
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, RiskFilters()),
        ({"region": " 360100 ", "industry": "d44", "pollutant": "w01018"},
         RiskFilters(region="360100", industry="D44", pollutant="w01018")),
        ({"industry": "D4411", "pollutant": "011"}, RiskFilters(industry="D4411", pollutant="w01018")),  # 2005 code
        ({"region": "", "industry": "  ", "pollutant": None, "start": "", "top": ""}, RiskFilters()),
        ({"start": "2026-11-01", "end": "2026-11-30", "top": "10"},
         RiskFilters(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30), top=10)),
        ({"start": dt.date(2026, 11, 2), "end": dt.date(2026, 11, 2), "top": 10_000},
         RiskFilters(start=dt.date(2026, 11, 2), end=dt.date(2026, 11, 2), top=10_000)),
    ],
)  # fmt: skip
def test_valid_filters(given: dict, expected: RiskFilters) -> None:
    assert RiskFilters.parse(**given) == expected


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"region": "3601"}, "region"),
        ({"region": "36010A"}, "region"),
        ({"region": "000000"}, "region"),
        ({"region": "990000"}, "region"),  # the shape of a code, but no province 99
        ({"region": "360100'; DROP TABLE x; --"}, "region"),
        ({"industry": "44"}, "industry"),
        ({"industry": "D4"}, "industry"),
        ({"industry": "Z44"}, "industry"),
        ({"industry": "D44%"}, "industry"),
        ({"pollutant": "COD"}, "pollutant"),
        ({"pollutant": "x01018"}, "pollutant"),
        ({"pollutant": "w0101"}, "pollutant"),
        ({"start": "2026-13-01"}, "from"),
        ({"end": "yesterday"}, "to"),
        ({"start": "2026-11-2"}, "from"),
        ({"start": "2026-11-30", "end": "2026-11-01"}, "from"),
        ({"top": 0}, "top"),
        ({"top": "10001"}, "top"),
        ({"top": "ten"}, "top"),
        ({"top": "-3"}, "top"),
    ],
)
def test_bad_filters_name_the_filter(given: dict, field: str) -> None:
    with pytest.raises(FilterError) as err:
        RiskFilters.parse(**given)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")


def test_filters_as_query_parameters() -> None:
    f = RiskFilters.parse(region="360100", start="2026-11-01", top="20")
    assert f.query() == {"region": "360100", "from": "2026-11-01", "top": "20"}
    assert f.query(top=None, to=dt.date(2026, 11, 5)) == {
        "region": "360100",
        "from": "2026-11-01",
        "to": "2026-11-05",
    }
    assert RiskFilters().query() == {}  # the default top is left out
    assert RiskFilters().top == DEFAULT_TOP


# ------------------------------------------------------------------------------------------ report
def ratings(rows: list[dict]) -> object:
    ranks = {"green": 1, "blue": 2, "yellow": 3, "red": 4, "black": 5}
    return table(
        "core_credit__ratings",
        [{"uscc": r["uscc"], "year": r["year"], "level": r["level"], "level_rank": ranks[r["level"]],
          "row_no": i + 1} for i, r in enumerate(rows)],
        {"province_code": "360000", "scheme": "jiangxi-5", "uscc_valid": True, "enterprise_name": "x",
         "enterprise_name_norm": "x", "level_label": "环保不良企业", "raw_file": "raw/credit/f.xlsx", "sheet": "",
         "received_at": REGISTRY_AT},
    )  # fmt: skip


def connect(marts: RiskMarts, credit: object | None = None) -> duckdb.DuckDBPyConnection:
    """A connection with the relations the report reads, named as the serving views."""
    con = duckdb.connect()
    con.register(schema.exceedance_daily.name, marts.exceedance_daily)
    con.register(schema.exceedance_hourly.name, marts.exceedance_hourly)
    con.register(schema.indicators.name, marts.indicators)
    con.register(schema.outlet_identity.name, marts.identity)
    empty = get_table("core_credit__ratings").arrow_schema().empty_table()
    con.register("core_credit__ratings", credit if credit is not None else empty)
    return con


@pytest.fixture(scope="module")
def marts() -> RiskMarts:
    """D − 1 and D: the power plant's SO2 is over its 35 mg/m³ limit for 6 hours on D (70 mg/m³);
    the wastewater plant has no permit and discharges all along."""
    so2 = [20.0] * 24 + [70.0] * 6 + [20.0] * 18
    water = series(MN_WATER, "w01018", START, [20.0 + i % 3 for i in range(48)]) + series(
        MN_WATER, "w00000", START, [5.0] * 48
    )
    return refresh(
        base_inputs(mart_source__hourly=hourly(air_hours(so2) + water)), D - dt.timedelta(days=1), D
    )


def test_report_ranks_cuts_to_top_and_gathers_evidence(marts: RiskMarts) -> None:
    con = connect(marts, ratings([{"uscc": E_WATER, "year": 2025, "level": "red"}]))
    report = build_report(con, RiskFilters(), RULES)
    # the default period: 30 days ending on the newest day with daily marts
    assert (report.period.end, report.period.days, report.period.newest) == (D, 30, D)
    assert [o["mn"] for o in report.outlets] == [MN_WATER, MN_AIR]
    assert (report.outlets_total, report.enterprises_total) == (2, 2)

    by_outlet: dict[str, list[dict]] = {}
    for row in report.evidence:
        by_outlet.setdefault(row["mn"], []).append(row)
    assert list(by_outlet) == [MN_WATER, MN_AIR]  # rank order
    air = by_outlet[MN_AIR]
    assert air[0]["category"] == "identity" and E_AIR in air[0]["evidence"]
    assert "排污许可证 " + E_AIR + "001P：许可证有效" in air[0]["evidence"]
    (exceeded,) = [r for r in air if r["category"] == "exceedance"]
    assert (exceeded["date"], exceeded["pollutant_code"], exceeded["hours"]) == (D, "a21026", 6)
    assert exceeded["limit_value"] == 35.0 and exceeded["max_exceedance_multiple"] == pytest.approx(1.0)
    assert exceeded["evidence"].startswith("二氧化硫 超标 6 小时")
    assert "限值 35 mg/m³（许可证 " + E_AIR + "001P GB TEST）" in exceeded["evidence"]
    assert exceeded["evidence_en"] == (
        f"SO2 over the limit in 6 of 24 judged hours, at most 1.00 times over, longest run 6 h; "
        f"limit 35 mg/m³ (permit {E_AIR}001P GB TEST)"
    )
    water = by_outlet[MN_WATER]
    assert "无排污许可证" in water[0]["evidence"] and "2025 年度红牌" in water[0]["evidence"]
    found = {(r["category"], r["indicator"], r["date"]) for r in water[1:]}
    # unpermitted discharge on both days: it counts towards the outlet's reasons
    assert found == {("permit", "unpermitted_discharge", D - dt.timedelta(days=1)),
                     ("permit", "unpermitted_discharge", D)}  # fmt: skip
    assert all(r["evidence"] for r in report.evidence)
    # every row has its English sentence, from the same values
    assert water[0]["evidence_en"].endswith("discharge permit none: no permit; credit rating: red (2025)")
    assert (
        air[0]["evidence_en"].startswith(f"MN {MN_AIR}: ")
        and f"permit {E_AIR}001P: permit in force" in air[0]["evidence_en"]
    )
    assert {r["evidence_en"].split(" for ")[0] for r in water[1:]} == {"no permit: data and discharging"}
    assert not any(
        re.search("[\u4e00-\u9fff]", r["evidence_en"]) for r in report.evidence if r["category"] != "identity"
    )
    # the identity row keeps only the registered names in Chinese, not its labels
    region = re.search(r", region ([^,]*), industry", air[0]["evidence_en"])
    assert region and not re.search("[\u4e00-\u9fff]", region.group(1)), air[0]["evidence_en"]

    top1 = build_report(con, RiskFilters(top=1), RULES)
    assert [o["mn"] for o in top1.outlets] == [MN_WATER] and top1.outlets_total == 2
    assert {r["mn"] for r in top1.evidence} == {MN_WATER}


def test_a_report_for_the_rankings_alone_gathers_no_evidence(marts: RiskMarts) -> None:
    """The web list shows the rankings only: a year of a province's evidence is millions of rows."""
    con = connect(marts)
    full = build_report(con, RiskFilters(), RULES)
    ranking = rank(con, full.period, RiskFilters(), RULES)
    bare = report_of(con, ranking, RiskFilters(), RULES, with_evidence=False)
    assert full.evidence and bare.evidence == []
    assert (bare.outlets, bare.enterprises, bare.outlets_total) == (
        full.outlets,
        full.enterprises,
        full.outlets_total,
    )


def test_a_day_over_a_daily_mean_default_has_its_evidence() -> None:
    """GB 18918 bounds the day's mean: the day is the reason, and the day is its evidence (it had
    none: the evidence listed days with an hour over the limit only)."""
    rows = series(MN_WATER, "w01018", START, [30.0] * 24 + [55.0] * 24) + series(
        MN_WATER, "w00000", START, [5.0] * 48
    )
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D - dt.timedelta(days=1), D)
    report = build_report(connect(m), RiskFilters(start=D - dt.timedelta(days=1), end=D), RULES)
    (water,) = [o for o in report.outlets if o["mn"] == MN_WATER]
    assert "化学需氧量 日均值超标 1 天（国家默认限值）" in water["top_reasons"]
    (day,) = [r for r in report.evidence if r["mn"] == MN_WATER and r["category"] == "exceedance"]
    assert (day["date"], day["pollutant_code"], day["hours"]) == (D, "w01018", None)  # no hour: the day
    assert day["evidence"].startswith(
        "化学需氧量 日均值 55.00（限值的 1.100 倍） 超标（判定 24 小时）；限值 50 mg/L（国家默认限值 GB 18918"
    )
    assert day["evidence_en"].startswith(
        "COD: the day's mean 55.00 (1.100 times the limit) over the limit (24 hours judged); "
        "limit 50 mg/L (national default GB 18918"
    )


def test_a_split_day_s_mean_is_said_once_with_the_hours_it_is_over() -> None:
    """A new version of the plant's point at 10:00 splits D into two rows with one mean: the evidence
    said it twice, each time with its part's hours ("判定 10 小时": under the 20 a mean needs)."""
    first, ten = REGISTRY_AT - dt.timedelta(days=60), bj(D, 10)
    point = {"mn": MN_WATER, "uscc": E_WATER, "outlet_code": "DW001", "pollutants": "w01018"}
    pts = table(
        "core_master__monitoring_points",
        [{**point, "valid_from": first, "valid_to": ten, "is_current": False}, {**point, "valid_from": ten},
         {"mn": MN_AIR, "uscc": E_AIR, "outlet_code": "DA001", "pollutants": "a21026", "valid_from": first}],
        {"mn_standard": True, "uscc_valid": True, "is_current": True, "raw_file": "p.csv", "region_code": "360100"},
    )  # fmt: skip
    rows = series(MN_WATER, "w01018", START, [60.0] * 48) + series(MN_WATER, "w00000", START, [5.0] * 48)
    m = refresh(base_inputs(core_master__monitoring_points=pts, mart_source__hourly=hourly(rows)), D)
    report = build_report(connect(m), RiskFilters(start=D, end=D), RULES)
    days = [r for r in report.evidence if r["mn"] == MN_WATER and r["category"] == "exceedance"]
    assert len(days) == 1 and "（判定 24 小时）" in days[0]["evidence"]


def test_report_filters_reach_the_ranking_and_the_evidence(marts: RiskMarts) -> None:
    con = connect(marts)
    by_industry = build_report(con, RiskFilters(industry="D44"), RULES)
    assert [o["mn"] for o in by_industry.outlets] == [MN_AIR]
    elsewhere = build_report(con, RiskFilters(region="360400"), RULES)
    assert elsewhere.outlets == [] and elsewhere.evidence == []
    cod = build_report(con, RiskFilters(pollutant="w01018"), RULES)
    assert [o["mn"] for o in cod.outlets] == [MN_WATER]  # the only outlet measuring COD
    assert {r["pollutant_code"] for r in cod.evidence} <= {"w01018", schema.LOGGER_LEVEL}
    one_day = build_report(
        con, RiskFilters(start=D - dt.timedelta(days=1), end=D - dt.timedelta(days=1)), RULES
    )
    assert not [r for r in one_day.evidence if r["category"] == "exceedance"]  # the SO2 hours are on D


def test_period_defaults_and_limits(marts: RiskMarts) -> None:
    con = connect(marts)
    p = resolve_period(con, RiskFilters(end=D - dt.timedelta(days=1)))
    assert (p.start, p.end) == (D - dt.timedelta(days=30), D - dt.timedelta(days=1))
    p = resolve_period(con, RiskFilters(start=D - dt.timedelta(days=5)))
    assert (p.start, p.end, p.days) == (D - dt.timedelta(days=5), D, 6)
    with pytest.raises(FilterError, match="after the newest day") as err:
        resolve_period(con, RiskFilters(start=D + dt.timedelta(days=1)))
    assert err.value.field == "from"
    with pytest.raises(FilterError, match="at most 366 days"):
        resolve_period(con, RiskFilters(start=D - dt.timedelta(days=366), end=D))
    assert resolve_period(con, RiskFilters(start=D - dt.timedelta(days=365), end=D)).days == 366


def test_no_marts_says_how_to_build_them() -> None:
    empty = RiskMarts(*(t.arrow_schema().empty_table() for t in (
        schema.outlet_identity, schema.exceedance_hourly, schema.exceedance_daily, schema.indicators,
        schema.disclosure_daily)), withheld_from_disclosure=0)  # fmt: skip
    with pytest.raises(NoRiskMarts, match="ecocloud run risk"):
        build_report(connect(empty), RiskFilters(), RULES)


# ------------------------------------------------------------------------------------------ exports
def headings(columns: tuple[tuple[str, int], ...], lang: str = "zh") -> list[str]:
    """The headers an export's columns should have: the headings the registry declares."""
    return [schema.heading(key, lang) for key, _ in columns]


def sheet_rows(book: bytes) -> dict[str, list[tuple]]:
    workbook = load_workbook(io.BytesIO(book), read_only=True)
    return {name: list(workbook[name].iter_rows(values_only=True)) for name in workbook.sheetnames}


def test_ranking_columns_are_registry_columns() -> None:
    assert {k for k, _ in RANKING_COLUMNS} <= set(schema.outlet_scores.column_names)
    assert len(set(headings(RANKING_COLUMNS))) == len(RANKING_COLUMNS)
    assert {k for k, _ in ENTERPRISE_COLUMNS} <= set(schema.enterprise_scores.column_names)
    assert len(set(headings(ENTERPRISE_COLUMNS))) == len(ENTERPRISE_COLUMNS)


def test_export_headers_are_the_headings_the_registry_declares() -> None:
    """The sheets' and the CSV's headers are the headings declared on the risk fields (schemas.risk),
    in Chinese and English; no sheet shows one header twice."""
    assert (schema.heading("score"), schema.heading("score", "en")) == ("风险得分", "Risk score")
    assert (schema.heading("near_limit_share_pct"), schema.heading("silence_longest_h", "en")) == (
        "贴近限值占比（%）",
        "Longest silence (hours)",
    )
    # the shared fields' (date, industry) and the evidence rows' own (pollutant name, hours)
    assert [schema.heading(k) for k in ("date", "industry_code", "pollutant_name", "hours")] == [
        "日期",
        "行业代码",
        "污染物",
        "小时数",
    ]
    for columns in (RANKING_COLUMNS, ENTERPRISE_COLUMNS, EVIDENCE_COLUMNS):
        assert headings(columns) == [schema.F.get(k).heading_zh for k, _ in columns]
        assert headings(columns, "en") == [schema.F.get(k).heading for k, _ in columns]
        assert len(set(headings(columns))) == len(set(headings(columns, "en"))) == len(columns)
    with pytest.raises(LookupError, match="reasons_json declares no heading"):
        schema.heading("reasons_json")


def test_exports_have_chinese_headers_and_every_row(marts: RiskMarts) -> None:
    report = build_report(connect(marts), RiskFilters(), RULES)
    rows = list(csv.reader(io.StringIO(to_csv(report))))
    assert rows[0][:4] == ["排名", "风险得分", "企业名称", "统一社会信用代码"]
    assert [r[0] for r in rows[1:]] == ["1", "2"]
    assert rows[1][rows[0].index("许可证状态")] == "无排污许可证"  # codes in Chinese for people

    book = load_workbook(io.BytesIO(to_xlsx(report)))
    assert book.sheetnames == ["说明", "排名", "企业排名", "证据"]
    ranking, evidence = (list(book[s].values) for s in ("排名", "证据"))
    assert list(ranking[0]) == headings(RANKING_COLUMNS)
    assert list(evidence[0]) == headings(EVIDENCE_COLUMNS)
    assert len(ranking) == 1 + len(report.outlets) and len(evidence) == 1 + len(report.evidence)
    assert ranking[1][2] == "测试污水处理有限公司" and ranking[1][0] == 1
    assert "超标" in {row[5] for row in evidence[1:]}  # the 证据类别 column, in Chinese

    doc = json.loads(to_json(report))
    assert doc["period"] == {
        "start": str(D - dt.timedelta(days=29)),
        "end": str(D),
        "days": 30,
        "newest_day": str(D),
        "oldest_day": str(D - dt.timedelta(days=1)),  # the marts' first day, within the period
        "notes": [f"no risk data before {D - dt.timedelta(days=1)}"],
    }
    assert [o["mn"] for o in doc["outlets"]] == [MN_WATER, MN_AIR]
    assert set(doc["outlets"][0]) == set(schema.outlet_scores.column_names)
    assert len(doc["evidence"]) == len(report.evidence)


def test_xlsx_holds_the_enterprise_ranking_of_the_page(marts: RiskMarts) -> None:
    """The page lists the ranked enterprises beside the outlets; the workbook had the outlets only."""
    report = build_report(connect(marts), RiskFilters(), RULES)
    assert len(report.enterprises) == 2
    enterprises = sheet_rows(to_xlsx(report))["企业排名"]
    assert enterprises[0] == ("排名", "风险得分", "企业名称", "统一社会信用代码", "行业代码", "行政区划",
                              "有风险原因的排放口数", "排放口数", "主要原因")  # fmt: skip
    rows = [dict(zip(enterprises[0], row, strict=True)) for row in enterprises[1:]]
    assert [(r["排名"], r["统一社会信用代码"]) for r in rows] == [
        (e["rank"], e["uscc"]) for e in report.enterprises
    ]  # the page's order
    first, shown = report.enterprises[0], rows[0]
    assert shown["风险得分"] == round(first["score"], 1) and shown["企业名称"] == first["enterprise_name"]
    assert shown["有风险原因的排放口数"] == first["outlets_with_reasons"]
    assert shown["排放口数"] == first["outlets"]
    assert shown["主要原因"] == first["top_reasons"] and shown["行政区划"].startswith(first["region_code"])


def test_exports_never_turn_upstream_text_into_formulas(marts: RiskMarts) -> None:
    report = build_report(connect(marts), RiskFilters(), RULES)
    hostile = '=HYPERLINK("http://evil.example","点我")'
    report.outlets[0]["enterprise_name"] = hostile
    report.outlets[0]["point_name"] = "+1-1"
    report.outlets[1]["point_name"] = "@SUM(A1:A9)"
    report.evidence[0]["evidence"] = "=1+1"
    rows = list(csv.reader(io.StringIO(to_csv(report))))
    assert (rows[1][2], rows[1][5], rows[2][5]) == ("'" + hostile, "'+1-1", "'@SUM(A1:A9)")
    assert spreadsheet._csv_cell("-2") == "'-2" and spreadsheet._csv_cell("总排口") == "总排口"
    book = load_workbook(io.BytesIO(to_xlsx(report)))
    cell = book["排名"].cell(row=2, column=3)
    assert (cell.value, cell.data_type) == (hostile, "s")
    said = book["证据"].cell(row=2, column=[c for c, _ in EVIDENCE_COLUMNS].index("evidence") + 1)
    assert (said.value, said.data_type) == ("=1+1", "s")  # openpyxl would store "=1+1" as a formula


def test_xlsx_marks_control_characters_of_upstream_text(marts: RiskMarts) -> None:
    """One control character in an upstream name made openpyxl refuse the whole workbook (the web
    download answered 500); each now shows as U+FFFD, and the CSV keeps the text as it came."""
    report = build_report(connect(marts), RiskFilters(), RULES)
    report.outlets[0]["enterprise_name"] = "测试\x00污水\x1f处理"
    report.outlets[0]["point_name"] = "总排口\x0b"
    report.evidence[0]["evidence"] = "=\x08说明"  # still text, not a formula
    assert list(csv.reader(io.StringIO(to_csv(report))))[1][2] == "测试\x00污水\x1f处理"

    book = load_workbook(io.BytesIO(to_xlsx(report)), read_only=True)
    ranking, evidence = (list(book[s].iter_rows(values_only=True)) for s in ("排名", "证据"))
    first = dict(zip(ranking[0], ranking[1], strict=True))
    assert (first["企业名称"], first["监控点位"]) == ("测试\ufffd污水\ufffd处理", "总排口\ufffd")
    assert first["排名"] == 1 and len(ranking) == 1 + len(report.outlets)
    assert evidence[1][evidence[0].index("说明")] == "=\ufffd说明"
    assert len(evidence) == 1 + len(report.evidence)


@pytest.mark.parametrize("rows_per_sheet", [1, 2, None])  # None: the whole evidence fills one sheet
def test_xlsx_continues_the_evidence_on_further_sheets(
    marts: RiskMarts, monkeypatch: pytest.MonkeyPatch, rows_per_sheet: int | None
) -> None:
    """Excel holds 1,048,576 rows a sheet, and openpyxl wrote the evidence past them without
    complaint: it goes on in 证据 2, 证据 3, … each with the header (the limit lowered here)."""
    report = build_report(connect(marts), RiskFilters(), RULES)
    whole = sheet_rows(to_xlsx(report))["证据"]
    per_sheet = rows_per_sheet or len(report.evidence)
    assert len(report.evidence) > 2  # several sheets at one or two rows a sheet

    monkeypatch.setattr(spreadsheet, "MAX_SHEET_ROWS", 1 + per_sheet)
    book = to_xlsx(report)
    sheets = sheet_rows(book)
    parts = math.ceil(len(report.evidence) / per_sheet)
    names = [name for name in sheets if name.startswith("证据")]  # the rankings continue likewise
    assert names == ["证据", *(f"证据 {n}" for n in range(2, parts + 1))] and next(iter(sheets)) == "说明"
    evidence = [sheets[name] for name in names]
    assert all(rows[0] == whole[0] and 1 < len(rows) <= 1 + per_sheet for rows in evidence)
    assert len(whole) == 1 + len(report.evidence)
    assert [row for rows in evidence for row in rows[1:]] == whole[1:]  # every row, in order, once

    last = load_workbook(io.BytesIO(book))[names[-1]]  # the formatting goes on too
    assert (last.freeze_panes, last["A1"].font.bold, last.column_dimensions["S"].width) == ("A2", True, 90)
    assert last.cell(2, headings(EVIDENCE_COLUMNS).index("日期") + 1).is_date

    nothing = build_report(connect(marts), RiskFilters(region="360400"), RULES)
    empty = sheet_rows(to_xlsx(nothing))
    # (the notes go on at one or two rows a sheet too)
    assert [name for name in empty if not name.startswith("说明")] == ["排名", "企业排名", "证据"]
    assert empty["证据"] == [whole[0]]  # the header alone


def test_exports_show_limits_as_the_permit_states_them(marts: RiskMarts) -> None:
    report = build_report(connect(marts), RiskFilters(), RULES)
    (row,) = [r for r in report.evidence if r.get("limit_value") is not None][:1]
    row["limit_value"] = 0.0005  # a mercury limit, mg/L
    evidence = list(load_workbook(io.BytesIO(to_xlsx(report)))["证据"].values)
    column = headings(EVIDENCE_COLUMNS).index("限值（上限）")
    assert 0.0005 in {r[column] for r in evidence[1:]}


def test_exports_round_risk_numbers_as_the_pages_show_them(marts: RiskMarts) -> None:
    """The workbook gave the largest exceedance multiple three places where the pages, the reasons and
    the CLI give two: each number now has its field's declared decimals everywhere."""
    report = build_report(connect(marts), RiskFilters(), RULES)
    (row,) = [r for r in report.evidence if r.get("max_exceedance_multiple") is not None][:1]
    row["max_exceedance_multiple"] = 1.13849
    evidence = list(load_workbook(io.BytesIO(to_xlsx(report)))["证据"].values)
    column = [key for key, _ in EVIDENCE_COLUMNS].index("max_exceedance_multiple")
    assert 1.14 in {r[column] for r in evidence[1:]} and 1.138 not in {r[column] for r in evidence[1:]}
    assert fixed(1.13849, "max_exceedance_multiple") == "1.14" and fixed(2.08333, "score") == "2.08"
    assert fixed(None, "score") == ""


def test_every_number_of_the_sheets_declares_its_decimals() -> None:
    """The export rounded a number whose field declared no decimals to 2 by a literal default; now
    every float column of the sheets declares them (the points to 2, as the score they add up to),
    but the limit and a range's lower bound, shown as the permit states them."""
    floats = {
        key
        for columns in (RANKING_COLUMNS, ENTERPRISE_COLUMNS, EVIDENCE_COLUMNS)
        for key, _ in columns
        if schema.F.get(key).type == "float64"
    }
    assert floats - set(schema.DECIMALS) == {"limit_value", "limit_lower"}
    points = ("exceedance_points", "fraud_points", "data_quality_points", "permit_points", "credit_points")
    assert [schema.DECIMALS[p] for p in (*points, "identity_points")] == [2] * 6


def test_exports_round_the_points_to_their_declared_decimals(marts: RiskMarts) -> None:
    report = build_report(connect(marts), RiskFilters(), RULES)
    report.outlets[0].update(exceedance_points=10 / 3, fraud_points=2.005001, credit_points=1.0)
    rows = list(csv.reader(io.StringIO(to_csv(report))))
    cell = {key: rows[1][i] for i, (key, _) in enumerate(RANKING_COLUMNS)}
    assert (cell["exceedance_points"], cell["fraud_points"], cell["credit_points"]) == ("3.33", "2.01", "1.0")
    ranking = list(load_workbook(io.BytesIO(to_xlsx(report)))["排名"].values)
    assert ranking[1][[k for k, _ in RANKING_COLUMNS].index("exceedance_points")] == 3.33


def test_sql_sentences_print_a_risk_number_as_fixed_does() -> None:
    """The exceedance sentences (the report's evidence, the scores' reasons) print the largest
    multiple with DuckDB's printf: its format comes from the field's declared decimals, as fixed()."""
    assert (printf_format("max_exceedance_multiple"), printf_format("near_limit_share_pct")) == (
        "%.2f",
        "%.1f",
    )
    con = duckdb.connect()
    for field, value in (
        ("max_exceedance_multiple", 1.13849),
        ("near_limit_share_pct", 87.46),
        ("score", 2.0),
    ):
        (printed,) = con.execute("SELECT printf(?, ?::DOUBLE)", [printf_format(field), value]).fetchone()
        assert printed == fixed(value, field)
    with pytest.raises(KeyError):
        printf_format("rank")  # declares no decimals: an integer


def test_a_ph_day_out_of_range_says_its_range_and_no_exceedance_multiple() -> None:
    """pH bounds every hour by a range (6–9): its evidence said "最大超标倍数 - 倍" and "限值 9 -"."""
    rows = series(MN_WATER, "w01001", START, [7.0] * 24 + [10.0] * 24) + series(
        MN_WATER, "w00000", START, [5.0] * 48
    )
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D - dt.timedelta(days=1), D)
    report = build_report(connect(m), RiskFilters(start=D - dt.timedelta(days=1), end=D), RULES)
    (day,) = [r for r in report.evidence if r["mn"] == MN_WATER and r["pollutant_code"] == "w01001"]
    assert day["evidence"] == (
        "pH值 超标 24 小时（判定 24 小时），最长连续 24 小时，日均值 10.00 超标；限值 6–9（国家默认限值 GB 18918-2002 一级A）"
    )
    # the English pages' sentence, from the same values: the range, not its top alone
    assert day["evidence_en"] == (
        "pH over the limit in 24 of 24 judged hours, longest run 24 h, the day's mean 10.00 over it; "
        "limit 6–9 (national default GB 18918-2002 一级A)"
    )


def test_the_workbook_says_what_of_the_period_has_no_risk_data(marts: RiskMarts) -> None:
    """README says the XLSX states what of the period has no risk data; only the workbook's document
    properties said it, which no reader opens. Its first sheet (说明 / Notes, the one it opens on)
    says it, in the workbook's language."""
    report = build_report(connect(marts), RiskFilters(), RULES)
    before = D - dt.timedelta(days=1)
    today = dt.datetime.now(BEIJING).date()
    running = dataclasses.replace(report, period=Period(today - dt.timedelta(days=29), today, today, before))
    for lang, sheet, notes in (
        ("zh", "说明", [f"{before} 之前没有风险数据", f"{today} 当日尚未结束"]),
        ("en", "Notes", [f"no risk data before {before}", f"{today} is not over yet"]),
    ):
        book = load_workbook(io.BytesIO(to_xlsx(report, lang)))
        assert book.sheetnames[0] == sheet and book.active.title == sheet
        said = [row[1] for row in book[sheet].values]
        assert notes[0] in said and notes[1] not in said
        assert any(str(report.period.start) in text and str(report.period.end) in text for text in said)
        book = load_workbook(io.BytesIO(to_xlsx(running, lang)))
        assert set(notes) <= {row[1] for row in book[sheet].values}


def test_the_evidence_sheet_has_times_and_a_range_limit_a_spreadsheet_can_use() -> None:
    """证据 wrote a pH range (6–9) as 限值 9, unit "-", the lower bound lost, and a run's start and end
    as text ('2026-12-08 05:00') beside a real 日期: its runs could be neither sorted nor filtered as
    times. The range's lower bound has its own column; the times are Beijing wall times, so shown."""
    rows = series(MN_WATER, "w01001", START, [7.0] * 24 + [10.0] * 24) + series(
        MN_WATER, "w00000", START, [5.0] * 48
    )
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D - dt.timedelta(days=1), D)
    report = build_report(connect(m), RiskFilters(start=D - dt.timedelta(days=1), end=D), RULES)
    finding = next(r for r in report.evidence if r["category"] not in ("exceedance", "identity"))
    finding["run_start_at"] = dt.datetime(2026, 12, 7, 21, tzinfo=dt.UTC)  # 05:00 in Beijing
    finding["run_end_at"] = dt.datetime(2026, 12, 8, 3, 30, tzinfo=dt.UTC)
    sheet = load_workbook(io.BytesIO(to_xlsx(report)))["证据"]
    header, *cells = list(sheet.iter_rows())
    at = {cell.value: i for i, cell in enumerate(header)}
    assert "持续开始（北京时间）" in at and "持续结束（北京时间）" in at
    ph = next(r for r in cells if r[at["污染物代码"]].value == "w01001" and r[at["证据类别"]].value == "超标")
    assert (ph[at["限值下限（范围型）"]].value, ph[at["限值（上限）"]].value) == (6, 9)
    (run,) = [
        r
        for r in cells
        if r[at["持续开始（北京时间）"]].value is not None and r[at["说明"]].value == finding["evidence"]
    ]
    start, end = run[at["持续开始（北京时间）"]], run[at["持续结束（北京时间）"]]
    assert (start.value, end.value) == (dt.datetime(2026, 12, 8, 5), dt.datetime(2026, 12, 8, 11, 30))
    assert start.is_date and start.number_format == end.number_format == "yyyy-mm-dd hh:mm"
    assert run[at["日期"]].is_date


def test_a_period_says_what_of_it_has_no_risk_data() -> None:
    """An officer ranking "30 days" over the three hours of one day had no word of it."""
    day = dt.date(2026, 12, 7)
    whole = Period(
        day - dt.timedelta(days=29),
        day - dt.timedelta(days=1),
        newest=day,
        oldest=day - dt.timedelta(days=40),
    )
    assert whole.coverage_notes(today=day) == []
    before = Period(
        day - dt.timedelta(days=90),
        day - dt.timedelta(days=61),
        newest=day,
        oldest=day - dt.timedelta(days=40),
    )
    assert before.coverage_notes(today=day) == [
        (f"{before.oldest} 之前没有风险数据", f"no risk data before {before.oldest}")
    ]
    short = Period(day - dt.timedelta(days=29), day, newest=day, oldest=day)
    assert short.coverage_notes(today=day) == [
        (f"{day} 之前没有风险数据", f"no risk data before {day}"),
        (f"{day} 当日尚未结束", f"{day} is not over yet"),
    ]
    ahead = Period(
        day - dt.timedelta(days=1), day + dt.timedelta(days=25), newest=day, oldest=day - dt.timedelta(days=5)
    )
    assert ahead.coverage_notes(today=day + dt.timedelta(days=3)) == [
        (f"{day} 之后没有风险数据", f"no risk data after {day}")
    ]


def test_a_county_is_labelled_as_under_its_city_not_as_the_city() -> None:
    """County names are not kept: "360102 南昌" read as the city itself."""
    assert region_label("360100") == "360100 南昌"
    assert region_label("360102") == "360102 南昌下辖"
    # a province served by its name, as the /risk region filter offers it beside its prefectures
    assert region_label("360000") == "360000 江西省" and region_label("520000", "en") == "520000 Guizhou"
    assert region_label("440000") == "440000" and region_label(None) == "-"
    # English pages: the prefecture's English name, not the Chinese one
    assert region_label("360100", "en") == "360100 Nanchang"
    assert region_label("520102", "en") == "520102 (in Guiyang)"
    assert region_label("522701", "en") == "522701 (in Qiannan)"


def test_one_judged_hour_is_said_in_the_singular_in_english() -> None:
    """A day whose one judged hour was over the limit read "in 1 of 1 judged hours"."""
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours([20.0] * 24 + [70.0]))), D)
    report = build_report(connect(m), RiskFilters(start=D, end=D), RULES)
    (day,) = [r for r in report.evidence if r["mn"] == MN_AIR and r["category"] == "exceedance"]
    assert day["evidence_en"].startswith("SO2 over the limit in 1 of 1 judged hour, at most 1.00 times over")
    assert day["evidence"].startswith("二氧化硫 超标 1 小时（判定 1 小时）")
    # a limit on the day's mean, judged on one hour where the rules allow that few (GB 18918: COD)
    water = series(MN_WATER, "w01018", bj(D), [55.0]) + series(MN_WATER, "w00000", bj(D), [5.0])
    m = refresh(base_inputs(mart_source__hourly=hourly(water)), D, exceedance={"daily_mean_min_hours": 1})
    report = build_report(connect(m), RiskFilters(start=D, end=D), RULES)
    (day,) = [r for r in report.evidence if r["mn"] == MN_WATER and r["category"] == "exceedance"]
    assert "over the limit (1 hour judged)" in day["evidence_en"], day["evidence_en"]
