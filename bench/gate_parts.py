"""Quality-gate benchmark: one table, one batch, split into 1, 14 or 200 parts; and one gate per partition.

    .venv/bin/python -m bench.gate_parts [--rows 1000000] [--repeat 1] [--modes parts,per-partition]

Synthetic ``core_source__readings`` rows (the HJ 212 long table: 14 columns, a 4-column key), clean,
generated with numpy. Each mode gates the same rows:

* ``parts``: ``validate`` once with the batch split into 1 part (every row in one partition), 14
  parts (one per Beijing day: a capture hour of real loggers touches 14+ days) and 200 parts
  (units = segment × day, over the same 14 days);
* ``per-partition``: ``run_gate`` once per day (14 calls): what the pipelines did before
  ``validate`` (each (table, day) its own GX runs). It uses only ``run_gate``, so it also runs
  against an older checkout (``PYTHONPATH=<old tree> python bench/gate_parts.py --modes per-partition``).

Every call is timed after a warm-up call (GX import and suite compilation are per process); the
table lists total seconds and, for ``validate``, its breakdown (convert, GX validate, split) and
the number of GX validations. Run by hand; not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from schemas.source import FLAGS, STATS, readings

UTC = dt.UTC
FIRST_DAY = dt.date(2026, 11, 7)
DAYS = 14
SEGMENTS = 50  # segment files the rows come from


def synthetic_readings(n: int, days: int, seed: int = 0) -> pa.Table:
    """``n`` clean readings spread over ``days`` Beijing days (1: all on FIRST_DAY), key unique."""
    rng = np.random.default_rng(seed)
    day = rng.integers(0, days, n) if days > 1 else np.zeros(n, dtype=np.int64)
    day.sort()
    base = np.datetime64(f"{FIRST_DAY.isoformat()}T00:00:00", "us") - np.timedelta64(8, "h")  # Beijing 00:00
    data_at = base + day.astype("timedelta64[D]") + rng.integers(0, 86_400, n).astype("timedelta64[s]")
    segment = np.char.add("segment/data/", (np.arange(n) * SEGMENTS // n).astype(str))
    codes = np.array(["w01018", "w21003", "w00000", "a21026", "a21002", "a34013"], dtype=object)
    cols: dict[str, pa.Array] = {
        "date": pa.array(np.datetime64(FIRST_DAY.isoformat(), "D") + day, pa.date32()),
        "mn": pa.array(rng.choice(np.array([f"88888880000{i:03d}" for i in range(500)], dtype=object), n)),
        "st": pa.array(rng.choice(np.array(["32", "31"], dtype=object), n)),
        "cn": pa.array(rng.choice(np.array(["2011", "2051", "2061"], dtype=object), n)),
        "data_at": pa.array(data_at, pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")),
        "pollutant_code": pa.array(codes[np.arange(n) % len(codes)]),
        "pollutant_code_original": pa.array(codes[np.arange(n) % len(codes)]),
        "stat": pa.array(np.array(STATS, dtype=object)[(np.arange(n) // len(codes)) % len(STATS)]),
        "value": pa.array(rng.gamma(2.0, 20.0, n)),
        "flag": pa.array(rng.choice(np.array([*FLAGS, None], dtype=object), n)),
        "unit": pa.array(rng.choice(np.array(["mg/L", "mg/m3", None], dtype=object), n)),
        "segment": pa.array(segment),
        "offset": pa.array(np.arange(n, dtype=np.int64) // (len(codes) * len(STATS))),
        "receiver_status": pa.nulls(n, pa.string()),  # capture files: no receiver verdict
    }
    return readings.conform(pa.table(cols))


def split(data: pa.Table, units: int) -> list[tuple[str, dt.date, pa.Table]]:
    """(unit, day, rows): ``units`` contiguous slices, spread evenly over the days (one day: one unit
    per day is named by the day; more: segment × day)."""
    dates = data.column("date").to_numpy().astype("datetime64[D]").astype(np.int64)
    bounds = np.flatnonzero(np.diff(dates)) + 1
    starts, ends = np.r_[0, bounds], np.r_[bounds, len(dates)]
    if units < len(starts):
        raise ValueError(f"{units} units for {len(starts)} days")
    out = []
    for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
        day = data.column("date")[int(start)].as_py()
        here = units // len(starts) + (1 if i < units % len(starts) else 0)
        edges = np.linspace(start, end, here + 1).astype(int)
        for k, (a, b) in enumerate(itertools.pairwise(edges)):
            unit = day.isoformat() if here == 1 else f"segment/data/{k}@{day.isoformat()}"
            out.append((unit, day, data.slice(int(a), int(b - a))))
    return out


def timed(label: str, call: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best of ``repeat`` calls after a warm-up call (GX import, suite compilation); its result."""
    call()
    best, result = float("inf"), None
    for _ in range(repeat):
        mark = time.perf_counter()
        outcome = call()
        if time.perf_counter() - mark < best:
            best, result = time.perf_counter() - mark, outcome
    print(f"  {label:<44} {best:7.2f} s", flush=True)
    return best, result


def bench_parts(rows: int, repeat: int) -> None:
    from warehouse.quality import GatePart, GateRun, GateVerdict, validate

    run = GateRun("bench", "bench.gate_parts", "source.readings")
    one_day = synthetic_readings(rows, 1)
    many_days = synthetic_readings(rows, DAYS)
    shapes = {
        "1 part (1 partition)": split(one_day, 1),
        f"{DAYS} parts ({DAYS} partitions)": split(many_days, DAYS),
        f"200 parts (units × {DAYS} partitions)": split(many_days, 200),
    }
    for label, parts in shapes.items():
        gate_parts = [GatePart(u, d, t) for u, d, t in parts]
        assert sum(p.data.num_rows for p in gate_parts) == rows

        def gate(batch: list[GatePart] = gate_parts) -> list[GateVerdict]:
            return validate(readings, batch, run=run)

        _, verdicts = timed(f"validate, {label}", gate, repeat)
        t = verdicts[0].timings
        assert all(v.passed for v in verdicts), verdicts[0].summary()
        print(
            f"    convert {t['convert']:.2f} s, GX validate {t['validate']:.2f} s, split {t['split']:.2f} s, "
            f"{t['gx_validations']:.0f} GX validations, {len(verdicts)} verdicts"
        )


def bench_per_partition(rows: int, repeat: int) -> None:
    from warehouse.quality import run_gate

    parts = split(synthetic_readings(rows, DAYS), DAYS)

    def per_partition() -> list[Any]:
        return [run_gate(readings, t, partition_date=d) for _, d, t in parts]

    _, results = timed(f"run_gate per partition ({len(parts)} calls)", per_partition, repeat)
    assert all(r.passed for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--modes", default="parts,per-partition")
    args = parser.parse_args()
    print(f"core_source__readings, {args.rows:,} rows, {platform.python_version()}, best of {args.repeat}")
    for mode in args.modes.split(","):
        {"parts": bench_parts, "per-partition": bench_per_partition}[mode](args.rows, args.repeat)


if __name__ == "__main__":
    main()
