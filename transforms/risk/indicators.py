"""Data-fraud and data-quality indicators per outlet and day (``mart_risk__indicators``).

Each rule, its thresholds in ``rules.toml``:

==========================  ===============================================================  ============
indicator                   the day's row counts …                                           category
==========================  ===============================================================  ============
``flatline``                hours in runs (≥ min_run_h) of an unchanged hourly mean whose     fraud
                            minimum equals its maximum, while the process runs
``zero_run``                hours in runs (≥ min_run_h) of values ≤ zero_max while flowing    fraud
``near_limit``              judged hours in [low_frac × limit, limit]                        fraud
``zs_inconsistent``         hours whose ZsAvg differs from the conversion of the measured     fraud
                            mean with O2 by more than rel_tol
``abnormal_flags``          hours flagged F M D C B T                                        data_quality
``manual_values``           hours flagged S                                                  data_quality
``missing_data``            hours the logger sent something but not this pollutant, or too   data_quality
                            few minutes of it for an hourly value (``hours_incomplete``)
``silence``                 hours in silent runs (≥ min_run_h) of the whole logger ('*')     data_quality
                            while another logger sent (not the platform's own outage)
``unpermitted_discharge``   hours with data (and flow, where measured) while the outlet has   permit
                            no permit limit in force ('*')
==========================  ===============================================================  ============

A row is written only when the rule found something that day (``hours_flagged > 0``); the
denominators of shares over a period come from ``mart_source__exceedance_daily``. Run lengths
include the part of a run in the lookback days, so a run across midnight is judged whole.
``triggered`` says whether the day alone meets the rule (share rules: the share threshold with the
minimum hours); the period score re-applies the rules to the period's sums.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa

from schemas import risk as schema
from schemas.hj212_codes import POLLUTANTS
from transforms.risk.rules import RiskRules
from transforms.risk.sql import (
    BEIJING_H,
    HOUR_US,
    MISSING_HOURS,
    beijing_text,
    day_num,
    day_start_hr,
    labels_sql,
    lit,
    to_table,
)

__all__ = ["ENGLISH_NAMES_SQL", "indicator_rows", "names_sql"]

# the HJ 212 table's English pollutant names, for the English evidence
ENGLISH_NAMES_SQL = "SELECT * FROM (VALUES {}) t(code, name)".format(
    ", ".join(f"({lit([c])}, {lit([p.name])})" for c, p in POLLUTANTS.items())
)

# each rule's evidence in Chinese and English: printf templates taking the same values, in which
# {nm} is the pollutant's name and {status} the permit status in that language
_EVIDENCE = {
    "flatline": ("%s 自 %s 起连续 %d 小时恒定为 %s%s（设施运行中）",
                 "%s constant from %s for %d hours in a row at %s%s (process running)"),
    "zero_run": ("%s 自 %s 起连续 %d 小时为零值（流量大于 0）",
                 "%s zero from %s for %d hours in a row (flow above 0)"),
    "zs_inconsistent": ("%s 折算浓度与实测浓度、氧含量不一致 %d/%d 小时，最大偏差 %.0f%%",
                        "%s converted value inconsistent with the measured value and O2 in %d/%d hours, "
                        "deviation up to %.0f%%"),
    "near_limit": ("%s %d/%d 个有效小时均值处于限值的 %.0f%%–100%%（限值 %s%s）",
                   "%s %d/%d valid hourly means at %.0f%%–100%% of the limit (limit %s%s)"),
    "abnormal_flags": ("%s %d/%d 小时带异常标记（%s）", "%s %d/%d hours flagged abnormal (%s)"),
    "manual_values": ("%s %d/%d 小时为手工录入数据（S）", "%s %d/%d hours entered by hand (S)"),
    "missing_data": ("%s 缺失或不完整 %d/%d 个小时值（数采仪在线）",
                     "%s missing or incomplete %d/%d hourly values (logger online)"),
    "silence": ("连续 %d 小时无任何数据（%s 至 %s）", "no data at all for %d hours in a row (%s to %s)"),
    "unpermitted_discharge": ("%s：当日有数据且在排放 %d 小时", "%s: data and discharging for %d hours of the day"),
}  # fmt: skip


def _evidence(indicator: str, *values: str) -> str:
    """``evidence, evidence_en`` of a rule's row: its two sentences from the same ``values``."""
    status = "s.permit_status"
    words = {
        "zh": {"nm": "nm", "status": labels_sql(schema.PERMIT_STATUSES, status)},
        "en": {"nm": "nm_en", "status": labels_sql(schema.PERMIT_STATUSES.in_language("en"), status)},
    }
    zh, en = (
        f"printf({lit([template])}, {', '.join(v.format_map(words[lang]) for v in values)})"
        for lang, template in zip(("zh", "en"), _EVIDENCE[indicator], strict=True)
    )
    return f"{zh} AS evidence, {en} AS evidence_en"


