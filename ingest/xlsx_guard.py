"""Inspect an XLSX workbook (a ZIP of XML parts) before openpyxl loads it; refuse hostile ones.

openpyxl trusts what a workbook says about itself: a few kilobytes can declare a sheet of
1,048,576 × 16,384 cells, inflate to gigabytes (a zip bomb), or expand XML entities without end.
:func:`check_workbook` reads every member once, streamed and under caps, and raises
:class:`WorkbookRefused` with the reason when:

* the bytes are not a complete ZIP (no central directory: truncated; a member fails its CRC:
  corrupt), or not a workbook (no ``[Content_Types].xml``; a legacy ``.xls`` says so);
* there are more than ``max_members`` members, one inflates beyond ``max_member_bytes``, all of them
  beyond ``max_total_bytes``, or a member larger than ``ratio_floor_bytes`` inflates more than
  ``max_ratio`` times its compressed size;
* an XML part declares a DTD (``<!DOCTYPE``/``<!ENTITY``: entity expansion; workbooks never need one);
* a worksheet declares a ``<dimension>`` of more than ``max_cells`` cells, holds more than
  ``max_cells`` cells, or its cells reach further than that (rows × the columns each row spans,
  which is what reading it row by row materialises), or past Excel's 1,048,576 rows × 16,384 columns.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and other Compound File formats)
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384
_READ = 1 << 20

_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c|dimension)\b([^>]*)>")
_R_ATTR = re.compile(rb'\br\s*=\s*["\']([A-Za-z]*)(\d*)["\']')
_REF_ATTR = re.compile(rb'\bref\s*=\s*["\']([A-Za-z]+)(\d+)(?::([A-Za-z]+)(\d+))?["\']')
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)")
_WORKBOOK_TYPE = re.compile(
    rb"(?:spreadsheetml\.(?:sheet|template)|ms-excel\.(?:sheet|template)\.macroEnabled)\.main\+xml"
)
_WORKBOOK_PART = re.compile(rb'<Override\b[^>]*?PartName\s*=\s*"([^"]*)"[^>]*>')


class WorkbookRefused(ValueError):
    """The workbook is truncated, corrupt, not a workbook, or beyond the caps (message says which)."""


@dataclass(frozen=True)
class WorkbookLimits:
    max_members: int = 1_000
    max_member_bytes: int = 128 * 2**20
    max_total_bytes: int = 256 * 2**20
    max_ratio: float = 100.0  # Apache POI's zip-bomb threshold
    ratio_floor_bytes: int = 1 * 2**20  # smaller members may compress any amount
    max_cells: int = 5_000_000


def column_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def check_workbook(data: bytes, limits: WorkbookLimits = WorkbookLimits()) -> None:
    """Raise :class:`WorkbookRefused` unless ``data`` is a complete workbook within ``limits``."""
    if not data.startswith(ZIP_MAGIC):
        if data.startswith(OLE2_MAGIC):
            raise WorkbookRefused("a legacy .xls (OLE2) workbook, not XLSX: save it as .xlsx")
        raise WorkbookRefused(f"not an XLSX workbook (not a ZIP file; it starts with {data[:16]!r})")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_archive(archive, limits)
    except WorkbookRefused:
        raise
    except (
        zipfile.BadZipFile,
        EOFError,
        ValueError,
        NotImplementedError,
        RuntimeError,
        OSError,
        zlib.error,
    ) as exc:
        raise WorkbookRefused(f"not a readable XLSX workbook: truncated or corrupt ZIP ({exc})") from exc


def _check_archive(archive: zipfile.ZipFile, limits: WorkbookLimits) -> None:
    members = archive.infolist()
    if len(members) > limits.max_members:
        raise WorkbookRefused(f"{len(members)} ZIP members (more than {limits.max_members})")
    _check_workbook_part(archive)
    declared = sum(m.file_size for m in members)
    if declared > limits.max_total_bytes:
        raise WorkbookRefused(
            f"members declare {declared} bytes inflated (more than {limits.max_total_bytes})"
        )
    total = 0
    for member in members:
        if member.is_dir():
            continue
        total += _check_member(archive, member, limits, limits.max_total_bytes - total)


def _check_workbook_part(archive: zipfile.ZipFile) -> None:
    """The content types name a workbook part, and that part is in the archive."""
    names = set(archive.namelist())
    if "[Content_Types].xml" not in names:
        raise WorkbookRefused("a ZIP file but not an XLSX workbook (no [Content_Types].xml)")
    info = archive.getinfo("[Content_Types].xml")
    if info.file_size > 1 << 20:
        raise WorkbookRefused(f"[Content_Types].xml declares {info.file_size} bytes; refused")
    with archive.open(info) as stream:
        types = stream.read(1 << 20)
    parts = [
        m.group(1).decode(errors="replace").lstrip("/")
        for m in _WORKBOOK_PART.finditer(types)
        if _WORKBOOK_TYPE.search(m.group(0))
    ]
    if not parts:
        raise WorkbookRefused("a ZIP file but not an XLSX workbook (no workbook part in [Content_Types].xml)")
    if not any(p in names for p in parts):
        raise WorkbookRefused(f"the workbook part {parts[0]} is missing from the ZIP")


def _check_member(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: WorkbookLimits, budget: int
) -> int:
    """Inflate one member once (zipfile checks its CRC at the end); the bytes it inflated to."""
    name = member.filename
    is_xml = name.lower().endswith((".xml", ".rels", ".vml"))
    sheet = _SheetScan(name, limits) if name.startswith("xl/worksheets/") and is_xml else None
    size = 0
    tail = b""
    with archive.open(member) as stream:
        while chunk := stream.read(_READ):
            size += len(chunk)
            if size > limits.max_member_bytes:
                raise WorkbookRefused(f"{name} inflates beyond {limits.max_member_bytes} bytes")
            if size > budget:
                raise WorkbookRefused(f"the members inflate beyond {limits.max_total_bytes} bytes in all")
            if size > limits.ratio_floor_bytes and size > limits.max_ratio * max(member.compress_size, 1):
                raise WorkbookRefused(
                    f"{name} inflates more than {limits.max_ratio:g} times its compressed size "
                    f"({member.compress_size} bytes): a zip bomb"
                )
            if is_xml:
                window = tail + chunk
                if _DTD.search(window):
                    raise WorkbookRefused(
                        f"{name} declares a DTD (<!DOCTYPE or <!ENTITY>); workbooks never do"
                    )
                tail = window[-16:]
            if sheet is not None:
                sheet.feed(chunk)
    if sheet is not None:
        sheet.finish()
    return size


class _SheetScan:
    """Streams a worksheet's XML: its declared dimension and how far its cells reach."""

    def __init__(self, name: str, limits: WorkbookLimits) -> None:
        self.name = name
        self.limits = limits
        self.pending = b""
        self.row = 0  # current row number
        self.column = 0  # column of the last cell seen in the current row
        self.row_width = 0  # widest column of the current row
        self.cells = 0
        self.materialised = 0  # cells a row-by-row reader yields (each row padded to its last cell)

    def feed(self, chunk: bytes) -> None:
        data = self.pending + chunk
        cut = data.rfind(b">") + 1  # scan whole tags only; keep the unfinished one for the next chunk
        for match in _TAG.finditer(data, 0, cut):
            self._tag(match.group(1), match.group(2))
        self.pending = data[cut:]

    def _tag(self, kind: bytes, attrs: bytes) -> None:
        if kind == b"dimension":
            ref = _REF_ATTR.search(attrs)
            if ref:
                rows = abs(int(ref.group(4) or ref.group(2)) - int(ref.group(2))) + 1
                columns = abs(column_number(ref.group(3) or ref.group(1)) - column_number(ref.group(1))) + 1
                if rows * columns > self.limits.max_cells:
                    raise WorkbookRefused(
                        f"{self.name} declares a dimension of {rows} rows × {columns} columns "
                        f"(more than {self.limits.max_cells} cells)"
                    )
            return
        r = _R_ATTR.search(attrs)
        if kind == b"row":
            self._end_row()
            self.row = int(r.group(2)) if r and r.group(2) else self.row + 1
            self.column = 0
            if self.row > EXCEL_MAX_ROWS:
                raise WorkbookRefused(f"{self.name} has a row {self.row} (Excel stops at {EXCEL_MAX_ROWS})")
            return
        self.column = column_number(r.group(1)) if r and r.group(1) else self.column + 1
        if self.column > EXCEL_MAX_COLUMNS:
            raise WorkbookRefused(
                f"{self.name} has a cell in column {self.column} (Excel stops at {EXCEL_MAX_COLUMNS})"
            )
        self.row_width = max(self.row_width, self.column)
        self.cells += 1
        if self.cells > self.limits.max_cells:
            raise WorkbookRefused(f"{self.name} holds more than {self.limits.max_cells} cells")

    def _end_row(self) -> None:
        self.materialised += self.row_width
        self.row_width = 0
        # rows skipped before the highest row are yielded empty: count each as one
        if self.materialised + self.row > self.limits.max_cells:
            raise WorkbookRefused(
                f"{self.name}: its cells spread over {self.row} rows and more than "
                f"{self.limits.max_cells} cells when read row by row"
            )

    def finish(self) -> None:
        self._end_row()
