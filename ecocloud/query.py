"""Read-only queries against the serving DuckDB database (CLI and web share this)."""

from __future__ import annotations

from typing import Any

import duckdb

from ecocloud.settings import Settings
from warehouse.serving import connect_readonly

# DESCRIBE, SHOW and SUMMARIZE parse as SELECT; COPY, ATTACH, INSTALL, SET … are refused.
_ALLOWED = {"SELECT", "EXPLAIN"}


class ReadOnlyError(ValueError):
    """The statement would change something; only reads are allowed here."""


def check_read_only(query: str) -> None:
    statements = duckdb.extract_statements(query)
    if not statements:
        raise ReadOnlyError("no statement given")
    for stmt in statements:
        kind = stmt.type.name
        if kind not in _ALLOWED:
            raise ReadOnlyError(
                f"only read-only statements (SELECT, WITH, DESCRIBE, SHOW, EXPLAIN) are allowed, got {kind}"
            )


def run_query(settings: Settings, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    check_read_only(query)
    con = connect_readonly(settings.duckdb_file)
    try:
        cur = con.execute(query)
        columns = [d[0] for d in cur.description or []]
        return columns, cur.fetchall()
    finally:
        con.close()
