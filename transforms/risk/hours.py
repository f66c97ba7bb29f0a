"""Judged hours: every hourly value of the window with its identity, the limit in force, the value
it is judged on, and the runs it belongs to. The exceedance marts and the indicators read this.

* **Limit in force** — the permit limit whose version is in force at the hour (the
  ``limit_in_force`` rule: ``in_force_from ≤ t < in_force_to``, ``transforms.permits``), for the
  outlet (USCC + outlet code) the MN was then. Where no permit limit binds, a national default for
  the enterprise's industry (rules ``[[defaults]]``, DOMAIN.md §7), marked ``limit_source =
  default``; a default's limit for cold water (``cold_limits``: GB 18918's NH3-N 8 instead of 5)
  binds in an hour whose water temperature (``water_temp_code``, valid) is not measured above
  ``cold_water_max_c``. Two permits binding the same outlet and pollutant at once: the stricter limit. An
  upper limit under a standard of daily means (rules ``daily_mean_standards``: GB 18918, cited by a
  permit or a default) bounds the day's mean, not each hour (``hourly_limit``).
* **Judged value** — flue gas whose limit has an O2 reference is judged converted (折算,
  DOMAIN.md §1): ``C × (21 − O2_ref) / (21 − O2)`` from the hour's measured mean and O2 (O2 with a
  valid flag, below ``o2_max_pct``); with no O2 value the logger's ZsAvg; with O2 ≥ ``o2_max_pct``
  or neither, the hour is not judged (``hours_unjudged``). Otherwise the measured mean. A limit in
  another unit than the values is not applied.
* **Valid** — flag N (``valid_flags``); only valid hours are judged.
* **Runs** — consecutive hours (per MN and pollutant) of exceedance, of flat values while running,
  and of zero values while flowing, with their length, start and end, followed back into the
  lookback days and on into the lookahead days: each hour's run as its day's window sees it.

Inputs: ``mart_source__hourly``, ``core_permit__outlet_limits`` and ``_risk_identity``
(:mod:`transforms.risk.identity`).
"""

from __future__ import annotations

import datetime as dt

import duckdb

from transforms.risk.rules import RiskRules
from transforms.risk.sql import BEIJING_H, FAR_US, HOUR_US, lit

__all__ = ["build_judged_hours", "defaults_sql", "load_hours", "water_limit_sql"]


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


def water_limit_sql(limit: str, cold_limit: str, water_temp: str, cold_max: str) -> str:
    """The limit an hour binds (SQL over the given expressions): a default's limit for cold water
    unless the hour's water temperature is measured above ``cold_max``, else ``limit``."""
    return (
        f"CASE WHEN {cold_limit} IS NOT NULL AND NOT coalesce({water_temp} > {cold_max}, false) "
        f"THEN {cold_limit} ELSE {limit} END"
    )


def defaults_sql(rules: RiskRules) -> str:
    """The rules' national default limits as a relation: one row per industry prefix and pollutant
    (an upper limit, with its limit for cold water where given, or a range)."""
    rows = []
    for d in rules.defaults:
        o2 = "NULL" if d.o2_reference_pct is None else repr(d.o2_reference_pct)
        hourly = "true" if d.basis == "hourly" else "false"
        for code, value in d.limits.items():
            cold = d.cold_limits.get(code)
            rows.append(
                f"({lit([d.industry_prefix])}, {lit([code])}, {value!r}, NULL, {lit([d.unit])}, {lit([d.standard])}, {o2}, {hourly}, {'NULL' if cold is None else repr(cold)})"
            )
        for code, (low, high) in d.ranges.items():  # a range (pH) bounds every value: hourly
            rows.append(
                f"({lit([d.industry_prefix])}, {lit([code])}, {high!r}, {low!r}, {lit([d.range_unit])}, {lit([d.standard])}, {o2}, true, NULL)"
            )
    cols = "industry_prefix, pollutant_code, limit_value, limit_lower, limit_unit, standard, o2_reference_pct, hourly, limit_value_cold"
    typed = (
        "SELECT industry_prefix::VARCHAR AS industry_prefix, pollutant_code::VARCHAR AS pollutant_code, "
        "limit_value::DOUBLE AS limit_value, limit_lower::DOUBLE AS limit_lower, limit_unit::VARCHAR AS limit_unit, "
        "standard::VARCHAR AS standard, o2_reference_pct::DOUBLE AS o2_reference_pct, hourly::BOOLEAN AS hourly, "
        "limit_value_cold::DOUBLE AS limit_value_cold"
    )
    if not rows:
        return f"{typed} FROM (SELECT NULL AS {cols.replace(', ', ', NULL AS ')}) WHERE false"
    return f"{typed} FROM (VALUES {', '.join(rows)}) t({cols})"


