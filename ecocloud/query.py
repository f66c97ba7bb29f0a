"""The SQL surface: read-only queries over the lake's tables and nothing else (CLI and web app).

Three layers; each stops escapes the others might miss:

1. :func:`check_read_only`, before anything runs: exactly one statement, a query (SELECT, WITH,
   FROM-first, VALUES, TABLE, DESCRIBE, SHOW, SUMMARIZE, PIVOT, UNPIVOT) or EXPLAIN [ANALYZE] of one.
   The statement type alone is not enough: ``WITH x AS (COPY … TO …) SELECT 1`` parses as SELECT, so
   the query's syntax tree (``json_serialize_sql``) may hold only query nodes, and only the table
   functions in :data:`TABLE_FUNCTIONS` (``json_execute_serialized_sql``, ``query``, ``arrow_scan``,
   ``checkpoint`` … are refused). A PIVOT whose columns are found at run time cannot be serialised;
   it is checked on its tokens instead (no data-changing keyword, no refused table function).
2. :func:`open_sandbox`: a fresh in-memory DuckDB that attaches the serving file read-only and
   detaches its own writable catalog; external access off except the lake's table directories
   (no ``read_csv('/etc/passwd')``, ``read_text``, ``glob``, ``ATTACH`` or ``COPY`` anywhere else,
   not even the raw zone); extension install and autoload off, community and unsigned extensions
   off, no persistent secrets; then the configuration locked, so no SET/RESET/PRAGMA/table
   function can loosen it.
3. Limits per query: ``memory_limit`` with no spilling to disk, ``threads``, a time limit
   (``max_execution_time``, and ``interrupt()`` from a timer as a backstop) and a row cap.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TextIO

import duckdb

from ecocloud.errors import InTwoLanguages
from ecocloud.settings import Settings
from schemas.clock import BEIJING_ZONE
from schemas.registry import Layer, all_tables
from schemas.sql import string_literal
from warehouse.lake import table_prefix

# Table functions a query may call: generators, metadata, Parquet over the lake's own files.
# Everything else DuckDB offers is refused (fails closed when a DuckDB upgrade adds one).
TABLE_FUNCTIONS = frozenset(
    {
        "range", "generate_series", "unnest", "repeat", "repeat_row", "summary", "query_table",
        "json_each", "json_tree", "glob", "read_parquet", "parquet_scan", "parquet_metadata",
        "parquet_file_metadata", "parquet_kv_metadata", "parquet_schema", "parquet_full_metadata",
        "duckdb_columns", "duckdb_constraints", "duckdb_databases", "duckdb_dependencies",
        "duckdb_functions", "duckdb_indexes", "duckdb_keywords", "duckdb_schemas",
        "duckdb_sequences", "duckdb_tables", "duckdb_types", "duckdb_views", "duckdb_settings",
        "pragma_table_info", "pragma_show", "pragma_version", "pragma_platform",
        "pragma_database_size", "pragma_collations", "pg_timezone_names", "icu_calendar_names",
        "test_all_types",
    }
)  # fmt: skip
_QUERY_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})
PIVOTS = frozenset({"PIVOT", "UNPIVOT", "PIVOT_WIDER", "PIVOT_LONGER"})
# the first words of the queries the refusal names as allowed
_READ_ONLY_WORDS = (
    frozenset({"SELECT", "WITH", "DESCRIBE", "SHOW", "SUMMARIZE", "EXPLAIN", "FROM", "VALUES", "TABLE"})
    | PIVOTS
)
# a run-time PIVOT is checked on its tokens: none of these may appear as keywords
_WRITE_KEYWORDS = frozenset(
    {
        "COPY", "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "ATTACH", "DETACH",
        "INSTALL", "LOAD", "SET", "RESET", "PRAGMA", "CALL", "EXPORT", "IMPORT", "CHECKPOINT",
        "VACUUM", "PREPARE", "EXECUTE", "USE",
    }
)  # fmt: skip
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ReadOnlyError(InTwoLanguages, ValueError):
    """The statement could change or reach something beyond the lake's tables; refused."""


