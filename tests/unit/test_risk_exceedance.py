"""Exceedances against the limit in force: converted values, O2 edge cases, limits changing mid-day,
national defaults, range limits, daily means, runs across midnight (transforms.risk)."""

from __future__ import annotations

import datetime as dt

import duckdb
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
    limits,
    outlets_of,
    points,
    refresh,
    rows_of,
    series,
)

from ecocloud.web.risk_queries import hourly_with_limits
from schemas.registry import get_table
from transforms.risk import load_rules
from warehouse.quality import run_gate

DAY0 = bj(D)  # 00:00 Beijing of the refreshed day


def so2_day(t: dict, **kw: object) -> dict:
    (row,) = rows_of(t, mn=MN_AIR, pollutant_code="a21026", **kw)
    return row


def test_flue_gas_is_judged_on_the_converted_value() -> None:
    # measured 30 mg/m³ at 9 % O2, reference 6 %: 30 × (21 − 6) / (21 − 9) = 37.5 > 35
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours([30.0] * 48, o2=9.0))), D)
    day = so2_day(m.exceedance_daily)
    assert (day["hours_judged"], day["hours_exceeded"]) == (24, 24)
    assert day["max_judged_value"] == pytest.approx(37.5)
    assert day["max_exceedance_multiple"] == pytest.approx(37.5 / 35 - 1)  # 超标倍数 = C / limit − 1
    assert day["day_mean_exceeded"] is True and day["limit_source"] == "permit"
    hour = m.exceedance_hourly.to_pylist()[0]
    assert (hour["value_basis"], hour["measured_value"], hour["o2_pct"]) == ("converted", 30.0, 9.0)
    assert hour["judged_value"] == pytest.approx(37.5) and hour["run_hours"] == 48  # followed into D − 1
    # the same measured value at 6 % O2 is under the limit
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours([30.0] * 48, o2=6.0))), D)
    assert so2_day(m.exceedance_daily)["hours_exceeded"] == 0 and m.exceedance_hourly.num_rows == 0


@pytest.mark.parametrize("o2", [20.0, 21.0, 23.5])
def test_o2_at_or_above_the_maximum_leaves_the_hour_unjudged(o2: float) -> None:
    # a huge measured value, but O2 ≥ o2_max (20 %): the conversion factor explodes, no verdict
    rows = air_hours([500.0] * 48, o2=o2, zs_avg_value=900.0)
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D)
    day = so2_day(m.exceedance_daily)
    assert (day["hours_valid"], day["hours_judged"], day["hours_unjudged"], day["hours_exceeded"]) == (
        24,
        0,
        24,
        0,
    )
    assert day["day_mean_exceeded"] is None and m.exceedance_hourly.num_rows == 0


def test_missing_o2_uses_the_loggers_converted_value_else_leaves_the_hour_unjudged() -> None:
    with_zs = air_hours([20.0] * 48, o2=None, zs_avg_value=40.0)
    m = refresh(base_inputs(mart_source__hourly=hourly(with_zs)), D)
    assert so2_day(m.exceedance_daily)["hours_exceeded"] == 24
    assert {r["value_basis"] for r in m.exceedance_hourly.to_pylist()} == {"logger_converted"}
    without = air_hours([20.0] * 48, o2=None)
    day = so2_day(refresh(base_inputs(mart_source__hourly=hourly(without)), D).exceedance_daily)
    assert (day["hours_judged"], day["hours_unjudged"]) == (0, 24)
    # an O2 value with an abnormal flag is not used either
    bad_o2 = air_hours([20.0] * 48, o2=None) + series(
        MN_AIR, "a19001", bj(D - dt.timedelta(days=1)), [6.0] * 48, flag="D"
    )
    day = so2_day(refresh(base_inputs(mart_source__hourly=hourly(bad_o2)), D).exceedance_daily)
    assert (day["hours_judged"], day["hours_unjudged"]) == (0, 24)


