"""Beijing time: the clock every Chinese monitoring source keeps (UTC+8; no daylight saving since 1991)."""

from __future__ import annotations

import datetime as dt

__all__ = ["BEIJING", "BEIJING_ZONE", "in_beijing"]

BEIJING = dt.timezone(dt.timedelta(hours=8))
BEIJING_ZONE = "Asia/Shanghai"  # its IANA name, for a session time zone (DuckDB, Postgres)


def in_beijing(value: dt.datetime) -> str:
    """An instant as Beijing time with its offset, to the second or finer (2026-01-02 00:30:00+08:00);
    a naive value is UTC."""
    stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return stamp.astimezone(BEIJING).isoformat(sep=" ")
