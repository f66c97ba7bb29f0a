"""Enforcement analytics steps: the daily risk marts per day, the period scores of the latest day.

``Daily`` (a Beijing day): outlet identity as of the readings, exceedances against the limit in
force, data-fraud and data-quality indicators — from that day's, its look-back and its look-ahead
days' hourly marts and the versioned registries (``transforms.risk.refresh_days``). A day is rebuilt
when the hourly values of its window, a registry or the rules changed. ``Scores`` (the newest day with daily marts): the
outlet and enterprise scores of every period in the rules (``transforms.risk.score_period``),
read from the daily marts only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from functools import cache

import duckdb
import pyarrow as pa

from ecocloud.runner.context import StepContext
from ecocloud.runner.units import Input, Output, Unit
from schemas import risk as schema
from transforms.risk import RiskRules, load_rules, refresh_days
from transforms.risk.refresh import INPUTS
from transforms.risk.scoring import SCORE_INPUTS, score_period

_HOURLY = "mart_source__hourly"
_DAILY_MARTS = tuple(t for t in SCORE_INPUTS if t != "core_credit__ratings")


@cache
def _rules(path: str | None) -> tuple[RiskRules, str]:
    rules = load_rules(path)
    # the names too: they come from the HJ 212 table unless the rules rename them, and the reasons say them
    said = {"rules": rules.raw, "names": rules.names}
    return rules, hashlib.sha256(json.dumps(said, sort_keys=True, default=str).encode()).hexdigest()[:16]


def rules_of(ctx: StepContext) -> tuple[RiskRules, str]:
    """The rules in force (shipped, with ``ECOCLOUD_RISK_RULES`` merged on) and their digest."""
    return _rules(str(ctx.settings.risk_rules) if ctx.settings.risk_rules else None)


def _whole(ctx: StepContext, names: Iterable[str]) -> list[Input]:
    return [i for name in names for i in ctx.table_inputs(name).values()]


class Daily:
    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        rules, digest = rules_of(ctx)
        hourly = ctx.table_inputs(_HOURLY)
        registries = _whole(ctx, (t for t in INPUTS if t != _HOURLY))
        back, ahead = dt.timedelta(hours=rules.lookback_hours), dt.timedelta(hours=rules.lookahead_hours)
        for day in sorted(d for d in hourly if d is not None):
            window = [  # the next day's values are an input too: a run crossing midnight counts on both
                hourly[d]
                for d in sorted(x for x in hourly if x is not None and day - back <= x <= day + ahead)
            ]
            yield Unit(day.isoformat(), (*window, *registries), partition=day, params=(("rules", digest),))

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        assert unit.partition is not None
        rules, _ = rules_of(ctx)
        con = duckdb.connect()
        try:
            ctx.create_views(con, unit, INPUTS)
            marts = refresh_days(con, unit.partition, unit.partition, rules)
        finally:
            con.close()
        tables = {
            schema.outlet_identity.name: marts.identity,
            schema.exceedance_hourly.name: marts.exceedance_hourly,
            schema.exceedance_daily.name: marts.exceedance_daily,
            schema.indicators.name: marts.indicators,
            schema.disclosure_daily.name: marts.disclosure,
        }
        counts = {
            "identities": marts.identity.num_rows,
            "exceedance_hours": marts.exceedance_hourly.num_rows,
            "outlet_pollutant_days": marts.exceedance_daily.num_rows,
            "indicators_triggered": _triggered(marts.indicators),
            "disclosed": marts.disclosure.num_rows,
            "withheld_from_disclosure": marts.withheld_from_disclosure,
        }
        return Output(tables, counts)


def _triggered(indicators: pa.Table) -> int:
    return sum(1 for t in indicators.column("triggered").to_pylist() if t)


class Scores:
    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        rules, digest = rules_of(ctx)
        daily = ctx.table_inputs(_DAILY_MARTS[0])
        days = sorted(d for d in daily if d is not None)
        if not days:
            return
        end = days[-1]
        start = end - dt.timedelta(days=max(rules.periods_days) - 1)
        inputs = [
            i
            for name in _DAILY_MARTS
            for d, i in sorted(ctx.table_inputs(name).items(), key=lambda kv: str(kv[0]))
            if d is not None and start <= d <= end
        ]
        inputs += _whole(ctx, ["core_credit__ratings"])
        yield Unit(end.isoformat(), tuple(inputs), partition=end, params=(("rules", digest),))

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        assert unit.partition is not None
        rules, _ = rules_of(ctx)
        end = unit.partition
        con = duckdb.connect()
        try:
            ctx.create_views(con, unit, SCORE_INPUTS)
            scored = [
                score_period(con, end - dt.timedelta(days=p - 1), end, rules) for p in rules.periods_days
            ]
        finally:
            con.close()
        outlets = pa.concat_tables([s.outlets for s in scored])
        enterprises = pa.concat_tables([s.enterprises for s in scored])
        counts = {
            "periods": list(rules.periods_days),
            "outlets": outlets.num_rows,
            "enterprises": enterprises.num_rows,
        }
        return Output(
            {schema.outlet_scores.name: outlets, schema.enterprise_scores.name: enterprises}, counts
        )
