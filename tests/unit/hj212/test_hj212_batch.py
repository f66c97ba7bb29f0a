"""The vectorised batch path agrees with parse_line line by line, and reshapes packets to long format.

Agreement is checked by parsing the same lines twice — ``fast=True`` (vectorised, with parse_line as
fallback for what it does not recognise) and ``fast=False`` (every line through parse_line) — and
comparing the resulting tables row for row: on the real captures, on generated 2017-style packets
and on thousands of mutated ones (dropped/flipped bytes, odd numbers, repeated keys, split packets,
Chinese text, lower-case CRCs …).
"""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import random
from pathlib import Path

import pytest
from batch_tables import assert_same

from ingest.hj212 import batch
from ingest.hj212.batch import ParsedBatch, parse_capture, parse_lines_batch, parse_segment
from ingest.hj212.protocol import build_frame, build_packet
from ingest.hj212.segments import SegmentWriter, encode_record, format_received_at, iter_records, scan_records
from schemas.clock import BEIJING

pytestmark = pytest.mark.unit

DAY = dt.date(2026, 11, 20)
MN = "88883600000000000000014D"


def both(lines: list[bytes], **kw: object) -> tuple[ParsedBatch, ParsedBatch]:
    fast = parse_lines_batch(lines, segment="seg", default_date=DAY, **kw)  # type: ignore[arg-type]
    ref = parse_lines_batch(lines, segment="seg", default_date=DAY, fast=False)
    return fast, ref


# ------------------------------------------------------------------------------------------ real data


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "lines", "accepted", "quarantined"),
    [
        ("2016-08-24T00.h212.gz", 9455, 9447, 8),
        ("2016-08-24T04.h212.gz", 8624, 8622, 2),
        ("2016-08-24T05.h212.gz", 8698, 8692, 6),
    ],
)
def test_real_captures_agree_with_parse_line(
    shared_data: Path, name: str, lines: int, accepted: int, quarantined: int
) -> None:
    data = gzip.decompress((shared_data / "hj212-real" / name).read_bytes())
    fast = parse_capture(data, segment=name, default_date=dt.date(2016, 8, 24))
    ref = parse_capture(data, segment=name, default_date=dt.date(2016, 8, 24), fast=False)
    assert (fast.lines, fast.accepted, fast.quarantined) == (lines, accepted, quarantined)
    assert fast.fast > 0.98 * fast.lines  # the agreement is about the vectorised path, not the fallback
    assert_same(fast, ref)
    # several chunks (boundaries inside the file) give the same rows
    small = parse_capture(data, segment=name, default_date=dt.date(2016, 8, 24), chunk_bytes=64 << 10)
    assert_same(small, ref)


# ------------------------------------------------------------------------------------------ generated


def _packet_2017(rng: random.Random, i: int) -> bytes:
    when = dt.datetime(2026, 11, 20, 0, 0, tzinfo=BEIJING) + dt.timedelta(
        seconds=rng.randrange(86400 * 2) - 86400
    )
    cn = rng.choice(["2011", "2051", "2061", "2031", "2021", "8013", "9014"])
    st = rng.choice(["31", "32", "22", "91"])
    items: dict[str, dict[str, float | str]] = {}
    for code in rng.sample(
        ["w01018", "w00000", "a21026", "a34013", "a19001", "w21003", "x99999"], rng.randrange(1, 5)
    ):
        sub: dict[str, float | str] = {}
        for stat in rng.sample(["Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsAvg"], rng.randrange(1, 4)):
            sub[stat] = round(rng.uniform(-50, 5000), rng.randrange(0, 5))
        if rng.random() < 0.9:
            sub["Flag"] = rng.choice("NNNNNDMCTFSB")
        if rng.random() < 0.05:
            sub["ZsFlag"] = rng.choice("NC")
        items[code] = sub
    facilities = (
        {"SB1": {"RS": rng.randrange(6), "RT": round(rng.uniform(0, 24), 2)}} if cn == "2021" else None
    )
    return build_packet(
        qn=f"{when:%Y%m%d%H%M%S}{i % 1000:03d}" if rng.random() < 0.95 else None,
        st=st,
        cn=cn,
        mn=MN if rng.random() < 0.8 else f"LD{rng.randrange(10**12):012d}",
        flag=rng.choice([4, 5, 0, 1, 8, 9, None]),
        data_time=when if cn not in ("8013", "9014") else None,
        items=items,
        facilities=facilities,
        millis=rng.random() < 0.3,
        lowercase_crc=rng.random() < 0.1,
    )


