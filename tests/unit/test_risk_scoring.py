"""Period scores from the daily marts: points and saturation, Chinese reasons with their numbers,
rank, filters, credit, permit status, enterprise roll-up, and an MN remapped mid-period."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest
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
    enterprises,
    hourly,
    points,
    refresh,
    series,
    table,
)

from ecocloud.risk_reasons import reason_text
from schemas.registry import get_table
from schemas.risk import fixed
from transforms.risk import RiskMarts, load_rules
from transforms.risk.scoring import PeriodScores, region_prefix, region_prefixes, score_period

RULES = load_rules()
START = bj(D - dt.timedelta(days=1))
E_OTHER = "91360300MA35TEST3X"


def credit(rows: list[dict]) -> pa.Table:
    ranks = {"green": 1, "blue": 2, "yellow": 3, "red": 4, "black": 5}
    return table(
        "core_credit__ratings",
        [{"uscc": r["uscc"], "year": r["year"], "level": r["level"], "level_rank": ranks[r["level"]],
          "row_no": i + 1} for i, r in enumerate(rows)],
        {"province_code": "360000", "scheme": "jiangxi-5", "uscc_valid": True, "enterprise_name": "x",
         "enterprise_name_norm": "x", "level_label": "环保不良企业", "raw_file": "raw/credit/f.xlsx", "sheet": "",
         "received_at": REGISTRY_AT},
    )  # fmt: skip


def scores(
    marts: RiskMarts, start: dt.date, end: dt.date, ratings: pa.Table | None = None, **kw: str
) -> PeriodScores:
    con = duckdb.connect()
    con.register("mart_source__exceedance_daily", marts.exceedance_daily)
    con.register("mart_source__exceedance_hourly", marts.exceedance_hourly)
    con.register("mart_risk__indicators", marts.indicators)
    con.register("mart_source__outlet_identity", marts.identity)
    con.register(
        "core_credit__ratings",
        ratings if ratings is not None else get_table("core_credit__ratings").arrow_schema().empty_table(),
    )
    return score_period(con, start, end, RULES, **kw)


def by_mn(t: pa.Table) -> dict[str, dict]:
    return {r["mn"]: r for r in t.to_pylist()}


def test_reasons_json_keeps_the_declared_decimals() -> None:
    """reasons_json rounds a reason's points and its largest multiple to the decimals schemas.risk
    declares for the fields (points as the score, the multiple as its sentence shows it)."""
    so2 = [20.0] * 24 + [74.8471] + [70.0] * 5 + [20.0] * 18  # 超标倍数 74.8471 / 35 − 1 = 1.138489
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours(so2))), D)
    air = by_mn(scores(m, D, D).outlets)[MN_AIR]
    assert "最大超标倍数 1.14 倍" in air["top_reasons"]
    (reason,) = json.loads(air["reasons_json"])
    multiple, points = 74.8471 / 35 - 1, 40 * 6 / 24 + 15 * (74.8471 / 35 - 1) / 2
    assert reason["numbers"]["max_exceedance_multiple"] == round(multiple, 2) == 1.14
    assert reason["points"] == round(points, 2) == 18.54
    assert air["exceedance_points"] == air["score"] == 18.54  # stored as shown: what the reasons add up to
    (enterprise,) = [e for e in scores(m, D, D).enterprises.to_pylist() if e["uscc"] == E_AIR]
    assert [r["points"] for r in json.loads(enterprise["reasons_json"])] == [18.54]


def test_the_largest_multiple_reads_the_same_in_both_languages() -> None:
    """The English sentence comes from reasons_json's numbers, the Chinese one from the value: kept
    at 3 decimals in the JSON, 1.1251 read 1.125 → "1.12" in English (an exact tie, to even) and
    "1.13" in Chinese."""
    so2 = [20.0] * 24 + [35 * 2.1251] + [20.0] * 23
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours(so2))), D)
    air = by_mn(scores(m, D, D).outlets)[MN_AIR]
    (reason,) = json.loads(air["reasons_json"])
    assert "最大超标倍数 1.13 倍" in air["top_reasons"]
    assert "at most 1.13 times over" in reason_text(reason, RULES, "en")


def _unpermitted_for_three_hours(loggers: int) -> PeriodScores:
    """Loggers on outlets DW000, DW001 … of an enterprise without a permit, each discharging for 3
    hours of day D: 30 points for no permit, 15 × 3 / 72 = 0.625 each (a tie at two decimals)."""
    mns = [f"WAT{i}{'0' * 20}" for i in range(loggers)]
    pts = points([{"mn": mn, "uscc": E_WATER, "outlet_code": f"DW00{i}"} for i, mn in enumerate(mns)])
    flows = [r for mn in mns for r in series(mn, "w00000", START, [5.0] * 27)]  # D − 1, then 3 h of D
    m = refresh(base_inputs(core_master__monitoring_points=pts, mart_source__hourly=hourly(flows)), D)
    return scores(m, D, D)


def test_points_shown_add_up_to_the_score_shown() -> None:
    """30 + 0.625 was stored as 30.625, shown 30.62 by the pages, CSV and XLSX, while reasons_json
    (DuckDB's round: a tie away from zero) said 0.63, and 30.00 + 0.63 ≠ 30.62. A reason's points
    are rounded once, as shown (a tie to even), and every score and part is their sum."""
    (outlet,) = _unpermitted_for_three_hours(1).outlets.to_pylist()
    reasons = json.loads(outlet["reasons_json"])
    assert [(r["code"], r["points"]) for r in reasons] == [
        ("permit_none", 30.0),
        ("unpermitted_discharge", 0.62),
    ]
    assert outlet["score"] == outlet["permit_points"] == 30.62
    shown = [fixed(r["points"], "score") for r in reasons]
    assert fixed(sum(float(p) for p in shown), "score") == fixed(outlet["score"], "score") == "30.62"


def test_an_enterprises_reasons_add_up_to_its_score() -> None:
    """The enterprise counts other_outlets_factor of a second outlet's points, but listed that reason
    at its outlet's full points: 30 + 0.63 + 0.63 = 31.26 beside a score of 30.78. Each reason now
    says what it adds (weight × its outlet's points, rounded), its weight and its outlet's points."""
    s = _unpermitted_for_three_hours(2)
    (ent,) = s.enterprises.to_pylist()
    reasons = json.loads(ent["reasons_json"])
    listed = [(r["code"], r["outlet_code"], r["points"], r["weight"], r["outlet_points"]) for r in reasons]
    f = RULES.other_outlets_factor
    assert listed == [
        ("permit_none", None, 30.0, 1.0, 30.0),
        ("unpermitted_discharge", "DW000", 0.62, 1.0, 0.62),  # the best outlet (equal ones: by key)
        ("unpermitted_discharge", "DW001", round(f * 0.625, 2), f, 0.62),  # 0.25 × 0.625 = 0.16
    ]
    assert ent["score"] == ent["permit_points"] == 30.78  # 30 + 0.625 + 0.25 × 0.625 = 30.78125
    assert fixed(sum(r["points"] for r in reasons), "score") == fixed(ent["score"], "score")
    assert ent["top_outlet_key"].endswith("/DW000/WAT000000000000000000000")


def test_points_reasons_and_rank() -> None:
    so2 = [20.0] * 24 + [70.0] * 6 + [20.0] * 18  # 6 h at 70 mg/m³, limit 35: 超标倍数 1.0
    water = series(MN_WATER, "w01018", START, [20.0 + i % 3 for i in range(48)]) + series(
        MN_WATER, "w00000", START, [5.0] * 48
    )
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours(so2) + water)), D)
    s = scores(
        m,
        D,
        D,
        credit(
            [
                {"uscc": E_WATER, "year": 2025, "level": "red"},
                {"uscc": E_WATER, "year": 2027, "level": "green"},
            ]
        ),
    )
    rows = by_mn(s.outlets)
    air = rows[MN_AIR]
    # exceedance: 40 × 6/24 + 15 × min(1, 1.0/2) = 10 + 7.5
    assert air["score"] == pytest.approx(17.5) and air["exceedance_points"] == pytest.approx(17.5)
    assert air["top_reasons"] == "二氧化硫 超标 6 小时（1 天），最大超标倍数 1.00 倍，最长连续 6 小时"
    assert (air["exceedance_hours"], air["exceedance_days"], air["max_exceedance_multiple"]) == (
        6,
        1,
        pytest.approx(1.0),
    )
    (reason,) = json.loads(air["reasons_json"])
    assert reason["numbers"] == {"hours": 6, "days": 1, "max_exceedance_multiple": 1.0, "longest_run_h": 6,
                                 "daily_mean_days": 0, "limit_value": 35.0, "limit_unit": "mg/m³", "default_limit": False}  # fmt: skip
    # the wastewater plant: no permit (30) + unpermitted discharge 24 h (15 × 24/72) + red credit 2025 (25);
    # the 2027 rating is after the period and is not used
    water_row = rows[MN_WATER]
    assert water_row["score"] == pytest.approx(30 + 5 + 25)
    assert water_row["reason_codes"] == "permit_none,credit_red,unpermitted_discharge"
    assert water_row["top_reasons"].split("；") == [
        "无排污许可证", "企业环境信用评价 2025 年度为红牌（环保不良企业）", "无有效排污许可期间仍在排放 24 小时"
    ]  # fmt: skip
    assert (water_row["credit_level"], water_row["credit_year"], water_row["permit_status"]) == (
        "red",
        2025,
        "none",
    )
    assert [r["mn"] for r in s.outlets.to_pylist()] == [MN_WATER, MN_AIR]
    assert [r["rank"] for r in s.outlets.to_pylist()] == [1, 2]
    assert {r["period_days"] for r in s.outlets.to_pylist()} == {1}


def test_saturation_caps_a_reason() -> None:
    so2 = [20.0] * 24 + [200.0] * 24  # 24 h over, 超标倍数 4.7: hours and multiple saturate
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours(so2))), D)
    air = by_mn(scores(m, D, D).outlets)[MN_AIR]
    assert air["score"] == pytest.approx(40 + 15 + 15 / 3)  # + one day of three whose mean exceeds
    assert "日均值超标 1 天" in air["top_reasons"]


def test_a_day_over_a_daily_mean_default_is_a_reason_of_its_own() -> None:
    """GB 18918 bounds the day's mean (COD 50): a day at 55 throughout is one exceedance day, no
    exceedance hour, and its 超标倍数 is the mean's (0.1); a day with 4 hours at 60 and a mean of 35
    is no reason at all."""
    flow = series(MN_WATER, "w00000", START, [5.0] * 48)
    cod = series(MN_WATER, "w01018", START, [30.0] * 24 + [55.0] * 24)
    m = refresh(base_inputs(mart_source__hourly=hourly(cod + flow)), D - dt.timedelta(days=1), D)
    water = by_mn(scores(m, D - dt.timedelta(days=1), D).outlets)[MN_WATER]
    assert "化学需氧量 日均值超标 1 天（国家默认限值）" in water["top_reasons"]
    assert (water["exceedance_hours"], water["exceedance_days"]) == (0, 1)
    mean, multiple = RULES.reason("exceedance_daily_mean"), RULES.reason("exceedance_multiple")
    assert water["max_exceedance_multiple"] == pytest.approx(55 / 50 - 1)
    expected = mean.points / mean.saturation + multiple.points * (55 / 50 - 1) / multiple.saturation
    assert water["exceedance_points"] == pytest.approx(expected)
    peaks = series(MN_WATER, "w01018", START, [30.0] * 24 + [60.0] * 4 + [30.0] * 20)
    m = refresh(base_inputs(mart_source__hourly=hourly(peaks + flow)), D - dt.timedelta(days=1), D)
    water = by_mn(scores(m, D - dt.timedelta(days=1), D).outlets)[MN_WATER]
    assert (water["exceedance_points"], water["exceedance_hours"], water["exceedance_days"]) == (0, 0, 0)


def test_the_near_limit_share_is_shown_where_the_rule_has_its_hours() -> None:
    """SO2 at 33 under a limit of 35, just under it: 100 % of 48 judged hours; of 6 judged hours, fewer
    than the rule's minimum, no share (it showed 100 % of one hour, with no reason to go with it)."""
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours([33.0] * 48))), D - dt.timedelta(days=1), D)
    assert by_mn(scores(m, D - dt.timedelta(days=1), D).outlets)[MN_AIR]["near_limit_share_pct"] == 100.0
    few = air_hours([33.0] * 6 + [None] * 42)
    m = refresh(base_inputs(mart_source__hourly=hourly(few)), D - dt.timedelta(days=1), D)
    air = by_mn(scores(m, D - dt.timedelta(days=1), D).outlets)[MN_AIR]
    assert air["near_limit_share_pct"] is None and "near_limit" not in air["reason_codes"]


