"""Read provincial credit result files (XLSX or CSV) into typed stage rows (``stage_credit__rows``).

The ingest boundary for credit: each province's header names (统一社会信用代码 / 社会信用代码 …)
and level labels (环保诚信企业 / 绿牌 …) map to registry columns and level codes through the
province's configuration (``provinces.toml``). What the files do that the parser expects:

* a title row (or several) above the header row, merged cells, notes below the table;
* several sheets (a sheet without a header row, e.g. 说明, is skipped and counted);
* CSV in UTF-8 (with or without BOM) or GB18030;
* numbers where text is expected (序号 as 1.0), full-width characters, stray spaces.

The province comes from the caller, else from the file name (``file_hints``), else from the region
part of the USCCs in the file (majority). The year comes from the caller, a year column, the file
name, or the title row; the batch of the year's list (第二批), where one is stated, from the file name
or a title. A row without an enterprise name or with a level label the province does not use is
quarantined with its reason; USCCs are not checked here (the pipeline flags them, vectorised).
A CSV is read strictly: a quote that never closes, or a header spread over lines by a quoted line
break, refuses the file; a data row spread over lines is quarantined (the lines it hides are no rows).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ingest.credit.config import ProvinceConfig, provinces
from ingest.csv_records import MalformedCsv, Record, csv_records, spread_reason
from ingest.text_encoding import TextEncodingError, decode_text
from ingest.xlsx_guard import ZIP_MAGIC, WorkbookRefused, check_workbook
from schemas import credit as schema
from schemas.credit import SCHEMES
from transforms.identifiers import (
    canonical_region_code,
    is_region_code,
    normalize_name,
    normalize_uscc,
    prefecture_from_name,
)

__all__ = [
    "CreditFileError",
    "ParsedCredit",
    "map_level",
    "parse_credit_file",
    "read_sheets",
]

_HEADER_SCAN_ROWS = 15
_YEAR_RE = re.compile(r"(?<!\d)(20\d{2})(?!\d)")
# the evaluation year as a name or title states it, most explicit first: the year a listing put
# before the file name (after a province key: ``CreditFile.logical_name``), 2023年度, any year
_YEAR_PATTERNS = (
    re.compile(r"^(?:[a-z]+_)?(20\d{2})_"),
    re.compile(r"(?<!\d)(20\d{2})\s*年度"),
    _YEAR_RE,
)
# a batch of the year's list (第二批, 第2批, 第十二批): lists are often published in several
_BATCH_RE = re.compile(r"(?:第\s*([0-9]{1,3}|[一二三四五六七八九十]{1,3})|(首))\s*批")
_DIGITS_ZH = {c: i for i, c in enumerate("一二三四五六七八九", start=1)}
_SUB_GRADE_RE = re.compile(r"^\(?([A-Z0-9][A-Z0-9+\-]{0,2})\)?级?$")


class CreditFileError(ValueError):
    """Nothing in the file can be placed (no header, unknown province or year)."""


@dataclass
class ParsedCredit:
    province: ProvinceConfig | None
    rows: pa.Table
    quarantine: pa.Table
    counts: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ reading
def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        # Excel keeps 15 significant digits: a longer number (an 18-digit USCC typed into a number
        # cell) has lost its last ones, and written out in full would pass for a real identifier
        return f"{value:.14E}" if abs(value) >= 1e15 else str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def _unique_title(title: str, taken: list[str]) -> str:
    """A sheet's name, made unique (``S#2``): a rating's row is keyed by file, sheet and row, and
    openpyxl reads two sheets of one name as they are written."""
    if title not in taken:
        return title
    n = 2
    while f"{title}#{n}" in taken:
        n += 1
    return f"{title}#{n}"


def _merged_ranges(ws: Any) -> list[tuple[int, int, int, int]]:
    """(first column, first row, last column, last row) of each merged range of a read-only sheet,
    which openpyxl does not read in that mode: from the sheet's XML (after the guard: no DTD)."""
    from xml.etree.ElementTree import iterparse

    from openpyxl.utils.cell import range_boundaries

    ranges = []
    with ws._get_source() as source:  # private, in the pinned openpyxl: the sheet's XML stream
        for _, element in iterparse(source):
            if element.tag.endswith("}mergeCell") and element.get("ref"):
                first_col, first_row, last_col, last_row = range_boundaries(element.get("ref"))
                ranges.append((first_col or 1, first_row or 1, last_col or 1, last_row or 1))
            element.clear()
    return ranges


