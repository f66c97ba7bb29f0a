"""The C kernels of the HJ 212 fast path (ingest/hj212/_tokens.c) against plain-Python statements of
their contracts: numbers as ``float()`` reads them, ``key=value`` items off the special positions,
ids of distinct byte strings, a line's framing and header as ``parse_line`` reads them, repeated
keys, DataTime as ``datetime`` reads it, a receiver segment's records; and hostile arguments get a clear error, never a read out of bounds.
(The whole fast path is checked against the reference parser in test_hj212_batch.py.)"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.hj212 import _tokens
from ingest.hj212.batch import (
    _CLASS,
    _CRC_A,
    _CRC_INIT,
    _CRC_T,
    _INT_RE,
    _NUMBER_RE,
    _frames,
    _items,
    _numbers,
    _specials,
    _string_ids,
)
from ingest.hj212.protocol import BAD_CP, Packet, Reject, build_frame, parse_line
from ingest.hj212.segments import format_received_at

pytestmark = pytest.mark.unit


def _float_reference(text: str, pattern: str) -> float | None:
    """What the fast path may accept: the pattern matched and ``float()`` finite, else None."""
    if not re.fullmatch(pattern, text):
        return None
    value = float(text)
    return value if np.isfinite(value) else None


def _joined(pieces: list[bytes], pad: bytes = b"\0" * 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pieces one after another as a uint8 buffer (``pad`` after them), and each one's range."""
    ends = np.cumsum([len(p) for p in pieces], dtype=np.int64)
    starts = ends - np.array([len(p) for p in pieces], np.int64)
    return np.frombuffer(b"".join(pieces) + pad, np.uint8), starts, ends


def _read(texts: list[str], *, integers: bool) -> list[float | None]:
    data, starts, ends = _joined([t.encode("ascii") for t in texts])
    values, valid = _numbers(data, starts, ends, integers=integers)
    return [float(v) if ok else None for v, ok in zip(values, valid, strict=True)]


def _same_floats(got: list[float | None], want: list[float | None], texts: list[str]) -> None:
    for text, g, w in zip(texts, got, want, strict=True):
        # bit for bit: -0.0 is not 0.0, and the last bit of a rounding counts
        assert (g is None) == (w is None), text
        assert g is None or w is None or struct.pack("<d", g) == struct.pack("<d", w), (text, g, w)


def test_numbers_read_every_short_string_as_float_does() -> None:
    texts = ["".join(t) for n in range(6) for t in itertools.product("07.-+e", repeat=n)]
    _same_floats(_read(texts, integers=False), [_float_reference(t, _NUMBER_RE) for t in texts], texts)
    _same_floats(_read(texts, integers=True), [_float_reference(t, _INT_RE) for t in texts], texts)


_DECIMALS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: f"{x:.6f}"),
    st.from_regex(r"\A[+-]?[0-9]{0,25}\.?[0-9]{0,25}([eE][+-]?[0-9]{1,4})?\Z"),
    st.text(alphabet="0123456789.-+eE_ x", max_size=30),
)


@given(st.lists(_DECIMALS, max_size=20))
def test_numbers_agree_with_float_bit_for_bit(texts: list[str]) -> None:
    _same_floats(_read(texts, integers=False), [_float_reference(t, _NUMBER_RE) for t in texts], texts)


@given(st.lists(st.one_of(st.integers(-(10**17), 10**17).map(str), st.from_regex(r"\A[+-]?[0-9]{0,17}\Z"))))
def test_integers_agree_with_float(texts: list[str]) -> None:
    _same_floats(_read(texts, integers=True), [_float_reference(t, _INT_RE) for t in texts], texts)


def _items_reference(
    classes_of: dict[int, int], rs: list[int], re_: list[int]
) -> tuple[list[tuple[int, int, int, int]], list[bool]]:
    """Per region its specials, read as '=' d '=' d … '=' (d: ';' or ','); a region without any is
    regular only when empty (text without '=' is an item without its value: the reference decides)."""
    found, regular = [], []
    for r, (s, e) in enumerate(zip(rs, re_, strict=True)):
        inside = [p for p in sorted(classes_of) if s <= p < e]
        alternating = all((classes_of[p] == 3) == (j % 2 == 0) for j, p in enumerate(inside))
        regular.append(alternating and (len(inside) % 2 == 1 or s == e))
        for j in range(0, len(inside), 2):
            key_start = s if j == 0 else inside[j - 1] + 1
            value_end = e if j == len(inside) - 1 else inside[j + 1]
            found.append((r, key_start, inside[j], value_end))
    return found, regular