def test_filters_region_industry_pollutant() -> None:
    water = series(MN_WATER, "w01018", START, [20.0 + i % 3 for i in range(48)]) + series(
        MN_WATER, "w00000", START, [5.0] * 48
    )
    pts = points(
        [
            {"mn": MN_AIR, "uscc": E_AIR, "outlet_code": "DA001", "region_code": "360102"},
            {"mn": MN_WATER, "uscc": E_WATER, "outlet_code": "DW001", "region_code": "360402"},
        ]
    )
    m = refresh(
        base_inputs(
            core_master__monitoring_points=pts, mart_source__hourly=hourly(air_hours([20.0] * 48) + water)
        ),
        D,
    )
    assert set(by_mn(scores(m, D, D, region="360100").outlets)) == {MN_AIR}
    assert set(by_mn(scores(m, D, D, region="360000").outlets)) == {MN_AIR, MN_WATER}
    assert set(by_mn(scores(m, D, D, industry="D46").outlets)) == {MN_WATER}
    assert set(by_mn(scores(m, D, D, pollutant="w01018").outlets)) == {MN_WATER}
    assert region_prefix("522300") == "5223" and region_prefix("360000") == "36"
    with pytest.raises(ValueError, match="six digits"):
        region_prefix("36")


@pytest.mark.parametrize("region", ["520600", "522200"])
def test_a_prefecture_filter_keeps_the_counties_of_its_legacy_code(region: str) -> None:
    """Master data keeps the county codes of the former 铜仁地区 (5222xx), which belong to 520600 now
    beside its new ones (5206xx): filtering on 铜仁, by its code or its legacy code, keeps both;
    another prefecture neither."""
    pts = points(
        [
            {"mn": MN_AIR, "uscc": E_AIR, "outlet_code": "DA001", "region_code": "522201"},
            {"mn": "AIR2", "uscc": E_AIR, "outlet_code": "DA002", "region_code": "520602"},
        ]
    )
    two = air_hours([20.0] * 48) + [{**r, "mn": "AIR2"} for r in air_hours([20.0] * 48)]
    m = refresh(base_inputs(core_master__monitoring_points=pts, mart_source__hourly=hourly(two)), D)
    assert set(by_mn(scores(m, D, D, region=region).outlets)) == {MN_AIR, "AIR2"}
    assert set(by_mn(scores(m, D, D, region="520500").outlets)) == set()
    assert region_prefixes("520500") == ["5205", "5224"] and region_prefixes("360100") == ["3601"]


