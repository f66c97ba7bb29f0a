"""Parse permit-API pages (docs/permit-api.md) into typed stage rows: versions, outlets, limits
(registry tables ``stage_permit__versions``, ``stage_permit__outlets``, ``stage_permit__limits``).

The ingest boundary: the platform's names (``permitNo``, ``creditCode``, ``outletType`` = 主要排放口,
``limitValue`` = "6-9", ``unit`` = mg/m3) become registry columns and values here (``permit_no``,
``uscc``, ``outlet_kind`` = main, ``limit_lower`` / ``limit_value``, ``mg/m³``); Beijing times become
UTC. A record, outlet or limit that cannot be typed goes to quarantine with its reason and its place
in the page; its siblings are still published. Identifier checks (USCC, permit number) flag, they do
not reject: they run in the pipeline over whole columns.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from schemas import permits as schema
from schemas.clock import BEIJING
from schemas.hj212_codes import code_as_typed
from schemas.hj212_codes import pollutant_as_typed as hj212_pollutant
from schemas.registry import Column
from transforms.identifiers import canonical_industry_code

_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?!\d)")
_ZONE_NAME = re.compile(r"\[[^\]]*\]$")

STATUS = {"valid": "valid", "有效": "valid", "revoked": "revoked", "撤销": "revoked",
          "cancelled": "cancelled", "canceled": "cancelled", "注销": "cancelled"}  # fmt: skip
OUTLET_KIND = {"主要排放口": "main", "main": "main", "一般排放口": "general", "general": "general"}
# limit units as HJ 212 states readings (keys as _unit_key spells them): a limit in another spelling
# of the same unit would not be compared with the readings at all
_UNITS = {
    "mg/m3": "mg/m³", "毫克/立方米": "mg/m³",
    "ug/m3": "µg/m³", "µg/m3": "µg/m³", "μg/m3": "µg/m³", "微克/立方米": "µg/m³",  # micro sign, Greek mu
    "mg/l": "mg/L", "毫克/升": "mg/L",
    "无量纲": "-", "-": "-",
}  # fmt: skip
# a range as people write one: 6-9, 6～9, 6–9 (en dash), 6－9 (full width), 6至9
_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:[-~～—–－〜]|至)\s*(\d+(?:\.\d+)?)\s*$")


class PermitPageError(ValueError):
    """The page as a whole is not a permit-API reply (message says why)."""


@dataclass
class ParsedPage:
    page: int
    total: int
    total_pages: int
    versions: pa.Table
    outlets: pa.Table
    limits: pa.Table
    quarantine: pa.Table
    counts: dict[str, int] = field(default_factory=dict)
    # per record of the page, a digest of its content: the same record on two landed pages (a later
    # query overlapping an earlier one) is told from two records that are alike in what is wrong
    record_digests: list[str] = field(default_factory=list)


class _Bad(ValueError):
    def __init__(self, item: str, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.item, self.value, self.reason = item, value, reason


def load_page(data: bytes) -> dict[str, Any]:
    """The reply object, its ``page``, ``total`` and ``totalPages`` as whole numbers (absent: 1, 0,
    0); raises PermitPageError when it is not one."""
    try:
        body = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PermitPageError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise PermitPageError("no records list in the reply")
    if body.get("code", 0) not in (0, "0"):
        raise PermitPageError(f"platform error {body.get('code')}: {body.get('msg')}")
    for key, default in (("page", 1), ("total", 0), ("totalPages", 0)):
        body[key] = _whole(body.get(key), key, default)
    return body


def _whole(value: Any, key: str, default: int) -> int:
    """A paging count as the reply gives it: a whole number, or digits in a string."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not (
        (isinstance(value, int) and value >= 0)
        or (isinstance(value, float) and value.is_integer() and value >= 0)
        or (isinstance(value, str) and value.strip().isdigit() and value.strip().isascii())
    ):
        raise PermitPageError(f"{key} {str(value)[:40]!r} is not a whole number")
    return int(value if not isinstance(value, str) else value.strip())


