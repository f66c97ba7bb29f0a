"""Permit history (SCD type 2) and the permitted limit in force at a given time.

The permit platform publishes every version of a permit (first issue, change, renewal, revocation,
cancellation) with the Beijing date it takes effect. ``permit_history`` orders a permit's versions on
that date and gives each one:

* ``valid_from`` — 00:00 Beijing of its effective date (as a UTC instant);
* ``valid_to`` — the next version's ``valid_from`` (NULL for the latest). A version that a version
  issued after it (a higher number) precedes in effect — a cancellation recorded late with an earlier
  date — is shadowed: ``valid_to`` = ``valid_from``, never current, never in force;
* ``in_force_from`` / ``in_force_to`` — the part of [valid_from, valid_to) in which its limits bind:
  the version's status is ``valid`` and the time lies inside the validity printed on the permit
  (``permit_valid_from`` 00:00 to the day after ``permit_valid_to``, Beijing). Both NULL when it
  never binds (revoked, cancelled, expired before it took effect). One exception: a renewal issued
  before the old validity ends takes effect when issued but binds from its printed start; until
  then (and within its own printed validity) the version before it binds on, past its ``valid_to``.

So a limit is in force at t iff ``in_force_from <= t < coalesce(in_force_to, +∞)``; an expired,
revoked or cancelled permit has no limit in force, and a reading is always judged against the version
in force at its own time, not today's. ``limit_in_force`` answers one question, ``limits_as_of``
joins many readings at once, and ``LIMIT_IN_FORCE_MACRO`` is the same rule as a DuckDB table macro.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from transforms.arrow_sql import arrow_connection, query_arrow

__all__ = [
    "HISTORY_COLUMNS",
    "LIMIT_IN_FORCE_MACRO",
    "AmbiguousLimitError",
    "LimitInForce",
    "attach_history",
    "install_limit_in_force",
    "limit_in_force",
    "limit_in_force_sql",
    "limits_as_of",
    "permit_history",
]

HISTORY_COLUMNS = ("status", "valid_from", "valid_to", "in_force_from", "in_force_to")

# Beijing is UTC+8 all year (no DST since 1991): 00:00 Beijing of day d = d 00:00 UTC − 8 h.
_HISTORY_SQL = """
WITH e AS (
    SELECT *,
           effective_date::TIMESTAMP - INTERVAL 8 HOUR AS _vf,
           permit_valid_from::TIMESTAMP - INTERVAL 8 HOUR AS _ps,
           (permit_valid_to + 1)::TIMESTAMP - INTERVAL 8 HOUR AS _pe
    FROM versions
), v AS (
    -- a version issued later (a higher number) taking effect on or before an earlier-issued one
    -- shadows it: a backdated cancellation ends the permit, a change issued before it does not
    -- bring it back
    SELECT *, version >= max(version) OVER (
               PARTITION BY permit_no ORDER BY _vf, version ROWS UNBOUNDED PRECEDING) AS _live
    FROM e
), s AS (
    SELECT *, CASE WHEN _ps IS NULL OR _vf > _ps THEN _vf ELSE _ps END AS _fs FROM v
), t AS (
    SELECT *, CASE WHEN _live THEN lead(_vf) OVER w ELSE _vf END AS _vt,
           -- when a later version ends this one: a valid one at its printed start (a renewal issued
           -- early binds from then), any other at its date — the earliest of them all, so a
           -- revocation or change after an early renewal still ends it on its own date
           CASE WHEN _live THEN min(CASE WHEN status = 'valid' THEN _fs ELSE _vf END) OVER (
               w ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) END AS _next_fs
    FROM s WINDOW w AS (PARTITION BY permit_no, _live ORDER BY _vf, version)
), f AS (
    SELECT * REPLACE (
           CASE WHEN _pe IS NULL THEN _end WHEN _end IS NULL OR _pe < _end THEN _pe ELSE _end END AS _fe)
    FROM (SELECT *, CASE WHEN _next_fs > _vt THEN _next_fs ELSE _vt END AS _end, NULL::TIMESTAMP AS _fe FROM t)
)
SELECT * EXCLUDE (_vf, _vt, _ps, _pe, _fs, _fe, _live, _next_fs, _end),
       timezone('UTC', _vf) AS valid_from,
       timezone('UTC', _vt) AS valid_to,
       _vt IS NULL AS is_current,
       CASE WHEN status = 'valid' AND (_fe IS NULL OR _fs < _fe) THEN timezone('UTC', _fs) END AS in_force_from,
       CASE WHEN status = 'valid' AND (_fe IS NULL OR _fs < _fe) THEN timezone('UTC', _fe) END AS in_force_to
FROM f
ORDER BY permit_no, version
"""


def permit_history(versions: pa.Table) -> pa.Table:
    """Add ``valid_from, valid_to, is_current, in_force_from, in_force_to`` to permit versions.

    ``versions``: one row per (permit_no, version) with at least ``effective_date``,
    ``permit_valid_from``, ``permit_valid_to`` (dates, Beijing) and ``status``.
    """
    return query_arrow(_HISTORY_SQL, versions=versions)


def attach_history(children: pa.Table, history: pa.Table, extra: tuple[str, ...] = ("uscc",)) -> pa.Table:
    """Copy a permit version's ``extra`` columns, status and history columns onto its outlets or limits."""
    columns = [*extra, *HISTORY_COLUMNS]
    return query_arrow(
        "SELECT c.*, " + ", ".join(f'h."{c}"' for c in columns) + " FROM children c "
        "JOIN history h USING (permit_no, version) ORDER BY ALL",
        children=children,
        history=history.select(["permit_no", "version", *columns]),
    )