def test_mn_remapped_mid_period_ranks_once_per_enterprise() -> None:
    switch = bj(D)
    first = REGISTRY_AT - dt.timedelta(days=90)
    pts = points(
        [
            {"mn": MN_AIR, "uscc": E_AIR, "outlet_code": "DA001", "valid_from": first, "valid_to": switch, "is_current": False},
            {"mn": MN_AIR, "uscc": E_OTHER, "outlet_code": "DA009", "valid_from": switch},
        ]
    )  # fmt: skip
    ents = enterprises([{"uscc": E_AIR, "industry_code": "D4411", "valid_from": first},
                        {"uscc": E_OTHER, "industry_code": "C3011", "valid_from": first}])  # fmt: skip
    so2 = [60.0] * 5 + [20.0] * 43  # over the limit only while it belonged to E_AIR
    inputs = base_inputs(core_master__monitoring_points=pts, core_master__enterprises=ents)
    m = refresh({**inputs, "mart_source__hourly": hourly(air_hours(so2))}, D - dt.timedelta(days=1), D)
    s = scores(m, D - dt.timedelta(days=1), D)
    rows = {r["outlet_key"]: r for r in s.outlets.to_pylist() if r["mn"] == MN_AIR}
    assert set(rows) == {f"{E_AIR}/DA001/{MN_AIR}", f"{E_OTHER}/DA009/{MN_AIR}"}
    assert rows[f"{E_AIR}/DA001/{MN_AIR}"]["exceedance_hours"] == 5
    other = rows[f"{E_OTHER}/DA009/{MN_AIR}"]
    assert (other["exceedance_hours"], other["permit_status"]) == (0, "none")
    assert other["reason_codes"] == "permit_none,unpermitted_discharge"
    ents_rows = {r["uscc"]: r for r in s.enterprises.to_pylist()}
    assert ents_rows[E_AIR]["exceedance_points"] > 0 and ents_rows[E_OTHER]["exceedance_points"] == 0


