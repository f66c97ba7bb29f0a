"""Get the surface-water real-time board (every page) or local reply files into the raw zone.

The platform is a paged board of every section's latest reading: ``total`` pages of up to
``PageSize`` rows. One fetch of every page is a **snapshot**. Each page lands as its own raw object
(``raw/water/date=<Beijing date>/realtime_p<N>.<sha16>.json``); the snapshot id is a hash of the
pages' sha256, so fetching identical bytes again yields the same snapshot and nothing is rebuilt.
Pages are fetched with conditional GET; when every page answers 304 the board has not changed and
the previous snapshot is returned without landing anything.

Readings carry ``MM-DD HH:MM`` without a year; the year comes from the snapshot's
``reference_at``: the upstream's ``Last-Modified`` when it sends one (the board's own clock) within a
day of the time the bytes were received, else that receipt time (a stale or static header, e.g. a
proxy's, would put readings in the wrong year). For a local file it is ``fetched_at`` when given, else a
``YYYYMMDD`` (optionally ``_HHMM``) in the file name taken as the end of that Beijing day/minute,
else the time it was read.

The snapshot (its pages, times and origin) is recorded in the ledger's ``builds`` table under
``snapshot/<id>`` (status ``landed``; the pipeline sets ``parsed`` with its counts).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from ingest.http import Fetched, FetchRefused, fetch
from ingest.raw import land_bytes, read_raw
from ingest.snapshots import land_snapshot
from schemas.clock import BEIJING
from warehouse.fs import LakeLike
from warehouse.ledger import Ledger, RawObject

__all__ = [
    "BOARD_PATH",
    "DEFAULT_PAGE_SIZE",
    "SECTIONS_NAME",
    "SOURCE",
    "Snapshot",
    "board_url",
    "fetch_board",
    "land_file",
    "land_sections",
    "load_snapshot",
    "page_name",
    "reference_from_name",
    "snapshots",
]

SOURCE = "water"
SECTIONS_NAME = "sections.csv"
# The real platform answers a POST to …/Ajax/Publish.ashx with these form fields; our fetcher sends
# them as a query string (the simulator serves GET).
BOARD_PATH = "Publish.ashx"
DEFAULT_PAGE_SIZE = 480
# How far the board's Last-Modified may be from our receipt time and still date its readings: the
# board updates every hour or so, a day covers a stalled board; older is a stale header.
LAST_MODIFIED_TRUSTED = dt.timedelta(days=1)
MAX_PAGES = 500  # 240,000 sections at the default page size; the country has about 3,600

_NAME_TIME = re.compile(r"(?<!\d)(\d{8})(?:[_T-]?(\d{4}))?(?!\d)")
_NAME_PAGE = re.compile(r"_p(\d+)(?=\.|_|$)")


def page_name(page: int) -> str:
    return f"realtime_p{page}.json"


def board_url(base_url: str, page: int, page_size: int = DEFAULT_PAGE_SIZE) -> str:
    return f"{base_url.rstrip('/')}/{BOARD_PATH}?action=getRealDatas&PageIndex={page}&PageSize={page_size}"


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    fetched_at: dt.datetime  # UTC: when the bytes were received
    reference_at: dt.datetime  # UTC: the clock reading years are inferred from
    origin: str  # board base URL or local path
    pages: tuple[RawObject, ...]  # in page order
    first_page: int = 1  # page number of pages[0] (a local ``…_p3.json`` file is page 3)
    new: bool = True  # False: the board was unchanged, this is the snapshot landed before

    @property
    def fetch_date(self) -> dt.date:
        """Beijing date the snapshot belongs to (raw and quarantine partition)."""
        return self.reference_at.astimezone(BEIJING).date()

    @property
    def inputs(self) -> str:
        return ",".join(p.sha256 for p in self.pages)

    def record(self) -> dict[str, Any]:
        return {
            "fetched_at": self.fetched_at.isoformat(),
            "reference_at": self.reference_at.isoformat(),
            "origin": self.origin,
            "pages": [p.raw_path for p in self.pages],
            "first_page": self.first_page,
        }


def _snapshot_id(shas: list[str]) -> str:
    return hashlib.sha256(",".join(shas).encode()).hexdigest()[:16]


def load_snapshot(
    ledger: Ledger, snapshot_id: str, *, objects: dict[str, RawObject] | None = None
) -> Snapshot:
    """The snapshot as recorded when it was landed (``objects``: the raw manifest by path, if at hand)."""
    group = ledger.group(SOURCE, snapshot_id)
    if group is None:
        raise KeyError(f"no water snapshot {snapshot_id} in the ledger")
    if objects is None:
        objects = {o.raw_path: o for o in ledger.raw_objects(SOURCE)}
    c = group.meta
    return Snapshot(
        snapshot_id=snapshot_id,
        fetched_at=dt.datetime.fromisoformat(c["fetched_at"]),
        reference_at=dt.datetime.fromisoformat(c["reference_at"]),
        origin=c["origin"],
        pages=tuple(objects[p] for p in group.members),
        first_page=int(c.get("first_page", 1)),
        new=False,
    )


def snapshots(ledger: Ledger) -> list[Snapshot]:
    """Every snapshot landed, in the order they were recorded."""
    objects = {o.raw_path: o for o in ledger.raw_objects(SOURCE)}
    return [load_snapshot(ledger, g.group_id, objects=objects) for g in ledger.groups(SOURCE)]


def _record(ledger: Ledger, snap: Snapshot) -> Snapshot:
    """Record a landed snapshot unless it is already known (identical bytes landed before)."""
    if ledger.group(SOURCE, snap.snapshot_id) is not None:
        return load_snapshot(ledger, snap.snapshot_id)
    meta = {k: v for k, v in snap.record().items() if k != "pages"}
    ledger.record_group(SOURCE, snap.snapshot_id, [p.raw_path for p in snap.pages], meta)
    return snap


def _pages_of(data: bytes) -> int:
    try:
        total = json.loads(data.decode("utf-8-sig")).get("total")
    except (ValueError, AttributeError):
        return 1
    return total if isinstance(total, int) and total >= 1 else 1


def _http_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        t = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return t.astimezone(dt.UTC) if t.tzinfo else None


def _reference(last_modified: str | None, fetched_at: dt.datetime) -> dt.datetime:
    """The clock the readings' years come from: ``Last-Modified`` only when it is within
    ``LAST_MODIFIED_TRUSTED`` of ``fetched_at``.

    Near New Year the board's own clock is better than ours (a 12-31 23:00 reading fetched at 00:10);
    but a static or proxy-cached header months old would put MM-DD readings in the wrong year, and
    one in the future is no clock at all, so then our receipt time is used.
    """
    modified = _http_time(last_modified)
    if modified is None or abs(modified - fetched_at) > LAST_MODIFIED_TRUSTED:
        return fetched_at
    return modified


def fetch_board(
    lake: LakeLike,
    ledger: Ledger,
    base_url: str,
    *,
    session: requests.Session,
    timeout_s: float = 30.0,
    page_size: int = DEFAULT_PAGE_SIZE,
    now: dt.datetime | None = None,
    max_pages: int = MAX_PAGES,
) -> Snapshot:
    """Fetch every page of the board (``total`` from page 1) and land them as one snapshot.

    The page count is read from page 1 only (later pages cannot extend the loop) and refused above
    ``max_pages`` (``ECOCLOUD_HTTP_MAX_PAGES``) before another page is requested.
    """
    fetched_at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    got: list[tuple[str, bytes, Fetched]] = []
    unchanged = True
    total, page = 1, 1
    while page <= total:
        url = board_url(base_url, page, page_size)
        etag, last_modified, sha = ledger.fetch_state(url)
        answer = fetch(session, url, timeout_s=timeout_s, etag=etag, last_modified=last_modified)
        data = answer.content
        if answer.not_modified:
            previous = ledger.latest_raw(SOURCE, page_name(page))
            if previous is not None and previous.sha256 == sha:
                data = read_raw(lake, previous)
            else:  # we no longer hold what the validators describe: ask again without them
                answer = fetch(session, url, timeout_s=timeout_s)
                data = answer.content
        unchanged &= answer.not_modified
        if page == 1:
            total = _pages_of(data)
            if total > max_pages:
                raise FetchRefused(
                    f"{url}: the board says {total} pages, more than the {max_pages} we follow "
                    "(ECOCLOUD_HTTP_MAX_PAGES); refusing"
                )
        got.append((url, data, answer))
        page += 1

    shas = [hashlib.sha256(data).hexdigest() for _, data, _ in got]
    sid = _snapshot_id(shas)
    if unchanged and ledger.group(SOURCE, sid) is not None:
        return load_snapshot(ledger, sid)

    reference = _reference(got[0][2].last_modified, fetched_at)
    day = reference.astimezone(BEIJING).date()
    pages = []
    for i, (url, data, answer) in enumerate(got, start=1):
        obj = land_bytes(
            lake,
            ledger,
            source=SOURCE,
            logical_name=page_name(i),
            partition=day,
            data=data,
            origin=url,
            received_at=fetched_at,
        )
        ledger.record_fetch(url, answer.etag, answer.last_modified, obj.sha256)
        pages.append(obj)
    snap = Snapshot(sid, fetched_at, reference, base_url, tuple(pages))
    return _record(ledger, snap)


def reference_from_name(name: str) -> dt.datetime | None:
    """``…_20260821_p1.json`` → 2026-08-21 23:59:59 Beijing; ``…20260821_1630…`` → 16:30."""
    m = _NAME_TIME.search(name)
    if not m:
        return None
    try:
        day = dt.datetime.strptime(m.group(1), "%Y%m%d").date()
    except ValueError:
        return None
    if m.group(2):
        try:
            t = dt.datetime.strptime(m.group(2), "%H%M").time()
        except ValueError:
            return None
    else:
        t = dt.time(23, 59, 59)
    return dt.datetime.combine(day, t, BEIJING).astimezone(dt.UTC)


def land_file(
    lake: LakeLike, ledger: Ledger, path: Path, *, fetched_at: dt.datetime | None = None
) -> Snapshot:
    """Land one saved reply page (a local file) as a one-page snapshot."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    data = path.read_bytes()
    received = dt.datetime.now(dt.UTC)
    if fetched_at is not None and fetched_at.utcoffset() is None:
        raise ValueError("fetched_at must be timezone-aware")
    reference = (fetched_at.astimezone(dt.UTC) if fetched_at else None) or reference_from_name(path.name)
    reference = reference or received
    m = _NAME_PAGE.search(path.name)
    page = int(m.group(1)) if m else 1
    obj = land_bytes(
        lake,
        ledger,
        source=SOURCE,
        logical_name=path.name,
        partition=reference.astimezone(BEIJING).date(),
        data=data,
        origin=str(path.resolve()),
        received_at=received,
    )
    snap = Snapshot(_snapshot_id([obj.sha256]), received, reference, str(path.resolve()), (obj,), page)
    return _record(ledger, snap)


def land_sections(lake: LakeLike, ledger: Ledger, path: Path) -> RawObject | None:
    """Land the section registry CSV as its newest snapshot; None when unchanged since the last."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no section registry at {path}")
    return land_snapshot(
        lake,
        ledger,
        source=SOURCE,
        logical_name=SECTIONS_NAME,
        data=path.read_bytes(),
        origin=str(path.resolve()),
    )
