"""An analyst's query from the web app, run in a child process whose data memory is capped.

DuckDB's ``memory_limit`` bounds its buffer manager, not the strings a query's scalar functions
build: ``repeat('x', 10000000)`` over a table asks for gigabytes in one vector before the first row
comes back, and the kernel's out-of-memory kill would take the web app, every user's pages, with
it. In a child capped by ``RLIMIT_DATA`` (its writable private memory: heap, anonymous maps, thread
stacks; not the address space DuckDB reserves and never writes, ~0.7 GB at connect) the allocation
fails instead and the analyst gets DuckDB's out-of-memory error; a child that dies anyway, or outlives
the query's timeout, is killed alone.

Children are forked from a forkserver that imported the query code once (a fork of the
multi-threaded web server is unsafe, a fresh interpreter per query slow).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import resource
from collections.abc import Collection
from multiprocessing.connection import Connection
from typing import Any

from ecocloud.query import QueryLimitError, QueryResult, ReadOnlyError, run_query
from ecocloud.settings import Settings

# beyond DuckDB's memory_limit: the interpreter, its imports and an open sandbox (~0.25 GB of data),
# DuckDB's allocations outside its buffer manager, thread stacks
OVERHEAD_BYTES = 1 << 30
KILL_AFTER_S = 5.0  # past the query's own timeout (DuckDB interrupts it first), before the child is killed
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS |= {"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*|%)\s*", re.IGNORECASE)
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["ecocloud.query"])


class QueryFailed(Exception):
    """DuckDB refused or failed the analyst's SQL (its message: the error's type and text)."""


def memory_bytes(limit: str) -> int:
    """DuckDB's ``memory_limit`` spelling (``1GB``, ``512MiB``, ``80%`` of the machine) in bytes."""
    found = _SIZE.fullmatch(limit)
    unit = found.group(2).lower() if found else "?"
    if not found or (unit != "%" and unit not in _UNITS):
        raise ValueError(f"memory limit {limit!r}: a number and a unit (KB, MB, GB, TB, KiB … TiB) or %")
    if unit == "%":
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return int(physical * float(found.group(1)) / 100)
    return int(float(found.group(1)) * _UNITS[unit])


def run_capped(
    settings: Settings, query: str, *, tables: Collection[str] | None, max_rows: int
) -> QueryResult:
    """``run_query`` in a child process capped at the query's memory limit plus the interpreter's
    share; raises what ``run_query`` raises, ``QueryFailed`` for DuckDB's errors, and
    ``QueryLimitError`` when the child dies or outlives its timeout."""
    cap = memory_bytes(settings.sql_memory_limit) + OVERHEAD_BYTES
    receive, send = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(
        target=_child,
        args=(send, cap, settings, query, list(tables) if tables is not None else None, max_rows),
    )
    child.start()
    send.close()
    try:
        if not receive.poll(settings.sql_timeout_s + KILL_AFTER_S):
            raise QueryLimitError(
                f"query stopped after {settings.sql_timeout_s:g} s (ECOCLOUD_SQL_TIMEOUT_S)"
            )
        try:
            outcome, value = receive.recv()
        except EOFError:
            raise QueryLimitError(
                f"the query's process died: it needed more than {settings.sql_memory_limit} of memory "
                "(ECOCLOUD_SQL_MEMORY_LIMIT); narrow it or aggregate"
            ) from None
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join()
    if outcome == "error":
        raise value
    result: QueryResult = value
    return result


def _child(
    send: Connection, cap: int, settings: Settings, query: str, tables: list[str] | None, max_rows: int
) -> None:
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    outcome: tuple[str, Any]
    try:
        outcome = ("ok", run_query(settings, query, tables=tables, max_rows=max_rows))
    except (QueryLimitError, ReadOnlyError) as exc:
        outcome = ("error", type(exc)(str(exc)))
    except MemoryError:
        outcome = (
            "error",
            QueryLimitError(f"the result needs more than {settings.sql_memory_limit} of memory"),
        )
    except Exception as exc:  # DuckDB's errors: the message only (not every one of them pickles)
        outcome = ("error", QueryFailed(f"{type(exc).__name__}: {exc}"))
    send.send(outcome)
    send.close()
