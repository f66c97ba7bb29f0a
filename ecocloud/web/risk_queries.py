"""What the enforcement evidence pages read from the serving database (fixed SQL; the MN, USCC,
dates and codes are bound parameters): an outlet's identity over the period, its hourly values with
the limit in force, exceedance hours and flagged runs; an enterprise's outlets, permit versions and
limits, credit history."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from schemas.clock import BEIJING
from transforms.permits import install_limit_in_force
from transforms.risk import RiskRules
from transforms.risk.hours import defaults_sql, water_limit_sql


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _period(start: dt.date, end: dt.date) -> dict[str, Any]:
    return {"start": start, "end": end}


def outlet_identities(
    con: duckdb.DuckDBPyConnection, mn: str, start: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    """Who the MN was during the period: one row per identity (enterprise, outlet, permit status),
    with the first and last instant it held, oldest first."""
    return _dicts(
        con.execute(
            """
            SELECT uscc, outlet_code, identity_status, min(identity_from_at) AS from_at,
                   max(identity_to_at) AS to_at, arg_max(enterprise_name, identity_from_at) AS enterprise_name,
                   arg_max(point_name, identity_from_at) AS point_name,
                   arg_max(region_code, identity_from_at) AS region_code,
                   arg_max(industry_code, identity_from_at) AS industry_code,
                   arg_max(industry_name, identity_from_at) AS industry_name,
                   arg_max(pollutants_expected, identity_from_at) AS pollutants_expected,
                   arg_max(permit_no, identity_from_at) AS permit_no,
                   arg_max(permit_status, identity_from_at) AS permit_status,
                   arg_max(permit_status_since, identity_from_at) AS permit_status_since,
                   sum(hours_with_data) AS hours_with_data
            FROM mart_source__outlet_identity
            WHERE mn = $mn AND date BETWEEN $start AND $end
            GROUP BY uscc, outlet_code, identity_status ORDER BY from_at
            """,
            {"mn": mn, **_period(start, end)},
        )
    )


def measured_pollutants(
    con: duckdb.DuckDBPyConnection, mn: str, start: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    """Pollutants the MN sent hourly values of in the period, with their hours and unit."""
    return _dicts(
        con.execute(
            "SELECT pollutant_code, count(*) AS hours, any_value(unit) AS unit FROM mart_source__hourly "
            "WHERE mn = $mn AND date BETWEEN $start AND $end GROUP BY pollutant_code ORDER BY pollutant_code",
            {"mn": mn, **_period(start, end)},
        )
    )


def _hourly_sql(rules: RiskRules) -> str:
    return f"""
