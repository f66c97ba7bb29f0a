"""The CLI's consoles: as wide as the terminal, and wide enough for a table when there is none; and
data shown as it is — Rich reads ``[…]`` in a string as markup, so a value such as
``[low_frac × limit, limit]`` lost its text and ``[/x]`` stopped the command with a traceback."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from schemas.clock import in_beijing

# Rich lays out for 80 columns without a terminal: a piped or logged table (make demo in CI, a cron
# job's mail) then cut its dates to "2026-12-…"; a log line may be long, a cut value is lost
_WIDTH_WITHOUT_TERMINAL = 200


class _CliConsole(Console):
    """Decides its width at each print, as Rich does (``COLUMNS`` set later, by a test runner or a
    wrapper, still counts): the terminal's or ``COLUMNS``, else ``_WIDTH_WITHOUT_TERMINAL``."""

    @property
    def size(self) -> ConsoleDimensions:
        measured = Console.size.fget(self)  # type: ignore[attr-defined]
        if self._width is None and not self.is_terminal and "COLUMNS" not in os.environ:
            return ConsoleDimensions(_WIDTH_WITHOUT_TERMINAL, measured.height)
        return measured

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


def cli_console(*, stderr: bool = False, soft_wrap: bool = False) -> Console:
    return _CliConsole(stderr=stderr, soft_wrap=soft_wrap)


def plain(value: Any) -> Text:
    """A value for a table cell or a header, never read as markup (None: empty; an instant in Beijing
    time, as the lake's dates are)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return Text(in_beijing(value))
    return Text("" if value is None else str(value))


def said(value: Any) -> str:
    """A value (a message, an exception, a path) to put inside a markup string: its brackets escaped."""
    return escape(str(value))


def rows_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None, fold: bool = False
) -> Table:
    """A table of query results, every header and value as it is; ``fold``: a value too wide for a
    narrow terminal wraps, never cut to "core_air__…"."""
    table = Table(title=plain(title) if title is not None else None)
    for c in columns:
        table.add_column(plain(c), overflow="fold" if fold else "ellipsis")
    for r in rows:
        table.add_row(*(plain(v) for v in r))
    return table


# every Typer app's help as click formats it: plain text wrapped to the terminal. Rich's help panels cut
# long option names (--max-connections-p…) and setting names at 80 columns, and broke docstrings mid-line.
PLAIN_HELP = None
