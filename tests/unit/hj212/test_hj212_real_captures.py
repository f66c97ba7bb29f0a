"""Real HJ 212 captures (../shared/data/hj212-real, see its README): every line whose framing,
length and CRC are correct is accepted; every damaged line is rejected with the reason an
independent check (recomputing length and CRC here) gives; totals are literal numbers."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import SHARED_DATA

from ingest.hj212.batch import parse_capture
from ingest.hj212.protocol import Packet, Reject, parse_line, parse_lines, split_lines

pytestmark = [pytest.mark.unit, pytest.mark.realdata]

DATA = SHARED_DATA / "hj212-real"
DAY = dt.date(2016, 8, 24)
if not DATA.is_dir():
    pytest.skip(
        f"real HJ 212 captures not found at {DATA} (../shared/data is absent)", allow_module_level=True
    )


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        v = byte
        for _ in range(8):
            v = (v >> 1) ^ 0xA001 if v & 1 else v >> 1
        table.append(v)
    return table


_TABLE = _crc_table()


def independent_crc(data: bytes) -> int:
    """Byte-table form of the standard's loop: crc = (crc >> 8) ^ b, then 8 shift/xor steps."""
    crc = 0xFFFF
    for b in data:
        crc = _TABLE[(crc >> 8) ^ b]
    return crc


def independent_reason(line: bytes) -> str:
    """Framing verdict recomputed from scratch, in parse_line's documented check order."""
    if line in (b"", b"\r\n", b"\n", b"\r"):
        return "empty"
    if line[:2] != b"##":
        return "bad_header"
    if line[-2:] != b"\r\n":
        return "missing_tail"
    if not all(48 <= c <= 57 for c in line[2:6]) or len(line) < 8:
        return "bad_length_field"
    declared = int(line[2:6].decode())
    if declared > 1024:
        return "oversize"
    segment = line[6:-6]
    if len(line) < 12 or len(segment) != declared:
        return "length_mismatch"
    crc_text = line[-6:-2].decode("latin-1")
    if any(c not in "0123456789abcdefABCDEF" for c in crc_text):
        return "bad_crc_field"
    if int(crc_text, 16) != independent_crc(segment):
        return "crc_mismatch"
    return "ok"


def load(name: str) -> list[bytes]:
    return split_lines(gzip.decompress((DATA / name).read_bytes()))


