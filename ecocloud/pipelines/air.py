"""The ambient-air pipeline: fetch → raw zone → stage (typed, quarantine) → AQI → quality gate → core → marts.

Each public function is one idempotent step that an Airflow task (``dags/air_quality.py``) or the
CLI calls. A date's partitions are always rebuilt from the newest raw object of that day, so a
rerun of any interval converges on the same lake; the ledger skips a rebuild whose inputs and
pipeline version have not changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import multiprocessing as mp
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ecocloud.pipelines.air_stage import ParsedDay, parse_and_score
from ecocloud.pipelines.common import write_gate_results
from ecocloud.settings import Settings
from ingest.air.fetch import SOURCE, STATION_LIST_NAME, day_file_name, land_location, raw_text
from ingest.air.parse import BEIJING, parse_station_list
from ingest.http import make_session
from schemas import air as schema
from schemas.registry import Table
from transforms.air_daily import city_daily_ranking, station_daily
from warehouse import lake as lk
from warehouse import serving
from warehouse.ledger import Ledger, RawObject
from warehouse.quality import GateVerdict, run_gate, run_gate_partitions

log = logging.getLogger(__name__)

_CODE_VERSION = "1"
# Days gated together in a backfill: GX's cost is per run, memory is per row (~48 k rows a day nationally).
BACKFILL_BATCH_DAYS = 16


def pipeline_version() -> str:
    """Changes whenever the code version or any air table definition changes (forces rebuilds)."""
    tables = (schema.station_hourly, schema.station_daily, schema.city_daily_ranking, schema.stations)
    digest = hashlib.sha256(repr(tables).encode()).hexdigest()[:12]
    return f"air-{_CODE_VERSION}-{digest}"


class QualityGateFailed(RuntimeError):
    """A blocking expectation failed: the partition was not published (the message says why)."""


@dataclass
class DayReport:
    date: dt.date
    status: str  # published | skipped | blocked | no-data
    raw_path: str | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    gate: list[str] = field(default_factory=list)  # one summary line per table gated
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _ledger(settings: Settings) -> Ledger:
    return Ledger(settings.ledger_file)


# -- landing ------------------------------------------------------------------------------------
def land(settings: Settings, locations: list[str]) -> list[RawObject]:
    """Land day files / station lists given as paths or URLs; returns what was (re)landed."""
    ledger = _ledger(settings)
    session = make_session(settings.http_retries, settings.http_backoff_s)
    landed = []
    for loc in locations:
        obj = land_location(settings.lake, ledger, loc, session=session, timeout_s=settings.http_timeout_s)
        if obj is not None:
            landed.append(obj)
    return landed


def fetch_interval(settings: Settings, start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    """Fetch the day file(s) covering [start, end) and the station list; return the Beijing dates."""
    days = beijing_days(start, end)
    base = settings.air_base_url.rstrip("/")
    urls = [f"{base}/{STATION_LIST_NAME}"] + [f"{base}/{day_file_name(d)}" for d in days]
    land(settings, urls)
    return days


def beijing_days(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    first = start.astimezone(BEIJING).date()
    last = (end - dt.timedelta(microseconds=1)).astimezone(BEIJING).date()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


# -- building ---------------------------------------------------------------------------------
def _record_results(result: GateVerdict, report: DayReport) -> None:
    """Report a gate run's verdict on one day (the results are written by the caller)."""
    report.gate.append(result.summary())
    report.warnings.extend(result.warnings)
    report.failures.extend(result.blocking_failures)


def _gate(
    settings: Settings,
    table_def: Table,
    data: pa.Table,
    day: dt.date | None,
    run_id: str,
    report: DayReport,
    expected_latest: dt.datetime | None = None,
) -> GateVerdict:
    result = run_gate(table_def, data, partition_date=day, expected_latest=expected_latest, run_id=run_id)
    write_gate_results(settings, [result])
    _record_results(result, report)
    return result


