"""What storing an HJ 212 sample once would save: a prototype layout, measured against the lake's.

    .venv/bin/python -m bench.run_hj212_ingest --sizes 168 --skip-hourly --skip-baseline --runs 1
    .venv/bin/python -m bench.hj212_samples_layout [--home DIR] [--repeat 2] [--reuse]

The lake stores a reading per row (``core_source__readings``: one packet, pollutant and statistic).
This bench pivots a home's readings into one row per packet and pollutant — Rtd, Avg, Min, Max, Cou
and their Zs values as columns — written part for part beside the home (``<home>-samples``). It
then times, alternating, the hourly marts' query on each layout (the lake's is
``transforms.source_marts.hourly_sql`` itself), checks that both give the same rows, and times
encoding the largest parts of each as the lake writes them (zstd, strings as dictionaries).

The two layouts count retransmissions differently (copies of readings against copies of samples),
so that one column is compared by its total only. A copy of a sample is resolved whole here (the
latest segment and offset), where the lake resolves each statistic.

Nothing here is used by ecocloud; the samples layout exists only in this bench.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import resource
import shutil
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.run_hj212_ingest import DEFAULT_DIR
from ecocloud.builds.sources import MART_ROWS
from ecocloud.runner.context import parquet_sql
from schemas.source import STATS
from schemas.sql import string_literal
from transforms.source_marts import (
    HOUR_US,
    HOURLY_CNS_SQL,
    HOURLY_PERIOD_US,
    HOURLY_RANK,
    hourly_sql,
    period_sql,
    units_table,
)
from warehouse.fs import PARQUET_OPTIONS

# the prototype's value columns, one per statistic of the registry: Rtd → rtd, ZsAvg → zs_avg
_COLUMNS = {s: re.sub(r"(?<!^)(?=[A-Z])", "_", s).lower() for s in STATS}
_VALUES = ("st", "s_avg", "s_min", "s_max", "s_cou", "s_zavg", "s_zmin", "s_zmax", "flag")


def pivot(readings: list[Path], out: Path) -> float:
    """Each readings part as a samples part under ``out`` (same date, one part per readings part)."""
    shutil.rmtree(out, ignore_errors=True)
    files = ", ".join(string_literal(str(p)) for p in readings)
    values = ", ".join(f"max(value) FILTER (WHERE stat = '{s}') AS {c}" for s, c in _COLUMNS.items())
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"""COPY (
        SELECT date, md5(filename)[:12] AS part, mn, any_value(st) AS st, cn, data_at, pollutant_code,
               any_value(pollutant_code_original) AS pollutant_code_original, {values},
               any_value(flag) AS flag, any_value(unit) AS unit, segment, "offset",
               any_value(receiver_status) AS receiver_status
        FROM read_parquet([{files}], hive_partitioning = true, hive_types = {{'date': DATE}}, filename = true)
        GROUP BY date, part, mn, cn, data_at, pollutant_code, segment, "offset"
        ORDER BY segment, "offset", pollutant_code
    ) TO '{out}' (FORMAT parquet, PARTITION_BY (date, part), COMPRESSION zstd)""")
    con.close()
    return time.perf_counter() - started


def samples_hourly_sql(samples: str) -> str:
    """The hourly marts' query on the samples layout: the same basis rule and period aggregates."""
    first = ", ".join(f"any_value({c}) AS {c}" for c in _VALUES)
    by_latest = ", ".join(f'max_by({c}, (segment, "offset")) AS {c}' for c in _VALUES)
    chosen = ", ".join(f"CASE WHEN p.dups > 0 THEN c.{c} ELSE p.{c} END AS {c}" for c in _VALUES)
    return f"""WITH
hourly_src AS NOT MATERIALIZED (
    SELECT mn, st, cn, data_at, pollutant_code, segment, "offset", coalesce(avg, rtd) AS s_avg,
           coalesce(min, rtd) AS s_min, coalesce(max, rtd) AS s_max, cou AS s_cou,
           coalesce(zs_avg, zs_rtd) AS s_zavg, coalesce(zs_min, zs_rtd) AS s_zmin,
           coalesce(zs_max, zs_rtd) AS s_zmax, coalesce(flag, 'N') AS flag,
           epoch_us(data_at) // {HOUR_US} AS hr, {HOURLY_RANK} AS rank
    FROM {samples} WHERE cn IN ({HOURLY_CNS_SQL})
),
best AS (SELECT mn, pollutant_code, hr, min(rank) AS rank FROM hourly_src GROUP BY ALL),
basis AS (SELECT * FROM hourly_src JOIN best USING (mn, pollutant_code, hr, rank)),
plain AS (
    SELECT mn, pollutant_code, cn, data_at, count(*) - 1 AS dups, {first}
    FROM basis GROUP BY mn, pollutant_code, cn, data_at
),
copied AS (  -- max_by only where a sample has copies: over every sample it costs a third more
    SELECT mn, pollutant_code, cn, data_at, {by_latest}
    FROM basis SEMI JOIN (SELECT mn, pollutant_code, cn, data_at FROM plain WHERE dups > 0) d
         USING (mn, pollutant_code, cn, data_at)
    GROUP BY mn, pollutant_code, cn, data_at
),
samples AS (
    SELECT p.mn, p.pollutant_code, p.cn, epoch_us(p.data_at) AS at_us, p.dups, {chosen}
    FROM plain p LEFT JOIN copied c USING (mn, pollutant_code, cn, data_at)
),
{period_sql(HOURLY_PERIOD_US, hourly=True)}"""


