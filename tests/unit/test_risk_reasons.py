"""Risk reasons in English, from the codes and numbers the marts keep beside their Chinese sentences."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from risk_data import (
    E_AIR,
    E_WATER,
    MN_AIR,
    MN_WATER,
    D,
    air_hours,
    base_inputs,
    hourly,
    points,
    refresh,
    series,
)
from test_risk_scoring import RULES, START, by_mn, credit, scores

from ecocloud.risk_reasons import evidence_text, reason_text, top_reasons

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_an_outlets_reasons_in_english_say_the_chinese_sentences_numbers() -> None:
    so2 = [20.0] * 24 + [70.0] * 6 + [20.0] * 18
    water = series(MN_WATER, "w01018", START, [20.0 + i % 3 for i in range(48)]) + series(
        MN_WATER, "w00000", START, [5.0] * 48
    )
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours(so2) + water)), D)
    rows = by_mn(scores(m, D, D, credit([{"uscc": E_WATER, "year": 2025, "level": "red"}])).outlets)
    air, plant = rows[MN_AIR], rows[MN_WATER]
    assert top_reasons(air, RULES, "zh") == air["top_reasons"]  # the marts' own sentence
    assert top_reasons(air, RULES, "en") == (
        "SO2 above the limit for 6 hours (1 day), at most 1.00 times over, longest run 6 h"
    )
    english = [reason_text(r, RULES, "en") for r in json.loads(plant["reasons_json"])]
    assert english[0] == "no discharge permit"
    assert "discharging for 24 hours without a valid permit" in english
    assert not any(CJK.search(t) for t in english), english


def test_an_enterprises_reasons_name_their_outlet_first() -> None:
    pts = points([{"mn": MN_AIR, "uscc": E_AIR, "outlet_code": "DA001"}])
    over = [20.0] * 24 + [60.0] * 25 + [20.0] * 47
    m = refresh(
        base_inputs(core_master__monitoring_points=pts, mart_source__hourly=hourly(air_hours(over))),
        D,
        D + dt.timedelta(days=1),
    )
    (ent,) = scores(m, D, D + dt.timedelta(days=1)).enterprises.to_pylist()
    assert ent["top_reasons"].startswith("DA001：二氧化硫 超标 25 小时")
    assert top_reasons(ent, RULES, "en").startswith("DA001: SO2 above the limit for 25 hours (2 days)")


def test_abnormal_flags_say_the_rules_flags_and_the_share() -> None:
    rows = air_hours([20.0 + i % 3 for i in range(48)])
    for r in [r for r in rows if r["pollutant_code"] != "a00000"][:60]:
        r["flag"] = "M"
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D - dt.timedelta(days=1), D)
    air = by_mn(scores(m, D - dt.timedelta(days=1), D).outlets)[MN_AIR]
    assert air["top_reasons"] == "异常标记（F/M/D/C/B/T）数据占 42%（60/144 个小时值）"
    assert top_reasons(air, RULES, "en") == "abnormal flags (F/M/D/C/B/T) on 42% of hourly values (60/144)"


CODES = (
    [c for c in RULES.raw["score"]["reasons"] if c not in ("exceedance_multiple", "exceedance_daily_mean")]
    + [f"permit_{s}" for s in RULES.raw["score"]["permit"]]
    + [f"credit_{level}" for level in RULES.raw["score"]["credit"]]
)


# every number any reason keeps (transforms/risk/scoring.py: its json_object)
NUMBERS = {
    "hours": 6, "days": 1, "max_exceedance_multiple": 1.5, "longest_run_h": 4, "daily_mean_days": 1,
    "limit_value": 35.0, "limit_unit": "mg/m³", "default_limit": False, "hours_near_limit": 40,
    "hours_judged": 48, "hours_abnormal": 10, "hours_present": 100, "hours_manual": 5, "values_missing": 7,
    "values_expected": 70, "permit_no": "91360000000000000X001P", "since": "2026-11-20", "year": 2025,
    "mn": "88883600000000000000014D",
}  # fmt: skip


# What each reason says of NUMBERS (SO2, a21026): shares of the numbers' counts (40/48 = 83 %,
# 10/100, 5/100, 7/70), the multiple at its declared two decimals, and from the rules: near the limit
# is within low_frac 0.9 of it, the abnormal flags are F/M/D/C/B/T (asserted below).
PERMIT = "discharge permit 91360000000000000X001P"
ENGLISH = {
    "exceedance": "SO2 above the limit for 6 hours (1 day), at most 1.50 times over, longest run 4 h, "
    "daily mean above the limit on 1 day",
    "flatline": "SO2: value constant for 4 hours in a row while the plant ran (6 hours in the period)",
    "zero_run": "SO2: zero for 4 hours in a row while the flow was above zero (6 hours in the period)",
    "near_limit": "SO2: 83% of valid hourly means within 90–100% of the limit (40/48 hours)",
    "zs_inconsistent": "SO2: converted concentration disagrees with the measured one and the O2 for 6 hours",
    "abnormal_flags": "abnormal flags (F/M/D/C/B/T) on 10% of hourly values (10/100)",
    "manual_values": "manually entered (S) values: 5% of hourly values (5/100)",
    "missing_data": "10% of data missing (7 of the 70 hourly values expected while the logger was online "
    "missing or incomplete)",
    "silence": "logger silent: longest 4 hours in a row without data (6 hours in the period)",
    "unpermitted_discharge": "discharging for 6 hours without a valid permit",
    "mn_unregistered": "MN not in the monitoring-point register: no enterprise, outlet or permit can be linked",
    "permit_none": "no discharge permit",
    "permit_not_yet_valid": f"{PERMIT} not yet valid",
    "permit_expired": f"{PERMIT} expired (since 2026-11-20)",
    "permit_revoked": f"{PERMIT} revoked (since 2026-11-20)",
    "permit_cancelled": f"{PERMIT} cancelled (since 2026-11-20)",
    "permit_outlet_not_permitted": f"outlet ? is not on {PERMIT}",  # no outlet given: ?
    **{f"credit_{level}": f"environmental credit rating for 2025: {level}"
       for level in ("green", "blue", "yellow", "red", "black")},
}  # fmt: skip


def test_the_rules_the_english_sentences_assume() -> None:
    assert RULES.indicator("near_limit")["low_frac"] == 0.9
    assert tuple(RULES.abnormal_flags) == ("F", "M", "D", "C", "B", "T")
    assert set(CODES) == set(ENGLISH)  # a reason the rules add needs its sentence here


@pytest.mark.parametrize("code", CODES)
def test_every_reason_the_rules_score_has_an_english_sentence(code: str) -> None:
    numbers = NUMBERS | {
        "permit_status": code.removeprefix("permit_"),
        "credit_level": code.removeprefix("credit_"),
    }
    reason = {"code": code, "text": "中文原因", "pollutant": "a21026", "numbers": numbers}
    assert reason_text(reason, RULES, "en") == ENGLISH[code]
    assert reason_text(reason, RULES, "zh") == "中文原因"  # the marts' sentence, as stored


def test_a_near_limit_reason_in_both_languages() -> None:
    """30 of 48 hourly means at 33 mg/m³, within 90–100% of SO2's 35 (the rules' low_frac 0.9):
    62% (62.5 rounded half to even in both languages), from the marts' Chinese to the English."""
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours([33.0] * 30 + [20.0] * 18))),
                D - dt.timedelta(days=1), D)  # fmt: skip
    air = by_mn(scores(m, D - dt.timedelta(days=1), D).outlets)[MN_AIR]
    assert air["top_reasons"] == "二氧化硫 62% 的有效小时均值处于限值的 90%–100%（30/48 小时）"
    assert (
        top_reasons(air, RULES, "en")
        == "SO2: 62% of valid hourly means within 90–100% of the limit (30/48 hours)"
    )