def _unit(expr: str) -> str:
    """A unit after its value: none where the pollutant has none (pH)."""
    return f"coalesce(' ' || nullif({expr}, ''), '')"


def names_sql(rules: RiskRules) -> str:
    """A relation ``(code, name)`` of the display names used in reasons."""
    rows = [f"({lit([c])}, {lit([n])})" for c, n in rules.names.items()]
    if not rows:
        return "SELECT NULL::VARCHAR AS code, NULL::VARCHAR AS name WHERE false"
    return f"SELECT * FROM (VALUES {', '.join(rows)}) t(code, name)"


def _pollutant_sql(rules: RiskRules, lo: int, hi: int) -> str:
    """Run and per-hour rules from ``_risk_judged`` and ``_risk_runs``, per segment and pollutant."""
    flat, zero = rules.indicator("flatline"), rules.indicator("zero_run")
    fmin, zmin = int(flat["min_run_h"]), int(zero["min_run_h"])
    zs = rules.indicator("zs_inconsistent")
    return f"""
    m AS (
        SELECT seg_id, pollutant_code, any_value(unit) AS unit,
               count(*) FILTER (WHERE valid AND NOT auxiliary) AS checked_h,
               count(*) FILTER (WHERE valid AND NOT auxiliary AND running) AS flowing_h,
               count(*) FILTER (WHERE zs_bad) AS zs_h, count(*) FILTER (WHERE zs_checked) AS zs_checked_h,
               max(abs(zs_avg_value - zs_expected) / nullif(zs_expected, 0)) FILTER (WHERE zs_bad) * 100 AS zs_dev
        FROM _risk_judged WHERE day_num BETWEEN {lo} AND {hi}
        GROUP BY seg_id, pollutant_code
    ), rr AS (
        SELECT seg_id, pollutant_code,
               count(*) FILTER (WHERE kind = 'flat' AND len >= {fmin}) AS flat_h,
               max(len) FILTER (WHERE kind = 'flat' AND len >= {fmin}) AS flat_longest,
               arg_max(first_hr, (len, -first_hr)) FILTER (WHERE kind = 'flat' AND len >= {
        fmin
    }) AS flat_first,
               arg_max(last_hr, (len, -first_hr)) FILTER (WHERE kind = 'flat' AND len >= {fmin}) AS flat_last,
               arg_max(avg_value, (len, -first_hr)) FILTER (WHERE kind = 'flat' AND len >= {
        fmin
    }) AS flat_value,
               count(*) FILTER (WHERE kind = 'zero' AND len >= {zmin}) AS zero_h,
               max(len) FILTER (WHERE kind = 'zero' AND len >= {zmin}) AS zero_longest,
               arg_max(first_hr, (len, -first_hr)) FILTER (WHERE kind = 'zero' AND len >= {
        zmin
    }) AS zero_first,
               arg_max(last_hr, (len, -first_hr)) FILTER (WHERE kind = 'zero' AND len >= {zmin}) AS zero_last
        FROM _risk_runs WHERE kind IN ('flat', 'zero') AND day_num BETWEEN {lo} AND {hi}
        GROUP BY seg_id, pollutant_code
    ), mm AS (
        SELECT m.*, coalesce(rr.flat_h, 0) AS flat_h, rr.flat_longest, rr.flat_first, rr.flat_last, rr.flat_value,
               coalesce(rr.zero_h, 0) AS zero_h, rr.zero_longest, rr.zero_first, rr.zero_last,
               s.date, s.mn, s.from_us, coalesce(n.name, m.pollutant_code) AS nm,
               coalesce(ne.name, m.pollutant_code) AS nm_en
        FROM m LEFT JOIN rr USING (seg_id, pollutant_code)
        JOIN _risk_identity s USING (seg_id)
        LEFT JOIN names n ON n.code = m.pollutant_code
        LEFT JOIN names_en ne ON ne.code = m.pollutant_code
    ), runs AS (
        SELECT date, mn, from_us, pollutant_code, 'flatline' AS indicator, 'fraud' AS category,
               flat_h AS hours_flagged, checked_h AS hours_checked, flat_longest AS longest_run_h,
               flat_first * {HOUR_US} AS run_start_at, (flat_last + 1) * {HOUR_US} AS run_end_at,
               {fmin}::DOUBLE AS threshold_h, NULL::DOUBLE AS threshold_pct, flat_longest >= {
        fmin
    } AS triggered,
               {
        _evidence(
            "flatline",
            "{nm}",
            beijing_text(f"flat_first * {HOUR_US}"),
            "flat_longest",
            "round(flat_value, 4)::VARCHAR",
            _unit("unit"),
        )
    }
        FROM mm WHERE flat_h > 0
        UNION ALL
        SELECT date, mn, from_us, pollutant_code, 'zero_run', 'fraud', zero_h, flowing_h, zero_longest,
               zero_first * {HOUR_US}, (zero_last + 1) * {HOUR_US}, {zmin}::DOUBLE, NULL, zero_longest >= {
        zmin
    },
               {_evidence("zero_run", "{nm}", beijing_text(f"zero_first * {HOUR_US}"), "zero_longest")}
        FROM mm WHERE zero_h > 0
        UNION ALL
        SELECT date, mn, from_us, pollutant_code, 'zs_inconsistent', 'fraud', zs_h, zs_checked_h, NULL,
               NULL, NULL, {int(zs["min_hours"])}::DOUBLE, NULL, zs_h >= {int(zs["min_hours"])},
               {_evidence("zs_inconsistent", "{nm}", "zs_h", "zs_checked_h", "zs_dev")}
        FROM mm WHERE zs_h > 0
    )"""


