"""The SQL surface reads the lake's tables and nothing else: one test per escape, over a real serving DB.

The serving database is built the way the pipelines build it (``warehouse.lake`` partitions recorded
in the ledger as the runner publishes them, then ``warehouse.serving.refresh``); beside it lie a secret file in ECOCLOUD_HOME and a raw-zone file,
neither of which a query may read. Reads of every form keep working; runaway and memory-hungry
queries are stopped with a clear error.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from ecocloud.cli import app
from ecocloud.query import QueryLimitError, ReadOnlyError, UnknownTable, open_sandbox, run_query
from ecocloud.settings import Settings
from ecocloud.web.sql_worker import QueryFailed, export_capped, run_capped
from schemas.registry import get_table
from transforms.permits import limit_in_force_sql
from warehouse import lake as lk
from warehouse.ledger import Ledger, Part, UnitState
from warehouse.serving import refresh

HOURLY = get_table("core_air__station_hourly")
STATIONS = ["1001A", "1002A", "1003A"]
DAYS = [dt.date(2026, 3, 1), dt.date(2026, 3, 2)]
SECRET = "the secret beside the lake"


def hourly(day: dt.date) -> pa.Table:
    """Three stations × two hours; PM2.5 = station index × 10 + hour (known answers)."""
    rows = [(s, h) for s in range(len(STATIONS)) for h in range(2)]
    n = len(rows)
    cols: dict[str, pa.Array] = {}
    for c in HOURLY.columns:
        if c.name == "date":
            cols[c.name] = pa.array([day] * n, c.arrow_type)
        elif c.name == "station_code":
            cols[c.name] = pa.array([STATIONS[s] for s, _ in rows], c.arrow_type)
        elif c.name == "observed_at":
            base = dt.datetime.combine(day, dt.time(), dt.UTC)
            cols[c.name] = pa.array([base + dt.timedelta(hours=h) for _, h in rows], c.arrow_type)
        elif c.name == "pm25_ugm3":
            cols[c.name] = pa.array([float(s * 10 + h) for s, h in rows], c.arrow_type)
        else:
            assert c.nullable, c.name
            cols[c.name] = pa.nulls(n, c.arrow_type)
    return pa.table(cols)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One serving home for the module: every test here only reads (or is refused)."""
    settings = Settings(home=tmp_path_factory.mktemp("home"), lake_dir=None, duckdb_path=None)
    ledger = Ledger(settings.state_url)
    now = dt.datetime.now(dt.UTC).isoformat()
    for day in DAYS:
        put = lk.write_part(settings.lake, HOURLY, hourly(day), day)
        key = day.isoformat()
        part = Part(HOURLY.name, key, put.part, "fp", "test.hourly", key, 6, put.size_bytes, "run", now)
        state = UnitState("test.hourly", key, "fp", "published", {}, "run", "test", now, None)
        ledger.record_unit(state, written=[part])
    # with the table macro the runner stores in the serving database
    refresh(
        settings.lake,
        settings.duckdb_file,
        ledger,
        grace=dt.timedelta(0),
        macros=[limit_in_force_sql(temp=False)],
    )
    ledger.close()
    (settings.root / "secret.txt").write_text(SECRET)
    raw = settings.lake / "raw" / "air" / "date=2026-03-01" / "china_sites_20260301.csv"
    raw.parent.mkdir(parents=True)
    raw.write_text(SECRET)
    return settings


def written_files(settings: Settings) -> set[Path]:
    return {p for p in settings.root.rglob("*") if p.is_file()}


def refused(settings: Settings, sql: str) -> str:
    """Run ``sql``; it must be refused, and no file may have appeared anywhere under the home."""
    before = written_files(settings)
    with pytest.raises(ReadOnlyError) as info:
        run_query(settings, sql)
    assert written_files(settings) == before
    return str(info.value)


# ------------------------------------------------------------------------------------- escapes
@pytest.mark.parametrize("reader", ["read_csv", "read_text", "read_blob", "read_json", "sniff_csv"])
def test_reading_system_files_is_refused(served: Settings, reader: str) -> None:
    refused(served, f"SELECT * FROM {reader}('/etc/passwd')")