def test_a_limit_that_changes_mid_day_is_applied_hour_by_hour() -> None:
    noon = bj(D, 12)
    lim = limits(
        [
            {"uscc": E_AIR, "outlet_code": "DA001", "pollutant_code": "a21026", "limit_value": 35.0,
             "o2_reference_pct": 6.0, "in_force_to": noon},
            {"uscc": E_AIR, "outlet_code": "DA001", "pollutant_code": "a21026", "limit_value": 20.0,
             "o2_reference_pct": 6.0, "version": 2, "valid_from": noon, "in_force_from": noon},
        ]
    )  # fmt: skip
    inputs = base_inputs(core_permit__outlet_limits=lim, core_permit__outlets=outlets_of(lim))
    m = refresh({**inputs, "mart_source__hourly": hourly(air_hours([30.0] * 48))}, D)
    day = so2_day(m.exceedance_daily)
    assert (day["hours_exceeded"], day["limit_changed"], day["limit_value"]) == (12, True, 20.0)
    assert {r["hour_at"].astimezone(bj(D).tzinfo).hour for r in m.exceedance_hourly.to_pylist()} == set(
        range(12, 24)
    )
    assert {r["permit_version"] for r in m.exceedance_hourly.to_pylist()} == {2}
    # the daily mean is the mean of hourly ratios: (12 × 30/35 + 12 × 30/20) / 24
    assert day["daily_mean_ratio"] == pytest.approx((30 / 35 + 30 / 20) / 2)
    assert day["day_mean_exceeded"] is True


def test_only_valid_hours_are_judged() -> None:
    rows = air_hours([80.0] * 48, flag="M")
    day = so2_day(refresh(base_inputs(mart_source__hourly=hourly(rows)), D).exceedance_daily)
    assert (day["hours_present"], day["hours_valid"], day["hours_abnormal"], day["hours_exceeded"]) == (
        24,
        0,
        24,
        0,
    )


def test_flue_gas_hours_of_too_few_minutes_are_neither_judged_nor_abnormal() -> None:
    """An hour without a flag (its N samples cover < 45 minutes, mart_source__hourly) is no valid
    hourly value: not judged against the limit, and not counted as abnormal either."""
    rows = air_hours([80.0] * 48, flag=None, basis="2011", samples=3, samples_normal=3, minutes_normal=3)
    day = so2_day(refresh(base_inputs(mart_source__hourly=hourly(rows)), D).exceedance_daily)
    assert (
        day["hours_present"],
        day["hours_valid"],
        day["hours_abnormal"],
        day["hours_incomplete"],
        day["hours_exceeded"],
    ) == (24, 0, 0, 24, 0)


def test_national_defaults_only_where_no_permit_gives_a_limit() -> None:
    # the wastewater plant (D4620) has no permit: GB 18918 1A, COD 50 mg/L, pH 6–9
    start = bj(D - dt.timedelta(days=1))
    rows = (
        series(MN_WATER, "w01018", start, [60.0] * 48)
        + series(MN_WATER, "w01001", start, [10.0] * 24 + [7.0] * 24)
        + series(MN_WATER, "w00000", start, [5.0] * 48)
    )
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D - dt.timedelta(days=1), D)
    (cod,) = rows_of(m.exceedance_daily, mn=MN_WATER, pollutant_code="w01018", date=D)
    # GB 18918 bounds the day's mean: no hour exceeds it, the day does
    assert (cod["limit_source"], cod["limit_value"], cod["hours_exceeded"]) == ("default", 50.0, 0)
    assert cod["day_mean_exceeded"] is True
    assert cod["limit_standard"].startswith("GB 18918")
    ph = {r["date"]: r for r in rows_of(m.exceedance_daily, mn=MN_WATER, pollutant_code="w01001")}
    assert (ph[D - dt.timedelta(days=1)]["hours_exceeded"], ph[D]["hours_exceeded"]) == (24, 0)
    assert ph[D]["max_ratio"] is None and ph[D - dt.timedelta(days=1)]["day_mean_exceeded"] is True
    # the power plant's permit gives SO2: the default (200) is not used
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours([100.0] * 48))), D)
    assert (so2_day(m.exceedance_daily)["limit_source"], so2_day(m.exceedance_daily)["limit_value"]) == (
        "permit",
        35.0,
    )


