"""``ecocloud catalog build | show NAME | export --format dcat|json``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.table import Table as RichTable

from ecocloud.cli_output import check_output, write_output
from ecocloud.settings import get_settings
from ecocloud.terminal import cli_console, plain, rows_table, said
from schemas.registry import Sharing

catalog_app = typer.Typer(
    help="The shared catalog (信息资源共享目录): build it, show a dataset, export it.", no_args_is_help=True
)
console = cli_console()
err = cli_console(stderr=True)


class ExportFormat(StrEnum):
    DCAT = "dcat"
    JSON = "json"


@catalog_app.command("build")
def build() -> None:
    """Rebuild the serving database and its catalog tables from the registry, the ledger and the lake."""
    from ecocloud.runner.engine import refresh_serving

    settings = get_settings()
    refresh_serving(settings)
    rows = _query(
        settings, "SELECT layer, count(*) AS n, sum(rows) AS r FROM catalog_datasets GROUP BY ALL ORDER BY 1"
    )
    for layer, n, total in rows:
        console.print(f"{layer:<11} {n:>3} datasets  {int(total or 0):>12,} rows")
    console.print(f"catalog: {sum(r[1] for r in rows)} datasets in {settings.duckdb_file}", markup=False)


@catalog_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="registry table name, e.g. core_air__station_hourly")],
) -> None:
    """One dataset's catalog entry: metadata, live facts, columns, lineage and quality."""
    from ecocloud.catalog_export import load_catalog

    settings = get_settings()
    with _serving(settings) as con:
        found = [d for d in load_catalog(con, [s.value for s in Sharing]) if d["table_name"] == name]
    if not found:
        err.print(f"[red]no dataset {said(repr(name))} in the catalog (`ecocloud catalog build` rebuilds it)")
        raise typer.Exit(2)
    d = found[0]
    console.rule(f"[bold]{said(d['title_zh'])} — {said(d['title_en'])}")
    facts = RichTable(show_header=False, box=None)
    for key in (
        "table_name", "layer", "sharing", "sharing_conditions", "owner_zh", "owner_en", "contact",
        "source_system", "frequency_zh", "primary_key", "partition_by", "rows", "partitions", "files",
        "size_bytes", "coverage_start", "coverage_end", "last_updated_at", "freshness_status", "data_age_h",
        "late_by_h", "freshness_due_at", "last_gate_run", "last_gate_at", "gate_passed", "gate_failed", "gate_warnings",
        "quarantine_tables", "quarantined_rows", "agreement_percent",
    ):  # fmt: skip
        facts.add_row(key, plain(d[key]))
    console.print(facts)
    console.print(plain(d["description_zh"]))
    console.print(plain(d["description_en"]))
    _print_rows(
        "columns",
        d["columns"],
        (
            "column_name",
            "data_type",
            "unit",
            "nullable",
            "min_value",
            "max_value",
            "allowed_values",
            "value_labels",
            "description_zh",
            "description",
        ),
    )
    _print_rows(
        "lineage (producers)",
        d["lineage"],
        ("input_kind", "input_id", "build", "task", "runs", "recorded_at"),
    )
    _print_rows(
        "quality",
        d["quality"],
        ("kind", "check_name", "column_name", "severity", "success", "checked", "failed", "share_percent"),
    )


@catalog_app.command("export")
def export(
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="dcat: DCAT-AP JSON-LD; json: plain JSON")
    ] = ExportFormat.DCAT,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file to write (default: standard output)")
    ] = None,
    all_levels: Annotated[
        bool,
        typer.Option(
            "--all-levels",
            help="include 有条件共享 and 不予共享 entries (metadata) for an internal portal; default: 无条件共享 only",
        ),
    ] = False,
    base_url: Annotated[
        str | None, typer.Option(help="public address of the web app (default: ECOCLOUD_CATALOG_BASE_URL)")
    ] = None,
) -> None:
    """Export the catalog for other portals: DCAT-AP JSON-LD (CKAN-style harvest) or plain JSON."""
    from ecocloud.catalog_export import dcat_catalog, dumps, json_catalog, load_catalog, region_bbox

    if output is not None:
        check_output(output, "--output")
    settings = get_settings()
    base = base_url or settings.catalog_base_url
    if urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc:
        where = "--base-url" if base_url else "ECOCLOUD_CATALOG_BASE_URL"
        err.print(
            f"[red]{where}: {said(repr(base))} is not an http(s) address (every URI of the export is made from it)"
        )
        raise typer.Exit(2)
    levels = [s.value for s in Sharing] if all_levels else [Sharing.UNCONDITIONAL.value]
    with _serving(settings) as con:
        datasets = load_catalog(con, levels)
        bbox = region_bbox(con)
    doc = (
        dcat_catalog(datasets, settings, base=base_url, bbox=bbox)
        if fmt is ExportFormat.DCAT
        else json_catalog(datasets)
    )
    text = dumps(doc)
    if output is None:
        typer.echo(text)
    else:
        write_output(output, (text + "\n").encode("utf-8"), "--output")
        err.print(f"{len(datasets)} datasets written to {said(output)}")


def _serving(settings: Any) -> Any:
    try:
        return settings.connect_serving()
    except FileNotFoundError as exc:
        err.print(f"[red]{said(exc)}")
        raise typer.Exit(2) from exc


def _query(settings: Any, sql: str) -> list[tuple[Any, ...]]:
    with _serving(settings) as con:
        return con.execute(sql).fetchall()


def _print_rows(title: str, rows: list[dict[str, Any]], keys: tuple[str, ...]) -> None:
    console.print(rows_table(keys, ([r.get(k) for k in keys] for r in rows), title=title))
