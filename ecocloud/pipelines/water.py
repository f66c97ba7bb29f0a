"""The surface-water pipeline: board → raw zone → typed readings (quarantine) → GB 3838 class →
quality gate → core → monthly marts.

Each public function is one idempotent step that an Airflow task (``dags/surface_water.py``) or the
CLI calls.

* A **snapshot** (one fetch of every page of the board, ``ingest.water.fetch``) is parsed once per
  pipeline version: its untypeable rows go to ``quarantine_water__section_readings`` (partition =
  the snapshot's Beijing date, one part per snapshot), and its counts — rows in = typed +
  quarantined — and the Beijing dates of its readings are recorded in the ledger.
* A **day** partition of ``core_water__section_readings`` is rebuilt whole from every parsed
  snapshot holding readings of that day (a reading seen in several snapshots is kept once, from the
  newest), joined with the section registry and classified. The ledger skips a day whose snapshots,
  registry and pipeline version are unchanged.
* **Months** (section monthly class, basin roll-up) are rebuilt from the month's published days.

The section registry is the CSV at ``settings.water_sections_csv`` (or given to the CLI); it is
landed in the raw zone so every build can say which registry it used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ecocloud.pipelines.common import write_gate_results
from ecocloud.settings import Settings
from ingest.http import make_session
from ingest.raw import read_raw
from ingest.water.fetch import (
    SECTIONS_NAME,
    SOURCE,
    Snapshot,
    fetch_board,
    land_file,
    land_sections,
    load_snapshot,
    snapshot_key,
)
from ingest.water.parse import BEIJING, READING_COLUMNS, WaterReplyError, parse_page, quarantine_rows
from ingest.water.sections import empty_registry, parse_sections_csv
from schemas import water as schema
from schemas.registry import Table
from transforms.water_class import attach_sections, basin_monthly, classify, section_monthly
from warehouse import lake as lk
from warehouse import serving
from warehouse.ledger import Ledger, RawObject
from warehouse.quality import GateVerdict, run_gate

log = logging.getLogger(__name__)

_CODE_VERSION = "1"
PARSED = "parsed"


def pipeline_version() -> str:
    """Changes whenever the code version or any water table definition changes (forces rebuilds)."""
    tables = (
        schema.section_readings,
        schema.sections,
        schema.section_monthly,
        schema.basin_monthly,
        schema.quarantine,
    )
    digest = hashlib.sha256(repr(tables).encode()).hexdigest()[:12]
    return f"water-{_CODE_VERSION}-{digest}"


class QualityGateFailed(RuntimeError):
    """A blocking expectation failed: the partition was not published (the message says why)."""


@dataclass
class Report:
    """What one step did to one partition (a day, a month, a snapshot or the section dimension)."""

    key: str  # ledger key: readings/2026-08-21, monthly/2026-08, snapshot/<id>, sections
    status: str  # published | skipped | blocked | no-data
    date: dt.date | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    gate: list[str] = field(default_factory=list)  # one summary line per table gated
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _ledger(settings: Settings) -> Ledger:
    return Ledger(settings.ledger_file)


def _gate(
    settings: Settings,
    table: Table,
    data: pa.Table,
    partition: dt.date | None,
    run_id: str,
    report: Report,
    expected_latest: dt.datetime | None = None,
) -> GateVerdict:
    result = run_gate(table, data, partition_date=partition, expected_latest=expected_latest, run_id=run_id)
    write_gate_results(settings, [result])
    report.gate.append(result.summary())
    report.warnings.extend(result.warnings)
    report.failures.extend(result.blocking_failures)
    return result


# -- section registry ---------------------------------------------------------------------------
def land_registry(settings: Settings, path: Path | None = None) -> RawObject | None:
    """Land the section registry (``path``, else ``settings.water_sections_csv``); None when neither."""
    path = path or settings.water_sections_csv
    if path is None:
        return None
    ledger = _ledger(settings)
    obj = land_sections(settings.lake, ledger, Path(path))
    parse_sections_csv(read_raw(settings.lake, obj))  # refuse a broken registry here, loudly
    ledger.record_build(
        SOURCE, "registry", obj.sha256, pipeline_version(), "published", {"raw_path": obj.raw_path}
    )
    return obj


def registry_table(settings: Settings) -> pa.Table:
    """The section registry in force (empty when none was ever landed)."""
    return _registry(settings, _ledger(settings))[0]


def _registry(settings: Settings, ledger: Ledger) -> tuple[pa.Table, str]:
    """The registry in force (the one last landed by ``land_registry``) and its fingerprint."""
    build = ledger.build(SOURCE, "registry")
    if build is None:
        return empty_registry(), "no-registry"
    objects = {o.raw_path: o for o in ledger.raw_objects(SOURCE) if o.logical_name == SECTIONS_NAME}
    obj = objects[build.counts["raw_path"]]
    return parse_sections_csv(read_raw(settings.lake, obj)), obj.sha256


# -- landing ------------------------------------------------------------------------------------
def fetch_snapshot(settings: Settings, *, page_size: int | None = None) -> Snapshot:
    """Fetch every page of the board at ``settings.water_base_url`` (conditional GET) as a snapshot."""
    session = make_session(settings.http_retries, settings.http_backoff_s)
    kwargs: dict[str, Any] = {"page_size": page_size} if page_size else {}
    return fetch_board(
        settings.lake,
        _ledger(settings),
        settings.water_base_url,
        session=session,
        timeout_s=settings.http_timeout_s,
        **kwargs,
    )


def load_snapshot_by_id(settings: Settings, snapshot_id: str) -> Snapshot:
    """A landed snapshot (the DAG passes ids between tasks)."""
    return load_snapshot(_ledger(settings), snapshot_id)


def land(
    settings: Settings, locations: list[str], *, fetched_at: dt.datetime | None = None
) -> list[Snapshot]:
    """Land boards (http(s) URLs: every page) and saved reply pages (paths), one snapshot each."""
    ledger = _ledger(settings)
    session = make_session(settings.http_retries, settings.http_backoff_s)
    out = []
    for loc in locations:
        if loc.startswith(("http://", "https://")):
            base = loc.split("?", 1)[0]
            base = base.rsplit("/", 1)[0] if base.endswith(".ashx") else base
            out.append(
                fetch_board(settings.lake, ledger, base, session=session, timeout_s=settings.http_timeout_s)
            )
        else:
            out.append(land_file(settings.lake, ledger, Path(loc), fetched_at=fetched_at))
    return out


# -- parsing a snapshot -------------------------------------------------------------------------
@dataclass
class _Parsed:
    readings: pa.Table
    quarantine: pa.Table
    counts: dict[str, Any]


def _parse_snapshot(settings: Settings, snap: Snapshot) -> _Parsed:
    readings, quarantine = [], []
    counts: dict[str, Any] = dict.fromkeys(
        ("rows_in", "rows_typed", "rows_quarantined", "pages_quarantined", "values_qc_failed", "duplicates"),
        0,
    )
    counts["page_count"] = len(snap.pages)
    unknown: set[str] = set()
    declared: set[tuple[int, int]] = set()
    for i, obj in enumerate(snap.pages):
        page = snap.first_page + i
        try:
            parsed = parse_page(
                read_raw(settings.lake, obj),
                raw_file=obj.raw_path,
                page=page,
                reference=snap.reference_at,
                snapshot_id=snap.snapshot_id,
                fetch_date=snap.fetch_date,
            )
        except WaterReplyError as exc:
            counts["pages_quarantined"] += 1
            quarantine.append(
                quarantine_rows(
                    [{"row_index": None, "reason": f"page not usable: {exc}"}],
                    fetch_date=snap.fetch_date,
                    snapshot_id=snap.snapshot_id,
                    raw_file=obj.raw_path,
                    page=page,
                )
            )
            continue
        declared.add((parsed.total, parsed.records))
        unknown.update(parsed.unknown_headers)
        readings.append(parsed.readings)
        quarantine.append(parsed.quarantine)
        for key in ("rows_in", "rows_typed", "rows_quarantined", "values_qc_failed"):
            counts[key] += parsed.counts[key]

    typed = pa.concat_tables(readings) if readings else None
    q = pa.concat_tables(quarantine) if quarantine else schema.quarantine.arrow_schema().empty_table()
    if typed is not None and typed.num_rows:
        typed, dupes = _drop_duplicates(typed, snap)
        if dupes.num_rows:
            counts["duplicates"] = dupes.num_rows
            counts["rows_typed"] -= dupes.num_rows
            counts["rows_quarantined"] += dupes.num_rows
            q = pa.concat_tables([q, dupes])
    if typed is None:
        typed = pa.table({c: pa.array([], _reading_type(c)) for c in READING_COLUMNS})
    counts["records_declared"] = sorted({r for _, r in declared})
    if len(declared) > 1:
        counts["inconsistent_pages"] = True  # the board changed while its pages were fetched
    if unknown:
        counts["unknown_headers"] = sorted(unknown)
    counts["dates"] = sorted({d.isoformat() for d in typed.column("date").to_pylist() if d is not None})
    return _Parsed(typed, schema.quarantine.conform(q), counts)


def _reading_type(column: str) -> pa.DataType:
    extra = {"page": pa.int32(), "row_index": pa.int32()}
    if column in extra:
        return extra[column]
    return schema.section_readings.column(column).arrow_type


def _drop_duplicates(typed: pa.Table, snap: Snapshot) -> tuple[pa.Table, pa.Table]:
    """Keep the first row of each (section_id, observed_at) in page order; quarantine the others."""
    con = duckdb.connect()
    try:
        con.register("t", typed)
        ranked = con.sql(
            "SELECT *, row_number() OVER (PARTITION BY section_id, observed_at ORDER BY page, row_index) AS _n, "
            "first_value(page) OVER (PARTITION BY section_id, observed_at ORDER BY page, row_index) AS _p, "
            "first_value(row_index) OVER (PARTITION BY section_id, observed_at ORDER BY page, row_index) AS _r "
            "FROM t ORDER BY page, row_index"
        ).to_arrow_table()
    finally:
        con.close()
    first = pc.equal(ranked.column("_n"), 1)
    keep = ranked.filter(first).drop_columns(["_n", "_p", "_r"])
    dupes = ranked.filter(pc.invert(first))
    raw_of_page = {snap.first_page + i: o.raw_path for i, o in enumerate(snap.pages)}
    parts = []
    for page in sorted(set(dupes.column("page").to_pylist())):
        sub = dupes.filter(pc.equal(dupes.column("page"), page))
        rows = [
            {
                "row_index": r["row_index"],
                "province": r["province"],
                "basin": r["basin"],
                "section_name": r["section_name"],
                "column_name": "监测时间",
                "raw_value": r["observed_at"].astimezone(BEIJING).strftime("%m-%d %H:%M"),
                "reason": f"duplicate: same section and reading time as page {r['_p']} row {r['_r']}",
            }
            for r in sub.to_pylist()  # duplicates are rare: a handful per snapshot at most
        ]
        parts.append(
            quarantine_rows(
                rows,
                fetch_date=snap.fetch_date,
                snapshot_id=snap.snapshot_id,
                raw_file=raw_of_page[page],
                page=page,
            )
        )
    empty = schema.quarantine.arrow_schema().empty_table()
    return keep, (pa.concat_tables(parts) if parts else empty)


def process_snapshot_rows(settings: Settings, snap: Snapshot, *, force: bool = False) -> Report:
    """Parse a snapshot, publish its quarantine part and record its counts and reading dates."""
    ledger = _ledger(settings)
    key, version = snapshot_key(snap.snapshot_id), pipeline_version()
    prev = ledger.build(SOURCE, key)
    if not force and prev is not None and prev.status == PARSED and prev.pipeline_version == version:
        return Report(key, "skipped", snap.fetch_date, prev.counts)
    parsed = _parse_snapshot(settings, snap)
    lk.write_partition(
        settings.lake,
        schema.quarantine,
        parsed.quarantine,
        snap.fetch_date,
        part=f"snapshot-{snap.snapshot_id}",
    )
    counts = {**snap.record(), **parsed.counts}
    ledger.record_build(SOURCE, key, snap.inputs, version, PARSED, counts)
    report = Report(key, "published", snap.fetch_date, counts)
    if parsed.counts.get("inconsistent_pages"):
        report.warnings.append(f"snapshot {snap.snapshot_id}: pages disagree on total/records")
    if parsed.counts.get("unknown_headers"):
        report.warnings.append(
            f"snapshot {snap.snapshot_id}: unknown header items {parsed.counts['unknown_headers']}"
        )
    return report


# -- building days ------------------------------------------------------------------------------
def _snapshots_with(ledger: Ledger, day: dt.date) -> list[Snapshot]:
    """Parsed snapshots holding readings of ``day``, oldest fetch first."""
    iso = day.isoformat()
    found = [
        b
        for b in ledger.builds(SOURCE)
        if b.partition.startswith("snapshot/") and b.status == PARSED and iso in b.counts.get("dates", [])
    ]
    objects = {o.raw_path: o for o in ledger.raw_objects(SOURCE)}
    snaps = [load_snapshot(ledger, b.partition.split("/", 1)[1], objects=objects) for b in found]
    return sorted(snaps, key=lambda s: (s.reference_at, s.fetched_at, s.snapshot_id))


def day_readings(settings: Settings, day: dt.date, registry: pa.Table) -> tuple[pa.Table, dict[str, Any]]:
    """The day's readings from every snapshot that has them (newest snapshot wins), classified."""
    ledger = _ledger(settings)
    snaps = _snapshots_with(ledger, day)
    parts = []
    for rank, snap in enumerate(snaps):
        typed = _parse_snapshot(settings, snap).readings
        typed = typed.filter(pc.equal(typed.column("date"), pa.scalar(day, pa.date32())))
        parts.append(typed.append_column("_rank", pa.array([rank] * typed.num_rows, pa.int32())))
    if not parts:
        return schema.section_readings.arrow_schema().empty_table(), {"snapshots": 0}
    con = duckdb.connect()
    try:
        con.register("t", pa.concat_tables(parts))
        rows_seen = con.execute("SELECT count(*) FROM t").fetchall()[0]
        latest = con.sql(
            "SELECT * EXCLUDE (_rank, page, row_index) FROM t "
            "QUALIFY row_number() OVER (PARTITION BY section_id, observed_at ORDER BY _rank DESC) = 1 "
            "ORDER BY section_id, observed_at"
        ).to_arrow_table()
    finally:
        con.close()
    enriched = attach_sections(latest, registry)
    classes = classify(enriched)
    for name in classes.column_names:
        enriched = enriched.append_column(name, classes.column(name))
    counts = {
        "snapshots": len(snaps),
        "rows_seen": int(rows_seen[0]) if rows_seen else 0,
        "readings": enriched.num_rows,
        "sections": len(pc.unique(enriched.column("section_id"))),
        "sections_unlisted": len(
            pc.unique(enriched.filter(pc.invert(enriched.column("section_listed"))).column("section_id"))
        ),
    }
    return schema.section_readings.conform(enriched), counts


