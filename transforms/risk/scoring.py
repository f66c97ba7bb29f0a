"""Risk scores of a period, per outlet and per enterprise, from the daily marts of the period only.

Inputs (relations on the connection): ``mart_source__exceedance_daily``,
``mart_source__exceedance_hourly``, ``mart_risk__indicators`` and ``mart_source__outlet_identity``
(filtered on ``date`` to the period, so a view over the lake reads only those partitions), and
``core_credit__ratings``.

A ranked outlet is an MN under one enterprise (an MN remapped mid-period ranks once per
enterprise). Its score is the sum of its reasons' points; each reason gives
``points × min(1, metric / saturation)`` (``[score.reasons]``, flat points for the permit status
and the credit level) once its rule is met over the period, rounded to the decimals the registry
declares for points (``schemas.risk.rounded_sql``: as every page, export and the CLI show them, so
the points shown add up to the score shown; a reason rounding to 0 is none):

* exceedance (per pollutant): hours over the limit, plus the largest 超标倍数 and the days whose
  mean exceeded, each with its own points;
* flat lines, zero runs (per pollutant): hours in runs (runs are judged in the daily marts);
* clustering under the limit (per pollutant): share of judged hours in [low_frac × limit, limit],
  at least ``share_pct`` with at least ``min_hours`` judged hours;
* converted values inconsistent (per pollutant): at least ``min_hours`` hours;
* abnormal flags, manual values, missing values (per outlet, all its pollutants): shares;
* silence: the longest silent run; unpermitted discharge: hours;
* the longest runs the reasons state (over the limit, flat, zero, silent) are the period's: rebuilt
  from its hours over the limit, merged from its days' runs for the others, clipped to the period
  (a day sees a run only through its window, lookback + 24 h + lookahead);
* permit status at the end of the period (none, not yet valid, expired, revoked, cancelled, outlet
  not on the permit); credit level (latest evaluation year ≤ the period's end); an unregistered MN.

An enterprise's score: credit points + its best outlet's other points + ``other_outlets_factor`` ×
the other outlets' other points — the sum of its reasons' contributions, each listed with it
(``points``: its weight × its outlet's points as shown, rounded; ``weight`` 1 on the best outlet
and for the enterprise's own reasons, ``other_outlets_factor`` on the others; ``outlet_points``:
the points on its outlet's row). Every ranked row carries its top reasons in Chinese with their
numbers, every reason as JSON, and the figures behind them. All in DuckDB SQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from schemas import risk as schema
from schemas.region_codes import LEGACY_REGION_CODES
from schemas.sql import exact_decimal
from transforms.identifiers import canonical_region_code
from transforms.risk.indicators import names_sql
from transforms.risk.rules import RiskRules
from transforms.risk.sql import HOUR_US, MISSING_HOURS, day_start_hr, labels_sql, lit, to_table

__all__ = ["SCORE_INPUTS", "PeriodScores", "region_prefix", "score_period"]

# The relations score_period reads (the daily marts are filtered on the period's dates).
SCORE_INPUTS = (
    "mart_source__exceedance_daily",
    "mart_source__exceedance_hourly",
    "mart_risk__indicators",
    "mart_source__outlet_identity",
    "core_credit__ratings",
)

# worst first: the enterprise's permit status is its outlets' worst
_PERMIT_SEVERITY = ["revoked", "cancelled", "expired", "none", "not_yet_valid", "outlet_not_permitted",
                    "in_force", "unknown"]  # fmt: skip


@dataclass(frozen=True)
class PeriodScores:
    outlets: pa.Table  # mart_risk__outlet_scores
    enterprises: pa.Table  # mart_risk__enterprise_scores


def region_prefix(code: str) -> str:
    """The GB/T 2260 prefix a region code stands for: 360000 → 36, 360100 → 3601, 360102 → 360102."""
    code = code.strip()
    if len(code) != 6 or not code.isdigit():
        raise ValueError(f"region code {code!r}: six digits expected (GB/T 2260)")
    if code.endswith("0000"):
        return code[:2]
    return code[:4] if code.endswith("00") else code


def region_prefixes(code: str) -> list[str]:
    """The prefixes of the region codes a filter on ``code`` matches: its own, and for a prefecture
    the prefix of its legacy code (520600 铜仁 → 5206 and 5222: master data keeps the county codes of
    the former 铜仁地区, 5222xx, which :func:`prefecture_code` puts in 520600 too)."""
    prefecture = canonical_region_code(code.strip()) or ""
    prefix = region_prefix(prefecture)
    if len(prefix) != 4:
        return [prefix]
    return [prefix] + [old[:4] for old, new in LEGACY_REGION_CODES.items() if new == prefecture]


def _filters(start: dt.date, end: dt.date, region: str | None, industry: str | None) -> str:
    where = f"date BETWEEN DATE '{start.isoformat()}' AND DATE '{end.isoformat()}'"
    if region:
        matches = [f"starts_with(region_code, {lit([p])})" for p in region_prefixes(region)]
        where += f" AND ({' OR '.join(matches)})"
    if industry:
        where += f" AND starts_with(industry_code, {lit([industry.strip()])})"
    return where


def _points(rules: RiskRules, name: str, metric: str) -> str:
    r = rules.reason(name)
    return f"({r.points!r} * least(1.0, ({metric}) / {r.saturation!r}))"


def _period_runs_sql(start: dt.date, end: dt.date, where: str) -> str:
    """``runs``: per outlet, pollutant and run indicator the longest run within the period. A day's
    row holds its longest run as the day's window sees it (up to lookback + 24 h + lookahead): the
    days' runs are merged where they overlap (the days' views of one run overlap, their windows
    share 48 h; two runs never overlap, though flat runs may touch) and clipped to the period.
    A day keeps only its longest run: on the period's first or last day, a run reaching in from
    outside can hide a shorter one, so the figure may fall short there, never above a real run."""
    p0, p1 = day_start_hr(start) * HOUR_US, (day_start_hr(end) + 24) * HOUR_US
    key = "mn, uk, pollutant_code, indicator"
    return f"""days AS (
            SELECT mn, coalesce(uscc, '') AS uk, pollutant_code, indicator,
                   epoch_us(run_start_at) AS a, epoch_us(run_end_at) AS b
            FROM mart_risk__indicators WHERE {where} AND run_start_at IS NOT NULL
        ), reach AS (
            SELECT *, max(b) OVER (PARTITION BY {key} ORDER BY a, b
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before_b
            FROM days
        ), merged AS (
            SELECT *, sum(CASE WHEN before_b > a THEN 0 ELSE 1 END)
                          OVER (PARTITION BY {key} ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS run
            FROM reach
        ), runs AS (
            SELECT {key}, max(len) AS longest FROM (
                SELECT {key}, (least(max(b), {p1}) - greatest(min(a), {p0})) // {HOUR_US} AS len
                FROM merged GROUP BY {key}, run
            ) WHERE len > 0 GROUP BY {key}
        )"""


def _base(
    con: duckdb.DuckDBPyConnection,
    period: tuple[dt.date, dt.date],
    where: str,
    pollutant: str | None,
    rules: RiskRules,
) -> None:
    """Per outlet (and pollutant) sums of the period, aggregated straight from the daily marts
    (only the columns used are read; nothing of the period is held row by row)."""
    only = f" AND pollutant_code = {lit([pollutant])}" if pollutant else ""
    ind_only = f" AND pollutant_code IN ({lit([pollutant, schema.LOGGER_LEVEL])})" if pollutant else ""
    names = names_sql(rules)
    start, end = period
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _score_pol AS
        WITH d AS (  -- plain sums over every row of the period
            SELECT mn, coalesce(uscc, '') AS uk, pollutant_code,
                   sum(hours_judged) AS judged, sum(hours_near_limit) AS near,
                   sum(hours_present) AS present, sum(hours_abnormal) AS abnormal, sum(hours_manual) AS manual,
                   sum({MISSING_HOURS}) AS missing, sum(logger_hours) AS logger_h
            FROM mart_source__exceedance_daily WHERE {where}{only}
            GROUP BY mn, coalesce(uscc, ''), pollutant_code
        ), e AS (  -- the exceedance figures, from the (few) rows with an hour over the limit
            SELECT mn, coalesce(uscc, '') AS uk, pollutant_code,
                   sum(hours_exceeded) AS exc_h, count(DISTINCT date) AS exc_days,
                   max(max_exceedance_multiple) AS max_mult,
                   count(DISTINCT date) FILTER (WHERE day_mean_exceeded) AS mean_days,
                   bool_or(limit_source = 'default') AS by_default,
                   arg_max(limit_value, date) AS limit_value, arg_max(limit_unit, date) AS limit_unit
            FROM mart_source__exceedance_daily
            WHERE {where}{only} AND (hours_exceeded > 0 OR day_mean_exceeded)  -- a daily-mean limit: no hour
            GROUP BY mn, coalesce(uscc, ''), pollutant_code
        ), r AS (  -- the longest run of the period's hours over the limit (a day's runs reach into its neighbours)
            SELECT mn, uk, pollutant_code, max(n) AS exc_run FROM (
                SELECT mn, uk, pollutant_code, count(*) AS n FROM (
                    SELECT mn, uk, pollutant_code, hr - row_number() OVER (PARTITION BY mn, uk, pollutant_code ORDER BY hr) AS run
                    FROM (SELECT DISTINCT mn, coalesce(uscc, '') AS uk, pollutant_code, epoch_us(hour_at) // {HOUR_US} AS hr
                          FROM mart_source__exceedance_hourly WHERE {where}{only})
                ) GROUP BY mn, uk, pollutant_code, run
            ) GROUP BY mn, uk, pollutant_code
        )
        SELECT d.*, coalesce(e.exc_h, 0) AS exc_h, coalesce(e.exc_days, 0) AS exc_days, e.max_mult,
               coalesce(r.exc_run, 0) AS exc_run, coalesce(e.mean_days, 0) AS mean_days, e.by_default,
               e.limit_value, e.limit_unit, coalesce(n.name, d.pollutant_code) AS nm,
               d.pollutant_code IN ({lit(rules.auxiliary_codes)}) AS auxiliary
        FROM d LEFT JOIN e USING (mn, uk, pollutant_code) LEFT JOIN r USING (mn, uk, pollutant_code)
        LEFT JOIN ({names}) n ON n.code = d.pollutant_code;

        CREATE OR REPLACE TEMP TABLE _score_days AS
        SELECT mn, coalesce(uscc, '') AS uk, count(DISTINCT date) AS exc_days
        FROM mart_source__exceedance_daily WHERE {where}{only} AND (hours_exceeded > 0 OR day_mean_exceeded)
        GROUP BY ALL;

        CREATE OR REPLACE TEMP TABLE _score_indsum AS
        WITH i AS (
            SELECT mn, coalesce(uscc, '') AS uk, pollutant_code, indicator, sum(hours_flagged) AS h,
                   sum(hours_checked) AS checked
            FROM mart_risk__indicators WHERE {where}{ind_only}
            GROUP BY mn, coalesce(uscc, ''), pollutant_code, indicator
        ), {_period_runs_sql(start, end, where + ind_only)}
        SELECT i.*, r.longest, coalesce(n.name, i.pollutant_code) AS nm
        FROM i LEFT JOIN runs r USING (mn, uk, pollutant_code, indicator) LEFT JOIN ({names}) n ON n.code = i.pollutant_code;

        CREATE OR REPLACE TEMP TABLE _score_outlets AS
        SELECT mn, coalesce(uscc, '') AS uk, arg_max(uscc, identity_from_at) AS uscc,
               arg_max(outlet_code, identity_from_at) AS outlet_code,
               arg_max(region_code, identity_from_at) AS region_code,
               arg_max(industry_code, identity_from_at) AS industry_code,
               arg_max(enterprise_name, identity_from_at) AS enterprise_name,
               arg_max(point_name, identity_from_at) AS point_name,
               arg_max(identity_status, identity_from_at) AS identity_status,
               arg_max(permit_status, identity_from_at) AS permit_status,
               arg_max(permit_no, identity_from_at) AS permit_no,
               arg_max(permit_status_since, identity_from_at) AS permit_status_since
        FROM mart_source__outlet_identity WHERE {where}
        GROUP BY mn, coalesce(uscc, '');
        """
    )
    if pollutant:  # only outlets that measure it
        con.execute(
            "DELETE FROM _score_outlets o WHERE NOT EXISTS (SELECT 1 FROM _score_pol p WHERE p.mn = o.mn AND p.uk = o.uk)"
        )


def _credit(con: duckdb.DuckDBPyConnection, end: dt.date) -> None:
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _score_credit AS
        SELECT uscc, arg_max(level, year * 10 + level_rank) AS level, max(year) AS year,
               arg_max(level_label, year * 10 + level_rank) AS label,
               {labels_sql(schema.CREDIT_LEVELS, "arg_max(level, year * 10 + level_rank)")} AS colour_zh
        FROM core_credit__ratings WHERE uscc IS NOT NULL AND year <= {end.year}
        GROUP BY uscc
        """
    )


_SHARE = "100.0 * {a} / nullif({b}, 0)"
# an outlet's pollutant-hours over the period, and its hours (its pollutant with the most: the
# rules' min_hours are hours, not pollutant-hours — 3 hours of 8 pollutants are not 24 hours)
_OUTLET_SUMS = """(SELECT mn, uk, sum(abnormal) AS abnormal, sum(manual) AS manual, sum(present) AS present,
                          sum(missing) AS missing, sum(logger_h) AS logger_h,
                          max(present) AS present_hours, max(logger_h) AS logger_hours
                   FROM _score_pol GROUP BY mn, uk)"""
_REASON = (
    "SELECT {who}, '{code}', '{category}', '{scope}', {pollutant}, {points}, {text}, {numbers} FROM {source}"
)


def _exceedance_reason(rules: RiskRules) -> str:
    points = " + ".join(
        (
            _points(rules, "exceedance", "exc_h"),
            _points(rules, "exceedance_multiple", "coalesce(max_mult, 0)"),
            _points(rules, "exceedance_daily_mean", "mean_days"),
        )
    )
    default = "CASE WHEN by_default THEN '（国家默认限值）' ELSE '' END"
    text = f"""CASE WHEN exc_h > 0 THEN printf('%s 超标 %d 小时（%d 天）%s，最长连续 %d 小时%s%s', nm, exc_h, exc_days,
                  CASE WHEN max_mult IS NOT NULL THEN printf('，最大超标倍数 {schema.printf_format("max_exceedance_multiple")} 倍', max_mult) ELSE '' END, exc_run,
                  CASE WHEN mean_days > 0 THEN printf('，日均值超标 %d 天', mean_days) ELSE '' END, {default})
               ELSE printf('%s 日均值超标 %d 天%s', nm, mean_days, {default}) END"""
    numbers = f"""json_object('hours', exc_h, 'days', exc_days, 'max_exceedance_multiple', {schema.rounded_sql("max_mult", "max_exceedance_multiple")}::DOUBLE,
                       'longest_run_h', exc_run, 'daily_mean_days', mean_days, 'limit_value', limit_value,
                       'limit_unit', limit_unit, 'default_limit', coalesce(by_default, false))"""
    return (
        f"SELECT mn, uk, 'exceedance' AS code, 'exceedance' AS category, 'outlet' AS scope, pollutant_code,"
        f" {points} AS points, {text} AS text, {numbers} AS numbers FROM _score_pol WHERE exc_h > 0 OR mean_days > 0"
    )


def _share_reasons(rules: RiskRules) -> list[str]:
    """Reasons whose rule is a share of hours over the period, with a minimum of hours."""

    def one(
        code: str,
        category: str,
        pollutant: str,
        source: str,
        part: str,
        base: str,
        text: str,
        numbers: str,
        hours: str | None = None,
    ) -> str:
        """``hours``: what the rule's min_hours is compared with (default ``base``)."""
        ind = rules.indicator(code)
        share = _SHARE.format(a=part, b=base)
        where = f"{hours or base} >= {int(ind['min_hours'])} AND {share} >= {float(ind['share_pct'])!r}"
        if code == "near_limit":
            where += " AND NOT auxiliary"
        sql = _REASON.format(who="mn, uk", code=code, category=category, scope="outlet", pollutant=pollutant,
                             points=_points(rules, code, share), text=text.replace("{share}", share),
                             numbers=numbers, source=source)  # fmt: skip
        return f"{sql} WHERE {where}"

    low = 100 * float(rules.indicator("near_limit")["low_frac"])
    star = f"'{schema.LOGGER_LEVEL}'"
    return [
        one("near_limit", "fraud", "pollutant_code", "_score_pol", "near", "judged",
            f"printf('%s %.0f%% 的有效小时均值处于限值的 {low:.0f}%%–100%%（%d/%d 小时）', nm, {{share}}, near, judged)",
            "json_object('hours_near_limit', near, 'hours_judged', judged)"),
        one("abnormal_flags", "data_quality", star, _OUTLET_SUMS, "abnormal", "present",
            f"printf('异常标记（{'/'.join(rules.abnormal_flags)}）数据占 %.0f%%（%d/%d 个小时值）', {{share}}, abnormal, present)",
            "json_object('hours_abnormal', abnormal, 'hours_present', present)", "present_hours"),
        one("manual_values", "data_quality", star, _OUTLET_SUMS, "manual", "present",
            "printf('手工录入（S）数据占 %.0f%%（%d/%d 个小时值）', {share}, manual, present)",
            "json_object('hours_manual', manual, 'hours_present', present)", "present_hours"),
        one("missing_data", "data_quality", star, _OUTLET_SUMS, "missing", "logger_h",
            "printf('数据缺失 %.0f%%（数采仪在线时应有 %d 个小时值，缺失或不完整 %d 个）', {share}, logger_h, missing)",
            "json_object('values_missing', missing, 'values_expected', logger_h)", "logger_hours"),
    ]  # fmt: skip


def _indicator_reasons(rules: RiskRules) -> list[str]:
    """Reasons from the daily indicator rows (runs and hour counts), summed over the period."""

    def one(code: str, category: str, metric: str, text: str, numbers: str, min_h: int = 0) -> str:
        sql = _REASON.format(who="mn, uk", code=code, category=category, scope="outlet", pollutant="pollutant_code",
                             points=_points(rules, code, metric), text=text, numbers=numbers, source="_score_indsum")  # fmt: skip
        return f"{sql} WHERE indicator = '{code}' AND h >= {min_h}"

    runs = "json_object('hours', h, 'longest_run_h', longest)"
    return [
        one("flatline", "fraud", "h", "printf('%s 数值连续 %d 小时恒定（设施运行中），期间共 %d 小时', nm, longest, h)", runs),
        one("zero_run", "fraud", "h", "printf('%s 流量大于 0 时连续 %d 小时为零值，期间共 %d 小时', nm, longest, h)", runs),
        one("zs_inconsistent", "fraud", "h", "printf('%s 折算浓度与实测浓度、氧含量不一致 %d 小时', nm, h)",
            "json_object('hours', h)", int(rules.indicator("zs_inconsistent")["min_hours"])),
        one("silence", "data_quality", "longest",
            "printf('数采仪中断传输，最长连续 %d 小时无数据（期间共 %d 小时）', longest, h)", runs),
        one("unpermitted_discharge", "permit", "h", "printf('无有效排污许可期间仍在排放 %d 小时', h)",
            "json_object('hours', h)", int(rules.indicator("unpermitted_discharge")["min_hours"])),
    ]  # fmt: skip


def _status_reasons(rules: RiskRules) -> list[str]:
    """Flat points: the permit status at the end of the period, the credit level, an unregistered MN."""
    permit_pts = " ".join(f"WHEN {lit([k])} THEN {v!r}" for k, v in rules.permit_points.items())
    credit_pts = " ".join(f"WHEN {lit([k])} THEN {v!r}" for k, v in rules.credit_points.items())
    no, since = "coalesce(permit_no, '?')", "coalesce(permit_status_since::VARCHAR, '?')"
    permit_text = f"""CASE permit_status
        WHEN 'revoked' THEN printf('排污许可证 %s 已撤销（%s 起）', {no}, {since})
        WHEN 'cancelled' THEN printf('排污许可证 %s 已注销（%s 起）', {no}, {since})
        WHEN 'expired' THEN printf('排污许可证 %s 已过期（%s 起）', {no}, {since})
        WHEN 'not_yet_valid' THEN printf('排污许可证 %s 尚未生效', {no})
        WHEN 'outlet_not_permitted' THEN printf('排放口 %s 未列入排污许可证 %s', coalesce(outlet_code, '?'), {no})
        ELSE '无排污许可证' END"""
    star = f"'{schema.LOGGER_LEVEL}'"
    return [
        f"""SELECT mn, uk, 'permit_' || permit_status, 'permit',
                   CASE WHEN permit_status = 'outlet_not_permitted' THEN 'outlet' ELSE 'enterprise' END, {star},
                   CASE permit_status {permit_pts} ELSE 0 END, {permit_text},
                   json_object('permit_status', permit_status, 'permit_no', permit_no, 'since', permit_status_since)
            FROM _score_outlets WHERE permit_status NOT IN ('in_force', 'unknown')""",
        f"""SELECT o.mn, o.uk, 'credit_' || c.level, 'credit', 'enterprise', {star}, CASE c.level {credit_pts} ELSE 0 END,
                   printf('企业环境信用评价 %d 年度为%s（%s）', c.year, c.colour_zh, c.label),
                   json_object('credit_level', c.level, 'year', c.year)
            FROM _score_outlets o JOIN _score_credit c ON c.uscc = o.uscc""",
        f"""SELECT mn, uk, 'mn_unregistered', 'identity', 'outlet', {star}, {_points(rules, "mn_unregistered", "1")},
                   'MN 未在监控点位主数据中登记，无法关联企业、排放口和许可证', json_object('mn', mn)
            FROM _score_outlets WHERE identity_status = 'mn_unregistered'""",
    ]


def _reasons_sql(rules: RiskRules) -> str:
    """Every reason of every outlet: (mn, uk, code, category, scope, pollutant_code, points, text, numbers)."""
    parts = [
        _exceedance_reason(rules),
        *_share_reasons(rules),
        *_indicator_reasons(rules),
        *_status_reasons(rules),
    ]
    return "\nUNION ALL\n".join(parts)


# points summed exactly: a float sum's last bits depend on the order DuckDB's threads add them in, and
# equal scores would then rank by that noise instead of by key
def _sum_points(points: str, where: str | None = None) -> str:
    only = f" FILTER (WHERE {where})" if where else ""
    return f"sum({exact_decimal(points)}){only}::DOUBLE"


def _outlet_sql(rules: RiskRules, start: dt.date, end: dt.date) -> str:
    top = rules.top_reasons
    cat = "coalesce(" + _sum_points("r.points", "r.category = '{c}'") + ", 0)"
    near_min = int(rules.indicator("near_limit")["min_hours"])  # fewer judged hours: no share to speak of
    return f"""
    WITH figures AS (
        SELECT mn, uk, sum(exc_h) AS exc_h, max(max_mult) AS max_mult,
               max(100.0 * near / nullif(judged, 0)) FILTER (WHERE NOT auxiliary AND judged >= {near_min}) AS near_pct,
               100.0 * sum(abnormal) / nullif(sum(present), 0) AS abnormal_pct,
               100.0 * sum(manual) / nullif(sum(present), 0) AS manual_pct,
               100.0 * sum(missing) / nullif(sum(logger_h), 0) AS missing_pct
        FROM _score_pol GROUP BY mn, uk
    ), days AS (
        SELECT * FROM _score_days
    ), ind AS (
        SELECT mn, uk, sum(h) FILTER (WHERE indicator = 'flatline') AS flat_h,
               sum(h) FILTER (WHERE indicator = 'zero_run') AS zero_h,
               sum(h) FILTER (WHERE indicator = 'zs_inconsistent') AS zs_h,
               max(longest) FILTER (WHERE indicator = 'silence') AS silence_h,
               sum(h) FILTER (WHERE indicator = 'unpermitted_discharge') AS unpermitted_h
        FROM _score_indsum GROUP BY ALL
    ), agg AS (
        SELECT o.mn, o.uk, coalesce({_sum_points("r.points")}, 0) AS score,
               {cat.format(c="exceedance")} AS exceedance_points, {cat.format(c="fraud")} AS fraud_points,
               {cat.format(c="data_quality")} AS data_quality_points, {cat.format(c="permit")} AS permit_points,
               {cat.format(c="credit")} AS credit_points, {cat.format(c="identity")} AS identity_points,
               coalesce({_sum_points("r.points", "r.category = 'permit' AND r.scope = 'enterprise'")}, 0)
                   AS enterprise_permit_points,  -- not an outlet column: the enterprise counts these once
               coalesce(array_to_string(list(r.text ORDER BY r.points DESC, r.code, r.pollutant_code)[1:{top}], '；'), '') AS top_reasons,
               coalesce(string_agg(r.code, ',' ORDER BY r.points DESC, r.code, r.pollutant_code), '') AS reason_codes,
               coalesce(to_json(list({{'code': r.code, 'category': r.category, 'pollutant': r.pollutant_code,
                                       'points': r.points::DOUBLE, 'text': r.text, 'numbers': r.numbers}}
                                     ORDER BY r.points DESC, r.code, r.pollutant_code)
                                FILTER (WHERE r.code IS NOT NULL))::VARCHAR, '[]') AS reasons_json
        FROM _score_outlets o LEFT JOIN _score_reasons r USING (mn, uk)
        GROUP BY o.mn, o.uk
    )
    SELECT DATE '{end.isoformat()}' AS date, DATE '{start.isoformat()}' AS period_start,
           DATE '{end.isoformat()}' AS period_end, {(end - start).days + 1} AS period_days,
           coalesce(o.uscc, '未登记') || '/' || coalesce(o.outlet_code, '-') || '/' || o.mn AS outlet_key,
           row_number() OVER (ORDER BY a.score DESC, o.mn, o.uk) AS rank, o.*, a.* EXCLUDE (mn, uk),
           coalesce(f.exc_h, 0) AS exceedance_hours, coalesce(dd.exc_days, 0) AS exceedance_days,
           f.max_mult AS max_exceedance_multiple, coalesce(i.flat_h, 0) AS flatline_hours,
           coalesce(i.zero_h, 0) AS zero_run_hours, f.near_pct AS near_limit_share_pct,
           coalesce(i.zs_h, 0) AS zs_inconsistent_hours, f.abnormal_pct AS abnormal_share_pct,
           f.manual_pct AS manual_share_pct, f.missing_pct AS missing_share_pct,
           coalesce(i.silence_h, 0) AS silence_longest_h, coalesce(i.unpermitted_h, 0) AS unpermitted_hours,
           c.level AS credit_level, c.year AS credit_year
    FROM _score_outlets o JOIN agg a USING (mn, uk)
    LEFT JOIN figures f USING (mn, uk) LEFT JOIN days dd USING (mn, uk) LEFT JOIN ind i USING (mn, uk)
    LEFT JOIN _score_credit c ON c.uscc = o.uscc
    ORDER BY rank
    """


def _enterprise_sql(rules: RiskRules) -> str:
    f, top = rules.other_outlets_factor, rules.top_reasons
    cats = ("exceedance", "fraud", "data_quality", "permit", "credit")

    # an outlet's points an enterprise counts once, not per outlet: credit, and its permit's status
    once = "credit_points + enterprise_permit_points"

    # the best outlet: the highest score without the points counted once; of equal ones the first by
    # key, the same outlet for every category (arg_max alone picks any of equals, category by category)
    best_of = f"(-(score - ({once})), outlet_key)"
    category = "coalesce(" + _sum_points("points", "category = '{c}'") + ", 0) AS {c}_points"
    # a reason's contribution to the enterprise's score: its outlet's points on the best outlet, and
    # of the enterprise's own reasons (credit, its permit's status: once); other_outlets_factor × them
    # on its other outlets — the points shown times the weight, rounded as every reason is, so the
    # page's "4.64 (0.25 × 18.54)" checks out
    weighted = schema.product_rounded_sql("weight", "outlet_points", "score")

    return f"""
    WITH ent AS (
        SELECT uscc, any_value(date) AS date, any_value(period_start) AS period_start,
               any_value(period_end) AS period_end, any_value(period_days) AS period_days,
               arg_min(enterprise_name, {best_of}) AS enterprise_name, arg_min(region_code, {best_of}) AS region_code,
               arg_min(industry_code, {best_of}) AS industry_code, count(*) AS outlets,
               count(*) FILTER (WHERE score > 0) AS outlets_with_reasons,
               arg_min(outlet_key, {best_of}) AS top_outlet_key, arg_min(mn, {best_of}) AS top_mn,
               arg_max(permit_status, list_position({_PERMIT_SEVERITY[::-1]!r}, permit_status)) AS permit_status,
               any_value(credit_level) AS credit_level, any_value(credit_year) AS credit_year
        FROM _score_outlet_rows WHERE uscc IS NOT NULL GROUP BY uscc
    ), reasons AS (
        SELECT o.uscc, r.code, r.category, r.pollutant_code, r.points,
               CASE WHEN r.scope = 'enterprise' THEN r.text ELSE printf('%s：%s', coalesce(o.outlet_code, o.mn), r.text) END AS text,
               r.numbers, CASE WHEN r.scope = 'enterprise' THEN NULL ELSE o.outlet_code END AS outlet_code,
               CASE WHEN r.scope = 'enterprise' THEN NULL ELSE o.mn END AS mn
        FROM _score_outlet_rows o JOIN _score_reasons r ON r.mn = o.mn AND r.uk = coalesce(o.uscc, '')
        WHERE o.uscc IS NOT NULL
    ), distinct_reasons AS (  -- an enterprise-wide reason (credit, the permit) once; others per logger
        SELECT uscc, code, category, pollutant_code, outlet_code, mn, max(points) AS outlet_points,
               arg_max(text, points) AS text, arg_max(numbers, points) AS numbers
        FROM reasons GROUP BY uscc, code, category, pollutant_code, outlet_code, mn,
                              CASE WHEN mn IS NULL THEN text END
    ), contributions AS (
        SELECT *, {weighted}::DOUBLE AS points FROM (
            SELECT d.*, CASE WHEN d.mn IS NULL OR d.mn = e.top_mn THEN 1.0 ELSE {f!r} END AS weight
            FROM distinct_reasons d JOIN ent e USING (uscc)
        )
    ), counted AS (
        SELECT * FROM contributions WHERE points > 0
    ), sums AS (
        SELECT uscc, {", ".join(category.format(c=c) for c in cats)}, {_sum_points("points")} AS score
        FROM counted GROUP BY uscc
    ), listed AS (  -- of equal reasons, two loggers on one outlet by MN (a hash join's order otherwise)
        SELECT uscc,
               array_to_string(list(text ORDER BY points DESC, code, outlet_code, pollutant_code, mn)[1:{top}], '；') AS top_reasons,
               string_agg(DISTINCT code, ',') AS codes,
               to_json(list({{'code': code, 'category': category, 'outlet_code': outlet_code, 'mn': mn,
                              'pollutant': pollutant_code, 'points': points, 'weight': weight,
                              'outlet_points': outlet_points, 'text': text,
                              'numbers': numbers}} ORDER BY points DESC, code, outlet_code, pollutant_code, mn))::VARCHAR AS reasons_json
        FROM counted GROUP BY uscc
    )
    SELECT e.* EXCLUDE (top_mn), {", ".join(f"coalesce(s.{c}_points, 0) AS {c}_points" for c in cats)},
           coalesce(s.score, 0) AS score, row_number() OVER (ORDER BY coalesce(s.score, 0) DESC, e.uscc) AS rank,
           coalesce(l.top_reasons, '') AS top_reasons, coalesce(l.codes, '') AS reason_codes,
           coalesce(l.reasons_json, '[]') AS reasons_json
    FROM ent e LEFT JOIN sums s USING (uscc) LEFT JOIN listed l USING (uscc)
    ORDER BY rank
    """


def score_period(
    con: duckdb.DuckDBPyConnection,
    start: dt.date,
    end: dt.date,
    rules: RiskRules,
    *,
    region: str | None = None,
    industry: str | None = None,
    pollutant: str | None = None,
) -> PeriodScores:
    """Outlet and enterprise scores of Beijing days [start, end], optionally for one region
    (GB/T 2260 code: a province, prefecture or county), industry (GB/T 4754 code prefix) or
    pollutant (HJ 212 code: its reasons, plus those about the whole logger, the permit and credit)."""
    if end < start:
        raise ValueError(f"empty period {start}..{end}")
    temps = ("_score_days", "_score_outlets", "_score_pol", "_score_indsum", "_score_credit",
             "_score_reasons", "_score_outlet_rows")  # fmt: skip
    try:
        _base(con, (start, end), _filters(start, end, region, industry), pollutant, rules)
        _credit(con, end)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _score_reasons AS SELECT * FROM ({_reasons_sql(rules)}) WHERE points > 0"
        )
        # a reason's points as they are shown (the declared decimals), which every score adds up
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _score_reasons AS SELECT * REPLACE "
            f"({schema.rounded_sql('points', 'score')}::DOUBLE AS points) FROM _score_reasons; "
            "DELETE FROM _score_reasons WHERE points = 0"
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE _score_outlet_rows AS {_outlet_sql(rules, start, end)}")
        outlets = to_table(
            con.sql("SELECT * FROM _score_outlet_rows").select(*schema.outlet_scores.column_names),
            schema.outlet_scores,
        )
        enterprises = to_table(
            con.sql(_enterprise_sql(rules)).select(*schema.enterprise_scores.column_names),
            schema.enterprise_scores,
        )
        return PeriodScores(outlets, enterprises)
    finally:
        for name in temps:
            con.execute(f"DROP TABLE IF EXISTS {name}")
