"""The serving DuckDB file: a view per registry table over the lake, plus the ledger as tables.

Views are generated from the registry, so every table exists for analysts even before it has data
(an empty, correctly typed view). The file is rebuilt into a temporary file and renamed into place,
so an analyst holding a read-only connection keeps a consistent database and never blocks a run.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa

from schemas.registry import Table, all_tables
from warehouse.catalog import catalog_tables, write_catalog
from warehouse.lake import table_dir, table_glob
from warehouse.ledger import Ledger


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def view_sql(lake: Path, table: Table) -> str:
    cols = ", ".join(f'CAST("{c.name}" AS {c.duckdb_type}) AS "{c.name}"' for c in table.columns)
    has_files = table_dir(lake, table).exists() and any(table_dir(lake, table).rglob("*.parquet"))
    if not has_files:
        empty = ", ".join(f'CAST(NULL AS {c.duckdb_type}) AS "{c.name}"' for c in table.columns)
        return f'CREATE OR REPLACE VIEW "{table.name}" AS SELECT {empty} WHERE false'
    opts = "union_by_name = true"
    if table.partition_by:
        opts += f", hive_partitioning = true, hive_types = {{'{table.partition_by}': DATE}}"
    return (
        f'CREATE OR REPLACE VIEW "{table.name}" AS SELECT {cols} '
        f"FROM read_parquet({_quote(table_glob(lake, table))}, {opts})"
    )


def _comment_sql(table: Table) -> list[str]:
    out = [f'COMMENT ON VIEW "{table.name}" IS {_quote(table.title + ". " + table.description)}']
    for c in table.columns:
        text = c.description + (f" [{c.unit}]" if c.unit else "")
        out.append(f'COMMENT ON COLUMN "{table.name}"."{c.name}" IS {_quote(text)}')
    return out


def refresh(lake: Path, duckdb_file: Path, ledger: Ledger) -> Path:
    """Rebuild the serving database and swap it into place atomically."""
    duckdb_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = duckdb_file.parent / f".{duckdb_file.name}.{uuid.uuid4().hex}.tmp"
    try:
        con = duckdb.connect(str(tmp))
        try:
            for table in all_tables():
                con.execute(view_sql(lake, table))
                for stmt in _comment_sql(table):
                    con.execute(stmt)
            raw = ledger.raw_objects()
            con.register(
                "raw_rows",
                pa.table(
                    {
                        "raw_path": [r.raw_path for r in raw],
                        "source": [r.source for r in raw],
                        "logical_name": [r.logical_name for r in raw],
                        "partition_date": [r.partition for r in raw],
                        "sha256": [r.sha256 for r in raw],
                        "size_bytes": pa.array([r.size for r in raw], pa.int64()),
                        "origin": [r.origin for r in raw],
                        "received_at": [r.received_at for r in raw],
                    }
                ),
            )
            con.execute(
                "CREATE TABLE platform__raw_manifest AS SELECT * EXCLUDE (partition_date, received_at), "
                "CAST(partition_date AS DATE) AS partition_date, "
                "CAST(received_at AS TIMESTAMPTZ) AS received_at FROM raw_rows"
            )
            builds = ledger.builds()
            con.register(
                "build_rows",
                pa.table(
                    {
                        "source": [b.source for b in builds],
                        "partition_key": [b.partition for b in builds],
                        "inputs": [b.inputs for b in builds],
                        "pipeline_version": [b.pipeline_version for b in builds],
                        "status": [b.status for b in builds],
                        "counts": [str(b.counts) for b in builds],
                        "built_at": [b.built_at for b in builds],
                    }
                ),
            )
            con.execute(
                "CREATE TABLE platform__builds AS SELECT * EXCLUDE (built_at), "
                "CAST(built_at AS TIMESTAMPTZ) AS built_at FROM build_rows"
            )
            write_catalog(con, catalog_tables(con, lake))  # last: it reads the views and ledger tables
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, duckdb_file)
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
    return duckdb_file


def connect_readonly(duckdb_file: Path) -> duckdb.DuckDBPyConnection:
    if not duckdb_file.exists():
        raise FileNotFoundError(
            f"no serving database at {duckdb_file}: run an ingest (e.g. `ecocloud demo`) first"
        )
    return duckdb.connect(str(duckdb_file), read_only=True)
