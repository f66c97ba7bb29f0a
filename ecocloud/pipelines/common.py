"""Steps shared by the registry-style pipelines (permits, credit, master data).

These sources are small, rebuilt whole from every raw object they have (history is computed, not
appended), and published as unpartitioned tables. A build is gated as a set: if any table fails a
blocking expectation, none is published, so the permit, outlet and limit tables always agree.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ecocloud.settings import Settings
from schemas.platform import expectation_results
from schemas.registry import Table
from warehouse import lake as lk
from warehouse import serving
from warehouse.ledger import Ledger, RawObject
from warehouse.quality import GateVerdict, run_gate

BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


class QualityGateFailed(RuntimeError):
    """A blocking expectation failed: nothing of the build was published (the message says why)."""


@dataclass
class Report:
    name: str  # what was built, e.g. "permits"
    status: str = "published"  # published | skipped | blocked | no-data
    counts: dict[str, Any] = field(default_factory=dict)
    gate: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"{self.name}: {self.status} {self.counts}", *self.gate]


def ledger(settings: Settings) -> Ledger:
    return Ledger(settings.ledger_file)


def today() -> dt.date:
    return dt.datetime.now(BEIJING).date()


def fingerprint(objects: Iterable[RawObject], *extra: str) -> str:
    """Identity of a build's inputs: the content of every raw object (order-free) plus ``extra``."""
    digest = hashlib.sha256()
    for part in sorted(f"{o.logical_name}:{o.sha256}" for o in objects):
        digest.update(part.encode() + b"\n")
    for part in extra:
        digest.update(part.encode() + b"\n")
    return digest.hexdigest()[:32]


def table_version(name: str, code_version: str, tables: Sequence[Table]) -> str:
    """Pipeline version: changes with the code version or any table definition (forces rebuilds)."""
    return f"{name}-{code_version}-{hashlib.sha256(repr(tuple(tables)).encode()).hexdigest()[:12]}"


def gate_and_publish(
    settings: Settings,
    tables: Sequence[tuple[Table, pa.Table]],
    report: Report,
    *,
    partition: dt.date | None = None,
    always: Sequence[tuple[Table, pa.Table]] = (),
) -> bool:
    """Gate every table; publish all of them only if all pass. ``always`` (quarantine) is written
    regardless: it is evidence, not data. Gate results go to quality_platform__expectation_results.
    Returns whether the set was published."""
    run_id = uuid.uuid4().hex[:12]
    passed = True
    for table, data in tables:
        result = run_gate(table, data, partition_date=partition, run_id=run_id)
        write_gate_results(settings, [result])
        report.gate.append(result.summary())
        report.warnings.extend(result.warnings)
        report.failures.extend(result.blocking_failures)
        passed &= result.passed
    for table, data in always:
        lk.write_partition(settings.lake, table, data, partition)
    if passed:
        for table, data in tables:
            lk.write_partition(settings.lake, table, data, partition)
    else:
        report.status = "blocked"
    return passed


def write_gate_results(settings: Settings, verdicts: Iterable[GateVerdict]) -> None:
    """Append gate results to quality_platform__expectation_results: under the Beijing date of the
    gate run, in a part named after the (first) gate run, so no run overwrites another's results."""
    by_day: dict[dt.date, list[GateVerdict]] = {}
    for verdict in verdicts:
        by_day.setdefault(verdict.results_date, []).append(verdict)
    for day, written in by_day.items():
        results = pa.concat_tables(v.results for v in written)
        lk.write_partition(settings.lake, expectation_results, results, day, part=written[0].gate_run_id)


def refresh_serving(settings: Settings) -> None:
    serving.refresh(settings.lake, settings.duckdb_file, ledger(settings))


def check(reports: Iterable[Report]) -> None:
    """Raise when a build was blocked by the quality gate, listing every reason."""
    blocked = [r for r in reports if r.status == "blocked"]
    if blocked:
        lines = [f"{r.name}: {f}" for r in blocked for f in r.failures]
        raise QualityGateFailed("quality gate blocked publication:\n" + "\n".join(lines))


def read_table(settings: Settings, table: Table) -> pa.Table:
    """A whole unpartitioned table as published (empty with the registry schema if never written)."""
    return lk.read_partition(settings.lake, table, None)
