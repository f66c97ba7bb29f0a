"""Surface-water steps: board snapshots, section readings per day, the section dimension, months.

* ``Snapshots`` (Publish.PART): one unit per landed snapshot (every page of the board as fetched at
  one moment, or saved reply pages): its untypeable rows go to ``quarantine_water__section_readings``
  (a part per snapshot); its counts (rows in = typed + quarantined) and the Beijing dates of its
  readings are what ``Readings`` plans from.
* ``Readings`` (Publish.PARTITION): a day, rebuilt whole from every snapshot holding readings of it
  (a reading seen in several snapshots is kept once, from the newest), joined with the section
  registry in force and classified (GB 3838).
* ``Sections`` (whole) and ``Monthly`` (a month: section classes and the basin roll-up).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ecocloud.builds import http_session, page_cap
from ecocloud.runner.context import StepContext, parquet_sql
from ecocloud.runner.report import FAILED, PUBLISHED
from ecocloud.runner.units import TABLE, Output, Unit
from ecocloud.settings import Settings
from ingest.raw import read_raw
from ingest.water.fetch import (
    MAX_PAGES,
    SECTIONS_NAME,
    SOURCE,
    Snapshot,
    fetch_board,
    land_file,
    land_sections,
    load_snapshot,
    snapshots,
)
from ingest.water.parse import WaterReplyError, parse_page, quarantine_rows
from ingest.water.sections import SectionRegistryError, empty_registry, parse_sections_csv
from schemas import water as schema
from schemas.clock import BEIJING
from transforms.arrow_sql import query_arrow
from transforms.water_class import attach_sections, basin_monthly, classify, section_monthly
from warehouse.ledger import Ledger, RawObject

log = logging.getLogger(__name__)


# -- landing ------------------------------------------------------------------------------------
def land_registry(settings: Settings, ledger: Ledger, path: Path | None = None) -> RawObject | None:
    """Land the section registry (``path``, else ``settings.water_sections_csv``) when it changed."""
    path = path or settings.water_sections_csv
    if path is None:
        return None
    parse_sections_csv(Path(path).expanduser().read_bytes())  # refuse a broken registry here, loudly
    return land_sections(settings.lake_store, ledger, Path(path))


def land(
    settings: Settings, ledger: Ledger, locations: Sequence[str], *, fetched_at: dt.datetime | None = None
) -> list[Snapshot]:
    """Land boards (http(s) URLs: every page) and saved reply pages (paths), one snapshot each.

    ``fetched_at`` (aware) stands for the receipt clock: of a saved page, when it was fetched; of a
    board, the now its Last-Modified is checked against (a simulated board runs on its own clock).
    """
    session = http_session(settings)
    out = []
    for loc in locations:
        if loc.startswith(("http://", "https://")):
            base = loc.split("?", 1)[0]
            base = base.rsplit("/", 1)[0] if base.endswith(".ashx") else base
            pages = page_cap(settings, MAX_PAGES)
            out.append(
                fetch_board(
                    settings.lake_store,
                    ledger,
                    base,
                    session=session,
                    timeout_s=settings.http_timeout_s,
                    max_pages=pages,
                    now=fetched_at,
                )
            )
        else:
            out.append(land_file(settings.lake_store, ledger, Path(loc), fetched_at=fetched_at))
    return out


def land_interval(settings: Settings, ledger: Ledger, *_interval: dt.datetime) -> list[RawObject]:
    """A scheduled run: the registry when it changed, and every page of the board as it is now.

    A refused registry is landed as it is (the sections build names it in its warnings) and the one
    before it stays in force: failing here would skip the board, which keeps no history. So does one
    that cannot be read (the file gone, a lost mount): the task log says why."""
    try:
        registry = land_registry(settings, ledger)
    except SectionRegistryError as exc:
        log.warning("water: %s\nthe registry landed before it stays in force", exc)
        assert settings.water_sections_csv is not None  # land_registry read it
        registry = land_sections(settings.lake_store, ledger, Path(settings.water_sections_csv))
    except OSError as exc:
        log.warning("water: section registry not read (%s); the registry landed before stays in force", exc)
        registry = None
    snap = land(settings, ledger, [settings.water_base_url])[0]
    return ([registry] if registry else []) + (list(snap.pages) if snap.new else [])


def registry_versions(ctx: StepContext) -> tuple[RawObject | None, list[tuple[RawObject, str]]]:
    """The newest landed registry that parses, and the newer ones refused (with why)."""
    refused: list[tuple[RawObject, str]] = []
    for obj in ctx.ledger.raw_versions(SOURCE, SECTIONS_NAME, newest_first=True):
        try:
            parse_sections_csv(read_raw(ctx.lake, obj))
        except SectionRegistryError as exc:
            refused.append((obj, str(exc)))
            continue
        return obj, refused
    return None, refused


def registry_in_force(ctx: StepContext) -> tuple[RawObject | None, pa.Table]:
    """The section registry in force (the newest landed that parses) and its raw object; empty when none."""
    obj, _ = registry_versions(ctx)
    return obj, parse_sections_csv(read_raw(ctx.lake, obj)) if obj else empty_registry()


# -- snapshots ----------------------------------------------------------------------------------
class Snapshots:
    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        for snap in snapshots(ctx.ledger):
            yield Unit(
                f"snapshot/{snap.snapshot_id}",
                tuple(ctx.raw_input(p) for p in snap.pages),
                size=sum(p.size for p in snap.pages),
                params=(("snapshot_id", snap.snapshot_id),),
            )

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        snap = load_snapshot(ctx.ledger, unit.param("snapshot_id"))
        parsed = parse_snapshot(ctx, snap)
        warnings = []
        if parsed.counts.get("inconsistent_pages"):
            warnings.append(f"snapshot {snap.snapshot_id}: pages disagree on total/records")
        if parsed.counts.get("unknown_headers"):
            warnings.append(
                f"snapshot {snap.snapshot_id}: unknown header items {parsed.counts['unknown_headers']}"
            )
        warnings += _incomplete(snap.snapshot_id, parsed.counts)
        counts = {**snap.record(), **parsed.counts}
        return Output({schema.quarantine.name: parsed.quarantine}, counts, warnings)


def _incomplete(snapshot_id: str, counts: dict[str, Any]) -> list[str]:
    """What a snapshot misses of the board: pages that were no usable reply (quarantined, one row
    each), rows fewer than the records the board declared (a page cap, the board shrinking)."""
    out = []
    if counts["pages_quarantined"]:
        out.append(
            f"snapshot {snapshot_id}: {counts['pages_quarantined']} page(s) not a usable reply, quarantined: "
            "their readings are missing"
        )
    declared = max(counts["records_declared"], default=0)
    if counts["rows_in"] < declared:
        out.append(
            f"snapshot {snapshot_id}: {counts['rows_in']} row(s) of the {declared} records the board declared"
        )
    return out


class _Parsed:
    def __init__(self, readings: pa.Table, quarantine: pa.Table, counts: dict[str, Any]) -> None:
        self.readings, self.quarantine, self.counts = readings, quarantine, counts


def parse_snapshot(ctx: StepContext, snap: Snapshot) -> _Parsed:
    """Every page of a snapshot typed; untypeable rows and pages quarantined; duplicates quarantined."""
    readings, quarantine = [], []
    counts: dict[str, Any] = dict.fromkeys(
        ("rows_in", "rows_typed", "rows_quarantined", "pages_quarantined", "values_qc_failed", "duplicates"),
        0,
    )
    counts["page_count"] = len(snap.pages)
    unknown: set[str] = set()
    declared: set[tuple[int, int]] = set()
    for i, obj in enumerate(snap.pages):
        page = snap.first_page + i
        try:
            parsed = parse_page(
                read_raw(ctx.lake, obj),
                raw_file=obj.raw_path,
                page=page,
                reference=snap.reference_at,
                snapshot_id=snap.snapshot_id,
                fetch_date=snap.fetch_date,
            )
        except WaterReplyError as exc:
            counts["pages_quarantined"] += 1
            quarantine.append(
                quarantine_rows(
                    [{"row_index": None, "reason": f"page not usable: {exc}"}],
                    fetch_date=snap.fetch_date,
                    snapshot_id=snap.snapshot_id,
                    raw_file=obj.raw_path,
                    page=page,
                )
            )
            continue
        declared.add((parsed.total, parsed.records))
        unknown.update(parsed.unknown_headers)
        readings.append(parsed.readings)
        quarantine.append(parsed.quarantine)
        for key in ("rows_in", "rows_typed", "rows_quarantined", "values_qc_failed"):
            counts[key] += parsed.counts[key]

    typed = pa.concat_tables(readings) if readings else None
    q = pa.concat_tables(quarantine) if quarantine else schema.quarantine.empty()
    if typed is not None and typed.num_rows:
        typed, dupes = _drop_duplicates(typed, snap)
        if dupes.num_rows:
            counts["duplicates"] = dupes.num_rows
            counts["rows_typed"] -= dupes.num_rows
            counts["rows_quarantined"] += dupes.num_rows
            q = pa.concat_tables([q, dupes])
    if typed is None:
        typed = schema.stage_readings.empty()
    counts["records_declared"] = sorted({r for _, r in declared})
    if len(declared) > 1:
        counts["inconsistent_pages"] = True  # the board changed while its pages were fetched
    if unknown:
        counts["unknown_headers"] = sorted(unknown)
    counts["dates"] = sorted({d.isoformat() for d in typed.column("date").to_pylist() if d is not None})
    return _Parsed(typed, schema.quarantine.conform(q), counts)


# Columns a duplicate is compared on: all but its location and its key.
_NOT_COMPARED = frozenset({"date", "page", "row_index", "section_id", "observed_at"})


def _drop_duplicates(typed: pa.Table, snap: Snapshot) -> tuple[pa.Table, pa.Table]:
    """Keep the first row of each (section_id, observed_at) in page order; quarantine the others.

    A duplicate whose values differ from the kept row's is quarantined as a *conflicting* duplicate
    with both values of each differing column, so a disagreement of the board with itself is seen,
    not read as a harmless repeat; the first row is still the one kept (the rule above).
    """
    window = "OVER (PARTITION BY section_id, observed_at ORDER BY page, row_index)"
    ranked = query_arrow(
        f"SELECT *, row_number() {window} AS _n, first_value(page) {window} AS _p, "
        f"first_value(row_index) {window} AS _r, "
        "count(*) OVER (PARTITION BY section_id, observed_at) AS _c "
        "FROM t ORDER BY page, row_index",
        t=typed,
    )
    first = pc.equal(ranked.column("_n"), 1)
    keep = ranked.filter(first).drop_columns(["_n", "_p", "_r", "_c"])
    dupes = ranked.filter(pc.invert(first))
    kept = {  # the kept row of each key that has duplicates, by its location
        (r["page"], r["row_index"]): r
        for r in ranked.filter(pc.and_(first, pc.greater(ranked.column("_c"), 1))).to_pylist()
    }
    compared = [c for c in typed.column_names if c not in _NOT_COMPARED]
    raw_of_page = {snap.first_page + i: o.raw_path for i, o in enumerate(snap.pages)}
    parts = []
    for page in sorted(set(dupes.column("page").to_pylist())):
        sub = dupes.filter(pc.equal(dupes.column("page"), page))
        rows = [
            {
                "row_index": r["row_index"],
                "province": r["province"],
                "basin": r["basin"],
                "section_name": r["section_name"],
                "column_name": "监测时间",
                "raw_value": r["observed_at"].astimezone(BEIJING).strftime("%m-%d %H:%M"),
                "reason": _duplicate_reason(r, kept[(r["_p"], r["_r"])], compared),
            }
            for r in sub.to_pylist()  # duplicates are rare: a handful per snapshot at most
        ]
        parts.append(
            quarantine_rows(
                rows,
                fetch_date=snap.fetch_date,
                snapshot_id=snap.snapshot_id,
                raw_file=raw_of_page[page],
                page=page,
            )
        )
    empty = schema.quarantine.empty()
    return keep, (pa.concat_tables(parts) if parts else empty)


def _duplicate_reason(row: dict[str, Any], kept: dict[str, Any], compared: Sequence[str]) -> str:
    where = f"page {kept['page']} row {kept['row_index']}"
    differ = [c for c in compared if row[c] != kept[c]]
    if not differ:
        return f"duplicate: same section and reading time as {where}"

    def show(v: Any) -> str:
        return "missing" if v is None else str(v)

    values = "; ".join(f"{c} {show(kept[c])} kept vs {show(row[c])} here" for c in differ)
    return (
        f"conflicting duplicate: same section and reading time as {where}, which is kept (the first in "
        f"page order), but different values: {values}"
    )


# -- readings per day ---------------------------------------------------------------------------
class Readings:
    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        parsed = {
            key.removeprefix("snapshot/"): state
            for key, state in ctx.ledger.unit_states("water.snapshots").items()
            # a snapshot that failed since keeps its published readings, and the counts naming their days
            if state.status in (PUBLISHED, FAILED)
        }
        by_day: dict[str, list[Snapshot]] = {}
        for snap in snapshots(ctx.ledger):
            state = parsed.get(snap.snapshot_id)
            for day in state.counts.get("dates", []) if state else []:
                by_day.setdefault(day, []).append(snap)
        registry, _ = registry_versions(ctx)
        extra = (ctx.raw_input(registry),) if registry else ()
        for day, snaps in sorted(by_day.items()):
            snaps.sort(key=lambda s: (s.reference_at, s.fetched_at, s.snapshot_id))
            inputs = tuple(ctx.raw_input(p) for s in snaps for p in s.pages) + extra
            ids = tuple(s.snapshot_id for s in snaps)
            yield Unit(day, inputs, partition=dt.date.fromisoformat(day), params=(("snapshots", ids),))

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        assert unit.partition is not None
        _, registry = registry_in_force(ctx)
        readings, counts = day_readings(ctx, unit.partition, list(unit.param("snapshots")), registry)
        n, same = _agreement(readings)
        counts |= {"class_compared": n, "class_agree": same}
        counts["class_agreement_pct"] = round(100.0 * same / n, 4) if n else None
        warnings = []
        if counts["sections_unlisted"]:
            warnings.append(
                f"{unit.key}: {counts['sections_unlisted']} section(s) not in the section registry: classified "
                "as rivers with target III"
            )
        return Output({schema.section_readings.name: readings}, counts, warnings)


def day_readings(
    ctx: StepContext, day: dt.date, snapshot_ids: list[str], registry: pa.Table
) -> tuple[pa.Table, dict[str, Any]]:
    """The day's readings from its snapshots (oldest first; the newest wins), classified."""
    parts = []
    for rank, sid in enumerate(snapshot_ids):
        typed = parse_snapshot(ctx, load_snapshot(ctx.ledger, sid)).readings
        typed = typed.filter(pc.equal(typed.column("date"), pa.scalar(day, pa.date32())))
        parts.append(typed.append_column("_rank", pa.array([rank] * typed.num_rows, pa.int32())))
    seen = pa.concat_tables(parts)
    rows_seen = seen.num_rows
    latest = query_arrow(
        "SELECT * EXCLUDE (_rank, page, row_index) FROM t "
        "QUALIFY row_number() OVER (PARTITION BY section_id, observed_at ORDER BY _rank DESC) = 1 "
        "ORDER BY section_id, observed_at",
        t=seen,
    )
    enriched = attach_sections(latest, registry)
    classes = classify(enriched)
    for name in classes.column_names:
        enriched = enriched.append_column(name, classes.column(name))
    counts = {
        "snapshots": len(snapshot_ids),
        "rows_seen": int(rows_seen),
        "readings": enriched.num_rows,
        "sections": len(pc.unique(enriched.column("section_id"))),
        "sections_unlisted": len(
            pc.unique(enriched.filter(pc.invert(enriched.column("section_listed"))).column("section_id"))
        ),
    }
    return schema.section_readings.conform(enriched), counts


