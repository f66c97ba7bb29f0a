"""Air ingest benchmark: a national year through our pipeline against an I/O floor and pandas.

    make bench                                          # 2,026 stations × 365 days, one run
    .venv/bin/python -m bench.run_air --days 60 --runs 3  # shorter, min/median/max of 3 runs

Three contenders run as separate processes on the same files (written once by
``bench/generate_air_year.py``), one after the other, in every run:

* **floor** (``bench/air_floor.py``): pyarrow CSV read, numpy long reshape, Parquet write, a pool of
  2 processes — the least any pipeline must do with these bytes;
* **ours**: the real ``ecocloud ingest air`` command — raw landing, parsing, AQI, the Great
  Expectations gate, core and mart partitions, ledger, serving database — on a fresh ECOCLOUD_HOME;
* **pandas** (``bench/baseline_pandas.py``): per file ``read_csv → melt → to_parquet``, one process.

For each: wall time, CPU time (user + system of the whole process tree, from the reaped children's
rusage), peak memory of the process tree (sampled every 250 ms: PSS, and the RSS sum, which counts
pages forked workers share with their parent once per process), the 1-minute load average when it
started, and the ratios of its wall and CPU time to the floor's in the same run (the CPU ratio is
the one other jobs on the machine disturb least). Results go to ``bench/out/air-results.json``
(``bench/out`` is git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench import machine

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
CONTENDERS = ("floor", "ours", "pandas")
# Reading smaps_rollup walks a process's page tables in the kernel: every 20 ms it cost a pipeline
# of GB-sized workers ~18 % of its wall time on 60 days (the 2 cores are shared with the sampler),
# while the peak it finds is the same at 250 ms (peaks last seconds).
SAMPLE_S = 0.25


def _tree_memory_kb(root: int) -> tuple[int, int]:
    """(RSS, PSS) of a process and all its descendants, in KiB (from /proc).

    The RSS sum counts pages that forked workers share with their parent once per process (an
    upper bound); PSS divides each shared page among the processes sharing it (what the tree uses)."""
    rss, pss, stack, seen = 0, 0, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return rss, pss


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> dict[str, float]:
    """Run ``cmd``; return wall and CPU seconds, peak tree RSS in MiB and the load average at start.

    Fails loudly if the command fails."""
    load_1m = os.getloadavg()[0]
    cpu_before = _children_cpu_s()
    started = time.perf_counter()
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    peak_rss = peak_pss = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_rss, peak_pss
        while not done.is_set():
            rss, pss = _tree_memory_kb(proc.pid)
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            done.wait(SAMPLE_S)

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
    return {
        "seconds": round(wall, 2),
        "cpu_seconds": round(_children_cpu_s() - cpu_before, 2),
        "peak_pss_mib": round(peak_pss / 1024, 1),
        "peak_rss_sum_mib": round(peak_rss / 1024, 1),
        "load_1m_at_start": round(load_1m, 2),
    }


def generate(data: Path, args: argparse.Namespace) -> list[str]:
    """The day files (generated once per shape); returns their paths."""
    if not (data / ".complete").exists():
        shutil.rmtree(data, ignore_errors=True)
        print(f"generating {args.stations} stations × {args.days} days into {data} …", flush=True)
        subprocess.run(
            [sys.executable, str(HERE / "generate_air_year.py"), str(data), "--year", str(args.year),
             "--stations", str(args.stations), "--days", str(args.days)],
            check=True,
        )  # fmt: skip
        (data / ".complete").touch()
    return sorted(str(p) for p in data.glob("china_sites_*.csv"))


def one_run(data: Path, files: list[str], workers: int) -> dict[str, dict[str, float]]:
    """Floor, ours and pandas once each on the same files; each contender's figures and ratio."""
    run: dict[str, dict[str, float]] = {}
    floor_out = OUT / "floor-parquet"
    shutil.rmtree(floor_out, ignore_errors=True)
    print("  floor (pyarrow read → numpy long → Parquet, 2 processes) …", flush=True)
    run["floor"] = measure(
        [sys.executable, str(HERE / "air_floor.py"), str(data), str(floor_out), "--workers", str(workers)],
        log=OUT / "floor.log",
    )
    home = OUT / "home"
    shutil.rmtree(home, ignore_errors=True)
    env = dict(os.environ, ECOCLOUD_HOME=str(home))
    ecocloud = str(Path(sys.executable).with_name("ecocloud"))
    print("  ours: ecocloud ingest air (raw → parse → AQI → GX gate → core, marts, serving) …", flush=True)
    run["ours"] = measure(
        [ecocloud, "ingest", "air", str(data / "station_list.csv"), *files], env=env, log=OUT / "ours.log"
    )
    run["ours"]["station_hours_published"] = float(
        subprocess.run(
            [ecocloud, "sql", "SELECT count(*) FROM core_air__station_hourly", "--format", "csv"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout.split()[-1]
    )  # fmt: skip
    base_out = OUT / "baseline-parquet"
    shutil.rmtree(base_out, ignore_errors=True)
    print("  pandas (read_csv → melt → to_parquet, 1 process) …", flush=True)
    run["pandas"] = measure(
        [sys.executable, str(HERE / "baseline_pandas.py"), str(data), str(base_out)], log=OUT / "baseline.log"
    )
    for name in CONTENDERS:
        run[name]["ratio_to_floor"] = round(run[name]["seconds"] / run["floor"]["seconds"], 2)
        run[name]["cpu_ratio_to_floor"] = round(run[name]["cpu_seconds"] / run["floor"]["cpu_seconds"], 2)
    for name, figures in run.items():
        print(f"    {name}: {figures}", flush=True)
    return run


def summary(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, dict[str, float]]]:
    """min / median / max of every figure of every contender over the runs."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in CONTENDERS:
        out[name] = {}
        for figure in (
            "ratio_to_floor",
            "cpu_ratio_to_floor",
            "seconds",
            "cpu_seconds",
            "peak_pss_mib",
            "peak_rss_sum_mib",
            "load_1m_at_start",
        ):
            values = [r[name][figure] for r in runs]
            out[name][figure] = {
                "min": min(values),
                "median": round(statistics.median(values), 2),
                "max": max(values),
            }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--stations", type=int, default=2026)
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2, help="processes of the floor (default: 2, both cores)")
    args = ap.parse_args()

    data = OUT / f"air-{args.year}-{args.stations}st-{args.days}d"
    files = generate(data, args)
    mb = sum(Path(f).stat().st_size for f in files) / 1e6
    print(f"input: {len(files)} day files, {mb:.0f} MB", flush=True)
    runs = []
    for i in range(args.runs):
        print(f"run {i + 1} of {args.runs}", flush=True)
        runs.append(one_run(data, files, args.workers))
    result = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine.describe(),
        "input": {"day_files": len(files), "stations": args.stations, "mb": round(mb)},
        "runs": runs,
        "summary": summary(runs),
    }
    name = f"air-results-{len(files)}d-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}.json"
    (OUT / name).write_text(json.dumps(result, indent=2))
    (OUT / "air-results.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result["summary"], indent=2))
    print(f"→ {OUT / name}")


if __name__ == "__main__":
    main()
