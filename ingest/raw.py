"""The raw zone: exact bytes as received, immutable, content-addressed, with a manifest row.

Layout: ``<lake>/raw/<source>/date=YYYY-MM-DD/<stem>.<sha256[:16]><suffix>``. The same bytes land
once; a changed upstream file (a day file that grew) lands as a new object beside the old one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from pathlib import Path

from warehouse.ledger import Ledger, RawObject


def land_bytes(
    lake: Path,
    ledger: Ledger,
    *,
    source: str,
    logical_name: str,
    partition: dt.date | None,
    data: bytes,
    origin: str,
    received_at: dt.datetime | None = None,
    file_name: str | None = None,
) -> RawObject:
    """Write ``data`` to the raw zone (once per content) and record it in the manifest.

    ``logical_name`` groups versions of one upstream file (``china_sites_20230120.csv``);
    ``file_name`` is how these bytes were named (``….csv.gz``), kept so the object says what it is.
    """
    sha = hashlib.sha256(data).hexdigest()
    stem, dot, suffix = (file_name or logical_name).partition(".")
    folder = f"date={partition.isoformat()}" if partition else "undated"
    rel = Path("raw") / source / folder / f"{stem}.{sha[:16]}{dot}{suffix}"
    path = lake / rel
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    received = (received_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return ledger.record_raw(
        RawObject(
            raw_path=rel.as_posix(),
            source=source,
            logical_name=logical_name,
            partition=partition.isoformat() if partition else None,
            sha256=sha,
            size=len(data),
            origin=origin,
            received_at=received.isoformat(timespec="microseconds"),
        )
    )


def read_raw(lake: Path, obj: RawObject) -> bytes:
    return (lake / obj.raw_path).read_bytes()