@pytest.mark.parametrize("reader", ["read_csv", "read_text", "read_blob"])
def test_reading_a_file_beside_the_lake_is_refused(served: Settings, reader: str) -> None:
    msg = refused(served, f"SELECT * FROM {reader}('{served.root / 'secret.txt'}')")
    assert SECRET not in msg


def test_the_raw_zone_is_not_a_table(served: Settings) -> None:
    raw = next((served.lake / "raw").rglob("*.csv"))
    refused(served, f"SELECT * FROM read_text('{raw}')")
    refused(served, f"SELECT * FROM '{raw}'")  # replacement scan


def test_dot_dot_out_of_a_table_directory_is_refused(served: Settings) -> None:
    inside = lk.table_dir(served.lake, HOURLY)
    refused(served, f"SELECT * FROM read_text('{inside}/../../../secret.txt')")


@pytest.mark.parametrize("pattern", ["/etc/*", "{home}/*", "{lake}/raw/**"])
def test_glob_outside_the_tables_is_refused(served: Settings, pattern: str) -> None:
    refused(served, f"SELECT * FROM glob('{pattern.format(home=served.root, lake=served.lake)}')")


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT 1) TO '{table}/evil.csv'",
        "COPY core_air__station_hourly TO '{home}/dump.parquet'",
        "EXPLAIN ANALYZE COPY (SELECT 1 AS a) TO '{table}/date=2026-03-01/evil.parquet'",
        "EXPLAIN (ANALYZE) COPY (SELECT 1 AS a) TO '{table}/x.csv'",
        "WITH x AS (COPY (SELECT 1 AS a) TO '{table}/date=2026-03-02/evil.parquet') SELECT 1",
        "EXPLAIN ANALYZE WITH x AS (COPY (SELECT 1 AS a) TO '{table}/y.csv') SELECT 1",
        "EXPORT DATABASE '{home}/export'",
    ],
)
def test_writing_files_is_refused_in_every_statement_form(served: Settings, sql: str) -> None:
    table = lk.table_dir(served.lake, HOURLY)
    refused(served, sql.format(table=table, home=served.root))
    assert run_query(served, "SELECT count(*) FROM core_air__station_hourly").rows == [(12,)]


def test_serialized_sql_cannot_smuggle_a_copy(served: Settings) -> None:
    target = lk.table_dir(served.lake, HOURLY) / "smuggled.csv"
    con = duckdb.connect()
    tree = con.execute(
        "SELECT json_serialize_sql($1)", [f"WITH x AS (COPY (SELECT 1 AS a) TO '{target}') SELECT 1"]
    ).fetchone()
    con.close()
    assert tree is not None
    refused(served, "SELECT * FROM json_execute_serialized_sql('" + tree[0].replace("'", "''") + "')")
    assert not target.exists()


@pytest.mark.parametrize(
    "sql",
    [
        "ATTACH '{home}/other.duckdb' AS other",
        "ATTACH ':memory:' AS scratch",
        "DETACH ecocloud",
        "USE system",
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
        "RESET memory_limit",
        "PRAGMA threads = 8",
        "SET VARIABLE x = 1",
        "INSTALL httpfs",
        "FORCE INSTALL httpfs",
        "LOAD httpfs",
        "CALL pragma_version()",
        "CHECKPOINT",
        "CREATE TEMP TABLE t AS SELECT 1",
        "CREATE MACRO m() AS 1",
        "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 's')",
        "PREPARE p AS SELECT 1",
        "SELECT 1; SELECT 2",
        "SELECT * FROM query('SELECT 1')",
        "SELECT * FROM enable_profiling()",
        "SELECT * FROM checkpoint()",
        "SELECT * FROM read_parquet('https://example.com/x.parquet')",
        "PIVOT (SELECT * FROM json_execute_serialized_sql('{{}}')) ON a USING count(*)",
    ],
)
def test_statements_that_change_or_reach_out_are_refused(served: Settings, sql: str) -> None:
    refused(served, sql.format(home=served.root))


