"""The receiver's per-packet fast paths give exactly what the general code gives."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ingest.hj212.protocol import Packet, _reply_flag, build_ack_9014, build_packet, parse_line
from ingest.hj212.segments import AsyncSegmentLog, SegmentWriter, format_received_at, iter_records

MN = "010000A8900016F000169DC0"


@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))
def test_format_received_at_matches_datetime(epoch: float) -> None:
    assert format_received_at(epoch) == datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_format_received_at_rounding_edges() -> None:
    for epoch in (1_700_000_000.9999996, 1_700_000_000.0000004, 0.0, 1e9 + 5e-7, 59.9999995, 1.5e-6):
        assert format_received_at(epoch) == datetime.fromtimestamp(epoch, UTC).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"
        )


@given(
    qn=st.one_of(st.none(), st.from_regex(r"\A[0-9]{17}\Z")),
    pw=st.text(
        alphabet=st.characters(exclude_characters=";=&,\r\n", exclude_categories=["Cs"]),
        min_size=1,
        max_size=12,
    ),
    version=st.sampled_from([2005, 2017, 2025]),
    flag=st.one_of(st.none(), st.integers(0, 11)),
)
def test_build_ack_9014_equals_build_packet(qn: str | None, pw: str, version: int, flag: int | None) -> None:
    p = parse_line(
        build_packet(qn="20240501120000001", st="32", cn="2011", pw="123456", mn=MN, flag=5, cp="a=1")
    )
    assert isinstance(p, Packet)
    p = replace(p, qn=qn, pw=pw, protocol_version=version)
    expected = build_packet(
        qn=qn,
        st="91",
        cn="9014",
        pw=pw,
        mn=MN,
        flag=_reply_flag(version) if flag is None else flag,
        cp="",
    )
    assert build_ack_9014(p, flag=flag) == expected


def test_records_of_one_commit_share_a_future_and_land_in_order(tmp_path: Path) -> None:
    async def main() -> tuple[int, int]:
        w = SegmentWriter(tmp_path, "hot")
        sl = AsyncSegmentLog(w, group_commit_s=0.01)
        sl.start()
        futs = [sl.submit(1_700_000_000.0 + i, "ok", "p", b"line %d\r\n" % i) for i in range(50)]
        assert len({id(f) for f in futs}) == 1  # one future for the whole pending batch
        await futs[0]
        later = sl.submit(1_700_000_100.0, "ok", "p", b"late\r\n")
        assert later is not futs[0]
        await later
        commits = sl.commits
        await sl.close()
        return commits, sl.records

    commits, n = asyncio.run(main())
    assert (commits, n) == (2, 51)
    (seg,) = tmp_path.rglob("*.h212")
    assert [r.raw for r in iter_records(seg)] == [b"line %d\r\n" % i for i in range(50)] + [b"late\r\n"]
