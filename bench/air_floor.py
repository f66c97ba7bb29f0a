"""The I/O floor of the air benchmark: read each day file, reshape it long, write Parquet — nothing else.

Per day file: ``pyarrow.csv.read_csv`` (cells as float64, empty = null, lines with the wrong field
count skipped), a numpy reshape of the (line × station) grid to long rows
(date, hour, type, station_code, value) keeping the non-empty cells, and one Parquet file (zstd).
The files are spread over a pool of worker processes (default 2: both cores). No typing beyond
that, no AQI, no checks, no daily statistics, no ledger: the least any pipeline must do with these
bytes, which is what ``bench/run_air.py`` measures ours against.

    python bench/air_floor.py bench/out/air-2023-2026st-60d bench/out/floor-parquet --workers 2
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

LEADING = ("date", "hour", "type")


def _skip(row: pacsv.InvalidRow) -> str:
    return "skip"


def _read_grid(path: Path) -> tuple[list[str], pa.Table]:
    """The file's station names (header) and its cells, station columns as float64."""
    data = path.read_bytes()
    header_end = data.find(b"\n")
    header = data[:header_end].decode("utf-8-sig").rstrip("\r").split(",")
    names = [*LEADING, *(f"c{i}" for i in range(3, len(header)))]
    table = pacsv.read_csv(
        io.BytesIO(data[header_end + 1 :]),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=1 << 26),
        parse_options=pacsv.ParseOptions(invalid_row_handler=_skip),
        convert_options=pacsv.ConvertOptions(
            column_types={**{n: pa.string() for n in LEADING}, **{n: pa.float64() for n in names[3:]}},
            null_values=[""],
            strings_can_be_null=True,
        ),
    )
    return [h.strip() for h in header[3:]], table


def convert_day(path: Path, out_dir: Path) -> int:
    """One day file to one long Parquet file; returns the number of rows written."""
    stations, table = _read_grid(path)
    named = [j for j, s in enumerate(stations) if s]  # empty header names at the end carry nothing
    grid = np.column_stack(
        [table.column(3 + j).to_numpy(zero_copy_only=False) for j in named]
    )  # lines × stations, NaN where empty
    line, col = np.nonzero(~np.isnan(grid))
    codes = np.asarray(stations, dtype=object)[named]
    long = pa.table(
        {
            "date": table.column("date").take(pa.array(line)),
            "hour": table.column("hour").take(pa.array(line)),
            "type": table.column("type").take(pa.array(line)),
            "station_code": pa.array(codes[col], pa.string()),
            "value": pa.array(grid[line, col]),
        }
    )
    pq.write_table(long, out_dir / f"{path.stem}.parquet", compression="zstd")
    return long.num_rows


def _convert(job: tuple[Path, Path]) -> int:
    return convert_day(*job)


def run_floor(in_dir: Path, out_dir: Path, workers: int = 2) -> dict[str, float]:
    """Convert every ``china_sites_*.csv`` in ``in_dir`` with ``workers`` processes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = sorted(in_dir.glob("china_sites_*.csv"))
    t0 = time.perf_counter()
    jobs = [(f, out_dir) for f in files]
    if workers == 1:
        rows = sum(map(_convert, jobs))
    else:
        with mp.get_context("fork").Pool(workers) as pool:
            rows = sum(pool.imap_unordered(_convert, jobs, chunksize=2))
    seconds = time.perf_counter() - t0
    return {"files": len(files), "rows": rows, "seconds": seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("in_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    s = run_floor(a.in_dir, a.out_dir, a.workers)
    print(
        f"floor: {s['files']:.0f} files, {s['rows']:,.0f} rows in {s['seconds']:.1f} s ({a.workers} processes)"
    )


if __name__ == "__main__":
    main()
