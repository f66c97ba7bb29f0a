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
