"""A risk report for sharing: CSV and XLSX with Chinese headers (English ones on request: the web
app's download from an English page), JSON for machines.

The XLSX workbook has four sheets: 说明 (what the workbook holds: the period, the filters, how many
are ranked, and what of the period has no risk data — the sheet it opens on), 排名 (the ranked
outlets), 企业排名 (the ranked enterprises, as the web page lists them) and 证据 (the evidence rows of
the ranked outlets, the runs' start and end as Beijing times and a range limit's lower bound beside
its upper one; past Excel's 1,048,576 rows a sheet they go on in 证据 2, 证据 3, …), written row by
row in openpyxl's write-only mode. CSV holds the outlet ranking. Cells are written as
ecocloud/spreadsheet.py writes them: text never becomes a formula, a control character XLSX cannot
hold shows as U+FFFD.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from typing import Any

from ecocloud.risk_report import RiskReport, region_label
from ecocloud.spreadsheet import csv_text, saved, sheets, workbook
from schemas import risk as schema

__all__ = [
    "ENTERPRISE_COLUMNS",
    "EVIDENCE_COLUMNS",
    "RANKING_COLUMNS",
    "to_csv",
    "to_json",
    "to_xlsx",
]

NOTES_SHEET, RANKING_SHEET, ENTERPRISE_SHEET, EVIDENCE_SHEET = "说明", "排名", "企业排名", "证据"

# (key, column width in the workbook) of each column: a key is a risk field (``schemas.risk``), whose
# declared heading (schemas.risk.heading) the sheets and the CSV show
Columns = tuple[tuple[str, int], ...]

# (column of mart_risk__outlet_scores, width)
RANKING_COLUMNS: Columns = (
    ("rank", 6),
    ("score", 9),
    ("enterprise_name", 28),
    ("uscc", 21),
    ("outlet_code", 10),
    ("point_name", 20),
    ("mn", 26),
    ("region_code", 14),
    ("industry_code", 9),
    ("top_reasons", 80),
    ("exceedance_points", 9),
    ("fraud_points", 9),
    ("data_quality_points", 9),
    ("permit_points", 9),
    ("credit_points", 9),
    ("identity_points", 9),
    ("exceedance_hours", 9),
    ("exceedance_days", 9),
    ("max_exceedance_multiple", 9),
    ("flatline_hours", 9),
    ("zero_run_hours", 9),
    ("near_limit_share_pct", 9),
    ("zs_inconsistent_hours", 9),
    ("abnormal_share_pct", 9),
    ("manual_share_pct", 9),
    ("missing_share_pct", 9),
    ("silence_longest_h", 9),
    ("unpermitted_hours", 9),
    ("permit_status", 12),
    ("permit_no", 24),
    ("credit_level", 8),
    ("credit_year", 8),
    ("period_start", 11),
    ("period_end", 11),
    ("outlet_key", 40),
)
# (column of mart_risk__enterprise_scores, width): the web page's enterprise table
ENTERPRISE_COLUMNS: Columns = (
    ("rank", 6),
    ("score", 9),
    ("enterprise_name", 28),
    ("uscc", 21),
    ("industry_code", 9),
    ("region_code", 14),
    ("outlets_with_reasons", 10),
    ("outlets", 9),
    ("top_reasons", 80),
)
# (key of an evidence row, width)
EVIDENCE_COLUMNS: Columns = (
    ("rank", 6),
    ("enterprise_name", 28),
    ("uscc", 21),
    ("outlet_code", 10),
    ("mn", 26),
    ("category", 14),
    ("indicator", 12),
    ("date", 11),
    ("pollutant_code", 10),
    ("pollutant_name", 10),
    ("hours", 8),
    ("max_exceedance_multiple", 9),
    ("limit_lower", 9),
    ("limit_value", 9),
    ("limit_unit", 9),
    ("limit_source", 10),
    ("run_start_at", 17),
    ("run_end_at", 17),
    ("evidence", 90),
    ("outlet_key", 40),
)
_ENGLISH_SHEETS = {
    NOTES_SHEET: "Notes",
    RANKING_SHEET: "Ranking",
    ENTERPRISE_SHEET: "Enterprises",
    EVIDENCE_SHEET: "Evidence",
}
# the Excel number format of the sheets' dates and times (Beijing wall time: the headings say so)
_NUMBER_FORMATS = {
    "date": "yyyy-mm-dd",
    "period_start": "yyyy-mm-dd",
    "period_end": "yyyy-mm-dd",
    "run_start_at": "yyyy-mm-dd hh:mm",
    "run_end_at": "yyyy-mm-dd hh:mm",
}
# the columns holding codes of the registry, shown by their labels
_CODED = {
    "permit_status": schema.PERMIT_STATUSES,
    "credit_level": schema.CREDIT_LEVELS,
    "category": schema.REASON_CATEGORIES,
    "indicator": schema.INDICATORS,
    "limit_source": schema.LIMIT_SOURCES,
}
# regulatory numbers shown as the permit states them: a mercury limit of 0.0005 mg/L rounded to two
# places would read 0.0
_UNROUNDED = frozenset({"limit_value", "limit_lower"})


def _display(key: str, value: Any) -> Any:
    """A cell's value for people: codes in Chinese, points rounded; an instant stays one (a
    spreadsheet cell holds it as Beijing wall time, ecocloud.spreadsheet)."""
    if value is None:
        return None
    codes = _CODED.get(key)
    if codes is not None:
        return codes.label(value)
    if key == "region_code":
        return region_label(value)
    if isinstance(value, float) and key not in _UNROUNDED:
        # the field's declared decimals; a number whose field declares none is shown as it is, every
        # digit, rather than at a guess (tests/unit/test_risk_report.py checks that every float
        # column of the sheets declares them)
        return value if key not in schema.DECIMALS else schema.rounded(value, key)
    return value


def _table(rows: Iterable[dict[str, Any]], columns: Columns) -> Iterator[list[Any]]:
    """The rows as displayed, one at a time (the evidence can run to millions of rows)."""
    for row in rows:
        yield [_display(key, row.get(key)) for key, _ in columns]


def _headers(columns: Columns, lang: str) -> list[str]:
    """The columns' headings in ``lang`` (Chinese by default, as the CLI writes them; English for an
    English page's download): the same key is the same heading on every sheet."""
    return [schema.heading(key, lang) for key, _ in columns]


