"""The air release parser on tiny inline day files, one quirk at a time."""

from __future__ import annotations

import datetime as dt

import pytest

from ingest.air.parse import AirFileError, date_from_name, parse_day_file, parse_station_list
from schemas.air import RELEASE_TYPES, station_hourly

DAY = dt.date(2023, 1, 20)


def day_file(stations: list[str], rows: list[tuple[int, str, list[str]]], *, header_tail: str = "") -> bytes:
    lines = ["date,hour,type," + ",".join(stations) + header_tail]
    for hour, rtype, values in rows:
        lines.append(f"20230120,{hour},{rtype}," + ",".join(values))
    return ("\n".join(lines) + "\n").encode()


def full_hour(hour: int, stations: int, value: str = "10") -> list[tuple[int, str, list[str]]]:
    return [(hour, t, [value] * stations) for t in RELEASE_TYPES]


def test_clean_file_gives_one_row_per_station_hour_with_registry_names() -> None:
    data = day_file(["1001A", "1002A"], full_hour(0, 2) + full_hour(1, 2))
    p = parse_day_file(data, raw_file="f.csv", file_date=DAY)
    assert p.hourly.num_rows == 4
    assert {"pm25_ugm3", "co_24h_mgm3", "aqi_published", "observed_at"} <= set(p.hourly.column_names)
    assert "PM2.5" not in p.hourly.column_names
    row = p.hourly.to_pylist()[0]
    # hour 0 is stamped 00:00 Beijing time (the end of the day before's last hour), 16:00 UTC
    assert row["observed_at"] == dt.datetime(2023, 1, 19, 16, tzinfo=dt.UTC)
    assert row["station_code"] == "1001A"
    assert p.counts["station_hours_in"] == p.counts["station_hours_kept"] == 4
    assert p.quarantine.num_rows == 0


def test_bom_crlf_and_empty_trailing_header_names() -> None:
    data = day_file(["1001A"], [(h, t, ["5", "", ""]) for h in (0,) for t in RELEASE_TYPES], header_tail=",,")
    data = b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")
    p = parse_day_file(data, raw_file="f.csv", file_date=DAY)
    assert p.hourly.num_rows == 1
    assert p.hourly.column("pm25_ugm3").to_pylist() == [5.0]
    assert p.station_codes == ["1001A"]


def test_missing_hours_and_empty_cells() -> None:
    rows = full_hour(3, 2)
    rows = [(h, t, ["", "7"] if t == "PM10" else v) for h, t, v in rows]
    p = parse_day_file(day_file(["A", "B"], rows), raw_file="f.csv", file_date=DAY)
    assert p.counts["hours_present"] == 1
    by_station = {r["station_code"]: r for r in p.hourly.to_pylist()}
    assert by_station["A"]["pm10_ugm3"] is None
    assert by_station["B"]["pm10_ugm3"] == 7.0


def test_station_with_no_value_in_an_hour_has_no_row() -> None:
    rows = [(0, t, ["1", ""]) for t in RELEASE_TYPES]
    p = parse_day_file(day_file(["A", "B"], rows), raw_file="f.csv", file_date=DAY)
    assert p.hourly.column("station_code").to_pylist() == ["A"]
    assert p.counts["station_hours_in"] == 1


def test_duplicate_station_columns_merge_when_they_agree_and_quarantine_when_not() -> None:
    rows = [(0, t, ["4", "4", "1"]) for t in RELEASE_TYPES] + [(1, t, ["4", "", "1"]) for t in RELEASE_TYPES]
    rows[RELEASE_TYPES.index("NO2")] = (0, "NO2", ["4", "9", "1"])
    p = parse_day_file(day_file(["A", "A", "B"], rows), raw_file="f.csv", file_date=DAY)
    published = {(r["station_code"], r["observed_at"].hour) for r in p.hourly.to_pylist()}
    assert ("A", 17) in published  # hour 1: one copy empty, the other fills it
    assert ("A", 16) not in published  # hour 0: NO2 4 vs 9
    q = p.quarantine.to_pylist()
    assert len(q) == 1 and q[0]["station_code"] == "A" and q[0]["reason"] == "duplicate_column_disagrees"
    assert q[0]["detail"] == "NO2: duplicated station column disagrees"
    assert (
        p.counts["station_hours_in"] == p.counts["station_hours_kept"] + p.counts["station_hours_quarantined"]
    )


