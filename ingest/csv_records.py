"""CSV read strictly, record by record, with the lines each record spans.

Python's csv reader is lenient by default: a quote that never closes reads every later line of the
file into one cell, and the rows on those lines vanish without a trace. Here a malformed file raises
:class:`MalformedCsv` (each parser turns it into its own file error), and every record carries its
first and last line, so a parser can refuse or quarantine a record a quoted line break spread over
several lines (legal CSV, but in a registry or a result list a quote closed too late) instead of
losing the records on those lines.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

__all__ = ["MalformedCsv", "Record", "csv_records", "spread_reason"]


class MalformedCsv(ValueError):
    """The text is not CSV a strict reader accepts (a quote that does not close where a cell ends)."""

    def __init__(self, line: int, error: csv.Error) -> None:
        super().__init__(
            f"line {line}: malformed CSV ({error}): a quote opened in this record does not close where "
            "a quoted cell must end"
        )
        self.line = line


@dataclass(frozen=True)
class Record:
    first_line: int  # the file's own line numbers (blank lines counted), from 1
    last_line: int
    cells: list[str]

    @property
    def spread(self) -> bool:
        """A quoted line break spreads the record over several lines."""
        return self.last_line > self.first_line


def csv_records(text: str) -> list[Record]:
    """Every record of ``text`` (a blank line is a record without cells); MalformedCsv."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[Record] = []
    next_line = 1
    try:
        for cells in reader:
            records.append(Record(next_line, reader.line_num, cells))
            next_line = reader.line_num + 1
    except csv.Error as exc:
        raise MalformedCsv(next_line, exc) from exc
    return records


def spread_reason(record: Record, what: str) -> str:
    """Why a spread record is refused or quarantined (``what``: row, record, section …)."""
    return (
        f"a quoted cell holds a line break: lines {record.first_line}-{record.last_line} read as one "
        f"{what}, so no {what} on those lines was read (a quote closed too late?)"
    )
