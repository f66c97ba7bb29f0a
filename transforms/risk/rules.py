"""The risk rules: thresholds, default limits and score weights, from ``rules.toml``.

The shipped file (next to this module) documents every rule. An override file (the settings'
``ECOCLOUD_RISK_RULES``) is merged onto it key by key: it sets only what it changes, and a key the
shipped file does not have, or a value of another type, is refused with the key's path — a typo
must not silently leave a default in place.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.hj212_codes import POLLUTANTS

__all__ = ["DEFAULT_RULES_PATH", "DefaultLimits", "Reason", "RiskRules", "RulesError", "load_rules"]

DEFAULT_RULES_PATH = Path(__file__).with_name("rules.toml")


class RulesError(ValueError):
    """The rules file is not valid (unknown key, wrong type, impossible value)."""


@dataclass(frozen=True)
class Reason:
    """A reason's points: ``points × min(1, metric / saturation)``."""

    points: float
    saturation: float


_BASES = ("hourly", "daily_mean")


def _basis(value: object, industry_prefix: str) -> str:
    if value not in _BASES:
        raise RulesError(f"defaults {industry_prefix}: basis {value!r} is not one of {', '.join(_BASES)}")
    return str(value)


@dataclass(frozen=True)
class DefaultLimits:
    """National default limits for one industry (DOMAIN.md §7)."""

    industry_prefix: str
    standard: str
    unit: str
    o2_reference_pct: float | None
    limits: Mapping[str, float]  # pollutant code → upper limit
    ranges: Mapping[str, tuple[float, float]]  # pollutant code → (lower, upper), e.g. pH 6–9
    range_unit: str  # unit of the range limits ("-" for pH)
    # what the upper limits bound: each hour ("hourly", as HJ 75 judges online data) or the day's
    # mean ("daily_mean": an hour above it is no exceedance; a day whose mean is, is)
    basis: str = "hourly"
    # pollutant code → the upper limit in an hour of cold water (≤ cold_water_max_c) or of unmeasured
    # water temperature; ``limits`` then bind only the hours of warmer water
    cold_limits: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RiskRules:
    """Typed view of a merged rules document (``raw``)."""

    raw: Mapping[str, Any]

    # -- data
    @property
    def valid_flags(self) -> tuple[str, ...]:
        return tuple(self.raw["data"]["valid_flags"])

    @property
    def abnormal_flags(self) -> tuple[str, ...]:
        return tuple(self.raw["data"]["abnormal_flags"])

    @property
    def manual_flags(self) -> tuple[str, ...]:
        return tuple(self.raw["data"]["manual_flags"])

    @property
    def flow_codes(self) -> tuple[str, ...]:
        return tuple(self.raw["data"]["flow_codes"])

    @property
    def running_flow_min(self) -> float:
        return float(self.raw["data"]["running_flow_min"])

    @property
    def o2_code(self) -> str:
        return str(self.raw["data"]["o2_code"])

    @property
    def o2_max_pct(self) -> float:
        return float(self.raw["data"]["o2_max_pct"])

    @property
    def water_temp_code(self) -> str:
        return str(self.raw["data"]["water_temp_code"])

    @property
    def cold_water_max_c(self) -> float:
        return float(self.raw["data"]["cold_water_max_c"])

    @property
    def auxiliary_codes(self) -> tuple[str, ...]:
        return tuple(self.raw["data"]["auxiliary_codes"])

    @property
    def lookback_hours(self) -> int:
        return int(self.raw["data"]["lookback_hours"])

    @property
    def lookahead_hours(self) -> int:
        return int(self.raw["data"]["lookahead_hours"])

    @property
    def daily_mean_min_hours(self) -> int:
        return int(self.raw["exceedance"]["daily_mean_min_hours"])

    @property
    def daily_mean_standards(self) -> tuple[str, ...]:
        return tuple(str(code) for code in self.raw["exceedance"]["daily_mean_standards"])

    def daily_mean_cited(self, standards: Iterable[str]) -> list[str]:
        """Those of ``standards`` (texts as permits write them) that cite a standard of
        ``daily_mean_standards``: ``GB 18918`` matches ``《…》(GB18918—2002) 一级A`` but not ``GB 189180``."""
        codes = [_standard_key(code) for code in self.daily_mean_standards]
        if not codes:
            return []
        cited = re.compile("|".join(rf"(?<![0-9A-Z]){re.escape(c)}(?![0-9])" for c in codes))
        return [text for text in standards if cited.search(_standard_key(text))]

    def indicator(self, name: str) -> Mapping[str, Any]:
        """The settings of one indicator (``[indicators.<name>]``)."""
        return self.raw["indicators"][name]

    # -- defaults, score, names
    @property
    def defaults(self) -> tuple[DefaultLimits, ...]:
        out = []
        for d in self.raw.get("defaults", []):
            out.append(
                DefaultLimits(
                    industry_prefix=str(d["industry_prefix"]),
                    standard=str(d["standard"]),
                    unit=str(d["unit"]),
                    o2_reference_pct=None
                    if d.get("o2_reference_pct") is None
                    else float(d["o2_reference_pct"]),
                    limits={k: float(v) for k, v in d.get("limits", {}).items()},
                    ranges={k: (float(v[0]), float(v[1])) for k, v in d.get("ranges", {}).items()},
                    range_unit=str(d.get("range_unit", "-")),
                    basis=_basis(d.get("basis", "hourly"), str(d["industry_prefix"])),
                    cold_limits={k: float(v) for k, v in d.get("cold_limits", {}).items()},
                )
            )
        return tuple(out)

    def reason(self, name: str) -> Reason:
        r = self.raw["score"]["reasons"][name]
        return Reason(float(r["points"]), float(r["saturation"]))

    @property
    def reason_names(self) -> tuple[str, ...]:
        return tuple(self.raw["score"]["reasons"])

    @property
    def permit_points(self) -> Mapping[str, float]:
        return {k: float(v) for k, v in self.raw["score"]["permit"].items()}

    @property
    def credit_points(self) -> Mapping[str, float]:
        return {k: float(v) for k, v in self.raw["score"]["credit"].items()}

    @property
    def top_reasons(self) -> int:
        return int(self.raw["score"]["top_reasons"])

    @property
    def other_outlets_factor(self) -> float:
        return float(self.raw["score"]["other_outlets_factor"])

    @property
    def periods_days(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.raw["score"]["periods_days"])

    @property
    def names(self) -> Mapping[str, str]:
        """A pollutant's Chinese name in the reasons: the rules' own, else the HJ 212 code table's."""
        return {code: p.name_zh for code, p in POLLUTANTS.items()} | dict(self.raw.get("names", {}))