def test_enterprise_score_best_outlet_plus_a_share_of_the_others() -> None:
    pts = points(
        [
            {"mn": MN_AIR, "uscc": E_AIR, "outlet_code": "DA001"},
            {"mn": "AIR2", "uscc": E_AIR, "outlet_code": "DA001"},  # a second logger on the same outlet
        ]
    )
    two = air_hours([20.0] * 24 + [70.0] * 6 + [20.0] * 18) + [
        {**r, "mn": "AIR2"} for r in air_hours([20.0] * 24 + [70.0] * 3 + [20.0] * 21)
    ]
    m = refresh(base_inputs(core_master__monitoring_points=pts, mart_source__hourly=hourly(two)), D)
    s = scores(m, D, D, credit([{"uscc": E_AIR, "year": 2026, "level": "black"}]))
    out = by_mn(s.outlets)
    (ent,) = s.enterprises.to_pylist()
    best, other = out[MN_AIR]["score"] - 35, out["AIR2"]["score"] - 35
    # each reason weighted, then rounded as shown: within rounding of the unrounded combination
    assert ent["score"] == pytest.approx(35 + best + RULES.other_outlets_factor * other, abs=0.01)
    assert ent["score"] == round(sum(r["points"] for r in json.loads(ent["reasons_json"])), 2)
    assert (ent["outlets"], ent["outlets_with_reasons"], ent["credit_level"]) == (2, 2, "black")
    assert ent["top_outlet_key"] == f"{E_AIR}/DA001/{MN_AIR}"
    reasons = ent["top_reasons"].split("；")
    assert reasons[0] == "企业环境信用评价 2026 年度为黑牌（环保不良企业）"  # enterprise-wide, once
    assert reasons[1].startswith("DA001：二氧化硫 超标 6 小时")
    assert sum(1 for r in json.loads(ent["reasons_json"]) if r["code"] == "credit_black") == 1


