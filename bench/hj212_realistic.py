"""HJ 212 capture files shaped like the real ones: a province's fleet of data loggers, hour by hour.

    .venv/bin/python -m bench.hj212_realistic OUT_DIR [--loggers 3000] [--hours 24] [--start 2026-11-20T00]

What the three real hours in ``../shared/data/hj212-real`` show (26,777 lines, counted with
``ingest.hj212.batch.parse_capture``), and what each generated hour reproduces:

* 285 loggers, ≈ 31 lines per logger and hour, 260 bytes a line on average (median 163);
* the command mix: 2011 50.5 %, 2051 19.8 %, 2021 9.9 %, 9015 8.3 %, 8013 5.1 %, 2061 3.7 %,
  2031 0.8 %, 9011 and 9012 0.75 % each, 2072 / 1013 / 2073 a few;
* dates: 94 % on the capture's day, 5.1 % on the day before (back-filled history), 0.7 % from loggers
  whose clock is wrong (2000-02-02 after a reset; 2015 dates from a clock a year or more behind):
  one hour touches 7 dates, six hours 14;
* 0.06 % damaged lines (a dropped byte: length or CRC mismatch, a missing tail) and a few junk lines;
* all 2005-style (no QN or Flag, 2005 codes such as ``B01``, ``011``, ``S01``, ``DataTime`` with
  milliseconds, ``01-Flag`` repeated after ``01-ZsRtd``). A province today also runs 2017-style
  loggers: here 60 % of loggers are 2017-style (QN, Flag=5, 2017 codes), 40 % 2005-style.

Loggers are 60 % wastewater outfalls (ST 32), 40 % flue-gas stacks (ST 31). Back-fill reaches up to
seven days back (most of it the day before); 1 % of loggers have a wrong clock (half reset to
2000-02-02, half a fixed 408 or 500 days behind). Output: one ``<start+h>.h212`` file per hour,
lines shuffled within the hour, reused when a previous call made the same set.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from ingest.hj212.protocol import build_packet
from schemas.clock import BEIJING

VERSION = 1
# (2017 code, 2005 code, typical value, decimals, has converted Zs values)
WASTEWATER = (
    ("w00000", "B01", 25.0, 2, False),
    ("w01018", "011", 40.0, 1, False),
    ("w21003", "060", 2.0, 3, False),
    ("w21011", "101", 0.3, 3, False),
    ("w01001", "001", 7.2, 2, False),
)
FLUE_GAS = (
    ("a00000", "B02", 90.0, 2, False),
    ("a19001", "S01", 8.0, 1, False),
    ("a01011", "S02", 12.0, 2, False),
    ("a01012", "S03", 120.0, 1, False),
    ("a01013", "S08", -0.2, 3, False),
    ("a01014", "S05", 9.0, 1, False),
    ("a34013", "01", 6.0, 2, True),
    ("a21026", "02", 25.0, 2, True),
    ("a21002", "03", 40.0, 3, True),
)
FLAGS = ("N",) * 60 + ("D", "M", "C", "T")
# lines per logger and hour by command (≈ 31: the real captures' mix)
EVERY_HOUR = {"2011": 16, "2051": 6, "2021": 3, "9015": 3, "8013": 2, "2061": 1}
SOMETIMES = {"2031": 0.26, "9011": 0.24, "9012": 0.24, "2072": 0.01, "1013": 0.004, "2073": 0.002}
BACKFILL_SHARE = 0.055
DAMAGED_SHARE = 0.0006
WRONG_CLOCK_SHARE = 0.01


class Logger:
    def __init__(self, index: int, rng: random.Random) -> None:
        self.wastewater = index % 5 < 3
        self.legacy = index % 5 in (1, 4)  # 40 % 2005-style
        self.mn = f"LD{360000000000 + index:012d}" if self.legacy else f"{0x888836 << 72 | index:024X}"
        self.st = "32" if self.wastewater else "31"
        self.clock: dt.timedelta | dt.datetime | None = None
        if rng.random() < WRONG_CLOCK_SHARE:
            self.clock = (
                dt.datetime(2000, 2, 2, tzinfo=BEIJING)
                if rng.random() < 0.5
                else -dt.timedelta(days=rng.choice((408, 500)))
            )

    def stamp(self, when: dt.datetime) -> dt.datetime:
        if isinstance(self.clock, dt.datetime):
            return self.clock  # reset clock: always the same instant
        return when + self.clock if self.clock is not None else when

    def items(self, rng: random.Random, cn: str) -> dict[str, dict[str, float | str]]:
        out: dict[str, dict[str, float | str]] = {}
        for code17, code05, base, nd, zs in WASTEWATER if self.wastewater else FLUE_GAS:
            v = round(base * rng.uniform(0.6, 1.4), nd)
            if cn == "2011":
                sub: dict[str, float | str] = {"Rtd": v, "Flag": rng.choice(FLAGS)}
                if zs:
                    sub["ZsRtd"] = round(v * 1.25, nd)
                    if self.legacy:
                        sub["Flag"] = "N"
            else:
                lo, hi = sorted((round(v * 0.8, nd), round(v * 1.2, nd)))
                sub = {"Min": lo, "Avg": v, "Max": hi}
                if code17 in ("w00000", "a00000", "a21026", "w01018"):
                    sub = {"Cou": round(v * 3600, 2), **sub}
                if zs:
                    sub.update(
                        ZsMin=round(lo * 1.25, nd), ZsAvg=round(v * 1.25, nd), ZsMax=round(hi * 1.25, nd)
                    )
                if not self.legacy:
                    sub["Flag"] = rng.choice(FLAGS)
            out[code05 if self.legacy else code17] = sub
        return out

    def packet(self, rng: random.Random, cn: str, when: dt.datetime) -> bytes:
        qn = None if self.legacy else when.strftime("%Y%m%d%H%M%S") + f"{rng.randrange(1000):03d}"
        flag = None if self.legacy else 5
        if cn in ("2011", "2051", "2061", "2031", "2021"):
            content: dict[str, Any] = (
                {"facilities": {"SB1": {"RS": 1}, "SB2": {"RS": rng.choice((0, 1))}}}
                if cn == "2021"
                else {"items": self.items(rng, cn), "millis": self.legacy}
            )
            return build_packet(
                qn=qn, st=self.st, cn=cn, mn=self.mn, flag=flag, data_time=self.stamp(when), **content
            )
        if cn == "8013":
            return build_packet(st=self.st, cn=cn, mn=self.mn, flag=0, cp="HeartbeatTime=120")
        stamp = self.stamp(when).strftime("%Y%m%d%H%M%S")
        if cn in ("2072", "2073"):
            alarm = f"AlarmTime={stamp};{'B01' if self.legacy else 'w00000'}-Ala=16.00,AlarmType=1"
            return build_packet(qn=stamp + "000", st=self.st, cn=cn, mn=self.mn, flag=1, cp=alarm)
        # replies: 2005-style loggers put the request's QN inside CP
        asked = f"QN={when:%Y%m%d%H%M%S}{rng.randrange(1000):03d}"
        cp = {
            "9011": "QnRtn=1",
            "9012": "ExeRtn=1",
            "9015": f"DataTime={stamp}000;CON-RT=0",
            "1013": "",
        }[cn]
        if self.legacy and cn != "9015":
            cp = f"{asked};{cp}" if cp else asked
        return build_packet(qn=qn, st="91", cn=cn, mn=self.mn, flag=0 if self.legacy else 4, cp=cp)


def _data_time(rng: random.Random, cn: str, hour_start: dt.datetime, minute: float) -> dt.datetime:
    if cn in ("2011", "2051", "2061", "2031", "2021") and rng.random() < BACKFILL_SHARE:
        hours_back = rng.randint(1, 24) if rng.random() < 0.9 else rng.randint(25, 7 * 24)
        return hour_start - dt.timedelta(hours=hours_back, minutes=rng.randrange(60))
    if cn == "2061":
        return hour_start - dt.timedelta(hours=1)
    if cn == "2031":
        return (hour_start - dt.timedelta(days=1)).replace(hour=0)
    return hour_start + dt.timedelta(minutes=minute)


def _damage(rng: random.Random, pkt: bytes) -> bytes:
    kind = rng.random()
    if kind < 0.8:  # a dropped byte: length or CRC mismatch
        cut = rng.randrange(8, len(pkt) - 8)
        return pkt[:cut] + pkt[cut + 1 :]
    if kind < 0.9:
        return pkt[: len(pkt) // 2] + b"\r\n"  # a missing tail
    return b"##test\r\n"  # junk from a technician


def hour_file(args: tuple[Path, dt.datetime, int, int]) -> tuple[str, int]:
    out_dir, hour_start, n_loggers, seed = args
    rng = random.Random(f"{seed}/{hour_start.isoformat()}")
    fleet = [Logger(i, random.Random(f"{seed}/logger/{i}")) for i in range(n_loggers)]
    lines: list[bytes] = []
    for logger in fleet:
        cns = [cn for cn, n in EVERY_HOUR.items() for _ in range(n)]
        cns += [cn for cn, p in SOMETIMES.items() if rng.random() < p]
        for k, cn in enumerate(cns):
            minute = 60 * k / len(cns)
            pkt = logger.packet(rng, cn, _data_time(rng, cn, hour_start, minute))
            lines.append(_damage(rng, pkt) if rng.random() < DAMAGED_SHARE else pkt)
    rng.shuffle(lines)
    name = f"{hour_start:%Y-%m-%dT%H}.h212"
    (out_dir / name).write_bytes(b"".join(lines))
    return name, len(lines)


def generate(out_dir: Path, *, loggers: int, hours: int, start: dt.datetime, seed: int = 212) -> list[Path]:
    """One capture file per hour (reused when the same set was made before)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    marker = out_dir / "captures.json"
    want = {"loggers": loggers, "hours": hours, "start": start.isoformat(), "seed": seed, "version": VERSION}
    if marker.exists() and json.loads(marker.read_text()).get("spec") == want:
        return [out_dir / n for n in json.loads(marker.read_text())["files"]]
    for old in out_dir.glob("*.h212"):
        old.unlink()
    jobs = [(out_dir, start + dt.timedelta(hours=h), loggers, seed) for h in range(hours)]
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        made = list(pool.map(hour_file, jobs))
    marker.write_text(
        json.dumps({"spec": want, "files": [n for n, _ in made], "lines": sum(c for _, c in made)})
    )
    return [out_dir / n for n, _ in made]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--loggers", type=int, default=3000)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--start", default="2026-11-20T00")
    a = ap.parse_args(argv)
    start = dt.datetime.strptime(a.start, "%Y-%m-%dT%H").replace(tzinfo=BEIJING)
    files = generate(a.out, loggers=a.loggers, hours=a.hours, start=start)
    print(f"{len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:,.0f} MB in {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
