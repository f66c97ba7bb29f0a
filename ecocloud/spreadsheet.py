"""Cells for a spreadsheet: what the CLI and the web write as CSV or XLSX for people to open in Excel.

Text never becomes a formula, so a hostile name cannot run in the reader's spreadsheet: in XLSX every
string is a text cell (openpyxl would store one starting with ``=`` as a formula; those are typed as
text explicitly), in CSV a value starting like a formula (``=``, ``+``, ``-``, ``@``, tab, CR) is
prefixed with ``'``. A control character that XLSX cannot hold shows there as U+FFFD; CSV keeps it.
A CSV file for a spreadsheet is UTF-8 with a BOM, so Excel reads the Chinese right.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from schemas.clock import beijing_wall

__all__ = [
    "FORMULA_START",
    "MAX_SHEET_ROWS",
    "NOT_A_FORMULA",
    "csv_bytes",
    "csv_text",
    "saved",
    "sheets",
    "table_xlsx",
    "workbook",
    "write_csv_rows",
]

# Excel's rows per sheet, the header included (openpyxl writes more without complaint, and Excel
# then refuses the file)
MAX_SHEET_ROWS = 1_048_576
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as a formula's start
# a sign alone is no formula: the "-" a table writes for "none" (a pH limit's unit) stays as it is
NOT_A_FORMULA = ("-", "+")
# what stands in XLSX for a control character openpyxl refuses: visible, unlike deleting it
_REFUSED_CHARACTER = "\ufffd"
# Excel keeps 15 significant digits: a larger integer (an ID) or decimal goes in as text, not rounded
_EXACT_DIGITS = 15
# Excel's characters per cell: a longer text (a long JSON value) is cut, saying so (Excel would
# "repair" the workbook and drop it)
MAX_CELL_CHARS = 32_767
_CUT = "…[{} characters cut]"


def _csv_cell(value: Any) -> Any:
    """A value as a spreadsheet reads it from CSV: an instant as Beijing wall time (as the XLSX
    holds it, which Excel reads as a date), text that would start a formula prefixed with ``'``."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return beijing_wall(value).isoformat(sep=" ")
    if isinstance(value, str) and value.startswith(FORMULA_START) and value not in NOT_A_FORMULA:
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]], *, for_spreadsheet: bool = True) -> str:
    """CSV with ``header``: for a spreadsheet, each cell as :func:`_csv_cell` writes it (the header's
    names too — a PIVOT makes column names of values); else the values as they are (for a program)."""
    buf = io.StringIO()
    write_csv_rows(buf, header, rows, for_spreadsheet=for_spreadsheet)
    return buf.getvalue()


def write_csv_rows(
    out: TextIO, header: Sequence[str], rows: Iterable[Sequence[Any]], *, for_spreadsheet: bool = True
) -> None:
    """:func:`csv_text` written to ``out`` row by row (a file of more rows than memory should hold)."""
    cell = _csv_cell if for_spreadsheet else (lambda value: value)
    w = csv.writer(out, lineterminator="\n")
    w.writerow([cell(h) for h in header])
    for row in rows:
        w.writerow([cell(v) for v in row])


def csv_bytes(text: str) -> bytes:
    """``text`` as a CSV file for a spreadsheet: UTF-8 with a BOM."""
    return text.encode("utf-8-sig")


def _xlsx_text(text: str) -> str:
    """``text`` without the control characters openpyxl refuses (one would fail the whole
    workbook): each becomes U+FFFD."""
    return ILLEGAL_CHARACTERS_RE.sub(_REFUSED_CHARACTER, text)


