"""The enforcement pages in a real browser (Debian's Chromium via Playwright) against `ecocloud serve`
on the risk ground-truth scenario: log in as enforcement, open the ranked list, open the outlet the
scenario made exceed its limit, and see its chart with the limit line drawn.

Playwright fixtures are module-scoped: a session-long Playwright event loop breaks asyncio in later
tests. Every page is watched: a request to any other host fails the test (the app works offline)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from browser import browser, offline_page, playwright  # noqa: F401 - fixtures
from playwright.sync_api import Browser, Page, expect

from ecocloud.simulator.fleet import load_labels

if TYPE_CHECKING:
    from conftest import RiskHome


@pytest.fixture
def page(browser: Browser, risk_server: str) -> Iterator[Page]:  # noqa: F811 - the imported fixture
    with offline_page(browser, risk_server) as p:
        yield p


def test_enforcement_opens_the_list_then_an_outlet_chart_with_its_limit(
    page: Page, risk_server: str, risk_home: RiskHome
) -> None:
    exceeded = next(lb for lb in load_labels(risk_home.labels) if lb["kind"] == "exceedance")
    mn, code = exceeded["mn"], exceeded["pollutant"]
    page.goto(f"{risk_server}/login?next=/risk")
    page.fill("input[name=username]", "enf")
    page.fill("input[name=password]", risk_home.password)
    page.click("#login-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("污染源风险清单")
    ranking = page.locator("#outlet-ranking")
    expect(ranking.locator("tbody tr").first).to_be_visible()
    expect(page.locator("#download-xlsx")).to_be_visible()

    ranking.locator(f"a.outlet[href^='/risk/outlets/{mn}?']").click()
    expect(page).to_have_url(re.compile(rf"/risk/outlets/{mn}\?from=\d{{4}}-\d\d-\d\d&to="))
    chart = page.locator(f"#chart-{mn}-{code}")
    expect(chart).to_have_attribute("data-rendered", "true", timeout=30_000)
    expect(chart.locator("g.legend")).to_contain_text("限值")
    lines = chart.locator("svg.main-svg g.trace.scatter path.js-line")
    assert lines.count() >= 2  # the values and the limit
    drawn = [len(lines.nth(i).get_attribute("d") or "") for i in range(lines.count())]
    assert sum(1 for d in drawn if d > 20) >= 2
    assert chart.locator("g.trace.scatter path.point").count() > 0  # the exceedance hours marked


def test_anyone_narrows_the_disclosed_results_to_a_day_s_exceedances(
    page: Page, risk_server: str, risk_home: RiskHome
) -> None:
    """Anonymous: the public page of key dischargers' results, its date and "over the limit only"."""
    exceeded = next(lb for lb in load_labels(risk_home.labels) if lb["kind"] == "exceedance")
    day = exceeded["start"][:10]
    page.goto(f"{risk_server}/")
    page.click("nav a[href='/overview/sources']")
    expect(page.locator("h1")).to_contain_text("重点排污单位自动监测日数据")
    form = page.locator("#source-filter")
    form.locator("select[name=date]").select_option(day)
    form.locator("input[name=exceeded]").check()
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"date={day}.*exceeded=true"))
    rows = page.locator("#sources tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() == page.locator("#sources tbody tr.bad").count() > 0  # exceedances only
    expect(page.locator("#sources tbody")).to_contain_text(exceeded["pollutant"])
    assert exceeded["mn"] not in page.content()
