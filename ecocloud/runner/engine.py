"""The runner: every build of every source goes through ``run_build`` — DAG tasks, CLI and tests.

For one build:

1. **plan** — the build's steps list its units with their inputs; a unit is pending when its
   fingerprint (build, code version, output table signatures, input versions) differs from the
   one the ledger recorded, or its last build failed. The ledger decides, not a time window.
2. pending units are cut into **batches** (``batch_units`` / ``batch_bytes``); batches of a
   ``parallel`` build run in forked worker processes (at least one batch per worker, balanced by
   input size; killed when the build is interrupted — ``ecocloud.runner.workers``). Each batch holds a lock per unit, and those of the other builds' units its units
   exclude (``Unit.excludes``: a compaction, the units whose parts it rewrites), writes a fresh fencing
   token for them into the ledger (``lock_holders``: it has taken them over), re-plans under them
   (a concurrent run may have built a unit, or its inputs may have changed meanwhile; a unit that now
   excludes one more is left for the next run), then:
3. **build** — the steps' pure function per unit (an exception fails that unit only), or per batch
   when the steps have ``build_batch`` (an exception fails the batch's units);
4. **gate** — each output table validated once for the whole batch, verdicts per unit and
   partition; a unit is blocked when any of its parts fails a blocking expectation;
5. **publish** — atomically, per the build's ``Publish`` mode; the evidence (quarantine) of a blocked
   unit too, unless rows of its earlier input are published (they keep their own evidence);
6. **record** — the unit's outcome, its parts and its lineage in one ledger transaction (a new part
   is read by builds and serving only from then on; parts it replaced are retired, and deleted by a
   serving refresh once no serving file has listed them for a grace period), fenced: it first checks
   that the locks of the unit and of those it excludes still carry the batch's token, so a batch
   whose lock session ended (PostgreSQL) records nothing once another run has taken them over —
   ``LockLost``; a failed unit's record likewise — and the gate results appended to
   ``quality_platform__expectation_results``. On S3 every write is a new object (a fenced-off
   record leaves its objects unlisted, for the sweep); on a local lake a part a unit writes again
   keeps its name and is replaced in place by an atomic rename just before the transaction — if the
   process dies in between, readers see the new rows while the ledger still records the old ones,
   until the unit (still pending) is rebuilt; if its record is fenced off, readers see its rows under
   the other run's record of that name (built from the inputs it planned with: mostly the same rows)
   until the unit is next rebuilt.

Serving is refreshed once per run by the caller (``refresh_serving``), after a failed run too.
"""

from __future__ import annotations

import datetime as dt
import heapq
import importlib
import logging
import multiprocessing
import time
import traceback
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from ecocloud.runner.context import RunInfo, StepContext, partition_key
from ecocloud.runner.report import BLOCKED, FAILED, PUBLISHED, SKIPPED, RunReport, UnitReport
from ecocloud.runner.spec import Build, Publish, SourceSpec
from ecocloud.runner.units import (
    RAW,
    TABLE,
    Output,
    Unit,
    fingerprint,
    logic_fingerprint,
    safe_name,
    unit_lock,
)
from ecocloud.runner.workers import worker_pool
from ecocloud.settings import Settings
from schemas.clock import BEIJING
from schemas.platform import expectation_results
from schemas.registry import Table, get_table
from transforms.permits import limit_in_force_sql
from warehouse import lake as lk
from warehouse import serving
from warehouse.catalog import time_column
from warehouse.fs import LakeLike, check_codec
from warehouse.ledger import (
    LAST_PUBLISHED,
    Fence,
    HeldLocks,
    Ledger,
    LineageRow,
    LockTimeout,
    Part,
    RawObject,
    RetiredPart,
    UnitState,
    partition_date,
    stamp,
)
from warehouse.quality import GatePart, GateRun, GateVerdict, validate

log = logging.getLogger(__name__)
# how a unit blocked only by the shrink check starts its recorded error: a run that accepts shrinking
# rebuilds these units, not the ones blocked for what accepting cannot help
HELD_FOR_SHRINKING = "held back for shrinking"
# what the gate says after a held-back shrink: the runner's callers accept it (the CLI, the DAG params)
ACCEPT_SHRINK_HINT = (
    "a run with --accept-shrink-of {unit} or --accept-shrink accepts the shrink; "
    "in Airflow, the DAG param accept_shrink_of"
)
# after a shrink failure's hint, where the unit is blocked for other reasons too
SHRINK_NOT_ALONE = "accepting the shrink would not publish this unit: it is blocked for the reasons above too"
_WRITE_THREADS = 4  # part files of one unit written at once


