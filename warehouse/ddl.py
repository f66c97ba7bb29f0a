"""Table definitions for Trino, Spark SQL and DuckDB over the lake's Parquet, generated from the registry.

Each engine reads the files the lake already holds, in place: Trino (Hive connector) and Spark get
external tables, DuckDB gets views over ``read_parquet``. Nothing is copied or migrated, so the lake
outgrows one DuckDB without a migration. Only tables that live in the lake are exported (not the
in-memory STAGE layer, not the PLATFORM tables kept in the state database).

The locations follow the lake's layout: ``<root>/<layer>/<table>/<partition>=<value>/<part>.parquet``
for a partitioned table (the partition column lives in the directory name, not in the file), and
``<root>/<layer>/<table>/<part>.parquet`` for an unpartitioned one. Files whose names start with a dot
(the lake's in-flight temporary files) are ignored by all three engines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from schemas.registry import Table, all_tables
from schemas.sql import string_literal

# A Hive metastore (Spark's, and Trino's Hive connector's) keeps a column comment in a varchar(256)
# (COLUMNS_V2.COMMENT): a longer one fails the CREATE TABLE there
METASTORE_COMMENT_CHARS = 256


class Dialect(StrEnum):
    TRINO = "trino"
    SPARK = "spark"
    DUCKDB = "duckdb"


# Registry logical types as each engine declares them over Parquet. DuckDB's come from the registry
# (``Column.duckdb_type``). Trino's Hive connector accepts only TIMESTAMP (precision set by the catalog's
# hive.timestamp-precision) and no time zone in table columns; see TRINO_NOTES.
_SQL_TYPES: dict[Dialect, dict[str, str]] = {
    Dialect.TRINO: {
        "string": "VARCHAR",
        "bool": "BOOLEAN",
        "int8": "TINYINT",
        "int16": "SMALLINT",
        "int32": "INTEGER",
        "int64": "BIGINT",
        "float64": "DOUBLE",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
    },
    Dialect.SPARK: {
        "string": "STRING",
        "bool": "BOOLEAN",
        "int8": "TINYINT",
        "int16": "SMALLINT",
        "int32": "INT",
        "int64": "BIGINT",
        "float64": "DOUBLE",
        "date": "DATE",
        "timestamp": "TIMESTAMP",  # Spark's TIMESTAMP is an instant, as the lake's UTC timestamps are
    },
}

TRINO_NOTES: tuple[str, ...] = (
    "Run in a Hive-connector catalog, e.g. trino --catalog hive -f <this file>.",
    "The lake stores instants as Parquet UTC timestamps in microseconds: set hive.parquet.time-zone=UTC",
    "and hive.timestamp-precision=MICROSECONDS in the catalog properties to read them unchanged.",
    "New partitions appear after CALL system.sync_partition_metadata(...) (below): run it after each load.",
)
SPARK_NOTES: tuple[str, ...] = (
    "Run with spark-sql -f <this file>. On Hadoop's S3 client the lake URL scheme is s3a://",
    "(export with --lake-url s3a://...). New partitions appear after MSCK REPAIR TABLE (below): run it",
    "after each load.",
)
DUCKDB_NOTES = (
    "Views bind when created: a table without a Parquet file when this was written is an empty view",
    "(marked below): export again once it has rows. For an s3:// lake, LOAD httpfs and CREATE SECRET",
    "(TYPE s3, ...) with the endpoint and keys first.",
    "The session's time zone is set to Beijing's, as `ecocloud sql` has it: instants show, and ::DATE",
    "and date_trunc cut days, in Beijing time (remove the SET to keep your session's zone).",
)
# what the other engines need for the same days as `ecocloud sql` (their CLIs take it per session)
TRINO_NOTES += (
    "Days of instants (CAST(... AS DATE), date_trunc) are in the session's zone: SET TIME ZONE",
    "'Asia/Shanghai' for Beijing days, as `ecocloud sql` has them.",
)
SPARK_NOTES += (
    "Days of instants (CAST(... AS DATE), date_trunc) are in the session's zone: SET",
    "spark.sql.session.timeZone=Asia/Shanghai for Beijing days, as `ecocloud sql` has them.",
)


def lake_tables() -> list[Table]:
    """Every registry table stored in the lake, by name."""
    return [t for t in all_tables() if t.layer.in_lake]


def lake_root(root: str, dialect: Dialect) -> str:
    """``root`` (a local path, file:// or object-store URL) as ``dialect`` names it, without a trailing /.

    Trino and Spark take URLs (a local path becomes file:///…); DuckDB takes local paths as paths.
    """
    scheme = urlsplit(root).scheme
    if len(scheme) <= 1:  # no scheme (or a Windows drive letter): a local path
        path = Path(root).expanduser().resolve()
        return str(path) if dialect is Dialect.DUCKDB else path.as_uri()
    if scheme == "file" and dialect is Dialect.DUCKDB:
        return url2pathname(urlsplit(root).path).rstrip("/") or "/"
    return root.rstrip("/")


def table_location(root: str, table: Table) -> str:
    """Where ``table``'s files are under a lake root already in the dialect's form (see ``lake_root``)."""
    return f"{root}/{table.layer.value}/{table.name}"


def export_ddl(
    dialect: Dialect,
    root: str,
    *,
    schema: str = "ecocloud",
    tables: Iterable[Table] | None = None,
    replace: bool = False,
    has_files: Callable[[Table], bool] | None = None,
) -> str:
    """A SQL script defining every lake table (or ``tables``) in ``schema`` for ``dialect``.

    ``replace`` drops existing Trino/Spark tables first (external tables: the files stay); DuckDB
    views are always replaced. ``has_files``: whether a table has a Parquet file now; a DuckDB view
    of one without is an empty view of its columns (``read_parquet`` of no file fails, and the
    script would stop there). None: every table is taken to have files.
    """
    chosen = lake_tables() if tables is None else list(tables)
    base = lake_root(root, dialect)
    notes = {Dialect.TRINO: TRINO_NOTES, Dialect.SPARK: SPARK_NOTES, Dialect.DUCKDB: DUCKDB_NOTES}[dialect]
    header = [
        f"-- ecocloud lake tables for {dialect.value}, generated from the schema registry (ecocloud export-ddl).",
        f"-- Lake root: {base}",
        *(f"-- {line}" for line in notes),
    ]
    statements = [_create_schema(dialect, schema)]
    if dialect is Dialect.DUCKDB:
        statements.insert(0, "SET TimeZone = 'Asia/Shanghai'")
    for table in chosen:
        empty = dialect is Dialect.DUCKDB and has_files is not None and not has_files(table)
        statements.extend(
            _duckdb_empty_view(table, schema)
            if empty
            else table_ddl(table, dialect, base, schema=schema, replace=replace)
        )
    return "\n".join(header) + "\n\n" + "".join(s + ";\n\n" for s in statements).rstrip("\n") + "\n"


def table_ddl(table: Table, dialect: Dialect, root: str, *, schema: str, replace: bool = False) -> list[str]:
    """The statements defining ``table`` under ``root`` (in the dialect's form, see ``lake_root``)."""
    if dialect is Dialect.DUCKDB:
        return _duckdb_view(table, root, schema)
    name = f"{_ident(dialect, schema)}.{_ident(dialect, table.name)}"
    out = [f"DROP TABLE IF EXISTS {name}"] if replace else []
    if dialect is Dialect.TRINO:
        out.append(_trino_table(table, root, name))
        if table.partition_by:
            out.append(
                "CALL system.sync_partition_metadata(schema_name => "
                f"{_literal(dialect, schema)}, table_name => {_literal(dialect, table.name)}, mode => 'FULL')"
            )
    else:
        out.append(_spark_table(table, root, name))
        if table.partition_by:
            out.append(f"MSCK REPAIR TABLE {name}")
    return out


def _create_schema(dialect: Dialect, schema: str) -> str:
    kind = "DATABASE" if dialect is Dialect.SPARK else "SCHEMA"
    return f"CREATE {kind} IF NOT EXISTS {_ident(dialect, schema)}"


def _columns_partition_last(table: Table) -> list[str]:
    """Hive tables list partition columns last (Trino requires it, Spark moves them there anyway)."""
    names = table.column_names
    return [n for n in names if n != table.partition_by] + (
        [table.partition_by] if table.partition_by else []
    )


def _column_defs(table: Table, dialect: Dialect) -> str:
    types = _SQL_TYPES[dialect]
    defs = []
    for name in _columns_partition_last(table):
        col = table.column(name)
        defs.append(
            f"  {_ident(dialect, name)} {types[col.type]} "
            f"COMMENT {_literal(dialect, _column_comment(table, name, METASTORE_COMMENT_CHARS))}"
        )
    return ",\n".join(defs)


def _trino_table(table: Table, root: str, name: str) -> str:
    props = [
        f"external_location = {_literal(Dialect.TRINO, table_location(root, table))}",
        "format = 'PARQUET'",
    ]
    if table.partition_by:
        props.append(f"partitioned_by = ARRAY[{_literal(Dialect.TRINO, table.partition_by)}]")
    return (
        f"CREATE TABLE IF NOT EXISTS {name} (\n{_column_defs(table, Dialect.TRINO)}\n)\n"
        f"COMMENT {_literal(Dialect.TRINO, _table_comment(table))}\n"
        "WITH (\n  " + ",\n  ".join(props) + "\n)"
    )


def _spark_table(table: Table, root: str, name: str) -> str:
    partitioned = (
        f"PARTITIONED BY ({_ident(Dialect.SPARK, table.partition_by)})\n" if table.partition_by else ""
    )
    return (
        f"CREATE TABLE IF NOT EXISTS {name} (\n{_column_defs(table, Dialect.SPARK)}\n)\n"
        "USING PARQUET\n"
        f"{partitioned}"
        f"LOCATION {_literal(Dialect.SPARK, table_location(root, table))}\n"
        f"COMMENT {_literal(Dialect.SPARK, _table_comment(table))}"
    )


def _duckdb_view(table: Table, root: str, schema: str) -> list[str]:
    d = Dialect.DUCKDB
    name = f"{_ident(d, schema)}.{_ident(d, table.name)}"
    cols = ",\n  ".join(
        f"CAST({_ident(d, c.name)} AS {c.duckdb_type}) AS {_ident(d, c.name)}" for c in table.columns
    )
    location = table_location(root, table)
    glob = f"{location}/*/*.parquet" if table.partition_by else f"{location}/*.parquet"
    opts = "union_by_name = true"
    if table.partition_by:
        part_type = table.column(table.partition_by).duckdb_type
        opts += f", hive_partitioning = true, hive_types = {{{_literal(d, table.partition_by)}: {part_type}}}"
    scan = f"read_parquet({_literal(d, glob)}, {opts})"
    if table.added_columns:  # NULL where no part has them yet (as warehouse.serving.select_sql)
        empty = ", ".join(
            f"CAST(NULL AS {table.column(c).duckdb_type}) AS {_ident(d, c)}" for c in table.added_columns
        )
        scan = f"(SELECT * FROM {scan} UNION ALL BY NAME SELECT {empty} WHERE false)"
    out = [
        f"CREATE OR REPLACE VIEW {name} AS SELECT\n  {cols}\nFROM {scan}",
        f"COMMENT ON VIEW {name} IS {_literal(d, _table_comment(table))}",
    ]
    out.extend(
        f"COMMENT ON COLUMN {name}.{_ident(d, c)} IS {_literal(d, _column_comment(table, c))}"
        for c in table.column_names
    )
    return out


def _duckdb_empty_view(table: Table, schema: str) -> list[str]:
    """A view with ``table``'s columns and no rows, for a table without files yet."""
    d = Dialect.DUCKDB
    name = f"{_ident(d, schema)}.{_ident(d, table.name)}"
    cols = ", ".join(f"CAST(NULL AS {c.duckdb_type}) AS {_ident(d, c.name)}" for c in table.columns)
    note = f"No Parquet files when exported: export again once it has rows. {_table_comment(table)}"
    return [
        f"-- {table.name}: no Parquet files yet, an empty view\nCREATE OR REPLACE VIEW {name} AS SELECT {cols} WHERE false",
        f"COMMENT ON VIEW {name} IS {_literal(d, note)}",
    ]


def _table_comment(table: Table) -> str:
    return f"{table.title}. {table.description}"


def _column_comment(table: Table, name: str, at_most: int | None = None) -> str:
    """The column's comment (Chinese, English, unit), cut to ``at_most`` characters with "…"."""
    text = table.column(name).comment
    return text if at_most is None or len(text) <= at_most else text[: at_most - 1] + "…"


def _ident(dialect: Dialect, name: str) -> str:
    if dialect is Dialect.SPARK:
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


def _literal(dialect: Dialect, text: str) -> str:
    if dialect is Dialect.SPARK:  # Spark string literals treat the backslash as an escape
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return string_literal(text)
