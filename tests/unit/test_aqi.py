"""AQI (HJ 633-2012 / HJ 633-2026): tables, IAQI, hourly and daily AQI, categories.

Numbers come from DOMAIN.md §2 and the cnemc-air README. The real-file agreement (published hourly
AQI) is covered by the integration tests; here everything is tiny inline data.
"""

from __future__ import annotations

import math
import warnings
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.air import AQI_CATEGORIES, AQI_STANDARDS
from schemas.aqi_standard import (
    BREAKPOINTS,
    CATEGORIES,
    HJ633_2012,
    HJ633_2026,
    HJ633_2026_EFFECTIVE,
    IAQI_LEVELS,
    Indicator,
    standard_for_date,
)
from transforms.aqi import (
    OUTPUT_SCHEMA,
    aqi_from_iaqi,
    category,
    ceil_iaqi,
    daily_aqi,
    hourly_aqi,
    iaqi,
    missing_indicators,
    primary_pollutants,
    standards_for_dates,
)

pytestmark = pytest.mark.unit

D2012 = date(2023, 1, 20)
D2026 = date(2026, 6, 1)

HOURLY_COLS = ("pm25_ugm3", "pm10_ugm3", "so2_ugm3", "so2_24h_ugm3", "no2_ugm3", "co_mgm3", "o3_ugm3")
DAILY_COLS = ("pm25_ugm3", "pm10_ugm3", "so2_ugm3", "no2_ugm3", "co_mgm3", "o3_8h_max_ugm3", "o3_1h_max_ugm3")


def _table(cols: tuple[str, ...], rows: list[dict[str, Any]], day: date | list[date]) -> pa.Table:
    days = day if isinstance(day, list) else [day] * len(rows)
    data: dict[str, pa.Array] = {"date": pa.array(days, type=pa.date32())}
    for c in cols:
        data[c] = pa.array([r.get(c) for r in rows], type=pa.float64())
    return pa.table(data)


