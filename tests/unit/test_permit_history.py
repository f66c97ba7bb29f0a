"""Permit history (SCD2) and the limit in force at a time: renewal, change, revocation, expiry; and how
the API parser accounts for bad outlet positions and repeated outlets."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from ecocloud.builds.permits import typed_versions
from ecocloud.simulator.enterprise_feeds import PermitsUpstream
from ecocloud.simulator.enterprises import simulated_sources
from ecocloud.simulator.server import Request, Resource, SimClock
from ingest.permits.parse import ParsedPage, parse_page
from schemas import permits as permit_schema
from transforms.permits import (
    AmbiguousLimitError,
    attach_history,
    install_limit_in_force,
    limit_in_force,
    limits_as_of,
    permit_history,
)
from warehouse.quality import run_gate

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


def test_a_renewal_issued_early_leaves_the_old_permit_in_force_until_its_printed_start() -> None:
    """v2 renews the permit on 2025-11-15 with a validity printed from 2026-01-01: from its issue until
    then nothing bound (v1 replaced, v2 not yet valid), and six weeks of readings counted as
    discharge without a permit. v1 binds until v2's printed start — never past its own end."""
    history = permit_history(
        _versions(
            [
                (P1, 1, U1, D(2021, 1, 1), D(2021, 1, 1), D(2025, 12, 31), "valid"),
                (P1, 2, U1, D(2025, 11, 15), D(2026, 1, 1), D(2030, 12, 31), "valid"),
            ]
        )
    )
    rows = {r["version"]: r for r in history.to_pylist()}
    assert (rows[1]["valid_to"], rows[1]["in_force_to"]) == (bj(2025, 11, 15), bj(2026, 1, 1))
    assert rows[2]["in_force_from"] == bj(2026, 1, 1)
    limits = attach_history(LIMITS.slice(0, 2).select(LIMITS.column_names[:10]), history)
    assert value_at(bj(2025, 12, 1), table=limits) == 100.0
    assert value_at(bj(2026, 1, 1), table=limits) == 50.0
    # printed validities with a gap between them: the old one ends at its own end, not at the new start
    history = permit_history(
        _versions(
            [
                (P1, 1, U1, D(2021, 1, 1), D(2021, 1, 1), D(2025, 12, 31), "valid"),
                (P1, 2, U1, D(2025, 11, 15), D(2026, 3, 1), D(2030, 12, 31), "valid"),
            ]
        )
    )
    limits = attach_history(LIMITS.slice(0, 2).select(LIMITS.column_names[:10]), history)
    assert (value_at(bj(2025, 12, 31, 23), table=limits), value_at(bj(2026, 2, 1), table=limits)) == (
        100.0,
        None,
    )
    # the version after an early renewal is a revocation: nothing binds from its date
    history = permit_history(
        _versions(
            [
                (P1, 1, U1, D(2021, 1, 1), D(2021, 1, 1), D(2025, 12, 31), "valid"),
                (P1, 2, U1, D(2025, 11, 15), D(2021, 1, 1), D(2025, 12, 31), "revoked"),
            ]
        )
    )
    limits = attach_history(LIMITS.slice(0, 2).select(LIMITS.column_names[:10]), history)
    assert value_at(bj(2025, 12, 1), table=limits) is None
    # an early renewal, then a revocation (or a change) before its printed start: the old version ends
    # on that date, not at the renewal's start — never two versions in force at once
    for status, printed_from, later in (
        ("revoked", D(2026, 1, 1), None),
        ("cancelled", D(2026, 1, 1), None),
        ("valid", None, 35.0),
        ("valid", D(2025, 12, 1), 35.0),
    ):
        history = permit_history(
            _versions(
                [
                    (P1, 1, U1, D(2021, 1, 1), D(2021, 1, 1), D(2025, 12, 31), "valid"),
                    (P1, 2, U1, D(2025, 11, 15), D(2026, 1, 1), D(2030, 12, 31), "valid"),
                    (P1, 3, U1, D(2025, 12, 1), printed_from, D(2030, 12, 31), status),
                ]
            )
        )
        limits = attach_history(LIMITS.slice(0, 3).select(LIMITS.column_names[:10]), history)
        assert value_at(bj(2025, 11, 30, 23), table=limits) == 100.0, status
        assert value_at(bj(2025, 12, 1), table=limits) == later, (status, printed_from)
        assert value_at(bj(2026, 2, 1), table=limits) == later, (status, printed_from)