def _filled(rows: list[list[str]], ranges: list[tuple[int, int, int, int]]) -> list[list[str]]:
    """A range merged over rows gives its value to the rows below it, in its first column (a list
    merges a region over its enterprises' rows); a range within one row (a title, a note across the
    table) fills nothing: copied across, a note would fill the name and level columns."""
    width = max((len(row) for row in rows), default=0)
    for first_col, first_row, _, last_row in ranges:
        if first_row >= last_row or first_row > len(rows) or first_col > min(len(rows[first_row - 1]), width):
            continue
        value = rows[first_row - 1][first_col - 1]
        for row in rows[first_row:last_row]:
            row.extend([""] * (first_col - len(row)))  # a row ends at its last cell with a value
            if not row[first_col - 1]:
                row[first_col - 1] = value
    return rows


@dataclass
class _Sheet:
    name: str
    rows: list[list[str]]
    # CSV only: row index → the record, where a quoted line break spreads it over lines
    spread: dict[int, Record] = field(default_factory=dict)


def read_sheets(data: bytes, file_name: str = "") -> list[tuple[str, list[list[str]]]]:
    """(sheet name, rows of cell text) for an XLSX workbook, or one unnamed sheet for a CSV."""
    return [(sheet.name, sheet.rows) for sheet in _read_sheets(data, file_name)]


def _read_csv(text: str, file_name: str) -> _Sheet:
    """The one sheet of a CSV, read strictly (``ingest.csv_records``)."""
    try:
        records = csv_records(text)
    except MalformedCsv as exc:
        raise CreditFileError(f"{file_name or 'CSV'}: {exc}") from exc
    return _Sheet(
        "",
        [[c.strip() for c in r.cells] for r in records],
        {i: r for i, r in enumerate(records) if r.spread},
    )


def _read_sheets(data: bytes, file_name: str) -> list[_Sheet]:
    if data[:4] == ZIP_MAGIC or file_name.lower().endswith((".xlsx", ".xlsm")):
        try:
            check_workbook(data)  # truncated, not a ZIP, a zip bomb, absurd dimensions: refused here
        except WorkbookRefused as exc:
            raise CreditFileError(str(exc)) from exc
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                sheets: list[_Sheet] = []
                for ws in wb.worksheets:
                    ws.reset_dimensions()  # read every row, not only those inside a (wrong) declared dimension
                    rows = [[_cell(v) for v in row] for row in ws.iter_rows(values_only=True)]
                    sheets.append(
                        _Sheet(
                            _unique_title(ws.title, [s.name for s in sheets]),
                            _filled(rows, _merged_ranges(ws)),
                        )
                    )
                return sheets
            finally:
                wb.close()
        except Exception as exc:  # damaged past the guard: openpyxl raises what its XML code meets
            # (IndexError for a shared string that is not there, TypeError, …): the file is quarantined
            raise CreditFileError(f"not a readable XLSX workbook: {type(exc).__name__}: {exc}") from exc
    try:
        text = decode_text(data)
    except TextEncodingError as exc:
        raise CreditFileError(f"not an XLSX workbook, and {exc}") from None
    return [_read_csv(text, file_name)]


# ---------------------------------------------------------------------------------------- mapping
def map_level(label: str, province: ProvinceConfig) -> tuple[str, str | None] | None:
    """(level code, sub-grade) for a label as written, or None when the province has no such label."""
    text = normalize_name(label) or ""
    for alias, code in province.labels:
        if text == alias:
            return code, None
    for alias, code in province.labels:  # longest first: 环保良好企业B级 before 环保良好(B+)
        if alias and text.startswith(alias):
            m = _SUB_GRADE_RE.match(text[len(alias) :])
            if m:
                return code, m.group(1)
    return None


def _header(rows: list[list[str]], candidates: list[ProvinceConfig]) -> tuple[int, dict[str, int]] | None:
    """(index of the header row, column → cell index) using the candidates' header names."""
    for i, row in enumerate(rows[:_HEADER_SCAN_ROWS]):
        mapping: dict[str, int] = {}
        for j, cell in enumerate(row):
            for p in candidates:
                column = p.column_of(cell)
                if column and column not in mapping:
                    mapping[column] = j
                    break
        if {"enterprise_name", "level"} <= set(mapping):
            return i, mapping
    return None


