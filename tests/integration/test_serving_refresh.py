"""The serving refresh: one at a time across processes and machines (the ledger's lock), and the
catalog it builds from the ledger."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa

from ecocloud.builds import permits
from ecocloud.runner import engine, tasks
from ecocloud.runner.context import RunInfo
from ecocloud.runner.engine import resolve
from ecocloud.runner.report import RunReport
from ecocloud.settings import Settings
from ecocloud.specs import get_spec
from warehouse import ledger as ledger_db
from warehouse import serving
from warehouse.ledger import stamp


def test_a_refresh_waits_for_the_one_under_way(settings: Settings) -> None:
    """A refresh lists the gate results while another may roll them up and delete the files the
    rollup now holds: the second waits for the first."""
    led = engine.ledger(settings)
    try:
        with led.locked([serving._REFRESH_LOCK]):  # a refresh under way elsewhere
            waiting = threading.Thread(target=engine.refresh_serving, args=(settings,))
            waiting.start()
            waiting.join(3)
            assert waiting.is_alive() and not settings.duckdb_file.exists()
        waiting.join(120)
        assert not waiting.is_alive() and settings.duckdb_file.exists()
    finally:
        led.close()


def test_gate_results_written_before_withholding_quote_no_value_of_a_not_shared_table(
    settings: Settings,
) -> None:
    """Results written before the gate withheld 不予共享 values are served withheld too."""
    import pyarrow as pa

    from schemas.platform import WITHHELD, expectation_results
    from warehouse import lake as lk

    day = dt.date(2026, 11, 30)
    # the gate writes its keys with sort_keys: the sampled rows' keys after the values
    old = json.dumps(
        {"partial_unexpected": ["SECRET-MN"], "partial_unexpected_keys": [["SECRET-MN"]]}, sort_keys=True
    )
    rows = [
        {"date": day, "validated_at": dt.datetime(2026, 11, 30, 3, tzinfo=dt.UTC), "run_id": "r",
         "gate_run_id": "g", "build": "b", "unit": "u", "table_name": table, "partition_date": day,
         "expectation": "expect_column_values_to_be_unique", "severity": "blocking", "success": False,
         "unexpected_count": 1, "observed_value": old, "published": False}
        for table in ("core_source__packets", "core_source__readings")  # 不予共享, 有条件共享
    ]  # fmt: skip
    names = expectation_results.column_names
    data = pa.Table.from_pylist(
        [{c: r.get(c) for c in names} for r in rows], schema=expectation_results.arrow_schema(strict=False)
    )
    lk.write_part(settings.lake_store, expectation_results, data, day, part="old-run")
    engine.refresh_serving(settings)
    con = duckdb.connect(str(settings.duckdb_file), read_only=True)
    try:
        served = dict(
            con.execute(f"SELECT table_name, observed_value FROM {expectation_results.name}").fetchall()
        )
    finally:
        con.close()
    assert served == {
        "core_source__packets": json.dumps({"partial_unexpected": WITHHELD}, ensure_ascii=False),
        "core_source__readings": old,
    }


def test_permits_unchanged_since_their_last_write_are_on_time_while_the_daily_landing_succeeds(
    settings: Settings, tmp_path: Path, ingest: Callable[..., RunReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The permit build publishes nothing when the API has nothing new, so three days without permit
    changes left the tables' last write three days old, and the catalog called them late although
    every daily run succeeded. A scheduled landing that completes records a check of the source; a
    refresh judges a table without a time column by it, unless a unit of its build failed since."""
    record = {"permitNo": "91360100MA35F7Q12E001P", "version": 1, "status": "有效", "validFrom": "2026-01-01",
              "updatedAt": "2026-11-02T09:00:00+08:00", "creditCode": "91360100MA35F7Q12E", "entName": "甲化工",
              "outlets": [{"outletCode": "DA001", "pollutants": [
                  {"pollutantCode": "a24088", "limitValue": "120", "unit": "mg/m3"}]}]}  # fmt: skip
    body = {"code": 0, "page": 1, "total": 1, "totalPages": 1, "records": [record]}
    (tmp_path / "p1.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    ingest("permit", lambda s, led: permits.land_saved_pages(s, led, [str(tmp_path / "p1.json")]))
    led = engine.ledger(settings)
    three_days_ago = stamp(dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    with led.engine.begin() as con:  # as if published three days ago
        con.execute(sa.update(ledger_db.parts).values(written_at=three_days_ago))
        con.execute(sa.update(ledger_db.units).values(built_at=three_days_ago))
    spec = get_spec("permit")

    def daily_run(land: Callable[..., list[Any]]) -> None:
        monkeypatch.setattr(engine, "resolve", lambda ref: land if ref == spec.land else resolve(ref))
        with contextlib.suppress(OSError):  # the API is down: the task fails
            tasks.land(spec.name, RunInfo("scheduled", "discharge_permits.land"))
        tasks.build(spec.name, "permits", RunInfo("scheduled", "discharge_permits.permits"))
        engine.refresh_serving(settings)

    def freshness() -> set[tuple[str, float]]:
        con = duckdb.connect(str(settings.duckdb_file), read_only=True)
        try:
            found = con.execute(
                "SELECT freshness_status, round(data_age_h) FROM catalog_datasets "
                "WHERE table_name LIKE 'core_permit__%'"
            ).fetchall()
        finally:
            con.close()
        return set(found)

    def down(*_: Any) -> list[Any]:
        raise OSError("permit API unreachable")

    try:
        daily_run(down)
        assert freshness() == {("late", 72.0)}
        daily_run(lambda *_: [])  # nothing new: the build publishes nothing
        assert freshness() == {("on time", 0.0)}
        assert led.source_checks().keys() == {"permit.permits"}
        failed = dataclasses.replace(led.unit_state("permit.permits", "all"), status="failed")  # type: ignore[arg-type]
        led.record_unit(failed)  # new pages that did not build: the check vouches for nothing
        engine.refresh_serving(settings)
        assert freshness() == {("late", 72.0)}

        # a new page lands and its build never runs (killed before it recorded anything): neither that
        # landing nor a later one that finds nothing new vouches for the tables
        led.record_unit(dataclasses.replace(failed, status="published"))
        with led.engine.begin() as con:
            con.execute(sa.update(ledger_db.source_checks).values(checked_at=three_days_ago))
        newer = {**body, "records": [{**record, "version": 2, "updatedAt": "2026-11-03T09:00:00+08:00"}]}
        (tmp_path / "p2.json").write_text(json.dumps(newer, ensure_ascii=False), encoding="utf-8")
        for land in (lambda s, led_, *_: permits.land_saved_pages(s, led_, [str(tmp_path / "p2.json")]),
                     lambda *_: []):  # fmt: skip
            monkeypatch.setattr(
                engine, "resolve", lambda ref, land=land: land if ref == spec.land else resolve(ref)
            )
            tasks.land(spec.name, RunInfo("scheduled", "discharge_permits.land"))
            engine.refresh_serving(settings)
            assert freshness() == {("late", 72.0)}
        daily_run(lambda *_: [])  # the build publishes the new page
        assert freshness() == {("on time", 0.0)}
    finally:
        led.close()