def test_a_cancellation_recorded_late_with_an_earlier_date_ends_the_permit() -> None:
    """v2 (a change effective 2025-08-31) was issued, then v3 cancelled the permit from 2025-08-14:
    ordered by date alone, v2 came after the cancellation and bound until 2029."""
    history = permit_history(
        _versions(
            [
                (P1, 1, U1, D(2024, 6, 3), D(2024, 6, 3), D(2029, 6, 2), "valid"),
                (P1, 2, U1, D(2025, 8, 31), D(2024, 6, 3), D(2029, 6, 2), "valid"),
                (P1, 3, U1, D(2025, 8, 14), D(2024, 6, 3), D(2029, 6, 2), "cancelled"),
            ]
        )
    )
    rows = {r["version"]: r for r in history.to_pylist()}
    assert [rows[v]["is_current"] for v in (1, 2, 3)] == [False, False, True]
    assert rows[2]["in_force_from"] is None and rows[2]["valid_to"] == rows[2]["valid_from"]  # shadowed
    limits = attach_history(LIMITS.slice(0, 2).select(LIMITS.column_names[:10]), history)
    assert value_at(bj(2025, 8, 13, 23), table=limits) == 100.0
    assert value_at(bj(2025, 8, 14), table=limits) is None
    assert value_at(bj(2026, 1, 1), table=limits) is None


def test_a_revocation_without_a_date_takes_effect_when_it_was_recorded() -> None:
    """Not on the permit's first day (its validFrom): that erased every day the permit bound."""
    records = [
        {"permitNo": P1, "version": 1, "status": "有效", "updatedAt": "2024-06-03T09:00:00+08:00",
         "validFrom": "2024-06-03", "creditCode": U1, "outlets": []},
        {"permitNo": P1, "version": 2, "status": "撤销", "updatedAt": "2026-02-01T10:00:00+08:00",
         "validFrom": "2024-06-03", "creditCode": U1, "outlets": []},
    ]  # fmt: skip
    body = {"code": 0, "page": 1, "total": 2, "totalPages": 1, "records": records}
    page = parse_page(json.dumps(body, ensure_ascii=False).encode(), raw_file="page")
    assert page.versions.column("effective_date").to_pylist() == [D(2024, 6, 3), D(2026, 2, 1)]


def test_a_touch_to_an_undated_revocation_does_not_move_it() -> None:
    """The platform republishes a version when it touches it (a typo fixed, a field added): the newest
    copy is kept, but an undated revocation took the day of the latest touch as its date — five weeks
    of discharge after the revocation were judged against the revoked permit."""
    from ecocloud.builds.permits import newest_copies

    def page(version: int, status: str, updated: str, name: str) -> pa.Table:
        record = {"permitNo": P1, "version": version, "status": status, "updatedAt": updated,
                  "validFrom": "2024-06-03", "creditCode": U1, "entName": name, "outlets": []}  # fmt: skip
        body = {"code": 0, "page": 1, "total": 1, "totalPages": 1, "records": [record]}
        versions = parse_page(json.dumps(body, ensure_ascii=False).encode(), raw_file=updated).versions
        received = pa.array([dt.datetime.fromisoformat(updated)], pa.timestamp("us", "UTC"))
        return versions.append_column("received_at", received)

    copies = pa.concat_tables(
        [
            page(1, "有效", "2024-06-03T09:00:00+08:00", "甲"),
            page(2, "撤销", "2026-02-01T10:00:00+08:00", "甲"),
            page(2, "撤销", "2026-03-10T10:00:00+08:00", "甲公司"),  # touched: the name corrected
        ]
    )
    kept = {r["version"]: r for r in newest_copies(copies).to_pylist()}
    assert kept[2]["enterprise_name"] == "甲公司"  # the newest copy
    assert (kept[2]["effective_date"], kept[2]["effective_recorded"]) == (D(2026, 2, 1), True)
    assert (kept[1]["effective_date"], kept[1]["effective_recorded"]) == (D(2024, 6, 3), False)


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


