"""The shared catalog, built from the registry, the ledger's lineage, the gate results and the lake.

``catalog_tables(con, lake)`` returns the four ``catalog_*`` tables (declared in ``schemas.catalog``)
as Arrow tables; ``write_catalog(con, tables)`` stores them in the serving database. The serving
refresh calls both after it has created the views, so every catalog fact is read from the data it
describes at that moment and the catalog cannot drift from it:

* metadata (titles, owner, frequency, sharing, columns, keys) from the registry;
* files, rows, bytes, partitions and last write of the parts the serving views read: at a serving
  refresh from the ledger's part records (``ledger_facts``: written when each part was published, so
  a refresh opens no file — it follows every hourly run, and the lake only grows), else from the
  lake's Parquet footers and file times (``lake_facts``); with the ledger, also when the source of
  the builds that wrote a table was last checked (``settled_checks``);
* time coverage: for a table dated by its partition, from the start of the first partition holding
  rows to the end of the last (``newest_end``: a partition key stands for a day, or for the month the
  registry's ``date_span`` says it starts); otherwise min / max of the time column, and agreement of
  computed with published values (the registry's pair checks: AQI, water class), from the serving
  views;
* the latest gate run per table from ``quality_platform__expectation_results``;
* lineage from ``platform_ledger__lineage`` (empty until the runner records it).

Freshness: the newest data's end (the coverage's end: the time column's maximum; a date's day or
month, to its last publication while that period is still being written; never after the table's
last write: rows dated in the future are no sign of a live feed) — or, for a table without a time
column, its newest file write or the last check of its source that found its builds current,
whichever is later (an unchanged upstream writes nothing) — is compared with the table's expected
update interval; it is late when older than that interval plus the table's ``freshness_tolerance``.
The build stores that reference and when it falls due (``freshness_due_at``); readers judge it again
when they read (``datasets_as_of``). Late by (``late_by_h``) is the time since it fell due: now minus
``freshness_due_at``, as the pages' "due by" reads it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from schemas import catalog as cat
from schemas.clock import BEIJING
from schemas.registry import (
    DateSpan,
    Department,
    Frequency,
    Layer,
    Sharing,
    Table,
    all_tables,
    get_table,
)
from schemas.sql import string_list, string_literal
from warehouse.fs import LakeLike, as_lake
from warehouse.lake import table_pattern
from warehouse.ledger import PUBLISHED, WHOLE, Part, UnitState

RESULTS_TABLE = "quality_platform__expectation_results"
LINEAGE_TABLE = "platform_ledger__lineage"


# ------------------------------------------------------------------------------------ lake facts


@dataclass(frozen=True)
class LakeFacts:
    """What the lake's files say about one table."""

    files: int = 0
    rows: int = 0
    size_bytes: int = 0
    partitions: tuple[dt.date, ...] = ()
    last_write: dt.datetime | None = None
    dated_rows: tuple[dt.date, dt.date] | None = None  # the first and last partition holding rows
    newest_rows_written: dt.datetime | None = None  # last write of a part with rows in the last of them
    # the last scheduled landing of the source of every build that wrote the table, when each build's
    # units all stand published (``settled_checks``; None: unknown, or a unit failed or was blocked)
    source_checked: dt.datetime | None = None


def lake_facts(lake: LakeLike, table: Table, files: Sequence[str] | None = None) -> LakeFacts:
    """Files, rows (Parquet footers), bytes, partitions holding files and the newest write.

    ``files``: the table's part files relative to the lake (default: every one found by listing it).
    """
    store = as_lake(lake)
    rels = sorted(files) if files is not None else store.glob(table_pattern(table))
    if not rels:
        return LakeFacts()
    prefix = f"{table.partition_by}="

    def partition(rel: str) -> dt.date | None:
        folder = rel.rsplit("/", 2)[-2]
        return dt.date.fromisoformat(folder[len(prefix) :]) if folder.startswith(prefix) else None

    dates = [partition(r) if table.partition_by else None for r in rels]
    stats = [store.info(r) for r in rels]
    rows = [store.parquet_rows(r) for r in rels]
    dated = [(d, s.modified) for d, s, n in zip(dates, stats, rows, strict=True) if d is not None and n]
    return LakeFacts(
        files=len(rels),
        rows=sum(rows),
        size_bytes=sum(s.size for s in stats),
        partitions=tuple(sorted({d for d in dates if d is not None})),
        last_write=max(s.modified for s in stats),
        dated_rows=_first_and_last(dated),
        newest_rows_written=_newest_written(dated),
    )


