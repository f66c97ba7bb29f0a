"""The ``ecocloud`` command line."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from ecocloud import cli_ddl, cli_up
from ecocloud.cli_catalog import catalog_app
from ecocloud.cli_ingest import ingest_app
from ecocloud.cli_ingest import run as run_spec_command
from ecocloud.cli_output import output_format, print_for_program, write_output
from ecocloud.cli_risk import risk as risk_command
from ecocloud.cli_sweep import sweep as sweep_command
from ecocloud.cli_web import serve as serve_web
from ecocloud.cli_web import users_app
from ecocloud.settings import get_settings
from ecocloud.spreadsheet import csv_bytes, csv_text, table_xlsx
from ecocloud.terminal import PLAIN_HELP, cli_console, plain, rows_table, said
from schemas.sql import string_literal

app = typer.Typer(
    help="ecocloud (生态云): ingest environmental monitoring data into a checked Parquet lake, query it.",
    no_args_is_help=True,
    rich_markup_mode=PLAIN_HELP,
    pretty_exceptions_show_locals=False,
)
app.add_typer(ingest_app, name="ingest")
app.command("run")(run_spec_command)
app.add_typer(catalog_app, name="catalog")  # ecocloud/cli_catalog.py
app.add_typer(users_app, name="users")  # ecocloud/cli_web.py
app.command("serve")(serve_web)
app.command("risk")(risk_command)  # ecocloud/cli_risk.py
app.command("up")(cli_up.up)  # ecocloud/cli_up.py
app.command("sweep")(sweep_command)  # ecocloud/cli_sweep.py
console = cli_console()
err = cli_console(stderr=True)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log debug detail")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    _check_settings()


def _check_settings() -> None:
    """Exit 2 with the reason on settings no command can work with (each was a traceback further in)."""
    from pydantic import ValidationError

    try:
        home = get_settings().home
    except ValidationError as exc:
        problems = "; ".join(
            f"ECOCLOUD_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        err.print(f"[red]settings: {escape(problems)}")
        raise typer.Exit(2) from None
    existing = next(p for p in (home.absolute(), *home.absolute().parents) if p.exists())
    if not existing.is_dir():  # the home, or a folder it would be made in
        err.print(
            f"[red]ECOCLOUD_HOME={escape(str(home))}: {escape(str(existing))} is a file: "
            "the home is a folder (made when missing)"
        )
        raise typer.Exit(2)


@app.command()
def sql(
    query: Annotated[
        str,
        typer.Argument(
            metavar="QUERY",
            help="one read-only query: SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, PIVOT, EXPLAIN …",
        ),
    ],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="table | csv | xlsx | json (default: table, or the --out file's suffix)",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="write to this file (needed for xlsx): a CSV file is for a spreadsheet — UTF-8 with a BOM, "
            "text that would start a formula prefixed with ', instants as Beijing wall time without an offset —; "
            "csv and json go to stdout as they are without it or with -",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="rows shown in table format")] = 200,
) -> None:
    """Query the serving DuckDB database: the lake's tables and nothing else, within time, memory and row limits."""
    from ecocloud.query import QueryLimitError, ReadOnlyError, UnknownTable, run_query

    fmt, out = output_format(fmt, out)
    try:
        result = run_query(get_settings(), query)
    except (ReadOnlyError, FileNotFoundError) as exc:
        err.print(f"[red]{said(exc)}")
        raise typer.Exit(2) from exc
    except (QueryLimitError, UnknownTable) as exc:
        err.print(f"[red]{said(exc)}")
        raise typer.Exit(1) from exc
    except Exception as exc:  # duckdb errors carry a clear message; show it without a traceback
        err.print(f"[red]{type(exc).__name__}: {said(exc)}")
        raise typer.Exit(1) from exc
    columns, rows = result.columns, result.rows
    if fmt == "table":
        _print_rows(columns, rows, limit, truncated=result.truncated)
        return
    if result.truncated:  # a short file or stream a script would take for the whole result
        err.print(
            f"[red]the result has more than {len(rows):,} rows (ECOCLOUD_SQL_MAX_ROWS): nothing written. Narrow the query "
            f"(WHERE, fewer columns), or add LIMIT {len(rows)} to take the first of them"
        )
        raise typer.Exit(1)
    data = _query_output(fmt, query, columns, rows, to_file=out is not None)
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    write_output(out, data, "--out")
    zoned = fmt in ("csv", "xlsx") and any(
        isinstance(v, dt.datetime) and v.tzinfo for v in (rows[0] if rows else ())
    )
    err.print(
        f"{len(rows):,} rows → {out}"
        + (" (instants in Beijing time, UTC+8, written without an offset)" if zoned else ""),
        markup=False,
    )


