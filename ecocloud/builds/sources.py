"""Pollution-source (HJ 212) steps: registering receiver segments, packets per input, marts per date.

Inputs are raw objects of two kinds, each ingested exactly once (the ledger decides):

* **receiver segments** — the TCP receiver (``ecocloud receive``) lands every line in append-only
  segment files and closes each with a manifest. ``register_segments`` records every closed
  segment of the landing zone that the raw manifest does not hold yet — whenever it was closed,
  whatever the clock of the receiver or the scheduler says. With a lake on S3 the landing zone is a
  local folder: each segment (and its manifest) is first copied into the lake's raw zone, under
  ``raw/hj212/date=…/<segment>`` (rejected lines: ``raw/hj212_quarantine/…``) — the path it has on a
  local lake with the default landing zone, whatever the landing folder is called — so workers on
  other machines read it there.
* **capture files** — ``ecocloud ingest hj212 FILE…`` lands their bytes under ``raw/hj212_capture``.

``Core`` (Publish.PART) turns one input into its rows of ``core_source__packets``,
``core_source__readings`` and ``quarantine_source__packets``, a part file per input in every date
partition it touches (real captures touch many dates: loggers back-fill, some clocks are wrong).
``Marts`` (Publish.PARTITION) rebuilds the hourly and daily marts of every date whose readings
partition changed (or is gone: its marts are rebuilt empty), the dates of a batch in one DuckDB
pass; when parts were only added since a date's last build, only the (outlet, hour) groups the new
parts touch are recomputed, from every reading of the group (retransmissions across parts still
collapse), and its other rows are kept; likewise the daily rows of the (outlet, day) groups whose
hours or daily (2031) packets are new.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import logging
import posixpath
import re
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ecocloud.runner.context import StepContext, parquet_sql, partition_key
from ecocloud.runner.report import PUBLISHED
from ecocloud.runner.units import RAW, Input, Output, Unit
from ecocloud.settings import Settings
from ingest import listing
from ingest.hj212 import batch as hj_batch
from ingest.hj212 import protocol as proto
from ingest.hj212.segments import CLOSED_SUFFIX, MANIFEST_SUFFIX, SegmentInfo, closed_segments
from ingest.raw import land_bytes, raw_prefix
from schemas import source as schema
from schemas.clock import BEIJING, beijing_dates
from schemas.registry import Table
from transforms.source_marts import DAILY_CN, HOUR_US, HOURLY_CNS_SQL, daily_values, hourly_values
from warehouse.fs import Lake
from warehouse.ledger import Ledger, RawObject

log = logging.getLogger(__name__)

SEGMENTS = "hj212"  # raw-manifest source of receiver segments (accepted and rejected lines)
SEGMENTS_QUARANTINE = "hj212_quarantine"  # raw-zone folder of the receiver's rejected-line segments on S3
CAPTURES = "hj212_capture"  # raw-zone folder of capture files ingested from the command line
# a date in a file's name, not part of a longer run of digits; a lookahead, so the matches overlap
# (logger-1301-2016-08-24: 1301-20-16 is no date, 2016-08-24 is)
_DATE_IN_NAME = re.compile(r"(?<!\d)(?=(\d{4})-?(\d{2})-?(\d{2})(?!\d))")
_LANDING_THREADS = 4  # capture files landed at once
# the readings the marts read: packets accepted without authentication (open mode) are evidence, never
# mart values; they cannot stand in for, or override, an authenticated packet of the same MN, CN, DataTime.
# Nor are a facility's state and run time (SB1-RS, SB1-RT) a pollutant's values.
MART_ROWS = (
    "(receiver_status IS NULL OR receiver_status = 'ok') AND stat NOT IN ("
    + ", ".join(f"'{s}'" for s in schema.FACILITY_STATS)
    + ")"
)


# -- landing ------------------------------------------------------------------------------------
def quarantine_dir(settings: Settings) -> Path:
    """Where the receiver lands rejected lines (its default: ``<landing>_quarantine`` beside it)."""
    landing = settings.hj212_landing
    return landing.with_name(landing.name + "_quarantine")


def register_segments(settings: Settings, ledger: Ledger, *_interval: dt.datetime) -> list[RawObject]:
    """Record every closed segment (accepted and rejected lines) the raw manifest lacks.

    The data interval of a scheduled run is ignored on purpose: what is pending is what the
    ledger has not seen, so downtime, paused DAGs, catchup=False and clock skew lose nothing.
    """
    known = {o.raw_path for o in ledger.raw_objects(SEGMENTS)}
    lake = settings.lake_store
    landed = []
    for root, folder in ((settings.hj212_landing, SEGMENTS), (quarantine_dir(settings), SEGMENTS_QUARANTINE)):
        if lake.is_local:
            found = closed_segments(root, skip=known, relative_to=settings.lake)
        else:  # copied to raw/<folder>/date=…/<segment>: skip by the path below that folder
            found = closed_segments(root, skip=_below(known, raw_prefix(folder)), relative_to=root)
        for seg in found:
            raw_path = _raw_path(settings, seg.path) if lake.is_local else _copy_segment(lake, folder, seg)
            obj = ledger.record_raw(
                RawObject(
                    raw_path=raw_path,
                    source=SEGMENTS,
                    logical_name=seg.path.name,
                    partition=seg.path.parent.name.removeprefix("date=") or None,
                    sha256=seg.sha256,
                    size=seg.bytes,
                    origin=f"receiver {seg.receiver_id} ({seg.kind})",
                    received_at=seg.closed_at.isoformat(timespec="microseconds"),
                )
            )
            landed.append(obj)
    return landed


def _below(paths: Iterable[str], prefix: str) -> set[str]:
    """The ``paths`` under ``prefix``, relative to it."""
    return {p.removeprefix(f"{prefix}/") for p in paths if p.startswith(f"{prefix}/")}


def _copy_segment(lake: Lake, folder: str, seg: SegmentInfo) -> str:
    """Copy a closed segment and its manifest to ``raw/<folder>/date=…/`` in the lake's raw zone, whatever
    the landing folder is called (the path it has on a local lake with the default landing zone);
    returns the segment's raw path.

    The bytes are checked against the manifest's sha256; a segment that disagrees is copied as it is
    and recorded with the manifest's hash, so its build quarantines it whole with the reason (as on a
    local lake) rather than it never being ingested. The manifest goes first, so a segment object in
    the lake has its manifest beside it whenever the landing zone had one. A different object already
    at that path (two receivers given one id) is refused, never overwritten.
    """
    date_folder = f"{raw_prefix(folder)}/{seg.path.parent.name}"
    target = f"{date_folder}/{seg.path.name}"
    data = seg.path.read_bytes()
    if hashlib.sha256(data).hexdigest() != seg.sha256:
        log.warning("%s: bytes differ from the manifest's sha256; copied, its build quarantines it", seg.path)
    if lake.exists(target) and lake.read_bytes(target) != data:  # only after a crash or a name clash
        raise FileExistsError(
            f"{lake.uri(target)} holds other bytes than {seg.path}: receiver ids must be unique"
        )
    manifest = seg.path.with_name(seg.path.name[: -len(CLOSED_SUFFIX)] + MANIFEST_SUFFIX)
    if manifest.exists():
        lake.write_bytes(f"{date_folder}/{manifest.name}", manifest.read_bytes())
    lake.write_bytes(target, data)
    return target


def land_captures(settings: Settings, ledger: Ledger, paths: Iterable[str | Path]) -> list[RawObject]:
    """Land capture files' bytes in the raw zone (once per content), a few files at a time (reading,
    hashing and the fsync of one file overlap the others'); a folder stands for its capture files
    (``CAPTURE_SUFFIXES``). Returns the objects new to the raw zone, in the order of ``paths``."""
    sources = _capture_files(paths)
    known = {obj.raw_path for obj in ledger.raw_objects(CAPTURES)}

    def land(src: Path) -> RawObject:
        return land_bytes(
            settings.lake_store,
            ledger,
            source=CAPTURES,
            logical_name=src.name,
            partition=_capture_date(src.name),
            data=src.read_bytes(),
            origin=str(src.resolve()),
        )

    with ThreadPoolExecutor(_LANDING_THREADS) as pool:
        return [obj for obj in pool.map(land, sources) if obj.raw_path not in known]


# what a folder given to `ecocloud ingest hj212` holds as captures (a file named on its own may be called anything)
CAPTURE_SUFFIXES = (".h212", ".h212.gz", ".txt", ".txt.gz", ".log", ".log.gz")


def _capture_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files ``paths`` name: each file, and each folder's capture files in name order."""
    files: list[Path] = []
    missing: list[str] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files += [Path(f.location) for f in listing.discover(str(path), CAPTURE_SUFFIXES)]
        elif path.is_file():
            files.append(path)
        elif path.exists():
            raise ValueError(f"{path} is not a file or a folder of capture files")
        else:
            missing.append(str(path))
    if missing:
        raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
    return list(dict.fromkeys(files))  # a file named and in a folder named: once


