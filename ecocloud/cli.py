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


@ingest_app.command("permits")
def ingest_permits(
    url: Annotated[
        str | None, typer.Argument(help="permit API base URL (default: ECOCLOUD_PERMITS_BASE_URL)")
    ] = None,
    full: Annotated[bool, typer.Option(help="ask for every record, not only those updated since")] = False,
    force: Annotated[
        bool, typer.Option(help="rebuild even when the ledger says the tables are current")
    ] = False,
) -> None:
    """Ingest discharge permits: API pages → raw zone → permit versions with history, outlets, limits → gate → lake."""
    from ecocloud.pipelines import permits

    settings = get_settings()
    try:
        fetched, report = permits.ingest(settings, url, full=full, force=force)
    except (OSError, ValueError, RuntimeError) as exc:
        err.print(f"[red]cannot ingest permits from {url or settings.permits_base_url}: {exc}")
        raise typer.Exit(2) from exc
    since = fetched.updated_since.isoformat() if fetched.updated_since else "(everything)"
    console.print(
        f"{fetched.url}: updated_since {since} — {fetched.records} records in {fetched.pages} pages, "
        f"{len(fetched.landed)} pages with something new"
    )
    _print_build_report(report)


@ingest_app.command("credit")
def ingest_credit(
    locations: Annotated[
        list[str] | None,
        typer.Argument(
            help="result files (.xlsx/.csv), drop folders or listing URLs (default: ECOCLOUD_CREDIT_BASE_URL)"
        ),
    ] = None,
    province: Annotated[
        str | None, typer.Option(help="province (jiangxi, 360000, 江西省) when the file name does not say")
    ] = None,
    year: Annotated[int | None, typer.Option(help="evaluation year when the file does not say")] = None,
    force: Annotated[
        bool, typer.Option(help="rebuild even when the ledger says the table is current")
    ] = False,
) -> None:
    """Ingest enterprise environmental credit results (XLSX/CSV): raw zone → ratings by scheme → gate → lake."""
    from ecocloud.pipelines import credit

    try:
        landed, report = credit.ingest(get_settings(), locations, province=province, year=year, force=force)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        err.print(f"[red]cannot ingest credit files: {exc}")
        raise typer.Exit(2) from exc
    for obj in landed:
        console.print(f"landed {obj.logical_name} → {obj.raw_path}")
    _print_build_report(report)


@ingest_app.command("master")
def ingest_master(
    locations: Annotated[
        list[str] | None,
        typer.Argument(help="registry CSVs (enterprises, monitoring points), folders or listing URLs"),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="rebuild even when the ledger says the tables are current")
    ] = False,
) -> None:
    """Ingest the master-data registries (versioned), then recompute the join-quality report."""
    from ecocloud.pipelines import master

    try:
        landed, report, joined = master.ingest(get_settings(), locations, force=force)
    except (OSError, ValueError, RuntimeError) as exc:
        err.print(f"[red]cannot ingest master data: {exc}")
        raise typer.Exit(2) from exc
    for obj in landed:
        console.print(f"landed {obj.logical_name} → {obj.raw_path}")
    _print_build_report(report)
    _print_build_report(joined)
    console.print("see the join report with: ecocloud quality")


def _print_build_report(report: object) -> None:
    from ecocloud.pipelines.common import Report

    assert isinstance(report, Report)
    colour = {"published": "green", "skipped": "cyan", "blocked": "red"}.get(report.status, "yellow")
    console.print(f"[{colour}]{report.name}: {report.status}[/] {report.counts}")
    for line in report.gate:
        console.print("  " + line.splitlines()[0])
    for line in report.warnings:
        console.print(f"[yellow]  warning: {line}")
    for line in report.failures:
        err.print(f"[red]  BLOCKED: {line}")
    if report.status == "blocked":
        raise typer.Exit(1)


@app.command()
def quality(
    check: Annotated[str | None, typer.Option(help="only this check, e.g. outlet_without_permit")] = None,
    limit: Annotated[int, typer.Option(help="items shown per check (table format)")] = 10,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table | csv | json")] = "table",
) -> None:
    """Show the latest join-quality report: MNs without registry entry, outlets without permit, unmatched and invalid USCCs."""
    from ecocloud.query import run_query

    if fmt not in ("table", "csv", "json"):
        err.print("--format must be table, csv or json")
        raise typer.Exit(2)
    where = "date = (SELECT max(date) FROM quality_master__join_report)"
    if check:
        where += " AND check_name = '" + check.replace("'", "''") + "'"
    try:
        columns, rows = run_query(
            get_settings(),
            "SELECT date, check_name, row_kind, checked, occurrences, subject_table, subject_key, uscc, detail "
            f"FROM quality_master__join_report WHERE {where} "
            "ORDER BY check_name, row_kind DESC, subject_table, subject_key",
        )
    except FileNotFoundError as exc:
        err.print(f"[red]{exc}")
        raise typer.Exit(2) from exc
    if not rows:
        console.print("no join report yet: run `ecocloud ingest master` (or the master_data DAG)")
        raise typer.Exit(1)
    if fmt != "table":
        records = [dict(zip(columns, r, strict=True)) for r in rows]
        if fmt == "json":
            sys.stdout.write(json.dumps(records, default=str, ensure_ascii=False) + "\n")
        else:
            w = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
            w.writeheader()
            w.writerows(records)
        return
    summary = RichTable(title=f"join-quality report {rows[0][0]} (quality_master__join_report)")
    for col in ("check", "checked", "items", "what it looks for"):
        summary.add_column(col)
    for r in rows:
        if r[2] == "summary":
            found = str(r[4]) if r[3] else "–"
            summary.add_row(r[1], "yes" if r[3] else "[yellow]no", f"[red]{found}" if r[4] else found, r[8])
    console.print(summary)
    for name in dict.fromkeys(r[1] for r in rows if r[2] == "item"):
        items = [r for r in rows if r[1] == name and r[2] == "item"]
        detail = RichTable(title=f"{name}: {len(items)} item(s)", title_justify="left")
        for col in ("table", "key", "USCC", "detail", "n"):
            detail.add_column(col)
        for r in items[:limit]:
            detail.add_row(r[5], r[6], r[7] or "", r[8] or "", str(r[4]))
        console.print(detail)
        if len(items) > limit:
            console.print(f"… {len(items) - limit} more (use --limit, --check {name} or --format csv)")