def _query_output(
    fmt: str, query: str, columns: list[str], rows: list[tuple[Any, ...]], *, to_file: bool
) -> bytes:
    """A query's rows as csv, xlsx or json bytes; CSV for a file is for a spreadsheet (module
    ecocloud/spreadsheet.py), CSV for standard output the values as they are."""
    if fmt == "xlsx":
        return table_xlsx("查询结果", columns, rows, description=query)
    if fmt == "json":
        text = json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, ensure_ascii=False)
        return (text + "\n").encode("utf-8")
    if to_file:
        return csv_bytes(csv_text(columns, rows))
    return csv_text(columns, rows, for_spreadsheet=False).encode("utf-8")


def _print_rows(columns: list[str], rows: list[tuple[Any, ...]], limit: int, *, truncated: bool) -> None:
    """The first ``limit`` rows, and what is not shown: how many more, or — past the row cap, where
    the rest was never read — that their number is unknown and how to get a whole result."""
    console.print(rows_table(columns, rows[:limit]))
    if truncated:
        err.print(
            f"[yellow]the result has more than {len(rows):,} rows (ECOCLOUD_SQL_MAX_ROWS): "
            f"{min(limit, len(rows)):,} shown, the rest not read. Narrow the query (WHERE, GROUP BY) to "
            "get it whole: --out writes only a whole result"
        )
    elif len(rows) > limit:
        console.print(f"… {len(rows) - limit:,} more rows (--limit N shows more, --out FILE writes them)")
    elif not rows:
        console.print("0 rows")


@app.command()
def simulate(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[
        int | None, typer.Option(help="HTTP port (default: ECOCLOUD_SIMULATOR_PORT, 8765)")
    ] = None,
    days: Annotated[int, typer.Option(help="complete simulated days up to yesterday (today grows too)")] = 3,
    seed: Annotated[int, typer.Option(help="random seed")] = 2026,
    loggers: Annotated[
        str | None, typer.Option(help="also run the HJ 212 data-logger fleet against this HOST:PORT receiver")
    ] = None,
    logger_speed: Annotated[float, typer.Option(help="fleet: simulated seconds per wall second")] = 60.0,
) -> None:
    """Serve the upstream systems of a simulated province (Jiangxi) over their real protocols."""
    from ecocloud.simulator.server import serve

    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()  # the release's days are Beijing days
    start = today - dt.timedelta(days=days)
    port = get_settings().simulator_port if port is None else port
    if loggers:
        from ecocloud.simulator.fleet import start_fleet_thread

        labels = get_settings().root / "simulator" / "hj212_fault_labels.jsonl"
        start_fleet_thread(loggers, seed=seed, speed=logger_speed, labels_path=labels)
        console.print(
            f"HJ 212 loggers → {loggers} (1 simulated day at {logger_speed:g}×"
            + (", the day before now" if logger_speed > 1 else "")
            + f"; fault labels: {labels})",
            markup=False,
        )
    console.print(f"simulating {start} … {today} (so far) on http://{host}:{port}/air/ (Ctrl-C stops)")
    serve(host=host, port=port, start_date=start, days=days + 1, seed=seed)


