"""Outlet identity as of the readings' time: first snapshot, MN remapped mid-day, unregistered MNs,
unmatched USCCs, and the permit status day by day (revoked mid-period, expired, outlet not listed)."""

from __future__ import annotations

import datetime as dt

from risk_data import (
    E_AIR,
    E_WATER,
    MN_AIR,
    REGISTRY_AT,
    D,
    air_hours,
    base_inputs,
    bj,
    enterprises,
    hourly,
    limits,
    outlets_of,
    permits,
    points,
    refresh,
    rows_of,
)

from schemas.registry import get_table
from transforms.master_join import join_report

BJ = bj(D).tzinfo
E_OTHER = "91360300MA35TEST3X"
MN_GHOST = "GHOST0000000000000000001"


def test_data_older_than_the_registry_takes_its_first_snapshot() -> None:
    m = refresh(base_inputs(mart_source__hourly=hourly(air_hours([20.0] * 48))), D)
    (row,) = rows_of(m.identity, mn=MN_AIR)
    assert (row["identity_status"], row["identity_basis"], row["uscc"], row["outlet_code"]) == (
        "matched", "first_snapshot", E_AIR, "DA001"
    )  # fmt: skip
    assert (row["industry_code"], row["enterprise_name"], row["permit_status"]) == (
        "D4411",
        "江西测试发电有限公司",
        "in_force",
    )
    assert (row["segment_hours"], row["hours_with_data"]) == (24, 24)
    assert row["pollutants_expected"] == "a00000,a19001,a21026"
    # the registered water outlet sent nothing: it is still listed (expected, silent)
    (water,) = [r for r in m.identity.to_pylist() if r["uscc"] == E_WATER]
    assert (water["hours_with_data"], water["permit_status"]) == (0, "none")


def test_mn_remapped_to_another_enterprise_mid_day() -> None:
    noon = bj(D, 12)
    first = REGISTRY_AT - dt.timedelta(days=60)  # a registry older than the data this time
    pts = points(
        [
            {"mn": MN_AIR, "uscc": E_AIR, "outlet_code": "DA001", "valid_from": first, "valid_to": noon, "is_current": False},
            {"mn": MN_AIR, "uscc": E_OTHER, "outlet_code": "DA002", "valid_from": noon},
        ]
    )  # fmt: skip
    ents = enterprises([{"uscc": E_AIR, "industry_code": "D4411", "valid_from": first},
                        {"uscc": E_OTHER, "industry_code": "C3011", "valid_from": first}])  # fmt: skip
    inputs = base_inputs(core_master__monitoring_points=pts, core_master__enterprises=ents)
    m = refresh({**inputs, "mart_source__hourly": hourly(air_hours([60.0] * 48))}, D)
    ident = sorted(rows_of(m.identity, mn=MN_AIR), key=lambda r: r["identity_from_at"])
    assert [(r["uscc"], r["outlet_code"], r["identity_basis"], r["segment_hours"]) for r in ident] == [
        (E_AIR, "DA001", "as_of", 12),
        (E_OTHER, "DA002", "as_of", 12),
    ]
    assert ident[1]["identity_from_at"] == noon and ident[1]["permit_status"] == "none"
    # the morning is judged against E_AIR's permit; the afternoon has no permit (and no default: C3011)
    so2 = {r["uscc"]: r for r in rows_of(m.exceedance_daily, mn=MN_AIR, pollutant_code="a21026")}
    assert (so2[E_AIR]["hours_exceeded"], so2[E_OTHER]["hours_exceeded"]) == (12, 0)
    assert (so2[E_AIR]["hours_present"], so2[E_OTHER]["hours_present"], so2[E_OTHER]["limit_value"]) == (
        12,
        12,
        None,
    )
    assert {r["uscc"] for r in m.exceedance_hourly.to_pylist()} == {E_AIR}
    (no_permit,) = rows_of(m.indicators, indicator="unpermitted_discharge")
    assert (no_permit["uscc"], no_permit["hours_flagged"]) == (E_OTHER, 12)


