"""export-ddl over a real lake: what the lake writer writes, the exported DuckDB views read back whole."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from schemas.registry import Table, get_table
from warehouse import lake
from warehouse.ddl import Dialect, export_ddl

DAYS = (dt.date(2026, 11, 19), dt.date(2026, 11, 20))
SAMPLE: dict[str, Any] = {
    "string": "样本 it's",
    "bool": True,
    "int8": 3,
    "int16": 150,
    "int32": 70_000,
    "int64": 5_000_000_000,
    "float64": 12.5,
    "date": DAYS[0],
    "timestamp": dt.datetime(2026, 11, 19, 16, 0, tzinfo=dt.UTC),
}


def _rows(table: Table, day: dt.date | None, n: int) -> pa.Table:
    """``n`` rows with a value of its type in every column (the partition column holds ``day``)."""
    columns = {}
    for col in table.columns:
        value = day if col.name == table.partition_by else SAMPLE[col.type]
        columns[col.name] = pa.array([value] * n, col.arrow_type)
    return pa.table(columns)


def test_duckdb_views_read_back_what_the_lake_writer_wrote(tmp_path: Path) -> None:
    hourly = get_table("core_air__station_hourly")  # partitioned by date, with UTC timestamps
    stations = get_table("core_air__stations")  # unpartitioned
    written = {
        hourly.name: [_rows(hourly, DAYS[0], 2), _rows(hourly, DAYS[1], 3)],
        stations.name: [_rows(stations, None, 4)],
    }
    for day, data in zip(DAYS, written[hourly.name], strict=True):
        lake.write_partition(tmp_path, hourly, data, day)
    lake.write_partition(tmp_path, stations, written[stations.name][0], None)

    con = duckdb.connect()
    con.execute(export_ddl(Dialect.DUCKDB, str(tmp_path), tables=[hourly, stations]))
    for table in (hourly, stations):
        order = f'ORDER BY "{table.partition_by}"' if table.partition_by else ""
        got = con.execute(f'SELECT * FROM "ecocloud"."{table.name}" {order}').fetchall()
        expected = pa.concat_tables(written[table.name])
        assert got == [tuple(r.values()) for r in expected.to_pylist()], table.name
    counts = con.execute(
        'SELECT "date", count(*) FROM "ecocloud"."core_air__station_hourly" GROUP BY ALL ORDER BY 1'
    ).fetchall()
    assert counts == [(DAYS[0], 2), (DAYS[1], 3)]
