"""``ecocloud catalog build | list | search TERMS… | show NAME | export --format dcat|json``."""

from __future__ import annotations

import difflib
import ipaddress
import json
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.table import Table as RichTable

from ecocloud.cli_output import check_output, print_for_program, write_output
from ecocloud.settings import get_settings
from ecocloud.terminal import PLAIN_HELP, cli_console, plain, rows_table, said
from schemas.registry import Layer, Sharing, all_tables

catalog_app = typer.Typer(
    help="The shared catalog (信息资源共享目录): build it, list or search it, show a dataset, export it.",
    no_args_is_help=True,
    rich_markup_mode=PLAIN_HELP,
)
console = cli_console()
err = cli_console(stderr=True)


class ExportFormat(StrEnum):
    DCAT = "dcat"
    JSON = "json"


class RowsFormat(StrEnum):
    """How ``list`` and ``search`` print their datasets (as ``ecocloud quality``: to standard output)."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


# one row per dataset in ``list`` and ``search``: what fits a terminal (``show NAME`` has the rest)
ROW_KEYS = ("table_name", "title_zh", "layer", "source", "sharing", "freshness_status", "rows")
# what a user who cannot find a dataset by its name is told to try
SEARCH_HINT = "`ecocloud catalog search WORDS…` finds datasets by their titles, descriptions and columns"
LIST_HINT = "`ecocloud catalog list` lists them all"
# the layers of the catalog's datasets (a stage table is handed from a parser to a build, never published)
CATALOG_LAYERS = tuple(layer.value for layer in Layer if layer is not Layer.STAGE)

FormatOption = Annotated[
    RowsFormat,
    typer.Option("--format", "-f", help="table, or csv / json (the same columns) for a program"),
]
LayerOption = Annotated[
    str | None, typer.Option(help=f"only this layer: {', '.join(CATALOG_LAYERS)}", show_default=False)
]
SourceOption = Annotated[
    str | None,
    typer.Option(help="only this source (air, water, source, permit, …)", show_default=False),
]


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


@catalog_app.command("list")
def list_datasets(
    layer: LayerOption = None,
    source: SourceOption = None,
    fmt: FormatOption = RowsFormat.TABLE,
) -> None:
    """Every dataset of the catalog, by layer and name: its title, sharing level, freshness and rows.

    An unknown --layer or --source is refused (exit 2) with the values the catalog has.
    """
    from ecocloud.web.queries import search_datasets

    with _serving(get_settings()) as con:
        _check_filters(con, layer, source)
        found = search_datasets(con, None, _LEVELS, layer)
    found = [d for d in found if source is None or d["source"] == source]
    if not found:  # a layer and a source that share no dataset
        err.print(f"no dataset{said(_scope(layer, source))}")
    _print_datasets(found, fmt, title=_datasets(len(found)))


@catalog_app.command("search")
def search(
    terms: Annotated[
        list[str],
        typer.Argument(
            metavar="TERM",
            help="words that must all match (as the web's catalog search): a title, name, description, "
            "owner or column; a pollutant's name (氨氮, 'ammonia nitrogen') also finds its HJ 212 code",
            show_default=False,
        ),
    ],
    layer: LayerOption = None,
    source: SourceOption = None,
    fmt: FormatOption = RowsFormat.TABLE,
) -> None:
    """The datasets matching every term, the best matches first (ranked as the web's catalog search).

    Exit status as grep's: 0 when a dataset matches, 1 when none does, 2 on an error.
    """
    from ecocloud.web.queries import MAX_TERMS, search_datasets, search_terms

    q = " ".join(" ".join(terms).split())
    if not q:
        err.print(f"[red]give a word to search for ({said(LIST_HINT)})")
        raise typer.Exit(2)
    if len(q.split()) > MAX_TERMS and len(search_terms(q)) == MAX_TERMS:
        err.print(
            f"[yellow]only the first {MAX_TERMS} words are searched for: {said(' '.join(search_terms(q)))}"
        )
    with _serving(get_settings()) as con:
        _check_filters(con, layer, source)
        found = search_datasets(con, q, _LEVELS, layer)
    found = [d for d in found if source is None or d["source"] == source]
    if not found:
        err.print(f"no dataset{said(_scope(layer, source))} matches {said(q)}")
    _print_datasets(found, fmt, title=f"{_datasets(len(found))} matching {q}")
    if not found:
        raise typer.Exit(1)


@catalog_app.command("show")
def show(
    name: Annotated[
        str, typer.Argument(metavar="TABLE", help="registry table name, e.g. core_air__station_hourly")
    ],
) -> None:
    """One dataset's catalog entry: metadata, live facts, columns, lineage and quality."""
    from ecocloud.catalog_export import load_catalog

    settings = get_settings()
    with _serving(settings) as con:
        catalog = load_catalog(con, _LEVELS)
    found = [d for d in catalog if d["table_name"] == name]
    if not found:
        err.print(f"[red]{said(_not_found(name, [d['table_name'] for d in catalog]))}")
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
    columns = rows_table(
        ("column", "range / allowed", "description"),
        (_column_row(c) for c in d["columns"]),
        title="columns",
        fold=True,
    )
    console.print(columns)
    if any(c["data_type"] == "timestamp" for c in d["columns"]):
        console.print(
            "timestamp columns are instants stored in UTC (what “UTC” in a description means); "
            "ecocloud sql and the web show them in Beijing time (+08:00), CSV files for a spreadsheet "
            "as Beijing wall time without an offset"
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
    if fmt is ExportFormat.DCAT and _is_loopback(urlsplit(base).hostname):
        where = "--base-url" if base_url else "ECOCLOUD_CATALOG_BASE_URL (its default)"
        err.print(
            f"[yellow]every URI of the export points at {said(base)}, this machine ({said(where)}): "
            "a portal elsewhere gets dead links — give the web app's public address with --base-url"
        )
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


# the CLI reads with the operator's access to the serving database: every sharing level (the web's
# roles see fewer)
_LEVELS = [s.value for s in Sharing]


def _not_found(name: str, names: Sequence[str]) -> str:
    """Why ``show NAME`` found nothing: a registry table the catalog was built without (then
    rebuilding helps), else no such dataset, with the close names (if any) and how to find one."""
    if any(t.name == name and t.layer is not Layer.STAGE for t in all_tables()):
        return f"{name!r} is not in the catalog yet: `ecocloud catalog build` rebuilds it"
    close = difflib.get_close_matches(name.lower(), names, n=3)
    maybe = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"no dataset named {name!r} in the catalog{maybe}\n{SEARCH_HINT}; {LIST_HINT}"


def _scope(layer: str | None, source: str | None) -> str:
    """ " in layer mart and source air", or "" without either."""
    named = [f"{what} {value}" for what, value in (("layer", layer), ("source", source)) if value is not None]
    return f" in {' and '.join(named)}" if named else ""


def _datasets(n: int) -> str:
    return f"{n} dataset{'' if n == 1 else 's'}"


def _check_filters(con: Any, layer: str | None, source: str | None) -> None:
    """Exit 2 on a --layer or --source no dataset of the catalog has, naming the values it has."""
    for option, value, column in (("--layer", layer, "layer"), ("--source", source, "source")):
        if value is None:
            continue
        allowed = [
            r[0] for r in con.execute(f"SELECT DISTINCT {column} FROM catalog_datasets ORDER BY 1").fetchall()
        ]
        if value not in allowed:
            err.print(
                f"[red]{option}: no {column} {said(repr(value))} in the catalog; one of: {said(', '.join(allowed))}"
            )
            raise typer.Exit(2)


def _print_datasets(found: list[dict[str, Any]], fmt: RowsFormat, *, title: str) -> None:
    """One row per dataset (:data:`ROW_KEYS`): a table on the terminal, or CSV / JSON on standard
    output (the values as they are, for a program; an empty list is a header, or ``[]``)."""
    rows = [[d[k] for k in ROW_KEYS] for d in found]
    if fmt is not RowsFormat.TABLE:
        print_for_program(ROW_KEYS, rows, fmt.value)
    elif rows:
        table = rows_table(ROW_KEYS, rows, title=title, fold=True)
        # a name is to copy: on one line, the titles wrapping first, where the terminal has room for it
        # and the other columns (about 80 characters), else folded as they are
        table.columns[0].no_wrap = console.width >= max(len(str(r[0])) for r in rows) + 80
        console.print(table)


def _serving(settings: Any) -> Any:
    try:
        return settings.connect_serving(zone="UTC")
    except FileNotFoundError as exc:
        err.print(f"[red]{said(exc)}")
        raise typer.Exit(2) from exc


def _query(settings: Any, sql: str) -> list[tuple[Any, ...]]:
    with _serving(settings) as con:
        return con.execute(sql).fetchall()


def _column_row(c: dict[str, Any]) -> tuple[str, str, str]:
    """A column of ``catalog_columns`` in three cells a terminal can hold: its name with type, unit and
    NOT NULL; its range or allowed values; what it holds in Chinese, then in English."""
    name = f"{c['column_name']}\n{c['data_type']}" + (f" [{c['unit']}]" if c["unit"] else "")
    name += "" if c["nullable"] else " NOT NULL"
    from ecocloud.catalog_export import range_end

    lo, hi = range_end(c["min_value"]), range_end(c["max_value"])
    bounds = f"{lo} … {hi}" if lo or hi else ""
    allowed = ", ".join(json.loads(c["allowed_values"])) if c["allowed_values"] else ""
    described = "\n".join(t for t in (c.get("description_zh"), c["description"]) if t)
    return name, bounds or allowed, described


def _print_rows(title: str, rows: list[dict[str, Any]], keys: tuple[str, ...]) -> None:
    console.print(rows_table(keys, ([r.get(k) for k in keys] for r in rows), title=title))


def _is_loopback(host: str | None) -> bool:
    """``host`` names this machine only (localhost, 127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
