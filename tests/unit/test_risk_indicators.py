"""Each data-fraud and data-quality rule on tiny inline data, with its thresholds from rules.toml."""

from __future__ import annotations

import datetime as dt

import pytest
from risk_data import MN_AIR, MN_WATER, D, air_hours, base_inputs, bj, hourly, refresh, rows_of, series

START = bj(D - dt.timedelta(days=1))
NORMAL = [20.0 + (i % 5) for i in range(48)]  # a live signal: changes every hour


def water_hours(cod: list[float | None], start: dt.datetime = START) -> list[dict]:
    """The water outlet's COD with its flow beside it, hour by hour from ``start`` (None: nothing)."""
    return series(MN_WATER, "w01018", start, cod) + series(
        MN_WATER, "w00000", start, [None if v is None else 5.0 for v in cod]
    )


def flat_rows(values: list[float], **kw: object) -> list[dict]:
    """SO2 rows whose minimum equals the maximum (a tampered, constant instrument)."""
    rows = air_hours(values, **kw)
    for r in rows:
        if r["pollutant_code"] == "a21026":
            r["min_value"] = r["max_value"] = r["avg_value"]
    return rows


def indicator(m: object, name: str, **match: object) -> list[dict]:
    return rows_of(m.indicators, indicator=name, **match)  # type: ignore[attr-defined]


def test_flatline_while_running() -> None:
    values = NORMAL[:30] + [23.456] * 6 + NORMAL[36:]
    m = refresh(base_inputs(mart_source__hourly=hourly(flat_rows(values))), D)
    (row,) = indicator(m, "flatline", pollutant_code="a21026")
    assert (row["hours_flagged"], row["longest_run_h"], row["triggered"], row["category"]) == (
        6,
        6,
        True,
        "fraud",
    )
    assert row["run_start_at"] == bj(D, 6) and row["run_end_at"] == bj(D, 12)
    assert "23.456" in row["evidence"] and "连续 6 小时恒定" in row["evidence"]
    assert (
        row["evidence_en"]
        == "SO2 constant from 11-19 06:00 for 6 hours in a row at 23.456 mg/m³ (process running)"
    )
    # shorter than min_run_h (4): nothing
    m = refresh(
        base_inputs(mart_source__hourly=hourly(flat_rows(NORMAL[:30] + [23.456] * 3 + NORMAL[33:]))), D
    )
    assert indicator(m, "flatline") == []
    # the process stopped (flow 0): a constant reading is expected
    m = refresh(
        base_inputs(
            mart_source__hourly=hourly(flat_rows(NORMAL[:30] + [23.456] * 6 + NORMAL[36:], flow=0.0))
        ),
        D,
    )
    assert indicator(m, "flatline") == []
    # the same hourly mean but a live instrument (min < max within the hour): not a flat line
    live = air_hours(NORMAL[:30] + [23.456] * 6 + NORMAL[36:])
    assert indicator(refresh(base_inputs(mart_source__hourly=hourly(live)), D), "flatline") == []
    # flow not measured: assumed running (running_when_flow_unknown)
    m = refresh(
        base_inputs(
            mart_source__hourly=hourly(flat_rows(NORMAL[:30] + [23.456] * 6 + NORMAL[36:], flow=None))
        ),
        D,
    )
    assert indicator(m, "flatline")[0]["hours_flagged"] == 6


def test_flatline_across_midnight_counts_the_whole_run() -> None:
    values = NORMAL[:21] + [23.456] * 6 + NORMAL[27:]  # D−1 21:00 … D 03:00
    m = refresh(base_inputs(mart_source__hourly=hourly(flat_rows(values))), D)
    (row,) = indicator(m, "flatline")
    assert (row["hours_flagged"], row["longest_run_h"], row["run_start_at"]) == (
        3,
        6,
        bj(D - dt.timedelta(days=1), 21),
    )


