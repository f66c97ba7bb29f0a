"""Compaction of the receiver's small part files: scan time before vs after, and compaction time.

    .venv/bin/python -m bench.run_hj212_compaction [--days 7 --outlets 300 --receivers 2 --runs 5]

A fresh home; ``--days`` of hourly receiver segments from ``--receivers`` receivers (each hour one
closed segment per receiver; every outlet sends a CN=2011 packet with five pollutants every
``--every`` minutes) go through the ``source`` spec (register, core, marts) as the hourly DAG runs do:
a part file per segment and date in packets, readings and quarantine. Then, with
``ECOCLOUD_HJ212_COMPACT_AFTER_HOURS=0``, the spec's ``compact`` build (timed), then ``marts`` (they
see new partition versions and rebuild once). Scans of the serving database's
``core_source__readings`` view (DuckDB, the files the folder holds), each the median of ``--runs``
after one warm-up, before and after:

* ``full``: every row, grouped by pollutant (count, avg, max);
* ``one_outlet``: one MN's readings of every day;
* ``one_hour``: one hour of one day, every outlet.

Rows, and the per-pollutant sums, must be identical before and after (checked). Printed as JSON with
the load average at each step (the machine is shared: figures are noisy).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402

from ecocloud.builds import sources  # noqa: E402
from ecocloud.runner import engine  # noqa: E402
from ecocloud.runner.context import RunInfo  # noqa: E402
from ecocloud.settings import Settings  # noqa: E402
from ecocloud.specs import get_spec  # noqa: E402
from ingest.hj212.protocol import build_packet  # noqa: E402
from ingest.hj212.segments import SegmentWriter  # noqa: E402
from schemas.clock import BEIJING  # noqa: E402

START = dt.datetime(2026, 11, 2, 0, 0, tzinfo=BEIJING)
POLLUTANTS = ("a21026", "a21002", "a34013", "a19001", "a00000")


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def mn_of(i: int) -> str:
    return f"{0x3600000000000000A0000000 + i:024X}"


def hour_lines(hour: dt.datetime, outlets: range, every: int) -> list[bytes]:
    return [
        build_packet(
            qn=(hour + dt.timedelta(minutes=m)).strftime("%Y%m%d%H%M%S") + "000",
            st="31",
            cn="2011",
            mn=mn_of(i),
            flag=5,
            data_time=hour + dt.timedelta(minutes=m),
            items={p: {"Rtd": 10.0 + (i * 7 + m + k) % 50, "Flag": "N"} for k, p in enumerate(POLLUTANTS)},
        )
        for m in range(0, 60, every)
        for i in outlets
    ]


def write_segments(settings: Settings, args: argparse.Namespace) -> int:
    """Hourly closed segments from each receiver (outlets split between receivers); returns lines."""
    clock = Clock()
    writers = [
        SegmentWriter(settings.hj212_landing, f"bench{r}", rotate_seconds=10**9, clock=clock)
        for r in range(args.receivers)
    ]
    share = -(-args.outlets // args.receivers)
    lines = 0
    for h in range(args.days * 24):
        hour = START + dt.timedelta(hours=h)
        for r, writer in enumerate(writers):
            clock.t = hour.timestamp()
            batch = hour_lines(hour, range(r * share, min(args.outlets, (r + 1) * share)), args.every)
            writer.write_batch([(clock.t, "ok", "10.1.1.1:4000", line) for line in batch])
            clock.t = (hour + dt.timedelta(minutes=59, seconds=59)).timestamp()
            writer.close()
            lines += len(batch)
    return lines


QUERIES = {
    "full": "SELECT pollutant_code, count(*), avg(value), max(value) FROM core_source__readings GROUP BY 1",
    "one_outlet": f"SELECT count(*), avg(value) FROM core_source__readings WHERE mn = '{mn_of(7)}'",
    "one_hour": (
        "SELECT mn, avg(value) FROM core_source__readings WHERE data_at >= TIMESTAMPTZ "
        f"'{(START + dt.timedelta(days=3, hours=10)).isoformat()}' AND data_at < TIMESTAMPTZ "
        f"'{(START + dt.timedelta(days=3, hours=11)).isoformat()}' GROUP BY 1"
    ),
}
CHECK = "SELECT pollutant_code, count(*), sum(value) FROM core_source__readings GROUP BY 1 ORDER BY 1"


def scans(settings: Settings, runs: int) -> dict[str, Any]:
    con = duckdb.connect(str(settings.duckdb_file), read_only=True)
    try:
        out: dict[str, Any] = {"load_average_1m": round(os.getloadavg()[0], 2)}
        for name, sql in QUERIES.items():
            con.execute(sql).fetchall()  # warm-up (file metadata, page cache)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                con.execute(sql).fetchall()
                times.append(time.perf_counter() - t0)
            out[f"{name}_ms"] = {
                "min": round(1000 * min(times), 1),
                "median": round(1000 * statistics.median(times), 1),
                "max": round(1000 * max(times), 1),
            }
        out["check"] = con.execute(CHECK).fetchall()
        return out
    finally:
        con.close()


def files(settings: Settings) -> dict[str, int]:
    lake = settings.lake
    return {
        t: sum(1 for _ in (lake / layer / t).rglob("*.parquet"))
        for layer, t in (
            ("core", "core_source__packets"),
            ("core", "core_source__readings"),
            ("quarantine", "quarantine_source__packets"),
        )
    }


def timed(settings: Settings, builds: list[str]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    report = engine.run_spec(settings, get_spec("source"), RunInfo.cli("bench"), builds=builds)
    return time.perf_counter() - t0, report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--outlets", type=int, default=300)
    ap.add_argument("--receivers", type=int, default=2)
    ap.add_argument("--every", type=int, default=10, help="minutes between an outlet's packets")
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each scan (median reported)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="hj212compact-"))
    os.environ["ECOCLOUD_HOME"] = str(home)
    os.environ["ECOCLOUD_LOG_LEVEL"] = "WARNING"
    try:
        settings = Settings(home=home, workers=args.workers, hj212_compact_after_hours=24 * 365)
        result: dict[str, Any] = {"shape": vars(args), "lines": write_segments(settings, args)}
        t0 = time.perf_counter()
        report = engine.land_and_run(
            settings, get_spec("source"), sources.register_segments, RunInfo.cli("bench")
        )
        result["ingest_s"] = round(time.perf_counter() - t0, 1)
        assert report.status == "published" and not report.of("compact")
        result["files_before"] = files(settings)
        result["before"] = scans(settings, args.runs)
        settings.hj212_compact_after_hours = 0
        result["compact_load_average_1m"] = round(os.getloadavg()[0], 2)
        seconds, report = timed(settings, ["compact"])
        result["compact_s"] = round(seconds, 2)
        result["compact_units"] = len([u for u in report.of("compact") if u.status == "published"])
        result["compact_rows"] = sum(u.counts.get("rows_out", 0) for u in report.of("compact"))
        seconds, report = timed(settings, ["marts"])
        result["marts_rebuild_after_compaction_s"] = round(seconds, 2)
        engine.refresh_serving(settings)
        result["files_after"] = files(settings)
        result["after"] = scans(settings, args.runs)
        assert result["after"].pop("check") == result["before"].pop("check"), "rows differ after compaction"
        seconds, report = timed(settings, ["compact"])
        result["compact_rerun_s"] = round(seconds, 2)  # nothing to do
        assert not [u for u in report.of("compact") if u.status == "published"]
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