def _parse_one(outlets: list[Any]) -> ParsedPage:
    """A page of one valid permit record with ``outlets``."""
    record = {"permitNo": P1, "version": 1, "status": "有效", "updatedAt": "2026-11-02T09:00:00+08:00",
              "validFrom": "2026-01-01", "creditCode": U1, "outlets": outlets}  # fmt: skip
    body = {"code": 0, "page": 1, "total": 1, "totalPages": 1, "records": [record]}
    return parse_page(json.dumps(body, ensure_ascii=False).encode(), raw_file="page")


def _so2(limit: float) -> dict[str, Any]:
    return {"pollutantCode": "a21026", "limitValue": limit, "unit": "mg/m3"}


def test_outlet_coordinates_outside_the_registry_range_are_quarantined_and_the_outlet_published() -> None:
    """A swapped or 0/0 position must not block the permit tables (the range check is blocking): the
    coordinate is quarantined with its reason, its outlet and limits published without a position."""
    page = _parse_one(
        [
            {"outletCode": "DA001", "longitude": 25.93, "latitude": 114.98, "pollutants": [_so2(35)]},
            {"outletCode": "DA002", "longitude": 0, "latitude": 0, "pollutants": [_so2(50)]},
            {"outletCode": "DA003", "longitude": 114.98, "latitude": 25.93, "pollutants": [_so2(35)]},
            {"outletCode": "DA004", "longitude": "n/a", "latitude": 25.93},
        ]
    )
    position = {r["outlet_code"]: (r["longitude"], r["latitude"]) for r in page.outlets.to_pylist()}
    assert position == {
        "DA001": (None, None),
        "DA002": (None, None),
        "DA003": (114.98, 25.93),
        "DA004": (None, None),
    }
    assert page.limits.num_rows == 3  # the limits of the outlets with a bad position still bind
    lon, lat = permit_schema.outlets.column("longitude"), permit_schema.outlets.column("latitude")
    lon_range, lat_range = f"[{lon.min:g}, {lon.max:g}]", f"[{lat.min:g}, {lat.max:g}]"
    quarantined = {r["item"]: (r["raw_value"], r["reason"]) for r in page.quarantine.to_pylist()}
    assert set(quarantined) == {
        "outlets[0].longitude",
        "outlets[0].latitude",
        "outlets[1].longitude",
        "outlets[1].latitude",
        "outlets[3].longitude",
    }
    assert quarantined["outlets[0].longitude"][0] == "25.93"
    assert f"longitude 25.93 outside the registry range {lon_range}" in quarantined["outlets[0].longitude"][1]
    assert f"latitude 114.98 outside the registry range {lat_range}" in quarantined["outlets[0].latitude"][1]
    assert f"longitude 0 outside the registry range {lon_range}" in quarantined["outlets[1].longitude"][1]
    assert "longitude is not a number" in quarantined["outlets[3].longitude"][1]

    # what the permits build publishes passes its blocking gate: outlets (range) and quarantine (key)
    outlets = attach_history(page.outlets.drop_columns(["record"]), typed_versions(page.versions))
    verdict = run_gate(permit_schema.outlets, permit_schema.outlets.conform(outlets), partition_date=None)
    assert verdict.passed, verdict.summary()
    verdict = run_gate(permit_schema.quarantine, page.quarantine, partition_date=None)
    assert verdict.passed, verdict.summary()


