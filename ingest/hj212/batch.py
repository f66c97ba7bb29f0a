"""Fast batch path: HJ 212 capture files and receiver segments → Arrow tables.

Output: the rows of ``core_source__packets``, ``core_source__readings`` and
``quarantine_source__packets`` (:mod:`schemas.source`) for one input, with ``lines`` = accepted +
quarantined.

Two paths, one answer
---------------------
:func:`ingest.hj212.protocol.parse_line` is the reference; this module must agree with it on every
line (tests check that line by line on the real captures and on generated/corrupted packets). The
fast path works on ~4 MB chunks of lines with numpy and seven C kernels (:mod:`ingest.hj212._tokens`;
an eighth, ``records``, finds a receiver segment's records) instead of on one line at a time:

1. the special bytes (``;`` ``,`` ``=``, non-ASCII) of a chunk are found once (``classify``);
2. framing — ``##``, 4-digit length = actual length (≤ 1024), CRLF, 4 hex CRC —, the CRC, the
   ``;CP=`` and the header fields of every line in one pass (``frames``): the HJ 212 CRC's state
   after the first n-1 bytes depends on the XOR of the bytes at each distance mod 8 from the end
   (see :mod:`ingest.hj212.crc`), so a line's CRC is a XOR of 64-bit words and eight table steps;
3. CP items by position arithmetic: in a well-formed CP the positions of ``=`` and of the
   separators (``;`` and ``,``) alternate, so every ``key=value`` is read off the sorted list of
   those positions without searching (``items``); keys are numbered by a hash table, compared byte
   for byte (``string_ids``), and classified once per distinct key with the protocol's own
   classifier; numbers are checked against a strict pattern and converted, correctly rounded
   (= Python's ``float``) (``numbers``); DataTime digits are converted and calendar-checked
   (``datatimes``); repeated keys and codes written two ways are found in one pass (``repeats``);
   string columns are built from per-chunk dictionaries.

A line takes the fast path only if it is *plainly* good: ASCII, a single ``;CP=&&…&&``, header keys
among QN ST CN PW MN Flag (each once), no split packet, every item exactly one ``key=value`` (no
empty item), numbers ``float()`` and Arrow read alike, a valid first DataTime, no repeated key with
a different value, no 2005 and 2017 form of one code in the same packet, no data command without
DataTime. Everything else — damaged lines, 2005 oddities, Chinese text, split packets — goes
through ``parse_line`` itself (``fallback`` in the counts), so rejects and warnings are exactly the
reference's. On the real captures 99.3 % of lines take the fast path.

Stage rules on top of the protocol: a data command (2011/2021/2031/2041/2051/2061) without DataTime
is quarantined (``no_datatime``); readings are the numeric items (Rtd, Min, Avg, Max, Cou, Zs*) of
packets with a DataTime; a reading's flag is its pollutant's ``Flag`` item (for Zs* statistics a
``ZsFlag`` item if the logger sent one); an empty one (``w01018-Flag=``) is no flag (NULL). Split packets (PNUM/PNO) are kept one row per part; a later
part without DataTime takes the DataTime of its first part (same MN, QN, CN and PNUM; the earliest
if sent again) anywhere in the same input — in whichever chunk —, and is quarantined
(``split_no_datatime``) when that first part is not there, or when it has no QN (2005 loggers):
without QN nothing tells which hour's first part it belongs to. A packet of a receiver segment dated
over an hour after its receipt (a clock running ahead) is quarantined with its readings
(``data_time_ahead_of_receipt``); capture files carry no receipt time.

This module uses private helpers of its siblings (``protocol._classify_key``, the CRC tables) and
``segments.scan_records`` as its fallback on purpose: the same code decides, so the two paths cannot
drift apart.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.hj212 import _tokens
from ingest.hj212 import crc as _crc
from ingest.hj212 import protocol as proto
from ingest.hj212.segments import RECEIVED_AT_LEN, scan_records
from ingest.numbers import PLAIN_INT, PLAIN_NUMBER
from schemas import source as schema
from schemas.clock import BEIJING_OFFSET_US, beijing_days
from schemas.hj212_codes import DATA_CNS, FACILITY_UNITS, POLLUTANTS, ST_CODES
from schemas.registry import Table

__all__ = [
    "CHUNK_BYTES",
    "ParsedBatch",
    "parse_capture",
    "parse_lines_batch",
    "parse_segment",
    "readings_from_packet",
]

CHUNK_BYTES = 4 << 20  # lines are processed in chunks of about this many bytes (cache-sized)
_US = 1_000_000

_NUMERIC_SUFFIXES = proto._NUMERIC_SUFFIXES
_K_NUM, _K_STR, _K_FACILITY, _K_DATATIME, _K_EXTRA = (
    proto._K_NUM,
    proto._K_STR,
    proto._K_FACILITY,
    proto._K_DATATIME,
    proto._K_EXTRA,
)

# ------------------------------------------------------------------------------------- tables

# byte classes: 1 ';'  2 ','  3 '='  4 non-ASCII
_CLASS = np.zeros(256, np.uint8)
_CLASS[ord(";")], _CLASS[ord(",")], _CLASS[ord("=")] = 1, 2, 3
_CLASS[128:] = 4
_NEWLINE = np.zeros(256, np.uint8)  # a class table marking only b"\n" (line ends)
_NEWLINE[10] = 1
_CRC_T = np.array(_crc._T, np.uint16)
_CRC_A = np.array(_crc._A, np.uint8)  # (8, 256)
_CRC_INIT = np.array(_crc._INIT, np.uint8)

# the header fields _tokens.frames returns, in its order
_QN, _ST, _CN, _PW, _MN, _FLAG = range(6)
_VERSION = np.array([2005, 2017, 2025], np.int16)

# Strict numbers: what _tokens.numbers reads as Python's float() does — the reference parser's own
# grammar (ingest.numbers; the C kernel checks these patterns itself, they are its contract). Anything
# else takes the reference path.
_NUMBER_RE = f"^{PLAIN_NUMBER.pattern}$"
_INT_RE = f"^{PLAIN_INT.pattern}$"


# warnings of a plainly good line, in parse_line's order; bits 0 and 1 come from _tokens.frames
_WARN_BITS = ("qn_format", "mn_not_24_hex", "st_unknown")
_WARN_TEXT = [",".join(w for b, w in enumerate(_WARN_BITS) if m >> b & 1) or None for m in range(8)]


@dataclass
class ParsedBatch:
    """Rows of one input (one capture file or one segment), conformed to the registry tables."""

    packets: pa.Table
    readings: pa.Table
    quarantine: pa.Table
    lines: int
    fast: int = 0  # lines accepted on the vectorised path
    fallback: int = 0  # lines that went through parse_line
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        return self.packets.num_rows

    @property
    def quarantined(self) -> int:
        return self.quarantine.num_rows

    def check(self) -> None:
        """Lines in = accepted + quarantined, always."""
        if self.lines != self.accepted + self.quarantined:
            raise AssertionError(
                f"HJ 212 batch: {self.lines} lines in != {self.accepted} accepted + "
                f"{self.quarantined} quarantined"
            )


_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass
class _Lines:
    """Line ranges [start, end) in ``data`` plus their raw location and receive metadata."""

    data: bytes
    start: np.ndarray  # int64
    end: np.ndarray  # int64
    offset: np.ndarray  # int64: raw location reported
    received_us: np.ndarray | None = None  # int64 µs UTC (all set) or None
    status: pa.Array | None = None  # string per line
    peer: pa.Array | None = None

    def __len__(self) -> int:
        return len(self.start)

    def take(self, idx: np.ndarray) -> _Lines:
        return _Lines(
            self.data,
            self.start[idx],
            self.end[idx],
            self.offset[idx],
            None if self.received_us is None else self.received_us[idx],
            None if self.status is None else self.status.take(pa.array(idx)),
            None if self.peer is None else self.peer.take(pa.array(idx)),
        )

    def line(self, i: int) -> bytes:
        return self.data[int(self.start[i]) : int(self.end[i])]


# ------------------------------------------------------------------------------------- entry points


def parse_capture(
    data: bytes, *, segment: str, default_date: dt.date, fast: bool = True, chunk_bytes: int = CHUNK_BYTES
) -> ParsedBatch:
    """A capture file: one packet per line (split at ``\\n``, as :func:`protocol.split_lines`).

    A UTF-8 byte-order mark leading the file (Windows tools save captures with one) is not part of
    its first line: that line starts, and its raw location points, after it."""
    arr = np.frombuffer(data, np.uint8)
    nl = np.frombuffer(_tokens.classify(arr, _NEWLINE)[0], np.int64)
    ends = nl + 1
    if len(data) and (len(nl) == 0 or ends[-1] != len(data)):
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1])).astype(np.int64) if len(ends) else np.zeros(0, np.int64)
    if len(starts) and data.startswith(_UTF8_BOM):
        starts[0] = len(_UTF8_BOM)
    ends = ends.astype(np.int64)
    lines = _Lines(data, starts, ends, starts.copy())
    return parse_lines_batch(
        lines, segment=segment, default_date=default_date, fast=fast, chunk_bytes=chunk_bytes
    )


def parse_segment(
    data: bytes,
    *,
    segment: str,
    default_date: dt.date,
    kind: str = "data",
    fast: bool = True,
    chunk_bytes: int = CHUNK_BYTES,
) -> ParsedBatch:
    """A receiver segment (:mod:`ingest.hj212.segments` record format; a torn tail is ignored).

    ``kind="data"``: records are lines the receiver accepted (status ``ok`` / ``unregistered`` /
    ``bad_pw``); they are parsed again. ``kind="quarantine"``: records the receiver rejected; each
    becomes a quarantine row with the receiver's reason.
    """
    lines = _segment_lines(data)
    if kind == "quarantine":
        q = _quarantine_rows(lines, list(range(len(lines))), None, segment, default_date)
        out = ParsedBatch(_empty(schema.packets), _empty(schema.readings), q, len(lines), 0, 0, _count(q))
        out.check()
        return out
    if kind != "data":
        raise ValueError(f"unknown segment kind {kind!r}")
    return parse_lines_batch(
        lines, segment=segment, default_date=default_date, fast=fast, chunk_bytes=chunk_bytes
    )


def _segment_lines(data: bytes) -> _Lines:
    """Record boundaries of a segment; exactly :func:`segments.scan_records`'s (it is the fallback)."""
    found = _plain_records(data)
    if found is not None and found.shape[1]:
        heads, tab1, tab2, tab3, tab4, ends = found
        arr = np.frombuffer(data, np.uint8)
        received = _iso_us(arr, heads)
        status = _strings(arr, tab1 + 1, tab2)
        peer = _strings(arr, tab2 + 1, tab3)
        if received is not None and status is not None and peer is not None:
            return _Lines(data, tab4 + 1, ends, heads, received, status, peer)
    # Anything unusual (a hand-made segment, odd time stamps, non-ASCII status): the exact reader.
    records, _ = scan_records(data)
    starts = np.array([r.offset for r in records], np.int64)
    raw_start = np.array([r.offset + _head_len(data, r.offset) for r in records], np.int64)
    raw_end = raw_start + np.array([len(r.raw) for r in records], np.int64)
    received_us = np.array([_dt_us(r.received_at) for r in records], np.int64)
    return _Lines(
        data,
        raw_start,
        raw_end,
        starts,
        received_us,
        pa.array([r.status for r in records], pa.string()),
        pa.array([r.peer for r in records], pa.string()),
    )