@given(
    text=st.text(alphabet="ab;,=", max_size=80),
    cuts=st.lists(st.tuples(st.integers(0, 80), st.integers(0, 80)), max_size=8),
)
def test_items_follow_the_specials_of_each_region(text: str, cuts: list[tuple[int, int]]) -> None:
    data = np.frombuffer(text.encode(), np.uint8)
    pos = np.flatnonzero(_CLASS[data] != 0).astype(np.int64)
    classes = _CLASS[data[pos]]
    bounds = [(min(a, b, len(text)), min(max(a, b), len(text))) for a, b in cuts]  # any order, may overlap
    rs = np.array([b[0] for b in bounds], np.int64)
    re_ = np.array([b[1] for b in bounds], np.int64)
    region, key_start, eq, value_end, regular = _items(pos, classes, rs, re_)
    want, want_regular = _items_reference(
        dict(zip(pos.tolist(), classes.tolist(), strict=True)), rs.tolist(), re_.tolist()
    )
    assert (
        list(zip(region.tolist(), key_start.tolist(), eq.tolist(), value_end.tolist(), strict=True)) == want
    )
    assert regular.tolist() == want_regular


def _classified_reference(data: bytes, table: np.ndarray) -> tuple[list[int], list[int]]:
    """Positions of the bytes the table classes nonzero, and those classes, byte by byte."""
    kept = [(i, int(table[b])) for i, b in enumerate(data) if table[b]]
    return [i for i, _ in kept], [c for _, c in kept]


# short inputs (the per-byte tail alone) and inputs spanning one to four 64-byte masks
@given(
    st.one_of(st.binary(max_size=63), st.binary(min_size=64, max_size=300)),
    st.binary(min_size=256, max_size=256),
)
def test_classify_keeps_every_byte_its_table_classes_nonzero(data: bytes, table_bytes: bytes) -> None:
    table = np.frombuffer(table_bytes, np.uint8)
    positions, classes = _tokens.classify(data, table)
    want_positions, want_classes = _classified_reference(data, table)
    assert np.frombuffer(positions, np.int64).tolist() == want_positions
    assert list(classes) == want_classes


@st.composite
def _small_set_tables(draw: st.DrawFn) -> np.ndarray:
    """Tables the kernel reads with SIMD compares: at most four marked ASCII values (classes drawn at
    random), and every non-ASCII byte marked or none — the fast path's table is one of them."""
    table = np.zeros(256, np.uint8)
    for value in draw(st.sets(st.integers(0, 127), max_size=4)):
        table[value] = draw(st.integers(1, 255))
    if draw(st.booleans()):
        table[128:] = draw(st.lists(st.integers(1, 255), min_size=128, max_size=128))
    return table


@given(_small_set_tables(), st.data())
def test_classify_with_a_small_set_table_keeps_the_same_bytes(table: np.ndarray, data: st.DataObject) -> None:
    # bytes drawn from the marked values and their neighbours, over one to four 64-byte masks and a tail
    alphabet = sorted({int(v) for v in np.flatnonzero(table[:128])} | {0, 1, 59, 60, 127, 128, 200, 255})
    raw = bytes(data.draw(st.lists(st.sampled_from(alphabet), min_size=64, max_size=300)))
    positions, classes = _tokens.classify(raw, table)
    want_positions, want_classes = _classified_reference(raw, table)
    assert np.frombuffer(positions, np.int64).tolist() == want_positions
    assert list(classes) == want_classes