def _gate_many(
    settings: Settings, table_def: Table, staged: dict[dt.date, tuple[pa.Table, DayReport]]
) -> dict[dt.date, bool]:
    """Gate several days of one table in one GX pass (backfills); per-day verdicts stay exact."""
    if not staged:
        return {}
    run_id = uuid.uuid4().hex[:12]
    if len(staged) == 1:
        [(day, (data, report))] = staged.items()
        return {day: _gate(settings, table_def, data, day, run_id, report).passed}
    verdicts = run_gate_partitions(table_def, pa.concat_tables(d for d, _ in staged.values()), run_id=run_id)
    write_gate_results(settings, verdicts.values())
    for day, result in verdicts.items():
        _record_results(result, staged[day][1])
    return {day: result.passed for day, result in verdicts.items()}


@dataclass
class _StagedDay:
    """One day parsed and typed, waiting for its quality gate."""

    report: DayReport
    raw: RawObject
    hourly: pa.Table
    quarantine: pa.Table
    daily: pa.Table | None = None  # daily statistics, computed alongside when staged in a worker


def _plan_day(ledger: Ledger, day: dt.date, *, force: bool) -> RawObject | DayReport:
    """The raw object to (re)build ``day`` from, or a report saying why there is nothing to do."""
    obj = ledger.latest_raw(SOURCE, day_file_name(day))
    if obj is None:
        return DayReport(day, "no-data")
    key = f"hourly/{day.isoformat()}"
    if not force and ledger.is_current(SOURCE, key, obj.sha256, pipeline_version()):
        prev = ledger.build(SOURCE, key)
        return DayReport(day, "skipped", obj.raw_path, prev.counts if prev else {})
    return obj


def _staged(
    settings: Settings, ledger: Ledger, day: dt.date, obj: RawObject, parsed: ParsedDay | str
) -> _StagedDay | DayReport:
    report = DayReport(day, "published", obj.raw_path)
    if isinstance(parsed, str):
        # Nothing in the file can be placed: the whole file is quarantined, nothing is published.
        quarantine = schema.quarantine.conform(
            pa.table(
                {
                    "date": pa.array([day], pa.date32()),
                    "raw_file": [obj.raw_path],
                    "line_no": pa.array([1], pa.int32()),
                    "station_code": pa.array([None], pa.string()),
                    "release_type": pa.array([None], pa.string()),
                    "raw_value": pa.array([None], pa.string()),
                    "reason": [parsed],
                }
            )
        )
        lk.write_partition(settings.lake, schema.quarantine, quarantine, day)
        report.status = "blocked"
        report.failures.append(parsed)
        ledger.record_build(
            SOURCE, f"hourly/{day.isoformat()}", obj.sha256, pipeline_version(), "blocked", {"error": parsed}
        )
        return report
    report.counts = parsed.counts
    return _StagedDay(report, obj, parsed.hourly, parsed.quarantine, parsed.daily)


def _publish_day(settings: Settings, ledger: Ledger, staged: _StagedDay, passed: bool) -> DayReport:
    day, report = staged.report.date, staged.report
    # Quarantine always reflects the latest parse of the day: it is evidence, not data to gate.
    lk.write_partition(settings.lake, schema.quarantine, staged.quarantine, day)
    if passed:
        lk.write_partition(settings.lake, schema.station_hourly, staged.hourly, day)
    else:
        report.status = "blocked"
    ledger.record_build(
        SOURCE,
        f"hourly/{day.isoformat()}",
        staged.raw.sha256,
        pipeline_version(),
        report.status,
        report.counts,
    )
    return report


def build_day(
    settings: Settings,
    day: dt.date,
    *,
    expected_latest: dt.datetime | None = None,
    force: bool = False,
) -> DayReport:
    """Rebuild station-hours (and quarantine) for one Beijing day from its newest raw day file.

    ``expected_latest`` (a scheduled run: the start of its data interval) adds the freshness check.
    """
    if expected_latest is not None:  # Airflow hands pendulum datetimes; the gate wants plain UTC
        expected_latest = dt.datetime.fromtimestamp(expected_latest.timestamp(), dt.UTC)
    ledger = _ledger(settings)
    planned = _plan_day(ledger, day, force=force)
    if isinstance(planned, DayReport):
        return planned
    staged = _staged(
        settings, ledger, day, planned, parse_and_score(settings.lake, planned.raw_path, day, False)
    )
    if isinstance(staged, DayReport):
        return staged
    gate = _gate(
        settings,
        schema.station_hourly,
        staged.hourly,
        day,
        uuid.uuid4().hex[:12],
        staged.report,
        expected_latest,
    )
    return _publish_day(settings, ledger, staged, gate.passed)


