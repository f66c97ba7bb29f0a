"""What a generated DAG's tasks call (no Airflow here: ``dags/_factory.py`` wraps these).

Each function runs one step of a spec for one DAG run and prints what it did to the task log.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterable

from ecocloud.runner import engine
from ecocloud.runner.context import RunInfo
from ecocloud.runner.report import BLOCKED, FAILED, PUBLISHED, BuildFailed, QualityGateFailed, RunReport
from ecocloud.settings import Settings, get_settings
from ecocloud.specs import all_specs, get_spec
from warehouse import quality
from warehouse.ledger import UnitState
from warehouse.sweep import Swept, sweep


def run_info(
    run_id: str,
    task: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    *,
    accept_shrink: bool = False,
    accept_shrink_of: Iterable[str] = (),
    rebuild: Iterable[str] = (),
) -> RunInfo:
    """Airflow's run id, ``dag.task``, data interval (pendulum times become plain UTC) and the run's
    ``accept_shrink``, ``accept_shrink_of`` and ``rebuild`` params."""
    interval = None
    if start is not None and end is not None:
        interval = (
            dt.datetime.fromtimestamp(start.timestamp(), dt.UTC),
            dt.datetime.fromtimestamp(end.timestamp(), dt.UTC),
        )
    return RunInfo(
        run_id,
        task,
        interval,
        accept_shrink=accept_shrink,
        accept_shrink_of=frozenset(accept_shrink_of),
        rebuild=frozenset(rebuild),
    )


def land(spec_name: str, run: RunInfo) -> int:
    """The spec's scheduled landing step for the run's interval; returns raw objects landed."""
    spec = get_spec(spec_name)
    if spec.land is None:
        return 0
    settings = get_settings()
    led = engine.ledger(settings)
    try:
        start, end = run.interval or (dt.datetime.now(dt.UTC), dt.datetime.now(dt.UTC))
        landed = engine.land_scheduled(settings, led, spec, start, end, run_id=run.run_id)
    finally:
        led.close()
    for obj in landed:
        print(f"landed {obj.raw_path} ({obj.size:,} bytes) from {obj.origin}")
    print(f"{len(landed)} raw object(s) landed")
    return len(landed)


def build(spec_name: str, build_name: str, run: RunInfo, *, last_try: bool = True) -> RunReport:
    """One build of the spec: every pending unit. Raises ``QualityGateFailed`` when the gate blocked
    units and ``BuildFailed`` when a unit failed — unless the run published others of the build: then
    the task must succeed, as Airflow records its Assets' events (which wake the DAGs downstream) only
    then, and ``gate_verdict`` fails the run for the units left blocked or failed. A failed unit may
    pass on a retry, so that holds on the ``last_try`` only (before it, ``BuildFailed`` is raised)."""
    spec = get_spec(spec_name)
    report = engine.run_spec(get_settings(), spec, run, builds=[build_name])
    print("\n".join(report.lines()))
    try:
        report.check()
    except (BuildFailed, QualityGateFailed) as exc:
        retry_may_help = isinstance(exc, BuildFailed) and not last_try
        if retry_may_help or not _units_of_run(spec_name, run, (PUBLISHED,), build_name):
            raise
        print("the units above were left undone; this run published others (gate_verdict fails the run)")
    return report


def changed_in_run(spec_name: str, build_name: str, run: RunInfo) -> bool:
    """Whether this DAG run wrote anything of the build, in this attempt or an earlier one (when not,
    its Assets did not change): a retry that finds its units published by the failed try still
    changed them."""
    return bool(_units_of_run(spec_name, run, (PUBLISHED, BLOCKED), build_name))


def gate_verdict(spec_name: str, run: RunInfo) -> None:
    """Raise ``QualityGateFailed`` naming every unit of the spec that this DAG run left blocked, and
    ``BuildFailed`` every unit it left failed (its build task succeeded for the others it published)
    — in any attempt: a retry skips a unit blocked before (its inputs are unchanged), so the attempt
    that succeeds does not show it."""
    left = _units_of_run(spec_name, run, (BLOCKED, FAILED))
    failed = [f"{u.build} {u.unit}: {u.error}" for u in left if u.status == FAILED]
    blocked = [f"{u.build} {u.unit}: {u.error}" for u in left if u.status == BLOCKED]
    if failed:
        raise BuildFailed("units failed in this run:\n" + "\n".join(failed + blocked))
    if blocked:
        raise QualityGateFailed("quality gate blocked publication in this run:\n" + "\n".join(blocked))
    print("no unit blocked or failed in this run")


def _units_of_run(
    spec_name: str, run: RunInfo, statuses: tuple[str, ...], build_name: str | None = None
) -> list[UnitState]:
    """The units of the spec's builds (or of ``build_name`` alone) that the ledger last recorded from
    this run, in one of ``statuses``."""
    spec = get_spec(spec_name)
    led = engine.ledger(get_settings())
    try:
        return [
            u
            for b in spec.builds
            if build_name is None or b.name == build_name
            for u in led.unit_states(spec.full_name(b)).values()
            if u.run_id == run.run_id and u.status in statuses
        ]
    finally:
        led.close()


def refresh_serving() -> None:
    deleted = engine.refresh_serving(get_settings())
    print(f"serving database refreshed; {deleted} retired part file(s) deleted")


def unlisted_files(
    settings: Settings, *, delete: bool, grace_hours: float | None = None, force: bool = False
) -> tuple[float, Swept]:
    """The lake's table files no ledger part names (listed or retired), last modified more than
    ``grace_hours`` ago (default: the ``lake_sweep_grace_hours`` setting), deleted with ``delete``
    (``force``: even when the ledger lists less than a tenth of the lake's table files — otherwise
    ``warehouse.sweep.SweepRefused``); returns the grace period used and what the sweep found, with
    how many younger unlisted files it left alone (``warehouse.sweep``)."""
    hours = settings.lake_sweep_grace_hours if grace_hours is None else grace_hours
    older_than = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
    led = engine.ledger(settings)
    try:
        # retired parts are the serving refresh's to delete, under their units' locks
        return hours, sweep(settings.lake_store, led.known_parts, older_than, delete=delete, force=force)
    finally:
        led.close()


def sweep_lake() -> int:
    """The maintenance DAG's sweep: delete the crash leftovers past the grace period; returns how many.
    First, where replaced parts wait to be deleted (no run has refreshed serving since, as in a home
    whose runs stopped), a serving refresh deletes those past their grace period."""
    settings = get_settings()
    led = engine.ledger(settings)
    try:
        waiting = led.retired()
    finally:
        led.close()
    if waiting:
        print(f"{engine.refresh_serving(settings)} of {len(waiting)} retired part file(s) deleted")
    hours, swept = unlisted_files(settings, delete=True)
    gone = swept.files
    for u in gone:
        print(f"deleted {u.rel} ({u.size:,} bytes, modified {u.modified.isoformat(timespec='seconds')})")
    print(f"{len(gone)} unlisted file(s) older than {hours:g} h deleted")
    return len(gone)


def preload() -> list[str]:
    """Import what the tasks of every spec import when they run — each build's and landing step's
    module, the serving refresh, GX — and create nothing (no settings, ledger, connection or GX
    context). A process that forks task processes calls it once, and every task it forks starts with
    them imported, instead of importing them again (GX alone takes seconds). Returns the modules'
    names."""
    modules = {"warehouse.serving"}
    for spec in all_specs():
        modules |= {ref.partition(":")[0] for ref in (*(b.steps for b in spec.builds), spec.land) if ref}
    for module in sorted(modules):
        importlib.import_module(module)
    quality.import_gx()
    return sorted(modules | {"great_expectations"})
