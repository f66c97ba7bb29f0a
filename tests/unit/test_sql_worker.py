"""The memory cap of the web app's query processes: DuckDB's memory_limit as DuckDB reads it."""

from __future__ import annotations

import pytest

from ecocloud.web.sql_worker import memory_bytes

MIB = 1 << 20


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        ("1GB", 10**9),
        ("1g", 10**9),
        ("2 gigabytes", 2 * 10**9),
        ("512MiB", 512 * MIB),
        ("1.5 GiB", 1536 * MIB),
        ("0.5 gb", 5 * 10**8),
    ],
)
def test_every_spelling_duckdb_takes(limit: str, expected: int) -> None:
    # DuckDB reports a limit to 0.1 of its unit, cut: 1 GB (953.67 MiB) is "953.6 MiB"
    assert 0 <= expected - memory_bytes(limit) <= 0.1 * (1 << 30 if expected >= 1 << 30 else MIB)


def test_a_share_of_the_machine_and_no_limit_are_duckdbs_own() -> None:
    assert 0 < memory_bytes("50%") < memory_bytes("100%")
    assert memory_bytes("none") == memory_bytes("-1") > 0


@pytest.mark.parametrize("limit", ["2048", "1 parsec", "GB"])
def test_what_duckdb_refuses_is_refused(limit: str) -> None:
    with pytest.raises(ValueError, match="memory limit"):
        memory_bytes(limit)
