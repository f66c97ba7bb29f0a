"""The ``ecocloud`` command line."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from ecocloud.settings import get_settings

if TYPE_CHECKING:
    from ecocloud.pipelines.air import DayReport

app = typer.Typer(
    help="ecocloud (生态云): ingest environmental monitoring data into a checked Parquet lake, query it.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
ingest_app = typer.Typer(help="Ingest upstream files into the lake.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
console = Console()
err = Console(stderr=True)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log debug detail")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


@ingest_app.command("air")
def ingest_air(
    locations: Annotated[
        list[str],
        typer.Argument(
            help="day files (china_sites_YYYYMMDD.csv[.gz]) and station lists: paths or http(s) URLs"
        ),
    ],
    force: Annotated[
        bool, typer.Option(help="rebuild days even when the ledger says they are current")
    ] = False,
) -> None:
    """Ingest national air-quality day files: raw zone → typed station-hours → AQI → quality gate → lake."""
    from ecocloud.pipelines import air

    settings = get_settings()
    with _progress() as progress:
        landing = progress.add_task("landing", total=len(locations))
        landed = []
        for loc in locations:
            try:
                landed.extend(air.land(settings, [loc]))
            except (OSError, ValueError) as exc:
                err.print(f"[red]cannot ingest {loc}: {exc}")
                raise typer.Exit(2) from exc
            progress.advance(landing)
        days = sorted({dt.date.fromisoformat(o.partition) for o in landed if o.partition})
        building = progress.add_task("building days", total=len(days))
        reports = air.process_days(settings, days, force=force, on_day=lambda _r: progress.advance(building))
    _print_reports(reports)
    if not days:
        console.print("no new day files (already ingested, or only a station list given): lake unchanged")
    console.print(f"serving database: {settings.duckdb_file}")
    if any(r.status == "blocked" for r in reports):
        raise typer.Exit(1)


@ingest_app.command("water")
def ingest_water(
    locations: Annotated[
        list[str],
        typer.Argument(
            help="saved replies of the surface-water real-time platform (JSON pages) or board URLs "
            "(http(s): every page is fetched)"
        ),
    ],
    sections: Annotated[
        str | None,
        typer.Option(
            help="section registry CSV (default: ECOCLOUD_WATER_SECTIONS_CSV; none: all rivers, III)"
        ),
    ] = None,
    fetched_at: Annotated[
        str | None,
        typer.Option(
            help="when saved pages were fetched, ISO 8601 (Beijing when no offset): gives the year of "
            "MM-DD readings; default: a YYYYMMDD in the file name, else now"
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="rebuild even when the ledger says it is current")] = False,
) -> None:
    """Ingest surface-water board replies: raw zone → typed readings → GB 3838 class → quality gate → lake."""
    from pathlib import Path

    from ecocloud.pipelines import water
    from ingest.http import FetchError

    settings = get_settings()
    when = None
    if fetched_at:
        try:
            when = dt.datetime.fromisoformat(fetched_at)
        except ValueError as exc:
            err.print(f"[red]--fetched-at {fetched_at!r} is not ISO 8601")
            raise typer.Exit(2) from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
    try:
        reports = water.ingest_locations(
            settings,
            locations,
            sections_csv=Path(sections) if sections else None,
            fetched_at=when,
            force=force,
        )
    except (OSError, ValueError, FetchError) as exc:
        err.print(f"[red]cannot ingest: {exc}")
        raise typer.Exit(2) from exc
    table = RichTable(title="water ingest")
    for col in ("partition", "status", "rows in", "typed", "quarantined", "readings", "class = published %"):
        table.add_column(col)
    for r in reports:
        c = r.counts
        table.add_row(
            r.key,
            r.status,
            str(c.get("rows_in", "")),
            str(c.get("rows_typed", "")),
            str(c.get("rows_quarantined", "")),
            str(c.get("readings", c.get("sections", ""))),
            str(c.get("class_agreement_pct", "") or ""),
        )
    console.print(table)
    for r in reports:
        for line in r.failures:
            err.print(f"[red]{r.key} BLOCKED: {line}")
        for line in r.warnings:
            console.print(f"[yellow]{r.key} warning: {line}")
    console.print(f"serving database: {settings.duckdb_file}")
    if any(r.status == "blocked" for r in reports):
        raise typer.Exit(1)


def _print_reports(reports: list[DayReport]) -> None:
    table = RichTable(title="air ingest")
    for col in (
        "date",
        "status",
        "station-hours in",
        "published",
        "quarantined",
        "lines quarantined",
        "AQI = published %",
    ):
        table.add_column(col)
    for r in reports:
        c = r.counts
        table.add_row(
            str(r.date),
            r.status,
            str(c.get("station_hours_in", "")),
            str(c.get("station_hours_published", "")),
            str(c.get("station_hours_quarantined", "")),
            str(c.get("lines_quarantined", "")),
            str(c.get("aqi_agreement_pct", "")),
        )
    console.print(table)
    for r in reports:
        for line in r.failures:
            err.print(f"[red]{r.date} BLOCKED: {line}")
        for line in r.warnings:
            console.print(f"[yellow]{r.date} warning: {line}")


@app.command()
def sql(
    query: Annotated[
        str, typer.Argument(help="a read-only statement: SELECT, WITH, DESCRIBE, SHOW, EXPLAIN …")
    ],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table | csv | json")] = "table",
    limit: Annotated[int, typer.Option(help="rows shown in table format")] = 200,
) -> None:
    """Query the serving DuckDB database (read-only)."""
    from ecocloud.query import ReadOnlyError, run_query

    if fmt not in ("table", "csv", "json"):
        err.print("--format must be table, csv or json")
        raise typer.Exit(2)
    try:
        columns, rows = run_query(get_settings(), query)
    except (ReadOnlyError, FileNotFoundError) as exc:
        err.print(f"[red]{exc}")
        raise typer.Exit(2) from exc
    except Exception as exc:  # duckdb errors carry a clear message; show it without a traceback
        err.print(f"[red]{type(exc).__name__}: {exc}")
        raise typer.Exit(1) from exc
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        w.writerows(rows)
        sys.stdout.write(buf.getvalue())
    elif fmt == "json":
        sys.stdout.write(
            json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, ensure_ascii=False)
        )
        sys.stdout.write("\n")
    else:
        table = RichTable(show_lines=False)
        for c in columns:
            table.add_column(c)
        for r in rows[:limit]:
            table.add_row(*["" if v is None else str(v) for v in r])
        console.print(table)
        if len(rows) > limit:
            console.print(f"… {len(rows) - limit} more rows (use --format csv or --limit)")


@app.command()
def simulate(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port")] = 8765,
    days: Annotated[int, typer.Option(help="how many simulated days up to yesterday")] = 3,
    seed: Annotated[int, typer.Option(help="random seed")] = 2026,
    loggers: Annotated[
        str | None, typer.Option(help="also run the HJ 212 data-logger fleet against this HOST:PORT receiver")
    ] = None,
    logger_speed: Annotated[float, typer.Option(help="fleet: simulated seconds per wall second")] = 60.0,
) -> None:
    """Serve the upstream systems of a simulated province (Jiangxi) over their real protocols."""
    from ecocloud.simulator.server import serve

    start = dt.date.today() - dt.timedelta(days=days)
    if loggers:
        from ecocloud.simulator.fleet import start_fleet_thread

        labels = get_settings().root / "simulator" / "hj212_fault_labels.jsonl"
        start_fleet_thread(loggers, seed=seed, speed=logger_speed, labels_path=labels)
        console.print(
            f"HJ 212 loggers → {loggers} (1 simulated day at {logger_speed:g}×; fault labels: {labels})"
        )
    console.print(f"simulating {days} days from {start} on http://{host}:{port}/air/ (Ctrl-C stops)")
    serve(host=host, port=port, start_date=start, days=days, seed=seed)


@app.command()
def demo(
    days: Annotated[int, typer.Option(help="simulated days to run through Airflow")] = 2,
) -> None:
    """Run the simulator and the real DAGs through Airflow for a few simulated days, then show the results."""
    from ecocloud.demo import run_demo

    run_demo(get_settings(), days=days, console=console)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    )


if __name__ == "__main__":
    app()
