"""Every reason the air code writes into quarantine_air__station_hourly is a code of the registry's
list (schemas.air.QUARANTINE_REASONS) with a Chinese and an English label, and the row's ``detail``
keeps what the reason was in words, with the values: the ingestion page grouped the quarantine by its
free-text reason, one group per value ("AQI=12.5 is not an integer", "AQI=13.5 …"), not by cause.
The parser is driven with hostile day files here; the whole-file reasons through parse_and_score."""

from __future__ import annotations

import datetime as dt
import gzip
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecocloud.builds.air_stage import Refused, parse_and_score
from ingest.air.parse import parse_day_file
from schemas.air import QUARANTINE_REASONS, RELEASE_TYPES, station_hourly
from schemas.air import quarantine as quarantine_table
from warehouse.ddl import Dialect, export_ddl
from warehouse.fs import LocalLake
from warehouse.quality import run_gate
from warehouse.serving import select_sql

pytestmark = pytest.mark.unit

DAY = dt.date(2023, 1, 20)
STATIONS = ["A", "B", "C", "D", "E", "F", "G", "G", "H"]  # G twice: its copies disagree at hour 0
PM25_MAX = station_hourly.column("pm25_ugm3").max


def _line(hour: int | str, rtype: str, values: list[str], date: str = "20230120") -> str:
    return f"{date},{hour},{rtype}," + ",".join(values)


def _hostile_day() -> bytes:
    """Hour 0: A clean; B a cell that is not a number; C negative; D above the maximum; E a
    fractional AQI; F an infinite value (text: not a number on the text path); G's two columns
    disagree; H clean. Then lines that cannot be placed, and a value under an unnamed column."""
    header = "date,hour,type," + ",".join(STATIONS) + ","  # a last column without a station code
    lines = [header]
    for t in RELEASE_TYPES:
        cells = dict.fromkeys("ABCDEFH", "10")
        g1 = g2 = "10"
        if t == "PM2.5":
            cells["B"] = "abc"
            cells["D"] = f"{PM25_MAX + 1:g}"
            cells["F"] = "inf"
            g2 = "11"
        elif t == "CO":
            cells["C"] = "-3"
        elif t == "AQI":
            cells["E"] = "12.5"
        row = [cells[s] for s in "ABCDEF"] + [g1, g2, cells["H"], "7" if t == "SO2" else ""]
        lines.append(_line(0, t, row))
    blank = [""] * (len(STATIONS) + 1)
    lines += [
        _line(1, "PM2.5", ["5", *blank[1:]], date="20230121"),  # another day
        _line(25, "PM2.5", ["5", *blank[1:]]),  # no such hour
        _line(1, "NH3", ["5", *blank[1:]]),  # no such type
        _line(0, "PM2.5", ["5", *blank[1:]]),  # hour 0's PM2.5 again
        _line(1, "PM2.5", ["5", "6"]),  # too few fields
    ]
    return ("\n".join(lines) + "\n").encode()


EXPECTED = {
    # station-hours, by station
    "B": ("not_a_number", "PM2.5='abc' is not a number", "abc"),
    "C": ("impossible_value", "CO=-3.0 is not a possible concentration", "-3.0"),
    "D": ("above_maximum", f"PM2.5={PM25_MAX + 1:.1f} is above {PM25_MAX:g} µg/m³", f"{PM25_MAX + 1:.1f}"),
    "E": ("aqi_not_integer", "AQI=12.5 is not an integer", "12.5"),
    "F": ("not_a_number", "PM2.5='inf' is not a number", "inf"),
    "G": (
        "duplicate_column_disagrees",
        "PM2.5: duplicated station column disagrees",
        "10.0",
    ),  # the first copy
}
LINES = {
    # lines, by what is wrong with them: reason, a part of the detail, the raw text
    "wrong_date": ("date '20230121' is not the file's date 20230120", "20230121,1,PM2.5"),
    "bad_hour": ("hour '25' is not 0..23", "20230120,25,PM2.5"),
    "unknown_type": ("unknown type 'NH3'", "20230120,1,NH3"),
    "duplicate_line": ("second line for hour 0 type PM2.5", "20230120,0,PM2.5"),
    "malformed_line": ("line has 5 fields, header has 13", "20230120,1,PM2.5,5,6"),
    "unnamed_column": ("value under an unnamed column (field 13)", "7.0"),
}