def test_a_default_with_an_unjudged_condition_takes_its_lenient_value() -> None:
    """GB 18918 1A: NH3-N 5, but 8 when the water is at or below 12 °C; TP 0.5, but 1 for plants built
    before 2006. Neither the water temperature (not sent here) nor the plant's age is known: a day at
    6.5 mg/L NH3-N or 0.8 mg/L TP is not an exceedance (it was, against 5 and 0.5), a day at 9 or 1.2
    is (its mean: the limits are daily)."""
    start = bj(D - dt.timedelta(days=1))
    rows = (
        series(MN_WATER, "w21003", start, [6.5] * 24 + [9.0] * 24)
        + series(MN_WATER, "w21011", start, [0.8] * 24 + [1.2] * 24)
        + series(MN_WATER, "w00000", start, [5.0] * 48)
    )
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D - dt.timedelta(days=1), D)
    for code, limit in (("w21003", 8.0), ("w21011", 1.0)):
        days = {r["date"]: r for r in rows_of(m.exceedance_daily, mn=MN_WATER, pollutant_code=code)}
        assert {(r["limit_source"], r["limit_value"]) for r in days.values()} == {("default", limit)}
        assert (days[D - dt.timedelta(days=1)]["day_mean_exceeded"], days[D]["day_mean_exceeded"]) == (
            False,
            True,
        ), code


def test_the_nh3n_default_is_5_in_warm_water_and_8_in_cold_or_unmeasured_water() -> None:
    """GB 18918 1A: NH3-N 5 mg/L with the water above 12 °C, 8 at or below (DOMAIN.md §7), judged by
    the hour's water temperature (w01010, flag N). A day at 6.5 mg/L: over in warm water, not in cold
    water nor where no temperature came; a day half cold, half warm is judged hour by hour (mean ratio
    (6.5/8 + 6.5/5) / 2 = 1.06) and names the limit of its last hour."""
    start = bj(D - dt.timedelta(days=2))
    temps = {"warm": [14.0] * 24, "cold": [12.0] * 24, "mixed": [10.0] * 12 + [14.0] * 12}
    rows = series(MN_WATER, "w21003", start, [6.5] * 72) + series(MN_WATER, "w00000", start, [5.0] * 72)
    rows += series(MN_WATER, "w01010", start, temps["warm"] + temps["cold"] + temps["mixed"])
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D - dt.timedelta(days=2), D)
    days = {r["date"]: r for r in rows_of(m.exceedance_daily, mn=MN_WATER, pollutant_code="w21003")}
    warm, cold, mixed = (days[D - dt.timedelta(days=n)] for n in (2, 1, 0))
    assert (warm["limit_value"], warm["day_mean_exceeded"], warm["limit_changed"]) == (5.0, True, False)
    assert (cold["limit_value"], cold["day_mean_exceeded"]) == (8.0, False)
    assert (mixed["limit_value"], mixed["day_mean_exceeded"], mixed["limit_changed"]) == (5.0, True, True)
    assert mixed["daily_mean_ratio"] == pytest.approx((6.5 / 8 + 6.5 / 5) / 2)
    unmeasured = refresh(base_inputs(mart_source__hourly=hourly(rows[:144])), D - dt.timedelta(days=2), D)
    assert {
        r["day_mean_exceeded"] for r in rows_of(unmeasured.exceedance_daily, pollutant_code="w21003")
    } == {False}


def test_a_daily_mean_default_is_exceeded_by_a_day_not_by_an_hour() -> None:
    """COD at 60 mg/L for 4 hours of a day at 30 (mean 35): the plant meets GB 18918's daily limit of 50
    — no exceedance hour and no exceedance day (the scores: test_risk_scoring)."""
    start = bj(D - dt.timedelta(days=1))
    cod = [30.0] * 24 + [60.0] * 4 + [30.0] * 20
    rows = series(MN_WATER, "w01018", start, cod) + series(MN_WATER, "w00000", start, [5.0] * 48)
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D - dt.timedelta(days=1), D)
    assert {
        (r["hours_exceeded"], r["day_mean_exceeded"])
        for r in rows_of(m.exceedance_daily, pollutant_code="w01018")
    } == {(0, False)}
    assert m.exceedance_hourly.num_rows == 0


