"""Enforcement pages (enforcement and admin only; everyone else 403): the risk-ranked list with the
filters of ``ecocloud risk`` and its XLSX download, and the evidence pages of an enterprise (USCC)
and an outlet (MN). Filters are validated by ``RiskFilters.parse`` (a bad value: a 400 page naming
it); every query binds its values.

Ranking a period reads its daily marts (seconds for a province and a year, BENCHMARKS.md); the
ranking of the latest few (period, filters) is kept in memory for the evidence pages and the
download, keyed by the serving file's identity, so a refresh of the serving database is seen at once.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from starlette.responses import Response

from ecocloud.risk_export import to_xlsx
from ecocloud.risk_reasons import evidence_text, reason_text, top_reasons
from ecocloud.risk_report import (
    FilterError,
    NoRiskMarts,
    Period,
    Ranking,
    RiskFilters,
    RiskReport,
    evidence,
    pollutant_name,
    rank,
    region_label,
    report_of,
    resolve_period,
    serving,
)
from ecocloud.settings import Settings
from ecocloud.web import risk_queries as q
from ecocloud.web.access import Role
from ecocloud.web.deps import Viewer, render, require, settings_of
from ecocloud.web.risk_charts import outlet_chart
from schemas import risk as schema
from schemas.source import FLUE_GAS_VALID_MINUTES
from transforms.risk import RiskRules, load_rules

router = APIRouter(prefix="/risk")

Text = Annotated[str | None, Query(max_length=20)]
From = Annotated[str | None, Query(alias="from", max_length=10)]
To = Annotated[str | None, Query(alias="to", max_length=10)]
# any identifier the ranking can hold: an MN the parser only warned about (not 24 hex digits), a USCC
# that fails its checks (flagged, never dropped, so still ranked) — a pattern here made their links 400
Mn = Annotated[str, Path(min_length=1, max_length=64, description="data-logger MN")]
Uscc = Annotated[str, Path(min_length=1, max_length=64, description="unified social credit code, as listed")]
MAX_CHARTS = 8
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _parse(v: Viewer, **raw: Any) -> RiskFilters:
    try:
        return RiskFilters.parse(**raw)
    except FilterError as exc:
        raise HTTPException(400, v.t(exc.zh, str(exc))) from None


# --------------------------------------------------------------------------------- ranking cache
_CACHE: OrderedDict[tuple[Any, ...], Ranking] = OrderedDict()
_CACHE_SIZE = 8
_LOCK = threading.Lock()


def _rules(settings: Settings) -> tuple[RiskRules, str]:
    rules = load_rules(settings.risk_rules)
    return rules, hashlib.sha256(json.dumps(rules.raw, sort_keys=True, default=str).encode()).hexdigest()


FileIdentity = tuple[str, int, int, int]


@contextmanager
def _serving(settings: Settings) -> Iterator[tuple[duckdb.DuckDBPyConnection, FileIdentity | None]]:
    """The serving file opened, with its identity (the rankings' cache key) taken *before* it was
    opened: a refresh swapping the file in between makes the key name the older file — a miss later —
    never the newer file's key holding a ranking of the older one."""
    try:
        st = settings.duckdb_file.stat()
        identity: FileIdentity | None = (str(settings.duckdb_file), st.st_ino, st.st_mtime_ns, st.st_size)
    except FileNotFoundError:
        identity = None  # serving() says why
    with serving(settings) as con:
        yield con, identity


def _ranking(
    con: duckdb.DuckDBPyConnection,
    identity: FileIdentity | None,
    period: Period,
    filters: RiskFilters,
    rules: RiskRules,
    digest: str,
) -> Ranking:
    if identity is None:  # the file appeared after its stat: not cached
        return rank(con, period, filters, rules)
    key = (*identity, digest, period, filters.region, filters.industry, filters.pollutant)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    ranking = rank(con, period, filters, rules)
    with _LOCK:
        _CACHE[key] = ranking
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return ranking


def _period(v: Viewer, con: duckdb.DuckDBPyConnection, filters: RiskFilters) -> Period:
    try:
        return resolve_period(con, filters)
    except FilterError as exc:
        raise HTTPException(400, v.t(exc.zh, str(exc))) from None


def _no_marts(v: Viewer) -> HTTPException:
    return HTTPException(
        404, v.t("尚无风险数据：请先运行 ecocloud run risk", "no risk marts yet: run `ecocloud run risk`")
    )


# ------------------------------------------------------------------------------------- the list
def _listing(
    request: Request,
    region: Text = None,
    industry: Text = None,
    pollutant: Text = None,
    start: From = None,
    end: To = None,
    top: Text = None,
) -> tuple[Viewer, RiskFilters]:
    """The enforcement viewer (checked first) and the list's filters, for the page and its export."""
    v = require(request, Role.ENFORCEMENT)
    return v, _parse(v, region=region, industry=industry, pollutant=pollutant, start=start, end=end, top=top)


Listing = Annotated[tuple[Viewer, RiskFilters], Depends(_listing)]


def _listed(
    v: Viewer, settings: Settings, filters: RiskFilters, rules: RiskRules, digest: str, *, with_evidence: bool
) -> tuple[Period, RiskReport]:
    """The period and the ranked report of ``filters`` (raises NoRiskMarts before the first risk run);
    the evidence only ``with_evidence`` (the download has it, the page shows the rankings alone)."""
    with _serving(settings) as (con, identity):
        period = _period(v, con, filters)
        ranking = _ranking(con, identity, period, filters, rules, digest)
        return period, report_of(con, ranking, filters, rules, with_evidence=with_evidence)


@router.get("")
def ranked_list(request: Request, listing: Listing) -> Response:
    v, filters = listing
    settings = settings_of(request)
    rules, digest = _rules(settings)
    try:
        _, report = _listed(v, settings, filters, rules, digest, with_evidence=False)
    except NoRiskMarts:
        report = None
    coverage = report.period.coverage_notes() if report else []
    return render(
        request, "risk.html", report=report, filters=filters, coverage=coverage, **_helpers(v, rules)
    )


@router.get("/export.xlsx")
def export_xlsx(request: Request, listing: Listing) -> Response:
    """The list as on the page: 排名, 企业排名 and 证据 sheets, their headers in the page's language."""
    v, filters = listing
    settings = settings_of(request)
    rules, digest = _rules(settings)
    try:
        period, report = _listed(v, settings, filters, rules, digest, with_evidence=True)
    except NoRiskMarts:
        raise _no_marts(v) from None
    chosen = [x for x in (filters.region, filters.industry, filters.pollutant) if x]
    name = "-".join(["risk", f"{period.start:%Y%m%d}", f"{period.end:%Y%m%d}", *chosen]) + ".xlsx"
    return Response(
        to_xlsx(report, v.lang),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def _helpers(v: Viewer, rules: RiskRules) -> dict[str, Any]:
    """What every risk page's template uses besides the codes' labels (``labels``, every page has
    them): names in the page's language."""
    return {
        "region_label": lambda code: region_label(code, v.lang),
        "pollutant_name": lambda code: pollutant_name(code, rules, v.lang),
        "reasons": lambda text: json.loads(text or "[]"),
        "reason_text": lambda reason, outlet=None: reason_text(reason, rules, v.lang, outlet),
        "top_reasons": lambda row: top_reasons(row, rules, v.lang),
        "evidence_text": lambda row: evidence_text(row, v.lang),
    }


# ---------------------------------------------------------------------------------- evidence pages
MAX_HOURS_LISTED = (
    500  # an outlet page's hours over a limit, listed (mart_source__exceedance_hourly has them all)
)


def _rows_of(table: pa.Table, column: str, value: str) -> pa.Table:
    return table.filter(pc.equal(table[column], value))


def _charts(
    v: Viewer,
    con: duckdb.DuckDBPyConnection,
    mn: str,
    codes: list[str],
    period: Period,
    rules: RiskRules,
    exceedances: list[dict[str, Any]] | None = None,
) -> list[tuple[str, str, str]]:
    """(chart id, pollutant code, figure JSON) per pollutant of the outlet, in the order given;
    ``exceedances``: its hours over a limit in the period, where the caller has them."""
    hourly = q.hourly_with_limits(con, mn, codes, period.start, period.end, rules)
    if exceedances is None:
        exceedances = q.exceedance_hours(con, mn, period.start, period.end)
    runs = q.flagged_runs(con, mn, period.start, period.end)
    out = []
    for code in codes:
        rows = [r for r in hourly if r["pollutant_code"] == code]
        if not rows:
            continue
        mine = [e for e in exceedances if e["pollutant_code"] == code]
        figure = outlet_chart(v, code, pollutant_name(code, rules, v.lang), rows, mine, runs, rules)
        out.append((f"chart-{mn}-{code}", code, figure))
    return out


def _chart_codes(
    measured: list[dict[str, Any]], found: list[dict[str, Any]], limited: set[str], rules: RiskRules
) -> list[str]:
    """Pollutants worth a chart: those the evidence names first, then those with a limit; with
    neither (an outlet no permit lists, a quiet one), the pollutants it measures — not "nothing to
    draw" above a list of measured items."""
    have = [m["pollutant_code"] for m in measured]
    named = [c for c in dict.fromkeys(e["pollutant_code"] for e in found) if c in have]
    rest = [c for c in have if c in limited and c not in named and c not in rules.auxiliary_codes]
    if not named and not rest:
        rest = [c for c in have if c not in rules.auxiliary_codes]
    return (named + rest)[:MAX_CHARTS]


@router.get("/outlets/{mn}")
def outlet_page(
    request: Request, mn: Mn, start: From = None, end: To = None, pollutant: Text = None
) -> Response:
    """An outlet's evidence: identity, score and reasons, the hourly values of its pollutants with
    the limit in force, exceedances and flagged runs, the permit versions and limits, credit."""
    v = require(request, Role.ENFORCEMENT)
    filters = _parse(v, start=start, end=end, pollutant=pollutant)
    settings = settings_of(request)
    rules, digest = _rules(settings)
    try:
        with _serving(settings) as (con, identity):
            period = _period(v, con, filters)
            identities = q.outlet_identities(con, mn, period.start, period.end)
            if not identities:
                raise HTTPException(
                    404,
                    v.t(
                        f"MN {mn} 在 {period.start} 至 {period.end} 没有数据",
                        f"no data for MN {mn} in {period.start}..{period.end}",
                    ),
                )
            ranking = _ranking(con, identity, period, RiskFilters(pollutant=filters.pollutant), rules, digest)
            scored = _rows_of(ranking.outlets, "mn", mn)
            found = evidence(con, scored, period, rules, filters.pollutant)
            latest = identities[-1]
            uscc = latest["uscc"]
            limits = (
                q.permit_limits(con, uscc, latest["outlet_code"], q.period_end_instant(period.end))
                if uscc
                else []
            )
            measured = q.measured_pollutants(con, mn, period.start, period.end)
            codes = (
                [filters.pollutant]
                if filters.pollutant
                else _chart_codes(
                    measured,
                    [e for e in found if e["pollutant_code"] != schema.LOGGER_LEVEL],
                    {r["pollutant_code"] for r in limits},
                    rules,
                )
            )
            exceedances = q.exceedance_hours(con, mn, period.start, period.end)
            charts = _charts(v, con, mn, codes, period, rules, exceedances)
            # in time order, so that a cut list keeps every pollutant's first hours
            over = sorted(
                (h for h in exceedances if filters.pollutant in (None, h["pollutant_code"])),
                key=lambda h: (h["hour_at"], h["pollutant_code"]),
            )
            permits = q.permit_versions(con, uscc) if uscc else []
            credit = q.credit_history(con, uscc) if uscc else []
    except NoRiskMarts:
        raise _no_marts(v) from None
    return render(
        request,
        "risk_outlet.html",
        mn=mn,
        period=period,
        filters=filters,
        identities=identities,
        latest=latest,
        scores=scored.to_pylist(),
        evidence=[e for e in found if e["category"] != "identity"],
        measured=measured,
        charts=charts,
        over_hours=over[:MAX_HOURS_LISTED],
        over_total=len(over),
        permits=permits,
        limits=limits,
        credit=credit,
        flue_gas_valid_minutes=FLUE_GAS_VALID_MINUTES,  # the charts' legend (HJ 75)
        **_helpers(v, rules),
    )


@router.get("/enterprises/{uscc}")
def enterprise_page(
    request: Request, uscc: Uscc, start: From = None, end: To = None, pollutant: Text = None
) -> Response:
    """An enterprise's evidence: its score and reasons, its outlets with theirs, the charts of the
    pollutants its evidence names, its permit versions and limits, its credit history; ``pollutant``
    scores as the list filtered by it does."""
    v = require(request, Role.ENFORCEMENT)
    filters = _parse(v, start=start, end=end, pollutant=pollutant)
    settings = settings_of(request)
    rules, digest = _rules(settings)
    try:
        with _serving(settings) as (con, identity):
            period = _period(v, con, filters)
            info = q.enterprise(con, uscc)
            outlets = q.enterprise_outlets(con, uscc, period.start, period.end)
            if info is None and not outlets:
                raise HTTPException(
                    404, v.t(f"没有统一社会信用代码为 {uscc} 的企业", f"no enterprise {uscc}")
                )
            ranking = _ranking(con, identity, period, RiskFilters(pollutant=filters.pollutant), rules, digest)
            scored = _rows_of(ranking.outlets, "uscc", uscc)
            found = evidence(con, scored, period, rules, filters.pollutant)
            charts: list[tuple[str, str, str, str]] = []
            for mn in dict.fromkeys(e["mn"] for e in found if e["category"] in ("exceedance", "fraud")):
                codes = [
                    c
                    for c in dict.fromkeys(e["pollutant_code"] for e in found if e["mn"] == mn)
                    if c != schema.LOGGER_LEVEL
                ][: MAX_CHARTS - len(charts)]
                charts += [
                    (cid, code, fig, mn) for cid, code, fig in _charts(v, con, mn, codes, period, rules)
                ]
                if len(charts) >= MAX_CHARTS:
                    break
            permits = q.permit_versions(con, uscc)
            limits = q.permit_limits(con, uscc, None, q.period_end_instant(period.end))
            credit = q.credit_history(con, uscc)
    except NoRiskMarts:
        raise _no_marts(v) from None
    return render(
        request,
        "risk_enterprise.html",
        uscc=uscc,
        info=info,
        period=period,
        filters=filters,
        score=next(iter(_rows_of(ranking.enterprises, "uscc", uscc).to_pylist()), None),
        outlets=outlets,
        outlet_scores={r["mn"]: r for r in scored.to_pylist()},
        evidence=[e for e in found if e["category"] != "identity"],
        charts=charts,
        permits=permits,
        limits=limits,
        credit=credit,
        **_helpers(v, rules),
    )
