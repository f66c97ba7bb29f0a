"""Risk-ranked pollution sources with their evidence: what ``ecocloud risk`` prints and exports and
what the web app's enforcement pages show (no Airflow here; the CLI and the web share it).

Given filters — a region (GB/T 2260), an industry (GB/T 4754 code prefix), a pollutant (HJ 212
code), a period (default: the last 30 days ending on the newest day with daily risk marts) and a
top N — :func:`build_report` ranks outlets and enterprises with :func:`transforms.risk.score_period`
over the serving database's views (a read-only connection; the views read the lake's daily marts of
the period only), then gathers the evidence of the ranked outlets: their exceedance days, what the
indicators found (with the marts' Chinese evidence text), and each outlet's identity, permit status
and credit. Every value that comes from a user is bound as a query parameter; the filters are
validated first (:meth:`RiskFilters.parse` raises :class:`FilterError` naming the filter).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ecocloud.settings import Settings
from schemas import risk as schema
from schemas.clock import BEIJING
from schemas.hj212_codes import CODE_2005_TO_2017, POLLUTANTS
from schemas.region_codes import (
    PREFECTURE_NAMES,
    PREFECTURE_NAMES_EN,
    PROVINCE_CODES,
    PROVINCE_NAMES,
    PROVINCE_NAMES_EN,
)
from transforms.identifiers import is_region_code, prefecture_code
from transforms.risk import RiskRules, load_rules, score_period
from transforms.risk.indicators import ENGLISH_NAMES_SQL, names_sql
from transforms.risk.sql import lit

__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_TOP",
    "MAX_PERIOD_DAYS",
    "MAX_TOP",
    "FilterError",
    "NoRiskMarts",
    "Period",
    "Ranking",
    "RiskFilters",
    "RiskReport",
    "build_report",
    "evidence",
    "mart_days",
    "open_report",
    "pollutant_name",
    "rank",
    "region_label",
    "report_of",
    "resolve_period",
    "serving",
]

DEFAULT_DAYS = 30
DEFAULT_TOP = 50
MAX_TOP = 10_000
MAX_PERIOD_DAYS = 366  # a year of daily marts ranks in seconds (BENCHMARKS.md, "Risk marts")
DAILY_MART = schema.exceedance_daily.name

# GB/T 4754-2017: a section letter A–T, then a division (2 digits), group (3) or class (4).
_INDUSTRY = re.compile(r"^[A-T](\d{2,4})?$")
# HJ 212-2017 pollution-source codes: a (air) or w (water) and five digits.
_POLLUTANT = re.compile(r"^[aw]\d{5}$")


class FilterError(ValueError):
    """A filter value is not valid; ``field`` names the filter (region, industry, pollutant, from, to,
    top); ``zh`` says it in Chinese (the web pages' language)."""

    def __init__(self, field: str, message: str, zh: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.zh = zh


class NoRiskMarts(LookupError):
    """Nothing to rank: the daily risk marts have not been built in this home (``no_home``: not even a
    serving database is there: perhaps the wrong home)."""

    def __init__(self, no_home: bool = False) -> None:
        super().__init__(
            "no serving database in this home: is ECOCLOUD_HOME set (by default ./.ecocloud of the current "
            "folder)? An ingest or `ecocloud demo` makes one"
            if no_home
            else "no daily risk marts yet: build them with `ecocloud run risk` "
            "(after the pollution-source, permit, credit and master data are ingested)"
        )


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _region(value: str | None) -> str | None:
    if _blank(value):
        return None
    code = str(value).strip()
    if not is_region_code(code):
        raise FilterError(
            "region",
            f"{code!r} is not a GB/T 2260 region code: six digits, e.g. 360000 (province), "
            "360100 (prefecture), 360102 (county)",
            f"行政区划 {code!r} 不是 GB/T 2260 代码：应为六位数字，如 360000（省）、360100（市）、360102（县）",
        )
    if code[:2] not in PROVINCE_CODES:
        raise FilterError(
            "region",
            f"{code!r}: no province has the code {code[:2]}0000 (GB/T 2260)",
            f"行政区划 {code!r}：没有代码为 {code[:2]}0000 的省级行政区（GB/T 2260）",
        )
    return code


def _industry(value: str | None) -> str | None:
    if _blank(value):
        return None
    code = str(value).strip().upper()
    if not _INDUSTRY.match(code):
        raise FilterError(
            "industry",
            f"{str(value).strip()!r} is not a GB/T 4754 code prefix: a section letter A–T, optionally "
            "followed by 2–4 digits, e.g. D44, D4411, C26",
            f"行业 {str(value).strip()!r} 不是 GB/T 4754 代码前缀：门类字母 A–T，可再跟 2–4 位数字，如 D44、D4411、C26",
        )
    return code


def _pollutant(value: str | None) -> str | None:
    if _blank(value):
        return None
    code = str(value).strip()
    code = CODE_2005_TO_2017.get(code, code)  # an HJ/T 212-2005 code stands for its 2017 code
    if not _POLLUTANT.match(code):
        raise FilterError(
            "pollutant",
            f"{str(value).strip()!r} is not an HJ 212 pollutant code: e.g. w01018 (COD), w21003 (NH3-N), "
            "a21026 (SO2), a21002 (NOx), a34013 (particulates), or a 2005 code such as 011",
            f"污染物 {str(value).strip()!r} 不是 HJ 212 污染物代码：如 w01018（化学需氧量）、w21003（氨氮）、"
            "a21026（二氧化硫）、a21002（氮氧化物）、a34013（颗粒物），或 2005 版代码如 011",
        )
    return code


_FIELD_ZH = {"from": "起始日", "to": "截止日"}


def _date(name: str, value: str | dt.date | None) -> dt.date | None:
    if _blank(value):
        return None
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise FilterError(
            name,
            f"{text!r} is not a date: YYYY-MM-DD expected",
            f"{_FIELD_ZH[name]} {text!r} 不是日期：应为 YYYY-MM-DD",
        ) from None


def _top(value: str | int | None) -> int:
    if _blank(value):
        return DEFAULT_TOP
    try:
        n = value if isinstance(value, int) and not isinstance(value, bool) else int(str(value).strip())
    except ValueError:
        n = None
    if n is None or not 1 <= n <= MAX_TOP:
        raise FilterError(
            "top",
            f"{value!r}: a whole number from 1 to {MAX_TOP:,} expected",
            f"前 {value!r} 名：应为 1 到 {MAX_TOP} 的整数",
        )
    return n


@dataclass(frozen=True)
class RiskFilters:
    """Validated filters of a ranking (``None``: no filter / the default)."""

    region: str | None = None
    industry: str | None = None
    pollutant: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    top: int = DEFAULT_TOP

    @classmethod
    def parse(
        cls,
        *,
        region: str | None = None,
        industry: str | None = None,
        pollutant: str | None = None,
        start: str | dt.date | None = None,
        end: str | dt.date | None = None,
        top: str | int | None = None,
    ) -> RiskFilters:
        """Filters from user input (text or typed; blank means unset), or :class:`FilterError`."""
        f = cls(
            region=_region(region),
            industry=_industry(industry),
            pollutant=_pollutant(pollutant),
            start=_date("from", start),
            end=_date("to", end),
            top=_top(top),
        )
        if f.start and f.end and f.start > f.end:
            raise FilterError(
                "from",
                f"{f.start} is after to ({f.end}): from ≤ to expected",
                f"起始日 {f.start} 晚于截止日 {f.end}",
            )
        return f

    def query(self, **override: object) -> dict[str, str]:
        """These filters as query parameters (web links), with ``override`` applied."""
        values: dict[str, object] = {
            "region": self.region,
            "industry": self.industry,
            "pollutant": self.pollutant,
            "from": self.start,
            "to": self.end,
            "top": self.top if self.top != DEFAULT_TOP else None,
        }
        values.update(override)
        return {k: str(v) for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date
    newest: dt.date  # the newest day with daily risk marts
    oldest: dt.date | None = None  # the oldest day with them

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def without_data(self) -> bool:
        """No day of it has risk marts: an empty ranking says so, not that no outlet matched."""
        return self.start > self.newest or (self.oldest is not None and self.end < self.oldest)

    def nothing_ranked(self, what_zh: str, what_en: str) -> tuple[str, str]:
        """Why a ranking of it lists no ``what`` (Chinese, English)."""
        if self.without_data:
            since = f"{self.oldest} 至 " if self.oldest else "截至 "
            since_en = f"{self.oldest} to " if self.oldest else "up to "
            return (
                f"本时段没有风险数据（风险数据为 {since}{self.newest}）",
                f"no risk data in this period (the risk data covers {since_en}{self.newest})",
            )
        return f"没有符合条件的{what_zh}", f"no {what_en} matches these filters"

    def coverage_notes(self, today: dt.date | None = None) -> list[tuple[str, str]]:
        """What of the period the marts do not cover, (Chinese, English) each: a ranking of "30 days"
        over three hours of data says so. ``today``: the Beijing date now, unless given."""
        today = today or dt.datetime.now(BEIJING).date()
        notes: list[tuple[str, str]] = []
        if self.oldest is not None and self.start < self.oldest:
            notes.append((f"{self.oldest} 之前没有风险数据", f"no risk data before {self.oldest}"))
        if self.end > self.newest:
            notes.append((f"{self.newest} 之后没有风险数据", f"no risk data after {self.newest}"))
        if self.start <= today <= self.end and self.newest == today:
            notes.append((f"{today} 当日尚未结束", f"{today} is not over yet"))
        return notes


@dataclass(frozen=True)
class Ranking:
    """Every ranked outlet and enterprise of a period (rows of ``mart_risk__outlet_scores`` and
    ``mart_risk__enterprise_scores``, rank order)."""

    period: Period
    outlets: pa.Table
    enterprises: pa.Table


@dataclass(frozen=True)
class RiskReport:
    """The top ``filters.top`` outlets and enterprises with the evidence of those outlets."""

    filters: RiskFilters
    period: Period
    outlets: list[dict[str, Any]]
    enterprises: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    outlets_total: int
    enterprises_total: int
    rules: RiskRules = field(repr=False, compare=False)
    outlets_scored: int = 0  # of outlets_total, those with a score above 0 (a reason to inspect)
    enterprises_scored: int = 0


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@contextmanager
def serving(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the serving database; :class:`NoRiskMarts` when there is none."""
    try:
        con = settings.connect_serving(zone="UTC")
    except FileNotFoundError:
        raise NoRiskMarts(no_home=True) from None
    try:
        yield con
    finally:
        con.close()


def mart_days(con: duckdb.DuckDBPyConnection) -> tuple[dt.date | None, dt.date | None]:
    """The oldest and the newest Beijing day with daily risk marts (None: none built yet)."""
    ((oldest, newest),) = con.execute(f'SELECT min(date), max(date) FROM "{DAILY_MART}"').fetchall()
    return oldest, newest


def resolve_period(con: duckdb.DuckDBPyConnection, filters: RiskFilters) -> Period:
    """The period the filters ask for: ``from``–``to``, each defaulting so that the period is the
    last :data:`DEFAULT_DAYS` days ending on ``to``, or on the newest day with daily risk marts."""
    oldest, newest = mart_days(con)
    if newest is None:
        raise NoRiskMarts()
    if filters.end is not None:
        end = filters.end
    elif filters.start is not None and filters.start > newest:
        raise FilterError(
            "from",
            f"{filters.start} is after the newest day with risk marts ({newest})",
            f"起始日 {filters.start} 晚于有风险数据的最新一天（{newest}）",
        )
    else:
        end = newest
    start = filters.start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    period = Period(start, end, newest, oldest)
    if period.days > MAX_PERIOD_DAYS:
        raise FilterError(
            "from",
            f"{start}–{end} is {period.days} days: at most {MAX_PERIOD_DAYS} days at a time",
            f"{start} 至 {end} 共 {period.days} 天：一次最多 {MAX_PERIOD_DAYS} 天",
        )
    return period


def rank(con: duckdb.DuckDBPyConnection, period: Period, filters: RiskFilters, rules: RiskRules) -> Ranking:
    """Every outlet and enterprise of the period ranked by ``score_period`` (region, industry and
    pollutant filters applied there; the top N is the caller's cut)."""
    scores = score_period(
        con,
        period.start,
        period.end,
        rules,
        region=filters.region,
        industry=filters.industry,
        pollutant=filters.pollutant,
    )
    return Ranking(period, scores.outlets, scores.enterprises)


@dataclass(frozen=True)
class _ExceedanceWords:
    """An exceedance day's sentence in one language: printf templates taking the same values."""

    name: str  # the pollutant name's column (n: Chinese, ne: English)
    hours: str  # name, hours over, hours judged, the multiple, longest run, the day's mean
    hours_one_judged: str  # the same of a day with one hour judged (English: "hour", not "hours")
    multiple: str
    mean_over: str
    mean_only: str  # a limit on the day's mean (GB 18918): name, the mean, hours judged
    mean_only_one_judged: str  # the same of one hour judged
    mean_ratio: str
    limit: str  # the limit or range, its unit, whose limit, the standard
    default: str
    permit: str


_MULTIPLE = schema.printf_format("max_exceedance_multiple")  # the largest multiple, as pages show it
_MEAN_RATIO = schema.printf_format("daily_mean_ratio")  # the day's mean / the limit
_EXCEEDANCE_WORDS = {
    "zh": _ExceedanceWords(
        "n.name",
        "%s 超标 %d 小时（判定 %d 小时）%s，最长连续 %d 小时%s",
        "%s 超标 %d 小时（判定 %d 小时）%s，最长连续 %d 小时%s",
        f"，最大超标倍数 {_MULTIPLE} 倍",
        "，日均值 %s 超标",
        "%s 日均值 %s 超标（判定 %d 小时）",
        "%s 日均值 %s 超标（判定 %d 小时）",
        f"（限值的 {_MEAN_RATIO} 倍）",
        "；限值 %s%s（%s%s）",
        "国家默认限值",
        "许可证 ",
    ),
    "en": _ExceedanceWords(
        "ne.name",
        "%s over the limit in %d of %d judged hours%s, longest run %d h%s",
        "%s over the limit in %d of %d judged hour%s, longest run %d h%s",
        f", at most {_MULTIPLE} times over",
        ", the day's mean %s over it",
        "%s: the day's mean %s over the limit (%d hours judged)",
        "%s: the day's mean %s over the limit (%d hour judged)",
        f" ({_MEAN_RATIO} times the limit)",
        "; limit %s%s (%s%s)",
        "national default",
        "permit ",
    ),
}


def _exceedance_sentence(lang: str) -> str:
    """The SQL of an exceedance day's evidence sentence in ``lang``, from the daily mart's row ``d``."""
    w = _EXCEEDANCE_WORDS[lang]
    name = f"coalesce({w.name}, d.pollutant_code)"
    # a day's mean rounded, with its ratio to the limit (what is judged: a mean just over the limit
    # reads "50.00 (1.000 times the limit)", not "50"); ranges (pH) have no ratio
    mean = (
        f"printf('{schema.printf_format('daily_mean_value')}', d.daily_mean_value)"
        f" || coalesce(printf({lit([w.mean_ratio])}, d.daily_mean_ratio), '')"
    )
    return f"""CASE WHEN d.hours_exceeded > 0 THEN
           printf(CASE WHEN d.hours_judged = 1 THEN {lit([w.hours_one_judged])} ELSE {lit([w.hours])} END,
                  {name}, d.hours_exceeded, d.hours_judged,
                  -- a range (pH 6–9) has no multiple
                  coalesce(printf({lit([w.multiple])}, d.max_exceedance_multiple), ''),
                  coalesce(d.longest_exceedance_run_h, 0),
                  CASE WHEN d.day_mean_exceeded THEN printf({lit([w.mean_over])}, {mean}) ELSE '' END)
       ELSE  -- a limit on the day's mean (GB 18918): no hour exceeds it
           printf(CASE WHEN d.daily_mean_hours = 1 THEN {lit([w.mean_only_one_judged])} ELSE {lit([w.mean_only])} END,
                  {name}, {mean}, d.daily_mean_hours)
       END || printf({lit([w.limit])},
              CASE WHEN d.limit_lower IS NOT NULL THEN printf('%g–%g', d.limit_lower, d.limit_value)
                   ELSE coalesce(printf('%g', d.limit_value), '-') END,
              -- a dimensionless range (pH: "-") has no unit to print
              CASE WHEN coalesce(d.limit_unit, '-') IN ('-', '1') THEN '' ELSE ' ' || d.limit_unit END,
              CASE d.limit_source WHEN 'default' THEN {lit([w.default])}
                   ELSE {lit([w.permit])} || coalesce(d.permit_no, '') END,
              coalesce(' ' || d.limit_standard, ''))"""


_EVIDENCE_SQL = """
WITH r AS (
    SELECT rank, outlet_key, mn, uscc, coalesce(uscc, '') AS uk, enterprise_name, outlet_code,
           string_split(reason_codes, ',') AS codes
    FROM _risk_ranked
), names AS ({names}), names_en AS ({names_en})
SELECT r.rank, r.outlet_key, r.mn, r.uscc, r.enterprise_name, r.outlet_code,
       'exceedance' AS category, NULL::VARCHAR AS indicator, d.date, d.pollutant_code,
       coalesce(n.name, d.pollutant_code) AS pollutant_name,
       CASE WHEN d.hours_exceeded > 0 THEN d.hours_exceeded::INTEGER END AS hours,  -- none: the day's mean
       d.max_exceedance_multiple, d.limit_value, d.limit_lower, d.limit_unit, d.limit_source,
       NULL::TIMESTAMPTZ AS run_start_at, NULL::TIMESTAMPTZ AS run_end_at,
       {evidence} AS evidence,
       {evidence_en} AS evidence_en  -- English pages: the same values
FROM "mart_source__exceedance_daily" d
JOIN r ON r.mn = d.mn AND r.uk = coalesce(d.uscc, '')
LEFT JOIN names n ON n.code = d.pollutant_code
LEFT JOIN names_en ne ON ne.code = d.pollutant_code
WHERE d.date BETWEEN $start AND $end AND (d.hours_exceeded > 0 OR d.day_mean_exceeded)
  AND ($pollutant IS NULL OR d.pollutant_code = $pollutant)
-- a day a registry edit split has one mean per outlet: said once (by its last part), not once per part
QUALIFY d.hours_exceeded > 0 OR row_number() OVER (
    PARTITION BY d.mn, r.uk, d.outlet_code, d.date, d.pollutant_code, d.hours_exceeded > 0
    ORDER BY d.identity_from_at DESC) = 1
UNION ALL
SELECT r.rank, r.outlet_key, r.mn, r.uscc, r.enterprise_name, r.outlet_code,
       i.category, i.indicator, i.date, i.pollutant_code,
       CASE WHEN i.pollutant_code = $logger THEN '全部' ELSE coalesce(n.name, i.pollutant_code) END,
       i.hours_flagged::INTEGER, NULL, NULL, NULL, NULL, NULL, i.run_start_at, i.run_end_at, i.evidence,
       i.evidence_en
FROM "mart_risk__indicators" i
JOIN r ON r.mn = i.mn AND r.uk = coalesce(i.uscc, '')
LEFT JOIN names n ON n.code = i.pollutant_code
WHERE i.date BETWEEN $start AND $end AND (i.triggered OR list_contains(r.codes, i.indicator))
  AND ($pollutant IS NULL OR i.pollutant_code IN ($pollutant, $logger))
ORDER BY rank, date, category, pollutant_code, indicator NULLS FIRST
"""


def _identity_text(o: dict[str, Any], lang: str) -> str:
    """What an outlet is, under which permit and credit, in ``lang`` (names as registered)."""
    status, level = o["permit_status"], o.get("credit_level")
    permit = schema.PERMIT_STATUSES.in_language(lang).get(status, status) if status else "-"
    point = o.get("point_name")
    if lang == "en":
        credit = (
            f"{schema.CREDIT_LEVELS.in_language('en')[level]} ({o['credit_year']})" if level else "no rating"
        )
        who = (
            f"{o['enterprise_name'] or '(name unknown)'} ({o['uscc']})"
            if o["uscc"]
            else "unregistered (MN not in the monitoring-point registry)"
        )
        return (
            f"MN {o['mn']}: {who}, outlet {o['outlet_code'] or '-'}{f' ({point})' if point else ''}, "
            f"region {region_label(o['region_code'], 'en')}, industry {o['industry_code'] or '-'}; "
            f"discharge permit {o['permit_no'] or 'none'}: {permit}; credit rating: {credit}"
        )
    credit = f"{o['credit_year']} 年度{schema.CREDIT_LEVELS.label(level)}" if level else "无评价记录"
    who = (
        f"{o['enterprise_name'] or '（名称未知）'}（{o['uscc']}）"
        if o["uscc"]
        else "未登记（MN 不在监控点位主数据中）"
    )
    return (
        f"MN {o['mn']}：{who}，排放口 {o['outlet_code'] or '-'}{f'（{point}）' if point else ''}，"
        f"区划 {region_label(o['region_code'])}，行业 {o['industry_code'] or '-'}；"
        f"排污许可证 {o['permit_no'] or '无'}：{permit}；信用评价：{credit}"
    )


def _identity_row(o: dict[str, Any]) -> dict[str, Any]:
    """What an outlet is, under which permit and credit (from its ranked row)."""
    return {
        "rank": o["rank"],
        "outlet_key": o["outlet_key"],
        "mn": o["mn"],
        "uscc": o["uscc"],
        "enterprise_name": o["enterprise_name"],
        "outlet_code": o["outlet_code"],
        "category": "identity",
        "indicator": None,
        "date": o["period_end"],
        "pollutant_code": schema.LOGGER_LEVEL,
        "pollutant_name": "全部",
        "hours": None,
        "max_exceedance_multiple": None,
        "limit_value": None,
        "limit_lower": None,
        "limit_unit": None,
        "limit_source": None,
        "run_start_at": None,
        "run_end_at": None,
        "evidence": _identity_text(o, "zh"),
        "evidence_en": _identity_text(o, "en"),
    }


def evidence(
    con: duckdb.DuckDBPyConnection,
    outlets: pa.Table,
    period: Period,
    rules: RiskRules,
    pollutant: str | None = None,
) -> list[dict[str, Any]]:
    """The evidence of ``outlets`` (rows of ``mart_risk__outlet_scores``) over the period, outlet by
    outlet in rank order: its identity, permit status and credit; each day with an hour over the
    limit, or its mean over a limit on the day's mean (per pollutant); each indicator finding that triggered on its own or counts towards one of
    the outlet's reasons, with the mart's evidence text. ``pollutant``: that pollutant's rows and
    those about the whole logger."""
    if outlets.num_rows == 0:
        return []
    ranked = outlets.select(
        ["rank", "outlet_key", "mn", "uscc", "enterprise_name", "outlet_code", "reason_codes"]
    )
    con.register("_risk_ranked", ranked)
    try:
        found = _dicts(
            con.execute(
                _EVIDENCE_SQL.format(
                    names=names_sql(rules),
                    names_en=ENGLISH_NAMES_SQL,
                    evidence=_exceedance_sentence("zh"),
                    evidence_en=_exceedance_sentence("en"),
                ),
                {
                    "start": period.start,
                    "end": period.end,
                    "pollutant": pollutant,
                    "logger": schema.LOGGER_LEVEL,
                },
            )
        )
    finally:
        con.unregister("_risk_ranked")
    by_rank: dict[int, list[dict[str, Any]]] = {}
    for row in found:
        by_rank.setdefault(row["rank"], []).append(row)
    out = []
    for o in outlets.to_pylist():
        out.append(_identity_row(o))
        out.extend(by_rank.get(o["rank"], []))
    return out


def build_report(con: duckdb.DuckDBPyConnection, filters: RiskFilters, rules: RiskRules) -> RiskReport:
    """Rank, cut to the top N and gather the evidence of the ranked outlets."""
    period = resolve_period(con, filters)
    return report_of(con, rank(con, period, filters, rules), filters, rules)


def report_of(
    con: duckdb.DuckDBPyConnection,
    ranking: Ranking,
    filters: RiskFilters,
    rules: RiskRules,
    *,
    with_evidence: bool = True,
) -> RiskReport:
    """The top ``filters.top`` of a ranking with the evidence of its outlets (none without
    ``with_evidence``: a page that shows only the rankings need not gather it — a year of a province's
    evidence is millions of rows)."""
    top_outlets = ranking.outlets.slice(0, filters.top)
    return RiskReport(
        filters=filters,
        period=ranking.period,
        outlets=top_outlets.to_pylist(),
        enterprises=ranking.enterprises.slice(0, filters.top).to_pylist(),
        evidence=evidence(con, top_outlets, ranking.period, rules, filters.pollutant)
        if with_evidence
        else [],
        outlets_total=ranking.outlets.num_rows,
        enterprises_total=ranking.enterprises.num_rows,
        rules=rules,
        outlets_scored=_scored(ranking.outlets),
        enterprises_scored=_scored(ranking.enterprises),
    )


def _scored(ranked: pa.Table) -> int:
    """How many of the ranked rows score above 0."""
    return int(pc.sum(pc.greater(ranked.column("score"), 0)).as_py() or 0)


def open_report(settings: Settings, filters: RiskFilters) -> RiskReport:
    """:func:`build_report` on the serving database of ``settings`` with the rules in force."""
    rules = load_rules(settings.risk_rules)
    with serving(settings) as con:
        return build_report(con, filters, rules)


def region_label(code: str | None, lang: str = "zh") -> str:
    """``360000 江西省`` (a province served), ``360100 南昌`` (the prefecture's name when known),
    ``360102 南昌下辖`` for a county of it (county names are not kept here: "360102 南昌" read as the
    city), the code alone otherwise; in English (``lang`` "en") ``360000 Jiangxi``, ``360100
    Nanchang`` and ``360102 (in Nanchang)``."""
    if not code:
        return "-"
    if len(code) == 6 and code[2:] == "0000":
        province = (PROVINCE_NAMES_EN if lang == "en" else PROVINCE_NAMES).get(code[:2])
        return f"{code} {province}" if province else code
    names = PREFECTURE_NAMES_EN if lang == "en" else PREFECTURE_NAMES
    name = names.get(prefecture_code(code)) if len(code) == 6 else None
    if name and code[4:] != "00" and code[2:] != "0000":
        name = f"(in {name})" if lang == "en" else f"{name}下辖"
    return f"{code} {name}" if name else code


def pollutant_name(code: str, rules: RiskRules, lang: str = "zh") -> str:
    """The display name of a pollutant: the rules' name (the HJ 212 table's unless a province
    renamed it), else the code; in English (``lang`` "en") the HJ 212 table's English name."""
    english = lang == "en"
    if code == schema.LOGGER_LEVEL:
        return "all" if english else "全部"
    p = POLLUTANTS.get(code)
    if english:
        return p.name if p else code
    return rules.names.get(code, code)