def test_outlets_of_equal_scores_rank_and_roll_up_by_key() -> None:
    """Two loggers with the same readings score the same: they rank by key, and the enterprise's best
    outlet is the first of them — not whichever a hash table met first."""
    twin = "AIR000000000000000000000"  # sorts before MN_AIR
    pts = points(
        [
            {"mn": MN_AIR, "uscc": E_AIR, "outlet_code": "DA001"},
            {"mn": twin, "uscc": E_AIR, "outlet_code": "DA001"},
        ]
    )
    so2 = [20.0] * 24 + [70.0] * 6 + [20.0] * 18
    two = air_hours(so2) + [{**r, "mn": twin} for r in air_hours(so2)]
    m = refresh(base_inputs(core_master__monitoring_points=pts, mart_source__hourly=hourly(two)), D)
    for _ in range(5):
        s = scores(m, D, D)
        ranked = sorted(s.outlets.to_pylist(), key=lambda r: r["rank"])
        assert [r["mn"] for r in ranked] == [twin, MN_AIR]
        assert ranked[0]["score"] == ranked[1]["score"] > 0
        (ent,) = s.enterprises.to_pylist()
        assert ent["top_outlet_key"] == f"{E_AIR}/DA001/{twin}"
        assert ent["score"] == pytest.approx(ranked[0]["score"] * (1 + RULES.other_outlets_factor), abs=0.01)