def build_days(
    settings: Settings,
    days: list[dt.date],
    *,
    force: bool = False,
    on_day: Callable[[DayReport], None] | None = None,
) -> tuple[list[DayReport], dict[dt.date, pa.Table]]:
    """Backfill: parse days in worker processes, gate them in batches of one GX pass each.

    Returns the reports and the daily statistics computed alongside (for ``build_daily``).
    """
    ledger = _ledger(settings)
    reports: dict[dt.date, DayReport] = {}
    planned: dict[dt.date, RawObject] = {}
    for day in days:
        plan = _plan_day(ledger, day, force=force)
        if isinstance(plan, DayReport):
            reports[day] = plan
            if on_day:
                on_day(plan)
        else:
            planned[day] = plan
    dailies: dict[dt.date, pa.Table] = {}
    todo = list(planned)
    workers = min(settings.workers, len(todo))
    with _executor(workers) as pool:
        # Submit one batch ahead so workers parse the next batch while this process gates and writes.
        batches = [todo[i : i + BACKFILL_BATCH_DAYS] for i in range(0, len(todo), BACKFILL_BATCH_DAYS)]
        futures = [_submit(pool, settings.lake, planned, b) for b in batches[:1]]
        for n in range(len(batches)):
            if n + 1 < len(batches):
                futures.append(_submit(pool, settings.lake, planned, batches[n + 1]))
            batch: dict[dt.date, _StagedDay] = {}
            for day, fut in futures[n].items():
                staged = _staged(settings, ledger, day, planned[day], fut.result())
                if isinstance(staged, DayReport):
                    reports[day] = staged
                    if on_day:
                        on_day(staged)
                else:
                    batch[day] = staged
            futures[n] = {}  # let the parsed tables go once published
            verdicts = _gate_many(
                settings, schema.station_hourly, {d: (s.hourly, s.report) for d, s in batch.items()}
            )
            for day, staged in batch.items():
                reports[day] = _publish_day(settings, ledger, staged, verdicts[day])
                if verdicts[day] and staged.daily is not None:
                    dailies[day] = staged.daily
                if on_day:
                    on_day(reports[day])
    return [reports[d] for d in days], dailies


