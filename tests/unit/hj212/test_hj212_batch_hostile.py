"""The batch parser on input a sender can make hostile or odd, and that parse_line accepts: it must
neither need memory beyond linear in the input, nor raise, nor answer differently by chunking."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import tracemalloc

import pytest
from batch_tables import assert_same, comparable

from ingest.hj212.batch import parse_capture, parse_lines_batch
from ingest.hj212.protocol import build_packet, parse_line
from schemas.clock import BEIJING

pytestmark = pytest.mark.unit

DAY = dt.date(2026, 11, 20)
MN = "88883600000000000000014D"


def packet(cp: str, *, qn: str = "20261120120000000", cn: str = "2011", flag: int = 5, **kw: object) -> bytes:
    return build_packet(qn=qn, st="32", cn=cn, mn=MN, flag=flag, cp=cp, **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ many codes


def _many_codes(hostile: int) -> list[bytes]:
    """1,500 ordinary packets and ``hostile`` ones that each send 38 codes no other packet uses
    (every other one with a Flag, every fifth with a ZsRtd and a ZsFlag)."""
    names = ("".join(t) for t in itertools.product("abcdefghijklmnopqrstuvwxyz", repeat=3))
    lines = [packet("DataTime=20261120120000;w01018-Rtd=1,w01018-Flag=N")] * 1500
    for _ in range(hostile):
        items = []
        for j in range(38):
            c = next(names)
            item = f"{c}-Rtd={j}"
            if j % 2:
                item += f",{c}-Flag=N"
            if j % 5 == 0:
                item += f",{c}-ZsRtd=2,{c}-ZsFlag=C"
            items.append(item)
        lines.append(packet("DataTime=20261120120000;" + ";".join(items), check_size=False))
    return lines


def test_packets_with_many_distinct_codes_need_memory_linear_in_the_items() -> None:
    """A rows × codes table of the chunk's flags is quadratic: 1,600 rows × 3,800 codes = 46 MiB
    for a 310 KB input (a 4 MB chunk: ~15 GiB, so a hostile sender's segment could never be
    ingested). The lookup must stay near linear and agree with parse_line."""
    lines = _many_codes(100)
    assert all(type(parse_line(x)).__name__ == "Packet" for x in lines[-100:])
    parse_lines_batch(lines[:10], segment="s", default_date=DAY)  # warm-up: first-call allocations
    tracemalloc.start()  # numpy's buffers are traced
    try:
        fast = parse_lines_batch(lines, segment="s", default_date=DAY)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert fast.fast == len(lines)  # the vectorised path decided every line
    assert peak < 20 << 20, f"peak {peak / 2**20:.1f} MiB for {sum(map(len, lines)) / 1e3:.0f} KB"
    ref = parse_lines_batch(lines, segment="s", default_date=DAY, fast=False)
    assert_same(fast, ref)
    flags = fast.readings.group_by(["stat", "flag"]).aggregate([]).to_pylist()
    assert {(r["stat"], r["flag"]) for r in flags} >= {("Rtd", "N"), ("Rtd", None), ("ZsRtd", "C")}


# ------------------------------------------------------------------------------------ year 1


def test_datatime_in_the_first_hours_of_year_1_converts_on_both_paths() -> None:
    """0001-01-01 00:00-07:59 Beijing is a valid DataTime for parse_line but before datetime.min in
    UTC: the reference path raised OverflowError (every rerun of the segment's ingest failed)."""
    epoch_us = (dt.datetime(1, 1, 1) - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)
    beijing_us = 8 * 3600 * 10**6
    cases = {
        "00010101000000": epoch_us - beijing_us,
        "00010101075959999": epoch_us + (7 * 3600 + 3599) * 10**6 + 999_000 - beijing_us,
        "00010101080000": epoch_us,
        "99991231235959": (dt.datetime(9999, 12, 31, 15, 59, 59) - dt.datetime(1970, 1, 1))
        // dt.timedelta(microseconds=1),
    }
    lines, expected = [], []
    for when, us in cases.items():
        lines.append(packet(f"DataTime={when};w01018-Rtd=1,w01018-Flag=N"))  # vectorised path
        # a repeated key with another value: the reference path (parse_line warns)
        lines.append(packet(f"DataTime={when};w01018-Rtd=1,w01018-Flag=N;w01018-Rtd=2"))
        expected += [us, us]
    fast = parse_lines_batch(lines, segment="s", default_date=DAY)
    ref = parse_lines_batch(lines, segment="s", default_date=DAY, fast=False)
    assert (fast.accepted, fast.fast, ref.accepted) == (len(lines), len(cases), len(lines))
    assert_same(fast, ref)
    for b in (fast, ref):
        got = comparable(b.packets).sort_by("offset")
        assert got.column("data_at").to_pylist() == expected
        assert got.column("date").to_pylist()[:4] == [dt.date(1, 1, 1)] * 4  # the Beijing date
        assert b.readings.num_rows == len(lines)


# ------------------------------------------------------------------------------------ split packets


def _part(qn: str, pno: int, *, pnum: int = 2, when: dt.datetime | None = None, value: float = 1.0) -> bytes:
    return build_packet(
        qn=qn,
        st="32",
        cn="2061",
        mn=MN,
        flag=7,
        pnum=pnum,
        pno=pno,
        data_time=when,
        items={f"w0{pno:04d}": {"Avg": value}},
    )


def test_a_later_part_whose_first_part_is_in_another_chunk_takes_its_datatime() -> None:
    """Both parts were acknowledged: the chunk boundary (every 4 MB) must not orphan the later one,
    in either order."""
    when = dt.datetime(2026, 11, 20, 11, 0, tzinfo=BEIJING)
    first = _part("20261120120000001", 1, when=when)
    second = _part("20261120120000001", 2)
    for data in (first + second, second + first):
        whole = parse_capture(data, segment="s", default_date=DAY)
        assert (whole.accepted, whole.quarantined) == (2, 0)
        one_each = parse_capture(data, segment="s", default_date=DAY, chunk_bytes=len(first) - 1)
        assert (one_each.accepted, one_each.quarantined, one_each.reasons) == (2, 0, {})
        assert set(one_each.readings.column("data_at").to_pylist()) == {when.astimezone(dt.UTC)}
        assert_same(one_each, whole)


def _split_corpus(rng: random.Random) -> list[bytes]:
    """Ordinary packets with split packets among them: parts in and out of order, far apart,
    repeated first parts with different DataTimes, orphans, first parts without DataTime."""
    base = dt.datetime(2026, 11, 20, 9, 0, tzinfo=BEIJING)
    lines = [
        packet(f"DataTime=20261120{h:02d}0000;w01018-Rtd={h},w01018-Flag=N", qn=f"20261120{h:02d}0000000")
        for h in range(24)
    ] * 40
    for g in range(60):
        qn = f"20261120130000{g:03d}"
        pnum = rng.randrange(2, 5)
        parts = [
            _part(qn, pno, pnum=pnum, when=base + dt.timedelta(minutes=g) if pno == 1 else None, value=g)
            for pno in range(1, pnum + 1)
        ]
        if g % 7 == 0:
            parts.append(_part(qn, 1, pnum=pnum, when=base + dt.timedelta(hours=5, minutes=g)))  # resent
        if g % 11 == 0:
            parts = parts[1:]  # first part never came: the others are orphans
        if g % 13 == 0:
            parts[0] = _part(qn, 1, pnum=pnum)  # a first part without DataTime (no_datatime)
        for p in parts:
            lines.insert(rng.randrange(len(lines) + 1), p)
    return lines


def test_split_packets_give_the_same_rows_whatever_the_chunk_size() -> None:
    lines = _split_corpus(random.Random(212))
    default = parse_lines_batch(lines, segment="s", default_date=DAY)
    assert default.reasons.keys() == {"split_no_datatime", "no_datatime"}
    for chunk_bytes in (1, 700, 4 << 10, 64 << 10):
        small = parse_lines_batch(lines, segment="s", default_date=DAY, chunk_bytes=chunk_bytes)
        assert_same(small, default)
        reference = parse_lines_batch(
            lines, segment="s", default_date=DAY, chunk_bytes=chunk_bytes, fast=False
        )
        assert_same(reference, default)


def test_lines_refused_before_their_header_is_read_still_name_their_logger() -> None:
    """A capture whose line ends were converted to LF: every line is refused (missing_tail) before its
    header is parsed, and the quarantine rows had no MN or CN to find a logger's rejects by."""
    lines = [
        build_packet(
            qn=f"2026112010{m:02d}00000", st="32", cn="2011", mn=f"MN{m:022d}", flag=5,
            data_time=dt.datetime(2026, 11, 20, 10, m, tzinfo=BEIJING), items={"w01018": {"Rtd": 1.0, "Flag": "N"}},
        ).replace(b"\r\n", b"\n")
        for m in range(3)
    ]  # fmt: skip
    parsed = parse_capture(b"".join(lines), segment="capture", default_date=DAY)
    q = parsed.quarantine.sort_by("offset")
    assert set(q.column("reason").to_pylist()) == {"missing_tail"} and q.num_rows == 3
    assert q.column("mn").to_pylist() == [f"MN{m:022d}" for m in range(3)]
    assert set(q.column("cn").to_pylist()) == {"2011"}
    assert q.column("qn").to_pylist() == [f"2026112010{m:02d}00000" for m in range(3)]
