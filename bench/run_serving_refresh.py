"""The serving refresh — the fixed cost every run with new data pays — on a lake with history.

    .venv/bin/python -m bench.run_serving_refresh [--hours 24] [--result-files 2000] [--runs 3]

A home holding ``--hours`` of the HJ 212 fleet captures (``bench.run_hj212_ingest``'s input: the
first hour ingested alone, as the hourly DAG does, then the rest), and the gate results of earlier
hourly runs: ``--result-files`` copies of the first hour's result files over earlier days, each with
its own run id (an hourly run writes two; 2,000 ≈ six weeks). Times ``warehouse.serving.refresh``
``--runs`` times: the first also rolls up the closed days' results (``warehouse.results_rollup``),
the others show the steady state. Prints each time, the result files listed and the result rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import posixpath
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from bench.hj212_realistic import generate
from bench.run_hj212_ingest import DEFAULT_DIR, START, ours
from ecocloud.runner.engine import ledger
from ecocloud.settings import Settings
from schemas.registry import get_table
from warehouse import lake as lk
from warehouse import serving
from warehouse.catalog import RESULTS_TABLE


def add_history(settings: Settings, files: int) -> int:
    """The home's result files again under earlier days, as 24 hourly runs a day would write them: each
    copy with its own run id and validation time (the catalog reads each table's latest run)."""
    results = get_table(RESULTS_TABLE)
    store = settings.lake_store
    own = [
        (posixpath.basename(rel), store.read_parquet(rel)) for rel in store.glob(lk.table_pattern(results))
    ]
    day, made = dt.date.today() - dt.timedelta(days=3), 0
    while made < files:
        for hour in range(24):
            at = dt.datetime.combine(day, dt.time(hour), dt.UTC)
            for name, rows in own:
                if made == files:
                    break
                run = f"history-{at:%Y%m%dT%H}"
                n = rows.num_rows
                copy = (
                    rows.set_column(rows.column_names.index("run_id"), "run_id", pa.array([run] * n))
                    .set_column(rows.column_names.index("gate_run_id"), "gate_run_id", pa.array([run] * n))
                    .set_column(
                        rows.column_names.index("validated_at"),
                        "validated_at",
                        pa.array([at] * n, rows.schema.field("validated_at").type),
                    )
                )
                store.write_parquet(
                    lk.part_file(results, day, f"{run}-{name.removesuffix('.parquet')}"), copy
                )
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
        ours(captures[:1], home / "home")
        settings = Settings(home=home / "home")
        history = add_history(settings, a.result_files)  # from the hourly run's result files
        if a.hours > 1:
            ours(captures[1 : a.hours], home / "home", fresh=False)
        led = ledger(settings)
        print(f"home: {a.hours} hours, {len(led.parts()):,} part files in the ledger")
        print(f"history: {history:,} result files of earlier days")
        for run in range(a.runs):
            t0 = time.perf_counter()
            serving.refresh(settings.lake_store, settings.duckdb_file, led, grace=dt.timedelta(0))
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
