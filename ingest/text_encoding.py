"""Decoding the text tables upstreams send: UTF-8 (with or without a BOM) or GB18030 (GBK's superset,
what Chinese Excel saves a CSV in), told apart line by line; or UTF-16 with its byte-order mark (a
spreadsheet's "Unicode text").

GB18030 decodes almost any bytes, so a file that is not UTF-8 as a whole cannot simply fall back to
it: a UTF-8 file with lines pasted in from a GBK one decodes as GB18030 without an error and every
Chinese name in it garbled. A file that is not UTF-8 but has a line that plainly is (four characters
or more of three UTF-8 bytes: a Chinese name in UTF-8) is refused, naming the lines that are not. A
GBK line is valid UTF-8 only by chance, mostly as two-byte sequences (about one GB2312 character in
seven on its own, 省 or 女); with two three-byte ones about one line of short names in 5,000, with
four none in a million tried: lines below that do not count.
"""

from __future__ import annotations

import re

_SHOWN = 5  # lines a refusal names
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # little- and big-endian


class TextEncodingError(ValueError):
    """The bytes are not text in UTF-8 or GB18030, or mix UTF-8 with another encoding (message says
    where)."""


def decode_text(data: bytes) -> str:
    """``data`` as text: UTF-8 when it all is (a BOM dropped), else GB18030 unless a line plainly is
    UTF-8; raises :class:`TextEncodingError` for such a mix, and for bytes that are neither. Bytes
    led by a UTF-16 byte-order mark are UTF-16 (the mark dropped)."""
    if data.startswith(UTF16_BOMS):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise TextEncodingError(
                f"starts with a UTF-16 byte-order mark but is not UTF-16 text ({exc.reason} at byte {exc.start})"
            ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    utf8, other = _lines_by_encoding(data)
    if utf8:
        shown = ", ".join(str(n) for n in other[:_SHOWN]) + (" …" if len(other) > _SHOWN else "")
        raise TextEncodingError(
            f"mixed encodings: {len(utf8)} lines are UTF-8 but {len(other)} are not (line {shown}): "
            "re-save the file in one encoding"
        )
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TextEncodingError(f"neither UTF-8 nor GB18030 text (line {line}: {exc.reason})") from None


def _lines_by_encoding(data: bytes) -> tuple[list[int], list[int]]:
    """The numbers of the lines that plainly are UTF-8 (valid, with ``_PLAINLY`` characters or more of
    three bytes or four), and of the lines with non-ASCII bytes that are not valid UTF-8."""
    utf8: list[int] = []
    other: list[int] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            other.append(number)
        else:
            if len(_WIDE_UTF8.findall(line)) >= _PLAINLY:
                utf8.append(number)
    return utf8, other


_PLAINLY = 4
_WIDE_UTF8 = re.compile(rb"[\xe0-\xf4][\x80-\xbf]{2,3}")  # a lead byte of three or four, its continuations
