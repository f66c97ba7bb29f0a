"""Overview pages: city air-quality ranking, a station's hourly AQI, basin water quality by month,
key dischargers' disclosed daily monitoring results, ingestion health per source. Charts are Plotly figures built here and drawn by /static/charts.js."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from starlette.responses import Response

from ecocloud.web import access, queries
from ecocloud.web.access import Role
from ecocloud.web.deps import Viewer, bj, render, require, settings_of, viewer
from schemas.air import AQI_CATEGORIES
from schemas.air import QUARANTINE_REASONS as AIR_QUARANTINE_REASONS
from schemas.air import quarantine as air_quarantine
from schemas.clock import BEIJING
from schemas.gb3838_standard import CLASS_LABELS, QUALITY_LABELS_EN
from schemas.hj212_codes import POLLUTANTS
from schemas.registry import Codes, get_table
from schemas.source import QUARANTINE_REASONS
from schemas.source import quarantine as source_quarantine

router = APIRouter(prefix="/overview")

# HJ 633 category colours (DOMAIN.md §2)
AQI_COLOURS = {
    "优": "rgb(0,228,0)",
    "良": "rgb(255,255,0)",
    "轻度污染": "rgb(255,126,0)",
    "中度污染": "rgb(255,0,0)",
    "重度污染": "rgb(153,0,76)",
    "严重污染": "rgb(126,0,35)",
}
MAX_DAYS = 31
StationCode = Annotated[str, Path(pattern=r"^[0-9A-Za-z]{1,16}$", description="national station code")]


def _needs_data(v: Viewer, *tables: str) -> None:
    for name in tables:
        if not access.can_see_data(v.role, get_table(name).sharing):
            raise HTTPException(403, v.t("无权查看该数据", "you may not see this data"))


def figure_json(data: list[dict[str, Any]], layout: dict[str, Any]) -> str:
    """A Plotly figure as JSON for a non-executable <script type="application/json"> block."""
    base = {"margin": {"l": 60, "r": 20, "t": 40, "b": 50}, "font": {"family": "system-ui, sans-serif"}}
    text = json.dumps({"data": data, "layout": base | layout}, ensure_ascii=False, default=str)
    # no '<' at all: '</script' would close the element, and '<!--' then '<script' in upstream text
    # (a station's name) would make the HTML parser swallow the rest of the page into it
    return text.replace("<", "\\u003c")


_DAY_MS = 86_400_000
# Plotly names months and days in English ("Nov 20"); a Chinese page's time axis in Chinese instead,
# coarser as the ticks grow apart (dtick in milliseconds, "M1" a month). A range includes both its
# ends and the first that matches wins: the coarsest first, so that ticks a day apart show the day
_CHINESE_TICKS = [
    {"dtickrange": ["M12", None], "value": "%Y年"},
    {"dtickrange": ["M1", "M12"], "value": "%Y年%-m月"},
    {"dtickrange": [_DAY_MS, "M1"], "value": "%-m月%-d日"},
    {"dtickrange": [None, _DAY_MS], "value": "%H:%M<br>%-m月%-d日"},
]


def time_axis(v: Viewer) -> dict[str, Any]:
    """An x axis of Beijing times, its ticks in the page's language."""
    axis: dict[str, Any] = {"type": "date", "title": {"text": v.t("北京时间", "Beijing time")}}
    if v.lang != "en":
        axis["tickformatstops"] = _CHINESE_TICKS
    return axis


def unranked_reason(row: dict[str, Any], t: Callable[[str, str], str]) -> str:
    """Why a city has no rank: the indicators no station of it has a valid daily statistic for."""
    return t(
        f"无排名：缺少有效的 {row['missing_indicators']}", f"not ranked: no valid {row['missing_indicators']}"
    )


def ranking_chart(
    ranking: list[dict[str, Any]], day: dt.date | None, t: Callable[[str, str], str], lang: str = "zh"
) -> str:
    """Ranked cities as bars in rank order; after them the unranked ones (AQI unknown: an indicator
    without a valid statistic), each with no bar and its reason, so they are neither hidden nor
    drawn as good air. Categories in ``lang``."""
    categories = AQI_CATEGORIES.in_language(lang)
    ranked = [r for r in ranking if r["rank"] is not None]
    unranked = [r for r in ranking if r["rank"] is None]
    bar = {"type": "bar", "orientation": "h", "showlegend": False}
    return figure_json(
        [
            bar
            | {
                "name": t("已排名", "ranked"),
                "y": [r["city"] for r in ranked],
                "x": [r["aqi"] for r in ranked],
                "text": [
                    f"{categories.get(r['aqi_category'] or '', r['aqi_category'] or '')} {r['primary_pollutants'] or ''}".strip()
                    for r in ranked
                ],
                "marker": {
                    "color": [AQI_COLOURS.get(r["aqi_category"], "#888") for r in ranked],
                    "line": {"color": "rgba(0,0,0,0.3)", "width": 1},
                },
                "hovertemplate": "%{y}: AQI %{x}<br>%{text}<extra></extra>",
            },
            bar
            | {
                "name": t("无排名", "not ranked"),
                "y": [r["city"] for r in unranked],
                "x": [0] * len(unranked),
                "text": [unranked_reason(r, t) for r in unranked],
                "textposition": "outside",
                "marker": {"color": "#888"},
                "hovertemplate": "%{y}: %{text}<extra></extra>",
            },
        ],
        {
            "title": {
                "text": t(f"{day} 城市空气质量指数排名（1 = 最好）", f"City AQI ranking, {day} (1 = best)")
            },
            "yaxis": {
                "autorange": "reversed",
                "automargin": True,
                "categoryorder": "array",
                "categoryarray": [r["city"] for r in ranked + unranked],
            },
            "xaxis": {"title": {"text": "AQI"}, "rangemode": "tozero"},
            "height": max(320, 28 * len(ranking) + 120),
        },
    )


