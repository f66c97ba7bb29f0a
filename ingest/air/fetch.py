"""Get air release files (day files, station list) from a URL or a local path into the raw zone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import requests

from ingest.air.parse import UNREADABLE_FILE, AirFileError, date_from_name
from ingest.http import fetch
from ingest.inflate import DEFAULT_MAX_INFLATED_BYTES, InflateError, gunzip, gunzip_head, is_gzip
from ingest.snapshots import land_version
from ingest.text_encoding import UTF16_BOMS
from warehouse.fs import LakeLike, as_lake
from warehouse.ledger import Ledger, RawObject

SOURCE = "air"
STATION_LIST_NAME = "station_list.csv"


def day_file_name(day: dt.date) -> str:
    return f"china_sites_{day:%Y%m%d}.csv"


def logical_name(location: str) -> str:
    """Upstream file name of a URL or path, without query string or compression suffix."""
    name = location.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    return name[: -len(".gz")] if name.endswith(".gz") else name


def land_location(
    lake: LakeLike,
    ledger: Ledger,
    location: str,
    *,
    session: requests.Session | None = None,
    timeout_s: float = 30.0,
    received_at: dt.datetime | None = None,
) -> RawObject | None:
    """Land one file given as http(s) URL or path. Returns None when nothing new landed: the URL
    answered 304, or the bytes are a version already landed that stays where it is (``land_version``).

    ``received_at`` (default: now) orders versions of a day file: the latest received wins."""
    name = location.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    if location.startswith(("http://", "https://")):
        if session is None:
            raise ValueError("a requests session is needed to fetch URLs")
        etag, last_modified, _ = ledger.fetch_state(location)
        got = fetch(session, location, timeout_s=timeout_s, etag=etag, last_modified=last_modified)
        if got.not_modified:
            return None
        data = got.content
        obj, new = _land(lake, ledger, name, data, origin=location, received_at=received_at)
        ledger.record_fetch(location, got.etag, got.last_modified, obj.sha256)
        return obj if new else None
    check_local(location)  # the path rules in one place
    path = Path(location).expanduser()
    obj, new = _land(
        lake, ledger, name, path.read_bytes(), origin=str(path.resolve()), received_at=received_at
    )
    return obj if new else None


_NOT_AIR = "neither a day file (china_sites_YYYYMMDD.csv) nor a station list (监测点编码,…)"


def check_local(location: str) -> None:
    """Raise what landing a local ``location`` would refuse (no such file, a folder, a file that is
    neither a day file nor a station list), so that a command refuses before it lands any file."""
    path = Path(location).expanduser()
    if path.is_dir():
        raise ValueError(f"{path} is a folder: name the files in it (e.g. {path}/china_sites_*.csv.gz)")
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if date_from_name(path.name) is None:
        with path.open("rb") as f:
            head = f.read(1 << 16)
        if not _is_station_list(head):
            raise ValueError(f"{path}: {_NOT_AIR}")


def _land(
    lake: LakeLike,
    ledger: Ledger,
    name: str,
    data: bytes,
    *,
    origin: str,
    received_at: dt.datetime | None = None,
) -> tuple[RawObject, bool]:
    """The record of ``data`` as a version of its file, and whether it landed now."""
    day = date_from_name(name)
    if day is None:
        if not _is_station_list(data):
            raise ValueError(f"{origin}: {_NOT_AIR}")
        # whatever it was called, it is the station list
        name = STATION_LIST_NAME + (".gz" if is_gzip(data) else "")
    # an earlier day file or list given again is the newest again only when it is the largest (the
    # good one after a truncated copy; not a stale copy, and a list flipping back rebuilds once)
    return land_version(
        lake,
        ledger,
        source=SOURCE,
        file_name=name,
        logical_name=logical_name(name),
        partition=day,
        data=data,
        origin=origin,
        received_at=received_at,
        revert="if_largest",
    )


def _is_station_list(data: bytes) -> bool:
    try:
        head = gunzip_head(data, 512) if is_gzip(data) else data[:512]  # never inflates the whole body
    except InflateError:
        return False
    if head.startswith(UTF16_BOMS):  # a spreadsheet's "Unicode text"
        return "监测点编码" in head.decode("utf-16", errors="ignore")
    return "监测点编码".encode() in head or "监测点编码".encode("gb18030") in head


def raw_text(lake: LakeLike, obj: RawObject) -> bytes:
    """The bytes of a raw object, decompressed when it was received gzipped."""
    return raw_bytes(lake, obj.raw_path)


def raw_bytes(lake: LakeLike, raw_path: str, *, max_bytes: int = DEFAULT_MAX_INFLATED_BYTES) -> bytes:
    """The bytes of a raw file, gunzipped (streamed, at most ``max_bytes``) when it is gzip.

    A gzip bomb or a corrupt ``.gz`` raises :class:`AirFileError`: the file is quarantined with why.
    """
    data = as_lake(lake).read_bytes(raw_path)
    if not is_gzip(data):
        return data
    try:
        return gunzip(data, max_bytes=max_bytes)
    except InflateError as exc:
        raise AirFileError(f"{raw_path}: {exc}", UNREADABLE_FILE) from exc
