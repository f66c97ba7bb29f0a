"""Parse replies of the national surface-water automatic-station real-time platform into typed rows.

This is the ingest boundary: the reply's header cells (``水温<br/><span class='unit'>(℃)</span>``)
become registry columns (``water_temp_c``) here, and nothing downstream sees them.

Reply: ``{"result":1,"total":<pages>,"records":<sections>,"thead":[…],"tbody":[[…],…]}``, one row per
section showing its latest reading. Quirks handled (all in the real snapshot, see
../shared/data/cnemc-water): HTML in header cells and values; a value is
``<span title='原始值：26.58'>26.6</span>`` — the title holds the raw value, the text a rounded
display, and the raw value is the one kept; ``--`` is missing; a value withheld by the day's quality
control is ``<span … title='当天质控不合格'>--</span>`` (missing, and recorded in ``qc_failed_items``);
large values come in exponent form (``8.426694E+07``); a value below the method's detection limit
is written as the limit followed by ``L`` (``0.01L``, the national convention) or after ``<``: it is
typed as half the limit, as the national evaluation method counts such results in means and classes,
and its column named in ``below_detection_items``; ``监测时间`` is ``MM-DD HH:MM`` without a year
(see ``infer_year``); ``水质类别`` is 1..6 or -1 (no class → NULL).

Accounting unit is the row: every row of every page is either typed or quarantined with its reason
and location (raw file, page, 0-based row index). A page that is not a reply at all, or whose header
lacks an identity column or gives an item in another unit, raises ``WaterReplyError`` (the pipeline
quarantines it whole). Within one snapshot, a second row with the same section and reading time is
quarantined as a duplicate (the board can shift rows between pages while they are fetched); as a
conflicting one, with both values, when its values differ from the kept row's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.clock import BEIJING, beijing_dates
from schemas.water import (
    HEADER_BASIN,
    HEADER_CLASS,
    HEADER_PROVINCE,
    HEADER_SECTION,
    HEADER_TIME,
    IDENTITY_HEADERS,
    ITEMS,
    stage_readings,
)
from schemas.water import quarantine as quarantine_table

__all__ = [
    "BEIJING",
    "ParsedPage",
    "WaterReplyError",
    "header_item",
    "infer_year",
    "join_present",
    "parse_cells",
    "parse_page",
    "parse_reading_times",
    "quarantine_rows",
    "section_id",
    "section_ids",
]

# A reading is never later than the fetch; this much slack absorbs clock differences.
FUTURE_SLACK = dt.timedelta(days=1)
_MAX_YEARS_BACK = 8  # 02-29 needs up to 8 years back (e.g. 2100 is no leap year)

_RAW_TITLE = re.compile(r"title\s*=\s*['\"]\s*原始值\s*[：:]\s*(?P<raw>[^'\"]*)['\"]").pattern
_TAG = r"<[^>]*>"
_NUMBER = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
# below the detection limit: the limit then L (0.01L), or < then the limit (<0.01)
_BELOW_LIMIT = r"^(?:<\s*(?P<lt>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)|(?P<l>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*[Ll])$"
_MISSING = ("--", "—", "-", "")
# not detected, the limit not given: below detection, no value (upper case after NFKC)
_NOT_DETECTED = ("ND", "N.D.", "未检出")
_QC_FAILED = "质控"
_TIME_RE = re.compile(r"^\s*(?:(\d{4})-)?(\d{1,2})-(\d{1,2})\s+(\d{1,2}):(\d{2})(?::\d{2})?\s*$")
_HEADER_RE = re.compile(r"^\s*(.*?)\s*(?:[(（]\s*(.*?)\s*[)）])?\s*$")

_ITEM_BY_HEADER = {unicodedata.normalize("NFKC", i.header): i for i in ITEMS}


class WaterReplyError(ValueError):
    """The page is not a usable reply (not JSON, result ≠ 1, no header, unknown unit …)."""


@dataclass
class ParsedPage:
    """Typed rows of one page and everything that was not typed, with why."""

    page: int
    total: int  # pages of the board, as the reply says
    records: int  # sections on the board, as the reply says
    readings: pa.Table  # stage_water__readings: the reading's registry columns plus page and row_index
    quarantine: pa.Table  # conforms to quarantine_water__section_readings
    counts: dict[str, int] = field(default_factory=dict)
    unknown_headers: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------- helpers


def header_item(cell: str) -> tuple[str, str | None]:
    """(name, unit) of a header cell: ``水温<br/><span class='unit'>(℃)</span>`` → ("水温", "℃")."""
    text = re.sub(_TAG, " ", cell)
    m = _HEADER_RE.match(text)
    assert m is not None  # the pattern matches every string
    return m.group(1).strip(), (m.group(2) or None)


def _norm(s: str) -> str:
    return unicodedata.normalize("NFKC", s).strip().lower()


def section_id(province: str, basin: str, name: str) -> str:
    """Stable section id: ``WS`` + 12 hex of sha256("province|basin|name") (names NFC, trimmed)."""
    key = "|".join(unicodedata.normalize("NFC", s).strip() for s in (province, basin, name))
    return "WS" + hashlib.sha256(key.encode()).hexdigest()[:12].upper()


def section_ids(province: pa.Array, basin: pa.Array, name: pa.Array) -> pa.Array:
    """``section_id`` of every row, hashing each distinct section once."""
    key = pc.binary_join_element_wise(province, basin, name, "\x1f")
    enc = pc.dictionary_encode(key)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    ids = [section_id(*k.split("\x1f")) for k in enc.dictionary.to_pylist()]
    return pc.take(pa.array(ids, pa.string()), enc.indices)


def infer_year(month: int, day: int, hour: int, minute: int, reference: dt.datetime) -> dt.datetime | None:
    """Beijing reading time for ``MM-DD HH:MM`` shown without a year.

    The reading is the latest one on or before the fetch (``reference``) plus ``FUTURE_SLACK``: a
    12-31 reading fetched on 01-01 is of the previous year; 02-29 goes back to the last leap year.
    None when no year makes it a valid date.
    """
    if reference.utcoffset() is None:
        raise ValueError("reference must be timezone-aware")
    limit = reference.astimezone(BEIJING) + FUTURE_SLACK
    for year in range(limit.year, limit.year - _MAX_YEARS_BACK - 1, -1):
        try:
            t = dt.datetime(year, month, day, hour, minute, tzinfo=BEIJING)
        except ValueError:
            continue
        if t <= limit:
            return t
    return None


def parse_reading_times(texts: pa.Array, reference: dt.datetime) -> tuple[pa.Array, np.ndarray]:
    """UTC timestamps of ``监测时间`` cells (``MM-DD HH:MM``; ``YYYY-MM-DD HH:MM[:SS]`` also taken
    as is) and a mask of cells that are not a time. Each distinct text is parsed once."""
    enc = pc.dictionary_encode(texts)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    parsed: list[int | None] = []
    for text in enc.dictionary.to_pylist():
        m = _TIME_RE.match(text or "")
        t = None
        if m:
            year, month, day, hour, minute = (int(g) if g else None for g in m.groups())
            assert month is not None and day is not None and hour is not None and minute is not None
            if year is not None:
                try:
                    t = dt.datetime(year, month, day, hour, minute, tzinfo=BEIJING)
                except ValueError:
                    t = None
            elif 0 <= hour <= 23 and 0 <= minute <= 59:
                t = infer_year(month, day, hour, minute, reference)
        parsed.append(None if t is None else int(t.timestamp() * 1_000_000))
    lookup = pa.array(parsed, pa.int64())
    micros = pc.take(lookup, enc.indices)
    bad = pc.is_null(micros).to_numpy(zero_copy_only=False)
    return micros.cast(pa.timestamp("us", tz="UTC")), bad


def parse_cells(cells: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray, pa.Array, np.ndarray]:
    """Typed values of one value column: (float64 values, qc-failed mask, bad mask, value text,
    below-detection mask).

    The raw value in the ``原始值`` title wins over the displayed text; ``--`` (or empty) is missing;
    a QC-failed span is missing and flagged; a value below the detection limit (``0.01L``,
    ``<0.01``) is half the limit and flagged, one not detected without a limit (``ND``, ``未检出``)
    has no value and is flagged; anything else that is not a number is bad. Full-width text
    (``－－``, ``＜０.０１``) reads as its ASCII (NFKC).
    """
    cells = pc.cast(cells, pa.string())
    as_given = _cell_text(cells)  # for the quarantine's evidence
    cells = pc.utf8_normalize(cells, "NFKC")
    text = _cell_text(cells)
    missing = pc.or_(pc.is_null(text), pc.fill_null(pc.is_in(text, pa.array(_MISSING)), False))
    number = pc.fill_null(pc.match_substring_regex(text, _NUMBER), False)
    limit = pc.extract_regex(text, _BELOW_LIMIT)
    lt = pc.struct_field(limit, "lt")  # the group that did not match is '' in a matched row
    limit_text = pc.if_else(pc.equal(lt, ""), pc.struct_field(limit, "l"), lt)
    not_detected = pc.fill_null(pc.is_in(pc.utf8_upper(text), pa.array(_NOT_DETECTED)), False)
    below = pc.or_(pc.fill_null(pc.is_valid(limit_text), False), not_detected)
    half_limit = pc.divide(
        pc.cast(pc.if_else(below, limit_text, pa.scalar(None, pa.string())), pa.float64()), 2.0
    )
    qc = pc.fill_null(pc.match_substring(cells, _QC_FAILED), False)
    values = pc.coalesce(
        pc.cast(pc.if_else(number, text, pa.scalar(None, pa.string())), pa.float64()), half_limit
    )
    bad = pc.and_(pc.invert(missing), pc.invert(pc.or_(number, below)))
    return (
        values,
        qc.to_numpy(zero_copy_only=False) & missing.to_numpy(zero_copy_only=False),
        bad.to_numpy(zero_copy_only=False),
        as_given,
        below.to_numpy(zero_copy_only=False),
    )


def _cell_text(cells: pa.Array) -> pa.Array:
    """A cell's value text: the raw value of its ``原始值`` title, else its text without tags."""
    inner = pc.utf8_trim_whitespace(pc.replace_substring_regex(cells, _TAG, ""))
    raw = pc.utf8_trim_whitespace(pc.struct_field(pc.extract_regex(cells, _RAW_TITLE), "raw"))
    raw = pc.if_else(pc.equal(raw, ""), pa.scalar(None, pa.string()), raw)
    return pc.coalesce(raw, inner)


