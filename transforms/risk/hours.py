"""Judged hours: every hourly value of the window with its identity, the limit in force, the value
it is judged on, and the runs it belongs to. The exceedance marts and the indicators read this.

* **Limit in force** — the permit limit whose version is in force at the hour (the
  ``limit_in_force`` rule: ``in_force_from ≤ t < in_force_to``, ``transforms.permits``), for the
  outlet (USCC + outlet code) the MN was then. Where no permit limit binds, a national default for
  the enterprise's industry (rules ``[[defaults]]``, DOMAIN.md §7), marked ``limit_source =
  default``. Two permits binding the same outlet and pollutant at once: the stricter limit.
* **Judged value** — flue gas whose limit has an O2 reference is judged converted (折算,
  DOMAIN.md §1): ``C × (21 − O2_ref) / (21 − O2)`` from the hour's measured mean and O2 (O2 with a
  valid flag, below ``o2_max_pct``); with no O2 value the logger's ZsAvg; with O2 ≥ ``o2_max_pct``
  or neither, the hour is not judged (``hours_unjudged``). Otherwise the measured mean. A limit in
  another unit than the values is not applied.
* **Valid** — flag N (``valid_flags``); only valid hours are judged.
* **Runs** — consecutive hours (per MN and pollutant) of exceedance, of flat values while running,
  and of zero values while flowing, with their length, start and end, followed back into the
  lookback days.

Inputs: ``mart_source__hourly``, ``core_permit__outlet_limits`` and ``_risk_identity``
(:mod:`transforms.risk.identity`).
"""

from __future__ import annotations

import datetime as dt

import duckdb

from transforms.risk.rules import RiskRules
from transforms.risk.sql import FAR_US, HOUR_US, lit

__all__ = ["build_judged_hours", "load_hours"]


def load_hours(con: duckdb.DuckDBPyConnection, lo: dt.date, hi: dt.date) -> None:
    """``_risk_h``: the hourly values of Beijing days [lo, hi] (``hr`` = epoch hour)."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _risk_h AS
        SELECT mn, pollutant_code, epoch_us(hour_at) // {HOUR_US} AS hr, avg_value, min_value,
               max_value, zs_avg_value, flag, unit, basis, samples
        FROM mart_source__hourly WHERE date BETWEEN $lo AND $hi
        """,
        {"lo": lo, "hi": hi},
    )


def _defaults_sql(rules: RiskRules) -> str:
    rows = []
    for d in rules.defaults:
        o2 = "NULL" if d.o2_reference_pct is None else repr(d.o2_reference_pct)
        for code, value in d.limits.items():
            rows.append(
                f"({lit([d.industry_prefix])}, {lit([code])}, {value!r}, NULL, {lit([d.unit])}, {lit([d.standard])}, {o2})"
            )
        for code, (low, high) in d.ranges.items():
            rows.append(
                f"({lit([d.industry_prefix])}, {lit([code])}, {high!r}, {low!r}, {lit([d.range_unit])}, {lit([d.standard])}, {o2})"
            )
    cols = "industry_prefix, pollutant_code, limit_value, limit_lower, limit_unit, standard, o2_reference_pct"
    typed = (
        "SELECT industry_prefix::VARCHAR AS industry_prefix, pollutant_code::VARCHAR AS pollutant_code, "
        "limit_value::DOUBLE AS limit_value, limit_lower::DOUBLE AS limit_lower, limit_unit::VARCHAR AS limit_unit, "
        "standard::VARCHAR AS standard, o2_reference_pct::DOUBLE AS o2_reference_pct"
    )
    if not rows:
        return f"{typed} FROM (SELECT NULL AS {cols.replace(', ', ', NULL AS ')}) WHERE false"
    return f"{typed} FROM (VALUES {', '.join(rows)}) t({cols})"


