"""Enforcement analytics over the lake: outlet identity, exceedances, data-fraud and data-quality
indicators, and risk scores (schemas/risk.py; rules and weights in rules.toml).

Entry points (pure: DuckDB relations in, Arrow tables with registry schemas out):

* :func:`refresh_days` — the daily marts of a range of days (identity, exceedance hourly/daily,
  indicators) from ``mart_source__hourly`` and the registries;
* :func:`score_period` — outlet and enterprise scores of a period from the daily marts only;
* :func:`load_rules` — the rules, with an override file merged on.
"""

from transforms.risk.refresh import INPUTS, RiskMarts, refresh_days
from transforms.risk.rules import RiskRules, RulesError, load_rules

__all__ = ["INPUTS", "RiskMarts", "RiskRules", "RulesError", "load_rules", "refresh_days"]
