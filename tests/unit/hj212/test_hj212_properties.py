"""Property tests: parse_line never raises; build -> parse round-trips."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ingest.hj212.protocol import Packet, Reject, build_frame, build_packet, parse_line
from schemas.clock import BEIJING
from schemas.hj212_codes import DATA_FLAGS, ST_CODES

pytestmark = pytest.mark.unit

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.binary(max_size=1500))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    for line in (data, b"##" + data, data + b"\r\n", b"##" + data + b"\r\n"):
        r = parse_line(line)
        assert isinstance(r, Packet | Reject)
        if isinstance(r, Reject):
            assert r.reason != "internal_error", r.detail


SEG_ALPHABET = st.sampled_from([*list("QNSTCPWMFlagPNUMO=;,&-0123456789abcdefABCDEF.DataTime"), "烟", "\x00"])


@SETTINGS
@given(st.lists(SEG_ALPHABET, max_size=300).map("".join), st.booleans())
def test_correctly_framed_garbage_never_raises(body: str, with_cp: bool) -> None:
    seg = body + (";CP=&&" + body[: len(body) // 2] + "&&" if with_cp else "")
    r = parse_line(build_frame(seg))
    assert isinstance(r, Packet | Reject)
    if isinstance(r, Reject):
        assert r.reason != "internal_error", r.detail
        assert r.reason not in {"crc_mismatch", "length_mismatch", "bad_header", "missing_tail"}


SAFE_TEXT = st.text(
    alphabet=st.sampled_from([*list("abcXYZ0123456789_.:"), "烟", "气", "口"]), min_size=1, max_size=12
)
CODES_2017 = st.builds(lambda c, n: f"{c}{n:05d}", st.sampled_from("aw"), st.integers(0, 99999))
FLOATS = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)
NUMERIC = ["Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax"]


@st.composite
def packets(draw: Any) -> dict[str, Any]:
    flag = draw(st.sampled_from([None, 0, 1, 4, 5, 8, 9]))
    qn = draw(st.from_regex(r"\A[0-9]{17}\Z")) if flag not in (None, 0, 1) else None
    millis = draw(st.booleans())
    dt = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
    dt = dt.replace(microsecond=(dt.microsecond // 1000) * 1000 if millis else 0, tzinfo=BEIJING)
    items: dict[str, dict[str, float | str]] = {}
    for code in draw(st.lists(CODES_2017, max_size=5, unique=True)):
        sub: dict[str, float | str] = {}
        for suffix in draw(st.lists(st.sampled_from(NUMERIC), min_size=1, max_size=4, unique=True)):
            sub[suffix] = draw(FLOATS)
        if draw(st.booleans()):
            sub["Flag"] = draw(st.sampled_from(sorted(DATA_FLAGS)))
        items[code] = sub
    facilities: dict[str, dict[str, float | int]] = {}
    for n in draw(st.lists(st.integers(1, 99), max_size=3, unique=True)):
        facilities[f"SB{n}"] = {"RS": draw(st.integers(0, 5)), "RT": draw(st.floats(0, 24))}
    extra = draw(
        st.dictionaries(
            st.from_regex(r"\A[A-Z][a-zA-Z]{1,8}\Z").filter(lambda k: k != "DataTime"), SAFE_TEXT, max_size=2
        )
    )
    return {
        "qn": qn,
        "st": draw(st.sampled_from(sorted(ST_CODES))),
        "cn": draw(st.sampled_from(["2011", "2051", "2061", "2031", "2021"])),
        "pw": draw(st.from_regex(r"\A[0-9A-Za-z]{1,24}\Z")),
        "mn": draw(st.from_regex(r"\A[0-9A-F]{24}\Z")),
        "flag": flag,
        "data_time": dt,
        "millis": millis,
        "items": items,
        "facilities": facilities,
        "extra": extra,
        "lowercase_crc": draw(st.booleans()),
    }


@SETTINGS
@given(packets())
def test_build_then_parse_round_trips(spec: dict[str, Any]) -> None:
    try:
        line = build_packet(**spec)
    except ValueError:
        assume(False)
        raise
    p = parse_line(line)
    assert isinstance(p, Packet), p
    assert (p.qn, p.st, p.cn, p.pw, p.mn, p.flag) == (
        spec["qn"],
        spec["st"],
        spec["cn"],
        spec["pw"],
        spec["mn"],
        spec["flag"],
    )
    version = {None: 2005, 0: 2005, 1: 2005, 4: 2017, 5: 2017, 8: 2025, 9: 2025}[spec["flag"]]
    assert p.protocol_version == version
    assert p.ack_wanted == bool(spec["flag"] and spec["flag"] & 1)
    assert p.data_time == spec["data_time"]
    assert p.items == spec["items"]
    assert p.facilities == spec["facilities"]
    assert p.extra == spec["extra"]
    assert p.pollutant_code_original == {}
    assert p.raw == line
    assert p.warnings == []
