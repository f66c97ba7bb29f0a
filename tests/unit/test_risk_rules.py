"""The risk rules file: shipped defaults, an override merged key by key, typos refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecocloud.settings import Settings
from schemas.hj212_codes import POLLUTANTS
from transforms.risk import RulesError, load_rules


def test_shipped_rules_cover_every_reason_and_indicator() -> None:
    rules = load_rules()
    assert rules.valid_flags == ("N",) and set(rules.abnormal_flags) == set("FMDCBT")
    assert rules.reason("exceedance").points > 0 and rules.reason("silence").saturation > 0
    assert {d.industry_prefix for d in rules.defaults} == {"D4620", "D4411"}
    wastewater = next(d for d in rules.defaults if d.industry_prefix == "D4620")
    assert wastewater.limits["w01018"] == 50.0 and wastewater.ranges["w01001"] == (6.0, 9.0)  # DOMAIN.md §7
    assert wastewater.basis == "daily_mean"  # GB 18918: daily means
    for name in ("flatline", "zero_run", "near_limit", "abnormal_flags", "manual_values", "missing_data",
                 "silence", "zs_inconsistent", "unpermitted_discharge"):  # fmt: skip
        assert rules.indicator(name)


def test_shipped_rules_name_pollutants_as_the_hj212_code_table() -> None:
    """The reasons say 化学需氧量, as the pages, exports and the HJ 212 table do (they said COD)."""
    names = load_rules().names
    assert names == {code: p.name_zh for code, p in POLLUTANTS.items()}
    assert (names["w01018"], names["a34013"]) == ("化学需氧量", "烟尘")


def test_override_file_changes_only_its_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "risk.toml"
    path.write_text(
        "[indicators.flatline]\nmin_run_h = 8\n[score.reasons]\nsilence = { points = 5.0, saturation = 10 }\n"
        "[names]\nw01018 = 'COD'\n",
        encoding="utf-8",
    )
    rules = load_rules(path)
    assert rules.indicator("flatline")["min_run_h"] == 8 and rules.indicator("flatline")["rel_tol"] == 0.001
    assert rules.reason("silence").points == 5.0 and rules.reason("exceedance").points == 40.0
    # a province's own name for one pollutant; the others keep the HJ 212 table's
    assert rules.names["w01018"] == "COD" and rules.names["w21003"] == "氨氮"
    monkeypatch.setenv("ECOCLOUD_RISK_RULES", str(path))
    assert Settings().risk_rules == path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[indicators.flatline]\nmin_run = 8\n", "indicators.flatline.min_run: unknown key"),
        ("[score]\ntop_reasons = 'three'\n", "score.top_reasons: expected int"),
        ("[data]\no2_max_pct = 21\n", "o2_max_pct must lie in"),
        ("[score.reasons]\nzero_run = { points = 1.0, saturation = 0 }\n", "saturation > 0"),
        ("[data]\nlookback_hours = 30\n", "multiple of 24"),
        ("[indicators.flatline]\nrunning_when_flow_unknown = 1\n", "expected bool"),
        (
            "[[defaults]]\nindustry_prefix = 'D46'\nstandard = 'x'\nunit = 'mg/L'\nbasis = 'daily'\n",
            "basis 'daily' is not one of hourly, daily_mean",
        ),
        (
            "[[defaults]]\nindustry_prefix = 'D46'\nstandard = 'GB 13223'\nunit = 'mg/L'\nbasis = 'daily_mean'\n",
            "basis 'daily_mean' contradicts exceedance.daily_mean_standards for 'GB 13223'",
        ),
        ("[exceedance]\ndaily_mean_standards = []\n", "D4620: basis 'daily_mean' contradicts"),
        ("[exceedance]\ndaily_mean_standards = ['GB 18918', ' ']\n", "a blank code would match every"),
        (
            "[[defaults]]\nindustry_prefix = 'D46'\nstandard = 'x'\nunit = 'mg/L'\nlimits = { w01018 = 50.0 }\n"
            "cold_limits = { w21003 = 8.0 }\n",
            "D46: cold_limits for w21003 without a limit in limits",
        ),
    ],
)
def test_typos_and_impossible_values_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "risk.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError, match=message):
        load_rules(path)


def test_a_standard_of_daily_means_is_found_in_the_texts_permits_write() -> None:
    rules = load_rules()
    texts = [
        "GB 18918-2002 一级A",
        "GB18918-2002",
        "《城镇污水处理厂污染物排放标准》(GB 18918—2002)",
        "ＧＢ１８９１８－２００２",  # full width
        "gb 18918-2002",
        "GB 13223-2011",
        "GB 189180-2030",  # another number
        "DB36 18918",  # not a GB
        "",
    ]
    assert rules.daily_mean_cited(texts) == texts[:5]