def _share_sql(rules: RiskRules) -> str:
    """Share rules from ``_risk_daily`` (near limit, flags, missing values)."""

    def share(name: str, flagged: str, checked: str, category: str, *values: str) -> str:
        ind = rules.indicator(name)
        pct, hmin = float(ind["share_pct"]), int(ind["min_hours"])
        return f"""
        SELECT date, mn, from_us, pollutant_code, '{name}', '{category}', {flagged}, {checked}, NULL, NULL,
               NULL, {hmin}::DOUBLE, {pct}::DOUBLE,
               {checked} >= {hmin} AND 100.0 * {flagged} / {checked} >= {pct},
               {_evidence(name, "{nm}", flagged, checked, *values)}
        FROM d WHERE {flagged} > 0"""

    low = 100 * float(rules.indicator("near_limit")["low_frac"])
    flags = lit(["/".join(rules.abnormal_flags)])
    return (
        share("near_limit", "hours_near_limit", "hours_judged", "fraud", f"{low}::DOUBLE", "limit_value::VARCHAR",
              _unit("limit_unit"))
        + " UNION ALL "
        + share("abnormal_flags", "hours_abnormal", "hours_present", "data_quality", flags)
        + " UNION ALL "
        + share("manual_values", "hours_manual", "hours_present", "data_quality")
        + " UNION ALL "
        + share("missing_data", MISSING_HOURS, "logger_hours", "data_quality")
    )  # fmt: skip