def test_an_enterprise_without_a_permit_counts_it_once_whatever_its_outlets() -> None:
    """The permit's status is the enterprise's (listed once); it was counted once per outlet, so an
    enterprise without a permit scored higher the more outlets it had, above its listed evidence."""
    mns = [f"WAT{i}{'0' * 20}" for i in range(3)]
    pts = points([{"mn": mn, "uscc": E_WATER, "outlet_code": f"DW00{i}"} for i, mn in enumerate(mns)])
    flows = [
        r for mn in mns for r in series(mn, "w00000", START, [5.0] * 48)
    ]  # discharging, no limit to break
    m = refresh(base_inputs(core_master__monitoring_points=pts, mart_source__hourly=hourly(flows)), D)
    s = scores(m, D, D)
    outlet_scores = {r["mn"]: (r["score"], r["reason_codes"]) for r in s.outlets.to_pylist()}
    none = RULES.permit_points["none"]
    unpermitted = outlet_scores[mns[0]][0] - none  # the hours it discharged without a permit
    assert outlet_scores == dict.fromkeys(mns, (none + unpermitted, "permit_none,unpermitted_discharge"))
    (ent,) = [r for r in s.enterprises.to_pylist() if r["uscc"] == E_WATER]
    per_outlet = unpermitted + RULES.other_outlets_factor * 2 * unpermitted
    assert ent["permit_points"] == pytest.approx(none + per_outlet)
    assert ent["score"] == pytest.approx(none + per_outlet)
    listed = [(r["code"], r["outlet_code"], r["mn"]) for r in json.loads(ent["reasons_json"])]
    assert listed.count(("permit_none", None, None)) == 1 and len(listed) == 4
    # the others about one logger each, which an English page names as the Chinese sentence does
    assert sorted(mn for code, _, mn in listed if code == "unpermitted_discharge") == sorted(mns)


def test_fraud_and_quality_reasons_need_their_period_thresholds() -> None:
    # flag M on 5 of 48 values of SO2 (+ 48 O2 + 48 flow values): 3.5 % < 20 % → no abnormal_flags reason
    rows = air_hours([20.0 + i % 3 for i in range(48)])
    for r in [r for r in rows if r["pollutant_code"] == "a21026"][:5]:
        r["flag"] = "M"
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D - dt.timedelta(days=1), D)
    air = by_mn(scores(m, D - dt.timedelta(days=1), D).outlets)[MN_AIR]
    assert (
        air["score"] == 0
        and air["reason_codes"] == ""
        and air["abnormal_share_pct"] == pytest.approx(100 * 5 / 144)
    )
    # on 60 of 144 values: 41.7 % → 20 × 41.7/60 points
    for r in [r for r in rows if r["pollutant_code"] != "a00000"][:60]:
        r["flag"] = "M"
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D - dt.timedelta(days=1), D)
    air = by_mn(scores(m, D - dt.timedelta(days=1), D).outlets)[MN_AIR]
    assert air["reason_codes"] == "abnormal_flags"
    assert air["data_quality_points"] == round(20 * (100 * 60 / 144) / 60, 2)  # 13.89: points as shown
    assert air["top_reasons"] == "异常标记（F/M/D/C/B/T）数据占 42%（60/144 个小时值）"