def to_csv(report: RiskReport, *, enterprises: bool = False) -> str:
    """The outlet ranking (``enterprises``: the enterprise ranking) with Chinese headers."""
    columns, rows = (
        (ENTERPRISE_COLUMNS, report.enterprises) if enterprises else (RANKING_COLUMNS, report.outlets)
    )
    return csv_text(_headers(columns, "zh"), _table(rows, columns))


def _sheet(wb: Any, title: str, columns: Columns, rows: Iterable[list[Any]], lang: str) -> None:
    title = _ENGLISH_SHEETS[title] if lang == "en" else title
    widths = [width for _, width in columns]
    formats = {i: _NUMBER_FORMATS[key] for i, (key, _) in enumerate(columns) if key in _NUMBER_FORMATS}
    sheets(wb, title, list(zip(_headers(columns, lang), widths, strict=True)), rows, number_formats=formats)


def notes(report: RiskReport, lang: str = "zh") -> list[tuple[str, str]]:
    """What the workbook holds, (item, text) in ``lang``: the period, the filters, how many of how
    many are ranked, the days with risk data, and what of the period has none (the web list's and
    the CLI's notes: days before the first or after the newest day with marts, today not over)."""
    p, f = report.period, report.filters
    en = lang == "en"
    chosen = [
        (("区划", "region"), region_label(f.region, lang) if f.region else None),
        (("行业", "industry"), f.industry),
        (("污染物", "pollutant"), f.pollutant),
    ]
    filters = [f"{names[en]} {value}" for names, value in chosen if value]
    outlets, enterprises = len(report.outlets), len(report.enterprises)
    coverage = [en_note if en else zh_note for zh_note, en_note in p.coverage_notes()]
    if en:
        rows = [
            ("Report", f"Pollution-source risk ranking, {p.start} to {p.end}"),
            ("Period", f"{p.start} to {p.end} ({p.days} day{'' if p.days == 1 else 's'}, Beijing dates)"),
            ("Filters", "; ".join(filters) or "none"),
            (
                "Ranked",
                f"the first {outlets} of {report.outlets_total} outlets; "
                f"the first {enterprises} of {report.enterprises_total} enterprises",
            ),
            ("Risk data", f"{p.oldest or '…'} to {p.newest}"),
        ]
        return rows + [("Note", note) for note in coverage]
    rows = [
        ("报告", f"污染源风险排名 {p.start} 至 {p.end}"),
        ("时段", f"{p.start} 至 {p.end}（{p.days} 天，北京时间）"),
        ("筛选", "；".join(filters) or "无"),
        (
            "排名",
            f"排放口前 {outlets} 名（共 {report.outlets_total} 个）；企业前 {enterprises} 名（共 {report.enterprises_total} 家）",
        ),
        ("风险数据", f"{p.oldest or '…'} 至 {p.newest}"),
    ]
    return rows + [("注意", note) for note in coverage]