def test_every_registered_reason_has_a_chinese_and_an_english_label() -> None:
    chinese, english = QUARANTINE_REASONS.in_language("zh"), QUARANTINE_REASONS.in_language("en")
    for reason in QUARANTINE_REASONS:
        assert chinese[reason] and chinese[reason] != reason, reason
        # in English a code without an English label falls back to its Chinese one
        assert english[reason] and english[reason] != chinese[reason], reason
    assert len(set(chinese.values())) == len(set(english.values())) == len(QUARANTINE_REASONS)


def test_the_quarantine_reason_is_a_column_of_the_registered_codes_beside_its_detail() -> None:
    reason, detail = quarantine_table.column("reason"), quarantine_table.column("detail")
    assert reason.allowed == QUARANTINE_REASONS.codes and reason.labels == QUARANTINE_REASONS
    assert not reason.nullable and detail.nullable and detail.type == "string"
    assert quarantine_table.added_columns == ("detail",)  # older parts have none: read as NULL


def test_every_reason_the_parser_writes_on_hostile_input_is_registered_and_the_detail_keeps_the_value() -> (
    None
):
    p = parse_day_file(_hostile_day(), raw_file="raw/f.csv", file_date=DAY)
    rows = p.quarantine.to_pylist()
    written = {r["reason"] for r in rows}
    assert written == {reason for reason, _, _ in EXPECTED.values()} | LINES.keys()
    assert written <= set(QUARANTINE_REASONS)
    for reason in written:
        assert QUARANTINE_REASONS.in_language("zh")[reason] != QUARANTINE_REASONS.in_language("en")[reason]

    by_station = {r["station_code"]: r for r in rows if r["station_code"]}
    assert by_station.keys() == EXPECTED.keys()  # A and H published
    for station, (reason, detail, raw) in EXPECTED.items():
        row = by_station[station]
        assert (row["reason"], row["raw_value"]) == (reason, raw), station
        assert detail in row["detail"], (station, row["detail"])
    by_reason = {r["reason"]: r for r in rows if not r["station_code"]}
    assert by_reason.keys() == LINES.keys()
    for reason, (detail, raw) in LINES.items():
        assert by_reason[reason]["detail"] == detail and by_reason[reason]["raw_value"] == raw, reason

    assert p.hourly.column("station_code").to_pylist() == ["A", "H"]
    counts = p.counts
    assert counts["station_hours_in"] == counts["station_hours_kept"] + counts["station_hours_quarantined"]
    assert (counts["station_hours_in"], counts["station_hours_quarantined"]) == (8, 6)
    assert counts["lines_quarantined"] == 5
    # the gate's allowed-values check passes them, and holds back a reason that is not a code
    assert run_gate(quarantine_table, p.quarantine, partition_date=DAY).passed
    free_text = p.quarantine.set_column(
        p.quarantine.schema.get_field_index("reason"),
        "reason",
        pa.array(["AQI=12.5 is not an integer"] * p.quarantine.num_rows),
    )
    verdict = run_gate(quarantine_table, free_text, partition_date=DAY)
    assert not verdict.passed and any("reason" in f for f in verdict.blocking_failures)


def test_a_station_hour_with_several_causes_is_coded_by_the_first_and_its_detail_names_all() -> None:
    rows = [
        (t, "1.5" if t == "AQI" else "x" if t == "NO2" else "-1" if t == "CO" else "1") for t in RELEASE_TYPES
    ]
    data = "date,hour,type,A\n" + "".join(f"{_line(0, t, [v])}\n" for t, v in rows)
    [q] = parse_day_file(data.encode(), raw_file="f.csv", file_date=DAY).quarantine.to_pylist()
    assert q["reason"] == "aqi_not_integer" and q["release_type"] == "AQI"  # AQI is the first type
    assert (
        q["detail"]
        == "AQI=1.5 is not an integer; NO2='x' is not a number; CO=-1.0 is not a possible concentration"
    )


