"""HJ 212 ingest benchmark on real-shaped captures: packets per second end to end, and how time grows.

    .venv/bin/python -m bench.run_hj212_ingest [--loggers 1000] [--runs 3] [--data DIR]
        [--sizes 1,24,168] [--skip-hourly] [--skip-baseline] [--history 24]

(To compare with an older commit, copy this file into a checkout of it and run it there with
``--sizes 24 --skip-hourly --skip-baseline``: it uses only the runner's ``land_and_run``.)

Input: ``bench/hj212_realistic.py`` capture files of a province's fleet (default 1,000 data loggers,
≈ 31 lines per logger and hour: 10⁹ readings a year, the top of DESIGN.md's range per province),
one file per hour, with the command mix, back-filled and wrong-clock packets (an hour touches ~13
dates), damaged lines and the 2005/2017 logger mix counted in the real captures.

Measured, each in a fresh ECOCLOUD_HOME, after one untimed warm-up ingest (imports, GX suites: per
process, not per run — their cost is reported apart):

* **sizes** — 1 hour, 1 day and 1 week of the fleet through the ``source`` spec as
  ``ecocloud ingest hj212`` runs it: raw zone, parse, gate, packets, readings, quarantine, hourly
  and daily marts, serving. A line fit gives the fixed cost of a run and the marginal cost per
  packet; the time must grow with packets, not with the dates touched. The captures are read once
  just before each timed run (reported beside it), so that landing copies from the page cache, as
  the receiver's own segments are: this machine's disk reads uncached files at ~20 MB/s.
* **hourly DAG** — on the home holding the day (``--history`` hours; 167 for a week): the next
  hour's capture (what the hourly DAG run does each hour), and a run with nothing new (an empty hour).
* **baseline** — a plain per-packet Python parser (below) on the first ``--baseline-packets``
  lines of the day, run just before the sizes in each run; its rate is per packet, so it
  compares. Each size's ratio is taken to its own run's baseline (the machine's speed drifts).

Prints the figures and writes ``<data>/results.json``.
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
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import machine
from bench.hj212_realistic import generate
from schemas.clock import BEIJING

DEFAULT_DIR = Path(tempfile.gettempdir()) / "ecocloud-bench-hj212-real"
START = dt.datetime(2026, 11, 20, 0, tzinfo=BEIJING)
SIZES = {1: "1 hour", 24: "1 day", 168: "1 week"}


# ----------------------------------------------------------------------------------- baseline

_TABLE: list[int] = []
for _b in range(256):
    _v = _b
    for _ in range(8):
        _v = (_v >> 1) ^ 0xA001 if _v & 1 else _v >> 1
    _TABLE.append(_v)


def _baseline_crc(data: bytes) -> int:
    crc = 0xFFFF
    for b in data:
        crc = _TABLE[(crc >> 8) ^ b]
    return crc


def baseline(files: list[Path], out: Path, limit: int | None) -> dict[str, Any]:
    """Plain per-packet Python: framing + CRC, split into dicts, pandas DataFrame → Parquet."""
    import pandas as pd

    t0 = time.perf_counter()
    packets: list[dict[str, Any]] = []
    readings: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    n = 0
    for path in files:
        for raw_line in path.read_bytes().split(b"\n"):
            if not raw_line:
                continue
            if limit is not None and n >= limit:
                break
            n += 1
            line = raw_line.rstrip(b"\r")
            if not line.startswith(b"##") or len(line) < 10:
                rejects.append({"file": path.name, "line": n, "reason": "bad_header"})
                continue
            seg = line[6:-4]
            if not line[2:6].isdigit() or int(line[2:6]) != len(seg):
                rejects.append({"file": path.name, "line": n, "reason": "length"})
                continue
            try:
                if int(line[-4:], 16) != _baseline_crc(seg):
                    rejects.append({"file": path.name, "line": n, "reason": "crc"})
                    continue
            except ValueError:
                rejects.append({"file": path.name, "line": n, "reason": "crc"})
                continue
            text = seg.decode("utf-8")
            head, _, cp = text.partition(";CP=&&")
            fields = dict(part.split("=", 1) for part in head.split(";") if "=" in part)
            items: dict[str, str] = {}
            for kv in cp.rstrip("&").replace(",", ";").split(";"):
                if "=" in kv:
                    k, v = kv.split("=", 1)
                    items.setdefault(k, v)
            data_time = items.get("DataTime")
            when = (
                dt.datetime.strptime(data_time[:14], "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
                if data_time
                else None
            )
            packets.append(
                {
                    "file": path.name,
                    "line": n,
                    "qn": fields.get("QN"),
                    "st": fields.get("ST"),
                    "cn": fields.get("CN"),
                    "mn": fields.get("MN"),
                    "flag": fields.get("Flag"),
                    "data_time": when,
                }
            )
            for k, v in items.items():
                code, _, stat = k.partition("-")
                if stat in ("Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax", "ZsCou"):
                    readings.append(
                        {
                            "file": path.name,
                            "line": n,
                            "mn": fields.get("MN"),
                            "cn": fields.get("CN"),
                            "data_time": when,
                            "pollutant_code": code,
                            "stat": stat,
                            "value": float(v),
                            "flag": items.get(f"{code}-Flag"),
                        }
                    )
        if limit is not None and n >= limit:
            break
    t_parse = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(packets).to_parquet(out / "packets.parquet")
    pd.DataFrame(readings).to_parquet(out / "readings.parquet")
    pd.DataFrame(rejects).to_parquet(out / "rejects.parquet")
    total = time.perf_counter() - t0
    return {
        "lines": n,
        "packets": len(packets),
        "readings": len(readings),
        "rejects": len(rejects),
        "seconds": round(total, 3),
        "parse_seconds": round(t_parse, 3),
        "packets_per_s": round(n / total),
    }


# ----------------------------------------------------------------------------------- ours


def ours(files: list[Path], home: Path, *, fresh: bool = True, workers: int | None = None) -> dict[str, Any]:
    """The files through the ``source`` spec as ``ecocloud ingest hj212`` runs it (serving included)."""
    from ecocloud.builds import sources
    from ecocloud.runner import engine
    from ecocloud.runner.context import RunInfo
    from ecocloud.settings import Settings
    from ecocloud.specs import get_spec

    if fresh and home.exists():
        shutil.rmtree(home)
    settings = Settings(home=home)
    cached = _read_into_page_cache(files)
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    report = engine.land_and_run(
        settings,
        get_spec("source"),
        lambda s, led: sources.land_captures(s, led, [str(p) for p in files]),
        RunInfo.cli("bench", workers=workers),
    )
    total = time.perf_counter() - t0
    c = {"lines": 0, "accepted": 0, "quarantined": 0, "readings": 0}
    c.update(report.counts("lines", "accepted", "quarantined", "readings"))
    return {
        "lines": c["lines"],
        "packets": c["accepted"],
        "quarantined": c["quarantined"],
        "readings": c["readings"],
        "dates": len(report.of("marts")),
        "seconds": round(total, 3),
        "cpu_seconds": round(_cpu_seconds() - cpu0, 3),
        "stages_seconds": {k: round(v, 3) for k, v in report.timings.items()},
        "packets_per_s": round(c["lines"] / total) if c["lines"] else 0,
        "read_before_seconds": round(cached, 3),
        "part_files": sum(1 for _ in settings.lake.rglob("*.parquet")),
        "status": report.status,
    }


def _read_into_page_cache(files: list[Path]) -> float:
    """Read the captures once before the clock starts; returns the seconds it took. This machine's
    disk reads files that are not cached at ~20 MB/s (a week's 1.7 GB: 40+ s of landing), which
    measures the virtual disk, not the pipeline; the figure is printed beside each run."""
    started = time.perf_counter()
    for path in files:
        with open(path, "rb") as fh:
            while fh.read(1 << 24):
                pass
    return time.perf_counter() - started


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def _fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least squares seconds = fixed + per_packet × packets."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    return my - slope * mx, slope


def run_sizes(
    files: list[Path], data: Path, runs: int, sizes: list[int], baseline_packets: int | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Each run: the baseline (unless ``baseline_packets`` is None), then every size — so that each
    size's ratio to the baseline compares two figures measured minutes apart (this machine's speed
    drifts by 2× within an hour)."""
    chosen = {h: SIZES.get(h, f"{h} hours") for h in sizes if h <= len(files)}
    results: dict[str, list[dict[str, Any]]] = {label: [] for label in chosen.values()}
    baselines: list[dict[str, Any]] = []
    for _ in range(runs):
        if baseline_packets is not None:
            baselines.append(baseline(files[:24], data / "baseline", baseline_packets))
        for hours, label in chosen.items():
            results[label].append(ours(files[:hours], data / "home"))
    out: dict[str, Any] = {}
    for hours, label in chosen.items():
        runs_of = results[label]
        out[label] = {
            "hours": hours,
            "runs": runs_of,
            "seconds": _spread([r["seconds"] for r in runs_of]),
            "packets_per_s": _spread([r["packets_per_s"] for r in runs_of]),
        }
        if baselines:
            ratios = [
                r["packets_per_s"] / b["packets_per_s"] for r, b in zip(runs_of, baselines, strict=True)
            ]
            out[label]["x_baseline"] = _spread([round(x, 2) for x in ratios])
        r = runs_of[0]
        print(
            f"{label:>7}: {r['lines']:>10,} lines, {r['dates']:>3} dates, {r['part_files']:>6,} part files — "
            f"{_fmt(out[label]['seconds'])} s, {_fmt(out[label]['packets_per_s'], 0)} packets/s "
            f"(CPU {r['cpu_seconds']:.0f} s; stages {r['stages_seconds']}; "
            f"captures read into the page cache before the clock: {r['read_before_seconds']:.1f} s)"
            + (f"; {_fmt(out[label]['x_baseline'])}× the baseline of its run" if baselines else "")
        )
    for b in baselines:
        print(f"baseline: {b['lines']:,} lines in {b['seconds']:.1f} s = {b['packets_per_s']:,} packets/s")
    return out, baselines


def run_hourly(files: list[Path], data: Path, runs: int, history: int = 24) -> dict[str, Any]:
    """On a home holding ``history`` hours (a copy per run): the next hour, then a run with nothing new."""
    template = data / f"home-{history}h"
    ours(files[:history], template)
    next_hour, empty, process, process_empty = [], [], [], []
    for _ in range(runs):
        home = data / "home-hourly"
        shutil.rmtree(home, ignore_errors=True)
        shutil.copytree(template, home)
        next_hour.append(ours(files[history : history + 1], home, fresh=False))
        empty.append(ours([], home, fresh=False))
        shutil.rmtree(home)
        shutil.copytree(template, home)
        process.append(_cli_seconds(["ingest", "hj212", str(files[history])], home))
        process_empty.append(_cli_seconds(["run", "source"], home))
    out: dict[str, dict[str, Any]] = {
        "next_hour": {"runs": next_hour, "seconds": _spread([r["seconds"] for r in next_hour])},
        "empty": {"runs": empty, "seconds": _spread([r["seconds"] for r in empty])},
        "next_hour_new_process": {"seconds": _spread(process)},
        "empty_new_process": {"seconds": _spread(process_empty)},
    }
    r = next_hour[0]
    print(
        f"hourly DAG run on a home of {history} hours: next hour ({r['lines']:,} lines, {r['dates']} dates) "
        f"{_fmt(out['next_hour']['seconds'])} s (stages {r['stages_seconds']}); "
        f"nothing new {_fmt(out['empty']['seconds'], 2)} s; the next hour as a new process "
        f"(`ecocloud ingest hj212`, imports and GX included) {_fmt(out['next_hour_new_process']['seconds'])} s, "
        f"then `ecocloud run source` with nothing new {_fmt(out['empty_new_process']['seconds'])} s"
    )
    return out


def _cli_seconds(args: list[str], home: Path) -> float:
    """Wall time of an ``ecocloud`` command as a new process (what a scheduled task pays)."""
    env = {**os.environ, "ECOCLOUD_HOME": str(home)}
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).with_name("ecocloud")), *args],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return round(time.perf_counter() - started, 3)