def ledger_facts(parts: Sequence[Part], checks: Mapping[str, dt.datetime] | None = None) -> LakeFacts:
    """``lake_facts`` of one table's published parts from the ledger's records of them (rows and bytes
    as written; the last write is the last publication), and ``checks`` (build → its settled source
    check) of the builds that wrote them. Opens no file: on S3 a footer read is a request per part."""
    if not parts:
        return LakeFacts()
    builds = {p.build for p in parts}
    checked = [checks[b] for b in builds if b in checks] if checks else []
    dates = sorted({dt.date.fromisoformat(p.partition) for p in parts if p.partition != WHOLE})
    dated = [
        (dt.date.fromisoformat(p.partition), dt.datetime.fromisoformat(p.written_at))
        for p in parts
        if p.rows and p.partition != WHOLE
    ]
    return LakeFacts(
        files=len(parts),
        rows=sum(p.rows for p in parts),
        size_bytes=sum(p.size_bytes for p in parts),
        partitions=tuple(dates),
        last_write=max(dt.datetime.fromisoformat(p.written_at) for p in parts),
        dated_rows=_first_and_last(dated),
        newest_rows_written=_newest_written(dated),
        source_checked=min(checked) if len(checked) == len(builds) else None,
    )


def settled_checks(checks: Mapping[str, str], units: Sequence[UnitState]) -> dict[str, dt.datetime]:
    """The ledger's source checks (build → when its source's scheduled landing last completed) of the
    builds whose units all stand published: after a failed or blocked unit, what the landing found is
    not all published, and the check vouches for nothing."""
    unsettled = {u.build for u in units if u.status != PUBLISHED}
    return {b: dt.datetime.fromisoformat(at) for b, at in checks.items() if b not in unsettled}


# (partition, write time) of each part holding rows
_Dated = Sequence[tuple[dt.date, dt.datetime]]


def _first_and_last(dated: _Dated) -> tuple[dt.date, dt.date] | None:
    return (min(d for d, _ in dated), max(d for d, _ in dated)) if dated else None


def _newest_written(dated: _Dated) -> dt.datetime | None:
    """The last write of a part holding rows in the newest partition holding rows."""
    newest = max((d for d, _ in dated), default=None)
    return max((w for d, w in dated if d == newest), default=None)


# ------------------------------------------------------------------------------ pure derivations


def time_column(table: Table) -> str | None:
    """The column that dates a table's rows: its freshness column, else its partition column."""
    if table.freshness_column:
        return table.freshness_column
    if table.partition_by and table.column(table.partition_by).type in ("date", "timestamp"):
        return table.partition_by
    return None