def _raw_path(settings: Settings, path: Path) -> str:
    try:
        return path.relative_to(settings.lake).as_posix()
    except ValueError:
        return str(path)  # a landing zone outside the lake: kept as an absolute path


def _capture_date(name: str) -> dt.date:
    """The first date in a capture's file name (2016-08-24T00.h212.gz; after a logger's MN, as in
    LD130121000133_20160824.h212), else today: rows without any time."""
    for m in _DATE_IN_NAME.finditer(name):
        try:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
    return dt.datetime.now(BEIJING).date()


# -- core: one input → its packets, readings, quarantine -----------------------------------------
class Core:
    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        planned: set[str] = set()
        for obj in ctx.ledger.raw_objects(SEGMENTS) + ctx.ledger.raw_objects(CAPTURES):
            kind = "capture" if obj.source == CAPTURES else "segment"
            # accepted and rejected lines land in segments of the same name in two folders: the path
            # tells them apart. A capture is its content: the same bytes landed again under another
            # name (or, undated, on another day) are built once, from their first landing
            key = f"capture/{obj.sha256}" if kind == "capture" else f"segment/{obj.raw_path}"
            if key in planned:
                continue
            planned.add(key)
            yield Unit(
                key,
                (ctx.raw_input(obj),),
                size=obj.size,
                params=(("kind", kind), ("date", obj.partition or "")),
            )

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        tune_process_memory()
        raw = unit.inputs[0]
        name = raw.id  # the raw location rows carry: the path relative to the lake
        file_name = posixpath.basename(name)
        day = dt.date.fromisoformat(unit.param("date")) if unit.param("date") else _capture_date(file_name)
        data = ctx.lake.read_bytes(raw.id)
        capture = unit.param("kind") == "capture"
        # a ".gz" capture whose bytes are no gzip is read as it is: its warning says so
        not_gzip = capture and file_name.endswith(".gz") and data[:2] != _GZIP_MAGIC
        if capture:
            data, unreadable = _decompressed(data)
            if unreadable:  # quarantined whole: a unit failing on it would fail every run
                parsed, mismatch = _unreadable_capture(name, day, unreadable), unreadable
            else:
                parsed, mismatch = hj_batch.parse_capture(data, segment=name, default_date=day), None
        else:
            manifest, unreadable = _manifest(
                ctx.lake.read_bytes(name[: -len(CLOSED_SUFFIX)] + MANIFEST_SUFFIX)
            )
            kind = str(manifest.get("kind", "data"))
            parsed = hj_batch.parse_segment(data, segment=name, default_date=day, kind=kind)
            mismatch = unreadable or _manifest_mismatch(data, raw, manifest, parsed.lines)
            if mismatch:
                parsed = _quarantined_whole(parsed, mismatch, day)
        parsed.check()  # lines in = accepted + quarantined
        warnings = [f"{name}: {mismatch}"] if mismatch else []
        # a receiver quarantine segment holds its rejects only: every line quarantined is no news
        rejects_only = not capture and kind == "quarantine"
        if parsed.lines and parsed.quarantined * 2 >= parsed.lines and not mismatch and not rejects_only:
            why = _most_quarantined(parsed, capture=capture)
            if not_gzip:
                why += "; its name ends in .gz, but its bytes are not gzip (read as plain text)"
            warnings.append(f"{name}: {why}")
        counts: dict[str, Any] = {
            "lines": parsed.lines,
            "accepted": parsed.accepted,
            "quarantined": parsed.quarantined,
            "readings": parsed.readings.num_rows,
            "fast": parsed.fast,
            "fallback": parsed.fallback,
            "reasons": parsed.reasons,
        }
        return Output(
            {
                schema.packets.name: parsed.packets,
                schema.readings.name: parsed.readings,
                schema.quarantine.name: parsed.quarantine,
            },
            counts,
            warnings,
        )