@pytest.mark.parametrize(
    ("standard", "hours_exceeded"),
    [
        ("《城镇污水处理厂污染物排放标准》(GB18918—2002) 一级A", 0),  # daily means: the day is 35
        ("《污水综合排放标准》(GB 8978-1996) 一级", 0),  # §5: 按日均值计算, daily means too
        ("DB36/ 9999-2026", 4),  # a standard not listed as of daily means: each hour is judged
    ],
)
def test_a_permit_limit_under_a_standard_of_daily_means_bounds_the_day(
    standard: str, hours_exceeded: int
) -> None:
    """The plant's own permit gives COD 40 mg/L citing GB 18918 (a day of 30 with four hours of 60:
    mean 35): judged hour by hour, as permit limits were, four hours were exceedances of a limit the
    plant met; the pH range on the same permit still bounds every hour."""
    lim = limits(
        [
            {"uscc": E_WATER, "outlet_code": "DW001", "pollutant_code": "w01018", "limit_value": 40.0,
             "standard": standard},
            {"uscc": E_WATER, "outlet_code": "DW001", "pollutant_code": "w01001", "limit_value": 9.0,
             "limit_lower": 6.0, "limit_unit": "-", "standard": standard},
        ]
    )  # fmt: skip
    start = bj(D - dt.timedelta(days=1))
    rows = (
        series(MN_WATER, "w01018", start, [30.0] * 24 + [60.0] * 4 + [30.0] * 20)
        + series(MN_WATER, "w01001", start, [7.0] * 24 + [10.0] * 2 + [7.0] * 22)
        + series(MN_WATER, "w00000", start, [5.0] * 48)
    )
    inputs = base_inputs(core_permit__outlet_limits=lim, core_permit__outlets=outlets_of(lim))
    m = refresh({**inputs, "mart_source__hourly": hourly(rows)}, D)
    (cod,) = rows_of(m.exceedance_daily, mn=MN_WATER, pollutant_code="w01018")
    assert (cod["limit_source"], cod["limit_value"], cod["limit_standard"]) == ("permit", 40.0, standard)
    assert (cod["hours_exceeded"], cod["day_mean_exceeded"]) == (hours_exceeded, False)
    (ph,) = rows_of(m.exceedance_daily, mn=MN_WATER, pollutant_code="w01001")
    assert (ph["limit_source"], ph["hours_exceeded"]) == ("permit", 2)
    assert {r["pollutant_code"] for r in m.exceedance_hourly.to_pylist()} == (
        {"w01001"} if hours_exceeded == 0 else {"w01001", "w01018"}
    )


def test_a_registry_edit_mid_day_does_not_split_the_day_s_mean() -> None:
    """A new version of the plant's point at 10:00 (its name corrected; same enterprise and outlet)
    splits the day into 10 and 14 hours, each fewer than daily_mean_min_hours: a day at 60 mg/L COD
    against GB 18918's daily 50 went unjudged. The outlet's day is one mean; an MN moved to another
    outlet mid-day is two (test_risk_identity)."""
    first, ten = REGISTRY_AT - dt.timedelta(days=60), bj(D, 10)
    pts = points(
        [
            {"mn": MN_AIR, "uscc": E_AIR, "outlet_code": "DA001", "pollutants": "a21026", "valid_from": first},
            {"mn": MN_WATER, "uscc": E_WATER, "outlet_code": "DW001", "point_name": "总排口", "pollutants": "w01018",
             "valid_from": first, "valid_to": ten, "is_current": False},
            {"mn": MN_WATER, "uscc": E_WATER, "outlet_code": "DW001", "point_name": "污水总排口", "pollutants": "w01018",
             "valid_from": ten},
        ]
    )  # fmt: skip
    start = bj(D - dt.timedelta(days=1))
    rows = series(MN_WATER, "w01018", start, [60.0] * 48) + series(MN_WATER, "w00000", start, [5.0] * 48)
    m = refresh(base_inputs(core_master__monitoring_points=pts, mart_source__hourly=hourly(rows)), D)
    days = sorted(rows_of(m.exceedance_daily, pollutant_code="w01018"), key=lambda r: r["identity_from_at"])
    assert [(r["hours_judged"], r["day_mean_exceeded"]) for r in days] == [(10, True), (14, True)]
    assert {(r["daily_mean_value"], r["daily_mean_hours"]) for r in days} == {(60.0, 24)}
    assert [r["max_exceedance_multiple"] for r in days] == pytest.approx([60 / 50 - 1] * 2)


