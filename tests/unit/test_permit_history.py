"""Permit history (SCD2) and the limit in force at a time: renewal, change, revocation, expiry."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest

from ecocloud.simulator.enterprise_feeds import PermitsUpstream
from ecocloud.simulator.enterprises import simulated_sources
from ecocloud.simulator.server import Request, Resource, SimClock
from ingest.permits.parse import parse_page
from transforms.permits import (
    AmbiguousLimitError,
    attach_history,
    install_limit_in_force,
    limit_in_force,
    limits_as_of,
    permit_history,
)

BJ = dt.timezone(dt.timedelta(hours=8))
U1 = "91350200776049653A"  # DOMAIN.md §5 example
P1 = U1 + "001P"


def bj(y: int, m: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, s, tzinfo=BJ)


def _versions(rows: list[tuple]) -> pa.Table:
    names = (
        "permit_no",
        "version",
        "uscc",
        "effective_date",
        "permit_valid_from",
        "permit_valid_to",
        "status",
    )
    cols = list(zip(*rows, strict=True))
    return pa.table(
        {
            "permit_no": pa.array(cols[0], pa.string()),
            "version": pa.array(cols[1], pa.int32()),
            "uscc": pa.array(cols[2], pa.string()),
            "effective_date": pa.array(cols[3], pa.date32()),
            "permit_valid_from": pa.array(cols[4], pa.date32()),
            "permit_valid_to": pa.array(cols[5], pa.date32()),
            "status": pa.array(cols[6], pa.string()),
        }
    ).select(list(names))


D = dt.date
# P1: first issue 2021-01-01..2025-12-31 (SO2 100); renewal from 2026-01-01 (SO2 50); change from
# 2026-06-01 (SO2 35); revoked from 2026-10-15.
HISTORY = permit_history(
    _versions(
        [
            (P1, 1, U1, D(2021, 1, 1), D(2021, 1, 1), D(2025, 12, 31), "valid"),
            (P1, 2, U1, D(2026, 1, 1), D(2026, 1, 1), D(2030, 12, 31), "valid"),
            (P1, 3, U1, D(2026, 6, 1), D(2026, 1, 1), D(2030, 12, 31), "valid"),
            (P1, 4, U1, D(2026, 10, 15), D(2026, 1, 1), D(2030, 12, 31), "revoked"),
        ]
    )
)
LIMITS = attach_history(
    pa.table(
        {
            "permit_no": [P1] * 4,
            "version": pa.array([1, 2, 3, 4], pa.int32()),
            "outlet_code": ["DA001"] * 4,
            "pollutant_code": ["a21026"] * 4,
            "limit_value": [100.0, 50.0, 35.0, 35.0],
            "limit_lower": pa.array([None] * 4, pa.float64()),
            "limit_unit": ["mg/m³"] * 4,
            "standard": ["GB 13223-2011"] * 4,
            "o2_reference_pct": [6.0] * 4,
            "annual_limit_t": [120.0] * 4,
        }
    ),
    HISTORY,
)


def value_at(t: dt.datetime, key: str = U1, table: pa.Table = LIMITS) -> float | None:
    lim = limit_in_force(table, key, "DA001", "a21026", t)
    return None if lim is None else lim.limit_value


def test_versions_chain_without_gaps_or_overlaps() -> None:
    rows = HISTORY.sort_by("version").to_pylist()
    assert [r["valid_from"] for r in rows] == [
        bj(2021, 1, 1),
        bj(2026, 1, 1),
        bj(2026, 6, 1),
        bj(2026, 10, 15),
    ]
    assert [r["valid_to"] for r in rows] == [bj(2026, 1, 1), bj(2026, 6, 1), bj(2026, 10, 15), None]
    assert [r["is_current"] for r in rows] == [False, False, False, True]
    # v1 binds until the end of its printed validity: 2025-12-31 24:00 Beijing
    assert rows[0]["in_force_to"] == bj(2026, 1, 1)
    assert rows[3]["in_force_from"] is None and rows[3]["in_force_to"] is None  # revoked: never binds


def test_limit_in_force_across_renewal_change_and_revocation() -> None:
    assert value_at(bj(2020, 12, 31, 23, 59)) is None  # before the first issue
    assert value_at(bj(2023, 5, 1)) == 100.0
    # renewal takes effect at 00:00 Beijing (16:00 UTC the day before)
    assert value_at(bj(2025, 12, 31, 23, 59, 59)) == 100.0
    assert value_at(bj(2026, 1, 1)) == 50.0
    assert value_at(dt.datetime(2025, 12, 31, 16, 0, tzinfo=dt.UTC)) == 50.0
    assert value_at(bj(2026, 5, 31, 23, 59)) == 50.0
    assert value_at(bj(2026, 6, 1)) == 35.0  # change (变更)
    assert value_at(bj(2026, 10, 14, 23, 59)) == 35.0
    assert value_at(bj(2026, 10, 15)) is None  # revoked: nothing binds any more
    assert value_at(bj(2027, 1, 1), key=P1) is None
    assert value_at(bj(2026, 7, 1), key=P1) == 35.0  # by permit number as well as by USCC
    lim = limit_in_force(LIMITS, P1, "DA001", "a21026", bj(2026, 7, 1))
    assert lim is not None and (lim.version, lim.standard, lim.o2_reference_pct) == (3, "GB 13223-2011", 6.0)
    assert limit_in_force(LIMITS, U1, "DA001", "a21002", bj(2026, 7, 1)) is None  # no such pollutant
    assert limit_in_force(LIMITS, U1, "DW001", "a21026", bj(2026, 7, 1)) is None  # no such outlet


def test_expired_permit_and_gap_before_renewal() -> None:
    history = permit_history(
        _versions(
            [
                (P1, 1, U1, D(2020, 1, 1), D(2020, 1, 1), D(2024, 12, 31), "valid"),
                # renewal granted late: a gap of one month without a permit in force
                (P1, 2, U1, D(2025, 2, 1), D(2025, 2, 1), D(2029, 12, 31), "valid"),
            ]
        )
    )
    limits = attach_history(LIMITS.slice(0, 2).select(LIMITS.column_names[:10]), history)
    assert value_at(bj(2024, 12, 31, 12), table=limits) == 100.0
    assert value_at(bj(2025, 1, 15), table=limits) is None  # expired, not yet renewed
    assert value_at(bj(2025, 2, 1), table=limits) == 50.0
    # long-term permit (no end date), cancelled later
    history = permit_history(
        _versions(
            [
                (P1, 1, U1, D(2020, 1, 1), D(2020, 1, 1), None, "valid"),
                (P1, 2, U1, D(2024, 3, 1), D(2020, 1, 1), None, "cancelled"),
            ]
        )
    )
    limits = attach_history(LIMITS.slice(0, 2).select(LIMITS.column_names[:10]), history)
    assert value_at(bj(2024, 2, 29, 23), table=limits) == 100.0
    assert value_at(bj(2024, 3, 1), table=limits) is None


def test_sql_macro_and_bulk_join_agree_with_the_function() -> None:
    times = [bj(2020, 6, 1), bj(2023, 5, 1), bj(2026, 1, 1), bj(2026, 7, 1), bj(2026, 12, 1)]
    readings = pa.table(
        {
            "uscc": [U1] * len(times),
            "outlet_code": ["DA001"] * len(times),
            "pollutant_code": ["a21026"] * len(times),
            "observed_at": pa.array(times, pa.timestamp("us", "UTC")),
        }
    )
    joined = limits_as_of(readings, LIMITS).sort_by("observed_at")
    expected = [value_at(t) for t in times]
    assert expected == [None, 100.0, 50.0, 35.0, None]
    assert joined["limit_value"].to_pylist() == expected
    assert joined["permit_version"].to_pylist() == [None, 1, 2, 3, None]

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("core_permit__outlet_limits", LIMITS)
    install_limit_in_force(con)
    got = [
        con.execute("SELECT limit_value FROM limit_in_force(?, 'DA001', 'a21026', ?)", [U1, t]).fetchall()
        for t in times
    ]
    assert [g[0][0] if g else None for g in got] == expected


def test_two_permits_for_one_uscc_need_the_permit_number() -> None:
    other = LIMITS.set_column(0, "permit_no", pa.array([U1 + "002P"] * 4))
    both = pa.concat_tables([LIMITS, other])
    with pytest.raises(AmbiguousLimitError):
        limit_in_force(both, U1, "DA001", "a21026", bj(2026, 7, 1))
    assert value_at(bj(2026, 7, 1), key=P1, table=both) == 35.0
    with pytest.raises(ValueError, match="timezone"):
        limit_in_force(LIMITS, U1, "DA001", "a21026", dt.datetime(2026, 7, 1))  # naive


def test_history_from_the_simulated_platform() -> None:
    """The simulator's renewed and revoked permits, through the API parser and the history."""
    sources = simulated_sources(0)
    up = PermitsUpstream(sources, SimClock(dt.datetime(2026, 11, 20, 12)))
    answer = up.handle(
        Request("GET", "/permits/api/v1/permits", {"page_size": ["500"]}, {}), "api/v1/permits"
    )
    assert isinstance(answer, Resource)
    page = parse_page(answer.body, raw_file="page")
    history = permit_history(page.versions)
    limits = attach_history(page.limits.drop_columns(["record"]), history)

    renewed = sources.faults.renewed_permit
    v1, v2 = (v for v in sources.enterprise(renewed[:18]).permits)
    before = dt.datetime.combine(v1.valid_to, dt.time(12), BJ)
    after = dt.datetime.combine(v2.valid_from, dt.time(12), BJ)
    old = limit_in_force(limits, renewed, "DA001", "a21026", before)
    new = limit_in_force(limits, renewed, "DA001", "a21026", after)
    assert old is not None and new is not None and (old.version, new.version) == (1, 2)
    assert new.limit_value is not None and old.limit_value is not None and new.limit_value < old.limit_value

    revoked = sources.faults.revoked_permit
    assert limit_in_force(limits, revoked, "DA001", "a24088", bj(2026, 11, 19, 12)) is not None
    assert limit_in_force(limits, revoked, "DA001", "a24088", bj(2026, 11, 20, 0)) is None
    expired = sources.faults.expired_permit
    assert limit_in_force(limits, expired, "DW001", "w01018", bj(2026, 11, 20)) is None
    ph = limit_in_force(limits, expired, "DW001", "w01001", bj(2025, 1, 1))
    assert ph is not None and (ph.limit_lower, ph.limit_value, ph.limit_unit) == (6.0, 9.0, "-")
