"""The simulated national air release: byte format, determinism, quirks, AQI row, rolling rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from dataclasses import replace
from fractions import Fraction

import pytest

from ecocloud.simulator.air import (
    Quirks,
    dropped_hours,
    generate_day,
    generate_day_labeled,
    station_list_csv,
)
from ecocloud.simulator.province import JIANGXI_CITIES, jiangxi_stations, national_stations

pytestmark = pytest.mark.unit

# The release's row order, written out here independently of schemas.air.
TYPES = [
    "AQI", "PM2.5", "PM2.5_24h", "PM10", "PM10_24h", "SO2", "SO2_24h", "NO2", "NO2_24h",
    "O3", "O3_24h", "O3_8h", "O3_8h_24h", "CO", "CO_24h",
]  # fmt: skip
DAY = dt.date(2023, 1, 20)
STATIONS = jiangxi_stations(0)
# Series-level faults on, file-level quirks off: parseable with plain csv, still gaps everywhere.
GAPPY = replace(Quirks.none(), missing_hours=True, empty_cells=True)


def parse(content: bytes) -> tuple[list[str], list[list[str]]]:
    text = content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


def series(content: bytes) -> dict[tuple[int, str], dict[str, str]]:
    """(hour, type) -> {station: cell} of a day file without duplicate columns."""
    header, rows = parse(content)
    codes = header[3:]
    return {(int(r[1]), r[2]): dict(zip(codes, r[3:], strict=True)) for r in rows}


# --------------------------------------------------------------------------------------------------
# format


def test_day_file_has_the_release_structure() -> None:
    content = generate_day(DAY, STATIONS, seed=0, quirks=Quirks.none())
    assert not content.startswith(b"\xef\xbb\xbf")
    assert content.endswith(b"\r\n")
    assert content.count(b"\r\n") == content.count(b"\n") == 1 + 24 * 15

    header, rows = parse(content)
    assert header == ["date", "hour", "type", *(s.code for s in STATIONS)]
    assert len(rows) == 24 * 15
    for h in range(24):
        block = rows[15 * h : 15 * (h + 1)]
        assert [r[2] for r in block] == TYPES
        assert {r[0] for r in block} == {"20230120"}
        assert {r[1] for r in block} == {str(h)}
    for r in rows:
        assert len(r) == len(header)
        pattern = r"(0|[1-9]\d*)(\.\d)?" if r[2] in ("CO", "CO_24h") else r"0|[1-9]\d*"
        for cell in r[3:]:
            assert re.fullmatch(pattern, cell), (r[:3], cell)
    co = [c for r in rows if r[2] == "CO" for c in r[3:]]
    assert any("." in c for c in co)
    assert not any(c.endswith(".0") for c in co)  # 1, not 1.0, as the release writes it
    assert all(cell != "" for r in rows for cell in r[3:])  # Quirks.none(): every cell filled


def test_station_list_format() -> None:
    stations = jiangxi_stations(0)
    header, rows = parse(station_list_csv(stations))
    assert header == ["监测点编码", "监测点名称", "城市", "经度", "纬度", "对照点"]
    unlisted = [s for s in stations if not s.listed]
    assert len(unlisted) == 1
    assert len(rows) == len(stations) - 1
    assert unlisted[0].code not in {r[0] for r in rows}
    by_code = {r[0]: r for r in rows}
    dash = [s for s in stations if s.list_coords == "dash"]
    empty = [s for s in stations if s.list_coords == "empty"]
    assert len(dash) == len(empty) == 1
    assert by_code[dash[0].code][3:5] == ["-", "-"]
    assert by_code[empty[0].code][3:5] == ["", ""]
    assert {r[5] for r in rows} == {"Y", "N"}
    assert sum(r[5] == "Y" for r in rows) == len(JIANGXI_CITIES)
    for r in rows:
        if r[3] not in ("", "-"):
            assert 113 < float(r[3]) < 119 and 24 < float(r[4]) < 31


def test_jiangxi_network() -> None:
    stations = jiangxi_stations(0)
    assert {c.name: c.region_code for c in JIANGXI_CITIES} == {
        "南昌": "360100", "景德镇": "360200", "萍乡": "360300", "九江": "360400", "新余": "360500",
        "鹰潭": "360600", "赣州": "360700", "吉安": "360800", "宜春": "360900", "抚州": "361000",
        "上饶": "361100",
    }  # fmt: skip
    assert [s.code for s in stations] == [f"J{i:03d}A" for i in range(1, len(stations) + 1)]
    centres = {c.name: c for c in JIANGXI_CITIES}
    for s in stations:
        c = centres[s.city]
        assert s.region_code == c.region_code
        assert abs(s.longitude - c.longitude) < 0.3 and abs(s.latitude - c.latitude) < 0.3
    for city in JIANGXI_CITIES:
        assert sum(s.control for s in stations if s.city == city.name) == 1
    assert stations == jiangxi_stations(0)
    assert stations != jiangxi_stations(1)
    clean = jiangxi_stations(0, unlisted=0, bad_coords=0)
    assert all(s.listed and s.list_coords == "value" for s in clean)


def test_national_network() -> None:
    stations = national_stations(2026, seed=0)
    codes = [s.code for s in stations]
    assert len(codes) == len(set(codes)) == 2026
    assert all(re.fullmatch(r"[K-Z]\d{3}A", c) for c in codes)  # real codes are digits before the A
    assert len({s.city for s in stations}) > 300
    assert len({s.region_code[:2] for s in stations}) == 31
    assert sum(not s.listed for s in stations) == 2
    assert sum(s.list_coords != "value" for s in stations) == 10
    assert all(73 < s.longitude < 136 and 3 < s.latitude < 54 for s in stations)
    assert len(national_stations(100, seed=0)) == 100


# --------------------------------------------------------------------------------------------------
# determinism


def test_same_seed_same_bytes() -> None:
    a = generate_day(DAY, STATIONS, seed=7)
    assert a == generate_day(DAY, STATIONS, seed=7)
    assert a != generate_day(DAY, STATIONS, seed=8)


def test_a_station_has_the_same_values_in_any_station_set() -> None:
    subset = STATIONS[5:9]
    small = series(generate_day(DAY, subset, seed=3, quirks=GAPPY))
    full = series(generate_day(DAY, STATIONS, seed=3, quirks=GAPPY))
    for key, cells in small.items():
        assert cells == {code: full[key][code] for code in cells}


def test_a_partial_day_is_a_prefix_of_the_full_day() -> None:
    full = generate_day(DAY, STATIONS, seed=0, quirks=GAPPY)
    partial = generate_day(DAY, STATIONS, seed=0, quirks=GAPPY, hours=range(11))
    assert full.startswith(partial)
    _, rows = parse(partial)
    assert {int(r[1]) for r in rows} <= set(range(11))


# --------------------------------------------------------------------------------------------------
# quirks


def test_no_quirks_when_disabled() -> None:
    for i in range(20):
        content, labels = generate_day_labeled(DAY + dt.timedelta(i), STATIONS, quirks=Quirks.none())
        assert labels.dropped_hours == () and labels.hours == tuple(range(24))
        assert labels.duplicated_station is None and labels.trailing_empty_columns == 0
        assert (labels.line_ending, labels.bom, labels.final_newline) == ("\r\n", False, True)
        assert b",," not in content and not content.endswith(b",\r\n")


def test_every_file_quirk_when_forced() -> None:
    content, labels = generate_day_labeled(DAY, STATIONS, quirks=Quirks.always())
    assert content.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" not in content and not content.endswith(b"\n")
    assert labels.bom and labels.line_ending == "\n" and not labels.final_newline
    header, rows = parse(content)
    k = labels.trailing_empty_columns
    assert 1 <= k <= 6
    assert header[-k:] == [""] * k and header[-k - 1] != ""
    assert all(len(r) == len(header) for r in rows)
    assert all(r[-k:] == [""] * k for r in rows)
    dup = labels.duplicated_station
    assert dup is not None and header.count(dup) == 2
    assert header[3:-k] == list(labels.columns)
    first, second = (i for i, c in enumerate(header) if c == dup)
    assert all(r[first] == r[second] for r in rows)


def test_truncated_last_line() -> None:
    content, labels = generate_day_labeled(
        DAY, STATIONS, quirks=replace(Quirks.none(), truncated_last_line=1.0)
    )
    assert labels.truncated and not labels.final_newline
    header, rows = parse(content)
    assert len(rows) == 24 * 15
    assert all(len(r) == len(header) for r in rows[:-1])
    assert 3 < len(rows[-1]) < len(header)


def test_default_quirks_show_each_kind_within_two_months() -> None:
    seen: dict[str, int] = {}
    for i in range(60):
        content, labels = generate_day_labeled(dt.date(2024, 1, 1) + dt.timedelta(i), STATIONS, seed=0)
        n = len(labels.columns)
        flags = {
            "lf": labels.line_ending == "\n",
            "crlf": labels.line_ending == "\r\n",
            "bom": labels.bom,
            "trailing_empty_header": labels.trailing_empty_columns > 0,
            "duplicate_column": labels.duplicated_station is not None,
            "no_final_newline": not labels.final_newline,
            "dropped_hours": bool(labels.dropped_hours),
            "empty_cells": any("" in r[3 : 3 + n] for r in parse(content)[1]),
        }
        for name, on in flags.items():
            seen[name] = seen.get(name, 0) + on
    assert all(seen.values()), seen
    assert seen["crlf"] > seen["lf"]  # CRLF is the release's own line end


def test_dropped_hours_are_absent_and_labelled() -> None:
    found = 0
    for i in range(120):
        day = dt.date(2023, 1, 1) + dt.timedelta(i)
        labels = generate_day_labeled(day, STATIONS[:3], quirks=GAPPY)[1]
        assert labels.dropped_hours == dropped_hours(day, seed=0, quirks=GAPPY)
        assert sorted(labels.hours + labels.dropped_hours) == list(range(24))
        if labels.dropped_hours:
            found += 1
            _, rows = parse(generate_day(day, STATIONS[:3], quirks=GAPPY))
            assert {int(r[1]) for r in rows} == set(labels.hours)
    assert found >= 3


def test_station_in_day_file_but_not_in_station_list() -> None:
    header, _ = parse(generate_day(DAY, STATIONS))
    listed = {r[0] for r in parse(station_list_csv(STATIONS))[1]}
    assert [c for c in header[3:] if c not in listed] == [s.code for s in STATIONS if not s.listed]


# --------------------------------------------------------------------------------------------------
# AQI row: ceil(max IAQI) of the row's 1-hour values, independently computed with exact fractions
# from DOMAIN.md §2 (PM on the 24-hour breakpoints, gases on the 1-hour ones).

LEVELS = [0, 50, 100, 150, 200, 300, 400, 500]
BP_2012 = {
    "SO2": [0, 150, 500, 650, 800],
    "NO2": [0, 100, 200, 700, 1200, 2340, 3090, 3840],
    "CO": [0, 5, 10, 35, 60, 90, 120, 150],
    "O3": [0, 160, 200, 300, 400, 800, 1000, 1200],
    "PM10": [0, 50, 150, 250, 350, 420, 500, 600],
    "PM2.5": [0, 35, 75, 115, 150, 250, 350, 500],
}
BP_2026 = {
    **BP_2012,
    "PM10": [0, 50, 120, 250, 350, 420, 500, 600],
    "PM2.5": [0, 35, 60, 115, 150, 250, 350, 500],
}


def iaqi(c: Fraction, bp: list[int]) -> Fraction | None:
    if c > bp[-1]:
        return None
    for i in range(1, len(bp)):
        if c <= bp[i]:
            return Fraction(LEVELS[i] - LEVELS[i - 1], bp[i] - bp[i - 1]) * (c - bp[i - 1]) + LEVELS[i - 1]
    return None


def expected_aqi(cells: dict[str, str], version: str) -> int | None:
    table = BP_2026 if version == "2026" else BP_2012
    scores: list[Fraction] = []
    for p, bp in table.items():
        if not cells[p]:
            continue
        c = Fraction(cells[p])
        if p == "SO2" and c > 800:  # release: left out (2012); counts as 200 (2026)
            if version == "2026":
                scores.append(Fraction(200))
            continue
        score = iaqi(c, bp)
        scores.append(Fraction(500) if score is None else score)  # off the table: capped at 500
    return math.ceil(max(scores)) if scores else None


@pytest.mark.parametrize(("day", "version"), [(dt.date(2017, 1, 3), "2012"), (dt.date(2026, 3, 2), "2026")])
def test_aqi_row_is_ceil_of_max_iaqi(day: dt.date, version: str) -> None:
    quirks = replace(GAPPY, so2_spike_rate=0.01)
    stations = national_stations(300, seed=1)
    content, labels = generate_day_labeled(day, stations, seed=1, quirks=quirks)
    assert labels.aqi_standard == f"HJ633-{version}"
    assert labels.so2_over_800 > 0
    data = series(content)
    checked = differs_by_version = 0
    for h in labels.hours:
        for code, published in data[(h, "AQI")].items():
            cells = {p: data[(h, p)][code] for p in BP_2012}
            want = expected_aqi(cells, version)
            if want is None:  # nothing scored: no AQI
                assert published == ""
            if published == "":  # station outage or a lone empty cell
                continue
            assert int(published) == want, (h, code, cells)
            checked += 1
            other = expected_aqi(cells, "2012" if version == "2026" else "2026")
            differs_by_version += other != want
    assert checked > 6000
    assert differs_by_version > 0  # the day exercises the version-specific breakpoints


# --------------------------------------------------------------------------------------------------
# rolling rows across the day boundary


def half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


def test_rolling_rows_are_consistent_across_days() -> None:
    stations = STATIONS
    days = [DAY - dt.timedelta(2), DAY - dt.timedelta(1), DAY]
    hourly: dict[str, dict[str, list[Fraction | None]]] = {}
    # seed 2: the day has a release outage of several hours, so some 8-hour O3 means lack data
    files = [series(generate_day(d, stations, seed=2, quirks=GAPPY)) for d in days]
    for p in ("PM2.5", "PM10", "SO2", "NO2", "O3", "CO"):
        hourly[p] = {}
        for s in stations:
            values: list[Fraction | None] = []
            for f in files:
                for h in range(24):
                    cell = f.get((h, p), {}).get(s.code, "")
                    values.append(Fraction(cell) if cell else None)
            hourly[p][s.code] = values

    def window(p: str, code: str, end: int, width: int) -> list[Fraction]:
        return [v for v in hourly[p][code][end - width + 1 : end + 1] if v is not None]

    checked = too_few_for_8h = 0
    today = files[2]
    for h in range(24):
        if (h, "AQI") not in today:
            continue
        i = 48 + h
        for s in stations:
            row = {t: today[(h, t)][s.code] for t in TYPES}
            for p in ("PM2.5", "PM10", "SO2", "NO2", "CO"):
                vals = window(p, s.code, i, 24)
                if row[f"{p}_24h"]:
                    mean = sum(vals, Fraction(0)) / len(vals)
                    want = Fraction(half_up(mean * 10), 10) if p == "CO" else half_up(mean)
                    assert Fraction(row[f"{p}_24h"]) == want, (h, s.code, p)
                    checked += 1
            o3 = window("O3", s.code, i, 24)
            if row["O3_24h"]:
                assert int(row["O3_24h"]) == max(o3)

            def o3_8h(end: int, code: str = s.code) -> int | None:
                vals = window("O3", code, end, 8)
                return half_up(sum(vals, Fraction(0)) / len(vals)) if len(vals) >= 6 else None

            if row["O3_8h"]:
                assert int(row["O3_8h"]) == o3_8h(i)
            elif row["O3_24h"] and o3_8h(i) is None:  # reporting, but < 6 of the last 8 hours have O3
                too_few_for_8h += 1
            if row["O3_8h_24h"]:
                eights = [v for v in (o3_8h(e) for e in range(i - 23, i + 1)) if v is not None]
                assert int(row["O3_8h_24h"]) == max(eights)
                checked += 1
    assert checked > 1000
    assert too_few_for_8h > 0


def test_rolling_rows_reach_into_the_previous_day() -> None:
    today = series(generate_day(DAY, STATIONS, seed=0, quirks=Quirks.none()))
    code = STATIONS[0].code
    at_midnight = int(today[(0, "PM2.5_24h")][code])
    assert at_midnight != int(today[(0, "PM2.5")][code])  # not a one-hour mean


# --------------------------------------------------------------------------------------------------
# shape


def test_seasonal_and_diurnal_shape() -> None:
    def mean(days: list[dt.date], p: str, hours: range) -> float:
        vals = []
        for d in days:
            f = series(generate_day(d, STATIONS, seed=0, quirks=Quirks.none()))
            vals += [float(v) for h in hours for v in f[(h, p)].values()]
        return sum(vals) / len(vals)

    winter = [dt.date(2023, 1, d) for d in (5, 12, 19, 26)]
    summer = [dt.date(2023, 7, d) for d in (5, 12, 19, 26)]
    assert mean(winter, "PM2.5", range(24)) > 1.5 * mean(summer, "PM2.5", range(24))
    assert mean(summer, "O3", range(24)) > 1.2 * mean(winter, "O3", range(24))
    assert mean(summer, "O3", range(13, 17)) > 2 * mean(summer, "O3", range(2, 6))
    assert mean(winter, "NO2", range(19, 23)) > 1.2 * mean(winter, "NO2", range(12, 16))
