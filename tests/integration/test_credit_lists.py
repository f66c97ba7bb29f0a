"""Which credit files make the ratings: the newest list of a province and year replaces the older ones
of that province and year — and only those."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
from openpyxl import Workbook

from ecocloud.builds import credit
from ecocloud.runner.report import RunReport
from ecocloud.settings import Settings
from schemas import credit as schema
from warehouse import lake as lk


def workbook(rows: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["企业名称", "评价等级", "评价年度", "统一社会信用代码"])
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def ratings(settings: Settings) -> list[tuple[int, str, str]]:
    rows = pq.read_table(lk.table_dir(settings.lake, schema.ratings)).to_pylist()
    return sorted((r["year"], r["enterprise_name"], r["level"]) for r in rows)


def test_a_list_replaces_its_own_year_only(
    settings: Settings, tmp_path: Path, ingest: Callable[..., RunReport]
) -> None:
    def land(name: str, rows: list[list[object]]) -> RunReport:
        drop = tmp_path / name
        drop.mkdir()
        (drop / f"jiangxi_credit_{name}.xlsx").write_bytes(workbook(rows))
        return ingest("credit", lambda s, led: credit.land(s, led, [str(drop)]))

    land(
        "2024",
        [
            ["甲公司", "环保诚信企业", 2024],
            ["乙公司", "环保良好企业", 2024],
            ["丙公司", "环保警示企业", 2024],
        ],
    )
    # the 2024 list published again, corrected: it replaces the first
    [fixed] = land("2024_fixed", [["甲公司", "环保诚信企业", 2024], ["乙公司", "环保警示企业", 2024]]).of(
        "ratings"
    )
    assert fixed.counts["rows_superseded"] == 3
    assert ratings(settings) == [(2024, "乙公司", "yellow"), (2024, "甲公司", "green")]
    # next year's list, with two enterprises re-evaluated late (their rows say 2024): the 2024 list
    # stays, but for 乙公司, whose 2024 rating the newer file gives
    [later] = land(
        "2025",
        [
            ["丁公司", "环保诚信企业", 2025],
            ["戊公司", "环保良好企业", 2025],
            ["己公司", "环保不良企业", 2024],
            ["乙公司", "环保不良企业", 2024],
        ],
    ).of("ratings")
    assert later.status == "published" and later.counts["rows_superseded"] == 4
    assert ratings(settings) == [
        (2024, "乙公司", "red"),
        (2024, "己公司", "red"),
        (2024, "甲公司", "green"),
        (2025, "丁公司", "green"),
        (2025, "戊公司", "blue"),
    ]


def test_an_enterprise_is_told_by_its_uscc_even_one_failing_its_check(
    settings: Settings, tmp_path: Path, ingest: Callable[..., RunReport]
) -> None:
    """The risk scores tell enterprises apart by USCC where there is one (valid or not), else by name:
    the newer file's rating of one must replace the older one under the same key, renamed or not."""
    bad_check = "91360100MA35F7Q12X"  # the check character is wrong: kept, flagged
    for name, rows in (
        ("2024", [["江西甲化工有限公司", "环保不良企业", 2024, bad_check], ["乙公司", "环保诚信企业", 2024]]),
        (
            "2025",
            [["江西甲化工股份有限公司", "环保良好企业", 2024, bad_check], ["丙公司", "环保诚信企业", 2025]],
        ),
    ):
        drop = tmp_path / name
        drop.mkdir()
        (drop / f"jiangxi_credit_{name}.xlsx").write_bytes(workbook(rows))
        ingest("credit", lambda s, led, d=drop: credit.land(s, led, [str(d)]))
    assert ratings(settings) == [
        (2024, "乙公司", "green"),
        (2024, "江西甲化工股份有限公司", "blue"),
        (2025, "丙公司", "green"),
    ]


def test_a_damaged_copy_of_a_file_does_not_erase_its_ratings(
    settings: Settings, tmp_path: Path, ingest: Callable[..., RunReport]
) -> None:
    """The same file served again cut short: the copy before it still stands for the file (the list
    of a red and a black enterprise vanished), and the damaged copy is quarantined saying so."""
    drop = tmp_path / "drop"
    drop.mkdir()
    good = workbook([["甲公司", "环保不良企业", 2024], ["乙公司", "环保严重失信企业", 2024]])
    (drop / "jiangxi_credit_2024.xlsx").write_bytes(good)
    ingest("credit", lambda s, led: credit.land(s, led, [str(drop)]))
    (drop / "jiangxi_credit_2024.xlsx").write_bytes(good[: len(good) // 2])
    [report] = ingest("credit", lambda s, led: credit.land(s, led, [str(drop)])).of("ratings")
    assert ratings(settings) == [(2024, "乙公司", "black"), (2024, "甲公司", "red")]
    assert (report.counts["files"], report.counts["files_unreadable"]) == (1, 1)
    assert report.counts["files_from_an_older_copy"] == 1
    reasons = pq.read_table(lk.table_dir(settings.lake, schema.quarantine)).column("reason").to_pylist()
    assert len(reasons) == 1 and "newest readable copy before it stands for the file" in reasons[0]
