"""How well the master data joins: permits, credit ratings, monitoring points and packets on USCC, MN, outlet.

One DuckDB query per check over Arrow tables; each yields item rows (one per offending key) and the
report gets one summary row per check. A check whose inputs do not exist yet (no packets table, no
credit ratings) is reported with ``checked = false`` and no items — "nothing wrong" and "not looked"
must not look alike. USCCs are matched against every version of the enterprise registry (a permit of
an enterprise that has since left the registry still matches); "current" means the latest version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

from schemas import master as schema
from schemas.risk import outlet_identity
from transforms.arrow_sql import arrow_connection

__all__ = ["CHECKS", "OPTIONAL_INPUTS", "Check", "join_report"]


@dataclass(frozen=True)
class Check:
    name: str
    subject_table: str  # main table the items come from (uscc_invalid: several)
    needs: tuple[str, ...]  # inputs that must exist for the check to run
    description: str
    sql: str  # SELECT subject_table, subject_key, uscc, detail, occurrences


_IN_FORCE = "o.in_force_from <= $at AND (o.in_force_to IS NULL OR $at < o.in_force_to)"
# a rating row: its province, year and USCC, and where it stands — the file (a year's list may come in
# batches, each with its own row 3), the sheet and the row
_CREDIT_KEY = (
    "concat(c.province_code, '/', c.year, '/', coalesce(c.uscc, '(none)'), ' ', "
    "regexp_extract(c.raw_file, '[^/]*$'), ' ', c.sheet, '#', c.row_no)"
)

CHECKS: tuple[Check, ...] = (
    Check(
        "mn_unregistered",
        "core_source__packets",
        ("packets",),
        "MNs sending packets that are in no monitoring-point version",
        """SELECT 'core_source__packets', k.mn, NULL,
                  'sends packets but is in no version of the monitoring-point registry', k.packets
           FROM packets k WHERE NOT EXISTS (SELECT 1 FROM points p WHERE p.mn = k.mn)""",
    ),
    Check(
        "outlet_without_permit",
        "core_master__monitoring_points",
        ("points", "permits"),
        "current monitoring points whose outlet is on no permit in force",
        f"""WITH state AS (
               SELECT uscc, arg_max(permit_no, valid_from) AS permit_no, arg_max(status, valid_from) AS status,
                      arg_max(permit_valid_to, valid_from) AS valid_to,
                      bool_or(coalesce(in_force_from <= $at AND (in_force_to IS NULL OR $at < in_force_to), false))
                        AS in_force
               FROM permits GROUP BY uscc)
           SELECT 'core_master__monitoring_points', p.mn, p.uscc,
                  CASE WHEN s.uscc IS NULL THEN 'outlet ' || coalesce(p.outlet_code, '?') || ': no discharge permit for this USCC'
                       WHEN NOT s.in_force THEN 'outlet ' || coalesce(p.outlet_code, '?') || ': permit ' || s.permit_no
                            || ' not in force (' || CASE WHEN s.status <> 'valid' THEN s.status
                                                         ELSE 'expired ' || s.valid_to END || ')'
                       ELSE 'outlet ' || coalesce(p.outlet_code, '?') || ' is not on permit ' || s.permit_no END,
                  1
           FROM points p LEFT JOIN state s USING (uscc)
           WHERE p.is_current AND NOT EXISTS (
               SELECT 1 FROM outlets o WHERE o.uscc = p.uscc AND o.outlet_code = p.outlet_code AND {_IN_FORCE})""",
    ),
    Check(
        "point_uscc_unmatched",
        "core_master__monitoring_points",
        ("points", "enterprises"),
        "current monitoring points whose USCC is no enterprise",
        """SELECT 'core_master__monitoring_points', p.mn, p.uscc, 'USCC ' || coalesce(p.uscc, '(none)')
                  || ' is in no version of the enterprise registry', 1
           FROM points p WHERE p.is_current AND NOT EXISTS (SELECT 1 FROM enterprises e WHERE e.uscc = p.uscc)""",
    ),
    Check(
        "permit_uscc_unmatched",
        "core_permit__permits",
        ("permits", "enterprises"),
        "permits (latest version) whose USCC is no enterprise",
        """SELECT 'core_permit__permits', v.permit_no, v.uscc, 'USCC ' || coalesce(v.uscc, '(none)')
                  || ' of ' || coalesce(v.enterprise_name, '?') || ' is in no version of the enterprise registry', 1
           FROM permits v WHERE v.is_current AND NOT EXISTS (SELECT 1 FROM enterprises e WHERE e.uscc = v.uscc)""",
    ),
    Check(
        "credit_uscc_unmatched",
        "core_credit__ratings",
        ("credit", "enterprises"),
        "credit ratings whose USCC is no enterprise (a registry enterprise of the same name is suggested)",
        f"""WITH names AS (
               SELECT enterprise_name_norm, min(uscc) AS uscc, min(enterprise_name) AS name
               FROM enterprises GROUP BY ALL)
           SELECT 'core_credit__ratings', {_CREDIT_KEY}, c.uscc,
                  coalesce(c.enterprise_name, '?') || ': ' ||
                  CASE WHEN c.uscc IS NULL THEN 'no USCC' ELSE 'USCC in no version of the enterprise registry' END
                  || coalesce('; the registry has this name under ' || n.uscc, ''), 1
           FROM credit c LEFT JOIN names n USING (enterprise_name_norm)
           WHERE NOT EXISTS (SELECT 1 FROM enterprises e WHERE e.uscc = c.uscc)""",
    ),
    Check(
        "uscc_invalid",
        "*",
        (),
        "USCCs failing the GB 32100 check character (kept and flagged, never dropped)",
        """SELECT subject_table, subject_key, any_value(uscc), any_value(detail), count(*) FROM (
               SELECT 'core_master__enterprises' AS subject_table, uscc AS subject_key, uscc,
                      'fails GB 32100: ' || uscc_problem AS detail FROM enterprises WHERE is_current AND NOT uscc_valid
               UNION ALL
               SELECT 'core_master__monitoring_points', mn, uscc, 'MN ' || mn || ': USCC fails GB 32100'
               FROM points WHERE is_current AND NOT uscc_valid
               UNION ALL
               SELECT 'core_permit__permits', permit_no, uscc, 'fails GB 32100: ' || uscc_problem
               FROM permits WHERE is_current AND NOT uscc_valid
               UNION ALL
               SELECT 'core_credit__ratings', coalesce(uscc, '(missing)'), uscc, 'fails GB 32100: ' || uscc_problem
               FROM credit WHERE NOT uscc_valid)
           GROUP BY subject_table, subject_key""",
    ),
    Check(
        "name_mismatch",
        "*",
        ("enterprises",),
        "same USCC, another normalised name than the enterprise's current one (renamed, or a typing error)",
        """WITH cur AS (SELECT uscc, enterprise_name, enterprise_name_norm FROM enterprises WHERE is_current),
                former AS (SELECT DISTINCT uscc, enterprise_name_norm FROM enterprises WHERE NOT is_current)
           SELECT 'core_credit__ratings', {credit_key}, c.uscc,
                  'credit file: ' || c.enterprise_name || '; registry: ' || e.enterprise_name
                  || CASE WHEN f.uscc IS NOT NULL THEN ' (a former name: renamed)' ELSE '' END, 1
           FROM credit c JOIN cur e USING (uscc)
           LEFT JOIN former f ON f.uscc = c.uscc AND f.enterprise_name_norm = c.enterprise_name_norm
           WHERE c.enterprise_name_norm <> e.enterprise_name_norm
           UNION ALL
           SELECT 'core_permit__permits', v.permit_no, v.uscc,
                  'permit: ' || v.enterprise_name || '; registry: ' || e.enterprise_name
                  || CASE WHEN f.uscc IS NOT NULL THEN ' (a former name: renamed)' ELSE '' END, 1
           FROM permits v JOIN cur e USING (uscc)
           LEFT JOIN former f ON f.uscc = v.uscc AND f.enterprise_name_norm = v.enterprise_name_norm
           WHERE v.is_current AND v.enterprise_name_norm <> e.enterprise_name_norm""".replace(
            "{credit_key}", _CREDIT_KEY
        ),
    ),
    Check(
        "identity_uscc_unmatched",
        "mart_source__outlet_identity",
        ("identity",),
        "MNs whose monitoring point, as of their readings' time, names a USCC in no enterprise version "
        "(found by the risk identity join; historical point versions included)",
        """SELECT 'mart_source__outlet_identity', i.mn || ' -> ' || coalesce(i.uscc, '(none)'), any_value(i.uscc),
                  'MN ' || i.mn || ' was USCC ' || coalesce(i.uscc, '(none)') || ' (outlet '
                  || coalesce(any_value(i.outlet_code), '?') || ') when it sent data; that USCC is in no version '
                  || 'of the enterprise registry', sum(i.hours_with_data)
           FROM identity i WHERE i.identity_status = 'uscc_unmatched'
           GROUP BY i.mn, i.uscc""",
    ),
)


# Inputs of the report and the tables they are
INPUTS = {
    "enterprises": "core_master__enterprises",
    "points": "core_master__monitoring_points",
    "permits": "core_permit__permits",
    "outlets": "core_permit__outlets",
    "credit": "core_credit__ratings",
    "packets": "core_source__packets",
}
# Inputs the report uses when given (None or absent: its checks are reported as not checked)
OPTIONAL_INPUTS = {"identity": outlet_identity.name}


def join_report(tables: Mapping[str, pa.Table | None], *, at: dt.datetime) -> pa.Table:
    """Summary and item rows of every check (``stage_master__join_report_rows``).

    ``tables``: ``enterprises, points, permits, outlets, credit`` — the core tables as published (all
    versions, registry columns; empty when never published) — and ``packets``
    (``stage_master__join_inputs_packets``: packets per MN, None when the packets table does not
    exist); optionally ``identity`` (rows of ``mart_source__outlet_identity``). An input with no rows
    counts as missing. ``at`` (tz-aware) is when "in force" is evaluated.
    """
    if at.utcoffset() is None:
        raise ValueError("at must be timezone-aware")
    if not set(INPUTS) <= set(tables) or set(tables) - set(INPUTS) - set(OPTIONAL_INPUTS):
        raise ValueError(
            f"need tables {sorted(INPUTS)} (optional {sorted(OPTIONAL_INPUTS)}), got {sorted(tables)}"
        )
    tables = {"identity": None, **tables}
    present = {name for name, t in tables.items() if t is not None and t.num_rows > 0}
    empty = {"identity": outlet_identity.empty()}
    registered = {
        name: table if table is not None else empty.get(name, schema.stage_packet_counts.empty())
        for name, table in tables.items()
    }
    rows: list[dict[str, object]] = []
    with arrow_connection(**registered) as con:
        for check in CHECKS:
            missing = [n for n in check.needs if n not in present]
            params = [at] if "$at" in check.sql else []
            items = [] if missing else con.execute(check.sql.replace("$at", "$1"), params).fetchall()
            for subject_table, subject_key, uscc, detail, occurrences in items:
                rows.append(
                    {"check_name": check.name, "row_kind": "item", "subject_table": subject_table,
                     "subject_key": subject_key, "uscc": uscc, "detail": detail,
                     "occurrences": int(occurrences), "checked": True}
                )  # fmt: skip
            why = (
                f"; not checked: {', '.join({**INPUTS, **OPTIONAL_INPUTS}[n] for n in missing)} not in the lake yet"
                if missing
                else ""
            )
            rows.append(
                {"check_name": check.name, "row_kind": "summary", "subject_table": check.subject_table,
                 "subject_key": "*", "uscc": None, "detail": check.description + why,
                 "occurrences": len(items), "checked": not missing}
            )  # fmt: skip
    return schema.stage_join_items.from_rows(rows)