def _merge(base: Mapping[str, Any], override: Mapping[str, Any], path: str = "") -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        where = f"{path}{key}"
        if key not in base:
            raise RulesError(f"{where}: unknown key (not in the shipped rules.toml)")
        current = base[key]
        if isinstance(current, dict):
            if not isinstance(value, dict):
                raise RulesError(f"{where}: expected a table")
            # open tables: names and score.reasons entries may be added one by one
            if key == "names":
                out[key] = {**current, **value}
            else:
                out[key] = _merge(current, value, where + ".")
        elif isinstance(current, bool) or isinstance(value, bool):
            if type(current) is not type(value):
                raise RulesError(f"{where}: expected {type(current).__name__}")
            out[key] = value
        elif isinstance(current, int | float) and isinstance(value, int | float):
            out[key] = value
        elif isinstance(current, list) and isinstance(value, list):
            out[key] = value  # lists (flags, codes, defaults) are replaced whole
        elif type(current) is not type(value):
            raise RulesError(f"{where}: expected {type(current).__name__}, got {type(value).__name__}")
        else:
            out[key] = value
    return out


def _standard_key(text: str) -> str:
    """A standard's code as compared: NFKC (full-width letters and digits), upper case, no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).upper()


def _check(rules: RiskRules) -> None:
    for name in rules.reason_names:
        r = rules.reason(name)
        if r.points < 0 or r.saturation <= 0:
            raise RulesError(f"score.reasons.{name}: points ≥ 0 and saturation > 0 required")
    if not 0 < rules.o2_max_pct < 21:
        raise RulesError("data.o2_max_pct must lie in (0, 21): the conversion divides by 21 − O2")
    for reach in ("lookback_hours", "lookahead_hours"):
        if getattr(rules, reach) < 0 or getattr(rules, reach) % 24:
            raise RulesError(f"data.{reach} must be a multiple of 24 (whole days are read)")
    low = float(rules.indicator("near_limit")["low_frac"])
    if not 0 < low < 1:
        raise RulesError("indicators.near_limit.low_frac must lie in (0, 1)")
    if any(d <= 0 for d in rules.periods_days):
        raise RulesError("score.periods_days: periods of at least one day")
    if any(not _standard_key(code) for code in rules.daily_mean_standards):
        raise RulesError("exceedance.daily_mean_standards: a blank code would match every standard")
    for d in rules.defaults:  # typed here so that a bad default (its basis) is refused at load
        if unlimited := sorted(set(d.cold_limits) - set(d.limits)):
            raise RulesError(
                f"defaults {d.industry_prefix}: cold_limits for {', '.join(unlimited)} without a limit "
                "in limits (the one for warmer water)"
            )
        if (d.basis == "daily_mean") != bool(rules.daily_mean_cited([d.standard])):
            raise RulesError(
                f"defaults {d.industry_prefix}: basis {d.basis!r} contradicts exceedance.daily_mean_standards "
                f"for {d.standard!r}: a permit citing that standard would be judged otherwise"
            )


def load_rules(path: str | Path | None = None) -> RiskRules:
    """The shipped rules, with ``path``'s keys (an override file) merged onto them."""
    base = tomllib.loads(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))
    if path is not None:
        try:
            override = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise RulesError(f"{path}: {exc}") from exc
        base = _merge(base, override)
    rules = RiskRules(base)
    _check(rules)
    return rules