_ODD_CP = [
    "DataTime=20261120103000;a21026-Rtd=1e3,a21026-Flag=N",  # exponent
    "DataTime=20261120103000;a21026-Rtd=+.5;a21026-Rtd=0.50",  # '+', repeated key, same value
    "DataTime=20261120103000;a21026-Rtd=1;a21026-Rtd=2",  # repeated key, different value: warning
    "DataTime=20261120103000;a21026-Rtd=1_000",  # python float accepts underscores: bad_value
    "DataTime=20261120103000;a21026-Rtd= 12",  # and spaces
    "abc",  # an item without '=' and nothing else (a heartbeat's CP too: see the CN=9014 header)
    "DataTime=20261120103000;a21026-Rtd=inf",
    "DataTime=20261120103000;a21026-Rtd=nan",
    "DataTime=20261120103000;a21026-Rtd=1e999",
    "DataTime=20261120103000;a21026-Rtd=",
    "DataTime=20261120103000;a21026-Rtd=-",
    "DataTime=20261120103000;a21026-Rtd=1.2.3",
    "DataTime=20261120103000;;a21026-Rtd=3",  # empty item
    "DataTime=20261120103000;a21026-Rtd=3;",
    "DataTime=20261120103000;a21026-Rtd=3=4",  # '=' in a value
    "DataTime=20261120103000;a21026",  # item without '='
    "DataTime=20261120103000;=5",  # empty key
    "DataTime=20261130103000;B01-Rtd=1;w00000-Cou=2",  # a code written 2005- and 2017-style
    "DataTime=20261120103000;011-Rtd=231.0,011-Flag=N;060-Rtd=1.8",  # 2005 codes
    "DataTime=20260230103000;a21026-Rtd=1",  # no such day
    "DataTime=2026112010300;a21026-Rtd=1",  # 13 digits
    "DataTime=20261120103000123;a21026-Rtd=1",  # millis
    "DataTime=00011231235959;a21026-Rtd=1",  # year 1
    "a21026-Rtd=1;DataTime=20261120103000;DataTime=garbage",  # later DataTime ignored
    "",  # CP=&&&& (data command without DataTime → quarantined)
    "SB1-RS=1.5;DataTime=20261120103000",  # facility state not an int
    "SB1-RS=007;SB1-RT=2.5;DataTime=20261120103000",
    "DataTime=20261120103000;a21026-Rtd=12,a21026-ZsRtd=14,a21026-Flag=N,a21026-ZsFlag=C",
    "DataTime=20261120103000;a21026-Rtd=1;备注=烟气",  # Chinese text
]

_ODD_HEADERS = [
    "QN=20261120103000001;ST=31;CN=2011;PW=123456;MN={mn};Flag=5",
    "ST=31;CN=2011;PW=123456;MN={mn}",  # 2005 style
    "QN=20261120103000001;ST=31;CN=2011;PW=123456;MN={mn};Flag=5;ST=32",  # duplicate field
    "QN=2026;ST=31;CN=2011;PW=123456;MN={mn};Flag=4",  # short QN
    "ST=31;CN=2011;PW=123456;MN={mn};Flag=4",  # 2017 without QN
    "QN=20261120103000001;ST=31;CN=2011;PW=123456;MN={mn};Flag=7;PNUM=2;PNO=1",  # split
    "QN=20261120103000001;ST=31;CN=2011;PW=123456;MN={mn};Flag=300",
    "QN=20261120103000001;ST=31;CN=2011;PW=123456;MN={mn};Flag=12",  # unknown version bits
    "QN=20261120103000001;ST=\x00\x00;CN=2011;PW=123456;MN={mn};Flag=5",
    "QN=20261120103000001;ST=31;CN=2011;PW=;MN={mn};Flag=5",  # empty PW
    "QN=20261120103000001;ST=31;CN=2011;PW=1,2;MN={mn};Flag=5",  # ',' in a header value
    "QN=1,MN=9;ST=31;CN=2011;PW=123456;Flag=5",  # ',' that looks like a separator
    "QN=20261120103000001;;ST=31;CN=2011;PW=123456;MN={mn};Flag=5",  # empty field
    "QN=20261120103000001;ST=31;CN=2011;PW=123456;MN={mn};Flag=5;EX=1",  # extra field
    "QN=20261120103000001;ST=91;CN=9014;PW=123456;MN={mn};Flag=4",  # not a data command
    "QN=20261120103000001;ST=31;CN=2011;PW=123456;MN={mn};Flag",  # field without '='
    "ST=31;CN=8013;PW=123456;MN={mn}",
]


