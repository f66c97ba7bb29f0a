"""HJ 212 CRC (DOMAIN.md §1: worked example of the standard's annex, not CRC-16/MODBUS)."""

from __future__ import annotations

import random

import pytest

from ingest.hj212.crc import crc16_hj212, crc16_hj212_hex, crc16_hj212_reference, crc16_modbus
from ingest.hj212.protocol import Packet, Reject, parse_line

pytestmark = pytest.mark.unit

ANNEX_LINE = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    b"Flag=5;CP=&&RtdInterval=30&&1C80\r\n"
)
ANNEX_SEGMENT = ANNEX_LINE[6:-6]


def test_worked_example_from_annex() -> None:
    assert len(ANNEX_SEGMENT) == 101
    assert crc16_hj212_hex(ANNEX_SEGMENT) == "1C80"  # the standard's prose typo says 1C08
    assert crc16_hj212(ANNEX_SEGMENT) == 0x1C80
    assert crc16_hj212_reference(ANNEX_SEGMENT) == 0x1C80


def test_modbus_gives_a_different_value() -> None:
    assert crc16_modbus(ANNEX_SEGMENT) != 0x1C80
    assert crc16_modbus(ANNEX_SEGMENT) == 0x0759


def test_empty_and_single_byte() -> None:
    assert crc16_hj212(b"") == 0xFFFF == crc16_hj212_reference(b"")
    for b in range(256):
        assert crc16_hj212(bytes([b])) == crc16_hj212_reference(bytes([b]))


def test_fast_path_equals_reference_on_random_data() -> None:
    rng = random.Random(212)
    for n in [*range(1, 70), *(rng.randrange(70, 3000) for _ in range(300))]:
        data = rng.randbytes(n)
        assert crc16_hj212(data) == crc16_hj212_reference(data), n


def test_crc_compare_is_case_insensitive() -> None:
    lower = ANNEX_LINE.replace(b"1C80\r\n", b"1c80\r\n")
    mixed = ANNEX_LINE.replace(b"1C80\r\n", b"1c80\r\n".replace(b"c", b"C"))
    for line in (ANNEX_LINE, lower, mixed):
        assert isinstance(parse_line(line), Packet)
    bad = ANNEX_LINE.replace(b"1C80\r\n", b"1C08\r\n")
    r = parse_line(bad)
    assert isinstance(r, Reject)
    assert r.reason == "crc_mismatch"
