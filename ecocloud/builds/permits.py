"""Discharge-permit steps: landing API pages (or saved reply pages), rebuilding the permit tables.

``land`` asks the permit API for records updated since the newest published one (minus a look-back
for late commits) and lands each page that holds something not yet published; saved reply pages
(a folder of the API's JSON pages, carried across an air gap) land the same way. ``Permits``
rebuilds the three core tables whole from every landed page: the newest copy of each (permit,
version) wins, the versions of a permit become its history (``transforms.permits``), and the set
is gated and published together.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ecocloud.builds import http_session
from ecocloud.runner.context import StepContext, read_published
from ecocloud.runner.units import Output, Unit
from ecocloud.settings import Settings
from ingest.permits.fetch import DEFAULT_PAGE_SIZE, SOURCE, fetch_pages, land_page, record_key
from ingest.permits.parse import PermitPageError, page_quarantine, parse_page
from ingest.raw import land_bytes, read_raw
from schemas import permits as schema
from schemas.clock import BEIJING
from transforms.arrow_sql import query_arrow
from transforms.identifiers import (
    canonical_region_code_array,
    normalize_name_array,
    permit_no_valid_array,
    with_uscc_flags,
)
from transforms.permits import attach_history, permit_history
from warehouse.fs import LakeLike
from warehouse.ledger import Ledger, RawObject

# Re-ask for this much before the newest published update: an upstream commit that lands late with
# an earlier updatedAt is still picked up. Pages holding nothing new are not landed.
LOOKBACK = dt.timedelta(days=1)


@dataclass
class FetchReport:
    url: str
    updated_since: dt.datetime | None
    pages: int = 0
    records: int = 0
    landed: list[RawObject] = field(default_factory=list)  # pages with something new


def published_versions(lake: LakeLike, ledger: Ledger) -> dict[tuple[str, int], dt.datetime]:
    """(permit_no, version) → updated_at of every published version."""
    t = read_published(lake, ledger, schema.permits.name).select(["permit_no", "version", "updated_at"])
    return {
        (p, v): u
        for p, v, u in zip(
            t.column("permit_no").to_pylist(),
            t.column("version").to_pylist(),
            t.column("updated_at").to_pylist(),
            strict=True,
        )
    }


def fetch(
    settings: Settings, ledger: Ledger, *, base_url: str | None = None, full: bool = False
) -> FetchReport:
    """Land the API pages updated since the last published version (all of them when ``full``)."""
    url = (base_url or settings.permits_base_url).rstrip("/")
    known = published_versions(settings.lake_store, ledger)
    since = None if full or not known else max(known.values()) - LOOKBACK
    session = http_session(settings)
    pages = fetch_pages(
        session, url, updated_since=since, page_size=DEFAULT_PAGE_SIZE, timeout_s=settings.http_timeout_s
    )
    report = FetchReport(url, since, pages=len(pages), records=sum(len(p.records) for p in pages))
    fetched_at = dt.datetime.now(dt.UTC)
    landed = {o.sha256 for o in ledger.raw_objects(SOURCE)}
    for page in pages:
        keys = [record_key(r) if isinstance(r, dict) else None for r in page.records]
        if all(k is not None and known.get((k[0], k[1])) == k[2] for k in keys):
            continue  # nothing new on this page (the look-back window, an empty listing)
        if hashlib.sha256(page.content).hexdigest() in landed:
            continue  # landed before: what is not published of it (quarantined records) stays so
        report.landed.append(land_page(settings.lake_store, ledger, page, fetched_at=fetched_at))
    return report


def land_interval(settings: Settings, ledger: Ledger, *_interval: dt.datetime) -> list[RawObject]:
    """A scheduled run: the pages updated since the newest published version."""
    return fetch(settings, ledger).landed


def land_saved_pages(settings: Settings, ledger: Ledger, locations: Sequence[str]) -> list[RawObject]:
    """Saved reply pages (JSON files, or folders of them) landed as they are; a page whose bytes were
    landed before is not landed again."""
    files: list[Path] = []
    for loc in locations:
        path = Path(loc).expanduser()
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".json")
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    received = dt.datetime.now(dt.UTC)
    landed = {o.sha256 for o in ledger.raw_objects(SOURCE)}
    out = []
    for f in files:
        data = f.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if sha in landed:
            continue  # a page landed before (fetched or saved, or given twice): as in ``fetch``
        landed.add(sha)
        out.append(
            land_bytes(
                settings.lake_store,
                ledger,
                source=SOURCE,
                logical_name=f.name,
                partition=received.astimezone(BEIJING).date(),
                data=data,
                origin=str(f.resolve()),
                received_at=received,
            )
        )
    return out


class Permits:
    """core_permit__permits, __outlets, __outlet_limits (+ quarantine), whole, from every page."""

    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        objs = ctx.ledger.raw_objects(SOURCE)
        if objs:
            yield Unit("all", tuple(ctx.raw_input(o) for o in objs), size=sum(o.size for o in objs))

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        versions, outlets, limits, quarantine, counts, warnings = _stage(ctx)
        history = typed_versions(versions)
        permits_t = schema.permits.conform(history.drop_columns(["record"]))
        outlets_t = schema.outlets.conform(attach_history(outlets.drop_columns(["record"]), history))
        limits_t = schema.outlet_limits.conform(attach_history(limits.drop_columns(["record"]), history))
        quarantine_t = schema.quarantine.conform(quarantine)
        current = permits_t.filter(permits_t.column("is_current"))
        counts |= {
            "permits": current.num_rows,
            "in_force_now": _in_force_now(permits_t),
            "revoked": pc.sum(pc.equal(current.column("status"), "revoked")).as_py() or 0,
            "cancelled": pc.sum(pc.equal(current.column("status"), "cancelled")).as_py() or 0,
            "uscc_invalid": pc.sum(pc.invert(current.column("uscc_valid"))).as_py() or 0,
            "outlets": outlets_t.num_rows,
            "limits": limits_t.num_rows,
            "quarantined": quarantine_t.num_rows,
        }
        tables = {
            schema.permits.name: permits_t,
            schema.outlets.name: outlets_t,
            schema.outlet_limits.name: limits_t,
            schema.quarantine.name: quarantine_t,
        }
        return Output(tables, counts, warnings)


def _stage(ctx: StepContext) -> tuple[pa.Table, pa.Table, pa.Table, pa.Table, dict[str, Any], list[str]]:
    """Every landed page parsed; the newest copy of each (permit, version) kept with its outlets and
    limits; the warnings: pages no readable copy replaced."""
    received_type = pa.timestamp("us", "UTC")
    versions = [schema.stage_versions.empty().append_column("received_at", pa.array([], received_type))]
    outlets, limits = [schema.stage_outlets.empty()], [schema.stage_limits.empty()]
    quarantine = [_with_records(schema.quarantine.empty(), [])]
    counts: dict[str, Any] = {"pages": 0, "records_read": 0}
    unreadable: dict[str, str | None] = {}  # page name → why its newest copy is unreadable (None: it reads)
    for obj in ctx.ledger.raw_objects(SOURCE):
        counts["pages"] += 1
        try:
            page = parse_page(read_raw(ctx.lake, obj), raw_file=obj.raw_path)
        except PermitPageError as exc:
            quarantine.append(_with_records(page_quarantine(obj.raw_path, str(exc)), []))
            unreadable[obj.logical_name] = f"{obj.raw_path}: {exc}"
            continue
        unreadable[obj.logical_name] = None
        counts["records_read"] += page.counts["records"]
        received = dt.datetime.fromisoformat(obj.received_at)
        versions.append(
            page.versions.append_column(
                "received_at", pa.array([received] * page.versions.num_rows, received_type)
            )
        )
        outlets.append(page.outlets)
        limits.append(page.limits)
        quarantine.append(_with_records(page.quarantine, page.record_digests))

    winners = newest_copies(pa.concat_tables(versions))
    chosen = winners.column("record")
    out, lim = pa.concat_tables(outlets), pa.concat_tables(limits)
    still = [why for why in unreadable.values() if why]
    counts["pages_unreadable"] = len(still)  # pages no readable copy has replaced
    warnings = (
        [
            f"{len(still):,} page(s) unreadable and not replaced by a readable copy, quarantined; one of them: {still[-1]}"
        ]
        if still
        else []
    )
    counts["versions"] = winners.num_rows
    counts["copies_dropped"] = sum(t.num_rows for t in versions) - winners.num_rows
    rejects = _rejects_once(pa.concat_tables(quarantine), pa.concat_tables(versions).column("record"), chosen)
    counts["rejects_of_copies_dropped"] = sum(t.num_rows for t in quarantine) - rejects.num_rows
    return (
        winners,
        out.filter(pc.is_in(out.column("record"), chosen)),
        lim.filter(pc.is_in(lim.column("record"), chosen)),
        rejects,
        counts,
        warnings,
    )


def newest_copies(versions: pa.Table) -> pa.Table:
    """The newest copy of each (permit, version) — the platform republishes a version when it touches
    it — dated as first recorded where it states no date of its own (``effective_recorded``): a touch
    to an undated revocation must not move the revocation to the day of the touch."""
    return query_arrow(
        """
        SELECT * EXCLUDE (received_at, _rn, _first)
                 REPLACE (CASE WHEN effective_recorded THEN _first ELSE effective_date END AS effective_date)
        FROM (
            SELECT *, row_number() OVER (PARTITION BY permit_no, version
                                         ORDER BY updated_at DESC, received_at DESC, record DESC) AS _rn,
                   min(effective_date) FILTER (WHERE effective_recorded)
                       OVER (PARTITION BY permit_no, version) AS _first
            FROM v
        )
        WHERE _rn = 1
        """,
        v=versions,
    )


def _with_records(rejects: pa.Table, digests: list[str]) -> pa.Table:
    """``rejects`` of one page with ``_record``: the digest of the record each is about (None: the page)."""
    index = rejects.column("record_index").to_pylist()
    record = [digests[i] if i is not None and 0 <= i < len(digests) else None for i in index]
    return rejects.append_column("_record", pa.array(record, pa.string()))


def _rejects_once(rejects: pa.Table, records: pa.ChunkedArray, chosen: pa.ChunkedArray) -> pa.Table:
    """Each reject once, however many landed pages carried its record: an outlet or limit rejected in
    a version comes from the copy of the version that won (another copy says the same of the same
    record); a record rejected whole, from the first page that carried the same record (``_record``:
    its content's digest), the same thing wrong with it; a page rejected whole, as each page shows it."""
    record = pc.binary_join_element_wise(
        rejects.column("raw_file"), pc.cast(rejects.column("record_index"), pa.string()), "#"
    )
    of_version = pc.is_in(record, value_set=records.combine_chunks())
    of_winner = pc.is_in(record, value_set=chosen.combine_chunks())
    whole = rejects.filter(pc.invert(of_version))
    order = pa.array(range(whole.num_rows), pa.int64())
    known = whole.append_column("_order", order).filter(pc.is_valid(whole.column("_record")))
    firsts = known.group_by(["_record", "item", "reason"]).aggregate([("_order", "min")]).column("_order_min")
    first = whole.filter(pc.or_(pc.is_null(whole.column("_record")), pc.is_in(order, value_set=firsts)))
    kept = pa.concat_tables([rejects.filter(pc.and_(of_version, of_winner)), first])
    return kept.drop_columns(["_record"])


def typed_versions(versions: pa.Table) -> pa.Table:
    """Flags and normalised keys for permit versions (vectorised), then their history."""
    versions = with_uscc_flags(versions)
    permit_no = versions.column("permit_no")
    shaped = permit_no_valid_array(permit_no)
    same_uscc = pc.fill_null(
        pc.equal(pc.utf8_slice_codeunits(permit_no, 0, 18), versions.column("uscc")), False
    )
    kind = pc.if_else(shaped, pc.utf8_slice_codeunits(permit_no, 21, 22), pa.scalar(None, pa.string()))
    versions = versions.append_column("permit_no_valid", pc.and_(shaped, same_uscc))
    versions = versions.append_column("permit_kind", kind)
    versions = versions.append_column(
        "enterprise_name_norm", normalize_name_array(versions.column("enterprise_name"))
    )
    region = canonical_region_code_array(versions.column("region_code"))
    versions = versions.set_column(versions.schema.get_field_index("region_code"), "region_code", region)
    return permit_history(versions)


def _in_force_now(permits_t: pa.Table) -> int:
    now = pa.scalar(dt.datetime.now(dt.UTC), pa.timestamp("us", "UTC"))
    start, end = permits_t.column("in_force_from"), permits_t.column("in_force_to")
    binding = pc.and_(pc.less_equal(start, now), pc.or_(pc.is_null(end), pc.less(now, end)))
    return int(pc.sum(pc.fill_null(binding, False)).as_py() or 0)
