"""The memory cap of the web app's query processes, from DuckDB's memory_limit spelling."""

from __future__ import annotations

import os

import pytest

from ecocloud.web.sql_worker import memory_bytes


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        ("1GB", 10**9),
        ("512MiB", 512 << 20),
        ("1.5 gb", 1_500_000_000),
        ("2048", 2048),
        ("64kb", 64_000),
        ("1TiB", 1 << 40),
    ],
)
def test_memory_limits_in_bytes(limit: str, expected: int) -> None:
    assert memory_bytes(limit) == expected


def test_a_share_of_the_machine() -> None:
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert memory_bytes("50%") == physical // 2


@pytest.mark.parametrize("limit", ["", "GB", "1 parsec", "-1GB", "1e9"])
def test_what_is_no_memory_limit_is_refused(limit: str) -> None:
    with pytest.raises(ValueError, match="a number and a unit"):
        memory_bytes(limit)