def test_an_outlets_share_rules_count_hours_not_pollutant_hours() -> None:
    """The trial's outlet scored "数据缺失 33%（应有 24 个小时值…）" from 3 hours of 8 pollutants: the rule's
    min_hours (24 for missing data, 12 for flags) are hours of the outlet, not its pollutant-hours."""
    rows = air_hours([20.0] * 48)
    hours = sorted({r["hour_at"] for r in rows})[-6:]  # the last 6 hours of D: SO2, O2 and flow each
    few = [r for r in rows if r["hour_at"] in hours]
    for r in few:
        r["flag"] = "M"  # every value flagged: 100 % of 18 pollutant-hours, but only 6 hours
    m = refresh(base_inputs(mart_source__hourly=hourly(few)), D)
    air = by_mn(scores(m, D, D).outlets)[MN_AIR]
    assert air["reason_codes"] == "" and air["abnormal_share_pct"] == pytest.approx(100.0)
    for r in rows:
        r["flag"] = "M" if r["hour_at"] >= hours[0] - dt.timedelta(hours=6) else "N"  # 12 hours
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D)
    assert by_mn(scores(m, D, D).outlets)[MN_AIR]["reason_codes"] == "abnormal_flags"


def _days(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


def _reason(outlet: dict, code: str) -> dict:
    (reason,) = [r for r in json.loads(outlet["reasons_json"]) if r["code"] == code]
    return reason


def test_the_longest_exceedance_run_is_the_periods_not_a_days_window() -> None:
    """SO2 over its limit 144 hours without a break: each day sees the run through its own window
    (72 h at most), and the period printed the largest day's figure, "最长连续 72 小时"."""
    so2 = [20.0] * 24 + [70.0] * 144 + [20.0] * 24  # D − 1 … D + 6, over the limit D … D + 5
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours(so2))), D, _days(5))
    air = by_mn(scores(m, D, _days(5)).outlets)[MN_AIR]
    assert (
        air["top_reasons"]
        == "二氧化硫 超标 144 小时（6 天），最大超标倍数 1.00 倍，最长连续 144 小时，日均值超标 6 天"
    )
    assert _reason(air, "exceedance")["numbers"]["longest_run_h"] == 144
    two_days = by_mn(scores(m, _days(2), _days(3)).outlets)[MN_AIR]  # the run clipped to the period
    assert _reason(two_days, "exceedance")["text"].startswith(
        "二氧化硫 超标 48 小时（2 天），最大超标倍数 1.00 倍，最长连续 48 小时"
    )


def test_the_longest_silence_is_the_periods_and_never_longer_than_the_period() -> None:
    """A water logger silent 120 hours (D … D + 4) while the air logger sends: "最长连续 72 小时无数据
    （期间共 120 小时）" it said; over one day, 72 hours of a 24-hour period, with the full points."""
    air = air_hours([20.0 + i % 5 for i in range(24 * 7)])  # D − 1 … D + 5
    water = [30.0] * 24 + [None] * 120 + [30.0] * 24
    rows = air + series(MN_WATER, "w01018", START, water) + series(MN_WATER, "w00000", START, water)
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D, _days(4))
    silent = by_mn(scores(m, D, _days(4)).outlets)[MN_WATER]
    assert _reason(silent, "silence")["text"] == "数采仪中断传输，最长连续 120 小时无数据（期间共 120 小时）"
    assert _reason(silent, "silence")["numbers"] == {"hours": 120, "longest_run_h": 120}
    assert silent["silence_longest_h"] == 120
    one_day = by_mn(scores(m, _days(2), _days(2)).outlets)[MN_WATER]
    assert _reason(one_day, "silence")["text"] == "数采仪中断传输，最长连续 24 小时无数据（期间共 24 小时）"
    assert one_day["silence_longest_h"] == 24
    silence = RULES.reason("silence")
    assert _reason(one_day, "silence")["points"] == pytest.approx(silence.points * 24 / silence.saturation)