_GZIP_MAGIC = b"\x1f\x8b"


def _decompressed(data: bytes) -> tuple[bytes, str | None]:
    """A capture's bytes, gunzipped when gzip's magic number leads them; or why they cannot be."""
    if data[:2] != _GZIP_MAGIC:
        return data, None
    try:
        return gzip.decompress(data), None
    except (OSError, EOFError, zlib.error) as exc:  # truncated, bad CRC, not deflate
        return data, f"{proto.CAPTURE_UNREADABLE}: not a readable gzip file ({exc})"


def _unreadable_capture(name: str, day: dt.date, reason: str) -> hj_batch.ParsedBatch:
    """A capture file that cannot be read at all: one quarantined "line", the file, with the reason."""
    nothing = [None]  # no header fields to salvage, no receive time
    where = {"date": [day], "segment": [name], "offset": [0], "mn": nothing, "cn": nothing, "qn": nothing}
    return _quarantined(where | {"received_at": nothing}, 1, reason, lines_in=1)


def _most_quarantined(parsed: hj_batch.ParsedBatch, *, capture: bool) -> str:
    """Why most of an input's lines were quarantined, for the run's warnings (a file of the wrong
    line ends or encoding publishes nothing, and said so only in the quarantine table); for a
    ``capture`` whose lines mostly fail for one reason, what that usually means."""
    top = sorted(parsed.reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    said = ", ".join(f"{reason} ×{n:,}" for reason, n in top)
    # a receiver segment's line without CR LF is a peer that hung up mid-line, not a converted file
    hint = _HINTS.get(top[0][0], "") if top and capture and top[0][1] * 2 >= parsed.lines else ""
    return f"{parsed.quarantined:,} of {parsed.lines:,} lines quarantined ({said}){hint}"


# what most lines of an input failing for one reason usually means
_HINTS = {
    "missing_tail": ": HJ 212 lines end with CR LF; were the file's line ends converted (dos2unix, a text editor)?",
}


def _manifest(data: bytes) -> tuple[dict[str, Any], str | None]:
    """A segment's manifest, or why it cannot be read: then the segment is quarantined whole (a unit
    failing on it would fail every run, and nothing would tell its lines from a complete segment's)."""
    try:
        manifest = json.loads(data)
    except ValueError as exc:  # not UTF-8 or not JSON
        return {}, f"{proto.SEGMENT_MANIFEST_UNREADABLE}: {exc}"
    if not isinstance(manifest, dict) or not isinstance(manifest.get("records", 0), int):
        return {}, f"{proto.SEGMENT_MANIFEST_UNREADABLE}: not a JSON object with a count of records"
    return manifest, None


def _manifest_mismatch(data: bytes, raw: Input, manifest: dict[str, Any], readable: int) -> str | None:
    """Why a segment's bytes or records disagree with its manifest (None: they agree)."""
    if hashlib.sha256(data).hexdigest() != raw.version:
        return f"{proto.SEGMENT_MANIFEST_MISMATCH}: the bytes differ from the manifest's sha256"
    declared = int(manifest.get("records", readable))
    if declared != readable:
        return f"{proto.SEGMENT_MANIFEST_MISMATCH}: the manifest says {declared} records, {readable} are readable"
    return None


def _quarantined_whole(parsed: hj_batch.ParsedBatch, reason: str, day: dt.date) -> hj_batch.ParsedBatch:
    """Every readable line of a segment that disagrees with its manifest, quarantined with the reason;
    dated as quarantine rows are — by their receipt in Beijing, else the segment's date ``day`` — not
    by the DataTime a packet row carries."""
    lines = pa.concat_tables(
        [
            schema.quarantine.conform(parsed.quarantine).select(_LOCATED),
            schema.packets.conform(parsed.packets).select(_LOCATED),
        ],
        promote_options="permissive",
    )
    received_on = beijing_dates(lines.column("received_at"))
    lines = lines.set_column(lines.column_names.index("date"), "date", pc.fill_null(received_on, day))
    return _quarantined({c: lines.column(c) for c in _LOCATED}, lines.num_rows, reason, lines_in=parsed.lines)


# what places a quarantined line: its raw location and the header fields salvaged from it
_LOCATED = ["date", "segment", "offset", "mn", "cn", "qn", "received_at"]


def _quarantined(located: dict[str, Any], n: int, reason: str, *, lines_in: int) -> hj_batch.ParsedBatch:
    """``n`` lines (``located``: their ``_LOCATED`` columns) quarantined with ``reason`` ("code:
    detail") as the whole outcome of an input of ``lines_in`` lines; each raw line stays in its file
    at its offset."""
    code, _, detail = reason.partition(": ")
    quarantine = schema.quarantine.from_columns(
        {**located, "reason": [code] * n, "detail": [detail] * n, "raw_line": pa.nulls(n, pa.string())}
    )
    return hj_batch.ParsedBatch(
        schema.packets.empty(), schema.readings.empty(), quarantine, lines_in, reasons={code: n}
    )


# -- marts: hourly and daily per date ------------------------------------------------------------
@dataclass(frozen=True)
class _MartPlan:
    """What one date's mart build reads: every readings part, and which of them are new."""

    day: dt.date
    files: list[str]
    parts: dict[str, str]  # part -> fingerprint
    added_files: list[str]
    # only parts were added since the last build: recompute the outlet hours and days they touch
    incremental: bool


class Marts:
    """One DuckDB pass per batch of dates (a run of real captures touches many dates): the readings of
    every date of the batch are read once, the hourly and daily marts computed together, then split."""

    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        """A unit per date with readings, and per date whose marts outlived its readings (a rerun of
        the core build moved or quarantined them all): its marts are rebuilt empty, not left stale."""
        sizes: dict[str, int] = {}
        for p in ctx.ledger.parts(schema.readings.name):
            sizes[p.partition] = sizes.get(p.partition, 0) + p.size_bytes
        readings = {d.isoformat(): i for d, i in ctx.table_inputs(schema.readings.name).items() if d}
        marts = {k for t in (schema.hourly, schema.daily) for k in ctx.ledger.partition_versions(t.name)}
        for key in sorted(readings.keys() | marts):
            inputs = (readings[key],) if key in readings else ()
            yield Unit(key, inputs, partition=dt.date.fromisoformat(key), size=sizes.get(key, 0))

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        return self.build_batch(ctx, [unit])[unit.key]

    def build_batch(self, ctx: StepContext, units: list[Unit]) -> dict[str, Output]:
        plans = [_mart_plan(ctx, u) for u in units]
        con = ctx.connect()
        try:
            source = _readings_of(con, [f for p in plans for f in p.files])
            con.execute(f"CREATE VIEW readings AS SELECT * FROM {source} WHERE {MART_ROWS}")
            full = pa.array([p.day for p in plans if not p.incremental], pa.date32())
            con.register("full_days", pa.table({"d": full}))  # computed whole (the touched views read it)
            touched, touched_days = _touched_groups(con, [p for p in plans if p.incremental])
            hourly = _hourly_of(con, ctx, plans, touched)
            con.register("hourly", hourly)
            daily = _daily_of(con, ctx, plans, touched_days)
        finally:
            con.close()
        out = {}
        for unit, p in zip(units, plans, strict=True):
            day_hourly, day_daily = _of_day(hourly, p.day), _of_day(daily, p.day)
            mine = _of_day(touched, p.day)
            counts = {
                "hourly": day_hourly.num_rows,
                "daily": day_daily.num_rows,
                "hours_recomputed": len(pc.unique(mine.column("hr"))) if p.incremental else 24,
                "outlet_hours_recomputed": mine.num_rows if p.incremental else None,
                "outlet_days_recomputed": _of_day(touched_days, p.day).num_rows if p.incremental else None,
                "reading_parts": p.parts,
                "logic": ctx.logic,
            }
            out[unit.key] = Output({schema.hourly.name: day_hourly, schema.daily.name: day_daily}, counts)
        return out


def _mart_plan(ctx: StepContext, unit: Unit) -> _MartPlan:
    assert unit.partition is not None
    day = unit.partition
    parts = {
        p.part: p.fingerprint for p in ctx.ledger.parts(schema.readings.name, partition=partition_key(day))
    }
    previous = ctx.previous(unit.key)
    before: dict[str, str] = previous.counts.get("reading_parts", {}) if previous else {}
    incremental = (
        not ctx.run.force
        and previous is not None
        and previous.status == PUBLISHED
        and previous.counts.get("logic") == ctx.logic  # not after a change of the marts' code or tables
        and set(before) <= set(parts)
        and all(parts[p] == fp for p, fp in before.items())
    )
    added = [p for p, fp in parts.items() if before.get(p) != fp]
    return _MartPlan(
        day,
        ctx.files(schema.readings.name, day),
        parts,
        ctx.part_files(schema.readings.name, day, added) if incremental else [],
        incremental,
    )


def _hourly_of(
    con: duckdb.DuckDBPyConnection, ctx: StepContext, plans: list[_MartPlan], touched: pa.Table
) -> pa.Table:
    """Every date's hourly rows. A full date is computed whole; on a date whose parts were only added,
    only the (outlet, hour) groups its new readings touch are recomputed — from every reading of the
    group, so retransmissions across parts still collapse — and its other rows are kept."""
    if not any(p.incremental for p in plans):
        return schema.hourly.conform(hourly_values(con, "readings"))
    con.register("touched_hours", touched)
    on = f"{{t}}.mn = g.mn AND epoch_us({{t}}.{{time}}) // {HOUR_US} = g.hr"
    _touched_view(con, "touched", "readings", "touched_hours", on.format(t="r", time="data_at"))
    new = schema.hourly.conform(hourly_values(con, "touched"))
    return _merged(con, ctx, plans, schema.hourly, new, "touched_hours", on.format(t="o", time="hour_at"))


def _daily_of(
    con: duckdb.DuckDBPyConnection, ctx: StepContext, plans: list[_MartPlan], touched_days: pa.Table
) -> pa.Table:
    """Every date's daily rows, likewise: on a date whose parts were only added, only the outlets whose
    2031 readings or hourly rows changed that day are recomputed (from the relation ``hourly``)."""
    if not any(p.incremental for p in plans):
        return schema.daily.conform(daily_values(con, "readings", "hourly"))
    con.register("touched_days", touched_days)
    on = "{t}.mn = g.mn AND {t}.date = g.date"
    _touched_view(con, "touched_day_readings", "readings", "touched_days", on.format(t="r"))
    _touched_view(con, "touched_day_hours", "hourly", "touched_days", on.format(t="r"))
    new = schema.daily.conform(daily_values(con, "touched_day_readings", "touched_day_hours"))
    return _merged(con, ctx, plans, schema.daily, new, "touched_days", on.format(t="o"))


def _touched_view(con: duckdb.DuckDBPyConnection, name: str, rows: str, groups: str, on: str) -> None:
    """A view ``name`` of the relation ``rows`` (aliased r, with a ``date``): every row of the full
    dates (``full_days``), and of the other dates those that the relation ``groups`` (aliased g)
    matches by ``on``."""
    con.execute(
        f"""CREATE OR REPLACE VIEW {name} AS
        SELECT * FROM {rows} WHERE date IN (SELECT d FROM full_days)
        UNION ALL
        SELECT r.* FROM {rows} r SEMI JOIN {groups} g ON {on}
        WHERE r.date NOT IN (SELECT d FROM full_days)"""
    )


def _merged(
    con: duckdb.DuckDBPyConnection,
    ctx: StepContext,
    plans: list[_MartPlan],
    table: Table,
    new: pa.Table,
    groups: str,
    on: str,
) -> pa.Table:
    """``new`` rows, and the published rows of the incremental dates outside the recomputed groups
    (the relation ``groups``, aliased g; the published rows o; matched by ``on``), in key order."""
    con.register("previous", pa.concat_tables([ctx.read(table.name, p.day) for p in plans if p.incremental]))
    kept = con.sql(f"SELECT o.* FROM previous o ANTI JOIN {groups} g ON {on}").to_arrow_table()
    merged = pa.concat_tables([table.conform(kept), new])
    return merged.take(pc.sort_indices(merged, [(k, "ascending") for k in table.primary_key]))


def _touched_groups(con: duckdb.DuckDBPyConnection, plans: list[_MartPlan]) -> tuple[pa.Table, pa.Table]:
    """What the new parts of incremental dates feed into: (date, mn, epoch hour) of every outlet hour
    of the hourly mart, and (date, mn) of every outlet day of the daily mart — those hours' days and
    the days of new 2031 readings (real captures back-fill: an hour's segments touch many dates)."""
    source = _readings_of(con, [f for p in plans for f in p.added_files])
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE new_groups AS SELECT DISTINCT date, mn, cn = '{DAILY_CN}' AS daily, "
        f"epoch_us(data_at) // {HOUR_US} AS hr FROM {source} WHERE cn IN ({HOURLY_CNS_SQL}, '{DAILY_CN}')"
    )
    hours = con.sql("SELECT DISTINCT date, mn, hr FROM new_groups WHERE NOT daily").to_arrow_table()
    days = con.sql("SELECT DISTINCT date, mn FROM new_groups").to_arrow_table()
    return hours, days


