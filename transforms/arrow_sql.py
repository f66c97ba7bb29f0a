"""DuckDB SQL over Arrow tables held in memory, on a throwaway connection.

Transforms and builds state many of their steps as a query over a few Arrow tables. Each such query
gets its own in-memory connection (nothing shared between threads or calls), in the UTC session time
zone so that no result depends on the machine's zone (Beijing days are computed explicitly), closed
when the query's result has been read into Arrow.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb
import pyarrow as pa

__all__ = ["arrow_connection", "query_arrow"]


@contextmanager
def arrow_connection(**tables: pa.Table) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh in-memory connection, UTC, with each Arrow table registered under its keyword's name;
    closed on leaving the block (read every result into Arrow inside it)."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        for name, table in tables.items():
            con.register(name, table)
        yield con
    finally:
        con.close()


def query_arrow(sql: str, params: Sequence[object] | None = None, /, **tables: pa.Table) -> pa.Table:
    """The result of one query over the Arrow ``tables`` (named by keyword), as an Arrow table."""
    with arrow_connection(**tables) as con:
        return con.sql(sql, params=params).to_arrow_table()