def _fmt(spread: dict[str, float], nd: int = 1) -> str:
    return "/".join(f"{spread[k]:,.{nd}f}" for k in ("min", "median", "max"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loggers", type=int, default=1000)
    ap.add_argument("--hours", type=int, default=168, help="hours generated (sizes beyond are skipped)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--baseline-packets", type=int, default=150_000, help="lines of the day per baseline run")
    ap.add_argument("--sizes", default="1,24,168", help="hours of captures per size, comma-separated")
    ap.add_argument("--skip-hourly", action="store_true", help="no hourly-DAG runs (next hour, empty hour)")
    ap.add_argument("--history", type=int, default=24, help="hours the hourly-DAG runs' home holds")
    ap.add_argument("--skip-baseline", action="store_true", help="no plain per-packet parser")
    a = ap.parse_args(argv)

    t0 = time.perf_counter()
    files = generate(a.data / "captures", loggers=a.loggers, hours=max(a.hours, a.history + 1), start=START)
    size = sum(p.stat().st_size for p in files)
    print(f"captures: {len(files)} hourly files, {size / 1e6:,.0f} MB ({time.perf_counter() - t0:.0f} s)")
    print(f"machine: {machine.summary()}")
    result: dict[str, Any] = {
        "machine": machine.describe(),
        "input": {"loggers": a.loggers, "files": len(files), "bytes": size},
        "load_average_before": os.getloadavg(),
    }
    t0 = time.perf_counter()
    ours(files[:1], a.data / "warm-up")  # imports, GX context and suites: once per process
    result["warm_up_seconds"] = round(time.perf_counter() - t0, 3)
    print(f"warm-up (imports, GX suites; one hour): {result['warm_up_seconds']:.1f} s")
    result["sizes"], result["baselines"] = run_sizes(
        files[: a.hours],
        a.data,
        a.runs,
        [int(h) for h in a.sizes.split(",")],
        None if a.skip_baseline else a.baseline_packets,
    )
    points = [(s["runs"][0]["lines"], s["seconds"]["median"]) for s in result["sizes"].values()]
    if len(points) >= 2:
        fixed, per_packet = _fit(points)
        result["fit"] = {"fixed_seconds": round(fixed, 3), "us_per_packet": round(per_packet * 1e6, 2)}
        print(f"fit over sizes: {fixed:.2f} s per run + {per_packet * 1e6:.2f} µs per packet")
    if not a.skip_hourly:
        result["hourly"] = run_hourly(files, a.data, a.runs, a.history)
    result["load_average_after"] = os.getloadavg()
    print(f"load average before/after: {result['load_average_before']} / {result['load_average_after']}")
    (a.data / "results.json").write_text(json.dumps(result, indent=1, default=str))
    print(f"results: {a.data / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