@app.command()
def demo(
    days: Annotated[int, typer.Option(help="simulated days to run through Airflow")] = 2,
    serve: Annotated[
        bool | None,
        typer.Option(
            "--serve/--no-serve",
            help="end by starting the web app on the demo's data (default: when run from a terminal)",
        ),
    ] = None,
    port: Annotated[int, typer.Option(help="web app port (another free one when taken)")] = 8080,
) -> None:
    """Run the simulator and the real DAGs through Airflow for a few simulated days, show the results,
    then start the web app on them (--no-serve: exit instead; so does a run without a terminal)."""
    from ecocloud.demo import run_demo

    if serve is None:
        serve = sys.stdin.isatty() and sys.stdout.isatty()
    run_demo(get_settings(), days=days, console=console, serve=serve, port=port)


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
        where += f" AND check_name = {string_literal(check)}"
    try:
        columns, rows = run_query(
            get_settings(),
            "SELECT date, check_name, row_kind, checked, occurrences, subject_table, subject_key, uscc, detail "
            f"FROM quality_master__join_report WHERE {where} "
            "ORDER BY check_name, row_kind DESC, subject_table, subject_key",
        )
    except FileNotFoundError as exc:
        err.print(f"[red]{said(exc)}")
        raise typer.Exit(2) from exc
    if not rows:
        console.print("no join report yet: run `ecocloud ingest master` (or the master_data DAG)")
        raise typer.Exit(1)
    if fmt != "table":
        print_for_program(columns, rows, fmt)
        return
    summary = RichTable(title=f"join-quality report {rows[0][0]} (quality_master__join_report)")
    for col in ("check", "checked", "items", "what it looks for"):
        summary.add_column(col)
    for r in rows:
        if r[2] == "summary":
            found = str(r[4]) if r[3] else "–"
            summary.add_row(
                plain(r[1]), "yes" if r[3] else "[yellow]no", f"[red]{found}" if r[4] else found, plain(r[8])
            )
    console.print(summary)
    for name in dict.fromkeys(r[1] for r in rows if r[2] == "item"):
        items = [r for r in rows if r[1] == name and r[2] == "item"]
        detail = RichTable(title=plain(f"{name}: {len(items)} item(s)"), title_justify="left")
        for col in ("table", "key", "USCC", "detail", "n"):
            detail.add_column(col)
        for r in items[:limit]:
            detail.add_row(*(plain(v) for v in (r[5], r[6], r[7], r[8], r[4])))
        console.print(detail)
        if len(items) > limit:
            console.print(f"… {len(items) - limit} more (use --limit, --check {said(name)} or --format csv)")


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
    receiver_id: Annotated[
        str | None,
        typer.Option(help="segment name prefix (default: ECOCLOUD_RECEIVER_ID, else the host name)"),
    ] = None,
    max_connections: Annotated[int, typer.Option(help="capped by the file-descriptor limit")] = 10_000,
    max_connections_per_peer: Annotated[int, typer.Option(help="per peer address; 0 = no cap")] = 256,
    reply_stall_timeout: Annotated[
        float, typer.Option(help="seconds a peer may leave its replies unread before it is disconnected")
    ] = 30.0,
    auth_max_failures: Annotated[
        int,
        typer.Option(
            help="failed authentications per peer or MN before it is blocked (an MN's block spares the "
            "addresses that authenticated it recently); 0 = never"
        ),
    ] = 5,
    auth_block_seconds: Annotated[
        float, typer.Option(help="how long a blocked peer or MN is refused")
    ] = 300.0,
    quarantine_peer_mb: Annotated[
        float, typer.Option(help="quarantine MB landed per peer address per hour; 0 = no cap")
    ] = 8.0,
    data_mn_mb: Annotated[
        float,
        typer.Option(
            help="data MB landed per MN per hour (a logger sends ~0.1 MB); over it → quarantine; 0 = no cap"
        ),
    ] = 64.0,
    proxy_protocol: Annotated[
        bool | None,
        typer.Option(
            "--proxy-protocol/--no-proxy-protocol",
            help="behind a TCP gateway sending the PROXY protocol (HAProxy send-proxy-v2): every connection "
            "starts with a header naming the logger's address (default: ECOCLOUD_HJ212_PROXY_PROTOCOL, off)",
        ),
    ] = None,
    trusted_proxies: Annotated[
        str | None,
        typer.Option(
            help="comma-separated addresses/networks of those gateways; with --proxy-protocol a connection "
            "from anywhere else is refused (default: ECOCLOUD_HJ212_TRUSTED_PROXIES)"
        ),
    ] = None,
) -> None:
    """Run the HJ 212 TCP receiver: land every line durably (segments), then acknowledge (9014/9011)."""
    from ingest.hj212.proxy_protocol import parse_networks
    from ingest.hj212.receiver import ReceiverConfig, default_receiver_id, registry_for, serve
    from ingest.hj212.segments import ReceiverIdInUse

    settings = get_settings()
    try:
        registry, registry_mode = registry_for(devices, mode)
        config = ReceiverConfig(
            landing_dir=settings.hj212_landing,
            host=host,
            port=settings.hj212_port if port is None else port,
            receiver_id=receiver_id or settings.receiver_id or default_receiver_id(),
            registry=registry,
            registry_mode=registry_mode,
            max_connections=max_connections,
            max_connections_per_peer=max_connections_per_peer,
            reply_stall_timeout_s=reply_stall_timeout,
            auth_max_failures=auth_max_failures,
            auth_block_s=auth_block_seconds,
            quarantine_peer_bytes=int(quarantine_peer_mb * (1 << 20)),
            data_mn_bytes=int(data_mn_mb * (1 << 20)),
            proxy_protocol=settings.hj212_proxy_protocol if proxy_protocol is None else proxy_protocol,
            trusted_proxies=parse_networks(
                settings.hj212_trusted_proxies if trusted_proxies is None else trusted_proxies
            ),
        )
    except ValueError as exc:
        err.print(plain(exc))
        raise typer.Exit(2) from None
    logging.getLogger("ecocloud.hj212.receiver").setLevel(logging.INFO)
    gateways = ", ".join(map(str, config.trusted_proxies))
    err.print(
        f"HJ 212 receiver on {config.host}:{config.port} → {config.landing_dir} "
        f"(rejects → {config.quarantine_dir}); mode: {registry_mode or 'no registry (loopback only)'}; "
        + (f"PROXY protocol from {gateways} only; " if config.proxy_protocol else "")
        + "Ctrl-C or SIGTERM stops",
        markup=False,
    )
    try:
        stats = serve(config)
    except ReceiverIdInUse as exc:
        err.print(plain(exc))
        raise typer.Exit(2) from None
    err.print(plain(stats.summary()))


