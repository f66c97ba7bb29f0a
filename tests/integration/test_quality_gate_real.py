"""The quality gate on a real air day file and on a month-sized partition (speed).

The real file is the national release for 2023-01-20 (``../shared/data/cnemc-air``), pivoted here
to ``core_air__station_hourly`` with a minimal parser; ``aqi`` is set to ``aqi_published`` (the AQI
transform is tested elsewhere), so this exercises the gate on real values, real station codes and
a real day's size (~48 k station-hours × 22 columns).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from schemas.air import AQI_CATEGORIES, POLLUTANTS, station_hourly
from warehouse.quality import run_gate

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "cnemc-air"
DAY_FILE = DATA / "china_sites_20230120.csv.gz"
DAY = dt.date(2023, 1, 20)
BEIJING = dt.timezone(dt.timedelta(hours=8))
END_OF_DAY = dt.datetime(2023, 1, 21, tzinfo=BEIJING)  # end of the processed interval


def _category(aqi: pd.Series) -> pd.Series:
    bins = [-1, 50, 100, 150, 200, 300, 10_000]
    return pd.cut(aqi, bins=bins, labels=list(AQI_CATEGORIES)).astype(object).where(aqi.notna(), None)


def real_day() -> pa.Table:
    wide = pd.read_csv(DAY_FILE, dtype={"date": str})
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
@pytest.mark.skipif(not DAY_FILE.exists(), reason=f"{DAY_FILE} not available")
def test_real_day_file_passes_the_gate() -> None:
    data = real_day()
    assert data.num_rows > 40_000
    result = run_gate(station_hourly, data, partition_date=DAY, expected_latest=END_OF_DAY)
    assert result.passed, result.summary()
    assert result.warnings == []
    assert result.results.num_rows == 49
    assert result.timings["validate"] < 10, result.timings


@pytest.mark.realdata
@pytest.mark.skipif(not DAY_FILE.exists(), reason=f"{DAY_FILE} not available")
def test_real_day_with_a_unit_mix_up_is_blocked() -> None:
    data = real_day()
    co = data.column("co_mgm3").to_numpy(zero_copy_only=False).copy()
    co[:500] *= 1000  # µg/m³ written into the mg/m³ column
    data = data.set_column(data.column_names.index("co_mgm3"), "co_mgm3", pa.array(co))
    result = run_gate(station_hourly, data, partition_date=DAY, expected_latest=END_OF_DAY)
    assert not result.passed
    assert any("co_mgm3 outside [0, 200]" in m for m in result.blocking_failures), result.summary()


def _synthetic(n_rows: int, seed: int = 0) -> pa.Table:
    """n_rows station-hours of ~2,100 stations, clean, all in the 2023-01-20 partition."""
    rng = np.random.default_rng(seed)
    n_stations = 2_100
    hours = -(-n_rows // n_stations)
    codes = np.array([f"{1001 + i}A" for i in range(n_stations)], dtype=object)
    first = np.datetime64("2023-01-19T16:00:00", "us")
    observed = first + np.repeat(np.arange(hours), n_stations)[:n_rows].astype("timedelta64[h]")
    cols: dict[str, pa.Array] = {
        "date": pa.array(np.full(n_rows, np.datetime64("2023-01-20", "D")), pa.date32()),
        "station_code": pa.array(np.tile(codes, hours)[:n_rows], pa.string()),
        "observed_at": pa.array(observed, pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")),
    }
    for c in station_hourly.columns:
        if c.type == "float64":
            values = rng.gamma(2.0, 0.5 if c.unit == "mg/m³" else 20.0, n_rows)
            cols[c.name] = pa.array(values, mask=rng.random(n_rows) < 0.02)
    aqi = rng.integers(0, 400, n_rows).astype(np.int16)
    missing = rng.random(n_rows) < 0.01
    cols["aqi_published"] = pa.array(aqi, pa.int16(), mask=missing)
    cols["aqi"] = pa.array(aqi, pa.int16(), mask=missing)
    cols["primary_pollutants"] = pa.array(rng.choice(np.array(["PM2.5", "PM10", None], dtype=object), n_rows))
    cols["aqi_category"] = pa.array(rng.choice(np.array(AQI_CATEGORIES, dtype=object), n_rows))
    cols["aqi_standard"] = pa.array(np.full(n_rows, "HJ633-2012", dtype=object), pa.string())
    return pa.table(cols, schema=station_hourly.arrow_schema())


@pytest.mark.slow
def test_month_sized_partition_validates_in_seconds() -> None:
    data = _synthetic(1_500_000)
    latest = pc.max(data.column("observed_at")).as_py() + dt.timedelta(hours=1)
    run_gate(station_hourly, data.slice(0, 10), partition_date=DAY, expected_latest=latest)  # compile
    result = run_gate(station_hourly, data, partition_date=DAY, expected_latest=latest)
    assert result.passed, result.summary()
    # measured ≈ 1 s (0.07 s conversion); a single wide masked frame took ≈ 24 s
    assert result.timings["total"] < 10, result.timings