def _agreement(readings: pa.Table) -> tuple[int, int]:
    both = pc.and_(
        pc.is_valid(readings.column("water_class")), pc.is_valid(readings.column("class_published"))
    )
    same = pc.and_(both, pc.equal(readings.column("water_class"), readings.column("class_published")))
    return int(pc.sum(both).as_py() or 0), int(pc.sum(pc.fill_null(same, False)).as_py() or 0)


def build_day(
    settings: Settings,
    day: dt.date,
    *,
    expected_latest: dt.datetime | None = None,
    force: bool = False,
) -> Report:
    """Rebuild one Beijing day of ``core_water__section_readings`` from its snapshots."""
    if expected_latest is not None:  # Airflow hands pendulum datetimes; the gate wants plain UTC
        expected_latest = dt.datetime.fromtimestamp(expected_latest.timestamp(), dt.UTC)
    ledger = _ledger(settings)
    key, version = f"readings/{day.isoformat()}", pipeline_version()
    snaps = _snapshots_with(ledger, day)
    if not snaps:
        return Report(key, "no-data", day)
    registry, registry_sha = _registry(settings, ledger)
    inputs = ",".join(s.snapshot_id for s in snaps) + f"+{registry_sha}"
    if not force and ledger.is_current(SOURCE, key, inputs, version):
        prev = ledger.build(SOURCE, key)
        return Report(key, "skipped", day, prev.counts if prev else {})

    report = Report(key, "published", day)
    readings, counts = day_readings(settings, day, registry)
    n, same = _agreement(readings)
    counts |= {"class_compared": n, "class_agree": same}
    counts["class_agreement_pct"] = round(100.0 * same / n, 4) if n else None
    report.counts = counts
    if counts["sections_unlisted"]:
        report.warnings.append(
            f"{day}: {counts['sections_unlisted']} section(s) not in the section registry: classified as "
            "rivers with target III"
        )
    gate = _gate(
        settings, schema.section_readings, readings, day, uuid.uuid4().hex[:12], report, expected_latest
    )
    if gate.passed:
        lk.write_partition(settings.lake, schema.section_readings, readings, day)
    else:
        report.status = "blocked"
    ledger.record_build(SOURCE, key, inputs, version, report.status, report.counts)
    return report


