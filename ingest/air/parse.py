"""Parse the national air-quality release (day files and station list) into typed Arrow tables.

This is the ingest boundary: release names (``PM2.5``, ``CO_24h``, ``监测点编码``) become registry
columns (``pm25_ugm3``, ``co_24h_mgm3``, ``station_code``) here, and nowhere downstream sees them.

Day file: ``date,hour,type,<station codes…>``; per hour up to 15 ``type`` lines. Quirks handled
(all seen in real files): UTF-8 BOM, CRLF, empty trailing header names, missing hours, empty
cells, duplicated station columns, non-numeric cells. Accounting unit is the station-hour: every
station-hour with at least one value is either published or quarantined with its reason; a line
that cannot be placed (bad date/hour/type, wrong field count, duplicate hour/type) is quarantined
whole. A quarantine row's ``reason`` is a code of the registry's list (schemas.air.QUARANTINE_REASONS:
for a station-hour, the cause of its first flagged type), its ``detail`` every cause with the values.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ingest.csv_records import MalformedCsv, csv_records, spread_reason
from ingest.numbers import PLAIN_NUMBER
from ingest.text_encoding import UTF16_BOMS, TextEncodingError, decode_text
from schemas.air import AQI_RELEASE_TYPE, POLLUTANTS, QUARANTINE_REASONS, RELEASE_TYPES, station_hourly
from schemas.air import quarantine as quarantine_table
from schemas.air import station_list as station_list_table
from schemas.clock import BEIJING
from schemas.labels import labelled

DAY_FILE_RE = re.compile(r"china_sites_(\d{8})\.csv(?:\.gz)?$")
_TYPE_INDEX = {t: i for i, t in enumerate(RELEASE_TYPES)}
_VALUE_COLUMNS = ["aqi_published", *(p.column for p in POLLUTANTS)]  # same order as RELEASE_TYPES
# Matched after trimming (the cast to float64 that follows does not skip spaces): the grammar the fast
# path's CSV reader accepts too, so a cell's fate does not depend on the other cells of its file.
# Signs pass here; negatives are caught as impossible.
_NUMBER_RE = f"^{PLAIN_NUMBER.pattern}$"


def _registry_bounds(bound: str, missing: float) -> np.ndarray:
    """Per value row (RELEASE_TYPES order), the registry's ``min`` or ``max`` of its published
    column: the registry is where bounds are declared, and a value outside them would fail the day's
    blocking range check, so it is quarantined here instead."""
    values = [getattr(station_hourly.column(name), bound) for name in _VALUE_COLUMNS]
    return np.array([missing if v is None else v for v in values], dtype=np.float64)


_LOWEST = _registry_bounds("min", -np.inf)
_HIGHEST = _registry_bounds("max", np.inf)


def _registered(reason: str) -> str:
    zh, en = (QUARANTINE_REASONS.in_language(lang).get(reason) for lang in ("zh", "en"))
    return labelled(reason, zh, en, "schemas.air.QUARANTINE_REASONS")


# Quarantine reasons (the row's ``reason``; its ``detail`` says it with the values): a whole file …
UNREADABLE_FILE = _registered("unreadable_file")
NOT_A_DAY_FILE = _registered("not_a_day_file")
# … a whole line …
MALFORMED_LINE = _registered("malformed_line")
WRONG_DATE = _registered("wrong_date")
BAD_HOUR = _registered("bad_hour")
UNKNOWN_TYPE = _registered("unknown_type")
DUPLICATE_LINE = _registered("duplicate_line")
UNNAMED_COLUMN = _registered("unnamed_column")
# … a station-hour (the cause of its first flagged type)
NOT_A_NUMBER = _registered("not_a_number")
DUPLICATE_COLUMN_DISAGREES = _registered("duplicate_column_disagrees")
IMPOSSIBLE_VALUE = _registered("impossible_value")
ABOVE_MAXIMUM = _registered("above_maximum")
AQI_NOT_INTEGER = _registered("aqi_not_integer")


class AirFileError(ValueError):
    """The file is not a day file at all (no usable header), or cannot be read; nothing in it can be
    placed. ``reason``: the quarantine reason of a day file refused so (a refused station list is
    not quarantined: its build says why)."""

    def __init__(self, message: str, reason: str = NOT_A_DAY_FILE) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[type[AirFileError], tuple[str, str]]:  # pickled with its reason
        return (type(self), (str(self), self.reason))


# a line (or its values under unnamed columns) set aside whole: line_no, type, raw text, reason, detail
_Reject = tuple[int, str | None, str, str, str]


@dataclass
class ParsedDay:
    """Typed station-hours of one day file, with everything that was not published and why."""

    date: dt.date
    hourly: pa.Table  # station_hourly columns except the computed AQI ones
    quarantine: pa.Table  # conforms to quarantine_air__station_hourly
    counts: dict[str, int] = field(default_factory=dict)
    station_codes: list[str] = field(default_factory=list)


def date_from_name(name: str) -> dt.date | None:
    m = DAY_FILE_RE.search(name)
    return dt.datetime.strptime(m.group(1), "%Y%m%d").date() if m else None


def _decode_header(line: bytes, raw_file: str) -> list[str]:
    try:
        text = line.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise AirFileError(
            f"{raw_file}: the header is not UTF-8 text ({exc.reason} at byte {exc.start}): "
            "a day file is the release's CSV as published"
        ) from None
    return next(csv.reader([text]))


def _as_utf8(data: bytes) -> bytes:
    """The file's bytes in UTF-8: a UTF-16 copy (saved by a spreadsheet) decoded; others as they are."""
    if data.startswith(UTF16_BOMS):
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            return data  # not UTF-16 after all: the header check says what it is
    return data


