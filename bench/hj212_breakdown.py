"""Where an HJ 212 ingest spends its time, per process: the breakdown behind BENCHMARKS.md's figures.

    .venv/bin/python -m bench.hj212_breakdown [--hours 24] [--workers 2] [--data DIR]
    .venv/bin/python -m bench.hj212_breakdown --gate [--hours 12] [--repeat 6]
    .venv/bin/python -m bench.hj212_breakdown --parse [--hours 6] [--repeat 6]
    .venv/bin/python -m bench.hj212_breakdown --marts [--dates 2] [--repeat 6]   # after a default run

Default: ``--hours`` capture files of ``bench.run_hj212_ingest`` (generate them with it first)
through the ``source`` spec into a fresh home, after an untimed warm-up. Each core worker prints its
wall time, user and system CPU, minor page faults (memory faulted in fresh: dear on this kind of
host) and the seconds it spent parsing, splitting by date, gating and publishing (and, within
publishing, writing part files, summed over its writer threads; the ledger's records; deletes); the
main process prints the same for the marts and serving.

``--gate``: the gate alone on the readings of ``--hours`` files, split by date by the runner's own split, validated as one batch ``--repeat`` times in one process (the minimum is the figure: the
first run also faults its memory in).

``--parse``: the parser alone (``parse_capture``) on ``--hours`` files read into memory first, in
one process, ``--repeat`` times; the figure is the least CPU time of a repeat.

``--marts``: the hourly marts' query on the ``--dates`` largest readings partitions of the home the
default mode left, ``--repeat`` times: finding each (outlet, pollutant, hour)'s basis (materialised
as a table), the samples and periods computed from that table, and the whole query as the marts run it.

The timers wrap the runner's and the parser's functions in this process (and in the workers it
forks); nothing here is used by ecocloud itself.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import functools
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.run_hj212_ingest import DEFAULT_DIR, ours

_SECONDS: collections.defaultdict[str, float] = collections.defaultdict(float)


def _timed(owner: Any, name: str, label: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            _SECONDS[label] += time.perf_counter() - started

    setattr(owner, name, wrapper)


def _usage() -> tuple[float, float, int]:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime, u.ru_stime, u.ru_minflt


def _report(who: str, started: float, before: tuple[float, float, int]) -> None:
    user, system, faults = (a - b for a, b in zip(_usage(), before, strict=True))
    parts = ", ".join(f"{k} {v:.2f}" for k, v in sorted(_SECONDS.items(), key=lambda kv: -kv[1]))
    print(
        f"{who}: {time.perf_counter() - started:.2f} s wall, user {user:.2f} s, system {system:.2f} s, "
        f"{int(faults):,} minor faults; seconds in {parts}",
        flush=True,
    )


_batch_job: Callable[..., Any] | None = None  # the runner's, while _worker_job stands in for it


def _worker_job(args: Any) -> Any:
    """The runner's batch job, timed in the worker (a module-level function: the pool pickles it)."""
    assert _batch_job is not None
    _SECONDS.clear()
    started, before = time.perf_counter(), _usage()
    try:
        return _batch_job(args)
    finally:
        _report(f"worker {os.getpid()}", started, before)


def breakdown(files: list[Path], home: Path, workers: int) -> None:
    from ecocloud.builds import sources
    from ecocloud.runner import engine
    from ingest.hj212 import batch
    from warehouse.ledger import Ledger

    for owner, name, label in [
        (batch, "parse_capture", "parse"),
        (engine, "_split", "split"),
        (engine, "validate", "gate"),
        (engine, "_publish", "publish"),
        (engine.lk, "write_part", "publish: part files (summed over its threads)"),
        (engine.lk, "delete_parts", "publish: deletes"),
        (Ledger, "record_unit", "publish: ledger"),
        (sources.Marts, "build_batch", "marts query"),
        (engine, "refresh_serving", "serving"),
    ]:
        _timed(owner, name, label)
    global _batch_job
    _batch_job = engine._run_batch_job
    engine._run_batch_job = _worker_job
    ours(files[:1], home.with_name(home.name + "-warm-up"), workers=workers)
    _SECONDS.clear()
    started, before = time.perf_counter(), _usage()
    result = ours(files, home, workers=workers)
    _report("main process (land, marts, serving; workers' time not included)", started, before)
    print(f"{result['lines']:,} lines in {result['seconds']:.2f} s; stages {result['stages_seconds']}")


