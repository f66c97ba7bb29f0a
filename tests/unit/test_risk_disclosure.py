"""The public disclosure of key dischargers' daily results (mart_source__disclosure_daily): the daily
exceedance rows under enterprise, outlet and point number, never an MN; unregistered MNs and unknown
enterprises withheld and counted; several loggers on one outlet numbered by registration
(transforms.risk.disclosure)."""

from __future__ import annotations

import datetime as dt

import pytest
from risk_data import (
    E_AIR,
    E_WATER,
    MN_AIR,
    MN_WATER,
    D,
    air_hours,
    base_inputs,
    bj,
    hourly,
    points,
    refresh,
    rows_of,
    series,
)

from schemas.registry import Sharing, all_tables, get_table
from warehouse.quality import run_gate

pytestmark = pytest.mark.unit

DISCLOSURE = get_table("mart_source__disclosure_daily")
STRAY_MN = "ZZZ000000000000000000009"  # sends data, in no monitoring-point version


def test_an_exceeding_day_is_disclosed_under_its_enterprise_and_outlet() -> None:
    # SO2 measured 70 mg/m³ at the reference O2 for 6 hours of D, 20 for the rest: limit 35
    so2 = [20.0] * 24 + [70.0] * 6 + [20.0] * 18
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours(so2))), D)
    (row,) = rows_of(m.disclosure, uscc=E_AIR, pollutant_code="a21026")
    (judged,) = rows_of(m.exceedance_daily, mn=MN_AIR, pollutant_code="a21026")
    assert (row["enterprise_name"], row["outlet_code"], row["point_no"]) == (
        "江西测试发电有限公司",
        "DA001",
        1,
    )
    assert (row["limit_value"], row["limit_source"], row["hours_exceeded"]) == (35.0, "permit", 6)
    assert row["daily_mean_value"] == pytest.approx(judged["daily_mean_value"])
    assert row["daily_mean_value"] == pytest.approx((70 * 6 + 20 * 18) / 24)
    assert row["day_mean_exceeded"] is False  # 32.5 mg/m³ against 35: hours over, the day's mean not
    assert row["hours_present"] == row["hours_valid"] == 24
    verdict = run_gate(DISCLOSURE, m.disclosure, partition_date=D)
    assert verdict.passed, verdict.summary()


def test_no_mn_reaches_the_public_and_unregistered_loggers_are_withheld_and_counted() -> None:
    rows = air_hours([20.0] * 48) + series(STRAY_MN, "w01018", bj(D), [40.0] * 24)
    rows += series(MN_WATER, "w01018", bj(D), [30.0] * 24)
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D)
    stray = rows_of(m.exceedance_daily, mn=STRAY_MN)
    assert stray and all(r["uscc"] is None for r in stray)
    assert m.withheld_from_disclosure == len(stray)
    assert m.disclosure.num_rows + m.withheld_from_disclosure == m.exceedance_daily.num_rows
    assert {r["uscc"] for r in m.disclosure.to_pylist()} == {E_AIR, E_WATER}
    published = m.disclosure.to_pylist()
    assert "mn" not in m.disclosure.column_names
    assert not any(mn in str(v) for r in published for v in r.values() for mn in (MN_AIR, MN_WATER, STRAY_MN))


def test_point_numbers_follow_registration_not_the_mns_or_the_day() -> None:
    """A logger added to an outlet later gets the next number even with a lower MN, so "DA001 point 1"
    stays the same logger from day to day."""
    later = "AIR000000000000000000000"  # sorts before MN_AIR
    registry = points(
        [
            {"mn": MN_AIR, "uscc": E_AIR, "outlet_code": "DA001", "pollutants": "a00000,a19001,a21026",
             "valid_from": bj(D - dt.timedelta(days=5))},
            {"mn": later, "uscc": E_AIR, "outlet_code": "DA001", "pollutants": "a19001,a21026",
             "valid_from": bj(D - dt.timedelta(days=2))},
        ]
    )  # fmt: skip
    rows = air_hours([20.0] * 48) + series(later, "a21026", bj(D), [50.0] * 24)
    rows += series(later, "a19001", bj(D), [6.0] * 24)  # at the reference O2: judged as measured
    m = refresh(base_inputs(core_master__monitoring_points=registry, mart_source__hourly=hourly(rows)), D)
    so2 = sorted(rows_of(m.disclosure, uscc=E_AIR, pollutant_code="a21026"), key=lambda r: r["point_no"])
    assert [(r["point_no"], r["daily_mean_value"]) for r in so2] == [
        (1, pytest.approx(20.0)),
        (2, pytest.approx(50.0)),
    ]
    assert all(r["hours_judged"] == 24 for r in so2)
    verdict = run_gate(DISCLOSURE, m.disclosure, partition_date=D)
    assert verdict.passed, verdict.summary()


def test_a_point_of_an_unknown_enterprise_is_withheld() -> None:
    """Its USCC is in no enterprise version: perhaps mistyped, so perhaps another company's code."""
    registry = points(
        [
            {"mn": MN_AIR, "uscc": E_AIR, "outlet_code": "DA001", "pollutants": "a00000,a19001,a21026"},
            {"mn": MN_WATER, "uscc": "91360200MA35TEST9X", "outlet_code": "DW001", "pollutants": "w01018"},
        ]
    )
    rows = air_hours([20.0] * 48) + series(MN_WATER, "w01018", bj(D), [30.0] * 24)
    m = refresh(base_inputs(core_master__monitoring_points=registry, mart_source__hourly=hourly(rows)), D)
    unknown = rows_of(m.exceedance_daily, mn=MN_WATER)
    assert unknown and {r["uscc"] for r in unknown} == {"91360200MA35TEST9X"}
    assert not rows_of(m.disclosure, uscc="91360200MA35TEST9X")
    assert m.withheld_from_disclosure == len(unknown)
    assert m.disclosure.num_rows + m.withheld_from_disclosure == m.exceedance_daily.num_rows


def test_only_tables_without_mns_are_shared_unconditionally() -> None:
    """The public sees unconditional tables whole: an MN there would let anyone impersonate a logger."""
    public = [t.name for t in all_tables() if t.sharing is Sharing.UNCONDITIONAL]
    assert DISCLOSURE.name in public
    assert [t for t in public if "mn" in get_table(t).column_names] == []