EXPECTED = {
    "2016-08-24T00.h212.gz": (
        9455,
        {"ok": 9447, "length_mismatch": 5, "bad_length_field": 1, "crc_mismatch": 1, "bad_header": 1},
    ),
    "2016-08-24T04.h212.gz": (8624, {"ok": 8622, "length_mismatch": 2}),
    "2016-08-24T05.h212.gz": (8698, {"ok": 8692, "length_mismatch": 3, "bad_header": 2, "missing_tail": 1}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_capture_line_by_line(name: str) -> None:
    lines = load(name)
    got: Counter[str] = Counter()
    verdicts = []
    for i, line in enumerate(lines):
        expected = independent_reason(line)
        verdicts.append(expected)
        r = parse_line(line)
        if expected == "ok":
            assert isinstance(r, Packet), (i, r)
            got["ok"] += 1
        else:
            assert isinstance(r, Reject), (i, line[:80])
            assert r.reason == expected, (i, r.detail)
            assert r.raw == line
            got[r.reason] += 1
    n_lines, totals = EXPECTED[name]
    assert len(lines) == n_lines
    assert dict(got) == totals
    # the many-line parser accounts for every line the same way: one result per line, in order
    batch = [r.reason if isinstance(r, Reject) else "ok" for r in parse_lines(lines)]
    assert batch == verdicts


def test_capture_content_2005_style() -> None:
    lines = load("2016-08-24T00.h212.gz")
    first = parse_line(lines[0])
    assert isinstance(first, Packet)
    assert (first.protocol_version, first.qn, first.flag, first.mn) == (2005, None, None, "LD130133000015")
    assert first.data_time is not None
    assert first.data_time.isoformat() == "2016-08-24T00:38:17+08:00"
    assert first.items == {
        "w00000": {"Rtd": 36.91},
        "w01018": {"Rtd": 231.0, "Flag": "N"},
        "w21003": {"Rtd": 1.803, "Flag": "N"},
    }
    packets = [p for p in parse_lines(lines) if isinstance(p, Packet)]
    cns = Counter(p.cn for p in packets)
    assert cns["2011"] > 4000
    assert cns["2021"] > 800
    assert {p.protocol_version for p in packets} == {2005}
    # facility states parsed from SBn-RS
    fac = next(p for p in packets if p.cn == "2021")
    assert fac.facilities["SB1"] == {"RS": 0}
    # ST=\x00\x00 with a valid CRC is accepted with a warning
    odd = [p for p in packets if p.st == "\x00\x00"]
    assert odd
    assert all("st_unknown" in p.warnings for p in odd)


def test_every_emitted_amount_has_its_unit() -> None:
    """The loggers send Cou (a period's emitted amount) for NOx, smoke, NH3-N and CO as well as COD
    and SO2: each gets its HJ 212-2017 annex B unit. Only the flue-gas state parameters (O2,
    velocity, temperature, pressure: no amount of them is emitted) and codes outside the table go
    without one."""
    unitless: Counter[str] = Counter()
    for path in sorted(DATA.glob("*.h212.gz")):
        batch = parse_capture(gzip.decompress(path.read_bytes()), segment=path.name, default_date=DAY)
        r = batch.readings
        cou = r.filter(pc.equal(r.column("stat"), "Cou"))
        assert {
            c: cou.filter(pc.equal(cou.column("pollutant_code"), c)).column("unit").unique().to_pylist()
            for c in ("a21002", "a34013", "w21003", "a21005", "w01018", "a21026")
        } == {
            "a21002": ["kg"],
            "a34013": ["kg"],
            "w21003": ["kg"],
            "a21005": ["kg"],
            "w01018": ["kg"],
            "a21026": ["kg"],
        }
        unitless.update(
            cou.filter(pc.is_null(cou.column("unit"))).column("pollutant_code_original").to_pylist()
        )
    assert dict(unitless) == {
        "S01": 162,
        "S03": 162,
        "S08": 162,
        "S02": 128,
        "S07": 22,
        "023": 144,
        "25": 22,
        "28": 22,
        "99": 22,
    }


def test_facility_states_are_readings() -> None:
    """The 2021 packets' SBn-RS values (a treatment facility off, running, in maintenance …) were
    parsed and dropped: no table held them. Each is a reading (stat RS, the facility as its code);
    the marts leave them out (integration tests)."""
    for path in sorted(DATA.glob("*.h212.gz")):
        data = gzip.decompress(path.read_bytes())
        packets = [p for p in parse_lines(split_lines(data)) if isinstance(p, Packet) and p.data_time]
        sent = Counter(
            (p.mn, f, stat) for p in packets for f, states in p.facilities.items() for stat in states
        )
        batch = parse_capture(data, segment=path.name, default_date=DAY)
        r = batch.readings.filter(pc.is_in(batch.readings.column("stat"), pa.array(["RS", "RT"])))
        kept = Counter(zip(r.column("mn").to_pylist(), r.column("pollutant_code").to_pylist(),
                           r.column("stat").to_pylist(), strict=True))  # fmt: skip
        assert sum(sent.values()) > 1000 and kept == sent, path.name
        assert set(pc.unique(r.column("cn")).to_pylist()) <= {"2021", "2041"}
        assert set(pc.unique(r.column("value")).to_pylist()) <= {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}
        assert r.column("flag").null_count == r.num_rows and r.column("unit").null_count == r.num_rows


def test_public_packets_tsv() -> None:
    rows = list(csv.DictReader((DATA / "public-packets.tsv").open(encoding="utf-8"), delimiter="\t"))
    assert len(rows) == 25
    got: Counter[str] = Counter()
    for row in rows:
        line = row["packet"].encode("utf-8") + b"\r\n"
        expected = independent_reason(line)
        r = parse_line(line)
        if row["crc_valid"] == "True":
            assert expected == "ok"
            assert isinstance(r, Packet), (row, r)
            got["ok"] += 1
        else:
            assert expected != "ok"
            assert isinstance(r, Reject), row
            assert r.reason == expected
            got[r.reason] += 1
    assert dict(got) == {"ok": 19, "crc_mismatch": 5, "oversize": 1}