def _valid_utf8(body: bytes) -> bytes:
    """``body`` with each byte sequence that is not UTF-8 replaced by U+FFFD, so that its cell is text
    that is not a number (quarantined with its line) instead of failing the whole file."""
    try:
        body.decode("utf-8")
        return body
    except UnicodeDecodeError:
        return body.decode("utf-8", errors="replace").encode("utf-8")


def parse_day_file(data: bytes, *, raw_file: str, file_date: dt.date | None = None) -> ParsedDay:
    """Parse one day file. ``file_date`` (from the file name) wins; else the lines' own date."""
    data = _as_utf8(data)
    header_end = data.find(b"\n")
    if header_end < 0:
        raise AirFileError(f"{raw_file}: no header line")
    header = _decode_header(data[:header_end], raw_file)
    if [h.strip().lower() for h in header[:3]] != ["date", "hour", "type"]:
        raise AirFileError(f"{raw_file}: header starts {header[:3]!r}, expected date,hour,type")
    body = data[header_end + 1 :]
    n_fields = len(header)
    names = ["date", "hour", "type"] + [f"c{i}" for i in range(3, n_fields)]
    station_of_col = [h.strip() for h in header[3:]]

    line_rejects: list[_Reject] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        # pyarrow numbers rows of the body from 1; the header is line 1 of the file
        line_no = (row.number or 0) + 1
        line_rejects.append(
            (
                line_no,
                None,
                (row.text or "")[:200],
                MALFORMED_LINE,
                f"line has {row.actual_columns} fields, header has {n_fields}",
            )
        )
        return "skip"

    read_opts = pacsv.ReadOptions(column_names=names, use_threads=False, block_size=1 << 26)
    parse_opts = pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=False)
    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=read_opts,
            parse_options=parse_opts,
            convert_options=pacsv.ConvertOptions(
                # how to read the upstream file's cells (its own columns: date, hour, type, stations)
                column_types={
                    **{n: pa.string() for n in names[:3]},
                    **{n: pa.float64() for n in names[3:]},
                },
                null_values=[""],
                strings_can_be_null=True,
            ),
        )
        # pyarrow reads the text nan/NaN as a float NaN, which the grid takes for an empty cell: such
        # a file takes the text path too, where that cell is "not a number" like any other text
        cells_are_text = _holds_nan(table.columns[3:])
    except pa.ArrowInvalid:
        cells_are_text = True
    if cells_are_text:
        # Some cell is not a number: re-read as text and find the culprits (slow path, dirty files only).
        line_rejects.clear()
        table = pacsv.read_csv(
            io.BytesIO(_valid_utf8(body)),
            read_options=read_opts,
            parse_options=parse_opts,
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, null_values=[""], strings_can_be_null=True
            ),
        )

    line_nos = _line_numbers(body, table.num_rows, {r[0] for r in line_rejects})
    return _assemble(
        table,
        station_of_col,
        line_nos,
        line_rejects,
        raw_file=raw_file,
        file_date=file_date,
        cells_are_text=cells_are_text,
    )


