"""``ecocloud risk``: risk-ranked pollution sources for enforcement (ecocloud/risk_report.py), as a
table in the terminal or CSV / XLSX / JSON for sharing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from ecocloud.cli_output import output_format, write_output
from ecocloud.risk_export import to_csv, to_json, to_xlsx
from ecocloud.risk_report import (
    DEFAULT_TOP,
    MAX_TOP,
    FilterError,
    NoRiskMarts,
    RiskFilters,
    RiskReport,
    open_report,
    region_label,
)
from ecocloud.settings import get_settings
from ecocloud.spreadsheet import csv_bytes
from ecocloud.terminal import cli_console
from schemas.risk import fixed
from transforms.risk import RulesError

console = cli_console()
err = cli_console(stderr=True)


def risk(
    region: Annotated[
        str | None,
        typer.Option(help="GB/T 2260 region code: 360000 (province), 360100 (prefecture), 360102 (county)"),
    ] = None,
    industry: Annotated[
        str | None, typer.Option(help="GB/T 4754 industry code prefix, e.g. D44 (power), D4620, C26")
    ] = None,
    pollutant: Annotated[
        str | None, typer.Option(help="HJ 212 pollutant code, e.g. w01018 (COD), a21026 (SO2)")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="first day YYYY-MM-DD (default: the 30 days ending on --to)")
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="last day YYYY-MM-DD (default: the newest day with daily risk marts)"),
    ] = None,
    top: Annotated[
        int, typer.Option(help=f"how many outlets (and enterprises), 1 to {MAX_TOP:,}")
    ] = DEFAULT_TOP,
    enterprises: Annotated[
        bool,
        typer.Option(
            "--enterprises",
            help="table and csv: the enterprise ranking instead of the outlets' (json and xlsx hold both)",
        ),
    ] = False,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="table | csv | xlsx | json (default: table, or the --out file's suffix; for Excel take xlsx: "
            "Excel reads a CSV's all-digit USCCs and MNs as numbers and keeps 15 of their digits)",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="write to this file (needed for xlsx; csv and json go to stdout without it or with -)",
        ),
    ] = None,
) -> None:
    """Rank outlets by risk over a period, with the evidence: exceedances, data-fraud and data-quality
    findings, permit status, credit. Exit 2 on a bad filter, 1 when no risk marts are built yet."""
    fmt, out = output_format(fmt, out)
    try:
        filters = RiskFilters.parse(
            region=region, industry=industry, pollutant=pollutant, start=start, end=end, top=top
        )
        report = open_report(get_settings(), filters)
    except (FilterError, RulesError) as exc:
        _fail(2, str(exc))
    except NoRiskMarts as exc:
        _fail(1, f"{exc} (home {get_settings().home.absolute()})")
    if fmt == "table":
        if enterprises:
            _print_enterprises(report)
        else:
            _print_table(report)
        return
    if fmt == "xlsx":
        data, summary = (
            to_xlsx(report),
            f"{len(report.outlets)} outlets, {len(report.evidence)} evidence rows",
        )
    else:
        text = to_csv(report, enterprises=enterprises) if fmt == "csv" else to_json(report) + "\n"
        if out is None:
            sys.stdout.write(text)
            return
        shown = (
            f"{len(report.enterprises)} enterprises"
            if enterprises and fmt == "csv"
            else f"{len(report.outlets)} outlets"
        )
        data, summary = (csv_bytes(text) if fmt == "csv" else text.encode("utf-8"), shown)
    assert out is not None
    write_output(out, data, "--out")
    err.print(f"{summary} → {out}", markup=False)


def _fail(code: int, message: str) -> NoReturn:
    err.print(f"[red]{escape(message)}")
    raise typer.Exit(code)


def _say_coverage(report: RiskReport) -> None:
    for zh, en in report.period.coverage_notes():
        console.print(f"[yellow]注意：{escape(zh)} ({escape(en)})")


def _title(report: RiskReport, what: str) -> str:
    p, f = report.period, report.filters
    scope = [f"区划 {region_label(f.region)}" if f.region else "", f"行业 {f.industry}" if f.industry else "",
             f"污染物 {f.pollutant}" if f.pollutant else ""]  # fmt: skip
    return f"{what} {p.start} 至 {p.end}（{p.days} 天）" + "".join(f" · {s}" for s in scope if s)


def _print_ranked(report: RiskReport, table: RichTable, ranked: bool, what_zh: str, what_en: str) -> None:
    """A ranking's table, what of its period has no data, and why it is empty where it is."""
    console.print(table)
    _say_coverage(report)
    if not ranked:
        zh, en = report.period.nothing_ranked(what_zh, what_en)
        console.print(f"{zh} ({en})", markup=False)


def _print_enterprises(report: RiskReport) -> None:
    table = RichTable(title=escape(_title(report, "企业风险排名")), show_lines=True)
    for name, justify in (("排名", "right"), ("得分", "right"), ("企业", "left"), ("区划", "left"),
                          ("有原因的排放口", "right"), ("主要原因", "left")):  # fmt: skip
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for e in report.enterprises:
        table.add_row(
            str(e["rank"]),
            fixed(e["score"], "score"),
            escape(e["enterprise_name"] or e["uscc"]) + f"\n[dim]{escape(e['uscc'])}",
            escape(region_label(e["region_code"])),
            f"{e['outlets_with_reasons']}/{e['outlets']}",
            escape(e["top_reasons"] or "无"),
        )
    _print_ranked(report, table, bool(report.enterprises), "企业", "enterprise")
    console.print(f"前 {len(report.enterprises)} 家，共 {report.enterprises_total} 家企业")


def _print_table(report: RiskReport) -> None:
    table = RichTable(title=escape(_title(report, "污染源风险排名")), show_lines=True)
    table.add_column("排名", justify="right")
    table.add_column("得分", justify="right")
    table.add_column("企业", overflow="fold", ratio=2)
    table.add_column("排放口", overflow="fold", ratio=2)
    table.add_column("区划", overflow="fold", ratio=1)
    table.add_column("主要原因", overflow="fold", ratio=4)
    for o in report.outlets:
        table.add_row(
            str(o["rank"]),
            fixed(o["score"], "score"),
            escape(o["enterprise_name"] or "未登记") + f"\n[dim]{escape(o['uscc'] or '')}",
            escape(o["outlet_code"] or "-") + f"\n[dim]MN {escape(o['mn'])}",
            escape(region_label(o["region_code"])),
            escape(o["top_reasons"] or "无"),
        )
    _print_ranked(report, table, bool(report.outlets), "排放口", "outlet")
    console.print(
        f"前 {len(report.outlets)} 名，共 {report.outlets_total} 个排放口、{report.enterprises_total} 家企业；"
        f"证据 {len(report.evidence)} 条（--format xlsx --out FILE 导出排名与证据）"
    )