@pytest.mark.parametrize("density", [0.0, 0.13, 1.0])
def test_classify_across_its_blocks_and_growth(density: float) -> None:
    # past several 64 KiB blocks: none, the captures' share (~13 %) or every byte special (the output
    # grows to the data's size)
    rng = np.random.default_rng(7)
    data = rng.choice(np.frombuffer(b"abcdef0123", np.uint8), 300_000)
    data[rng.random(len(data)) < density] = ord(";")
    data[rng.random(len(data)) < density / 10] = 0xE4  # non-ASCII bytes
    data[-1] = 0xE4  # a non-ASCII last byte
    positions, classes = _specials(data)
    want = np.flatnonzero(_CLASS[data] != 0)
    assert positions.tolist() == want.tolist()
    assert classes.tolist() == _CLASS[data[want]].tolist()


@given(st.lists(st.binary(max_size=24), max_size=60))
def test_string_ids_number_distinct_strings_in_order_of_first_appearance(keys: list[bytes]) -> None:
    keys = [k.replace(b"\x80", b"") for k in keys if k.isascii()] + [b"w01018-Avg", b"w01018-Avg"]
    data, starts, ends = _joined(keys)
    ids, names = _string_ids(data, starts, ends)
    first: dict[bytes, int] = {}
    for k in keys:
        first.setdefault(k, len(first))
    assert ids.tolist() == [first[k] for k in keys]
    assert names == [k.decode() for k in first]


def test_string_ids_keep_apart_many_keys_that_share_prefixes_and_lengths() -> None:
    keys = [f"a{i:05d}-Rtd".encode() for i in range(5000)] * 2  # the table grows several times
    data, starts, ends = _joined(keys, pad=b"")
    ids, names = _string_ids(data, starts, ends)
    assert ids.tolist() == list(range(5000)) * 2
    assert names[4321] == "a04321-Rtd"


def test_hostile_arguments_raise_instead_of_reading_out_of_bounds() -> None:
    data = b"w01018-Rtd=1.5"
    one = np.array([0], np.int64)
    past_end = np.array([len(data) + 1], np.int64)
    negative = np.array([-1], np.int64)
    kernels = (
        _tokens.string_ids,
        lambda d, s, e: _tokens.numbers(d, s, e, False),
        lambda d, s, e: _tokens.datatimes(d, s, e, False),
        lambda d, s, e: _tokens.datatimes(d, s, e, True),
    )
    for kernel in kernels:
        with pytest.raises(ValueError, match="outside the data"):
            kernel(data, one, past_end)
        with pytest.raises(ValueError, match="outside the data"):
            kernel(data, negative, one)
        with pytest.raises(ValueError, match="outside the data"):
            kernel(data, np.array([5], np.int64), np.array([4], np.int64))  # ends before it starts
        with pytest.raises(ValueError, match="differ in length"):
            kernel(data, one, np.array([1, 2], np.int64))
        with pytest.raises(ValueError, match="int64"):
            kernel(data, b"\0" * 7, b"\0" * 7)
    pos = np.array([10], np.int64)
    with pytest.raises(ValueError, match="must match"):
        _tokens.items(pos, b"", one, one)
    with pytest.raises(ValueError, match="ends before it starts"):
        _tokens.items(pos, b"\3", np.array([5], np.int64), np.array([4], np.int64))
    with pytest.raises(TypeError):
        _tokens.items("not a buffer", b"\3", one, one)
    with pytest.raises(ValueError, match="256 bytes"):
        _tokens.classify(data, _CLASS[:255])
    with pytest.raises(TypeError):
        _tokens.classify("not a buffer", _CLASS)


_HEADER_FIELDS = [  # per field, the values a header may carry (None: the field is left out)
    [None, "QN=20261120103000001", "QN=2026", "QN="],
    ["ST=31", "ST=32", "ST=", "ST=9Z", None],
    ["CN=2011", "CN=8013", None],
    ["PW=123456", "PW=1,2", "PW="],
    ["MN=88883600000000000000014D", "MN=LD12", "MN=88883600000000000000014g", "MN=8888360000000000000001烟"],
    [None, "Flag=5", "Flag=4", "Flag=7", "Flag=300", "Flag=12", "Flag=", "Flag=0", "Flag=9", "Flag=1"],
]
_HEADER_EXTRAS = [
    "PNUM=2",
    "EX=1",
    "ST=32",
    "QN=20261120103000002",
    "Flag=4",
    "QN",
    "",
    "=",
    "烟=1",
    "CP=&&x=1&&",
]