class QueryLimitError(InTwoLanguages, RuntimeError):
    """The query ran past its time or memory limit and was stopped (message says which)."""


class UnknownTable(InTwoLanguages, LookupError):
    """The query names a table the serving database does not have: the message names the tables like
    it that the reader may read (DuckDB's own guess may be a system table: "pg_tables")."""


_MISSING_TABLE = re.compile(r"Table with name (\S+) does not exist")


def _unknown_table(exc: duckdb.CatalogException, tables: Collection[str] | None) -> UnknownTable | None:
    """The reader's error for a query naming no table of the lake (None: another catalog error)."""
    missing = _MISSING_TABLE.search(str(exc))
    if missing is None:
        return None
    name = missing[1].strip('"')
    readable = [t.name for t in all_tables() if tables is None or t.name in tables]
    like = _tables_like(name, readable)
    found = f"tables like it: {', '.join(like)}" if like else "no table is like it"
    found_zh = f"相近的表：{'、'.join(like)}" if like else "没有相近的表"
    return UnknownTable(
        f"no table {name}; {found} (SHOW TABLES lists the tables)",
        f"没有表 {name}；{found_zh}（SHOW TABLES 列出所有表）",
    )


def _tables_like(name: str, readable: list[str], most: int = 3) -> list[str]:
    """Up to ``most`` of ``readable``: those spelled nearly as ``name`` (a typo), then those sharing the
    most words with it ("air_hourly" → core_air__station_hourly)."""
    spelled = difflib.get_close_matches(name.lower(), readable, n=most, cutoff=0.8)
    words = {w for w in re.split(r"[^a-z0-9]+", name.lower()) if w}
    shared = {t: len(words & set(re.split(r"_+", t))) for t in readable}
    sharing = sorted((t for t in readable if shared[t]), key=lambda t: (-shared[t], len(t), t))
    return list(dict.fromkeys(spelled + sharing))[:most]


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool  # more rows than max_rows (or than max_cells allow): only the first are here
    cut_by_cells: bool = False  # truncated by max_cells (rows × columns), not by max_rows
    # the whole result's rows: len(rows) when not truncated; counted when asked (``count_total``),
    # None when not asked or the count failed or ran out of time
    total: int | None = None

    def __iter__(self) -> Iterator[Any]:  # ``columns, rows = run_query(...)``
        return iter((self.columns, self.rows))


# ------------------------------------------------------------------------------- statement check
def check_read_only(query: str, *, table_macros: frozenset[str] = frozenset()) -> None:
    """Raise :class:`ReadOnlyError` unless ``query`` is one read-only query (see the module doc).

    ``table_macros``: table macros the serving database defines (``limit_in_force``), also allowed.
    """
    statements = duckdb.extract_statements(query)
    if not statements:
        raise ReadOnlyError("no statement given", "没有查询语句")
    if len(statements) > 1:
        raise ReadOnlyError(
            f"one statement at a time ({len(statements)} given)",
            f"一次只能执行一条语句（收到 {len(statements)} 条）",
        )
    allowed = TABLE_FUNCTIONS | {m.lower() for m in table_macros}
    _check_statement(statements[0].type.name, statements[0].query, allowed)


def _check_statement(kind: str, text: str, allowed: frozenset[str]) -> None:
    if kind == "SELECT":
        _check_tree(text, allowed)
    elif kind == "EXPLAIN":
        inner = duckdb.extract_statements(_explained(text))
        if len(inner) != 1:
            raise ReadOnlyError("EXPLAIN of one statement only", "EXPLAIN 只能用于一条语句")
        _check_statement(inner[0].type.name, inner[0].query, allowed)
    elif kind == "MULTI" and first_word(text).upper() in PIVOTS:
        _check_tokens(text, allowed)
    else:
        word = first_word(text).upper()
        # what was written (DuckDB calls INSTALL a LOAD), unless it is an allowed word (WITH … DELETE)
        said = word if word and word not in _READ_ONLY_WORDS else kind
        raise ReadOnlyError(
            "only read-only queries (SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, PIVOT, EXPLAIN) "
            f"are allowed, got {said}",
            f"只允许只读查询（SELECT、WITH、DESCRIBE、SHOW、SUMMARIZE、PIVOT、EXPLAIN），收到的是 {said}",
        )


