"""HTTP fetching for upstream files and APIs: timeouts, retries with backoff, conditional GET."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)


class FetchError(RuntimeError):
    """The upstream could not be fetched after retries (message says why)."""


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int  # 200, or 304 when unchanged since the validators we sent
    content: bytes
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def make_session(retries: int, backoff_s: float) -> requests.Session:
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff_s,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "ecocloud-ingest/0.1"
    return session


def fetch(
    session: requests.Session,
    url: str,
    *,
    timeout_s: float,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Fetched:
    """GET ``url``; send validators so an unchanged file costs a 304 and no bytes."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        resp = session.get(url, headers=headers, timeout=timeout_s)
    except requests.RequestException as exc:
        raise FetchError(f"GET {url} failed after retries: {exc}") from exc
    if resp.status_code == 304:
        return Fetched(url, 304, b"", etag, last_modified)
    if resp.status_code != 200:
        raise FetchError(f"GET {url} answered HTTP {resp.status_code}: {resp.text[:200]!r}")
    return Fetched(url, 200, resp.content, resp.headers.get("ETag"), resp.headers.get("Last-Modified"))