def parse_updated_at(value: Any) -> dt.datetime:
    """ISO 8601; without an offset it is Beijing time (DESIGN.md: convert at the ingest boundary)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("missing")
    t = dt.datetime.fromisoformat(value.strip().replace(" ", "T").replace("Z", "+00:00"))
    return (t if t.tzinfo else t.replace(tzinfo=BEIJING)).astimezone(dt.UTC)


# how permits write "no end date": 长期 (long-term) and its variants, as the platform's forms fill them
_OPEN_ENDED = frozenset({"长期", "长期有效", "永久", "永久有效", "无固定期限", "无期限"})


def _date(rec: dict[str, Any], key: str, *, required: bool = False) -> dt.date | None:
    value = rec.get(key)
    if value is None or (isinstance(value, str) and (not value.strip() or value.strip() in _OPEN_ENDED)):
        if required:
            raise _Bad(key, value, f"{key} missing")
        return None
    text = str(value).strip()
    m = _DATE.match(text) or _COMPACT_DATE.match(text)  # 2023-05-01, 2023/5/1, 2023年5月1日, 20230501
    try:
        day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None
    except ValueError:
        day = None
    if m is None or day is None:
        raise _Bad(key, value, f"{key} is not a date")
    if text[m.end() :]:
        try:  # a time too: its day in Beijing, as updatedAt is read (Java's zone name in brackets dropped)
            return parse_updated_at(_ZONE_NAME.sub("", text)).astimezone(BEIJING).date()
        except ValueError:
            return day  # a time in a form not read here (… 00:00:00 CST): the date as written
    return day


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(value: Any, item: str, what: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _Bad(item, value, f"{what} is not a number") from None


def _float(value: Any, item: str, what: str) -> float | None:
    out = _number(value, item, what)
    if out is not None and (not math.isfinite(out) or out < 0):
        raise _Bad(item, value, f"{what} must be a number ≥ 0")
    return out


def _in_registry_range(value: Any, item: str, column: Column) -> float | None:
    """``value`` as a number inside the range the registry declares for ``column`` (the range the
    publish gate blocks on), else _Bad."""
    out = _number(value, item, column.name)
    low = -math.inf if column.min is None else column.min
    high = math.inf if column.max is None else column.max
    if out is not None and not low <= out <= high:  # NaN fails too
        raise _Bad(item, value, f"{column.name} {out:g} outside the registry range [{low:g}, {high:g}]")
    return out


def _position(outlet: dict[str, Any], item: str) -> tuple[float | None, float | None, list[_Bad]]:
    """An outlet's (longitude, latitude) and the coordinates rejected. Both are NULL when either is
    rejected: half a position places the outlet nowhere, and a rejected half (often the pair swapped)
    makes the other doubtful."""
    coordinates: list[float | None] = []
    rejected: list[_Bad] = []
    for name in ("longitude", "latitude"):
        try:
            coordinates.append(
                _in_registry_range(outlet.get(name), f"{item}.{name}", schema.outlets.column(name))
            )
        except _Bad as bad:
            rejected.append(bad)
    if rejected:
        return None, None, rejected
    return coordinates[0], coordinates[1], []


def _version_row(rec: dict[str, Any], raw_file: str, index: int) -> dict[str, Any]:
    permit_no = _text(rec.get("permitNo"))
    if not permit_no:
        raise _Bad("permitNo", rec.get("permitNo"), "no permit number")
    version = rec.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _Bad("version", version, "version must be an integer ≥ 1")
    status = STATUS.get(str(rec.get("status") or "").strip().lower())
    if status is None:
        raise _Bad("status", rec.get("status"), "unknown status (valid / revoked / cancelled)")
    try:
        updated_at = parse_updated_at(rec.get("updatedAt"))
    except ValueError:
        raise _Bad("updatedAt", rec.get("updatedAt"), "updatedAt is not an ISO 8601 time") from None
    except OverflowError:  # 0001-01-01T00:00:00 (a null date from the upstream DB) cannot become UTC
        raise _Bad("updatedAt", rec.get("updatedAt"), "updatedAt is out of range") from None
    for key in ("outlets",):
        if rec.get(key) is not None and not isinstance(rec.get(key), list):
            raise _Bad(key, rec.get(key), f"{key} is not a list")
    valid_from = _date(rec, "validFrom")
    status_date = _date(rec, "statusDate")
    # effectiveDate is part of the contract; older records lack it: a revocation or cancellation takes
    # effect on its status date, else on the day the platform recorded it (never from the validity
    # start: that would erase every day the permit did bind); anything else with the validity start.
    recorded = updated_at.astimezone(BEIJING).date()
    stated = _date(rec, "effectiveDate")
    effective_recorded = stated is None and status != "valid" and status_date is None
    effective = stated or ((status_date or recorded) if status != "valid" else valid_from)
    if effective is None:
        raise _Bad("effectiveDate", rec.get("effectiveDate"), "no effectiveDate, statusDate or validFrom")
    return {
        "permit_no": permit_no.upper(),
        "version": version,
        "version_type": _text(rec.get("versionType")),
        "uscc": _text(rec.get("creditCode")),
        "enterprise_name": _text(rec.get("entName")),
        "industry_code": canonical_industry_code(_text(rec.get("industryCode"))),
        "industry_name": _text(rec.get("industryName")),
        "region_code": _text(rec.get("regionCode")),
        "address": _text(rec.get("address")),
        "permit_valid_from": valid_from,
        "permit_valid_to": _date(rec, "validTo"),
        "issued_by": _text(rec.get("issueOrg")),
        "issued_date": _date(rec, "issueDate"),
        "status": status,
        "status_date": status_date,
        "effective_date": effective,
        "effective_recorded": effective_recorded,
        "updated_at": updated_at,
        "raw_file": raw_file,
        "record": f"{raw_file}#{index}",
    }


# what a limit says; two entries of one pollutant that differ in any of these contradict each other
_LIMIT_TERMS = ("limit_value", "limit_lower", "limit_unit", "standard", "o2_reference_pct", "annual_limit_t")


def _unit_key(text: str) -> str:
    """A unit's spelling reduced: no spaces, lower case, ³ as 3, and the normal-conditions mark dropped
    (mg/Nm³, 毫克/标立方米: HJ 212 gives flue-gas concentrations at standard conditions already)."""
    key = re.sub(r"\s+", "", text).lower().replace("³", "3")
    return key.replace("/nm3", "/m3").replace("标立方米", "立方米")


def _limit_row(p: dict[str, Any], item: str) -> dict[str, Any]:
    code = _text(p.get("pollutantCode"))
    if not code:
        raise _Bad(item, p.get("pollutantCode"), "no pollutant code")
    known = hj212_pollutant(code)  # its unit; the code is stored as loggers send it (code_as_typed)
    raw_limit = p.get("limitValue")
    lower, upper = None, None
    m = _RANGE.match(str(raw_limit)) if isinstance(raw_limit, str) else None
    if m:
        lower, upper = float(m.group(1)), float(m.group(2))
    else:
        upper = _float(raw_limit, item, "limitValue")
    unit_text = str(p.get("unit") or "").strip()
    if unit_text:
        unit = _UNITS.get(_unit_key(unit_text), unit_text)
    else:  # not stated: the unit HJ 212 gives the pollutant (a dimensionless "-" would never match)
        unit = (known.unit if known else None) or "-"
    o2 = _float(p.get("o2Reference"), item, "o2Reference")
    if o2 is not None and o2 > 21:
        raise _Bad(item, o2, "o2Reference above 21 %")
    return {
        "pollutant_code": code_as_typed(code),
        "pollutant_name": _text(p.get("pollutantName")),
        "limit_value": upper,
        "limit_lower": lower,
        "limit_unit": unit,
        "standard": _text(p.get("standard")),
        "o2_reference_pct": o2,
        "annual_limit_t": _float(p.get("annualLimitT"), item, "annualLimitT"),
    }


def _record_rows(
    rec: dict[str, Any], raw_file: str, index: int
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], list[tuple[str, Any, str]]]:
    """One record's version row, outlet rows, limit rows and the items rejected inside it."""
    v = _version_row(rec, raw_file, index)
    outlets: list[dict[str, Any]] = []
    limits: list[dict[str, Any]] = []
    rejects: list[tuple[str, Any, str]] = []
    key = {"permit_no": v["permit_no"], "version": v["version"], "record": v["record"]}
    first_entry: dict[str, str] = {}  # outlet code → item of its first entry
    # outlet code → pollutant code → (item, typed limit) of the limit published
    published: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
    for oi, o in enumerate(rec.get("outlets") or []):
        item = f"outlets[{oi}]"
        code = _text(o.get("outletCode")) if isinstance(o, dict) else None
        if not isinstance(o, dict) or not code:
            rejects.append((item, o, "outlet without outletCode"))
            continue
        code = unicodedata.normalize("NFKC", code).upper()  # ＤＡ００１ typed full-width is DA001
        first = first_entry.get(code)
        if first is None:
            first_entry[code] = item
            lon, lat, bad_coordinates = _position(o, item)
            for bad in bad_coordinates:
                rejects.append(
                    (bad.item, bad.value, f"{bad.reason}; the outlet is published without a position")
                )
            outlets.append(
                {**key, "outlet_code": code, "outlet_name": _text(o.get("outletName")),
                 "outlet_kind": OUTLET_KIND.get(str(o.get("outletType") or "").strip()),
                 "medium": "air" if code.startswith("DA") else "water" if code.startswith("DW") else None,
                 "longitude": lon, "latitude": lat}
            )  # fmt: skip
        else:
            # Codes are unique within a record (docs/permit-api.md), so a repeated code (in any case)
            # is the same outlet entered twice. Its limits still bind: they are merged into the first
            # entry, as dropping them would hide exceedances; one contradicting a limit already given
            # is quarantined below. The entry itself is quarantined, not published as a second outlet.
            rejects.append(
                (item, o, f"outlet {code} listed again (first as {first}): its limits are merged into "
                 "that outlet, its other details are not published")
            )  # fmt: skip
        pollutants = o.get("pollutants") or []
        if not isinstance(pollutants, list):
            rejects.append((f"{item}.pollutants", pollutants, "pollutants is not a list"))
            continue
        outlet_limits = published.setdefault(code, {})
        for pi, p in enumerate(pollutants):
            pitem = f"{item}.pollutants[{pi}]"
            try:
                if not isinstance(p, dict):
                    raise _Bad(pitem, p, "pollutant is not an object")
                row = _limit_row(p, pitem)
            except _Bad as bad:
                rejects.append((bad.item, bad.value, bad.reason))
                continue
            pollutant = row["pollutant_code"]
            if pollutant in outlet_limits:
                earlier_item, earlier = outlet_limits[pollutant]
                differ = [t for t in _LIMIT_TERMS if row[t] != earlier[t]]
                reason = (
                    f"pollutant {pollutant} of outlet {code} listed twice, with a different limit than "
                    f"{earlier_item} ({', '.join(differ)}): only {earlier_item} is published"
                    if differ
                    else f"pollutant {pollutant} of outlet {code} listed twice, the same limit as "
                    f"{earlier_item}: published once"
                )
                rejects.append((pitem, p, reason))
                continue
            outlet_limits[pollutant] = (pitem, row)
            limits.append({**key, "outlet_code": code, **row})
    return v, outlets, limits, rejects