@st.composite
def _headers(draw: st.DrawFn) -> list[str]:
    """A header near a valid one: each field's value drawn (or left out), maybe an extra field, in
    any order."""
    pieces = [v for options in _HEADER_FIELDS if (v := draw(st.sampled_from(options))) is not None]
    pieces += draw(st.lists(st.sampled_from(_HEADER_EXTRAS), max_size=2))
    return draw(st.permutations(pieces))


@given(
    st.lists(_headers(), min_size=1, max_size=30),
    st.sampled_from(
        ["&&DataTime=20261120103000;a21026-Rtd=1&&", "&&&&", "&&x=1", "&x=1&&", "&&", "&&备注=烟气&&"]
    ),
    st.none() | st.integers(0, 10**6),
)
def test_frames_find_what_parse_line_reads_in_a_plain_line(
    headers: list[list[str]], cp: str, flip: int | None
) -> None:
    """A line ``frames`` calls good is one ``parse_line`` accepts without a warning about its header,
    with those field values; a well-formed 2017 header is good, and not with one byte of its data
    segment changed (the CRC catches every such change)."""
    lines = [build_frame(";".join(h) + ";CP=" + cp) for h in headers]
    lines.append(
        build_frame(
            "QN=20261120103000001;ST=31;CN=2011;PW=123456;MN=88883600000000000000014D;Flag=5;CP=" + cp
        )
    )
    if flip is not None:
        last = bytearray(lines[-1])
        last[6 + flip % (len(last) - 12)] ^= 0x20
        lines[-1] = bytes(last)
    arr, starts, ends = _joined(lines, pad=b"")  # no padding: the fast path passes a view of its chunk
    special, sclass = _specials(arr)
    good, cp_at, fields, flag, warn = _frames(arr, starts, ends, special, sclass)
    if len(cp) >= 4 and cp.startswith("&&") and cp.endswith("&&") and cp.isascii():
        assert good[-1] == (flip is None)
    for i in np.flatnonzero(good):
        line = arr[starts[i] : ends[i]].tobytes()
        assert line.isascii()  # the fast path reads bytes as ASCII text
        packet = parse_line(line)
        if isinstance(packet, Reject) and packet.reason == BAD_CP:
            # frames checks the CP's frame, not its items: a header item "CP=&&x=1&&" makes an item
            # without '=' of the CP the reference reads, which the item stage (regions) hands it
            assert b"CP=" in line[line.index(b";CP=") + 4 :], packet
            continue
        assert isinstance(packet, Packet), packet
        assert not [w for w in packet.warnings if w.startswith(("duplicate_field", "field"))]
        text = [
            None if f[0] < 0 else line[f[0] - starts[i] : f[1] - starts[i]].decode()
            for f in zip(fields[i, :6], fields[i, 6:], strict=True)
        ]
        assert text[:5] == [packet.qn, packet.st, packet.cn, packet.pw, packet.mn]
        assert (None if flag[i] < 0 else int(flag[i])) == packet.flag
        assert arr[cp_at[i] : cp_at[i] + 4].tobytes() == b";CP="
        assert bool(warn[i] & 1) == ("qn_format" in packet.warnings)
        assert bool(warn[i] & 2) == ("mn_not_24_hex" in packet.warnings)


def test_repeats_keep_first_tokens_and_mark_conflicting_rows() -> None:
    row = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2], np.int64)
    slot = np.array([0, 0, -1, 0, 0, 1, 1, 2, 2, -1], np.int64)
    value = np.array([1.5, 1.5, 9.0, 1.0, 2.0, 3.0, np.nan, 4.0, 4.0, 0.0])
    code = np.array([-1, -1, -1, -1, -1, -1, 0, 0, -1, -1], np.int64)
    raw = np.array([0, 0, 0, 0, 0, 0, 5, 6, 0, 0], np.int64)
    first, conflict = _tokens.repeats(row, slot, value, code, raw, 4, 3, 1)
    assert list(np.frombuffer(first, np.bool_)) == [
        True,
        False,
        True,
        True,
        False,
        True,
        True,
        True,
        False,
        True,
    ]
    # row 0: the same value twice; row 1: a different one; row 2: one code as two raw codes; row 3: none
    assert list(np.frombuffer(conflict, np.bool_)) == [False, True, True, False]
    first, conflict = _tokens.repeats(
        row[:2], slot[:2], np.array([np.nan, np.nan]), code[:2], raw[:2], 1, 1, 0
    )
    assert list(np.frombuffer(conflict, np.bool_)) == [True]  # NaN is not the value it repeats


