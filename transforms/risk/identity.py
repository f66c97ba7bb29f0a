"""Outlet identity: which monitoring point, enterprise, outlet and permit an MN was, as of the time.

Per Beijing day, an MN's identity is the monitoring-point version in force during that day
(``core_master__monitoring_points``, SCD2): one segment per version in force, so an MN remapped to
another enterprise at noon has a morning and an afternoon segment. The registry's versions begin
when a snapshot was received; data older than the registry's *first* snapshot takes that snapshot
(``identity_basis = first_snapshot``) — the registry is loaded after the loggers start sending,
and the first snapshot is the best knowledge of the past. Parts of a day in which an MN sent data
but no version was in force become ``mn_unregistered`` segments; they are listed, never dropped.

Enterprise attributes come from the enterprise version in force at the segment's start (else the
nearest version of that USCC); a USCC in no enterprise version makes the segment
``uscc_unmatched``. The permit state is evaluated at the segment's start (permits change at 00:00
Beijing): ``in_force`` when the outlet is on a permit version in force (the ``limit_in_force``
rule of ``transforms.permits``), otherwise the best state of the USCC's permit versions then.

Inputs (relations on the connection): ``core_master__monitoring_points``,
``core_master__enterprises``, ``core_permit__permits``, ``core_permit__outlets`` and the temporary
``_risk_h`` of :mod:`transforms.risk.hours` (the hourly values of the window).
"""

from __future__ import annotations

import datetime as dt

import duckdb

from transforms.risk.sql import FAR_US, HOUR_US, day_num

__all__ = ["build_identity"]

# Effective validity of a registry version: the first snapshot's versions reach back indefinitely.
_EFFECTIVE = f"""
    CASE WHEN valid_from = min(valid_from) OVER () THEN -{FAR_US} ELSE epoch_us(valid_from) END AS ef,
    coalesce(epoch_us(valid_to), {FAR_US}) AS et, epoch_us(valid_from) AS vf"""

_SEGMENTS = f"""
CREATE OR REPLACE TEMP TABLE _risk_days AS
SELECT d::INTEGER AS day_num, DATE '1970-01-01' + d::INTEGER AS date,
       (d * 24 - 8) * {HOUR_US} AS d0, ((d + 1) * 24 - 8) * {HOUR_US} AS d1
FROM range({{lo}}, {{hi}} + 1) t(d);

CREATE OR REPLACE TEMP TABLE _risk_segments AS
WITH pts AS (
    SELECT mn, uscc, outlet_code, region_code, point_name, pollutants, {_EFFECTIVE}
    FROM core_master__monitoring_points
), reg AS (
    SELECT d.date, d.day_num, d.d0, d.d1, p.mn, p.uscc, p.outlet_code, p.region_code, p.point_name,
           p.pollutants, p.vf AS point_vf,
           greatest(p.ef, d.d0) AS from_us, least(p.et, d.d1) AS to_us,
           CASE WHEN greatest(p.ef, d.d0) < p.vf THEN 'first_snapshot' ELSE 'as_of' END AS basis
    FROM _risk_days d JOIN pts p ON p.ef < d.d1 AND p.et > d.d0
), data_days AS (
    SELECT DISTINCT h.mn, d.day_num, d.date, d.d0, d.d1
    FROM (SELECT DISTINCT mn, hr FROM _risk_h) h JOIN _risk_days d ON (h.hr + 8) // 24 = d.day_num
), edges AS (
    SELECT x.mn, x.day_num, x.date, x.d0, x.d1, r.from_us, r.to_us
    FROM data_days x LEFT JOIN reg r USING (mn, day_num)
), gaps AS (  -- parts of a day with data and no registered segment
    SELECT mn, day_num, date, coalesce(lag(to_us) OVER w, d0) AS g0, from_us AS g1
    FROM edges WHERE from_us IS NOT NULL WINDOW w AS (PARTITION BY mn, day_num ORDER BY from_us)
    UNION ALL
    SELECT mn, day_num, date, coalesce(max(to_us), any_value(d0)), any_value(d1)
    FROM edges GROUP BY mn, day_num, date
), unreg AS (
    SELECT DISTINCT g.date, g.day_num, g.mn, g.g0 AS from_us, g.g1 AS to_us
    FROM gaps g JOIN _risk_h h ON h.mn = g.mn AND h.hr * {HOUR_US} >= g.g0 AND h.hr * {HOUR_US} < g.g1
    WHERE g.g0 < g.g1
)
SELECT date, day_num, mn, from_us, to_us, uscc, outlet_code, region_code, point_name, pollutants,
       point_vf, basis
FROM reg
UNION ALL
SELECT date, day_num, mn, from_us, to_us, NULL, NULL, NULL, NULL, NULL, NULL, 'none' FROM unreg;
"""

