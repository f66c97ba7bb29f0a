"""Write a national-scale year of simulated air-release day files (the benchmark's input).

    python bench/generate_air_year.py bench/out/air-2023 --year 2023 --stations 2026 --workers 2

Writes ``station_list.csv`` and one ``china_sites_YYYYMMDD.csv`` per day with
``ecocloud.simulator.air``, spreading the days over worker processes, and prints the time taken.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ecocloud.simulator.air import Quirks, day_file_name, generate_day, station_list_csv
from ecocloud.simulator.province import Station, national_stations

QUIRKS = {"default": Quirks(), "none": Quirks.none(), "always": Quirks.always()}


@dataclass(frozen=True)
class _Job:
    out: Path
    stations: list[Station]
    seed: int
    quirks: Quirks


_job: _Job | None = None  # per worker process


def _init(out_dir: Path, n_stations: int, seed: int, quirks: Quirks) -> None:
    global _job
    _job = _Job(out_dir, national_stations(n_stations, seed), seed, quirks)


def _write_day(date: dt.date) -> int:
    if _job is None:
        raise RuntimeError("worker not initialised")
    content = generate_day(date, _job.stations, seed=_job.seed, quirks=_job.quirks)
    path = _job.out / day_file_name(date)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(content)
    tmp.replace(path)
    return len(content)


def generate_year(
    out_dir: Path,
    *,
    year: int = 2023,
    stations: int = 2026,
    days: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    quirks: str = "default",
) -> dict[str, float]:
    """Generate the files; return {"files", "stations", "seconds", "mb"}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    start = dt.date(year, 1, 1)
    n_days = days if days is not None else (dt.date(year + 1, 1, 1) - start).days
    dates = [start + dt.timedelta(days=i) for i in range(n_days)]
    network = national_stations(stations, seed)
    workers = workers or os.cpu_count() or 1
    t0 = time.perf_counter()
    (out_dir / "station_list.csv").write_bytes(station_list_csv(network))
    args = (out_dir, stations, seed, QUIRKS[quirks])
    if workers == 1:
        _init(*args)
        sizes = [_write_day(d) for d in dates]
    else:
        with mp.get_context("fork").Pool(workers, initializer=_init, initargs=args) as pool:
            sizes = list(pool.imap_unordered(_write_day, dates, chunksize=4))
    seconds = time.perf_counter() - t0
    return {"files": len(sizes), "stations": stations, "seconds": seconds, "mb": sum(sizes) / 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--stations", type=int, default=2026)
    ap.add_argument("--days", type=int, default=None, help="first N days only (default: the whole year)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    ap.add_argument("--quirks", choices=sorted(QUIRKS), default="default")
    a = ap.parse_args()
    stats = generate_year(
        a.out_dir,
        year=a.year,
        stations=a.stations,
        days=a.days,
        seed=a.seed,
        workers=a.workers,
        quirks=a.quirks,
    )
    print(
        f"generated {stats['files']:.0f} day files × {stats['stations']:.0f} stations "
        f"({stats['mb']:.0f} MB) in {stats['seconds']:.1f} s → {a.out_dir}"
    )


if __name__ == "__main__":
    main()