# why _tokens.records stopped walking a segment
_RECORDS_END, _RECORDS_ODD_LENGTH, _RECORDS_NOT_PLAIN = range(3)


def _plain_records(data: bytes) -> np.ndarray | None:
    """The readable records of a segment as rows (start, tab 1…4, closing newline) × records,
    walked in C (a torn or damaged record ends them, as in ``scan_records``); None when a
    ``received_at`` is not of the plain length (the exact reader decides the whole segment then).

    A length field that is not plain digits is rare (a hand-made segment) and read by ``int()``
    here, as ``scan_records`` reads it (" 12" and "1_2" are lengths, "x" ends the records)."""
    found: list[np.ndarray] = []
    pos = 0
    while True:
        *columns, pos, stop = _tokens.records(data, pos, RECEIVED_AT_LEN)
        found.append(np.array([np.frombuffer(c, np.int64) for c in columns]).reshape(6, -1))
        if stop == _RECORDS_NOT_PLAIN:
            return None
        if stop == _RECORDS_END:
            return np.concatenate(found, axis=1)
        odd = _odd_length_record(data, pos)
        if odd is None:
            return np.concatenate(found, axis=1)
        if odd[1] - pos != RECEIVED_AT_LEN:
            return None
        found.append(np.array(odd, np.int64).reshape(6, 1))
        pos = odd[-1] + 1


def _odd_length_record(data: bytes, pos: int) -> list[int] | None:
    """(start, tab 1…4, closing newline) of the record at ``pos`` whose length field ``int()`` reads
    (``_tokens.records`` found its four tabs); None when it is no record (the records end there)."""
    tabs = [pos - 1]
    for _ in range(4):
        tabs.append(data.index(b"\t", tabs[-1] + 1))
    try:
        size = int(data[tabs[3] + 1 : tabs[4]])
    except ValueError:
        return None
    end = tabs[4] + 1 + size
    if size < 0 or end >= len(data) or data[end] != 10:
        return None
    return [pos, *tabs[1:], end]


def _head_len(data: bytes, pos: int) -> int:
    end = pos
    for _ in range(4):
        end = data.index(b"\t", end) + 1
    return end - pos