def _build_limits(con: duckdb.DuckDBPyConnection, rules: RiskRules) -> None:
    """``_risk_limits``: per identity segment and pollutant, non-overlapping intervals [a, b) with
    the one limit that applies in each (permit first, then the stricter; defaults fill holes)."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _risk_limits AS
        WITH lim AS (
            SELECT uscc, outlet_code, pollutant_code, permit_no, version, limit_value, limit_lower,
                   limit_unit, standard, o2_reference_pct,
                   epoch_us(in_force_from) AS lf, coalesce(epoch_us(in_force_to), {FAR_US}) AS lt
            FROM core_permit__outlet_limits
            WHERE in_force_from IS NOT NULL AND (limit_value IS NOT NULL OR limit_lower IS NOT NULL)
        ), defaults AS ({_defaults_sql(rules)}
        ), by_default AS (
            SELECT i.mn, i.date, i.from_us, d.pollutant_code, i.from_us AS a, i.to_us AS b, 1 AS prio,
                   d.limit_value, d.limit_lower, d.limit_unit, d.standard, d.o2_reference_pct,
                   NULL::VARCHAR AS permit_no, NULL::INTEGER AS version
            FROM _risk_identity i JOIN defaults d ON starts_with(i.industry_code, d.industry_prefix)
            QUALIFY row_number() OVER (
                PARTITION BY i.mn, i.date, i.from_us, d.pollutant_code ORDER BY length(d.industry_prefix) DESC) = 1
        ), cand AS (
            SELECT i.mn, i.date, i.from_us, l.pollutant_code, greatest(l.lf, i.from_us) AS a,
                   least(l.lt, i.to_us) AS b, 0 AS prio, l.limit_value, l.limit_lower, l.limit_unit,
                   l.standard, l.o2_reference_pct, l.permit_no, l.version
            FROM _risk_identity i JOIN lim l
              ON l.uscc = i.uscc AND l.outlet_code = i.outlet_code AND l.lf < i.to_us AND l.lt > i.from_us
            UNION ALL
            SELECT * FROM by_default
        ), bounds AS (
            SELECT DISTINCT mn, date, from_us, pollutant_code, x FROM cand, unnest([a, b]) t(x)
        ), iv AS (
            SELECT *, lead(x) OVER (PARTITION BY mn, date, from_us, pollutant_code ORDER BY x) AS x2 FROM bounds
        )
        SELECT iv.mn, iv.date, iv.from_us, iv.pollutant_code, iv.x AS a, iv.x2 AS b,
               CASE c.prio WHEN 0 THEN 'permit' ELSE 'default' END AS limit_source,
               c.limit_value, c.limit_lower, c.limit_unit, c.standard, c.o2_reference_pct, c.permit_no,
               c.version AS permit_version
        FROM iv JOIN cand c
          ON c.mn = iv.mn AND c.date = iv.date AND c.from_us = iv.from_us
         AND c.pollutant_code = iv.pollutant_code AND c.a <= iv.x AND c.b >= iv.x2
        WHERE iv.x2 IS NOT NULL
        QUALIFY row_number() OVER (
            PARTITION BY iv.mn, iv.date, iv.from_us, iv.pollutant_code, iv.x
            ORDER BY c.prio, c.limit_value NULLS LAST, c.permit_no) = 1
        """
    )


def _tol(rules: RiskRules, x: str) -> str:
    flat = rules.indicator("flatline")
    return f"({float(flat['abs_tol'])!r} + {float(flat['rel_tol'])!r} * abs({x}))"


def _judged_sql(rules: RiskRules) -> str:
    valid, aux, flows = lit(rules.valid_flags), lit(rules.auxiliary_codes), lit(rules.flow_codes)
    o2_max, near = rules.o2_max_pct, float(rules.indicator("near_limit")["low_frac"])
    zs = rules.indicator("zs_inconsistent")
    zero_max = float(rules.indicator("zero_run")["zero_max"])
    run_unknown = "true" if rules.indicator("flatline")["running_when_flow_unknown"] else "false"
    conv = "h.avg_value * (21 - l.o2_reference_pct) / (21 - h.o2)"
    return f"""
    WITH aux AS (
        SELECT mn, hr, max(avg_value) FILTER (WHERE pollutant_code IN ({flows})) AS flow,
               max(avg_value) FILTER (WHERE pollutant_code = {lit([rules.o2_code])} AND flag IN ({valid})) AS o2
        FROM _risk_h WHERE pollutant_code IN ({flows}, {lit([rules.o2_code])}) GROUP BY mn, hr
    ), h AS (
        SELECT h.*, i.date, i.day_num, i.from_us AS seg_from, i.uscc, i.outlet_code, i.region_code,
               i.industry_code, a.flow,
               CASE WHEN a.o2 >= 0 AND a.o2 < {o2_max!r} THEN a.o2 END AS o2,
               a.o2 >= {o2_max!r} AS o2_too_high
        FROM _risk_h h
        JOIN _risk_identity i ON i.mn = h.mn AND i.day_num = (h.hr + 8) // 24
         AND h.hr * {HOUR_US} >= i.from_us AND h.hr * {HOUR_US} < i.to_us
        LEFT JOIN aux a ON a.mn = h.mn AND a.hr = h.hr
    ), l AS (
        SELECT h.*, l.limit_source, l.limit_value, l.limit_lower, l.limit_unit, l.standard,
               l.o2_reference_pct, l.permit_no, l.permit_version,
               h.flag IN ({valid}) AS valid,
               l.limit_unit IS NOT NULL AND h.unit IS NOT NULL AND l.limit_unit <> h.unit AS unit_mismatch,
               CASE WHEN l.o2_reference_pct IS NULL THEN h.avg_value
                    WHEN h.o2 IS NOT NULL THEN {conv}
                    WHEN NOT coalesce(h.o2_too_high, false) THEN h.zs_avg_value END AS conv_value,
               CASE WHEN l.o2_reference_pct IS NULL THEN 'measured'
                    WHEN h.o2 IS NOT NULL THEN 'converted' ELSE 'logger_converted' END AS value_basis,
               CASE WHEN l.o2_reference_pct IS NOT NULL AND h.o2 IS NOT NULL AND h.zs_avg_value IS NOT NULL
                     AND h.avg_value IS NOT NULL THEN {conv} END AS zs_expected
        FROM h LEFT JOIN _risk_limits l
          ON l.mn = h.mn AND l.date = h.date AND l.from_us = h.seg_from
         AND l.pollutant_code = h.pollutant_code AND h.hr * {HOUR_US} >= l.a AND h.hr * {HOUR_US} < l.b
    ), j AS (
        SELECT * EXCLUDE (conv_value),
               CASE WHEN valid AND (limit_value IS NOT NULL OR limit_lower IS NOT NULL) AND NOT unit_mismatch
                    THEN conv_value END AS judged_value,
               pollutant_code IN ({aux}) AS auxiliary,
               flow > {rules.running_flow_min!r} AS running
        FROM l
    )
    SELECT *,
           judged_value IS NOT NULL AS judged,
           valid AND (limit_value IS NOT NULL OR limit_lower IS NOT NULL) AND judged_value IS NULL AS unjudged,
           coalesce(judged_value > limit_value OR judged_value < limit_lower, false) AS exceeded,
           CASE WHEN limit_value > 0 AND limit_lower IS NULL THEN judged_value / limit_value END AS ratio,
           coalesce(limit_lower IS NULL AND judged_value <= limit_value
                    AND judged_value >= {near!r} * limit_value, false) AS near_limit,
           valid AND zs_expected IS NOT NULL AS zs_checked,
           valid AND zs_expected IS NOT NULL AND abs(zs_avg_value - zs_expected)
               > {float(zs["rel_tol"])!r} * greatest(zs_expected, {float(zs["abs_floor"])!r}) AS zs_bad,
           valid AND NOT auxiliary AND avg_value > {zero_max!r}
               AND coalesce(running, {run_unknown})
               AND (NOT (basis = '2061' OR samples >= 2) OR max_value - min_value <= {_tol(rules, "avg_value")})
               AS flat_ok,
           valid AND NOT auxiliary AND avg_value <= {zero_max!r} AND coalesce(running, false) AS zero_ok
    FROM j
    """


