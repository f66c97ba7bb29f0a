"""Enforcement analytics over the lake: outlet identity, exceedances, data-fraud and data-quality
indicators, and risk scores (schemas/risk.py; rules and weights in rules.toml).

Entry points (pure: DuckDB relations named as the registry tables in, Arrow tables with registry
schemas out):

* :func:`refresh_days` — the daily marts of a range of Beijing days (identity, exceedance
  hourly/daily, indicators) from ``mart_source__hourly`` and the registries;
* :func:`score_period` — outlet and enterprise scores of a period (optionally one region,
  industry or pollutant) from the daily marts of the period and ``core_credit__ratings``;
* :func:`load_rules` — the rules, with an override file (``ECOCLOUD_RISK_RULES``) merged on.
"""

from transforms.risk.refresh import INPUTS, RiskMarts, refresh_days
from transforms.risk.rules import RiskRules, RulesError, load_rules
from transforms.risk.scoring import SCORE_INPUTS, PeriodScores, region_prefix, score_period

__all__ = [
    "INPUTS",
    "SCORE_INPUTS",
    "PeriodScores",
    "RiskMarts",
    "RiskRules",
    "RulesError",
    "load_rules",
    "refresh_days",
    "region_prefix",
    "score_period",
]
