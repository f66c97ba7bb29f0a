"""Beijing time: the clock every Chinese monitoring source keeps (UTC+8; no daylight saving since 1991)."""

from __future__ import annotations

import datetime as dt

__all__ = ["BEIJING"]

BEIJING = dt.timezone(dt.timedelta(hours=8))