def _mutate(rng: random.Random, line: bytes) -> bytes:
    r = rng.random()
    if r < 0.3:
        i = rng.randrange(len(line))
        return line[:i] + line[i + 1 :]  # dropped byte
    if r < 0.5:
        i = rng.randrange(len(line))
        return line[:i] + bytes([rng.randrange(256)]) + line[i + 1 :]  # flipped byte
    if r < 0.6:
        return line.rstrip(b"\r\n") + b"\n"  # bare LF
    if r < 0.7:
        return line[: rng.randrange(len(line))]  # truncated (no terminator)
    if r < 0.8:
        return b"\r\n"
    return line.replace(b"CP=", b"CP=&", 1)


def test_generated_and_mutated_lines_agree() -> None:
    rng = random.Random(212)
    lines: list[bytes] = []
    for i in range(1500):
        lines.append(_packet_2017(rng, i))
    for head, cp in itertools.product(_ODD_HEADERS, _ODD_CP):
        lines.append(build_frame(f"{head.format(mn=MN)};CP=&&{cp}&&"))
    lines.append(build_frame(f"CP=&&DataTime=20261120103000&&;ST=31;CN=2011;PW=1;MN={MN}"))  # starts with CP=
    for line in list(lines):
        lines.append(_mutate(rng, line))
    rng.shuffle(lines)
    fast, ref = both(lines, chunk_bytes=32 << 10)
    assert fast.fast > 1500
    assert_same(fast, ref)
    assert fast.lines == len(lines) == fast.accepted + fast.quarantined


# ------------------------------------------------------------------------------------------ shape


def test_long_format_readings_of_a_2017_minute_packet() -> None:
    line = build_packet(
        qn="20261120080100123",
        st="31",
        cn="2051",
        mn=MN,
        flag=5,
        data_time=dt.datetime(2026, 11, 20, 7, 50, tzinfo=BEIJING),  # 23:50 UTC the day before
        items={
            "a21026": {"Min": 10.5, "Avg": 12.25, "Max": 14.0, "Cou": 0.5, "ZsAvg": 15.0, "Flag": "N"},
            "a19001": {"Avg": 8.1, "Flag": "M"},
            "S02": {"Avg": 9.0},  # 2005 code for flue-gas velocity
        },
    )
    b = parse_lines_batch([line], segment="seg", default_date=DAY)
    assert (b.lines, b.accepted, b.quarantined, b.fast) == (1, 1, 0, 1)
    pk = b.packets.to_pylist()[0]
    assert pk["date"] == dt.date(2026, 11, 20)  # Beijing date, not the UTC one
    assert pk["data_at"] == dt.datetime(2026, 11, 19, 23, 50, tzinfo=dt.UTC)
    assert (pk["mn"], pk["st"], pk["cn"], pk["qn"], pk["flag"], pk["protocol_version"]) == (
        MN,
        "31",
        "2051",
        "20261120080100123",
        5,
        2017,
    )
    assert (pk["readings"], pk["warnings"], pk["segment"], pk["offset"]) == (7, None, "seg", 0)
    rows = {
        (r["pollutant_code"], r["stat"]): (r["value"], r["flag"], r["unit"], r["pollutant_code_original"])
        for r in b.readings.to_pylist()
    }
    assert rows == {
        ("a21026", "Min"): (10.5, "N", "mg/m³", "a21026"),
        ("a21026", "Avg"): (12.25, "N", "mg/m³", "a21026"),
        ("a21026", "Max"): (14.0, "N", "mg/m³", "a21026"),
        ("a21026", "Cou"): (0.5, "N", "kg", "a21026"),
        ("a21026", "ZsAvg"): (15.0, "N", "mg/m³", "a21026"),
        ("a19001", "Avg"): (8.1, "M", "%", "a19001"),
        ("a01011", "Avg"): (9.0, None, "m/s", "S02"),
    }
    assert b.readings.num_rows == 7
    assert set(b.readings.column("date").to_pylist()) == {dt.date(2026, 11, 20)}
    assert set(b.readings.column("cn").to_pylist()) == {"2051"}


