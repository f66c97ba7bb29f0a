"""An analyst's query from the web app, run in a child process whose data memory is capped.

DuckDB's ``memory_limit`` bounds its buffer manager, not the strings a query's scalar functions
build: ``repeat('x', 10000000)`` over a table asks for gigabytes in one vector before the first row
comes back, and the kernel's out-of-memory kill would take the web app, every user's pages, with
it. In a child capped by ``RLIMIT_DATA`` (its writable private memory: heap, anonymous maps, thread
stacks; not the address space DuckDB reserves and never writes, ~0.7 GB at connect) the allocation
fails instead and the analyst gets DuckDB's out-of-memory error; a child that dies anyway, or outlives
the query's timeout, is killed alone.

Children are forked from a forkserver that imported the main module and the query code once (a fork
of the multi-threaded web server is unsafe, a fresh interpreter per query slow).
"""

from __future__ import annotations

import multiprocessing
import pickle
import resource
import signal
from collections.abc import Collection
from functools import lru_cache
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import duckdb

from ecocloud.query import (
    QueryLimitError,
    QueryResult,
    ReadOnlyError,
    UnknownTable,
    memory_limit_error,
    run_query,
    write_csv,
)
from ecocloud.settings import Settings

# beyond DuckDB's memory_limit: the interpreter, its imports and an open sandbox (~0.25 GB of data),
# DuckDB's allocations outside its buffer manager, thread stacks
OVERHEAD_BYTES = 1 << 30
KILL_AFTER_S = 5.0  # past the query's own timeout (DuckDB interrupts it first), before the child is killed
_IEC = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "PiB": 1 << 50}
# how a child out of memory ends when the failure is not DuckDB's error: C++ abort, the kernel's kill
_MEMORY_DEATHS = (-signal.SIGABRT, -signal.SIGKILL)
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["__main__", "ecocloud.web.sql_worker"])


class QueryFailed(Exception):
    """DuckDB refused or failed the analyst's SQL (its message: the error's type and text)."""


@lru_cache(maxsize=8)
def memory_bytes(limit: str) -> int:
    """A ``memory_limit`` in bytes as DuckDB reads it (every spelling it takes: ``1GB``, ``1g``,
    ``512MiB``, ``80%``, ``none``), to the 0.1 of a unit it reports; ValueError for what it refuses."""
    try:
        con = duckdb.connect(config={"memory_limit": limit})
    except duckdb.Error as exc:
        raise ValueError(f"memory limit {limit!r}: {str(exc).splitlines()[0]}") from None
    try:
        row = con.execute("SELECT current_setting('memory_limit')").fetchone()
    finally:
        con.close()
    number, unit = str(row[0] if row else "").split()
    return int(float(number) * _IEC[unit])


def run_capped(
    settings: Settings, query: str, *, tables: Collection[str] | None, max_rows: int
) -> QueryResult:
    """``run_query`` in a child process capped at the query's memory limit plus the interpreter's
    share; raises what ``run_query`` raises, ``QueryFailed`` for DuckDB's errors and a limit it
    refuses, and ``QueryLimitError`` when the child runs out of memory, dies or outlives its timeout.
    The web page's cell budget (``web_sql_max_cells``) is kept in the child: the web app's process,
    which has no cap, receives, rebuilds and renders at most that many values. A result cut short
    says how many rows it has (``total``), counted in the child within the same time limit."""
    result: QueryResult = _in_child(settings, query, tables, ("rows", max_rows))
    return result


def export_capped(settings: Settings, query: str, path: Path, *, tables: Collection[str] | None) -> int:
    """``write_csv`` in a capped child as :func:`run_capped` runs a query: the whole result, within
    the SQL surface's row, size and time limits, written to ``path`` (UTF-8, no BOM), not sent to
    this process; the rows written."""
    written: int = _in_child(settings, query, tables, ("csv", str(path)))
    return written


def _in_child(settings: Settings, query: str, tables: Collection[str] | None, job: tuple[str, Any]) -> Any:
    try:
        cap = memory_bytes(settings.sql_memory_limit) + OVERHEAD_BYTES
    except ValueError as exc:
        raise QueryFailed(f"ECOCLOUD_SQL_MEMORY_LIMIT: {exc}") from None
    receive, send = _CONTEXT.Pipe(duplex=False)
    readable = list(tables) if tables is not None else None
    child = _CONTEXT.Process(target=_child, args=(send, cap, settings, query, readable, job))
    try:
        child.start()
    except OSError as exc:  # no process to be had (a process limit, the forkserver gone)
        receive.close()
        raise QueryLimitError(
            f"no process for the query ({exc.strerror}): try again in a moment",
            f"没有可以运行查询的进程（{exc.strerror}）：请稍后再试",
        ) from None
    finally:
        send.close()
    try:
        if not receive.poll(settings.sql_timeout_s + KILL_AFTER_S):
            raise QueryLimitError(
                f"query stopped after {settings.sql_timeout_s:g} s (ECOCLOUD_SQL_TIMEOUT_S)",
                f"查询在 {settings.sql_timeout_s:g} 秒后被停止（ECOCLOUD_SQL_TIMEOUT_S）",
            )
        outcome, value = receive.recv()
    except (EOFError, pickle.UnpicklingError):
        outcome, value = "died", None
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join()
    if outcome == "died":
        if child.exitcode in _MEMORY_DEATHS:
            raise memory_limit_error(settings)
        raise QueryFailed(f"the query's process ended without an answer (exit code {child.exitcode})")
    if outcome == "error":
        raise value
    return value


def _child(
    send: Connection,
    cap: int,
    settings: Settings,
    query: str,
    tables: list[str] | None,
    job: tuple[str, Any],
) -> None:
    outcome: tuple[str, Any]
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        limit = cap if hard == resource.RLIM_INFINITY else min(cap, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
        kind, arg = job
        if kind == "csv":
            with Path(arg).open("w", encoding="utf-8", newline="") as out:
                outcome = ("ok", write_csv(settings, query, out, tables=tables))
        else:
            cells = settings.web_sql_max_cells
            result = run_query(
                settings, query, tables=tables, max_rows=arg, max_cells=cells, count_total=True
            )
            outcome = ("ok", result)
    except (QueryLimitError, ReadOnlyError, UnknownTable) as exc:
        outcome = ("error", type(exc)(str(exc), exc.zh))
    except MemoryError:
        outcome = ("error", memory_limit_error(settings))
    except Exception as exc:  # DuckDB's errors: the message only (not every one of them pickles)
        outcome = ("error", QueryFailed(f"{type(exc).__name__}: {exc}"))
    try:
        send.send(outcome)
    except MemoryError:  # pickling a large result under the cap
        send.send(("error", memory_limit_error(settings)))
    send.close()
