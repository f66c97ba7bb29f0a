"""The sweep deletes exactly the old files no ledger part names: never a listed part, a young file, a
part recorded while it ran, or a gate results file."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from schemas import air, source
from schemas.platform import expectation_results as RESULTS
from schemas.registry import Table
from warehouse import lake as lk
from warehouse.fs import TEMPORARY_NAME, FileInfo, LocalLake, temporary_beside
from warehouse.ledger import WHOLE, Part
from warehouse.sweep import SweepRefused, sweep

DAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)
OLD = NOW - dt.timedelta(days=10)
CUTOFF = NOW - dt.timedelta(days=3)


def written(lake: LocalLake, table: Table, day: dt.date | None, part: str, when: dt.datetime) -> str:
    rel = lk.part_file(table, day, part)
    lk.write_part(lake, table, table.empty(), day, part=part)
    os.utime(lake.local_path(rel), (when.timestamp(), when.timestamp()))
    return rel


def listed(table: Table, day: dt.date | None, part: str) -> Part:
    partition = WHOLE if day is None else day.isoformat()
    return Part(table.name, partition, part, "fp", "b", "u", 0, 0, "run", OLD.isoformat())


def test_only_old_unlisted_files_go(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path)
    parts = [listed(source.readings, DAY, "data"), listed(air.stations, None, "data")]
    keep = [
        written(lake, source.readings, DAY, "data", OLD),  # listed
        written(lake, air.stations, None, "data", OLD),  # listed, an unpartitioned table
        written(lake, source.readings, DAY, "young", NOW),  # unlisted but within the grace period
        written(lake, RESULTS, DAY, "run-1", OLD),  # gate results are not ledger parts
    ]
    leftovers = [
        written(lake, source.readings, DAY, "seg-r01", OLD),  # written by a run killed before recording it
        written(lake, air.stations, None, "data.0123456789abcdef", OLD),
    ]
    tmp = lake.local_path(lk.partition_prefix(source.readings, DAY)) / ".data.parquet.0f0f.tmp"
    tmp.write_bytes(b"half a file")  # a killed local write
    os.utime(tmp, (OLD.timestamp(), OLD.timestamp()))
    leftovers.append(tmp.relative_to(tmp_path).as_posix())

    found = sweep(lake, lambda: parts, CUTOFF, delete=False).files
    assert sorted(u.rel for u in found) == sorted(leftovers)
    assert all(lake.exists(rel) for rel in keep + leftovers)  # a dry run deletes nothing

    gone = sweep(lake, lambda: parts, CUTOFF, delete=True).files
    assert sorted(u.rel for u in gone) == sorted(leftovers)
    assert all(lake.exists(rel) for rel in keep) and not any(lake.exists(rel) for rel in leftovers)
    assert sweep(lake, lambda: parts, CUTOFF, delete=True).files == []


def test_a_sweep_counts_the_unlisted_files_it_left_for_being_young(tmp_path: Path) -> None:
    """The count `ecocloud sweep` prints ("… younger than 72 h left alone") comes with what the sweep
    found, from its one listing: a young part file and a young temporary file of the raw zone."""
    lake = LocalLake(tmp_path)
    written(lake, source.readings, DAY, "data", OLD)  # listed
    written(lake, source.readings, DAY, "young", NOW)
    old = written(lake, source.readings, DAY, "seg-r01", OLD)
    raw = lake.local_path(f"raw/air/undated/.china_sites.csv.{'0123456789abcdef' * 2}.tmp")
    raw.parent.mkdir(parents=True)
    raw.write_bytes(b"half a file")
    parts = [listed(source.readings, DAY, "data")]
    for delete in (False, True):
        swept = sweep(lake, parts.copy, CUTOFF, delete=delete)
        assert ([u.rel for u in swept.files], swept.young) == ([old], 2)


def test_a_ledger_that_lists_too_few_of_the_lake_s_files_is_refused(tmp_path: Path) -> None:
    """A ledger listing less than a tenth of the table files is not the lake's (an empty one created
    where ECOCLOUD_STATE_DB_URL was not set, another environment's): the files are listed, never
    deleted without ``force``. A small lake with more leftovers than parts is swept."""
    lake = LocalLake(tmp_path)
    published = [written(lake, source.readings, DAY + dt.timedelta(days=d), "data", OLD) for d in range(11)]
    parts = [listed(source.readings, DAY + dt.timedelta(days=d), "data") for d in range(11)]
    for known in (0, 1):
        read = parts[:known].copy
        assert [u.rel for u in sweep(lake, read, CUTOFF, delete=False).files] == published[known:]
        with pytest.raises(SweepRefused, match=f"the ledger lists {known} of the lake's 11 table files"):
            sweep(lake, read, CUTOFF, delete=True)
        assert all(lake.exists(rel) for rel in published)
    assert [u.rel for u in sweep(lake, parts[:2].copy, CUTOFF, delete=True).files] == published[2:]
    assert all(lake.exists(rel) for rel in published[:2])
    gone = sweep(lake, list, CUTOFF, delete=True, force=True).files
    assert [u.rel for u in gone] == published[:2]
    assert not any(lake.exists(rel) for rel in published)


def test_a_part_recorded_while_the_sweep_ran_is_kept(tmp_path: Path) -> None:
    """An old object re-published under the same name (S3 parts are named by their bytes: the writer
    finds it there and only records it) is unlisted at the first read and listed at the second."""
    lake = LocalLake(tmp_path)
    rel = written(lake, source.readings, DAY, "data.0123456789abcdef", OLD)
    reads = iter([[], [listed(source.readings, DAY, "data.0123456789abcdef")]])
    assert sweep(lake, lambda: next(reads), CUTOFF, delete=True).files == []
    assert lake.exists(rel)


def test_a_leftover_a_unit_wrote_anew_while_the_sweep_ran_is_kept(tmp_path: Path) -> None:
    """A unit renamed its new part over an old unlisted file of the same name just after the sweep
    listed it, and has not recorded it yet at the second read: the file is young now, so it stays."""
    rewritten = lk.part_file(source.readings, DAY, "seg-r01")

    class RenamedOverAfterTheListing(LocalLake):
        def info(self, rel: str) -> FileInfo:
            seen = super().info(rel)
            if rel == rewritten and not renamed:
                renamed.append(written(self, source.readings, DAY, "seg-r01", NOW))
            return seen

    renamed: list[str] = []
    lake = RenamedOverAfterTheListing(tmp_path)
    keep = [written(lake, source.readings, DAY + dt.timedelta(days=d), "data", OLD) for d in range(2)]
    parts = [listed(source.readings, DAY + dt.timedelta(days=d), "data") for d in range(2)]
    written(lake, source.readings, DAY, "seg-r01", OLD)
    assert sweep(lake, parts.copy, CUTOFF, delete=True).files == []
    assert renamed and all(lake.exists(rel) for rel in [*keep, rewritten])


def test_the_raw_zone_loses_only_old_temporary_files(tmp_path: Path) -> None:
    """A landing killed mid-write leaves ``.<name>.<uuid hex>.tmp`` in its raw folder: swept once old.
    Raw objects (recorded or not), the receiver's open segments and its manifest's temporary file,
    and a young temporary file stay."""
    lake = LocalLake(tmp_path)

    def raw(rel: str, when: dt.datetime) -> str:
        path = lake.local_path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"bytes")
        os.utime(path, (when.timestamp(), when.timestamp()))
        return rel

    hex32 = "0123456789abcdef" * 2
    keep = [
        raw("raw/hj212_capture/date=2026-11-20/2026-11-20T00.0123456789abcdef.h212", OLD),  # an object
        raw("raw/hj212/date=2026-11-20/r01-0001.h212.open", OLD),  # the receiver's, still open
        raw("raw/hj212/date=2026-11-20/r01-0001.h212.manifest.json.tmp", OLD),  # the receiver's own
        raw(f"raw/air/undated/.china_sites_20261202.csv.{hex32}.tmp", NOW),  # within the grace period
        raw("raw/air/undated/.notes.tmp", OLD),  # not a name our writes make
    ]
    leftovers = [
        raw(f"raw/hj212_capture/date=2026-11-20/.2026-11-20T00.0123456789abcdef.h212.{hex32}.tmp", OLD),
        raw(f"raw/air/undated/.china_sites.csv.{hex32}.tmp", OLD - dt.timedelta(hours=1)),
    ]
    assert sorted(u.rel for u in sweep(lake, list, CUTOFF, delete=False).files) == sorted(leftovers)
    gone = sweep(lake, list, CUTOFF, delete=True).files
    assert sorted(u.rel for u in gone) == sorted(leftovers)
    assert all(lake.exists(rel) for rel in keep) and not any(lake.exists(rel) for rel in leftovers)


def test_the_sweep_knows_the_temporary_names_local_writes_make(tmp_path: Path) -> None:
    name = temporary_beside(tmp_path / "2026-11-20T00.0123456789abcdef.h212").name
    assert TEMPORARY_NAME.fullmatch(name) and name.startswith(".")