def _offered(dates: list[dt.date], day: dt.date | None) -> list[dt.date]:
    """The days a date list offers: the newest ``SOURCE_DATES``, and the one shown when it is older
    (or the form would send the newest instead)."""
    offered = dates[:SOURCE_DATES]
    return [*offered, day] if day is not None and day not in offered else offered


def under_way(day: dt.date | None, now: dt.datetime | None = None) -> bool:
    """Whether ``day`` (Beijing) is today or later: its rows are rebuilt each hour from its hours so far.
    (Yesterday's last hour, ending 24:00, arrives as hour 0 of today's file, some minutes after
    midnight: until then yesterday's means lack one hour, still over the 20 hours GB 3095 asks for.)"""
    now = now or dt.datetime.now(BEIJING)
    return day is not None and day >= now.astimezone(BEIJING).date()


def shown_day(
    v: Viewer,
    dates: list[dt.date],
    asked: dt.date | None,
    none: tuple[str, str],
    now: dt.datetime | None = None,
) -> dt.date | None:
    """The day a dated page shows (``dates``: the days with rows, newest first): the one asked for
    (404 saying ``none`` when it has none), else the newest complete day — a day under way only when
    asked for, and marked as such (its partial means are not the day's)."""
    if asked is not None:
        if asked not in dates:
            raise HTTPException(404, v.t(*none))
        return asked
    complete = [d for d in dates if not under_way(d, now)]
    return complete[0] if complete else dates[0] if dates else None


@router.get("/air")
def air(request: Request, date: Annotated[dt.date | None, Query()] = None) -> Response:
    v = viewer(request)
    _needs_data(v, "mart_air__city_daily_ranking", "core_air__stations")
    with queries.serving(settings_of(request)) as con:
        dates = queries.ranking_dates(con)
        # (the 20-hour rule makes a day's means valid from about 20:00)
        day = shown_day(v, dates, date, (f"{date} 没有城市排名", f"no city ranking for {date}"))
        ranking = queries.city_ranking(con, day) if day else []
        so_far = queries.last_air_hour(con, day) if day and under_way(day) else None
        stations = queries.air_stations(con)
    chart = ranking_chart(ranking, day, v.t, v.lang)
    return render(
        request,
        "air.html",
        dates=dates,
        day=day,
        ranking=ranking,
        stations=stations,
        chart=chart,
        so_far=so_far,
    )


@router.get("/air/stations/{code}")
def station(
    request: Request,
    code: StationCode,
    start: Annotated[dt.date | None, Query(alias="from")] = None,
    end: Annotated[dt.date | None, Query(alias="to")] = None,
) -> Response:
    v = viewer(request)
    _needs_data(v, "core_air__station_hourly", "core_air__stations")
    with queries.serving(settings_of(request)) as con:
        first, last = queries.station_span(con, code)
        if last is None:
            raise HTTPException(404, v.t(f"站点 {code} 没有小时数据", f"no hourly data for station {code}"))
        end = end or last
        start = start or max(first or end, end - dt.timedelta(days=6))
        if start > end:
            raise HTTPException(400, v.t("起始日期晚于结束日期", "'from' is after 'to'"))
        if (end - start).days >= MAX_DAYS:
            raise HTTPException(400, v.t(f"一次最多 {MAX_DAYS} 天", f"at most {MAX_DAYS} days at a time"))
        hours = queries.station_hours(con, code, start, end)
        info = next((s for s in queries.air_stations(con) if s["station_code"] == code), None)
    times = [bj(h["observed_at"]) for h in hours]
    chart = figure_json(
        [
            {
                "type": "scatter",
                "mode": "lines",
                "name": v.t("AQI（生态云计算）", "AQI (computed)"),
                "x": times,
                "y": [h["aqi"] for h in hours],
                "line": {"color": "#1f5fa8"},
            },
            {
                "type": "scatter",
                "mode": "markers",
                "name": v.t("AQI（发布值）", "AQI (published)"),
                "x": times,
                "y": [h["aqi_published"] for h in hours],
                "marker": {"color": "#d9822b", "size": 4},
            },
        ],
        {
            "title": {"text": v.t(f"站点 {code} 小时 AQI", f"Station {code}, hourly AQI")},
            "xaxis": time_axis(v),
            "yaxis": {"title": {"text": "AQI"}, "rangemode": "tozero"},
            "height": 420,
            "legend": {"orientation": "h"},
        },
    )
    return render(
        request,
        "station.html",
        code=code,
        info=info,
        start=start,
        end=end,
        hours=hours,
        times=times,
        chart=chart,
        first=first,
        last=last,
    )


