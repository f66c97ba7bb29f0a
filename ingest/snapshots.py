"""Landing files that are versions of one upstream file: day files that grow, snapshots of a registry
or a result list (credit files, master data).

``land_bytes`` stores each content once. For a series of versions that is right except for one case:
a file that changes and later changes back (A → B → A) must count as a third version, or the revert
is lost and B stays the newest. ``land_version`` lands nothing new when the bytes equal the newest
object of that name, and lands a revert under a time-stamped file name, so it becomes a new raw
object, the newest — for a snapshot always; for a file that only grows (a day file) only when the
earlier version is as large as the largest landed (the good file served again after a truncated
copy, not a stale copy of an hour ago), sizes compared uncompressed (a day file may come gzipped one
time and plain the next).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Literal

from ingest.inflate import is_gzip
from ingest.raw import land_bytes, read_raw
from schemas.clock import BEIJING
from warehouse.fs import LakeLike
from warehouse.ledger import Ledger, RawObject


def land_version(
    lake: LakeLike,
    ledger: Ledger,
    *,
    source: str,
    logical_name: str,
    partition: dt.date | None,
    data: bytes,
    origin: str,
    received_at: dt.datetime | None = None,
    file_name: str | None = None,
    revert: Literal["always", "if_largest"] = "always",
) -> tuple[RawObject, bool]:
    """Land ``data`` as the newest version of ``logical_name`` (``land_bytes``' arguments); returns its
    record and whether it is new (False: the bytes are a version already landed that stays where it
    is: the newest, or an earlier one ``revert`` says not to land again — see the module doc)."""
    sha = hashlib.sha256(data).hexdigest()
    versions = ledger.raw_versions(source, logical_name)
    if versions and versions[-1].sha256 == sha:
        return versions[-1], False
    earlier = next((v for v in versions if v.sha256 == sha), None)
    if earlier is not None and revert == "if_largest":
        largest = max(_content_size(read_raw(lake, v)) for v in versions)
        if _content_size(data) < largest:  # a stale copy: the newest stays
            return earlier, False
    received = (received_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    name = file_name or logical_name
    if earlier is not None:  # a revert to earlier content: a new object
        stem, dot, suffix = name.partition(".")
        name = f"{stem}@{received:%Y%m%dT%H%M%S%fZ}{dot}{suffix}"
    obj = land_bytes(
        lake,
        ledger,
        source=source,
        logical_name=logical_name,
        partition=partition,
        data=data,
        origin=origin,
        received_at=received,
        file_name=name,
    )
    return obj, True


def _content_size(data: bytes) -> int:
    """The size of the content: a gzip file's uncompressed size (its trailer's ISIZE), else its length."""
    return int.from_bytes(data[-4:], "little") if is_gzip(data) and len(data) >= 18 else len(data)


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
    """Land ``data`` as the newest snapshot of ``logical_name`` (partitioned by the Beijing day it was
    received); None when it is unchanged."""
    received = (received_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    obj, new = land_version(
        lake,
        ledger,
        source=source,
        logical_name=logical_name,
        partition=received.astimezone(BEIJING).date(),
        data=data,
        origin=origin,
        received_at=received,
    )
    return obj if new else None
