"""A risk reason, and an evidence row's sentence, in a page's language.

The risk marts keep each reason's Chinese sentence (what enforcement lists and exports say) beside
its code, pollutant and numbers (``reasons_json``). An English page says the same from the code and
the numbers; a code this module does not know, or a reason without the numbers its sentence needs,
keeps its Chinese sentence (never a blank cell, never "None hours"). The numbers keep the largest
exceedance multiple at the decimals the Chinese sentence shows it, rounded once from the same value,
so both languages give the same digits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ecocloud.risk_report import pollutant_name
from schemas import risk as schema
from transforms.risk import RiskRules

Numbers = Mapping[str, Any]


def _n(count: Any, unit: str) -> str:
    """``6 hours``, ``1 day``; a count the numbers lack is no sentence (``KeyError``: the Chinese)."""
    if count is None:
        raise KeyError(unit)
    return f"{count} {unit}" + ("" if count == 1 else "s")


def _share(part: Any, whole: Any) -> str:
    if part is None or whole is None:
        raise KeyError("share")
    return f"{100 * part / whole:.0f}%" if whole else "?"


def _exceedance(n: Numbers, name: str, _rules: RiskRules) -> str:
    default = " (national default limit)" if n.get("default_limit") else ""
    if not n.get("hours"):
        return f"{name}: daily mean above the limit on {_n(n.get('daily_mean_days'), 'day')}{default}"
    multiple = n.get("max_exceedance_multiple")
    said = [f"{name} above the limit for {_n(n['hours'], 'hour')} ({_n(n.get('days'), 'day')})"]
    if multiple is not None:
        said.append(f"at most {schema.fixed(multiple, 'max_exceedance_multiple')} times over")
    if n.get("longest_run_h") is None:
        raise KeyError("longest_run_h")
    said.append(f"longest run {n['longest_run_h']} h")  # as the evidence's sentence says it
    if n.get("daily_mean_days"):
        said.append(f"daily mean above the limit on {_n(n['daily_mean_days'], 'day')}")
    return ", ".join(said) + default


def _near_limit(n: Numbers, name: str, rules: RiskRules) -> str:
    low = 100 * float(rules.indicator("near_limit")["low_frac"])
    near, judged = n.get("hours_near_limit"), n.get("hours_judged")
    return (
        f"{name}: {_share(near, judged)} of valid hourly means within {low:.0f}–100% of the limit "
        f"({near}/{_n(judged, 'hour')})"
    )


def _abnormal(n: Numbers, _name: str, rules: RiskRules) -> str:
    flags = "/".join(rules.abnormal_flags)
    part, whole = n.get("hours_abnormal"), n.get("hours_present")
    return f"abnormal flags ({flags}) on {_share(part, whole)} of hourly values ({part}/{whole})"


def _manual(n: Numbers, _name: str, _rules: RiskRules) -> str:
    part, whole = n.get("hours_manual"), n.get("hours_present")
    return f"manually entered (S) values: {_share(part, whole)} of hourly values ({part}/{whole})"


def _missing(n: Numbers, _name: str, _rules: RiskRules) -> str:
    missing, expected = n.get("values_missing"), n.get("values_expected")
    return (
        f"{_share(missing, expected)} of data missing ({missing} of the {expected} hourly values "
        "expected while the logger was online missing or incomplete)"
    )


def _permit(n: Numbers, _name: str, _rules: RiskRules, outlet: str | None = None) -> str:
    status, no, since = n.get("permit_status"), n.get("permit_no") or "?", n.get("since") or "?"
    return {
        "revoked": f"discharge permit {no} revoked (since {since})",
        "cancelled": f"discharge permit {no} cancelled (since {since})",
        "expired": f"discharge permit {no} expired (since {since})",
        "not_yet_valid": f"discharge permit {no} not yet valid",
        "outlet_not_permitted": f"outlet {outlet or '?'} is not on discharge permit {no}",
    }.get(str(status), "no discharge permit")


def _credit(n: Numbers, _name: str, _rules: RiskRules) -> str:
    level = str(n["credit_level"])
    return f"environmental credit rating for {n['year']}: {schema.CREDIT_LEVELS.in_language('en').get(level, level)}"


_SAY: dict[str, Callable[[Numbers, str, RiskRules], str]] = {
    "exceedance": _exceedance,
    "near_limit": _near_limit,
    "abnormal_flags": _abnormal,
    "manual_values": _manual,
    "missing_data": _missing,
    "flatline": lambda n, name, _: (
        f"{name}: value constant for {_n(n.get('longest_run_h'), 'hour')} in a row while the plant ran "
        f"({_n(n.get('hours'), 'hour')} in the period)"
    ),
    "zero_run": lambda n, name, _: (
        f"{name}: zero for {_n(n.get('longest_run_h'), 'hour')} in a row while the flow was above zero "
        f"({_n(n.get('hours'), 'hour')} in the period)"
    ),
    "zs_inconsistent": lambda n, name, _: (
        f"{name}: converted concentration disagrees with the measured one and the O2 for {_n(n.get('hours'), 'hour')}"
    ),
    "silence": lambda n, _name, _: (
        f"logger silent: longest {_n(n.get('longest_run_h'), 'hour')} in a row without data "
        f"({_n(n.get('hours'), 'hour')} in the period)"
    ),
    "unpermitted_discharge": lambda n, _name, _: (
        f"discharging for {_n(n.get('hours'), 'hour')} without a valid permit"
    ),
    "mn_unregistered": lambda n, _name, _: (
        "MN not in the monitoring-point register: no enterprise, outlet or permit can be linked"
    ),
}


def reason_text(reason: Mapping[str, Any], rules: RiskRules, lang: str, outlet: str | None = None) -> str:
    """One reason of ``reasons_json`` in ``lang``: its stored Chinese sentence, or in English from its
    code and numbers. ``outlet``: the outlet a reason is about, on an outlet's own row (an
    enterprise's reasons carry their ``outlet_code``, and say it first)."""
    text = str(reason.get("text") or "")
    if lang != "en":
        return text
    code = str(reason.get("code") or "")
    numbers = reason.get("numbers") or {}
    if isinstance(numbers, str):
        numbers = json.loads(numbers)
    name = pollutant_name(str(reason.get("pollutant") or schema.LOGGER_LEVEL), rules, "en")
    where = reason.get("outlet_code") or outlet
    try:
        if code.startswith("permit_"):
            said = _permit(numbers, name, rules, where)
        elif code.startswith("credit_"):
            said = _credit(numbers, name, rules)
        elif code in _SAY:
            said = _SAY[code](numbers, name, rules)
        else:
            return text
    except (KeyError, TypeError, ValueError):  # numbers it needs are missing or not numbers
        return text
    return f"{prefix}: {said}" if (prefix := _about(reason)) else said


def _about(reason: Mapping[str, Any]) -> str | None:
    """The outlet an enterprise's reason is about, as its Chinese sentence names it first: its
    outlet code, or its logger's MN where the outlet has no code; None for an outlet's own reasons
    and the enterprise's (credit, its permit), which carry neither."""
    return str(about) if (about := reason.get("outlet_code") or reason.get("mn")) else None


def top_reasons(row: Mapping[str, Any], rules: RiskRules, lang: str) -> str:
    """A ranked row's top reasons as one line in ``lang`` (the marts' ``top_reasons`` in Chinese)."""
    if lang != "en" or not row.get("reasons_json"):
        return str(row.get("top_reasons") or "")
    reasons = json.loads(row["reasons_json"])[: rules.top_reasons]
    return "; ".join(reason_text(r, rules, lang, row.get("outlet_code")) for r in reasons)


def evidence_text(row: Mapping[str, Any], lang: str) -> str:
    """An evidence row's sentence (``ecocloud.risk_report.evidence``) in ``lang``: an exceedance day's
    English sentence is made beside the Chinese from the same values, as are an indicator finding's
    and an outlet's identity (its names as registered)."""
    text = str(row.get("evidence") or "")
    return str(row.get("evidence_en") or text) if lang == "en" else text