def test_a_repeated_outlet_has_every_limit_published_or_quarantined() -> None:
    """DA001 entered again (also as da001): its limits are merged into DA001, a limit that contradicts
    one already given is quarantined, the repeated entry is quarantined with its JSON; every outlet
    entry and every limit is published or quarantined."""
    nox = {"pollutantCode": "a21002", "limitValue": 50, "unit": "mg/m3"}
    particulates = {"pollutantCode": "a34013", "limitValue": 10, "unit": "mg/m3"}
    repeated = {
        "outletCode": "da001",
        "outletName": "二号排气筒",
        "pollutants": [nox, particulates, _so2(100)],
    }
    page = _parse_one(
        [
            {"outletCode": "DA001", "pollutants": [_so2(35)]},
            repeated,
            {"outletCode": "DA001", "pollutants": [_so2(35)]},
        ]
    )
    assert page.outlets.column("outlet_code").to_pylist() == ["DA001"]
    limits = {r["pollutant_code"]: r["limit_value"] for r in page.limits.to_pylist()}
    assert limits == {"a21026": 35.0, "a21002": 50.0, "a34013": 10.0}
    assert set(page.limits.column("outlet_code").to_pylist()) == {"DA001"}

    quarantined = {r["item"]: (r["raw_value"], r["reason"]) for r in page.quarantine.to_pylist()}
    assert set(quarantined) == {
        "outlets[1]",
        "outlets[1].pollutants[2]",
        "outlets[2]",
        "outlets[2].pollutants[0]",
    }
    raw, reason = quarantined["outlets[1]"]
    assert json.loads(raw) == repeated and "DA001 listed again (first as outlets[0])" in reason
    raw, reason = quarantined["outlets[1].pollutants[2]"]
    assert json.loads(raw) == _so2(100)
    assert "different limit than outlets[0].pollutants[0] (limit_value)" in reason
    assert "same limit as outlets[0].pollutants[0]" in quarantined["outlets[2].pollutants[0]"][1]

    # rows in = rows published + rows quarantined, for outlets and for limits
    items = list(quarantined)
    outlet_rejects = [i for i in items if "." not in i]
    limit_rejects = [i for i in items if ".pollutants[" in i]
    outlet_entries, limit_entries = 3, 1 + 3 + 1
    assert page.counts["outlets"] + len(outlet_rejects) == outlet_entries
    assert page.counts["limits"] + len(limit_rejects) == limit_entries
    assert page.counts["records"] == page.counts["versions"] == 1
    assert page.counts["quarantined"] == page.quarantine.num_rows == 4


def test_limit_units_in_any_spelling_are_the_units_readings_come_in() -> None:
    """A limit is judged only against readings of its unit: mg/Nm³ must read as the mg/m³ of HJ 212,
    and a limit without a unit takes its pollutant's HJ 212 unit, not the dimensionless '-'."""
    spelled = ["mg/Nm³", "MG/NM3", " mg / m³ ", "毫克/标立方米", "mg/m3"]
    pollutants = [{"pollutantCode": "a21026", "limitValue": 35, "unit": u} for u in spelled]
    page = _parse_one([{"outletCode": f"DA00{i}", "pollutants": [p]} for i, p in enumerate(pollutants)])
    assert page.limits.column("limit_unit").to_pylist() == ["mg/m³"] * len(spelled)
    page = _parse_one(
        [
            {
                "outletCode": "DW001",
                "pollutants": [
                    {"pollutantCode": "w01018", "limitValue": 50},  # COD, no unit given
                    {"pollutantCode": "w01001", "limitValue": "6-9", "unit": ""},  # pH
                    {"pollutantCode": "w21003", "limitValue": 5, "unit": "ug/L"},  # kept as given
                    {"pollutantCode": "a34004", "limitValue": 35, "unit": "μg/Nm3"},  # Greek mu
                ],
            }
        ]
    )
    units = [r["limit_unit"] for r in page.limits.to_pylist()]
    assert units == ["mg/L", "-", "ug/L", "µg/m³"] and page.quarantine.num_rows == 0


def test_pollutant_codes_and_ranges_as_people_type_them() -> None:
    """A code typed in upper case is the HJ 212 code the readings carry (A21026 never matched a21026:
    its limit judged nothing); a pH range with an en dash, a full-width hyphen or 至 is a range."""
    ph = [
        {
            "outletCode": f"DW00{i}",
            "pollutants": [{"pollutantCode": "W01001", "limitValue": spelled, "unit": ""}],
        }
        for i, spelled in enumerate(("6–9", "6－9", "6至9", "6 ～ 9"))
    ]
    others = {"outletCode": "DA001", "pollutants": [
        {"pollutantCode": "A21026", "limitValue": 35},
        {"pollutantCode": "W01018", "limitValue": 50},
        {"pollutantCode": "X99", "limitValue": 1},
        {"pollutantCode": "W20120", "limitValue": 0.5},  # an annex code outside our table
    ]}  # fmt: skip
    page = _parse_one([*ph, others])
    assert page.quarantine.num_rows == 0
    rows = page.limits.to_pylist()
    assert [(r["pollutant_code"], r["limit_lower"], r["limit_value"]) for r in rows[:4]] == [
        ("w01001", 6.0, 9.0)
    ] * 4
    assert [(r["pollutant_code"], r["limit_unit"]) for r in rows[4:]] == [
        ("a21026", "mg/m³"),
        ("w01018", "mg/L"),
        ("X99", "-"),  # not shaped like an HJ 212 code: kept as given
        ("w20120", "-"),  # shaped like one: as loggers send it
    ]


