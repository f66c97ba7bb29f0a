"""The raw zone: exact bytes as received, immutable, content-addressed, with a manifest row.

Layout: ``<lake>/raw/<source>/date=YYYY-MM-DD/<stem>.<sha256[:16]><suffix>``. The same bytes land
once; a changed upstream file (a day file that grew) lands as a new object beside the old one.

File names come from upstreams (listings, URLs, drop folders) and are hostile until proven
otherwise: only the last path segment is used, with separators, control characters and leading
dots replaced, and the final path must resolve inside ``<lake>/raw/<source>/``. The name as
received stays in the manifest (``logical_name``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

from warehouse.fs import LakeLike, as_lake
from warehouse.lake import RAW_ZONE
from warehouse.ledger import Ledger, RawObject

_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_MAX_NAME_BYTES = 180  # UTF-8; leaves room for ".<sha16>" within the 255-byte limit of file systems


class UnsafePathError(ValueError):
    """A raw-zone path would leave ``<lake>/raw/<source>/``."""


def unsafe_name_reason(name: str) -> str | None:
    """Why ``name`` is not a plain file name (for listings to refuse); None when it is one."""
    if not name or not name.strip():
        return "empty name"
    if "\x00" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "control character in the name"
    if "/" in name or "\\" in name:
        return "path separator in the name"
    if name.strip().startswith("."):  # ".", "..", hidden files, and "  .xlsx" (no name before the suffix)
        return "name starts with a dot"
    if ":" in name:
        return "colon in the name (drive letter or stream)"
    return None


def safe_file_name(name: str) -> str:
    """A file name that stays in its folder: the last segment, no separators or control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE_CHARS.sub("_", base).strip().lstrip(".").strip()
    if len(base.encode()) > _MAX_NAME_BYTES:  # keep the suffix (.csv.gz) that says what the bytes are
        stem, dot, suffix = base.partition(".")
        suffix = suffix[-20:]
        while stem and len(f"{stem}{dot}{suffix}".encode()) > _MAX_NAME_BYTES:
            stem = stem[:-1]
        base = f"{stem}{dot}{suffix}"
    return base or "unnamed"


def raw_folder(lake: Path, source: str) -> Path:
    """``<lake>/raw/<source>`` of a local lake: everything that source lands stays below it."""
    return lake / raw_prefix(source)


def raw_prefix(source: str) -> str:
    """``raw/<source>``, relative to the lake: everything that source lands stays below it."""
    if not _SOURCE_NAME.match(source):
        raise UnsafePathError(f"source {source!r} is not a plain lower-case name")
    return f"{RAW_ZONE}/{source}"


def land_bytes(
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
) -> RawObject:
    """Write ``data`` to the raw zone (once per content) and record it in the manifest.

    ``logical_name`` groups versions of one upstream file (``china_sites_20230120.csv``);
    ``file_name`` is how these bytes were named (``….csv.gz``), kept so the object says what it is.
    """
    sha = hashlib.sha256(data).hexdigest()
    stem, dot, suffix = safe_file_name(file_name or logical_name).partition(".")
    folder = f"date={partition.isoformat()}" if partition else "undated"
    rel = f"{raw_prefix(source)}/{folder}/{stem}.{sha[:16]}{dot}{suffix}"
    store = as_lake(lake)
    if not store.contains(rel, raw_prefix(source)):
        raise UnsafePathError(f"{rel} would land outside {store.uri(raw_prefix(source))}")
    if not store.exists(rel):
        store.write_bytes(rel, data)  # atomic: temp file, fsync, rename (local) or one PUT (S3)
    received = (received_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return ledger.record_raw(
        RawObject(
            raw_path=rel,
            source=source,
            logical_name=logical_name,
            partition=partition.isoformat() if partition else None,
            sha256=sha,
            size=len(data),
            origin=origin,
            received_at=received.isoformat(timespec="microseconds"),
        )
    )


def read_raw(lake: LakeLike, obj: RawObject) -> bytes:
    return as_lake(lake).read_bytes(obj.raw_path)