def test_the_part_of_a_split_day_without_a_limit_is_not_over_the_day_s_mean() -> None:
    """The plant registered as a chemical works (C2614, no default) until 03:00, then as a wastewater
    plant (D4620, GB 18918): the 21 hours from 03:00 are judged and their mean is over; the three
    hours before had no limit, and their row says nothing of a mean (it said exceeded, 超标倍数 0.2)."""
    first, three = REGISTRY_AT - dt.timedelta(days=60), bj(D, 3)
    point = {"mn": MN_WATER, "uscc": E_WATER, "outlet_code": "DW001", "pollutants": "w01018"}
    pts = points([{**point, "valid_from": first, "valid_to": three, "is_current": False},
                  {**point, "point_name": "总排口", "valid_from": three}])  # fmt: skip
    ents = enterprises([{"uscc": E_WATER, "industry_code": "C2614", "valid_from": first, "valid_to": three,
                         "is_current": False},
                        {"uscc": E_WATER, "industry_code": "D4620", "valid_from": three}])  # fmt: skip
    start = bj(D - dt.timedelta(days=1))
    rows = series(MN_WATER, "w01018", start, [60.0] * 48) + series(MN_WATER, "w00000", start, [5.0] * 48)
    inputs = base_inputs(core_master__monitoring_points=pts, core_master__enterprises=ents)
    m = refresh({**inputs, "mart_source__hourly": hourly(rows)}, D)
    days = sorted(rows_of(m.exceedance_daily, pollutant_code="w01018"), key=lambda r: r["identity_from_at"])
    assert [(r["limit_value"], r["hours_judged"], r["day_mean_exceeded"]) for r in days] == [
        (None, 0, None),
        (50.0, 21, True),
    ]
    assert days[0]["max_exceedance_multiple"] is None
    assert days[1]["max_exceedance_multiple"] == pytest.approx(60 / 50 - 1)


def test_a_day_over_a_daily_mean_limit_has_the_mean_s_exceedance_multiple() -> None:
    """COD at 500 mg/L all day against GB 18918's daily 50: no hour is over an hourly limit (there is
    none), yet the day's 超标倍数 is 9 — it was reported as none, so ten times over scored less than a
    stack 3 % over for a day."""
    start = bj(D - dt.timedelta(days=1))
    rows = series(MN_WATER, "w01018", start, [500.0] * 48) + series(MN_WATER, "w00000", start, [5.0] * 48)
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D)
    (day,) = rows_of(m.exceedance_daily, pollutant_code="w01018")
    assert (day["hours_exceeded"], day["day_mean_exceeded"]) == (0, True)
    assert day["max_exceedance_multiple"] == pytest.approx(500 / 50 - 1)


def test_daily_mean_needs_enough_judged_hours_and_runs_cross_midnight() -> None:
    # 3 hours over at the end of D − 1, 2 more at the start of D, then 10 hours only
    values = [20.0] * 21 + [60.0] * 5 + [20.0] * 8 + [None] * 14
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours(values))), D)
    day = so2_day(m.exceedance_daily)
    assert (day["hours_judged"], day["hours_exceeded"], day["longest_exceedance_run_h"]) == (10, 2, 5)
    assert day["day_mean_exceeded"] is None  # 10 < daily_mean_min_hours
    assert {r["run_hours"] for r in m.exceedance_hourly.to_pylist()} == {5}