def syntax_tree(text: str) -> dict[str, Any]:
    """DuckDB's parse of ``text`` (``json_serialize_sql``): ``statements``, or ``error`` and
    ``error_message`` for what it cannot serialise (a non-SELECT statement, PIVOT, a syntax error)."""
    con = duckdb.connect()
    try:
        row = con.execute("SELECT json_serialize_sql($1)", [text]).fetchone()
    finally:
        con.close()
    try:
        tree: dict[str, Any] = json.loads(row[0]) if row else {"error": True, "error_message": "no answer"}
    except RecursionError:  # DuckDB serialised it, json cannot read it back (1 + 1 + … a thousand times)
        return {"error": True, "error_message": "the query is nested too deeply to check"}
    return tree


def tree_nodes(node: Any) -> Iterator[dict[str, Any]]:
    """Every object (dict) in a syntax tree, at any depth."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _check_tree(text: str, allowed: frozenset[str]) -> None:
    """Every node of the query's syntax tree is a query node; every table function is allowed."""
    tree = syntax_tree(text)
    if tree.get("error"):
        raise ReadOnlyError(
            f"cannot verify this statement: {tree.get('error_message')}",
            f"无法校验这条语句：{tree.get('error_message')}",
        )
    for node in tree_nodes(tree):
        kind = node.get("type")
        if isinstance(kind, str) and kind.endswith("_NODE") and kind not in _QUERY_NODES:
            what = kind.removesuffix("_QUERY_NODE").removesuffix("_NODE")
            raise ReadOnlyError(f"a {what} inside a query is not allowed", f"查询中不允许 {what}")
        if kind == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if name not in allowed:
                raise ReadOnlyError(
                    f"table function {name}() is not allowed here", f"这里不允许表函数 {name}()"
                )


def _check_tokens(text: str, allowed: frozenset[str]) -> None:
    """For a statement without a syntax tree: no data-changing keyword, no refused table function."""
    tokens = _tokens(text)
    for i, (kind, value) in enumerate(tokens):
        if kind == duckdb.token_type.keyword and value.upper() in _WRITE_KEYWORDS:
            raise ReadOnlyError(f"{value.upper()} is not allowed in a query", f"查询中不允许 {value.upper()}")
        name = value.strip('"').lower()
        called = i + 1 < len(tokens) and tokens[i + 1][1] == "("
        # a table function only (a name that is also a scalar function may be the scalar)
        if called and name in _table_only_functions() and name not in allowed:
            raise ReadOnlyError(f"table function {name}() is not allowed here", f"这里不允许表函数 {name}()")


def _explained(text: str) -> str:
    """The statement after ``EXPLAIN [ANALYZE] [(options)]``."""
    tokens = _positions(text)
    i = 1  # tokens[0] is EXPLAIN
    if i < len(tokens) and tokens[i][2].upper() in ("ANALYZE", "ANALYSE"):
        i += 1
    if i < len(tokens) and tokens[i][2] == "(":
        depth = 0
        for j in range(i, len(tokens)):
            depth += {"(": 1, ")": -1}.get(tokens[j][2], 0)
            if depth == 0:
                i = j + 1
                break
    if i >= len(tokens):
        raise ReadOnlyError("EXPLAIN of nothing", "EXPLAIN 后面没有语句")
    return text[tokens[i][0] :]


def _positions(text: str) -> list[tuple[int, Any, str]]:
    """(offset, type, text) of every token but comments."""
    raw = duckdb.tokenize(text)
    out = []
    for n, (start, kind) in enumerate(raw):
        end = raw[n + 1][0] if n + 1 < len(raw) else len(text)
        if kind != duckdb.token_type.comment:
            out.append((start, kind, text[start:end].strip()))
    return out


def _tokens(text: str) -> list[tuple[Any, str]]:
    return [(kind, value) for _, kind, value in _positions(text)]


