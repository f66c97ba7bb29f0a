"""Master-data steps: the versioned enterprise and monitoring-point registries, the join report.

``land`` lands new snapshots of the registry files; ``Registries`` rebuilds both versioned tables
from every snapshot received (``transforms.scd2``); ``JoinReport`` publishes today's
``quality_master__join_report`` partition from the registries, permits, credit ratings and the MNs
seen in HJ 212 packets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from ecocloud.builds import http_session
from ecocloud.runner.context import StepContext, parquet_sql
from ecocloud.runner.units import TABLE, Output, Unit
from ecocloud.settings import Settings
from ingest import master as ingest_master
from ingest.raw import read_raw
from schemas import master as schema
from schemas.clock import BEIJING
from transforms.identifiers import canonical_region_code_array, normalize_name_array, with_uscc_flags
from transforms.master_join import INPUTS, OPTIONAL_INPUTS, join_report
from transforms.scd2 import snapshot_history
from warehouse.ledger import Ledger, RawObject

SOURCE = ingest_master.SOURCE
_ATTRIBUTES = {
    ingest_master.ENTERPRISES: (
        "enterprise_name",
        "region_code",
        "industry_code",
        "industry_name",
        "address",
    ),
    ingest_master.POINTS: ("uscc", "outlet_code", "region_code", "point_name", "pollutants"),
}
_PACKETS = INPUTS["packets"]
# A snapshot with less than half the rows of the one taken before it (a failed export: a header-only
# file would end every enterprise's or point's version, and the history, replayed from every snapshot,
# would keep that gap for good) is refused while it is the newest, unless a run accepts it (`ecocloud run
# master --build registries --no-land --force --accept-shrink`, remembered after), and for good once a later
# snapshot is back above that half (a dip). A smaller snapshot followed by one as small is a real
# shrink, taken: history from before this guard replays as it was.
MAX_SNAPSHOT_DROP = 0.5
_GUARDED_FROM = 10  # rows of the snapshot before: a small registry changes by half in ordinary edits
_SHRINKS_ACCEPTED = "snapshots_shrink_accepted"


def land(settings: Settings, ledger: Ledger, locations: Sequence[str] | None = None) -> list[RawObject]:
    """Land new snapshots found at ``locations`` (default: ``settings.master_base_url``)."""
    session = http_session(settings)
    items = [
        item
        for location in locations or [settings.master_base_url]
        for item in ingest_master.discover(location, session=session, timeout_s=settings.http_timeout_s)
    ]
    return ingest_master.land_files(
        settings.lake_store, ledger, items, session=session, timeout_s=settings.http_timeout_s
    )


def land_interval(settings: Settings, ledger: Ledger, *_interval: dt.datetime) -> list[RawObject]:
    return land(settings, ledger)


class Registries:
    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        objs = ctx.ledger.raw_objects(SOURCE)
        if objs:
            yield Unit("all", tuple(ctx.raw_input(o) for o in objs), size=sum(o.size for o in objs))

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        objs = ctx.ledger.raw_objects(SOURCE)  # received order
        quarantine = [schema.quarantine.empty()]
        warnings: list[str] = []
        previous = ctx.previous(unit.key)
        accepted = set(previous.counts.get(_SHRINKS_ACCEPTED, [])) if previous else set()
        accept_newest = ctx.run.accepts_shrink(unit.key)  # this run's word, for the newest snapshots
        by_kind: dict[str, list[RawObject]] = {k: [] for k in ingest_master.KINDS}
        for obj in objs:
            kind = obj.logical_name.removesuffix(".csv")
            if kind in by_kind:
                by_kind[kind].append(obj)
            elif obj == ctx.ledger.latest_raw(SOURCE, obj.logical_name):
                quarantine.append(
                    ingest_master.file_quarantine(obj.raw_path, "neither registry (see ingest/master.py)")
                )
        enterprises = schema.enterprises.conform(
            _history(
                ctx,
                ingest_master.ENTERPRISES,
                by_kind[ingest_master.ENTERPRISES],
                quarantine,
                accepted,
                accept_newest,
                warnings,
            )
        )
        points = schema.monitoring_points.conform(
            _history(
                ctx,
                ingest_master.POINTS,
                by_kind[ingest_master.POINTS],
                quarantine,
                accepted,
                accept_newest,
                warnings,
            )
        )
        quarantine_t = schema.quarantine.conform(pa.concat_tables(quarantine))
        counts = {
            "snapshots": {k: len(v) for k, v in by_kind.items()},
            "enterprises": _current(enterprises),
            "enterprise_versions": enterprises.num_rows,
            "monitoring_points": _current(points),
            "monitoring_point_versions": points.num_rows,
            "quarantined": quarantine_t.num_rows,
            _SHRINKS_ACCEPTED: sorted(accepted),
        }
        tables = {
            schema.enterprises.name: enterprises,
            schema.monitoring_points.name: points,
            schema.quarantine.name: quarantine_t,
        }
        return Output(tables, counts, warnings)


def _history(
    ctx: StepContext,
    kind: str,
    objs: list[RawObject],
    quarantine: list[pa.Table],
    accepted: set[str],
    accept_newest: bool,
    warnings: list[str],
) -> pa.Table:
    """The versioned registry of ``kind`` from its snapshots (oldest first). ``accepted``: raw paths of
    snapshots taken although they shrank (the newest is added when ``accept_newest``). The newest
    file refused whole is also a warning (the run's report says why the registry did not change)."""
    parts = [ingest_master.STAGE[kind].empty()]
    snapshots: list[dt.datetime] = []  # of the files read: a refused file is no snapshot (not an empty one)
    readable: list[tuple[RawObject, dt.datetime, ingest_master.ParsedMaster]] = []
    for obj in objs:
        at = dt.datetime.fromisoformat(obj.received_at)
        try:
            readable.append(
                (
                    obj,
                    at,
                    ingest_master.parse_master_csv(
                        read_raw(ctx.lake, obj), raw_file=obj.raw_path, snapshot_at=at
                    ),
                )
            )
        except ingest_master.MasterFileError as exc:
            quarantine.append(ingest_master.file_quarantine(obj.raw_path, str(exc)))
            if obj is objs[-1]:
                warnings.append(f"{obj.raw_path}: {exc}")
    before = 0  # rows of the last snapshot taken
    for i, (obj, at, parsed) in enumerate(readable):
        rows_now = parsed.rows.num_rows
        floor = (1 - MAX_SNAPSHOT_DROP) * before
        if before >= _GUARDED_FROM and rows_now < floor and obj.raw_path not in accepted:
            newest = i == len(readable) - 1
            if newest and accept_newest:
                accepted.add(obj.raw_path)
            elif newest or readable[i + 1][2].rows.num_rows >= floor:
                reason = (
                    f"refused as a snapshot: {rows_now} rows against {before} in the one before (more than "
                    f"{MAX_SNAPSHOT_DROP:.0%} gone: a failed export?)"
                    + (
                        "; if it is right, `ecocloud run master --build registries --no-land --force --accept-shrink` "
                        "takes it"
                        if newest
                        else "; the next snapshot is back above half"
                    )
                )
                quarantine.append(ingest_master.file_quarantine(obj.raw_path, reason))
                if newest:
                    warnings.append(f"{obj.raw_path}: {reason}")
                continue
        quarantine.append(parsed.quarantine)
        parts.append(parsed.rows)
        snapshots.append(at)
        before = rows_now
    rows = pa.concat_tables(parts)
    rows = with_uscc_flags(rows, problem=kind == ingest_master.ENTERPRISES)
    rows = rows.set_column(
        rows.schema.get_field_index("region_code"),
        "region_code",
        canonical_region_code_array(rows["region_code"]),
    )
    if kind == ingest_master.ENTERPRISES:
        rows = rows.append_column("enterprise_name_norm", normalize_name_array(rows["enterprise_name"]))
    else:
        outlet = rows["outlet_code"]
        medium = pc.if_else(
            pc.starts_with(outlet, "DA"), "air", pc.if_else(pc.starts_with(outlet, "DW"), "water", None)
        )
        rows = rows.append_column("medium", medium)
    return snapshot_history(rows, snapshots, key=ingest_master.KEYS[kind], attributes=_ATTRIBUTES[kind])


def _current(t: pa.Table) -> int:
    return int(pc.sum(t["is_current"]).as_py() or 0)


class JoinReport:
    """Today's (Beijing) join-quality report partition, from the tables it checks."""

    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        day = dt.datetime.now(BEIJING).date()
        names = [*INPUTS.values(), *OPTIONAL_INPUTS.values()]
        inputs = [i for name in names for i in ctx.table_inputs(name).values()]
        yield Unit(day.isoformat(), tuple(inputs), partition=day)

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        assert unit.partition is not None
        wanted = {**INPUTS, **OPTIONAL_INPUTS}
        tables: dict[str, pa.Table | None] = {
            key: ctx.read_inputs(unit, name) for key, name in wanted.items() if key != "packets"
        }
        tables["packets"] = _packet_mns(ctx, unit)
        generated = dt.datetime.now(dt.UTC)
        rows = join_report(tables, at=generated)
        n = rows.num_rows
        rows = rows.append_column("date", pa.array([unit.partition] * n, pa.date32()))
        rows = rows.append_column("generated_at", pa.array([generated] * n, pa.timestamp("us", "UTC")))
        rows = schema.join_report.conform(rows)
        summary = rows.filter(pc.equal(rows["row_kind"], "summary"))
        counts = {
            name: (occ if checked else "not checked")
            for name, occ, checked in zip(
                summary["check_name"].to_pylist(),
                summary["occurrences"].to_pylist(),
                summary["checked"].to_pylist(),
                strict=True,
            )
        }
        return Output({schema.join_report.name: rows}, counts)


def _packet_mns(ctx: StepContext, unit: Unit) -> pa.Table | None:
    """Packets per MN over every published packets partition; None when there are none."""
    files = [
        f
        for i in unit.inputs
        if i.kind == TABLE and i.id == _PACKETS
        for f in ctx.files(_PACKETS, i.partition)
    ]
    if not files:
        return None
    con = ctx.connect()
    try:
        return con.sql(
            f"SELECT CAST(mn AS VARCHAR) AS mn, count(*)::BIGINT AS packets FROM {parquet_sql(files)} "
            "WHERE mn IS NOT NULL GROUP BY ALL ORDER BY mn"
        ).to_arrow_table()
    finally:
        con.close()