def test_a_unit_mismatch_is_not_judged() -> None:
    lim = limits(
        [
            {
                "uscc": E_AIR,
                "outlet_code": "DA001",
                "pollutant_code": "a21026",
                "limit_value": 35.0,
                "limit_unit": "mg/L",
            }
        ]
    )
    inputs = base_inputs(core_permit__outlet_limits=lim, core_permit__outlets=outlets_of(lim))
    day = so2_day(
        refresh({**inputs, "mart_source__hourly": hourly(air_hours([80.0] * 48))}, D).exceedance_daily
    )
    assert (day["hours_judged"], day["hours_unjudged"]) == (0, 24)


def test_stricter_limit_wins_when_two_permits_bind() -> None:
    lim = limits(
        [
            {"uscc": E_AIR, "outlet_code": "DA001", "pollutant_code": "a21026", "limit_value": 35.0},
            {"uscc": E_AIR, "outlet_code": "DA001", "pollutant_code": "a21026", "limit_value": 25.0,
             "permit_no": E_AIR + "002P"},
        ]
    )  # fmt: skip
    inputs = base_inputs(core_permit__outlet_limits=lim, core_permit__outlets=outlets_of(lim))
    day = so2_day(
        refresh(
            {**inputs, "mart_source__hourly": hourly(air_hours([30.0] * 48, o2=None))}, D
        ).exceedance_daily
    )
    assert (day["limit_value"], day["permit_no"], day["hours_exceeded"]) == (25.0, E_AIR + "002P", 24)


def test_an_analyser_reading_below_zero_leaves_its_day_publishable() -> None:
    """A negative reading (flag N: the logger does not know better) gives a negative ratio; the gate
    must pass the day's exceedances, or one drifting analyser holds back the province's risk marts."""
    m = refresh(
        base_inputs(mart_source__hourly=hourly(air_hours([-0.3 - (i % 3) * 0.1 for i in range(48)]))), D
    )
    day = so2_day(m.exceedance_daily)
    assert day["hours_judged"] == 24 and day["hours_exceeded"] == 0
    assert day["max_ratio"] < 0 and day["daily_mean_ratio"] < 0
    table = get_table("mart_source__exceedance_daily")
    verdict = run_gate(table, m.exceedance_daily, partition_date=D)
    assert verdict.passed, verdict.summary()


@pytest.mark.parametrize(
    ("o2", "limit_unit", "judged", "limit"), [(-1.0, "mg/m³", 120.0, 35.0), (9.0, "µg/m³", None, None)]
)
def test_the_outlet_chart_judges_an_hour_as_the_marts_do(
    o2: float, limit_unit: str, judged: float | None, limit: float | None
) -> None:
    """An O2 below zero is no O2 (the logger's ZsAvg is judged); a limit in another unit is none: the
    chart draws the hourly means without it, and the marts judge no hour."""
    lim = limits([{"uscc": E_AIR, "outlet_code": "DA001", "pollutant_code": "a21026", "limit_value": 35.0,
                   "o2_reference_pct": 6.0, "limit_unit": limit_unit}])  # fmt: skip
    rows = hourly(air_hours([100.0] * 48, o2=o2, zs_avg_value=120.0))
    inputs = base_inputs(
        core_permit__outlet_limits=lim, core_permit__outlets=outlets_of(lim), mart_source__hourly=rows
    )
    m = refresh(inputs, D)
    marts = {
        h["hour_at"]: h["judged_value"]
        for h in m.exceedance_hourly.to_pylist()
        if h["pollutant_code"] == "a21026"
    }
    con = duckdb.connect()
    for name, table in (("mart_source__hourly", rows), ("mart_source__outlet_identity", m.identity),
                        ("core_permit__outlet_limits", lim), ("mart_source__exceedance_daily", m.exceedance_daily)):  # fmt: skip
        con.register(name, table)
    chart = hourly_with_limits(con, MN_AIR, ["a21026"], D, D, load_rules())
    assert len(chart) == 24 and {r["limit_value"] for r in chart} == {limit}
    assert {r["judged_value"] for r in chart} == {judged if judged is not None else 100.0}
    assert {marts.get(r["hour_at"]) for r in chart} == {judged}  # the marts judged every hour alike


