"""The serving DuckDB file: a view per registry table over the lake, the ledger's tables as tables.

Views are generated from the registry, so every table exists for analysts even before it has data
(an empty, correctly typed view). The file is rebuilt into a temporary file and renamed into place,
so an analyst holding a read-only connection keeps a consistent database and never blocks a run.

A view reads the list of part files the ledger publishes, on every lake, never a glob of a folder:
a file written but not yet published, or one a published unit replaced and not yet deleted, is not
read, so rows are never counted twice; and listing S3 at query time is slow. (A replaced part is
retired in the ledger, and deleted by a refresh once no serving file has listed it for a grace period,
so a connection on the previous file does not lose a file under it:
``ecocloud.runner.engine.refresh_serving``.) The gate results, appended under unique
names and never recorded as ledger parts, are listed once at the refresh (less the files a rollup of
their closed day holds: ``warehouse.results_rollup``, run first by each refresh). Connections
that read such views register the lake's filesystem (``connect_readonly(..., lake)``); no DuckDB
extension is needed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from schemas import platform
from schemas.registry import Layer, Sharing, Table, all_tables, get_table
from schemas.sql import string_list, string_literal
from warehouse import results_rollup
from warehouse.catalog import (
    RESULTS_TABLE,
    LakeFacts,
    catalog_tables,
    lake_facts,
    ledger_facts,
    settled_checks,
    write_catalog,
)
from warehouse.fs import Lake, LakeLike, as_lake, temporary_beside
from warehouse.lake import part_file
from warehouse.ledger import Ledger, Part, UnitState, partition_date

log = logging.getLogger(__name__)
_REFRESH_LOCK = "serving-refresh"


def view_sql(table: Table, files: Sequence[str]) -> str:
    """The serving view of a lake table over ``files`` (full locations; none: an empty, typed view)."""
    select = select_sql(table, list(files) or None)
    if table.name == RESULTS_TABLE:
        select = _withholding(select)
    return f'CREATE OR REPLACE VIEW "{table.name}" AS {select}'


def _withholding(select: str) -> str:
    """The gate results with no unexpected value of a 不予共享 table quoted: the gate no longer writes
    them (``warehouse.quality.WITHHELD``), and results written before it said so are served so too."""
    closed = [t.name for t in all_tables() if t.sharing is Sharing.NOT_SHARED]
    withheld = string_literal(json.dumps({"partial_unexpected": platform.WITHHELD}, ensure_ascii=False))
    return (
        f"SELECT * REPLACE (CASE WHEN table_name IN ({string_list(closed)}) AND observed_value LIKE "
        f"""'{{"partial_unexpected": [%' THEN {withheld} ELSE observed_value END AS observed_value) """
        f"FROM ({select})"
    )


def published_files(
    lake: Lake, parts: Sequence[Part], results_files: Sequence[str] | None = None
) -> dict[str, list[str]]:
    """Every table's part files as the serving views read them, relative to the lake: the ledger's
    ``parts``, and the gate results as listed now (see the module doc; ``results_files``: the results
    table's listing, when the caller has just made it)."""
    out: dict[str, list[str]] = {}
    for p in parts:
        out.setdefault(p.table_name, []).append(
            part_file(get_table(p.table_name), partition_date(p.partition), p.part)
        )
    for files in out.values():
        files.sort()  # partition order, as a glob lists them: scans and ties come out the same each time
    out[RESULTS_TABLE] = results_rollup.listed(lake, get_table(RESULTS_TABLE), results_files)
    return out


def catalog_facts(
    lake: Lake,
    parts: Sequence[Part],
    listed: Mapping[str, list[str]],
    checks: Mapping[str, dt.datetime] | None = None,
) -> dict[str, LakeFacts]:
    """The catalog's facts of every lake table: the ledger's records of its parts and ``checks`` of the
    builds that wrote them (``settled_checks``), the gate results' footers (they are not ledger parts)."""
    by_table: dict[str, list[Part]] = {}
    for p in parts:
        by_table.setdefault(p.table_name, []).append(p)
    facts = {name: ledger_facts(of_table, checks) for name, of_table in by_table.items()}
    facts[RESULTS_TABLE] = lake_facts(lake, get_table(RESULTS_TABLE), listed[RESULTS_TABLE])
    return facts


def select_sql(table: Table, files: str | Sequence[str | Path] | None) -> str:
    """A SELECT of ``table``'s columns (registry types) over a glob or a list of its part files;
    over none, an empty relation of the same columns."""
    if not files:
        empty = ", ".join(f'CAST(NULL AS {c.duckdb_type}) AS "{c.name}"' for c in table.columns)
        return f"SELECT {empty} WHERE false"
    cols = ", ".join(f'CAST("{c.name}" AS {c.duckdb_type}) AS "{c.name}"' for c in table.columns)
    where = (
        string_literal(files)
        if isinstance(files, str)
        else "[" + ", ".join(string_literal(str(f)) for f in files) + "]"
    )
    opts = "union_by_name = true"
    if table.partition_by:
        opts += f", hive_partitioning = true, hive_types = {{'{table.partition_by}': DATE}}"
    return f"SELECT {cols} FROM {with_added_columns(table, f'read_parquet({where}, {opts})')}"


def with_added_columns(table: Table, scan: str) -> str:
    """``scan`` (a relation of the table's parts), with the table's added columns NULL where no part
    has them: by name, beside an empty relation of those columns (union_by_name alone fills a
    column only some parts lack; the optimiser drops the empty side, filters and projections still
    reach the scan)."""
    if not table.added_columns:
        return scan
    empty = ", ".join(f'CAST(NULL AS {table.column(c).duckdb_type}) AS "{c}"' for c in table.added_columns)
    return f"(SELECT * FROM {scan} UNION ALL BY NAME SELECT {empty} WHERE false)"


def _comment_sql(table: Table) -> list[str]:
    out = [f'COMMENT ON VIEW "{table.name}" IS {string_literal(table.title + ". " + table.description)}']
    for c in table.columns:
        out.append(f'COMMENT ON COLUMN "{table.name}"."{c.name}" IS {string_literal(c.comment)}')
    return out


def refresh(
    lake: LakeLike, duckdb_file: Path, ledger: Ledger, *, grace: dt.timedelta, macros: Sequence[str] = ()
) -> Path:
    """Rebuild the serving database and swap it into place atomically (first rolling up the gate
    results of closed days, see ``warehouse.results_rollup``: the files a rollup holds are deleted
    ``grace`` after it was written, as the serving files made before it list them). One refresh at a
    time (the ledger's lock, across machines): a refresh listing the results while another deletes
    the files a rollup now holds would serve a view of missing files. ``macros``: statements that
    create macros over the views (stored in the file: queries may call them)."""
    with ledger.locked([_REFRESH_LOCK]):
        return _rebuild(as_lake(lake), duckdb_file, ledger, grace, macros)


def _rebuild(
    store: Lake, duckdb_file: Path, ledger: Ledger, grace: dt.timedelta, macros: Sequence[str]
) -> Path:
    results = get_table(RESULTS_TABLE)
    results_files: list[str] | None = None  # None: list them anew
    try:
        today = dt.datetime.now(dt.UTC).date()
        results_files = results_rollup.roll_up(store, results, today, keep_members=grace).files
    except (OSError, ValueError, pa.ArrowException) as e:  # maintenance: the listing stays right
        log.warning("gate results not rolled up (the next refresh retries): %s", e)
    duckdb_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_beside(duckdb_file)
    parts, units = ledger.parts(), ledger.all_units()
    ledger_rows = ledger_tables(ledger, parts, units)
    checks = settled_checks(ledger.source_checks(), units)
    listed = published_files(store, parts, results_files)
    try:
        con = duckdb.connect(str(tmp))
        try:
            store.register(con)
            con.execute("BEGIN")  # one transaction: a commit per statement costs a WAL flush each
            for table in all_tables():
                if table.layer == Layer.STAGE:
                    continue  # in-memory hand-over between a parser and a build, never published
                if table.layer == Layer.PLATFORM:
                    con.register("_rows", ledger_rows[table.name])
                    con.execute(f'CREATE TABLE "{table.name}" AS SELECT * FROM _rows')
                    con.unregister("_rows")
                else:
                    con.execute(view_sql(table, [store.uri(r) for r in listed.get(table.name, [])]))
                for stmt in _comment_sql(table):
                    con.execute(stmt)
            for statement in macros:
                con.execute(statement)
            # last: it reads the views and ledger tables
            given = catalog_facts(store, parts, listed, checks)
            write_catalog(con, catalog_tables(con, store, given=given))
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, duckdb_file)
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
    return duckdb_file


