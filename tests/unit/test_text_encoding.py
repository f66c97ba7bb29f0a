"""Upstream tables in UTF-8 or GB18030, and a UTF-8 file with a line in GBK refused, not garbled."""

from __future__ import annotations

import random

import pytest

from ingest.text_encoding import TextEncodingError, decode_text

ROWS = ["uscc,enterprise_name", "91360100641893144E,江西化工有限公司", "91360100641893144F,南昌水务集团"]


def test_utf8_with_or_without_a_bom_and_gb18030() -> None:
    text = "\n".join(ROWS) + "\n"
    assert decode_text(text.encode()) == text
    assert decode_text(b"\xef\xbb\xbf" + text.encode()) == text
    assert decode_text(text.encode("gb18030")) == text
    assert decode_text(b"plain,ascii\n") == "plain,ascii\n"


def test_a_utf8_file_with_a_line_in_gbk_is_refused_naming_it() -> None:
    """江西化工有限公司 in GBK is 16 bytes: as GB18030 the whole file decoded without an error, every
    name garbled (姹熻タ鍖栧伐…)."""
    lines = [r.encode() for r in ROWS] + ["91360100641893144G,江西化工有限公司".encode("gbk")]
    data = b"\n".join(lines + [r.encode() for r in ROWS[1:]])
    data.decode("gb18030")  # what the old fallback did: no error
    with pytest.raises(
        TextEncodingError, match=r"mixed encodings: 4 lines are UTF-8 but 1 are not \(line 4\)"
    ):
        decode_text(data)


def test_a_gbk_file_with_a_line_that_happens_to_be_valid_utf8_is_still_gbk() -> None:
    """A GBK line of characters whose bytes also form UTF-8 sequences (rare) does not make the file
    UTF-8: most of its lines are not."""
    coincidence = "脗隆"  # GBK C3 92 C2 A1: valid UTF-8 too
    assert coincidence.encode("gbk").decode("utf-8")
    text = "\n".join([*ROWS, coincidence, "贵州省,黔南州"]) + "\n"
    assert decode_text(text.encode("gbk")) == text


def test_bytes_that_are_not_text() -> None:
    with pytest.raises(TextEncodingError, match="neither UTF-8 nor GB18030 text"):
        decode_text(b"\x80\x80\xff\xfe\x00garbage")


def test_gbk_lines_pasted_into_a_utf8_file_are_refused_even_when_most_lines_are_gbk() -> None:
    """One UTF-8 row among rows pasted from a GBK file: GB18030 decoded it all, 南昌水务集团 garbled."""
    data = b"\n".join(
        [b"uscc,enterprise_name", ROWS[2].encode()]
        + [r.encode("gbk") for r in (ROWS[1], "91360100641893144G,赣州稀土集团")]
    )
    with pytest.raises(TextEncodingError, match=r"1 lines are UTF-8 but 2 are not \(line 3, 4\)"):
        decode_text(data)


def test_a_gbk_file_of_one_character_lines_valid_as_utf8_is_gbk() -> None:
    """省 and 女 in GBK are valid UTF-8 two-byte sequences: short lines of them are no sign of UTF-8."""
    text = "\n".join([*ROWS, "省", "女", "省,女"]) + "\n"
    assert "省".encode("gbk").decode("utf-8") and "女".encode("gbk").decode("utf-8")
    assert decode_text(text.encode("gbk")) == text


def test_a_large_gbk_registry_is_read_as_gbk() -> None:
    """20,000 rows of short random GB2312 names: none may pass for a UTF-8 line (a refused file)."""
    level_one = [bytes([hi, lo]) for hi in range(0xB0, 0xD8) for lo in range(0xA1, 0xFF)]
    hanzi = [c.decode("gb2312") for c in level_one if c[0] < 0xD7 or c[1] < 0xFA]  # D7FA-D7FE: unassigned
    rng = random.Random(7)
    rows = [f"{i},{''.join(rng.choices(hanzi, k=rng.randint(2, 12)))}" for i in range(20_000)]
    text = "\n".join(rows) + "\n"
    assert decode_text(text.encode("gbk")) == text


def test_utf16_with_its_byte_order_mark_is_read() -> None:
    text = "监测点编码,监测点名称\n1001A,万寿西宫\n"
    assert decode_text(text.encode("utf-16")) == text  # little-endian, the mark first
    assert decode_text(b"\xfe\xff" + text.encode("utf-16-be")) == text
    with pytest.raises(TextEncodingError, match="UTF-16 byte-order mark"):
        decode_text(b"\xff\xfe" + "监测".encode("utf-16-le") + b"\x00")  # an odd byte out
