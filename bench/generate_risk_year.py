"""A year of ``mart_source__hourly`` for the risk benchmark, written straight into the lake layout.

    .venv/bin/python -m bench.generate_risk_year [--outlets 10000] [--days 365] [--out DIR]

Outlets come in pairs per enterprise: a flue-gas stack (SO2, NOx, particulates, O2, flow — the
three pollutants with converted values and permit limits at 6 % O2) and a wastewater outfall (COD,
NH3-N, TP, pH, flow). 5 pollutants × 24 hours per outlet and day: 10,000 outlets make 1.2 M hourly
rows a day, 438 M a year. Shapes: per-outlet levels at 30–80 % of the limit, hourly noise, a
diurnal load, flags (≈ 1 % abnormal, 0.2 % manual), and at small rates the faults the risk marts
look for: exceedance hours, flat lines, zero runs, values just under the limit, missing values and
silent loggers. Values are rounded to 3 decimals as loggers send them.

Registries (unpartitioned, one version each, received before the data): monitoring points,
enterprises (11 Jiangxi prefectures, two industries), permits with outlets and limits (2 % of
enterprises without a permit: national defaults apply; 1 % expired), credit ratings.
Deterministic from ``--seed``; vectorised with numpy and Arrow (one day at a time).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from schemas import credit as credit_schema
from schemas import master as master_schema
from schemas import permits as permit_schema
from schemas import source as source_schema
from schemas.registry import Table
from transforms.identifiers import USCC_CHARSET, uscc_check_char
from warehouse import lake as lk

DEFAULT_DIR = Path(tempfile.gettempdir()) / "ecocloud-bench-risk"
END = dt.date(2026, 11, 20)
REGIONS = (
    "360100",
    "360200",
    "360300",
    "360400",
    "360500",
    "360600",
    "360700",
    "360800",
    "360900",
    "361000",
    "361100",
)
BJ = dt.timezone(dt.timedelta(hours=8))
REGISTERED_AT = dt.datetime(2024, 1, 1, tzinfo=BJ)
# code, unit, level (flue-gas conc: share of the limit), limit, o2 reference
AIR = (("a21026", "mg/m³", 0.5, 35.0), ("a21002", "mg/m³", 0.6, 50.0), ("a34013", "mg/m³", 0.4, 10.0),
       ("a19001", "%", 8.0, None), ("a00000", "m³/s", 60.0, None))  # fmt: skip
WATER = (("w01018", "mg/L", 0.5, 50.0), ("w21003", "mg/L", 0.3, 5.0), ("w21011", "mg/L", 0.4, 0.5),
         ("w01001", "-", 7.2, None), ("w00000", "L/s", 40.0, None))  # fmt: skip
P = 5  # pollutants per outlet


def _usccs(n: int, rng: np.random.Generator) -> list[str]:
    out = []
    for i in range(n):
        body = "".join(USCC_CHARSET[k] for k in rng.integers(0, 31, 9))
        first17 = "91" + REGIONS[i % len(REGIONS)] + body
        out.append(first17 + uscc_check_char(first17))
    return out


class Province:
    """The outlets, enterprises and their per-pollutant levels (deterministic from the seed)."""

    def __init__(self, outlets: int, seed: int) -> None:
        if outlets % 2:
            raise ValueError("outlets come in pairs (a stack and an outfall per enterprise)")
        rng = np.random.default_rng(seed)
        self.n = outlets
        self.mn = [f"{0xB0000000 + i:024X}" for i in range(outlets)]
        self.uscc = _usccs(outlets // 2, rng)
        self.is_air = np.arange(outlets) % 2 == 0
        self.codes = np.array([[c[0] for c in (AIR if a else WATER)] for a in self.is_air])
        self.units = np.array([[c[1] for c in (AIR if a else WATER)] for a in self.is_air])
        spec = np.array([[c[2] for c in (AIR if a else WATER)] for a in self.is_air], dtype=float)
        limit = np.array([[c[3] or np.nan for c in (AIR if a else WATER)] for a in self.is_air], dtype=float)
        share = np.where(np.isnan(limit), 1.0, rng.uniform(0.6, 1.3, (outlets, P)))
        self.level = np.where(np.isnan(limit), spec, spec * share * np.nan_to_num(limit, nan=1.0))
        self.limit = limit
        self.region = [REGIONS[(i // 2) % len(REGIONS)] for i in range(outlets)]
        self.no_permit = rng.random(outlets // 2) < 0.02
        self.expired = ~self.no_permit & (rng.random(outlets // 2) < 0.01)


def _write(lake: Path, table: Table, n: int, columns: dict[str, Any]) -> None:
    """An unpartitioned registry table: the given columns (lists or one value for all rows),
    every other column NULL."""
    arrays = []
    for col in table.columns:
        v = columns.get(col.name)
        if v is None:
            arrays.append(pa.nulls(n, col.arrow_type))
        else:
            arrays.append(pa.array(v if isinstance(v, list) else [v] * n, col.arrow_type))
    lk.write_partition(lake, table, pa.Table.from_arrays(arrays, names=table.column_names), None)


def registries(p: Province, lake: Path, end: dt.date) -> None:
    """Monitoring points, enterprises, permits, outlets, limits and credit ratings."""
    m = p.n // 2
    outlet = ["DA001" if a else "DW001" for a in p.is_air]
    names = [f"基准企业{i}" for i in range(m)]
    industry = ["D4411" if i % 3 else "D4620" for i in range(m)]
    _write(lake, master_schema.monitoring_points, p.n, {
        "mn": p.mn, "mn_standard": True, "uscc": [p.uscc[i // 2] for i in range(p.n)], "uscc_valid": True,
        "outlet_code": outlet, "medium": ["air" if a else "water" for a in p.is_air], "region_code": p.region,
        "point_name": [f"点位{i}" for i in range(p.n)], "pollutants": [",".join(c) for c in p.codes],
        "valid_from": REGISTERED_AT, "is_current": True, "raw_file": "raw/master/bench.csv",
    })  # fmt: skip
    _write(lake, master_schema.enterprises, m, {
        "uscc": p.uscc, "uscc_valid": True, "enterprise_name": names, "enterprise_name_norm": names,
        "region_code": p.region[::2], "industry_code": industry, "industry_name": "bench", "valid_from": REGISTERED_AT,
        "is_current": True, "raw_file": "raw/master/bench.csv",
    })  # fmt: skip
    permitted = [i for i in range(m) if not p.no_permit[i]]
    k = len(permitted)
    start = dt.datetime(2022, 1, 1, tzinfo=BJ)
    expired_at = dt.datetime.combine(end - dt.timedelta(days=100), dt.time(0), BJ)
    until = [expired_at if p.expired[i] else None for i in permitted]
    history = {"status": "valid", "valid_from": start, "in_force_from": start}
    _write(lake, permit_schema.permits, k, {
        "permit_no": [p.uscc[i] + "001P" for i in permitted], "version": 1, "version_type": "首次申请",
        "uscc": [p.uscc[i] for i in permitted], "uscc_valid": True, "permit_no_valid": True, "permit_kind": "P",
        "enterprise_name": [names[i] for i in permitted], "enterprise_name_norm": [names[i] for i in permitted],
        "industry_code": [industry[i] for i in permitted], "region_code": [p.region[2 * i] for i in permitted],
        "permit_valid_from": dt.date(2022, 1, 1),
        "permit_valid_to": [u.date() - dt.timedelta(days=1) if u else dt.date(2027, 12, 31) for u in until],
        "effective_date": dt.date(2022, 1, 1), "effective_recorded": False, **history, "in_force_to": until,
        "is_current": True,
        "updated_at": start, "raw_file": "raw/permit/bench.json",
    })  # fmt: skip
    outs = [2 * i + j for i in permitted for j in (0, 1)]  # outlet index
    until_of = {2 * i + j: u for i, u in zip(permitted, until, strict=True) for j in (0, 1)}
    _write(lake, permit_schema.outlets, len(outs), {
        "permit_no": [p.uscc[o // 2] + "001P" for o in outs], "version": 1, "outlet_code": [outlet[o] for o in outs],
        "outlet_kind": "main", "medium": ["air" if p.is_air[o] else "water" for o in outs],
        "uscc": [p.uscc[o // 2] for o in outs], **history, "in_force_to": [until_of[o] for o in outs],
    })  # fmt: skip
    lim = [
        (o, c) for o in outs for c in range(P) if not np.isnan(p.limit[o, c]) or (not p.is_air[o] and c == 3)
    ]
    _write(lake, permit_schema.outlet_limits, len(lim), {
        "permit_no": [p.uscc[o // 2] + "001P" for o, _ in lim], "version": 1,
        "outlet_code": [outlet[o] for o, _ in lim], "pollutant_code": [str(p.codes[o, c]) for o, c in lim],
        "limit_value": [9.0 if c == 3 else float(p.limit[o, c]) for o, c in lim],
        "limit_lower": [6.0 if c == 3 else None for _, c in lim],
        "limit_unit": ["-" if c == 3 else str(p.units[o, c]) for o, c in lim], "standard": "GB (bench)",
        "o2_reference_pct": [6.0 if p.is_air[o] else None for o, _ in lim], "uscc": [p.uscc[o // 2] for o, _ in lim],
        **history, "in_force_to": [until_of[o] for o, _ in lim],
    })  # fmt: skip
    rng = np.random.default_rng(7)
    levels = np.array(["green", "blue", "yellow", "red", "black"])[
        rng.choice(5, m, p=[0.2, 0.55, 0.17, 0.06, 0.02])
    ]
    ranks = {"green": 1, "blue": 2, "yellow": 3, "red": 4, "black": 5}
    _write(lake, credit_schema.ratings, m, {
        "province_code": "360000", "scheme": "jiangxi-5", "year": end.year - 1, "uscc": p.uscc, "uscc_valid": True,
        "enterprise_name": names, "enterprise_name_norm": names, "region_code": p.region[::2],
        "level": levels.tolist(), "level_rank": [ranks[lv] for lv in levels], "level_label": levels.tolist(),
        "raw_file": "raw/credit/bench.xlsx", "sheet": "", "row_no": list(range(1, m + 1)), "received_at": REGISTERED_AT,
    })  # fmt: skip


def day_table(p: Province, day: dt.date, seed: int) -> pa.Table:
    """One day of ``mart_source__hourly`` (rows sorted by mn, pollutant, hour)."""
    rng = np.random.default_rng([seed, day.toordinal()])
    n, h = p.n, 24
    hours = np.arange(h)
    load = 0.85 + 0.12 * np.cos(2 * np.pi * (hours - 14) / 24)  # diurnal
    level = p.level[:, :, None]  # (n, P, 1)
    noise = 1 + 0.08 * rng.standard_normal((n, P, h))
    avg = level * noise * np.where(p.codes[:, :, None] == "w01001", 1.0, load)  # pH has no load
    # faults at small rates: exceedance hours, flat lines, zero runs, clustering just under the limit
    conc = ~np.isnan(p.limit)[:, :, None] & (np.arange(h) >= 0)
    exceed = conc & (rng.random((n, 1, 1)) < 0.01) & (rng.random((n, P, h)) < 0.15)
    avg = np.where(exceed, np.nan_to_num(p.limit, nan=0)[:, :, None] * rng.uniform(1.2, 2.5, (n, P, h)), avg)
    near = conc & (rng.random((n, 1, 1)) < 0.003)
    avg = np.where(near, np.nan_to_num(p.limit, nan=0)[:, :, None] * rng.uniform(0.91, 0.99, (n, P, h)), avg)
    flat_outlet = rng.random(n) < 0.004
    flat = (
        conc & flat_outlet[:, None, None] & (hours >= 8) & (hours < 16) & (np.arange(P)[None, :, None] == 0)
    )
    avg = np.where(flat, level.round(3), avg)
    zero = (
        conc
        & (rng.random((n, 1, 1)) < 0.002)
        & (hours >= 3)
        & (hours < 6)
        & (np.arange(P)[None, :, None] == 1)
    )
    avg = np.where(zero, 0.0, avg)
    avg = avg.round(3)
    spread = np.abs(rng.standard_normal((n, P, h))) * 0.05 * avg
    mn_v = np.where(flat | zero, avg, (avg - spread).round(3))
    mx_v = np.where(flat | zero, avg, (avg + spread).round(3))
    # converted values of the flue-gas pollutants (O2 is pollutant 3 of a stack)
    o2 = np.where(p.is_air[:, None], avg[:, 3, :], np.nan)[:, None, :]
    zs = np.where(p.is_air[:, None, None] & conc, (avg * 15.0 / (21.0 - o2)).round(3), np.nan)
    flags = np.full((n, P, h), "N", dtype="<U1")
    r = rng.random((n, P, h))
    flags[r < 0.01] = "M"
    flags[(r >= 0.01) & (r < 0.012)] = "S"
    keep = rng.random((n, P, h)) >= 0.005  # missing values
    silent = rng.random(n) < 0.002  # whole logger silent from a random hour on
    keep &= ~(silent[:, None, None] & (hours >= rng.integers(0, 24, n)[:, None, None]))
    idx = np.nonzero(keep.ravel())[0]
    o, c, hh = np.unravel_index(idx, (n, P, h))
    day0 = int(dt.datetime.combine(day, dt.time(0), BJ).timestamp() * 1_000_000)
    k = len(idx)

    def floats(a: np.ndarray) -> pa.Array:
        v = a.ravel()[idx]
        return pa.array(v, pa.float64(), mask=np.isnan(v))

    codes = p.codes[o, c]
    air = p.is_air[o]
    mn_dict = pa.array(p.mn)
    return pa.table({
        "date": pa.array(np.full(k, (day - dt.date(1970, 1, 1)).days, np.int32)).cast(pa.date32()),
        "mn": mn_dict.take(pa.array(o)),
        "pollutant_code": pa.array(codes, pa.string()),
        "hour_at": pa.array(day0 + hh.astype(np.int64) * 3_600_000_000).cast(pa.timestamp("us", "UTC")),
        "source_type": pa.array(np.where(air, "flue_gas", "wastewater"), pa.string()),
        "basis": pa.array(np.full(k, "2061"), pa.string()),
        "avg_value": floats(avg), "min_value": floats(mn_v), "max_value": floats(mx_v),
        "cou_value": pa.nulls(k, pa.float64()), "zs_avg_value": floats(zs),
        "zs_min_value": pa.nulls(k, pa.float64()), "zs_max_value": pa.nulls(k, pa.float64()),
        "unit": pa.array(p.units[o, c], pa.string()), "cou_unit": pa.nulls(k, pa.string()),
        "samples": pa.array(np.ones(k, np.int32)), "samples_normal": pa.array((flags.ravel()[idx] == "N").astype(np.int32)),
        "flag": pa.array(flags.ravel()[idx], pa.string()), "retransmissions": pa.array(np.zeros(k, np.int32)),
    })  # fmt: skip


def generate(out: Path, outlets: int, days: int, end: dt.date, seed: int) -> dict[str, float]:
    lake = out / "lake"
    p = Province(outlets, seed)
    t0 = time.perf_counter()
    registries(p, lake, end)
    rows = 0
    for i in range(days):
        day = end - dt.timedelta(days=days - 1 - i)
        t = day_table(p, day, seed)
        rows += t.num_rows
        lk.write_partition(lake, source_schema.hourly, t, day)
    size = sum(f.stat().st_size for f in (lake / "mart" / source_schema.hourly.name).rglob("*.parquet"))
    return {"rows": rows, "seconds": time.perf_counter() - t0, "bytes": size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outlets", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--end", type=dt.date.fromisoformat, default=END)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", type=Path, default=DEFAULT_DIR)
    a = ap.parse_args()
    got = generate(a.out, a.outlets, a.days, a.end, a.seed)
    print(
        f"{got['rows']:,} hourly rows, {got['bytes'] / 2**30:.2f} GiB, {got['seconds']:.0f} s → {a.out / 'lake'}"
    )


if __name__ == "__main__":
    main()
