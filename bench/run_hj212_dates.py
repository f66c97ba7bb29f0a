"""HJ 212 ingest cost per line: real captures as captured (many dates) vs the same lines on one date.

    .venv/bin/python -m bench.run_hj212_dates [--runs 3]

Real captures touch many dates — loggers back-fill history, some clocks are wrong — and any cost a
pipeline pays per date touched (a gate run, a part file, a mart rebuild) shows up there and not on
clean synthetic input. Input: the real captures in ../shared/data/hj212-real. The "one date" shape
is the same lines with every valid packet's DataTime moved to the capture's own day (same time of
day, CRC recomputed; damaged lines left as they are, so they are rejected the same way). Both
shapes go through the ``source`` spec (``ecocloud ingest hj212``: raw zone, parse, gate, packets,
readings, quarantine, hourly and daily marts, serving) into a fresh home, ``--runs`` times each,
alternating; reported: min/median/max seconds, µs per line, and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ingest.hj212.crc import crc16_hj212_hex

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hj212-real"
_FRAME = re.compile(rb"^##(\d{4})(.*)([0-9A-Fa-f]{4})\r\n$", re.S)
_DATATIME = re.compile(rb"DataTime=(\d{8})")


def one_date(line: bytes, day: bytes) -> bytes:
    """``line`` with its DataTime on ``day`` (YYYYMMDD) and a fresh CRC; damaged lines unchanged."""
    m = _FRAME.match(line)
    if m is None or int(m.group(1)) != len(m.group(2)):
        return line
    segment = m.group(2)
    if crc16_hj212_hex(segment).encode() != m.group(3).upper():
        return line
    moved = _DATATIME.sub(b"DataTime=" + day, segment)
    return b"##" + m.group(1) + moved + crc16_hj212_hex(moved).encode() + b"\r\n"


def shapes(out: Path) -> dict[str, list[Path]]:
    captured = sorted(SHARED.glob("*.h212.gz"))
    if not captured:
        raise SystemExit(f"no real captures in {SHARED}")
    flat = []
    for path in captured:
        day = path.name[:10].replace("-", "").encode()
        lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
        target = out / path.name.replace(".h212.gz", "-one-date.h212")
        target.write_bytes(b"".join(one_date(line, day) for line in lines))
        flat.append(target)
    return {"as captured": captured, "one date": flat}


def ingest(files: list[Path], home: Path) -> dict[str, Any]:
    from ecocloud.builds import sources
    from ecocloud.runner import engine
    from ecocloud.runner.context import RunInfo
    from ecocloud.settings import Settings
    from ecocloud.specs import get_spec

    shutil.rmtree(home, ignore_errors=True)
    settings = Settings(home=home)
    started = time.perf_counter()
    report = engine.land_and_run(
        settings,
        get_spec("source"),
        lambda s, led: sources.land_captures(s, led, files),
        RunInfo.cli("bench"),
    )
    seconds = time.perf_counter() - started
    lines = report.counts("lines")["lines"]
    return {"seconds": seconds, "lines": lines, "dates": len(report.of("marts")), "timings": report.timings}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        inputs = shapes(Path(tmp))
        ingest(inputs["one date"][:1], Path(tmp) / "warm-up")  # imports, GX suites: not per-run costs
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in inputs}
        for i in range(a.runs):
            for name, files in inputs.items():
                runs[name].append(ingest(files, Path(tmp) / f"home-{i}"))
    result = {}
    for name, rs in runs.items():
        secs = sorted(r["seconds"] for r in rs)
        lines = rs[0]["lines"]
        result[name] = {
            "lines": lines,
            "dates": rs[0]["dates"],
            "seconds_min_median_max": [
                round(secs[0], 2),
                round(statistics.median(secs), 2),
                round(secs[-1], 2),
            ],
            "us_per_line_median": round(statistics.median(secs) / lines * 1e6, 1),
            "timings_last_run": {k: round(v, 2) for k, v in rs[-1]["timings"].items()},
        }
        print(f"{name:12} {lines:,} lines, {rs[0]['dates']} dates: {result[name]}")
    ratio = result["as captured"]["us_per_line_median"] / result["one date"]["us_per_line_median"]
    print(f"cost per line, as captured / one date: {ratio:.2f}x (goal ≤ 1.5x)")
    print(json.dumps(result | {"ratio": round(ratio, 2)}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
