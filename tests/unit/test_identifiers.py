"""USCC (GB 32100), permit numbers, region codes (GB/T 2260) and name normalisation — DOMAIN.md §5."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.region_codes import PREFECTURE_NAMES, PREFECTURE_NAMES_EN
from transforms.identifiers import (
    USCC_CHARSET,
    USCC_WEIGHTS,
    canonical_industry_code,
    canonical_region_code,
    canonical_region_code_array,
    is_region_code,
    is_valid_uscc,
    normalize_name,
    normalize_name_array,
    normalize_uscc,
    normalize_uscc_array,
    org_code_check_char,
    parse_permit_no,
    permit_no_valid_array,
    prefecture_code,
    prefecture_from_name,
    province_code,
    uscc_check_char,
    uscc_problem,
    uscc_problem_array,
    uscc_valid_array,
    with_uscc_flags,
)

EXAMPLE = "91350200776049653A"  # DOMAIN.md §5 worked example


def test_weights_are_those_of_gb32100() -> None:
    assert USCC_WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    assert len(USCC_CHARSET) == 31 and not set("IOSVZ") & set(USCC_CHARSET)


def test_worked_example_sum_1261_gives_a() -> None:
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(EXAMPLE[:17], USCC_WEIGHTS, strict=True))
    assert total == 1261
    assert USCC_CHARSET[(31 - total % 31) % 31] == "A"
    assert uscc_check_char(EXAMPLE[:17]) == "A"
    assert is_valid_uscc(EXAMPLE) and uscc_problem(EXAMPLE) is None
    # positions 9–17 are the GB 11714 organisation code 77604965-3, with its own check digit
    assert org_code_check_char("77604965") == "3"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "missing"),
        ("", "missing"),
        ("91350200776049653", "length"),
        ("91350200776049653AA", "length"),
        ("91350200776049653B", "check_char"),
        ("9135020077604965IA", "charset"),  # I is not in the charset
        ("91350200776049653a", "charset"),  # lower case: normalise first
        ("９１３５０２００７７６０４９６５３Ａ", "charset"),  # full-width: normalise first
        ("9.13601E+17", "number"),  # a spreadsheet's number: its digits are lost
        ("9.13601001234568E+17", "number"),
        ("9E+17", "number"),
    ],
)
def test_problems(value: str | None, problem: str) -> None:
    assert uscc_problem(value) == problem
    assert uscc_problem_array(pa.array([value], pa.string())).to_pylist() == [problem]


def test_normalisation_repairs_width_case_and_spaces() -> None:
    for raw in ("９１３５０２００７７６０４９６５３Ａ", " 91350200 776049653a ", "91350200776049653A\u3000"):
        assert normalize_uscc(raw) == EXAMPLE
    assert normalize_uscc_array(
        pa.array(["９１３５０２００７７６０４９６５３Ａ", " ", None])
    ).to_pylist() == [
        EXAMPLE,
        None,
        None,
    ]


@pytest.mark.parametrize(
    "placeholder", ["—", "-", "--", "/", "无", "暂无", "－", "n/a", "N/A", "NA", "null", "None", "——"]
)
def test_a_placeholder_for_none_is_no_uscc(placeholder: str) -> None:
    """Upstream lists write a dash or 无 where an enterprise has no USCC: no identity, not a shared key."""
    assert normalize_uscc(placeholder) is None
    assert normalize_uscc_array(pa.array([placeholder, EXAMPLE])).to_pylist() == [None, EXAMPLE]
    assert normalize_uscc("91350200776049653X") == "91350200776049653X"  # malformed, still kept as given
    assert normalize_uscc("北京某公司") == "北京某公司"  # a name in the wrong column: kept, to be flagged


first17 = st.text(alphabet=USCC_CHARSET, min_size=17, max_size=17)


@settings(max_examples=300, deadline=None)
@given(first17)
def test_a_generated_uscc_always_validates(body: str) -> None:
    code = body + uscc_check_char(body)
    assert is_valid_uscc(code)
    assert uscc_valid_array(pa.array([code])).to_pylist() == [True]


@settings(max_examples=300, deadline=None)
@given(first17, st.integers(0, 17), st.integers(1, 30))
def test_changing_one_character_breaks_it(body: str, position: int, shift: int) -> None:
    # 31 is prime and every weight is non-zero mod 31: any single substitution changes the sum
    code = body + uscc_check_char(body)
    changed = (
        code[:position]
        + USCC_CHARSET[(USCC_CHARSET.index(code[position]) + shift) % 31]
        + code[position + 1 :]
    )
    assert changed != code
    assert not is_valid_uscc(changed)
    assert uscc_problem(changed) == "check_char"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.text(max_size=20), first17.map(lambda b: b + uscc_check_char(b))), max_size=30
    )
)
def test_vectorised_check_equals_scalar(values: list[str | None]) -> None:
    assert uscc_problem_array(pa.array(values, pa.string())).to_pylist() == [uscc_problem(v) for v in values]
    chunked = pa.chunked_array([pa.array(values[:5], pa.string()), pa.array(values[5:], pa.string())])
    assert uscc_problem_array(chunked).to_pylist() == [uscc_problem(v) for v in values]


def test_flags_keep_every_row() -> None:
    t = pa.table({"uscc": [" 91350200776049653a", "91350200776049653B", None], "n": [1, 2, 3]})
    out = with_uscc_flags(t)
    assert out.num_rows == 3
    assert out["uscc"].to_pylist() == [EXAMPLE, "91350200776049653B", None]
    assert out["uscc_valid"].to_pylist() == [True, False, False]
    assert out["uscc_problem"].to_pylist() == [None, "check_char", "missing"]


def test_permit_numbers() -> None:
    p = parse_permit_no(EXAMPLE + "001P")
    assert p is not None and (p.uscc, p.sequence, p.kind, p.uscc_valid) == (EXAMPLE, 1, "P", True)
    u = parse_permit_no(" " + EXAMPLE.lower() + "012u ")
    assert u is not None and (u.sequence, u.kind) == (12, "U")
    for bad in (None, "", EXAMPLE, EXAMPLE + "01P", EXAMPLE + "001X", EXAMPLE + "0001P"):
        assert parse_permit_no(bad) is None
    broken = parse_permit_no("91350200776049653B001P")
    assert broken is not None and not broken.uscc_valid  # shaped like one, USCC flagged
    assert permit_no_valid_array(pa.array([EXAMPLE + "001P", EXAMPLE + "1P", None])).to_pylist() == [
        True,
        False,
        False,
    ]


def test_region_codes() -> None:
    assert canonical_region_code("522200") == "520600" and canonical_region_code("522400") == "520500"
    assert canonical_region_code("360100") == "360100"
    assert canonical_region_code_array(pa.array(["522200", " 522400", "360700", None])).to_pylist() == [
        "520600",
        "520500",
        "360700",
        None,
    ]
    assert prefecture_code("522201") == "520600"  # a county under the legacy 铜仁地区
    assert prefecture_code("360102") == "360100" and province_code("360102") == "360000"
    assert is_region_code("361100") and not is_region_code("36110") and not is_region_code("001100")
    assert prefecture_from_name("南昌市") == "360100"
    assert prefecture_from_name("赣州") == "360700"
    assert prefecture_from_name("黔南布依族苗族自治州") == "522700"
    assert prefecture_from_name("南昌市", "520000") is None  # not a Guizhou prefecture
    assert prefecture_from_name("火星市") is None


def test_every_prefecture_is_named_in_both_languages_in_the_registry() -> None:
    """The names are reference data, so the registry (schemas/) holds them; the functions here and
    the reports' labels read them from there."""
    assert PREFECTURE_NAMES.keys() == PREFECTURE_NAMES_EN.keys()
    assert all(is_region_code(code) and prefecture_code(code) == code for code in PREFECTURE_NAMES)
    assert (PREFECTURE_NAMES["361100"], PREFECTURE_NAMES_EN["361100"]) == ("上饶", "Shangrao")