def test_an_infinite_value_in_a_file_of_numbers_is_an_impossible_value() -> None:
    """Without a text cell the file is read as numbers, where inf is a float: impossible, not text."""
    data = "date,hour,type,A,B\n" + "".join(
        f"{_line(0, t, ['inf' if t == 'O3' else '1', '1'])}\n" for t in RELEASE_TYPES
    )
    [q] = parse_day_file(data.encode(), raw_file="f.csv", file_date=DAY).quarantine.to_pylist()
    assert (q["station_code"], q["reason"], q["raw_value"]) == ("A", "impossible_value", "inf")
    assert q["detail"] == "O3=inf is not a possible concentration"


@pytest.mark.parametrize(
    ("content", "reason", "detail"),
    [
        (b"<html>503 Service Unavailable</html>\n", "not_a_day_file", "expected date,hour,type"),
        (b"no line end", "not_a_day_file", "no header line"),
        ("日期,hour,type\n".encode("gbk"), "not_a_day_file", "the header is not UTF-8 text"),
        (gzip.compress(b"date,hour,type\n")[:-12] + b"\0" * 12, "unreadable_file", "corrupt"),
    ],
    ids=["html", "no-header", "gbk-header", "corrupt-gzip"],
)
def test_a_day_file_refused_whole_has_a_registered_reason(
    tmp_path: Path, content: bytes, reason: str, detail: str
) -> None:
    lake = LocalLake(tmp_path)
    path = "raw/air/china_sites_20230120.csv"
    lake.write_bytes(path, content)
    refused = parse_and_score(lake, path, DAY)
    assert isinstance(refused, Refused)
    assert refused.reason == reason and refused.reason in QUARANTINE_REASONS
    assert detail in refused.detail


def test_a_reason_the_registry_does_not_label_stops_the_air_parser_from_loading() -> None:
    probe = (
        "import schemas.air as air\n"
        "from schemas.registry import Codes\n"
        "air.QUARANTINE_REASONS = Codes({c: (air.QUARANTINE_REASONS[c], air.QUARANTINE_REASONS.in_language('en')[c])"
        " for c in air.QUARANTINE_REASONS if c != 'wrong_date'})\n"
        "import ingest.air.parse\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=60
    )
    assert run.returncode != 0
    assert "ValueError: quarantine reason 'wrong_date' has no Chinese and English label" in run.stderr


def _part(folder: Path, name: str, reason: str, detail: str | None, *, with_detail: bool) -> None:
    """A part of the quarantine as the lake holds it; an older one (before ``detail``) without it."""
    row = {"raw_file": f"raw/{name}.csv", "line_no": 2, "station_code": "A", "release_type": "AQI"}
    row |= {"raw_value": "12.5", "reason": reason} | ({"detail": detail} if with_detail else {})
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([row]), folder / f"{name}.parquet")


@pytest.mark.parametrize("newer_part", [False, True], ids=["older-parts-only", "older-and-newer"])
def test_parts_written_before_the_detail_still_read_with_it_null(tmp_path: Path, newer_part: bool) -> None:
    """union_by_name fills a column some parts lack, not one no part has: a lake whose air quarantine
    was all written before ``detail`` failed every view over it (Binder Error), the serving refresh
    with it, until the day files were parsed again."""
    table_dir = tmp_path / quarantine_table.layer.value / quarantine_table.name
    _part(table_dir / "date=2023-01-19", "old", "AQI=12.5 is not an integer", None, with_detail=False)
    if newer_part:
        _part(
            table_dir / "date=2023-01-20",
            "new",
            "aqi_not_integer",
            "AQI=12.5 is not an integer",
            with_detail=True,
        )
    expected = {("AQI=12.5 is not an integer", None)}
    if newer_part:
        expected.add(("aqi_not_integer", "AQI=12.5 is not an integer"))
    con = duckdb.connect()
    select = select_sql(quarantine_table, str(table_dir / "*" / "*.parquet"))
    assert set(con.sql(f"SELECT reason, detail FROM ({select})").fetchall()) == expected
    assert con.sql(f"SELECT count(*) FROM ({select}) WHERE date = DATE '2023-01-19'").fetchall() == [(1,)]
    con.execute(export_ddl(Dialect.DUCKDB, str(tmp_path), schema="lake", tables=[quarantine_table]))
    assert set(con.sql(f'SELECT reason, detail FROM lake."{quarantine_table.name}"').fetchall()) == expected
