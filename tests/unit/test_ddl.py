"""export-ddl: Trino, Spark and DuckDB definitions of every lake table, parsed back with each grammar."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp
from typer.testing import CliRunner

from ecocloud.cli import app
from ecocloud.cli_ddl import DIALECTS
from ecocloud.settings import Settings
from schemas.registry import Layer, Table, all_tables
from warehouse.ddl import Dialect, export_ddl, lake_root, lake_tables, table_location

S3_ROOT = "s3://ecocloud-lake/lake"
PARTITION_DAY = dt.date(2026, 11, 20)


def _parse(script: str, dialect: Dialect) -> list[exp.Expression]:
    """Every statement of ``script`` parsed with the dialect's grammar; a syntax error raises."""
    sqlglot_log = logging.getLogger("sqlglot")
    level = sqlglot_log.level
    sqlglot_log.setLevel(logging.ERROR)  # its warning for each statement kept as a Command (tested below)
    try:
        parsed = sqlglot.parse(script, read=dialect.value, error_level=sqlglot.ErrorLevel.RAISE)
    finally:
        sqlglot_log.setLevel(level)
    return [e for e in parsed if e is not None]


def _created(statements: list[exp.Expression], kind: str) -> dict[str, exp.Create]:
    return {
        s.this.this.name: s for s in statements if isinstance(s, exp.Create) and s.args.get("kind") == kind
    }


def _kind(data_type: exp.DataType) -> exp.DataType.Type:
    """A parsed column type in sqlglot's engine-neutral terms (an unbounded VARCHAR is text)."""
    if data_type.this is exp.DataType.Type.VARCHAR and not data_type.expressions:
        return exp.DataType.Type.TEXT
    return data_type.this


def _registry_type(table: Table, column: str) -> exp.DataType.Type:
    """What the registry's DuckDB type means, in sqlglot's engine-neutral terms."""
    return _kind(exp.DataType.build(table.column(column).duckdb_type, dialect="duckdb"))


def test_lake_tables_are_every_registry_table_outside_stage_platform_and_catalog() -> None:
    """The catalog's tables live in the serving file: exported, they were views of folders that are not
    there (every catalog_* statement of a DuckDB script failed: No files found)."""
    names = {t.name for t in lake_tables()}
    outside = (Layer.STAGE, Layer.PLATFORM, Layer.CATALOG)
    assert names == {t.name for t in all_tables() if t.layer not in outside}
    assert all(any(t.layer is layer for t in all_tables()) for layer in outside)  # the exclusion is exercised
    assert {"core_air__station_hourly", "mart_water__basin_monthly", "quarantine_source__packets"} <= names


@pytest.mark.parametrize("dialect", [Dialect.TRINO, Dialect.SPARK])
def test_external_tables_parse_and_hold_every_registry_table_and_column(dialect: Dialect) -> None:
    statements = _parse(export_ddl(dialect, S3_ROOT), dialect)
    tables = _created(statements, "TABLE")
    assert set(tables) == {t.name for t in lake_tables()}
    for table in lake_tables():
        create = tables[table.name]
        assert create.this.this.db == "ecocloud"
        columns = [(c.name, _kind(c.args["kind"])) for c in create.this.expressions]
        assert sorted(n for n, _ in columns) == sorted(table.column_names), table.name
        for name, sql_type in columns:
            expected = _registry_type(table, name)
            if dialect is Dialect.TRINO and expected is exp.DataType.Type.TIMESTAMPTZ:
                # Trino's Hive connector has no zoned column type: UTC wall time (catalog set to UTC)
                expected = exp.DataType.Type.TIMESTAMP
            assert sql_type is expected, (table.name, name, sql_type, expected)
        props = {type(p).__name__: p for p in create.args["properties"].expressions}
        location = table_location(S3_ROOT, table)
        if dialect is Dialect.TRINO:
            assert f"external_location='{location}'" in create.sql(dialect="trino")
            assert props["FileFormatProperty"].sql(dialect="trino") == "format='PARQUET'"
        else:
            assert props["LocationProperty"].this.this == location
            assert props["FileFormatProperty"].sql(dialect="spark") == "USING PARQUET"
        if table.partition_by:
            assert columns[-1][0] == table.partition_by  # Hive: partition columns come last
            partitioned = props["PartitionedByProperty"]
            assert table.partition_by in [i.name for i in partitioned.find_all(exp.Identifier, exp.Literal)]
        else:
            assert "PartitionedByProperty" not in props