def process_snapshot(
    settings: Settings,
    snap: Snapshot,
    *,
    expected_latest: dt.datetime | None = None,
    force: bool = False,
    on_day: Callable[[Report], None] | None = None,
) -> list[Report]:
    """Parse ``snap`` and rebuild every day it has readings of (freshness checked on the newest)."""
    parsed = process_snapshot_rows(settings, snap, force=force)
    if not snap.new:
        parsed.warnings.append(
            f"board unchanged since snapshot {snap.snapshot_id} (fetched {snap.fetched_at:%Y-%m-%d %H:%M} UTC)"
        )
    days = sorted(dt.date.fromisoformat(d) for d in parsed.counts.get("dates", []))
    reports = [parsed]
    for day in days:
        latest = expected_latest if day == days[-1] else None
        rep = build_day(settings, day, expected_latest=latest, force=force)
        reports.append(rep)
        if on_day:
            on_day(rep)
    return reports


# -- dimension and marts ------------------------------------------------------------------------
def _readings_glob_sql(settings: Settings) -> str:
    glob = lk.table_glob(settings.lake, schema.section_readings)
    return f"read_parquet('{glob}', hive_partitioning = true, hive_types = {{'date': DATE}})"


def _day_builds_digest(ledger: Ledger, prefix: str = "readings/") -> str:
    days = [f"{b.partition}:{b.inputs}" for b in ledger.builds(SOURCE) if b.partition.startswith(prefix)]
    return hashlib.sha256("\n".join(days).encode()).hexdigest()[:16]