def test_the_sandbox_itself_blocks_what_the_statement_check_might_miss(served: Settings) -> None:
    """Layer 2 on its own: statements sent straight to the sandbox connection, no check first."""
    con = open_sandbox(served)
    try:
        for sql in (
            "SELECT * FROM read_csv('/etc/passwd')",
            f"SELECT * FROM read_text('{served.root / 'secret.txt'}')",
            f"COPY (SELECT 1) TO '{served.root / 'out.csv'}'",
            f"ATTACH '{served.root / 'x.duckdb'}' AS x",
        ):
            with pytest.raises(duckdb.PermissionException):
                con.execute(sql)
        for sql in ("SET enable_external_access = true", "RESET lock_configuration", "SET threads = 64"):
            with pytest.raises(duckdb.InvalidInputException, match="locked"):
                con.execute(sql)
        with pytest.raises(duckdb.Error):
            con.execute("LOAD httpfs")
        with pytest.raises(duckdb.Error):  # no writable catalog to create anything in
            con.execute("CREATE TABLE t AS SELECT 1")
        assert not (served.root / "out.csv").exists()
    finally:
        con.close()


def test_the_sandbox_settings_are_in_force(served: Settings) -> None:
    names = [
        "enable_external_access",
        "lock_configuration",
        "autoinstall_known_extensions",
        "autoload_known_extensions",
        "allow_community_extensions",
        "allow_persistent_secrets",
    ]
    got = run_query(served, "SELECT " + ", ".join(f"current_setting('{n}')" for n in names)).rows[0]
    assert dict(zip(names, got, strict=True)) == {
        "enable_external_access": False,
        "lock_configuration": True,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_persistent_secrets": False,
    }
    dirs = run_query(served, "SELECT unnest(current_setting('allowed_directories'))").rows
    assert dirs and all(d[0].startswith(f"{served.lake}/") for d in dirs)
    assert not any("/raw" in d[0] for d in dirs)


# --------------------------------------------------------------------------- reads keep working
@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "SELECT count(*), sum(pm25_ugm3) FROM core_air__station_hourly",
            [(12, 2 * (0 + 1 + 10 + 11 + 20 + 21))],
        ),
        (
            "WITH d AS (SELECT date, max(pm25_ugm3) AS m FROM core_air__station_hourly GROUP BY ALL) "
            "SELECT * FROM d ORDER BY date",
            [(DAYS[0], 21.0), (DAYS[1], 21.0)],
        ),
        ("FROM core_air__station_hourly SELECT count(DISTINCT station_code)", [(3,)]),
        (
            "PIVOT (SELECT station_code, date, pm25_ugm3 FROM core_air__station_hourly) "
            "ON station_code USING max(pm25_ugm3) ORDER BY date",
            [(DAYS[0], 1.0, 11.0, 21.0), (DAYS[1], 1.0, 11.0, 21.0)],
        ),
        (
            "PIVOT core_air__station_hourly ON station_code IN ('1001A', '1003A') "
            "USING min(pm25_ugm3) GROUP BY date ORDER BY date",
            [(DAYS[0], 0.0, 20.0), (DAYS[1], 0.0, 20.0)],
        ),
        (
            "UNPIVOT (SELECT 1 AS a, 2 AS b) ON a, b INTO NAME k VALUE v ORDER BY k",
            [("a", 1), ("b", 2)],
        ),
        (
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT sum(n) FROM r",
            [(6,)],
        ),
        (
            "SELECT station_code FROM core_air__station_hourly "
            "QUALIFY row_number() OVER (PARTITION BY station_code ORDER BY pm25_ugm3 DESC, date) = 1 "
            "AND date = DATE '2026-03-01' ORDER BY 1",
            [("1001A",), ("1002A",), ("1003A",)],
        ),
        ("SELECT count(*) FROM range(10)", [(10,)]),
        ("VALUES (1, 'x')", [(1, "x")]),
    ],
)
def test_reads_of_every_form_keep_working(served: Settings, sql: str, expected: list[tuple]) -> None:
    assert run_query(served, sql).rows == expected


