"""The read-only SQL guard: what a query may be (tests/integration/test_ledger.py has the ledger)."""

from __future__ import annotations

import pytest

from ecocloud.query import ReadOnlyError, check_read_only


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1",
        "with a as (select 1) select * from a",
        "DESCRIBE SELECT 1",
        "SHOW TABLES",
        "EXPLAIN SELECT 1",
        "EXPLAIN ANALYZE SELECT 1",
        "EXPLAIN (FORMAT json) SELECT 1",
        "/* why */ EXPLAIN ANALYZE -- how long\n SELECT 1",
        "SUMMARIZE SELECT 1 AS a",
        "FROM range(3) SELECT range",
        "VALUES (1), (2)",
        "PIVOT (SELECT 'a' AS k, 1 AS v) ON k USING sum(v)",
        "PIVOT (SELECT 'a' AS k, 1 AS v) ON k IN ('a') USING sum(v)",
        "UNPIVOT (SELECT 1 AS a, 2 AS b) ON a, b INTO NAME k VALUE v",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
        "SELECT unnest([1, 2]), list_transform([1], x -> x + 1)",
        "SELECT * FROM generate_series(1, 3) UNION ALL BY NAME SELECT * FROM range(2)",
        "SELECT * FROM duckdb_tables()",
    ],
)
def test_reads_are_allowed(query: str) -> None:
    check_read_only(query)


def test_table_macros_of_the_serving_database_are_allowed() -> None:
    query = "SELECT * FROM limit_in_force('x', 'DA001', 'a21026', now())"
    check_read_only(query, table_macros=frozenset({"limit_in_force"}))
    with pytest.raises(ReadOnlyError, match="limit_in_force"):
        check_read_only(query)  # unknown table functions fail closed


@pytest.mark.parametrize(
    "query",
    [
        "CREATE TABLE t (a INT)",
        "COPY (SELECT 1) TO '/tmp/x.csv'",
        "ATTACH 'x.db'",
        "INSTALL httpfs",
        "SET threads = 1",
        "SELECT 1; DROP VIEW core_air__station_hourly",
        "",
        # statement forms that hide a write behind a read
        "EXPLAIN ANALYZE COPY (SELECT 1) TO '/tmp/x.csv'",
        "EXPLAIN (ANALYZE, FORMAT json) COPY (SELECT 1) TO '/tmp/x.csv'",
        "/* c */ EXPLAIN /* c */ ANALYZE COPY (SELECT 1) TO '/tmp/x.csv'",
        "WITH x AS (COPY (SELECT 1) TO '/tmp/x.csv') SELECT 1",
        "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
        "WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x",
        "SELECT * FROM json_execute_serialized_sql('{}')",
        "SELECT * FROM main.json_execute_serialized_sql('{}')",
        "SELECT * FROM \"query\"('SELECT 1')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM arrow_scan(1, 2, 3)",
        "SELECT * FROM checkpoint()",
        "CREATE TABLE x AS PIVOT (SELECT 'a' AS k, 1 AS v) ON k USING sum(v)",
        "PIVOT (SELECT * FROM json_execute_serialized_sql('{}')) ON k USING count(*)",
        "WITH c AS (COPY (SELECT 1) TO '/tmp/x') PIVOT (SELECT 'a' AS k) ON k USING count(*)",
        # every other statement type
        "CALL pragma_version()",
        "PRAGMA threads = 4",
        "RESET memory_limit",
        "SET VARIABLE x = 1",
        "USE system",
        "DETACH ecocloud",
        "LOAD httpfs",
        "PREPARE p AS SELECT 1",
        "EXECUTE p",
        "EXPORT DATABASE '/tmp/x'",
        "CREATE TEMP TABLE t AS SELECT 1",
        "CHECKPOINT",
    ],
)
def test_writes_are_refused(query: str) -> None:
    with pytest.raises(ReadOnlyError):
        check_read_only(query)


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("INSTALL httpfs", "INSTALL"),
        ("  load httpfs", "LOAD"),
        ("CHECKPOINT", "CHECKPOINT"),
        ("WITH a AS (SELECT 1) DELETE FROM t", "DELETE"),  # not WITH, an allowed word
    ],
)
def test_a_refusal_names_the_statement_as_written(sql: str, named: str) -> None:
    """DuckDB calls an INSTALL a LOAD statement: the refusal said "got LOAD" to someone who wrote INSTALL."""
    with pytest.raises(ReadOnlyError, match=f"are allowed, got {named}$"):
        check_read_only(sql)
