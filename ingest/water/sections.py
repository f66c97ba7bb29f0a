"""The section registry: a CSV that data engineers maintain, parsed and checked.

One row per section. Columns (English or Chinese header names; order free; UTF-8 with or without
BOM, or GB18030 as Excel saves it):

===============  =========================  ========  ==============================================
column           also accepted              required  values
===============  =========================  ========  ==============================================
province         省份                        yes       as the platform writes it (江西省)
basin            流域                        yes       as the platform writes it (长江流域)
section_name     断面名称                    yes       as the platform writes it
section_type     断面类型, 类型               yes       river / lake / reservoir (河流, 湖泊, 湖库, 水库)
target_class     水质目标, 目标类别           yes       1..5, I..V or Ⅰ..Ⅴ, optionally followed by 类
section_code     断面编码                    no        national section code
water_body       所在水体, 河流湖库            no        river or lake the section is on (赣江, 鄱阳湖)
region_code      行政区划代码, 区划代码         no        6-digit GB/T 2260 code
longitude        经度                        no        decimal degrees
latitude         纬度                        no        decimal degrees
===============  =========================  ========  ==============================================

The platform identifies a section by province + basin + name, so those three (after trimming) must
be unique. A file with any problem is refused as a whole with every problem listed
(``SectionRegistryError``): a wrong type or target silently changes classes, so nothing is guessed.
A quote that never closes, or a row spread over lines by a quoted line break, is such a problem.
Line numbers are the file's own (blank lines counted).
"""

from __future__ import annotations

import csv
import io
import re

import pyarrow as pa

from ingest.csv_records import MalformedCsv, csv_records, spread_reason
from ingest.text_encoding import TextEncodingError, decode_text
from ingest.water.parse import section_id
from schemas.gb3838_standard import SECTION_TYPES
from schemas.water import stage_sections_registry

__all__ = ["REGISTRY_COLUMNS", "SectionRegistryError", "empty_registry", "parse_sections_csv", "sections_csv"]

REGISTRY_COLUMNS: tuple[str, ...] = tuple(stage_sections_registry.column_names)
_ALIASES: dict[str, tuple[str, ...]] = {
    "province": ("省份", "省"),
    "basin": ("流域",),
    "section_name": ("断面名称", "断面"),
    "section_type": ("断面类型", "类型", "type"),
    "target_class": ("水质目标", "目标类别", "目标", "target"),
    "section_code": ("断面编码", "code"),
    "water_body": ("所在水体", "河流湖库", "水体"),
    "region_code": ("行政区划代码", "区划代码"),
    "longitude": ("经度", "lon"),
    "latitude": ("纬度", "lat"),
}
_REQUIRED = ("province", "basin", "section_name", "section_type", "target_class")
_TYPES = {
    "river": "river",
    "河流": "river",
    "河": "river",
    "lake": "lake",
    "湖泊": "lake",
    "湖": "lake",
    "湖库": "lake",
    "reservoir": "reservoir",
    "水库": "reservoir",
}
_CLASSES = {
    **{str(i): i for i in range(1, 6)},
    **{r: i + 1 for i, r in enumerate(("I", "II", "III", "IV", "V"))},
    **{r: i + 1 for i, r in enumerate(("Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ", "Ⅴ"))},
}
_REGION = re.compile(r"^\d{6}$")


class SectionRegistryError(ValueError):
    """The registry file has problems (all of them are in the message); nothing was loaded."""


def empty_registry() -> pa.Table:
    return stage_sections_registry.empty()


def _decode(data: bytes) -> str:
    try:
        return decode_text(data)
    except TextEncodingError as exc:
        raise SectionRegistryError(f"section registry: {exc}") from None