@pytest.mark.parametrize(
    ("dialect", "sync_prefix"),
    [(Dialect.TRINO, "CALL system.sync_partition_metadata("), (Dialect.SPARK, "MSCK REPAIR TABLE ")],
)
def test_partition_sync_follows_each_partitioned_table_and_nothing_else_escapes_the_grammar(
    dialect: Dialect, sync_prefix: str
) -> None:
    statements = _parse(export_ddl(dialect, S3_ROOT), dialect)
    # The grammars have no rule for these maintenance statements: they are the only ones kept as text.
    commands = [s.sql(dialect=dialect.value) for s in statements if isinstance(s, exp.Command)]
    assert all(c.startswith(sync_prefix) for c in commands), commands
    partitioned = [t.name for t in lake_tables() if t.partition_by]
    assert len(commands) == len(partitioned)
    for name in partitioned:
        assert sum(name in c for c in commands) == 1, name


@pytest.mark.parametrize("dialect", [Dialect.TRINO, Dialect.SPARK])
def test_replace_drops_each_table_before_creating_it(dialect: Dialect) -> None:
    statements = _parse(export_ddl(dialect, S3_ROOT, replace=True), dialect)
    order = [
        (type(s).__name__, s.find(exp.Table).name)  # type: ignore[union-attr]
        for s in statements
        if isinstance(s, exp.Drop | exp.Create) and s.args.get("kind") == "TABLE"
    ]
    for table in lake_tables():
        assert order.index(("Drop", table.name)) + 1 == order.index(("Create", table.name))
    assert not any(isinstance(s, exp.Drop) for s in _parse(export_ddl(dialect, S3_ROOT), dialect))


def test_duckdb_views_parse_with_every_table_column_and_location() -> None:
    statements = _parse(export_ddl(Dialect.DUCKDB, S3_ROOT), Dialect.DUCKDB)
    views = _created(statements, "VIEW")
    assert set(views) == {t.name for t in lake_tables()}
    for table in lake_tables():
        select = views[table.name].expression
        assert [e.alias for e in select.expressions] == table.column_names
        assert [_kind(e.this.to) for e in select.expressions] == [
            _registry_type(table, c) for c in table.column_names
        ]
        source = select.args["from_"].this
        pattern = source.find(exp.Literal).this
        expected_glob = "/*/*.parquet" if table.partition_by else "/*.parquet"
        assert pattern == table_location(S3_ROOT, table) + expected_glob
        assert ("hive_partitioning" in source.sql(dialect="duckdb")) == bool(table.partition_by)


def _write_parquet(root: Path, table: Table, rows: int) -> None:
    """A file where the lake writes ``table``'s data: registry schema, partition column in the path."""
    schema = table.arrow_schema(include_partition=False, strict=False)
    data = pa.table({f.name: pa.nulls(rows, f.type) for f in schema}, schema=schema)
    folder = root / table.layer.value / table.name
    if table.partition_by:
        folder = folder / f"{table.partition_by}={PARTITION_DAY.isoformat()}"
    folder.mkdir(parents=True)
    pq.write_table(data, folder / "data.parquet")


def test_duckdb_script_runs_against_a_lake_and_types_every_column(tmp_path: Path) -> None:
    for table in lake_tables():
        _write_parquet(tmp_path, table, rows=1)
    con = duckdb.connect()
    con.execute(export_ddl(Dialect.DUCKDB, str(tmp_path), schema="lake"))
    for table in lake_tables():
        described = con.execute(f'DESCRIBE "lake"."{table.name}"').fetchall()
        assert [(r[0], r[1]) for r in described] == [(c.name, c.duckdb_type) for c in table.columns]
        rows = con.execute(f'SELECT * FROM "lake"."{table.name}"').fetchall()
        assert len(rows) == 1
        if table.partition_by:  # read from the directory name, typed
            (value,) = (
                con.execute(f'SELECT "{table.partition_by}" FROM "lake"."{table.name}"').fetchone() or ()
            )
            assert value == PARTITION_DAY
    comment = con.execute(
        "SELECT comment FROM duckdb_columns() WHERE schema_name = 'lake' "
        "AND table_name = 'core_air__station_hourly' AND column_name = 'pm25_ugm3'"
    ).fetchone()
    assert comment is not None and "µg/m³" in comment[0]


