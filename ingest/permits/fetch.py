"""Client of the permit platform API (docs/permit-api.md): paging, ``updated_since``, landing.

Paging relies on the contract: records are ordered by (updatedAt, permitNo, version) and a published
version is never modified (a change is a new version), so new records only ever append at the end
and page numbers stay stable while we read. The client checks that promise — the total does not
change, every page starts after the previous one ended, and the distinct versions read add up to the
total — and restarts from page 1 when it is broken, at most ``max_restarts`` times. A server that
always says "more pages" is not followed past ``max_pages`` (``ECOCLOUD_HTTP_MAX_PAGES``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from ingest.http import FetchError, fetch
from ingest.permits.parse import PermitPageError, load_page, parse_updated_at
from ingest.raw import land_bytes
from schemas.clock import BEIJING
from warehouse.fs import LakeLike
from warehouse.ledger import Ledger, RawObject

log = logging.getLogger(__name__)

SOURCE = "permit"
ENDPOINT = "api/v1/permits"
DEFAULT_PAGE_SIZE = 100
MAX_PAGES = 10_000  # a million records at the default page size: more than any province publishes


@dataclass(frozen=True)
class Page:
    url: str
    updated_since: dt.datetime | None
    page: int
    total: int
    total_pages: int
    content: bytes
    records: list[dict[str, Any]]


class PagingError(FetchError):
    """The listing could not be read: it kept changing under us, or it has more pages than we follow."""


def page_url(base_url: str, *, updated_since: dt.datetime | None, page: int, page_size: int) -> str:
    params: dict[str, str | int] = {}
    if updated_since is not None:
        params["updated_since"] = updated_since.astimezone(BEIJING).isoformat(timespec="seconds")
    params |= {"page": page, "page_size": page_size}
    return f"{base_url.rstrip('/')}/{ENDPOINT}?{urlencode(params)}"


def _order_key(rec: Any) -> tuple[dt.datetime, str, int] | None:
    if not isinstance(rec, dict):
        return None  # a null, a string: the parser quarantines it ("record is not an object")
    try:
        return parse_updated_at(rec.get("updatedAt")), str(rec.get("permitNo")), int(rec.get("version") or 0)
    except (ValueError, TypeError):
        return None  # an untypable record: the parser quarantines it; it does not break the order check


def _version_key(rec: Any, where: str) -> tuple[str, str]:
    """A record's (permit, version) for counting distinct records; any JSON value may stand there. A
    record that is no object has no identity: it counts as its own (``where``: its page and place)."""
    if not isinstance(rec, dict):
        return "", where
    return str(rec.get("permitNo")), json.dumps(rec.get("version"), sort_keys=True)


def fetch_pages(
    session: requests.Session,
    base_url: str,
    *,
    updated_since: dt.datetime | None,
    page_size: int = DEFAULT_PAGE_SIZE,
    timeout_s: float = 30.0,
    max_restarts: int = 3,
    max_pages: int = MAX_PAGES,
) -> list[Page]:
    """Every page of the records updated at or after ``updated_since`` (all records when None)."""
    for attempt in range(max_restarts + 1):
        pages: list[Page] = []
        last: tuple[dt.datetime, str, int] | None = None
        consistent = True
        n = 1
        while True:
            url = page_url(base_url, updated_since=updated_since, page=n, page_size=page_size)
            got = fetch(session, url, timeout_s=timeout_s)
            try:
                body = load_page(got.content)
            except PermitPageError as exc:
                raise FetchError(f"GET {url}: {exc}") from exc
            page = Page(
                url=url,
                updated_since=updated_since,
                page=n,
                total=body["total"],
                total_pages=body["totalPages"],
                content=got.content,
                records=body["records"],
            )
            keys = [k for k in map(_order_key, page.records) if k is not None]
            if (pages and page.total != pages[0].total) or (
                keys and ((last is not None and keys[0] < last) or keys != sorted(keys))
            ):
                consistent = False
                break
            last = keys[-1] if keys else last
            pages.append(page)
            if n >= page.total_pages or not page.records:
                break
            if n >= max_pages or page.total_pages > max_pages:
                raise PagingError(
                    f"{base_url}: the listing says {page.total_pages} pages, more than the {max_pages} "
                    "we follow (ECOCLOUD_HTTP_MAX_PAGES); refusing"
                )
            n += 1
        # a record republished while we paged moves to the end: one record is skipped, another read
        # twice — the count of distinct versions then falls short of the total
        versions = [_version_key(r, f"{p.page}:{i}") for p in pages for i, r in enumerate(p.records)]
        if consistent and pages and len(set(versions)) == len(versions) == pages[0].total:
            return pages
        log.warning("permit listing changed while paging (attempt %d); restarting", attempt + 1)
    raise PagingError(f"{base_url}: listing kept changing while paging ({max_restarts} restarts)")


def land_page(lake: LakeLike, ledger: Ledger, page: Page, *, fetched_at: dt.datetime) -> RawObject:
    """Land one page's exact bytes; the name says which query and page it answered."""
    since = "all" if page.updated_since is None else f"{page.updated_since.astimezone(BEIJING):%Y%m%dT%H%M%S}"
    name = f"permits_since-{since}_page-{page.page:04d}.json"
    return land_bytes(
        lake,
        ledger,
        source=SOURCE,
        logical_name=name,
        partition=fetched_at.astimezone(BEIJING).date(),
        data=page.content,
        origin=page.url,
        received_at=fetched_at,
    )


def record_key(rec: dict[str, Any]) -> tuple[str, int, dt.datetime] | None:
    """(permit_no, version, updated_at UTC) of a raw record; None when it cannot be read."""
    try:
        return (
            str(rec["permitNo"]).strip().upper(),
            int(rec["version"]),
            parse_updated_at(rec.get("updatedAt")),
        )
    except (KeyError, ValueError, TypeError):
        return None
