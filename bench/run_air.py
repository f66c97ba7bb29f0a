"""Air ingest benchmark: a national-scale year through our pipeline vs a straightforward pandas job.

    make bench                       # 2,026 stations × 365 days (generates ~850 MB of day files once)
    .venv/bin/python -m bench.run_air --days 30   # a shorter run while iterating

Both contenders run as separate processes on the same files in the same run; we measure wall time
and peak memory (resident set of the whole process tree, sampled every 20 ms). Ours is the real
`ecocloud ingest air` command — raw landing, parsing, AQI, the Great Expectations quality gate,
core and mart partitions, serving database — on a fresh ECOCLOUD_HOME.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def _tree_rss_kb(root: int) -> int:
    """Resident memory of a process and all its descendants, in KiB (from /proc)."""
    total, stack, seen = 0, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def measure(cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> dict[str, float]:
    """Run ``cmd``; return wall seconds and peak tree RSS in MiB. Fails loudly if the command fails."""
    started = time.perf_counter()
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kb(proc.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rc = proc.wait()
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    if log:
        out.close()  # type: ignore[union-attr]
    if rc != 0:
        tail = log.read_text()[-3000:] if log else ""
        raise SystemExit(f"{' '.join(cmd[:3])} … failed with exit {rc}\n{tail}")
    return {"seconds": round(wall, 2), "peak_mib": round(peak / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--stations", type=int, default=2026)
    ap.add_argument("--year", type=int, default=2023)
    args = ap.parse_args()

    data = OUT / f"air-{args.year}-{args.stations}st-{args.days}d"
    if not (data / ".complete").exists():
        shutil.rmtree(data, ignore_errors=True)
        print(f"generating {args.stations} stations × {args.days} days into {data} …", flush=True)
        subprocess.run(
            [sys.executable, str(HERE / "generate_air_year.py"), str(data), "--year", str(args.year),
             "--stations", str(args.stations), "--days", str(args.days)],
            check=True,
        )  # fmt: skip
        (data / ".complete").touch()
    files = sorted(str(p) for p in data.glob("china_sites_*.csv"))
    mb = sum(Path(f).stat().st_size for f in files) / 1e6
    print(f"input: {len(files)} day files, {mb:.0f} MB", flush=True)

    base_out = OUT / "baseline-parquet"
    shutil.rmtree(base_out, ignore_errors=True)
    print("pandas baseline (read_csv → melt → to_parquet) …", flush=True)
    baseline = measure(
        [sys.executable, str(HERE / "baseline_pandas.py"), str(data), str(base_out)], log=OUT / "baseline.log"
    )
    print(f"  {baseline}", flush=True)

    home = OUT / "home"
    shutil.rmtree(home, ignore_errors=True)
    env = dict(os.environ, ECOCLOUD_HOME=str(home))
    ecocloud = str(Path(sys.executable).with_name("ecocloud"))
    print("ecocloud ingest air (raw → parse → AQI → GX gate → core, marts, serving) …", flush=True)
    ours = measure(
        [ecocloud, "ingest", "air", str(data / "station_list.csv"), *files], env=env, log=OUT / "ours.log"
    )
    print(f"  {ours}", flush=True)

    rows = subprocess.run(
        [ecocloud, "sql", "SELECT count(*) FROM core_air__station_hourly", "--format", "csv"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.split()[-1]  # fmt: skip
    result = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
        "input": {"day_files": len(files), "stations": args.stations, "mb": round(mb)},
        "station_hours_published": int(rows),
        "baseline_pandas": baseline,
        "ecocloud": ours,
        "speedup": round(baseline["seconds"] / ours["seconds"], 2),
    }
    (OUT / "air-results.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
