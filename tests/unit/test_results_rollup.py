"""Gate results of closed days rolled up into one file: every row kept, crash-safe, idempotent."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pyarrow as pa
import pytest

from schemas.platform import expectation_results as RESULTS
from warehouse import lake as lk
from warehouse import results_rollup
from warehouse.fs import LocalLake

TODAY = dt.date(2026, 12, 2)
CLOSED = TODAY - dt.timedelta(days=5)
OPEN = TODAY - dt.timedelta(days=1)  # a run started yesterday may still be writing there
KEY = ["gate_run_id", "expectation", "partition_date"]


def results(day: dt.date, run: str, n: int) -> pa.Table:
    at = dt.datetime.combine(day, dt.time(3), dt.UTC)
    rows = [
        {
            "date": day,
            "validated_at": at,
            "run_id": run,
            "gate_run_id": run,
            "build": "source.core",
            "unit": "capture/x",
            "table_name": "core_source__readings",
            "partition_date": day - dt.timedelta(days=i),
            "expectation": f"expect_{i}",
            "severity": "blocking",
            "success": i % 2 == 0,
            "unexpected_count": i,
            "published": True,
        }
        for i in range(n)
    ]
    names = RESULTS.column_names
    return pa.Table.from_pylist(
        [{c: r.get(c) for c in names} for r in rows], schema=RESULTS.arrow_schema(strict=False)
    )


def append(lake: LocalLake, day: dt.date, run: str, n: int = 3) -> pa.Table:
    rows = results(day, run, n)
    lk.write_part(lake, RESULTS, rows, day, part=f"{run}-source.core-0000")
    return rows


def read_listed(lake: LocalLake) -> list[tuple[object, ...]]:
    """The key of every row a reader of the listed files sees, sorted (duplicates kept)."""
    return keys(*(lake.read_parquet(f) for f in results_rollup.listed(lake, RESULTS)))


def keys(*tables: pa.Table) -> list[tuple[object, ...]]:
    return sorted(tuple(r[c] for c in KEY) for t in tables for r in t.select(KEY).to_pylist())


def folder_files(lake: LocalLake, day: dt.date) -> list[str]:
    return sorted(p.name for p in lk.partition_dir(lake, RESULTS, day).glob("*.parquet"))


@pytest.fixture
def lake(tmp_path: Path) -> LocalLake:
    return LocalLake(tmp_path / "lake")


def test_a_closed_day_becomes_one_file_with_every_row_and_open_days_stay(
    lake: LocalLake, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = [append(lake, CLOSED, f"run{i}", n=i + 2) for i in range(3)]
    written += [append(lake, OPEN, f"run{i}") for i in range(3, 5)]
    written.append(append(lake, TODAY, "run5"))

    rolled = results_rollup.roll_up(lake, RESULTS, TODAY)
    rollups = rolled.written

    assert rolled.files == lake.glob(lk.table_pattern(RESULTS))  # the listing after it, without a second one
    assert len(rollups) == 1 and folder_files(lake, CLOSED) == [rollups[0].rsplit("/", 1)[1]]
    assert len(folder_files(lake, OPEN)) == 2 and len(folder_files(lake, TODAY)) == 1
    assert read_listed(lake) == keys(*written)
    # idempotent: nothing more to do, nothing moves; a day that is one rollup costs no footer read
    before = {d: folder_files(lake, d) for d in (CLOSED, OPEN, TODAY)}

    def unread(rel: str) -> None:
        raise AssertionError(f"footer of {rel} read")

    monkeypatch.setattr(lake, "parquet_metadata", unread)
    assert results_rollup.roll_up(lake, RESULTS, TODAY).written == []
    assert {d: folder_files(lake, d) for d in (CLOSED, OPEN, TODAY)} == before
    assert len(results_rollup.listed(lake, RESULTS)) == 4


def test_a_crash_before_the_deletes_counts_nothing_twice(
    lake: LocalLake, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = [append(lake, CLOSED, f"run{i}") for i in range(3)]

    def killed(_rels: object) -> None:
        raise OSError("killed before the deletes")

    monkeypatch.setattr(lake, "delete_many", killed)
    with pytest.raises(OSError, match="killed"):
        results_rollup.roll_up(lake, RESULTS, TODAY)
    monkeypatch.undo()
    assert len(folder_files(lake, CLOSED)) == 4  # the rollup beside the three files it holds
    assert read_listed(lake) == keys(*written)

    finished = results_rollup.roll_up(lake, RESULTS, TODAY)  # deletes what the rollup holds
    assert finished.written == [] and finished.files == lake.glob(lk.table_pattern(RESULTS))
    assert len(folder_files(lake, CLOSED)) == 1
    assert read_listed(lake) == keys(*written)


def test_a_file_landing_after_the_rollup_is_rolled_up_with_it(lake: LocalLake) -> None:
    written = [append(lake, CLOSED, f"run{i}") for i in range(2)]
    (first,) = results_rollup.roll_up(lake, RESULTS, TODAY).written
    written.append(append(lake, CLOSED, "late"))

    again = results_rollup.roll_up(lake, RESULTS, TODAY)
    (second,) = again.written

    assert again.files == lake.glob(lk.table_pattern(RESULTS))
    assert second != first and folder_files(lake, CLOSED) == [second.rsplit("/", 1)[1]]
    assert read_listed(lake) == keys(*written)


def test_a_single_file_of_a_closed_day_is_left_as_it_is(lake: LocalLake) -> None:
    append(lake, CLOSED, "run0")
    assert results_rollup.roll_up(lake, RESULTS, TODAY).written == []
    assert folder_files(lake, CLOSED) == ["run0-source.core-0000.parquet"]


def test_the_files_a_rollup_holds_outlive_it_by_the_serving_grace(lake: LocalLake) -> None:
    """A serving file made before the rollup lists its members by name: they stay until the rollup is
    as old as the grace, counted once meanwhile (the listing skips them), then go."""
    written = [append(lake, CLOSED, f"run{i}") for i in range(3)]
    keep = dt.timedelta(minutes=15)
    (rollup,) = results_rollup.roll_up(lake, RESULTS, TODAY, keep_members=keep).written
    assert len(folder_files(lake, CLOSED)) == 4  # the rollup beside the files a serving file may list
    assert read_listed(lake) == keys(*written)
    assert results_rollup.roll_up(lake, RESULTS, TODAY, keep_members=keep).written == []
    assert len(folder_files(lake, CLOSED)) == 4  # still within the grace
    aged = (dt.datetime.now(dt.UTC) - keep - dt.timedelta(seconds=1)).timestamp()
    os.utime(lake.local_path(rollup), (aged, aged))
    again = results_rollup.roll_up(lake, RESULTS, TODAY, keep_members=keep)
    assert again.written == [] and folder_files(lake, CLOSED) == [rollup.rsplit("/", 1)[1]]
    assert again.files == lake.glob(lk.table_pattern(RESULTS)) and read_listed(lake) == keys(*written)