def _strings(values: Sequence[Any]) -> pa.Array:
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers or other JSON types in a cell
        return pa.array(
            [None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values], pa.string()
        )


def join_present(parts: Sequence[pa.Array], n: int, sep: str) -> pa.Array:
    """Element-wise join of the non-NULL strings of ``parts``; NULL where all are NULL.

    (pyarrow 26's ``binary_join_element_wise(null_handling="skip")`` drops the rows where every
    input is NULL, so NULLs are replaced by "" and the separators tidied instead.)
    """
    if not parts:
        return pa.nulls(n, pa.string())
    joined = pc.binary_join_element_wise(*parts, sep, null_handling="replace", null_replacement="")
    sep_re = re.escape(sep)
    joined = pc.replace_substring_regex(joined, f"{sep_re}{{2,}}", sep)
    joined = pc.replace_substring_regex(joined, f"^{sep_re}|{sep_re}$", "")
    return pc.if_else(pc.equal(joined, ""), pa.scalar(None, pa.string()), joined)


def _clean_name(col: pa.Array) -> pa.Array:
    text = pc.utf8_trim_whitespace(pc.replace_substring_regex(col, _TAG, ""))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


# ------------------------------------------------------------------------------------------ page


def decode_reply(data: bytes) -> dict[str, Any]:
    """The reply object, or ``WaterReplyError`` saying why it is not one."""
    try:
        reply = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WaterReplyError(f"not a JSON reply: {exc}") from exc
    if not isinstance(reply, dict):
        raise WaterReplyError(f"reply is a JSON {type(reply).__name__}, expected an object")
    if reply.get("result") != 1:
        raise WaterReplyError(f"reply says result={reply.get('result')!r} (1 = ok)")
    for key in ("thead", "tbody"):
        if not isinstance(reply.get(key), list):
            raise WaterReplyError(f"reply has no list {key!r}")
    return reply