def _xlsx_value(value: Any) -> Any:
    """A query's value as a cell can hold it: an instant in Beijing time (Excel has no time zones),
    a time of day with a zone, a number past 15 digits, NaN, bytes and nested values (lists,
    structs) as text."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return beijing_wall(value)
    if isinstance(value, dt.time) and value.tzinfo is not None:
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**_EXACT_DIGITS:
        return str(value)
    if isinstance(value, decimal.Decimal) and (
        not value.is_finite() or len(value.as_tuple().digits) > _EXACT_DIGITS
    ):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    if value is None or isinstance(
        value, str | int | float | decimal.Decimal | dt.date | dt.time | dt.timedelta
    ):
        return value
    return str(value)  # UUIDs, intervals of other kinds: their text


def _xlsx_cell(ws: Any, value: Any) -> Any:
    """A value as openpyxl should write it: strings cleaned by :func:`_xlsx_text`, and one starting
    with "=" (openpyxl would store it as a formula) typed as text."""
    value = _xlsx_value(value)
    if not isinstance(value, str):
        return value
    text = _xlsx_text(value)
    if len(text) > MAX_CELL_CHARS:
        cut = _CUT.format(f"{len(text) - MAX_CELL_CHARS:,}")
        text = text[: MAX_CELL_CHARS - len(cut) - 10] + cut  # the count's digits may grow: room kept
    if not text.startswith("="):
        return text
    cell = WriteOnlyCell(ws, value=text)
    cell.data_type = "s"
    return cell


def sheets(
    wb: Workbook,
    title: str,
    columns: Sequence[tuple[str, int]],
    rows: Iterable[Sequence[Any]],
    *,
    number_formats: Mapping[int, str] | None = None,
) -> None:
    """Sheet ``title`` of a write-only workbook — a bold header of ``columns`` (label, width), frozen,
    then ``rows`` — continued in ``title 2``, ``title 3``, … past Excel's row limit.
    ``number_formats``: the Excel number format of a column's (by index) non-text cells, e.g. a
    time's ``yyyy-mm-dd hh:mm`` (openpyxl's own shows seconds)."""
    remaining = iter(rows)
    number = 1
    formats = dict(number_formats or {})
    while True:
        ws = wb.create_sheet(title if number == 1 else f"{title} {number}")
        _header(ws, columns)
        for row in itertools.islice(remaining, MAX_SHEET_ROWS - 1):  # and the header
            if formats:
                ws.append([_formatted(ws, v, formats.get(i)) for i, v in enumerate(row)])
            else:
                ws.append([_xlsx_cell(ws, v) for v in row])
        following = next(remaining, None)
        if following is None:
            return
        remaining = itertools.chain([following], remaining)
        number += 1


def _formatted(ws: Any, value: Any, number_format: str | None) -> Any:
    """:func:`_xlsx_cell` of ``value``, in ``number_format`` unless it is none, empty or text."""
    cell = _xlsx_cell(ws, value)
    if number_format is None or cell is None or isinstance(cell, str | Cell):
        return cell
    formatted = WriteOnlyCell(ws, value=cell)
    formatted.number_format = number_format
    return formatted


def _header(ws: Any, columns: Sequence[tuple[str, int]]) -> None:
    ws.freeze_panes = "A2"
    for i, (_, width) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    header = []
    for label, _ in columns:
        cell = WriteOnlyCell(ws, value=_xlsx_text(label))
        cell.data_type = "s"  # a name like "=HYPERLINK(…)" (a PIVOT names columns after values) is text
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        header.append(cell)
    ws.append(header)


def workbook(title: str, description: str = "") -> Workbook:
    """A write-only workbook with its document properties."""
    wb = Workbook(write_only=True)
    wb.properties.title = title
    wb.properties.description = description
    wb.properties.creator = "ecocloud 生态云"
    return wb


def saved(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def table_xlsx(
    title: str, header: Sequence[str], rows: Iterable[Sequence[Any]], *, description: str = ""
) -> bytes:
    """One table as a workbook of sheet ``title`` (continued past Excel's row limit), columns as
    wide as their names."""
    wb = workbook(title, description)
    sheets(wb, title, [(name, min(max(10, len(name) + 2), 40)) for name in header], rows)
    return saved(wb)
