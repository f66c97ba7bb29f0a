"""Ambient air steps: landing the release, station-hours per day, the station dimension, daily marts.

Units: a Beijing day for ``hourly`` and ``daily`` (the day's partition, rebuilt whole from the
newest raw day file), the whole table for ``stations``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from ecocloud.builds import http_session
from ecocloud.builds.air_stage import DAY_BEFORE_DIGEST, Refused, parse_and_score
from ecocloud.runner.context import StepContext, parquet_sql
from ecocloud.runner.units import RAW, Input, Output, Unit
from ecocloud.settings import Settings
from ingest.air.fetch import (
    SOURCE,
    STATION_LIST_NAME,
    check_local,
    day_file_name,
    land_location,
    logical_name,
    raw_bytes,
)
from ingest.air.parse import DAY_FILE_RE, AirFileError, StationList, date_from_name, parse_station_list
from ingest.http import FetchError, NotPublished
from schemas import air as schema
from schemas.clock import BEIJING
from transforms.air_daily import HOURLY_COLUMNS, city_daily_ranking, day_hours, station_daily
from warehouse.ledger import Ledger, RawObject, UnitState

log = logging.getLogger(__name__)

_LANDING_THREADS = 4  # local day files landed at once
_NAMED_IN_A_WARNING = 5  # set-aside rows a warning names; the unit's counts hold them all


# -- landing ------------------------------------------------------------------------------------
def land(settings: Settings, ledger: Ledger, locations: Sequence[str]) -> list[RawObject]:
    """Land day files and station lists given as paths or http(s) URLs (conditional GET); returns
    the raw objects landed now (not a URL that answered 304, nor bytes landed before that stay where
    they are).

    Local files are landed a few at a time (reading, hashing and the fsync of one overlap the
    others'), but the versions of one file (one day's files; every other file, each perhaps a station
    list) one after another in the order given, each stamped received in that order: where the same
    day file is named twice the later wins, whatever the threads do (``land_version`` reads the
    versions landed so far)."""
    for loc in locations:  # every local file checked before any lands: a refused command lands nothing
        if not loc.startswith(("http://", "https://")):
            check_local(loc)
    session = http_session(settings)
    start = dt.datetime.now(dt.UTC)

    def land_one(i: int) -> RawObject | None:
        loc = locations[i]
        return land_location(
            settings.lake_store,
            ledger,
            loc,
            session=session,
            timeout_s=settings.http_timeout_s,
            received_at=start + dt.timedelta(microseconds=i),
        )

    urls = [i for i, loc in enumerate(locations) if loc.startswith(("http://", "https://"))]
    local = sorted(set(range(len(locations))) - set(urls))
    by_file: dict[str, list[int]] = {}
    for i in local:
        name = Path(locations[i]).name
        by_file.setdefault(logical_name(name) if date_from_name(name) else "", []).append(i)

    def land_versions(indices: list[int]) -> list[tuple[int, RawObject | None]]:
        return [(i, land_one(i)) for i in indices]

    landed: dict[int, RawObject | None] = {}
    with ThreadPoolExecutor(_LANDING_THREADS) as pool:
        for pairs in pool.map(land_versions, by_file.values()):
            landed.update(pairs)
    landed |= {i: land_one(i) for i in urls}  # one session, one request at a time
    return [obj for _, obj in sorted(landed.items()) if obj is not None]


def land_interval(
    settings: Settings, ledger: Ledger, start: dt.datetime, end: dt.datetime
) -> list[RawObject]:
    """A scheduled run: the day file(s) covering [start, end) and the station list, then the days
    before (``catch_up_days``). Runs skip intervals (catchup off, the scheduler away, a run queued
    past midnight), and a day file grows until its last hour is published: landing only the run's
    own day lost the end of the day before, for good. A day the upstream does not have yet (the
    run's own just after midnight, while the release lags) or any more is a warning; one that fails
    otherwise fails the run once the rest has landed (the next run asks for it again)."""
    base = settings.air_base_url.rstrip("/")
    days = release_days(start, end)
    landed = land(settings, ledger, [f"{base}/{STATION_LIST_NAME}"])
    failed: list[str] = []

    def land_day(day: dt.date) -> None:
        try:
            landed.extend(land(settings, ledger, [f"{base}/{day_file_name(day)}"]))
        except NotPublished as exc:
            log.warning("air: %s (not landed)", exc)
        except FetchError as exc:
            failed.append(str(exc))

    for day in days:
        land_day(day)
    for day in catch_up_days(ledger, days[0], settings.air_catch_up_days):  # after: it reads the ledger
        land_day(day)
    if failed:
        raise FetchError(f"{len(landed)} file(s) landed, but days failed: " + "; ".join(failed))
    return landed


def catch_up_days(ledger: Ledger, first: dt.date, most: int) -> list[dt.date]:
    """The days before ``first`` a scheduled run asks for again: the ``most`` days before it (each a
    conditional GET: a file unchanged costs a 304), but none before the oldest day ever landed (the
    day before, on a home without any). Days older than that with no file landed at all are named in
    a warning, with how to land them."""
    files = newest_day_files(ledger)
    yesterday = first - dt.timedelta(days=1)
    if not files:
        return [yesterday]
    oldest = first - dt.timedelta(days=most)
    since = min(max(min(files), oldest), yesterday)
    never = [d for d in _days(min(files), oldest) if d not in files]
    if never:
        log.warning(
            "air: no day file landed for %d day(s) from %s to %s, older than ECOCLOUD_AIR_CATCH_UP_DAYS=%d: "
            "land them with `ecocloud ingest air <their URLs>`",
            len(never),
            never[0],
            never[-1],
            most,
        )
    return _days(since, first)


def _days(start: dt.date, stop: dt.date) -> list[dt.date]:
    """The days from ``start`` up to, not including, ``stop``."""
    return [start + dt.timedelta(days=i) for i in range((stop - start).days)]


def release_days(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    """The day files holding the hours of [start, end): the release stamps an hour by its end, so
    23:00–24:00 is hour 0 of the next day's file."""

    def file_of(hour_start: dt.datetime) -> dt.date:
        beijing = hour_start.astimezone(BEIJING).replace(minute=0, second=0, microsecond=0)
        return (beijing + dt.timedelta(hours=1)).date()

    last = file_of(max(start, end - dt.timedelta(microseconds=1)))
    return _days(file_of(start), last + dt.timedelta(days=1))


def newest_day_files(ledger: Ledger) -> dict[dt.date, RawObject]:
    """The newest raw object of every day file (a day file grows during its day)."""
    newest: dict[dt.date, RawObject] = {}
    for obj in ledger.raw_objects(SOURCE):  # received order: later ones win
        if obj.partition and DAY_FILE_RE.search(obj.logical_name):
            newest[dt.date.fromisoformat(obj.partition)] = obj
    return newest


_parsed_lists: dict[str, StationList | AirFileError] = {}  # raw path → the list or why it is refused


def _parsed_list(ctx: StepContext, raw_path: str) -> StationList | AirFileError:
    """A station list version, parsed once per process (raw objects never change)."""
    if raw_path not in _parsed_lists:
        if len(_parsed_lists) > 4:
            _parsed_lists.clear()
        try:
            _parsed_lists[raw_path] = parse_station_list(raw_bytes(ctx.lake, raw_path))
        except AirFileError as exc:
            _parsed_lists[raw_path] = exc
    return _parsed_lists[raw_path]


def _station_list_in_use(ctx: StepContext) -> tuple[RawObject | None, list[RawObject]]:
    """The newest station list that can be read, and the newer ones that cannot: a refused list (a
    quote that never closes …) leaves the one before it in use, as a refused registry snapshot does,
    instead of failing every day's ranking until upstream sends a good one."""
    refused: list[RawObject] = []
    for obj in ctx.ledger.raw_versions(SOURCE, STATION_LIST_NAME, newest_first=True):
        if not isinstance(_parsed_list(ctx, obj.raw_path), AirFileError):
            return obj, refused
        refused.append(obj)
    return None, refused


def _planned_station_list(ctx: StepContext, unit: Unit) -> tuple[str | None, StationList]:
    """The station list the unit was planned with (its first raw input: the version its
    fingerprint names) and its raw path; an empty list and None when none had landed."""
    raw_paths = [i.id for i in unit.inputs if i.kind == RAW]
    if not raw_paths:
        return None, StationList(schema.station_list.empty(), rows_in=0)
    parsed = _parsed_list(ctx, raw_paths[0])
    if isinstance(parsed, AirFileError):
        raise parsed  # planned with it, refused since (the plan only picks lists that parse)
    return raw_paths[0], parsed


def _set_aside_warnings(raw_path: str | None, listed: StationList) -> list[str]:
    """What the station list set aside that is worth a look: rows without a code, and repeats of a
    code that contradict its first row (an identical repeat is only counted)."""
    warnings = []
    if without_code := listed.lines_without_code:
        lines = _named([str(n) for n in without_code], ", ")
        warnings.append(
            f"station list {raw_path}: {len(without_code)} row(s) without a station code set aside, "
            f"line(s) {lines}"
        )
    if contradicting := listed.contradicting:
        repeats = _named(
            [
                f"{r.code} at line {r.line} differs from line {r.kept_line} in {', '.join(r.differs)}"
                for r in contradicting
            ],
            "; ",
        )
        warnings.append(
            f"station list {raw_path}: {len(contradicting)} row(s) repeat a station code with other "
            f"values, set aside for the code's first row: {repeats}"
        )
    return warnings


def _named(items: list[str], separator: str) -> str:
    """The first few items, and how many more there are."""
    more = len(items) - _NAMED_IN_A_WARNING
    return separator.join(items[:_NAMED_IN_A_WARNING]) + (f" and {more} more" if more > 0 else "")


# -- builds -------------------------------------------------------------------------------------
class Hourly:
    """core_air__station_hourly (+ quarantine) of one day, from its newest day file."""

    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        for day, obj in sorted(newest_day_files(ctx.ledger).items()):
            yield Unit(day.isoformat(), (ctx.raw_input(obj),), partition=day, size=obj.size)

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        assert unit.partition is not None
        raw_path = unit.inputs[0].id
        parsed = parse_and_score(ctx.lake, raw_path, unit.partition)
        if isinstance(parsed, Refused):
            # Nothing in the file can be placed: quarantined whole; the published day stays as it was.
            why = parsed.detail
            quarantine = schema.quarantine.from_rows(
                [
                    {
                        "date": unit.partition,
                        "raw_file": raw_path,
                        "line_no": 1,
                        "reason": parsed.reason,
                        "detail": why,
                    }
                ]
            )
            return Output(
                {
                    schema.station_hourly.name: schema.station_hourly.empty(),
                    schema.quarantine.name: quarantine,
                },
                {"error": why},
                blocking=[why if why.startswith(raw_path) else f"{raw_path}: {why}"],
            )
        return Output(
            {schema.station_hourly.name: parsed.hourly, schema.quarantine.name: parsed.quarantine},
            parsed.counts,
        )


class Stations:
    """core_air__stations: the newest station list plus every station seen in the lake."""

    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        listed, refused = _station_list_in_use(ctx)
        unit = ctx.dimension_unit(listed, schema.station_hourly.name)
        if unit and listed and refused:  # inputs too: the unit is built, and says why, when one is refused
            unit = replace(unit, inputs=(*unit.inputs, *(ctx.raw_input(r) for r in refused)))
        yield from [unit] if unit else []

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        list_path, listed = _planned_station_list(ctx, unit)
        refused = [
            f"station list {i.id} refused, the one before it used: {parsed}"
            for i in unit.inputs[1:]
            if i.kind == RAW and isinstance(parsed := _parsed_list(ctx, i.id), AirFileError)
        ]
        files = ctx.input_files(unit)
        # a position outside the registry's bounds (the list's placeholders, swapped pairs) is none
        lon, lat = schema.stations.column("longitude"), schema.stations.column("latitude")
        con = ctx.connect()
        try:
            con.register("listed", listed.table)
            seen_sql = (
                "SELECT station_code, min(date) AS first_seen, max(date) AS last_seen "
                f"FROM {parquet_sql(files)} GROUP BY ALL"
                if files
                else "SELECT NULL::VARCHAR AS station_code, NULL::DATE AS first_seen, NULL::DATE AS last_seen "
                "WHERE false"
            )
            stations = con.sql(
                f"""
                WITH seen AS ({seen_sql})
                SELECT coalesce(l.station_code, s.station_code) AS station_code, l.station_name, l.city,
                       CASE WHEN l.longitude BETWEEN {lon.min} AND {lon.max} THEN l.longitude END AS longitude,
                       CASE WHEN l.latitude BETWEEN {lat.min} AND {lat.max} THEN l.latitude END AS latitude,
                       l.is_control_point, l.station_code IS NOT NULL AS listed,
                       s.first_seen AS first_seen_date, s.last_seen AS last_seen_date
                FROM listed l FULL OUTER JOIN seen s USING (station_code)
                ORDER BY station_code
                """
            ).to_arrow_table()
        finally:
            con.close()
        unlisted = stations.num_rows - sum(stations.column("listed").to_pylist())
        warnings = [f"{unlisted} station(s) in the data are not in the station list"] if unlisted else []
        list_counts = {f"list_{name}": n for name, n in listed.counts.items()}
        return Output(
            {schema.stations.name: stations},
            {"stations": stations.num_rows, "unlisted": unlisted, **list_counts},
            [*refused, *_set_aside_warnings(list_path, listed), *warnings],
        )


def _day_before_part(following: Input | None, built: dict[str, UnitState]) -> Input | None:
    """The next day's station-hours as an input of a day, versioned by what they hold of that day
    (their hour 0) as the unit that published them says: today's file grows every hour, and
    yesterday is built again only when its hour 0 changes — not when the next day's unit is held
    back or fails (its published parts, and their digest, stay). Else by the partition's version."""
    if following is None or following.partition is None:
        return following
    state = built.get(following.partition.isoformat())
    published = state.published_counts if state is not None else None
    digest = published.get(DAY_BEFORE_DIGEST) if published else None
    return replace(following, version=f"day-before {digest}") if digest else following


class Daily:
    """core_air__station_daily and mart_air__city_daily_ranking of one day: its natural day's hours are
    in its own day file's station-hours and, for the hour ending 24:00, the next day's (the release
    labels an hour by its end), so the next day's partition is an input too, once it is published."""

    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        listed, _ = _station_list_in_use(ctx)
        extra = (ctx.raw_input(listed),) if listed else ()
        hourly = ctx.table_inputs(schema.station_hourly.name)
        built = ctx.ledger.unit_states(ctx.build.rsplit(".", 1)[0] + ".hourly")  # this spec's hourly build
        for day in sorted(d for d in hourly if d is not None):
            following = _day_before_part(hourly.get(day + dt.timedelta(days=1)), built)
            inputs = (hourly[day], following) if following else (hourly[day],)
            yield Unit(day.isoformat(), (*inputs, *extra), partition=day)

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        assert unit.partition is not None
        read = ctx.read_inputs(unit, schema.station_hourly.name, columns=HOURLY_COLUMNS)
        daily = schema.station_daily.conform(station_daily(day_hours(read, unit.partition)))
        _, listed = _planned_station_list(ctx, unit)
        ranking = city_daily_ranking(daily, listed.table)
        warnings = []
        if ranking.num_rows == 0:
            why = (
                "no station list landed yet"
                if listed.table.num_rows == 0
                else "no listed city has valid statistics"
            )
            warnings.append(f"{unit.key}: city ranking is empty ({why})")
        # a city without all six indicators valid has a row but no rank: it is not counted as ranked
        ranked = ranking.num_rows - ranking.column("rank").null_count
        counts = {"stations": daily.num_rows, "cities_ranked": ranked}
        return Output(
            {schema.station_daily.name: daily, schema.city_daily_ranking.name: ranking}, counts, warnings
        )
