"""Names from upstreams never leave ``<lake>/raw/<source>/``: sanitised on landing, refused in listings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ingest.raw import UnsafePathError, land_bytes, safe_file_name, unsafe_name_reason
from warehouse.ledger import Ledger

HOSTILE = [
    "../../../../../../etc/cron.d/evil.csv",
    "/etc/passwd",
    "..\\..\\windows\\evil.xlsx",
    "C:\\evil.xlsx",
    "a\x00b.csv",
    "line\nbreak.csv",
    "",
    ".",
    "..",
    "...",
    "....//....//x.csv",
    ".hidden.csv",
    "  ",
    "%2e%2e%2fx.csv",
    "名" * 200 + ".csv.gz",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_every_landed_path_resolves_under_the_source_raw_folder(tmp_path: Path, name: str) -> None:
    lake = tmp_path / "lake"
    ledger = Ledger(tmp_path / "ledger.sqlite")
    for logical, file_name in ((name, None), ("x.csv", name)):  # the name as logical name, then as file name
        obj = land_bytes(
            lake, ledger, source="credit", logical_name=logical, file_name=file_name,
            partition=dt.date(2026, 1, 2), data=name.encode() + b"!", origin="test",
        )  # fmt: skip
        path = (lake / obj.raw_path).resolve()
        assert path.is_relative_to((lake / "raw" / "credit").resolve()), obj.raw_path
        assert path.read_bytes() == name.encode() + b"!"
        assert len(path.name.encode()) <= 255
    # the ledger's own files: the database, and its WAL and shared memory while a connection is open
    landed = [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith("ledger.sqlite")]
    assert all(p.resolve().is_relative_to((lake / "raw" / "credit").resolve()) for p in landed)
    assert ledger.raw_objects("credit")[0].logical_name == name  # the manifest keeps the name as sent


def test_plain_names_are_kept_as_they_were() -> None:
    for name in ("china_sites_20230120.csv.gz", "realtime_p3.json", "江西省2025年度信用评价.xlsx",
                 "permits_since-all_page-0001.json", "enterprises@20260101T000000000000Z.csv"):  # fmt: skip
        assert safe_file_name(name) == name
        assert unsafe_name_reason(name) is None


EMPTY, CONTROL, SEPARATOR = "empty name", "control character in the name", "path separator in the name"
DOT, COLON = "name starts with a dot", "colon in the name (drive letter or stream)"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", EMPTY),
        ("  ", EMPTY),
        ("\t\n", EMPTY),  # blank: named empty before its characters are seen as control characters
        ("a\x00b.csv", CONTROL),
        ("line\nbreak.csv", CONTROL),
        ("tab\there.csv", CONTROL),
        ("del\x7f.csv", CONTROL),
        ("esc\x1b[31m.csv", CONTROL),
        ("../../../../../../etc/cron.d/evil.csv", SEPARATOR),
        ("/etc/passwd", SEPARATOR),
        ("..\\..\\windows\\evil.xlsx", SEPARATOR),
        ("C:\\evil.xlsx", SEPARATOR),  # the separator is named before the colon
        ("....//....//x.csv", SEPARATOR),
        ("a/b.csv", SEPARATOR),
        (".", DOT),
        ("..", DOT),
        ("...", DOT),
        (".hidden.csv", DOT),
        ("  .xlsx", DOT),  # no name before the suffix
        (".a:b", DOT),  # the dot is named before the colon
        ("C:evil.xlsx", COLON),
        ("report.csv:hidden", COLON),
        ("名:x.csv", COLON),
    ],
)
def test_listings_refuse_names_that_are_not_plain(name: str, reason: str) -> None:
    assert unsafe_name_reason(name) == reason


@pytest.mark.parametrize("name", ["%2e%2e%2fx.csv", "名" * 200 + ".csv.gz", "a.b.csv", "x .csv", "é.csv"])
def test_listings_accept_odd_but_plain_names(name: str) -> None:
    assert unsafe_name_reason(name) is None  # percent signs are not decoded; length is the writer's concern


def test_a_raw_folder_linked_elsewhere_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "lake" / "raw" / "credit").mkdir(parents=True)
    (tmp_path / "lake" / "raw" / "credit" / "date=2026-01-02").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="outside"):
        land_bytes(tmp_path / "lake", Ledger(tmp_path / "l.sqlite"), source="credit", logical_name="x.csv",
                   partition=dt.date(2026, 1, 2), data=b"x", origin="test")  # fmt: skip
    assert not any(outside.iterdir())


@pytest.mark.parametrize("source", ["../air", "", "a/b", "AIR"])
def test_a_source_that_is_not_a_plain_name_is_refused(tmp_path: Path, source: str) -> None:
    with pytest.raises(UnsafePathError):
        land_bytes(tmp_path, Ledger(tmp_path / "l.sqlite"), source=source, logical_name="x.csv",
                   partition=None, data=b"x", origin="test")  # fmt: skip