def _runs_sql(rules: RiskRules) -> str:
    """Run ids (cumulative count of run starts), then each run's length, start and end hour."""

    def run(name: str, extra_link: str = "") -> str:
        ok = f"{name}_ok" if name != "exc" else "exceeded"
        link = f"coalesce(prev_{name}, false) AND dh = 1{extra_link}"
        return f"sum(CASE WHEN {ok} AND NOT ({link}) THEN 1 ELSE 0 END) OVER w AS {name}_run"

    def stats(name: str) -> str:
        ok = f"{name}_ok" if name != "exc" else "exceeded"
        part = f"PARTITION BY mn, pollutant_code, {name}_run"
        return (
            f"CASE WHEN {ok} THEN count(*) FILTER (WHERE {ok}) OVER ({part}) END AS {name}_len, "
            f"CASE WHEN {ok} THEN min(hr) FILTER (WHERE {ok}) OVER ({part}) END AS {name}_first, "
            f"CASE WHEN {ok} THEN max(hr) FILTER (WHERE {ok}) OVER ({part}) END AS {name}_last"
        )

    same = f" AND abs(avg_value - prev_avg) <= {_tol(rules, 'prev_avg')}"
    return f"""
    WITH w1 AS (
        SELECT *, hr - lag(hr) OVER w AS dh, lag(avg_value) OVER w AS prev_avg,
               lag(flat_ok) OVER w AS prev_flat, lag(zero_ok) OVER w AS prev_zero,
               lag(exceeded) OVER w AS prev_exc
        FROM _risk_judged WINDOW w AS (PARTITION BY mn, pollutant_code ORDER BY hr)
    ), w2 AS (
        SELECT * EXCLUDE (prev_flat, prev_zero, prev_exc, prev_avg, dh),
               {run("flat", same)}, {run("zero")}, {run("exc")}
        FROM w1 WINDOW w AS (PARTITION BY mn, pollutant_code ORDER BY hr ROWS UNBOUNDED PRECEDING)
    )
    SELECT * EXCLUDE (flat_run, zero_run, exc_run), {stats("flat")}, {stats("zero")}, {stats("exc")}
    FROM w2
    """


def build_judged_hours(con: duckdb.DuckDBPyConnection, rules: RiskRules) -> None:
    """``_risk_hours`` from ``_risk_h`` and ``_risk_identity`` (see the module docstring)."""
    _build_limits(con, rules)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _risk_judged AS {_judged_sql(rules)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _risk_hours AS {_runs_sql(rules)}")
    con.execute("DROP TABLE _risk_judged")
