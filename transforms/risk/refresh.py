"""One call that builds the daily risk marts of a range of days from the registry tables.

``refresh_days(con, first, last, rules)`` expects these relations on ``con`` (DuckDB views over
the lake, tables, or registered Arrow tables), named as in the registry:

* ``mart_source__hourly`` — at least the Beijing days [first − lookback, last + lookahead] (rules
  ``data.lookback_hours``, ``data.lookahead_hours``); a view over the lake is filtered on ``date``, so
  only those partitions are read;
* ``core_master__monitoring_points``, ``core_master__enterprises`` (all versions);
* ``core_permit__permits``, ``core_permit__outlets``, ``core_permit__outlet_limits`` (all versions).

It returns the rows of ``mart_source__outlet_identity``, ``mart_source__exceedance_hourly``,
``mart_source__exceedance_daily``, ``mart_risk__indicators`` and ``mart_source__disclosure_daily``
for days [first, last] (every
table partitioned by ``date``: write each day's partition). The days after ``last`` are read, not
written: a run crossing midnight counts on both days. Each day's rows depend only on the hours of
its own window [day − lookback, day + lookahead], so refreshing days one by one and many at once
give the same rows. Temporary tables ``_risk_*`` are dropped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from transforms.risk.disclosure import disclosure_rows
from transforms.risk.exceedance import (
    build_daily,
    exceedance_daily_rows,
    exceedance_hourly_rows,
    identity_rows,
)
from transforms.risk.hours import build_judged_hours, load_hours
from transforms.risk.identity import build_identity
from transforms.risk.indicators import indicator_rows
from transforms.risk.rules import RiskRules

__all__ = ["INPUTS", "RiskMarts", "refresh_days"]

INPUTS = (
    "mart_source__hourly",
    "core_master__monitoring_points",
    "core_master__enterprises",
    "core_permit__permits",
    "core_permit__outlets",
    "core_permit__outlet_limits",
)
_TEMP = (
    "_risk_days",
    "_risk_h",
    "_risk_segments",
    "_risk_identity",
    "_risk_limits",
    "_risk_judged",
    "_risk_runs",
    "_risk_daily",
)


@dataclass(frozen=True)
class RiskMarts:
    """The daily risk marts of a range of days, as Arrow tables with the registry schemas."""

    identity: pa.Table  # mart_source__outlet_identity
    exceedance_hourly: pa.Table  # mart_source__exceedance_hourly
    exceedance_daily: pa.Table  # mart_source__exceedance_daily
    indicators: pa.Table  # mart_risk__indicators
    disclosure: pa.Table  # mart_source__disclosure_daily
    withheld_from_disclosure: int  # exceedance_daily rows of unregistered MNs (no enterprise outlet)


def refresh_days(
    con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date, rules: RiskRules
) -> RiskMarts:
    """The daily risk marts of Beijing days [first, last] (see the module docstring)."""
    if last < first:
        raise ValueError(f"empty range {first}..{last}")
    lo = first - dt.timedelta(hours=rules.lookback_hours)
    ahead = last + dt.timedelta(hours=rules.lookahead_hours)
    try:
        load_hours(con, lo, ahead)
        build_identity(con, lo, ahead)
        build_judged_hours(con, rules)
        build_daily(con, first, last, rules)
        identity = identity_rows(con, first, last)
        exceedance_daily = exceedance_daily_rows(con)
        disclosure = disclosure_rows(con, identity, exceedance_daily)
        return RiskMarts(
            identity=identity,
            exceedance_hourly=exceedance_hourly_rows(con, first, last),
            exceedance_daily=exceedance_daily,
            indicators=indicator_rows(con, first, last, rules),
            disclosure=disclosure.rows,
            withheld_from_disclosure=disclosure.withheld,
        )
    finally:
        for name in _TEMP:
            con.execute(f"DROP TABLE IF EXISTS {name}")