def test_non_numeric_and_negative_cells_quarantine_their_station_hour_with_reason() -> None:
    rows = [(0, t, ["3", "3", "3"]) for t in RELEASE_TYPES]
    rows[RELEASE_TYPES.index("SO2")] = (0, "SO2", ["3", "n/a", "3"])
    rows[RELEASE_TYPES.index("CO")] = (0, "CO", ["3", "3", "-1"])
    p = parse_day_file(day_file(["A", "B", "C"], rows), raw_file="raw/f.csv", file_date=DAY)
    assert p.hourly.column("station_code").to_pylist() == ["A"]
    q = {r["station_code"]: r for r in p.quarantine.to_pylist()}
    assert q["B"]["reason"] == "not_a_number" and "SO2='n/a' is not a number" in q["B"]["detail"]
    assert q["B"]["raw_value"] == "n/a"
    assert q["B"]["line_no"] == 2 + RELEASE_TYPES.index("SO2")
    assert q["C"]["reason"] == "impossible_value"
    assert "CO=-1.0 is not a possible concentration" in q["C"]["detail"]
    assert q["C"]["raw_file"] == "raw/f.csv"
    assert p.counts == {
        "lines_in": 15,
        "lines_quarantined": 0,
        "orphan_values_quarantined": 0,
        "station_hours_in": 3,
        "station_hours_kept": 1,
        "station_hours_quarantined": 2,
        "hours_present": 1,
    }


def test_bad_lines_are_quarantined_whole_with_reasons() -> None:
    rows = full_hour(0, 1)
    data = day_file(["A"], rows).decode()
    data += "20230120,25,PM2.5,1\n"  # hour out of range
    data += "20230120,1,NH3,1\n"  # unknown type
    data += "20230121,1,PM2.5,1\n"  # another day
    data += "20230120,0,PM2.5,2\n"  # second line for the same hour and type
    data += "20230120,1,PM2.5,1,2,3\n"  # wrong field count
    p = parse_day_file(data.encode(), raw_file="f.csv", file_date=DAY)
    reasons = {r["reason"]: r["detail"] for r in p.quarantine.to_pylist()}
    assert p.quarantine.num_rows == 5 and reasons.keys() == {
        "bad_hour", "unknown_type", "wrong_date", "duplicate_line", "malformed_line"
    }  # fmt: skip
    assert "hour '25'" in reasons["bad_hour"]
    assert "unknown type 'NH3'" in reasons["unknown_type"]
    assert reasons["wrong_date"] == "date '20230121' is not the file's date 20230120"
    assert "second line for hour 0 type PM2.5" in reasons["duplicate_line"]
    assert "6 fields, header has 4" in reasons["malformed_line"]
    assert p.counts["lines_in"] == 20 and p.counts["lines_quarantined"] == 5
    assert p.hourly.column("pm25_ugm3").to_pylist() == [10.0]  # the first line for hour 0 wins


def test_value_under_unnamed_header_column_is_quarantined_not_lost() -> None:
    rows = [(0, t, ["1", "9" if t == "PM10" else ""]) for t in RELEASE_TYPES]
    p = parse_day_file(day_file(["A"], rows, header_tail=","), raw_file="f.csv", file_date=DAY)
    q = p.quarantine.to_pylist()
    assert len(q) == 1 and q[0]["reason"] == "unnamed_column"
    assert q[0]["detail"] == "value under an unnamed column (field 5)"
    assert q[0]["release_type"] == "PM10" and q[0]["raw_value"] == "9.0"


def test_values_under_two_unnamed_columns_of_a_line_are_one_quarantine_row_naming_both() -> None:
    # the quarantine's key is (file, line, station): two rows of one line without a station repeat it
    rows = [(0, t, ["1", "7", "", "9"] if t == "SO2" else ["1", "", "", ""]) for t in RELEASE_TYPES]
    p = parse_day_file(day_file(["A"], rows, header_tail=",,,"), raw_file="f.csv", file_date=DAY)
    [q] = p.quarantine.to_pylist()
    assert q["reason"] == "unnamed_column" and q["raw_value"] == "7.0; 9.0"
    assert q["detail"] == "2 values under unnamed columns (fields 5, 7)"
    assert q["release_type"] == "SO2" and q["station_code"] is None
    assert p.counts["orphan_values_quarantined"] == 2