def _agreement(readings: pa.Table) -> tuple[int, int]:
    both = pc.and_(
        pc.is_valid(readings.column("water_class")), pc.is_valid(readings.column("class_published"))
    )
    same = pc.and_(both, pc.equal(readings.column("water_class"), readings.column("class_published")))
    return int(pc.sum(both).as_py() or 0), int(pc.sum(pc.fill_null(same, False)).as_py() or 0)


# -- dimension and months -----------------------------------------------------------------------
class Sections:
    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        registry, refused = registry_versions(ctx)
        unit = ctx.dimension_unit(registry, schema.section_readings.name)
        if unit and refused:  # inputs too: the unit is built, and says why, when one is refused
            unit = replace(unit, inputs=(*unit.inputs, *(ctx.raw_input(r) for r, _ in refused)))
        yield from [unit] if unit else []

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        _, registry = registry_in_force(ctx)
        refused = [
            f"section registry {obj.raw_path} refused (the newest one that parses stays in force): {why}"
            for obj, why in registry_versions(ctx)[1]
        ]
        files = ctx.input_files(unit)
        con = ctx.connect()
        try:
            sections = build_sections(con, registry, files)
        finally:
            con.close()
        listed = sum(sections.column("listed").to_pylist())
        counts = {"sections": sections.num_rows, "listed": listed, "unlisted": sections.num_rows - listed}
        warnings = refused + (
            [f"{counts['unlisted']} section(s) seen in readings are not in the registry"]
            if counts["unlisted"]
            else []
        )
        return Output({schema.sections.name: sections}, counts, warnings)