def test_name_normalisation() -> None:
    assert normalize_name("江西 ＡＢＣ化工（集团）有限公司") == "江西ABC化工(集团)有限公司"
    assert normalize_name("江西abc化工【集团】有限公司") == "江西ABC化工(集团)有限公司"
    assert normalize_name("  ") is None and normalize_name(None) is None
    # legal-form suffixes are kept: these are different enterprises
    assert normalize_name("江西ABC化工有限公司") != normalize_name("江西ABC化工有限责任公司")


ascii_text = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in text)  # ！ … ～ (U+FF01–FF5E)


@settings(max_examples=200, deadline=None)
@given(ascii_text, st.text(alphabet=" \t\u3000\xa0", max_size=3))
def test_full_width_and_spaces_do_not_change_the_key(text: str, spaces: str) -> None:
    typed = spaces + _full_width(text) + spaces
    assert normalize_name(typed) == normalize_name(text)
    kept = (
        text.upper()
        if any(c.isalnum() for c in text) and text.upper() not in ("N/A", "NA", "NULL", "NONE")
        else None
    )
    assert normalize_uscc(typed) == normalize_uscc(text) == kept  # punctuation alone: a placeholder


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=15)), max_size=20))
def test_normalisation_is_idempotent_and_strips_all_whitespace(values: list[str | None]) -> None:
    keys = normalize_name_array(pa.array(values, pa.string())).to_pylist()
    assert keys == [normalize_name(v) for v in values]
    for key in keys:
        assert key is None or (normalize_name(key) == key and not any(c.isspace() for c in key))
    usccs = normalize_uscc_array(pa.array(values, pa.string())).to_pylist()
    assert all(u is None or normalize_uscc(u) == u for u in usccs)


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("D4620", "D4620"),
        ("d4620", "D4620"),  # lower case
        ("4620", "D4620"),  # without its section letter: division 46 is section D
        ("Ｄ４６２０", "D4620"),  # full-width
        (" 2511 ", "C2511"),
        ("E4620", "E4620"),  # a letter that contradicts the division: kept, for a reader to see
        ("化工", "化工"),  # no code at all: kept
        ("", None),
    ],
)
def test_industry_codes_as_the_standard_writes_them(given: str, code: str | None) -> None:
    """The national default limits match an industry by prefix (D4620 sewage treatment, D4411 coal
    power): 4620 or d4620 matched nothing, and the source was checked against no limit."""
    assert canonical_industry_code(given) == code


def test_industry_sections_at_the_end_of_the_table() -> None:
    """GB/T 4754-2017: S is divisions 91–96, T is 97."""
    assert (canonical_industry_code("9600"), canonical_industry_code("97")) == ("S9600", "T97")
