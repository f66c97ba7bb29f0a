"""The public disclosure of key dischargers' daily monitoring results, from the daily risk marts.

``mart_source__disclosure_daily`` is ``mart_source__exceedance_daily`` keyed by enterprise (USCC),
outlet and a point number instead of the data logger's MN (an MN could be used to impersonate a
logger), with the enterprise and point names of ``mart_source__outlet_identity``. Only rows whose
identity is ``matched`` (a registered point whose USCC is a registered enterprise) are disclosed: an
unregistered MN has no outlet to be disclosed under, and an unknown USCC may be a mistyped one that
would put the emissions under another company. The rest are withheld, and counted.

A point's number is fixed by the registry, not by the day: the loggers ever registered on an
outlet, numbered in the order they were first registered (ties by MN) — a logger added later gets
the next number, and no day's data renumbers the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from schemas import risk as schema

__all__ = ["Disclosure", "disclosure_rows"]

_SQL = """
WITH points AS (
    SELECT uscc, outlet_code, mn,
           -- several loggers on one outlet (the registry allows it) stay apart without their MNs
           row_number() OVER (PARTITION BY uscc, outlet_code ORDER BY min(valid_from), mn)::SMALLINT AS point_no
    FROM core_master__monitoring_points
    WHERE uscc IS NOT NULL AND outlet_code IS NOT NULL
    GROUP BY uscc, outlet_code, mn
)
SELECT e.date, e.uscc, i.enterprise_name, e.outlet_code, p.point_no, i.point_name, e.region_code,
       e.pollutant_code, e.identity_from_at, e.unit, e.daily_mean_value, e.limit_value, e.limit_lower,
       e.limit_unit, e.limit_source, e.limit_standard, e.limit_changed, e.hours_present, e.hours_valid,
       e.hours_judged, e.hours_exceeded, e.day_mean_exceeded
FROM _disclosure_exceedance e
JOIN _disclosure_identity i USING (date, mn, identity_from_at)
JOIN points p ON p.uscc = e.uscc AND p.outlet_code = e.outlet_code AND p.mn = e.mn
WHERE i.identity_status = 'matched'
ORDER BY e.date, e.uscc, e.outlet_code, p.point_no, e.pollutant_code, e.identity_from_at
"""


@dataclass(frozen=True)
class Disclosure:
    rows: pa.Table  # mart_source__disclosure_daily
    withheld: int  # exceedance_daily rows not disclosed: no registered point, or its USCC is unknown


def disclosure_rows(
    con: duckdb.DuckDBPyConnection, identity: pa.Table, exceedance_daily: pa.Table
) -> Disclosure:
    """The disclosure rows of the days of ``exceedance_daily`` (rows of ``mart_source__exceedance_daily``),
    named from ``identity`` (rows of ``mart_source__outlet_identity`` of the same days), the points
    numbered from the relation ``core_master__monitoring_points`` on ``con`` (every version)."""
    con.register("_disclosure_exceedance", exceedance_daily)
    con.register("_disclosure_identity", identity)
    try:
        rows = schema.disclosure_daily.conform(con.sql(_SQL).to_arrow_table())
    finally:
        con.unregister("_disclosure_exceedance")
        con.unregister("_disclosure_identity")
    return Disclosure(rows, exceedance_daily.num_rows - rows.num_rows)