@pytest.mark.parametrize("code", [c for c in CODES if c != "mn_unregistered" and not c.startswith("permit_")])
def test_a_reason_without_the_numbers_its_sentence_needs_keeps_its_chinese(code: str) -> None:
    reason = {"code": code, "text": "中文原因", "pollutant": "a21026", "numbers": {}}
    assert reason_text(reason, RULES, "en") == "中文原因"


def test_an_enterprises_reason_about_an_outlet_without_a_code_names_its_mn() -> None:
    """As the Chinese sentence does, from the reason's ``mn`` (not from the sentence's words)."""
    mn = "88883600000000000000014D"
    reason = {
        "code": "silence",
        "outlet_code": None,
        "mn": mn,
        "text": "数采仪中断传输……",
        "numbers": NUMBERS,
    }
    assert reason_text(reason, RULES, "en").startswith(f"{mn}: logger silent: longest 4 hours in a row")
    permit = {
        "code": "permit_none",
        "outlet_code": None,
        "mn": None,
        "text": "无排污许可证",
        "numbers": {"permit_status": "none"},
    }
    assert reason_text(permit, RULES, "en") == "no discharge permit"  # the enterprise's own: no outlet


def test_a_code_it_does_not_know_keeps_its_chinese_sentence() -> None:
    reason = {"code": "a_rule_added_later", "text": "新规则的原因", "numbers": {"hours": 3}}
    assert reason_text(reason, RULES, "en") == "新规则的原因"


def test_an_evidence_row_in_the_page_language() -> None:
    row = {
        "category": "exceedance",
        "evidence": "烟尘 超标 3 小时……",
        "evidence_en": "smoke over the limit …",
    }
    assert (
        evidence_text(row, "zh") == "烟尘 超标 3 小时……"
        and evidence_text(row, "en") == "smoke over the limit …"
    )
    finding = {
        "category": "fraud",
        "indicator": "flatline",
        "evidence": "数值连续 4 小时恒定",
        "evidence_en": None,
    }
    assert evidence_text(finding, "en") == "数值连续 4 小时恒定"  # its rule and run are other columns


def test_a_near_limit_share_of_one_judged_hour_says_hour() -> None:
    reason = {"code": "near_limit", "text": "中文原因", "pollutant": "a21026", "numbers": NUMBERS}
    assert reason_text(reason, RULES, "en").endswith("(40/48 hours)")
    one = reason | {"numbers": NUMBERS | {"hours_near_limit": 1, "hours_judged": 1}}
    assert reason_text(one, RULES, "en").endswith("(1/1 hour)")
