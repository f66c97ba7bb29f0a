"""The straightforward pandas pipeline the air benchmark compares against.

For every day file: ``pd.read_csv`` → drop the empty trailing columns → ``melt`` to long
(date, hour, type, station_code, value), dropping empty cells → ``to_parquet``, one file per day.
What a competent analyst would write first; not tuned, not handicapped.

    python bench/baseline_pandas.py bench/out/air-2023 bench/out/air-2023-baseline
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd


def convert_day(path: Path, out_dir: Path) -> int:
    """One day file to one long Parquet file; returns the number of rows written."""
    df = pd.read_csv(path, encoding="utf-8-sig")  # utf-8-sig: some files start with a BOM
    df = df.loc[:, ~df.columns.str.startswith("Unnamed:")]  # empty header names at the end
    long = df.melt(id_vars=["date", "hour", "type"], var_name="station_code", value_name="value")
    long = long.dropna(subset=["value"])
    long.to_parquet(out_dir / f"{path.stem}.parquet", index=False)
    return len(long)


def run_baseline(in_dir: Path | str, out_dir: Path | str) -> dict[str, float]:
    """Convert every ``china_sites_*.csv`` in ``in_dir``; return timing and size statistics."""
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = sorted(in_dir.glob("china_sites_*.csv"))
    t0 = time.perf_counter()
    rows = sum(convert_day(f, out_dir) for f in files)
    seconds = time.perf_counter() - t0
    bytes_in = sum(f.stat().st_size for f in files)
    bytes_out = sum(p.stat().st_size for p in out_dir.glob("china_sites_*.parquet"))
    return {
        "files": len(files),
        "rows": rows,
        "seconds": seconds,
        "mb_in": bytes_in / 1e6,
        "mb_out": bytes_out / 1e6,
        "rows_per_s": rows / seconds if seconds else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("in_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    a = ap.parse_args()
    s = run_baseline(a.in_dir, a.out_dir)
    print(
        f"pandas baseline: {s['files']:.0f} files, {s['rows']:,.0f} rows, {s['mb_in']:.0f} MB in → "
        f"{s['mb_out']:.0f} MB Parquet in {s['seconds']:.1f} s ({s['rows_per_s']:,.0f} rows/s)"
    )


if __name__ == "__main__":
    main()