def test_frames_and_repeats_refuse_hostile_arguments() -> None:
    data = build_frame("ST=31;CN=2011;PW=1;MN=2;CP=&&&&")
    one, none = np.array([0], np.int64), np.zeros(0, np.int64)
    end = np.array([len(data)], np.int64)
    tables = (_CRC_T, _CRC_A, _CRC_INIT)

    def frames(
        starts: object, ends: object, pos: object = none, classes: object = b"", t: object = tables
    ) -> object:
        return _tokens.frames(data, starts, ends, pos, classes, *t, 1024)  # type: ignore[misc]

    assert np.frombuffer(frames(np.array([0], np.int64), end)[0], np.bool_).tolist() == [False]  # no specials
    with pytest.raises(ValueError, match="outside the data"):
        frames(one, end + 1)
    with pytest.raises(ValueError, match="outside the data"):
        frames(end, one)
    with pytest.raises(ValueError, match="ascending positions inside"):
        frames(one, end, np.array([len(data)], np.int64), b"\1")
    with pytest.raises(ValueError, match="ascending positions inside"):
        frames(one, end, np.array([5, 3], np.int64), b"\1\1")
    with pytest.raises(ValueError, match="classes must match"):
        frames(one, end, np.array([5], np.int64), b"")
    with pytest.raises(ValueError, match="CRC tables"):
        frames(one, end, t=(_CRC_T[:255], _CRC_A, _CRC_INIT))
    rows = np.array([1, 0], np.int64)
    ok = np.zeros(2, np.int64)
    values = np.zeros(2)
    with pytest.raises(ValueError, match="non-decreasing"):
        _tokens.repeats(rows, ok, values, ok, ok, 2, 1, 0)
    with pytest.raises(ValueError, match="non-decreasing"):
        _tokens.repeats(ok, ok, values, ok, ok, 2, 1, 0)  # code 0 of none
    with pytest.raises(ValueError, match="non-decreasing"):
        _tokens.repeats(ok, np.array([0, 3], np.int64), values, -1 - ok, ok, 2, 1, 0)  # slot 3 of 1
    with pytest.raises(ValueError, match="one row, slot"):
        _tokens.repeats(ok, ok, values[:1], ok, ok, 2, 1, 1)


_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{6})Z")
_DATATIME = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{3})?")


def _datatime_reference(text: str, iso: bool = False) -> int | None:
    """µs since 1970 of a DataTime (14 or 17 digits) or, with ``iso``, of a segment's receive time
    (``YYYY-MM-DDTHH:MM:SS.ffffffZ``) as ``datetime`` reads it, else None."""
    match = (_ISO if iso else _DATATIME).fullmatch(text)
    if match is None:
        return None
    *fields, fraction = match.groups()
    micros = int(fraction) if iso else int(fraction or 0) * 1000
    try:
        when = dt.datetime(*map(int, fields), micros)  # type: ignore[misc]
    except ValueError:
        return None
    return (when - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)


