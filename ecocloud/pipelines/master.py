"""The master-data pipeline: registry CSVs → raw zone → versioned registries → quality gate → core;
then the join-quality report over permits, credit ratings, monitoring points and packets.

``land`` lands new snapshots of the enterprise and monitoring-point registries; ``build`` rebuilds
both versioned tables from every snapshot received (``transforms.scd2``); ``build_join_report``
publishes today's ``quality_master__join_report`` partition. Each step is skipped when its inputs
and the pipeline version are unchanged, so reruns change nothing.
"""

from __future__ import annotations

import datetime as dt
import glob as globlib
import hashlib
import logging
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ecocloud.pipelines.common import (
    Report,
    fingerprint,
    gate_and_publish,
    ledger,
    read_table,
    refresh_serving,
    table_version,
    today,
)
from ecocloud.settings import Settings
from ingest import master as ingest_master
from ingest.http import make_session
from ingest.raw import read_raw
from schemas import credit as credit_schema
from schemas import master as schema
from schemas import permits as permit_schema
from schemas.registry import get_table
from transforms.identifiers import canonical_region_code_array, normalize_name_array, with_uscc_flags
from transforms.master_join import INPUTS, join_report
from transforms.scd2 import snapshot_history
from warehouse import lake as lk
from warehouse.ledger import RawObject

log = logging.getLogger(__name__)

SOURCE = ingest_master.SOURCE
_CODE_VERSION = "1"
BUILD_KEY = "registries"
PACKETS_TABLE = "core_source__packets"
_ATTRIBUTES = {
    ingest_master.ENTERPRISES: (
        "enterprise_name",
        "region_code",
        "industry_code",
        "industry_name",
        "address",
    ),
    ingest_master.POINTS: ("uscc", "outlet_code", "region_code", "point_name", "pollutants"),
}


def pipeline_version() -> str:
    return table_version(
        SOURCE, _CODE_VERSION, (schema.enterprises, schema.monitoring_points, schema.quarantine)
    )


def report_version() -> str:
    return table_version(f"{SOURCE}-join", _CODE_VERSION, (schema.join_report,))


def land(settings: Settings, locations: list[str] | None = None) -> list[RawObject]:
    """Land new snapshots found at ``locations`` (default: ``settings.master_base_url``)."""
    led = ledger(settings)
    session = make_session(settings.http_retries, settings.http_backoff_s)
    landed = []
    for location in locations or [settings.master_base_url]:
        for item in ingest_master.discover(location, session=session, timeout_s=settings.http_timeout_s):
            obj = ingest_master.land_file(
                settings.lake, led, item, session=session, timeout_s=settings.http_timeout_s
            )
            if obj is not None:
                landed.append(obj)
    return landed


# -------------------------------------------------------------------------------------- registries
def _history(settings: Settings, kind: str, objs: list[RawObject], quarantine: list[pa.Table]) -> pa.Table:
    """The versioned registry of ``kind`` from its snapshots (oldest first)."""
    parts = [ingest_master.STAGE[kind].empty()]
    for obj in objs:
        try:
            parsed = ingest_master.parse_master_csv(
                read_raw(settings.lake, obj),
                raw_file=obj.raw_path,
                snapshot_at=dt.datetime.fromisoformat(obj.received_at),
            )
        except ingest_master.MasterFileError as exc:
            quarantine.append(ingest_master.file_quarantine(obj.raw_path, str(exc)))
            continue
        quarantine.append(parsed.quarantine)
        parts.append(parsed.rows)
    rows = pa.concat_tables(parts)
    rows = with_uscc_flags(rows, problem=kind == ingest_master.ENTERPRISES)
    rows = rows.set_column(
        rows.schema.get_field_index("region_code"),
        "region_code",
        canonical_region_code_array(rows["region_code"]),
    )
    if kind == ingest_master.ENTERPRISES:
        rows = rows.append_column("enterprise_name_norm", normalize_name_array(rows["enterprise_name"]))
    else:
        outlet = rows["outlet_code"]
        medium = pc.if_else(
            pc.starts_with(outlet, "DA"), "air", pc.if_else(pc.starts_with(outlet, "DW"), "water", None)
        )
        rows = rows.append_column("medium", medium)
    snapshots = [dt.datetime.fromisoformat(o.received_at) for o in objs]
    return snapshot_history(rows, snapshots, key=ingest_master.KEYS[kind], attributes=_ATTRIBUTES[kind])