def test_fractional_published_aqi_is_untypeable() -> None:
    rows = [(0, t, ["1.5" if t == "AQI" else "1"]) for t in RELEASE_TYPES]
    p = parse_day_file(day_file(["A"], rows), raw_file="f.csv", file_date=DAY)
    assert p.hourly.num_rows == 0
    [q] = p.quarantine.to_pylist()
    assert q["reason"] == "aqi_not_integer" and q["detail"] == "AQI=1.5 is not an integer"


def test_date_comes_from_lines_when_the_name_has_none() -> None:
    p = parse_day_file(day_file(["A"], full_hour(0, 1)), raw_file="x.csv")
    assert p.date == DAY


def test_not_a_day_file_is_a_clear_error() -> None:
    with pytest.raises(AirFileError, match="expected date,hour,type"):
        parse_day_file(b"a,b,c\n1,2,3\n", raw_file="x.csv")
    with pytest.raises(AirFileError, match="no header"):
        parse_day_file(b"", raw_file="x.csv")


def test_date_from_name() -> None:
    assert date_from_name("/x/china_sites_20230120.csv.gz") == DAY
    assert date_from_name("stations.csv") is None


def test_station_list_quirks() -> None:
    text = (
        "\ufeff监测点编码,监测点名称,城市,经度,纬度,对照点\n"
        "1001A,万寿西宫,北京,116.3621,39.8784,N\n"
        "1002A,定陵(对照点),北京,-,,Y\n"
        "1001A,duplicate row,北京,1,1,N\n"
        "\n"
    )
    for encoding in ("utf-8", "gb18030"):
        t = parse_station_list(text.encode(encoding) if encoding == "utf-8" else text[1:].encode(encoding))
        rows = t.table.to_pylist()
        assert [r["station_code"] for r in rows] == ["1001A", "1002A"]
        assert rows[1]["longitude"] is None and rows[1]["latitude"] is None
        assert rows[1]["is_control_point"] is True
        assert rows[0]["station_name"] == "万寿西宫"


_STATION_HEADER = "监测点编码,监测点名称,城市,经度,纬度,对照点\n"


def test_station_list_rows_without_a_code_are_counted_not_lost() -> None:
    text = (
        _STATION_HEADER
        + "1001A,万寿西宫,北京,116.3621,39.8784,N\n"
        + ",定陵,北京,116.22,40.29,Y\n"
        + ",,,,,\n"  # no cell at all: not a row
        + "  ,东四,北京,116.417,39.929,N\n"
    )
    parsed = parse_station_list(text.encode())
    assert parsed.table.column("station_code").to_pylist() == ["1001A"]
    assert parsed.lines_without_code == [3, 5]
    assert parsed.counts == {
        "rows_in": 3,
        "rows_kept": 1,
        "rows_without_code": 2,
        "repeats_identical": 0,
        "repeats_contradicting": 0,
    }


def test_station_list_identical_repeat_is_counted_as_identical() -> None:
    """Identical by value: 116.36 and 116.360 are one longitude; '-', '' and 'nan' no latitude."""
    text = (
        _STATION_HEADER
        + "1001A,万寿西宫,北京,116.36,-,N\n"
        + "1002A,定陵,北京,116.22,NaN,Y\n"
        + "1001A,万寿西宫,北京,116.360,,n\n"
        + "1002A,定陵,北京,116.22,nan,Y\n"
    )
    parsed = parse_station_list(text.encode())
    assert parsed.table.column("station_code").to_pylist() == ["1001A", "1002A"]
    assert parsed.table.column("latitude").to_pylist() == [None, None]
    repeats = [(r.code, r.line, r.kept_line, r.differs) for r in parsed.repeats]
    assert repeats == [("1001A", 4, 2, ()), ("1002A", 5, 3, ())]
    assert parsed.contradicting == []
    assert parsed.counts["rows_in"] == 4 and parsed.counts["repeats_identical"] == 2


def test_station_list_contradicting_repeat_is_counted_and_named_and_the_first_row_wins() -> None:
    text = (
        _STATION_HEADER
        + "1001A,万寿西宫,北京,116.3621,39.8784,N\n"
        + "1001A,万寿西宫,北京,116.3621,39.8784,N\n"
        + "1001A,万寿西宫(新),北京,117.0,39.8784,N\n"
    )
    parsed = parse_station_list(text.encode())
    [kept] = parsed.table.to_pylist()
    assert kept["station_name"] == "万寿西宫" and kept["longitude"] == 116.3621
    assert [(r.line, r.differs) for r in parsed.repeats] == [(3, ()), (4, ("station_name", "longitude"))]
    assert [r.code for r in parsed.contradicting] == ["1001A"]
    assert parsed.counts == {
        "rows_in": 3,
        "rows_kept": 1,
        "rows_without_code": 0,
        "repeats_identical": 1,
        "repeats_contradicting": 1,
    }