@router.get("/water")
def water(request: Request, basin: Annotated[str | None, Query(max_length=60)] = None) -> Response:
    v = viewer(request)
    _needs_data(v, "mart_water__basin_monthly")
    with queries.serving(settings_of(request)) as con:
        names = queries.basins(con)
        if basin is not None and basin not in names:
            raise HTTPException(404, v.t(f"没有流域“{basin}”", f"no basin {basin!r}"))
        months = queries.basin_months(con, basin)
    charts = []
    for name in [basin] if basin else names:
        rows = [m for m in months if m["basin"] == name]
        x = [m["month"].strftime("%Y-%m") for m in rows]
        series = (
            (v.t("Ⅰ–Ⅲ类", "I–III"), "sections_i_iii", "#2e9e44"),
            (v.t("Ⅳ–Ⅴ类", "IV–V"), "sections_iv_v", "#f0b429"),
            (v.t("劣Ⅴ类", "worse than V"), "sections_worse_v", "#b3261e"),
        )
        # of the sections whose class lacks no item, as the table's shares (the others may be better
        # than the water is; the table says how many)
        complete = [m["sections"] - m["sections_incomplete"] for m in rows]
        data = [
            {
                "type": "bar",
                "name": label,
                "x": x,
                "y": [round(100 * m[key] / n, 1) if n else None for m, n in zip(rows, complete, strict=True)],
                "marker": {"color": colour},
                "hovertemplate": "%{x}: %{y}%<extra>" + label + "</extra>",
            }
            for label, key, colour in series
        ]
        layout = {
            "title": {
                "text": v.t(
                    f"{name} 断面水质类别占比（按月，定类项目齐全的断面）",
                    f"{name}: share of sections by class, monthly (sections classed on every item)",
                )
            },
            "barmode": "stack",
            "yaxis": {"title": {"text": "%"}, "range": [0, 100]},
            "xaxis": {"type": "category"},
            "height": 300,
            "legend": {"orientation": "h"},
        }
        charts.append((name, figure_json(data, layout)))
    return render(
        request,
        "water.html",
        basins=names,
        basin=basin,
        months=months,
        charts=charts,
        class_labels=CLASS_LABELS,
        quality_en=QUALITY_LABELS_EN,
    )


SOURCE_ROWS = 500  # a province's day is ~50,000 rows: the page shows the first, the filter narrows
SOURCE_DATES = 92  # days offered in the date list (older ones still open by ?date=)


@router.get("/sources")
def sources(
    request: Request,
    date: Annotated[dt.date | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    exceeded: Annotated[bool, Query()] = False,
) -> Response:
    """Key dischargers' daily online-monitoring results, as disclosed to the public (no MNs)."""
    v = viewer(request)
    _needs_data(v, "mart_source__disclosure_daily")
    with queries.serving(settings_of(request)) as con:
        dates = queries.disclosure_dates(con)
        day = shown_day(v, dates, date, (f"{date} 没有公开数据", f"no disclosed results for {date}"))
        rows, total = queries.disclosure_rows(con, day, q, exceeded, SOURCE_ROWS) if day else ([], 0)
    names = {code: v.t(p.name_zh, p.name) for code, p in POLLUTANTS.items()}
    # in English the short name (SO2, COD) fits the column; its full name on hover
    titles = {code: p.full_name for code, p in POLLUTANTS.items() if v.lang == "en" and p.full_name != p.name}
    return render(
        request, "sources.html", dates=_offered(dates, day), day=day, under_way=under_way(day),
        q=q or "", exceeded=exceeded, rows=rows, total=total, pollutant_names=names,
        pollutant_titles=titles,
    )  # fmt: skip


@router.get("/ingestion")
def ingestion(request: Request) -> Response:
    """Per source: freshness, gate results and quarantine, from the catalog and the ledger (staff)."""
    require(request, Role.ANALYST)
    with queries.serving(settings_of(request)) as con:
        sources = queries.ingestion_health(con)
        builds = queries.build_health(con)
        stuck = queries.units_not_published(con)
        reasons = queries.quarantine_reasons(con)
        failed = queries.failed_landings(con)
    lang = viewer(request).lang
    for rows in reasons.values():
        for row in rows:
            codes = REASON_LABELS.get(row["table_name"])
            row["label"] = codes.in_language(lang).get(row["reason"]) if codes else None
    return render(
        request, "ingestion.html", sources=sources, builds=builds, stuck=stuck, reasons=reasons, failed=failed
    )


# the quarantine tables whose reasons are codes the registry labels (the others' are free text)
REASON_LABELS: dict[str, Codes] = {
    source_quarantine.name: QUARANTINE_REASONS,
    air_quarantine.name: AIR_QUARANTINE_REASONS,
}
