"""HJ 212 file ingest benchmark: packets per second end to end into the lake, ours vs a plain baseline.

    .venv/bin/python -m bench.run_hj212_ingest [--packets 2000000] [--data DIR] [--baseline-packets N]

1. Generates (once; reused when present) capture files of real-shaped HJ 212-2017 packets with
   ``protocol.build_packet``: one file per hour, outlets of both kinds — wastewater (ST 32: flow,
   COD, NH3-N, TP, TN, pH) and flue gas (ST 31: flow, O2, velocity, temperature, pressure, humidity,
   particulates/SO2/NOx with converted values) — each sending real-time data every 6 min (2011),
   minute data every 15 min (2051), hourly data (2061), facility state (2021), daily data at
   midnight (2031), heartbeats and command replies — the command mix of the real captures in
   ../shared/data/hj212-real; ~0.3 % of
   lines damaged (a dropped byte) and ~0.5 % retransmitted, as in the field.
2. **ours**: the ``source`` spec through the runner (as ``ecocloud ingest hj212``) into a fresh ECOCLOUD_HOME — land the
   bytes in the raw zone, batch-parse (vectorised, one process per core), quality gate, write
   packets / readings / quarantine partitions, hourly and daily marts, refresh serving — timed as a
   whole and by stage.
3. **baseline**: a straightforward per-packet parser (check framing and the CRC with the
   textbook table loop, split on ';' and '=' into dicts, one dict per reading), then a pandas
   DataFrame per table and ``to_parquet``. Same files, same machine, same run; on a subset when
   ``--baseline-packets`` is smaller (its rate is per packet, so it compares).

Prints a table and writes ``<data>/results.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from ingest.hj212.protocol import BEIJING, build_packet

DEFAULT_DIR = Path(tempfile.gettempdir()) / "ecocloud-bench-hj212"
DAY = dt.date(2026, 11, 20)
# Per outlet and hour, the command mix of the real captures (2011 48 %, 2051 19 %, 2061 4 %, 2021 9 %,
# heartbeats and replies 20 %): 10 × 2011, 4 × 2051, 1 × 2061, 2 × 2021, 1 × 8013 heartbeat,
# 1 × 9011 + 1 × 9012 (replies to a platform command), and 2031 at midnight.
PACKETS_PER_OUTLET_HOUR = 20

WASTEWATER = (
    ("w00000", 25.0, 3),  # flow L/s
    ("w01018", 40.0, 1),  # COD mg/L
    ("w21003", 2.0, 3),  # NH3-N
    ("w21011", 0.3, 3),  # TP
    ("w21001", 10.0, 2),  # TN
    ("w01001", 7.2, 2),  # pH
)
FLUE_GAS = (
    ("a00000", 90.0, 2, False),  # flow m³/s
    ("a19001", 8.0, 2, False),  # O2 %
    ("a01011", 12.0, 2, False),  # velocity
    ("a01012", 120.0, 1, False),  # temperature
    ("a01013", -0.2, 3, False),  # pressure kPa
    ("a01014", 9.0, 2, False),  # humidity %
    ("a34013", 6.0, 2, True),  # particulates, with converted values
    ("a21026", 25.0, 2, True),  # SO2
    ("a21002", 40.0, 2, True),  # NOx
)
FLAGS = ("N",) * 60 + ("D", "M", "C", "T")


def _mn(i: int) -> str:
    return f"{0x888836 << 72 | i:024X}"


def _flag(rng: random.Random) -> str:
    return rng.choice(FLAGS)


def _items_rt(rng: random.Random, wastewater: bool) -> dict[str, dict[str, float | str]]:
    items: dict[str, dict[str, float | str]] = {}
    if wastewater:
        for code, base, nd in WASTEWATER:
            items[code] = {"Rtd": round(base * rng.uniform(0.6, 1.4), nd), "Flag": _flag(rng)}
    else:
        for code, base, nd, zs in FLUE_GAS:
            v = round(base * rng.uniform(0.6, 1.4), nd)
            sub: dict[str, float | str] = {"Rtd": v}
            if zs:
                sub["ZsRtd"] = round(v * 1.25, nd)
            sub["Flag"] = _flag(rng)
            items[code] = sub
    return items


def _items_period(
    rng: random.Random, wastewater: bool, cou_scale: float
) -> dict[str, dict[str, float | str]]:
    items: dict[str, dict[str, float | str]] = {}
    rows = [(c, b, n, False) for c, b, n in WASTEWATER] if wastewater else list(FLUE_GAS)
    for code, base, nd, zs in rows:
        lo, hi = sorted((base * rng.uniform(0.6, 1.0), base * rng.uniform(1.0, 1.4)))
        sub: dict[str, float | str] = {
            "Min": round(lo, nd),
            "Avg": round((lo + hi) / 2, nd),
            "Max": round(hi, nd),
        }
        if code in ("w00000", "a00000", "w01018", "a21026"):
            sub["Cou"] = round(base * cou_scale, 2)
        if zs:
            sub.update(
                ZsMin=round(lo * 1.25, nd), ZsAvg=round((lo + hi) * 0.625, nd), ZsMax=round(hi * 1.25, nd)
            )
        sub["Flag"] = _flag(rng)
        items[code] = sub
    return items


def _hour_file(args: tuple[Path, int, int, int, int]) -> tuple[str, int]:
    out_dir, hour, n_outlets, seed, budget = args
    rng = random.Random(seed * 1000 + hour)
    start = dt.datetime.combine(DAY, dt.time(hour), BEIJING)
    lines: list[bytes] = []
    for o in range(n_outlets):
        mn = _mn(o)
        wastewater = o % 5 < 3  # 60 % wastewater outlets, 40 % flue gas
        st = "32" if wastewater else "31"
        offset = rng.randrange(0, 300)
        events: list[tuple[dt.datetime, str]] = [
            (start + dt.timedelta(seconds=offset + 360 * k), "2011") for k in range(10)
        ]
        events += [(start + dt.timedelta(minutes=15 * k), "2051") for k in range(4)]
        events += [(start - dt.timedelta(hours=1), "2061")]
        events += [(start + dt.timedelta(minutes=30 * k + 7), "2021") for k in range(2)]
        events += [(start + dt.timedelta(minutes=20), c) for c in ("8013", "9011", "9012")]
        if hour == 0:
            events.append((start - dt.timedelta(days=1), "2031"))
        for when, cn in events:
            qn = when.strftime("%Y%m%d%H%M%S") + f"{rng.randrange(1000):03d}"
            if cn in ("2011", "2051", "2061", "2031"):
                if cn == "2011":
                    items = _items_rt(rng, wastewater)
                else:
                    items = _items_period(rng, wastewater, {"2051": 900, "2061": 3600, "2031": 86400}[cn])
                pkt = build_packet(qn=qn, st=st, cn=cn, mn=mn, flag=5, data_time=when, items=items)
            elif cn == "2021":
                pkt = build_packet(
                    qn=qn,
                    st=st,
                    cn=cn,
                    mn=mn,
                    flag=5,
                    data_time=when,
                    facilities={"SB1": {"RS": 1}, "SB2": {"RS": 1}},
                )
            elif cn == "8013":
                pkt = build_packet(qn=qn, st=st, cn=cn, mn=mn, flag=4, cp="HeartbeatTime=120")
            else:
                rtn = "QnRtn=1" if cn == "9011" else "ExeRtn=1"
                pkt = build_packet(qn=qn, st="91", cn=cn, mn=mn, flag=4, cp=rtn)
            r = rng.random()
            if r < 0.003:  # a dropped byte on the line: length/CRC mismatch
                cut = rng.randrange(10, len(pkt) - 10)
                pkt = pkt[:cut] + pkt[cut + 1 :]
            lines.append(pkt)
            if r > 0.995:  # retransmission
                lines.append(pkt)
    rng.shuffle(lines)
    lines = lines[:budget]
    name = f"{DAY.isoformat()}T{hour:02d}.h212"
    (out_dir / name).write_bytes(b"".join(lines))
    return name, len(lines)


def generate(out_dir: Path, packets: int, seed: int = 212) -> list[Path]:
    """Capture files totalling ``packets`` lines (reused if a previous run made the same set)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    marker = out_dir / "captures.json"
    want = {"packets": packets, "seed": seed, "version": 2}
    if marker.exists() and json.loads(marker.read_text()).get("spec") == want:
        return [out_dir / n for n in json.loads(marker.read_text())["files"]]
    for old in out_dir.glob("*.h212"):
        old.unlink()
    hours = 24
    per_hour = -(-packets // hours)
    n_outlets = -(-per_hour // PACKETS_PER_OUTLET_HOUR)
    jobs = [(out_dir, h, n_outlets, seed, min(per_hour, packets - h * per_hour)) for h in range(hours)]
    jobs = [j for j in jobs if j[4] > 0]
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        made = list(pool.map(_hour_file, jobs))
    marker.write_text(
        json.dumps({"spec": want, "files": [n for n, _ in made], "lines": sum(c for _, c in made)})
    )
    return [out_dir / n for n, _ in made]


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


def ours(files: list[Path], home: Path, workers: int | None) -> dict[str, Any]:
    from ecocloud.builds import sources
    from ecocloud.runner import engine
    from ecocloud.runner.context import RunInfo
    from ecocloud.settings import Settings
    from ecocloud.specs import get_spec

    if home.exists():
        shutil.rmtree(home)
    settings = Settings(home=home)
    t0 = time.perf_counter()
    report = engine.land_and_run(
        settings,
        get_spec("source"),
        lambda s, led: sources.land_captures(s, led, [str(p) for p in files]),
        RunInfo.cli("bench", workers=workers),
    )
    total = time.perf_counter() - t0
    c = report.counts("lines", "accepted", "quarantined", "readings", "fast")
    core_s = report.timings["land"] + report.timings["source.core"]
    return {
        "lines": c["lines"],
        "packets": c["accepted"],
        "quarantined": c["quarantined"],
        "readings": c["readings"],
        "fast_path_lines": c["fast"],
        "dates": len(report.of("marts")),
        "seconds": round(total, 3),
        "stages_seconds": {k: round(v, 3) for k, v in report.timings.items()},
        # raw zone → parse → quality gate → packets/readings/quarantine partitions written
        "core_packets_per_s": round(c["lines"] / core_s),
        # ... plus hourly/daily marts and the serving database
        "packets_per_s": round(c["lines"] / total),
        "readings_per_s": round(c["readings"] / total),
        "lake_bytes": sum(p.stat().st_size for p in settings.lake.rglob("*.parquet")),
        "status": report.status,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packets", type=int, default=2_000_000)
    ap.add_argument("--data", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--baseline-packets", type=int, default=300_000, help="0 = all")
    ap.add_argument("--workers", type=int, default=None, help="parser processes (default: cores)")
    ap.add_argument("--skip-baseline", action="store_true")
    a = ap.parse_args(argv)

    t0 = time.perf_counter()
    files = generate(a.data, a.packets)
    gen_s = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in files)
    print(
        f"captures: {len(files)} files, {size / 1e6:,.0f} MB in {a.data} (generated/reused in {gen_s:.1f}s)"
    )
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "input": {"files": len(files), "bytes": size},
    }
    result["load_average_before"] = os.getloadavg()  # other processes on the machine skew the figures
    result["ours"] = ours(files, a.data / "home", a.workers)
    o = result["ours"]
    print(
        f"ours:     {o['lines']:,} lines ({o['packets']:,} packets, {o['quarantined']:,} quarantined, "
        f"{o['readings']:,} readings) in {o['seconds']:.1f}s"
    )
    print(
        f"          core (raw zone → parse → gate → core partitions): {o['core_packets_per_s']:,} packets/s"
    )
    print(f"          with hourly/daily marts and serving: {o['packets_per_s']:,} packets/s")
    print(f"          run stages (s): {o['stages_seconds']}")
    if not a.skip_baseline:
        limit = a.baseline_packets or None
        result["baseline"] = baseline(files, a.data / "baseline", limit)
        b = result["baseline"]
        print(
            f"baseline: {b['lines']:,} lines ({b['packets']:,} packets, {b['readings']:,} readings) in "
            f"{b['seconds']:.1f}s = {b['packets_per_s']:,} packets/s"
        )
        print(
            f"speed-up: core {o['core_packets_per_s'] / b['packets_per_s']:.1f}x, "
            f"with marts {o['packets_per_s'] / b['packets_per_s']:.1f}x (the baseline has no gate, no marts)"
        )
    result["load_average_after"] = os.getloadavg()
    print(f"load average before/after: {result['load_average_before']} / {result['load_average_after']}")
    (a.data / "results.json").write_text(json.dumps(result, indent=1))
    print(f"results: {a.data / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