@pytest.mark.parametrize(
    ("root", "dialect", "expected"),
    [
        ("s3://ecocloud-lake/lake/", Dialect.TRINO, "s3://ecocloud-lake/lake"),
        ("s3a://ecocloud-lake/lake", Dialect.SPARK, "s3a://ecocloud-lake/lake"),
        ("s3://ecocloud-lake/lake", Dialect.DUCKDB, "s3://ecocloud-lake/lake"),
        ("/srv/lake/", Dialect.TRINO, "file:///srv/lake"),
        ("/srv/lake", Dialect.SPARK, "file:///srv/lake"),
        ("/srv/lake", Dialect.DUCKDB, "/srv/lake"),
        ("file:///srv/lake/", Dialect.DUCKDB, "/srv/lake"),
        ("file:///srv/lake", Dialect.TRINO, "file:///srv/lake"),
    ],
)
def test_lake_root_is_named_as_each_engine_reaches_it(root: str, dialect: Dialect, expected: str) -> None:
    assert lake_root(root, dialect) == expected


def test_a_relative_lake_path_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert lake_root("lake", Dialect.DUCKDB) == str(tmp_path.resolve() / "lake")
    assert lake_root("lake", Dialect.SPARK) == (tmp_path.resolve() / "lake").as_uri()


@pytest.mark.parametrize("dialect", [Dialect.TRINO, Dialect.SPARK])
def test_column_comments_fit_a_hive_metastore(dialect: Dialect) -> None:
    """A metastore keeps a column comment in varchar(256): the Chinese and English descriptions
    together run past it for some columns, which are cut there, saying so (…)."""
    comments = [
        c.args["constraints"][0].args["kind"].this.this
        for create in _created(_parse(export_ddl(dialect, S3_ROOT), dialect), "TABLE").values()
        for c in create.this.expressions
    ]
    assert len(comments) > 500 and max(len(c) for c in comments) <= 256
    assert any(c.endswith("…") for c in comments)  # some were longer


@pytest.mark.parametrize("dialect", list(Dialect))
def test_comments_survive_quotes_backslashes_and_chinese(dialect: Dialect) -> None:
    """Registry descriptions reach each engine unchanged, whatever they contain."""
    table = next(t for t in lake_tables() if t.name == "core_air__station_hourly")
    tricky = "it's a\\path, 监测点 µg/m³ ``quoted``"
    odd = replace(table, description=tricky)
    statements = _parse(export_ddl(dialect, S3_ROOT, tables=[odd]), dialect)
    literals = [lit.this for s in statements for lit in s.find_all(exp.Literal) if lit.is_string]
    assert any(v.endswith(tricky) for v in literals), dialect


def test_cli_writes_the_script_for_the_dialect(tmp_path: Path, settings: Settings) -> None:
    out = tmp_path / "trino.sql"
    result = CliRunner().invoke(
        app, ["export-ddl", "--dialect", "trino", "--lake-url", S3_ROOT, "--schema", "env", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    tables = _created(_parse(out.read_text(encoding="utf-8"), Dialect.TRINO), "TABLE")
    assert set(tables) == {t.name for t in lake_tables()}
    assert {c.this.this.db for c in tables.values()} == {"env"}


def test_cli_defaults_to_this_installations_lake(settings: Settings) -> None:
    """A table without a file yet is an empty view: a read_parquet of no file stopped the script."""
    part = settings.lake / "core/core_air__station_hourly/date=2026-11-01/part-0.parquet"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"")  # whether there is a file, not what is in it
    result = CliRunner().invoke(app, ["export-ddl", "--dialect", "duckdb"])
    assert result.exit_code == 0, result.output
    assert f"-- Lake root: {settings.lake}\n" in result.output
    assert result.output.count("read_parquet(") == 1
    assert f"'{settings.lake}/core/core_air__station_hourly/*/*.parquet'" in result.output
    con = duckdb.connect()
    try:
        for statement in result.output.split(";\n\n"):
            if "core_air__station_hourly" not in statement:
                con.execute(statement)  # every other table: an empty view of its columns
        rows = con.execute(
            "SELECT count(*), current_setting('TimeZone') FROM ecocloud.core_air__station_daily"
        )
        assert rows.fetchall() == [(0, "Asia/Shanghai")]
    finally:
        con.close()


def test_cli_refuses_an_unknown_dialect() -> None:
    result = CliRunner().invoke(app, ["export-ddl", "--dialect", "hive"])
    assert result.exit_code == 2
    assert "trino, spark, duckdb" in result.output
    assert tuple(d.value for d in Dialect) == DIALECTS