# -------------------------------------------------------------------------------- limit in force
LIMIT_IN_FORCE_MACRO = """
CREATE OR REPLACE {temp}MACRO limit_in_force(permit_key, outlet, pollutant, at_time) AS TABLE
SELECT * FROM {limits}
WHERE (permit_no = permit_key OR uscc = permit_key)
  AND outlet_code = outlet AND pollutant_code = pollutant
  AND in_force_from <= at_time AND (in_force_to IS NULL OR at_time < in_force_to)
"""


def limit_in_force_sql(limits: str = "core_permit__outlet_limits", *, temp: bool = True) -> str:
    """The statement :func:`install_limit_in_force` runs."""
    return LIMIT_IN_FORCE_MACRO.format(limits=limits, temp="TEMP " if temp else "")


def install_limit_in_force(
    con: duckdb.DuckDBPyConnection, limits: str = "core_permit__outlet_limits", *, temp: bool = True
) -> None:
    """Create the table macro ``limit_in_force(uscc_or_permit_no, outlet_code, pollutant_code, at)``
    on ``con`` over the relation named ``limits``. ``temp`` (default) works on a read-only connection
    and lasts as long as it; ``temp=False`` stores it in the database file (the serving database
    carries it for ``ecocloud sql``). Example::

        SELECT limit_value, limit_unit, standard
        FROM limit_in_force('91360100…A', 'DA001', 'a21026', TIMESTAMPTZ '2026-05-01 10:00+08')
    """
    con.execute(limit_in_force_sql(limits, temp=temp))


@dataclass(frozen=True)
class LimitInForce:
    permit_no: str
    version: int
    outlet_code: str
    pollutant_code: str
    limit_value: float | None
    limit_lower: float | None
    limit_unit: str | None
    standard: str | None
    o2_reference_pct: float | None
    annual_limit_t: float | None
    in_force_from: dt.datetime
    in_force_to: dt.datetime | None


class AmbiguousLimitError(ValueError):
    """The USCC holds several permits with a limit for this outlet and pollutant: give the permit number."""


def limit_in_force(
    limits: pa.Table, key: str, outlet_code: str, pollutant_code: str, at: dt.datetime
) -> LimitInForce | None:
    """The permitted limit for ``pollutant_code`` at ``outlet_code`` in force at ``at``.

    ``limits``: rows of ``core_permit__outlet_limits``; ``key``: a USCC or a permit number;
    ``at``: timezone-aware. None when no permit binds then (none yet, expired, revoked, cancelled,
    or the permit lists no limit for that pollutant there).
    """
    if at.utcoffset() is None:
        raise ValueError("at must be timezone-aware")
    with arrow_connection(limits=limits) as con:
        install_limit_in_force(con, "limits")
        rows = con.execute(
            "SELECT permit_no, version, outlet_code, pollutant_code, limit_value, limit_lower, limit_unit, "
            "standard, o2_reference_pct, annual_limit_t, in_force_from, in_force_to "
            "FROM limit_in_force($1, $2, $3, $4) ORDER BY permit_no",
            [key, outlet_code, pollutant_code, at],
        ).fetchall()
    if len(rows) > 1:
        raise AmbiguousLimitError(
            f"{key} {outlet_code} {pollutant_code} at {at.isoformat()}: limits on several permits "
            f"{sorted({r[0] for r in rows})}; pass the permit number"
        )
    return LimitInForce(*rows[0]) if rows else None


def limits_as_of(
    readings: pa.Table,
    limits: pa.Table,
    *,
    key: str = "uscc",
    at: str = "observed_at",
) -> pa.Table:
    """Every reading with the limit in force at its own time (vectorised ``limit_in_force``).

    ``readings`` needs ``key`` (``uscc`` or ``permit_no``), ``outlet_code``, ``pollutant_code`` and
    the instant ``at``; the result is ``readings`` plus ``permit_no`` (when joining on USCC),
    ``permit_version``, ``limit_value``, ``limit_lower``, ``limit_unit``, ``standard`` and
    ``o2_reference_pct`` — NULL where no limit was in force. A reading matching limits on several
    permits appears once per permit.
    """
    if key not in ("uscc", "permit_no"):
        raise ValueError("key must be uscc or permit_no")
    extra = "l.permit_no AS permit_no, " if key == "uscc" else ""
    return query_arrow(
        f"""
        SELECT r.*, {extra}l.version AS permit_version, l.limit_value, l.limit_lower, l.limit_unit,
               l.standard, l.o2_reference_pct
        FROM readings r LEFT JOIN limits l
          ON l.{key} = r.{key} AND l.outlet_code = r.outlet_code
         AND l.pollutant_code = r.pollutant_code
         AND l.in_force_from <= r."{at}" AND (l.in_force_to IS NULL OR r."{at}" < l.in_force_to)
        """,
        readings=readings,
        limits=limits,
    )