def test_catalog_reads_keep_working(served: Settings) -> None:
    tables = {r[0] for r in run_query(served, "SHOW TABLES").rows}
    assert {"core_air__station_hourly", "platform_ledger__raw_manifest"} <= tables
    described = run_query(served, "DESCRIBE core_air__station_hourly")
    assert [r[0] for r in described.rows] == HOURLY.column_names
    summary = run_query(served, "SUMMARIZE core_air__station_hourly")
    pm25 = dict(zip(summary.columns, next(r for r in summary.rows if r[0] == "pm25_ugm3"), strict=True))
    assert float(pm25["max"]) == 21.0 and pm25["count"] == 12
    plan = run_query(served, "EXPLAIN SELECT count(*) FROM core_air__station_hourly").rows
    assert "PARQUET" in str(plan).upper()
    analyzed = run_query(served, "EXPLAIN ANALYZE SELECT count(*) FROM core_air__station_hourly").rows
    assert "Total Time" in str(analyzed)
    files = run_query(served, f"SELECT count(*) FROM glob('{lk.table_dir(served.lake, HOURLY)}/*/*.parquet')")
    assert files.rows == [(len(DAYS),)]
    views = run_query(served, "SELECT count(*) FROM duckdb_views() WHERE NOT internal").rows[0][0]
    assert views >= 20


def test_table_macros_of_the_serving_database_can_be_called(served: Settings) -> None:
    sql = "SELECT count(*) FROM limit_in_force('91360100MA35F7Q12X', 'DA001', 'a21026', now())"
    assert run_query(served, sql).rows == [(0,)]


# ------------------------------------------------------------------------------------- limits
def test_a_runaway_query_is_interrupted(served: Settings) -> None:
    with pytest.raises(QueryLimitError, match=r"stopped after 1 s"):
        run_query(
            served,
            "SELECT sum(a.range * b.range % 7) FROM range(100000000) a, range(100000) b",
            timeout_s=1,
        )
    assert run_query(served, "SELECT 42").rows == [(42,)]  # the next query is not affected


def test_a_memory_hungry_query_fails_cleanly(served: Settings) -> None:
    settings = served.model_copy(update={"sql_memory_limit": "64MB"})
    with pytest.raises(QueryLimitError, match="more than 64MB of memory"):
        run_query(
            settings,
            "SELECT a.range, list(b.range) FROM range(3000000) a, range(3) b GROUP BY 1 ORDER BY 1 DESC",
        )
    assert not list(settings.root.rglob("*.tmp")) and not list(settings.root.rglob("duckdb_temp*"))


def test_strings_built_past_the_memory_limit_fail_in_the_querys_own_process(served: Settings) -> None:
    """DuckDB's memory_limit does not bound the strings a projection builds: one vector of 2,048 strings
    of 1.5 MB asks for 3 GB before a row comes back. The web app runs each query in a child process
    capped at memory_limit + 1 GiB of data memory: the query fails there, the caller goes on."""
    assert served.sql_memory_limit == "1GB"
    hungry = "SELECT repeat('x', 1500000) AS s FROM range(2048)"
    assert len(run_query(served, hungry, max_rows=1).rows[0][0]) == 1_500_000  # memory_limit lets it by
    with pytest.raises(QueryLimitError, match="more than 1GB of memory"):
        run_capped(served, hungry, tables=None, max_rows=1)
    assert run_capped(served, "SELECT 42", tables=None, max_rows=1).rows == [(42,)]
    unitless = served.model_copy(update={"sql_memory_limit": "2048"})  # DuckDB wants a unit
    with pytest.raises(QueryFailed, match="ECOCLOUD_SQL_MEMORY_LIMIT: memory limit '2048'"):
        run_capped(unitless, "SELECT 42", tables=None, max_rows=1)
    with pytest.raises(QueryFailed, match=r"^BinderException: .*no_such_column"):
        run_capped(served, "SELECT no_such_column FROM range(1)", tables=None, max_rows=1)
    with pytest.raises(ReadOnlyError):
        run_capped(served, "COPY (SELECT 1) TO '/tmp/x.csv'", tables=None, max_rows=1)


def test_rows_beyond_the_cap_are_cut_and_said_so(served: Settings) -> None:
    result = run_query(served, "SELECT range FROM range(1000)", max_rows=10)
    assert result.truncated and result.rows == [(i,) for i in range(10)]
    full = run_query(served, "SELECT range FROM range(10)", max_rows=10)
    assert not full.truncated and len(full.rows) == 10


