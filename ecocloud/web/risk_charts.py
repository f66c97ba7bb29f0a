"""The evidence chart of one outlet and pollutant: hourly values on the basis the limit judges them
(O2-converted where the limit has an O2 reference; hours with a valid flag, the ones judged), the limit in force as a step line (the lower
bound too for a range such as pH 6–9), exceedance hours as red markers, hours with an abnormal or
manual flag marked, and the runs the indicators flagged shaded with their name. Plotly figures built
here, drawn by /static/charts.js; times on the axis are Beijing wall time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ecocloud.web.deps import Viewer, bj
from ecocloud.web.routes_overview import figure_json, time_axis
from schemas import risk as schema
from schemas.risk import fixed
from schemas.source import FLUE_GAS_VALID_MINUTES
from transforms.risk import RiskRules

_RUN_COLOURS = {
    "fraud": "rgba(179,38,30,0.16)",
    "data_quality": "rgba(240,180,41,0.22)",
    "permit": "rgba(93,132,196,0.18)",
}


def plain(text: object) -> str:
    """Data-derived text for a chart label: Plotly reads a few HTML tags in labels, so no tags."""
    return str(text).replace("<", "‹").replace(">", "›")


def _limit_label(v: Viewer, rows: Sequence[dict[str, Any]]) -> str:
    sources = {r["limit_source"] for r in rows if r["limit_source"]}
    ref = next((r["o2_reference_pct"] for r in rows if r["o2_reference_pct"] is not None), None)
    what = " / ".join(
        v.t("许可证", "permit") if s == "permit" else v.t("国家默认", "national default")
        for s in sorted(sources)
    )
    text = v.t(f"限值（{what}）", f"limit ({what})")
    return text + (v.t(f"，基准氧 {ref:g}%", f", O2 ref. {ref:g} %") if ref is not None else "")


def outlet_chart(
    v: Viewer,
    code: str,
    name: str,
    rows: Sequence[dict[str, Any]],
    exceedances: Sequence[dict[str, Any]],
    runs: Sequence[dict[str, Any]],
    rules: RiskRules,
) -> str:
    """The figure (JSON) of one pollutant: ``rows`` from ``risk_queries.hourly_with_limits``,
    ``exceedances`` from ``exceedance_hours`` and ``runs`` from ``flagged_runs`` (this pollutant's
    and the whole logger's)."""
    x = [bj(r["hour_at"]) for r in rows]
    unit = plain(next((r["unit"] for r in rows if r["unit"]), ""))
    converted = any(r["o2_reference_pct"] is not None for r in rows)
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",  # markers: a valid hour between two gaps has no line to be on
            "marker": {"size": 3},
            "name": v.t("小时均值（折算）", "hourly mean (converted)")
            if converted
            else v.t("小时均值", "hourly mean"),
            "x": x,
            # only hours with a valid flag are judged (transforms.risk.hours): a flagged hour is a gap
            # here, drawn as its measured mean among the flag markers
            "y": [r["judged_value"] if r["flag"] in rules.valid_flags else None for r in rows],
            "line": {"color": "#1f5fa8", "width": 1.6},
            "connectgaps": False,
        }
    ]
    if converted:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": v.t("实测值", "measured"),
                "x": x,
                "y": [r["avg_value"] for r in rows],
                "line": {"color": "#8592a6", "width": 1, "dash": "dot"},
                "connectgaps": False,
            }
        )
    limited = [r for r in rows if r["limit_value"] is not None or r["limit_lower"] is not None]
    if limited:
        data.append(_limit_trace(v, x, rows, "limit_value", _limit_label(v, limited)))
        if any(r["limit_lower"] is not None for r in rows):
            data.append(_limit_trace(v, x, rows, "limit_lower", v.t("限值下限", "lower limit")))
    if exceedances:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": v.t("超标小时", "hours over the limit"),
                "x": [bj(e["hour_at"]) for e in exceedances],
                "y": [e["judged_value"] for e in exceedances],
                "text": [fixed(e["exceedance_multiple"], "exceedance_multiple") for e in exceedances],
                "hovertemplate": "%{x}: %{y}<br>"
                + v.t("超标倍数", "exceedance multiple")
                + " %{text}<extra></extra>",
                "marker": {"color": "#b3261e", "size": 7, "symbol": "circle"},
            }
        )
    flagged = [r for r in rows if r["flag"] not in rules.valid_flags]
    if flagged:
        too_few = v.t(f"不足{FLUE_GAS_VALID_MINUTES}分钟", f"< {FLUE_GAS_VALID_MINUTES} min")
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": v.t("异常/手工标记或分钟数不足", "abnormal / manual flag or too few minutes"),
                "x": [bj(r["hour_at"]) for r in flagged],
                "y": [r["avg_value"] for r in flagged],
                # no flag: a flue-gas hour of too few N minutes for an hourly value (mart_source__hourly)
                "text": [plain(r["flag"]) if r["flag"] else too_few for r in flagged],
                "hovertemplate": "%{x}: %{y} (%{text})<extra></extra>",
                "marker": {"color": "#b26a00", "size": 6, "symbol": "x"},
            }
        )
    mine = [r for r in runs if r["pollutant_code"] in (code, schema.LOGGER_LEVEL)]
    layout = {
        "title": {"text": plain(f"{name} {code}" + (v.t(f"（{unit}）", f" ({unit})") if unit else ""))},
        "xaxis": time_axis(v),
        "yaxis": {"title": {"text": unit}, "rangemode": "tozero"},
        "height": 380,
        "legend": {"orientation": "h", "y": -0.25},
        "shapes": [_run_shape(v, r) for r in mine],
    }
    return figure_json(data, layout)


def _limit_trace(
    v: Viewer, x: list[str], rows: Sequence[dict[str, Any]], key: str, label: str
) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines",
        "name": label,
        "x": x,
        "y": [r[key] for r in rows],
        "line": {"color": "#b3261e", "width": 2, "dash": "dash", "shape": "hv"},
        "connectgaps": False,
        "hovertemplate": "%{x}: " + v.t("限值", "limit") + " %{y}<extra></extra>",
    }


def _run_shape(v: Viewer, run: dict[str, Any]) -> dict[str, Any]:
    label = schema.INDICATORS.in_language(v.lang).get(run["indicator"], run["indicator"])
    return {
        "type": "rect",
        "xref": "x",
        "yref": "paper",
        "x0": bj(run["run_start_at"]),
        "x1": bj(run["run_end_at"] or run["run_start_at"]),
        "y0": 0,
        "y1": 1,
        "fillcolor": _RUN_COLOURS.get(run["category"], "rgba(0,0,0,0.1)"),
        "line": {"width": 0},
        "layer": "below",
        "label": {
            "text": plain(f"{label} {run['run_h']} h"),
            "textposition": "top left",
            "font": {"size": 11},
        },
    }
