"""One report type for every run, one exception for a blocking quality gate.

Status vocabulary of a unit (also the ledger's ``status`` for the three that are recorded):

* ``published`` — built, gated, written;
* ``blocked`` — a blocking expectation failed: its outputs were not written (its quarantine was);
* ``failed`` — the build raised: nothing written, the unit is pending again next run;
* ``skipped`` — its fingerprint is current (already built from exactly these inputs): nothing done.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from warehouse.ledger import BLOCKED, FAILED, PUBLISHED

SKIPPED = "skipped"
STATUSES = (PUBLISHED, BLOCKED, FAILED, SKIPPED)


class QualityGateFailed(RuntimeError):
    """A blocking expectation failed: those units were not published (the message says why).

    Deterministic: retrying the same inputs cannot help (a DAG task fails without retries)."""


class BuildFailed(RuntimeError):
    """A unit's build raised; it stays pending and the next run (or a retry) builds it again."""


@dataclass
class UnitReport:
    build: str  # "<source>.<build>"
    unit: str
    status: str
    counts: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # blocking expectations, or the error
    gate: list[str] = field(default_factory=list)  # one summary line per table gated
    partitions: list[str] = field(default_factory=list)  # "<table>/<partition>" written
    seconds: float = 0.0
    # a skipped (current) unit whose last build was blocked: why (its ledger error); rebuilding it
    # unchanged would block it again
    blocked_before: str | None = None
    deferred: bool = False  # skipped, left for the next run (its warning says why): not current


@dataclass
class RunReport:
    source: str
    run_id: str
    units: list[UnitReport] = field(default_factory=list)
    landed: list[str] = field(default_factory=list)  # raw paths landed by this run
    same_bytes: dict[str, str] = field(default_factory=dict)  # landed path → earlier path of its bytes
    timings: dict[str, float] = field(default_factory=dict)

    def of(self, build: str) -> list[UnitReport]:
        return [u for u in self.units if u.build == build or u.build.endswith(f".{build}")]

    @property
    def status(self) -> str:
        """The worst status of any unit (failed > blocked > published > skipped)."""
        for status in (FAILED, BLOCKED, PUBLISHED):
            if any(u.status == status for u in self.units):
                return status
        return SKIPPED

    @property
    def changed(self) -> bool:
        """Anything was written (evidence of blocked units included)."""
        return any(u.status in (PUBLISHED, BLOCKED) for u in self.units)

    @property
    def recorded(self) -> bool:
        """The ledger has something new of this run: a unit built, whatever became of it."""
        return any(u.status != SKIPPED for u in self.units)

    def counts(self, *keys: str) -> dict[str, int]:
        """Sums of numeric counts over the units built in this run (not the skipped ones)."""
        out: dict[str, int] = {}
        for u in self.units:
            if u.status == SKIPPED:
                continue
            for k, v in u.counts.items():
                if (not keys or k in keys) and isinstance(v, int | float) and not isinstance(v, bool):
                    out[k] = out.get(k, 0) + int(v)
        return out

    def check(self) -> None:
        """Raise ``BuildFailed`` when a unit failed, ``QualityGateFailed`` when one was blocked."""
        failed = [f"{u.build} {u.unit}: {f}" for u in self.units if u.status == FAILED for f in u.failures]
        if failed:
            raise BuildFailed("build failed:\n" + "\n".join(failed))
        blocked = [f"{u.build} {u.unit}: {f}" for u in self.units if u.status == BLOCKED for f in u.failures]
        if blocked:
            raise QualityGateFailed("quality gate blocked publication:\n" + "\n".join(blocked))

    def lines(self) -> list[str]:
        """Log lines: one per unit built (skipped ones summed), its gate summaries and warnings."""
        out = []
        skipped = sum(u.status == SKIPPED and not u.deferred for u in self.units)
        for u in self.units:
            if u.deferred:
                out += [f"{u.build} {u.unit}: left for the next run", *(f"  WARNING {w}" for w in u.warnings)]
            if u.status == SKIPPED:
                continue
            out.append(
                f"{u.build} {u.unit}: {u.status} {json.dumps(u.counts, ensure_ascii=False, default=str)}"
            )
            out += [f"  {line}" for g in u.gate for line in g.splitlines()[:1]]
            out += [f"  WARNING {w}" for w in u.warnings]
            out += [f"  {'ERROR' if u.status == FAILED else 'BLOCKING'} {f}" for f in u.failures]
        if skipped:
            out.append(f"{skipped} unit(s) current, skipped")
        return out


def merge(reports: Iterable[RunReport]) -> RunReport:
    reports = list(reports)
    out = RunReport(reports[0].source if reports else "", reports[0].run_id if reports else "")
    for r in reports:
        out.units += r.units
        out.landed += r.landed
        for k, v in r.timings.items():
            out.timings[k] = out.timings.get(k, 0.0) + v
    return out