def _line_numbers(body: bytes, n_rows: int, rejected: set[int]) -> np.ndarray:
    """Physical line numbers (header = 1) of the rows pyarrow kept, skipping blank and rejected lines."""
    if not rejected and body.count(b"\n") + (not body.endswith(b"\n")) == n_rows:
        return np.arange(2, n_rows + 2, dtype=np.int32)  # every line is a row (one pass over the bytes)
    # otherwise blank lines, or lines pyarrow also ends at a bare CR: no blank line means 1:1 still
    if (
        not rejected
        and b"\n\n" not in body
        and b"\n\r\n" not in body
        and not body.startswith((b"\n", b"\r\n"))
    ):
        return np.arange(2, n_rows + 2, dtype=np.int32)
    kept = [
        i + 2 for i, line in enumerate(body.split(b"\n")) if line.strip(b"\r") and (i + 2) not in rejected
    ]
    return np.asarray(kept[:n_rows], dtype=np.int32)


def _holds_nan(columns: list[pa.ChunkedArray]) -> bool:
    """Whether a float64 column read from text holds a NaN (empty cells are NULL, not NaN)."""
    chunks = [chunk for column in columns for chunk in column.chunks]
    if not chunks:
        return False
    return bool(pc.any(pc.is_nan(pa.chunked_array(chunks, pa.float64()))).as_py())


def _as_numbers(cells: pa.ChunkedArray, j: int, bad_text: dict[tuple[int, int], str]) -> pa.ChunkedArray:
    """A station column read as text, as float64: cells that are not numbers become NULL and are
    recorded (as written) in ``bad_text`` under (line, ``j``)."""
    trimmed = pc.utf8_trim_whitespace(cells)
    ok = pc.fill_null(pc.match_substring_regex(trimmed, _NUMBER_RE), True)
    if not pc.all(ok).as_py():
        for row in np.flatnonzero(~ok.to_numpy(zero_copy_only=False)).tolist():
            bad_text[(row, j)] = str(cells[row].as_py())
    return pc.cast(pc.if_else(ok, trimmed, None), pa.float64())


def _grid(columns: list[pa.ChunkedArray], n_lines: int) -> np.ndarray:
    """float64 columns side by side as a writable lines × columns array (NaN where empty), built in
    one copy: the columns' chunks end to end are the array in column-major order."""
    chunks = [chunk for column in columns for chunk in column.chunks]
    if not chunks or n_lines == 0:
        return np.full((n_lines, len(columns)), np.nan)
    flat = pa.concat_arrays(chunks).to_numpy(zero_copy_only=False, writable=True)
    return flat.reshape(len(columns), n_lines).T


def _orphan_detail(cells: list[tuple[int, str]]) -> str:
    """Why a line's values under unnamed header columns are quarantined, naming their fields."""
    fields = ", ".join(str(field) for field, _ in cells)
    if len(cells) == 1:
        return f"value under an unnamed column (field {fields})"
    return f"{len(cells)} values under unnamed columns (fields {fields})"


