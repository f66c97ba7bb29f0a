"""The public disclosure of key dischargers' daily monitoring results, from the daily risk marts.

``mart_source__disclosure_daily`` is ``mart_source__exceedance_daily`` keyed by enterprise (USCC),
outlet and a point number instead of the data logger's MN (an MN could be used to impersonate a
logger), with the enterprise and point names of ``mart_source__outlet_identity``. Rows of MNs in no
monitoring-point version have no enterprise outlet to be disclosed under: they are withheld, and
counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from schemas import risk as schema

__all__ = ["Disclosure", "disclosure_rows"]

_SQL = """
SELECT e.date, e.uscc, i.enterprise_name, e.outlet_code,
       -- several loggers on one outlet (the registry allows it) stay apart without their MNs
       dense_rank() OVER (PARTITION BY e.date, e.uscc, e.outlet_code ORDER BY e.mn)::SMALLINT AS point_no,
       i.point_name, e.region_code, e.pollutant_code, e.identity_from_at, e.unit, e.daily_mean_value,
       e.limit_value, e.limit_lower, e.limit_unit, e.limit_source, e.limit_standard,
       e.hours_present, e.hours_valid, e.hours_exceeded, e.day_mean_exceeded
FROM _disclosure_exceedance e
LEFT JOIN _disclosure_identity i USING (date, mn, identity_from_at)
WHERE e.uscc IS NOT NULL AND e.outlet_code IS NOT NULL
ORDER BY e.date, e.uscc, e.outlet_code, point_no, e.pollutant_code, e.identity_from_at
"""


@dataclass(frozen=True)
class Disclosure:
    rows: pa.Table  # mart_source__disclosure_daily
    withheld: int  # exceedance_daily rows without an enterprise outlet (unregistered MNs)


def disclosure_rows(
    con: duckdb.DuckDBPyConnection, identity: pa.Table, exceedance_daily: pa.Table
) -> Disclosure:
    """The disclosure rows of the days of ``exceedance_daily`` (rows of ``mart_source__exceedance_daily``),
    named from ``identity`` (rows of ``mart_source__outlet_identity`` of the same days)."""
    con.register("_disclosure_exceedance", exceedance_daily)
    con.register("_disclosure_identity", identity)
    try:
        rows = schema.disclosure_daily.conform(con.sql(_SQL).to_arrow_table())
    finally:
        con.unregister("_disclosure_exceedance")
        con.unregister("_disclosure_identity")
    return Disclosure(rows, exceedance_daily.num_rows - rows.num_rows)