def _registry_max(column: str) -> float:
    bound = station_hourly.column(column).max
    assert bound is not None
    return bound


def test_values_above_the_registry_maximum_are_quarantined_not_published() -> None:
    """Above the physical maximum the registry declares, a value would fail the day's blocking range
    check later and hold back every station-hour of the day: it is quarantined here instead."""
    co_max, pm25_max, aqi_max = (_registry_max(c) for c in ("co_mgm3", "pm25_ugm3", "aqi_published"))
    over = {"CO": ["1", str(co_max + 1), "1", "1"], "PM2.5": ["1", "1", str(pm25_max + 1), "1"]}
    over["AQI"] = ["1", "1", "1", str(aqi_max + 1)]
    at_limit = {"CO": str(co_max), "PM2.5": str(pm25_max), "AQI": str(int(aqi_max))}
    rows = [(0, t, [at_limit.get(t, "1"), *over.get(t, ["1"] * 4)[1:]]) for t in RELEASE_TYPES]
    p = parse_day_file(day_file(["A", "B", "C", "D"], rows), raw_file="f.csv", file_date=DAY)
    assert p.hourly.column("station_code").to_pylist() == ["A"]  # the maxima themselves are possible
    assert p.hourly.column("aqi_published").to_pylist() == [int(aqi_max)]
    assert {r["reason"] for r in p.quarantine.to_pylist()} == {"above_maximum"}
    reasons = {r["station_code"]: r["detail"] for r in p.quarantine.to_pylist()}
    assert f"CO={co_max + 1}" in reasons["B"] and "above" in reasons["B"] and "co_mgm3" in reasons["B"]
    assert f"PM2.5={pm25_max + 1}" in reasons["C"] and "pm25_ugm3" in reasons["C"]
    assert f"AQI={aqi_max + 1}" in reasons["D"] and "aqi_published" in reasons["D"]
    assert p.counts["station_hours_in"] == 4 and p.counts["station_hours_quarantined"] == 3


def test_an_aqi_beyond_int16_is_quarantined_not_a_crash() -> None:
    rows = [(0, t, ["40000" if t == "AQI" else "1", "1"]) for t in RELEASE_TYPES]
    p = parse_day_file(day_file(["A", "B"], rows), raw_file="f.csv", file_date=DAY)
    assert p.hourly.column("station_code").to_pylist() == ["B"]
    [q] = p.quarantine.to_pylist()
    assert q["station_code"] == "A" and q["reason"] == "above_maximum"
    assert "AQI=40000.0 is above 500" in q["detail"]


def test_number_cells_with_spaces_are_numbers_in_a_file_with_a_text_cell() -> None:
    """A text cell sends the file down the text path; there a padded number must not crash the day."""
    rows = [(0, t, [" 35", "35 ", "n/a" if t == "SO2" else "1"]) for t in RELEASE_TYPES]
    p = parse_day_file(day_file(["A", "B", "C"], rows), raw_file="f.csv", file_date=DAY)
    assert p.hourly.column("station_code").to_pylist() == ["A", "B"]
    assert p.hourly.column("pm25_ugm3").to_pylist() == [35.0, 35.0]
    assert [r["station_code"] for r in p.quarantine.to_pylist()] == ["C"]