def _assemble(
    table: pa.Table,
    station_of_col: list[str],
    line_nos: np.ndarray,
    line_rejects: list[_Reject],
    *,
    raw_file: str,
    file_date: dt.date | None,
    cells_are_text: bool,
) -> ParsedDay:
    n_lines = table.num_rows
    n_malformed = len(line_rejects)  # lines pyarrow skipped for a wrong field count
    dates = table.column("date").to_pylist()
    hours = table.column("hour").to_pylist()
    rtypes = [t.strip() if t else t for t in table.column("type").to_pylist()]

    if file_date is None:
        parsed_dates = [d.strip() for d in dates if d and d.strip().isdigit() and len(d.strip()) == 8]
        if not parsed_dates:
            raise AirFileError(f"{raw_file}: no line carries a YYYYMMDD date and the name has none")
        file_date = dt.datetime.strptime(max(set(parsed_dates), key=parsed_dates.count), "%Y%m%d").date()
    date_text = file_date.strftime("%Y%m%d")

    # --- line-level placement: (hour, type) of every line, or a reason to reject it -----------
    hour_idx = np.full(n_lines, -1, dtype=np.int16)
    type_idx = np.full(n_lines, -1, dtype=np.int16)
    seen: set[tuple[int, int]] = set()
    for i in range(n_lines):  # one iteration per line (≤ 360 a day), not per cell
        d, h, t = (dates[i] or "").strip(), (hours[i] or "").strip(), rtypes[i]
        rejected: tuple[str, str] | None = None  # reason, detail
        if d != date_text:
            rejected = WRONG_DATE, f"date {d!r} is not the file's date {date_text}"
        elif not h.isdigit() or not 0 <= int(h) <= 23:
            rejected = BAD_HOUR, f"hour {h!r} is not 0..23"
        elif t not in _TYPE_INDEX:
            rejected = UNKNOWN_TYPE, f"unknown type {t!r}"
        elif (int(h), _TYPE_INDEX[t]) in seen:
            rejected = DUPLICATE_LINE, f"second line for hour {int(h)} type {t}"
        if rejected:
            line_rejects.append((int(line_nos[i]), t, f"{d},{h},{t}", *rejected))
            continue
        hour_idx[i], type_idx[i] = int(h), _TYPE_INDEX[t]
        seen.add((int(h), _TYPE_INDEX[t]))
    good = hour_idx >= 0

    # --- the station values: merged[line, station] in code order, and which cells are bad -------
    station_columns: list[pa.ChunkedArray] = table.columns[3:]  # by position, not by ~2,000 names
    bad_text: dict[tuple[int, int], str] = {}  # (line, column) -> the text that is not a number
    if cells_are_text:
        station_columns = [_as_numbers(cells, j, bad_text) for j, cells in enumerate(station_columns)]
    named = [j for j, s in enumerate(station_of_col) if s]
    # A value under an unnamed header column belongs to no station: quarantine it, one row per line
    # (the quarantine's key is the line and the station, none here) naming the fields it is in.
    orphans_of_row: dict[int, list[tuple[int, str]]] = {}  # row → (field number, raw text)
    for j in (j for j, s in enumerate(station_of_col) if not s):
        values = _grid([station_columns[j]], n_lines)[:, 0]
        holds_text = np.zeros(n_lines, dtype=bool)  # text that is not a number is a value here too
        holds_text[[row for row, col in bad_text if col == j]] = True
        for row in np.flatnonzero(good & (~np.isnan(values) | holds_text)).tolist():
            field = 3 + j + 1  # 1-based, after date, hour and type
            orphans_of_row.setdefault(row, []).append((field, bad_text.get((row, j), str(values[row]))))
    orphan_cells: list[_Reject] = [
        (
            int(line_nos[row]),
            rtypes[row],
            "; ".join(raw for _, raw in cells),
            UNNAMED_COLUMN,
            _orphan_detail(cells),
        )
        for row, cells in sorted(orphans_of_row.items())
    ]

    # duplicated station columns (same code twice): equal or one empty is fine
    codes = sorted({station_of_col[j] for j in named})
    code_pos = {c: k for k, c in enumerate(codes)}
    n_st = len(codes)
    first_col: dict[str, int] = {}
    for j in named:
        first_col.setdefault(station_of_col[j], j)
    merged = _grid([station_columns[first_col[c]] for c in codes], n_lines)  # one copy, in code order
    conflict: np.ndarray | None = None  # [line, station]: its duplicated columns disagree
    second_copies = [j for j in named if first_col[station_of_col[j]] != j]
    if second_copies:
        conflict = np.zeros((n_lines, n_st), dtype=bool)
        for j in second_copies:
            k = code_pos[station_of_col[j]]
            col = _grid([station_columns[j]], n_lines)[:, 0]
            both = ~np.isnan(merged[:, k]) & ~np.isnan(col)
            conflict[:, k] |= both & (merged[:, k] != col)
            merged[:, k] = np.where(np.isnan(merged[:, k]), col, merged[:, k])
    bad_text_at: dict[tuple[int, int], str] = {}  # (line, station) -> the first text that is not a number
    for (i, j), text in bad_text.items():
        if station_of_col[j]:
            bad_text_at.setdefault((i, code_pos[station_of_col[j]]), text)

    # --- to the 3-D cube values[type, hour, station] ----------------------------------------
    n_types = len(RELEASE_TYPES)
    cube = np.full((n_types, 24, n_st), np.nan)
    gi = np.flatnonzero(good)
    cube[type_idx[gi], hour_idx[gi], :] = merged[gi, :]  # (hour, type) pairs are unique here
    bad = np.zeros((24, n_st), dtype=bool)
    if conflict is not None or bad_text_at:  # flag the station-hours holding a flagged cell
        cells = np.zeros((n_lines, n_st), dtype=bool) if conflict is None else conflict.copy()
        for i, k in bad_text_at:
            cells[i, k] = True
        flagged = np.zeros((n_types, 24, n_st), dtype=bool)
        flagged[type_idx[gi], hour_idx[gi], :] = cells[gi, :]
        bad |= flagged.any(axis=0)
    present = bad | ~np.isnan(cube).all(axis=0)
    # physical impossibilities are untypeable too: values outside the registry's bounds (AQI > 500
    # included, so the int16 cast below cannot fail), non-finite values, fractional AQI
    lowest, highest = _LOWEST[:, None, None], _HIGHEST[:, None, None]
    with np.errstate(invalid="ignore"):
        impossible = np.any((cube < lowest) | (cube > highest) | np.isinf(cube), axis=0)
        aqi = cube[_TYPE_INDEX[AQI_RELEASE_TYPE]]
        frac_aqi = ~np.isnan(aqi) & (aqi != np.floor(aqi))
    bad |= impossible | frac_aqi

    # Reasons, computed only for the (rare) bad station-hours: the first cause's code, and every
    # cause with its value as people read it.
    q_rows: list[tuple[int, str | None, str | None, str | None, str, str]] = []
    for line_no, t, raw, reason, detail in line_rejects + orphan_cells:
        q_rows.append((line_no, None, t, raw, reason, detail))
    line_of = {(int(hour_idx[i]), int(type_idx[i])): int(line_nos[i]) for i in gi}
    row_of_line = {int(line_nos[i]): int(i) for i in gi}
    for h, k in zip(*np.nonzero(bad), strict=True):
        causes, raw_vals, first_line, first_type, first_reason = [], [], None, None, ""
        for t in range(n_types):
            ln = line_of.get((int(h), t))
            if ln is None:
                continue
            i = row_of_line[ln]
            v = cube[t, h, k]
            why: tuple[str, str] | None = None  # reason, detail
            if (i, int(k)) in bad_text_at:
                text = bad_text_at[(i, int(k))]
                why = NOT_A_NUMBER, f"{RELEASE_TYPES[t]}={text!r} is not a number"
                raw_vals.append(text)
            elif conflict is not None and conflict[i, k]:
                why = DUPLICATE_COLUMN_DISAGREES, f"{RELEASE_TYPES[t]}: duplicated station column disagrees"
            elif not np.isnan(v) and (v < _LOWEST[t] or np.isinf(v)):
                why = IMPOSSIBLE_VALUE, f"{RELEASE_TYPES[t]}={v} is not a possible concentration"
            elif v > _HIGHEST[t]:
                column = station_hourly.column(_VALUE_COLUMNS[t])
                unit = "" if column.unit in (None, "1") else f" {column.unit}"
                why = (
                    ABOVE_MAXIMUM,
                    f"{RELEASE_TYPES[t]}={v} is above {_HIGHEST[t]:g}{unit}, the maximum of {column.name}",
                )
            elif t == _TYPE_INDEX[AQI_RELEASE_TYPE] and not np.isnan(v) and v != np.floor(v):
                why = AQI_NOT_INTEGER, f"AQI={v} is not an integer"
            if why:
                causes.append(why[1])
                if first_line is None:
                    first_line, first_type, first_reason = ln, RELEASE_TYPES[t], why[0]
                    if not raw_vals:
                        raw_vals.append(str(v))
        q_rows.append(
            (
                first_line or 0,
                codes[k],
                first_type,
                raw_vals[0] if raw_vals else None,
                first_reason,
                "; ".join(causes),
            )
        )

    publish = present & ~bad
    hh, kk = np.nonzero(publish)  # sorted by hour, then station
    local = dt.datetime.combine(file_date, dt.time(), BEIJING)
    hour_starts = np.array(
        [int((local + dt.timedelta(hours=h)).astimezone(dt.UTC).timestamp() * 1_000_000) for h in range(24)],
        dtype=np.int64,
    )
    columns: dict[str, pa.Array] = {
        "date": pa.repeat(pa.scalar(file_date, pa.date32()), len(hh)),
        "station_code": pa.array(codes, pa.string()).take(kk),
        "observed_at": pa.array(hour_starts[hh], type=pa.timestamp("us", tz="UTC")),
    }
    values = cube.reshape(n_types, -1)[:, hh * n_st + kk]  # every type's values in one gather
    missing = np.isnan(values)
    for t, name in enumerate(_VALUE_COLUMNS):
        columns[name] = pa.array(values[t], mask=missing[t], type=pa.float64())
    hourly = pa.table(columns)
    hourly = hourly.set_column(
        hourly.schema.get_field_index("aqi_published"),
        "aqi_published",
        pc.cast(hourly.column("aqi_published"), pa.int16()),
    )

    quarantine = quarantine_table.from_columns(
        {
            "date": [file_date] * len(q_rows),
            "raw_file": [raw_file] * len(q_rows),
            "line_no": [r[0] for r in q_rows],
            "station_code": [r[1] for r in q_rows],
            "release_type": [r[2] for r in q_rows],
            "raw_value": [r[3] for r in q_rows],
            "reason": [r[4] for r in q_rows],
            "detail": [r[5] for r in q_rows],
        }
    )
    counts = {
        "lines_in": n_lines + n_malformed,
        "lines_quarantined": len(line_rejects),
        "orphan_values_quarantined": sum(len(cells) for cells in orphans_of_row.values()),
        "station_hours_in": int(present.sum()),
        "station_hours_kept": int(publish.sum()),
        "station_hours_quarantined": int((present & bad).sum()),
        "hours_present": int(np.any(present, axis=1).sum()),
    }
    return ParsedDay(file_date, hourly, quarantine, counts, codes)


