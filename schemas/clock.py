"""Beijing time: the clock every Chinese monitoring source keeps (UTC+8; no daylight saving since 1991)."""

from __future__ import annotations

import datetime as dt

__all__ = ["BEIJING", "BEIJING_ZONE", "beijing_minute", "beijing_wall", "in_beijing"]

BEIJING = dt.timezone(dt.timedelta(hours=8))
BEIJING_ZONE = "Asia/Shanghai"  # its IANA name, for a session time zone (DuckDB, Postgres)


def beijing_wall(value: dt.datetime) -> dt.datetime:
    """An instant as Beijing wall time, without a zone (a spreadsheet's cell, a chart's axis); a
    naive value is UTC."""
    stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return stamp.astimezone(BEIJING).replace(tzinfo=None)


def beijing_minute(value: dt.datetime) -> str:
    """An instant as Beijing wall time to the minute (2026-01-02 00:30), as pages and reports show it."""
    return beijing_wall(value).strftime("%Y-%m-%d %H:%M")


def in_beijing(value: dt.datetime) -> str:
    """An instant as Beijing time with its offset, to the second or finer (2026-01-02 00:30:00+08:00);
    a naive value is UTC."""
    stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return stamp.astimezone(BEIJING).isoformat(sep=" ")
