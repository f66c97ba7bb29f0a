"""Files the CLI writes when asked (``--out``, ``-o``): the path checked before the work is done, the
file written in one go; a path it cannot write is a message and exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer
from rich.markup import escape

from ecocloud.terminal import cli_console

_err = cli_console(stderr=True)


def _refuse(message: str) -> NoReturn:
    _err.print(f"[red]{escape(message)}")
    raise typer.Exit(2)


def check_output(path: Path, option: str) -> None:
    """Exit 2 unless ``path`` can be a file to write: not a folder, in a folder that exists."""
    if path.is_dir():
        _refuse(f"{option}: {path} is a folder: give a file name")
    folder = path.absolute().parent
    if not folder.is_dir():
        _refuse(f"{option}: there is no folder {folder}")


def write_output(path: Path, data: bytes, option: str) -> None:
    """Write ``data`` to ``path``; exit 2 saying why where it cannot be (the folder taken away
    meanwhile, no permission, a full disk)."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        _refuse(f"{option}: cannot write {path}: {exc.strerror or exc}")
