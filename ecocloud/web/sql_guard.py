"""Which tables a web SQL query may read, by the viewer's role (sharing levels).

``ecocloud.query.run_query`` keeps every query read-only and inside the lake; this adds the role:
a query may name only registry tables whose rows the role may see (an analyst: 无条件共享 and
有条件共享) and no table functions (``read_parquet`` and friends would reach any file of the lake).
DuckDB's own parser decides what the query names (``json_serialize_sql``), so quoting, CTEs,
subqueries, set operations and a bare ``SHOW table`` cannot hide a table. A CTE must have a plain
name that is no table's or system relation's (a CTE named after a forbidden table, or after a file
path, would let a reference elsewhere in the query through as "one of its CTEs"). Statements it
cannot serialise (PIVOT, SET …) are refused here; an admin's queries skip this check. Behind it, the
sandbox reads only the files of the tables the role may read (``run_query(..., tables=...)``).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import duckdb

from ecocloud.errors import InTwoLanguages
from ecocloud.query import PIVOTS, first_word, syntax_tree, tree_nodes


class QueryRefused(InTwoLanguages, ValueError):
    """The query names something the viewer may not read, or cannot be checked."""


def referenced(sql: str) -> tuple[set[str], set[str], bool]:
    """(tables named, CTE names defined, whether a table function is used), as DuckDB parses ``sql``."""
    tree = syntax_tree(sql)
    if tree.get("error"):
        _refuse_unparsed(sql, str(tree.get("error_type", "")), str(tree.get("error_message", "")))
    tables: set[str] = set()
    ctes: set[str] = set()
    functions = False
    for node in tree_nodes(tree.get("statements", [])):
        kind = node.get("type")
        if kind == "BASE_TABLE" or (kind == "SHOW_REF" and _shows_a_table(node)):
            schema, catalog = node.get("schema_name", ""), node.get("catalog_name", "")
            if catalog or schema not in ("", "main"):
                name = f"{catalog}.{schema}.{node.get('table_name')}"
                raise QueryRefused(
                    f"name tables without a database or schema: {name}",
                    f"请直接写表名，不带数据库或模式名：{name}",
                )
            tables.add(node.get("table_name", "").lower())  # identifiers are case-insensitive
        elif kind == "TABLE_FUNCTION":
            functions = True
        if isinstance(node.get("cte_map"), dict):
            ctes |= {entry["key"].lower() for entry in node["cte_map"].get("map", [])}
    tables.discard("")
    return tables, ctes, functions


def _refuse_unparsed(sql: str, kind: str, why: str) -> None:
    """Why a statement DuckDB could not serialise is refused: a syntax error, a PIVOT statement (its
    tables cannot be read off; the same pivot as a SELECT can), or not a query at all."""
    if kind == "parser":
        raise QueryRefused(f"the query has a syntax error: {why}", f"查询有语法错误：{why}")
    if first_word(sql).upper() in PIVOTS:
        raise QueryRefused(
            "a PIVOT statement cannot be checked here: write it as a query, "
            "SELECT * FROM table PIVOT (aggregate FOR column IN (values …)), or use `ecocloud sql`",
            "这里无法校验 PIVOT 语句：请写成查询 SELECT * FROM 表 PIVOT (聚合 FOR 列 IN (值 …))，或使用 `ecocloud sql`",
        )
    raise QueryRefused(
        "only queries (SELECT, WITH …, FROM …) are accepted here", "这里只接受查询（SELECT、WITH …、FROM …）"
    )


# what the parser puts in a SHOW_REF for SHOW TABLES, SHOW ALL TABLES, SHOW DATABASES, SHOW SCHEMAS and
# SHOW VARIABLES: DuckDB lists names for these, whatever table has the name (`SHOW "tables"` lists too)
_SHOW_LISTINGS = frozenset({'"tables"', "__show_tables_expanded", '"databases"', '"schemas"', '"variables"'})


def _shows_a_table(node: dict[str, Any]) -> bool:
    """A bare ``SHOW name`` describes a table (or a setting) of that name: a reference like ``FROM name``.
    DESCRIBE and SUMMARIZE leave the SHOW_REF's name empty and hold the table as a BASE_TABLE below it."""
    name = node.get("table_name", "")
    plain = not node.get("schema_name") and not node.get("catalog_name")
    return bool(name) and not (plain and name.lower() in _SHOW_LISTINGS)


_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_SYSTEM_PREFIXES = ("duckdb_", "pg_", "sqlite_", "information_schema")


@functools.cache
def _system_names() -> frozenset[str]:
    """What DuckDB resolves a bare name to when no table has it: its table functions (a name without
    parentheses calls one: ``FROM pragma_database_list``) and its own views and tables. A CTE of one
    of these names is refused: the CTE names are gathered from the whole query, not scope by scope,
    so a CTE in one subquery would let the same name through elsewhere."""
    con = duckdb.connect()
    try:
        rows = con.sql(
            "SELECT function_name FROM duckdb_functions() WHERE function_type IN ('table', 'table_macro') "
            "UNION SELECT view_name FROM duckdb_views() UNION SELECT table_name FROM duckdb_tables()"
        ).fetchall()
    finally:
        con.close()
    return frozenset(name.lower() for (name,) in rows)


def check_tables(sql: str, allowed: set[str], forbidden: set[str]) -> None:
    """Refuse ``sql`` unless every table it names is allowed (or one of its own CTEs) and none forbidden."""
    tables, ctes, functions = referenced(sql)
    if functions:
        raise QueryRefused(
            "table functions (read_parquet, read_csv, glob …) are not allowed: query the tables",
            "不允许使用表函数（read_parquet、read_csv、glob …）：请查询表",
        )
    bad = sorted(
        c
        for c in ctes
        if not _PLAIN_NAME.fullmatch(c)
        or c in forbidden
        or c in allowed
        or c.startswith(_SYSTEM_PREFIXES)
        or c in _system_names()
    )
    if bad:
        raise QueryRefused(
            f"name CTEs with plain names of your own, not a table's or a path: {', '.join(bad)}",
            f"请给 CTE 起您自己的普通名称，不用表名或路径：{', '.join(bad)}",
        )
    denied = sorted(t for t in tables if t in forbidden or (t not in allowed and t not in ctes))
    if denied:
        raise QueryRefused(
            f"not allowed for your role, or no such table: {', '.join(denied)}",
            f"您的角色无权查询，或没有这个表：{', '.join(denied)}",
        )
