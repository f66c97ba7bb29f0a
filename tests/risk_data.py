"""Tiny inline inputs for the risk transforms: registry-shaped Arrow tables built from a few values.

Every builder fills the columns a test does not care about with plausible values and conforms the
rows to the registry table, so the transforms see exactly what the lake would give them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import duckdb
import pyarrow as pa

from schemas.registry import Table, get_table
from transforms.risk import RiskMarts, load_rules, refresh_days

BJ = dt.timezone(dt.timedelta(hours=8))
UTC = dt.UTC
REGISTRY_AT = dt.datetime(2026, 12, 1, 9, tzinfo=BJ)  # the registry's first snapshot: after the data
E_AIR = "91360100MA35TEST1X"
E_WATER = "91360200MA35TEST2X"
MN_AIR = "AIR000000000000000000001"
MN_WATER = "WAT000000000000000000001"


def bj(day: dt.date, hour: int = 0, minute: int = 0) -> dt.datetime:
    return (
        dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=BJ)
        if hour < 24
        else (dt.datetime(day.year, day.month, day.day, tzinfo=BJ) + dt.timedelta(hours=hour))
    )


def table(name: str, rows: Iterable[Mapping[str, Any]], defaults: Mapping[str, Any]) -> pa.Table:
    t: Table = get_table(name)
    full = [{c: r.get(c, defaults.get(c)) for c in t.column_names} for r in rows]
    return t.conform(pa.Table.from_pylist(full, schema=t.arrow_schema(strict=False)))


def points(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    return table(
        "core_master__monitoring_points",
        rows,
        {"mn_standard": True, "uscc_valid": True, "valid_from": REGISTRY_AT, "is_current": True,
         "raw_file": "raw/master/points.csv", "region_code": "360100"},
    )  # fmt: skip


def enterprises(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    def fill(r: Mapping[str, Any]) -> dict[str, Any]:
        name = r.get("enterprise_name", f"企业{r['uscc'][-4:]}")
        return {"enterprise_name": name, "enterprise_name_norm": name, **r}

    return table(
        "core_master__enterprises",
        [fill(r) for r in rows],
        {"uscc_valid": True, "valid_from": REGISTRY_AT, "is_current": True, "raw_file": "raw/master/e.csv",
         "region_code": "360100"},
    )  # fmt: skip


def permits(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    def fill(r: Mapping[str, Any]) -> dict[str, Any]:
        vf = r.get("valid_from", dt.datetime(2024, 1, 1, tzinfo=BJ))
        status = r.get("status", "valid")
        return {
            "permit_no": r["uscc"] + "001P",
            "version": 1,
            "permit_valid_from": dt.date(2024, 1, 1),
            "permit_valid_to": dt.date(2028, 12, 31),
            "effective_date": vf.astimezone(BJ).date(),
            "valid_from": vf,
            "in_force_from": vf if status == "valid" else None,
            "in_force_to": None,
            "updated_at": vf,
            **r,
        }

    return table(
        "core_permit__permits",
        [fill(r) for r in rows],
        {"uscc_valid": True, "permit_no_valid": True, "status": "valid", "is_current": True,
         "effective_recorded": False, "raw_file": "raw/permit/p.json"},
    )  # fmt: skip


def outlets_of(limits: pa.Table) -> pa.Table:
    """core_permit__outlets rows: one per (permit version, outlet) of the limits."""
    con = duckdb.connect()
    con.register("l", limits)
    rows = con.sql(
        "SELECT DISTINCT permit_no, version, outlet_code, uscc, status, valid_from, valid_to, in_force_from, "
        "in_force_to FROM l"
    ).to_arrow_table()
    return table("core_permit__outlets", rows.to_pylist(), {})


def limits(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    def fill(r: Mapping[str, Any]) -> dict[str, Any]:
        vf = r.get("valid_from", dt.datetime(2024, 1, 1, tzinfo=BJ))
        return {
            "permit_no": r["uscc"] + "001P",
            "version": 1,
            "valid_from": vf,
            "in_force_from": vf,
            "limit_unit": "mg/m³" if r["pollutant_code"].startswith("a") else "mg/L",
            "standard": "GB TEST",
            **r,
        }

    return table("core_permit__outlet_limits", [fill(r) for r in rows], {"status": "valid"})


def hourly(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """mart_source__hourly rows from (mn, pollutant_code, hour_at, avg_value[, flag, zs_avg_value …])."""

    def fill(r: Mapping[str, Any]) -> dict[str, Any]:
        at: dt.datetime = r["hour_at"]
        avg = r.get("avg_value")
        code = r["pollutant_code"]
        unit = {"a19001": "%", "a00000": "m³/s", "w00000": "L/s", "w01001": "-"}.get(
            code, "mg/m³" if code.startswith("a") else "mg/L"
        )
        return {
            "date": at.astimezone(BJ).date(),
            "source_type": "flue_gas" if code.startswith("a") else "wastewater",
            "basis": "2061",
            "min_value": avg * 0.9 if avg else avg,
            "max_value": avg * 1.1 if avg else avg,
            "unit": unit,
            "samples": 1,
            "samples_normal": 1,
            "flag": "N",
            "retransmissions": 0,
            **r,
        }

    return table("mart_source__hourly", [fill(r) for r in rows], {})


def series(
    mn: str, code: str, start: dt.datetime, values: Iterable[float | None], **extra: Any
) -> list[dict[str, Any]]:
    """Consecutive hourly rows from ``start`` (None: no row that hour)."""
    out = []
    for i, v in enumerate(values):
        if v is not None:
            out.append(
                {
                    "mn": mn,
                    "pollutant_code": code,
                    "hour_at": start + dt.timedelta(hours=i),
                    "avg_value": v,
                    **extra,
                }
            )
    return out


def refresh(
    inputs: Mapping[str, pa.Table], first: dt.date, last: dt.date | None = None, **overrides: Any
) -> RiskMarts:
    """``refresh_days`` on a fresh connection holding ``inputs`` (missing registries: empty)."""
    con = duckdb.connect()
    for name in ("core_master__monitoring_points", "core_master__enterprises", "core_permit__permits",
                 "core_permit__outlets", "core_permit__outlet_limits", "mart_source__hourly"):  # fmt: skip
        con.register(name, inputs.get(name, get_table(name).arrow_schema().empty_table()))
    rules = load_rules()
    if overrides:
        rules = type(rules)(_deep(dict(rules.raw), overrides))
    return refresh_days(con, first, last or first, rules)


def _deep(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep(dict(out[k]), v) if isinstance(v, Mapping) else v
    return out


D = dt.date(2026, 11, 19)  # the day refreshed in most tests; D − 1 is its lookback day


def base_inputs(**replace: pa.Table) -> dict[str, pa.Table]:
    """An air outlet (power plant, permit SO2 35 mg/m³ at 6 % O2) and a water outlet (municipal
    wastewater plant, no permit: national defaults), both registered after the data (first snapshot)."""
    lim = limits(
        [
            {
                "uscc": E_AIR,
                "outlet_code": "DA001",
                "pollutant_code": "a21026",
                "limit_value": 35.0,
                "o2_reference_pct": 6.0,
            }
        ]
    )
    out = {
        "core_master__monitoring_points": points(
            [
                {"mn": MN_AIR, "uscc": E_AIR, "outlet_code": "DA001", "pollutants": "a00000,a19001,a21026"},
                {"mn": MN_WATER, "uscc": E_WATER, "outlet_code": "DW001", "pollutants": "w00000;w01018"},
            ]
        ),
        "core_master__enterprises": enterprises(
            [
                {"uscc": E_AIR, "industry_code": "D4411", "enterprise_name": "江西测试发电有限公司"},
                {"uscc": E_WATER, "industry_code": "D4620", "enterprise_name": "测试污水处理有限公司"},
            ]
        ),
        "core_permit__permits": permits([{"uscc": E_AIR}]),
        "core_permit__outlet_limits": lim,
        "core_permit__outlets": outlets_of(lim),
    }
    out.update(replace)
    return out


def air_hours(
    so2: Iterable[float | None],
    *,
    o2: float | None = 6.0,
    flow: float | None = 50.0,
    start: dt.datetime | None = None,
    **extra: Any,
) -> list[dict[str, Any]]:
    """SO2 hourly means from ``start`` (default: D − 1 00:00 Beijing) with O2 and flow beside them."""
    start = start or bj(D - dt.timedelta(days=1))
    so2 = list(so2)
    rows = series(MN_AIR, "a21026", start, so2, **extra)
    if o2 is not None:
        rows += series(MN_AIR, "a19001", start, [o2 if v is not None else None for v in so2])
    if flow is not None:
        rows += series(MN_AIR, "a00000", start, [flow if v is not None else None for v in so2])
    return rows


def rows_of(t: pa.Table, **match: Any) -> list[dict[str, Any]]:
    return [r for r in t.to_pylist() if all(r[k] == v for k, v in match.items())]