@ingest_app.command("hj212")
def ingest_hj212(
    files: Annotated[
        list[str], typer.Argument(help="HJ 212 capture files: one packet per line, .gz allowed")
    ],
    force: Annotated[bool, typer.Option(help="rebuild even when the ledger says a file is current")] = False,
    workers: Annotated[
        int | None, typer.Option(help="parser processes (default: 1 for small inputs, else one per core)")
    ] = None,
) -> None:
    """Ingest HJ 212 packet captures: raw zone → packets, readings, quarantine → quality gate → marts."""
    from ecocloud.pipelines import sources

    settings = get_settings()
    with _progress() as progress:
        task = progress.add_task("HJ 212 files", total=len(files))
        try:
            report = sources.ingest_files(
                settings, files, force=force, workers=workers, on_done=lambda n: progress.advance(task, n)
            )
        except (OSError, ValueError) as exc:
            err.print(f"[red]cannot ingest: {exc}")
            raise typer.Exit(2) from exc
    table = RichTable(title="HJ 212 ingest")
    for col in ("input", "status", "lines", "accepted", "quarantined", "readings", "dates"):
        table.add_column(col)
    for r in report.inputs:
        c = r.counts
        table.add_row(
            r.name,
            r.status,
            *(str(c.get(k, "")) for k in ("lines", "accepted", "quarantined", "readings")),
            ", ".join(c.get("dates", [])),
        )
    console.print(table)
    for m in report.marts:
        console.print(f"marts {m.date}: {m.status} {m.counts}")
    for r in report.inputs:
        for line in r.failures:
            err.print(f"[red]{r.name} BLOCKED: {line}")
    for m in report.marts:
        for line in m.failures:
            err.print(f"[red]{m.date} BLOCKED: {line}")
    c = report.counts
    console.print(
        f"{c['lines']:,} lines = {c['accepted']:,} accepted + {c['quarantined']:,} quarantined; "
        f"{c['readings']:,} readings; serving database: {settings.duckdb_file}"
    )
    if report.status == "blocked":
        raise typer.Exit(1)


@app.command()
def receive(
    port: Annotated[int | None, typer.Option(help="TCP port (default: ECOCLOUD_HJ212_PORT, 9212)")] = None,
    host: Annotated[
        str, typer.Option(help="address to listen on; loopback by default (0.0.0.0: every interface)")
    ] = "127.0.0.1",
    devices: Annotated[
        str | None, typer.Option(help="device registry CSV/JSON: mn,password,uscc,outlet_code,region_code")
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(
            help="registered (default with --devices): reject unknown MN / wrong PW; "
            "open: accept them and flag them (unregistered / bad_pw)"
        ),
    ] = None,
    receiver_id: Annotated[str | None, typer.Option(help="segment name prefix (default: host name)")] = None,
    max_connections: Annotated[int, typer.Option(help="capped by the file-descriptor limit")] = 10_000,
    max_connections_per_peer: Annotated[int, typer.Option(help="per peer address; 0 = no cap")] = 256,
    reply_stall_timeout: Annotated[
        float, typer.Option(help="seconds a peer may leave its replies unread before it is disconnected")
    ] = 30.0,
    auth_max_failures: Annotated[
        int, typer.Option(help="failed authentications per peer or MN before it is blocked; 0 = never")
    ] = 5,
    auth_block_seconds: Annotated[
        float, typer.Option(help="how long a blocked peer or MN is refused")
    ] = 300.0,
    quarantine_peer_mb: Annotated[
        float, typer.Option(help="quarantine MB landed per peer address per hour; 0 = no cap")
    ] = 8.0,
) -> None:
    """Run the HJ 212 TCP receiver: land every line durably (segments), then acknowledge (9014/9011)."""
    from ingest.hj212.receiver import ReceiverConfig, default_receiver_id, registry_for, serve
    from ingest.hj212.segments import ReceiverIdInUse

    settings = get_settings()
    try:
        registry, registry_mode = registry_for(devices, mode)
        config = ReceiverConfig(
            landing_dir=settings.hj212_landing,
            host=host,
            port=settings.hj212_port if port is None else port,
            receiver_id=receiver_id or default_receiver_id(),
            registry=registry,
            registry_mode=registry_mode,
            max_connections=max_connections,
            max_connections_per_peer=max_connections_per_peer,
            reply_stall_timeout_s=reply_stall_timeout,
            auth_max_failures=auth_max_failures,
            auth_block_s=auth_block_seconds,
            quarantine_peer_bytes=int(quarantine_peer_mb * (1 << 20)),
        )
    except ValueError as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
    logging.getLogger("ecocloud.hj212.receiver").setLevel(logging.INFO)
    err.print(
        f"HJ 212 receiver on {config.host}:{config.port} → {config.landing_dir} "
        f"(rejects → {config.quarantine_dir}); mode: {registry_mode or 'no registry (loopback only)'}; "
        "Ctrl-C or SIGTERM stops"
    )
    try:
        stats = serve(config)
    except ReceiverIdInUse as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
    err.print(stats.summary())


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    )


if __name__ == "__main__":
    app()