WITH h AS (
    SELECT date, pollutant_code, hour_at, avg_value, zs_avg_value, flag, unit
    FROM mart_source__hourly
    WHERE mn = $mn AND date BETWEEN $start AND $end AND list_contains($codes, pollutant_code)
), o2 AS (  -- the hour's O2 with a valid flag converts flue-gas values (DOMAIN.md §1)
    SELECT hour_at, max(avg_value) AS o2 FROM mart_source__hourly
    WHERE mn = $mn AND date BETWEEN $start AND $end AND pollutant_code = $o2_code AND list_contains($valid, flag)
    GROUP BY hour_at
), wt AS (  -- the hour's water temperature with a valid flag picks a default's limit for cold water
    SELECT hour_at, max(avg_value) AS water_temp FROM mart_source__hourly
    WHERE mn = $mn AND date BETWEEN $start AND $end AND pollutant_code = $temp_code AND list_contains($valid, flag)
    GROUP BY hour_at
), seg AS (
    SELECT identity_from_at, identity_to_at, uscc, outlet_code, industry_code FROM mart_source__outlet_identity
    WHERE mn = $mn AND date BETWEEN $start AND $end
), permit AS (  -- the limit_in_force rule (in_force_from ≤ t < in_force_to) on the outlet the MN was then;
                -- two permits binding at once: the stricter limit, as the risk marts judge it
    SELECT h.pollutant_code, h.hour_at, l.limit_value, l.limit_lower, l.limit_unit, l.o2_reference_pct,
           l.standard, l.permit_no, l.version
    FROM h
    JOIN seg s ON h.hour_at >= s.identity_from_at AND h.hour_at < s.identity_to_at
    JOIN core_permit__outlet_limits l
      ON l.uscc = s.uscc AND l.outlet_code = s.outlet_code AND l.pollutant_code = h.pollutant_code
     AND l.in_force_from <= h.hour_at AND (l.in_force_to IS NULL OR h.hour_at < l.in_force_to)
     AND (l.limit_value IS NOT NULL OR l.limit_lower IS NOT NULL)
    QUALIFY row_number() OVER (PARTITION BY h.pollutant_code, h.hour_at
                               ORDER BY l.limit_value NULLS LAST, l.permit_no) = 1
), defaults AS ({defaults_sql(rules)}
), dflt AS (  -- where no permit gave a limit: the default for the enterprise's industry, as the marts apply it
    SELECT h.pollutant_code, h.hour_at, d.limit_value, d.limit_lower, d.limit_unit, d.o2_reference_pct,
           d.standard, d.limit_value_cold
    FROM h
    JOIN seg s ON h.hour_at >= s.identity_from_at AND h.hour_at < s.identity_to_at
    JOIN defaults d ON d.pollutant_code = h.pollutant_code AND starts_with(s.industry_code, d.industry_prefix)
    QUALIFY row_number() OVER (PARTITION BY h.pollutant_code, h.hour_at ORDER BY length(d.industry_prefix) DESC) = 1
), lim_any AS (
    SELECT h.*, o2.o2,
           CASE WHEN p.hour_at IS NOT NULL THEN 'permit' WHEN d.hour_at IS NOT NULL THEN 'default' END AS limit_source,
           CASE WHEN p.hour_at IS NOT NULL THEN p.limit_value
                ELSE {water_limit_sql("d.limit_value", "d.limit_value_cold", "wt.water_temp", "$cold_max")}
           END AS limit_value,
           CASE WHEN p.hour_at IS NOT NULL THEN p.limit_lower ELSE d.limit_lower END AS limit_lower,
           CASE WHEN p.hour_at IS NOT NULL THEN p.limit_unit ELSE d.limit_unit END AS limit_unit,
           CASE WHEN p.hour_at IS NOT NULL THEN p.o2_reference_pct ELSE d.o2_reference_pct END AS o2_reference_pct,
           CASE WHEN p.hour_at IS NOT NULL THEN p.standard ELSE d.standard END AS standard,
           p.permit_no, p.version AS permit_version
    FROM h
    LEFT JOIN permit p ON p.pollutant_code = h.pollutant_code AND p.hour_at = h.hour_at
    LEFT JOIN dflt d ON p.hour_at IS NULL AND d.pollutant_code = h.pollutant_code AND d.hour_at = h.hour_at
    LEFT JOIN o2 ON o2.hour_at = h.hour_at
    LEFT JOIN wt ON wt.hour_at = h.hour_at
), lim AS (  -- a limit in another unit than the values is none: the risk marts do not apply it either
    SELECT * REPLACE (
        CASE WHEN limit_unit <> unit THEN NULL ELSE limit_source END AS limit_source,
        CASE WHEN limit_unit <> unit THEN NULL ELSE limit_value END AS limit_value,
        CASE WHEN limit_unit <> unit THEN NULL ELSE limit_lower END AS limit_lower,
        CASE WHEN limit_unit <> unit THEN NULL ELSE o2_reference_pct END AS o2_reference_pct,
        CASE WHEN limit_unit <> unit THEN NULL ELSE limit_unit END AS limit_unit)
    FROM lim_any
)
SELECT pollutant_code, hour_at, avg_value, flag, unit, limit_source, limit_value, limit_lower, limit_unit,
       o2_reference_pct, standard, permit_no, permit_version,
       -- the value the limit is compared with, as the risk marts judge it (transforms.risk.hours):
       -- converted where the limit has an O2 reference (from the measured mean and an O2 in
       -- [0, o2_max); else the logger's ZsAvg; none when O2 is too high); the mean where no limit applies
       CASE WHEN o2_reference_pct IS NULL THEN avg_value
            WHEN o2 >= 0 AND o2 < $o2_max THEN avg_value * (21 - o2_reference_pct) / (21 - o2)
            WHEN o2 IS NULL OR o2 < 0 THEN zs_avg_value END AS judged_value
FROM lim ORDER BY pollutant_code, hour_at
"""


def hourly_with_limits(
    con: duckdb.DuckDBPyConnection, mn: str, codes: list[str], start: dt.date, end: dt.date, rules: RiskRules
) -> list[dict[str, Any]]:
    """Hourly values of ``codes`` with the limit in force at each hour and the value judged on it."""
    if not codes:
        return []
    return _dicts(
        con.execute(
            _hourly_sql(rules),
            {
                "mn": mn,
                "codes": codes,
                "o2_code": rules.o2_code,
                "valid": list(rules.valid_flags),
                "o2_max": rules.o2_max_pct,
                "temp_code": rules.water_temp_code,
                "cold_max": rules.cold_water_max_c,
                **_period(start, end),
            },
        )
    )


def exceedance_hours(
    con: duckdb.DuckDBPyConnection, mn: str, start: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    return _dicts(
        con.execute(
            "SELECT pollutant_code, hour_at, judged_value, value_basis, limit_value, limit_lower, limit_unit, "
            "limit_source, exceedance_multiple, run_hours FROM mart_source__exceedance_hourly "
            "WHERE mn = $mn AND date BETWEEN $start AND $end ORDER BY pollutant_code, hour_at",
            {"mn": mn, **_period(start, end)},
        )
    )


def flagged_runs(
    con: duckdb.DuckDBPyConnection, mn: str, start: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    """Runs the indicators found (flat lines, zero runs, silence …): each run once — a run that
    crosses midnight is reported by each day it touches, as that day's window sees it — with the
    evidence of its longest sighting."""
    return _dicts(
        con.execute(
            """
            SELECT pollutant_code, indicator, category, run_start_at, max(run_end_at) AS run_end_at,
                   max(longest_run_h) AS run_h, arg_max(evidence, longest_run_h) AS evidence
            FROM mart_risk__indicators
            WHERE mn = $mn AND date BETWEEN $start AND $end AND run_start_at IS NOT NULL AND triggered
            GROUP BY pollutant_code, indicator, category, run_start_at ORDER BY run_start_at
            """,
            {"mn": mn, **_period(start, end)},
        )
    )


def enterprise(con: duckdb.DuckDBPyConnection, uscc: str) -> dict[str, Any] | None:
    """The enterprise's latest registry version; else its latest permit's or credit record's name."""
    rows = _dicts(
        con.execute(
            "SELECT uscc, enterprise_name, region_code, industry_code, industry_name, address, valid_from "
            "FROM core_master__enterprises WHERE uscc = $1 ORDER BY valid_from DESC LIMIT 1",
            [uscc],
        )
    )
    if rows:
        return rows[0]
    rows = _dicts(
        con.execute(
            """
            SELECT uscc, enterprise_name, region_code, industry_code, industry_name, address, NULL AS valid_from
            FROM core_permit__permits WHERE uscc = $1
            UNION ALL BY NAME
            SELECT uscc, enterprise_name, region_code, NULL AS industry_code, NULL AS industry_name,
                   NULL AS address, NULL AS valid_from
            FROM core_credit__ratings WHERE uscc = $1
            LIMIT 1
            """,
            [uscc],
        )
    )
    return rows[0] if rows else None


def enterprise_outlets(
    con: duckdb.DuckDBPyConnection, uscc: str, start: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    """The MNs that reported under the enterprise during the period, as of their latest segment."""
    return _dicts(
        con.execute(
            """
            SELECT mn, arg_max(outlet_code, identity_from_at) AS outlet_code,
                   arg_max(point_name, identity_from_at) AS point_name,
                   arg_max(permit_status, identity_from_at) AS permit_status,
                   sum(hours_with_data) AS hours_with_data
            FROM mart_source__outlet_identity
            WHERE uscc = $uscc AND date BETWEEN $start AND $end
            GROUP BY mn ORDER BY outlet_code, mn
            """,
            {"uscc": uscc, **_period(start, end)},
        )
    )


def permit_versions(con: duckdb.DuckDBPyConnection, uscc: str) -> list[dict[str, Any]]:
    return _dicts(
        con.execute(
            "SELECT permit_no, version, version_type, status, status_date, effective_date, effective_recorded, "
            "permit_valid_from, "
            "permit_valid_to, issued_by, in_force_from, in_force_to, is_current FROM core_permit__permits "
            "WHERE uscc = $1 ORDER BY permit_no, version",
            [uscc],
        )
    )


def permit_limits(
    con: duckdb.DuckDBPyConnection, uscc: str, outlet_code: str | None, at: dt.datetime
) -> list[dict[str, Any]]:
    """Every permitted limit of the enterprise (one outlet's, when given), each version, with
    ``in_force_at``: whether ``limit_in_force`` returns it at ``at`` (the end of the period)."""
    rows = _dicts(
        con.execute(
            "SELECT permit_no, version, outlet_code, pollutant_code, pollutant_name, limit_value, limit_lower, "
            "limit_unit, standard, o2_reference_pct, annual_limit_t, status, in_force_from, in_force_to "
            "FROM core_permit__outlet_limits WHERE uscc = $uscc AND ($outlet IS NULL OR outlet_code = $outlet) "
            "ORDER BY outlet_code, pollutant_code, permit_no, version",
            {"uscc": uscc, "outlet": outlet_code},
        )
    )
    install_limit_in_force(con)  # a TEMP macro: fine on the read-only connection
    in_force = set()
    for outlet, code in sorted({(r["outlet_code"], r["pollutant_code"]) for r in rows}):
        for permit_no, version in con.execute(
            "SELECT permit_no, version FROM limit_in_force($1, $2, $3, $4)", [uscc, outlet, code, at]
        ).fetchall():
            in_force.add((permit_no, version, outlet, code))
    for r in rows:
        r["in_force_at"] = (r["permit_no"], r["version"], r["outlet_code"], r["pollutant_code"]) in in_force
    return rows


def credit_history(con: duckdb.DuckDBPyConnection, uscc: str) -> list[dict[str, Any]]:
    return _dicts(
        con.execute(
            "SELECT year, province_code, scheme, level, level_rank, level_label, sub_grade, enterprise_name, "
            "raw_file FROM core_credit__ratings WHERE uscc = $1 ORDER BY year DESC, level_rank DESC",
            [uscc],
        )
    )


def period_end_instant(end: dt.date) -> dt.datetime:
    """The last hour of the period's last Beijing day (what "in force at the end" is asked at)."""
    return dt.datetime.combine(end, dt.time(23), BEIJING)