def as_instant(value: dt.date | dt.datetime | None) -> dt.datetime | None:
    """A timestamp as UTC; a registry date (a Beijing day) as its Beijing midnight."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return beijing_midnight(value)


def beijing_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), BEIJING)


def period_end(start: dt.date, span: DateSpan = DateSpan.DAY) -> dt.date:
    """The first day after the period a date key value stands for (its day, or the month it starts)."""
    if span is DateSpan.MONTH:
        return (start.replace(day=1) + dt.timedelta(days=31)).replace(day=1)
    return start + dt.timedelta(days=1)


def newest_end(
    newest: dt.date | dt.datetime | None,
    written: dt.datetime | None = None,
    span: DateSpan = DateSpan.DAY,
) -> dt.datetime | None:
    """When the newest data ends: a timestamp is itself; a date ends with its period (its Beijing day,
    or its month), or at ``written`` (its last publication) when that is earlier — the period is still
    being written, and its data reach only so far (a feed silent since 08:00 ends at 08:00, a
    month-to-date mart at its last rebuild) — but never before the period starts."""
    if newest is None or isinstance(newest, dt.datetime):
        return as_instant(newest)
    start, end = beijing_midnight(newest), beijing_midnight(period_end(newest, span))
    return end if written is None else min(max(written, start), end)


@dataclass(frozen=True)
class Freshness:
    status: str  # one of schemas.catalog.FRESHNESS_STATUSES
    age_h: float | None
    late_by_h: float | None


def freshness(
    expected: dt.timedelta | None, tolerance: dt.timedelta, end: dt.datetime | None, now: dt.datetime
) -> Freshness:
    """On time / late against the expected interval; ``end`` is when the newest data ends (None: none).
    Late by the time since it fell due (``end`` + ``expected`` + ``tolerance``, ``freshness_due_at``):
    the one definition :func:`datasets_as_of` reads it by too."""
    age = max(now - end, dt.timedelta(0)) if end else None
    age_h = round(age.total_seconds() / 3600, 2) if age is not None else None
    if expected is None:
        return Freshness("on change", age_h, None)
    if age is None:
        return Freshness("no data", None, None)
    if age > expected + tolerance:
        return Freshness("late", age_h, round((age - expected - tolerance).total_seconds() / 3600, 2))
    return Freshness("on time", age_h, 0.0)


def datasets_as_of(now: str = "now()") -> str:
    """``catalog_datasets`` as a relation whose freshness is judged at ``now`` (an SQL expression of a
    TIMESTAMPTZ; the time of reading by default), as :func:`freshness` judged it at the catalog's build:
    a catalog not rebuilt since (its runs stopped) turns late when its due time passes."""
    age_h = f"greatest(epoch({now}) - epoch(freshness_reference_at), 0) / 3600"
    late_h = f"(epoch({now}) - epoch(freshness_due_at)) / 3600"  # late by: the time since it fell due
    return f"""(SELECT * REPLACE (
        CASE WHEN freshness_due_at IS NULL THEN freshness_status
             WHEN {now} > freshness_due_at THEN 'late' ELSE 'on time' END AS freshness_status,
        CASE WHEN freshness_reference_at IS NULL THEN data_age_h ELSE round({age_h}, 2) END AS data_age_h,
        CASE WHEN freshness_due_at IS NULL THEN late_by_h
             WHEN {now} > freshness_due_at THEN round({late_h}, 2)
             ELSE 0.0 END AS late_by_h
    ) FROM {cat.datasets.name})"""


def owner_of(table: Table) -> Department:
    # TRANSITION: tables not yet converted name their owner in one string
    if isinstance(table.owner, Department):
        return table.owner
    return Department(table.owner, table.owner, "")


def frequency_of(table: Table) -> Frequency:
    # TRANSITION: a free-text frequency has no machine-readable interval
    if isinstance(table.frequency, Frequency):
        return table.frequency
    return Frequency(table.frequency, table.frequency, None)


def related_quarantine(table: Table, tables: Sequence[Table], lineage: pa.Table) -> list[str]:
    """Quarantine tables holding this table's rejected input.

    Those written by a build that also writes the table (lineage); for a core table also those
    written by a build reading the same raw input (water: the snapshots build quarantines the rows
    its readings build then never sees); without lineage for the table, a core table's source's
    quarantine tables (the ingest of that source quarantines what it rejects).
    """
    if table.layer is Layer.QUARANTINE:
        return []
    quarantine = {t.name for t in tables if t.layer is Layer.QUARANTINE}
    builds_of: dict[str, set[str]] = defaultdict(set)
    raw_of: dict[str, set[str]] = defaultdict(set)  # build -> the raw inputs it reads
    for out, build, kind, ident in zip(
        lineage.column("output_table").to_pylist(),
        lineage.column("build").to_pylist(),
        lineage.column("input_kind").to_pylist(),
        lineage.column("input_id").to_pylist(),
        strict=True,
    ):
        builds_of[out].add(build)
        if kind == "raw":
            raw_of[build].add(ident)
    if builds_of.get(table.name):
        mine = builds_of[table.name]
        if table.layer is Layer.CORE:
            raws = set().union(*(raw_of[b] for b in mine))
            mine = mine | {b for b, r in raw_of.items() if r & raws}
        return sorted(q for q in quarantine if builds_of.get(q, set()) & mine)
    if table.layer is Layer.CORE:
        return sorted(t.name for t in tables if t.layer is Layer.QUARANTINE and t.source == table.source)
    return []


def columns_table(tables: Sequence[Table]) -> pa.Table:
    """catalog_columns: one row per column of every table."""
    rows = [
        {
            "table_name": t.name,
            "column_name": c.name,
            "position": i,
            "data_type": c.type,
            "duckdb_type": c.duckdb_type,
            "description": c.description,
            "description_zh": c.description_zh,
            "unit": c.unit,
            "nullable": c.nullable,
            "min_value": c.min,
            "max_value": c.max,
            "allowed_values": json.dumps(list(c.allowed), ensure_ascii=False) if c.allowed else None,
            "value_labels": json.dumps(dict(c.labels), ensure_ascii=False) if c.labels else None,
            "value_check_severity": c.severity.value
            if (c.min, c.max, c.allowed) != (None, None, None)
            else None,
            "is_primary_key": c.name in t.primary_key,
            "is_partition_key": c.name == t.partition_by,
            "declared_in": c.namespace,
        }
        for t in tables
        for i, c in enumerate(t.columns, start=1)
    ]
    return _conformed(cat.columns, rows)


# ------------------------------------------------------------------------------ SQL derivations


def _has_relation(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = $1 "
        "UNION ALL SELECT count(*) FROM duckdb_views() WHERE view_name = $1",
        [name],
    ).fetchall()
    return any(n for (n,) in found)


def _columns_of(con: duckdb.DuckDBPyConnection, name: str) -> set[str]:
    return {r[0] for r in con.execute(f'DESCRIBE "{name}"').fetchall()}


def lineage_table(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """catalog_lineage: the ledger's lineage summed up per edge input → table, build and task.

    A raw input is named by its raw-zone source (``raw/<source>``), not by each object.
    """
    if not _has_relation(con, LINEAGE_TABLE):
        return cat.lineage.arrow_schema().empty_table()
    data = con.sql(
        f"""
        SELECT output_table, input_kind,
               CASE WHEN input_kind = 'raw'
                    THEN coalesce(nullif(regexp_extract(input_id, '^(raw/[^/]+)', 1), ''), input_id)
                    ELSE input_id END AS input_id,
               build, task,
               count(DISTINCT run_id) AS runs,
               count(DISTINCT output_partition) AS output_partitions,
               min(recorded_at) AS first_recorded_at,
               max(recorded_at) AS recorded_at
        FROM "{LINEAGE_TABLE}"
        GROUP BY ALL
        ORDER BY output_table, input_kind, input_id, build, task
        """
    ).to_arrow_table()
    return cat.lineage.conform(data)


def gate_results(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Expectations of each table's latest gate run, summed over the partitions that run checked.

    Columns: table_name, run_id, validated_at, expectation, column_name, severity, details,
    checked, failed, unexpected_count, share_percent, success, partitions, blocked.
    """
    if not _has_relation(con, RESULTS_TABLE):
        return pa.table({})
    cols = _columns_of(con, RESULTS_TABLE)
    # The results table names the partition checked ``partition_date`` (``date`` is the run's day);
    # before the gate kept results per run, ``date`` was the partition checked.
    part = "partition_date" if "partition_date" in cols else "date"
    # The latest run of each table first, from three columns; then only those runs' rows. The results
    # only grow (an hourly run adds ~2,000 rows): one query over every row took 1.25 s at 2 M rows.
    latest = con.sql(
        f'SELECT table_name, arg_max(run_id, validated_at) AS run_id FROM "{RESULTS_TABLE}" GROUP BY table_name'
    ).to_arrow_table()
    runs = sorted({r for r in latest.column("run_id").to_pylist() if r is not None})
    of_runs = f"run_id IN ({string_list(runs)})"
    con.register("_latest_runs", latest)
    out = con.sql(
        f"""
            -- an unpartitioned table's results have no partition: they count as one
            WITH r AS (
                SELECT *, coalesce(CAST("{part}" AS VARCHAR), '-') AS part FROM "{RESULTS_TABLE}"
                WHERE {of_runs}
            ),
            run AS (SELECT r.* FROM r JOIN _latest_runs USING (table_name, run_id)),
            per_run AS (
                SELECT table_name, max(validated_at) AS validated_at,
                       count(DISTINCT part) AS partitions,
                       count(DISTINCT part) FILTER (WHERE NOT published) AS blocked
                FROM run GROUP BY table_name
            )
            SELECT table_name, run_id, per_run.validated_at, expectation, column_name, severity, details,
                   count(DISTINCT part) AS checked,
                   count(DISTINCT part) FILTER (WHERE NOT success) AS failed,
                   sum(unexpected_count) AS unexpected_count,
                   max(unexpected_percent) AS share_percent,
                   bool_and(success) AS success,
                   any_value(partitions) AS partitions, any_value(blocked) AS blocked
            FROM run JOIN per_run USING (table_name)
            GROUP BY ALL
            ORDER BY table_name, expectation, column_name, details
            """
    ).to_arrow_table()
    con.unregister("_latest_runs")
    return out


