"""Master-data files the data engineers maintain: the enterprise and monitoring-point registries (CSV).

Two files, each a full snapshot, told apart by their header:

* enterprises — ``uscc, enterprise_name`` (+ ``region_code, industry_code, industry_name, address``);
* monitoring points — ``mn, uscc, outlet_code, region_code`` (+ ``point_name, pollutants``): the
  column names of the HJ 212 receiver's device file (``ingest.hj212.devices``), without the password.
  ``pollutants`` lists HJ 212 codes separated by ``;`` (or ``,`` / ``|`` / spaces); 2005 codes are
  mapped to 2017 ones.

Chinese header names are accepted too (统一社会信用代码, 企业名称, 排放口编号 …). UTF-8 (Excel's BOM
included) or GB18030. A row without its key, or repeating a key earlier in the same file, is
quarantined; a USCC failing its check or an MN that is not 24 hex characters is flagged, not dropped.
A quote that never closes, or a record spread over lines by a quoted line break (the lines it hides
are no records, and a snapshot missing them would end their history), refuses the file.
Whatever a file is called, it lands as ``enterprises.csv`` or ``monitoring_points.csv`` (a file that
is neither lands under its own name, and the build quarantines it).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import requests

from ingest import listing
from ingest.csv_records import MalformedCsv, Record, csv_records, spread_reason
from ingest.snapshots import land_snapshot
from ingest.text_encoding import TextEncodingError, decode_text
from schemas import master as schema
from schemas.hj212_codes import code_as_typed
from schemas.registry import Table
from transforms.identifiers import E_NOTATION, canonical_industry_code, normalize_name, normalize_uscc_array
from warehouse.fs import LakeLike
from warehouse.ledger import Ledger, RawObject

SOURCE = "master"
ENTERPRISES, POINTS = "enterprises", "monitoring_points"
KINDS = (ENTERPRISES, POINTS)
SUFFIXES = (".csv",)

_ALIASES: dict[str, tuple[str, ...]] = {
    "uscc": ("uscc", "统一社会信用代码", "社会信用代码"),
    "enterprise_name": ("enterprise_name", "企业名称", "单位名称"),
    "region_code": ("region_code", "行政区划代码", "区划代码"),
    "industry_code": ("industry_code", "行业代码", "行业类别代码"),
    "industry_name": ("industry_name", "行业名称", "行业类别"),
    "address": ("address", "地址", "生产经营场所地址"),
    "mn": ("mn", "设备唯一标识", "数采仪mn", "mn号"),
    "outlet_code": ("outlet_code", "排放口编号", "排口编号"),
    "point_name": ("point_name", "name", "点位名称", "监测点名称"),
    "pollutants": ("pollutants", "监测因子", "监测项目"),
}
_BY_ALIAS = {(normalize_name(a) or "").lower(): col for col, aliases in _ALIASES.items() for a in aliases}
COLUMNS = {
    ENTERPRISES: ("uscc", "enterprise_name", "region_code", "industry_code", "industry_name", "address"),
    POINTS: ("mn", "uscc", "outlet_code", "region_code", "point_name", "pollutants"),
}
KEYS = {ENTERPRISES: "uscc", POINTS: "mn"}
MN_RE = re.compile(r"^[0-9A-Fa-f]{24}$")
_TOTALS = re.compile(r"^\s*(合\s*计|小\s*计|总\s*计)")  # a sum line below a table, not a record
_SPLIT = re.compile(r"[;,；，|\s]+")

# Typed rows of a snapshot, as the build stacks them (parsed columns, raw_file, snapshot_at).
STAGE: dict[str, Table] = {ENTERPRISES: schema.stage_enterprises, POINTS: schema.stage_monitoring_points}


class MasterFileError(ValueError):
    """Not a registry file (message says why)."""


@dataclass
class ParsedMaster:
    kind: str
    rows: pa.Table  # STAGE[kind]
    quarantine: pa.Table
    counts: dict[str, int] = field(default_factory=dict)


def _decode(data: bytes) -> str:
    try:
        return decode_text(data)
    except TextEncodingError as exc:
        raise MasterFileError(str(exc)) from None


def _header(row: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for j, cell in enumerate(row):
        col = _BY_ALIAS.get((normalize_name(cell) or "").lower())
        if col and col not in out:
            out[col] = j
    return out


def _records(text: str, raw_file: str) -> list[Record]:
    try:
        return csv_records(text)
    except MalformedCsv as exc:
        raise MasterFileError(f"{raw_file}: {exc}") from exc


def _kind_of_header(first: list[str]) -> str:
    columns = _header(first)
    if "mn" in columns:
        return POINTS
    if {"uscc", "enterprise_name"} <= set(columns):
        return ENTERPRISES
    raise MasterFileError(f"header {first[:8]!r} is neither the enterprise nor the monitoring-point registry")


def kind_of(data: bytes) -> str:
    """``enterprises`` or ``monitoring_points`` from the header row; MasterFileError otherwise."""
    reader = csv.reader(io.StringIO(_decode(data)[:4096], newline=""), strict=True)
    try:
        first = next(reader, [])
    except csv.Error as exc:
        raise MasterFileError(f"header: malformed CSV ({exc}): a quote opened in it does not close") from exc
    return _kind_of_header(first)


def normalize_pollutants(text: str) -> str | None:
    """``a21026;02 ; w01018`` → ``a21026,a21026,w01018`` deduplicated in order (2005 → 2017 codes)."""
    out: list[str] = []
    for code in _SPLIT.split(text.strip()):
        if not code:
            continue
        value = code_as_typed(code)
        if value not in out:
            out.append(value)
    return ",".join(out) or None


# codes typed in a full-width input method (ＤＡ００１, ３６０１…) are the same codes: names keep their form
_CODE_COLUMNS = frozenset({"mn", "outlet_code", "region_code", "industry_code", "pollutants"})


def _cell(text: str, column: str) -> str:
    text = text.strip()
    return unicodedata.normalize("NFKC", text).strip() if column in _CODE_COLUMNS else text


def parse_master_csv(data: bytes, *, raw_file: str, snapshot_at: dt.datetime | None = None) -> ParsedMaster:
    """Typed rows of one registry file (``snapshot_at``: when it was received). Raises MasterFileError
    when it is not one."""
    rows = _records(_decode(data), raw_file)
    if not rows:
        raise MasterFileError(f"{raw_file}: empty file (no header row)")
    spread = next((r for r in rows if r.spread), None)
    if spread is not None:  # a snapshot without the records on those lines would end their history
        raise MasterFileError(f"{raw_file}: refused as a snapshot: {spread_reason(spread, 'record')}")
    header = rows[0]
    kind = _kind_of_header(header.cells)
    columns = _header(header.cells)
    key = KEYS[kind]
    out: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    numbered = [r for r in rows[1:] if any(c.strip() for c in r.cells)]
    records = [
        {
            c: (_cell(r.cells[j], c) if j < len(r.cells) and r.cells[j].strip() else None)
            for c, j in columns.items()
        }
        for r in numbered
    ]
    identities = _identities(kind, [rec.get(key) for rec in records])
    for record, rec, identity in zip(numbered, records, identities, strict=True):
        line_no, row = record.first_line, record.cells
        value = rec.get(key)
        reason = None
        if value and _is_column_name(value, key):
            reason = "the header row again"  # files pasted together (a BOM of the second may lead it)
        elif value and _TOTALS.match(value):
            reason = f"a totals row ({value[:20]})"
        elif not value or identity is None:
            reason = f"no {key}"
        elif re.match(E_NOTATION, identity.upper()):
            # two enterprises (or loggers) whose codes round alike would become one: no key is better
            reason = f"{key} {value} is a number in E notation (saved from a spreadsheet): its last digits are lost"
        elif identity in first_line:
            reason = f"duplicate {key}: already on line {first_line[identity]}"
        if reason:
            quarantine.append(
                {"raw_file": raw_file, "line_no": line_no, "file_kind": kind, "key": value,
                 "raw_value": ",".join(row)[:500], "reason": reason}
            )  # fmt: skip
            continue
        assert value is not None and identity is not None
        first_line[identity] = line_no
        typed: dict[str, Any] = {c: rec.get(c) for c in COLUMNS[kind]}
        typed_industry = typed.get("industry_code")
        if typed_industry is not None:
            typed["industry_code"] = canonical_industry_code(typed_industry)
        if kind == POINTS:
            typed["outlet_code"] = typed["outlet_code"].upper() if typed["outlet_code"] else None
            typed["pollutants"] = normalize_pollutants(typed["pollutants"] or "")
            typed["mn_standard"] = bool(MN_RE.match(value))
        out.append({**typed, "raw_file": raw_file, "snapshot_at": snapshot_at})
    return ParsedMaster(
        kind,
        STAGE[kind].from_rows(out),
        schema.quarantine.from_rows(quarantine),
        {
            "rows_read": len(out) + len(quarantine),
            "rows": len(out),
            "quarantined": len(quarantine),
            "blank": len(rows) - 1 - len(numbered),
        },
    )


def _is_column_name(value: str, column: str) -> bool:
    """Whether ``value`` is a name of ``column`` as a header writes it (统一社会信用代码, uscc, …)."""
    return _BY_ALIAS.get((normalize_name(value.replace("\ufeff", "")) or "").lower()) == column


def _identities(kind: str, keys: list[str | None]) -> list[str | None]:
    """Each row's key as the build compares it: a USCC normalised (full-width, case, spaces: the
    build's form, so one enterprise written two ways is a duplicate here, not two rows there)."""
    if kind != ENTERPRISES:
        return keys
    return normalize_uscc_array(pa.array(keys, pa.string())).to_pylist()


