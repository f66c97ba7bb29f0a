"""Hostile credit files end to end: a drop folder through the credit spec into a real lake.

A truncated workbook, a zip bomb and an HTML page named ``.xlsx`` land in the raw zone as received
and are quarantined with their reason; a good file beside them is published. A drop folder naming
files with backslashes or linking outside itself is refused whole.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from ecocloud.builds import credit
from ecocloud.runner import engine
from ecocloud.runner.report import RunReport
from ecocloud.settings import Settings
from ingest.listing import ListingError
from schemas import credit as schema
from transforms.identifiers import uscc_check_char
from warehouse import lake as lk


def uscc(region: str, body: str) -> str:
    return "91" + region + body + uscc_check_char("91" + region + body)


def good_workbook() -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["江西省2025年度企业环境信用评价结果"])
    ws.append(["序号", "企业名称", "统一社会信用代码", "评价等级"])
    ws.append([1, "江西甲化工有限公司", uscc("360100", "MA35F7Q12"), "环保诚信企业"])
    ws.append([2, "江西乙纸业有限公司", uscc("360700", "705512345"), "环保良好企业"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def zip_bomb() -> bytes:
    out = io.BytesIO(good_workbook())
    with (
        zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as z,
        z.open("xl/media/a.bin", "w") as f,
    ):
        for _ in range(64):
            f.write(b"\0" * 2**20)
    return out.getvalue()


def missing_shared_string() -> bytes:
    """A well-formed workbook whose cell points at a shared string that is not there: past the guard,
    openpyxl raises IndexError."""
    src = zipfile.ZipFile(io.BytesIO(good_workbook()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                start = data.index(b'<c r="D3"')
                data = (
                    data[:start] + b'<c r="D3" t="s"><v>99</v></c>' + data[data.index(b"</c>", start) + 4 :]
                )
            z.writestr(item, data)
    return out.getvalue()


def quarantined(settings: Settings) -> dict[str, str]:
    """raw file name → reason, for the whole-file quarantine rows."""
    rows = pq.read_table(lk.table_dir(settings.lake, schema.quarantine)).to_pylist()
    return {Path(r["raw_file"]).name.split(".")[0]: r["reason"] for r in rows if r["row_no"] == 0}


def test_hostile_workbooks_are_quarantined_with_their_reason(
    settings: Settings, tmp_path: Path, ingest: Callable[..., RunReport]
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "jiangxi_credit_2025.xlsx").write_bytes(good_workbook())
    (drop / "jiangxi_truncated_2025.xlsx").write_bytes(good_workbook()[:900])
    (drop / "jiangxi_bomb_2025.xlsx").write_bytes(zip_bomb())
    (drop / "jiangxi_page_2025.xlsx").write_bytes(b"<html><body>502 Bad Gateway</body></html>")
    (drop / "jiangxi_strings_2025.xlsx").write_bytes(missing_shared_string())

    run = ingest("credit", lambda s, led: credit.land(s, led, [str(drop)]))
    [report] = run.of("ratings")

    assert len(run.landed) == 5  # every file is kept in the raw zone, exactly as received
    assert all(
        (settings.lake / p).resolve().is_relative_to(settings.lake / "raw" / "credit") for p in run.landed
    )
    assert report.status == "published" and report.counts["files_unreadable"] == 4
    assert report.counts["ratings"] == 2
    reasons = quarantined(settings)
    assert set(reasons) == {
        "jiangxi_truncated_2025",
        "jiangxi_bomb_2025",
        "jiangxi_page_2025",
        "jiangxi_strings_2025",
    }
    assert "truncated or corrupt ZIP" in reasons["jiangxi_truncated_2025"]
    assert "inflates more than 100 times" in reasons["jiangxi_bomb_2025"]
    assert "not a ZIP file" in reasons["jiangxi_page_2025"]
    assert "not a readable XLSX workbook: IndexError" in reasons["jiangxi_strings_2025"]


@pytest.mark.parametrize("hostile", ["x\\..\\..\\escaped.xlsx", "C:evil.xlsx", "tab\there.xlsx"])
def test_a_drop_folder_with_a_hostile_name_is_refused(
    settings: Settings, tmp_path: Path, hostile: str
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "jiangxi_credit_2025.xlsx").write_bytes(good_workbook())
    (drop / hostile).write_bytes(good_workbook())
    with pytest.raises(ListingError, match="unsafe entries"):
        credit.land(settings, engine.ledger(settings), [str(drop)])
    assert not (settings.lake / "raw").exists()


def test_a_drop_folder_linking_outside_itself_is_refused(settings: Settings, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    secret = tmp_path / "secret.csv"
    secret.write_text("not for the lake")
    (drop / "jiangxi_credit_2025.csv").symlink_to(secret)
    with pytest.raises(ListingError, match="outside the folder"):
        credit.land(settings, engine.ledger(settings), [str(drop)])
    assert not (settings.lake / "raw").exists()
