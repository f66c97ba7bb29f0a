"""HJ 212 packet parsing and building (HJ/T 212-2005, HJ 212-2017, HJ 212-2025 Flag versions).

One packet per line (DOMAIN.md §1)::

    ##<4-digit byte length of data segment><data segment><4 hex CRC>\\r\\n
    data segment = QN=…;ST=…;CN=…;PW=…;MN=…;Flag=…;[PNUM=…;PNO=…;]CP=&&…&&

:func:`parse_line` never raises: it returns a :class:`Packet` or a :class:`Reject` whose
``reason`` is one of the machine-readable strings below (checks run in this order, the first
failing one wins):

==========================  ================================================================
``empty``                   the line is empty or only ``\\r\\n``
``bad_header``              does not start with ``##``
``missing_tail``            does not end with ``\\r\\n`` (truncated line, bare ``\\n``)
``bad_length_field``        the 4 bytes after ``##`` are not ASCII digits
``oversize``                declared data-segment length > 1024 bytes
``length_mismatch``         declared length != actual byte length of the data segment
``bad_crc_field``           the 4 bytes before ``\\r\\n`` are not hex digits
``crc_mismatch``            CRC differs (compared case-insensitively, over bytes)
``not_utf8``                data segment is not valid UTF-8
``missing_field:CP``        no ``CP=`` field
``bad_field``               a data-segment field without ``=``
``bad_cp``                  CP not wrapped in ``&&…&&`` or an item without ``=``
``missing_field:<name>``    ST, CN, PW, MN missing/empty; QN when Flag version ≥ 2017;
                            PNUM/PNO when Flag asks for split
``bad_flag``                Flag not an integer 0..255 or unknown version bits (≥ 3)
``bad_split``               PNUM/PNO not integers with 1 ≤ PNO ≤ PNUM
``bad_datatime``            DataTime not 14/17 digits or not a calendar instant
``bad_value``               a numeric item (Rtd, Min, Avg, Max, Cou, Zs*) not a finite number,
                            or a facility state (RS/RT) not a number
``internal_error``          safety net; never expected
==========================  ================================================================

A row of ``quarantine_source__packets`` carries one of these reasons or one that a later stage
gives. The registry declares them all with their labels (``schemas.hj212_codes.
QUARANTINE_REASON_LABELS``); :data:`REJECT_REASONS` is derived from it (``missing_field`` stands
for every ``missing_field:<name>``), and each reason constant below must be registered there or
this module fails at import. The later stages' reasons are defined here too, so that the code
writes only registered reasons (the receiver, the batch parser and the source build use these
constants):

================================  ==========================================================
the receiver (its quarantine segments; ``ingest.hj212.receiver``)
``unknown_mn``, ``bad_pw``        MN not in the device registry, or its PW wrong (registered mode)
``auth_throttled``                refused unchecked while the peer or MN is blocked after
                                  repeated failed authentications
``mn_budget_exceeded``            the MN's data-zone byte cap for the window is spent
``line_too_long``                 no line end within the receiver's line limit
the batch parser's stage rules (``ingest.hj212.batch``)
``no_datatime``                   a data command (2011/2021/2031/2041/2051/2061) without DataTime
``split_no_datatime``             a later part of a split packet whose first part (the one with
                                  DataTime) is not in the input, or without QN to find it by
``data_time_ahead_of_receipt``    a receiver segment's packet dated over an hour after its receipt
the source build (``ecocloud.builds.sources``; the whole input)
``capture_unreadable``            a capture file that cannot be read (a corrupt ``.gz``)
``segment_manifest_unreadable``   a segment whose manifest is not readable JSON
``segment_manifest_mismatch``     a segment whose bytes or record count differ from its manifest
================================  ==========================================================

:func:`qn_rtn_for` maps every reason to the ``QnRtn`` of a 9011 reply.

Anything that passes framing, length and CRC is accepted unless it is structurally unusable;
oddities seen in real captures become ``Packet.warnings`` entries instead: ``mn_not_24_hex``,
``qn_format`` (QN not 17 digits), ``st_unknown`` (e.g. ``ST=\\x00\\x00``), ``duplicate_key:<key>=<value>``,
``duplicate_field:<name>``, ``no_datatime`` (a data command 2011/2021/2031/2041/2051/2061 without
DataTime — a public logger sends ``CN=2011`` with ``CP=&&&&``; the stage layer quarantines it).

Decisions
---------
* ``data_time`` is a timezone-aware ``datetime`` in Beijing time (tzinfo UTC+08:00), so
  ``.astimezone(UTC)`` at the ingest boundary is exact.  17-digit DataTime carries milliseconds.
* ``protocol_version``: Flag version bits 0 → 2005, 1 → 2017, 2 → 2025; no Flag → 2005.
* 2005 pollutant codes (``B01``, ``011``, ``S01``, ``01`` …) are mapped to 2017 codes in every
  packet (the code spaces do not overlap); ``pollutant_code_original`` maps the 2017 code back to
  the code as sent, for mapped codes only.
* CP items: ``;`` and ``,`` both separate items (the key ``<code>-<suffix>`` carries the
  grouping).  When a key repeats (2005 loggers write ``01-Flag`` after ``01-Rtd`` and again after
  ``01-ZsRtd``), the first value wins; a different later value adds a ``duplicate_key`` warning with that value
  (its first 40 characters), so none is lost.
* Suffixes Rtd Min Avg Max Cou ZsRtd ZsMin ZsAvg ZsMax ZsCou are floats; every other suffix (Flag,
  EFlag, SampleTime, vendor ones) is kept as a string.  ``SB<n>-RS`` (int state) and ``SB<n>-RT``
  (float hours) go to ``facilities``.  CP keys without ``-`` other than DataTime go to ``extra``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ingest.hj212.crc import crc16_hj212
from ingest.numbers import PLAIN_INT, PLAIN_NUMBER
from schemas.clock import BEIJING
from schemas.hj212_codes import (
    CODE_2005_TO_2017,
    DATA_CNS,
    FACILITY_UNITS,
    QUARANTINE_REASON_LABELS,
    ST_CODES,
    QnRtn,
)
from schemas.labels import labelled

__all__ = [
    "BEIJING",
    "MAX_DATA_LEN",
    "REJECT_REASONS",
    "Packet",
    "Reject",
    "build_ack_9011",
    "build_ack_9014",
    "build_frame",
    "build_packet",
    "format_datatime",
    "parse_line",
    "parse_lines",
    "qn_rtn_for",
    "reply_flag",
    "salvage_header",
    "salvaged_reject",
    "split_lines",
]

MAX_DATA_LEN = 1024  # HJ 212-2017 §6.3.1: data segment 0..1024 bytes


def _registered(reason: str) -> str:
    zh, en = QUARANTINE_REASON_LABELS.get(reason, ("", ""))
    return labelled(reason, zh, en, "schemas.hj212_codes.QUARANTINE_REASON_LABELS")


# Quarantine reasons, as in the module docstring's tables
EMPTY = _registered("empty")
BAD_HEADER = _registered("bad_header")
MISSING_TAIL = _registered("missing_tail")
BAD_LENGTH_FIELD = _registered("bad_length_field")
OVERSIZE = _registered("oversize")
LENGTH_MISMATCH = _registered("length_mismatch")
BAD_CRC_FIELD = _registered("bad_crc_field")
CRC_MISMATCH = _registered("crc_mismatch")
NOT_UTF8 = _registered("not_utf8")
MISSING_FIELD = "missing_field"  # written with the field: MISSING_FIELDS maps a field to its reason
MISSING_FIELDS = {
    name: _registered(f"{MISSING_FIELD}:{name}")
    for name in ("CP", "ST", "CN", "PW", "MN", "QN", "PNUM", "PNO")
}
BAD_FIELD = _registered("bad_field")
BAD_CP = _registered("bad_cp")
BAD_FLAG = _registered("bad_flag")
BAD_SPLIT = _registered("bad_split")
BAD_DATATIME = _registered("bad_datatime")
BAD_VALUE = _registered("bad_value")
INTERNAL_ERROR = _registered("internal_error")
# the receiver's
UNKNOWN_MN = _registered("unknown_mn")
BAD_PW = _registered("bad_pw")
AUTH_THROTTLED = _registered("auth_throttled")
MN_OVER_BUDGET = _registered("mn_budget_exceeded")
LINE_TOO_LONG = _registered("line_too_long")
# the batch parser's stage rules
NO_DATATIME = _registered("no_datatime")
SPLIT_NO_DATATIME = _registered("split_no_datatime")
DATA_TIME_AHEAD_OF_RECEIPT = _registered("data_time_ahead_of_receipt")
# the source build's, for a whole input
CAPTURE_UNREADABLE = _registered("capture_unreadable")
SEGMENT_MANIFEST_UNREADABLE = _registered("segment_manifest_unreadable")
SEGMENT_MANIFEST_MISMATCH = _registered("segment_manifest_mismatch")

# every reason the registry labels (``missing_field`` for each missing_field:<name>)
REJECT_REASONS = frozenset(reason.partition(":")[0] for reason in QUARANTINE_REASON_LABELS)

_QN_RTN_BY_REASON = {
    CRC_MISMATCH: QnRtn.CRC_ERROR,
    BAD_CRC_FIELD: QnRtn.CRC_ERROR,
    BAD_FLAG: QnRtn.FLAG_ERROR,
    UNKNOWN_MN: QnRtn.MN_ERROR,
    BAD_PW: QnRtn.PW_ERROR,
    MISSING_FIELDS["MN"]: QnRtn.MN_ERROR,
    MISSING_FIELDS["PW"]: QnRtn.PW_ERROR,
    MISSING_FIELDS["ST"]: QnRtn.ST_ERROR,
    MISSING_FIELDS["CN"]: QnRtn.CN_ERROR,
    MISSING_FIELDS["QN"]: QnRtn.QN_ERROR,
    INTERNAL_ERROR: QnRtn.UNKNOWN,
}


def qn_rtn_for(reason: str) -> int:
    """``QnRtn`` for a 9011 reply to a rejected line (HJ 212-2017 table 7).

    CRC → 9, PW → 3, MN → 4, ST → 5, Flag → 6, QN → 7, CN → 8; other format errors → 2
    (request rejected); internal errors → 100.
    """
    return _QN_RTN_BY_REASON.get(reason, QnRtn.REJECTED)


_VERSIONS = {0: 2005, 1: 2017, 2: 2025}
_VERSION_BITS = {2005: 0, 2017: 1, 2025: 2}
_NUMERIC_SUFFIXES = frozenset(
    {"Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax", "ZsCou"}
)
_HEX = b"0123456789abcdefABCDEF"
_HEX_STR = "0123456789abcdefABCDEF"
_MAP_2005 = dict(CODE_2005_TO_2017)
_KNOWN_ST = frozenset(ST_CODES)
_HEADER_FIELDS = ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO")
_HEADER_SET = frozenset(_HEADER_FIELDS)
_FACILITY_SUFFIXES = frozenset(FACILITY_UNITS)
_REPEAT_CHARS = 40  # of a repeated key's other value, kept in its warning (a hostile one is cut)

_K_NUM, _K_STR, _K_FACILITY, _K_DATATIME, _K_EXTRA = range(5)
# CP key -> (kind, 2017 code, suffix, original 2005 code or None); grows with the keys seen
# (bounded: cleared when it gets large, e.g. on a stream of garbage keys).
_KEY_INFO: dict[str, tuple[int, str, str, str | None]] = {}


def _classify_key(k: str) -> tuple[int, str, str, str | None]:
    code, dash, suffix = k.partition("-")
    info: tuple[int, str, str, str | None]
    if k == "DataTime":
        info = (_K_DATATIME, "", "", None)
    elif not (dash and code and suffix):
        info = (_K_EXTRA, "", "", None)
    elif suffix in _FACILITY_SUFFIXES and code.startswith("SB"):
        info = (_K_FACILITY, code, suffix, None)
    else:
        kind = _K_NUM if suffix in _NUMERIC_SUFFIXES else _K_STR
        c17 = _MAP_2005.get(code)
        info = (kind, c17, suffix, code) if c17 is not None else (kind, code, suffix, None)
    if len(_KEY_INFO) > 65536:
        _KEY_INFO.clear()
    _KEY_INFO[k] = info
    return info


@dataclass(slots=True)
class Packet:
    """A packet that passed framing, length, CRC and structure checks."""

    raw: bytes
    st: str
    cn: str
    pw: str
    mn: str
    qn: str | None = None
    flag: int | None = None
    protocol_version: int = 2005
    ack_wanted: bool = False
    split: bool = False
    pnum: int | None = None
    pno: int | None = None
    data_time: datetime | None = None
    # 2017 code -> {suffix -> float (numeric suffixes) | str (Flag, EFlag, SampleTime, others)}
    items: dict[str, dict[str, float | str]] = field(default_factory=dict)
    # 2017 code -> code as sent, only where a 2005 code was mapped
    pollutant_code_original: dict[str, str] = field(default_factory=dict)
    # facility (SB1, SB2 …) -> {"RS": int state, "RT": float run hours}
    facilities: dict[str, dict[str, float | int]] = field(default_factory=dict)
    # other CP key=values (QnRtn, ExeRtn, RestartTime, HeartbeatTime, vendor keys …)
    extra: dict[str, str] = field(default_factory=dict)
    # data-segment fields other than QN ST CN PW MN Flag PNUM PNO CP
    fields: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    crc: str = ""

    @property
    def is_reject(self) -> bool:
        return False


@dataclass(slots=True, frozen=True)
class Reject:
    """A line that was not accepted; ``qn``/``mn``/… are best-effort, for a 9011 reply."""

    reason: str
    detail: str
    raw: bytes
    qn: str | None = None
    st: str | None = None
    cn: str | None = None
    pw: str | None = None
    mn: str | None = None
    flag: int | None = None

    @property
    def is_reject(self) -> bool:
        return True

    @property
    def qn_rtn(self) -> int:
        return qn_rtn_for(self.reason)


# ---------------------------------------------------------------------------------------------
# parsing


def salvage_header(segment: bytes) -> dict[str, str]:
    """Best-effort header fields of a damaged segment (slow path, rejects only)."""
    text = segment.decode("utf-8", "replace")
    cut = text.find("CP=")
    if cut >= 0:
        text = text[:cut]
    out: dict[str, str] = {}
    for part in text.split(";"):
        k, sep, v = part.partition("=")
        if sep and k in _HEADER_FIELDS and k not in out and v:
            out[k] = v
    return out


def _reject(
    reason: str, detail: str, raw: bytes, segment: bytes | None = None, hdr: dict[str, str] | None = None
) -> Reject:
    if hdr is None:
        hdr = salvage_header(segment) if segment else {}
    flag_s = hdr.get("Flag")
    flag = int(flag_s) if flag_s is not None and flag_s.isascii() and flag_s.isdigit() else None
    return Reject(
        reason,
        detail,
        raw,
        hdr.get("QN"),
        hdr.get("ST"),
        hdr.get("CN"),
        hdr.get("PW"),
        hdr.get("MN"),
        flag if flag is not None and flag < 256 else None,
    )


def salvaged_reject(reason: str, detail: str, raw: bytes) -> Reject:
    """A line refused before parsing (too long, cut off): what its header still tells, for the reply."""
    return _reject(reason, detail, raw, raw[6:] if raw.startswith(b"##") else None)


_DT_CACHE: dict[str, datetime] = {}


def _parse_datatime(s: str) -> datetime | None:
    dt = _DT_CACHE.get(s)
    if dt is not None:
        return dt
    n = len(s)
    if n not in (14, 17) or not s.isascii() or not s.isdigit():
        return None
    try:
        dt = datetime(
            int(s[0:4]),
            int(s[4:6]),
            int(s[6:8]),
            int(s[8:10]),
            int(s[10:12]),
            int(s[12:14]),
            int(s[14:17]) * 1000 if n == 17 else 0,
            tzinfo=BEIJING,
        )
    except ValueError:
        return None
    if len(_DT_CACHE) > 8192:
        _DT_CACHE.clear()
    _DT_CACHE[s] = dt
    return dt


def parse_line(line: bytes, *, require_tail: bool = True) -> Packet | Reject:
    """Parse one line (with its ``\\r\\n``).  Never raises.

    ``require_tail=False`` accepts a line whose ``\\r\\n`` was stripped or that ends in a bare
    ``\\n`` or ``\\r`` (trailing CR/LF bytes are removed).
    """
    try:
        if type(line) is not bytes:
            line = bytes(line)
        return _parse(line, require_tail)
    except Exception as exc:  # safety net: parse_line must never raise
        try:
            raw = bytes(line)
        except Exception:
            raw = b""
        return Reject(INTERNAL_ERROR, f"{type(exc).__name__}: {exc}", raw)


def _parse(line: bytes, require_tail: bool) -> Packet | Reject:
    if not line.strip(b"\r\n"):
        return Reject(EMPTY, "empty line", line)
    if not line.startswith(b"##"):
        return Reject(BAD_HEADER, f"line does not start with '##': {line[:16]!r}", line)
    if line.endswith(b"\r\n"):
        body = line[:-2]
    elif require_tail:
        return Reject(MISSING_TAIL, f"line does not end with CRLF: ...{line[-16:]!r}", line)
    else:
        body = line.rstrip(b"\r\n")
    lenfield = body[2:6]
    if len(lenfield) != 4 or not lenfield.isdigit():
        return Reject(BAD_LENGTH_FIELD, f"length field {lenfield!r} is not 4 ASCII digits", line)
    declared = int(lenfield)
    if declared > MAX_DATA_LEN:
        return _reject(OVERSIZE, f"declared data length {declared} > {MAX_DATA_LEN}", line, body[6:-4])
    segment = body[6:-4]
    if len(body) < 10 or len(segment) != declared:
        return _reject(
            LENGTH_MISMATCH,
            f"declared length {declared} != actual {max(len(body) - 10, 0)} bytes",
            line,
            segment,
        )
    crcfield = body[-4:]
    if crcfield.translate(None, _HEX):
        return _reject(BAD_CRC_FIELD, f"CRC field {crcfield!r} is not 4 hex digits", line, segment)
    crc_sent = int(crcfield, 16)
    crc_calc = crc16_hj212(segment)
    if crc_sent != crc_calc:
        return _reject(
            CRC_MISMATCH, f"CRC sent {crcfield.decode()} != computed {crc_calc:04X}", line, segment
        )
    try:
        s = segment.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _reject(
            NOT_UTF8, f"data segment is not UTF-8: {exc.reason} at byte {exc.start}", line, segment
        )
    return _parse_segment(s, line, segment, crcfield.decode())


def _parse_segment(s: str, line: bytes, segment: bytes, crc: str) -> Packet | Reject:
    if s.startswith("CP="):
        cut = 0
    else:
        cut = s.find(";CP=")
        if cut < 0:
            return _reject(MISSING_FIELDS["CP"], "no CP field", line, segment)
        cut += 1
    hdr: dict[str, str] = {}
    warnings: list[str] = []
    for part in s[:cut].split(";"):
        if not part:
            continue
        k, sep, v = part.partition("=")
        if not sep:
            return _reject(BAD_FIELD, f"data-segment field {part[:40]!r} has no '='", line, segment)
        if k in hdr:
            warnings.append(f"duplicate_field:{k}")
            continue
        hdr[k] = v
    cp = s[cut + 3 :]
    if len(cp) < 4 or not cp.startswith("&&") or not cp.endswith("&&"):
        return _reject(BAD_CP, f"CP not wrapped in &&…&&: {cp[:40]!r}", line, None, hdr)

    st = hdr.get("ST", "")
    cn = hdr.get("CN", "")
    pw = hdr.get("PW", "")
    mn = hdr.get("MN", "")
    qn = hdr.get("QN")
    flag_s = hdr.get("Flag")
    pnum_s = hdr.get("PNUM")
    pno_s = hdr.get("PNO")
    for name, value in (("ST", st), ("CN", cn), ("PW", pw), ("MN", mn)):
        if not value:
            return _reject(MISSING_FIELDS[name], f"{name} missing or empty", line, None, hdr)

    flag: int | None = None
    version = 2005
    ack = False
    split = False
    if flag_s is not None:
        if not (0 < len(flag_s) <= 3 and flag_s.isascii() and flag_s.isdigit()) or int(flag_s) > 255:
            return _reject(BAD_FLAG, f"Flag {flag_s[:20]!r} is not an integer 0..255", line, None, hdr)
        flag = int(flag_s)
        known = _VERSIONS.get(flag >> 2)
        if known is None:
            return _reject(BAD_FLAG, f"Flag {flag}: unknown version bits {flag >> 2}", line, None, hdr)
        version = known
        ack = bool(flag & 1)
        split = bool(flag & 2)
    if version >= 2017 and not qn:
        return _reject(MISSING_FIELDS["QN"], f"QN required by HJ 212-{version}", line, None, hdr)
    if qn is not None and (len(qn) != 17 or not qn.isascii() or not qn.isdigit()):
        warnings.append("qn_format")

    pnum: int | None = None
    pno: int | None = None
    if split or pnum_s is not None or pno_s is not None:
        if pnum_s is None:
            return _reject(MISSING_FIELDS["PNUM"], "split packet without PNUM", line, None, hdr)
        if pno_s is None:
            return _reject(MISSING_FIELDS["PNO"], "split packet without PNO", line, None, hdr)
        if not (
            0 < len(pnum_s) <= 4
            and 0 < len(pno_s) <= 4
            and pnum_s.isascii()
            and pnum_s.isdigit()
            and pno_s.isascii()
            and pno_s.isdigit()
            and 1 <= int(pno_s) <= int(pnum_s)
        ):
            return _reject(BAD_SPLIT, f"PNUM={pnum_s[:10]!r} PNO={pno_s[:10]!r} invalid", line, None, hdr)
        pnum = int(pnum_s)
        pno = int(pno_s)
        split = True

    if len(mn) != 24 or mn.strip(_HEX_STR):
        warnings.append("mn_not_24_hex")
    if st not in _KNOWN_ST:
        warnings.append("st_unknown")

    # --- CP ---
    items: dict[str, dict[str, float | str]] = {}
    original: dict[str, str] = {}
    facilities: dict[str, dict[str, float | int]] = {}
    extra: dict[str, str] = {}
    data_time: datetime | None = None
    inner = cp[2:-2]
    if inner:
        key_info = _KEY_INFO
        for kv in inner.replace(",", ";").split(";"):
            k, sep, v = kv.partition("=")
            if not sep:
                if not kv:
                    continue
                return _reject(BAD_CP, f"CP item {kv[:40]!r} has no '='", line, None, hdr)
            info = key_info.get(k)
            if info is None:
                info = _classify_key(k)
            kind, code, suffix, orig = info
            if kind == _K_NUM:
                try:
                    num = float(v)
                except ValueError:
                    return _reject(BAD_VALUE, f"{k}={v[:40]!r} is not a number", line, None, hdr)
                if num - num != 0.0:  # inf or nan
                    return _reject(BAD_VALUE, f"{k}={v[:40]!r} is not finite", line, None, hdr)
                if not PLAIN_NUMBER.fullmatch(v):  # float() also reads '1_5' and ' 7'
                    return _reject(BAD_VALUE, f"{k}={v[:40]!r} is not a number", line, None, hdr)
                val: float | str = num
            elif kind == _K_STR:
                val = v
            elif kind == _K_DATATIME:
                if data_time is None:
                    data_time = _parse_datatime(v)
                    if data_time is None:
                        return _reject(
                            BAD_DATATIME,
                            f"DataTime={v[:40]!r} is not a valid 14/17-digit time",
                            line,
                            None,
                            hdr,
                        )
                continue
            elif kind == _K_EXTRA:
                if k in extra:
                    if extra[k] != v:
                        warnings.append(f"duplicate_key:{k}={v[:_REPEAT_CHARS]}")
                else:
                    extra[k] = v
                continue
            else:  # facility state
                plain = (PLAIN_INT if suffix == "RS" else PLAIN_NUMBER).fullmatch(v)
                try:
                    fval: float | int = int(v) if suffix == "RS" else float(v)
                except ValueError:
                    plain = None
                if plain is None:
                    return _reject(BAD_VALUE, f"{k}={v[:40]!r} is not a number", line, None, hdr)
                if fval - fval != 0:
                    return _reject(BAD_VALUE, f"{k}={v[:40]!r} is not finite", line, None, hdr)
                fac = facilities.get(code)
                if fac is None:
                    fac = facilities[code] = {}
                if suffix in fac:
                    if fac[suffix] != fval:
                        warnings.append(f"duplicate_key:{k}={v[:_REPEAT_CHARS]}")
                else:
                    fac[suffix] = fval
                continue
            d = items.get(code)
            if d is None:
                d = items[code] = {}
                if orig is not None:
                    original[code] = orig
            if suffix in d:
                if d[suffix] != val:
                    warnings.append(f"duplicate_key:{k}={v[:_REPEAT_CHARS]}")
            else:
                d[suffix] = val
    if data_time is None and cn in DATA_CNS and (pno is None or pno == 1):
        warnings.append("no_datatime")

    return Packet(
        line,
        st,
        cn,
        pw,
        mn,
        qn,
        flag,
        version,
        ack,
        split,
        pnum,
        pno,
        data_time,
        items,
        original,
        facilities,
        extra,
        {k: v for k, v in hdr.items() if k not in _HEADER_SET} if len(hdr) > 4 else {},
        warnings,
        crc,
    )


def split_lines(data: bytes) -> list[bytes]:
    """Split a capture into lines at ``\\n``, keeping each terminator (``\\r`` is not a split point)."""
    parts = data.split(b"\n")
    last = parts.pop()
    out = [p + b"\n" for p in parts]
    if last:
        out.append(last)
    return out


def parse_lines(lines: Iterable[bytes]) -> Iterator[Packet | Reject]:
    """Parse many lines (each with its terminator, e.g. from a file opened ``rb``), one by one.

    Split packets stay one result per part: the batch parser (``ingest.hj212.batch``) gives a later
    part its first part's DataTime."""
    for line in lines:
        yield parse_line(line)