def test_zero_run_while_flowing() -> None:
    values = NORMAL[:30] + [0.0] * 3 + NORMAL[33:]
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours(values))), D)
    (row,) = indicator(m, "zero_run")
    assert (row["hours_flagged"], row["longest_run_h"], row["hours_checked"]) == (3, 3, 24)
    assert row["evidence_en"] == "SO2 zero from 11-19 06:00 for 3 hours in a row (flow above 0)"
    assert (
        indicator(
            refresh(base_inputs(mart_source__hourly=hourly(air_hours(values, flow=0.0))), D), "zero_run"
        )
        == []
    )
    assert (
        indicator(
            refresh(base_inputs(mart_source__hourly=hourly(air_hours(values, flow=None))), D), "zero_run"
        )
        == []
    )
    one = [*NORMAL[:30], 0.0, *NORMAL[31:]]  # below min_run_h (2)
    assert indicator(refresh(base_inputs(mart_source__hourly=hourly(air_hours(one))), D), "zero_run") == []
    # zeros are not flat lines
    assert (
        indicator(refresh(base_inputs(mart_source__hourly=hourly(flat_rows([0.0] * 48))), D), "flatline")
        == []
    )


def test_near_limit_clustering() -> None:
    values = NORMAL[:24] + [34.0 - (i % 3) for i in range(24)]  # 32–34 under a limit of 35 (O2 = O2_ref)
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours(values))), D)
    (row,) = indicator(m, "near_limit")
    assert (row["hours_flagged"], row["hours_checked"], row["share_pct"], row["triggered"]) == (
        24,
        24,
        100.0,
        True,
    )
    assert row["threshold_pct"] == 40.0 and "24/24" in row["evidence"]
    assert row["evidence_en"] == "SO2 24/24 valid hourly means at 90%–100% of the limit (limit 35.0 mg/m³)"


def test_abnormal_and_manual_flags() -> None:
    rows = air_hours(NORMAL)
    day_rows = [r for r in rows if r["pollutant_code"] == "a21026" and r["hour_at"] >= bj(D)]
    for i, r in enumerate(day_rows):
        r["flag"] = "M" if i < 8 else ("S" if i < 11 else "N")
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D)
    (abn,) = indicator(m, "abnormal_flags")
    (man,) = indicator(m, "manual_values")
    assert (abn["hours_flagged"], abn["hours_checked"], abn["triggered"]) == (8, 24, True)
    assert (man["hours_flagged"], man["share_pct"]) == (3, pytest.approx(12.5))
    assert "F/M/D/C/B/T" in abn["evidence"]
    assert (abn["evidence_en"], man["evidence_en"]) == (
        "SO2 8/24 hours flagged abnormal (F/M/D/C/B/T)",
        "SO2 3/24 hours entered by hand (S)",
    )


def test_missing_values_and_silence() -> None:
    so2 = NORMAL[:30] + [None] * 5 + NORMAL[35:]  # SO2 missing 5 hours while O2 and flow come
    rows = [r for r in air_hours(NORMAL) if r["pollutant_code"] != "a21026"] + series(
        MN_AIR, "a21026", START, so2
    )
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D)
    (miss,) = indicator(m, "missing_data", pollutant_code="a21026")
    assert (miss["hours_flagged"], miss["hours_checked"]) == (5, 24)
    assert miss["evidence_en"] == "SO2 missing or incomplete 5/24 hourly values (logger online)"
    assert indicator(m, "silence", mn=MN_AIR) == []
    # hours whose SO2 had too few minutes for an hourly value (no flag, mart_source__hourly) are as
    # missing: a logger sending a few samples an hour is not left unscored
    thin = [dict(r, flag=None, basis="2011") if r["pollutant_code"] == "a21026" and i % 2 else r
            for i, r in enumerate(air_hours(NORMAL))]  # fmt: skip
    m = refresh(base_inputs(mart_source__hourly=hourly(thin)), D)
    (miss,) = indicator(m, "missing_data", pollutant_code="a21026")
    assert (miss["hours_flagged"], miss["hours_checked"], miss["triggered"]) == (12, 24, True)
    # the whole logger silent 8 hours (D 02:00–10:00) while the water outlet sends: silence, not
    # missing values
    silent = [None if 26 <= i < 34 else v for i, v in enumerate(NORMAL)]
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours(silent) + water_hours(NORMAL))), D)
    (sil,) = indicator(m, "silence", mn=MN_AIR)
    assert (sil["pollutant_code"], sil["hours_flagged"], sil["longest_run_h"]) == ("*", 8, 8)
    assert (sil["run_start_at"], sil["run_end_at"]) == (bj(D, 2), bj(D, 10))
    assert indicator(m, "missing_data", mn=MN_AIR) == []
    # the registered water outlet sent nothing in the whole window: silent for lookback + the day
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours(NORMAL))), D)
    (water,) = indicator(m, "silence", mn=MN_WATER)
    assert (water["hours_flagged"], water["longest_run_h"]) == (24, 48)
    # a 5-hour gap is under min_run_h (6)
    short = [None if 26 <= i < 31 else v for i, v in enumerate(NORMAL)]
    assert (
        indicator(refresh(base_inputs(mart_source__hourly=hourly(air_hours(short))), D), "silence", mn=MN_AIR)
        == []
    )


