"""Risk marts benchmark: refresh after one new day, and ranking a region and a period, at province scale.

    .venv/bin/python -m bench.run_risk [--outlets 10000] [--days 365] [--data DIR] [--region 360100]

1. **generate** (once; reused when present): ``bench/generate_risk_year.py`` — a year of
   ``mart_source__hourly`` (10,000 outlets × 5 pollutants × 24 h × 365 days ≈ 438 M rows) in the
   lake layout, with master data, permits and credit.
2. **backfill** (once; a child process): the daily risk marts of every day but the last, built by
   ``transforms.risk.refresh_days`` in chunks of days and written as date partitions — the state a
   daily DAG would have reached. Timed (days per minute), not part of the goals.
3. **measure** (a fresh child process, so its peak memory is its own):
   * *refresh after one new day*: ``refresh_days`` for the last day (reads that day and its lookback
     day of hourly values, the registries), write its four partitions, then score the standard
     period(s) (rules ``score.periods_days``, ending that day) from the daily marts and write them;
   * *ranking*: ``score_period`` for one prefecture (``--region``) over the last 30 days and over the
     whole year, and for the whole province over the year, from the daily marts only;
   * peak resident memory of the measuring process (``ru_maxrss``: Python, Arrow and DuckDB).

DuckDB runs with 2 threads and a 3 GB memory limit. Prints a table and writes ``<data>/results.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

from bench import machine
from bench.generate_risk_year import DEFAULT_DIR, END, generate
from schemas import credit as credit_schema
from schemas import master as master_schema
from schemas import permits as permit_schema
from schemas import risk as risk_schema
from schemas import source as source_schema
from schemas.registry import Table
from transforms.risk import load_rules, refresh_days
from transforms.risk.scoring import score_period
from warehouse import lake as lk
from warehouse.serving import select_sql

INPUTS = (
    source_schema.hourly,
    master_schema.monitoring_points,
    master_schema.enterprises,
    permit_schema.permits,
    permit_schema.outlets,
    permit_schema.outlet_limits,
    credit_schema.ratings,
)
DAILY_MARTS = (
    risk_schema.outlet_identity,
    risk_schema.exceedance_hourly,
    risk_schema.exceedance_daily,
    risk_schema.indicators,
)


def connect(lake: Path, tables: tuple[Table, ...]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a view per table over its Parquet files (date partitions pruned)."""
    con = duckdb.connect(config={"threads": 2, "memory_limit": "3GB"})
    for t in tables:  # the serving views' SELECT (registry types), over the table's glob
        con.execute(f'CREATE VIEW "{t.name}" AS {select_sql(t, str(lk.table_glob(lake, t)))}')
    return con


def write_marts(lake: Path, marts: Any) -> None:
    for table, data in zip(
        DAILY_MARTS,
        (marts.identity, marts.exceedance_hourly, marts.exceedance_daily, marts.indicators),
        strict=True,
    ):
        lk.write_partitions(lake, table, data)


def backfill(lake: Path, first: dt.date, last: dt.date, chunk: int) -> dict[str, float]:
    rules = load_rules()
    con = connect(lake, INPUTS)
    t0 = time.perf_counter()
    day = first
    while day <= last:
        end = min(last, day + dt.timedelta(days=chunk - 1))
        write_marts(lake, refresh_days(con, day, end, rules))
        print(f"  backfilled {day} .. {end}  ({time.perf_counter() - t0:.0f} s)", flush=True)
        day = end + dt.timedelta(days=1)
    return {"days": (last - first).days + 1, "seconds": time.perf_counter() - t0}