# ---------------------------------------------------------------------------------------------
# building


def format_datatime(dt: datetime, *, millis: bool = False) -> str:
    """``YYYYMMDDhhmmss[zzz]`` in Beijing time (aware datetimes are converted, naive ones are
    taken as Beijing time)."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(BEIJING)
    s = f"{dt.year:04d}{dt.month:02d}{dt.day:02d}{dt.hour:02d}{dt.minute:02d}{dt.second:02d}"
    if millis:
        s += f"{dt.microsecond // 1000:03d}"
    return s


def _fmt_value(v: float | int | str) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    r = repr(float(v))
    if "e" in r or "E" in r:
        r = format(Decimal(r), "f")
    return r


def build_frame(segment: bytes | str, *, lowercase_crc: bool = False) -> bytes:
    """Wrap a data segment: ``##`` + 4-digit byte length + segment + CRC + ``\\r\\n``."""
    seg = segment.encode("utf-8") if isinstance(segment, str) else segment
    crc = b"%04x" % crc16_hj212(seg) if lowercase_crc else b"%04X" % crc16_hj212(seg)
    return b"##%04d" % len(seg) + seg + crc + b"\r\n"


def build_packet(
    *,
    st: str,
    cn: str,
    mn: str,
    pw: str = "123456",
    qn: str | None = None,
    flag: int | None = None,
    pnum: int | None = None,
    pno: int | None = None,
    data_time: datetime | str | None = None,
    items: Mapping[str, Mapping[str, float | int | str]] | None = None,
    facilities: Mapping[str, Mapping[str, float | int | str]] | None = None,
    extra: Mapping[str, str] | None = None,
    fields: Mapping[str, str] | None = None,
    cp: str | None = None,
    millis: bool = False,
    lowercase_crc: bool = False,
    check_size: bool = True,
) -> bytes:
    """Build one framed packet.

    Field order is QN ST CN PW MN Flag PNUM PNO <fields> CP.  CP is ``cp`` verbatim if given,
    otherwise ``DataTime`` (datetime → Beijing time, 14 digits or 17 with ``millis``; a string is
    written as is), then ``extra`` key=values, then one ``;``-group per pollutant code with its
    suffixes joined by ``,``, then facilities (``SB1-RS=1,SB1-RT=2.5``).  Floats are written so that
    ``float()`` gives them back exactly.  Raises ``ValueError`` if the data segment exceeds 1024
    bytes (unless ``check_size=False``, for building negative test cases).
    """
    head: list[str] = []
    if qn is not None:
        head.append(f"QN={qn}")
    head += [f"ST={st}", f"CN={cn}", f"PW={pw}", f"MN={mn}"]
    if flag is not None:
        head.append(f"Flag={flag}")
    if pnum is not None:
        head.append(f"PNUM={pnum}")
    if pno is not None:
        head.append(f"PNO={pno}")
    if fields:
        head += [f"{k}={v}" for k, v in fields.items()]
    if cp is None:
        groups: list[str] = []
        if data_time is not None:
            dts = data_time if isinstance(data_time, str) else format_datatime(data_time, millis=millis)
            groups.append(f"DataTime={dts}")
        if extra:
            groups += [f"{k}={v}" for k, v in extra.items()]
        for group in (items, facilities):
            if group:
                for code, sub in group.items():
                    if sub:
                        groups.append(",".join(f"{code}-{s}={_fmt_value(v)}" for s, v in sub.items()))
        cp = ";".join(groups)
    head.append(f"CP=&&{cp}&&")
    seg = ";".join(head).encode("utf-8")
    if check_size and len(seg) > MAX_DATA_LEN:
        raise ValueError(f"data segment is {len(seg)} bytes > {MAX_DATA_LEN}")
    return build_frame(seg, lowercase_crc=lowercase_crc)