def build_sections(settings: Settings, registry: pa.Table) -> pa.Table:
    """The section dimension: the registry plus every section seen in the published readings."""
    con = duckdb.connect()
    con.register("reg", registry)
    seen_sql = (
        "SELECT NULL::VARCHAR AS section_id, NULL::VARCHAR AS province, NULL::VARCHAR AS basin, "
        "NULL::VARCHAR AS section_name, NULL::DATE AS first_seen, NULL::DATE AS last_seen WHERE false"
    )
    if lk.partitions(settings.lake, schema.section_readings):
        seen_sql = (
            "SELECT section_id, arg_max(province, observed_at) AS province, arg_max(basin, observed_at) AS basin, "
            "arg_max(section_name, observed_at) AS section_name, min(date) AS first_seen, max(date) AS last_seen "
            f"FROM {_readings_glob_sql(settings)} GROUP BY section_id"
        )
    try:
        out = con.sql(
            f"""
            WITH seen AS ({seen_sql})
            SELECT section_id, r.section_code,
                   coalesce(r.province, s.province) AS province, coalesce(r.basin, s.basin) AS basin,
                   coalesce(r.section_name, s.section_name) AS section_name, r.water_body,
                   coalesce(r.section_type, 'river') AS section_type,
                   CAST(coalesce(r.target_class, 3) AS TINYINT) AS target_class,
                   r.region_code, r.longitude, r.latitude, r.section_id IS NOT NULL AS listed,
                   s.first_seen AS first_seen_date, s.last_seen AS last_seen_date
            FROM reg r FULL OUTER JOIN seen s USING (section_id)
            ORDER BY section_id
            """
        ).to_arrow_table()
    finally:
        con.close()
    return schema.sections.conform(out)