_DATATIMES = st.one_of(
    st.datetimes(min_value=dt.datetime(1, 1, 1)).map(lambda t: f"{t:%Y%m%d%H%M%S}"),
    st.datetimes(min_value=dt.datetime(1, 1, 1)).map(
        lambda t: f"{t:%Y%m%d%H%M%S}{t.microsecond // 1000:03d}"
    ),
    st.from_regex(r"\A[0-9]{4}(0[0-9]|1[0-3])([0-3][0-9])([0-2][0-9])[0-6][0-9][0-6][0-9]([0-9]{3})?\Z"),
    st.text(alphabet="0123456789 x-", max_size=18),
)
_ISO_TIMES = st.one_of(
    st.datetimes(min_value=dt.datetime(1, 1, 1)).map(lambda t: t.isoformat(timespec="microseconds") + "Z"),
    st.floats(min_value=-6e10, max_value=2.5e11).map(format_received_at),  # as the receiver writes them
    st.from_regex(r"\A[0-9]{4}-(0[0-9]|1[0-3])-([0-3][0-9])T([0-2][0-9]):[0-6][0-9]:[0-6][0-9]\.[0-9]{6}Z\Z"),
    st.text(alphabet="0123456789-T:.Z x", max_size=28),
)


def _check_datatimes(texts: list[str], iso: bool = False) -> None:
    data, starts, ends = _joined([t.encode("ascii") for t in texts])
    us, valid = _tokens.datatimes(data, starts, ends, iso)
    pairs = zip(np.frombuffer(us, np.int64), np.frombuffer(valid, np.bool_), strict=True)
    assert [int(u) if ok else None for u, ok in pairs] == [_datatime_reference(t, iso) for t in texts]


@given(st.lists(_DATATIMES, max_size=30))
def test_datatimes_read_what_datetime_reads(texts: list[str]) -> None:
    _check_datatimes(texts)


@given(st.lists(_ISO_TIMES, max_size=30))
def test_iso_times_read_what_datetime_reads(texts: list[str]) -> None:
    _check_datatimes(texts, iso=True)


def test_datatimes_at_the_calendar_edges() -> None:
    _check_datatimes(
        ["00010101000000", "99991231235959999", "20240229120000", "20230229120000", "21000229000000",
         "20000229000000", "19691231235959", "20261120103000123", "20261131000000", "20261120240000",
         "20261120006000", "20261120000060", "00000101000000", "2026112010300", "202611201030001234"]
    )  # fmt: skip
    _check_datatimes(
        ["0001-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z", "2024-02-29T12:00:00.000001Z",
         "2023-02-29T12:00:00.000000Z", "1969-12-31T23:59:59.999999Z", "2026-11-20T24:00:00.000000Z",
         "0000-01-01T00:00:00.000000Z", "2026-11-20 10:30:00.000000Z", "2026-11-20T10:30:00.000000+",
         "2026-11-20T10:30:00.00000Z", "2026-11-20T10:30:00.0000000Z", "2026-11-20T10:30:00,000000Z",
         "2026-11-20T10:30:00.000000"],
        iso=True,
    )  # fmt: skip


def _records_walked(data: bytes, head_len: int) -> tuple[list[list[int]], int, int]:
    """records' contract in plain Python: (start, tab 1…4, newline) per record, where and why it stopped."""
    found: list[list[int]] = []
    pos = 0
    while pos < len(data):
        tabs = [pos - 1]
        for _ in range(4):
            tabs.append(data.find(b"\t", tabs[-1] + 1))
            if tabs[-1] < 0:
                return found, pos, 0
        field = data[tabs[3] + 1 : tabs[4]]
        if not re.fullmatch(rb"[0-9]{1,18}", field):
            return found, pos, 1
        end = tabs[4] + 1 + int(field)
        if end >= len(data) or data[end] != 10:
            return found, pos, 0
        if tabs[1] - pos != head_len:
            return found, pos, 2
        found.append([pos, *tabs[1:], end])
        pos = end + 1
    return found, pos, 0


@given(st.lists(st.sampled_from([b"\t", b"\n", b"0", b"1", b"3", b"x", b" ", b"-"]), max_size=60))
def test_records_walk_a_segment_as_its_contract_says(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    *columns, stop_at, stop = _tokens.records(data, 0, 1)
    found = np.array([np.frombuffer(c, np.int64) for c in columns]).reshape(6, -1).T.tolist()
    assert (found, stop_at, stop) == _records_walked(data, 1)


def test_records_refuse_a_start_outside_the_data() -> None:
    for start in (-1, 4):
        with pytest.raises(ValueError, match="outside the data"):
            _tokens.records(b"abc", start, 27)
    with pytest.raises(TypeError):
        _tokens.records("not a buffer", 0, 27)