@pytest.mark.parametrize("fast", [True, False])
def test_a_capture_led_by_a_utf8_bom_loses_no_packet(fast: bool) -> None:
    """Windows tools save a capture with a byte-order mark: the first packet starts after it (its
    raw location too); a BOM anywhere else is damage, and that line is quarantined."""
    first, second = (
        build_packet(
            qn=f"202611200{m}00000000",
            st="32",
            cn="2011",
            mn=MN,
            flag=4,
            data_time=dt.datetime(2026, 11, 20, 8, m, tzinfo=BEIJING),
            items={"w01018": {"Rtd": 12.5, "Flag": "N"}},
        )
        for m in (0, 1)
    )
    bom = b"\xef\xbb\xbf"
    b = parse_capture(bom + first + bom + second, segment="seg", default_date=DAY, fast=fast)
    assert (b.lines, b.accepted, b.quarantined) == (2, 1, 1)
    assert b.packets.column("offset").to_pylist() == [3]
    assert b.quarantine.column("offset").to_pylist() == [3 + len(first)]
    assert b.quarantine.column("reason").to_pylist() == ["bad_header"]
    plain = parse_capture(first, segment="seg", default_date=DAY, fast=fast)
    assert plain.accepted == 1
    assert b.readings.drop_columns(["offset"]).equals(plain.readings.drop_columns(["offset"]))


def test_data_command_without_datatime_is_quarantined_and_heartbeats_are_packets() -> None:
    lines = [
        build_packet(qn="20261120080100123", st="32", cn="2011", mn=MN, flag=4, cp=""),
        build_packet(qn="20261120080100124", st="32", cn="8013", mn=MN, flag=4, cp="HeartbeatTime=120"),
        b"##junk\r\n",
    ]
    fast, ref = both(lines)
    assert_same(fast, ref)
    assert fast.reasons == {"no_datatime": 1, "bad_length_field": 1}
    q = fast.quarantine.to_pylist()
    assert {r["reason"] for r in q} == {"no_datatime", "bad_length_field"}
    assert next(r for r in q if r["reason"] == "no_datatime")["mn"] == MN
    hb = fast.packets.to_pylist()
    assert [(p["cn"], p["data_at"], p["date"], p["readings"]) for p in hb] == [("8013", None, DAY, 0)]


def test_a_packet_dated_hours_after_its_receipt_is_quarantined_with_its_readings(tmp_path: Path) -> None:
    """A logger whose clock runs ahead: a packet dated over an hour after the receiver got it would
    open a partition in the future. Within the hour (drift) it is kept; capture files (no receipt
    time) are not judged. The fast and the reference path agree."""
    got = dt.datetime(2026, 11, 20, 10, 0, tzinfo=BEIJING)
    w = SegmentWriter(tmp_path, "r1", clock=got.timestamp)

    def packet(qn: str, at: dt.datetime) -> bytes:
        items = {"w01018": {"Rtd": 31.5, "Flag": "N"}, "w21003": {"Rtd": 1.2, "Flag": "N"}}
        return build_packet(qn=qn, st="32", cn="2011", mn=MN, flag=5, data_time=at, items=items)

    on_time = packet("20261120100000001", got)
    drifted = packet("20261120100000002", got + dt.timedelta(minutes=50))
    ahead = packet("20261120100000003", got.replace(year=2027))
    w.write_batch([(got.timestamp(), "ok", "10.0.0.1:5000", line) for line in (on_time, drifted, ahead)])
    path = w.close()
    assert path is not None
    fast = parse_segment(path.read_bytes(), segment=path.name, default_date=DAY)
    ref = parse_segment(path.read_bytes(), segment=path.name, default_date=DAY, fast=False)
    assert_same(fast, ref)
    assert (fast.lines, fast.accepted, fast.quarantined) == (3, 2, 1)
    assert fast.packets.column("qn").to_pylist() == ["20261120100000001", "20261120100000002"]
    assert fast.readings.num_rows == 4 and set(fast.readings.column("date").to_pylist()) == {DAY}
    (row,) = fast.quarantine.to_pylist()
    assert (row["reason"], row["mn"], row["cn"], row["qn"]) == (
        "data_time_ahead_of_receipt",
        MN,
        "2011",
        "20261120100000003",
    )
    assert row["date"] == DAY and row["raw_line"] == ahead.decode() and "8760.0 h after" in row["detail"]
    # the same line in a capture file: no receipt time, so kept in its claimed date
    capture = parse_capture(ahead, segment="capture", default_date=DAY)
    assert (capture.accepted, capture.quarantined) == (1, 0)