def test_the_longest_flat_line_and_zero_run_are_the_periods() -> None:
    """SO2 constant 100 hours and COD zero 80 hours while flowing, both from D 00:00: the period says
    the runs' lengths (it said 72, a day's window), and over two days their part in those days."""
    so2 = [20.0 + i % 5 for i in range(24)] + [23.456] * 100 + [20.0 + i % 5 for i in range(44)]
    rows = air_hours(so2)
    for r in rows:
        if r["pollutant_code"] == "a21026" and r["avg_value"] == 23.456:
            r["min_value"] = r["max_value"] = r["avg_value"]
    cod = [30.0] * 24 + [0.0] * 80 + [30.0] * 64
    rows += series(MN_WATER, "w01018", START, cod) + series(MN_WATER, "w00000", START, [5.0] * len(cod))
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D, _days(5))
    out = by_mn(scores(m, D, _days(5)).outlets)
    assert (
        _reason(out[MN_AIR], "flatline")["text"]
        == "二氧化硫 数值连续 100 小时恒定（设施运行中），期间共 100 小时"
    )
    assert (
        _reason(out[MN_WATER], "zero_run")["text"]
        == "化学需氧量 流量大于 0 时连续 80 小时为零值，期间共 80 小时"
    )
    out = by_mn(scores(m, _days(1), _days(2)).outlets)
    assert _reason(out[MN_AIR], "flatline")["numbers"] == {"hours": 48, "longest_run_h": 48}
    assert _reason(out[MN_WATER], "zero_run")["numbers"] == {"hours": 48, "longest_run_h": 48}


def test_an_enterprises_reasons_of_equal_points_list_its_loggers_by_mn() -> None:
    """Two loggers on outlet DA001, each over the limit for a day and more (the hours saturate, the
    same 超标倍数 and day over the mean: equal points): their reasons were ordered by points, code,
    outlet and pollutant only, and swapped places between runs; now by MN last."""
    twin = "AIR000000000000000000000"  # sorts before MN_AIR
    pts = points(
        [
            {"mn": MN_AIR, "uscc": E_AIR, "outlet_code": "DA001"},
            {"mn": twin, "uscc": E_AIR, "outlet_code": "DA001"},
        ]
    )

    def over(hours: int) -> list[float]:  # 60 mg/m³ from D 00:00: ×1.71 of the limit
        return [20.0] * 24 + [60.0] * hours + [20.0] * (72 - hours)

    two = air_hours(over(25)) + [{**r, "mn": twin} for r in air_hours(over(29))]
    m = refresh(base_inputs(core_master__monitoring_points=pts, mart_source__hourly=hourly(two)), D, _days(1))
    for _ in range(10):
        (ent,) = scores(m, D, _days(1)).enterprises.to_pylist()
        listed = [r["text"] for r in json.loads(ent["reasons_json"])]
        assert [t.split("，")[0] for t in listed] == [
            "DA001：二氧化硫 超标 29 小时（2 天）",
            "DA001：二氧化硫 超标 25 小时（2 天）",
        ]
        assert ent["top_reasons"].split("；") == listed


def test_an_other_outlets_reason_is_its_weight_times_the_points_shown() -> None:
    """The enterprise page shows a weighted reason as "points (weight × outlet_points)": 0.25 × the
    18.54 shown is 4.635 → 4.64 (GB/T 8170), not the 4.63 that 0.25 × the unrounded 18.5387 gives."""
    pts = points(
        [
            {"mn": MN_AIR, "uscc": E_AIR, "outlet_code": "DA001"},
            {"mn": "AIR2", "uscc": E_AIR, "outlet_code": "DA001"},
        ]
    )
    best = [20.0] * 24 + [90.0] * 12 + [20.0] * 12  # the best outlet: more hours over, more points
    other = [20.0] * 24 + [74.8471] + [70.0] * 5 + [20.0] * 18  # 18.5387… points, shown 18.54
    rows = air_hours(best) + [{**r, "mn": "AIR2"} for r in air_hours(other)]
    m = refresh(base_inputs(core_master__monitoring_points=pts, mart_source__hourly=hourly(rows)), D)
    s = scores(m, D, D)
    assert by_mn(s.outlets)["AIR2"]["score"] == 18.54
    (enterprise,) = s.enterprises.to_pylist()
    (reason,) = [r for r in json.loads(enterprise["reasons_json"]) if r["mn"] == "AIR2"]
    assert (reason["weight"], reason["outlet_points"], reason["points"]) == (0.25, 18.54, 4.64)
    listed = sum(Decimal(str(r["points"])) for r in json.loads(enterprise["reasons_json"]))
    assert Decimal(str(enterprise["score"])) == listed  # the score is what the reasons listed add up to