def test_unregistered_mn_and_unmatched_uscc_are_listed_not_dropped() -> None:
    pts = points(
        [
            {"mn": MN_AIR, "uscc": E_AIR, "outlet_code": "DA001"},
            {"mn": "W2", "uscc": E_OTHER, "outlet_code": "DW001"},  # E_OTHER is in no enterprise version
        ]
    )
    other_permit = permits(
        [{"uscc": E_AIR}, {"uscc": E_OTHER, "industry_code": "C2614", "enterprise_name": "许可证上的名称"}]
    )
    ghost = air_hours([20.0] * 48)
    for r in ghost:
        r["mn"] = MN_GHOST
    rows = hourly(ghost + [{**r, "mn": "W2"} for r in air_hours([20.0] * 48, o2=None, flow=None)])
    m = refresh(
        base_inputs(
            core_master__monitoring_points=pts, core_permit__permits=other_permit, mart_source__hourly=rows
        ),
        D,
    )
    (g,) = rows_of(m.identity, mn=MN_GHOST)
    assert (g["identity_status"], g["identity_basis"], g["uscc"], g["permit_status"]) == (
        "mn_unregistered", "none", None, "unknown"
    )  # fmt: skip
    assert g["hours_with_data"] == 24
    assert {r["pollutant_code"] for r in rows_of(m.exceedance_daily, mn=MN_GHOST)} == {
        "a00000",
        "a19001",
        "a21026",
    }
    (w,) = rows_of(m.identity, mn="W2")
    assert (w["identity_status"], w["uscc"], w["enterprise_name"], w["industry_code"]) == (
        "uscc_unmatched", E_OTHER, "许可证上的名称", "C2614"
    )  # fmt: skip
    assert w["permit_status"] == "outlet_not_permitted"  # a permit in force, without this outlet
    assert w["permit_status_since"] is None  # it was the day after its validity, years ahead


def test_permit_revoked_mid_period_and_expired() -> None:
    revoked_at = bj(D)
    perm = permits(
        [
            {"uscc": E_AIR, "valid_to": revoked_at, "in_force_to": revoked_at, "is_current": False},
            {"uscc": E_AIR, "version": 2, "valid_from": revoked_at, "status": "revoked", "status_date": D},
        ]
    )
    lim = limits([{"uscc": E_AIR, "outlet_code": "DA001", "pollutant_code": "a21026", "limit_value": 35.0,
                   "in_force_to": revoked_at}])  # fmt: skip
    inputs = base_inputs(
        core_permit__permits=perm, core_permit__outlet_limits=lim, core_permit__outlets=outlets_of(lim)
    )
    m = refresh(
        {**inputs, "mart_source__hourly": hourly(air_hours([60.0] * 48, o2=None))},
        D - dt.timedelta(days=1),
        D,
    )
    by_day = {r["date"]: r for r in rows_of(m.identity, mn=MN_AIR)}
    assert by_day[D - dt.timedelta(days=1)]["permit_status"] == "in_force"
    assert (by_day[D]["permit_status"], by_day[D]["permit_status_since"]) == ("revoked", D)
    so2 = {r["date"]: r for r in rows_of(m.exceedance_daily, mn=MN_AIR, pollutant_code="a21026")}
    # judged against the permit while it was in force; after the revocation only the default (GB 13223 SO2 200)
    assert (
        so2[D - dt.timedelta(days=1)]["hours_exceeded"],
        so2[D - dt.timedelta(days=1)]["limit_source"],
    ) == (24, "permit")
    assert (so2[D]["hours_exceeded"], so2[D]["limit_source"], so2[D]["limit_value"]) == (0, "default", 200.0)
    (flag,) = rows_of(m.indicators, indicator="unpermitted_discharge")
    assert (flag["date"], flag["hours_flagged"]) == (D, 24)
    assert flag["evidence"].startswith("排污许可证已撤销")

    expired = permits(
        [
            {
                "uscc": E_AIR,
                "permit_valid_to": D - dt.timedelta(days=10),
                "in_force_to": bj(D - dt.timedelta(days=9)),
            }
        ]
    )
    m = refresh(
        {**inputs, "core_permit__permits": expired, "mart_source__hourly": hourly(air_hours([20.0] * 48))}, D
    )
    (row,) = rows_of(m.identity, mn=MN_AIR)
    assert (row["permit_status"], row["permit_status_since"]) == ("expired", D - dt.timedelta(days=9))