def test_a_day_in_progress_is_silent_only_up_to_the_newest_hour_of_data() -> None:
    """At 10:00 the fleet has sent up to 09:00: the hours to midnight are not yet anyone's silence."""
    now = 24 + 10  # D − 1 00:00 + 34 hours: D 10:00
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours(NORMAL[:now]))), D)
    assert indicator(m, "silence", mn=MN_AIR) == []
    (water,) = indicator(m, "silence", mn=MN_WATER)  # silent all window long: up to 10:00, not midnight
    assert (water["hours_flagged"], water["longest_run_h"], water["run_end_at"]) == (10, now, bj(D, 10))
    # a logger silent since 02:00 while the other one sends: 8 hours, to the newest data
    other = series(MN_WATER, "w01018", START, [20.0] * now)
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours(NORMAL[:26]) + other)), D)
    (sil,) = indicator(m, "silence", mn=MN_AIR)
    assert (sil["hours_flagged"], sil["run_start_at"], sil["run_end_at"]) == (8, bj(D, 2), bj(D, 10))


def test_hours_in_which_no_logger_sent_are_no_loggers_silence() -> None:
    """The receiver down D 02:00–10:00: both outlets miss the same 8 hours, and neither is silent
    (each was blamed: "数采仪中断传输，最长连续 8 小时无数据"). Nor is the time before the platform's
    first data: the water logger starting 3 hours after it was silent 27 hours (the whole lookback)."""
    down = [None if 26 <= i < 34 else v for i, v in enumerate(NORMAL)]
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours(down) + water_hours(down))), D)
    assert indicator(m, "silence") == []
    late = water_hours([None] * 3 + NORMAL[3:24], start=bj(D))  # the air logger sends from D 00:00
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours(NORMAL[:24], start=bj(D)) + late)), D)
    assert indicator(m, "silence") == []
    # silent D 00:00–12:00 while the air logger sends, except in an outage 04:00–06:00: the outage
    # ends the run (4 h, under min_run_h, then 6 h), and the evidence says the run it counts
    air = [None if 28 <= i < 30 else v for i, v in enumerate(NORMAL)]
    water = [None if 24 <= i < 36 else v for i, v in enumerate(NORMAL)]
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours(air) + water_hours(water))), D)
    assert indicator(m, "silence", mn=MN_AIR) == []
    (sil,) = indicator(m, "silence", mn=MN_WATER)
    assert (sil["hours_flagged"], sil["longest_run_h"]) == (6, 6)
    assert (sil["run_start_at"], sil["run_end_at"]) == (bj(D, 6), bj(D, 12))
    assert sil["evidence"] == "连续 6 小时无任何数据（11-19 06:00 至 11-19 12:00）"
    assert sil["evidence_en"] == "no data at all for 6 hours in a row (11-19 06:00 to 11-19 12:00)"


def test_converted_values_inconsistent_with_measured_value_and_o2() -> None:
    # expected ZsAvg at O2 9 %: 20 × 15 / 12 = 25; the logger reports 15 for 5 hours
    zs = [25.0] * 30 + [15.0] * 5 + [25.0] * 13
    rows = air_hours([20.0] * 48, o2=9.0)
    for r, z in zip([r for r in rows if r["pollutant_code"] == "a21026"], zs, strict=True):
        r["zs_avg_value"] = z
    m = refresh(base_inputs(mart_source__hourly=hourly(rows)), D)
    (row,) = indicator(m, "zs_inconsistent")
    assert (row["hours_flagged"], row["hours_checked"], row["triggered"]) == (5, 24, True)
    assert "最大偏差 40%" in row["evidence"]
    assert row["evidence_en"] == (
        "SO2 converted value inconsistent with the measured value and O2 in 5/24 hours, deviation up to 40%"
    )