def _reply_flag(version: int) -> int:
    # HJ 212-2017 replies carry Flag=4 (version 1, no ack wanted); a 2025 logger gets version 2.
    return _VERSION_BITS.get(version, 1) << 2 if version >= 2017 else 4


def reply_flag(flag: int | None) -> int:
    """The Flag of a reply to a line whose Flag is ``flag`` (None: it had none): the line's protocol
    version, no ack wanted — 4 for HJ 212-2017 (and 2005), 8 for a 2025 logger."""
    return _reply_flag(2005 if flag is None else _VERSIONS.get(flag >> 2, 2017))


def build_ack_9014(packet: Packet, *, flag: int | None = None) -> bytes:
    """9014 data reply: same QN, ST=91, CN=9014, the packet's PW and MN, Flag=4, ``CP=&&&&``.

    Same bytes as ``build_packet(qn=…, st="91", cn="9014", pw=…, mn=…, flag=…, cp="")``, formatted
    directly: the receiver builds one per acknowledged packet.
    """
    f = _reply_flag(packet.protocol_version) if flag is None else flag
    qn = "" if packet.qn is None else f"QN={packet.qn};"
    seg = f"{qn}ST=91;CN=9014;PW={packet.pw};MN={packet.mn};Flag={f};CP=&&&&".encode()
    if len(seg) > MAX_DATA_LEN:
        raise ValueError(f"data segment is {len(seg)} bytes > {MAX_DATA_LEN}")
    return b"##%04d" % len(seg) + seg + b"%04X" % crc16_hj212(seg) + b"\r\n"


def build_ack_9011(qn: str | None, qn_rtn: int, *, mn: str = "", pw: str = "", flag: int = 4) -> bytes:
    """9011 request reply: ``QN=<qn>;ST=91;CN=9011;PW=…;MN=…;Flag=4;CP=&&QnRtn=<n>&&``."""
    return build_packet(qn=qn, st="91", cn="9011", pw=pw, mn=mn, flag=flag, cp=f"QnRtn={qn_rtn}")