def publish_sections(settings: Settings, *, force: bool = False) -> Report:
    """Gate and publish ``core_water__sections`` unless the registry and the published days are unchanged."""
    ledger = _ledger(settings)
    registry, registry_sha = _registry(settings, ledger)
    inputs, version = f"{registry_sha}+{_day_builds_digest(ledger)}", pipeline_version()
    report = Report("sections", "published", dt.datetime.now(BEIJING).date())
    if not force and ledger.is_current(SOURCE, "sections", inputs, version):
        report.status = "skipped"
        return report
    sections = build_sections(settings, registry)
    if _gate(settings, schema.sections, sections, None, uuid.uuid4().hex[:12], report).passed:
        lk.write_partition(settings.lake, schema.sections, sections, None)
    else:
        report.status = "blocked"
    listed = sum(sections.column("listed").to_pylist())
    report.counts = {"sections": sections.num_rows, "listed": listed, "unlisted": sections.num_rows - listed}
    if report.counts["unlisted"]:
        report.warnings.append(
            f"{report.counts['unlisted']} section(s) seen in readings are not in the registry"
        )
    ledger.record_build(SOURCE, "sections", inputs, version, report.status, report.counts)
    return report


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def build_month(settings: Settings, month: dt.date, *, force: bool = False) -> Report:
    """Section monthly classes and the basin roll-up of one month, from its published days."""
    month = month_of(month)
    ledger = _ledger(settings)
    key, version = f"monthly/{month:%Y-%m}", pipeline_version()
    days = [d for d in lk.partitions(settings.lake, schema.section_readings) if month_of(d) == month]
    if not days:
        return Report(key, "no-data", month)
    registry, registry_sha = _registry(settings, ledger)
    inputs = f"{_day_builds_digest(ledger, f'readings/{month:%Y-%m}-')}+{registry_sha}"
    if not force and ledger.is_current(SOURCE, key, inputs, version):
        prev = ledger.build(SOURCE, key)
        return Report(key, "skipped", month, prev.counts if prev else {})
    readings = pa.concat_tables([lk.read_partition(settings.lake, schema.section_readings, d) for d in days])
    report = Report(key, "published", month)
    run_id = uuid.uuid4().hex[:12]
    monthly = schema.section_monthly.conform(section_monthly(readings, registry, month))
    basins = schema.basin_monthly.conform(basin_monthly(monthly))
    if _gate(settings, schema.section_monthly, monthly, month, run_id, report).passed:
        lk.write_partition(settings.lake, schema.section_monthly, monthly, month)
        if _gate(settings, schema.basin_monthly, basins, month, run_id, report).passed:
            lk.write_partition(settings.lake, schema.basin_monthly, basins, month)
        else:
            report.status = "blocked"
    else:
        report.status = "blocked"
    report.counts = {"days": len(days), "sections": monthly.num_rows, "basin_rows": basins.num_rows}
    ledger.record_build(SOURCE, key, inputs, version, report.status, report.counts)
    return report