class _Inline:
    """Runs submitted work in this process (one worker, or nothing to parallelise)."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        fut.set_result(fn(*args))
        return fut

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _executor(workers: int) -> Any:
    if workers <= 1:
        return _Inline()
    # spawn: workers start clean (no inherited threads or GX state) and import only air_stage
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))


def _submit(
    pool: Any, lake: Path, planned: dict[dt.date, RawObject], batch: list[dt.date]
) -> dict[dt.date, Any]:
    return {d: pool.submit(parse_and_score, lake, planned[d].raw_path, d, True) for d in batch}


def build_stations(settings: Settings) -> pa.Table:
    """Rebuild the station dimension: the newest station list plus every station seen in the lake."""
    ledger = _ledger(settings)
    listed_obj = ledger.latest_raw(SOURCE, STATION_LIST_NAME)
    listed = (
        parse_station_list(raw_text(settings.lake, listed_obj))
        if listed_obj
        else pa.table(
            {
                "station_code": pa.array([], pa.string()),
                "station_name": pa.array([], pa.string()),
                "city": pa.array([], pa.string()),
                "longitude": pa.array([], pa.float64()),
                "latitude": pa.array([], pa.float64()),
                "is_control_point": pa.array([], pa.bool_()),
            }
        )
    )
    con = duckdb.connect()
    con.register("listed", listed)
    seen_sql = (
        "SELECT NULL::VARCHAR AS station_code, NULL::DATE AS first_seen, NULL::DATE AS last_seen WHERE false"
    )
    if lk.partitions(settings.lake, schema.station_hourly):
        glob = lk.table_glob(settings.lake, schema.station_hourly)
        seen_sql = (
            "SELECT station_code, min(date) AS first_seen, max(date) AS last_seen "
            f"FROM read_parquet('{glob}', hive_partitioning = true, hive_types = {{'date': DATE}}) GROUP BY ALL"
        )
    stations = con.sql(
        f"""
        WITH seen AS ({seen_sql})
        SELECT coalesce(l.station_code, s.station_code) AS station_code, l.station_name, l.city,
               CASE WHEN l.longitude BETWEEN 73 AND 136 THEN l.longitude END AS longitude,
               CASE WHEN l.latitude BETWEEN 3 AND 54 THEN l.latitude END AS latitude,
               l.is_control_point, l.station_code IS NOT NULL AS listed,
               s.first_seen AS first_seen_date, s.last_seen AS last_seen_date
        FROM listed l FULL OUTER JOIN seen s USING (station_code)
        ORDER BY station_code
        """
    ).to_arrow_table()
    con.close()
    return schema.stations.conform(stations)


def _daily_from_lake(settings: Settings, day: dt.date) -> pa.Table:
    return schema.station_daily.conform(
        station_daily(lk.read_partition(settings.lake, schema.station_hourly, day))
    )


def _daily_inputs(ledger: Ledger, day: dt.date) -> str | None:
    hourly_build = ledger.build(SOURCE, f"hourly/{day.isoformat()}")
    if hourly_build is None or hourly_build.status != "published":
        return None
    return f"{hourly_build.inputs}+{_stations_inputs(ledger)}"


def build_daily(
    settings: Settings,
    days: list[dt.date],
    *,
    force: bool = False,
    precomputed: dict[dt.date, pa.Table] | None = None,
) -> list[DayReport]:
    """Daily statistics, daily AQI and the city ranking for ``days``, from their published station-hours."""
    ledger = _ledger(settings)
    version = pipeline_version()
    published = set(lk.partitions(settings.lake, schema.station_hourly))
    reports = {d: DayReport(d, "published") for d in days}
    todo: dict[dt.date, str] = {}
    for day in days:
        inputs = _daily_inputs(ledger, day)
        if day not in published or inputs is None:
            reports[day].status = "no-data"
        elif not force and ledger.is_current(SOURCE, f"daily/{day.isoformat()}", inputs, version):
            reports[day].status = "skipped"
        else:
            todo[day] = inputs
    if not todo:
        return [reports[d] for d in days]
    stations = lk.read_partition(settings.lake, schema.stations, None)
    precomputed = precomputed or {}
    for start in range(0, len(todo), BACKFILL_BATCH_DAYS):
        chunk = list(todo)[start : start + BACKFILL_BATCH_DAYS]
        daily = {d: precomputed[d] if d in precomputed else _daily_from_lake(settings, d) for d in chunk}
        ok = _gate_many(settings, schema.station_daily, {d: (t, reports[d]) for d, t in daily.items()})
        ranking = {
            d: schema.city_daily_ranking.conform(city_daily_ranking(daily[d], stations))
            for d in chunk
            if ok[d]
        }
        ranked_ok = _gate_many(
            settings, schema.city_daily_ranking, {d: (t, reports[d]) for d, t in ranking.items()}
        )
        for day in chunk:
            rep = reports[day]
            if ok[day]:
                lk.write_partition(settings.lake, schema.station_daily, daily[day], day)
            if ranked_ok.get(day):
                lk.write_partition(settings.lake, schema.city_daily_ranking, ranking[day], day)
            if not (ok[day] and ranked_ok.get(day)):
                rep.status = "blocked"
            rep.counts = {
                "stations": daily[day].num_rows,
                "cities_ranked": ranking[day].num_rows if day in ranking else 0,
            }
            ledger.record_build(
                SOURCE, f"daily/{day.isoformat()}", todo[day], version, rep.status, rep.counts
            )
    return [reports[d] for d in days]


def _stations_inputs(ledger: Ledger) -> str:
    """Fingerprint of what the station dimension is built from: the list and the published days."""
    listed = ledger.latest_raw(SOURCE, STATION_LIST_NAME)
    days = [f"{b.partition}:{b.inputs}" for b in ledger.builds(SOURCE) if b.partition.startswith("hourly/")]
    digest = hashlib.sha256("\n".join(days).encode()).hexdigest()[:16]
    return f"{listed.sha256 if listed else 'no-list'}+{digest}"


def publish_stations(settings: Settings, *, force: bool = False) -> DayReport:
    """Gate and publish the station dimension unless its inputs are unchanged."""
    ledger = _ledger(settings)
    inputs, version = _stations_inputs(ledger), pipeline_version()
    report = DayReport(dt.datetime.now(BEIJING).date(), "published")
    if not force and ledger.is_current(SOURCE, "stations", inputs, version):
        report.status = "skipped"
        return report
    stations = build_stations(settings)
    if _gate(settings, schema.stations, stations, None, uuid.uuid4().hex[:12], report).passed:
        lk.write_partition(settings.lake, schema.stations, stations, None)
    else:
        report.status = "blocked"
    report.counts = {
        "stations": stations.num_rows,
        "unlisted": stations.num_rows - sum(stations.column("listed").to_pylist()),
    }
    ledger.record_build(SOURCE, "stations", inputs, version, report.status, report.counts)
    return report


def refresh_serving(settings: Settings) -> None:
    serving.refresh(settings.lake, settings.duckdb_file, _ledger(settings))


# -- whole runs -------------------------------------------------------------------------------
def process_days(
    settings: Settings,
    days: list[dt.date],
    *,
    expected_latest: dt.datetime | None = None,
    force: bool = False,
    on_day: Callable[[DayReport], None] | None = None,
) -> list[DayReport]:
    """Build hourly, then stations, then daily marts for ``days``; refresh the serving database.

    With ``expected_latest`` (a scheduled run) each day is gated on its own, freshness included;
    without it (a backfill or file ingest) days are gated in batches.
    """
    dailies: dict[dt.date, pa.Table] = {}
    if expected_latest is None:
        reports, dailies = build_days(settings, days, force=force, on_day=on_day)
    else:
        reports = []
        for day in days:
            reports.append(build_day(settings, day, expected_latest=expected_latest, force=force))
            if on_day:
                on_day(reports[-1])
    built = publish_stations(settings, force=force).status != "skipped"
    for rep, daily in zip(
        reports,
        build_daily(settings, [r.date for r in reports], force=force, precomputed=dailies),
        strict=True,
    ):
        rep.gate.extend(daily.gate)
        rep.warnings.extend(daily.warnings)
        rep.failures.extend(daily.failures)
        if daily.status == "blocked":
            rep.status = "blocked"
        built |= daily.status not in ("skipped", "no-data") or rep.status != "skipped"
    if built or not settings.duckdb_file.exists():
        refresh_serving(settings)
    return reports


def ingest_locations(
    settings: Settings,
    locations: list[str],
    *,
    force: bool = False,
    on_day: Callable[[DayReport], None] | None = None,
) -> list[DayReport]:
    """`ecocloud ingest air`: land the given files/URLs, then build every day they touch."""
    landed = land(settings, locations)
    days = sorted({dt.date.fromisoformat(o.partition) for o in landed if o.partition})
    return process_days(settings, days, force=force, on_day=on_day)


def check_reports(reports: list[DayReport]) -> None:
    """Raise when any day was blocked by the quality gate, listing every reason."""
    blocked = [r for r in reports if r.status == "blocked"]
    if blocked:
        lines = [f"{r.date}: {f}" for r in blocked for f in r.failures]
        raise QualityGateFailed("quality gate blocked publication:\n" + "\n".join(lines))