def first_word(text: str) -> str:
    """The statement's first token as written (comments skipped), "" for none."""
    tokens = _tokens(text)
    return tokens[0][1] if tokens else ""


@lru_cache(maxsize=1)
def _table_only_functions() -> frozenset[str]:
    """DuckDB's table functions that no scalar or aggregate function shares a name with."""
    con = duckdb.connect()
    try:
        rows = con.execute("SELECT lower(function_name), function_type FROM duckdb_functions()").fetchall()
    finally:
        con.close()
    tables = frozenset(name for name, kind in rows if kind in ("table", "table_macro"))
    return tables - {name for name, kind in rows if kind in ("scalar", "aggregate", "macro")}


# ------------------------------------------------------------------------------------ the sandbox
def allowed_directories(settings: Settings, tables: Collection[str] | None = None) -> list[str]:
    """The lake's table directories (never the raw zone): all a query may read (local paths, or
    ``s3://…/`` prefixes read through the lake's registered filesystem) — only those of ``tables``
    when given (a web viewer's role: the files of the tables it may not read stay closed, whatever
    the query calls them)."""
    lake = settings.lake_store
    return sorted(
        {
            f"{lake.uri(table_prefix(t))}/"
            for t in all_tables()
            if t.layer != Layer.STAGE and (tables is None or t.name in tables)
        }
    )