def test_an_outlet_off_the_permit_before_an_early_renewal_binds_is_not_permitted() -> None:
    """v2 renews the permit ten days before D but binds from D + 20 (its printed start); v1 binds on
    until then. An outlet on neither is 'outlet_not_permitted' — the permit is in force — not
    'not_yet_valid' (v2 alone was looked at: the version current by its dates)."""
    renewed, starts = bj(D - dt.timedelta(days=10)), bj(D + dt.timedelta(days=20))
    perm = permits(
        [
            {"uscc": E_AIR, "valid_to": renewed, "in_force_to": starts, "is_current": False,
             "permit_valid_to": D + dt.timedelta(days=19)},
            {"uscc": E_AIR, "version": 2, "valid_from": renewed, "in_force_from": starts,
             "permit_valid_from": D + dt.timedelta(days=20), "effective_date": renewed.date()},
        ]
    )  # fmt: skip
    pts = points([{"mn": MN_AIR, "uscc": E_AIR, "outlet_code": "DA009", "pollutants": "a21026"}])
    inputs = base_inputs(core_master__monitoring_points=pts, core_permit__permits=perm)
    m = refresh({**inputs, "mart_source__hourly": hourly(air_hours([20.0] * 48))}, D)
    (row,) = rows_of(m.identity, mn=MN_AIR)
    assert (row["permit_status"], row["permit_status_since"]) == ("outlet_not_permitted", None)


def test_join_report_counts_what_the_identity_join_could_not_match() -> None:
    pts = points(
        [
            {"mn": MN_AIR, "uscc": E_AIR, "outlet_code": "DA001"},
            {"mn": "W2", "uscc": E_OTHER, "outlet_code": "DW001"},
        ]
    )
    rows = hourly(
        air_hours([20.0] * 48) + [{**r, "mn": "W2"} for r in air_hours([20.0] * 48, o2=None, flow=None)]
    )
    inputs = base_inputs(core_master__monitoring_points=pts, mart_source__hourly=rows)
    m = refresh(inputs, D)
    tables = {
        "enterprises": inputs["core_master__enterprises"],
        "points": pts,
        "permits": inputs["core_permit__permits"],
        "outlets": inputs["core_permit__outlets"],
        "credit": get_table("core_credit__ratings").arrow_schema().empty_table(),
        "packets": None,
    }
    at = bj(D, 12)
    report = join_report({**tables, "identity": m.identity}, at=at).to_pylist()
    (item,) = [r for r in report if r["check_name"] == "identity_uscc_unmatched" and r["row_kind"] == "item"]
    assert (item["subject_key"], item["uscc"], item["occurrences"]) == (f"W2 -> {E_OTHER}", E_OTHER, 24)
    assert "in no version of the enterprise registry" in item["detail"]
    (summary,) = [
        r for r in report if r["check_name"] == "identity_uscc_unmatched" and r["row_kind"] == "summary"
    ]
    assert (summary["occurrences"], summary["checked"]) == (1, True)
    # without the identity mart the check is reported as not checked
    report = join_report(tables, at=at).to_pylist()
    (summary,) = [r for r in report if r["check_name"] == "identity_uscc_unmatched"]
    assert (summary["checked"], summary["occurrences"]) == (False, 0)
    assert "mart_source__outlet_identity not in the lake yet" in summary["detail"]