def test_a_cell_budget_cuts_a_wide_result_to_fewer_rows_and_refuses_a_wider_row(served: Settings) -> None:
    """The web page's budget (rows × columns), kept in the query's own process; none for the CLI."""
    wide = run_query(served, "SELECT range AS a, range AS b, range AS c FROM range(100)", max_cells=10)
    assert wide.truncated and wide.cut_by_cells and wide.rows == [(i, i, i) for i in range(3)]
    narrow = run_query(served, "SELECT range FROM range(100)", max_rows=5, max_cells=10)
    assert narrow.truncated and not narrow.cut_by_cells and len(narrow.rows) == 5
    fits = run_query(served, "SELECT range AS a, range AS b FROM range(5)", max_cells=10)
    assert not fits.truncated and len(fits.rows) == 5
    with pytest.raises(QueryLimitError, match="11 columns, more than the 10 cells a page shows"):
        run_query(served, "SELECT " + ", ".join(f"{i} AS c{i}" for i in range(11)), max_cells=10)
    assert len(run_query(served, "SELECT range, range FROM range(100)").rows) == 100  # `ecocloud sql`
    budget = served.model_copy(update={"web_sql_max_cells": 10})
    capped = run_capped(budget, "SELECT range, range FROM range(100)", tables=None, max_rows=500)
    assert capped.cut_by_cells and capped.rows == [(i, i) for i in range(5)]