def open_sandbox(
    settings: Settings, *, timeout_s: float | None = None, tables: Collection[str] | None = None
) -> duckdb.DuckDBPyConnection:
    """A locked-down connection over the serving database (see the module doc, layer 2); it reads
    the files of ``tables`` only, when given."""
    db = settings.duckdb_file
    if not db.exists():
        raise FileNotFoundError(f"no serving database at {db}: run an ingest (e.g. `ecocloud demo`) first")
    con = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "allow_unsigned_extensions": False,
            "allow_persistent_secrets": False,
            "memory_limit": settings.sql_memory_limit,
            "threads": settings.sql_threads,
            "temp_directory": "",  # no spilling: a query that needs more memory fails
        },
    )
    try:
        alias = db.stem if _IDENTIFIER.match(db.stem) and db.stem.lower() != "memory" else "serving"
        settings.lake_store.register(con)  # an S3 lake's views read through it (no extension)
        con.execute(f'ATTACH {string_literal(str(db))} AS "{alias}" (READ_ONLY)')
        con.execute(f'USE "{alias}"')
        con.execute("DETACH memory")  # the writable in-memory catalog
        dirs = ", ".join(string_literal(d) for d in allowed_directories(settings, tables))
        con.execute(f"SET allowed_directories = [{dirs}]")
        con.execute("SET enable_external_access = false")
        millis = int((timeout_s if timeout_s is not None else settings.sql_timeout_s) * 1000)
        con.execute(f"SET max_execution_time = {max(millis, 1)}")
        # the platform's clock, whatever the host's zone: instants shown, and cut into days
        # (::DATE, date_trunc), in Beijing time, as every date of the lake is
        con.execute(f"SET TimeZone = {string_literal(BEIJING_ZONE)}")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def serving_table_macros(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Table macros the serving database defines (queries may call them)."""
    rows = con.execute(
        "SELECT function_name FROM duckdb_functions() "
        "WHERE function_type = 'table_macro' AND database_name = current_database()"
    ).fetchall()
    return frozenset(r[0] for r in rows)


def memory_limit_error(settings: Settings) -> QueryLimitError:
    return QueryLimitError(
        f"query needs more than {settings.sql_memory_limit} of memory (ECOCLOUD_SQL_MEMORY_LIMIT); "
        "narrow it or aggregate",
        f"查询需要超过 {settings.sql_memory_limit} 的内存（ECOCLOUD_SQL_MEMORY_LIMIT）：请缩小范围或先聚合",
    )


def run_query(
    settings: Settings,
    query: str,
    *,
    timeout_s: float | None = None,
    max_rows: int | None = None,
    tables: Collection[str] | None = None,
    max_cells: int | None = None,
    count_total: bool = False,
) -> QueryResult:
    """Check ``query``, run it in the sandbox within the limits; at most ``max_rows`` rows back.
    ``tables``: the registry tables whose files it may read (None: every table's). ``max_cells``: the
    web page's budget (ECOCLOUD_WEB_SQL_MAX_CELLS): at most this many values (rows × columns) back,
    fewer rows for a wide result; a result with more columns than that is refused (None: no budget).
    ``count_total``: a result cut short also says how many rows it has (``total``): counted by DuckDB
    over the same statement in the same sandbox and time limit, no row of it fetched."""
    timeout = settings.sql_timeout_s if timeout_s is None else timeout_s
    limit = settings.sql_max_rows if max_rows is None else max_rows
    with _sandboxed(settings, query, timeout, tables) as con:
        cur = con.execute(query)
        columns = [d[0] for d in cur.description or []]
        row_limit = min(limit, _rows_within(max_cells, len(columns)))
        rows = _fetch(cur, row_limit + 1, settings.sql_max_result_bytes)
        truncated = len(rows) > row_limit
        total = len(rows) if not truncated else _count(con, query) if count_total else None
    return QueryResult(
        columns, rows[:row_limit], truncated, cut_by_cells=truncated and row_limit < limit, total=total
    )


def write_csv(settings: Settings, query: str, out: TextIO, *, tables: Collection[str] | None = None) -> int:
    """The whole result of ``query`` written to ``out`` as CSV for a spreadsheet (the BOM left to the
    caller), a few rows at a time; the rows written. As :func:`run_query`: the same check, sandbox,
    time limit (over the writing too) and caps — a result of more than ``sql_max_rows`` rows, or of
    more than ``sql_max_result_bytes``, raises QueryLimitError (what was written is no whole result)."""
    from ecocloud.spreadsheet import write_csv_rows  # (openpyxl: not for every query)

    limit = settings.sql_max_rows
    with _sandboxed(settings, query, settings.sql_timeout_s, tables) as con:
        cur = con.execute(query)
        columns = [d[0] for d in cur.description or []]
        written = 0

        def rows() -> Iterator[tuple[Any, ...]]:
            nonlocal written
            for chunk in _chunks(cur, limit + 1, settings.sql_max_result_bytes):
                if written + len(chunk) > limit:
                    raise QueryLimitError(
                        f"the result has more than the {limit:,} rows a download holds: narrow the query "
                        "(WHERE, fewer columns) or aggregate",
                        f"结果超过下载上限 {limit:,} 行：请缩小查询范围（WHERE 条件、更少的列）或先聚合",
                    )
                written += len(chunk)
                yield from chunk

        write_csv_rows(out, columns, rows())
    return written


def _count(con: duckdb.DuckDBPyConnection, query: str) -> int | None:
    """The rows of ``query``'s whole result, counted by DuckDB (a Parquet scan's count reads footers,
    not rows); None when it cannot (out of time or memory: the rows fetched still stand)."""
    try:
        con.abort()  # the rows not fetched of the statement that showed the first
        found = con.sql(query).aggregate("count(*)").fetchall()
    except duckdb.Error:
        return None
    return int(found[0][0]) if found else None


@contextmanager
def _sandboxed(
    settings: Settings, query: str, timeout: float, tables: Collection[str] | None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A sandbox (:func:`open_sandbox`) for ``query`` once :func:`check_read_only` passed it, under a
    timer that interrupts it after ``timeout`` (fetching too, not only execution); DuckDB's errors
    in the block as the SQL surface says them."""
    con = open_sandbox(settings, timeout_s=timeout, tables=tables)
    try:
        check_read_only(query, table_macros=serving_table_macros(con))
    except BaseException:
        con.close()
        raise
    timer = threading.Timer(timeout, con.interrupt)  # covers fetching too, not only execution
    timer.daemon = True
    try:
        timer.start()
        yield con
    except duckdb.InterruptException as exc:
        raise QueryLimitError(
            f"query stopped after {timeout:g} s (ECOCLOUD_SQL_TIMEOUT_S); narrow it (a date range, "
            "fewer columns) or aggregate",
            f"查询在 {timeout:g} 秒后被停止（ECOCLOUD_SQL_TIMEOUT_S）：请缩小范围（日期区间、更少的列）或先聚合",
        ) from exc
    except duckdb.OutOfMemoryException as exc:
        raise memory_limit_error(settings) from exc
    except duckdb.CatalogException as exc:
        unknown = _unknown_table(exc, tables)
        if unknown is None:
            raise
        raise unknown from exc
    except duckdb.PermissionException as exc:
        raise ReadOnlyError(
            f"the SQL surface reads the lake's tables and nothing else: {exc}",
            f"SQL 只能读取数据湖中的表：{exc}",
        ) from exc
    finally:
        timer.cancel()
        con.close()


def _rows_within(max_cells: int | None, columns: int) -> int:
    """Rows of ``columns`` values that fit ``max_cells``. Checked before a row is fetched: the cost of
    a wide result (its Python objects, the page's cells) grows with rows × columns, not rows."""
    if max_cells is None:
        return sys.maxsize
    if columns > max_cells:
        raise QueryLimitError(
            f"the result has {columns:,} columns, more than the {max_cells:,} cells a page shows "
            "(ECOCLOUD_WEB_SQL_MAX_CELLS); select fewer columns",
            f"结果有 {columns:,} 列，超过一页最多显示的 {max_cells:,} 个单元格（ECOCLOUD_WEB_SQL_MAX_CELLS）：请少选几列",
        )
    return max_cells // max(columns, 1)


_FETCH_ROWS = 64  # rows made Python objects before their size is checked: the most a cap overshoots
# A value that is not text, as the cap counts it. In a row 8 bytes: rows × columns bound how many there
# are (ECOCLOUD_SQL_MAX_ROWS; on the web page the cell budget), and charging what a Python number,
# date or time really costs would fail ordinary results (100,000 rows of the hourly table hold 1.8
# million of them: 115 MB at 64 bytes). Inside a list, struct or map its real cost, 32 (float) to 112
# (Decimal) bytes with its slot: nothing else bounds how many members a value holds.
_CELL_BYTES = 8
_MEMBER_BYTES = 64


def _fetch(cur: duckdb.DuckDBPyConnection, max_rows: int, max_bytes: int) -> list[tuple[Any, ...]]:
    """At most ``max_rows`` rows (:func:`_chunks`)."""
    return [row for chunk in _chunks(cur, max_rows, max_bytes) for row in chunk]


def _chunks(cur: duckdb.DuckDBPyConnection, max_rows: int, max_bytes: int) -> Iterator[list[tuple[Any, ...]]]:
    """At most ``max_rows`` rows, a few at a time; raises QueryLimitError once their size (text and
    blobs by length, other values by ``_CELL_BYTES`` or, in lists and structs, ``_MEMBER_BYTES``)
    passes ``max_bytes``: a result of huge strings or lists must not become a page, a reply or a
    file. One chunk's values are converted before they are counted."""
    fetched = 0
    size = 0
    while fetched < max_rows:
        chunk = cur.fetchmany(min(_FETCH_ROWS, max_rows - fetched))
        if not chunk:
            break
        size += sum(_value_bytes(value) for row in chunk for value in row)
        if size > max_bytes:
            raise QueryLimitError(
                f"the result is larger than {max_bytes:,} bytes (ECOCLOUD_SQL_MAX_RESULT_BYTES); "
                "select fewer or shorter columns or rows, or aggregate",
                f"结果超过 {max_bytes:,} 字节（ECOCLOUD_SQL_MAX_RESULT_BYTES）：请少选列或行、选较短的列，或先聚合",
            )
        fetched += len(chunk)
        yield chunk


def _value_bytes(value: Any, charge: int = _CELL_BYTES) -> int:
    """``charge`` for a value that is not text; a list's or struct's members at ``_MEMBER_BYTES``."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, list | tuple):
        return charge + sum(_value_bytes(v, _MEMBER_BYTES) for v in value)
    if isinstance(value, dict):
        return charge + sum(
            _value_bytes(k, _MEMBER_BYTES) + _value_bytes(v, _MEMBER_BYTES) for k, v in value.items()
        )
    return charge
