"""Summarise a py-spy raw (collapsed stacks) profile of the air ingest by pipeline stage.

    py-spy record --subprocesses -r 50 -f raw -o bench/out/profile/ours.txt -- ecocloud ingest air …
    .venv/bin/python -m bench.profile_summary bench/out/profile/ours.txt

Each sample is given to the first stage (in the order below) whose marker appears in its stack, and
to "other" when none does; samples are CPU-or-waiting time of one process (``--idle`` off: samples
of idle threads are left out by py-spy), summed over the main process and the forked workers.
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

# stage → markers (substrings of a frame "function (file:line)"), most specific first
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("imports", ("_find_and_load",)),
    ("gate (GX validate)", ("quality.py",)),
    ("ledger (record, locks, plan)", ("ledger.py",)),
    ("daily stats (station_daily)", ("station_daily",)),
    ("ranking (city_daily_ranking)", ("city_daily_ranking",)),
    ("parse (day file)", ("parse_day_file", "parse.py")),
    ("AQI (hourly)", ("aqi.py",)),
    ("Parquet writes", ("write_part", "lake.py")),
    ("serving refresh", ("refresh_serving", "serving.py")),
    ("land (raw zone)", ("land_location", "land_bytes")),
    ("stations build", ("Stations.build",)),
    ("hourly build: rest", ("Hourly.build",)),
    ("daily build: rest (reads)", ("Daily.build",)),
    ("pool / waiting", ("concurrent/futures", "multiprocessing")),
)


def summarise(path: Path) -> dict[str, int]:
    totals: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")[1:]
        stage = next(
            (name for name, markers in STAGES if any(m in f for f in frames for m in markers)), "other"
        )
        totals[stage] += int(count)
    return dict(totals.most_common())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", type=Path)
    ap.add_argument("--rate", type=int, default=50, help="py-spy samples per second")
    a = ap.parse_args()
    totals = summarise(a.profile)
    all_samples = sum(totals.values())
    for stage, n in totals.items():
        print(f"{stage:32s} {n / a.rate:7.1f} s  {100 * n / all_samples:5.1f} %")
    print(f"{'total (process-seconds)':32s} {all_samples / a.rate:7.1f} s")


if __name__ == "__main__":
    main()