def agreement(con: duckdb.DuckDBPyConnection, table: Table) -> list[dict[str, Any]]:
    """Computed vs published values over the whole table, one row per registry pair check."""
    out = []
    for pair in table.pair_checks:
        compared, agreed = con.execute(
            f'SELECT count(*) FILTER (WHERE "{pair.column_a}" IS NOT NULL AND "{pair.column_b}" IS NOT NULL), '
            f'count(*) FILTER (WHERE "{pair.column_a}" = "{pair.column_b}") FROM "{table.name}"'
        ).fetchall()[0]
        share = round(100.0 * agreed / compared, 3) if compared else None
        out.append(
            {
                "table_name": table.name,
                "kind": "agreement",
                "check_name": f"{pair.column_a} = {pair.column_b}",
                "column_name": pair.column_a,
                "severity": pair.severity.value,
                "success": None if share is None else share >= 100 * pair.mostly,
                "checked": compared,
                "failed": compared - agreed,
                "share_percent": share,
                "details": json.dumps(
                    {"column_b": pair.column_b, "mostly": pair.mostly, "description": pair.description},
                    ensure_ascii=False,
                ),
            }
        )
    return out


def coverage(
    con: duckdb.DuckDBPyConnection, table: Table
) -> tuple[dt.date | dt.datetime | None, dt.date | dt.datetime | None]:
    column = time_column(table)
    if column is None:
        return None, None
    ((first, last),) = con.execute(f'SELECT min("{column}"), max("{column}") FROM "{table.name}"').fetchall()
    return first, last


