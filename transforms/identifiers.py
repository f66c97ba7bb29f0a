"""National identifiers: USCC (GB 32100), discharge-permit numbers, region codes (GB/T 2260), names.

These are the join keys between permits, monitoring points, credit records and the enterprise
registry (DOMAIN.md §5). Every check here *flags*; nothing drops a row: some early USCCs fail the
check character yet were legally issued.

Scalar functions (``uscc_problem``, ``parse_permit_no`` …) serve single values (CLI, simulator,
tests); the ``*_array`` functions do the same over Arrow columns without a Python loop per value
and are what the pipelines use on whole files.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.fields import USCC_PROBLEMS
from schemas.region_codes import LEGACY_REGION_CODES, PREFECTURE_NAMES

__all__ = [
    "PERMIT_NO_RE",
    "USCC_CHARSET",
    "USCC_WEIGHTS",
    "PermitNo",
    "canonical_region_code",
    "canonical_region_code_array",
    "is_region_code",
    "is_valid_uscc",
    "normalize_name",
    "normalize_name_array",
    "normalize_uscc",
    "normalize_uscc_array",
    "org_code_check_char",
    "parse_permit_no",
    "permit_no_valid_array",
    "prefecture_code",
    "prefecture_from_name",
    "province_code",
    "uscc_check_char",
    "uscc_problem",
    "uscc_problem_array",
    "uscc_valid_array",
    "with_uscc_flags",
]

# ------------------------------------------------------------------------------------------- USCC
# GB 32100-2015 §4 / DOMAIN.md §5: 31 characters (no I, O, S, V, Z), value = index;
# weights W_i = 3^i mod 31 (i = 0..16); C18 = charset[(31 - Σ C_i·W_i mod 31) mod 31].
USCC_CHARSET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS: Final = tuple(pow(3, i, 31) for i in range(17))
USCC_LENGTH: Final = 18

_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
# byte -> value, -1 outside the charset (vectorised check)
_LOOKUP = np.full(256, -1, dtype=np.int64)
for _c, _v in _VALUE.items():
    _LOOKUP[ord(_c)] = _v
_WEIGHTS = np.array(USCC_WEIGHTS, dtype=np.int64)

# what upstream lists write for "no USCC" besides punctuation alone (compared after normalising)
_NO_USCC = pa.array(["无", "暂无", "N/A", "NA", "NULL", "NONE"], pa.string())
# Every character str.isspace() accepts, spelled out (RE2's \s is ASCII only).
_WS = "[\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
# Case folding of the matching keys is ASCII only (after NFKC, full-width letters are ASCII).

# Reasons a USCC is flagged (values of the ``uscc_problem`` columns, declared in the registry); the
# last: a USCC a spreadsheet stored as a number and wrote in E notation (9.13601E+17), digits lost
MISSING, BAD_LENGTH, BAD_CHARSET, BAD_CHECK, AS_NUMBER = USCC_PROBLEMS
_PROBLEMS = pa.array([None, *USCC_PROBLEMS], pa.string())  # index 0: valid
_CODE = {problem: i for i, problem in enumerate(USCC_PROBLEMS, start=1)}  # a problem's index in _PROBLEMS
# after normalising (upper case, no spaces); the "+" as spreadsheets write it: "1E12…" is also a hex MN
E_NOTATION = r"^[0-9](\.[0-9]+)?E\+[0-9]+$"


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a USCC."""
    if len(first17) != 17 or any(c not in _VALUE for c in first17):
        raise ValueError(f"need 17 characters of {USCC_CHARSET}, got {first17!r}")
    total = sum(_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def normalize_uscc(value: str | None) -> str | None:
    """Full-width → half-width (NFKC), whitespace removed, ASCII upper case; empty, or a placeholder for
    none (no letter or digit at all: ``—``, ``-``, ``/``; or ``无``, ``暂无``, ``N/A``, ``NA``, ``NULL``,
    ``NONE``) → None: a placeholder is no identity, and two enterprises sharing one are not one
    enterprise. Other text stays, to be flagged (a name typed into the column is a ``charset`` problem).

    One implementation for scalars and columns (:func:`normalize_uscc_array`): Python's unicodedata and
    Arrow's utf8proc know different Unicode versions, so two implementations would drift apart.
    """
    return None if value is None else normalize_uscc_array(pa.array([value], pa.string()))[0].as_py()


def normalize_uscc_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Normalise a column of USCCs (see :func:`normalize_uscc`)."""
    arr = _combine(values).cast(pa.string())
    arr = pc.utf8_normalize(arr, form="NFKC")
    arr = _nfkc_again(pc.ascii_upper(pc.replace_substring_regex(arr, _WS, "")))
    none = pc.or_(pc.invert(pc.match_substring_regex(arr, r"[\p{L}\p{N}]")), pc.is_in(arr, _NO_USCC))
    return pc.if_else(none, pa.scalar(None, pa.string()), arr)


def uscc_problem(value: str | None) -> str | None:
    """None when ``value`` is a well-formed USCC with a correct check character, else the reason:
    ``missing``, ``number`` (E notation: a spreadsheet's number), ``length``, ``charset`` or
    ``check_char``. Does not normalise: call :func:`normalize_uscc` first if the input may be
    full-width or lower case."""
    if not value:
        return MISSING
    if re.match(E_NOTATION, value):
        return AS_NUMBER
    if len(value) != USCC_LENGTH:
        return BAD_LENGTH
    if any(c not in _VALUE for c in value):
        return BAD_CHARSET
    return None if uscc_check_char(value[:17]) == value[17] else BAD_CHECK


def is_valid_uscc(value: str | None) -> bool:
    return uscc_problem(value) is None


def uscc_problem_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Vectorised :func:`uscc_problem` (string array; NULL = valid).

    The 18-byte values are viewed as an (n, 18) uint8 matrix, mapped to their charset values with a
    lookup table and weighted with one matrix product: no Python work per value.
    """
    arr = _combine(values).cast(pa.string())
    problem = np.zeros(len(arr), dtype=np.int8)  # index into _PROBLEMS; 0 = valid
    nulls = np.asarray(pc.is_null(arr).to_numpy(zero_copy_only=False), dtype=bool)
    lengths = pc.fill_null(pc.utf8_length(arr), 0).to_numpy(zero_copy_only=False)
    nbytes = pc.fill_null(pc.binary_length(arr), 0).to_numpy(zero_copy_only=False)
    problem[nulls | (lengths == 0)] = _CODE[MISSING]
    problem[(lengths != 0) & (lengths != USCC_LENGTH)] = _CODE[BAD_LENGTH]
    # 18 characters but multi-byte (Chinese, full-width): outside the charset
    problem[(lengths == USCC_LENGTH) & (nbytes != USCC_LENGTH)] = _CODE[BAD_CHARSET]
    idx = np.flatnonzero((lengths == USCC_LENGTH) & (nbytes == USCC_LENGTH) & ~nulls)
    if idx.size:
        # ``take`` yields a fresh array: its n values of 18 bytes are one contiguous data buffer
        sub = arr.take(pa.array(idx)).cast(pa.binary())
        offsets = np.frombuffer(sub.buffers()[1], dtype=np.int32)[sub.offset : sub.offset + len(sub) + 1]
        buf = np.frombuffer(sub.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
        values_m = _LOOKUP[buf.reshape(-1, USCC_LENGTH)]
        bad_charset = (values_m < 0).any(axis=1)
        total = values_m[:, :17] @ _WEIGHTS
        ok = (31 - total % 31) % 31 == values_m[:, 17]
        problem[idx[bad_charset]] = _CODE[BAD_CHARSET]
        problem[idx[~bad_charset & ~ok]] = _CODE[BAD_CHECK]
    as_number = pc.fill_null(pc.match_substring_regex(arr, E_NOTATION), False).to_numpy(zero_copy_only=False)
    problem[np.asarray(as_number, dtype=bool)] = _CODE[AS_NUMBER]
    return _PROBLEMS.take(pa.array(problem))


def uscc_valid_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Vectorised :func:`is_valid_uscc` (never NULL)."""
    return pc.is_null(uscc_problem_array(values))


# GB 11714 organisation code (USCC positions 9–17; position 17 is its own check character):
# weights 3 7 9 10 5 8 4 2 over the first 8, C9 = 11 − Σ mod 11 (10 → X, 11 → 0).
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def org_code_check_char(first8: str) -> str:
    """Check character of a GB 11714 organisation code (digits and upper-case letters)."""
    if len(first8) != 8 or not all(c.isdigit() or "A" <= c <= "Z" for c in first8):
        raise ValueError(f"need 8 characters 0-9/A-Z, got {first8!r}")
    total = sum(
        (int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True)
    )
    c9 = 11 - total % 11
    return "X" if c9 == 10 else "0" if c9 == 11 else str(c9)


# --------------------------------------------------------------------------------- permit numbers
# 排污许可证编号 = USCC + 3-digit sequence + P (permit) or U (registration-only unit), DOMAIN.md §5.
PERMIT_NO_RE: Final = re.compile(r"^([0-9A-Z]{18})(\d{3})([PU])$")


@dataclass(frozen=True)
class PermitNo:
    uscc: str
    sequence: int
    kind: str  # "P" permit, "U" registration-only unit

    @property
    def uscc_valid(self) -> bool:
        return is_valid_uscc(self.uscc)


def parse_permit_no(value: str | None) -> PermitNo | None:
    """Split a permit number into USCC, sequence and kind; None when it is not shaped like one.

    The embedded USCC is returned even when its check character is wrong (see ``uscc_valid``).
    """
    if not value:
        return None
    m = PERMIT_NO_RE.match(value.strip().upper())
    return PermitNo(m.group(1), int(m.group(2)), m.group(3)) if m else None


def permit_no_valid_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """True where the value has the permit-number shape (never NULL)."""
    arr = _combine(values).cast(pa.string())
    return pc.fill_null(pc.match_substring_regex(arr, PERMIT_NO_RE.pattern), False)


# ----------------------------------------------------------------------------------- region codes
# GB/T 2260, DOMAIN.md §5. The code tables (prefectures' names, legacy codes, provinces):
# schemas.region_codes.
_REGION_RE = re.compile(r"^\d{6}$")


# GB/T 4754-2017: the section letter of each two-digit division (A 01–05 … T 97)
_SECTIONS = (("A", 1, 5), ("B", 6, 12), ("C", 13, 43), ("D", 44, 46), ("E", 47, 50), ("F", 51, 52),
             ("G", 53, 60), ("H", 61, 62), ("I", 63, 65), ("J", 66, 69), ("K", 70, 70), ("L", 71, 72),
             ("M", 73, 75), ("N", 76, 79), ("O", 80, 82), ("P", 83, 83), ("Q", 84, 85), ("R", 86, 90),
             ("S", 91, 96), ("T", 97, 97))  # fmt: skip
_SECTION_OF = {f"{d:02d}": letter for letter, lo, hi in _SECTIONS for d in range(lo, hi + 1)}
_INDUSTRY_RE = re.compile(r"^([A-Z]?)(\d{2,4})$")


def canonical_industry_code(value: str | None) -> str | None:
    """A GB/T 4754 industry code as the standard writes it: its section letter, then its digits
    (``d4620``, ``4620`` and ``Ｄ４６２０`` are ``D4620``) — what the national default limits match by
    prefix. Anything else is kept, normalised alike (NFKC, trimmed, upper case), for a reader to see."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", value).strip().upper()
    m = _INDUSTRY_RE.match(text)
    if not m or m.group(2)[:2] not in _SECTION_OF:
        return text or None
    section = _SECTION_OF[m.group(2)[:2]]
    return section + m.group(2) if m.group(1) in ("", section) else text


def is_region_code(value: str | None) -> bool:
    """Six digits with a non-zero province part (shape only; not a lookup in the full code list)."""
    return bool(value) and bool(_REGION_RE.match(value or "")) and (value or "")[:2] != "00"


def canonical_region_code(value: str | None) -> str | None:
    """The current code for a region code: legacy prefecture codes map to their successors.

    County codes under a legacy prefecture (5222xx, 5224xx) keep their own digits: county codes were
    renumbered one by one, not by prefix, so only the prefecture (:func:`prefecture_code`) is certain.
    """
    if value is None:
        return None
    v = value.strip()
    return LEGACY_REGION_CODES.get(v, v)


def canonical_region_code_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    arr = pc.utf8_trim_whitespace(_combine(values).cast(pa.string()))
    for old, new in LEGACY_REGION_CODES.items():
        arr = pc.if_else(pc.equal(arr, old), pa.scalar(new), arr)
    return arr


def province_code(value: str) -> str:
    """``360102`` → ``360000``."""
    return value[:2] + "0000"


def prefecture_code(value: str) -> str:
    """``360102`` → ``360100``; a county under a legacy prefecture → the new prefecture."""
    pref = value[:4] + "00"
    return LEGACY_REGION_CODES.get(pref, pref)


_PREF_SUFFIXES = ("市", "地区", "州", "自治州")


def prefecture_from_name(name: str | None, province: str | None = None) -> str | None:
    """Prefecture code for a name as written in files (``南昌市``, ``南昌``, ``黔南州``); None if unknown."""
    text = normalize_name(name)
    if not text:
        return None
    candidates = {
        code: short
        for code, short in PREFECTURE_NAMES.items()
        if province is None or province_code(code) == province_code(province)
    }
    for code, short in candidates.items():
        if text == short or (text.startswith(short) and text[len(short) :] in ("", *_PREF_SUFFIXES)):
            return code
    for code, short in candidates.items():  # e.g. 黔南布依族苗族自治州
        if text.startswith(short):
            return code
    return None


# ------------------------------------------------------------------------------ enterprise names
# Matching key, not a display name: NFKC folds full-width letters, digits and brackets to
# half-width (（）→ ()), the other CJK bracket pairs become (), all whitespace goes, ASCII letters are
# upper-cased. Legal-form suffixes (有限公司 / 有限责任公司 / 股份有限公司 …) are kept: they differ
# between legally distinct enterprises.


def normalize_name(value: str | None) -> str | None:
    """The matching key of a name (see above); None for None or blank. Delegates to
    :func:`normalize_name_array` so that scalars and columns always agree."""
    return None if value is None else normalize_name_array(pa.array([value], pa.string()))[0].as_py()


def normalize_name_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Matching keys of a column of names (see :func:`normalize_name`)."""
    arr = pc.utf8_normalize(_combine(values).cast(pa.string()), form="NFKC")
    arr = pc.replace_substring_regex(arr, r"[\[【〔［]", "(")
    arr = pc.replace_substring_regex(arr, r"[\]】〕］]", ")")
    arr = _nfkc_again(pc.ascii_upper(pc.replace_substring_regex(arr, _WS, "")))
    return pc.if_else(pc.equal(pc.utf8_length(arr), 0), pa.scalar(None, pa.string()), arr)


def _nfkc_again(arr: pa.Array) -> pa.Array:
    """NFKC once more: NFKC can decompose a character into a space and a combining mark (¨ → " ̈");
    once the space is removed the mark composes with the letter before it, so keys stay idempotent."""
    return pc.utf8_normalize(arr, form="NFKC")


def _combine(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    return values


def with_uscc_flags(table: pa.Table, column: str = "uscc", *, problem: bool = True) -> pa.Table:
    """Normalise ``column`` in place and append ``uscc_valid`` (and ``uscc_problem``): flag, never drop."""
    normalised = normalize_uscc_array(table.column(column))
    reasons = uscc_problem_array(normalised)
    table = table.set_column(table.schema.get_field_index(column), column, normalised)
    table = table.append_column("uscc_valid", pc.is_null(reasons))
    return table.append_column("uscc_problem", reasons) if problem else table