def refresh_serving(settings: Settings) -> None:
    serving.refresh(settings.lake, settings.duckdb_file, _ledger(settings))


# -- whole runs ---------------------------------------------------------------------------------
def finish(
    settings: Settings, days: list[dt.date], *, force: bool = False, refresh: bool = True
) -> list[Report]:
    """After the days: the section dimension, the months they fall in, and (``refresh``) the serving
    database when anything changed."""
    reports = [publish_sections(settings, force=force)]
    for month in sorted({month_of(d) for d in days}):
        reports.append(build_month(settings, month, force=force))
    if refresh and (any(r.status != "skipped" for r in reports) or not settings.duckdb_file.exists()):
        refresh_serving(settings)
    return reports


def ingest_locations(
    settings: Settings,
    locations: list[str],
    *,
    sections_csv: Path | None = None,
    fetched_at: dt.datetime | None = None,
    force: bool = False,
    on_day: Callable[[Report], None] | None = None,
) -> list[Report]:
    """`ecocloud ingest water`: land the registry and the boards/pages, build their days and months."""
    land_registry(settings, sections_csv)
    reports: list[Report] = []
    days: set[dt.date] = set()
    for snap in land(settings, locations, fetched_at=fetched_at):
        for rep in process_snapshot(settings, snap, force=force, on_day=on_day):
            reports.append(rep)
            if rep.key.startswith("readings/") and rep.status in ("published", "skipped") and rep.date:
                days.add(rep.date)
    reports.extend(finish(settings, sorted(days), force=force))
    return reports


def check_reports(reports: list[Report]) -> None:
    """Raise when any partition was blocked by the quality gate, listing every reason."""
    blocked = [r for r in reports if r.status == "blocked"]
    if blocked:
        lines = [f"{r.key}: {f}" for r in blocked for f in r.failures]
        raise QualityGateFailed("quality gate blocked publication:\n" + "\n".join(lines))
