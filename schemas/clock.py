"""Beijing time: the clock every Chinese monitoring source keeps (UTC+8; no daylight saving since 1991)."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    from numpy.typing import NDArray

__all__ = [
    "BEIJING",
    "BEIJING_OFFSET_US",
    "BEIJING_ZONE",
    "beijing_dates",
    "beijing_days",
    "beijing_minute",
    "beijing_wall",
    "in_beijing",
    "instants_in_beijing",
]

BEIJING = dt.timezone(dt.timedelta(hours=8))
BEIJING_ZONE = "Asia/Shanghai"  # its IANA name, for a session time zone (DuckDB, Postgres)
BEIJING_OFFSET_US = 8 * 3600 * 1_000_000  # Beijing wall time minus UTC, in microseconds
_DAY_US = 86_400 * 1_000_000


@overload
def beijing_days(utc_us: int) -> int: ...
@overload
def beijing_days(utc_us: NDArray[np.int64]) -> NDArray[np.int64]: ...
def beijing_days(utc_us: int | NDArray[np.int64]) -> int | NDArray[np.int64]:
    """The Beijing date of UTC instants (µs since the epoch), as days since 1970-01-01 (what a date32
    column holds): vectorised for an int64 array, into one new array — the hot path of the HJ 212
    batch parser (floor division: right for instants before 1970 too)."""
    days = utc_us + BEIJING_OFFSET_US
    days //= _DAY_US  # in place: no second array
    return days


def beijing_dates(instants: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The Beijing date (date32) of each instant of an Arrow timestamp array (nulls stay null; a
    zoneless timestamp is UTC). Beijing as a fixed UTC+8, as :func:`beijing_days` has it."""
    import pyarrow as pa  # here: the HJ 212 receiver imports this module and never loads Arrow

    return instants.cast(pa.timestamp("us", tz="+08:00")).cast(pa.date32())


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


# an instant as Python and GX write one in UTC inside a text (a gate result's observed minimum of a
# time column: "2026-12-05T15:00:00+00:00"); a "Z" form is left alone — it is more likely a string
# from the data, to be shown as the gate saw it
_UTC_IN_TEXT = re.compile(r"\b(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)\+00:00\b")


def instants_in_beijing(value: object) -> str:
    """A text with every UTC instant in it written in Beijing time (``2026-12-05 23:00:00+08:00``);
    what only looks like one (2026-02-30, 24:00) stays as written. The gate's messages keep UTC (they
    are stored); the pages and the CLI show them through this."""
    if value is None:
        return ""

    def local(m: re.Match[str]) -> str:
        try:
            return in_beijing(dt.datetime.fromisoformat(f"{m[1]}T{m[2]}+00:00"))
        except ValueError:
            return m[0]

    return _UTC_IN_TEXT.sub(local, str(value))
