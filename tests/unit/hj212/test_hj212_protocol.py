"""parse_line / build_packet / acks: every reject reason, Flag, DataTime, 2005 mapping, UTF-8."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from ingest.hj212 import protocol
from ingest.hj212.crc import crc16_hj212_hex
from ingest.hj212.protocol import (
    REJECT_REASONS,
    Packet,
    Reject,
    build_ack_9011,
    build_ack_9014,
    build_frame,
    build_packet,
    parse_line,
    parse_lines,
    qn_rtn_for,
    split_lines,
)
from schemas.clock import BEIJING
from schemas.hj212_codes import CODE_2005_TO_2017, POLLUTANTS, QnRtn, pollutant
from schemas.source import QUARANTINE_REASONS

pytestmark = pytest.mark.unit

MN = "010000A8900016F000169DC0"
QN = "20160801085857223"


def seg_2017(cp: str = "DataTime=20240501120000;w01018-Rtd=12.5,w01018-Flag=N", flag: str = "5") -> str:
    return f"QN={QN};ST=32;CN=2011;PW=123456;MN={MN};Flag={flag};CP=&&{cp}&&"


def ok(line: bytes) -> Packet:
    r = parse_line(line)
    assert isinstance(r, Packet), r
    return r


def rej(line: bytes) -> Reject:
    r = parse_line(line)
    assert isinstance(r, Reject), r
    return r


# ------------------------------------------------------------------ accepted packets


def test_2017_packet_fields() -> None:
    p = ok(build_frame(seg_2017()))
    assert (p.qn, p.st, p.cn, p.pw, p.mn) == (QN, "32", "2011", "123456", MN)
    assert (p.flag, p.protocol_version, p.ack_wanted, p.split) == (5, 2017, True, False)
    assert p.data_time == datetime(2024, 5, 1, 12, 0, 0, tzinfo=BEIJING)
    assert p.items == {"w01018": {"Rtd": 12.5, "Flag": "N"}}
    assert p.pollutant_code_original == {}
    assert p.warnings == []
    assert p.crc == crc16_hj212_hex(seg_2017().encode())


@pytest.mark.parametrize(
    ("flag", "version", "ack", "split"),
    [
        ("4", 2017, False, False),
        ("5", 2017, True, False),
        ("8", 2025, False, False),
        ("9", 2025, True, False),
        ("0", 2005, False, False),
        ("1", 2005, True, False),
    ],
)
def test_flag_decoding(flag: str, version: int, ack: bool, split: bool) -> None:
    p = ok(build_frame(seg_2017(flag=flag)))
    assert (p.flag, p.protocol_version, p.ack_wanted, p.split) == (int(flag), version, ack, split)


def test_flag_absent_is_2005_style() -> None:
    p = ok(
        build_packet(
            st="32",
            cn="2011",
            mn="LD130133000015",
            data_time="20160824003817000",
            items={"B01": {"Rtd": 36.91}},
        )
    )
    assert (p.flag, p.protocol_version, p.ack_wanted, p.split, p.qn) == (None, 2005, False, False, None)


def test_flag_split_bit_requires_pnum_pno() -> None:
    p = ok(
        build_packet(
            qn=QN,
            st="32",
            cn="2011",
            mn=MN,
            flag=7,
            pnum=3,
            pno=2,
            data_time="20240501120000",
            items={"w01018": {"Rtd": 1.0}},
        )
    )
    assert (p.split, p.ack_wanted, p.pnum, p.pno) == (True, True, 3, 2)
    r = rej(build_frame(seg_2017(flag="6")))
    assert r.reason == "missing_field:PNUM"


def test_datatime_14_and_17_digits() -> None:
    p14 = ok(build_frame(seg_2017(cp="DataTime=20160824003817")))
    p17 = ok(build_frame(seg_2017(cp="DataTime=20160824003817123")))
    assert p14.data_time == datetime(2016, 8, 24, 0, 38, 17, tzinfo=BEIJING)
    assert p17.data_time == datetime(2016, 8, 24, 0, 38, 17, 123000, tzinfo=BEIJING)
    assert p17.data_time is not None
    assert p17.data_time.utcoffset() == timedelta(hours=8)
    assert p17.data_time.astimezone(UTC) == datetime(2016, 8, 23, 16, 38, 17, 123000, tzinfo=UTC)


def test_2005_style_codes_map_to_2017_keeping_original() -> None:
    line = (
        b"##0139ST=32;CN=2011;PW=123456;MN=LD130133000015;CP=&&DataTime=20160824003817000;"
        b"B01-Rtd=36.91;011-Rtd=231.0,011-Flag=N;060-Rtd=1.803,060-Flag=N&&4980\r\n"
    )
    p = ok(line)
    assert p.protocol_version == 2005
    assert p.items == {
        "w00000": {"Rtd": 36.91},
        "w01018": {"Rtd": 231.0, "Flag": "N"},
        "w21003": {"Rtd": 1.803, "Flag": "N"},
    }
    assert p.pollutant_code_original == {"w00000": "B01", "w01018": "011", "w21003": "060"}
    assert "mn_not_24_hex" in p.warnings


def test_2005_mapping_table_matches_domain() -> None:
    assert dict(CODE_2005_TO_2017) == {
        "B01": "w00000",
        "001": "w01001",
        "003": "w01012",
        "010": "w01017",
        "011": "w01018",
        "065": "w21001",
        "060": "w21003",
        "101": "w21011",
        "080": "w22001",
        "B02": "a00000",
        "S02": "a01011",
        "S03": "a01012",
        "S08": "a01013",
        "S05": "a01014",
        "S01": "a19001",
        "02": "a21026",
        "03": "a21002",
        "04": "a21005",
        "01": "a34013",
    }
    assert POLLUTANTS["w01018"].cou_unit == "kg"
    cod = pollutant("011")
    assert cod is not None
    assert cod.code == "w01018"


def test_flue_gas_2005_with_duplicate_flag_keys_first_wins() -> None:
    seg = (
        "ST=31;CN=2011;PW=123456;MN=LD130182000052;CP=&&DataTime=20160823234320000;"
        "01-Rtd=1.5,01-Flag=N;01-ZsRtd=2.5,01-Flag=D;S01-Rtd=20.4,S01-Flag=N&&"
    )
    p = ok(build_frame(seg))
    assert p.items["a34013"] == {"Rtd": 1.5, "Flag": "N", "ZsRtd": 2.5}
    assert p.items["a19001"] == {"Rtd": 20.4, "Flag": "N"}
    assert "duplicate_key:01-Flag=D" in p.warnings  # the value not taken, kept in the warning


def test_facility_states_and_extra() -> None:
    seg = seg_2017(cp="DataTime=20240501120000;SB1-RS=1,SB1-RT=23.5;SB2-RS=4;RestartTime=20240501110000")
    p = ok(build_frame(seg))
    assert p.facilities == {"SB1": {"RS": 1, "RT": 23.5}, "SB2": {"RS": 4}}
    assert p.extra == {"RestartTime": "20240501110000"}
    assert p.items == {}


def test_other_suffixes_are_strings_and_other_fields_kept() -> None:
    seg = (
        f"QN={QN};ST=22;CN=2011;PW=123456;MN={MN};Flag=4;Vendor=x;CP=&&DataTime=20240501120000;"
        "w01008-SampleTime=20240501115900,w01008-Rtd=1.25,w01008-EFlag=E1,w01008-ValidNum=10&&"
    )
    p = ok(build_frame(seg))
    assert p.items["w01008"] == {"SampleTime": "20240501115900", "Rtd": 1.25, "EFlag": "E1", "ValidNum": "10"}
    assert p.fields == {"Vendor": "x"}


def test_chinese_utf8_length_and_crc_are_over_bytes() -> None:
    seg = seg_2017(cp="DataTime=20240501120000;Remark=烟气排放口一号;w01018-Rtd=3")
    line = build_frame(seg)
    assert int(line[2:6]) == len(seg.encode("utf-8")) != len(seg)
    p = ok(line)
    assert p.extra["Remark"] == "烟气排放口一号"
    # a length field counting characters instead of bytes is a length mismatch
    char_counted = b"##%04d" % len(seg) + line[6:]
    assert rej(char_counted).reason == "length_mismatch"


def test_mn_warning_not_reject() -> None:
    p = ok(build_packet(qn=QN, st="32", cn="2011", mn="ZG130182201205", flag=4, data_time="20240501120000"))
    assert p.warnings == ["mn_not_24_hex"]
    p = ok(build_packet(qn=QN, st="32", cn="2011", mn=MN.lower(), flag=4, data_time="20240501120000"))
    assert p.warnings == []


def test_require_tail_false_accepts_stripped_line() -> None:
    line = build_frame(seg_2017())
    assert isinstance(parse_line(line[:-2], require_tail=False), Packet)
    assert isinstance(parse_line(line[:-2] + b"\n", require_tail=False), Packet)
    assert isinstance(parse_line(line[:-1], require_tail=False), Packet)
    assert rej(line[:-2]).reason == "missing_tail"


def test_parse_never_raises_on_odd_inputs() -> None:
    for junk in [
        b"",
        b"\r\n",
        b"##",
        b"##\r\n",
        b"##0000\r\n",
        b"##0000FFFF\r\n",
        b"\xff\xfe\r\n",
        b"#" * 5000,
    ]:
        assert isinstance(parse_line(junk), Packet | Reject)
    assert isinstance(parse_line(bytearray(build_frame(seg_2017()))), Packet)  # type: ignore[arg-type]


# ------------------------------------------------------------------ every reject reason


def _frame_raw(seg: bytes) -> bytes:
    return build_frame(seg)


REJECT_CASES: list[tuple[str, bytes]] = [
    ("empty", b"\r\n"),
    ("empty", b""),
    ("bad_header", b"#0101QN=1\r\n"),
    ("bad_header", b"2BC0\r\n"),
    ("missing_tail", build_frame(seg_2017())[:-2]),
    ("missing_tail", build_frame(seg_2017())[:-2] + b"\n"),
    ("bad_length_field", b"##9ST=31;CN=2011&&ABCD\r\n"),
    ("bad_length_field", b"##01a1" + build_frame(seg_2017())[6:]),
    (
        "oversize",
        build_packet(qn=QN, st="32", cn="2011", mn=MN, flag=4, cp="x=" + "1" * 1100, check_size=False),
    ),
    ("length_mismatch", b"##0102" + build_frame(seg_2017())[6:]),
    ("length_mismatch", b"##0010AB\r\n"),
    ("bad_crc_field", build_frame(seg_2017())[:-6] + b"12G4\r\n"),
    ("crc_mismatch", build_frame(seg_2017())[:-6] + b"0000\r\n"),
    ("not_utf8", _frame_raw(seg_2017().encode().replace(b"DataTime", b"Data\xff\xfeme"))),
    ("missing_field:CP", _frame_raw(f"QN={QN};ST=32;CN=2011;PW=1;MN={MN};Flag=4".encode())),
    ("bad_field", _frame_raw(f"QN={QN};ST=32;CN;PW=1;MN={MN};Flag=4;CP=&&&&".encode())),
    (
        "bad_cp",
        _frame_raw(f"QN={QN};ST=32;CN=2011;PW=1;MN={MN};Flag=4;CP=&&DataTime=20240501120000".encode()),
    ),
    ("bad_cp", _frame_raw(seg_2017(cp="DataTime=20240501120000;w01018-Rtd").encode())),
    ("missing_field:ST", _frame_raw(f"QN={QN};CN=2011;PW=1;MN={MN};Flag=4;CP=&&&&".encode())),
    ("missing_field:CN", _frame_raw(f"QN={QN};ST=32;PW=1;MN={MN};Flag=4;CP=&&&&".encode())),
    ("missing_field:PW", _frame_raw(f"QN={QN};ST=32;CN=2011;MN={MN};Flag=4;CP=&&&&".encode())),
    ("missing_field:MN", _frame_raw(f"QN={QN};ST=32;CN=2011;PW=1;MN=;Flag=4;CP=&&&&".encode())),
    ("missing_field:QN", _frame_raw(f"ST=32;CN=2011;PW=1;MN={MN};Flag=5;CP=&&&&".encode())),
    ("missing_field:PNUM", _frame_raw(seg_2017(flag="7").encode())),
    ("missing_field:PNO", _frame_raw(seg_2017(flag="7").replace(";Flag=7", ";Flag=7;PNUM=2").encode())),
    ("bad_flag", _frame_raw(seg_2017(flag="x").encode())),
    ("bad_flag", _frame_raw(seg_2017(flag="256").encode())),
    ("bad_flag", _frame_raw(seg_2017(flag="12").encode())),  # version bits 3: unknown
    ("bad_split", _frame_raw(seg_2017(flag="7").replace(";Flag=7", ";Flag=7;PNUM=2;PNO=3").encode())),
    ("bad_split", _frame_raw(seg_2017(flag="7").replace(";Flag=7", ";Flag=7;PNUM=2;PNO=0").encode())),
    ("bad_datatime", _frame_raw(seg_2017(cp="DataTime=20241301120000").encode())),
    ("bad_datatime", _frame_raw(seg_2017(cp="DataTime=202405011200").encode())),
    ("bad_value", _frame_raw(seg_2017(cp="DataTime=20240501120000;w01018-Rtd=abc").encode())),
    ("bad_value", _frame_raw(seg_2017(cp="DataTime=20240501120000;w01018-Avg=nan").encode())),
    ("bad_value", _frame_raw(seg_2017(cp="DataTime=20240501120000;SB1-RS=on").encode())),
    # float() and int() read these, no logger writes them
    ("bad_value", _frame_raw(seg_2017(cp="DataTime=20240501120000;w01018-Rtd=1_5").encode())),
    ("bad_value", _frame_raw(seg_2017(cp="DataTime=20240501120000;w01018-Rtd= 7").encode())),
    ("bad_value", _frame_raw(seg_2017(cp="DataTime=20240501120000;w01018-Rtd=１２").encode())),
    ("bad_value", _frame_raw(seg_2017(cp="DataTime=20240501120000;SB1-RS=1_5").encode())),
    ("bad_value", _frame_raw(seg_2017(cp="DataTime=20240501120000;SB1-RT=2_0").encode())),
]


@pytest.mark.parametrize(("reason", "line"), REJECT_CASES)
def test_reject_reason(reason: str, line: bytes) -> None:
    r = rej(line)
    assert r.reason == reason, r.detail
    assert r.reason in QUARANTINE_REASONS  # labelled for the pages
    assert r.raw == line
    assert r.detail


def test_reject_reasons_are_the_documented_ones_and_every_one_a_stage_gives() -> None:
    """REJECT_REASONS (the registry's reasons, ``missing_field`` for each missing field) is what the
    docstring's tables document — parse_line's reasons and the later stages' (receiver, batch, source
    build) — and every missing field parse_line names is registered."""
    table_row = r"^``([a-z0-9_]+)[^`]*``(?:, ``([a-z0-9_]+)``)?  "  # a name, then the column's padding
    documented = re.findall(table_row, protocol.__doc__ or "", re.MULTILINE)
    assert {name for pair in documented for name in pair if name} == REJECT_REASONS
    assert {reason.partition(":")[0] for reason in QUARANTINE_REASONS} == REJECT_REASONS
    assert {reason.partition(":")[0] for reason, _ in REJECT_CASES} <= REJECT_REASONS
    assert set(protocol.MISSING_FIELDS.values()) == {
        r for r in QUARANTINE_REASONS if r.startswith("missing_field:")
    }


def test_reject_salvages_header_for_9011() -> None:
    r = rej(build_frame(seg_2017())[:-6] + b"0000\r\n")
    assert (r.qn, r.mn, r.pw, r.st, r.cn, r.flag) == (QN, MN, "123456", "32", "2011", 5)
    assert r.qn_rtn == QnRtn.CRC_ERROR == 9


@pytest.mark.parametrize(
    ("reason", "qn_rtn"),
    [
        ("crc_mismatch", 9),
        ("bad_crc_field", 9),
        ("bad_pw", 3),
        ("unknown_mn", 4),
        ("missing_field:MN", 4),
        ("missing_field:ST", 5),
        ("bad_flag", 6),
        ("missing_field:QN", 7),
        ("missing_field:CN", 8),
        ("length_mismatch", 2),
        ("bad_cp", 2),
        ("internal_error", 100),
    ],
)
def test_qn_rtn_mapping(reason: str, qn_rtn: int) -> None:
    assert qn_rtn_for(reason) == qn_rtn


# ------------------------------------------------------------------ acks and building


def test_ack_9014_same_qn() -> None:
    p = ok(build_frame(seg_2017()))
    ack = build_ack_9014(p)
    assert ack == build_frame(f"QN={QN};ST=91;CN=9014;PW=123456;MN={MN};Flag=4;CP=&&&&")
    a = ok(ack)
    assert (a.qn, a.st, a.cn, a.flag, a.ack_wanted, a.items) == (QN, "91", "9014", 4, False, {})
    p25 = ok(build_frame(seg_2017(flag="9")))
    assert ok(build_ack_9014(p25)).flag == 8


def test_ack_9011() -> None:
    ack = build_ack_9011(QN, 9, mn=MN, pw="123456")
    assert ack == build_frame(f"QN={QN};ST=91;CN=9011;PW=123456;MN={MN};Flag=4;CP=&&QnRtn=9&&")
    assert ok(ack).extra == {"QnRtn": "9"}


def test_annex_example_round_trip() -> None:
    line = build_packet(qn=QN, st="32", cn="1062", pw="100000", mn=MN, flag=5, cp="RtdInterval=30")
    assert line == (
        b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
        b"Flag=5;CP=&&RtdInterval=30&&1C80\r\n"
    )
    assert build_packet(
        qn=QN, st="32", cn="1062", pw="100000", mn=MN, flag=5, cp="RtdInterval=30", lowercase_crc=True
    ).endswith(b"1c80\r\n")


def test_build_packet_formats_and_oversize() -> None:
    line = build_packet(
        qn=QN,
        st="31",
        cn="2051",
        mn=MN,
        flag=4,
        data_time=datetime(2024, 5, 1, 4, 0, 0, 250000, tzinfo=UTC),
        millis=True,
        items={"a21026": {"Avg": 1e-7, "Max": 12, "Flag": "N"}},
        facilities={"SB1": {"RS": 1}},
    )
    assert b"DataTime=20240501120000250;a21026-Avg=0.0000001,a21026-Max=12,a21026-Flag=N;SB1-RS=1&&" in line
    p = ok(line)
    assert p.items["a21026"]["Avg"] == 1e-7
    with pytest.raises(ValueError, match="1024"):
        build_packet(st="32", cn="2011", mn=MN, cp="x=" + "1" * 1100)


def test_split_lines_and_parse_lines() -> None:
    a = build_frame(seg_2017())
    data = a + b"junk\n" + a + a[:-2]
    lines = split_lines(data)
    assert lines == [a, b"junk\n", a, a[:-2]]
    kinds = [type(r).__name__ if isinstance(r, Packet) else r.reason for r in parse_lines(lines)]
    assert kinds == ["Packet", "bad_header", "Packet", "missing_tail"]
