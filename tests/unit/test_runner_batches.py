"""How the runner cuts pending units into batches (one gate pass each, one worker each)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from ecocloud.runner.context import RunInfo
from ecocloud.runner.engine import _batches, run_build
from ecocloud.runner.spec import Build, Publish
from ecocloud.runner.units import Unit
from ecocloud.settings import Settings
from ecocloud.specs import get_spec


def _build(*, parallel: bool, units: int = 4, nbytes: int = 1000) -> Build:
    return Build("b", ("t",), Publish.PART, "m:x", parallel=parallel, batch_units=units, batch_bytes=nbytes)


def _units(*sizes: int) -> list[Unit]:
    return [Unit(f"u{i}", (), size=s) for i, s in enumerate(sizes)]


def test_every_unit_lands_in_exactly_one_batch_within_the_limits() -> None:
    units = _units(*range(1, 40))
    batches = _batches(units, _build(parallel=True, units=4, nbytes=100), workers=2)
    keys = [u.key for b in batches for u in b]
    assert sorted(keys) == sorted(u.key for u in units)
    assert all(len(b) <= 4 for b in batches)
    assert len(batches) >= -(-sum(range(1, 40)) // 100)


def test_a_parallel_build_gets_a_batch_per_worker_balanced_by_size() -> None:
    units = _units(300, 290, 10, 10, 10, 280)  # fits one batch by count and bytes
    batches = _batches(units, _build(parallel=True, units=256, nbytes=10_000), workers=2)
    assert len(batches) == 2
    loads = sorted(sum(u.size for u in b) for b in batches)
    assert loads[1] - loads[0] <= max(u.size for u in units)  # greedy, largest first


def test_a_serial_build_keeps_one_batch_when_it_fits() -> None:
    units = _units(300, 290, 10)
    assert [len(b) for b in _batches(units, _build(parallel=False, units=8, nbytes=10_000), workers=2)] == [3]


def test_units_keep_their_plan_order_within_a_batch() -> None:
    units = _units(1, 50, 2, 40, 3)
    for batch in _batches(units, _build(parallel=True, units=8, nbytes=10_000), workers=2):
        positions = [units.index(u) for u in batch]
        assert positions == sorted(positions)


def test_no_units_no_batches() -> None:
    assert _batches([], _build(parallel=True), workers=2) == []


def test_a_parallel_build_gets_a_multiple_of_its_workers_batches() -> None:
    units = _units(*([100] * 30))  # 3,000 bytes: 7 batches by bytes, 8 for two workers
    batches = _batches(units, _build(parallel=True, units=256, nbytes=450), workers=2)
    assert len(batches) == 8
    assert max(len(b) for b in batches) - min(len(b) for b in batches) <= 1


def test_units_of_unknown_size_are_spread_by_number() -> None:
    # units that read table partitions carry no input size (0): every worker still gets its share
    units = _units(*([0] * 60))
    batches = _batches(units, _build(parallel=True, units=64, nbytes=10_000), workers=2)
    assert [len(b) for b in batches] == [30, 30]
    batches = _batches(_units(*([0] * 365)), _build(parallel=True, units=64, nbytes=10_000), workers=2)
    assert len(batches) == 6 and max(len(b) for b in batches) - min(len(b) for b in batches) <= 1


def test_units_of_unknown_size_are_cut_into_runs_of_consecutive_units() -> None:
    # a day's unit and the next day's read the partition they share once when one worker builds both
    units = _units(*([0] * 10))
    batches = _batches(units, _build(parallel=True, units=3, nbytes=10_000), workers=2)
    assert [[u.key for u in b] for b in batches] == [
        ["u0", "u1", "u2"],
        ["u3", "u4", "u5"],
        ["u6", "u7"],
        ["u8", "u9"],
    ]


def test_a_build_asking_for_a_codec_the_lake_does_not_write_is_refused_before_it_plans(
    tmp_path: Path,
) -> None:
    spec = get_spec("source")
    # steps that cannot be imported: the refusal must come first
    bad = dataclasses.replace(spec.build("core"), compression="gzip", steps="no.such:module")
    with pytest.raises(ValueError, match=r"source\.core: unknown codec .gzip.: one of zstd, lz4"):
        run_build(Settings(home=tmp_path), spec, bad, RunInfo.cli("test"))
    assert not (tmp_path / "lake").exists()


def test_a_dag_run_s_params_name_the_units_to_rebuild_and_accept() -> None:
    """The trigger form's lists reach the runner as the CLI's options do: keys trimmed, blanks dropped."""
    from ecocloud.runner.tasks import run_info

    run = run_info(
        "manual__1",
        "air_quality.build_daily",
        None,
        None,
        rebuild=[" 2026-12-05", ""],
        accept_shrink_of=["2026-12-06 "],
    )
    assert run.rebuild == {"2026-12-05"} and run.accept_shrink_of == {"2026-12-06"} and not run.force


def test_published_counts_are_what_the_lake_holds_after_a_block_or_a_failure() -> None:
    """A planner reads the counts of what a unit has published: a held-back unit's record holds the
    attempt's counts with the published ones inside; a failed one keeps the record it had before."""
    from warehouse.ledger import LAST_PUBLISHED, UnitState

    def state(status: str, counts: dict[str, Any]) -> UnitState:
        return UnitState("air.hourly", "2023-03-02", "fp", status, counts, "run", "task", "now", None)

    published = {"rows": 24, "digest": "a"}
    blocked = state("blocked", {"rows": 12, "digest": "b", LAST_PUBLISHED: published})
    assert state("published", published).published_counts == published
    assert blocked.published_counts == published
    assert state("failed", blocked.counts).published_counts == published  # failed after the block
    assert state("failed", published).published_counts == published  # failed after a publish
    assert state("blocked", {"rows": 12}).published_counts is None  # never published