def _permit_hourly_sql(con: duckdb.DuckDBPyConnection, rules: RiskRules) -> str:
    """Whether a permit limit (``l``) bounds each hour: not an upper limit under a standard of daily
    means (``daily_mean_standards``), which the permit cites in free text — matched on the distinct texts."""
    texts = con.sql("SELECT DISTINCT standard FROM core_permit__outlet_limits WHERE standard IS NOT NULL")
    daily = rules.daily_mean_cited(text for (text,) in texts.fetchall())
    if not daily:
        return "true"
    return f"(l.limit_lower IS NOT NULL OR l.standard IS NULL OR l.standard NOT IN ({lit(daily)}))"


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
        ), defaults AS ({defaults_sql(rules)}
        ), by_default AS (
            SELECT i.seg_id, i.mn, i.date, i.from_us, d.pollutant_code, i.from_us AS a, i.to_us AS b, 1 AS prio,
                   d.limit_value, d.limit_lower, d.limit_unit, d.standard, d.o2_reference_pct,
                   NULL::VARCHAR AS permit_no, NULL::INTEGER AS version, d.hourly, d.limit_value_cold
            FROM _risk_identity i JOIN defaults d ON starts_with(i.industry_code, d.industry_prefix)
            QUALIFY row_number() OVER (
                PARTITION BY i.seg_id, d.pollutant_code ORDER BY length(d.industry_prefix) DESC) = 1
        ), cand AS (
            SELECT i.seg_id, i.mn, i.date, i.from_us, l.pollutant_code, greatest(l.lf, i.from_us) AS a,
                   least(l.lt, i.to_us) AS b, 0 AS prio, l.limit_value, l.limit_lower, l.limit_unit,
                   l.standard, l.o2_reference_pct, l.permit_no, l.version, {_permit_hourly_sql(con, rules)} AS hourly,
                   NULL::DOUBLE AS limit_value_cold
            FROM _risk_identity i JOIN lim l
              ON l.uscc = i.uscc AND l.outlet_code = i.outlet_code AND l.lf < i.to_us AND l.lt > i.from_us
            UNION ALL
            SELECT * FROM by_default
        ), bounds AS (
            SELECT DISTINCT seg_id, pollutant_code, x FROM cand, unnest([a, b]) t(x)
        ), iv AS (
            SELECT *, lead(x) OVER (PARTITION BY seg_id, pollutant_code ORDER BY x) AS x2 FROM bounds
        )
        SELECT row_number() OVER () AS lim_id, iv.seg_id, c.mn, c.date, c.from_us, iv.pollutant_code,
               iv.x AS a, iv.x2 AS b,
               CASE c.prio WHEN 0 THEN 'permit' ELSE 'default' END AS limit_source,
               c.limit_value, c.limit_lower, c.limit_unit, c.standard, c.o2_reference_pct, c.permit_no,
               c.version AS permit_version, c.hourly AS hourly_limit, c.limit_value_cold
        FROM iv JOIN cand c
          ON c.seg_id = iv.seg_id AND c.pollutant_code = iv.pollutant_code AND c.a <= iv.x AND c.b >= iv.x2
        WHERE iv.x2 IS NOT NULL
        QUALIFY row_number() OVER (
            PARTITION BY iv.seg_id, iv.pollutant_code, iv.x
            ORDER BY c.prio, c.limit_value NULLS LAST, c.permit_no) = 1
        """
    )


def _tol(rules: RiskRules, x: str) -> str:
    flat = rules.indicator("flatline")
    return f"({float(flat['abs_tol'])!r} + {float(flat['rel_tol'])!r} * abs({x}))"


def _judged_sql(rules: RiskRules) -> str:
    """One narrow row per hourly value: ids of its identity segment and limit interval (their text
    is joined back only for the few rows that are output), the values, and the rule flags."""
    valid, aux, flows = lit(rules.valid_flags), lit(rules.auxiliary_codes), lit(rules.flow_codes)
    o2_max, near = rules.o2_max_pct, float(rules.indicator("near_limit")["low_frac"])
    zs = rules.indicator("zs_inconsistent")
    zero_max = float(rules.indicator("zero_run")["zero_max"])
    run_unknown = "true" if rules.indicator("flatline")["running_when_flow_unknown"] else "false"
    conv = "h.avg_value * (21 - l.o2_reference_pct) / (21 - h.o2)"
    o2_code, temp_code = lit([rules.o2_code]), lit([rules.water_temp_code])
    limited = "(l.limit_value IS NOT NULL OR l.limit_lower IS NOT NULL)"
    return f"""
    WITH aux AS (
        SELECT mn, hr, max(avg_value) FILTER (WHERE pollutant_code IN ({flows})) AS flow,
               max(avg_value) FILTER (WHERE pollutant_code = {o2_code} AND flag IN ({valid})) AS o2,
               max(avg_value) FILTER (WHERE pollutant_code = {temp_code} AND flag IN ({valid})) AS water_temp
        FROM _risk_h WHERE pollutant_code IN ({flows}, {o2_code}, {temp_code}) GROUP BY mn, hr
    ), h AS (
        SELECT h.mn, h.pollutant_code, h.hr, h.avg_value, h.zs_avg_value, h.flag, h.unit, i.day_num, i.seg_id,
               a.water_temp,
               CASE WHEN a.o2 >= 0 AND a.o2 < {o2_max!r} THEN a.o2 END AS o2,
               coalesce(a.o2 >= {o2_max!r}, false) AS o2_too_high,
               a.flow > {rules.running_flow_min!r} AS running,
               coalesce(h.flag IN ({valid}), false) AS valid,  -- a flag-less hour (too few minutes) is not
               h.pollutant_code IN ({aux}) AS auxiliary,
               (h.basis = '2061' OR h.samples >= 2) AND h.max_value - h.min_value > {_tol(rules, "h.avg_value")} AS spread
        FROM _risk_h h
        JOIN _risk_identity i ON i.mn = h.mn AND i.day_num = (h.hr + 8) // 24
         AND h.hr * {HOUR_US} >= i.from_us AND h.hr * {HOUR_US} < i.to_us
        LEFT JOIN aux a ON a.mn = h.mn AND a.hr = h.hr
    ), j AS (
        SELECT h.* EXCLUDE (o2_too_high, spread, water_temp), l.lim_id,
               {water_limit_sql("l.limit_value", "l.limit_value_cold", "h.water_temp", repr(rules.cold_water_max_c))}
                   AS limit_value,
               l.limit_lower, l.o2_reference_pct,
               coalesce(l.hourly_limit, true) AS hourly_limit,
               CASE WHEN h.valid AND {limited} AND NOT coalesce(l.limit_unit <> h.unit, false) THEN
                   CASE WHEN l.o2_reference_pct IS NULL THEN h.avg_value
                        WHEN h.o2 IS NOT NULL THEN {conv}
                        WHEN NOT h.o2_too_high THEN h.zs_avg_value END
               END AS judged_value,
               CASE WHEN l.o2_reference_pct IS NOT NULL AND h.o2 IS NOT NULL AND h.zs_avg_value IS NOT NULL
                     AND h.avg_value IS NOT NULL THEN {conv} END AS zs_expected,
               h.valid AND {limited} AS limited,
               h.valid AND NOT h.auxiliary AND h.avg_value > {zero_max!r} AND coalesce(h.running, {run_unknown})
                   AND NOT coalesce(h.spread, false) AS flat_ok,
               h.valid AND NOT h.auxiliary AND h.avg_value <= {zero_max!r} AND coalesce(h.running, false) AS zero_ok
        FROM h LEFT JOIN _risk_limits l
          ON l.seg_id = h.seg_id AND l.pollutant_code = h.pollutant_code
         AND h.hr * {HOUR_US} >= l.a AND h.hr * {HOUR_US} < l.b
    )
    SELECT * EXCLUDE (limited, hourly_limit),
           judged_value IS NOT NULL AS judged,
           limited AND judged_value IS NULL AS unjudged,
           -- a limit on the day's mean is not exceeded by an hour (the daily marts judge the mean)
           coalesce(judged_value > limit_value AND hourly_limit OR judged_value < limit_lower, false) AS exceeded,
           CASE WHEN limit_value > 0 AND limit_lower IS NULL THEN judged_value / limit_value END AS ratio,
           coalesce(limit_lower IS NULL AND judged_value <= limit_value
                    AND judged_value >= {near!r} * limit_value, false) AS near_limit,
           valid AND zs_expected IS NOT NULL AS zs_checked,
           valid AND zs_expected IS NOT NULL AND abs(zs_avg_value - zs_expected)
               > {float(zs["rel_tol"])!r} * greatest(zs_expected, {float(zs["abs_floor"])!r}) AS zs_bad
    FROM j
    """


def _runs_sql(rules: RiskRules) -> str:
    """``_risk_runs``: one row per hour that belongs to a run (kind flat, zero or exc) with the run's
    length, first and last hour. Computed on the candidate hours only (few): exceedance and zero
    runs are islands of consecutive hours (``hr − row_number()`` is constant along one); flat runs
    also break where the value changes by more than the tolerance."""

    def islands(kind: str, ok: str) -> str:
        return f"""
        {kind}_h AS (
            SELECT *, hr - row_number() OVER (PARTITION BY mn, pollutant_code ORDER BY hr) AS run
            FROM c WHERE {ok}
        )"""

    same = f"abs(avg_value - lag(avg_value) OVER w) <= {_tol(rules, 'lag(avg_value) OVER w')}"
    cols = "mn, pollutant_code, hr, day_num, seg_id, avg_value"

    # a run as the hour's own day sees it: clipped to that day's window, so a day's figures are the
    # same whichever days were loaded with it (a run's hours are consecutive: len = last − first + 1)
    win_lo = f"day_num * 24 - {BEIJING_H + rules.lookback_hours}"
    win_hi = f"day_num * 24 - {BEIJING_H} + {24 + rules.lookahead_hours - 1}"

    def runs(kind: str) -> str:
        return f"""
        SELECT '{kind}' AS kind, {cols}, last_hr - first_hr + 1 AS len, first_hr, last_hr FROM (
            SELECT {cols}, greatest(min(hr) OVER r, {win_lo}) AS first_hr, least(max(hr) OVER r, {win_hi}) AS last_hr
            FROM {kind}_h WINDOW r AS (PARTITION BY mn, pollutant_code, run)
        )"""

    return f"""
    WITH c AS (
        SELECT {cols}, flat_ok, zero_ok, exceeded FROM _risk_judged WHERE flat_ok OR zero_ok OR exceeded
    ), flat_s AS (
        SELECT {cols}, CASE WHEN hr - lag(hr) OVER w = 1 AND {same} THEN 0 ELSE 1 END AS starts
        FROM c WHERE flat_ok WINDOW w AS (PARTITION BY mn, pollutant_code ORDER BY hr)
    ), flat_h AS (
        SELECT *, sum(starts) OVER (PARTITION BY mn, pollutant_code ORDER BY hr ROWS UNBOUNDED PRECEDING) AS run
        FROM flat_s
    ), {islands("zero", "zero_ok")}, {islands("exc", "exceeded")}
    {runs("flat")} UNION ALL {runs("zero")} UNION ALL {runs("exc")}
    """


def build_judged_hours(con: duckdb.DuckDBPyConnection, rules: RiskRules) -> None:
    """``_risk_limits``, ``_risk_judged`` (one row per hourly value) and ``_risk_runs`` from
    ``_risk_h`` and ``_risk_identity`` (see the module docstring)."""
    _build_limits(con, rules)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _risk_judged AS {_judged_sql(rules)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _risk_runs AS {_runs_sql(rules)}")
    con.execute("DROP TABLE _risk_h")  # every one of its rows is in _risk_judged (memory)
