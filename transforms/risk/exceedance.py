"""Exceedances from the judged hours: the hours over the limit, and per outlet, pollutant and day
the counts that the indicators and the period scores add up.

An hour is over the limit when it is valid (flag N), judged (a limit applies and the value could be
computed, :mod:`transforms.risk.hours`) and its value is above the upper limit or outside a range
(pH 6–9) — except an upper limit on the day's mean (a default's ``basis = "daily_mean"``, a permit
limit citing GB 18918): no hour exceeds it, a day whose mean is over it does (``day_mean_exceeded``). 超标倍数 = value / limit − 1 (DOMAIN.md §4). A day's mean is judged as the mean of its
hourly value / limit ratios (so a limit that changes during the day is honoured hour by hour),
only with at least ``daily_mean_min_hours`` judged hours — over the logger's whole day on the outlet:
the rows of a day split by a registry edit (same MN, enterprise and outlet) carry the same mean
(``daily_mean_hours``: its judged hours). A logger replaced mid-day (a new MN) starts a day of its own.

Daily rows exist for every pollutant the monitoring point is registered to measure and every
pollutant the MN sent in the window — also on a day with no value at all (a silent logger), so
the period's denominators are complete.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa

from schemas import risk as schema
from schemas.sql import exact_mean
from transforms.risk.rules import RiskRules
from transforms.risk.sql import HOUR_US, day_num, lit, to_table

__all__ = ["build_daily", "exceedance_daily_rows", "exceedance_hourly_rows", "identity_rows"]


def identity_rows(con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date) -> pa.Table:
    """``mart_source__outlet_identity`` rows of days [first, last] from ``_risk_identity``."""
    rel = con.sql(
        f"""
        SELECT *, from_us AS identity_from_at, to_us AS identity_to_at, point_vf AS point_valid_from
        FROM _risk_identity WHERE day_num BETWEEN {day_num(first)} AND {day_num(last)}
        ORDER BY date, mn, from_us
        """
    )
    return to_table(rel.select(*schema.outlet_identity.column_names), schema.outlet_identity)


def exceedance_hourly_rows(con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date) -> pa.Table:
    """``mart_source__exceedance_hourly`` rows (hours over the limit) of days [first, last]."""
    rel = con.sql(
        f"""
        SELECT s.date, j.mn, j.pollutant_code, j.hr * {HOUR_US} AS hour_at, s.uscc, s.outlet_code,
               s.region_code, s.industry_code, j.unit, j.avg_value AS measured_value, j.o2 AS o2_pct,
               CASE WHEN j.o2_reference_pct IS NULL THEN 'measured'
                    WHEN j.o2 IS NOT NULL THEN 'converted' ELSE 'logger_converted' END AS value_basis,
               j.judged_value, j.limit_value, j.limit_lower, l.limit_unit, l.limit_source,
               l.standard AS limit_standard, l.permit_no, l.permit_version, j.o2_reference_pct, j.ratio,
               j.ratio - 1 AS exceedance_multiple, j.flag, r.len AS run_hours
        FROM _risk_judged j
        JOIN _risk_identity s USING (seg_id)
        JOIN _risk_limits l USING (lim_id)
        LEFT JOIN _risk_runs r ON r.kind = 'exc' AND r.mn = j.mn AND r.pollutant_code = j.pollutant_code AND r.hr = j.hr
        WHERE j.exceeded AND j.day_num BETWEEN {day_num(first)} AND {day_num(last)}
        ORDER BY s.date, j.mn, j.pollutant_code, j.hr
        """
    )
    return to_table(rel, schema.exceedance_hourly)


def build_daily(con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date, rules: RiskRules) -> None:
    """``_risk_daily``: ``mart_source__exceedance_daily`` rows (``from_us`` for identity_from_at)."""
    lo, hi = day_num(first), day_num(last)
    abnormal, manual = lit(rules.abnormal_flags), lit(rules.manual_flags)
    # judged where the row has a limit (a day split by a new enterprise version may have one part without)
    day_mean_exceeded = f"""CASE WHEN o.hours_judged >= {rules.daily_mean_min_hours}
                    AND (l.limit_value IS NOT NULL OR l.limit_lower IS NOT NULL) THEN
                   CASE WHEN l.limit_lower IS NULL THEN o.daily_mean_ratio > 1
                        ELSE o.daily_mean_value > l.limit_value OR o.daily_mean_value < l.limit_lower END
               END"""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _risk_daily AS
        WITH seg AS (
            SELECT * FROM _risk_identity WHERE day_num BETWEEN {lo} AND {hi}
        ), seen AS (
            SELECT DISTINCT mn, pollutant_code, day_num FROM _risk_judged
        ), universe AS (
            SELECT s.seg_id, trim(p) AS pollutant_code
            FROM seg s, unnest(string_split(s.pollutants_expected, ',')) t(p) WHERE trim(p) <> ''
            UNION
            -- a pollutant the logger sent on the day or its look-back days (not one it starts later)
            SELECT s.seg_id, x.pollutant_code FROM seg s JOIN seen x
              ON x.mn = s.mn AND x.day_num BETWEEN s.day_num - {rules.lookback_hours // 24} AND s.day_num
        ), intervals AS (
            SELECT seg_id, pollutant_code, arg_max(lim_id, a) AS last_lim_id,
                   count(DISTINCT (limit_value, limit_lower, limit_source)) > 1 AS limit_changed
            FROM _risk_limits WHERE seg_id IN (SELECT seg_id FROM seg)
            GROUP BY ALL
        ), agg AS (
            SELECT seg_id, pollutant_code, any_value(unit) AS unit,
                   count(*) AS hours_present,
                   count(*) FILTER (WHERE valid) AS hours_valid,
                   count(*) FILTER (WHERE flag IN ({abnormal})) AS hours_abnormal,
                   count(*) FILTER (WHERE flag IN ({manual})) AS hours_manual,
                   count(*) FILTER (WHERE flag IS NULL) AS hours_incomplete,
                   count(*) FILTER (WHERE running) AS hours_running,
                   count(*) FILTER (WHERE judged) AS hours_judged,
                   count(*) FILTER (WHERE unjudged) AS hours_unjudged,
                   count(*) FILTER (WHERE exceeded) AS hours_exceeded,
                   count(*) FILTER (WHERE near_limit) AS hours_near_limit,
                   max(judged_value) AS max_judged_value, max(ratio) AS max_ratio,
                   max(ratio) FILTER (WHERE exceeded) - 1 AS max_exceedance_multiple,
                   arg_max(lim_id, hr) FILTER (WHERE judged) AS judged_lim_id,
                   arg_max(limit_value, hr) FILTER (WHERE judged) AS judged_limit,
                   count(DISTINCT limit_value) FILTER (WHERE judged) > 1 AS judged_limit_changed
            FROM _risk_judged WHERE day_num BETWEEN {lo} AND {hi}
            GROUP BY ALL
        ), lim AS (
            -- the limit the row names: that of its last judged hour (a default's limit for cold water
            -- hour by hour), else of its last interval (cold where the default has one: no hour was
            -- measured warmer); other limits of the day (a permit from noon, warm and cold hours) set
            -- limit_changed
            SELECT i.seg_id, i.pollutant_code,
                   coalesce(a.judged_limit, r.limit_value_cold, r.limit_value) AS limit_value,
                   r.limit_lower, r.limit_unit, r.limit_source, r.standard AS limit_standard, r.permit_no,
                   r.o2_reference_pct, i.limit_changed OR coalesce(a.judged_limit_changed, false) AS limit_changed
            FROM intervals i LEFT JOIN agg a USING (seg_id, pollutant_code)
            JOIN _risk_limits r ON r.lim_id = coalesce(a.judged_lim_id, i.last_lim_id)
        ), outlet_day AS (
            -- the day's mean over the logger's whole day on the outlet: a registry edit at 10:00 (a new
            -- version of the point, the same enterprise and outlet) splits the day into segments, each
            -- too short for daily_mean_min_hours; an MN moved to another outlet is another outlet's day
            SELECT s.day_num, s.mn, s.uscc, s.outlet_code, j.pollutant_code,
                   count(*) FILTER (WHERE j.judged) AS hours_judged,
                   {exact_mean("j.judged_value")} AS daily_mean_value, {exact_mean("j.ratio")} AS daily_mean_ratio
            FROM _risk_judged j JOIN seg s USING (seg_id)
            GROUP BY ALL
        ), runs AS (
            SELECT seg_id, pollutant_code, max(len) AS longest
            FROM _risk_runs WHERE kind = 'exc' AND day_num BETWEEN {lo} AND {hi} GROUP BY ALL
        )
        SELECT s.date, s.mn, u.pollutant_code, s.from_us, s.uscc, s.outlet_code, s.region_code,
               s.industry_code, a.unit, l.limit_value, l.limit_lower, l.limit_unit, l.limit_source,
               l.limit_standard, l.permit_no, l.o2_reference_pct, coalesce(l.limit_changed, false) AS limit_changed,
               s.segment_hours, s.hours_with_data AS logger_hours,
               coalesce(a.hours_present, 0) AS hours_present, coalesce(a.hours_valid, 0) AS hours_valid,
               coalesce(a.hours_abnormal, 0) AS hours_abnormal, coalesce(a.hours_manual, 0) AS hours_manual,
               coalesce(a.hours_incomplete, 0) AS hours_incomplete,
               coalesce(a.hours_running, 0) AS hours_running, coalesce(a.hours_judged, 0) AS hours_judged,
               coalesce(a.hours_unjudged, 0) AS hours_unjudged,
               coalesce(a.hours_exceeded, 0) AS hours_exceeded,
               coalesce(a.hours_near_limit, 0) AS hours_near_limit,
               a.max_judged_value, a.max_ratio,
               -- a limit on the day's mean (GB 18918) is never exceeded by an hour: its 超标倍数 is
               -- the mean's, so a day ten times over counts as such
               CASE WHEN ({day_mean_exceeded}) AND l.limit_lower IS NULL
                    THEN greatest(a.max_exceedance_multiple, o.daily_mean_ratio - 1)
                    ELSE a.max_exceedance_multiple END AS max_exceedance_multiple,
               coalesce(r.longest, 0) AS longest_exceedance_run_h,
               o.daily_mean_value, o.daily_mean_ratio, coalesce(o.hours_judged, 0) AS daily_mean_hours,
               {day_mean_exceeded} AS day_mean_exceeded
        FROM universe u
        JOIN seg s USING (seg_id)
        LEFT JOIN agg a USING (seg_id, pollutant_code)
        LEFT JOIN outlet_day o
          ON o.day_num = s.day_num AND o.mn = s.mn AND o.pollutant_code = u.pollutant_code
         AND o.uscc IS NOT DISTINCT FROM s.uscc AND o.outlet_code IS NOT DISTINCT FROM s.outlet_code
        LEFT JOIN lim l USING (seg_id, pollutant_code)
        LEFT JOIN runs r USING (seg_id, pollutant_code)
        """
    )


def exceedance_daily_rows(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """``mart_source__exceedance_daily`` rows from ``_risk_daily``."""
    rel = con.sql(
        "SELECT *, from_us AS identity_from_at FROM _risk_daily ORDER BY date, mn, pollutant_code, from_us"
    )
    return to_table(rel.select(*schema.exceedance_daily.column_names), schema.exceedance_daily)
