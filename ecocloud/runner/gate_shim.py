"""TEMPORARY: the gate interface the runner uses, over today's per-partition ``run_gate``.

Replaced by ``warehouse.quality.validate`` (one GX pass per table per batch) when that lands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from schemas.registry import Table
from warehouse.quality import run_gate


@dataclass(frozen=True)
class GatePart:
    unit: str
    partition: dt.date | None
    data: pa.Table


@dataclass(frozen=True)
class GateRun:
    run_id: str
    task: str
    build: str


@dataclass
class GateVerdict:
    unit: str
    partition: dt.date | None
    table_name: str
    passed: bool
    row_count: int
    blocking_failures: list[str]
    warnings: list[str]
    results: pa.Table
    summary_line: str
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        return self.summary_line

    def published(self, flag: bool) -> pa.Table:
        i = self.results.schema.get_field_index("published")
        return self.results.set_column(i, "published", pa.array([flag] * self.results.num_rows, pa.bool_()))


def validate(
    table: Table, parts: Sequence[GatePart], *, run: GateRun, expected_latest: dt.datetime | None = None
) -> list[GateVerdict]:
    out = []
    for part in parts:
        result = run_gate(
            table,
            part.data,
            partition_date=part.partition,
            expected_latest=expected_latest,
            run_id=run.run_id,
        )
        results = result.results
        if part.partition is None:
            today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
            results = results.set_column(
                results.schema.get_field_index("date"),
                "date",
                pa.array([today] * results.num_rows, pa.date32()),
            )
        out.append(
            GateVerdict(
                part.unit,
                part.partition,
                table.name,
                result.passed,
                result.row_count,
                result.blocking_failures,
                result.warnings,
                results,
                result.summary(),
            )
        )
    return out


def warm(tables: Sequence[Table]) -> None:
    for table in tables:
        empty = table.empty()
        run_gate(table, empty, partition_date=dt.date(2000, 1, 1) if table.partition_by else None)


def dates_of(results: pa.Table) -> list[dt.date]:
    return sorted(pc.unique(results.column("date")).to_pylist())