@dataclass(frozen=True)
class Span:
    """The time a table's rows cover: the first and last value of its time column and, for a table
    dated by its partition, when the newest partition holding rows was last written."""

    first: dt.date | dt.datetime | None = None
    last: dt.date | dt.datetime | None = None
    last_written: dt.datetime | None = None


def _span(con: duckdb.DuckDBPyConnection, table: Table, fact: LakeFacts | None) -> Span:
    """Time coverage: a table dated by its (date) partition spans its partitions holding rows, which
    the facts know without a scan of every file; other tables ask the serving view (``coverage``)."""
    part = table.partition_by
    if table.events and fact is not None and fact.partitions:
        # every published day is covered, with or without rows (none happened); to its last write
        return Span(fact.partitions[0], fact.partitions[-1], fact.last_write)
    if (
        fact is not None
        and part is not None
        and time_column(table) == part
        and table.column(part).type == "date"
    ):
        first, last = fact.dated_rows or (None, None)
        return Span(first, last, fact.newest_rows_written)
    return Span(*coverage(con, table)) if _has_relation(con, table.name) else Span()


def _covers_days(table: Table, fact: LakeFacts | None) -> bool:
    """An events table with published date partitions: its days are covered even without rows."""
    return table.events and fact is not None and bool(fact.partitions)


def _row_count(con: duckdb.DuckDBPyConnection, name: str) -> int:
    if not _has_relation(con, name):
        return 0
    ((count,),) = con.execute(f'SELECT count(*) FROM "{name}"').fetchall()
    return int(count)


# ------------------------------------------------------------------------------------- assembly