def to_xlsx(report: RiskReport, lang: str = "zh") -> bytes:
    """Four sheets: 说明 (the notes: period, filters, what of it has no risk data), 排名 (the outlet
    ranking), 企业排名 (the enterprise ranking) and 证据 (the evidence rows, continued in 证据 2, … past
    Excel's row limit), Chinese headers; ``lang`` "en": the sheets, headers and notes in English
    (Notes, Ranking, Enterprises, Evidence), the other cells as in Chinese."""
    p = report.period
    wb = workbook(f"污染源风险排名 {p.start} 至 {p.end}", _filters_text(report))
    note_headings = ("Item", "Text") if lang == "en" else ("项目", "内容")
    title = _ENGLISH_SHEETS[NOTES_SHEET] if lang == "en" else NOTES_SHEET
    sheets(wb, title, list(zip(note_headings, (12, 100), strict=True)), notes(report, lang))
    _sheet(wb, RANKING_SHEET, RANKING_COLUMNS, _table(report.outlets, RANKING_COLUMNS), lang)
    _sheet(wb, ENTERPRISE_SHEET, ENTERPRISE_COLUMNS, _table(report.enterprises, ENTERPRISE_COLUMNS), lang)
    _sheet(wb, EVIDENCE_SHEET, EVIDENCE_COLUMNS, _table(report.evidence, EVIDENCE_COLUMNS), lang)
    return saved(wb)


def _filters_text(report: RiskReport) -> str:
    f = report.filters
    parts = [f"时段 {report.period.start} 至 {report.period.end}（{report.period.days} 天）"]
    if f.region:
        parts.append(f"区划 {region_label(f.region)}")
    if f.industry:
        parts.append(f"行业 {f.industry}")
    if f.pollutant:
        parts.append(f"污染物 {f.pollutant}")
    parts.append(f"前 {len(report.outlets)} 名（共 {report.outlets_total} 个排放口）")
    parts += [zh for zh, _ in report.period.coverage_notes()]
    return "；".join(parts)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(report: RiskReport) -> str:
    """Everything, with the registry's column names and codes: the period, the filters, the ranked
    outlets and enterprises (``mart_risk__outlet_scores`` / ``__enterprise_scores`` rows) and the
    evidence rows."""
    f, p = report.filters, report.period
    doc = {
        "period": {
            "start": p.start,
            "end": p.end,
            "days": p.days,
            "newest_day": p.newest,
            "oldest_day": p.oldest,
            "notes": [en for _, en in p.coverage_notes()],
        },
        "filters": {"region": f.region, "industry": f.industry, "pollutant": f.pollutant, "top": f.top},
        "outlets_total": report.outlets_total,
        "enterprises_total": report.enterprises_total,
        "outlets": report.outlets,
        "enterprises": report.enterprises,
        "evidence": report.evidence,
    }
    return json.dumps(doc, ensure_ascii=False, default=_jsonable, indent=1)