def _header_map(thead: list[Any]) -> tuple[dict[str, int], dict[str, int], list[str]]:
    """(identity header -> index, item column -> index, unknown headers); raises on a unit mismatch."""
    identity: dict[str, int] = {}
    items: dict[str, int] = {}
    unknown: list[str] = []
    for i, cell in enumerate(thead):
        name, unit = header_item(str(cell))
        key = unicodedata.normalize("NFKC", name)
        if key in IDENTITY_HEADERS:
            identity.setdefault(key, i)
            continue
        item = _ITEM_BY_HEADER.get(key)
        if item is None:
            unknown.append(name)
            continue
        if unit is not None and _norm(unit) != _norm(item.header_unit):
            raise WaterReplyError(
                f"header {name!r} is in {unit!r}, expected {item.header_unit!r}: refusing to guess a conversion"
            )
        items.setdefault(item.column, i)
    missing = [h for h in IDENTITY_HEADERS if h not in identity]
    if missing:
        raise WaterReplyError(f"header lacks {missing}; it has {[header_item(str(c))[0] for c in thead]}")
    return identity, items, unknown


def parse_page(
    data: bytes,
    *,
    raw_file: str,
    page: int,
    reference: dt.datetime,
    snapshot_id: str,
    fetch_date: dt.date,
) -> ParsedPage:
    """Parse one page. ``reference`` is the fetch time (aware) the reading years are inferred from."""
    reply = decode_reply(data)
    identity, item_cols, unknown = _header_map(reply["thead"])
    n_cols = len(reply["thead"])
    tbody: list[Any] = reply["tbody"]
    total = reply.get("total")
    records = reply.get("records")

    # Rows of the wrong shape cannot be placed at all.
    shape_rejects: list[dict[str, Any]] = []
    kept: list[int] = []
    for i, row in enumerate(tbody):  # one check per row; the cells are handled column-wise below
        if isinstance(row, list) and len(row) == n_cols:
            kept.append(i)
        else:
            shape_rejects.append(
                {
                    "row_index": i,
                    "raw_value": json.dumps(row, ensure_ascii=False)[:200],
                    "reason": f"row has {len(row) if isinstance(row, list) else 'no'} cells, header has {n_cols}",
                }
            )
    rows = [tbody[i] for i in kept]
    n = len(rows)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in range(n_cols)]
    row_index = np.asarray(kept, dtype=np.int32)

    province = _clean_name(_strings(columns[identity[HEADER_PROVINCE]]))
    basin = _clean_name(_strings(columns[identity[HEADER_BASIN]]))
    name = _clean_name(_strings(columns[identity[HEADER_SECTION]]))
    time_text = _clean_name(_strings(columns[identity[HEADER_TIME]]))
    class_text = _clean_name(_strings(columns[identity[HEADER_CLASS]]))

    # Row-level reasons of the (rare) bad rows; the first offending cell gives column_name/raw_value.
    bad_row = np.zeros(n, dtype=bool)
    reasons: dict[int, list[str]] = {}
    first: dict[int, tuple[str, str | None]] = {}

    def flag(mask: np.ndarray, column: str, texts: pa.Array, why: str) -> None:
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        bad_row[idx] = True
        for k, v in zip(idx.tolist(), pc.take(texts, pa.array(idx)).to_pylist(), strict=True):
            reasons.setdefault(k, []).append(why)
            first.setdefault(k, (column, v))

    for label, col in ((HEADER_PROVINCE, province), (HEADER_BASIN, basin), (HEADER_SECTION, name)):
        flag(pc.is_null(col).to_numpy(zero_copy_only=False), label, col, f"{label} is empty")

    observed_at, bad_time = parse_reading_times(pc.fill_null(time_text, ""), reference)
    flag(bad_time, HEADER_TIME, time_text, f"{HEADER_TIME} is not MM-DD HH:MM (or no valid date)")

    class_ok = pc.fill_null(pc.is_in(class_text, pa.array(["1", "2", "3", "4", "5", "6", "-1"])), False)
    flag(
        pc.invert(class_ok).to_numpy(zero_copy_only=False),
        HEADER_CLASS,
        class_text,
        f"{HEADER_CLASS} is not 1..6 or -1",
    )
    class_int = pc.cast(pc.if_else(class_ok, class_text, pa.scalar(None, pa.string())), pa.int8())
    class_published = pc.if_else(pc.equal(class_int, -1), pa.scalar(None, pa.int8()), class_int)

    values: dict[str, pa.Array] = {}
    qc_parts: list[pa.Array] = []
    below_parts: list[pa.Array] = []
    qc_count = 0
    for item in ITEMS:
        if item.column not in item_cols:
            values[item.column] = pa.nulls(n, pa.float64())
            continue
        header = header_item(str(reply["thead"][item_cols[item.column]]))[0]
        cells = _strings(columns[item_cols[item.column]])
        vals, qc, bad, text, below = parse_cells(cells)
        flag(bad, header, text, f"{header} is not a number")
        arr = vals.to_numpy(zero_copy_only=False)
        with np.errstate(invalid="ignore"):
            impossible = ~np.isnan(arr) & ((arr < item.min) | (arr > item.max))
        flag(impossible, header, text, f"{header} outside the possible range [{item.min:g}, {item.max:g}]")
        values[item.column] = vals
        qc_count += int(qc.sum())
        qc_parts.append(pc.if_else(pa.array(qc), item.column, pa.scalar(None, pa.string())))
        below_parts.append(pc.if_else(pa.array(below), item.column, pa.scalar(None, pa.string())))

    good = ~bad_row
    ids = section_ids(pc.fill_null(province, ""), pc.fill_null(basin, ""), pc.fill_null(name, ""))
    dates_local = beijing_dates(observed_at)
    qc_items = join_present(qc_parts, n, ",")

    typed = stage_readings.from_columns(
        {
            "date": dates_local,
            "section_id": ids,
            "province": province,
            "basin": basin,
            "section_name": name,
            "observed_at": observed_at,
            **values,
            "qc_failed_items": qc_items,
            "below_detection_items": join_present(below_parts, n, ","),
            "class_published": class_published,
            "page": pa.array(np.full(n, page, dtype=np.int32)),
            "row_index": pa.array(row_index),
        }
    ).filter(pa.array(good))

    q_rows = [
        {
            "row_index": int(row_index[k]),
            "province": province[k].as_py(),
            "basin": basin[k].as_py(),
            "section_name": name[k].as_py(),
            "column_name": first[k][0],
            "raw_value": None if first[k][1] is None else str(first[k][1])[:200],
            "reason": "; ".join(reasons[k]),
        }
        for k in np.flatnonzero(bad_row).tolist()
    ] + shape_rejects
    quarantine = quarantine_rows(
        q_rows, fetch_date=fetch_date, snapshot_id=snapshot_id, raw_file=raw_file, page=page
    )
    counts = {
        "rows_in": len(tbody),
        "rows_typed": typed.num_rows,
        "rows_quarantined": quarantine.num_rows,
        "values_qc_failed": qc_count,
    }
    return ParsedPage(
        page=page,
        total=int(total) if isinstance(total, int) else 1,
        records=int(records) if isinstance(records, int) else len(tbody),
        readings=typed,
        quarantine=quarantine,
        counts=counts,
        unknown_headers=unknown,
    )


def quarantine_rows(
    rows: list[dict[str, Any]], *, fetch_date: dt.date, snapshot_id: str, raw_file: str, page: int
) -> pa.Table:
    """Quarantine rows (dicts with row_index, reason and optionally province … raw_value) as a table."""
    rows = sorted(rows, key=lambda r: -1 if r.get("row_index") is None else r["row_index"])
    n = len(rows)
    per_row = ("row_index", "province", "basin", "section_name", "column_name", "raw_value", "reason")
    return quarantine_table.from_columns(
        {
            "date": [fetch_date] * n,
            "snapshot_id": [snapshot_id] * n,
            "raw_file": [raw_file] * n,
            "page": [page] * n,
            **{name: [r.get(name) for r in rows] for name in per_row},
        }
    )