def test_a_split_packet_dated_ahead_of_its_receipt_is_quarantined_part_by_part(tmp_path: Path) -> None:
    """Only the first part carries DataTime; the later part takes it, so it is ahead too."""
    got = dt.datetime(2026, 11, 20, 10, 0, tzinfo=BEIJING)
    w = SegmentWriter(tmp_path, "r1", clock=got.timestamp)
    parts = [
        build_packet(
            qn="20271120100000001", st="32", cn="2061", mn=MN, flag=7, pnum=2, pno=pno,
            data_time=got.replace(year=2027) if pno == 1 else None, items={code: {"Avg": 1.0}},
        )
        for pno, code in ((1, "w01018"), (2, "w21003"))
    ]  # fmt: skip
    w.write_batch([(got.timestamp(), "ok", "10.0.0.1:5000", line) for line in parts])
    path = w.close()
    assert path is not None
    batch = parse_segment(path.read_bytes(), segment=path.name, default_date=DAY)
    assert (batch.accepted, batch.quarantined, batch.readings.num_rows) == (0, 2, 0)
    rows = batch.quarantine.to_pylist()
    assert [r["raw_line"] for r in rows] == [p.decode() for p in parts]
    assert {r["reason"] for r in rows} == {"data_time_ahead_of_receipt"}
    assert all("2027-11-20T10:00:00+08:00 is 8760.0 h after" in r["detail"] for r in rows)


def test_segment_records_keep_receipt_and_raw_location(tmp_path: Path) -> None:
    clock_t = [dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC).timestamp()]
    w = SegmentWriter(tmp_path, "r1", clock=lambda: clock_t[0])
    good = build_packet(
        qn="20261120100000001",
        st="32",
        cn="2011",
        mn=MN,
        flag=5,
        data_time=dt.datetime(2026, 11, 20, 10, 0, tzinfo=BEIJING),
        items={"w01018": {"Rtd": 31.5, "Flag": "N"}},
    )
    w.write_batch(
        [
            (clock_t[0] + 0.25, "ok", "10.0.0.1:5000", good),
            (clock_t[0] + 0.5, "unregistered", "10.0.0.2:6000", good),
        ]
    )
    path = w.close()
    assert path is not None
    data = path.read_bytes()
    b = parse_segment(data, segment=path.name, default_date=DAY)
    records = list(iter_records(path))
    assert b.packets.column("offset").to_pylist() == [r.offset for r in records]
    assert b.packets.column("received_at").to_pylist() == [r.received_at for r in records]
    assert b.packets.column("receiver_status").to_pylist() == ["ok", "unregistered"]
    assert b.packets.column("peer").to_pylist() == ["10.0.0.1:5000", "10.0.0.2:6000"]
    # a torn last record is ignored, as segments.iter_records does
    torn = parse_segment(
        data + b"2026-11-20T02:00:01.000000Z\tok\tp\t99\t##00", segment="x", default_date=DAY
    )
    assert torn.lines == 2
    # a receiver quarantine segment: every record is a quarantine row with the receiver's reason
    q = SegmentWriter(tmp_path / "q", "r1", kind="quarantine", clock=lambda: clock_t[0])
    q.write_batch(
        [
            (clock_t[0], "unknown_mn", "10.0.0.3:1", good),
            (clock_t[0], "crc_mismatch", "p", good[:-6] + b"0000\r\n"),
        ]
    )
    qpath = q.close()
    assert qpath is not None
    qb = parse_segment(qpath.read_bytes(), segment=qpath.name, default_date=DAY, kind="quarantine")
    assert (qb.lines, qb.accepted, qb.quarantined) == (2, 0, 2)
    rows = qb.quarantine.to_pylist()
    assert [r["reason"] for r in rows] == ["unknown_mn", "crc_mismatch"]
    assert rows[0]["detail"] == "rejected by the receiver: unknown_mn" and rows[0]["mn"] == MN
    assert rows[1]["detail"].startswith("CRC sent 0000")
    assert rows[0]["date"] == DAY  # Beijing date of received_at (10:00 Beijing)