def build(settings: Settings, *, force: bool = False) -> Report:
    """Rebuild both registries (all versions) from every snapshot received; gate; publish."""
    led = ledger(settings)
    objs = led.raw_objects(SOURCE)
    if not objs:
        return Report(BUILD_KEY, "no-data")
    inputs, version = fingerprint(objs), pipeline_version()
    if not force and led.is_current(SOURCE, BUILD_KEY, inputs, version):
        prev = led.build(SOURCE, BUILD_KEY)
        return Report(BUILD_KEY, "skipped", prev.counts if prev else {})

    quarantine = [schema.quarantine.empty()]
    by_kind: dict[str, list[RawObject]] = {k: [] for k in ingest_master.KINDS}
    for obj in objs:  # received order
        kind = obj.logical_name.removesuffix(".csv")
        if kind in by_kind:
            by_kind[kind].append(obj)
        elif obj == led.latest_raw(SOURCE, obj.logical_name):
            quarantine.append(
                ingest_master.file_quarantine(obj.raw_path, "neither registry (see ingest/master.py)")
            )
    enterprises = schema.enterprises.conform(
        _history(settings, ingest_master.ENTERPRISES, by_kind[ingest_master.ENTERPRISES], quarantine)
    )
    points = schema.monitoring_points.conform(
        _history(settings, ingest_master.POINTS, by_kind[ingest_master.POINTS], quarantine)
    )
    quarantine_t = schema.quarantine.conform(pa.concat_tables(quarantine))
    counts = {
        "snapshots": {k: len(v) for k, v in by_kind.items()},
        "enterprises": _current(enterprises),
        "enterprise_versions": enterprises.num_rows,
        "monitoring_points": _current(points),
        "monitoring_point_versions": points.num_rows,
        "quarantined": quarantine_t.num_rows,
    }
    report = Report(BUILD_KEY, counts=counts)
    gate_and_publish(
        settings,
        [(schema.enterprises, enterprises), (schema.monitoring_points, points)],
        report,
        always=[(schema.quarantine, quarantine_t)],
    )
    led.record_build(SOURCE, BUILD_KEY, inputs, version, report.status, counts)
    return report


def _current(t: pa.Table) -> int:
    return int(pc.sum(t["is_current"]).as_py() or 0)


# -------------------------------------------------------------------------------------- join report
def packets_glob(settings: Settings) -> str:
    """Where ``core_source__packets`` lives: from the registry once it is declared there, else the
    layout the lake uses for a partitioned core table."""
    try:
        return lk.table_glob(settings.lake, get_table(PACKETS_TABLE))
    except KeyError:
        return str(settings.lake / "core" / PACKETS_TABLE / "**" / "*.parquet")


def packet_mns(settings: Settings) -> pa.Table | None:
    """Packets per MN in ``core_source__packets``; None when that table (or its ``mn``) does not exist."""
    glob = packets_glob(settings)
    if not globlib.glob(glob, recursive=True):
        return None
    con = duckdb.connect()
    try:
        rel = con.sql(
            f"SELECT * FROM read_parquet('{glob}', union_by_name = true, hive_partitioning = true) LIMIT 0"
        )
        if "mn" not in rel.columns:
            log.warning("%s has no mn column: MN check skipped", PACKETS_TABLE)
            return None
        return con.sql(
            f"SELECT CAST(mn AS VARCHAR) AS mn, count(*)::BIGINT AS packets "
            f"FROM read_parquet('{glob}', union_by_name = true, hive_partitioning = true) "
            "WHERE mn IS NOT NULL GROUP BY ALL ORDER BY mn"
        ).to_arrow_table()
    finally:
        con.close()


def _packets_fingerprint(settings: Settings) -> str:
    files = sorted(globlib.glob(packets_glob(settings), recursive=True))
    digest = hashlib.sha256()
    for f in files:
        st = Path(f).stat()
        digest.update(f"{f}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16] if files else "no-packets"


def build_join_report(settings: Settings, *, at: dt.datetime | None = None, force: bool = False) -> Report:
    """Publish today's (Beijing) join-quality report partition, unless its inputs are unchanged."""
    day = today()
    led = ledger(settings)
    upstream = [
        led.build(src, key)
        for src, key in (("permit", "permits"), ("credit", "ratings"), (SOURCE, BUILD_KEY))
    ]
    inputs = (
        "|".join(f"{b.inputs}:{b.status}" if b else "none" for b in upstream)
        + "|"
        + _packets_fingerprint(settings)
    )
    key, version = f"join_report/{day.isoformat()}", report_version()
    if not force and led.is_current(SOURCE, key, inputs, version):
        prev = led.build(SOURCE, key)
        return Report("join_report", "skipped", prev.counts if prev else {})

    tables = {
        "enterprises": read_table(settings, schema.enterprises),
        "points": read_table(settings, schema.monitoring_points),
        "permits": read_table(settings, permit_schema.permits),
        "outlets": read_table(settings, permit_schema.outlets),
        "credit": read_table(settings, credit_schema.ratings),
        "packets": packet_mns(settings),
    }
    assert set(tables) == set(INPUTS)
    generated = dt.datetime.now(dt.UTC)
    rows = join_report(tables, at=at or generated)
    n = rows.num_rows
    rows = rows.append_column("date", pa.array([day] * n, pa.date32()))
    rows = rows.append_column("generated_at", pa.array([generated] * n, pa.timestamp("us", "UTC")))
    rows = schema.join_report.conform(rows)
    summary = rows.filter(pc.equal(rows["row_kind"], "summary"))
    counts = {
        name: (occ if checked else "not checked")
        for name, occ, checked in zip(
            summary["check_name"].to_pylist(),
            summary["occurrences"].to_pylist(),
            summary["checked"].to_pylist(),
            strict=True,
        )
    }
    report = Report("join_report", counts=counts)
    gate_and_publish(settings, [(schema.join_report, rows)], report, partition=day)
    led.record_build(SOURCE, key, inputs, version, report.status, counts)
    return report


def ingest(
    settings: Settings, locations: list[str] | None = None, *, force: bool = False
) -> tuple[list[RawObject], Report, Report]:
    """`ecocloud ingest master FILE…`: land, build, report, refresh the serving database when anything changed."""
    landed = land(settings, locations)
    report = build(settings, force=force)
    joined = build_join_report(settings, force=force)
    if report.status != "skipped" or joined.status != "skipped" or not settings.duckdb_file.exists():
        refresh_serving(settings)
    return landed, report, joined
