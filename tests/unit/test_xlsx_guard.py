"""Hostile XLSX workbooks are refused with their reason before openpyxl loads them (crafted with zipfile)."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable

import pytest
from openpyxl import Workbook

from ingest.credit.parse import CreditFileError, parse_credit_file
from ingest.xlsx_guard import WorkbookLimits, WorkbookRefused, check_workbook

NOW = dt.datetime(2026, 9, 21, 1, tzinfo=dt.UTC)
SHEET = "xl/worksheets/sheet1.xml"
ROWS: list[list[object]] = [
    ["江西省2025年度企业环境信用评价结果"],
    ["序号", "企业名称", "统一社会信用代码", "评价等级"],
    *[[i, f"江西{i}号化工有限公司", "", "环保诚信企业"] for i in range(1, 6)],
]


def workbook(rows: list[list[object]] = ROWS) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def rebuilt(
    data: bytes, edit: Callable[[str, bytes], bytes | None], extra: dict[str, bytes] | None = None
) -> bytes:
    """``data`` with every member passed through ``edit`` (None drops it) and ``extra`` members added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            body = edit(name, src.read(name))
            if body is not None:
                dst.writestr(name, body)
        for name, body in (extra or {}).items():
            dst.writestr(name, body)
    return out.getvalue()


def with_sheet(data: bytes, change: Callable[[str], str]) -> bytes:
    return rebuilt(data, lambda n, b: change(b.decode()).encode() if n == SHEET else b)


def parse(data: bytes, name: str = "jiangxi_credit_2025.xlsx") -> int:
    """Rows published from ``data``; raises CreditFileError as the pipeline sees it."""
    return parse_credit_file(data, file_name=name, raw_file="raw/x", received_at=NOW).rows.num_rows


def refused(data: bytes, reason: str, name: str = "jiangxi_credit_2025.xlsx") -> None:
    with pytest.raises(CreditFileError, match=reason):
        parse(data, name)


def test_a_plain_workbook_passes_and_parses() -> None:
    check_workbook(workbook())
    assert parse(workbook()) == 5


def test_a_truncated_workbook_is_refused() -> None:
    data = workbook()
    for cut in (len(data) // 2, len(data) - 10):
        refused(data[:cut], "truncated or corrupt ZIP")


def test_a_corrupt_member_is_refused() -> None:
    data = bytearray(workbook())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo(SHEET)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF  # one byte in the middle of the compressed sheet
    refused(bytes(data), "truncated or corrupt ZIP")


def test_not_a_zip_named_xlsx_is_refused_as_such() -> None:
    refused(b"<html><body>502 Bad Gateway</body></html>", "not an XLSX workbook \\(not a ZIP file")
    refused(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "legacy .xls")


def test_a_zip_that_is_not_a_workbook_is_refused() -> None:
    refused(
        rebuilt(workbook(), lambda n, b: None if n == "[Content_Types].xml" else b), "no \\[Content_Types\\]"
    )
    refused(
        rebuilt(workbook(), lambda n, b: None if n == "xl/workbook.xml" else b), "xl/workbook.xml is missing"
    )


def test_an_absurd_declared_dimension_is_refused() -> None:
    data = with_sheet(
        workbook(), lambda x: re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1:XFD1048576"', x)
    )
    refused(data, "declares a dimension of 1048576 rows × 16384 columns")


def test_cells_far_apart_are_refused() -> None:
    """400 cells in column XFD: tiny on disk, 6.5 million cells once each row is read out to its last one."""
    far = "".join(f'<row r="{r}"><c r="XFD{r}" t="n"><v>1</v></c></row>' for r in range(10, 410))
    data = with_sheet(
        workbook(),
        lambda x: re.sub(r"<dimension [^>]*>", "", x).replace("</sheetData>", far + "</sheetData>"),
    )
    refused(data, "spread over .* rows and more than 5000000 cells when read row by row")


def test_beyond_excel_limits_is_refused() -> None:
    data = with_sheet(workbook(), lambda x: x.replace('r="A3"', 'r="XFE3"'))
    refused(data, "column 16385")


def test_too_many_cells_are_refused() -> None:
    rows: list[list[object]] = [[f"r{r}c{c}" for c in range(10)] for r in range(30)]
    undeclared = with_sheet(workbook(rows), lambda x: re.sub(r"<dimension [^>]*>", "", x))
    check_workbook(undeclared, WorkbookLimits(max_cells=400))
    with pytest.raises(WorkbookRefused, match="more than 200 cells"):
        check_workbook(undeclared, WorkbookLimits(max_cells=200))
    with pytest.raises(WorkbookRefused, match="declares a dimension of 30 rows × 10 columns"):
        check_workbook(workbook(rows), WorkbookLimits(max_cells=200))


def test_a_zip_bomb_member_is_refused() -> None:
    out = io.BytesIO(workbook())
    with (
        zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as z,
        z.open("xl/media/image1.bin", "w") as f,
    ):
        for _ in range(64):
            f.write(b"\0" * 2**20)
    refused(out.getvalue(), "inflates more than 100 times its compressed size")


def test_too_many_members_are_refused() -> None:
    data = rebuilt(workbook(), lambda n, b: b, {f"xl/media/p{i}.bin": b"x" for i in range(1001)})
    refused(data, "ZIP members \\(more than 1000\\)")


def test_a_member_lying_about_its_size_is_refused() -> None:
    data = workbook()
    with pytest.raises(WorkbookRefused, match="inflates beyond 1000 bytes"):
        check_workbook(data, WorkbookLimits(max_member_bytes=1000))
    with pytest.raises(WorkbookRefused, match=r"declare \d+ bytes inflated"):
        check_workbook(data, WorkbookLimits(max_total_bytes=1000))


def test_entity_expansion_is_refused() -> None:
    laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    data = rebuilt(workbook(), lambda n, b: laughs.encode() + b.split(b"?>", 1)[-1] if n == SHEET else b)
    refused(data, "declares a DTD")


def test_a_declared_dimension_smaller_than_the_data_loses_no_row() -> None:
    """openpyxl's read-only mode stops at the declared dimension; the rows below it must still be read."""
    data = with_sheet(workbook(), lambda x: re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1"', x))
    assert parse(data) == 5
