"""The serving refresh: one at a time across processes and machines (the ledger's lock)."""

from __future__ import annotations

import threading

from ecocloud.runner import engine
from ecocloud.settings import Settings
from warehouse import serving


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
    import datetime as dt
    import json

    import duckdb
    import pyarrow as pa

    from schemas.platform import WITHHELD, expectation_results
    from warehouse import lake as lk

    day = dt.date(2026, 11, 30)
    old = json.dumps({"partial_unexpected": ["SECRET-MN"]})
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
