"""``ecocloud sweep``: list, or delete, the lake files the ledger does not list (``warehouse.sweep``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table as RichTable

from ecocloud.settings import get_settings
from ecocloud.terminal import cli_console, plain, said

console = cli_console()


def sweep(
    delete: Annotated[bool, typer.Option("--delete", help="delete them (default: only list them)")] = False,
    grace_hours: Annotated[
        float | None,
        typer.Option(min=1, help="only files older than this (default: ECOCLOUD_LAKE_SWEEP_GRACE_HOURS, 72)"),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="delete even when the ledger lists less than a tenth of the lake's table files "
            "(refused otherwise: that is a ledger other than the lake's own)",
        ),
    ] = False,
) -> None:
    """Crash leftovers in the lake's table folders: files no ledger part names (readers by folder, such
    as the external tables of `ecocloud export-ddl`, would count them); and the temporary files of
    landings killed mid-write in the raw zone."""
    from ecocloud.runner.tasks import unlisted_files  # the runner and the lake: not at CLI start
    from warehouse.sweep import SweepRefused

    try:
        hours, swept = unlisted_files(get_settings(), delete=delete, grace_hours=grace_hours, force=force)
    except SweepRefused as refused:
        console.print(f"[red]{said(refused)}[/red]")
        raise typer.Exit(1) from None
    found = swept.files
    if swept.young:
        console.print(
            f"{swept.young} unlisted file(s) younger than {hours:g} h left alone: a run may be writing them "
            "(--grace-hours 1 takes those older than an hour)"
        )
    if not found:
        console.print(f"no unlisted files older than {hours:g} h")
        return
    listing = RichTable(
        title=f"{'deleted' if delete else 'unlisted (run with --delete to remove)'}: {len(found)} file(s)"
    )
    for col in ("file", "bytes", "modified (UTC)"):
        listing.add_column(col)
    for u in found:
        listing.add_row(plain(u.rel), f"{u.size:,}", u.modified.isoformat(timespec="seconds"))
    console.print(listing)
