"""Slowly changing dimension, type 2, from full snapshots (registries maintained as files).

Each snapshot is a complete list of the entities at the time it was received. Walking the snapshots
in time order, an entity opens a version when it first appears or its attributes change, and the
version closes (``valid_to``) at the first snapshot where it is changed or missing. Computed in one
DuckDB query with window functions (no loop per entity).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pyarrow as pa

from transforms.arrow_sql import query_arrow

__all__ = ["snapshot_history"]


def snapshot_history(
    rows: pa.Table,
    snapshots: Sequence[dt.datetime],
    *,
    key: str,
    attributes: Sequence[str],
    snapshot_col: str = "snapshot_at",
) -> pa.Table:
    """Versions of the entities in ``rows``.

    ``rows``: one row per entity and snapshot it appears in (``key`` unique within a snapshot), with
    ``snapshot_col`` (tz-aware) equal to one of ``snapshots`` — every snapshot taken, including ones
    in which an entity is missing or that were empty. ``attributes``: the columns whose change opens
    a new version. Returns the columns of ``rows`` (those of each version's first snapshot) without
    ``snapshot_col``, plus ``valid_from``, ``valid_to`` (NULL: current) and ``is_current``.
    """
    if rows.num_rows and not set(attributes) <= set(rows.column_names):
        raise ValueError(f"attributes {sorted(set(attributes) - set(rows.column_names))} not in rows")
    times = sorted(set(snapshots))
    snaps = pa.table(
        {
            "snap_at": pa.array(times, pa.timestamp("us", tz="UTC")),
            "snap": pa.array(range(1, len(times) + 1), pa.int64()),
        }
    )
    attrs = ", ".join(f'"{a}"' for a in attributes)
    return query_arrow(
        f"""
        WITH r AS (
            SELECT r.*, s.snap, struct_pack({attrs}) AS _attrs
            FROM rows_in r JOIN snaps s ON s.snap_at = r."{snapshot_col}"
        ), m AS (
            SELECT *,
                   CASE WHEN lag(snap) OVER w IS DISTINCT FROM snap - 1
                          OR lag(_attrs) OVER w IS DISTINCT FROM _attrs THEN 1 ELSE 0 END AS _starts
            FROM r WINDOW w AS (PARTITION BY "{key}" ORDER BY snap)
        ), g AS (
            SELECT *, sum(_starts) OVER (PARTITION BY "{key}" ORDER BY snap ROWS UNBOUNDED PRECEDING) AS _grp
            FROM m
        ), v AS (
            SELECT "{key}" AS _key, _grp, min(snap) AS _first, max(snap) AS _last FROM g GROUP BY ALL
        )
        SELECT g.* EXCLUDE (snap, _attrs, _starts, _grp, "{snapshot_col}"),
               f.snap_at AS valid_from, n.snap_at AS valid_to, n.snap_at IS NULL AS is_current
        FROM v
        JOIN g ON g."{key}" = v._key AND g.snap = v._first
        JOIN snaps f ON f.snap = v._first
        LEFT JOIN snaps n ON n.snap = v._last + 1
        ORDER BY g."{key}", valid_from
        """,
        rows_in=rows,
        snaps=snaps,
    )