def test_later_parts_of_a_split_packet_take_the_first_parts_datatime_or_go_to_quarantine() -> None:
    """HJ 212-2017 §6.3.3: only the first part carries DataTime; readings of later parts are never
    published without a time, nor dropped uncounted."""
    when = dt.datetime(2026, 11, 20, 10, 0, tzinfo=BEIJING)

    def part(
        qn: str, pno: int, items: dict[str, dict[str, float]], *, data_time: dt.datetime | None
    ) -> bytes:
        return build_packet(
            qn=qn, st="32", cn="2061", mn=MN, flag=7, pnum=2, pno=pno, data_time=data_time, items=items
        )

    first = part("20261120100000001", 1, {"w01018": {"Avg": 40.0}}, data_time=when)
    second = part("20261120100000001", 2, {"w21003": {"Avg": 1.5}}, data_time=None)
    orphan = part("20261120100000002", 2, {"w21003": {"Avg": 9.9}}, data_time=None)
    batch = parse_capture(first + second + orphan, segment="cap", default_date=when.date())
    batch.check()
    assert (batch.accepted, batch.quarantined) == (2, 1)
    readings = batch.readings.select(["pollutant_code", "value", "data_at"]).to_pylist()
    assert {(r["pollutant_code"], r["value"]) for r in readings} == {("w01018", 40.0), ("w21003", 1.5)}
    assert {r["data_at"] for r in readings} == {when.astimezone(dt.UTC)}
    [q] = batch.quarantine.to_pylist()
    assert q["reason"] == "split_no_datatime" and q["qn"] == "20261120100000002"


def test_a_later_part_without_qn_is_quarantined_not_dated_by_another_hours_first_part() -> None:
    """A 2005 logger's split hourly packets carry no QN: parts 2 of 11 h and 12 h must not take 10 h's
    DataTime (the first first part in the file); nothing links them to their own first part."""
    mn = "LD130131000211"
    lines = []
    for hour in (10, 11, 12):
        when = f"20161120{hour:02d}0000"
        split = {"st": "32", "cn": "2061", "mn": mn, "flag": 2, "pnum": 2}
        lines.append(build_packet(**split, pno=1, data_time=when, items={"011": {"Avg": 10.0 * hour}}))  # type: ignore[arg-type]
        lines.append(build_packet(**split, pno=2, items={"060": {"Avg": 1.0 * hour}}))  # type: ignore[arg-type]
    fast, ref = both(lines)
    assert_same(fast, ref)
    assert (fast.accepted, fast.reasons) == (3, {"split_no_datatime": 3})
    readings = fast.readings.select(["pollutant_code", "value", "data_at"]).to_pylist()
    assert [(r["pollutant_code"], r["value"], r["data_at"].hour) for r in readings] == [
        ("w01018", 100.0, 2),
        ("w01018", 110.0, 3),
        ("w01018", 120.0, 4),
    ]  # Beijing 10, 11, 12 h in UTC
    assert all("without QN" in q["detail"] for q in fast.quarantine.to_pylist())


def test_a_later_part_takes_the_datatime_of_its_own_commands_first_part() -> None:
    """Parts link by MN, QN, CN and PNUM: a 2051 part 2 whose first part is missing does not take the
    DataTime of a 2061 packet with the same QN."""
    hourly = dt.datetime(2026, 11, 20, 10, 0, tzinfo=BEIJING)

    def part(cn: str, pno: int, when: dt.datetime | None) -> bytes:
        return build_packet(
            qn="20261120100000001", st="32", cn=cn, mn=MN, flag=7, pnum=2, pno=pno, data_time=when,
            items={"w01018": {"Avg": float(cn)}},
        )  # fmt: skip

    fast, ref = both([part("2061", 1, hourly), part("2051", 2, None), part("2061", 2, None)])
    assert_same(fast, ref)
    assert (fast.accepted, fast.reasons) == (2, {"split_no_datatime": 1})
    [q] = fast.quarantine.to_pylist()
    assert (q["cn"], q["reason"]) == ("2051", "split_no_datatime")