# ----------------------------------------------------------------------------------------- CLI
def test_cli_sql_refuses_with_exit_2_and_reads_as_json(
    served: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECOCLOUD_HOME", str(served.home))
    for var in ("ECOCLOUD_LAKE_DIR", "ECOCLOUD_DUCKDB_PATH"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()
    bad = runner.invoke(app, ["sql", "SELECT * FROM read_csv('/etc/passwd')"])
    assert bad.exit_code == 2 and "root:" not in bad.output
    good = runner.invoke(app, ["sql", "SELECT station_code, count(*) AS n FROM core_air__station_hourly "
                               "GROUP BY 1 ORDER BY 1", "--format", "json"])  # fmt: skip
    assert good.exit_code == 0, good.output
    assert json.loads(good.stdout) == [{"station_code": s, "n": 4} for s in STATIONS]


def test_cli_sql_writes_no_short_file_when_the_result_is_past_its_row_cap(
    served: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A CSV cut at ECOCLOUD_SQL_MAX_ROWS was written with exit status 0: a script took it whole."""
    monkeypatch.setenv("ECOCLOUD_HOME", str(served.home))
    monkeypatch.setenv("ECOCLOUD_SQL_MAX_ROWS", "10")
    for var in ("ECOCLOUD_LAKE_DIR", "ECOCLOUD_DUCKDB_PATH"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()
    for args in (
        ["--out", str(tmp_path / "r.csv")],
        ["--format", "json"],
        ["--out", str(tmp_path / "r.xlsx")],
    ):
        cut = runner.invoke(app, ["sql", "SELECT range FROM range(11)", *args])
        assert cut.exit_code == 1 and "more than 10 rows" in cut.output and "LIMIT 10" in cut.output
        assert not cut.stdout.strip().startswith("[")  # no JSON either
    assert not list(tmp_path.iterdir())
    fits = runner.invoke(app, ["sql", "SELECT range FROM range(10)", "--out", str(tmp_path / "r.csv")])
    assert fits.exit_code == 0 and len((tmp_path / "r.csv").read_text().splitlines()) == 11
    shown = runner.invoke(app, ["sql", "SELECT range FROM range(11)", "--limit", "4"])  # a look: shown
    assert (
        shown.exit_code == 0
        and "more than 10 rows" in shown.output
        and "4 shown, the rest not read" in shown.output
    )
    # not "… 6 more rows (… --out FILE writes them)": the rest was never counted, and --out refuses it
    assert "more rows" not in shown.output and "--out writes only a whole result" in shown.output
    listed = runner.invoke(app, ["sql", "SELECT range FROM range(10)", "--limit", "4"])  # under the cap
    assert listed.exit_code == 0 and "… 6 more rows" in listed.stdout
    empty = runner.invoke(app, ["sql", "SELECT range FROM range(0)"])
    assert empty.exit_code == 0 and "0 rows" in empty.stdout


def test_cli_sql_shows_brackets_as_they_are(served: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich reads [..] as markup: a column description "[low_frac × limit, limit]" lost its text, and
    "[/x]" in a value, a column name or an error stopped the command with a traceback."""
    monkeypatch.setenv("ECOCLOUD_HOME", str(served.home))
    monkeypatch.setenv("COLUMNS", "200")
    for var in ("ECOCLOUD_LAKE_DIR", "ECOCLOUD_DUCKDB_PATH"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()
    shown = runner.invoke(
        app, ["sql", """SELECT 'in [low_frac × limit, limit]' AS "[/]", '[/x]' AS "[bold]b" """]
    )
    assert shown.exit_code == 0, shown.output
    assert all(t in shown.stdout for t in ("in [low_frac × limit, limit]", "[/x]", "[/]", "[bold]b"))
    failed = runner.invoke(app, ["sql", "SELECT '[/x]'::INTEGER"])
    assert failed.exit_code == 1 and "[/x]" in failed.output and "Traceback" not in failed.output
    assert failed.exception is None or isinstance(failed.exception, SystemExit)


def test_cli_sql_writes_files_for_a_spreadsheet(
    served: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`--out` writes what an analyst opens in Excel: an XLSX workbook (text cells, Beijing time, long
    integers as text) or a CSV with a BOM and no formula; standard output stays the plain values."""
    monkeypatch.setenv("ECOCLOUD_HOME", str(served.home))
    for var in ("ECOCLOUD_LAKE_DIR", "ECOCLOUD_DUCKDB_PATH"):
        monkeypatch.delenv(var, raising=False)
    query = (
        "SELECT '=1+1' AS f, '江西' AS province, 12345678901234567 AS id, "
        "TIMESTAMPTZ '2026-01-01 00:30:00+00' AS at, [1, 2] AS l, 1.5 AS x, NULL AS n, "
        "TIMETZ '10:00:00+08' AS tt, 12345678901234567890.12::DECIMAL(38, 2) AS big, "
        "repeat('x', 40000) AS long, 1 AS \"=HYPERLINK(1)\""
    )
    runner = CliRunner()
    book_path, csv_path = tmp_path / "q.xlsx", tmp_path / "q.csv"
    written = runner.invoke(app, ["sql", query, "--out", str(book_path)])  # the format from the suffix
    assert written.exit_code == 0, written.output
    sheet = load_workbook(book_path)["查询结果"]
    assert [c.value for c in sheet[1]] == [
        "f",
        "province",
        "id",
        "at",
        "l",
        "x",
        "n",
        "tt",
        "big",
        "long",
        "=HYPERLINK(1)",
    ]
    assert sheet["K1"].data_type == "s"  # a column named like a formula stays text
    first = [c.value for c in sheet[2]]
    assert first[:9] == [
        "=1+1", "江西", "12345678901234567", dt.datetime(2026, 1, 1, 8, 30), "[1, 2]", 1.5, None,
        "10:00:00+08:00", "12345678901234567890.12",
    ]  # fmt: skip
    assert sheet["A2"].data_type == "s"  # text, not a formula
    assert len(first[9]) <= 32_767 and first[9].endswith("characters cut]")  # Excel's cell limit

    to_csv = runner.invoke(app, ["sql", query, "-f", "CSV", "-o", str(csv_path)])
    assert (
        to_csv.exit_code == 0
        and "(instants in Beijing time, UTC+8, written without an offset)" in to_csv.output
    )
    data = csv_path.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    header, row = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert header[0] == "f" and header[-1] == "'=HYPERLINK(1)"
    assert row[:4] == ["'=1+1", "江西", "12345678901234567", "2026-01-01 08:30:00"]  # as Excel reads a date
    plain = runner.invoke(app, ["sql", query, "--format", "csv"])
    assert plain.exit_code == 0 and plain.stdout.startswith("f,province") and "\n=1+1,江西," in plain.stdout

    refused = runner.invoke(app, ["sql", query, "--format", "xlsx"])
    assert refused.exit_code == 2 and "--out" in refused.output


def test_queries_keep_beijing_time_whatever_the_host_s_zone(served: Settings) -> None:
    """The lake's dates are Beijing dates: an instant's day, and how it is shown, follow them (DuckDB's
    default is the host's zone, UTC here and Asia/Shanghai on a server in China)."""
    ((day, shown),) = run_query(
        served, "SELECT (TIMESTAMPTZ '2026-01-01 16:30:00+00')::DATE, TIMESTAMPTZ '2026-01-01 16:30:00+00'"
    ).rows
    assert day == dt.date(2026, 1, 2) and shown.utcoffset() == dt.timedelta(hours=8)
    assert shown == dt.datetime(2026, 1, 1, 16, 30, tzinfo=dt.UTC)  # the same instant


def test_an_analyst_s_own_connection_cuts_the_same_beijing_days(served: Settings) -> None:
    """README's way to query the views from Python counted UTC days: the rows of Beijing's first eight
    hours of a day went to the day before, unlike `ecocloud sql` and the pages."""
    con = served.connect_serving()
    try:
        late_evening = "SELECT (TIMESTAMPTZ '2026-01-01 16:30:00+00')::DATE, date_trunc('day', TIMESTAMPTZ '2026-01-01 16:30:00+00')"
        assert con.execute(late_evening).fetchall() == run_query(served, late_evening).rows
        assert con.execute(late_evening).fetchone()[0] == dt.date(2026, 1, 2)
    finally:
        con.close()
    internal = served.connect_serving(zone="UTC")  # the platform's own readers
    try:
        assert internal.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
    finally:
        internal.close()


def test_a_table_that_is_not_there_is_answered_with_the_tables_like_it(served: Settings) -> None:
    """DuckDB's own guess for "air_hourly" was mart_source__daily, and for "nosuch_table" a system
    table ("pg_tables"); a reader's guess is among the tables it may read."""
    with pytest.raises(UnknownTable, match="no table air_hourly; tables like it: core_air__station_hourly"):
        run_query(served, "SELECT * FROM air_hourly")
    with pytest.raises(UnknownTable, match=r"tables like it: core_air__station_hourly,"):
        run_query(served, "SELECT * FROM core_air__station_hourlyy")  # a typo: spelled alike first
    with pytest.raises(UnknownTable, match="no table is like it") as nothing:
        run_query(served, "SELECT * FROM nosuch_table")
    assert "pg_tables" not in str(nothing.value) and "没有表 nosuch_table" in nothing.value.zh
    with pytest.raises(UnknownTable) as restricted:  # a viewer's sandbox: only the tables it may read
        run_query(served, "SELECT * FROM air_hourly", tables={"core_air__stations"})
    assert "station_hourly" not in str(restricted.value)


def test_a_viewer_s_sandbox_reads_only_the_files_of_its_tables(served: Settings) -> None:
    """The web passes the tables a role may read: another table's files stay closed, by view or path."""
    files = f"{served.lake}/{HOURLY.layer.value}/{HOURLY.name}/*/*.parquet"
    assert run_query(served, f"SELECT count(*) FROM {HOURLY.name}", tables={HOURLY.name}).rows == [(12,)]
    assert run_query(served, f"SELECT count(*) FROM '{files}'", tables={HOURLY.name}).rows == [(12,)]
    for sql in (f"SELECT count(*) FROM {HOURLY.name}", f"SELECT count(*) FROM '{files}'"):
        with pytest.raises(ReadOnlyError, match="reads the lake's tables and nothing else"):
            run_query(served, sql, tables={"core_air__stations"})


def test_a_result_of_huge_strings_fails_clearly_instead_of_filling_memory(served: Settings) -> None:
    """DuckDB's memory_limit does not bound the strings and lists a query builds: the result is capped."""
    capped = served.model_copy(update={"sql_max_result_bytes": 10_000})
    assert run_query(capped, "SELECT repeat('x', 9000) AS s").rows == [("x" * 9000,)]
    # a value in a row: 8 bytes (rows × columns bound how many there are, on a page the cell budget)
    assert len(run_query(capped, "SELECT range FROM range(1000)").rows) == 1000
    for sql in (
        "SELECT repeat('x', 10001)",
        "SELECT [repeat('x', 6000), repeat('y', 6000)]",  # inside a list too
        "SELECT repeat('x', 100) FROM range(200)",  # many short ones
        "SELECT range(0, 2000)",  # a list of numbers
        "SELECT range(0, 1000)",  # its members at 64 bytes each (a Python int and its slot: 36)
    ):
        with pytest.raises(QueryLimitError, match="ECOCLOUD_SQL_MAX_RESULT_BYTES"):
            run_query(capped, sql)


# ----------------------------------------------------------------- the whole result: count and CSV
def test_a_result_cut_short_says_how_many_rows_it_has(served: Settings) -> None:
    """The web page shows 500 rows of a result; DuckDB counts the whole in the same sandbox, no row of
    it fetched (a view over the lake's files too)."""
    cut = run_query(served, "SELECT range FROM range(1000)", max_rows=10, count_total=True)
    assert cut.truncated and len(cut.rows) == 10 and cut.total == 1000
    assert run_query(served, "SELECT range FROM range(1000)", max_rows=10).total is None  # not asked
    assert run_query(served, "SELECT range FROM range(7)", max_rows=10).total == 7  # all of it here
    view = run_query(served, f"SELECT * FROM {HOURLY.name} -- all of it", max_rows=5, count_total=True)
    assert view.truncated and view.total == 12
    wide = run_query(served, "SELECT range AS a, range AS b FROM range(100);", max_cells=10, count_total=True)
    assert wide.cut_by_cells and len(wide.rows) == 5 and wide.total == 100
    # the web page's query process counts
    capped = run_capped(served, f"SELECT * FROM {HOURLY.name}", tables={HOURLY.name}, max_rows=3)
    assert capped.truncated and capped.total == 12
    # the count runs in the sandbox, after the same checks
    with pytest.raises(ReadOnlyError):
        run_capped(served, f"SELECT * FROM {HOURLY.name}", tables={"core_air__stations"}, max_rows=3)


def _exported(
    settings: Settings, sql: str, tmp_path: Path, tables: set[str] | None = None
) -> list[list[str]]:
    out = tmp_path / "result.csv"
    written = export_capped(settings, sql, out, tables=tables)
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert written == len(rows) - 1
    return rows


def test_the_whole_result_as_csv_within_the_same_limits(served: Settings, tmp_path: Path) -> None:
    """The web page's CSV of a whole result: written by the capped query process, for a spreadsheet
    (instants as Beijing wall time, no formulas), within the row cap, size cap and sandbox."""
    rows = _exported(
        served, f"SELECT station_code, observed_at, pm25_ugm3 FROM {HOURLY.name} ORDER BY ALL", tmp_path
    )
    assert rows[0] == ["station_code", "observed_at", "pm25_ugm3"] and len(rows) == 13
    assert rows[1] == ["1001A", "2026-03-01 08:00:00", "0.0"]
    assert _exported(served, "SELECT '=1+1' AS f", tmp_path) == [["f"], ["'=1+1"]]
    assert len(_exported(served, "SELECT range FROM range(100)", tmp_path)) == 101
    small = served.model_copy(update={"sql_max_rows": 99})
    with pytest.raises(QueryLimitError, match="more than the 99 rows a download holds"):
        export_capped(small, "SELECT range FROM range(100)", tmp_path / "x.csv", tables=None)
    huge = served.model_copy(update={"sql_max_result_bytes": 10_000})
    with pytest.raises(QueryLimitError, match="ECOCLOUD_SQL_MAX_RESULT_BYTES"):
        export_capped(huge, "SELECT repeat('x', 100) FROM range(200)", tmp_path / "x.csv", tables=None)
    # the sandbox's refusals stand, and nothing is written beside the lake
    before = written_files(served)
    for sql in (
        "COPY (SELECT 1) TO '/tmp/ecocloud-escape.csv'",
        f"SELECT * FROM read_text('{served.root / 'secret.txt'}')",
    ):
        with pytest.raises(ReadOnlyError):
            export_capped(served, sql, tmp_path / "x.csv", tables=None)
    with pytest.raises(ReadOnlyError):
        export_capped(
            served, f"SELECT * FROM {HOURLY.name}", tmp_path / "x.csv", tables={"core_air__stations"}
        )
    assert written_files(served) == before
