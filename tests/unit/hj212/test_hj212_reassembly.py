"""Split packets (Flag D bit, PNUM/PNO) joined by Reassembler."""

from __future__ import annotations

import pytest

from ingest.hj212.protocol import Packet, Reassembler, Reject, build_packet, parse_line, parse_lines

pytestmark = pytest.mark.unit

MN = "010000A8900016F000169DC0"


def part(pno: int, pnum: int = 3, qn: str = "20240501120000123", mn: str = MN) -> Packet:
    p = parse_line(
        build_packet(
            qn=qn,
            st="31",
            cn="2061",
            mn=mn,
            flag=7,
            pnum=pnum,
            pno=pno,
            data_time="20240501110000",
            items={f"a2100{pno}": {"Avg": float(pno), "Flag": "N"}},
            facilities={f"SB{pno}": {"RS": 1}},
        )
    )
    assert isinstance(p, Packet)
    return p


def test_parts_out_of_order_are_combined() -> None:
    ra = Reassembler(timeout=60)
    p1, p2, p3 = part(1), part(2), part(3)
    assert ra.add(p3, now=0.0) == []
    assert ra.add(p1, now=1.0) == []
    assert ra.add(p1, now=1.5) == []  # a repeated part is ignored
    assert len(ra) == 1
    (combined,) = ra.add(p2, now=2.0)
    assert isinstance(combined, Packet)
    assert combined.items == {
        "a21001": {"Avg": 1.0, "Flag": "N"},
        "a21002": {"Avg": 2.0, "Flag": "N"},
        "a21003": {"Avg": 3.0, "Flag": "N"},
    }
    assert combined.facilities == {"SB1": {"RS": 1}, "SB2": {"RS": 1}, "SB3": {"RS": 1}}
    assert combined.raw == p1.raw + p2.raw + p3.raw
    assert (combined.pnum, combined.pno, combined.split, combined.qn) == (3, None, True, p1.qn)
    assert combined.data_time == p1.data_time
    assert len(ra) == 0


def test_non_split_and_rejects_pass_through() -> None:
    ra = Reassembler()
    single = parse_line(
        build_packet(qn="20240501120000123", st="31", cn="2011", mn=MN, flag=5, data_time="20240501110000")
    )
    bad = parse_line(b"junk\r\n")
    assert ra.add(single) == [single]
    assert ra.add(bad) == [bad]


def test_groups_are_keyed_by_qn_and_mn() -> None:
    ra = Reassembler()
    assert ra.add(part(1, pnum=2, qn="20240501120000001"), now=0) == []
    assert ra.add(part(1, pnum=2, qn="20240501120000002"), now=0) == []
    assert ra.add(part(2, pnum=2, mn="AAAAAAAAAAAAAAAAAAAAAAAA"), now=0) == []
    assert len(ra) == 3
    (done,) = ra.add(part(2, pnum=2, qn="20240501120000002"), now=0)
    assert isinstance(done, Packet)
    assert done.qn == "20240501120000002"


def test_timeout_makes_split_incomplete_reject() -> None:
    ra = Reassembler(timeout=10)
    p1, p2 = part(1), part(2)
    ra.add(p1, now=0)
    ra.add(p2, now=5)
    out = ra.add(part(1, qn="20240501120000999"), now=10)
    assert len(out) == 1
    r = out[0]
    assert isinstance(r, Reject)
    assert r.reason == "split_incomplete"
    assert "[1, 2] of 3" in r.detail
    assert r.raw == p1.raw + p2.raw
    assert (r.qn, r.mn, r.cn) == (p1.qn, MN, "2061")
    assert len(ra) == 1
    assert [x.reason for x in ra.expire(now=100)] == ["split_incomplete"]


def test_max_groups_bounds_memory() -> None:
    ra = Reassembler(timeout=1e9, max_groups=2)
    for i in range(5):
        out = ra.add(part(1, qn=f"2024050112000{i:04d}"), now=i)
        assert len(ra) <= 2
        if i >= 2:
            assert [x.reason for x in out if isinstance(x, Reject)] == ["split_incomplete"]


def test_parse_lines_with_reassembly() -> None:
    lines = [part(2).raw, part(1).raw, part(3).raw, part(1, qn="20240501120000555").raw]
    out = list(parse_lines(lines, reassemble=True))
    assert [type(x).__name__ for x in out] == ["Packet", "Reject"]
    assert isinstance(out[1], Reject)
    assert out[1].reason == "split_incomplete"