def hourly(rows: list[dict[str, Any]], day: date | list[date] = D2012, **kw: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = hourly_aqi(_table(HOURLY_COLS, rows, day), **kw).to_pylist()
    return out


def daily(rows: list[dict[str, Any]], day: date | list[date] = D2012) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = daily_aqi(_table(DAILY_COLS, rows, day)).to_pylist()
    return out


def one_hourly(day: date = D2012, **conc: float | None) -> dict[str, Any]:
    return hourly([conc], day)[0]


def one_daily(day: date = D2012, **conc: float | None) -> dict[str, Any]:
    return daily([conc], day)[0]


# --------------------------------------------------------------------------------------------------
# The tables, transcribed from DOMAIN.md §2 (HJ 633-2012 table 1) — a second, independent copy.

DOMAIN_2012 = {
    Indicator.SO2_24H: (0, 50, 150, 475, 800, 1600, 2100, 2620),
    Indicator.SO2_1H: (0, 150, 500, 650, 800),
    Indicator.NO2_24H: (0, 40, 80, 180, 280, 565, 750, 940),
    Indicator.NO2_1H: (0, 100, 200, 700, 1200, 2340, 3090, 3840),
    Indicator.PM10_24H: (0, 50, 150, 250, 350, 420, 500, 600),
    Indicator.CO_24H: (0, 2, 4, 14, 24, 36, 48, 60),
    Indicator.CO_1H: (0, 5, 10, 35, 60, 90, 120, 150),
    Indicator.O3_1H: (0, 160, 200, 300, 400, 800, 1000, 1200),
    Indicator.O3_8H: (0, 100, 160, 215, 265, 800),
    Indicator.PM25_24H: (0, 35, 75, 115, 150, 250, 350, 500),
}
DOMAIN_2026 = {
    **DOMAIN_2012,
    Indicator.PM10_24H: (0, 50, 120, 250, 350, 420, 500, 600),
    Indicator.PM25_24H: (0, 35, 60, 115, 150, 250, 350, 500),
}


@pytest.mark.parametrize(("standard", "expected"), [(HJ633_2012, DOMAIN_2012), (HJ633_2026, DOMAIN_2026)])
def test_breakpoint_tables_match_domain(standard: str, expected: dict[Indicator, tuple[int, ...]]) -> None:
    table = BREAKPOINTS[standard]
    assert set(table) == set(Indicator)
    for indicator, conc in expected.items():
        assert table[indicator].conc == conc, indicator
        assert table[indicator].iaqi == IAQI_LEVELS[: len(conc)]


def test_categories_and_colours() -> None:
    assert tuple(c.name for c in CATEGORIES) == AQI_CATEGORIES.codes
    assert [(c.aqi_lo, c.aqi_hi) for c in CATEGORIES] == [
        (0, 50),
        (51, 100),
        (101, 150),
        (151, 200),
        (201, 300),
        (301, None),
    ]
    assert [c.rgb for c in CATEGORIES] == [
        (0, 228, 0),
        (255, 255, 0),
        (255, 126, 0),
        (255, 0, 0),
        (153, 0, 76),
        (126, 0, 35),
    ]


def test_standard_for_date_switches_on_2026_03_01() -> None:
    assert date(2026, 3, 1) == HJ633_2026_EFFECTIVE
    assert standard_for_date(date(2013, 1, 1)) == HJ633_2012
    assert standard_for_date(date(2026, 2, 28)) == HJ633_2012
    assert standard_for_date(date(2026, 3, 1)) == HJ633_2026
    assert standard_for_date(date(2030, 12, 31)) == HJ633_2026
    assert {HJ633_2012, HJ633_2026} == set(AQI_STANDARDS)


# --------------------------------------------------------------------------------------------------
# iaqi()


def test_worked_example_pm25_100() -> None:
    # DOMAIN §2: PM2.5 = 100 µg/m³ → IAQI 132 under 2012, 137 under 2026.
    assert ceil_iaqi(iaqi([100.0], BREAKPOINTS[HJ633_2012][Indicator.PM25_24H]))[0] == 132
    assert ceil_iaqi(iaqi([100.0], BREAKPOINTS[HJ633_2026][Indicator.PM25_24H]))[0] == 137
    assert iaqi([100.0], BREAKPOINTS[HJ633_2012][Indicator.PM25_24H])[0] == pytest.approx(131.25)
    assert one_daily(date(2026, 2, 28), pm25_ugm3=100)["aqi"] == 132
    assert one_daily(date(2026, 3, 1), pm25_ugm3=100)["aqi"] == 137


BOUNDARY_CASES = [
    (standard, indicator, i)
    for standard in (HJ633_2012, HJ633_2026)
    for indicator in Indicator
    for i in range(len(BREAKPOINTS[standard][indicator].conc))
]


@pytest.mark.parametrize(("standard", "indicator", "i"), BOUNDARY_CASES)
def test_every_breakpoint_boundary(standard: str, indicator: Indicator, i: int) -> None:
    bp = BREAKPOINTS[standard][indicator]
    c, level = bp.conc[i], IAQI_LEVELS[i]
    # exactly on the breakpoint: exactly its IAQI, no rounding up
    assert iaqi([c], bp)[0] == level
    assert ceil_iaqi(iaqi([c], bp))[0] == level
    # a hair above: next integer (unless it is the top: off the table)
    above = c + (0.001 if indicator.startswith("CO") else 0.1)
    if i < len(bp.conc) - 1:
        assert ceil_iaqi(iaqi([above], bp))[0] == level + 1
        # a hair below the next breakpoint still rounds up to the next level
        nxt = bp.conc[i + 1]
        below = nxt - (0.001 if indicator.startswith("CO") else 0.1)
        assert ceil_iaqi(iaqi([below], bp))[0] == IAQI_LEVELS[i + 1]
    else:
        assert np.isnan(iaqi([above], bp)[0])
        assert iaqi([above], bp, above_top=500.0)[0] == 500


def test_iaqi_missing_negative_and_above_top() -> None:
    bp = BREAKPOINTS[HJ633_2012][Indicator.PM25_24H]
    out = iaqi([np.nan, -1.0, 0.0, 500.0, 500.5, 736.0], bp)
    assert np.isnan(out[0])
    assert np.isnan(out[1])
    assert out[2] == 0
    assert out[3] == 500
    # not scored on the table above the top breakpoint …
    assert np.isnan(out[4])
    assert np.isnan(out[5])
    # … unless the caller applies the 500 cap
    assert iaqi([736.0], bp, above_top=500.0)[0] == 500


def test_iaqi_accepts_plain_breakpoint_sequence() -> None:
    out = iaqi(np.array([0.0, 17.5, 35.0, 55.0]), (0, 35, 75))
    np.testing.assert_allclose(out, [0.0, 25.0, 50.0, 75.0])
    with pytest.raises(ValueError, match="increase"):
        iaqi([1.0], (0, 35, 35))
    with pytest.raises(ValueError, match="breakpoints"):
        iaqi([1.0], (0,))


# --------------------------------------------------------------------------------------------------
# rounding up


def test_ceil_ignores_float_noise() -> None:
    assert ceil_iaqi([50.0000000001])[0] == 50
    assert ceil_iaqi([50.0])[0] == 50
    assert ceil_iaqi([50.001])[0] == 51
    assert ceil_iaqi([0.0])[0] == 0
    assert ceil_iaqi([0.01])[0] == 1
    assert ceil_iaqi([131.25])[0] == 132
    assert np.isnan(ceil_iaqi([np.nan])[0])


def test_ceil_float_noise_on_real_concentrations() -> None:
    # 10 × 1.1 = 11.000000000000002 in floating point: a plain ceil would give 12.
    co_1h = BREAKPOINTS[HJ633_2012][Indicator.CO_1H]
    raw = iaqi([1.1, 65.4], co_1h)
    assert math.ceil(raw[0]) == 12  # the trap …
    np.testing.assert_array_equal(ceil_iaqi(raw), [11, 218])  # … avoided
    assert one_hourly(co_mgm3=1.1)["aqi"] == 11
    assert one_hourly(co_mgm3=65.4)["aqi"] == 218
    assert one_daily(co_mgm3=2.2)["aqi"] == 55  # CO 24h: 25 × 2.2 → 55.00000000000001


def test_aqi_is_ceil_of_max_not_max_of_rounded_halves() -> None:
    # PM2.5 91.16 → 120.2, PM10 191.8 → 120.9: AQI = ceil(120.9) = 121
    row = one_hourly(pm25_ugm3=91.16, pm10_ugm3=191.8)
    assert row["aqi"] == 121


# --------------------------------------------------------------------------------------------------
# hourly rules


def test_hourly_pm_uses_24h_breakpoints_gases_1h() -> None:
    assert one_hourly(pm25_ugm3=75)["aqi"] == 100
    assert one_hourly(pm10_ugm3=150)["aqi"] == 100
    assert one_hourly(so2_ugm3=500)["aqi"] == 100  # 1h table (24h table would give 200)
    assert one_hourly(no2_ugm3=200)["aqi"] == 100
    assert one_hourly(co_mgm3=10)["aqi"] == 100
    assert one_hourly(o3_ugm3=200)["aqi"] == 100
    # 2026: PM2.5 60 and PM10 120 are the new IAQI-100 breakpoints
    assert one_hourly(D2026, pm25_ugm3=60)["aqi"] == 100
    assert one_hourly(D2026, pm10_ugm3=120)["aqi"] == 100


def test_hourly_so2_above_800_hj633_2012() -> None:
    # note 2: above 800 the SO2 24-hour IAQI is used (489 µg/m³ → 152.15 → 153)
    row = one_hourly(so2_ugm3=819, so2_24h_ugm3=489, co_mgm3=9.9)
    assert row["aqi"] == 153
    assert row["primary_pollutants"] == "SO2"
    # exactly 800 is still on the 1-hour table
    assert one_hourly(so2_ugm3=800, so2_24h_ugm3=10)["aqi"] == 200
    # 24-hour value missing: SO2 is left out
    row = one_hourly(so2_ugm3=819, co_mgm3=9.9)
    assert row["aqi"] == 99
    assert row["primary_pollutants"] == "CO"
    assert one_hourly(so2_ugm3=1053)["aqi"] is None
    # the 24-hour table is capped at 500 above its top (2620)
    assert one_hourly(so2_ugm3=3000, so2_24h_ugm3=2700)["aqi"] == 500


def test_hourly_so2_above_800_release_practice_switch() -> None:
    # The national release left SO2 out even with a 24-hour value (china_sites_20170101 1734A h0).
    row = hourly([{"so2_ugm3": 819, "so2_24h_ugm3": 489, "co_mgm3": 9.9}], so2_24h_fallback=False)[0]
    assert row["aqi"] == 99
    assert row["primary_pollutants"] == "CO"
    # no effect under 2026
    row = hourly([{"so2_ugm3": 819, "so2_24h_ugm3": 489}], D2026, so2_24h_fallback=False)[0]
    assert row["aqi"] == 200


def test_hourly_so2_above_800_hj633_2026() -> None:
    # 2026: an SO2 1-hour value above 800 counts as IAQI 200, whatever the 24-hour value
    assert one_hourly(D2026, so2_ugm3=801, so2_24h_ugm3=489)["aqi"] == 200
    assert one_hourly(D2026, so2_ugm3=5000)["aqi"] == 200
    row = one_hourly(D2026, so2_ugm3=801, pm25_ugm3=150)
    assert row["aqi"] == 200
    assert row["primary_pollutants"] == "PM2.5,SO2"


def test_hourly_o3_8h_is_not_scored() -> None:
    table = _table((*HOURLY_COLS, "o3_8h_ugm3"), [{"o3_ugm3": 10, "o3_8h_ugm3": 300}], D2012)
    assert hourly_aqi(table).column("aqi").to_pylist() == [4]  # O3 1h 10 → 3.125


def test_hourly_pm_above_top_is_capped_at_500() -> None:
    # heavy smog (china_sites_20170101): PM2.5 587 µg/m³ → AQI 500
    assert one_hourly(pm25_ugm3=587)["aqi"] == 500
    assert one_hourly(pm25_ugm3=501, pm10_ugm3=300)["aqi"] == 500
    assert one_hourly(pm10_ugm3=995)["aqi"] == 500
    row = one_hourly(pm25_ugm3=736, pm10_ugm3=995)
    assert row["primary_pollutants"] == "PM2.5,PM10"
    assert row["aqi_category"] == "严重污染"
    # gases off their tables count as 500 as well (no real file has one)
    assert one_hourly(co_mgm3=200)["aqi"] == 500
    assert one_hourly(no2_ugm3=4000)["aqi"] == 500
    assert one_hourly(o3_ugm3=1300)["aqi"] == 500


def test_all_missing_row_is_null() -> None:
    rows = hourly([{}, {"pm25_ugm3": 35}])
    assert rows[0] == {
        "aqi": None,
        "primary_pollutants": None,
        "aqi_category": None,
        "aqi_standard": HJ633_2012,
    }
    assert rows[1]["aqi"] == 50
    assert one_daily()["aqi"] is None


def test_nan_and_negative_are_missing() -> None:
    table = pa.table(
        {
            "date": pa.array([D2012, D2012], type=pa.date32()),
            **{c: pa.array([np.nan, -5.0], type=pa.float64()) for c in HOURLY_COLS},
        }
    )
    assert hourly_aqi(table).column("aqi").to_pylist() == [None, None]


def test_version_switch_per_row() -> None:
    days = [date(2026, 2, 28), date(2026, 3, 1)]
    rows = hourly([{"pm25_ugm3": 100}, {"pm25_ugm3": 100}], days)
    assert [r["aqi"] for r in rows] == [132, 137]
    assert [r["aqi_standard"] for r in rows] == [HJ633_2012, HJ633_2026]
    # 2026 PM10 IAQI-100 breakpoint 150 → 120
    rows = hourly([{"pm10_ugm3": 150}, {"pm10_ugm3": 150}], days)
    assert [r["aqi"] for r in rows] == [100, 112]


def test_mixed_versions_keep_row_order() -> None:
    days = [D2026, D2012, D2026, D2012]
    rows = hourly([{"pm25_ugm3": 100}, {"pm25_ugm3": 100}, {}, {"so2_ugm3": 900}], days)
    assert [r["aqi"] for r in rows] == [137, 132, None, None]
    assert [r["aqi_standard"] for r in rows] == [HJ633_2026, HJ633_2012, HJ633_2026, HJ633_2012]


def test_output_schema_and_alignment() -> None:
    table = _table(HOURLY_COLS, [{"pm25_ugm3": float(v)} for v in range(0, 700, 7)], D2012)
    out = hourly_aqi(table)
    assert out.schema.equals(OUTPUT_SCHEMA)
    assert out.num_rows == table.num_rows
    assert out.schema.field("aqi").type == pa.int16()
    empty = hourly_aqi(table.slice(0, 0))
    assert empty.num_rows == 0
    assert empty.schema.equals(OUTPUT_SCHEMA)


def test_input_columns_may_be_integers_or_chunked() -> None:
    table = pa.concat_tables(
        [
            pa.table(
                {
                    "date": pa.array([D2012], type=pa.date32()),
                    **{c: pa.array([100 if c == "pm25_ugm3" else 1], type=pa.int32()) for c in HOURLY_COLS},
                }
            )
        ]
        * 2
    )
    assert hourly_aqi(table).column("aqi").to_pylist() == [132, 132]


def test_missing_columns_and_null_dates_are_rejected() -> None:
    with pytest.raises(ValueError, match="so2_24h_ugm3"):
        hourly_aqi(pa.table({"date": pa.array([D2012], type=pa.date32())}))
    table = _table(HOURLY_COLS, [{"pm25_ugm3": 10}], D2012)
    table = table.set_column(0, "date", pa.array([None], type=pa.date32()))
    with pytest.raises(ValueError, match="date"):
        hourly_aqi(table)


# --------------------------------------------------------------------------------------------------
# primary pollutants


def test_primary_pollutant_ties_all_listed_in_fixed_order() -> None:
    # PM2.5 115 and PM10 250 are both exactly IAQI 150
    row = one_hourly(pm25_ugm3=115, pm10_ugm3=250, no2_ugm3=100)
    assert row["aqi"] == 150
    assert row["primary_pollutants"] == "PM2.5,PM10"
    # ceil'd IAQIs tie: PM2.5 120.2 and PM10 120.9 → both 121
    assert one_hourly(pm25_ugm3=91.16, pm10_ugm3=191.8)["primary_pollutants"] == "PM2.5,PM10"
    # not a tie once the ceil'd values differ
    assert one_hourly(pm25_ugm3=91.16, pm10_ugm3=192.2)["primary_pollutants"] == "PM10"
    row = one_hourly(pm25_ugm3=75, pm10_ugm3=150, so2_ugm3=500, no2_ugm3=200, co_mgm3=10, o3_ugm3=200)
    assert row["primary_pollutants"] == "PM2.5,PM10,SO2,NO2,CO,O3"


def test_primary_pollutant_only_above_50() -> None:
    assert one_hourly(pm25_ugm3=35, pm10_ugm3=50)["primary_pollutants"] is None
    row = one_hourly(pm25_ugm3=35.1)
    assert row["aqi"] == 51
    assert row["primary_pollutants"] == "PM2.5"
    assert one_hourly(o3_ugm3=0)["primary_pollutants"] is None


def test_primary_pollutants_on_matrix() -> None:
    m = np.array([[120.2, 10.0], [120.9, np.nan], [np.nan, 60.0], [1, 1], [1, 1], [1, np.nan]])
    np.testing.assert_array_equal(aqi_from_iaqi(m), [121, 60])
    assert primary_pollutants(m).to_pylist() == ["PM2.5,PM10", "SO2"]
    with pytest.raises(ValueError, match="matrix"):
        primary_pollutants(m[:3])


# --------------------------------------------------------------------------------------------------
# daily rules


def test_daily_24h_tables() -> None:
    assert one_daily(so2_ugm3=150)["aqi"] == 100  # 24h table (1h table would give 50)
    assert one_daily(no2_ugm3=80)["aqi"] == 100
    assert one_daily(co_mgm3=4)["aqi"] == 100
    assert one_daily(pm25_ugm3=75)["aqi"] == 100
    assert one_daily(pm10_ugm3=150)["aqi"] == 100
    assert one_daily(o3_8h_max_ugm3=160)["aqi"] == 100
    assert one_daily(D2026, pm25_ugm3=60)["aqi"] == 100
    assert one_daily(so2_ugm3=2620)["aqi"] == 500
    assert one_daily(so2_ugm3=3000)["aqi"] == 500


def test_daily_o3_1h_scored_under_2012_only() -> None:
    row = one_daily(o3_8h_max_ugm3=100, o3_1h_max_ugm3=300)
    assert row["aqi"] == 150
    assert row["primary_pollutants"] == "O3"
    assert one_daily(D2026, o3_8h_max_ugm3=100, o3_1h_max_ugm3=300)["aqi"] == 50


def test_daily_o3_8h_above_800() -> None:
    # 2012 note 3: the O3 1-hour IAQI instead (900 → 350)
    assert one_daily(o3_8h_max_ugm3=850, o3_1h_max_ugm3=900)["aqi"] == 350
    # … even when it is lower than what the 8-hour table would give at 800 (300)
    assert one_daily(o3_8h_max_ugm3=850, o3_1h_max_ugm3=200)["aqi"] == 100
    # no 1-hour value: O3 left out
    assert one_daily(o3_8h_max_ugm3=850)["aqi"] is None
    assert one_daily(o3_8h_max_ugm3=800)["aqi"] == 300
    # 2026: counts as 300; the 1-hour value is not used
    assert one_daily(D2026, o3_8h_max_ugm3=850, o3_1h_max_ugm3=1100)["aqi"] == 300
    assert one_daily(D2026, o3_8h_max_ugm3=850)["aqi"] == 300


FULL_DAY: dict[str, Any] = {
    "pm25_ugm3": 50,
    "pm10_ugm3": 80,
    "so2_ugm3": 10,
    "no2_ugm3": 30,
    "co_mgm3": 1,
    "o3_8h_max_ugm3": 60,
}


def test_daily_aqi_with_all_indicators_needs_all_six() -> None:
    day = {**FULL_DAY, "o3_1h_max_ugm3": 100}  # HJ 633-2012 scores the 1-hour maximum too
    rows = [
        day,
        {**day, "pm25_ugm3": None, "pm10_ugm3": None},  # PM invalid: O3 and gases only
        {**day, "o3_8h_max_ugm3": 850, "o3_1h_max_ugm3": None},  # 8-hour above 800, no 1-hour value
        {**day, "o3_8h_max_ugm3": 850, "o3_1h_max_ugm3": 900},  # … with one: scored
        {**day, "o3_8h_max_ugm3": None, "o3_1h_max_ugm3": 150},  # the 1-hour value is extra
        {**day, "o3_1h_max_ugm3": None},  # the 1-hour term unknown: the day's O3 IAQI is unknown
    ]
    table = _table(DAILY_COLS, rows, D2012)
    assert [r["aqi"] for r in daily_aqi(table).to_pylist()] == [69, 38, 69, 350, 69, 69]  # as before
    strict = daily_aqi(table, all_indicators=True).to_pylist()
    assert [r["aqi"] for r in strict] == [69, None, None, 350, None, None]
    assert [r["aqi_category"] for r in strict] == ["良", None, None, "严重污染", None, None]
    assert missing_indicators(table).to_pylist() == [None, "PM2.5,PM10", "O3", None, "O3", "O3"]
    # HJ 633-2026 has no 1-hour term in the daily report: a day without it is complete
    later = _table(DAILY_COLS, [{**FULL_DAY, "o3_1h_max_ugm3": None}], D2026)
    assert missing_indicators(later).to_pylist() == [None]
    assert daily_aqi(later, all_indicators=True).column("aqi").to_pylist() == [80]  # PM2.5 on 2026 tables


def test_daily_without_o3_1h_column() -> None:
    cols = tuple(c for c in DAILY_COLS if c != "o3_1h_max_ugm3")
    out = daily_aqi(_table(cols, [{"o3_8h_max_ugm3": 215, "pm25_ugm3": 20}], D2012))
    assert out.to_pylist() == [
        {"aqi": 150, "primary_pollutants": "O3", "aqi_category": "轻度污染", "aqi_standard": HJ633_2012}
    ]


# --------------------------------------------------------------------------------------------------
# category


def test_category_boundaries() -> None:
    values = [0, 50, 51, 100, 101, 150, 151, 200, 201, 300, 301, 500]
    expected = [
        "优",
        "优",
        "良",
        "良",
        "轻度污染",
        "轻度污染",
        "中度污染",
        "中度污染",
        "重度污染",
        "重度污染",
    ]
    expected += ["严重污染", "严重污染"]
    assert category(np.array(values)).to_pylist() == expected
    assert category(pa.array([None, 75], type=pa.int16())).to_pylist() == [None, "良"]
    assert category(np.array([np.nan, -1.0])).to_pylist() == [None, None]


# --------------------------------------------------------------------------------------------------
# properties

_conc = st.one_of(st.none(), st.floats(min_value=0, max_value=5000, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(
    base=st.fixed_dictionaries(dict.fromkeys(HOURLY_COLS, _conc)),
    column=st.sampled_from(HOURLY_COLS),
    delta=st.floats(min_value=0, max_value=3000, allow_nan=False),
    is_2026=st.booleans(),
)
def test_hourly_monotone_and_bounded(
    base: dict[str, float | None], column: str, delta: float, is_2026: bool
) -> None:
    day = D2026 if is_2026 else D2012
    if not is_2026 and base["so2_ugm3"] is not None:
        # HJ 633-2012 note 2 swaps tables at SO2 1h 800 (the 24h IAQI may be lower): not monotone
        # by design across 800 (see test_hourly_so2_above_800_hj633_2012), so stay below it.
        base["so2_ugm3"] = min(base["so2_ugm3"], 800.0)
        if column == "so2_ugm3":
            delta = min(delta, 800.0 - base["so2_ugm3"])
    bigger = dict(base)
    value = bigger[column]
    if value is not None:
        bigger[column] = value + delta
    lo, hi = hourly([base, bigger], day)
    for row in (lo, hi):
        assert row["aqi"] is None or 0 <= row["aqi"] <= 500
    if lo["aqi"] is not None:
        assert hi["aqi"] >= lo["aqi"]


@settings(max_examples=200, deadline=None)
@given(
    base=st.fixed_dictionaries(dict.fromkeys(DAILY_COLS, _conc)),
    column=st.sampled_from(DAILY_COLS),
    delta=st.floats(min_value=0, max_value=3000, allow_nan=False),
    is_2026=st.booleans(),
)
def test_daily_monotone_and_bounded(
    base: dict[str, float | None], column: str, delta: float, is_2026: bool
) -> None:
    day = D2026 if is_2026 else D2012
    if not is_2026 and base["o3_8h_max_ugm3"] is not None:
        # HJ 633-2012 note 3 swaps to the O3 1h IAQI above 800: not monotone across 800 by design.
        base["o3_8h_max_ugm3"] = min(base["o3_8h_max_ugm3"], 800.0)
        if column == "o3_8h_max_ugm3":
            delta = min(delta, 800.0 - base["o3_8h_max_ugm3"])
    bigger = dict(base)
    value = bigger[column]
    if value is not None:
        bigger[column] = value + delta
    lo, hi = daily([base, bigger], day)
    for row in (lo, hi):
        assert row["aqi"] is None or 0 <= row["aqi"] <= 500
    if lo["aqi"] is not None:
        assert hi["aqi"] >= lo["aqi"]


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.one_of(st.floats(min_value=-10, max_value=1e6), st.just(math.nan)), max_size=20))
def test_iaqi_total_order_and_range(values: list[float]) -> None:
    bp = BREAKPOINTS[HJ633_2012][Indicator.NO2_1H]
    conc = np.array(values, dtype=np.float64)
    out = iaqi(conc, bp, above_top=500.0)
    assert out.shape == conc.shape
    np.testing.assert_array_equal(np.isnan(out), np.isnan(conc) | (conc < 0))
    order = np.argsort(conc)  # NaN last
    scored = out[order][~np.isnan(out[order])]
    assert np.all(np.diff(scored) >= 0)
    assert np.all((scored >= 0) & (scored <= 500))


# --------------------------------------------------------------------------------------------------
# cross-check against the independent PyPI package aqi_hub (HJ 633-2026 rules)
#
# Deliberate differences, all checked below:
# 1. aqi_hub rounds each IAQI with a plain math.ceil, so float noise adds one (CO 1h 65.4 mg/m³ →
#    218.00000000000003 → 219; CO 24h 2.2 → 56); we round to 6 decimals first (→ 218, 55).
# 2. aqi_hub's SO2 24-hour table repeats the 1-hour breakpoints below IAQI 200 (150/500/650/800
#    instead of HJ 633's 50/150/475/800): its daily SO2 IAQI is wrong there; we follow DOMAIN.
# 3. aqi_hub has no HJ 633-2012 mode; compared on 2026 dates only.
# 4. Missing values: aqi_hub warns and skips None; we skip NULL/NaN silently (same result).


def _hub_hourly(row: dict[str, float]) -> tuple[Any, ...]:
    from aqi_hub.aqi_cn import AQI

    hub = AQI(
        pm25=row["pm25_ugm3"],
        pm10=row["pm10_ugm3"],
        so2=row["so2_ugm3"],
        no2=row["no2_ugm3"],
        co=row["co_mgm3"],
        o3=row["o3_ugm3"],
        data_type="hourly",
    )
    return hub.AQI, ",".join(hub.primary_pollutant) or None


def _grid_rows(
    rng: np.random.Generator, n: int, tops: dict[str, float], co_col: str
) -> list[dict[str, float]]:
    rows = []
    for col, top in tops.items():  # one pollutant swept across its whole table (+ above top), others low
        step = 0.1 if col == co_col else 1.0
        for v in np.round(np.arange(0, top * 1.1, step * max(1, round(top / 400))), 1):
            rows.append({c: (float(v) if c == col else 1.0) for c in tops})
    for _ in range(n):  # random combinations, resolution of the release (integers, CO 0.1)
        rows.append(
            {
                c: float(np.round(rng.uniform(0, top * 1.05), 1 if c == co_col else 0))
                for c, top in tops.items()
            }
        )
    return rows


def test_cross_check_aqi_hub_hourly() -> None:
    rng = np.random.default_rng(20260301)
    tops = {
        "pm25_ugm3": 500.0,
        "pm10_ugm3": 600.0,
        "so2_ugm3": 1000.0,
        "no2_ugm3": 3840.0,
        "co_mgm3": 150.0,
        "o3_ugm3": 1200.0,
    }
    rows = _grid_rows(rng, 3000, tops, "co_mgm3")
    ours = hourly(rows, D2026)
    mismatches = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for row, got in zip(rows, ours, strict=True):
            hub_aqi, hub_primary = _hub_hourly(row)
            if (got["aqi"], got["primary_pollutants"]) != (hub_aqi, hub_primary):
                mismatches.append((row, got, hub_aqi, hub_primary))
    assert len(rows) > 5000
    # every mismatch is difference 1: aqi_hub's float noise, one above ours, on a CO value
    for row, got, hub_aqi, _ in mismatches:
        assert hub_aqi == got["aqi"] + 1, (row, got, hub_aqi)
        co = np.array([row["co_mgm3"]])
        raw = iaqi(co, BREAKPOINTS[HJ633_2026][Indicator.CO_1H])[0]
        assert raw == pytest.approx(got["aqi"], abs=1e-9)
    assert 0 < len(mismatches) < len(rows) * 0.01  # the grid does hit the float-noise cases


def test_cross_check_aqi_hub_daily() -> None:
    from aqi_hub.aqi_cn import AQI

    rng = np.random.default_rng(633)
    tops = {
        "pm25_ugm3": 500.0,
        "pm10_ugm3": 600.0,
        "no2_ugm3": 940.0,
        "co_mgm3": 60.0,
        "o3_8h_max_ugm3": 1000.0,
    }
    rows = _grid_rows(rng, 3000, tops, "co_mgm3")
    ours = daily(rows, D2026)
    noise = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for row, got in zip(rows, ours, strict=True):
            hub = AQI(
                pm25=row["pm25_ugm3"],
                pm10=row["pm10_ugm3"],
                so2=None,  # difference 2: its SO2 24h table is wrong
                no2=row["no2_ugm3"],
                co=row["co_mgm3"],
                o3=row["o3_8h_max_ugm3"],
                data_type="daily",
            )
            if got["aqi"] != hub.AQI:
                # difference 1 only: CO 24h float noise (e.g. 2.2 mg/m³)
                assert got["aqi"] + 1 == hub.AQI, (row, got, hub.AQI)
                noise += 1
            else:
                assert got["primary_pollutants"] == (",".join(hub.primary_pollutant) or None)
    assert 0 < noise < len(rows) * 0.01


def test_aqi_hub_so2_24h_table_differs_from_hj633() -> None:
    from aqi_hub.aqi_cn import cal_iaqi_cn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cal_iaqi_cn("SO2_24H", 150) == 50  # aqi_hub
    assert one_daily(D2026, so2_ugm3=150)["aqi"] == 100  # HJ 633 table 1: SO2 24h 150 → IAQI 100
    # above 800 both tables agree again
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cal_iaqi_cn("SO2_24H", 1600) == one_daily(D2026, so2_ugm3=1600)["aqi"] == 300


def test_standards_for_dates_vectorised() -> None:
    days = pa.array([date(2026, 2, 28), date(2026, 3, 1), date(2017, 1, 1)], type=pa.date32())
    assert standards_for_dates(days).to_pylist() == [HJ633_2012, HJ633_2026, HJ633_2012]
    assert standards_for_dates(days).to_pylist() == [standard_for_date(d) for d in days.to_pylist()]