def ledger_tables(
    ledger: Ledger, parts: Sequence[Part] | None = None, units: Sequence[UnitState] | None = None
) -> dict[str, pa.Table]:
    """The ledger's state as the registry's ``platform_ledger__*`` tables (``parts``, ``units``: its
    part and unit records, when the caller has them already)."""
    raw = [
        {
            "raw_path": o.raw_path,
            "source": o.source,
            "logical_name": o.logical_name,
            "date": _date(o.partition),
            "sha256": o.sha256,
            "size_bytes": o.size,
            "origin": o.origin,
            "received_at": _ts(o.received_at),
        }
        for o in ledger.raw_objects()
    ]
    unit_rows = [
        {
            "build": u.build,
            "unit": u.unit,
            "fingerprint": u.fingerprint,
            "status": u.status,
            "counts": json.dumps(u.counts, ensure_ascii=False, default=str),
            "run_id": u.run_id,
            "task": u.task,
            "built_at": _ts(u.built_at),
            "error": u.error,
        }
        for u in (ledger.all_units() if units is None else units)
    ]
    part_rows = [
        {
            "table_name": p.table_name,
            "partition_date": _date(p.partition),
            "part": p.part,
            "fingerprint": p.fingerprint,
            "build": p.build,
            "unit": p.unit,
            "rows": p.rows,
            "size_bytes": p.size_bytes,
            "run_id": p.run_id,
            "written_at": _ts(p.written_at),
        }
        for p in (ledger.parts() if parts is None else parts)
    ]
    lineage = [
        {
            "run_id": r["run_id"],
            "task": r["task"],
            "build": r["build"],
            "unit": r["unit"],
            "output_table": r["output_table"],
            "output_partition": _date(r["output_partition"]),
            "part": r["part"],
            "input_kind": r["input_kind"],
            "input_id": r["input_id"],
            "input_partition": _date(r["input_partition"]),
            "input_version": r["input_version"],
            "recorded_at": _ts(r["recorded_at"]),
        }
        for r in ledger.lineage()
    ]
    landing_rows = [
        {
            **r,
            "attempted_at": _ts(r["attempted_at"]),
            "succeeded_at": r["succeeded_at"] and _ts(r["succeeded_at"]),
        }
        for r in ledger.landings()
    ]
    out = {}
    for table, rows in (
        (platform.raw_manifest, raw),
        (platform.builds, unit_rows),
        (platform.landings, landing_rows),
        (platform.parts, part_rows),
        (platform.lineage, lineage),
    ):
        schema = table.arrow_schema(strict=False)
        out[table.name] = table.conform(pa.Table.from_pylist(rows, schema=schema))
    return out


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def connect_readonly(duckdb_file: Path, lake: LakeLike) -> duckdb.DuckDBPyConnection:
    """The serving database, read-only, with the filesystem of ``lake`` (the lake its views read)
    registered: without it an S3 lake's views fail (no DuckDB extension can be fetched)."""
    if not duckdb_file.exists():
        raise FileNotFoundError(
            f"no serving database at {duckdb_file}: run an ingest (e.g. `ecocloud demo`) first"
        )
    con = duckdb.connect(str(duckdb_file), read_only=True)
    as_lake(lake).register(con)
    return con
