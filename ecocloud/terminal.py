"""The CLI's consoles: as wide as the terminal, and wide enough for a table when there is none."""

from __future__ import annotations

import os

from rich.console import Console, ConsoleDimensions

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