def catalog_tables(
    con: duckdb.DuckDBPyConnection,
    lake: LakeLike,
    *,
    now: dt.datetime | None = None,
    tables: Sequence[Table] | None = None,
    given: Mapping[str, LakeFacts] | None = None,
) -> dict[str, pa.Table]:
    """The four catalog tables, from the registry, the lake and the serving views on ``con``.

    Every registry table is a dataset except the stage tables (never stored). ``given``: each lake
    table's facts as known to the caller (a table missing from it has no files); by default they are
    read from the lake's files (``lake_facts``).
    """
    now = now or dt.datetime.now(dt.UTC)
    # stage tables are in-memory hand-offs between a parser and its build, never stored: not datasets
    tables = [t for t in (tables if tables is not None else all_tables()) if t.layer is not Layer.STAGE]
    lineage = lineage_table(con)
    gate = gate_results(con)
    facts = {
        t.name: lake_facts(lake, t) if given is None else given.get(t.name, LakeFacts())
        for t in tables
        if t.layer.in_lake
    }

    quality_rows: list[dict[str, Any]] = [
        {**r, "kind": "expectation", "check_name": r["expectation"]} for r in gate.to_pylist()
    ]
    dataset_rows = []
    for table in tables:
        fact = facts.get(table.name)
        rows = fact.rows if fact else _row_count(con, table.name)
        has_data = rows > 0 or _covers_days(table, fact)
        span = _span(con, table, fact) if has_data else Span()
        quarantine = related_quarantine(table, tables, lineage)
        quarantined = sum(facts[q].rows for q in quarantine if q in facts)
        quality_rows += [
            {
                "table_name": table.name,
                "kind": "quarantine",
                "check_name": q,
                "failed": facts[q].rows if q in facts else None,
                "details": json.dumps({"why": "rows of the table's input that could not be published"}),
            }
            for q in quarantine
        ]
        agreed = agreement(con, table) if has_data else []
        quality_rows += agreed
        row = _dataset_row(table, fact, rows, span, now)
        row |= _gate_summary(gate, table.name)
        row |= {
            "rows": rows,
            "quarantine_tables": ",".join(quarantine) or None,
            "quarantined_rows": quarantined if quarantine else None,
            "agreement_percent": agreed[0]["share_percent"] if agreed else None,
        }
        dataset_rows.append(row)

    out = {
        cat.columns.name: columns_table(tables),
        cat.lineage.name: lineage,
        cat.quality.name: _conformed(cat.quality, quality_rows),
        cat.quarantine_reasons.name: quarantine_reasons(con, tables, facts),
    }
    sizes = {name: data.num_rows for name, data in out.items()} | {cat.datasets.name: len(dataset_rows)}
    for row in dataset_rows:
        if row["table_name"] in sizes:  # the catalog's own tables: their rows as just built
            row["rows"] = sizes[row["table_name"]]
    out[cat.datasets.name] = _conformed(cat.datasets, dataset_rows)
    return out


def quarantine_reasons(
    con: duckdb.DuckDBPyConnection, tables: Sequence[Table], facts: Mapping[str, LakeFacts]
) -> pa.Table:
    """Rows per quarantine table, Beijing date (its date partition, where it has one) and reason,
    from the serving views; the tables with no rows are not read."""
    queries = []
    for t in tables:
        fact = facts.get(t.name)
        if t.layer is not Layer.QUARANTINE or fact is None or not fact.rows or not _has_relation(con, t.name):
            continue
        dated = t.partition_by is not None and t.column(t.partition_by).type == "date"
        day = f'"{t.partition_by}"' if dated else "NULL::DATE"
        queries.append(
            f"SELECT {string_literal(t.name)} AS table_name, {string_literal(t.source)} AS source, "
            f'{day} AS date, reason, count(*) AS rows FROM "{t.name}" GROUP BY ALL'
        )
    if not queries:
        return cat.quarantine_reasons.empty()
    found = con.sql(" UNION ALL ".join(queries) + " ORDER BY table_name, date, rows DESC, reason")
    return cat.quarantine_reasons.conform(found.to_arrow_table())


