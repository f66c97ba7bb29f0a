"""A day's risk marts depend only on the hours of its own window [day − lookback, day + lookahead]:
refreshing days one by one (the daily DAG) and many at once (a backfill) give the same rows, and a
run crossing midnight counts on both days (transforms.risk.refresh_days)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
from risk_data import MN_AIR, MN_WATER, D, air_hours, base_inputs, bj, hourly, refresh, series

from transforms.risk import RiskMarts

DAYS = [D - dt.timedelta(days=1) + dt.timedelta(days=i) for i in range(4)]  # D − 1 … D + 2
START = bj(DAYS[0])
HOURS = 24 * len(DAYS)
LIVE = [20.0 + (i % 5) for i in range(HOURS)]  # changes every hour
FLAT = 23.456


def _hour(day: int, hour: int) -> int:
    """Index of ``hour`` o'clock on DAYS[day] in the series from START."""
    return 24 * day + hour


def _so2() -> list[float | None]:
    values: list[float | None] = list(LIVE)
    for i in range(_hour(1, 22), _hour(2, 2)):  # flat D 22:00 – D+1 02:00: 4 hours across midnight
        values[i] = FLAT
    for i in range(_hour(2, 21), _hour(3, 3)):  # over the 35 mg/m³ limit D+1 21:00 – D+2 03:00
        values[i] = 80.0
    return values


def _inputs() -> dict[str, pa.Table]:
    so2 = _so2()
    rows = air_hours(so2, start=START)
    for r in rows:  # flat means flat within the hour too
        if r["pollutant_code"] == "a21026" and r["avg_value"] == FLAT:
            r["min_value"] = r["max_value"] = r["avg_value"]
    # the water outlet: silent D 20:00 – D+1 05:00, a pollutant first sent on D+1, zero COD across
    # the midnight D+1 → D+2 while the flow runs
    cod = [None if _hour(1, 20) <= i < _hour(2, 5) else 30.0 + (i % 3) for i in range(HOURS)]
    for i in range(_hour(2, 23), _hour(3, 2)):
        cod[i] = 0.0
    flow = [None if v is None else 5.0 for v in cod]
    rows += series(MN_WATER, "w01018", START, cod) + series(MN_WATER, "w00000", START, flow)
    rows += series(MN_WATER, "w21003", bj(DAYS[2], 6), [1.0 + (i % 4) for i in range(42)])
    return base_inputs(mart_source__hourly=hourly(rows))


def _rows(marts: RiskMarts) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name in ("identity", "exceedance_hourly", "exceedance_daily", "indicators"):
        table: pa.Table = getattr(marts, name)
        out[name] = sorted(table.to_pylist(), key=repr)
    return out


def test_days_refreshed_one_by_one_equal_days_refreshed_at_once() -> None:
    inputs = _inputs()
    days = DAYS[1:3]  # D and D + 1: each has a look-back and a look-ahead day of data
    at_once = _rows(refresh(inputs, days[0], days[-1]))
    one_by_one: dict[str, list[dict[str, Any]]] = {name: [] for name in at_once}
    for day in days:
        for name, rows in _rows(refresh(inputs, day)).items():
            one_by_one[name] = sorted(one_by_one[name] + rows, key=repr)
    for name in at_once:
        assert one_by_one[name] == at_once[name], name


def test_a_run_across_midnight_counts_on_both_days() -> None:
    inputs = _inputs()
    flags = {
        (r["date"], r["mn"], r["indicator"]): (r["hours_flagged"], r["longest_run_h"])
        for day in DAYS[1:3]
        for r in refresh(inputs, day).indicators.to_pylist()
        if r["indicator"] in ("flatline", "zero_run", "silence") and r["triggered"]
    }
    d, d1 = DAYS[1], DAYS[2]
    assert flags[(d, MN_AIR, "flatline")] == (2, 4)  # D 22:00–24:00 of the 4-hour run
    assert flags[(d1, MN_AIR, "flatline")] == (2, 4)  # and D+1 00:00–02:00
    assert flags[(d, MN_WATER, "silence")] == (4, 9)  # D 20:00–24:00 of the 9 silent hours
    assert flags[(d1, MN_WATER, "silence")] == (5, 9)
    assert flags[(d1, MN_WATER, "zero_run")][0] == 1  # D+1 23:00 of the run into D+2


def test_a_pollutant_first_sent_later_is_not_missing_before() -> None:
    inputs = _inputs()
    ammonia = [
        (r["date"], r["hours_present"])
        for day in DAYS[1:3]
        for r in refresh(inputs, day).exceedance_daily.to_pylist()
        if r["pollutant_code"] == "w21003"
    ]
    assert ammonia == [(DAYS[2], 18)]


def test_a_day_without_data_in_its_window_is_the_same_refreshed_alone_or_with_others() -> None:
    """Data on D − 1 and D only: D + 2's window holds none, alone or refreshed with D (whose data is
    loaded then, but outside D + 2's window): no logger sent in it, so it is no logger's silence
    (nothing reached the platform) either way."""
    inputs = base_inputs(mart_source__hourly=hourly(air_hours(LIVE[:48], start=START)))
    last = DAYS[3]
    alone = _rows(refresh(inputs, last))["indicators"]
    together = [r for r in _rows(refresh(inputs, DAYS[1], last))["indicators"] if r["date"] == last]
    assert together == alone
    assert [r for r in alone if r["indicator"] == "silence"] == []