class Steps(Protocol):
    def plan(self, ctx: StepContext) -> Iterable[Unit]: ...

    def build(self, ctx: StepContext, unit: Unit) -> Output: ...

    # optional: def build_batch(self, ctx: StepContext, units: list[Unit]) -> dict[str, Output]


def resolve(ref: str) -> Any:
    """``"module:attribute"`` → the object (specs name their steps and land functions this way)."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


_WARMED: set[Table] = set()  # tables whose gate this process (or the one it forked from) has run


def warm(tables: Sequence[Table]) -> None:
    """Import GX and compile the tables' suites once, before worker processes fork (they inherit it).
    Once per process: a warm process (a scheduler's, a benchmark's) would pay ~0.3 s a table a run."""
    run = GateRun("warm-up", "warm-up", "warm-up")
    for table in tables:
        if table in _WARMED:
            continue
        partition = dt.date(2000, 1, 1) if table.partition_by else None
        validate(table, [GatePart("warm-up", partition, table.empty())], run=run)
        _WARMED.add(table)


def _steps(build: Build) -> Steps:
    """The build's steps object (a class named in the spec is instantiated)."""
    found = resolve(build.steps)
    return found() if isinstance(found, type) else found


def ledger(settings: Settings) -> Ledger:
    return Ledger(settings.state_url)


# --------------------------------------------------------------------------------------- running
def land_and_run(
    settings: Settings,
    spec: SourceSpec,
    land: Callable[[Settings, Ledger], Sequence[Any]],
    run: RunInfo,
    *,
    builds: Sequence[str] | None = None,
) -> RunReport:
    """What a command does: land (``land(settings, ledger)`` returns what it landed), run the spec's
    builds, refresh serving when the ledger has anything new — a landing, a unit published, blocked or
    failed, whose record `ecocloud sql` shows — or there is no serving database yet."""
    started = time.perf_counter()
    led = ledger(settings)
    try:
        landed = land(settings, led)
        same_bytes = _same_bytes(led, landed)
    finally:
        led.close()
    landed_s = time.perf_counter() - started
    try:
        report = run_spec(settings, spec, run, builds=builds)
    except Exception:
        # the views follow the ledger again (and retired parts past their grace are deleted), then the
        # error goes on
        _refresh_serving_after_failure(settings)
        raise
    report.landed = [getattr(o, "raw_path", str(o)) for o in landed]
    report.same_bytes = same_bytes
    report.timings["land"] = landed_s
    started = time.perf_counter()
    if report.recorded or landed or not settings.duckdb_file.exists():
        refresh_serving(settings)
    report.timings["serving"] = time.perf_counter() - started
    return report


def _same_bytes(led: Ledger, landed: Sequence[Any]) -> dict[str, str]:
    """Raw path → the path the same bytes landed under before (another name or date): a build that
    takes each content once (HJ 212 captures) has nothing new to do for it."""
    out: dict[str, str] = {}
    for source in {o.source for o in landed if isinstance(o, RawObject)}:
        first: dict[str, str] = {}
        for obj in sorted(led.raw_objects(source), key=lambda o: o.received_at):
            first.setdefault(obj.sha256, obj.raw_path)
        for obj in landed:
            if isinstance(obj, RawObject) and obj.source == source and first[obj.sha256] != obj.raw_path:
                out[obj.raw_path] = first[obj.sha256]
    return out


def land_scheduled(
    settings: Settings,
    led: Ledger,
    spec: SourceSpec,
    start: dt.datetime,
    end: dt.datetime,
    *,
    run_id: str | None = None,
) -> list[Any]:
    """The spec's scheduled landing step for [start, end) (``spec.land``). The ledger records how it
    ended (``Ledger.record_landing``: an upstream that fails shows on the ingestion page, though it
    builds nothing). When it completes having found nothing new, the ledger also records that the
    upstream was checked (``Ledger.record_source_check``) for each build whose output is current —
    every unit it plans published from its present inputs: such a build writes nothing, yet its tables
    are current as of now (the catalog judges a table without a time column by it). A landing that
    found something new, or failed, records no check: the build's next publication dates its tables.
    Only builds with such a table are planned here."""
    if spec.land is None:
        return []
    try:
        landed = list(resolve(spec.land)(settings, led, start, end))
    except BaseException as exc:  # Airflow's task timeout is a BaseException: a hung upstream too
        _record_landing(led, spec, run_id, f"{type(exc).__name__}: {exc}")
        raise
    _record_landing(led, spec, run_id, None)
    if not landed:
        checked = [b for b in spec.builds if _dated_by_checks(b) and _current(settings, led, spec, b)]
        led.record_source_check([spec.full_name(b) for b in checked])
    return landed


