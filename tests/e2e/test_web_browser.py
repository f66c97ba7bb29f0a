"""The web app in a real browser: Debian's Chromium driven by Playwright against `ecocloud serve`.

Every page is watched: a request to any host other than the app fails the test (the app must work
offline: scripts, styles and the chart library are its own).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from browser import browser, offline_page, playwright  # noqa: F401 - fixtures
from playwright.sync_api import Browser, Page, expect

if TYPE_CHECKING:
    from conftest import WebHome


@pytest.fixture
def page(browser: Browser, web_server: str) -> Iterator[Page]:  # noqa: F811 - the imported fixture
    with offline_page(browser, web_server) as p:
        yield p


def log_in(page: Page, base: str, user: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("#login-form button[type=submit]")


def test_search_in_chinese_and_english_then_open_a_dataset(page: Page, web_server: str) -> None:
    page.goto(web_server + "/")
    page.fill("input[name=q]", "空气质量")
    page.press("input[name=q]", "Enter")
    expect(page).to_have_url(re.compile(r"/datasets\?q="))
    expect(page.locator("table.results")).to_contain_text("core_air__station_hourly")
    expect(page.locator("table.results")).not_to_contain_text("core_source__readings")
    page.fill("input[name=q]", "section readings")
    page.press("input[name=q]", "Enter")
    expect(page.locator("table.results")).to_contain_text("core_water__section_readings")
    page.click("a[href='/datasets/core_water__section_readings']")
    expect(page.locator("h1")).to_contain_text("地表水")
    expect(page.locator("#schema")).to_contain_text("water_class")
    expect(page.locator("svg.lineage")).to_be_visible()
    expect(page.locator("#sample tbody tr").first).to_be_visible()
    page.click("text=English")
    expect(page.locator("header nav")).to_contain_text("Catalog")


def test_charts_render_with_data(page: Page, web_server: str) -> None:
    page.goto(web_server + "/overview/air")
    chart = page.locator("#ranking-chart")
    expect(chart).to_have_attribute("data-rendered", "true", timeout=30_000)
    bars = chart.locator("svg.main-svg g.point")
    assert bars.count() >= 5  # one bar per ranked city
    page.goto(web_server + "/overview/air/stations/J001A")
    line = page.locator("#station-chart")
    expect(line).to_have_attribute("data-rendered", "true", timeout=30_000)
    path = line.locator("svg.main-svg g.trace.scatter path.js-line").first
    assert len(path.get_attribute("d") or "") > 100  # a drawn line through many hours
    ticks = line.locator("g.xtick text").all_text_contents()
    assert ticks and all("月" in t for t in ticks), ticks  # a Chinese page's dates in Chinese
    # and its toolbar in Chinese (plotly.js says "Download plot as a PNG" unless told otherwise)
    expect(line.locator(".modebar-btn[data-title='下载为 PNG 图片']")).to_have_count(1)
    # and no button that sends the chart's data to Plotly's cloud
    expect(line.locator(".modebar-btn[data-title='Share chart...']")).to_have_count(0)
    page.goto(web_server + "/overview/air/stations/J001A?lang=en")
    expect(line).to_have_attribute("data-rendered", "true", timeout=30_000)
    assert not any("月" in t for t in line.locator("g.xtick text").all_text_contents())
    expect(line.locator(".modebar-btn[data-title='Download plot as a PNG']")).to_have_count(1)
    page.goto(web_server + "/overview/water")
    expect(page.locator("#basin-chart-1")).to_have_attribute("data-rendered", "true", timeout=30_000)


def test_login_opens_conditional_data_and_logout(page: Page, web_server: str, web_home: WebHome) -> None:
    log_in(page, web_server, "ana", web_home.password)
    expect(page.locator(".who")).to_contain_text("ana")
    page.goto(web_server + "/datasets/core_source__readings")
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("#sample")).to_be_attached()
    page.click("header form.inline button")
    expect(page.locator("a.login")).to_be_visible()


def test_anonymous_refused_a_conditional_page(page: Page, web_server: str) -> None:
    response = page.goto(web_server + "/datasets/core_source__readings")
    assert response is not None and response.status == 403
    expect(page.locator("section.error h1")).to_contain_text("403")
    assert page.locator("#sample").count() == 0 and page.locator("#schema").count() == 0
    assert "pollutant_code" not in page.content()


def test_wrong_role_is_refused(page: Page, web_server: str, web_home: WebHome) -> None:
    log_in(page, web_server, "pub", web_home.password)
    expect(page.locator(".who")).to_contain_text("pub")
    response = page.goto(web_server + "/datasets/core_source__readings")
    assert response is not None and response.status == 403
    response = page.goto(web_server + "/sql")
    assert response is not None and response.status == 403
    assert page.locator("textarea[name=query]").count() == 0


def test_an_analyst_sees_how_many_rows_a_result_has_and_downloads_it_whole(
    page: Page, web_server: str, web_home: WebHome
) -> None:
    """The SQL page shows 500 rows; it says how many the result has and gives the whole as CSV."""
    log_in(page, web_server, "ana", web_home.password)
    expect(page.locator(".who")).to_contain_text("ana")
    page.goto(web_server + "/sql")
    page.fill("textarea[name=query]", "SELECT station_code, pm25_ugm3 FROM core_air__station_hourly")
    page.click("form.stacked button[type=submit]")
    count = page.locator("#sql-count")
    expect(count).to_contain_text(re.compile(r"^共 [\d,]+ 行 · 仅显示前 500 行$"))
    found = re.search(r"共 ([\d,]+) 行", count.inner_text())
    assert found
    total = int(found.group(1).replace(",", ""))
    assert total > 500 and page.locator("#sql-result tbody tr").count() == 500
    with page.expect_download() as info:
        page.click("#sql-download button[type=submit]")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    lines = Path(download.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "station_code,pm25_ugm3" and len(lines) == total + 1


def test_bad_parameter_gets_a_4xx_page_without_a_trace(page: Page, web_server: str) -> None:
    response = page.goto(web_server + "/overview/air?date=2026-02-30")
    assert response is not None and response.status == 400
    expect(page.locator("section.error .message")).to_contain_text("date")
    assert "Traceback" not in page.content()


def test_the_keyboard_s_first_stop_skips_to_the_content(page: Page, web_server: str) -> None:
    """Ten Tab stops of the header came before a page's content; every title names the site once."""
    page.goto(web_server + "/overview/air")
    expect(page).to_have_title(re.compile(r"^城市空气质量排名 · 生态云$"))
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()  # shown once focused (off screen until then)
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    page.goto(web_server + "/datasets")
    expect(page).to_have_title(re.compile(r"^[^·]+ · 生态云$"))
