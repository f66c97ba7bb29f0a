"""``ecocloud export-ddl``: table definitions so Trino, Spark or another DuckDB read the lake in place."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ecocloud.cli_output import check_output, write_output
from ecocloud.settings import get_settings

# The values of warehouse.ddl.Dialect, spelled out so that `ecocloud --help` does not import pyarrow.
DIALECTS = ("trino", "spark", "duckdb")


def export_ddl_command(
    dialect: Annotated[str, typer.Option(help="the engine the definitions are for: trino | spark | duckdb")],
    lake_url: Annotated[
        str | None,
        typer.Option(
            help="lake root as that engine reaches it: a path, file:// or s3:// URL "
            "(default: this installation's lake)"
        ),
    ] = None,
    schema: Annotated[
        str, typer.Option(help="schema (Spark: database) the tables are created in")
    ] = "ecocloud",
    replace: Annotated[
        bool, typer.Option(help="Trino/Spark: drop existing tables first (external tables: files stay)")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write the script here (default: standard output)")
    ] = None,
) -> None:
    """Write CREATE statements for every lake table, generated from the registry, over the same Parquet."""
    if dialect not in DIALECTS:
        typer.echo(f"--dialect must be one of {', '.join(DIALECTS)}, not {dialect!r}", err=True)
        raise typer.Exit(2)
    if output is not None:
        check_output(output, "--output")
    from warehouse.ddl import Dialect, export_ddl

    store = get_settings().lake_store
    # which tables have files: this installation's lake, when the script is for it
    here = lake_url is None or lake_url.rstrip("/") == store.uri().rstrip("/")

    def has_files(table: Any) -> bool:
        folder = f"{table.layer.value}/{table.name}"
        return bool(store.glob(f"{folder}/*/*.parquet" if table.partition_by else f"{folder}/*.parquet"))

    root = lake_url or store.uri()
    script = export_ddl(
        Dialect(dialect), root, schema=schema, replace=replace, has_files=has_files if here else None
    )
    if output is None:
        sys.stdout.write(script)
    else:
        write_output(output, script.encode("utf-8"), "--output")
        typer.echo(f"wrote {output}", err=True)