def _province_from_name(name: str) -> ProvinceConfig | None:
    lowered = name.lower()
    hits = [p for p in provinces().values() if any(h in lowered for h in p.file_hints)]
    return hits[0] if len(hits) == 1 else None


def _province_from_usccs(usccs: list[str]) -> ProvinceConfig | None:
    """The configured province most USCCs were registered in (positions 3–4 = province)."""
    by_code = {p.province_code[:2]: p for p in provinces().values()}
    votes = Counter(u[2:4] for u in (normalize_uscc(x) or "" for x in usccs) if len(u) == 18)
    if not votes:
        return None
    prefix, n = votes.most_common(1)[0]
    return by_code.get(prefix) if n * 2 > sum(votes.values()) else None


# ---------------------------------------------------------------------------------------- parsing
def parse_credit_file(
    data: bytes,
    *,
    file_name: str,
    raw_file: str,
    received_at: dt.datetime,
    province: ProvinceConfig | None = None,
    year: int | None = None,
) -> ParsedCredit:
    """Typed rating rows and quarantined rows of one result file.

    Raises CreditFileError when nothing can be placed: no header row in any sheet, or the province
    or the year cannot be told.
    """
    sheets = _read_sheets(data, file_name)
    candidates = [province] if province else list(provinces().values())
    found = [(s.name, s.rows, h) for s in sheets if (h := _header(s.rows, candidates)) is not None]
    if not found:
        raise CreditFileError("no header row with an enterprise-name and a level column in any sheet")
    if province is None:
        province = _province_from_name(file_name) or _province_from_usccs(_column_values(found, "uscc"))
    if province is None:
        raise CreditFileError("cannot tell the province (no hint in the file name, USCCs inconclusive)")
    file_year = _year_in(file_name)
    # the batch is the file's: its name's, else the first a title states (a workbook's later sheets
    # often have no title row; as "no batch" they would stand for the whole year's list)
    titles = [_batch_in(_title(rows, h[0])) for _, rows, h in found]
    file_batch = _batch_in(file_name) or next((b for b in titles if b is not None), None)

    rows_out: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    counts = Counter[str]()

    def skip_sheet(sheet: str, rows: list[list[str]], reason: str) -> None:
        """A sheet no rating can be read from: its non-blank rows are quarantined, not dropped (a
        notes sheet costs a few rows of evidence; a sheet of ratings under a header we do not know is
        found there)."""
        counts["sheets_skipped"] += 1
        for row_no, row in enumerate(rows, start=1):
            if any(c.strip() for c in row):
                counts["rows_read"] += 1
                quarantine.append(
                    {"raw_file": raw_file, "sheet": sheet, "row_no": row_no,
                     "province_code": province.province_code, "raw_value": ",".join(row)[:500], "reason": reason}
                )  # fmt: skip

    with_header = {name for name, _, _ in found}  # a workbook's sheet names are unique
    for each in sheets:
        sheet, rows, spread = each.name, each.rows, each.spread
        if sheet not in with_header:
            skip_sheet(sheet, rows, "a sheet with no header row naming an enterprise-name and a level column")
            continue
        header = _header(rows, [province])
        if header is None:
            skip_sheet(
                sheet,
                rows,
                f"a sheet whose header names the columns of another province than {province.name}",
            )
            continue
        h_index, columns = header
        if h_index in spread:
            raise CreditFileError(
                f"{file_name}: the header is refused: {spread_reason(spread[h_index], 'header')}"
            )
        title_year = _year_in(_title(rows, h_index))
        for row_no, row in _data_rows(rows, h_index):
            cells = {c: (row[j].strip() if j < len(row) else "") for c, j in columns.items()}
            if row_no - 1 in spread:  # the lines it spans may be ratings, missing unseen
                typed: dict[str, Any] | str = spread_reason(spread[row_no - 1], "row")
            elif not cells.get("enterprise_name") and not cells.get("level"):
                if not any(cells.values()):
                    counts["rows_skipped"] += 1  # a note (注：…) or a subtotal line below the table
                    continue
                typed = "neither enterprise name nor level"  # yet a USCC, a region …
            else:
                typed = _typed_row(
                    cells, province, year or file_year or title_year, fixed_year=year is not None
                )
            counts["rows_read"] += 1
            where = {"raw_file": raw_file, "sheet": sheet, "row_no": row_no}
            if isinstance(typed, str):
                quarantine.append(
                    {**where, "province_code": province.province_code, "raw_value": ",".join(row)[:500],
                     "reason": typed}
                )  # fmt: skip
            else:
                rows_out.append({**typed, **where, "list_batch": file_batch, "received_at": received_at})
    counts["rows_kept"] = len(rows_out)
    counts["rows_quarantined"] = len(quarantine)
    return ParsedCredit(
        province,
        schema.stage_rows.from_rows(rows_out),
        schema.quarantine.from_rows(quarantine),
        dict(counts),
    )


