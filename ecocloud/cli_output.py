"""Files the CLI writes when asked (``--out``, ``-o``): the format from ``--format`` or the file's
suffix, the path checked before the work is done, the file written in one go; a path it cannot write
is a message and exit 2, never a traceback."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.markup import escape

from ecocloud.spreadsheet import csv_text
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


STDOUT = Path("-")  # --out - : standard output
FILE_FORMATS = ("csv", "xlsx", "json")  # what --out writes; "table" is the terminal's


def output_format(fmt: str | None, out: Path | None) -> tuple[str, Path | None]:
    """(format, file or None for standard output): the format asked for (any case), or the one the
    --out file's suffix names; exit 2 where they disagree (an XLSX workbook under a .csv name opens
    as garbage), where neither says, or where a workbook would go to standard output."""
    fmt = fmt.lower() if fmt else None
    if fmt is not None and fmt not in ("table", *FILE_FORMATS):
        _refuse(f"--format must be one of table, {', '.join(FILE_FORMATS)}")
    suffix = out.suffix.lower().lstrip(".") if out is not None else ""
    named = suffix if suffix in FILE_FORMATS else None
    if out is None:
        if fmt == "xlsx":
            _refuse("--format xlsx needs --out FILE.xlsx")
        return fmt or "table", None
    if fmt == "table":
        _refuse("--out needs --format csv, xlsx or json")
    if fmt is None:
        if named is None:
            what = "standard output" if out == STDOUT else "the file's suffix"
            _refuse(f"--out {out}: give --format csv, xlsx or json ({what} names none of them)")
        fmt = named
    elif named is not None and named != fmt:
        _refuse(f"--out {out} names a .{named} file, but --format is {fmt}: give --out a .{fmt} name")
    if out == STDOUT:  # "-": standard output, as without --out (csv, json)
        if fmt == "xlsx":
            _refuse("--format xlsx needs --out FILE.xlsx (a workbook is not written to standard output)")
        return fmt, None
    check_output(out, "--out")  # before the work, not after it
    return fmt, out


def print_for_program(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> None:
    """Rows on standard output for a program (``fmt`` "json": a list of records, "csv": a header
    and the rows), the values as they are."""
    if fmt == "json":
        records = [dict(zip(columns, r, strict=True)) for r in rows]
        sys.stdout.write(json.dumps(records, default=str, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(csv_text(columns, rows, for_spreadsheet=False))