# --- station list ---------------------------------------------------------------------------
_STATION_HEADERS = {
    "监测点编码": "station_code",
    "监测点名称": "station_name",
    "城市": "city",
    "经度": "longitude",
    "纬度": "latitude",
    "对照点": "is_control_point",
}
_STATION_COLUMNS = list(_STATION_HEADERS.values())
_StationRow = dict[str, str | float | bool | None]


@dataclass(frozen=True)
class RepeatedRow:
    """A row set aside because an earlier row holds its station code (the first row wins)."""

    code: str
    line: int
    kept_line: int
    differs: tuple[str, ...]  # the columns whose values contradict the kept row's; () when identical


@dataclass(frozen=True)
class StationList:
    """The station list as a table, and the rows set aside from it with why: the list has no
    quarantine, so what it does not publish is accounted for here and reported by its build."""

    table: pa.Table
    rows_in: int  # rows under the header with a cell that is not blank
    lines_without_code: list[int] = field(default_factory=list)
    repeats: list[RepeatedRow] = field(default_factory=list)

    @property
    def contradicting(self) -> list[RepeatedRow]:
        return [r for r in self.repeats if r.differs]

    @property
    def counts(self) -> dict[str, int]:
        return {
            "rows_in": self.rows_in,
            "rows_kept": self.table.num_rows,
            "rows_without_code": len(self.lines_without_code),
            "repeats_identical": len(self.repeats) - len(self.contradicting),
            "repeats_contradicting": len(self.contradicting),
        }

    def check(self) -> None:
        """Rows in = rows kept + rows set aside, always."""
        set_aside = len(self.lines_without_code) + len(self.repeats)
        if self.rows_in != self.table.num_rows + set_aside:
            raise AssertionError(
                f"station list: {self.rows_in} rows in != {self.table.num_rows} kept + {set_aside} set aside"
            )