def _iso_us(arr: np.ndarray, pos: np.ndarray) -> np.ndarray | None:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` at ``pos`` → µs since the epoch (None if any is not exactly
    that): the calendar checks of ``datetime(...)``, in C (``_tokens.datatimes``, as DataTime)."""
    us, valid = _datatime_us(arr, pos, pos + RECEIVED_AT_LEN, iso=True)
    return us if valid.all() else None


def _dt_us(t: dt.datetime) -> int:
    return (t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def _strings(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.Array | None:
    """String array of byte ranges; None if any byte is not ASCII (the exact reader then decides)."""
    s = _gather(arr, starts, ends)
    data = s.buffers()[2]
    if data is not None and np.frombuffer(data, np.uint8).max(initial=0) >= 128:
        return None
    return s


# ------------------------------------------------------------------------------------- core


def parse_lines_batch(
    lines: _Lines | Sequence[bytes],
    *,
    segment: str,
    default_date: dt.date,
    fast: bool = True,
    chunk_bytes: int = CHUNK_BYTES,
) -> ParsedBatch:
    """Parse lines (a ``_Lines`` view, or a list of lines each with its terminator).

    ``fast=False`` sends every line through ``parse_line`` (the reference the tests compare with).
    """
    if not isinstance(lines, _Lines):
        data = b"".join(lines)
        ends = np.cumsum([len(x) for x in lines], dtype=np.int64)
        starts = np.concatenate(([0], ends[:-1])).astype(np.int64) if len(ends) else np.zeros(0, np.int64)
        lines = _Lines(data, starts, ends.astype(np.int64), starts.copy())
    n = len(lines)
    acc = _Acc()
    quarantine_parts: list[pa.Table] = []
    n_fast = 0
    # Split packets span chunks: the first parts' DataTimes of every chunk so far (all parts take the
    # reference path), and the later parts whose first part was not among them — they are decided
    # after the last chunk, so the rows do not depend on where the chunks are cut.
    first_parts: dict[_SplitKey, dt.datetime] = {}
    later: list[int] = []
    if n:
        bounds = _chunk_bounds(lines, chunk_bytes)
        for lo, hi in itertools.pairwise(bounds):
            chunk = lines.take(np.arange(lo, hi))
            good = _fast_path(chunk, acc, lo, default_date) if fast else np.zeros(hi - lo, np.bool_)
            quarantine_parts.append(
                _slow_path(chunk, np.flatnonzero(~good), acc, lo, default_date, segment, first_parts, later)
            )
            n_fast += int(good.sum())
        if later:
            quarantine_parts.append(
                _slow_path(lines, np.array(later, np.int64), acc, 0, default_date, segment, first_parts, None)
            )
    packets, readings = acc.tables(lines, segment)
    packets, readings, ahead = _ahead_of_receipt(lines, packets, readings, segment, default_date)
    quarantine = _concat(schema.quarantine, [*quarantine_parts, ahead])
    quarantine = quarantine.combine_chunks() if quarantine.num_rows else quarantine
    out = ParsedBatch(packets, readings, quarantine, n, n_fast, n - n_fast, _count(quarantine))
    out.check()
    return out


# A packet dated more than this after the receiver got it comes from a clock that runs ahead: its
# time is wrong by more than any drift of a synchronised logger, and publishing it would open date
# partitions (marts, risk days) in the future. Capture files carry no receipt time: nothing to judge.
AHEAD_TOLERANCE_US = 3600 * _US


def _ahead_of_receipt(
    lines: _Lines, packets: pa.Table, readings: pa.Table, segment: str, default_date: dt.date
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Packets (and their readings) whose DataTime is over ``AHEAD_TOLERANCE_US`` after their receipt,
    moved to quarantine rows with the reason ``proto.DATA_TIME_AHEAD_OF_RECEIPT``."""
    none = _empty(schema.quarantine)
    if lines.received_us is None or packets.num_rows == 0:
        return packets, readings, none
    lead = pc.subtract(
        packets.column("data_at").cast(pa.int64()), packets.column("received_at").cast(pa.int64())
    )
    ahead = pc.fill_null(pc.greater(lead, AHEAD_TOLERANCE_US), False)
    if not pc.any(ahead).as_py():
        return packets, readings, none
    gone = packets.filter(ahead)
    offsets = gone.column("offset")
    readings = readings.filter(pc.invert(pc.is_in(readings.column("offset"), value_set=offsets)))
    idx = np.flatnonzero(np.isin(lines.offset, offsets.to_numpy()))
    line_at = {int(lines.offset[i]): int(i) for i in idx}
    rejects: list[proto.Reject | None] = []
    for row in gone.select(["offset", "data_at", "received_at", "mn", "cn", "qn"]).to_pylist():  # few
        # from the row, not the line: a later part of a split packet has its first part's DataTime
        lead_h = (row["data_at"] - row["received_at"]).total_seconds() / 3600
        detail = (
            f"DataTime {row['data_at'].astimezone(proto.BEIJING).isoformat()} is {lead_h:.1f} h after the "
            f"receiver got the packet ({row['received_at'].isoformat()}): the logger's clock runs ahead"
        )
        rejects.append(
            proto.Reject(
                proto.DATA_TIME_AHEAD_OF_RECEIPT, detail, b"", qn=row["qn"], cn=row["cn"], mn=row["mn"]
            )
        )
    order = [line_at[int(o)] for o in offsets.to_pylist()]
    quarantined = _quarantine_rows(lines, order, rejects, segment, default_date)
    return packets.filter(pc.invert(ahead)), readings, quarantined


def _chunk_bounds(lines: _Lines, chunk_bytes: int) -> list[int]:
    n = len(lines)
    if n == 0:
        return [0]
    size = lines.end - lines.start
    cum = np.cumsum(size)
    cuts = np.searchsorted(cum, np.arange(chunk_bytes, int(cum[-1]), chunk_bytes))
    return sorted({0, n, *(int(c) for c in cuts if 0 < c < n)})


def _count(q: pa.Table) -> dict[str, int]:
    if q.num_rows == 0:
        return {}
    vc = pc.value_counts(q.column("reason")).to_pylist()
    return {str(d["values"]): int(d["counts"]) for d in vc}


def _empty(table: Table) -> pa.Table:
    return table.arrow_schema().empty_table()


# Column types of the output tables, from the registry: the arrays are built in these types, so
# assembling a table with the registry schema casts nothing.
_P = {f.name: f.type for f in schema.packets.arrow_schema()}
_R = {f.name: f.type for f in schema.readings.arrow_schema()}
_Q = {f.name: f.type for f in schema.quarantine.arrow_schema()}
_STRING = _P["mn"]


def _concat(table: Table, parts: list[pa.Table]) -> pa.Table:
    parts = [p for p in parts if p.num_rows]
    if not parts:
        return _empty(table)
    return pa.concat_tables(parts) if len(parts) > 1 else parts[0]


class _Acc:
    """The rows of one input, gathered chunk by chunk (fast and reference path alike) as numpy arrays
    and global dictionary ids; every output column is built once at the end (no per-chunk tables
    to concatenate and copy). Readings follow their packet: packet i owns ``per_row[i]`` readings."""

    def __init__(self) -> None:
        self.cols: dict[str, list[np.ndarray]] = {}
        self.strs: dict[str, list[pa.Array]] = {"mn": [], "st": [], "cn": [], "qn": []}
        self._keys: dict[tuple[str, str, str], int] = {}
        self._flags: dict[str, int] = {}
        self._warns: dict[str, int] = {}
        self.n_packets = 0

    def _ids(self, table: dict[Any, int], values: Sequence[Any]) -> np.ndarray:
        return np.array([-1 if v is None else table.setdefault(v, len(table)) for v in values], np.int64)

    def key_ids(self, code: list[str], raw: list[str], stat: list[str]) -> np.ndarray:
        return self._ids(self._keys, list(zip(code, raw, stat, strict=True)))

    def flag_ids(self, flags: list[str | None]) -> np.ndarray:
        return self._ids(self._flags, flags)

    def warn_ids(self, warns: Sequence[object]) -> np.ndarray:
        return self._ids(self._warns, warns)

    def add(
        self,
        line: np.ndarray,
        date: np.ndarray,
        strings: dict[str, pa.Array],
        **arrays: np.ndarray,
    ) -> None:
        """One batch of packets (``line`` = index of each in the input's lines) and their readings
        (``r_*`` arrays; ``r_row`` = packet index within this batch, non-decreasing)."""
        arrays["r_row"] = arrays["r_row"] + self.n_packets
        for name, values in {"line": line, "date": date, **arrays}.items():
            self.cols.setdefault(name, []).append(np.asarray(values))
        for name, values in strings.items():
            self.strs[name].append(values)
        self.n_packets += len(line)

    def _col(self, name: str, dtype: type | str = np.int64) -> np.ndarray:
        parts = self.cols.get(name, [])
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)

    def tables(self, lines: _Lines, segment: str) -> tuple[pa.Table, pa.Table]:
        n = self.n_packets
        line = self._col("line")
        flag = self._col("flag")
        data_at = self._col("data_at")
        has_dt = self._col("has_dt", np.bool_)
        per_row = self._col("per_row")
        pnum, pno = self._col("pnum"), self._col("pno")
        if not len(pnum):
            pnum = pno = np.full(n, -1, np.int64)
        strs = {k: pa.concat_arrays(v) if v else pa.array([], _STRING) for k, v in self.strs.items()}
        warn_text = pa.array(list(self._warns), _STRING)
        packets = schema.packets.from_columns(
            {
                "date": pa.array(self._col("date", np.int32), _P["date"]),
                "segment": _const_strings(segment, n),
                "offset": pa.array(lines.offset[line], _P["offset"]),
                **strs,
                "flag": pa.array(flag, _P["flag"], mask=flag < 0),
                "protocol_version": pa.array(self._col("version", np.int16), _P["protocol_version"]),
                "pnum": pa.array(pnum, _P["pnum"], mask=pnum < 0),
                "pno": pa.array(pno, _P["pno"], mask=pno < 0),
                "data_at": pa.array(data_at, _P["data_at"], mask=~has_dt),
                **_receipt(lines, line),
                "readings": pa.array(per_row, _P["readings"]),
                "warnings": _decode(self._col("warn"), warn_text),
            }
        )
        r_row = self._col("r_row")
        r_at = data_at[r_row]
        keys = list(self._keys)
        r_key = self._col("r_key")
        readings = schema.readings.from_columns(
            {
                "date": pa.array(beijing_days(r_at).astype(np.int32), _R["date"]),
                "mn": _rows_of(strs["mn"], r_row),
                "st": _rows_of(strs["st"], r_row),
                "cn": _rows_of(strs["cn"], r_row),
                "data_at": pa.array(r_at, _R["data_at"]),
                "pollutant_code": _dictionary(r_key, [k[0] for k in keys]),
                "pollutant_code_original": _dictionary(r_key, [k[1] for k in keys]),
                "stat": _dictionary(r_key, [k[2] for k in keys]),
                "value": pa.array(self._col("r_value", np.float64), _R["value"]),
                "flag": _dictionary(self._col("r_flag"), list(self._flags)),
                "unit": _dictionary(r_key, [_unit(k[0], k[2]) for k in keys]),
                "segment": _dictionary(np.zeros(len(r_row), np.int64), [segment]),
                "offset": pa.array(lines.offset[line][r_row], _R["offset"]),
                "receiver_status": _rows_of(packets.column("receiver_status").combine_chunks(), r_row),
            }
        )
        return packets, readings


# ------------------------------------------------------------------------------------- fast path


def _gather(
    arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, valid: np.ndarray | None = None
) -> pa.StringArray:
    """One string per byte range (ranges may be unordered/overlapping), NULL where ``valid`` is
    False (its range is ignored); ASCII assumed."""
    if valid is not None:
        starts = np.where(valid, starts, 0)
        ends = np.where(valid, ends, 0)
    lens = (ends - starts).astype(np.int64)
    n = len(lens)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    total = int(offsets[-1])
    if total:
        idx = np.arange(total, dtype=np.int64) + np.repeat(starts - offsets[:-1], lens)
        data = arr[idx]
    else:
        data = np.zeros(0, np.uint8)
    if valid is None or valid.all():
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))
    return pa.StringArray.from_buffers(
        n,
        pa.py_buffer(offsets.astype(np.int32)),
        pa.py_buffer(data),
        pa.py_buffer(np.packbits(valid, bitorder="little")),
        n - int(np.count_nonzero(valid)),
    )


def _const_strings(value: str, n: int) -> pa.StringArray:
    b = value.encode()
    offsets = np.arange(n + 1, dtype=np.int64) * len(b)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b * n))


def _decode(indices: np.ndarray, dictionary: pa.Array) -> pa.Array:
    """Strings ``dictionary[indices]`` (index < 0 or a NULL entry → NULL), via a dictionary cast."""
    mask = indices < 0
    if dictionary.null_count:
        mask |= ~dictionary.is_valid().to_numpy(zero_copy_only=False)[np.maximum(indices, 0)]
    ix = pa.array(np.maximum(indices, 0).astype(np.int32), mask=mask if mask.any() else None)
    return pa.DictionaryArray.from_arrays(ix, dictionary).cast(dictionary.type)


def _dictionary(indices: np.ndarray, entries: Sequence[str | None]) -> pa.DictionaryArray:
    """Strings ``entries[indices]`` (index < 0 or a None entry → NULL) as a dictionary of the distinct
    entries: the readings' string columns stay dictionaries up to the Parquet writer, which then
    hashes no row again (nor does the gate)."""
    distinct: dict[str, int] = {}
    ids = [-1 if e is None else distinct.setdefault(e, len(distinct)) for e in entries]
    remap = np.array([*ids, -1], np.int32)  # the last slot answers index -1
    rows = remap[indices]
    null = rows < 0
    return pa.DictionaryArray.from_arrays(
        pa.array(np.maximum(rows, 0), pa.int32(), mask=null if null.any() else None),
        pa.array(list(distinct), pa.string()),
    )


def _rows_of(values: pa.Array, rows: np.ndarray) -> pa.DictionaryArray:
    """``values[rows]`` as a dictionary array: each distinct packet string is hashed once, not once
    per reading."""
    return pc.dictionary_encode(values).take(pa.array(rows, pa.int64()))


def _string_ids(arr: np.ndarray, ks: np.ndarray, ke: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Ids of the distinct byte strings [ks, ke) (0, 1, … in order of first appearance) and the
    strings themselves: one hash-table pass in C, each string compared byte for byte."""
    ids, first = _tokens.string_ids(arr, _int64s(ks), _int64s(ke))
    data = arr.tobytes() if len(first) > 64 else None
    names = [
        (data[ks[i] : ke[i]] if data is not None else arr[ks[i] : ke[i]].tobytes()).decode("ascii")
        for i in np.frombuffer(first, np.int64).tolist()
    ]
    return np.frombuffer(ids, np.int64), names


def _int64s(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, np.int64)


def _specials(body: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the bytes ``_CLASS`` marks (``;``, ``,``, ``=``, non-ASCII) and their classes, in
    one pass (``_tokens.classify``)."""
    positions, classes = _tokens.classify(np.ascontiguousarray(body, np.uint8), _CLASS)
    return np.frombuffer(positions, np.int64), np.frombuffer(classes, np.uint8)


def _frames(
    arr: np.ndarray, s: np.ndarray, e: np.ndarray, special: np.ndarray, sclass: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per line [s, e) of ``arr``: whether it is plainly good up to its CP — framing as
    ``parse_line`` checks it (``##``, length field = actual length ≤ 1024, hex CRC, CRLF), ASCII,
    the CRC, one ``;CP=&&…&&``, header fields among QN ST CN PW MN Flag each once as plain
    ``key=value`` with ST CN PW MN not empty, a Flag of 1-3 digits with known version bits and no
    split (QN present where it says 2017+) —, the position of the ``;`` before ``CP=``, the header
    values' ranges (6 starts, 6 ends in the order ``_QN`` … ``_FLAG``, -1 where absent), Flag (-1
    without) and the first two ``_WARN_BITS`` (QN not 17 digits, MN not 24 hex digits). One pass in
    C (``_tokens.frames``) over the lines and the special bytes ``_specials`` found; the CRC as in
    :mod:`ingest.hj212.crc`'s fast form, from its tables."""
    plain, cp_at, fields, flag, warn = _tokens.frames(
        arr, _int64s(s), _int64s(e), special, sclass, _CRC_T, _CRC_A, _CRC_INIT, proto.MAX_DATA_LEN
    )
    return (
        np.frombuffer(plain, np.bool_),
        np.frombuffer(cp_at, np.int64),
        np.frombuffer(fields, np.int64).reshape(-1, 12),
        np.frombuffer(flag, np.int64),
        np.frombuffer(warn, np.uint8),
    )


def _items(
    pos: np.ndarray, classes: np.ndarray, rs: np.ndarray, re_: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``key=value`` items of the regions [rs, re_) (CP data), cut at the delimiters among the
    special positions ``pos`` (sorted; ``classes`` as ``_CLASS``: ``;`` and ``,`` delimit, ``=``).

    Only the regular layout is decoded: inside a region the specials alternate ``= d = d … =``
    (every item has exactly one ``=``, no empty item). Returns per item: region, key start, ``=``
    position, value end; and per region whether it is regular (irregular ones take the reference
    path, which knows about empty items, ``a=b=c`` values and items without ``=``). One pass in C
    (``_tokens.items``)."""
    region, key_start, eq, value_end, regular = _tokens.items(
        _int64s(pos), np.ascontiguousarray(classes, np.uint8), _int64s(rs), _int64s(re_)
    )
    return (
        np.frombuffer(region, np.int64),
        np.frombuffer(key_start, np.int64),
        np.frombuffer(eq, np.int64),
        np.frombuffer(value_end, np.int64),
        np.frombuffer(regular, np.bool_),
    )


@dataclass
class _KeyInfo:
    """Per distinct CP key of a chunk."""

    kind: np.ndarray  # int8: protocol key kind
    slot: np.ndarray  # int64: (code, suffix) / facility / extra identity; -1 for DataTime
    code: list[str]  # 2017 code ('' for non-items)
    raw_code: list[str]  # code as sent
    suffix: list[str]
    code_id: np.ndarray  # int64: id of the 2017 code among item codes, -1 otherwise
    raw_id: np.ndarray  # int64: id of the code as sent
    is_flag: np.ndarray  # bool: <code>-Flag
    is_zsflag: np.ndarray  # bool: <code>-ZsFlag
    zs_stat: np.ndarray  # bool: numeric Zs* statistic
    is_int: np.ndarray  # bool: facility RS (an int)
    mixable: np.ndarray  # bool: the 2017 code appears under more than one raw code in this chunk
    n_slots: int
    n_codes: int


def _classify(keys: list[str]) -> _KeyInfo:
    info = [proto._KEY_INFO.get(k) or proto._classify_key(k) for k in keys]
    slots: dict[tuple[str, str, str], int] = {}
    codes: dict[str, int] = {}
    raws: dict[str, int] = {}
    raw_forms: dict[str, set[str]] = {}
    n = len(keys)
    kind = np.zeros(n, np.int8)
    slot = np.full(n, -1, np.int64)
    code_id = np.full(n, -1, np.int64)
    raw_id = np.full(n, -1, np.int64)
    is_int = np.zeros(n, np.bool_)
    code_l: list[str] = []
    raw_l: list[str] = []
    suffix_l: list[str] = []
    for i, (k, (kd, code, suffix, orig)) in enumerate(zip(keys, info, strict=True)):
        kind[i] = kd
        raw = orig if orig is not None else code
        code_l.append(code)
        raw_l.append(raw)
        suffix_l.append(suffix)
        if kd == _K_DATATIME:
            continue
        if kd in (_K_NUM, _K_STR):
            ident = ("I", code, suffix)
            code_id[i] = codes.setdefault(code, len(codes))
            raw_id[i] = raws.setdefault(raw, len(raws))
            raw_forms.setdefault(code, set()).add(raw)
        elif kd == _K_FACILITY:
            ident = ("F", code, suffix)
            is_int[i] = suffix == "RS"
        else:
            ident = ("E", k, "")
        slot[i] = slots.setdefault(ident, len(slots))
    items = (kind == _K_NUM) | (kind == _K_STR)
    sfx = np.array(suffix_l, dtype=object) if n else np.zeros(0, object)
    return _KeyInfo(
        kind=kind,
        slot=slot,
        code=code_l,
        raw_code=raw_l,
        suffix=suffix_l,
        code_id=code_id,
        raw_id=raw_id,
        is_flag=(kind == _K_STR) & (sfx == "Flag"),
        is_zsflag=(kind == _K_STR) & (sfx == "ZsFlag"),
        zs_stat=(kind == _K_NUM) & np.array([x.startswith("Zs") for x in suffix_l], np.bool_),
        is_int=is_int,
        mixable=items & np.array([len(raw_forms.get(c, ())) > 1 for c in code_l], np.bool_),
        n_slots=max(len(slots), 1),
        n_codes=max(len(codes), 1),
    )


def _numbers(
    arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, *, integers: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(float values, valid) of the byte ranges [starts, ends): what ``float()`` reads, for strings
    matching ``_NUMBER_RE`` (``_INT_RE`` where ``integers``), and finite — one pass in C, correctly
    rounded (``_tokens.numbers``)."""
    values, valid = _tokens.numbers(arr, _int64s(starts), _int64s(ends), integers)
    return np.frombuffer(values, np.float64), np.frombuffer(valid, np.bool_)


def _fast_path(lines: _Lines, acc: _Acc, base: int, default_date: dt.date) -> np.ndarray:
    data = lines.data
    n = len(lines)
    lo_b = int(lines.start.min())
    hi_b = int(lines.end.max())
    # Work on the chunk's byte span (a view: the kernels check every range against its length).
    span = hi_b - lo_b
    arr = np.frombuffer(data, np.uint8, span, lo_b)
    s = lines.start - lo_b
    e = lines.end - lo_b

    # -- 1-3. framing, CRC, ";CP=&&…&&", header fields: one C pass (_frames) -----------------------
    special, sclass = _specials(arr)
    plain, cp_at, fields, flag, warn_qn_mn = _frames(arr, s, e, special, sclass)
    if np.any(sclass == 4):  # non-ASCII bytes: their lines take the reference path (_frames)
        keep = sclass != 4
        special, sclass = special[keep], sclass[keep]
    cand = np.flatnonzero(plain)
    z = e[cand] - 6
    p = cp_at[cand]
    nr = len(cand)
    bad = np.zeros(nr, np.bool_)  # per candidate: not plainly good → reference path
    fvs = fields[cand, :6]
    fve = fields[cand, 6:]
    present = fvs >= 0
    flen = np.where(present, fve - fvs, -1)
    fl_val = flag[cand]
    has_flag = fl_val >= 0
    version = np.where(has_flag, np.minimum(fl_val >> 2, 2), 0)

    # -- 4. CP items: split at ';' and ',' ---------------------------------------------------------
    row, ts, teq, te, regular = _items(special, sclass, p + 6, z - 2)
    bad |= ~regular
    keep = ~bad[row]
    ts, te, row, teq = ts[keep], te[keep], row[keep], teq[keep]
    kid, key_names = _string_ids(arr, ts, teq)
    ki = _classify(key_names)
    kind = ki.kind[kid]
    vs = teq + 1

    # DataTime: the first one of each row decides (later ones are ignored by parse_line)
    dt_tok = np.flatnonzero(kind == _K_DATATIME)
    if len(dt_tok):
        r = row[dt_tok]
        dt_tok = dt_tok[np.concatenate(([True], r[1:] != r[:-1]))]
    data_us = np.zeros(nr, np.int64)
    has_dt = np.zeros(nr, np.bool_)
    if len(dt_tok):
        us, valid = _datatime_us(arr, vs[dt_tok], te[dt_tok])
        r = row[dt_tok]
        bad[r[~valid]] = True
        has_dt[r] = True
        data_us[r] = us

    # numbers (Rtd … and facility RT) and ints (facility RS)
    val = np.zeros(len(ts), np.float64)
    facility = kind == _K_FACILITY
    numeric = (kind == _K_NUM) | (facility & ~ki.is_int[kid])
    for sel, integers in ((numeric, False), (facility & ki.is_int[kid], True)):
        idx = np.flatnonzero(sel)
        if len(idx):
            x, valid = _numbers(arr, vs[idx], te[idx], integers=integers)
            val[idx] = x
            bad[row[idx[~valid]]] = True
    # strings (Flag, EFlag, SampleTime …, extra keys): ids for duplicate checks and flags
    strs = np.flatnonzero((kind == _K_STR) | (kind == _K_EXTRA))
    str_ids, str_values = _string_ids(arr, vs[strs], te[strs])  # a handful of distinct values: N, D, M …
    val[strs] = str_ids

    # repeated keys: the first value wins, a different later value is a warning; a 2017 code written
    # two ways in one packet (B01 and w00000): both for the reference path to decide
    is_first, conflict = _repeats(row, kid, val, ki, nr)
    bad |= conflict

    # -- 5. header strings, warnings, data commands without DataTime -------------------------------
    def field_str(f: int, rows: np.ndarray) -> pa.Array:
        return _gather(arr, fvs[rows, f], fve[rows, f], present[rows, f])

    data_cn = np.isin(_packed(arr, fvs[:, _CN], flen[:, _CN], 4), _DATA_CN_PACKED)
    bad |= data_cn & ~has_dt  # a data command without DataTime: quarantined (reference path)
    goodr = np.flatnonzero(~bad)
    mn = field_str(_MN, goodr)
    st = field_str(_ST, goodr)
    qn = field_str(_QN, goodr)
    cn = field_str(_CN, goodr)
    warn = warn_qn_mn[cand[goodr]].astype(np.int64) | (
        (~np.isin(_packed(arr, fvs[goodr, _ST], flen[goodr, _ST], 2), _KNOWN_ST_PACKED)).astype(np.int64) << 2
    )

    # -- 6. readings -------------------------------------------------------------------------------
    row_new = np.full(nr, -1, np.int64)
    row_new[goodr] = np.arange(len(goodr))
    # a facility's state and run time (SB1-RS, SB1-RT) are readings too, without a data flag
    rt = np.flatnonzero(((kind == _K_NUM) | facility) & is_first & ~bad[row] & has_dt[row])
    rrow = row_new[row[rt]]
    rkid = kid[rt]
    flag_id = _item_lookup(ki, kid, row, is_first, val, ki.is_flag, nr, row[rt], ki.code_id[rkid])
    flag_id = _blank_is_no_flag(flag_id, str_values)
    if ki.is_zsflag.any():
        zs = _item_lookup(ki, kid, row, is_first, val, ki.is_zsflag, nr, row[rt], ki.code_id[rkid])
        zs = _blank_is_no_flag(zs, str_values)
        flag_id = np.where(ki.zs_stat[rkid] & (zs >= 0), zs, flag_id)
    flag_id = np.where(ki.code_id[rkid] >= 0, flag_id, -1)
    per_row = np.bincount(rrow, minlength=len(goodr))

    data_at = data_us[goodr] - BEIJING_OFFSET_US  # DataTime is Beijing wall time: UTC is 8 h earlier
    lines_idx = cand[goodr]
    acc.add(
        base + lines_idx,
        _dates(np.where(has_dt[goodr], data_at, 0), has_dt[goodr], lines, lines_idx, default_date),
        {"mn": mn, "st": st, "cn": cn, "qn": qn},
        flag=np.where(has_flag[goodr], fl_val[goodr], -1),
        pnum=np.full(len(goodr), -1, np.int64),
        pno=np.full(len(goodr), -1, np.int64),
        version=_VERSION[version[goodr]],
        data_at=data_at,
        has_dt=has_dt[goodr],
        per_row=per_row,
        warn=acc.warn_ids([_WARN_TEXT[m] for m in range(8)])[warn],
        r_row=rrow,
        r_value=val[rt],
        r_key=acc.key_ids(ki.code, ki.raw_code, ki.suffix)[rkid] if len(rkid) else np.zeros(0, np.int64),
        r_flag=_remap(flag_id, acc.flag_ids(list(str_values))),
    )
    good = np.zeros(n, np.bool_)
    good[lines_idx] = True
    return good


def _repeats(
    row: np.ndarray, kid: np.ndarray, val: np.ndarray, ki: _KeyInfo, n_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per token (key ``kid``, value ``val``; ``row`` non-decreasing): whether it is the first of
    its key slot in its row (DataTime: always); per row: whether it repeats a key with another
    value, or writes a code in two ways (``ki.mixable``: B01 and w00000). One pass in C
    (``_tokens.repeats``)."""
    first, conflict = _tokens.repeats(
        _int64s(row),
        _int64s(ki.slot[kid]),
        np.ascontiguousarray(val, np.float64),
        _int64s(np.where(ki.mixable[kid], ki.code_id[kid], -1)),
        _int64s(ki.raw_id[kid]),
        n_rows,
        ki.n_slots,
        ki.n_codes,
    )
    return np.frombuffer(first, np.bool_), np.frombuffer(conflict, np.bool_)


def _remap(local: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Local ids → global ids (``-1`` stays ``-1``)."""
    if not len(table):
        return np.full(len(local), -1, np.int64)
    return np.where(local >= 0, table[np.maximum(local, 0)], -1)


def _blank_is_no_flag(flag_ids: np.ndarray, str_values: list[str]) -> np.ndarray:
    """Flag value ids with an empty value (``w01018-Flag=``) as no flag (-1): a sample without a
    flag counts as N downstream, while an empty-string flag would count as none of N, abnormal,
    manual or incomplete. As ``readings_from_packet`` reads it."""
    if "" not in str_values:
        return flag_ids
    return np.where(flag_ids == str_values.index(""), -1, flag_ids)


def _item_lookup(
    ki: _KeyInfo,
    kid: np.ndarray,
    row: np.ndarray,
    is_first: np.ndarray,
    val: np.ndarray,
    which: np.ndarray,
    nr: int,
    qrow: np.ndarray,
    qcode: np.ndarray,
) -> np.ndarray:
    """Value id of the first ``<code>-<suffix>`` string item (``which`` selects the suffix) of each
    queried (row, code); -1 when the packet has none.

    A dense rows × codes table while it is no bigger than a few cells per CP item (real chunks:
    about one; the fastest form); else the (row, code) keys sorted and searched: rows × codes is
    quadratic in the chunk when packets send many distinct codes (85 invented codes per packet made
    a 4 MB chunk's table ~15 GiB), the sorted keys are linear in the items."""
    t = np.flatnonzero(which[kid] & is_first)
    keys = row[t] * ki.n_codes + ki.code_id[kid[t]]  # unique: first item of its (row, code, suffix)
    q = qrow * ki.n_codes + qcode
    if nr * ki.n_codes <= _DENSE_CELLS_PER_ITEM * len(kid) + _DENSE_CELLS_MIN:
        table = np.full(nr * ki.n_codes, -1, np.int64)
        table[keys] = val[t].astype(np.int64)
        return table[q]
    order = np.argsort(keys)
    keys = keys[order]
    if not len(keys):
        return np.full(len(q), -1, np.int64)
    at = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
    return np.where(keys[at] == q, val[t[order[at]]].astype(np.int64), -1)


_DENSE_CELLS_PER_ITEM = 4  # _item_lookup's dense table: at most 32 bytes per CP item of the chunk …
_DENSE_CELLS_MIN = 1 << 16  # … or 512 KiB


_KNOWN_ST_PACKED = np.array([int.from_bytes(k.encode(), "little") for k in ST_CODES if len(k) == 2], np.int64)
_DATA_CN_PACKED = np.array([int.from_bytes(k.encode(), "little") for k in DATA_CNS if len(k) == 4], np.int64)


def _packed(arr: np.ndarray, start: np.ndarray, length: np.ndarray, width: int) -> np.ndarray:
    """Fields of exactly ``width`` (≤ 7) bytes as little-endian ints; other lengths → -1."""
    sized = length == width
    base = np.where(sized, start, 0)
    v = np.zeros(len(start), np.int64)
    for k in range(width):
        v |= arr[base + k].astype(np.int64) << (8 * k)
    return np.where(sized, v, -1)


def _datatime_us(
    arr: np.ndarray, vs: np.ndarray, ve: np.ndarray, *, iso: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """DataTime ``YYYYMMDDhhmmss[zzz]`` (Beijing; with ``iso``, a receive time) at [vs, ve) → (µs of
    the civil time, valid): the calendar checks of ``datetime(...)``, in one pass in C
    (``_tokens.datatimes``)."""
    us, valid = _tokens.datatimes(arr, _int64s(vs), _int64s(ve), iso)
    return np.frombuffer(us, np.int64), np.frombuffer(valid, np.bool_)


def _unit(code: str, stat: str) -> str | None:
    if stat in FACILITY_UNITS:  # a facility's state or run time
        return FACILITY_UNITS[stat]
    p = POLLUTANTS.get(code)
    if p is None:
        return None
    if stat in ("Cou", "ZsCou"):
        return p.cou_unit
    return p.unit


def _dates(
    data_at: np.ndarray, has: np.ndarray, lines: _Lines, idx: np.ndarray, default_date: dt.date
) -> np.ndarray:
    """Beijing date (days since 1970-01-01) of data_at, else of received_at, else ``default_date``."""
    days = np.full(len(idx), (default_date - dt.date(1970, 1, 1)).days, np.int64)
    if lines.received_us is not None:
        days = beijing_days(lines.received_us[idx])
    return np.where(has, beijing_days(data_at), days)


def _receipt(lines: _Lines, idx: np.ndarray) -> dict[str, pa.Array]:
    n = len(idx)
    if lines.received_us is None:
        return {
            "received_at": pa.nulls(n, _P["received_at"]),
            "receiver_status": pa.nulls(n, _P["receiver_status"]),
            "peer": pa.nulls(n, _P["peer"]),
        }
    assert lines.status is not None and lines.peer is not None
    ix = pa.array(idx, pa.int64())
    return {
        "received_at": pa.array(lines.received_us[idx], _P["received_at"]),
        "receiver_status": lines.status.take(ix),
        "peer": lines.peer.take(ix),
    }


# ------------------------------------------------------------------------------------- reference path


def readings_from_packet(p: proto.Packet) -> list[tuple[str, str, str, float, str | None, str | None]]:
    """Readings of a packet in parse_line's item order, then its facilities' states and run times:
    (code or facility, as sent, stat, value, flag, unit)."""
    out: list[tuple[str, str, str, float, str | None, str | None]] = []
    for code, sub in p.items.items():
        orig = p.pollutant_code_original.get(code, code)
        # an empty Flag (``w01018-Flag=``) is no flag, as the fast path's _blank_is_no_flag
        flag = sub.get("Flag") or None
        zsflag = sub.get("ZsFlag") or None
        for stat, v in sub.items():
            if stat in _NUMERIC_SUFFIXES and isinstance(v, float):
                f = zsflag if stat.startswith("Zs") and zsflag is not None else flag
                out.append((code, orig, stat, v, None if f is None else str(f), _unit(code, stat)))
    for facility, states in p.facilities.items():
        for stat, value in states.items():
            out.append((facility, facility, stat, float(value), None, _unit(facility, stat)))
    return out


def _civil_to_us(t: dt.datetime) -> int:
    """µs since the epoch (UTC) of an aware Beijing time, as the fast path computes it (civil µs
    minus the offset): the offset is subtracted in integers, because a datetime before
    0001-01-01 08:00 Beijing minus 8 h is out of datetime's range (OverflowError)."""
    offset = t.utcoffset() or dt.timedelta(0)
    us = dt.timedelta(microseconds=1)
    return (t.replace(tzinfo=None) - dt.datetime(1970, 1, 1)) // us - offset // us


# the reference path's packet columns, as _Acc.add takes them (warn last: ids, not an array)
_PACKET_COLS = ("line", "date", "flag", "pnum", "pno", "version", "data_at", "has_dt", "per_row", "warn")


def _slow_path(
    lines: _Lines,
    idx: np.ndarray,
    acc: _Acc,
    base: int,
    default_date: dt.date,
    segment: str,
    first_parts: dict[_SplitKey, dt.datetime],
    later: list[int] | None,
) -> pa.Table:
    """The reference path: ``parse_line`` for lines ``idx``; packets and readings go to ``acc``,
    the quarantine rows are returned. The first parts of split packets among the lines are added to
    ``first_parts``; a later part whose first part is not there yet is left out and its input line
    (``base`` + i) appended to ``later`` — with ``later=None`` it is quarantined."""
    collected = _SlowRows()
    rejects: list[int] = []
    results: list[proto.Reject | None] = []
    default_days = (default_date - dt.date(1970, 1, 1)).days
    parsed = [(i, proto.parse_line(lines.line(i))) for i in idx.tolist()]
    _add_first_parts(first_parts, (p for _, p in parsed))
    for i, r in parsed:
        if isinstance(r, proto.Reject):
            rejects.append(i)
            results.append(r)
            continue
        data_time = r.data_time
        if data_time is None and r.cn in DATA_CNS and (r.pno is None or r.pno == 1):
            rejects.append(i)
            results.append(None)  # stage rule: quarantined as no_datatime
            continue
        if data_time is None and r.cn in DATA_CNS:  # a later part of a split packet
            linked = r.qn is not None  # without QN, nothing tells which first part is its own
            data_time = first_parts.get(_split_key(r)) if linked else None
            if data_time is None and linked and later is not None:  # its first part may be in a later chunk
                later.append(base + i)
                continue
            if data_time is None:
                rejects.append(i)
                results.append(_orphan_part(r, lines.line(i)))
                continue
        data_us = None if data_time is None else _civil_to_us(data_time)
        if data_us is not None:
            days = beijing_days(data_us)
        elif lines.received_us is not None:
            days = beijing_days(int(lines.received_us[i]))
        else:
            days = default_days
        collected.add(base + i, days, r, data_us)
    collected.flush(acc)
    return _quarantine_rows(lines, rejects, results, segment, default_date)


@dataclass
class _SlowRows:
    """The reference path's packets and their readings, gathered as lists, then handed to ``_Acc``
    in the fast path's array form."""

    rows: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in _PACKET_COLS})
    strs: dict[str, list[str | None]] = field(
        default_factory=lambda: {c: [] for c in ("mn", "st", "cn", "qn")}
    )
    r_row: list[int] = field(default_factory=list)
    r_value: list[float] = field(default_factory=list)
    r_key: list[tuple[str, str, str]] = field(default_factory=list)
    r_flag: list[str | None] = field(default_factory=list)

    def add(self, line: int, days: int, r: proto.Packet, data_us: int | None) -> None:
        """Packet ``r`` of input line ``line``, dated ``days``; its readings only with a DataTime."""
        reads = readings_from_packet(r) if data_us is not None else []
        k = len(self.rows["line"])
        for code, orig, stat, v, flag, _ in reads:
            self.r_row.append(k)
            self.r_value.append(v)
            self.r_key.append((code, orig, stat))
            self.r_flag.append(flag)
        for name, value in (
            ("line", line),
            ("date", days),
            ("flag", -1 if r.flag is None else r.flag),
            ("pnum", -1 if r.pnum is None else r.pnum),
            ("pno", -1 if r.pno is None else r.pno),
            ("version", r.protocol_version),
            ("data_at", 0 if data_us is None else data_us),
            ("has_dt", data_us is not None),
            ("per_row", len(reads)),
            ("warn", ",".join(r.warnings) or None),
        ):
            self.rows[name].append(value)
        for name, text in (("mn", r.mn), ("st", r.st), ("cn", r.cn), ("qn", r.qn)):
            self.strs[name].append(text)

    def flush(self, acc: _Acc) -> None:
        if not self.rows["line"]:
            return
        keys = sorted(set(self.r_key))
        key_gid = (
            dict(zip(keys, acc.key_ids(*map(list, zip(*keys, strict=True))), strict=True)) if keys else {}
        )
        arrays = {
            name: np.array(self.rows[name], np.bool_ if name == "has_dt" else np.int64)
            for name in _PACKET_COLS[:-1]
        }
        acc.add(
            arrays["line"],
            arrays["date"],
            {name: pa.array(values, pa.string()) for name, values in self.strs.items()},
            flag=arrays["flag"],
            pnum=arrays["pnum"],
            pno=arrays["pno"],
            version=arrays["version"],
            data_at=arrays["data_at"],
            has_dt=arrays["has_dt"],
            per_row=arrays["per_row"],
            warn=acc.warn_ids(self.rows["warn"]),
            r_row=np.array(self.r_row, np.int64),
            r_value=np.array(self.r_value, np.float64),
            r_key=np.array([key_gid[k] for k in self.r_key], np.int64),
            r_flag=acc.flag_ids(self.r_flag),
        )


# (MN, QN, CN, PNUM): the parts of one split packet share all four (HJ 212-2017 §6.3.3)
_SplitKey = tuple[str, str, str, int | None]


def _split_key(p: proto.Packet) -> _SplitKey:
    assert p.qn is not None  # parts without QN are never linked: see _add_first_parts
    return (p.mn, p.qn, p.cn, p.pnum)


def _add_first_parts(
    first_parts: dict[_SplitKey, dt.datetime],
    results: Iterable[proto.Packet | proto.Reject],
) -> None:
    """Add the DataTime of every first part (PNO 1) of a split packet, by (MN, QN, CN, PNUM): later
    parts carry only more CP items, their readings share the first part's time (HJ 212-2017
    §6.3.3). A first part sent again keeps the earliest one's time (the pipeline's rule for any
    repeat: the first wins): results are in input order, so this does not depend on the chunks
    either. Parts without QN (2005 loggers) are left out: only QN tells one hour's packet from the
    next one's, so a later part without QN is quarantined rather than given a guessed time."""
    for r in results:
        if isinstance(r, proto.Packet) and r.pno == 1 and r.data_time is not None and r.qn is not None:
            first_parts.setdefault(_split_key(r), r.data_time)


def _orphan_part(p: proto.Packet, raw: bytes) -> proto.Reject:
    """A later part whose first part is not in this input, or that has no QN to find it by: its
    readings have no time, so the whole packet is quarantined (counted, with the reason), never
    published without its DataTime."""
    if p.qn is None:
        detail = f"part {p.pno}/{p.pnum} of a split packet without QN: nothing links it to its first part (with DataTime)"
    else:
        detail = f"part {p.pno}/{p.pnum} of split packet QN={p.qn}: its first part (with DataTime) is not in this input"
    return proto.Reject(
        proto.SPLIT_NO_DATATIME, detail, raw, qn=p.qn, st=p.st, cn=p.cn, pw=p.pw, mn=p.mn, flag=p.flag
    )


def _quarantine_rows(
    lines: _Lines,
    idx: list[int],
    results: list[proto.Reject | None] | None,
    segment: str,
    default_date: dt.date,
) -> pa.Table:
    """Quarantine rows for lines ``idx``: ``results`` holds their rejects (None = no_datatime);
    ``results=None`` means a receiver quarantine segment (reason = the record's status)."""
    cols: dict[str, list[object]] = {c: [] for c in ("reason", "detail", "mn", "cn", "qn", "raw_line")}
    statuses = lines.status.to_pylist() if (results is None and lines.status is not None) else None
    for j, i in enumerate(idx):
        raw = lines.line(i)
        if results is None:
            assert statuses is not None
            reason = str(statuses[i])
            res = proto.parse_line(raw)
            if isinstance(res, proto.Reject) and res.reason == reason:
                detail = res.detail
            else:
                detail = f"rejected by the receiver: {reason}"
            mn, cn, qn = res.mn, res.cn, res.qn
        else:
            rej = results[j]
            if rej is None:
                p = proto.parse_line(raw)
                assert isinstance(p, proto.Packet)
                reason, detail, mn, cn, qn = (
                    proto.NO_DATATIME,
                    f"data command CN={p.cn} without DataTime",
                    p.mn,
                    p.cn,
                    p.qn,
                )
            else:
                reason, detail, mn, cn, qn = rej.reason, rej.detail, rej.mn, rej.cn, rej.qn
        if mn is None and cn is None and qn is None:
            # refused before its header was read (no CRLF, a bad length field): what the line states,
            # so that an engineer can find a logger's rejects
            said = proto.salvage_header(raw[6:] if raw.startswith(b"##") else raw)
            mn, cn, qn = said.get("MN"), said.get("CN"), said.get("QN")
        for name, value in (
            ("reason", reason),
            ("detail", detail),
            ("mn", mn),
            ("cn", cn),
            ("qn", qn),
            ("raw_line", raw.decode("utf-8", "backslashreplace")),
        ):
            cols[name].append(value)
    ix = np.array(idx, np.int64)
    days = np.full(len(ix), (default_date - dt.date(1970, 1, 1)).days, np.int64)
    received = pa.nulls(len(ix), _Q["received_at"])
    if lines.received_us is not None and len(ix):
        us = lines.received_us[ix]
        days = beijing_days(us)
        received = pa.array(us, _Q["received_at"])
    return schema.quarantine.from_columns(
        {
            "date": pa.array(days.astype(np.int32), _Q["date"]),
            "segment": [segment] * len(ix),
            "offset": pa.array(lines.offset[ix] if len(ix) else [], _Q["offset"]),
            **cols,
            "received_at": received,
        }
    )