def _record_landing(led: Ledger, spec: SourceSpec, run_id: str | None, error: str | None) -> None:
    """Record how a landing ended; a ledger that cannot take it is logged, not made the landing's error."""
    try:
        led.record_landing(spec.name, run_id=run_id, error=error)
    except Exception:
        log.exception("%s: could not record the landing's outcome in the ledger", spec.name)


def _dated_by_checks(build: Build) -> bool:
    """Whether an output of ``build`` has no time column (the catalog dates it by source checks)."""
    return any(time_column(get_table(t)) is None for t in build.outputs)


def _current(settings: Settings, led: Ledger, spec: SourceSpec, build: Build) -> bool:
    """Whether every unit ``build`` plans now stands published from the inputs it plans with."""
    ctx = _context(settings, led, RunInfo.cli("source-check"), spec, build)
    return all(
        state is not None and state.status == PUBLISHED and not _is_pending(state, fp, ctx.run)
        for _, state, fp in _planned(ctx, build)
    )


def _planned(ctx: StepContext, build: Build) -> list[tuple[Unit, UnitState | None, str]]:
    """Every unit the build plans now, with its recorded state and its fingerprint now."""
    outputs = [get_table(t) for t in build.outputs]
    states = ctx.ledger.unit_states(ctx.build)
    return [
        (unit, states.get(unit.key), fingerprint(ctx.build, build.code_version, outputs, unit))
        for unit in _unique(_steps(build).plan(ctx), ctx.build)
    ]


def run_spec(
    settings: Settings, spec: SourceSpec, run: RunInfo, *, builds: Sequence[str] | None = None
) -> RunReport:
    """Run the spec's builds in order (all, or the named ones). Serving is not refreshed here."""
    report = RunReport(spec.name, run.run_id)
    for build in spec.builds:
        if builds is None or build.name in builds:
            started = time.perf_counter()
            report.units += run_build(settings, spec, build, run)
            report.timings[spec.full_name(build)] = time.perf_counter() - started
    return report


def run_build(settings: Settings, spec: SourceSpec, build: Build, run: RunInfo) -> list[UnitReport]:
    """Plan, build, gate, publish and record every pending unit of one build."""
    name = spec.full_name(build)
    check_codec(build.compression, name)  # before any work, not at the first write
    led = ledger(settings)
    ctx = _context(settings, led, run, spec, build)
    outputs = [get_table(t) for t in build.outputs]
    planned = _planned(ctx, build)
    units = [unit for unit, _, _ in planned]
    reports: dict[str, UnitReport] = {}
    pending: list[Unit] = []
    for unit, state, fp in planned:
        if state is None or _is_pending(state, fp, run):
            pending.append(unit)
        else:
            reports[unit.key] = _current_report(name, unit.key, state)
    batches = _batches(pending, build, run.workers or settings.workers)
    workers = min(run.workers or settings.workers, len(batches))
    # a daemonic process (a multiprocessing pool's worker) may not start children: build in-process
    if build.parallel and workers > 1 and not multiprocessing.current_process().daemon:
        warm([t for t in outputs if t.name not in build.evidence])  # forked workers inherit GX
        with worker_pool(workers) as pool:
            done = pool.map(_run_batch_job, [(settings, spec.name, build.name, run, b) for b in batches])
            for batch_reports in done:
                reports.update((r.unit, r) for r in batch_reports)
    else:
        for batch in batches:
            reports.update((r.unit, r) for r in _run_batch(ctx, spec, build, batch))
    led.close()
    return [reports[u.key] for u in units]


def _run_batch_job(args: tuple[Settings, str, str, RunInfo, list[Unit]]) -> list[UnitReport]:
    settings, spec_name, build_name, run, batch = args
    from ecocloud.specs import get_spec

    spec = get_spec(spec_name)
    led = ledger(settings)
    try:
        build = spec.build(build_name)
        return _run_batch(_context(settings, led, run, spec, build), spec, build, batch)
    finally:
        led.close()


def _context(settings: Settings, led: Ledger, run: RunInfo, spec: SourceSpec, build: Build) -> StepContext:
    name = spec.full_name(build)
    logic = logic_fingerprint(name, build.code_version, [get_table(t) for t in build.outputs])
    return StepContext(settings, led, run, name, logic)