def _dataset_row(
    table: Table,
    fact: LakeFacts | None,
    rows: int,
    span: Span,
    now: dt.datetime,
) -> dict[str, Any]:
    owner, frequency = owner_of(table), frequency_of(table)
    building = table.layer is Layer.CATALOG  # the catalog: being built now, its rows counted later
    last_write = (now if building else None) if fact is None else fact.last_write
    # files without rows (a rerun emptied them) hold no data to be on time with, but an events table's
    # empty days say that nothing happened
    present = rows > 0 or building or _covers_days(table, fact)
    data_end = newest_end(span.last, span.last_written, table.date_span)
    # rows dated after they were written (a logger whose clock runs ahead) are no sign of a live feed:
    # no data is fresher than its table's last write
    data_fresh = min(data_end, last_write) if data_end is not None and last_write is not None else data_end
    # without a time column: current as of its last write, or of a later check that found nothing new
    confirmed = [t for t in (last_write, fact.source_checked if fact else None) if t is not None]
    end = data_fresh if data_fresh is not None else max(confirmed, default=None)
    fresh = freshness(frequency.expected, table.freshness_tolerance, end, now)
    if not present:
        fresh = Freshness("no data", None, None)
    due = (
        end + frequency.expected + table.freshness_tolerance
        if present and end and frequency.expected
        else None
    )
    expected_h = frequency.expected.total_seconds() / 3600 if frequency.expected else None
    return {
        "table_name": table.name,
        "layer": table.layer.value,
        "source": table.source,
        "title_zh": table.title_zh or table.title,
        "title_en": table.title,
        "description_zh": table.description_zh or table.description,
        "description_en": table.description,
        "owner_zh": owner.name_zh,
        "owner_en": owner.name_en,
        "contact": owner.contact,
        "source_system": table.source_system or None,
        "frequency_zh": frequency.label_zh,
        "frequency_en": frequency.label_en,
        "expected_interval_h": expected_h,
        "sharing": table.sharing.value,
        "sharing_conditions": table.sharing_conditions
        if table.sharing is not Sharing.UNCONDITIONAL
        else None,
        "primary_key": ",".join(table.primary_key) or None,
        "partition_by": table.partition_by,
        "time_column": time_column(table),
        "column_count": len(table.columns),
        "partitions": len(fact.partitions) if fact else 0,
        "files": fact.files if fact else 0,
        "size_bytes": fact.size_bytes if fact else None,
        "first_partition": fact.partitions[0] if fact and fact.partitions else None,
        "last_partition": fact.partitions[-1] if fact and fact.partitions else None,
        "coverage_start": as_instant(span.first),
        "coverage_end": data_end,
        "last_updated_at": last_write,
        "freshness_status": fresh.status,
        "data_age_h": fresh.age_h,
        "late_by_h": fresh.late_by_h,
        "freshness_reference_at": end if present else None,
        "freshness_due_at": due,
        "built_at": now,
    }


def _gate_summary(gate: pa.Table, table_name: str) -> dict[str, Any]:
    rows = [r for r in gate.to_pylist() if r["table_name"] == table_name] if gate.num_columns else []
    if not rows:
        return {}
    return {
        "last_gate_run": rows[0]["run_id"],
        "last_gate_at": rows[0]["validated_at"],
        "gate_passed": sum(1 for r in rows if r["success"]),
        "gate_failed": sum(1 for r in rows if not r["success"] and r["severity"] == "blocking"),
        "gate_warnings": sum(1 for r in rows if not r["success"] and r["severity"] == "warning"),
        "gate_partitions": rows[0]["partitions"],
        "gate_partitions_blocked": rows[0]["blocked"],
    }


def _conformed(table: Table, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (dicts, missing keys = NULL) as ``table``'s Arrow table."""
    names = table.column_names
    return table.conform(
        pa.Table.from_pylist(
            [{n: r.get(n) for n in names} for r in rows], schema=table.arrow_schema(strict=False)
        )
    )


# ---------------------------------------------------------------------------------------- write


def write_catalog(con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table]) -> None:
    """Store the catalog tables in the serving database (replacing the empty views or old tables)."""
    for name, given in tables.items():
        table = get_table(name)
        data = table.conform(given)
        ((views,),) = con.execute(
            "SELECT count(*) FROM duckdb_views() WHERE view_name = $1", [name]
        ).fetchall()
        if views:
            con.execute(f'DROP VIEW "{name}"')
        con.register("_catalog_rows", data)
        try:
            casts = ", ".join(f'CAST("{c.name}" AS {c.duckdb_type}) AS "{c.name}"' for c in table.columns)
            con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT {casts} FROM _catalog_rows')
        finally:
            con.unregister("_catalog_rows")
        con.execute(f'COMMENT ON TABLE "{name}" IS {string_literal(table.title_zh + " / " + table.title)}')
        for c in table.columns:
            con.execute(f'COMMENT ON COLUMN "{name}"."{c.name}" IS {string_literal(c.comment)}')