def _typed_row(
    cells: dict[str, str], province: ProvinceConfig, default_year: int | None, *, fixed_year: bool
) -> dict[str, Any] | str:
    """The typed columns of one row, or why it cannot be typed."""
    scheme = SCHEMES[province.scheme]
    name, label = cells.get("enterprise_name", ""), cells.get("level", "")
    if not name:
        return "no enterprise name"
    level = map_level(label, province)
    if level is None:
        return f"level {label!r} is not a label of {province.name} ({scheme.name})"
    year = default_year if fixed_year else (_year_in(cells.get("year", "")) or default_year)
    if year is None:
        return "no evaluation year (none in the row, the file name or the title)"
    region_name = cells.get("region") or None
    return {
        "province_code": province.province_code,
        "scheme": scheme.name,
        "year": year,
        "uscc": cells.get("uscc") or None,
        "enterprise_name": name,
        "region_code": _region_code(region_name, province),
        "region_name": region_name,
        "level": level[0],
        "level_rank": scheme.level(level[0]).rank,
        "level_label": label,
        "sub_grade": cells.get("sub_grade") or level[1],
    }


def file_quarantine(raw_file: str, reason: str, province_code: str | None = None) -> pa.Table:
    """The quarantine row of a file nothing could be read from."""
    row = {"raw_file": raw_file, "sheet": "", "row_no": 0, "province_code": province_code,
           "raw_value": None, "reason": reason}  # fmt: skip
    return schema.quarantine.from_rows([row])


def _column_values(
    found: list[tuple[str, list[list[str]], tuple[int, dict[str, int]]]], column: str
) -> list[str]:
    out: list[str] = []
    for _, rows, (h_index, columns) in found:
        j = columns.get(column)
        if j is not None:
            out.extend(row[j] for row in rows[h_index + 1 :] if j < len(row))
    return out


def _data_rows(rows: list[list[str]], header_index: int) -> Iterator[tuple[int, list[str]]]:
    for i in range(header_index + 1, len(rows)):
        row = rows[i]
        if any(c for c in row):
            yield i + 1, row  # 1-based, as a spreadsheet shows it


def _year_in(text: str) -> int | None:
    """The evaluation year a name or title states: the one a listing put before the file name
    (``2023_…``, ``jiangxi_2023_…``), else the one written as such (2023年度: a title
    "2024年发布的2023年度…" was published in 2024 and rates 2023), else the first year in it."""
    for pattern in _YEAR_PATTERNS:
        if m := pattern.search(text or ""):
            return int(m.group(1))
    return None


def _title(rows: list[list[str]], header_index: int) -> str:
    """The rows above a sheet's header (its title), as one text."""
    return " ".join(" ".join(r) for r in rows[:header_index])


def _batch_in(text: str) -> int | None:
    """The batch of the year's list a name or title states (首批 → 1, 第三批 → 3, 第12批, 第十二批),
    else None."""
    m = _BATCH_RE.search(unicodedata.normalize("NFKC", text or ""))
    if m is None:
        return None
    word = m.group(1) or m.group(2)
    if word == "首":
        return 1
    if word.isdigit():
        return int(word) or None
    tens, ten, units = word.partition("十")
    if not ten:
        return _DIGITS_ZH.get(word)  # one numeral; 一二 is no number
    if any(part and part not in _DIGITS_ZH for part in (tens, units)):
        return None  # 十十, 一二十
    return _DIGITS_ZH.get(tens, 1) * 10 + _DIGITS_ZH.get(units, 0)


def evaluation_year(name: str) -> int | None:
    """The evaluation year a file name states (see ``_year_in``)."""
    return _year_in(name)


def _region_code(name: str | None, province: ProvinceConfig) -> str | None:
    if not name:
        return None
    code = canonical_region_code(name)
    if code and is_region_code(code):
        return code
    return prefecture_from_name(name, province.province_code)