def _unique(units: Iterable[Unit], build: str) -> list[Unit]:
    out: dict[str, Unit] = {}
    for unit in units:
        if unit.key in out:
            raise ValueError(f"{build}: plan gave unit {unit.key!r} twice")
        out[unit.key] = unit
    return list(out.values())


def _current_report(build: str, key: str, state: UnitState | None) -> UnitReport:
    """A unit with nothing to do: its counts, and why it is still blocked where it is."""
    if state is None:
        return UnitReport(build, key, SKIPPED)
    blocked = (state.error or "blocked") if state.status == BLOCKED else None
    return UnitReport(build, key, SKIPPED, state.counts, blocked_before=blocked)


def _is_pending(state: UnitState | None, fp: str, run: RunInfo) -> bool:
    if run.force or state is None or state.fingerprint != fp or state.status == FAILED:
        return True
    if state.unit in run.rebuild:
        return True
    held = state.status == BLOCKED and (state.error or "").startswith(HELD_FOR_SHRINKING)
    return held and run.accepts_shrink(state.unit)


def _batches(units: list[Unit], build: Build, workers: int = 1) -> list[list[Unit]]:
    """Pending units cut into batches of at most ``batch_units`` units and about ``batch_bytes``
    input bytes; a parallel build gets a multiple of its workers' number of batches, balanced by
    input size, so a run of a few big inputs keeps every core busy to the end."""
    if not units:
        return []
    total = sum(u.size for u in units)
    count = max(-(-len(units) // build.batch_units), -(-total // build.batch_bytes), 1)
    if build.parallel and workers > 1:
        # a multiple of the workers, so that no worker is left alone with the last batch
        count = min(-(-count // workers) * workers, len(units))
    if count == 1:
        return [list(units)]
    if total == 0:
        # sizes unknown: runs of consecutive units (in plan order, days mostly), so that units sharing
        # an input (a day and the day after) build in one worker, which reads it once
        each, more = divmod(len(units), count)  # the first ``more`` runs one unit longer
        starts = [b * each + min(b, more) for b in range(count + 1)]
        return [units[starts[b] : starts[b + 1]] for b in range(count)]
    order = sorted(range(len(units)), key=lambda i: -units[i].size)  # biggest first, to the lightest
    # (input bytes, units, batch): units of unknown size (0) are spread by their number
    loads = [(0, 0, b) for b in range(count)]
    members: list[list[int]] = [[] for _ in range(count)]
    for i in order:
        load, n, b = heapq.heappop(loads)
        members[b].append(i)
        if n + 1 < build.batch_units:
            heapq.heappush(loads, (load + units[i].size, n + 1, b))
        if not loads:  # every batch full: open another
            members.append([])
            loads.append((0, 0, len(members) - 1))
    return [[units[i] for i in sorted(m)] for m in members if m]


# ---------------------------------------------------------------------------------------- batches
@dataclass
class _Built:
    unit: Unit
    fingerprint: str
    output: Output
    report: UnitReport
    split: dict[str, list[tuple[dt.date | None, pa.Table]]]  # table → its parts by partition
    started: float


def _run_batch(ctx: StepContext, spec: SourceSpec, build: Build, batch: list[Unit]) -> list[UnitReport]:
    name = spec.full_name(build)
    steps = _steps(build)
    outputs = [get_table(t) for t in build.outputs]
    held = {unit_lock(name, u.key) for u in batch} | {unit_lock(*x) for u in batch for x in u.excludes}
    with ctx.ledger.locked(held) as locks:
        reports, todo = _replan(ctx, steps, build, outputs, [u.key for u in batch], held)
        built: list[_Built] = []
        started = time.perf_counter()
        together = _build_together(ctx, steps, [u for u, _ in todo])
        for unit, fp in todo:
            try:
                output = together[unit.key] if together is not None else steps.build(ctx, unit)
                if isinstance(output, Exception):
                    raise output
                split = {t.name: _split(t, build, unit, output) for t in outputs}
                # the parts hold the rows now: a batch holding both copies until it is published
                # doubles its peak memory (fresh pages cost this kind of host dearly)
                output.tables = {}
            except Exception as exc:
                reports.append(_fail(ctx, name, unit, fp, exc, started, _fence(locks, name, unit)))
                started = time.perf_counter()
                continue
            report = UnitReport(name, unit.key, PUBLISHED, dict(output.counts), list(output.warnings))
            built.append(_Built(unit, fp, output, report, split, started))
            started = time.perf_counter()
        if built:
            _gate_and_publish(ctx, name, build, outputs, built, locks)
        reports += [b.report for b in built]
    return reports


def _replan(
    ctx: StepContext, steps: Steps, build: Build, outputs: list[Table], keys: list[str], held: set[str]
) -> tuple[list[UnitReport], list[tuple[Unit, str]]]:
    """The batch's units planned again under its locks (another run may have built them, or their
    inputs moved on): the skipped ones' reports, and the units still pending with their fingerprints."""
    wanted = set(keys)
    fresh = {u.key: u for u in steps.plan(ctx) if u.key in wanted}
    states = ctx.ledger.unit_states(ctx.build)

    def skipped(key: str, *warnings: str, current: bool = False) -> UnitReport:
        """``current``: nothing to do (its ledger state stands, blocked perhaps); else it went away
        or was left for the next run."""
        if current:
            return _current_report(ctx.build, key, states.get(key))
        state = states.get(key)
        return UnitReport(
            ctx.build, key, SKIPPED, state.counts if state else {}, list(warnings), deferred=bool(warnings)
        )

    reports: list[UnitReport] = []
    todo: list[tuple[Unit, str]] = []
    for key in keys:
        unit = fresh.get(key)
        if unit is None:  # a concurrent run made it unnecessary, or its input went away
            reports.append(skipped(key))
        elif not {unit_lock(*x) for x in unit.excludes} <= held:
            # it must now exclude a unit the batch did not lock (a part added since the run planned):
            # the next run builds it, under all its locks
            reports.append(
                skipped(key, "new parts of other units since it was planned: left for the next run")
            )
        else:
            fp = fingerprint(ctx.build, build.code_version, outputs, unit)
            if _is_pending(states.get(key), fp, ctx.run):
                todo.append((unit, fp))
            else:
                reports.append(skipped(key, current=True))
    return reports, todo


def _build_together(
    ctx: StepContext, steps: Steps, units: list[Unit]
) -> dict[str, Output | Exception] | None:
    """Steps with ``build_batch(ctx, units)`` build a whole batch in one call (one query over every
    date of the batch instead of one per date); a failure fails every unit of the batch. None: the
    steps build unit by unit."""
    build_batch = getattr(steps, "build_batch", None)
    if build_batch is None or not units:
        return None
    try:
        outputs: dict[str, Output] = build_batch(ctx, units)
    except Exception as exc:
        return {u.key: exc for u in units}
    missing = [u.key for u in units if u.key not in outputs]
    if missing:
        raise ValueError(f"{ctx.build}: build_batch returned no output for {missing}")
    return dict(outputs)


def _split(table: Table, build: Build, unit: Unit, output: Output) -> list[tuple[dt.date | None, pa.Table]]:
    """A unit's rows of one output, as (partition, rows) the way the build publishes them."""
    if table.name not in output.tables:
        raise ValueError(f"{build.name}: the build returned no {table.name}")
    data = table.conform(output.tables[table.name])
    if table.partition_by is None:
        return [(None, data)]
    if build.publish == Publish.PARTITION:
        if unit.partition is None:
            raise ValueError(f"{build.name} {unit.key}: a PARTITION unit needs its partition")
        return [(unit.partition, data)]  # the gate's partition check catches rows of other days
    if build.publish == Publish.WHOLE:
        raise ValueError(f"{build.name}: {table.name} is partitioned; a WHOLE build publishes whole tables")
    column = data.column(table.partition_by)
    if column.null_count:
        raise ValueError(f"{table.name}: {column.null_count} rows of {unit.key} have no {table.partition_by}")
    days = sorted(pc.unique(column).to_pylist())
    if len(days) == 1:
        return [(days[0], data)]
    return [(d, data.filter(pc.equal(column, pa.scalar(d, column.type)))) for d in days]


def _fence(locks: HeldLocks, name: str, unit: Unit) -> Fence:
    """The locks that must still be the batch's when a unit is recorded: its own, and those of the
    units whose parts it retires (``Unit.excludes``: a compaction must not retire a part that another
    run, having taken that unit's lock, has just recorded under the same name)."""
    return locks.fence(unit_lock(name, unit.key), *(unit_lock(*x) for x in unit.excludes))


def _fail(
    ctx: StepContext, name: str, unit: Unit, fp: str, exc: Exception, started: float, fence: Fence
) -> UnitReport:
    error = f"{type(exc).__name__}: {exc}"
    log.error("%s %s failed:\n%s", name, unit.key, "".join(traceback.format_exception(exc)))
    # its parts stay as last published: so do the counts describing them (builds plan from them)
    previous = ctx.previous(unit.key)
    kept = previous.counts if previous is not None else {}
    ctx.ledger.record_unit(_state(ctx, name, unit.key, fp, FAILED, kept, error), fence=fence)
    return UnitReport(name, unit.key, FAILED, failures=[error], seconds=time.perf_counter() - started)


def _with_last_published(counts: dict[str, Any], previous: UnitState | None) -> dict[str, Any]:
    """``counts`` of a blocked or failed attempt, with those of what the unit still has published."""
    last = previous.published_counts if previous is not None else None
    return {**counts, LAST_PUBLISHED: last} if last is not None else dict(counts)


def _state(
    ctx: StepContext, name: str, unit: str, fp: str, status: str, counts: dict[str, Any], error: str | None
) -> UnitState:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    return UnitState(name, unit, fp, status, counts, ctx.run.run_id, ctx.run.task, now, error)


def _gate_and_publish(
    ctx: StepContext, name: str, build: Build, outputs: list[Table], built: list[_Built], locks: HeldLocks
) -> None:
    """Gate the batch's units, table by table, and publish each (``locks``: the batch's, verified
    before each unit is published and fencing its record — a run whose locks were lost stops with
    ``LockLost``)."""
    gate_run = GateRun(ctx.run.run_id, ctx.run.task, name, ACCEPT_SHRINK_HINT)
    expected_latest = ctx.run.expected_latest if build.freshness else None
    verdicts: dict[str, list[GateVerdict]] = {b.unit.key: [] for b in built}
    gated = [t for t in outputs if t.name not in build.evidence]
    published_parts = _published_parts(ctx, built)
    published = _rows_of(published_parts) if any(t.max_shrink is not None for t in gated) else {}
    elsewhere = _held_elsewhere(ctx, build, built)
    for table in gated:
        parts = [
            GatePart(
                b.unit.key,
                p,
                data,
                published.get((b.unit.key, table.name, partition_key(p))),
                shrink_accepted=ctx.run.accepts_shrink(b.unit.key),
            )
            for b in built
            for p, data in b.split[table.name]
        ]
        for verdict in validate(table, parts, run=gate_run, expected_latest=expected_latest):
            verdicts[verdict.unit].append(verdict)
    results: list[pa.Table] = []
    try:
        for b in built:
            passed, shrunk, why = _judged(b, verdicts[b.unit.key])
            locks.verify()
            _publish(
                ctx, name, build, outputs, b, published_parts[b.unit.key], passed, why,
                _fence(locks, name, b.unit), held=shrunk, elsewhere=elsewhere.get(b.unit.key, set()),
            )  # fmt: skip
            results += [v.published(passed) for v in verdicts[b.unit.key]]
    finally:  # the gate results of the units published, also when a later one could not be
        if results:
            _append_results(ctx, name, pa.concat_tables(results))


def _judged(b: _Built, verdicts: list[GateVerdict]) -> tuple[bool, bool, str | None]:
    """A unit's gate outcome: (passed, held back for shrinking alone, why it is blocked); its report
    gets the gate's summaries, warnings and failures."""
    passed = not b.output.blocking and all(v.passed for v in verdicts)
    checks = [c for v in verdicts for c in v.blocking_checks]
    shrunk = not b.output.blocking and bool(checks) and all(c.startswith("shrink:") for c in checks)
    b.report.gate = [v.summary() for v in verdicts]
    b.report.warnings += [w for v in verdicts for w in v.warnings]
    b.report.failures = list(b.output.blocking)
    b.report.failures += [f for v in verdicts for f in v.blocking_failures]
    recorded = [*b.output.blocking, *(f for v in verdicts for f in v.recorded_failures)]
    if not shrunk and any(c.startswith("shrink:") for c in checks):  # the hint would mislead
        recorded.append(SHRINK_NOT_ALONE)
        b.report.failures.append(SHRINK_NOT_ALONE)
    why = None if passed else "\n".join(recorded)
    if shrunk:
        why = f"{HELD_FOR_SHRINKING}:\n{why}"
    return passed, shrunk, why


def _published_parts(ctx: StepContext, built: list[_Built]) -> dict[str, list[Part]]:
    """unit → the parts it has published, for every unit of the batch in one ledger query (the batch
    holds their locks: no other run changes them before they are published)."""
    by_unit: dict[str, list[Part]] = {b.unit.key: [] for b in built}
    for p in ctx.ledger.parts_of_units(ctx.build, list(by_unit)):
        by_unit[p.unit].append(p)
    return by_unit


def _held_elsewhere(ctx: StepContext, build: Build, built: list[_Built]) -> dict[str, set[tuple[str, str]]]:
    """unit → (table, partition key) where another build's part holds rows the unit made from its raw
    inputs: a compaction took its parts there. A unit rebuilt to write nothing there now writes an
    empty part, so the compaction takes its old rows out (see ``_publish``). Units that rewrite their
    own outputs (the compaction's: a table input among them) are not asked."""
    if build.publish != Publish.PART:
        return {}
    units_of: dict[str, list[str]] = {}
    for b in built:
        if not any(i.kind == TABLE and i.id in build.outputs for i in b.unit.inputs):
            for i in b.unit.inputs:
                if i.kind == RAW:
                    units_of.setdefault(i.id, []).append(b.unit.key)
    held: dict[str, set[tuple[str, str]]] = {}
    for input_id, table, key in ctx.ledger.held_elsewhere(ctx.build, build.outputs, list(units_of)):
        for unit in units_of[input_id]:
            held.setdefault(unit, set()).add((table, key))
    return held


def _rows_of(published: dict[str, list[Part]]) -> dict[tuple[str, str, str], int]:
    """(unit, table, partition) → the rows each unit has published there (the shrink check)."""
    rows: dict[tuple[str, str, str], int] = {}
    for unit, unit_parts in published.items():
        for p in unit_parts:
            key = (unit, p.table_name, p.partition)
            rows[key] = rows.get(key, 0) + p.rows
    return rows


def _publish(
    ctx: StepContext,
    name: str,
    build: Build,
    outputs: list[Table],
    b: _Built,
    published: list[Part],
    passed: bool,
    why: str | None,
    fence: Fence,
    held: bool = False,
    elsewhere: Collection[tuple[str, str]] = (),
) -> None:
    """Write the unit's parts and record it, with ``why`` it was blocked; ``published``: the parts it
    had. A blocked unit that never published rows writes its evidence only (what its input's rows
    are quarantined for); one that has rows published, or is ``held`` back for shrinking, writes
    nothing: the published rows and their evidence keep describing the same input (the ledger and the
    run's report say why the new one is blocked).
    ``elsewhere``: (table, partition) where a compacted part holds rows the unit made before; where it
    writes nothing now, it writes an empty part, which the compaction sees as the unit's new rows
    there (none) replacing its old ones. ``fence``: the batch's locks the record needs (``LockLost``
    when another run has taken one over: the parts written stay unlisted, for the sweep)."""
    previous = {(p.table_name, p.partition, p.part) for p in published}
    now = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    writes: list[tuple[Table, dt.date | None, pa.Table, str]] = []
    publishing: set[str] = set()  # the tables whose rows it publishes (none may be left in a table)
    # rows of an earlier input live (its own parts, or a compaction's holding them)
    live = any(p.table_name not in build.evidence and p.rows for p in published) or any(
        t not in build.evidence for t, _ in elsewhere
    )
    for table in outputs:
        if not passed and (held or live or table.name not in build.evidence):
            # keep the last good parts of a blocked unit (they stay consistent with the ledger)
            previous = {k for k in previous if k[0] != table.name}
            continue
        publishing.add(table.name)
        part = b.unit.part if build.publish == Publish.PART else lk.DEFAULT_PART
        writes += [(table, partition, data, part) for partition, data in b.split[table.name]]
        now_written = {partition_key(p) for p, _ in b.split[table.name]}
        writes += [
            (table, partition_date(key), table.empty(), part)
            for t, key in sorted(elsewhere)
            if t == table.name and key not in now_written
        ]

    # a unit of real captures writes a part in each of many dates: the writes (compression, fsync)
    # overlap in threads; on S3 each object gets a new name per content (``data.<sha>``)
    def write(w: tuple[Table, dt.date | None, pa.Table, str]) -> lk.PartFile:
        target, day, rows, part_name = w
        return lk.write_part(ctx.lake, target, rows, day, part=part_name, compression=build.compression)

    with ThreadPoolExecutor(_WRITE_THREADS) as pool:
        puts = list(pool.map(write, writes))
    written = [
        Part(
            table.name,
            partition_key(partition),
            put.part,
            b.fingerprint,
            name,
            b.unit.key,
            data.num_rows,
            put.size_bytes,
            ctx.run.run_id,
            b.output.rows_written_at or now,
        )
        for (table, partition, data, _), put in zip(writes, puts, strict=True)
    ]
    b.report.partitions += [f"{t.name}/{partition_key(p) or '-'}" for t, p, _, _ in writes]
    kept = {(p.table_name, p.partition, p.part) for p in written}
    replaced = {r for r in b.output.replaces if r[0] in publishing}  # compaction (no rows left: all)
    removed = sorted((previous | replaced) - kept)
    lineage = [
        LineageRow(
            p.table_name,
            p.partition,
            p.part,
            i.kind,
            i.id,
            partition_key(i.partition),
            i.version,
        )
        for p in written
        for i in b.unit.inputs
    ]
    b.report.status = PUBLISHED if passed else BLOCKED
    b.report.seconds = time.perf_counter() - b.started
    counts = b.report.counts if passed else _with_last_published(b.report.counts, ctx.previous(b.unit.key))
    state = _state(ctx, name, b.unit.key, b.fingerprint, b.report.status, counts, why)
    # the parts this unit no longer has are retired: the serving views may list them until their next
    # refresh; a refresh the grace period after that deletes their files (``refresh_serving``)
    ctx.ledger.record_unit(state, written=written, removed=removed, lineage_rows=lineage, fence=fence)


def _append_results(ctx: StepContext, name: str, results: pa.Table) -> None:
    """Gate results are appended: one new part per run, batch and results day, never overwritten."""
    part = safe_name(f"{ctx.run.run_id}-{name}-{uuid.uuid4().hex[:8]}")
    column = results.column("date")
    for result_day in sorted(pc.unique(column).to_pylist()):
        rows = results.filter(pc.equal(column, pa.scalar(result_day, column.type)))
        lk.write_part(ctx.lake, expectation_results, rows, result_day, part=part)


# ---------------------------------------------------------------------------------------- serving
def refresh_serving(settings: Settings) -> int:
    """Regenerate the serving DuckDB file (views over the lake, the ledger's tables), then delete the
    files of the retired parts no serving file has listed for ``serving_retired_grace_minutes``: a
    connection opened on an earlier serving file has had that long to finish. Returns how many."""
    led = ledger(settings)
    try:
        retired = led.retired()  # read before the views list the ledger's parts: none of these is listed
        grace = dt.timedelta(minutes=settings.serving_retired_grace_minutes)
        # the macro stored in the file: ``ecocloud sql`` may ask which limit applied then
        macros = [limit_in_force_sql(temp=False)]
        serving.refresh(settings.lake_store, settings.duckdb_file, led, grace=grace, macros=macros)
        unlisted = led.mark_unlisted(retired, dt.datetime.now(dt.UTC))  # the new file lists none of them
        return delete_retired(settings.lake_store, led, unlisted, before=dt.datetime.now(dt.UTC) - grace)
    finally:
        led.close()


def delete_retired(
    lake: LakeLike, led: Ledger, retired: Sequence[RetiredPart], *, before: dt.datetime
) -> int:
    """Delete the files of the ``retired`` parts that serving stopped listing before ``before`` and
    that are still retired as they were; returns how many. Each under the lock of the unit that wrote
    it, which may be writing it again (a local part is replaced in place, an S3 object of the same
    content reused): a unit being built keeps its files for a later refresh. A failure is logged, not
    raised: the views are refreshed already, and the files wait for the next refresh."""
    owners: dict[tuple[str, str], list[RetiredPart]] = {}
    for r in retired:
        if r.unlisted_at is not None and r.unlisted_at < stamp(before):
            owners.setdefault((r.build, r.unit), []).append(r)
    deleted = 0
    for (build, unit), mine in owners.items():
        try:
            with led.locked([unit_lock(build, unit)], timeout_s=0):
                gone = led.still_retired(mine)
                lk.delete_parts(
                    lake, [(get_table(r.table_name), partition_date(r.partition), r.part) for r in gone]
                )
                led.forget_retired(gone)
                deleted += len(gone)
        except LockTimeout:
            log.info(
                "%s/%s is locked (being built, or its retired parts being deleted by another refresh): "
                "its retired parts wait for a later refresh",
                build,
                unit,
            )
        except Exception:  # a table no longer in the registry, an I/O or database error
            log.warning(
                "retired parts of %s/%s not deleted (the next refresh retries)", build, unit, exc_info=True
            )
    return deleted


def _refresh_serving_after_failure(settings: Settings) -> None:
    try:
        refresh_serving(settings)
    except Exception:  # the run's own error is the one to report
        log.exception("serving not refreshed after the failed run")


def today() -> dt.date:
    return dt.datetime.now(BEIJING).date()