@pytest.mark.parametrize(
    ("given", "day"),
    [
        ("2026-01-01", dt.date(2026, 1, 1)),
        ("2026/1/1", dt.date(2026, 1, 1)),
        ("2026年1月1日", dt.date(2026, 1, 1)),
        ("2025-12-31T16:00:00Z", dt.date(2026, 1, 1)),  # midnight in Beijing, given in UTC: not the 31st
        ("2026-01-01T00:00:00+08:00", dt.date(2026, 1, 1)),
        ("2026-01-01 09:30:00", dt.date(2026, 1, 1)),
        ("2026-01-01 00:00:00 CST", dt.date(2026, 1, 1)),  # a form fromisoformat does not read
        ("2025-12-31T16:00Z[UTC]", dt.date(2026, 1, 1)),  # Java's ZonedDateTime
        ("2026-01-01T00:00+08:00[Asia/Shanghai]", dt.date(2026, 1, 1)),
        ("20260101", dt.date(2026, 1, 1)),
    ],
)
def test_a_validity_date_as_upstreams_write_it(given: str, day: dt.date) -> None:
    record = {"permitNo": P1, "version": 1, "status": "有效", "updatedAt": "2026-11-02T09:00:00+08:00",
              "validFrom": given, "creditCode": U1, "outlets": []}  # fmt: skip
    body = {"code": 0, "page": 1, "total": 1, "totalPages": 1, "records": [record]}
    page = parse_page(json.dumps(body, ensure_ascii=False).encode(), raw_file="page")
    assert page.versions.column("permit_valid_from").to_pylist() == [day] and page.quarantine.num_rows == 0


def test_a_validity_date_that_is_no_date_quarantines_the_version() -> None:
    for bad in ("2026-13-01", "soon", "2026-02-30"):
        record = {"permitNo": P1, "version": 1, "status": "有效", "updatedAt": "2026-11-02T09:00:00+08:00",
                  "validFrom": bad, "creditCode": U1, "outlets": []}  # fmt: skip
        body = {"code": 0, "page": 1, "total": 1, "totalPages": 1, "records": [record]}
        page = parse_page(json.dumps(body, ensure_ascii=False).encode(), raw_file="page")
        assert page.versions.num_rows == 0
        assert page.quarantine.column("reason").to_pylist() == ["validFrom is not a date"], bad


@pytest.mark.parametrize("given", ["长期", "长期有效", "永久", "永久有效", "无固定期限", "长期 ", " ", ""])
def test_a_validity_without_end_as_permits_write_it(given: str) -> None:
    record = {"permitNo": P1, "version": 1, "status": "有效", "updatedAt": "2026-11-02T09:00:00+08:00",
              "validFrom": "2026-01-01", "validTo": given, "creditCode": U1, "outlets": []}  # fmt: skip
    body = {"code": 0, "page": 1, "total": 1, "totalPages": 1, "records": [record]}
    page = parse_page(json.dumps(body, ensure_ascii=False).encode(), raw_file="page")
    assert page.versions.column("permit_valid_to").to_pylist() == [None] and page.quarantine.num_rows == 0


def test_an_outlet_code_typed_full_width_is_the_outlet() -> None:
    outlet = {
        "outletCode": "ＤＡ００１",
        "pollutants": [{"pollutantCode": "a21026", "limitValue": "35", "unit": "mg/m3"}],
    }
    record = {"permitNo": P1, "version": 1, "status": "有效", "updatedAt": "2026-11-02T09:00:00+08:00",
              "validFrom": "2026-01-01", "creditCode": U1, "outlets": [outlet]}  # fmt: skip
    body = {"code": 0, "page": 1, "total": 1, "totalPages": 1, "records": [record]}
    page = parse_page(json.dumps(body, ensure_ascii=False).encode(), raw_file="page")
    assert page.limits.column("outlet_code").to_pylist() == ["DA001"] and page.quarantine.num_rows == 0