def file_quarantine(raw_file: str, reason: str) -> pa.Table:
    row = {
        "raw_file": raw_file,
        "line_no": 0,
        "file_kind": None,
        "key": None,
        "raw_value": None,
        "reason": reason,
    }
    return schema.quarantine.from_rows([row])


def discover(
    location: str, *, session: requests.Session | None = None, timeout_s: float = 30.0
) -> list[listing.ListedFile]:
    return listing.discover(location, SUFFIXES, session=session, timeout_s=timeout_s)


def land_files(
    lake: LakeLike,
    ledger: Ledger,
    items: Sequence[listing.ListedFile],
    *,
    session: requests.Session | None = None,
    timeout_s: float = 30.0,
) -> list[RawObject]:
    """Land the registry files found (in every place asked), each as the newest snapshot of its kind;
    returns the raw objects landed (not the unchanged). Each kind is one complete list: two files of
    one kind read in one landing are refused (``MasterFileError``) before anything lands — landed in
    turn, each would replace the other as the whole list at every landing, flipping every enterprise
    of the other out and back. (A URL that answers 304 is not read: dated snapshots listed side by
    side land one at a time, as they are published.)"""
    read = [(item, listing.read(item, ledger, session=session, timeout_s=timeout_s)) for item in items]
    fetched = [(item, got, _kind_or_none(got.content)) for item, got in read if got is not None]
    by_kind: dict[str, list[str]] = {}
    for item, _, kind in fetched:
        if kind is not None:
            by_kind.setdefault(kind, []).append(item.name)
    twice = {kind: names for kind, names in by_kind.items() if len(names) > 1}
    if twice:
        raise MasterFileError(
            "; ".join(f"{len(n)} files hold the {k} list ({', '.join(n)})" for k, n in sorted(twice.items()))
            + ": the registry takes one complete list of each kind — keep one, or merge them"
        )
    landed = []
    for item, got, kind in fetched:
        name = f"{kind}.csv" if kind else item.name  # not a registry file: the build quarantines it
        obj = land_snapshot(
            lake, ledger, source=SOURCE, logical_name=name, data=got.content, origin=item.location
        )
        listing.remember(ledger, item, got)
        if obj is not None:
            landed.append(obj)
    return landed


def _kind_or_none(data: bytes) -> str | None:
    try:
        return kind_of(data)
    except MasterFileError:
        return None