def _readings_of(con: duckdb.DuckDBPyConnection, files: list[str]) -> str:
    """The relation of the readings part files ``files``: with none (a fresh run's new parts, the dates
    whose readings are gone), an empty one of the readings' columns."""
    if files:
        return parquet_sql(files)
    con.register("no_readings", schema.readings.empty())
    return "no_readings"


def _of_day(rows: pa.Table, day: dt.date) -> pa.Table:
    return rows.filter(pc.equal(rows.column("date"), pa.scalar(day, pa.date32())))


_TUNED = False


def tune_process_memory() -> None:
    """Large short-lived arrays dominate HJ 212 ingest; on this kind of host the kernel's page
    zeroing (transparent huge pages, memory returned and faulted in again) cost as much as a third
    of the run. Process-wide and idempotent: keep freed heap memory for reuse (glibc: no mmap for
    big blocks, trim above 1 GiB), let Arrow use that heap, and ask numpy not to madvise huge pages."""
    global _TUNED
    if _TUNED:
        return
    _TUNED = True
    try:
        from numpy._core import multiarray

        multiarray._set_madvise_hugepage(False)  # type: ignore[attr-defined]
    except (ImportError, AttributeError):  # pragma: no cover - other numpy versions
        pass
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-4, 0)  # M_MMAP_MAX: serve big blocks from the heap, so they can be reused
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: give memory back to the OS only above 1 GiB free
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


__all__ = ["CAPTURES", "MART_ROWS", "RAW", "SEGMENTS", "Core", "Marts", "land_captures", "register_segments"]