_ENRICHED = f"""
CREATE OR REPLACE TEMP TABLE _risk_identity AS
WITH ent AS (
    SELECT uscc, enterprise_name, region_code, industry_code, industry_name, {_EFFECTIVE}
    FROM core_master__enterprises
), seg_ent AS (
    SELECT s.mn, s.date, s.from_us, e.enterprise_name, e.region_code AS e_region, e.industry_code,
           e.industry_name
    FROM _risk_segments s JOIN ent e ON e.uscc = s.uscc
    QUALIFY row_number() OVER (
        PARTITION BY s.mn, s.date, s.from_us
        ORDER BY (e.ef <= s.from_us AND s.from_us < e.et) DESC, e.vf DESC) = 1
), permit_latest AS (
    SELECT uscc, arg_max(enterprise_name, valid_from) AS p_name, arg_max(region_code, valid_from) AS p_region,
           arg_max(industry_code, valid_from) AS p_industry, arg_max(industry_name, valid_from) AS p_industry_name
    FROM core_permit__permits GROUP BY uscc
), outlet_in_force AS (
    SELECT s.mn, s.date, s.from_us, min(o.permit_no) AS permit_no
    FROM _risk_segments s JOIN core_permit__outlets o
      ON o.uscc = s.uscc AND o.outlet_code = s.outlet_code
     AND epoch_us(o.in_force_from) <= s.from_us AND s.from_us < coalesce(epoch_us(o.in_force_to), {FAR_US})
    GROUP BY ALL
), permit_state AS (
    SELECT s.mn, s.date, s.from_us, v.permit_no,
           CASE WHEN epoch_us(v.in_force_from) <= s.from_us
                 AND s.from_us < coalesce(epoch_us(v.in_force_to), {FAR_US}) THEN 'outlet_not_permitted'
                WHEN v.status = 'revoked' THEN 'revoked'
                WHEN v.status = 'cancelled' THEN 'cancelled'
                WHEN v.permit_valid_from IS NOT NULL
                 AND s.from_us < epoch_us(v.permit_valid_from::TIMESTAMP) - 8 * {HOUR_US} THEN 'not_yet_valid'
                ELSE 'expired' END AS state,
           -- since when: revoked or cancelled, its date; expired, the day after the printed validity
           -- (none while in force or not yet valid: that day lies ahead)
           CASE WHEN v.status IN ('revoked', 'cancelled') THEN v.status_date
                WHEN v.permit_valid_to IS NOT NULL
                 AND s.from_us >= epoch_us((v.permit_valid_to + 1)::TIMESTAMP) - 8 * {HOUR_US}
                THEN v.permit_valid_to + 1 END AS since
    FROM _risk_segments s JOIN core_permit__permits v
      -- the version current then, and one still in force past it (before an early renewal's start)
      ON v.uscc = s.uscc AND (
           (epoch_us(v.valid_from) <= s.from_us AND s.from_us < coalesce(epoch_us(v.valid_to), {FAR_US}))
           OR (epoch_us(v.in_force_from) <= s.from_us AND s.from_us < coalesce(epoch_us(v.in_force_to), {FAR_US})))
), permit_best AS (
    SELECT mn, date, from_us, permit_no, state, since FROM permit_state
    QUALIFY row_number() OVER (
        PARTITION BY mn, date, from_us
        ORDER BY list_position(['outlet_not_permitted', 'not_yet_valid', 'expired', 'cancelled', 'revoked'],
                               state), permit_no) = 1
), hours AS (
    SELECT s.mn, s.date, s.from_us, count(DISTINCT h.hr) AS n
    FROM _risk_segments s JOIN _risk_h h ON h.mn = s.mn AND h.hr * {HOUR_US} >= s.from_us
     AND h.hr * {HOUR_US} < s.to_us
    GROUP BY ALL
)
SELECT row_number() OVER (ORDER BY s.mn, s.from_us) AS seg_id, s.date, s.day_num, s.mn, s.from_us, s.to_us,
       CASE WHEN s.basis = 'none' THEN 'mn_unregistered'
            WHEN e.mn IS NULL THEN 'uscc_unmatched' ELSE 'matched' END AS identity_status,
       s.basis AS identity_basis, s.point_vf, s.uscc, s.outlet_code,
       coalesce(s.region_code, e.e_region, pl.p_region) AS region_code,
       coalesce(e.industry_code, pl.p_industry) AS industry_code,
       coalesce(e.industry_name, pl.p_industry_name) AS industry_name,
       coalesce(e.enterprise_name, pl.p_name) AS enterprise_name,
       s.point_name,
       array_to_string(list_sort(list_filter(
           list_transform(regexp_split_to_array(coalesce(s.pollutants, ''), '[,;]'), lambda x: trim(x)),
           lambda x: x <> '')), ',') AS pollutants_expected,
       coalesce(o.permit_no, pb.permit_no) AS permit_no,
       CASE WHEN s.uscc IS NULL THEN 'unknown' WHEN o.permit_no IS NOT NULL THEN 'in_force'
            ELSE coalesce(pb.state, 'none') END AS permit_status,
       CASE WHEN o.permit_no IS NULL THEN pb.since END AS permit_status_since,
       ((s.to_us + {HOUR_US} - 1) // {HOUR_US} - (s.from_us + {HOUR_US} - 1) // {HOUR_US})::SMALLINT
           AS segment_hours,
       coalesce(hs.n, 0)::SMALLINT AS hours_with_data
FROM _risk_segments s
LEFT JOIN seg_ent e USING (mn, date, from_us)
LEFT JOIN permit_latest pl ON pl.uscc = s.uscc
LEFT JOIN outlet_in_force o USING (mn, date, from_us)
LEFT JOIN permit_best pb USING (mn, date, from_us)
LEFT JOIN hours hs USING (mn, date, from_us);
"""


def build_identity(con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date) -> None:
    """Create the temporary table ``_risk_identity``: one row per MN, Beijing day in
    [``first``, ``last``] and identity segment (columns of ``mart_source__outlet_identity`` with
    ``from_us``/``to_us`` in epoch µs, plus ``day_num``)."""
    con.execute(_SEGMENTS.replace("{lo}", str(day_num(first))).replace("{hi}", str(day_num(last))))
    con.execute(_ENRICHED)