def measure(lake: Path, day: dt.date, region: str) -> dict[str, Any]:
    rules = load_rules()
    out: dict[str, Any] = {}
    con = connect(lake, INPUTS + DAILY_MARTS)
    t = time.perf_counter()
    marts = refresh_days(con, day, day, rules)
    out["refresh_compute_s"] = time.perf_counter() - t
    out["rows"] = {
        "identity": marts.identity.num_rows,
        "exceedance_hourly": marts.exceedance_hourly.num_rows,
        "exceedance_daily": marts.exceedance_daily.num_rows,
        "indicators": marts.indicators.num_rows,
    }
    t = time.perf_counter()
    write_marts(lake, marts)
    out["refresh_write_s"] = time.perf_counter() - t
    con.close()
    con = connect(lake, INPUTS + DAILY_MARTS)  # the new partitions are visible
    t = time.perf_counter()
    for days in rules.periods_days:
        s = score_period(con, day - dt.timedelta(days=days - 1), day, rules)
        lk.write_partition(lake, risk_schema.outlet_scores, s.outlets, day, part=f"p{days}")
        lk.write_partition(lake, risk_schema.enterprise_scores, s.enterprises, day, part=f"p{days}")
    out["refresh_scores_s"] = time.perf_counter() - t
    out["refresh_total_s"] = out["refresh_compute_s"] + out["refresh_write_s"] + out["refresh_scores_s"]
    first = min(lk.partitions(lake, risk_schema.exceedance_daily))
    rankings = {
        f"region {region}, 30 days": (day - dt.timedelta(days=29), region),
        f"region {region}, {(day - first).days + 1} days": (first, region),
        f"province, {(day - first).days + 1} days": (first, None),
    }
    out["rankings"] = {}
    for name, (start, reg) in rankings.items():
        t = time.perf_counter()
        s = score_period(con, start, day, rules, region=reg)
        out["rankings"][name] = {"seconds": time.perf_counter() - t, "outlets": s.outlets.num_rows,
                                 "enterprises": s.enterprises.num_rows, "top": s.outlets.slice(0, 1).to_pylist()[0]["top_reasons"]}  # fmt: skip
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _child(step: str, data: Path, *extra: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.run_risk", "--step", step, "--data", str(data), *extra]
    proc = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    lines = proc.stdout.splitlines()
    print("\n".join(lines[:-1]))
    return dict(json.loads(lines[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outlets", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--data", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--region", default="360100")
    ap.add_argument("--chunk", type=int, default=4, help="days per backfill step")
    ap.add_argument("--step", choices=("all", "backfill", "measure"), default="all")
    a = ap.parse_args()
    lake = a.data / "lake"
    if a.step == "backfill":
        days = lk.partitions(lake, source_schema.hourly)
        print(json.dumps(backfill(lake, days[1], days[-2], a.chunk)))
        return
    if a.step == "measure":
        print(json.dumps(measure(lake, lk.partitions(lake, source_schema.hourly)[-1], a.region)))
        return

    results: dict[str, Any] = {
        "machine": machine.describe(),
        "outlets": a.outlets,
    }
    if not (lake / "mart" / source_schema.hourly.name).exists():
        print(f"generating {a.outlets} outlets × {a.days} days …", flush=True)
        results["generate"] = generate(a.data, a.outlets, a.days, END, 2026)
    if not (lake / "mart" / risk_schema.exceedance_daily.name).exists():
        print("backfilling the daily risk marts …", flush=True)
        results["backfill"] = _child("backfill", a.data, "--chunk", str(a.chunk))
    results["measure"] = m = _child("measure", a.data, "--region", a.region)
    (a.data / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str))
    print(f"\nrisk benchmark, {a.outlets:,} outlets (results: {a.data / 'results.json'})")
    print(f"  refresh after one new day: {m['refresh_total_s']:.1f} s  (compute {m['refresh_compute_s']:.1f}, "
          f"write {m['refresh_write_s']:.1f}, period scores {m['refresh_scores_s']:.1f})  goal < 60 s")  # fmt: skip
    for name, r in m["rankings"].items():
        print(f"  ranking {name}: {r['seconds']:.2f} s ({r['outlets']:,} outlets)  goal < 5 s")
    print(f"  peak memory (measuring process): {m['peak_rss_mib']:,.0f} MiB  goal < 4 GiB")


if __name__ == "__main__":
    main()