@pytest.mark.parametrize("dirty", [False, True], ids=["numeric-file", "file-with-text-cell"])
@pytest.mark.parametrize("nan_text", ["nan", "NaN"])
def test_nan_text_in_a_cell_is_quarantined_on_either_path(nan_text: str, dirty: bool) -> None:
    """pyarrow reads the text nan as a float NaN, which looks like an empty cell: it is a value that
    is not a number, quarantined whether or not the file also holds other text."""
    rows = [
        (0, t, ["1", nan_text if t == "NO2" else "1", "n/a" if dirty and t == "SO2" else "1"])
        for t in RELEASE_TYPES
    ]
    rows += [
        (1, t, ["", nan_text if t == "PM10" else "", ""]) for t in RELEASE_TYPES
    ]  # only a nan in the hour
    p = parse_day_file(day_file(["A", "B", "C"], rows), raw_file="f.csv", file_date=DAY)
    kept = {(r["station_code"], r["observed_at"].hour) for r in p.hourly.to_pylist()}
    assert ("B", 16) not in kept and ("B", 17) not in kept
    q = {(r["station_code"], r["line_no"]): r for r in p.quarantine.to_pylist()}
    no2 = q[("B", 2 + RELEASE_TYPES.index("NO2"))]
    assert f"NO2={nan_text!r} is not a number" in no2["detail"] and no2["raw_value"] == nan_text
    pm10 = q[("B", 17 + RELEASE_TYPES.index("PM10"))]
    assert f"PM10={nan_text!r} is not a number" in pm10["detail"]
    assert no2["reason"] == pm10["reason"] == "not_a_number"
    assert (
        p.counts["station_hours_in"] == p.counts["station_hours_kept"] + p.counts["station_hours_quarantined"]
    )
    assert p.counts["station_hours_in"] == 4  # A, B, C at hour 0 and B's nan at hour 1


def test_nan_text_under_an_unnamed_column_is_quarantined() -> None:
    rows = [(0, t, ["1", "nan" if t == "PM10" else ""]) for t in RELEASE_TYPES]
    p = parse_day_file(day_file(["A"], rows, header_tail=","), raw_file="f.csv", file_date=DAY)
    [q] = p.quarantine.to_pylist()
    assert q["reason"] == "unnamed_column" and q["release_type"] == "PM10"
    assert q["detail"] == "value under an unnamed column (field 5)"
    assert q["raw_value"] == "nan"


@pytest.mark.parametrize("dirty", [False, True], ids=["numeric-file", "file-with-text-cell"])
def test_a_number_reads_the_same_whatever_the_other_cells_of_its_file(dirty: bool) -> None:
    """'+5', '.5', '5.' and '5e0' are numbers to the fast path's CSV reader: the text path (taken when
    any cell is text) reads them alike, so no station depends on another's cell."""
    spelled = ["+5", ".5", "5.", "5e0"]
    rows = [
        (
            0,
            t,
            [*(spelled if t != "AQI" else ["5"] * 4), "n/a" if dirty and t == "SO2" else "1"],
        )  # AQI: whole
        for t in RELEASE_TYPES
    ]
    p = parse_day_file(day_file(["A", "B", "C", "D", "E"], rows), raw_file="f.csv", file_date=DAY)
    assert p.hourly.column("station_code").to_pylist() == (
        ["A", "B", "C", "D"] if dirty else ["A", "B", "C", "D", "E"]
    )
    assert p.hourly.column("pm25_ugm3").to_pylist()[:4] == [5.0, 0.5, 5.0, 5.0]


def test_bytes_that_are_not_utf8_are_read_or_refused_never_a_crash() -> None:
    """A day file a spreadsheet saved as "Unicode text" (UTF-16) reads as the original; a byte that is
    not UTF-8 in a cell quarantines that station-hour with its reason; a header that is not UTF-8
    refuses the file (AirFileError: blocked with the reason). Each was a UnicodeDecodeError or an
    ArrowInvalid that failed the unit, and every later run with it."""
    data = day_file(["1001A", "1002A"], full_hour(0, 2) + full_hour(1, 2))
    original = parse_day_file(data, raw_file="f.csv", file_date=DAY)
    for encoding in ("utf-16", "utf-16-be"):
        copy = data.decode().encode(encoding)
        if encoding == "utf-16-be":
            copy = b"\xfe\xff" + copy
        saved = parse_day_file(copy, raw_file="f.csv", file_date=DAY)
        assert saved.hourly.equals(original.hourly) and saved.counts == original.counts
    damaged = data.replace(b"20230120,1,PM2.5,10,", b"20230120,1,PM2.5,\xff1\xfe0,", 1)
    p = parse_day_file(damaged, raw_file="f.csv", file_date=DAY)
    [q] = p.quarantine.to_pylist()
    assert (q["station_code"], q["release_type"], q["raw_value"]) == ("1001A", "PM2.5", "\ufffd1\ufffd0")
    assert q["reason"] == "not_a_number" and "not a number" in q["detail"]
    assert (
        p.counts["station_hours_in"] == p.counts["station_hours_kept"] + p.counts["station_hours_quarantined"]
    )
    with pytest.raises(AirFileError, match="the header is not UTF-8 text"):
        parse_day_file("日期".encode("gbk") + data[4:], raw_file="f.csv", file_date=DAY)