def _digest(record: Any) -> str:
    """A record's content, the same however its keys are ordered."""
    text = json.dumps(record, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def parse_page(data: bytes, *, raw_file: str) -> ParsedPage:
    """Typed rows of one page. Raises PermitPageError only when the page as a whole is unusable."""
    body = load_page(data)
    versions: list[dict[str, Any]] = []
    outlets: list[dict[str, Any]] = []
    limits: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []

    def reject(index: int, item: str, permit_no: str | None, value: Any, reason: str) -> None:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        quarantine.append(
            {"raw_file": raw_file, "record_index": index, "item": item, "permit_no": permit_no,
             "raw_value": None if value is None else text[:500], "reason": reason}
        )  # fmt: skip

    for index, rec in enumerate(body["records"]):
        if not isinstance(rec, dict):
            reject(index, "", None, rec, "record is not an object")
            continue
        try:
            rows = _record_rows(rec, raw_file, index)
        except _Bad as bad:
            reject(index, bad.item, _text(rec.get("permitNo")), bad.value, bad.reason)
            continue
        except Exception as exc:  # a shape nobody foresaw: this record is quarantined, the page goes on
            reject(
                index,
                "",
                _text(rec.get("permitNo")),
                rec,
                f"record not readable: {type(exc).__name__}: {exc}",
            )
            continue
        v, rec_outlets, rec_limits, rec_rejects = rows
        versions.append(v)
        outlets += rec_outlets
        limits += rec_limits
        for item, value, reason in rec_rejects:
            reject(index, item, v["permit_no"], value, reason)

    return ParsedPage(
        page=body["page"],
        total=body["total"],
        total_pages=body["totalPages"],
        versions=schema.stage_versions.from_rows(versions),
        outlets=schema.stage_outlets.from_rows(outlets),
        limits=schema.stage_limits.from_rows(limits),
        quarantine=schema.quarantine.from_rows(quarantine),
        record_digests=[_digest(rec) for rec in body["records"]],
        counts={
            "records": len(body["records"]),
            "versions": len(versions),
            "outlets": len(outlets),
            "limits": len(limits),
            "quarantined": len(quarantine),
        },
    )


def page_quarantine(raw_file: str, reason: str) -> pa.Table:
    """The quarantine row for a page that is unusable as a whole."""
    return schema.quarantine.from_rows(
        [{"raw_file": raw_file, "record_index": -1, "item": "", "permit_no": None, "raw_value": None,
          "reason": reason}]
    )  # fmt: skip
