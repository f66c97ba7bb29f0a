"""Landing files that are snapshots of a registry or a result list (credit files, master data).

``land_bytes`` stores each content once. For a snapshot series that is right except for one case:
a file that changes and later changes back (A → B → A) must count as a third snapshot, or the revert
is lost. ``land_snapshot`` lands nothing when the bytes equal the newest object of that name, and
lands a revert under a time-stamped file name, so it becomes a new raw object.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from ingest.raw import land_bytes
from warehouse.fs import LakeLike
from warehouse.ledger import Ledger, RawObject

BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


def land_snapshot(
    lake: LakeLike,
    ledger: Ledger,
    *,
    source: str,
    logical_name: str,
    data: bytes,
    origin: str,
    received_at: dt.datetime | None = None,
) -> RawObject | None:
    """Land ``data`` as the newest snapshot of ``logical_name``; None when it is unchanged."""
    sha = hashlib.sha256(data).hexdigest()
    latest = ledger.latest_raw(source, logical_name)
    if latest is not None and latest.sha256 == sha:
        return None
    received = (received_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    file_name = logical_name
    seen = any(o.sha256 == sha and o.logical_name == logical_name for o in ledger.raw_objects(source))
    if seen:  # a revert to earlier content: a new object, not the old record
        stem, dot, suffix = logical_name.partition(".")
        file_name = f"{stem}@{received:%Y%m%dT%H%M%S%fZ}{dot}{suffix}"
    return land_bytes(
        lake,
        ledger,
        source=source,
        logical_name=logical_name,
        partition=received.astimezone(BEIJING).date(),
        data=data,
        origin=origin,
        received_at=received,
        file_name=file_name,
    )