def test_the_outlet_chart_draws_the_nh3n_default_of_each_hour_s_water() -> None:
    """The chart's limit line is the limit each hour was judged on: 8 in the cold hours, 5 in the warm."""
    start = bj(D)
    temps = [10.0] * 12 + [14.0] * 12
    rows = hourly(
        series(MN_WATER, "w21003", start, [6.5] * 24)
        + series(MN_WATER, "w00000", start, [5.0] * 24)
        + series(MN_WATER, "w01010", start, temps)
    )
    inputs = base_inputs(mart_source__hourly=rows)
    m = refresh(inputs, D)
    con = duckdb.connect()
    for name in ("core_permit__outlet_limits", "mart_source__hourly"):
        con.register(name, inputs[name])
    con.register("mart_source__outlet_identity", m.identity)
    con.register("mart_source__exceedance_daily", m.exceedance_daily)
    chart = hourly_with_limits(con, MN_WATER, ["w21003"], D, D, load_rules())
    assert [r["limit_value"] for r in chart] == [8.0] * 12 + [5.0] * 12
    assert {r["limit_source"] for r in chart} == {"default"}

    # a permit limit from noon: the morning keeps the default's line (the day's row names the permit)
    noon = bj(D, 12)
    lim = limits([{"uscc": E_WATER, "outlet_code": "DW001", "pollutant_code": "w21003", "limit_value": 15.0,
                   "valid_from": noon, "in_force_from": noon}])  # fmt: skip
    con.register("core_permit__outlet_limits", lim)
    chart = hourly_with_limits(con, MN_WATER, ["w21003"], D, D, load_rules())
    assert [(r["limit_source"], r["limit_value"]) for r in chart] == [("default", 8.0)] * 12 + [
        ("permit", 15.0)
    ] * 12


def test_the_daily_row_names_the_limit_of_its_last_judged_hour_whole() -> None:
    """A permit NH3-N limit of 15 from noon, the afternoon hours flagged D, warm water: the morning was
    judged on the default (5, GB 18918); the row names that limit with its source and standard, not
    the permit's source beside the default's value. A default day without a judged hour names the
    limit of unmeasured water (8)."""
    noon, start = bj(D, 12), bj(D)
    lim = limits([{"uscc": E_WATER, "outlet_code": "DW001", "pollutant_code": "w21003", "limit_value": 15.0,
                   "valid_from": noon, "in_force_from": noon}])  # fmt: skip
    rows = (
        series(MN_WATER, "w21003", start, [6.5] * 12)
        + series(MN_WATER, "w21003", noon, [6.5] * 12, flag="D")
        + series(MN_WATER, "w00000", start, [5.0] * 24)
        + series(MN_WATER, "w01010", start, [14.0] * 24)
    )
    inputs = base_inputs(
        mart_source__hourly=hourly(rows), core_permit__outlet_limits=lim, core_permit__outlets=outlets_of(lim)
    )
    (day,) = rows_of(refresh(inputs, D).exceedance_daily, mn=MN_WATER, pollutant_code="w21003")
    assert (day["limit_value"], day["limit_source"], day["permit_no"]) == (5.0, "default", None)
    assert day["limit_standard"].startswith("GB 18918") and day["limit_changed"] is True

    rows = series(MN_WATER, "w21003", start, [6.5] * 24, flag="D") + series(
        MN_WATER, "w00000", start, [5.0] * 24
    )
    (day,) = rows_of(
        refresh(base_inputs(mart_source__hourly=hourly(rows)), D).exceedance_daily, pollutant_code="w21003"
    )
    assert (day["limit_value"], day["hours_judged"], day["limit_source"]) == (8.0, 0, "default")
