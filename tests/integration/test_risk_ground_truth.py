"""Ground truth of the enforcement analytics: a simulated province with labelled offenders goes
through the real specs into a real lake, and the ``risk`` spec builds the risk marts and the
ranking; every offender must rank in the top 10 % with the reason that matches its fault, and clean
outlets must rarely carry a data-fraud or data-quality reason.

The scenario (``ecocloud.simulator.offenders``): the simulated Jiangxi at 3× size (≈ 220 loggers,
3 days), one offender per fault kind on otherwise clean outlets, the province's own permit and
identity faults, benign noise everywhere (short gaps, resent bad-CRC lines, reconnects, 2005-style
loggers). Packets go to capture files ingested by the HJ 212 spec; permits, credit and master data
are fetched from the simulator over HTTP by theirs.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from risk_scenario import ANCHOR, SEED, run_sources

from ecocloud.runner import engine
from ecocloud.runner.context import read_published
from ecocloud.runner.report import RunReport
from ecocloud.settings import Settings
from ecocloud.simulator.fleet import load_labels
from ecocloud.simulator.offenders import OFFENDER_KINDS, risk_scenario
from schemas import risk as schema
from transforms.risk import load_rules

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]

DAYS = 3
SCALE = 3
# A label kind → the reason code the ranked row must carry among its top reasons.
EXPECTED_REASON = {
    "exceedance": "exceedance",
    "flatline": "flatline",
    "zero": "zero_run",
    "silence": "silence",
    "near_limit": "near_limit",
    "zs_mismatch": "zs_inconsistent",
    "revoked_permit": "permit_revoked",
    "expired_permit": "permit_expired",
    "unpermitted_outlet": "permit_outlet_not_permitted",
    "unregistered_mn": "mn_unregistered",
}
FRAUD_AND_QUALITY = {"flatline", "zero_run", "near_limit", "zs_inconsistent", "abnormal_flags", "manual_values",
                     "missing_data", "silence"}  # fmt: skip
# Clean outlets carry only benign noise (gaps ≤ 2 h, resends, reconnects); each rule's threshold is
# several times what a live instrument or a short gap produces. One clean outlet in fifty carrying
# such a reason is the most we accept: more means a threshold is too tight for field data.
CLEAN_FRAUD_SHARE_MAX = 0.02


def expected_reason(label: dict) -> str:
    if label["kind"] == "flags":
        return "manual_values" if label["details"]["flag"] == "S" else "abnormal_flags"
    if label["kind"] == "credit":
        return f"credit_{label['details']['level']}"
    return EXPECTED_REASON[label["kind"]]


def published(settings: Settings, table: str, days: list[dt.date]) -> list[dict[str, Any]]:
    led = engine.ledger(settings)
    try:
        return [r for d in days for r in read_published(settings.lake, led, table, d).to_pylist()]
    finally:
        led.close()


def test_offenders_rank_top_with_their_reasons(
    settings: Settings, tmp_path: Path, ingest: Callable[..., RunReport]
) -> None:
    scenario = risk_scenario(SEED, ANCHOR, DAYS, SCALE)
    labels = load_labels(run_sources(ingest, scenario, tmp_path / "capture"))
    report = ingest("risk")  # every build gated: a blocked one would fail here
    assert report.status == "published", "\n".join(report.lines())
    [scores] = report.of("scores")
    end = dt.date.fromisoformat(scores.unit)
    assert end == scenario.days[-1]
    period = min(p for p in load_rules().periods_days if p >= DAYS)  # the period covers the scenario
    outlets = [r for r in published(settings, schema.outlet_scores.name, [end]) if r["period_days"] == period]
    n = len(outlets)
    top_k = math.ceil(0.10 * n)
    rank = {r["mn"]: r for r in outlets}
    assert len(rank) == n  # no MN was remapped in this scenario: one ranked row per MN
    assert n == len(scenario.devices)  # every logger is ranked, the unregistered one included

    offenders: dict[str, list[dict]] = defaultdict(list)
    for lb in labels:
        if lb["kind"] in OFFENDER_KINDS:
            offenders[lb["mn"]].append(lb)
    assert {lb["kind"] for lbs in offenders.values() for lb in lbs} == set(OFFENDER_KINDS)

    misses = []
    for mn, lbs in sorted(offenders.items()):
        row = rank[mn]
        top_codes = row["reason_codes"].split(",")[: load_rules().top_reasons]
        for lb in lbs:
            if row["rank"] > top_k or expected_reason(lb) not in top_codes:
                misses.append((lb["kind"], mn, row["rank"], row["top_reasons"]))
    hits = sum(1 for mn in offenders if rank[mn]["rank"] <= top_k)
    clean = [r for r in outlets if r["mn"] not in offenders]
    clean_flagged = [r for r in clean if FRAUD_AND_QUALITY & set(r["reason_codes"].split(","))]

    print(f"\nrisk ground truth: {n} outlets, top 10 % = {top_k}, {len(offenders)} offending outlets")
    print(f"precision@top10% = {hits / top_k:.2f}  recall@top10% = {hits / len(offenders):.2f}")
    for mn, lbs in sorted(offenders.items(), key=lambda kv: rank[kv[0]]["rank"]):
        r = rank[mn]
        print(
            f"  #{r['rank']:>3} {r['score']:6.1f} {'/'.join(lb['kind'] for lb in lbs):<22} {r['top_reasons']}"
        )
    print(f"clean outlets with a fraud / data-quality reason: {len(clean_flagged)} of {len(clean)}")
    for r in clean_flagged:
        print(f"  #{r['rank']:>3} {r['outlet_key']} {r['top_reasons']}")

    assert misses == []
    assert hits == len(offenders)
    assert len(clean_flagged) <= CLEAN_FRAUD_SHARE_MAX * len(clean)

    # the evidence lines up with the injected windows (Beijing times of the labels)
    indicators = published(settings, schema.indicators.name, scenario.days)
    flat = {
        (r["mn"], r["pollutant_code"]): r
        for r in indicators
        if r["indicator"] == "flatline" and r["triggered"]
    }
    for lb in labels:
        if lb["kind"] == "flatline":
            row = flat[(lb["mn"], lb["pollutant"])]
            assert row["run_start_at"] == dt.datetime.fromisoformat(lb["start"])
            assert row["longest_run_h"] == (
                dt.datetime.fromisoformat(lb["end"]) - dt.datetime.fromisoformat(lb["start"])
            ) // dt.timedelta(hours=1)
    identity = published(settings, schema.outlet_identity.name, scenario.days)
    unregistered = [r for r in identity if r["identity_status"] == "mn_unregistered"]
    assert {r["mn"] for r in unregistered} == {scenario.sources.faults.unregistered_mn}
