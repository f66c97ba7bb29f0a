"""The steps of every source spec (``ecocloud/specs``): landing functions and plan/build objects."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingest.http import make_session

if TYPE_CHECKING:
    import requests

    from ecocloud.settings import Settings


def http_session(settings: Settings) -> requests.Session:
    """An HTTP session with the platform's retries, size caps, deadline and redirect policy."""
    return make_session(settings.http_retries, settings.http_backoff_s, limits=settings.http_limits())


def page_cap(settings: Settings, default: int) -> int:
    """How many pages a paged fetch may follow (``ECOCLOUD_HTTP_MAX_PAGES``, else the fetcher's own)."""
    return settings.http_max_pages or default
