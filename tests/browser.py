"""Playwright fixtures the browser tests share: Debian's Chromium, and pages that fail their test
on any request to a host other than the app (the app must work offline: scripts, styles and the
chart library are its own).

The fixtures are module-scoped: a session-long Playwright event loop breaks asyncio in later tests.
A test module imports ``playwright`` and ``browser`` and builds its ``page`` fixture with
``offline_page`` for its own server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        raise pytest.UsageError("no /usr/bin/chromium: `make browser` installs Debian's chromium")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
    yield b
    b.close()


@contextmanager
def offline_page(browser: Browser, server: str) -> Iterator[Page]:
    """A fresh zh-CN page; on leaving, fails if it requested anything from another host."""
    context = browser.new_context(locale="zh-CN")
    p = context.new_page()
    app = urlsplit(server).netloc
    elsewhere: list[str] = []
    p.on(
        "request",
        lambda r: (
            None if urlsplit(r.url).netloc == app or r.url.startswith("data:") else elsewhere.append(r.url)
        ),
    )
    yield p
    context.close()
    assert elsewhere == [], f"requests to other hosts: {elsewhere}"
