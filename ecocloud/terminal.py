"""The CLI's consoles: as wide as the terminal, and wide enough for a table when there is none."""

from __future__ import annotations

import os
import sys

from rich.console import Console

# Rich lays out for 80 columns without a terminal: a piped or logged table (make demo in CI, a cron
# job's mail) then cut its dates to "2026-12-…"; a log line may be long, a cut value is lost
_WIDTH_WITHOUT_TERMINAL = 200


def cli_console(*, stderr: bool = False, soft_wrap: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    unsized = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, soft_wrap=soft_wrap, width=_WIDTH_WITHOUT_TERMINAL if unsized else None)