def test_an_empty_flag_is_no_flag_in_both_paths() -> None:
    """``w01018-Flag=`` is a sample without a flag (NULL, counted as N downstream), not a flag '' that
    no rule counts; an empty ZsFlag leaves the Zs statistic its pollutant's Flag."""
    when = dt.datetime(2026, 11, 20, 10, 0, tzinfo=BEIJING)
    lines = [
        build_packet(
            qn=f"2026112010{i:02d}00000",
            st="32",
            cn="2051",
            mn=MN,
            flag=4,
            cp=f"DataTime={(when + dt.timedelta(minutes=i)):%Y%m%d%H%M%S};{items}",
        )
        for i, items in enumerate(
            [
                "w01018-Avg=20.0,w01018-Flag=",
                "a34013-Avg=2.0,a34013-ZsAvg=3.0,a34013-Flag=D,a34013-ZsFlag=",
                "w01018-Avg=21.0,w01018-Flag=N",
            ]
        )
    ]
    fast, ref = both(lines)
    assert_same(fast, ref)
    assert fast.fast == 3  # the fast path itself, not only the reference path, reads them
    readings = fast.readings.select(["pollutant_code", "stat", "flag"]).to_pylist()
    assert [(r["pollutant_code"], r["stat"], r["flag"]) for r in readings] == [
        ("w01018", "Avg", None),
        ("a34013", "Avg", "D"),
        ("a34013", "ZsAvg", "D"),
        ("w01018", "Avg", "N"),
    ]


def _records_read(data: bytes) -> list[tuple[int, bytes, int, str, str]]:
    """The records the batch parser finds in a segment: (offset, raw line, receipt µs, status, peer)."""
    lines = batch._segment_lines(data)
    assert lines.received_us is not None and lines.status is not None and lines.peer is not None
    return list(
        zip(
            lines.offset.tolist(),
            [lines.line(i) for i in range(len(lines))],
            lines.received_us.tolist(),
            lines.status.to_pylist(),
            lines.peer.to_pylist(),
            strict=True,
        )
    )


def _records_scanned(data: bytes) -> list[tuple[int, bytes, int, str, str]]:
    """The same as segments.scan_records, the exact reader, reads them."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return [
        (r.offset, r.raw, (r.received_at - epoch) // dt.timedelta(microseconds=1), r.status, r.peer)
        for r in scan_records(data)[0]
    ]


def test_segment_records_are_the_exact_readers_whatever_the_damage() -> None:
    """Records found in C (their length prefixes chain them) are scan_records' on whole, torn and
    damaged segments: odd length fields that int() reads or refuses, tabs inside a raw line, a
    received_at of another length, a non-ASCII status; and on every prefix (a torn tail)."""
    at = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC).timestamp()
    line = build_packet(qn="20261120100000001", st="32", cn="2011", mn=MN, flag=5, cp="a\tb=1")
    plain = [encode_record(at + i, "ok", f"10.0.0.{i}:5000", line) for i in range(3)]
    head = f"{format_received_at(at)}\tok\tp\t".encode()
    length = str(len(line)).encode()
    damaged = {
        "plain": b"",
        **{
            f"length {field!r}": head + field + b"\t" + line + b"\n"
            for field in (b" " + length, b"+" + length, length[:1] + b"_" + length[1:], b"0" + length)
        },
        **{
            f"no length {field!r}": head + field + b"\t" + line + b"\n"
            for field in (b"x", b"", b"-1", b"9" * 20, str(len(line) + 1).encode())
        },
        "long received_at": b"0" + plain[0],
        "non-ASCII status": plain[0].replace(b"\tok\t", "\t正常\t".encode()),
        "bad received_at": plain[0].replace(b"2026-11-20", b"2026-13-20"),
        "no newline": plain[0][:-1] + b"x",
    }
    for name, middle in damaged.items():
        data = plain[0] + middle + plain[1] + plain[2]
        assert _records_read(data) == _records_scanned(data), name
    whole = b"".join(plain)
    for cut in range(len(whole) + 1):
        assert _records_read(whole[:cut]) == _records_scanned(whole[:cut]), cut