def _logger_sql(rules: RiskRules, first: dt.date, last: dt.date, lo_hr: int, hi_hr: int) -> str:
    """Logger-level rules: silent runs and discharge without a permit in force."""
    smin = int(rules.indicator("silence")["min_run_h"])
    pmin = int(rules.indicator("unpermitted_discharge")["min_hours"])
    lo, hi = day_num(first), day_num(last)
    ahead = rules.lookahead_hours
    day0 = f"day_num * 24 - {BEIJING_H}"  # a Beijing day's first epoch hour
    return f"""
    dh AS (SELECT DISTINCT mn, hr FROM _risk_judged),
    gaps AS (
        SELECT mn, coalesce(lag(hr) OVER (PARTITION BY mn ORDER BY hr) + 1, {lo_hr}) AS g0, hr AS g1 FROM dh
        UNION ALL
        SELECT mn, max(hr) + 1, {hi_hr} FROM dh GROUP BY mn
        UNION ALL
        SELECT DISTINCT s.mn, {lo_hr}, {hi_hr} FROM _risk_identity s ANTI JOIN dh USING (mn)
    ), received AS (
        -- stretches of hours in which some logger sent: an hour in which none did (the receiver was
        -- down, the platform not yet ingesting, a day in progress not yet reached) is no logger's
        -- silence, so it ends a silent run; runs stay contiguous, and their length is end − start
        SELECT min(hr) AS r0, max(hr) + 1 AS r1
        FROM (SELECT hr, hr - row_number() OVER (ORDER BY hr) AS stretch FROM (SELECT DISTINCT hr FROM dh))
        GROUP BY stretch
    ), silent AS (
        SELECT g.mn, greatest(g.g0, r.r0) AS g0, least(g.g1, r.r1) AS g1
        FROM gaps g JOIN received r ON r.r0 < g.g1 AND r.r1 > g.g0
    ), day_window AS (
        -- each day sees the silent runs through its own window [day − lookback, day + lookahead], so
        -- a day's figures do not depend on which days were loaded with it
        SELECT DISTINCT day_num, {day0} - {rules.lookback_hours} AS w0, {day0} + {24 + ahead} AS w1
        FROM _risk_identity WHERE day_num BETWEEN {lo} AND {hi}
    ), seen_gaps AS (
        SELECT s.date, s.mn, s.from_us, s.to_us, s.segment_hours,
               greatest(g.g0, w.w0) AS g0, least(g.g1, w.w1) AS g1
        FROM _risk_identity s JOIN day_window w USING (day_num)
        JOIN silent g ON g.mn = s.mn AND g.g1 - g.g0 >= {smin}
    ), sil AS (
        SELECT date, mn, from_us, segment_hours,
               greatest(g0, (from_us + {HOUR_US} - 1) // {HOUR_US}) AS x0,
               least(g1, (to_us + {HOUR_US} - 1) // {HOUR_US}) AS x1, g0, g1 - g0 AS len
        FROM seen_gaps WHERE g1 - g0 >= {smin} AND g0 * {HOUR_US} < to_us AND g1 * {HOUR_US} > from_us
    ), silence AS (
        SELECT date, mn, from_us, '{schema.LOGGER_LEVEL}' AS pollutant_code, 'silence' AS indicator,
               'data_quality' AS category, sum(x1 - x0) AS hours_flagged, any_value(segment_hours) AS hours_checked,
               max(len) AS longest_run_h, arg_max(g0, (len, -g0)) * {HOUR_US} AS run_start_at,
               arg_max(g0 + len, (len, -g0)) * {HOUR_US} AS run_end_at, {smin}::DOUBLE AS threshold_h,
               NULL::DOUBLE AS threshold_pct, true AS triggered,
               {
        _evidence(
            "silence",
            "max(len)",
            beijing_text(f"arg_max(g0, (len, -g0)) * {HOUR_US}"),
            beijing_text(f"arg_max(g0 + len, (len, -g0)) * {HOUR_US}"),
        )
    }
        FROM sil WHERE x1 > x0 GROUP BY date, mn, from_us
    ), unpermitted AS (
        SELECT s.date, s.mn, s.from_us, '{schema.LOGGER_LEVEL}', 'unpermitted_discharge', 'permit',
               count(DISTINCT h.hr) FILTER (WHERE coalesce(h.running, true)) AS n, any_value(s.hours_with_data),
               NULL, NULL, NULL, {pmin}::DOUBLE, NULL, n >= {pmin},
               {_evidence("unpermitted_discharge", "any_value({status})", "n")}
        FROM _risk_identity s JOIN _risk_judged h USING (seg_id)
        WHERE s.day_num BETWEEN {lo} AND {hi}
          AND s.permit_status NOT IN ('in_force', 'unknown')
        GROUP BY s.date, s.mn, s.from_us HAVING n > 0
    )"""


def indicator_rows(
    con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date, rules: RiskRules
) -> pa.Table:
    """``mart_risk__indicators`` rows of days [first, last] from ``_risk_judged``, ``_risk_runs``, ``_risk_daily``
    and ``_risk_identity`` (``lookback`` hours before ``first`` are in the window)."""
    lo, hi = day_num(first), day_num(last)
    lo_hr = day_start_hr(first) - rules.lookback_hours
    hi_hr = day_start_hr(last) + 24 + rules.lookahead_hours
    rel = con.sql(
        f"""
        WITH names AS ({names_sql(rules)}), names_en AS ({ENGLISH_NAMES_SQL}),
        {_pollutant_sql(rules, lo, hi)},
        d AS (SELECT k.*, coalesce(n.name, k.pollutant_code) AS nm, coalesce(ne.name, k.pollutant_code) AS nm_en
              FROM _risk_daily k LEFT JOIN names n ON n.code = k.pollutant_code
              LEFT JOIN names_en ne ON ne.code = k.pollutant_code),
        shares AS ({_share_sql(rules)}),
        {_logger_sql(rules, first, last, lo_hr, hi_hr)},
        everything AS (
            SELECT * FROM runs UNION ALL SELECT * FROM shares UNION ALL SELECT * FROM silence
            UNION ALL SELECT * FROM unpermitted
        )
        SELECT e.*, e.from_us AS identity_from_at, s.uscc, s.outlet_code, s.region_code, s.industry_code,
               100.0 * e.hours_flagged / nullif(e.hours_checked, 0) AS share_pct
        FROM everything e JOIN _risk_identity s ON s.mn = e.mn AND s.date = e.date AND s.from_us = e.from_us
        ORDER BY e.date, e.mn, e.pollutant_code, e.indicator, e.from_us
        """
    )
    return to_table(rel.select(*schema.indicators.column_names), schema.indicators)