def _column_index(header: list[str]) -> tuple[dict[str, int], list[str]]:
    lookup: dict[str, str] = {}
    for name, aliases in _ALIASES.items():
        for alias in (name, *aliases):
            lookup[alias.lower()] = name
    index: dict[str, int] = {}
    problems: list[str] = []
    for i, h in enumerate(header):
        column = lookup.get(h.strip().lower())
        if column is None:
            continue
        if column in index:
            problems.append(f"header: {column} given twice ({header[index[column]]!r} and {h!r})")
        index.setdefault(column, i)
    missing = [c for c in _REQUIRED if c not in index]
    if missing:
        problems.append(f"header: required columns missing {missing}; header is {header}")
    return index, problems


def _float(text: str, what: str, low: float, high: float, problems: list[str], line: int) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        problems.append(f"line {line}: {what} {text!r} is not a number")
        return None
    if not low <= value <= high:
        problems.append(f"line {line}: {what} {value} outside [{low}, {high}]")
        return None
    return value


def parse_sections_csv(data: bytes) -> pa.Table:
    """The registry as a ``stage_water__sections_registry`` table (sorted by section_id)."""
    try:
        records = [r for r in csv_records(_decode(data)) if any(c.strip() for c in r.cells)]
    except MalformedCsv as exc:
        raise SectionRegistryError(f"section registry refused:\n  {exc}") from exc
    if not records:
        raise SectionRegistryError("section registry is empty (no header)")
    header = records[0]
    index, problems = _column_index(header.cells)
    if header.spread:  # the lines it spans may be sections
        problems.append(spread_reason(header, "header"))
    if problems:
        raise SectionRegistryError("section registry refused:\n  " + "\n  ".join(problems))

    out: dict[str, list[object]] = {c: [] for c in REGISTRY_COLUMNS}
    seen: dict[str, int] = {}
    for record in records[1:]:
        line, row = record.first_line, record.cells
        if record.spread:
            problems.append(spread_reason(record, "section"))
            continue

        def cell(name: str, row: list[str] = row) -> str:
            i = index.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        province, basin, name = cell("province"), cell("basin"), cell("section_name")
        empty = [c for c, v in (("province", province), ("basin", basin), ("section_name", name)) if not v]
        if empty:
            problems.append(f"line {line}: {', '.join(empty)} empty")
            continue
        sid = section_id(province, basin, name)
        if sid in seen:  # its other cells are checked too: every problem is listed at once
            problems.append(f"line {line}: {province}|{basin}|{name} already on line {seen[sid]}")
        else:
            seen[sid] = line
        stype = _TYPES.get(cell("section_type").lower())
        if stype is None:
            problems.append(
                f"line {line}: section_type {cell('section_type')!r} is not one of {', '.join(SECTION_TYPES)} "
                "(河流, 湖泊, 湖库, 水库)"
            )
        target_text = cell("target_class").removesuffix("类").strip().upper()
        target = _CLASSES.get(target_text)
        if target is None:
            problems.append(f"line {line}: target_class {cell('target_class')!r} is not 1..5 / I..V")
        region = cell("region_code")
        if region and not _REGION.match(region):
            problems.append(f"line {line}: region_code {region!r} is not 6 digits")
        lon = _float(cell("longitude"), "longitude", 73, 136, problems, line)
        lat = _float(cell("latitude"), "latitude", 3, 54, problems, line)
        for key, value in (
            ("section_id", sid),
            ("section_code", cell("section_code") or None),
            ("province", province),
            ("basin", basin),
            ("section_name", name),
            ("water_body", cell("water_body") or None),
            ("section_type", stype),
            ("target_class", target),
            ("region_code", region or None),
            ("longitude", lon),
            ("latitude", lat),
        ):
            out[key].append(value)
    if problems:
        raise SectionRegistryError("section registry refused:\n  " + "\n  ".join(problems))
    return stage_sections_registry.from_columns(out).sort_by("section_id")


def sections_csv(rows: list[dict[str, object]]) -> bytes:
    """A registry CSV (English header, UTF-8) from dicts keyed by registry column names."""
    columns = [c for c in REGISTRY_COLUMNS if c != "section_id"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
    return buf.getvalue().encode()
