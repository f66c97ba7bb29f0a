"""A build's reads of published partitions: consecutive units sharing an input read it once, and a
partition published again since is read anew."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from ecocloud.runner.context import RunInfo, StepContext
from ecocloud.settings import Settings
from schemas import air
from warehouse import lake as lk
from warehouse.ledger import Ledger, Part, UnitState

HOURLY = air.station_hourly
DAY = dt.date(2026, 3, 1)


def _hours(pm25: float) -> pa.Table:
    columns = {c.name: pa.nulls(2, c.arrow_type) for c in HOURLY.columns}
    columns["date"] = pa.array([DAY] * 2, pa.date32())
    columns["station_code"] = pa.array(["1001A", "1002A"])
    columns["observed_at"] = pa.array([dt.datetime(2026, 3, 1, 1, tzinfo=dt.UTC)] * 2)
    columns["pm25_ugm3"] = pa.array([pm25, pm25 + 1])
    return HOURLY.conform(pa.table(columns))


def _publish(settings: Settings, ledger: Ledger, data: pa.Table, fingerprint: str) -> None:
    put = lk.write_part(settings.lake_store, HOURLY, data, DAY)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    key = DAY.isoformat()
    part = Part(
        HOURLY.name, key, put.part, fingerprint, "air.hourly", key, data.num_rows, put.size_bytes, "r", now
    )
    state = UnitState("air.hourly", key, fingerprint, "published", {}, "r", "test", now, None)
    ledger.record_unit(state, written=[part])


def test_a_partition_read_again_is_not_read_from_the_lake_again_until_it_is_published_again(
    settings: Settings,
) -> None:
    ledger = Ledger(settings.state_url)
    try:
        _publish(settings, ledger, _hours(10.0), "v1")
        ctx = StepContext(settings, ledger, RunInfo.cli("test"), "air.daily")
        first = ctx.read(HOURLY.name, DAY, ["station_code", "pm25_ugm3"])
        assert first.column("pm25_ugm3").to_pylist() == [10.0, 11.0]
        assert ctx.read(HOURLY.name, DAY, ["station_code", "pm25_ugm3"]) is first  # kept
        assert ctx.read(HOURLY.name, DAY, ["pm25_ugm3"]).column_names == ["pm25_ugm3"]  # other columns

        _publish(settings, ledger, _hours(50.0), "v2")  # the same part file name, replaced
        again = ctx.read(HOURLY.name, DAY, ["station_code", "pm25_ugm3"])
        assert again.column("pm25_ugm3").to_pylist() == [50.0, 51.0]
    finally:
        ledger.close()