def timed_query(sql: str, view: str) -> tuple[pa.Table, dict[str, float]]:
    con = duckdb.connect()
    con.execute(view)
    con.register("units", units_table())
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    out = con.sql(sql).to_arrow_table()
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    con.close()
    usage = {
        "wall": wall,
        "user": after.ru_utime - before.ru_utime,
        "system": after.ru_stime - before.ru_stime,
        "faults": after.ru_minflt - before.ru_minflt,
    }
    return out, usage


def encode_seconds(files: list[Path]) -> tuple[float, int, int]:
    """Best-of-3 seconds to encode each file's rows as the lake writes a part; rows; bytes."""
    seconds, rows, size = 0.0, 0, 0
    for path in files:
        table = pq.read_table(path)
        table = table.drop_columns([c for c in ("date", "part") if c in table.column_names])
        table = pa.table(
            {
                n: pc.dictionary_encode(c) if pa.types.is_string(c.type) else c
                for n, c in zip(table.column_names, table.columns, strict=True)
            }
        )
        best = float("inf")
        for _ in range(3):
            sink = io.BytesIO()
            started = time.perf_counter()
            pq.write_table(table, sink, **PARQUET_OPTIONS, write_statistics=["segment", "data_at", "offset"])
            best = min(best, time.perf_counter() - started)
        seconds, rows, size = seconds + best, rows + table.num_rows, size + len(sink.getvalue())
    return seconds, rows, size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", type=Path, default=DEFAULT_DIR / "home", help="a home the ingest bench left")
    ap.add_argument("--repeat", type=int, default=2, help="alternating runs of each query")
    ap.add_argument("--reuse", action="store_true", help="keep the samples a previous run pivoted")
    ap.add_argument("--encode-parts", type=int, default=40, help="largest readings parts to encode")
    args = ap.parse_args(argv)
    readings = sorted((args.home / "lake").glob("core/core_source__readings/*/*.parquet"))
    if not readings:
        raise SystemExit(f"no readings parts under {args.home}: run bench.run_hj212_ingest first")
    out = args.home.with_name(args.home.name + "-samples")
    if not (args.reuse and out.is_dir()):
        print(f"pivoted {len(readings):,} readings parts in {pivot(readings, out):.1f} s")
    samples = sorted(out.glob("*/*/*.parquet"))
    views = {
        "readings": f"CREATE VIEW readings AS SELECT * FROM {parquet_sql(readings)} WHERE {MART_ROWS}",
        "samples": f"CREATE VIEW samples_layout AS SELECT * FROM {parquet_sql(samples)} WHERE {MART_ROWS}",
    }
    queries = {"readings": hourly_sql("readings"), "samples": samples_hourly_sql("samples_layout")}
    results: dict[str, pa.Table] = {}
    for _ in range(args.repeat):
        for layout in ("readings", "samples"):
            results[layout], u = timed_query(queries[layout], views[layout])
            print(
                f"hourly query on {layout}: {results[layout].num_rows:,} rows, {u['wall']:.2f} s wall, "
                f"user {u['user']:.2f} s, system {u['system']:.2f} s, {u['faults']:,.0f} minor faults"
            )
    a, b = (results[k] for k in ("readings", "samples"))
    same = a.drop_columns(["retransmissions"]).equals(b.drop_columns(["retransmissions"]))
    print(
        f"same rows (retransmissions aside): {same}; retransmissions counted: readings "
        f"{pc.sum(a['retransmissions']).as_py():,}, samples {pc.sum(b['retransmissions']).as_py():,}"
    )
    con = duckdb.connect()
    counts = [
        con.execute(f"SELECT count(*) FROM {parquet_sql(f)}").fetchall()[0][0] for f in (readings, samples)
    ]
    print(f"rows: readings {counts[0]:,}, samples {counts[1]:,}")
    largest = sorted(readings, key=lambda p: p.stat().st_size)[-args.encode_parts :]
    twins = [next(out.glob(f"date={p.parent.name[5:]}/part={_part(p)}/*.parquet")) for p in largest]
    for layout, files in (("readings", largest), ("samples", twins)):
        seconds, rows, size = encode_seconds(files)
        print(
            f"encoding the {len(files)} largest parts as {layout}: {seconds:.2f} s, {rows:,} rows, {size:,} bytes"
        )
    return 0 if same else 1


def _part(readings_part: Path) -> str:
    """The samples part pivoted from a readings part (DuckDB's ``md5(filename)[:12]``)."""
    return hashlib.md5(str(readings_part).encode()).hexdigest()[:12]


if __name__ == "__main__":
    raise SystemExit(main())
