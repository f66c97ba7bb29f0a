"""Instants inside a text (a gate result's observed value, its parameters) as the pages show them."""

from __future__ import annotations

import json

from ecocloud.web.deps import observed_text, run_time, says_code
from schemas.clock import instants_in_beijing
from schemas.platform import WITHHELD


def test_every_utc_instant_in_a_text_is_written_in_beijing_time() -> None:
    assert instants_in_beijing("2026-12-05T15:00:00+00:00") == "2026-12-05 23:00:00+08:00"
    assert (
        instants_in_beijing("min_value 2026-12-05T12:00:00+00:00, max_value 2026-12-06 16:30:00.250000+00:00")
        == "min_value 2026-12-05 20:00:00+08:00, max_value 2026-12-07 00:30:00.250000+08:00"
    )


def test_other_text_is_left_as_it_is() -> None:
    assert instants_in_beijing(None) == ""
    assert instants_in_beijing("2026-12-05") == "2026-12-05"  # a date is no instant
    assert instants_in_beijing("2026-12-05T15:00:00+08:00") == "2026-12-05T15:00:00+08:00"  # already local
    assert instants_in_beijing("12.5") == "12.5"
    # a data string the gate caught is shown as it was: impossible instants, a "Z" form
    assert instants_in_beijing(["2026-02-30T00:00:00+00:00", "x 2026-12-05T24:00:00+00:00"]) == (
        "['2026-02-30T00:00:00+00:00', 'x 2026-12-05T24:00:00+00:00']"
    )
    assert instants_in_beijing("2026-12-05T15:00:00Z") == "2026-12-05T15:00:00Z"


def test_an_airflow_run_id_is_its_kind_and_its_time_in_beijing_time() -> None:
    """To the minute, as the pages show times: a manual run read "manual 2026-12-08 05:17:02.133362+08:00"."""
    assert run_time("scheduled__2026-12-07T02:00:00+00:00") == "scheduled 2026-12-07 10:00 (UTC+8)"
    assert run_time("manual__2026-12-07T16:30:00.123456+00:00") == "manual 2026-12-08 00:30 (UTC+8)"
    # Airflow 3 suffixes the ids of runs without a logical date (asset-triggered, manual)
    suffixed = "asset_triggered__2026-12-07T02:00:00+00:00_AbCdEf12"
    assert run_time(suffixed) == "asset_triggered 2026-12-07 10:00 (UTC+8)"
    assert run_time("cli-20261207T021345Z-0a1b2c3d") == "cli-20261207T021345Z-0a1b2c3d"  # not Airflow's
    assert run_time(None) == ""


def test_a_gate_result_s_sample_reads_as_values_at_their_rows() -> None:
    """The quality page cut the observed JSON at 80 characters, so the sampled rows' keys (after the
    values) were rarely seen; their instants were UTC."""
    observed = json.dumps(
        {"partial_unexpected": [1187.5], "partial_unexpected_keys": [["1001A", "2026-11-22T16:00:00+00:00"]]}
    )
    assert observed_text(observed) == '[1187.5] at rows [["1001A", "2026-11-23 00:00:00+08:00"]]'
    assert observed_text(json.dumps({"partial_unexpected": [3.5]})) == "[3.5]"
    withheld = json.dumps({"partial_unexpected": WITHHELD}, ensure_ascii=False)
    assert observed_text(withheld) == WITHHELD
    assert observed_text("2026-12-05T15:00:00+00:00") == "2026-12-05 23:00:00+08:00"  # not JSON
    assert observed_text("42") == "42" and observed_text(None) == ""


def test_a_label_that_says_its_code_is_shown_without_it() -> None:
    """The English ingestion page read "ambient air air" and "the platform itself platform"."""
    assert says_code("ambient air", "air") and says_code("the platform itself", "platform")
    assert says_code("discharge permits", "permit") and says_code(
        "pollution-source online monitoring", "source"
    )
    assert not says_code("环境空气", "air") and not says_code("fair weather", "air")