def gate_only(files: list[Path], repeat: int) -> None:
    from ecocloud.builds.sources import tune_process_memory
    from ecocloud.runner import engine
    from ecocloud.runner.units import Output, Unit
    from ecocloud.specs import get_spec
    from ingest.hj212 import batch
    from schemas import source as schema
    from warehouse.quality import GatePart, GateRun, validate

    tune_process_memory()  # as a core worker does
    core = get_spec("source").build("core")
    parts = []
    for i, path in enumerate(files):
        parsed = batch.parse_capture(path.read_bytes(), segment=str(path), default_date=dt.date(2026, 11, 20))
        unit = Unit(f"hour-{i}", ())
        output = Output({schema.readings.name: parsed.readings})
        parts += [
            GatePart(unit.key, day, rows) for day, rows in engine._split(schema.readings, core, unit, output)
        ]
    run = GateRun("bench", "bench.hj212_breakdown", "source.core")
    validate(schema.readings, parts[:2], run=run)  # GX imported, suites compiled
    seconds = []
    for _ in range(repeat):
        started, before = time.perf_counter(), _usage()
        verdicts = validate(schema.readings, parts, run=run)
        seconds.append(time.perf_counter() - started)
        faults = _usage()[2] - before[2]
        print(
            f"gate of {sum(p.data.num_rows for p in parts):,} readings in {len(parts)} parts: "
            f"{seconds[-1]:.3f} s, {faults:,} minor faults, {verdicts[0].timings}"
        )
    print(f"minimum {min(seconds):.3f} s")


def marts_only(home: Path, dates: int, repeat: int) -> None:
    """The hourly marts' query on the ``dates`` largest readings partitions of a breakdown's home, in
    its two halves: finding the basis (materialised) and the samples and periods computed from it."""
    import duckdb

    from ecocloud.builds.sources import MART_ROWS
    from ecocloud.runner.context import parquet_sql, published_files
    from ecocloud.runner.engine import ledger
    from ecocloud.settings import Settings
    from schemas import source as schema
    from transforms import source_marts as sm
    from warehouse.ledger import partition_date

    settings = Settings(home=home)
    led = ledger(settings)
    sizes: collections.Counter[str] = collections.Counter()
    for part in led.parts(schema.readings.name):
        sizes[part.partition] += part.size_bytes
    days = [partition_date(key) for key, _ in sizes.most_common(dates)]
    if not days:
        raise SystemExit(f"{home} holds no readings: run bench.hj212_breakdown without --marts first")
    files = [f for day in days for f in published_files(settings.lake_store, led, schema.readings.name, day)]
    led.close()
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(f"CREATE VIEW readings AS SELECT * FROM {parquet_sql(files)} WHERE {MART_ROWS}")
    con.register("units", sm.units_table())
    # every step materialises its rows, as the marts do: under a count(*) DuckDB drops the aggregates
    # nothing reads, and a query heavy in aggregates would time fast
    steps = {
        "basis, materialised": f"CREATE OR REPLACE TABLE b AS {sm.hourly_basis_sql('readings')}",
        "samples and periods from it": f"CREATE OR REPLACE TABLE h AS {sm.hourly_from_basis_sql('b')}",
        "the whole hourly query": f"CREATE OR REPLACE TABLE h AS {sm.hourly_sql('readings')}",
    }
    readings = con.sql("SELECT count(*) FROM readings").fetchall()[0][0]
    print(f"{', '.join(map(str, days))}: {len(files)} files, {readings:,} readings")
    for _ in range(repeat):
        for label, sql in steps.items():
            started, cpu = time.perf_counter(), time.process_time()
            con.execute(sql)
            print(
                f"{label}: {time.perf_counter() - started:.2f} s wall, {time.process_time() - cpu:.2f} s CPU"
            )


def parse_only(files: list[Path], repeat: int) -> None:
    from ingest.hj212 import batch

    blobs = [(str(path), path.read_bytes()) for path in files]
    seconds = []
    for _ in range(repeat):
        started = time.process_time()
        packets = sum(
            batch.parse_capture(data, segment=name, default_date=dt.date(2026, 11, 20)).packets.num_rows
            for name, data in blobs
        )
        seconds.append(time.process_time() - started)
        print(f"parsed {len(blobs)} files, {packets:,} packets: {seconds[-1]:.3f} s of CPU")
    print(f"minimum {min(seconds):.3f} s = {min(seconds) / packets * 1e6:.2f} µs of CPU a packet")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--gate", action="store_true", help="the gate of the readings alone")
    ap.add_argument("--parse", action="store_true", help="the parser alone")
    ap.add_argument("--marts", action="store_true", help="the hourly marts' query on a breakdown's home")
    ap.add_argument("--dates", type=int, default=2, help="--marts: how many of the largest dates")
    ap.add_argument("--repeat", type=int, default=6)
    a = ap.parse_args(argv)
    if a.marts:
        marts_only(a.data / "home-breakdown", a.dates, a.repeat)
        return 0
    files = sorted((a.data / "captures").glob("*.h212*"))
    if len(files) < a.hours:
        raise SystemExit(f"{a.data / 'captures'} holds {len(files)} hours: run bench.run_hj212_ingest first")
    if a.gate:
        gate_only(files[: a.hours], a.repeat)
    elif a.parse:
        parse_only(files[: a.hours], a.repeat)
    else:
        breakdown(files[: a.hours], a.data / "home-breakdown", a.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
