"""``ecocloud ingest <source> …`` and ``ecocloud run SPEC``: land bytes, then the runner.

Every command lands what it is given (files, folders, URLs) in the raw zone, runs every build of
the source's spec through the runner (only pending units are built), refreshes the serving
database, prints one report table, and exits 1 when a unit was blocked by the quality gate or
failed (2 when the input could not be read at all).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table as RichTable

from ecocloud.settings import Settings, get_settings
from ecocloud.terminal import PLAIN_HELP, cli_console, plain, said
from schemas.clock import instants_in_beijing

ingest_app = typer.Typer(
    help="Ingest upstream files, pages and captures into the lake.",
    no_args_is_help=True,
    rich_markup_mode=PLAIN_HELP,
)
console = cli_console()
err = cli_console(stderr=True)

_FORCE = typer.Option(help="rebuild every unit even when the ledger says it is current")
_ACCEPT_SHRINK = typer.Option(
    help="publish partitions that lost more rows than their table allows (a smaller upstream file "
    "that is right), and rebuild the units the gate held back for shrinking alone; it accepts what this "
    "command lands too (`run … --no-land` accepts only what was held back)"
)
_ACCEPT_SHRINK_OF = typer.Option(
    "--accept-shrink-of",
    metavar="UNIT",
    help="as --accept-shrink, for this unit only (its key as the report shows it, e.g. a date); "
    "repeat the option for more",
)


def _ingest(
    spec_name: str,
    land: Callable[[Settings, Any], list[Any]],
    *,
    force: bool,
    command: str,
    workers: int | None = None,
    builds: list[str] | None = None,
    accept_shrink: bool = False,
    accept_shrink_of: list[str] | None = None,
    rebuild: list[str] | None = None,
    landing: bool = True,
) -> None:
    """Land with ``land(settings, ledger)`` (``landing`` False: ``--no-land``, nothing to say of it),
    run the spec, refresh serving, report, exit code: 2 where ``rebuild`` names no unit."""
    from ecocloud.runner import engine
    from ecocloud.runner.context import RunInfo
    from ecocloud.runner.report import SKIPPED
    from ecocloud.specs import UnknownSpec, get_spec
    from ingest.http import FetchError

    try:
        spec = get_spec(spec_name)
    except UnknownSpec as exc:  # a command whose spec is not in SPEC_MODULES
        err.print(f"[red]{said(exc)}")
        raise typer.Exit(2) from exc
    settings = get_settings()
    run = RunInfo.cli(
        command,
        force=force,
        workers=workers,
        accept_shrink=accept_shrink,
        accept_shrink_of=accept_shrink_of or (),
        rebuild=rebuild or (),
    )
    try:
        with console.status(f"{spec.name}: landing and building …"):
            report = engine.land_and_run(settings, spec, land, run, builds=builds)
    except (OSError, ValueError, KeyError, FetchError) as exc:
        err.print(f"[red]cannot ingest: {said(exc)}")
        raise typer.Exit(2) from exc
    if landing or report.landed:
        console.print(f"landed {len(report.landed)} new raw object(s)")
    # where nothing was built, a copy of bytes landed before is why (elsewhere, a version landed again
    # that is built anew: an earlier day file returning after a truncated one)
    idle = all(u.status == SKIPPED for u in report.units)
    for path in report.landed[:20]:
        earlier = report.same_bytes.get(path)
        console.print(
            f"  {path}"
            + (
                f" (the same bytes as {earlier}" + (": nothing new to build)" if idle else ")")
                if earlier
                else ""
            ),
            markup=False,
        )
    if len(report.landed) > 20:
        console.print(f"  … and {len(report.landed) - 20} more")
    print_report(spec_name, report)
    _say_unbuilt(
        report, "--accept-shrink-of", accept_shrink_of or [], "no unit {unit} was held back for shrinking"
    )
    unknown = _say_unbuilt(
        report, "--rebuild", rebuild or [], f"no build of {report.source} has a unit {{unit}}"
    )
    console.print("time: " + " · ".join(f"{step} {s:.1f} s" for step, s in report.timings.items()))
    console.print(f"serving database: {settings.duckdb_file}", markup=False)
    if report.status in ("blocked", "failed"):
        raise typer.Exit(1)
    if unknown:  # a mistyped unit: the run did what it could, but not what was asked
        raise typer.Exit(2)


def print_report(spec_name: str, report: Any) -> None:
    """One table per build: a row per unit built (current ones summed), then warnings and failures."""
    from ecocloud.runner.report import SKIPPED
    from ecocloud.specs import get_spec

    spec = get_spec(spec_name)
    for build in spec.builds:
        if units := [u for u in report.units if u.build == spec.full_name(build)]:
            console.print(_build_table(spec.full_name(build), build, units))
            _print_build_messages(units)
    blocked = sum(1 for u in report.units if u.status == SKIPPED and u.blocked_before)
    rebuild = f"ecocloud run {spec_name} --no-land --rebuild UNIT"
    if report.units and all(u.status == SKIPPED and not u.deferred for u in report.units):
        console.print(
            f"nothing pending: all {len(report.units):,} units are current"
            + (f", {blocked:,} of them still blocked (above)" if blocked else "")
            + f" (--force rebuilds every unit; {rebuild}, one)"
        )
    elif blocked:  # a new input rebuilds a blocked unit; a fixed parser does not, by itself
        console.print(
            f"{blocked:,} unit(s) still blocked (above): after a fix of the code, {rebuild} builds one "
            "again (or a new code_version of its build, every unit)"
        )


def _build_table(title: str, build: Any, units: list[Any]) -> RichTable:
    """A build's units: those built with their counts, those still blocked or left for the next run,
    and how many more are current."""
    from ecocloud.runner.report import SKIPPED

    built = [u for u in units if u.status != SKIPPED]
    keys = list(build.summary) or sorted({k for u in built for k in u.counts})
    table = RichTable(title=title, caption=build.doc, title_justify="left")
    for col in ("unit", "status", *keys):
        table.add_column(col)
    colours = {"published": "green", "blocked": "red", "failed": "red"}
    for u in built:
        status = f"[{colours.get(u.status, 'white')}]{u.status}[/]"
        table.add_row(plain(u.unit), status, *(plain(_cell(u.counts.get(k))) for k in keys))
    listed = len(built)
    for label, those in (
        ("[red]still blocked[/]", [u for u in units if u.status == SKIPPED and u.blocked_before]),
        ("[yellow]next run[/]", [u for u in units if u.deferred]),
    ):
        for u in those:
            table.add_row(plain(u.unit), label, *[""] * len(keys))
        listed += len(those)
    if current := len(units) - listed:
        many = f"{current:,} unit" + ("s" if current > 1 else "")
        table.add_row(f"{current:,} more" if listed else many, "[cyan]current[/]", *[""] * len(keys))
    return table


def _print_build_messages(units: list[Any]) -> None:
    """Why each unit built, left for the next run or still blocked is as it is."""
    from ecocloud.runner.report import SKIPPED

    for u in units:
        if u.status != SKIPPED or u.deferred:
            for line in u.warnings:
                console.print(f"[yellow]{said(u.unit)} warning: {said(instants_in_beijing(line))}")
        if u.status != SKIPPED:
            for line in u.failures:
                word = "FAILED" if u.status == "failed" else "BLOCKED"
                err.print(f"[red]{said(u.unit)} {word}: {said(instants_in_beijing(line))}")
        elif u.blocked_before:  # its input has not changed since: rebuilding it would block it again
            for line in u.blocked_before.splitlines():
                err.print(
                    f"[red]{said(u.unit)} still BLOCKED (its input is unchanged): {said(instants_in_beijing(line))}"
                )


def _say_unbuilt(report: Any, option: str, units: list[str], why: str) -> list[str]:
    """Name each unit given to ``option`` that the run did not build (a mistyped key, or a unit with
    nothing to do): ``why`` says what that means for it. Those units."""
    from ecocloud.runner.report import SKIPPED

    built = {u.unit for u in report.units if u.status != SKIPPED}
    unbuilt = [u for u in dict.fromkeys(u.strip() for u in units if u.strip()) if u not in built]
    for unit in unbuilt:
        err.print(f"[yellow]{option} {said(unit)}: {said(why.format(unit=unit))}")
    return unbuilt


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


@ingest_app.command("air")
def ingest_air(
    locations: Annotated[
        list[str],
        typer.Argument(
            metavar="LOCATION",
            help="day files (china_sites_YYYYMMDD.csv[.gz]) and station lists: paths or URLs",
        ),
    ],
    force: Annotated[bool, _FORCE] = False,
    workers: Annotated[int | None, typer.Option(help="parser processes (default: one per core)")] = None,
    accept_shrink: Annotated[bool, _ACCEPT_SHRINK] = False,
    accept_shrink_of: Annotated[list[str] | None, _ACCEPT_SHRINK_OF] = None,
) -> None:
    """National air-quality day files: raw zone → station-hours → AQI → quality gate → lake.

    A newer day file with more than a tenth fewer station-hours than the published day is held back
    (blocked; the published day stays) unless `--accept-shrink` (or `--accept-shrink-of` the day) is given.
    """
    from ecocloud.builds import air

    _ingest(
        "air",
        lambda s, led: air.land(s, led, locations),
        force=force,
        command="ecocloud ingest air",
        workers=workers,
        accept_shrink=accept_shrink,
        accept_shrink_of=accept_shrink_of,
    )


@ingest_app.command("water")
def ingest_water(
    locations: Annotated[
        list[str],
        typer.Argument(
            metavar="LOCATION",
            help="saved replies of the surface-water board (JSON pages) or board URLs (every page)",
        ),
    ],
    sections: Annotated[
        str | None,
        typer.Option(help="section registry CSV (default: ECOCLOUD_WATER_SECTIONS_CSV; none: rivers, III)"),
    ] = None,
    fetched_at: Annotated[
        str | None,
        typer.Option(
            help="when saved pages were fetched, ISO 8601 (Beijing when no offset): gives the year of MM-DD "
            "readings; default: a YYYYMMDD in the file name, else now"
        ),
    ] = None,
    force: Annotated[bool, _FORCE] = False,
) -> None:
    """Surface-water board replies: raw zone → typed readings → GB 3838 class → quality gate → lake."""
    from ecocloud.builds import water

    when = None
    if fetched_at:
        try:
            when = dt.datetime.fromisoformat(fetched_at)
        except ValueError as exc:
            err.print(f"[red]--fetched-at {said(repr(fetched_at))} is not ISO 8601")
            raise typer.Exit(2) from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))

    def land(settings: Settings, led: Any) -> list[Any]:
        registry = water.land_registry(settings, led, Path(sections) if sections else None)
        pages = [
            p
            for snap in water.land(settings, led, locations, fetched_at=when)
            if snap.new
            for p in snap.pages
        ]
        return ([registry] if registry else []) + pages

    _ingest("water", land, force=force, command="ecocloud ingest water")


@ingest_app.command("permits")
def ingest_permits(
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="SOURCE",
            help="the permit API base URL (default: ECOCLOUD_PERMITS_BASE_URL), or saved reply pages: JSON "
            "files or folders of them (carried across an air gap)",
        ),
    ] = None,
    full: Annotated[
        bool, typer.Option(help="ask the API for every record, not only those updated since")
    ] = False,
    force: Annotated[bool, _FORCE] = False,
) -> None:
    """Discharge permits: API pages → raw zone → permit versions with history, outlets, limits → gate → lake."""
    from ecocloud.builds import permits

    def land(settings: Settings, led: Any) -> list[Any]:
        given = sources or []
        urls = [s for s in given if s.startswith(("http://", "https://"))]
        paths = [s for s in given if s not in urls]
        landed = permits.land_saved_pages(settings, led, paths) if paths else []
        targets: list[str | None] = list(urls) or ([] if paths else [None])  # None: the configured API
        for url in targets:
            fetched = permits.fetch(settings, led, base_url=url, full=full)
            since = fetched.updated_since.isoformat() if fetched.updated_since else "(everything)"
            console.print(
                f"{fetched.url}: updated_since {since} — {fetched.records} records in {fetched.pages} pages, "
                f"{len(fetched.landed)} with something new",
                markup=False,
            )
            landed += fetched.landed
        return landed

    _ingest("permit", land, force=force, command="ecocloud ingest permits")


@ingest_app.command("credit")
def ingest_credit(
    locations: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="LOCATION",
            help="result files (.xlsx/.csv), drop folders or listing URLs (default: ECOCLOUD_CREDIT_BASE_URL)",
        ),
    ] = None,
    province: Annotated[
        str | None, typer.Option(help="province (jiangxi, 360000, 江西省) when the file name does not say")
    ] = None,
    year: Annotated[int | None, typer.Option(help="evaluation year when the file does not say")] = None,
    force: Annotated[bool, _FORCE] = False,
) -> None:
    """Enterprise environmental credit results (XLSX/CSV): raw zone → ratings by scheme → gate → lake."""
    from ecocloud.builds import credit

    _ingest(
        "credit",
        lambda s, led: credit.land(s, led, locations, province=province, year=year),
        force=force,
        command="ecocloud ingest credit",
    )


@ingest_app.command("master")
def ingest_master(
    locations: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="LOCATION", help="registry CSVs (enterprises, monitoring points), folders or listing URLs"
        ),
    ] = None,
    force: Annotated[bool, _FORCE] = False,
) -> None:
    """The master-data registries (versioned), then the join-quality report (see: ecocloud quality)."""
    from ecocloud.builds import master

    _ingest(
        "master", lambda s, led: master.land(s, led, locations), force=force, command="ecocloud ingest master"
    )


@ingest_app.command("hj212")
def ingest_hj212(
    files: Annotated[
        list[str],
        typer.Argument(
            metavar="FILE", help="HJ 212 capture files (one packet per line, .gz allowed) or folders of them"
        ),
    ],
    force: Annotated[bool, _FORCE] = False,
    workers: Annotated[int | None, typer.Option(help="parser processes (default: one per core)")] = None,
) -> None:
    """HJ 212 packet captures: raw zone → packets, readings, quarantine → quality gate → marts."""
    from ecocloud.builds import sources

    _ingest(
        "source",
        lambda s, led: sources.land_captures(s, led, files),
        force=force,
        command="ecocloud ingest hj212",
        workers=workers,
    )


def run(
    spec: Annotated[
        str,
        typer.Argument(
            metavar="SPEC", help="source spec or DAG id: air, water, source (pollution_sources) …"
        ),
    ],
    build: Annotated[list[str] | None, typer.Option(help="only these builds (repeat the option)")] = None,
    land: Annotated[
        bool,
        typer.Option(
            help="run the spec's landing step first (fetch the current interval, register segments)"
        ),
    ] = True,
    force: Annotated[bool, _FORCE] = False,
    rebuild: Annotated[
        list[str] | None,
        typer.Option(
            "--rebuild",
            metavar="UNIT",
            help="rebuild this unit of every build even when current (its key as the report shows it, e.g. "
            "a date: --force for one day; what depends on it follows); repeat the option for more",
        ),
    ] = None,
    accept_shrink: Annotated[bool, _ACCEPT_SHRINK] = False,
    accept_shrink_of: Annotated[list[str] | None, _ACCEPT_SHRINK_OF] = None,
) -> None:
    """Run a source spec now: its landing step, then every pending unit of its builds.

    E.g. `ecocloud run pollution_sources` ingests every closed receiver segment not yet ingested;
    `ecocloud run air --no-land --rebuild 2026-12-05` rebuilds that day from the raw zone.
    """
    from ecocloud.runner import engine
    from ecocloud.specs import UnknownSpec, get_spec

    try:
        chosen = get_spec(spec)
    except UnknownSpec as exc:
        err.print(f"[red]{said(exc)}")
        raise typer.Exit(2) from exc

    def do_land(settings: Settings, led: Any) -> list[Any]:
        if not land or chosen.land is None:
            return []
        now = dt.datetime.now(dt.UTC)
        return engine.land_scheduled(settings, led, chosen, now - dt.timedelta(hours=1), now)

    if build:
        unknown = [b for b in build if b not in [x.name for x in chosen.builds]]
        if unknown:
            err.print(
                f"[red]{chosen.name} has no build {said(unknown)}; builds: {said([x.name for x in chosen.builds])}"
            )
            raise typer.Exit(2)
    _ingest(
        chosen.name,
        do_land,
        force=force,
        command=f"ecocloud run {chosen.name}",
        builds=build,
        accept_shrink=accept_shrink,
        accept_shrink_of=accept_shrink_of,
        rebuild=rebuild,
        landing=land,
    )