app.command("export-ddl")(cli_ddl.export_ddl_command)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def airflow(ctx: typer.Context) -> None:
    """Airflow's own CLI on this home's metadata database and our DAGs (its home, DAG folder and
    connection set as `ecocloud up` and `make demo` set them), e.g. `ecocloud airflow dags list`,
    `ecocloud airflow dags test surface_water`. A database without Airflow's tables is made first (an
    existing one is not upgraded behind your back: `ecocloud airflow db migrate`), and the DAG files
    are read into one that holds none (after editing them: `ecocloud airflow dags reserialize`)."""
    import subprocess

    from ecocloud.airflow_env import airflow_bin, airflow_env, ensure_db, metadata_state, run_airflow

    settings = get_settings()
    try:
        made, dags = metadata_state(settings)
        if not made:
            ensure_db(settings)
        if not dags:
            run_airflow(settings, "dags", "reserialize", capture=True)
    except subprocess.CalledProcessError as exc:
        err.print(
            f"[red]airflow {' '.join(map(said, exc.cmd[1:]))} failed:[/] {said((exc.stderr or '')[-2000:])}"
        )
        raise typer.Exit(1) from None
    done = subprocess.run([airflow_bin(), *ctx.args], env=airflow_env(settings), check=False)
    raise typer.Exit(done.returncode)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    )


if __name__ == "__main__":
    app()
