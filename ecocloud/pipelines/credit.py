"""The enterprise-credit pipeline: result files → raw zone → typed ratings → quality gate → core.

``land`` discovers result files (a URL listing or a drop folder) and lands the new or changed ones;
``build`` rebuilds ``core_credit__ratings`` from the newest version of every landed file. When two
files hold the same province and year (a corrected republication), the newer file's rows replace
the older one's. USCCs failing GB 32100 are flagged and kept; names are normalised for matching.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import duckdb
import pyarrow as pa

from ecocloud.pipelines.common import (
    Report,
    fingerprint,
    gate_and_publish,
    ledger,
    refresh_serving,
    table_version,
)
from ecocloud.settings import Settings
from ingest.credit.fetch import SOURCE, discover, land_file
from ingest.credit.parse import CreditFileError, file_quarantine, parse_credit_file
from ingest.http import make_session
from ingest.raw import read_raw
from schemas import credit as schema
from transforms.identifiers import normalize_name_array, with_uscc_flags
from warehouse.ledger import RawObject

_CODE_VERSION = "1"
BUILD_KEY = "ratings"


def pipeline_version() -> str:
    return table_version(SOURCE, _CODE_VERSION, (schema.ratings, schema.quarantine))


def land(
    settings: Settings,
    locations: list[str] | None = None,
    *,
    province: str | None = None,
    year: int | None = None,
) -> list[RawObject]:
    """Land every new or changed file at ``locations`` (default: ``settings.credit_base_url``).

    ``province`` (key, code or name) and ``year`` apply to every file found, for files whose name and
    content do not say.
    """
    led = ledger(settings)
    session = make_session(settings.http_retries, settings.http_backoff_s)
    landed = []
    for location in locations or [settings.credit_base_url]:
        for found in discover(location, session=session, timeout_s=settings.http_timeout_s):
            item = dataclasses.replace(found, province=province or found.province, year=year or found.year)
            obj = land_file(settings.lake, led, item, session=session, timeout_s=settings.http_timeout_s)
            if obj is not None:
                landed.append(obj)
    return landed


def latest_objects(objects: list[RawObject]) -> list[RawObject]:
    """The newest raw object of every logical file."""
    newest: dict[str, RawObject] = {}
    for o in objects:
        if o.logical_name not in newest or o.received_at > newest[o.logical_name].received_at:
            newest[o.logical_name] = o
    return sorted(newest.values(), key=lambda o: o.received_at)


def build(settings: Settings, *, force: bool = False) -> Report:
    """Rebuild the ratings from the newest version of every landed file; gate; publish."""
    led = ledger(settings)
    objs = latest_objects(led.raw_objects(SOURCE))
    if not objs:
        return Report(BUILD_KEY, "no-data")
    inputs, version = fingerprint(objs), pipeline_version()
    if not force and led.is_current(SOURCE, BUILD_KEY, inputs, version):
        prev = led.build(SOURCE, BUILD_KEY)
        return Report(BUILD_KEY, "skipped", prev.counts if prev else {})

    rows = [schema.stage_rows.empty()]
    quarantine = [schema.quarantine.empty()]
    counts: dict[str, Any] = {
        "files": len(objs),
        "files_unreadable": 0,
        "rows_read": 0,
        "rows_quarantined": 0,
    }
    for obj in objs:
        try:
            parsed = parse_credit_file(
                read_raw(settings.lake, obj),
                file_name=obj.logical_name,
                raw_file=obj.raw_path,
                received_at=dt.datetime.fromisoformat(obj.received_at),
            )
        except CreditFileError as exc:
            counts["files_unreadable"] += 1
            quarantine.append(file_quarantine(obj.raw_path, str(exc)))
            continue
        rows.append(parsed.rows)
        quarantine.append(parsed.quarantine)
        counts["rows_read"] += parsed.counts.get("rows_read", 0)
        counts["rows_quarantined"] += parsed.counts.get("rows_quarantined", 0)

    ratings = newest_per_province_year(pa.concat_tables(rows))
    counts["rows_superseded"] = sum(t.num_rows for t in rows) - ratings.num_rows
    ratings = with_uscc_flags(ratings)
    ratings = ratings.append_column(
        "enterprise_name_norm", normalize_name_array(ratings.column("enterprise_name"))
    )
    ratings = schema.ratings.conform(ratings)
    counts["ratings"] = ratings.num_rows
    counts["uscc_invalid"] = ratings.num_rows - sum(ratings.column("uscc_valid").to_pylist())
    counts["years"] = sorted(
        {
            f"{p}/{y}"
            for p, y in zip(ratings["province_code"].to_pylist(), ratings["year"].to_pylist(), strict=True)
        }
    )
    report = Report(BUILD_KEY, counts=counts)
    gate_and_publish(
        settings,
        [(schema.ratings, ratings)],
        report,
        always=[(schema.quarantine, schema.quarantine.conform(pa.concat_tables(quarantine)))],
    )
    led.record_build(SOURCE, BUILD_KEY, inputs, version, report.status, counts)
    return report


def newest_per_province_year(rows: pa.Table) -> pa.Table:
    """Keep, for each (province, year), only the rows of the most recently received file."""
    con = duckdb.connect()
    try:
        con.register("r", rows)
        return con.sql(
            "SELECT * EXCLUDE (_newest) FROM (SELECT *, max(received_at) OVER (PARTITION BY province_code, year) "
            "AS _newest FROM r) WHERE received_at = _newest ORDER BY province_code, year, raw_file, sheet, row_no"
        ).to_arrow_table()
    finally:
        con.close()


def ingest(
    settings: Settings,
    locations: list[str] | None = None,
    *,
    province: str | None = None,
    year: int | None = None,
    force: bool = False,
) -> tuple[list[RawObject], Report]:
    """`ecocloud ingest credit FILE…`: land, build, refresh the serving database when anything changed."""
    landed = land(settings, locations, province=province, year=year)
    report = build(settings, force=force)
    if report.status != "skipped" or not settings.duckdb_file.exists():
        refresh_serving(settings)
    return landed, report
