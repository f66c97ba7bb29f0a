"""The quality gate on a real air day file: as one partition, and split into 24 hourly units.

The real file is the national release for 2023-01-20 (``../shared/data/cnemc-air``), pivoted here
to ``core_air__station_hourly`` with a minimal parser; ``aqi`` is set to ``aqi_published`` (the AQI
transform is tested elsewhere), so this exercises the gate on real values, real station codes and
a real day's size (~40 k station-hours × 22 columns). Speed is measured by bench/gate_parts.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from schemas.air import AQI_CATEGORIES, POLLUTANTS, station_hourly
from warehouse.quality import GatePart, GateRun, GateVerdict, run_gate, validate

pytestmark = pytest.mark.integration

DAY_FILE = Path("cnemc-air") / "china_sites_20230120.csv.gz"  # in the shared field data
DAY = dt.date(2023, 1, 20)
BEIJING = dt.timezone(dt.timedelta(hours=8))
END_OF_DAY = dt.datetime(2023, 1, 21, tzinfo=BEIJING)  # end of the processed interval


def _category(aqi: pd.Series) -> pd.Series:
    bins = [-1, 50, 100, 150, 200, 300, 10_000]
    return pd.cut(aqi, bins=bins, labels=list(AQI_CATEGORIES)).astype(object).where(aqi.notna(), None)


def real_day(shared_data: Path) -> pa.Table:
    wide = pd.read_csv(shared_data / DAY_FILE, dtype={"date": str})
    long = wide.melt(id_vars=["date", "hour", "type"], var_name="station_code", value_name="v").dropna(
        subset=["v"]
    )
    hourly = long.pivot(index=["date", "hour", "station_code"], columns="type", values="v").reset_index()
    local = pd.to_datetime(hourly["date"], format="%Y%m%d") + pd.to_timedelta(hourly["hour"], unit="h")
    aqi = hourly["AQI"].round().astype("Int16")
    cols: dict[str, pa.Array] = {
        "date": pa.array([DAY] * len(hourly), pa.date32()),
        "station_code": pa.array(hourly["station_code"], pa.string()),
        "observed_at": pa.array(local.dt.tz_localize(BEIJING).dt.tz_convert("UTC")).cast(
            pa.timestamp("us", tz="UTC")
        ),
        **{p.column: pa.array(hourly[p.release_type], pa.float64()) for p in POLLUTANTS},
        "aqi_published": pa.array(aqi, pa.int16()),
        "aqi": pa.array(aqi, pa.int16()),
        "primary_pollutants": pa.nulls(len(hourly), pa.string()),
        "aqi_category": pa.array(_category(hourly["AQI"]), pa.string()),
        "aqi_standard": pa.array(["HJ633-2012"] * len(hourly), pa.string()),
    }
    return pa.table(cols, schema=station_hourly.arrow_schema())


@pytest.mark.realdata
def test_real_day_file_passes_the_gate(shared_data: Path) -> None:
    data = real_day(shared_data)
    assert data.num_rows > 40_000
    result = run_gate(station_hourly, data, partition_date=DAY, expected_latest=END_OF_DAY)
    assert result.passed, result.summary()
    assert result.warnings == []
    assert result.results.num_rows == 49


@pytest.mark.realdata
def test_real_day_with_a_unit_mix_up_is_blocked(shared_data: Path) -> None:
    data = real_day(shared_data)
    data = _mix_up_co(data, 500)
    result = run_gate(station_hourly, data, partition_date=DAY, expected_latest=END_OF_DAY)
    assert not result.passed
    assert any("co_mgm3 outside [0, 200]" in m for m in result.blocking_failures), result.summary()


def _mix_up_co(data: pa.Table, n: int) -> pa.Table:
    """µg/m³ written into the mg/m³ column on the first ``n`` rows."""
    co = data.column("co_mgm3").to_pylist()
    co[:n] = [None if v is None else v * 1000 for v in co[:n]]
    return data.set_column(data.column_names.index("co_mgm3"), "co_mgm3", pa.array(co, pa.float64()))


def _comparable(verdict: GateVerdict) -> list[dict[str, object]]:
    run_specific = ("date", "validated_at", "gate_run_id", "published")
    return [{k: v for k, v in r.items() if k not in run_specific} for r in verdict.results.to_pylist()]


@pytest.mark.realdata
def test_real_day_in_hourly_units_gets_each_hour_its_own_verdict(shared_data: Path) -> None:
    day = real_day(shared_data)
    hours = pc.hour(pc.cast(day["observed_at"], pa.timestamp("us", tz="Asia/Shanghai")))
    bad_hours = {3, 17}
    parts = [
        GatePart(
            f"hour-{h:02d}", DAY, _mix_up_co(day.filter(pc.equal(hours, h)), 40 if h in bad_hours else 0)
        )
        for h in range(24)
    ]
    run = GateRun("realdata", "test.gate", "air.hourly")
    together = validate(station_hourly, parts, run=run, expected_latest=END_OF_DAY)
    assert [v.passed for v in together] == [h not in bad_hours for h in range(24)]
    assert (
        together[3]
        .blocking_failures[0]
        .startswith("core_air__station_hourly 2023-01-20 [hour-03]: co_mgm3 outside [0, 200] on ")
    )
    # freshness is batch-level: reported on the parts of the newest (here: the only) partition
    fresh = [
        r
        for v in together
        for r in v.results.to_pylist()
        if r["expectation"] == "expect_column_max_to_be_between"
    ]
    assert len(fresh) == 24 and all(r["success"] for r in fresh)
    for h in (0, 2, 3, 4, 17, 23):  # the bad hours, their neighbours, the ends (each run costs ~1 s)
        part, got = parts[h], together[h]
        [alone] = validate(station_hourly, [part], run=run)  # no freshness: an hour alone is not fresh
        assert (got.passed, got.blocking_failures, got.warnings) == (
            alone.passed,
            alone.blocking_failures,
            alone.warnings,
        )
        assert [
            r for r in _comparable(got) if r["expectation"] != "expect_column_max_to_be_between"
        ] == _comparable(alone)
