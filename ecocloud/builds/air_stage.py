"""The pure, per-file work of the air pipeline: parse a raw day file, score AQI.

Kept apart from ``ecocloud.builds.air`` so that worker processes of a backfill import only what
this needs (no pandas, no Great Expectations).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingest.air.fetch import raw_bytes
from ingest.air.parse import AirFileError, parse_day_file
from schemas import air as schema
from transforms.air_daily import day_before_digest, days_begun
from transforms.aqi import hourly_aqi
from warehouse.fs import LakeLike


@dataclass
class ParsedDay:
    hourly: pa.Table
    quarantine: pa.Table
    counts: dict[str, Any]


@dataclass(frozen=True)
class Refused:
    """A day file nothing of which can be placed: its quarantine reason (a registry code) and why."""

    reason: str
    detail: str


# the unit count of a day's station-hours naming what its file holds of the day before (Daily's input)
DAY_BEFORE_DIGEST = "day_before_digest"


def parse_and_score(lake: LakeLike, raw_path: str, day: dt.date) -> ParsedDay | Refused:
    """Pure work on one raw day file (runs in a worker process): parse, AQI.

    Returns why, when the file cannot be read or is not a day file at all.
    """
    try:
        parsed = parse_day_file(raw_bytes(lake, raw_path), raw_file=raw_path, file_date=day)
    except AirFileError as exc:
        return Refused(exc.reason, str(exc))
    hourly = parsed.hourly
    aqi = hourly_aqi(_dated_by_their_start(hourly))
    for name in aqi.column_names:
        hourly = hourly.append_column(name, aqi.column(name))
    hourly = schema.station_hourly.conform(hourly)
    counts: dict[str, Any] = dict(parsed.counts)
    counts["aqi_agreement_pct"] = _agreement_pct(hourly)
    counts[DAY_BEFORE_DIGEST] = day_before_digest(hourly)
    return ParsedDay(hourly, parsed.quarantine, counts)


def _dated_by_their_start(hourly: pa.Table) -> pa.Table:
    """The station-hours with ``date`` the day each began on, which picks its HJ 633 version: the
    hour ending 2026-03-01 00:00 is an hour of 2026-02-28 (HJ 633-2012)."""
    position = hourly.schema.get_field_index("date")
    return hourly.set_column(position, "date", days_begun(hourly.column("observed_at")))


def _agreement_pct(hourly: pa.Table) -> float | None:
    """Share of station-hours with a published AQI whose computed AQI equals it, in percent."""
    published = hourly.column("aqi_published")
    with_published = len(published) - published.null_count
    if with_published == 0:
        return None
    same = pc.sum(pc.equal(hourly.column("aqi"), published)).as_py() or 0  # NULL = NULL is not a match
    return round(100.0 * same / with_published, 4)