def build_sections(con: duckdb.DuckDBPyConnection, registry: pa.Table, files: list[str]) -> pa.Table:
    """The section dimension: the registry plus every section seen in the published readings
    (``con`` reads the lake)."""
    con.register("reg", registry)
    seen_sql = (
        "SELECT NULL::VARCHAR AS section_id, NULL::VARCHAR AS province, NULL::VARCHAR AS basin, "
        "NULL::VARCHAR AS section_name, NULL::DATE AS first_seen, NULL::DATE AS last_seen WHERE false"
    )
    if files:
        seen_sql = (
            "SELECT section_id, arg_max(province, observed_at) AS province, arg_max(basin, observed_at) AS basin, "
            "arg_max(section_name, observed_at) AS section_name, min(date) AS first_seen, max(date) AS last_seen "
            f"FROM {parquet_sql(files)} GROUP BY section_id"
        )
    out = con.sql(
        f"""
            WITH seen AS ({seen_sql})
            SELECT section_id, r.section_code,
                   coalesce(r.province, s.province) AS province, coalesce(r.basin, s.basin) AS basin,
                   coalesce(r.section_name, s.section_name) AS section_name, r.water_body,
                   coalesce(r.section_type, 'river') AS section_type,
                   CAST(coalesce(r.target_class, 3) AS TINYINT) AS target_class,
                   r.region_code, r.longitude, r.latitude, r.section_id IS NOT NULL AS listed,
                   s.first_seen AS first_seen_date, s.last_seen AS last_seen_date
            FROM reg r FULL OUTER JOIN seen s USING (section_id)
            ORDER BY section_id
            """
    ).to_arrow_table()
    return schema.sections.conform(out)


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


class Monthly:
    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        registry, _ = registry_versions(ctx)
        extra = (ctx.raw_input(registry),) if registry else ()
        months: dict[dt.date, list[Any]] = {}
        for day, inp in ctx.table_inputs(schema.section_readings.name).items():
            assert day is not None
            months.setdefault(month_of(day), []).append(inp)
        for month, days in sorted(months.items()):
            inputs = tuple(sorted(days, key=lambda i: str(i.partition))) + extra
            yield Unit(f"{month:%Y-%m}", inputs, partition=month)

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        assert unit.partition is not None
        _, registry = registry_in_force(ctx)
        readings = ctx.read_inputs(unit, schema.section_readings.name)
        monthly = schema.section_monthly.conform(section_monthly(readings, registry, unit.partition))
        basins = schema.basin_monthly.conform(basin_monthly(monthly))
        days = sum(1 for i in unit.inputs if i.kind == TABLE)
        counts = {"days": days, "sections": monthly.num_rows, "basin_rows": basins.num_rows}
        return Output({schema.section_monthly.name: monthly, schema.basin_monthly.name: basins}, counts)
