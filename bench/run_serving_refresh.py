"""The serving refresh — the fixed cost every run with new data pays — on a lake with history.

    .venv/bin/python -m bench.run_serving_refresh [--hours 24] [--result-files 2000] [--runs 3]

A home holding ``--hours`` of the HJ 212 fleet captures (``bench.run_hj212_ingest``'s input; one
ingest), then the gate results of past hourly runs: ``--result-files`` copies of the ingest's own
result files spread over earlier days (an hourly run writes two; 2,000 ≈ six weeks). Times
``warehouse.serving.refresh`` ``--runs`` times: the first also rolls up the closed days' results
(``warehouse.results_rollup``), the others show the steady state. Prints each time, the result files
listed and the rows of the results view.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from bench.hj212_realistic import generate
from bench.run_hj212_ingest import DEFAULT_DIR, START, ours
from ecocloud.runner.engine import ledger
from ecocloud.settings import Settings
from schemas.registry import get_table
from warehouse import lake as lk
from warehouse import serving
from warehouse.catalog import RESULTS_TABLE


def add_history(settings: Settings, files: int) -> int:
    """Copies of the home's result files under earlier days, each 24 times a day (24 hourly runs)."""
    results = get_table(RESULTS_TABLE)
    folder = lk.table_dir(settings.lake, results)
    own = sorted(folder.rglob("*.parquet"))
    day, made = dt.date.today() - dt.timedelta(days=3), 0
    while made < files:
        target = folder / f"{results.partition_by}={day.isoformat()}"
        target.mkdir(parents=True, exist_ok=True)
        for hour in range(24):
            for src in own:
                if made < files:
                    shutil.copy(src, target / f"h{hour:02d}-{src.name}")
                    made += 1
        day -= dt.timedelta(days=1)
    return made


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--result-files", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--loggers", type=int, default=1000)
    a = ap.parse_args()
    captures = generate(DEFAULT_DIR / "captures", loggers=a.loggers, hours=168, start=START)
    home = Path(tempfile.mkdtemp(prefix="ecocloud-bench-refresh-"))
    try:
        ingest = ours(captures[: a.hours], home / "home")
        settings = Settings(home=home / "home")
        print(f"home: {a.hours} hours, {ingest['part_files']:,} part files")
        print(f"history: {add_history(settings, a.result_files):,} result files of earlier days")
        led = ledger(settings)
        for run in range(a.runs):
            t0 = time.perf_counter()
            serving.refresh(settings.lake_store, settings.duckdb_file, led)
            seconds = time.perf_counter() - t0
            con = duckdb.connect(str(settings.duckdb_file), read_only=True)
            ((rows, listed),) = con.execute(
                f"SELECT rows, files FROM catalog_datasets WHERE table_name = '{RESULTS_TABLE}'"
            ).fetchall()
            con.close()
            print(
                f"refresh {run + 1}: {seconds:.2f} s — {listed:,} result files listed, {rows:,} result rows"
            )
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