def parse_station_list(data: bytes) -> StationList:
    """The national station list → station_code, station_name, city, longitude, latitude, is_control_point.

    ``-`` or empty coordinates become NULL; the file may be UTF-8 (with or without BOM) or GB18030.
    A row without a station code, and a later row of a code already listed, are set aside and
    accounted for (the first row of a code wins); rows whose cells are all empty are not rows.
    A quote that never closes, or a row spread over lines by a quoted line break, is an AirFileError:
    the list has no quarantine, and the lines such a row spans may be stations.
    """
    try:
        text = decode_text(data)
    except TextEncodingError as exc:
        raise AirFileError(f"station list: {exc}") from None
    try:
        records = csv_records(text)
    except MalformedCsv as exc:
        raise AirFileError(f"station list: {exc}") from exc
    for record in records:
        if record.spread:
            raise AirFileError(f"station list: {spread_reason(record, 'station')}")
    if not records:
        raise AirFileError("station list is empty")
    header = [h.strip() for h in records[0].cells]
    missing = [h for h in _STATION_HEADERS if h not in header]
    if missing:
        raise AirFileError(f"station list lacks columns {missing}; header is {header}")
    positions = {_STATION_HEADERS[h]: header.index(h) for h in _STATION_HEADERS}

    body = [r for r in records[1:] if any(c.strip() for c in r.cells)]
    kept: dict[str, tuple[int, _StationRow]] = {}  # code → the line and values of its first row
    without_code: list[int] = []
    repeats: list[RepeatedRow] = []
    for record in body:
        row = _station_row(record.cells, positions)
        code = str(row["station_code"])
        if not code:
            without_code.append(record.first_line)
        elif code in kept:
            kept_line, kept_row = kept[code]
            differs = tuple(c for c in _STATION_COLUMNS if row[c] != kept_row[c])
            repeats.append(RepeatedRow(code, record.first_line, kept_line, differs))
        else:
            kept[code] = (record.first_line, row)
    rows = [row for _, row in kept.values()]
    table = station_list_table.from_columns({c: [r[c] for r in rows] for c in _STATION_COLUMNS})
    parsed = StationList(table, len(body), without_code, repeats)
    parsed.check()
    return parsed


def _station_row(cells: list[str], positions: dict[str, int]) -> _StationRow:
    """One row's typed values; a cell past the row's end is empty."""

    def cell(name: str) -> str:
        i = positions[name]
        return cells[i].strip() if i < len(cells) else ""

    return {
        "station_code": cell("station_code"),
        "station_name": cell("station_name") or None,
        "city": cell("city") or None,
        "longitude": _coordinate(cell("longitude")),
        "latitude": _coordinate(cell("latitude")),
        "is_control_point": {"Y": True, "N": False}.get(cell("is_control_point").upper()),
    }


def _coordinate(text: str) -> float | None:
    """A coordinate, or None for '-', '' and other placeholders: 'nan' and 'inf' are no position
    either (and a NaN would make two identical rows compare unequal)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
