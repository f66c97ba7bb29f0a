"""Capped, streamed gzip/deflate inflation: bombs refused early, truncation and corruption named."""

from __future__ import annotations

import gzip
import os
import zlib

import pytest

from ingest.inflate import InflateError, Inflater, gunzip, gunzip_head

MiB = 2**20


def bomb(mib: int, head: bytes = b"") -> bytes:
    """gzip of ``head`` + ``mib`` MiB of zeros, built without holding the inflated bytes."""
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * MiB
    return co.compress(head) + b"".join(co.compress(zeros) for _ in range(mib)) + co.flush()


def test_gunzip_round_trips_several_members_and_zero_padding() -> None:
    data = os.urandom(300_000) + b"x" * 3 * MiB  # more than one output step
    assert gunzip(gzip.compress(data)) == data
    assert gunzip(gzip.compress(data) + gzip.compress(b"tail")) == data + b"tail"
    assert gunzip(gzip.compress(data) + b"\0" * 16) == data


def test_fed_in_small_chunks_gives_the_same_bytes() -> None:
    data = b"".join(f"{i},{i * i}\n".encode() for i in range(200_000))
    packed = gzip.compress(data)
    inflater = Inflater("gzip", max_bytes=len(data))
    out = b"".join(inflater.feed(packed[i : i + 777]) for i in range(0, len(packed), 777))
    inflater.finish()
    assert out == data and inflater.produced == len(data)


def test_a_bomb_is_refused_at_the_cap_not_after_inflating_it() -> None:
    packed = bomb(64)  # ~64 KB
    inflater = Inflater("gzip", max_bytes=2 * MiB)
    with pytest.raises(InflateError, match="inflates beyond 2097152 bytes"):
        inflater.feed(packed)
    assert inflater.produced <= 3 * MiB  # stopped one step past the cap, never near 64 MiB


def test_one_byte_over_the_cap_is_refused_and_the_cap_itself_is_not() -> None:
    packed = gzip.compress(b"a" * 1000)
    assert len(gunzip(packed, max_bytes=1000)) == 1000
    with pytest.raises(InflateError, match="beyond 999 bytes"):
        gunzip(packed, max_bytes=999)


def test_truncated_and_corrupt_gzip_are_named() -> None:
    packed = gzip.compress(os.urandom(50_000))
    with pytest.raises(InflateError, match="truncated gzip"):
        gunzip(packed[:-100])
    with pytest.raises(InflateError, match="corrupt gzip"):
        gunzip(packed + b"trailing garbage")
    with pytest.raises(InflateError, match="corrupt gzip"):
        gunzip(b"\x1f\x8b" + b"\xff" * 30)


def test_deflate_with_and_without_the_zlib_header() -> None:
    data = b"hello " * 10_000
    wrapped = zlib.compress(data)
    co = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = co.compress(data) + co.flush()
    for packed in (wrapped, raw):
        inflater = Inflater("deflate")
        assert inflater.feed(packed) == data
        inflater.finish()


def test_the_head_of_a_bomb_is_read_without_inflating_the_rest() -> None:
    head = "监测点编码".encode()
    assert gunzip_head(bomb(32, head), len(head)) == head
