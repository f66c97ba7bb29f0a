"""The batch gate gives each partition exactly the verdict and results a per-partition gate gives."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from schemas.registry import Column, Layer, PairEquality, Severity, Sharing, Table
from warehouse.quality import run_gate, run_gate_partitions

T = Table(
    name="core_test__batch",
    layer=Layer.CORE,
    source="test",
    title="t",
    description="d",
    columns=(
        Column("date", "date", "day", nullable=False),
        Column("thing_id", "string", "id", nullable=False),
        Column("mass_kg", "float64", "mass", unit="kg", min=0, max=100),
        Column("mass_check_kg", "float64", "mass again", unit="kg"),
        Column("grade", "string", "grade", allowed=("a", "b"), severity=Severity.WARNING),
    ),
    primary_key=("thing_id", "date"),
    owner="o",
    frequency="daily",
    sharing=Sharing.CONDITIONAL,
    pair_checks=(PairEquality("mass_kg", "mass_check_kg", mostly=0.9, description="agree"),),
)
DAYS = [dt.date(2024, 1, d) for d in (1, 2, 3, 4)]


def day_rows(
    day: dt.date, n: int = 20, *, disagree: int = 0, null_id: bool = False, grade: str = "a"
) -> dict:
    return {
        "date": [day] * n,
        "thing_id": [None if null_id and i == 0 else f"t{i}" for i in range(n)],
        "mass_kg": [float(i) for i in range(n)],
        "mass_check_kg": [float(i) + (1 if i < disagree else 0) for i in range(n)],
        "grade": [grade] * n,
    }


def batch(*days: dict) -> pa.Table:
    cols = {k: [v for d in days for v in d[k]] for k in days[0]}
    return T.conform(pa.table(cols, schema=T.arrow_schema(strict=False)))


def comparable(result_rows: list[dict]) -> list[tuple]:
    keep = (
        "date",
        "expectation",
        "column_name",
        "severity",
        "success",
        "element_count",
        "unexpected_count",
        "published",
    )
    return sorted(tuple(r[k] for k in keep) for r in result_rows)


@pytest.mark.parametrize(
    "days",
    [
        # all clean: one GX pass decides everything
        [day_rows(DAYS[0]), day_rows(DAYS[1]), day_rows(DAYS[2])],
        # day 2: 1 of 20 disagree (95 % >= 90 %: passes, but has unexpected rows); day 3: 5 of 20 (fails)
        [day_rows(DAYS[0]), day_rows(DAYS[1], disagree=1), day_rows(DAYS[2], disagree=5), day_rows(DAYS[3])],
        # a null key on one day, a warning-level grade on another
        [day_rows(DAYS[0], null_id=True), day_rows(DAYS[1], grade="z"), day_rows(DAYS[2])],
    ],
)
def test_batch_verdicts_equal_per_partition_verdicts(days: list[dict]) -> None:
    data = batch(*days)
    together = run_gate_partitions(T, data)
    assert sorted(together) == sorted({d["date"][0] for d in days})
    for day, got in together.items():
        one = T.conform(batch(next(d for d in days if d["date"][0] == day)))
        alone = run_gate(T, one, partition_date=None)
        assert got.passed == alone.passed, (day, got.blocking_failures, alone.blocking_failures)
        assert len(got.warnings) == len(alone.warnings)
        assert got.row_count == one.num_rows
        mine = comparable(got.results.to_pylist())
        theirs = comparable(
            alone.results.set_column(
                0, "date", pa.array([day] * alone.results.num_rows, pa.date32())
            ).to_pylist()
        )
        assert mine == theirs


def test_verdicts_name_the_failing_day() -> None:
    data = batch(day_rows(DAYS[0]), day_rows(DAYS[1], disagree=5))
    out = run_gate_partitions(T, data)
    assert out[DAYS[0]].passed and not out[DAYS[1]].passed
    assert (
        "2024-01-02" in out[DAYS[1]].blocking_failures[0]
        and "mass_kg = mass_check_kg" in out[DAYS[1]].blocking_failures[0]
    )
