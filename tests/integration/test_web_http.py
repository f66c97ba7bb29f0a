"""The web app over real HTTP (`ecocloud serve` in a subprocess) on data ingested from the simulator."""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import html
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
from conftest import free_port, outside_env, running_web

from ecocloud.web.lineage_svg import HIDDEN
from ingest.hj212.protocol import build_packet
from schemas.air import RELEASE_TYPES
from schemas.clock import BEIJING
from schemas.registry import Layer, Sharing, all_tables, get_table

if TYPE_CHECKING:
    from conftest import WebHome

Login = Callable[..., requests.Session]

CONDITIONAL = "core_source__readings"  # 有条件共享
NOT_SHARED = "quarantine_air__station_hourly"  # 不予共享
OPEN = "core_air__station_hourly"  # 无条件共享


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "form without a CSRF token"
    return found.group(1)


@pytest.fixture(scope="module")
def login(web_server: str, web_home: WebHome) -> Login:
    """A logged-in session of a user that tests/conftest.py added (or ``password`` for another)."""

    def as_user(user: str, password: str | None = None) -> requests.Session:
        s = requests.Session()
        token = csrf_of(s.get(f"{web_server}/login", timeout=10).text)
        r = s.post(
            f"{web_server}/login",
            data={
                "username": user,
                "password": password or web_home.password,
                "csrf_token": token,
                "next": "/datasets",
            },
            timeout=30,
            allow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == "/datasets", r.text[:500]
        return s

    return as_user


def test_logging_in_from_a_page_returns_to_it_with_its_filters(web_server: str, web_home: WebHome) -> None:
    """The login link kept the path only: an officer sent to log in from /risk?region=360100 came
    back to the whole province."""
    s = requests.Session()
    refused = s.get(f"{web_server}/risk", params={"region": "360100", "top": "5"}, timeout=30)
    assert refused.status_code == 403
    link = re.findall(r'href="(/login\?next=[^"]+)"', refused.text)
    assert link and set(link) == {"/login?next=%2Frisk%3Fregion%3D360100%26top%3D5"}, link
    form = s.get(web_server + html.unescape(link[0]), timeout=10).text
    # the login page's own "log in" link stays on it, with the same return address (it nested one)
    assert re.findall(r'href="([^"]+)" class="login"', form) == link[:1]
    back = re.search(r'name="next" value="([^"]+)"', form)
    assert back and html.unescape(back.group(1)) == "/risk?region=360100&top=5"
    r = s.post(
        f"{web_server}/login",
        data={
            "username": "enf",
            "password": web_home.password,
            "csrf_token": csrf_of(form),
            "next": "/risk?region=360100&top=5",
        },
        timeout=30,
        allow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/risk?region=360100&top=5"
    # a return address longer than the form takes: the page without its filters
    long = requests.get(
        f"{web_server}/datasets", params={"q": "水", "layer": "core", "x": "y" * 600}, timeout=10
    )
    assert 'href="/login?next=%2Fdatasets"' in long.text


def no_trace(r: requests.Response) -> None:
    assert "Traceback" not in r.text and 'File "' not in r.text


def test_search_in_chinese_and_english_by_role(web_server: str, login: Login) -> None:
    anon = requests.get(f"{web_server}/datasets", params={"q": "空气 小时"}, timeout=10)
    assert anon.status_code == 200 and f"/datasets/{OPEN}" in anon.text
    english = requests.get(f"{web_server}/datasets", params={"q": "water class", "lang": "en"}, timeout=10)
    assert "/datasets/core_water__section_readings" in english.text and "Catalog" in english.text
    # a column description matches too (µg/m³ columns of PM2.5)
    assert (
        "/datasets/core_air__station_daily" in requests.get(f"{web_server}/datasets?q=PM2.5", timeout=10).text
    )
    everything = requests.get(f"{web_server}/datasets", timeout=10).text
    assert f"/datasets/{CONDITIONAL}" not in everything and f"/datasets/{NOT_SHARED}" not in everything
    # a place finds no dataset: the page says what the search looks at, and how to find a place's rows
    place = requests.get(f"{web_server}/datasets", params={"q": "南昌"}, timeout=10).text
    none_found = html.unescape(place.split('id="none-found">')[1].split("</td>")[0])
    assert "不是数据行中的值" in none_found and "region_code = '360100'" in none_found
    ana = login("ana")
    analyst = ana.get(f"{web_server}/datasets", timeout=10).text
    assert f"/datasets/{CONDITIONAL}" in analyst and f"/datasets/{NOT_SHARED}" in analyst
    # what a code means matches too, and the dataset page shows each allowed value with its label
    found = ana.get(f"{web_server}/datasets", params={"q": "已撤销"}, timeout=10).text
    assert "/datasets/core_permit__permits" in found
    page = ana.get(f"{web_server}/datasets/core_permit__permits", timeout=10).text
    assert "<code>revoked</code> 已撤销" in page

    def names(q: str) -> list[str]:
        html = ana.get(f"{web_server}/datasets", params={"q": q}, timeout=10).text
        return re.findall(r'<a href="/datasets/([a-z0-9_]+)"', html)

    # a short Latin term is a whole word: CO is carbon monoxide (the air tables first; then those whose
    # pollutant_code may hold its HJ 212 code), not every "code"
    by_code = {t.name for t in all_tables() if "pollutant_code" in t.column_names}
    air = [n for n in names("CO") if n.startswith(("core_air", "mart_air", "quarantine_air"))]
    assert air and names("CO")[: len(air)] == air and set(names("CO")[len(air) :]) <= by_code
    # a pollutant by its Chinese name finds the tables holding its HJ 212 code, as the code does
    assert "core_source__readings" in names("化学需氧量") and names("化学需氧量") == names("w01018")
    # the air tables name pollutants by formula: their Chinese or English names find them too
    for name in ("臭氧", "ozone", "细颗粒物", "sulphur dioxide"):
        assert {"core_air__station_hourly", "mart_air__city_daily_ranking"} <= set(names(name)), name
    assert {"core_air__station_hourly", "core_permit__outlet_limits"} <= set(names("二氧化硫"))
    assert "core_air__station_daily" in names("每日")  # the update frequency
    # the best matches first: a title before a column description
    assert names("排污许可")[0].startswith("core_permit__")


def test_dataset_page_shows_schema_facts_quality_lineage_and_samples(
    web_server: str, web_home: WebHome
) -> None:
    r = requests.get(f"{web_server}/datasets/{OPEN}", timeout=10)
    assert r.status_code == 200
    html = r.text
    assert "pm25_ugm3" in html and "µg/m³" in html  # schema with units
    sample = re.search(r'id="sample">(.*?)</table>', html, re.S)
    assert sample and web_home.days[-1].isoformat() in sample.group(1)  # newest rows shown
    assert "+08:00</td>" in sample.group(1) and "+00:00" not in sample.group(1)  # instants in Beijing time
    assert 'class="lineage"' in html and "<svg" in html
    assert "expect_column_values_to_be_between" in html  # the latest gate run's expectations
    assert "aqi = aqi_published" in html  # agreement figure
    assert "<td>一致性</td>" in html and "<td>agreement</td>" not in html  # kinds in the page's language
    assert re.search(r"一致 \d+(\.\d{1,3})?</td>", html)  # what the share is, rounded
    quality = requests.get(f"{web_server}/datasets/{OPEN}/quality", timeout=10)
    assert quality.status_code == 200 and 'id="results"' in quality.text
    # no instant in UTC among the results (tests/unit/test_web_beijing_text.py: in Beijing time)
    results = quality.text.split('id="results"')[1].split("</table>")[0]
    assert not re.search(r"\d\d:\d\d:\d\d(\.\d+)?\+00:00", results)
    run = re.search(r'href="\?run=([^"]+)"', quality.text)
    assert run and requests.get(f"{web_server}/datasets/{OPEN}/quality?run={run.group(1)}", timeout=10).ok


def test_dataset_page_describes_columns_in_the_page_language(web_server: str) -> None:
    """The schema table says what each column holds in Chinese (English below it, smaller), and in
    English only on an English page; a column's Chinese description finds its dataset in search."""
    pm25 = get_table(OPEN).column("pm25_ugm3")
    zh = requests.get(f"{web_server}/datasets/{OPEN}", timeout=10).text
    en = requests.get(f"{web_server}/datasets/{OPEN}", params={"lang": "en"}, timeout=10).text
    assert html.escape(pm25.description_zh) in zh and html.escape(pm25.description) in zh
    assert html.escape(pm25.description) in en and html.escape(pm25.description_zh) not in en
    found = requests.get(f"{web_server}/datasets", params={"q": pm25.description_zh}, timeout=10).text
    assert f'href="/datasets/{OPEN}"' in found
    # an allowed value's label in the page's language, never the value twice (优 优); ranges as written
    assert "<code>优</code> excellent" in en and "<code>优</code> 优" not in zh and "<code>优</code>," in zh
    assert "0 … 500" in zh and "0.0 … 500.0" not in zh
    # names in backticks are code, not backticks
    described = re.search(r'<p class="en">(.*?)</p>', zh, re.S)
    assert described and "`" not in described.group(1) and "<code>aqi_published</code>" in described.group(1)
    assert 'id="time-note"' in zh  # descriptions say UTC, the samples show Beijing time: the page says why
    lineage = {
        page: text.split('class="lineage"')[1].split("</svg>")[0] for page, text in (("zh", zh), ("en", en))
    }
    assert (
        "原始数据 raw/" in lineage["zh"]
        and "raw data raw/" in lineage["en"]
        and "原始数据" not in lineage["en"]
    )
    # a unit that differs by row names the column holding it
    disclosure = requests.get(f"{web_server}/datasets/mart_source__disclosure_daily", timeout=10).text
    assert "按行，见 <code>unit</code>" in disclosure and "per row" not in disclosure


def _rows_of(web_home: WebHome, table: str, first: dt.date, last: dt.date) -> int:
    con = duckdb.connect(str(web_home.home / "ecocloud.duckdb"), read_only=True)
    try:
        ((n,),) = con.execute(
            f"SELECT count(*) FROM {table} WHERE date BETWEEN ? AND ?", [first, last]
        ).fetchall()
    finally:
        con.close()
    return int(n)


def test_anyone_downloads_a_shared_dataset_as_csv_or_parquet(web_server: str, web_home: WebHome) -> None:
    """A 无条件共享 dataset's rows are the public's: its newest day by default, a range on request;
    CSV for a spreadsheet (BOM, Beijing wall time), Parquet with the registry's types."""
    first, newest, columns = web_home.days[0], web_home.days[-1], get_table(OPEN).column_names
    got = requests.get(f"{web_server}/datasets/{OPEN}/data.csv", timeout=60)
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert f'filename="{OPEN}_{newest}.csv"' in got.headers["content-disposition"]
    assert got.content.startswith(b"\xef\xbb\xbf") and int(got.headers["content-length"]) == len(got.content)
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert rows[0] == columns and len(rows) - 1 == _rows_of(web_home, OPEN, newest, newest) > 0
    assert {r[0] for r in rows[1:]} == {newest.isoformat()}
    observed = [r[columns.index("observed_at")] for r in rows[1:]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", t) for t in observed)
    parquet = requests.get(
        f"{web_server}/datasets/{OPEN}/data.parquet", params={"from": first, "to": newest}, timeout=60
    )
    assert parquet.status_code == 200
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.column_names == columns and table.num_rows == _rows_of(web_home, OPEN, first, newest)
    assert table.schema.field("observed_at").type == pa.timestamp("us", tz="UTC")
    page = requests.get(f"{web_server}/datasets/{OPEN}", timeout=10).text
    assert f'action="/datasets/{OPEN}/data.csv"' in page and f'value="{newest}"' in page


def test_a_download_on_a_full_disk_is_a_503_and_leaves_no_file(web_home: WebHome, small_disk: Path) -> None:
    """The temporary disk fills while DuckDB writes the file (real ENOSPC): the reader is told to try
    later, the half-written file is gone, the app goes on serving."""
    ballast, tmp = small_disk / "ballast", small_disk / "tmp"
    tmp.mkdir()
    with ballast.open("wb") as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()
    os.truncate(ballast, ballast.stat().st_size - 4096)  # room for less than a day's rows
    with running_web({**web_home.env, "TMPDIR": str(tmp)}) as base:
        got = requests.get(f"{base}/datasets/{OPEN}/data.csv", timeout=60)
        assert got.status_code == 503 and "暂时无法准备下载" in html.unescape(got.text), got.text[:300]
        no_trace(got)
        assert list(tmp.iterdir()) == []
        assert requests.get(f"{base}/datasets/{OPEN}", timeout=10).status_code == 200
        ballast.unlink()  # room again: the next download is whole, and leaves nothing behind
        got = requests.get(f"{base}/datasets/{OPEN}/data.csv", timeout=60)
        assert got.status_code == 200 and int(got.headers["content-length"]) == len(got.content) > 3
        assert list(tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"from": "2026-11-20", "to": "2026-11-01"}, "起始日 2026-11-20 晚于截止日 2026-11-01"),
        ({"from": "2026-01-01", "to": "2026-12-31"}, "每次下载至多 31 天"),
        ({"from": "2026-02-30"}, "起始日 '2026-02-30' 不是日期"),
    ],
)
def test_a_download_range_that_cannot_be_is_told_why(
    web_server: str, query: dict[str, str], says: str
) -> None:
    got = requests.get(f"{web_server}/datasets/{OPEN}/data.csv", params=query, timeout=10)
    assert got.status_code == 400 and says in html.unescape(got.text)
    no_trace(got)


def test_rows_behind_a_login_are_downloaded_only_by_a_role_that_may_see_them(
    web_server: str, login: Login
) -> None:
    for who in (requests.Session(), login("pub")):
        assert who.get(f"{web_server}/datasets/{CONDITIONAL}/data.csv", timeout=10).status_code == 403
    analyst = login("ana")
    assert analyst.get(f"{web_server}/datasets/{CONDITIONAL}/data.parquet", timeout=60).status_code == 200
    assert analyst.get(f"{web_server}/datasets/{NOT_SHARED}/data.csv", timeout=10).status_code == 403
    assert login("boss").get(f"{web_server}/datasets/{NOT_SHARED}/data.csv", timeout=60).status_code == 200


def test_anonymous_and_public_refused_a_conditional_page_without_data(web_server: str, login: Login) -> None:
    for who in (requests.Session(), login("pub")):
        r = who.get(f"{web_server}/datasets/{CONDITIONAL}", timeout=10)
        assert r.status_code == 403
        assert 'id="sample"' not in r.text and "pollutant_code" not in r.text and "<svg" not in r.text
        no_trace(r)
        assert who.get(f"{web_server}/datasets/{CONDITIONAL}/quality", timeout=10).status_code == 403


def test_a_refused_page_of_data_never_shared_says_nothing_of_it(web_server: str) -> None:
    """不予共享 entries are hidden from the public: not even their existence (answered as a name that
    is no dataset is), with the same hint to log in."""
    table = get_table(NOT_SHARED)
    hidden = requests.get(f"{web_server}/datasets/{NOT_SHARED}", timeout=10)
    unknown = requests.get(f"{web_server}/datasets/no_such_table", timeout=10)
    assert hidden.status_code == unknown.status_code == 404 and 'id="restricted"' not in hidden.text
    text = html.unescape(hidden.text)
    assert table.title_zh not in text and table.owner.contact not in text and table.owner.name_zh not in text
    said = lambda r: re.search(r'class="message">([^<]*)', r.text)[1].replace("no_such_table", NOT_SHARED)  # noqa: E731
    assert said(hidden) == said(unknown) and "登录" in said(hidden) and 'href="/login' in hidden.text


def test_a_refused_page_says_which_dataset_it_is_and_whom_to_ask(web_server: str) -> None:
    """Someone who followed a link to a 有条件共享 dataset learns its title, the conditions of sharing
    and its owner's contact (what an application for the data needs), not the columns or rows."""
    table = get_table(CONDITIONAL)
    assert table.sharing_conditions
    for lang, title, owner in (
        ("zh", table.title_zh, table.owner.name_zh),
        ("en", table.title, table.owner.name_en),
    ):
        r = requests.get(f"{web_server}/datasets/{CONDITIONAL}?lang={lang}", timeout=10)
        assert r.status_code == 403
        refused = html.unescape(r.text.split('id="restricted"', 1)[1])
        assert title in refused and owner in refused and table.owner.contact in refused
        assert table.sharing_conditions in refused
        assert "pollutant_code" not in r.text and 'id="sample"' not in r.text
        organisation = requests.get(
            web_server + re.search(r'href="(/organisations/[^"]+)"', refused)[1], timeout=10
        )
        assert organisation.status_code == 200 and table.owner.contact in html.unescape(organisation.text)


def test_a_public_page_names_no_quarantine_table_the_viewer_may_not_see(
    web_server: str, login: Login
) -> None:
    """core_air__station_hourly is shared unconditionally; its quarantine (不予共享) is not: the page
    gives the count of quarantined rows, and names the table only to a role that may see it."""
    public = f"{web_server}/datasets/core_air__station_hourly"
    for who in (requests.Session(), login("pub")):
        page = who.get(public, timeout=10)
        assert page.status_code == 200 and "quarantine_" not in page.text and HIDDEN in page.text
    assert NOT_SHARED in login("ana").get(public, timeout=10).text


def _ingest_into_a_copy(web_home: WebHome, tmp_path: Path, *args: str) -> tuple[Path, dict[str, str], int]:
    """``ecocloud ingest ARGS`` into a copy of the web home: (home, env, exit status)."""
    home = tmp_path / "home"
    shutil.copytree(web_home.home, home)
    env = web_home.env | {"ECOCLOUD_HOME": str(home)}
    done = subprocess.run(
        [web_home.ecocloud, "ingest", *args], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return home, env, done.returncode


def _analyst_page(env: dict[str, str], password: str, path: str) -> str:
    """A page as the analyst "ana" sees it, from a web app serving ``env``'s home."""
    with running_web(env, "--insecure-cookies") as base:
        s = requests.Session()
        token = csrf_of(s.get(f"{base}/login", timeout=10).text)
        form = {"username": "ana", "password": password, "csrf_token": token}
        assert s.post(f"{base}/login", data=form, timeout=30).status_code == 200
        return s.get(f"{base}{path}", timeout=10).text


def test_the_ingestion_page_says_why_rows_were_quarantined(web_home: WebHome, tmp_path: Path) -> None:
    """Per source, the reasons most rows were quarantined for (catalog_quarantine_reasons)."""
    good = build_packet(
        qn="20261120090000000", st="32", cn="2011", mn="88883600000000000000014D", flag=5,
        data_time=dt.datetime(2026, 11, 20, 9, tzinfo=BEIJING), items={"w01018": {"Rtd": 1.0, "Flag": "N"}},
    )  # fmt: skip
    capture = tmp_path / "2026-11-20T09.h212"
    capture.write_bytes(good + good.replace(b"\r\n", b"\n") * 2 + b"##0002garbage\r\n")
    home, env, status = _ingest_into_a_copy(web_home, tmp_path, "hj212", str(capture))
    assert status == 0
    con = duckdb.connect(str(home / "ecocloud.duckdb"), read_only=True)
    try:
        reasons = con.execute(
            "SELECT reason, rows FROM catalog_quarantine_reasons "
            "WHERE table_name = 'quarantine_source__packets' ORDER BY rows DESC, reason"
        ).fetchall()
        ((quarantined,),) = con.execute("SELECT count(*) FROM quarantine_source__packets").fetchall()
    finally:
        con.close()
    assert sum(n for _, n in reasons) == quarantined == 3 and reasons[0] == ("missing_tail", 2)
    page = _analyst_page(env, web_home.password, "/overview/ingestion")
    # each reason by its registry label in the page's language, its code beside it (it showed the code only)
    assert "主要隔离原因" in page and "行尾缺少回车换行（CR LF） (<code>missing_tail</code>) 2" in page
    english = _analyst_page(env, web_home.password, "/overview/ingestion?lang=en")
    assert "does not end with CR LF (<code>missing_tail</code>) 2" in english


def test_the_ingestion_page_counts_air_quarantine_by_reason_code(web_home: WebHome, tmp_path: Path) -> None:
    """Air's quarantine reasons were free text carrying the values, one group per value on the page
    (AQI=12.5 …, AQI=13.5 …); they are codes labelled in the page's language, the values in detail."""
    day = web_home.days[-1] + dt.timedelta(days=1)
    stations = [f"9{i:03d}Z" for i in range(40)]
    lines = ["date,hour,type," + ",".join(stations)]
    for t in RELEASE_TYPES:  # every station's PM2.5 is text, each a different one; one AQI is fractional
        cells = [f"bad{i}" if t == "PM2.5" else "12.5" if t == "AQI" and i == 0 else "10" for i in range(40)]
        lines.append(f"{day:%Y%m%d},0,{t}," + ",".join(cells))
    day_file = tmp_path / f"china_sites_{day:%Y%m%d}.csv"
    day_file.write_text("\n".join(lines) + "\n")
    home, env, _ = _ingest_into_a_copy(web_home, tmp_path, "air", str(day_file))
    con = duckdb.connect(str(home / "ecocloud.duckdb"), read_only=True)
    try:
        reasons = con.execute(
            "SELECT reason, rows FROM catalog_quarantine_reasons "
            "WHERE table_name = 'quarantine_air__station_hourly' AND date = ?",
            [day],
        ).fetchall()
        details = con.execute(
            "SELECT detail FROM quarantine_air__station_hourly WHERE date = ? ORDER BY station_code", [day]
        ).fetchall()
    finally:
        con.close()
    # station 0's hour by its first cause (AQI comes before PM2.5), its detail naming both
    assert sorted(reasons) == [("aqi_not_integer", 1), ("not_a_number", 39)]
    assert details[0] == ("AQI=12.5 is not an integer; PM2.5='bad0' is not a number",)
    assert details[39] == ("PM2.5='bad39' is not a number",)
    page = html.unescape(_analyst_page(env, web_home.password, "/overview/ingestion"))
    assert (
        "数值不是数字 (<code>not_a_number</code>) 39" in page
        and "AQI 不是整数 (<code>aqi_not_integer</code>) 1" in page
    )
    english = html.unescape(_analyst_page(env, web_home.password, "/overview/ingestion?lang=en"))
    assert "a value is not a number (<code>not_a_number</code>) 39" in english


def test_the_home_page_lists_the_shared_marts_beside_the_core_datasets(web_server: str) -> None:
    """The daily statistics and rankings the public comes for are marts: the start page listed only
    the core datasets, so they were two clicks away behind a layer's card."""
    home = requests.get(f"{web_server}/", timeout=10).text
    marts = home.split('id="mart-datasets"')[1]
    shared = [t.name for t in all_tables() if t.layer is Layer.MART and t.sharing is Sharing.UNCONDITIONAL]
    assert shared and all(f'href="/datasets/{name}"' in marts for name in shared)
    hidden = [
        t.name for t in all_tables() if t.layer is Layer.MART and t.sharing is not Sharing.UNCONDITIONAL
    ]
    assert not [name for name in hidden if f'href="/datasets/{name}"' in home]


def test_the_ingestion_page_names_each_blocked_unit_and_why(web_home: WebHome, tmp_path: Path) -> None:
    """A day whose newer file is not a day file stays blocked: the page said only "blocked 1" in the
    builds table, with neither the unit nor the reason."""
    day = web_home.days[-1]
    garbage = tmp_path / f"china_sites_{day:%Y%m%d}.csv"
    garbage.write_bytes(b"<html>503 Service Unavailable</html>\n")
    _, env, status = _ingest_into_a_copy(web_home, tmp_path, "air", str(garbage))
    assert status == 1  # blocked
    page = html.unescape(_analyst_page(env, web_home.password, "/overview/ingestion"))
    listed = page.split('id="units-not-published"')[1].split("</table>")[0]
    assert f"<code>{day}</code>" in listed and "expected date,hour,type" in listed


def test_the_ingestion_page_gives_an_airflow_run_s_time_in_beijing_time(
    web_home: WebHome, tmp_path: Path
) -> None:
    """A build's last run showed Airflow's id, "scheduled__…T02:00:00+00:00", in UTC beside Beijing times."""
    run_id = "scheduled__2026-12-07T02:00:00+00:00"
    home = tmp_path / "home"
    shutil.copytree(web_home.home, home)
    env = web_home.env | {"ECOCLOUD_HOME": str(home)}
    # what an Airflow task does (ecocloud.runner.tasks): rebuild a day under the run's id, then refresh
    airflow_task = (
        "import sys; from ecocloud.runner import tasks; from ecocloud.runner.context import RunInfo; "
        "run = RunInfo(sys.argv[1], 'air_quality.build_hourly', rebuild=frozenset({sys.argv[2]})); "
        "tasks.build('air', 'hourly', run); tasks.refresh_serving()"
    )
    done = subprocess.run(
        [sys.executable, "-c", airflow_task, run_id, str(web_home.days[-1])],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    page = html.unescape(_analyst_page(env, web_home.password, "/overview/ingestion"))
    air = next(
        row for row in page.split('id="builds"')[1].split("</table>")[0].split("<tr") if "air.hourly" in row
    )
    assert ">scheduled 2026-12-07 10:00 (UTC+8)</code>" in air  # the run's time as Beijing reads it
    assert f'title="{run_id}"' in air and f"<code>{run_id}</code>" in air  # the id to search Airflow by


def test_the_ingestion_page_shows_a_source_whose_landing_fails(web_home: WebHome, tmp_path: Path) -> None:
    """An upstream down failed the scheduled landing in Airflow only: the page showed a clean board, as a
    failed landing builds nothing (the trial of `up` with every upstream unreachable)."""
    home = tmp_path / "home"
    shutil.copytree(web_home.home, home)
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{unused.getsockname()[1]}/water"
    env = web_home.env | {
        "ECOCLOUD_HOME": str(home),
        "ECOCLOUD_WATER_BASE_URL": dead,
        "ECOCLOUD_HTTP_RETRIES": "0",
    }
    run_id = "scheduled__2026-12-07T02:00:00+00:00"
    # what the DAG's land task does (ecocloud.runner.tasks), then the serving refresh of a later task
    airflow_task = (
        "import sys; from ecocloud.runner import tasks; from ecocloud.runner.context import RunInfo; "
        "import datetime as dt; start = dt.datetime(2026, 12, 7, 1, tzinfo=dt.UTC); "
        "run = RunInfo(sys.argv[1], 'surface_water.land', (start, start + dt.timedelta(hours=1)))\n"
        "try:\n    tasks.land('water', run)\nexcept Exception as exc:\n    print('failed:', exc)\n"
        "tasks.refresh_serving()"
    )
    done = subprocess.run(
        [sys.executable, "-c", airflow_task, run_id], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "failed:" in done.stdout, done.stdout + done.stderr
    page = html.unescape(_analyst_page(env, web_home.password, "/overview/ingestion"))
    failed = page.split('id="failed-landings"')[1].split("</table>")[0]
    assert "地表水" in failed and dead in failed and f"<code>{run_id}</code>" in failed


def test_the_site_has_an_icon(web_server: str) -> None:
    """Every browser asks for /favicon.ico: it was a 404 in every page's log."""
    icon = requests.get(f"{web_server}/favicon.ico", timeout=10)
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert (
        icon.content.startswith(b"<svg") and 'rel="icon"' in requests.get(f"{web_server}/", timeout=10).text
    )


def test_the_ingestion_page_counts_each_source_s_rows_as_the_catalog_does(
    web_server: str, web_home: WebHome, login: Login
) -> None:
    """The platform's row said 0 published rows beside its gate results' 1,319 (a quality table)."""
    con = duckdb.connect(str(web_home.home / "ecocloud.duckdb"), read_only=True)
    try:
        expected = {
            source: (published, quarantined)
            for source, published, quarantined in con.execute(
                # the layers written out, not read from the registry the page reads them from
                "SELECT source, sum(rows) FILTER (WHERE layer IN ('core', 'mart', 'quality')), "
                "sum(rows) FILTER (WHERE layer = 'quarantine') FROM catalog_datasets "
                "WHERE layer NOT IN ('catalog', 'platform') GROUP BY source"
            ).fetchall()
        }
        ((gate_rows,),) = con.execute("SELECT count(*) FROM quality_platform__expectation_results").fetchall()
    finally:
        con.close()
    page = login("ana").get(f"{web_server}/overview/ingestion", timeout=10).text
    table = page.split('id="sources"')[1].split("</table>")[0]
    shown = {}
    for row in table.split("<tr")[2:]:
        source = re.search(r'href="/datasets\?q=(\w+)"', row)
        numbers = [int(n.replace(",", "")) for n in re.findall(r'<td class="num">([\d,]+)</td>', row)]
        assert source and len(numbers) == 6, row
        shown[source.group(1)] = (numbers[4], numbers[5])
    assert shown == {k: (p or 0, q or 0) for k, (p, q) in expected.items()}
    assert shown["platform"][0] == gate_rows > 0  # the platform's one table: the gate results


def test_roles_missing_pages_and_hidden_tables_are_named_in_the_page_s_language(
    web_server: str, login: Login
) -> None:
    """A Chinese page said "ana · analyst" and "Not Found"; an English one "(受限数据集 (restricted))"."""
    analyst = login("ana")
    assert '<span class="who">ana · 分析人员</span>' in analyst.get(f"{web_server}/", timeout=10).text
    missing = requests.get(f"{web_server}/no/such/page", timeout=10)
    assert missing.status_code == 404 and "没有这个页面：请检查地址" in missing.text
    assert "Not Found" not in missing.text
    english = requests.get(f"{web_server}/no/such/page", params={"lang": "en"}, timeout=10)
    assert "no such page: check the address" in english.text
    dataset = requests.get(f"{web_server}/datasets/{OPEN}", params={"lang": "en"}, timeout=10).text
    quarantined = dataset.split("Quarantined rows")[1].split("</tr>")[0]
    assert "(a restricted dataset)" in quarantined and "受限" not in quarantined
    try:
        english_header = analyst.get(f"{web_server}/", params={"lang": "en"}, timeout=10).text
        assert '<span class="who">ana · analyst</span>' in english_header
    finally:
        analyst.get(f"{web_server}/", params={"lang": "zh"}, timeout=10)


def test_pages_name_sources_and_layers_in_the_page_s_language(web_server: str, login: Login) -> None:
    """Not by their codes (air, core …) on a Chinese page."""
    assert "核心层 ·" in requests.get(f"{web_server}/", timeout=10).text
    analyst = login("ana")
    ingestion = analyst.get(f"{web_server}/overview/ingestion", timeout=10).text
    assert '>环境空气</a> <span class="small">air</span>' in ingestion
    try:
        english = analyst.get(f"{web_server}/overview/ingestion", params={"lang": "en"}, timeout=10).text
        assert ">ambient air</a>" in english and "环境空气" not in english
        # a label that says its code is not followed by it ("ambient air air", "the platform itself platform")
        assert ">ambient air</a></td>" in english and ">the platform itself</a></td>" in english
    finally:
        analyst.get(f"{web_server}/", params={"lang": "zh"}, timeout=10)
    dataset = requests.get(f"{web_server}/datasets/{OPEN}", timeout=10).text
    assert "核心层" in dataset and "环境空气" in dataset


def test_every_address_of_the_dcat_export_answers(web_server: str, login: Login) -> None:
    """A harvester dereferences the export's URIs: the catalog, each dataset, its publisher, the SQL
    service (fragments are parts of a page). /catalog, /organisations/… and /regions/… were 404s."""
    analyst = login("ana")
    doc = analyst.get(f"{web_server}/catalog.jsonld", timeout=30).json()
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.update(v for k, v in node.items() if k == "@id" and isinstance(v, str))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    ours = {uri.split("#")[0] for uri in found if uri.startswith(web_server)}
    assert {f"{web_server}/catalog.jsonld", f"{web_server}/sql", f"{web_server}/datasets/{OPEN}"} <= ours
    assert any("/organisations/" in uri for uri in ours)
    for uri in sorted(ours):
        r = analyst.get(uri, timeout=30)
        assert r.status_code == 200, (uri, r.status_code)
    (open_entry,) = [d for d in doc["dcat:dataset"] if d["dct:identifier"] == OPEN]
    page = requests.get(open_entry["dct:publisher"]["@id"], timeout=30).text  # anonymous: open datasets only
    assert f'href="/datasets/{OPEN}"' in page and f"/datasets/{NOT_SHARED}" not in page


def test_roles_against_sharing_levels(web_server: str, login: Login) -> None:
    analyst = login("ana")
    page = analyst.get(f"{web_server}/datasets/{CONDITIONAL}", timeout=10)
    assert page.status_code == 200 and 'id="sample"' in page.text
    closed = analyst.get(f"{web_server}/datasets/{NOT_SHARED}", timeout=10)
    assert closed.status_code == 200 and 'id="no-sample"' in closed.text and 'id="sample"' not in closed.text
    admin = login("boss").get(f"{web_server}/datasets/{NOT_SHARED}", timeout=10)
    assert 'id="sample"' in admin.text
    assert analyst.get(f"{web_server}/overview/ingestion", timeout=10).status_code == 200
    assert requests.get(f"{web_server}/overview/ingestion", timeout=10).status_code == 403
    assert analyst.get(f"{web_server}/risk", timeout=10).status_code == 403
    assert login("enf").get(f"{web_server}/risk", timeout=10).status_code == 200
    assert analyst.get(f"{web_server}/admin/users", timeout=10).status_code == 403


def test_login_csrf_origin_logout_and_cookie_flags(web_server: str, web_home: WebHome) -> None:
    s = requests.Session()
    page = s.get(f"{web_server}/login", timeout=10)
    token = csrf_of(page.text)
    no_token = s.post(
        f"{web_server}/login", data={"username": "ana", "password": web_home.password}, timeout=10
    )
    # a stale form's refusal in the page's language (Chinese unless English was chosen)
    assert no_token.status_code == 403 and "CSRF" in no_token.text and "请刷新页面后重试" in no_token.text
    assert "reload the page" not in no_token.text
    stale_en = requests.post(  # (not in s: ?lang= sets the language cookie)
        f"{web_server}/login?lang=en", data={"username": "ana", "password": web_home.password}, timeout=10
    )
    assert stale_en.status_code == 403 and "CSRF token missing or invalid: reload the page" in stale_en.text
    other_site = s.post(
        f"{web_server}/login",
        data={"username": "ana", "password": web_home.password, "csrf_token": token},
        headers={"Origin": "https://evil.example"},
        timeout=10,
    )
    assert other_site.status_code == 403 and "拒绝来自其他网站的表单提交" in other_site.text
    assert "cross-site" not in other_site.text
    wrong = s.post(
        f"{web_server}/login",
        data={"username": "ana", "password": "wrong-password!", "csrf_token": token},
        timeout=30,
    )
    assert wrong.status_code == 401 and "ecocloud_session" not in s.cookies
    ok = s.post(
        f"{web_server}/login",
        data={"username": "ana", "password": web_home.password, "csrf_token": token},
        timeout=30,
        allow_redirects=False,
    )
    cookie = ok.headers["set-cookie"]
    assert "ecocloud_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # served with --insecure-cookies on loopback
    assert s.get(f"{web_server}/sql", timeout=10).status_code == 200
    session_token = s.cookies["ecocloud_session"]
    # after login the forms carry the session's token, not the login page's
    logout_token = csrf_of(s.get(f"{web_server}/", timeout=10).text)
    assert logout_token != token
    assert s.post(f"{web_server}/logout", data={"csrf_token": logout_token}, timeout=10).status_code == 200
    stale = requests.get(f"{web_server}/sql", cookies={"ecocloud_session": session_token}, timeout=10)
    assert stale.status_code == 403  # the session row is gone


def test_secure_cookies_by_default_and_refused_insecure_off_loopback(web_home: WebHome) -> None:
    with web_home.serve() as base:
        form = requests.get(f"{base}/login", timeout=10)
        assert "Secure" in form.headers["set-cookie"]
        # a browser on https would send the cookie back; requests keeps Secure cookies off plain http
        r = requests.post(
            f"{base}/login",
            data={"username": "ana", "password": web_home.password, "csrf_token": csrf_of(form.text)},
            cookies={"ecocloud_csrf": form.cookies["ecocloud_csrf"]},
            timeout=30,
            allow_redirects=False,
        )
        assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
    refused = subprocess.run(
        [web_home.ecocloud, "serve", "--host", "0.0.0.0", "--insecure-cookies"],
        env=web_home.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2 and "loopback" in refused.stdout + refused.stderr
    assert "serving the web app" not in refused.stdout + refused.stderr  # refused before it says so


def test_serve_says_where_it_listens(web_home: WebHome) -> None:
    """A new user starting `ecocloud serve` saw nothing at all: not the address, nor that it runs."""
    port = free_port()
    proc = subprocess.Popen(
        [web_home.ecocloud, "serve", "--port", str(port)],
        env=web_home.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        said = proc.stdout.readline() + proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert f"at http://127.0.0.1:{port}/ (Ctrl-C stops it)" in said
    assert "--insecure-cookies" in said  # Secure cookies by default: how plain-http clients log in


def test_login_throttle(web_server: str, web_home: WebHome) -> None:
    known = requests.Session()  # a browser enf logged in from before: it holds a device cookie
    known_token = csrf_of(known.get(f"{web_server}/login", timeout=10).text)
    right = {"username": "enf", "password": web_home.password}
    first = known.post(f"{web_server}/login", data=right | {"csrf_token": known_token}, timeout=30)
    assert first.status_code == 200 and "ecocloud_session" in known.cookies
    (device,) = [
        c for c in first.history[0].raw.headers.getlist("set-cookie") if c.startswith("ecocloud_device=")
    ]
    assert {"path=/login", "httponly", "samesite=strict", f"max-age={180 * 86_400}"} <= {
        a.strip().lower() for a in device.split(";")
    }
    (session,) = [c for c in known.cookies if c.name == "ecocloud_session"]
    known.cookies.clear(session.domain, session.path, session.name)

    s = requests.Session()
    token = csrf_of(s.get(f"{web_server}/login", timeout=10).text)
    codes = [
        s.post(
            f"{web_server}/login",
            data={"username": "enf", "password": "not-it-at-all", "csrf_token": token},
            timeout=30,
        ).status_code
        for _ in range(6)
    ]
    assert codes == [401] * 5 + [429]
    # refused even with the right password while throttled
    refused = s.post(
        f"{web_server}/login",
        data={"username": "enf", "password": web_home.password, "csrf_token": token},
        timeout=30,
    )
    assert refused.status_code == 429 and "ecocloud_session" not in s.cookies
    # the known browser, on the same address, is not locked out by the stranger's guesses
    known_token = csrf_of(known.get(f"{web_server}/login", timeout=10).text)  # a login ends the form's token
    again = known.post(f"{web_server}/login", data=right | {"csrf_token": known_token}, timeout=30)
    assert again.status_code == 200 and "ecocloud_session" in known.cookies


@pytest.mark.parametrize(("proxy", "trusted"), [("127.0.0.1", True), ("10.255.255.1", False)])
def test_behind_a_reverse_proxy(tmp_path: Path, proxy: str, trusted: bool) -> None:
    """The login throttle counts each client a trusted proxy forwards for on its own; from a proxy not
    named in ECOCLOUD_WEB_FORWARDED_ALLOW_IPS the forwarding is not believed (all its clients are one).
    A form posted from the public address passes the Origin check when the proxy passes another Host."""
    (tmp_path / "home").mkdir()
    env = outside_env() | {
        "ECOCLOUD_HOME": str(tmp_path / "home"),
        "ECOCLOUD_WEB_FORWARDED_ALLOW_IPS": proxy,
        "ECOCLOUD_WEB_LOGIN_MAX_FAILURES": "1",  # per client: 4
        "ECOCLOUD_CATALOG_BASE_URL": "https://eco.example.gov.cn",
    }
    with running_web(env, "--insecure-cookies") as base:
        s = requests.Session()
        token = csrf_of(s.get(f"{base}/login", timeout=10).text)

        def login(name: str, client: str, **headers: str) -> int:
            data = {"username": name, "password": "not-the-password", "csrf_token": token}
            headers["X-Forwarded-For"] = client
            return s.post(f"{base}/login", data=data, headers=headers, timeout=30).status_code

        codes = [login(f"user{i}", f"203.0.113.{i}") for i in range(6)]
        assert codes == ([401] * 6 if trusted else [401] * 4 + [429] * 2)
        if trusted:  # an IPv6 client counts by its /64: one host may send from any address in it
            codes = [login(f"v6user{i}", f"2001:db8:0:1::{i + 1:x}") for i in range(5)]
            assert codes == [401] * 4 + [429]
            assert login("v6other", "2001:db8:0:2::1") == 401
        # the Host the proxy passes on (requests then files the session's cookies under that host)
        proxied = {"Host": "ecocloud-web:8080", "Cookie": f"ecocloud_csrf={s.cookies['ecocloud_csrf']}"}
        assert login("ana", "203.0.113.9", Origin="https://evil.example", **proxied) == 403
        for i, public in enumerate(("https://eco.example.gov.cn", "https://ECO.Example.gov.cn:443")):
            assert login(f"ana{i}", f"203.0.113.{20 + i}", Origin=public, **proxied) == (
                401 if trusted else 429
            )
        assert login("ana", "203.0.113.9", Origin="http://eco.example.gov.cn", **proxied) == 403


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/overview/air?date=2026-13-45", 400),
        ("/overview/air?date=not-a-date", 400),
        ("/overview/air/stations/J001A?from=2026-01-01&to=2025-01-01", 400),
        ("/overview/air/stations/%2E%2E%2Fetc", 404),
        ("/overview/air/stations/J001A?from=2020-01-01&to=2020-12-31", 400),
        ("/overview/water?basin=%3Cscript%3E", 404),
        ("/overview/sources?date=not-a-date", 400),
        ("/overview/sources?date=2026-01-01", 404),  # no disclosed results that day
        ("/overview/sources?q=" + "x" * 101, 400),
        ("/datasets?layer=nope", 400),
        ("/datasets/no_such_table", 404),
        ("/datasets/core_air__station_hourly/quality?run=nope", 404),
        ("/no/such/page", 404),
    ],
)
def test_bad_parameters_get_a_clear_4xx_page(web_server: str, path: str, status: int) -> None:
    r = requests.get(web_server + path, timeout=10)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert "<script>" not in r.text.split("<footer>")[0].split("</header>")[1]
    no_trace(r)


def test_a_bad_parameter_is_explained_in_the_page_s_language(web_server: str) -> None:
    chinese = requests.get(f"{web_server}/overview/air?date=not-a-date", timeout=10)
    assert chinese.status_code == 400 and "参数 date 应为日期（YYYY-MM-DD）" in chinese.text
    english = requests.get(f"{web_server}/overview/air?date=not-a-date&lang=en", timeout=10)
    assert english.status_code == 400 and "parameter date should be a date (YYYY-MM-DD)" in english.text
    month = requests.get(f"{web_server}/overview/air?date=2026-13-45&lang=en", timeout=10)
    assert "parameter date should be a date (YYYY-MM-DD)" in month.text  # not pydantic's own words
    # a parameter named like a place (the search box's q, the SQL form's query) is still named
    long = requests.get(f"{web_server}/datasets", params={"q": "x" * 201}, timeout=10)
    assert long.status_code == 400 and "参数 q 过长（最多 200 个字符）" in long.text


def test_sql_by_role(web_server: str, web_home: WebHome, login: Login) -> None:
    analyst = login("ana")
    token = csrf_of(analyst.get(f"{web_server}/sql", timeout=10).text)
    files = web_home.home / "lake" / "quarantine" / NOT_SHARED / "*" / "*.parquet"
    assert list(files.parent.parent.glob("*/*.parquet")), "the forbidden table has files to read"

    def run(who: requests.Session, sql: str) -> requests.Response:
        return who.post(f"{web_server}/sql", data={"query": sql, "csrf_token": token}, timeout=60)

    ok = run(analyst, f"WITH h AS (SELECT * FROM {OPEN}) SELECT count(*) AS n FROM h")
    assert ok.status_code == 200 and 'id="sql-result"' in ok.text
    many = run(analyst, f"SELECT * FROM {OPEN} LIMIT 501")  # the page shows 500 rows, and says so
    assert many.status_code == 200 and many.text.count("<tr>") == 1 + 500
    assert "only the first 500 shown" in many.text or "仅显示前 500 行" in many.text
    # a query over the limit: the page again with the query and why (the text box cut it silently)
    pasted = f"SELECT '{'y' * 20_000}' AS s"
    too_long = run(analyst, pasted)
    assert too_long.status_code == 400 and "查询过长：20,014 个字符，最多 20,000 个" in too_long.text
    assert pasted in html.unescape(too_long.text) and "maxlength" not in too_long.text.split("<textarea")[1]
    long = run(analyst, "SELECT repeat('x', 5000) AS s")  # a cell is shown up to 1,000 characters
    assert long.status_code == 200 and "x" * 999 + "…" in long.text and "x" * 1000 not in long.text
    for refused in (
        f"SELECT * FROM {NOT_SHARED}",
        f'SELECT * FROM "{NOT_SHARED.upper()}"',
        f"SELECT * FROM {OPEN} WHERE station_code IN (SELECT station_code FROM {NOT_SHARED})",
        "SELECT * FROM read_parquet('/etc/passwd')",
        "SELECT * FROM information_schema.tables",
        # a forbidden table's files by path, passed off as a CTE defined in another scope or by itself
        f'SELECT * FROM (WITH "{files}" AS (SELECT 1) SELECT 1) t, "{files}"',
        f'WITH "{files}" AS (FROM "{files}") SELECT * FROM "{files}"',
        f"WITH {NOT_SHARED} AS (FROM {NOT_SHARED}) SELECT * FROM {NOT_SHARED}",
        "WITH duckdb_views AS (FROM duckdb_views) SELECT sql FROM duckdb_views",
        "SELECT " + " + ".join(["1"] * 1000),  # a syntax tree too deep to read back: not checked, refused
    ):
        r = run(analyst, refused)
        assert r.status_code == 400 and 'id="sql-result"' not in r.text, refused
        no_trace(r)
    # refused by the role, not by the sandbox, whose message names the table's files; in the page's language
    shown = run(analyst, f"SHOW {NOT_SHARED}")
    assert shown.status_code == 400 and f"您的角色无权查询，或没有这个表：{NOT_SHARED}" in shown.text
    assert str(web_home.home) not in shown.text
    typo = run(analyst, f"SELECT * FROM {OPEN} WHERE station_code = '1001A' AND")
    assert typo.status_code == 400 and '查询有语法错误：syntax error at or near "AND"' in html.unescape(
        typo.text
    )
    unknown = run(analyst, f"SELECT station_cod FROM {OPEN}")  # DuckDB's hint kept
    assert (
        unknown.status_code == 400 and "Candidate bindings" in unknown.text and "station_code" in unknown.text
    )
    pivot = run(analyst, f"PIVOT {OPEN} ON station_code USING count(*)")
    assert pivot.status_code == 400 and "这里无法校验 PIVOT 语句" in pivot.text
    pivoted = run(analyst, f"SELECT * FROM {OPEN} PIVOT (count(*) FOR station_code IN ('1001A'))")
    assert pivoted.status_code == 200 and 'id="sql-result"' in pivoted.text  # as the message says
    try:
        english = analyst.post(
            f"{web_server}/sql?lang=en", data={"query": f"SHOW {NOT_SHARED}", "csrf_token": token}, timeout=60
        )
        assert f"not allowed for your role, or no such table: {NOT_SHARED}" in english.text
        assert "您的角色" not in english.text
    finally:
        analyst.get(f"{web_server}/", params={"lang": "zh"}, timeout=10)
    admin = login("boss")
    admin_token = csrf_of(admin.get(f"{web_server}/sql", timeout=10).text)
    r = admin.post(
        f"{web_server}/sql",
        data={"query": f"SELECT count(*) FROM {NOT_SHARED}", "csrf_token": admin_token},
        timeout=60,
    )
    assert r.status_code == 200 and 'id="sql-result"' in r.text
    # a vector of 2,048 strings of 1.5 MB (3 GB) is built before a row comes back, whatever memory_limit
    # says: the query's own process is capped (memory_limit + 1 GiB), the web app goes on
    hungry = admin.post(
        f"{web_server}/sql",
        data={"query": "SELECT repeat('x', 1500000) AS s FROM range(2048)", "csrf_token": admin_token},
        timeout=60,
    )
    assert hungry.status_code == 400 and "的内存（ECOCLOUD_SQL_MEMORY_LIMIT）" in hungry.text
    assert run(analyst, f"SELECT count(*) AS n FROM {OPEN}").status_code == 200
    assert requests.get(f"{web_server}/sql", timeout=10).status_code == 403


def test_a_wide_sql_result_is_cut_to_the_page_s_cell_budget(web_server: str, login: Login) -> None:
    """Every value of a result is rebuilt and rendered in the web app's own process, which has no
    memory cap: a page holds at most 50,000 cells (ECOCLOUD_WEB_SQL_MAX_CELLS), so a wide result
    shows fewer rows, and one whose single row is wider than that is refused."""
    analyst = login("ana")
    token = csrf_of(analyst.get(f"{web_server}/sql", timeout=10).text)
    subquery = "SELECT " + ", ".join(["unnest(range(501)) AS c0"] + [f"{i} AS c{i}" for i in range(1, 31)])

    def stars(n: int) -> str:  # n times the subquery's 31 columns
        sql = "SELECT " + ", ".join(["*"] * n) + f" FROM ({subquery})"
        return analyst.post(f"{web_server}/sql", data={"query": sql, "csrf_token": token}, timeout=60).text

    wide = stars(480)  # 14,880 columns: 3 rows fit, not the 500 the page shows of a narrow result
    assert wide.count("<tr>") == 1 + 3 and wide.count("<td>") == 3 * 14_880
    assert (
        "only the first 3 rows shown: a page shows at most 50,000 cells" in wide
        or "仅显示前 3 行：每页最多显示 50,000 个单元格" in wide
    )
    assert len(wide.encode()) < 2_000_000
    wider = stars(1_613)  # 50,003 columns: not one row fits
    assert 'id="sql-result"' not in wider and "结果有 50,003 列，超过一页最多显示的 50,000 个单元格" in wider
    assert len(wider.encode()) < 100_000
    # within the cells, long text: 500 rows of ten 1,000-character cells of '<' (escaped five times
    # over) are cut to the page's 2,000,000 characters
    long_text = (
        "SELECT "
        + ", ".join(f"repeat('<', 1000) AS t{i}" for i in range(10))
        + " FROM (SELECT unnest(range(500)) AS n)"
    )
    page = analyst.post(f"{web_server}/sql", data={"query": long_text, "csrf_token": token}, timeout=60)
    assert page.status_code == 200 and page.text.count("<tr>") == 1 + 200
    assert (
        "a page shows at most 2,000,000 characters" in page.text
        or "每页最多显示 2,000,000 个字符" in page.text
    )
    assert len(page.content) < 12_000_000


def test_the_sql_page_says_how_many_rows_a_result_has_and_downloads_it_whole(
    web_server: str, web_home: WebHome, login: Login
) -> None:
    """The page showed "500 行 · 仅显示前 500 行" of a result of thousands, and sent a web user to
    `ecocloud sql … --out` and ECOCLOUD_SQL_MAX_ROWS: it says the whole result's rows, and offers
    the whole result as CSV, run as the page runs it (the role's tables, the sandbox, the row cap)."""
    analyst = login("ana")
    token = csrf_of(analyst.get(f"{web_server}/sql", timeout=10).text)
    con = duckdb.connect(str(web_home.home / "ecocloud.duckdb"), read_only=True)
    try:
        (n,) = con.execute(f"SELECT count(*) FROM {OPEN}").fetchall()[0]
    finally:
        con.close()
    assert 500 < n < 100_000
    query = f"SELECT station_code, observed_at, pm25_ugm3 FROM {OPEN}"
    page = analyst.post(f"{web_server}/sql", data={"query": query, "csrf_token": token}, timeout=60)
    count = re.search(r'<p class="small" id="sql-count">(.*?)</p>', page.text, re.S)
    assert page.status_code == 200 and count and count.group(1) == f"共 {n:,} 行 · 仅显示前 500 行"
    assert "ECOCLOUD_SQL_MAX_ROWS" not in page.text and "ecocloud sql" not in page.text
    form = re.search(r'<form method="post" action="/sql/result.csv".*?</form>', page.text, re.S)
    assert form and html.unescape(re.findall(r'name="query" value="([^"]*)"', form.group(0))[0]) == query

    def download(who: requests.Session, sql: str, csrf: str = token) -> requests.Response:
        return who.post(f"{web_server}/sql/result.csv", data={"query": sql, "csrf_token": csrf}, timeout=60)

    whole = download(analyst, query)
    assert whole.status_code == 200 and whole.headers["content-type"].startswith("text/csv")
    assert "attachment" in whole.headers["content-disposition"]
    assert whole.content.startswith(codecs.BOM_UTF8)  # for a spreadsheet, as `ecocloud sql --out x.csv`
    rows = list(csv.reader(io.StringIO(whole.content.decode("utf-8-sig"))))
    assert rows[0] == ["station_code", "observed_at", "pm25_ugm3"] and len(rows) == n + 1
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", rows[1][1])  # Beijing wall time
    # more rows than a download holds (ECOCLOUD_SQL_MAX_ROWS, 100,000): said on the page, refused whole
    square = f"SELECT a.station_code FROM {OPEN} a, {OPEN} b"
    big = analyst.post(f"{web_server}/sql", data={"query": square, "csrf_token": token}, timeout=60)
    assert f"共 {n * n:,} 行" in big.text and "结果超过下载上限 100,000 行" in big.text
    assert 'action="/sql/result.csv"' not in big.text
    refused = download(analyst, square)
    assert refused.status_code == 400 and "结果超过下载上限 100,000 行" in refused.text
    assert not refused.headers["content-type"].startswith("text/csv")
    # the page's refusals stand: another role's table, files, the token, a visitor
    for sql in (
        f"SELECT * FROM {NOT_SHARED}",
        "SELECT * FROM read_text('/etc/passwd')",
        "COPY (SELECT 1) TO 'x.csv'",
    ):
        r = download(analyst, sql)
        assert r.status_code == 400 and not r.headers["content-type"].startswith("text/csv"), sql
        no_trace(r)
    assert download(analyst, query, "forged").status_code == 403
    assert requests.post(f"{web_server}/sql/result.csv", data={"query": query}, timeout=10).status_code == 403


def test_admin_adds_and_removes_a_user_through_the_form(web_server: str, login: Login) -> None:
    admin = login("boss")
    token = csrf_of(admin.get(f"{web_server}/admin/users", timeout=10).text)
    added = admin.post(
        f"{web_server}/admin/users",
        data={"username": "newbie", "password": "a-long-password", "role": "analyst", "csrf_token": token},
        timeout=30,
    )
    assert added.status_code == 200 and "newbie" in added.text
    row = re.search(r"<td>newbie</td>.*?</tr>", added.text, re.S)
    assert row and "(UTC+8)" in row.group(0)  # created, in the time every other page shows
    login("newbie", "a-long-password")
    # the form's refusals in the page's language, without the CLI's flags
    again = {"username": "newbie", "password": "a-long-password", "role": "analyst", "csrf_token": token}
    taken = admin.post(f"{web_server}/admin/users", data=again, timeout=30)
    assert taken.status_code == 400 and "用户 newbie 已存在" in taken.text and "--replace" not in taken.text
    short = admin.post(f"{web_server}/admin/users?lang=en", data={**again, "username": "x2", "password": "a"})
    assert short.status_code == 400 and "passwords have at least" in short.text
    forged = admin.post(f"{web_server}/admin/users/newbie/remove", data={"csrf_token": "forged"}, timeout=10)
    assert forged.status_code == 403 and "reload the page" in forged.text  # English, as chosen above
    removed = admin.post(f"{web_server}/admin/users/newbie/remove", data={"csrf_token": token}, timeout=10)
    assert removed.status_code == 200 and "newbie" not in removed.text
    # a user someone else removed meanwhile: said in the page's language
    gone_en = admin.post(f"{web_server}/admin/users/newbie/remove", data={"csrf_token": token}, timeout=10)
    assert gone_en.status_code == 404 and "no user 'newbie'" in html.unescape(gone_en.text)
    gone = admin.post(
        f"{web_server}/admin/users/newbie/remove?lang=zh", data={"csrf_token": token}, timeout=10
    )
    assert gone.status_code == 404 and "没有用户 newbie" in gone.text and "no user" not in gone.text
    forged = admin.post(f"{web_server}/admin/users/newbie/remove", data={"csrf_token": "forged"}, timeout=10)
    assert forged.status_code == 403 and "请刷新页面后重试" in forged.text and "reload" not in forged.text


def test_pages_use_only_this_site_and_send_security_headers(web_server: str, login: Login) -> None:
    for path in ("/", "/overview/air", "/overview/water", "/overview/sources", f"/datasets/{OPEN}"):
        r = requests.get(web_server + path, timeout=10)
        assert r.status_code == 200
        refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert refs and all(ref.startswith(("/", "?", "#")) for ref in refs), [
            x for x in refs if not x.startswith("/")
        ]
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"
        # a first visit sets the CSRF cookie: no shared cache may keep that page for the next visitor
        assert "ecocloud_csrf=" in r.headers["set-cookie"] and r.headers["cache-control"] == "no-store"
    js = requests.get(f"{web_server}/vendor/plotly.min.js", timeout=30)
    assert js.status_code == 200 and "plotly" in js.text[:400].lower()
    # the chart library (4.8 MB) gzipped and cached by the browser, also for a signed-in visitor
    # (a page of theirs is no-store; the library is the same bytes for everyone, and sets no cookie)
    assert js.headers["content-encoding"] == "gzip" and int(js.headers["content-length"]) < 2_000_000
    assert js.headers["cache-control"] == "public, max-age=86400" and "set-cookie" not in js.headers
    signed_in = login("ana").get(f"{web_server}/vendor/plotly.min.js", timeout=30)
    assert signed_in.headers["cache-control"] == "public, max-age=86400"
    for refused in ("identity", "gzip;q=0"):
        plain = requests.get(
            f"{web_server}/vendor/plotly.min.js", headers={"Accept-Encoding": refused}, timeout=30
        )
        assert "content-encoding" not in plain.headers and plain.content == js.content
    again = requests.get(
        f"{web_server}/vendor/plotly.min.js", headers={"If-None-Match": js.headers["etag"]}, timeout=30
    )
    assert again.status_code == 304 and not again.content  # a day later: revalidated, not sent again
    css = requests.get(f"{web_server}/static/app.css", timeout=10)
    assert css.status_code == 200 and css.headers["cache-control"] == "no-cache" and css.headers["etag"]
    missing = requests.get(f"{web_server}/static/nothing.css", params={"lang": "en"}, timeout=10)
    assert missing.status_code == 404 and "no such page" in missing.text  # in the language asked
    assert missing.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in missing.headers["content-security-policy"]


def test_overview_pages_hold_chart_data(web_server: str, web_home: WebHome) -> None:
    air = requests.get(f"{web_server}/overview/air", timeout=10).text
    figure = re.search(r'id="ranking-chart-figure">(.*?)</script>', air, re.S)
    assert figure and '"type": "bar"' in figure.group(1) and "南昌" in figure.group(1)
    station = requests.get(f"{web_server}/overview/air/stations/J001A", timeout=10)
    assert station.status_code == 200 and web_home.days[-1].isoformat() in station.text
    # the chart's hours in Beijing wall time: Plotly ignores an offset, so a UTC instant drew 8 h early
    chart = re.search(r'id="station-chart-figure">(.*?)</script>', station.text, re.S)
    assert chart
    hours = json.loads(chart.group(1))["data"][0]["x"]
    # the natural days shown: the hours ending 01:00 … 24:00 (the last day's 24:00 is in a file not
    # landed here), stamped by their end as the release does
    assert (
        hours[0] == f"{web_home.days[0].isoformat()} 01:00"
        and hours[-1] == f"{web_home.days[-1].isoformat()} 23:00"
    )
    # the hours as a table too (a chart alone is no help to a screen reader), one row per hour
    table = station.text.split('id="station-hours"')[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + len(hours) and f'<td class="nowrap">{hours[0]}</td>' in table
    # a period without data says so, with the dates that have some (it drew an empty chart of 2000)
    empty = requests.get(
        f"{web_server}/overview/air/stations/J001A?from=2030-01-01&to=2030-01-31", timeout=10
    )
    assert empty.status_code == 200 and 'id="station-chart' not in empty.text
    notice = html.unescape(empty.text.split('id="no-hours">')[1].split("</p>")[0])
    assert notice == (
        f"站点 J001A 在 2030-01-01 至 2030-01-31 没有小时数据；它有数据的日期为 {web_home.days[0]} 至 "
        f"{web_home.days[-1]}。"
    )
    water = requests.get(f"{web_server}/overview/water", timeout=10).text
    assert 'id="basin-chart-1-figure"' in water
    # the English page says the basins' water quality in English, in ASCII brackets
    english = requests.get(f"{web_server}/overview/water?lang=en", timeout=10).text
    table = english[english.index("<tbody>") :]
    assert re.search(r"<td>(excellent|good|slightly polluted|moderately polluted|heavily polluted)", table)
    assert "（" not in table and not re.search(r"<td>(优|良好|轻度污染|中度污染|重度污染)", table)


def test_the_water_overview_counts_the_sections_it_could_not_classify(
    web_home: WebHome, tmp_path: Path
) -> None:
    """A basin's sections are those with a class that month: the overview showed 42 of the catalog's 43
    sections without a word of the one with nothing measured — nor of one classed without its TP,
    which counted in the shares. The board's snapshot in ``web_home`` depends on the day (a
    maintenance row, every value "--", is there on some days only), so this test ingests one it
    makes: today's board, a new section under maintenance and a new one without TP."""
    from ecocloud.simulator.water import THEAD, WaterQuirks, board_reply, board_rows, jiangxi_sections

    now = dt.datetime.now(BEIJING).replace(tzinfo=None, second=0, microsecond=0)
    rows, _ = board_rows(
        jiangxi_sections(2026), now, seed=2026, quirks=WaterQuirks(), publish_lag=dt.timedelta(minutes=30)
    )
    # a new section under maintenance: class -1, every value "--" after province, basin, name, time and
    # class (a known section has a reading with values this month already, from web_home's snapshot)
    rows.append([*rows[0][:2], "新设断面", rows[0][3], "-1", *(["--"] * (len(rows[0]) - 5))])
    # from a reading with every value (some hours' first row already lacks one: 高锰酸盐指数 at 08:00)
    complete = next(row for row in rows if "--" not in row[5:])
    without_tp = [*complete[:2], "缺项断面", *complete[3:]]
    without_tp[next(i for i, h in enumerate(THEAD) if "总磷" in h)] = "--"
    rows.append(without_tp)
    reply = tmp_path / f"water_board_{now:%Y%m%d}.json"
    reply.write_bytes(board_reply(rows, 1, len(rows)))
    sections = str(web_home.home / "sections.csv")
    home, env, status = _ingest_into_a_copy(
        web_home, tmp_path, "water", str(reply), "--sections", sections, "--fetched-at", now.isoformat()
    )
    assert status == 0
    con = duckdb.connect(str(home / "ecocloud.duckdb"), read_only=True)
    try:
        unclassified = con.execute(
            "SELECT month, basin, count(*) - count(water_class) AS n FROM mart_water__section_monthly "
            "GROUP BY ALL HAVING n > 0 ORDER BY ALL"
        ).fetchall()
        incomplete = con.execute(
            "SELECT month, basin, sections_incomplete FROM mart_water__basin_monthly "
            "WHERE water_body IS NULL AND sections_incomplete > 0 ORDER BY ALL"
        ).fetchall()
        (missing_tp,) = con.execute(
            "SELECT items_without_value FROM mart_water__section_monthly WHERE section_name = '缺项断面'"
        ).fetchone()
    finally:
        con.close()
    with running_web(env, "--insecure-cookies") as base:
        page = requests.get(f"{base}/overview/water", timeout=10).text
    table_rows = page.split('id="basins"')[1].split("</table>")[0].split("<tr>")[2:]
    said = sorted(
        (row.split("<td>")[1].split("</td>")[0], row.split("<td>")[2].split("</td>")[0], int(n.group(1)))
        for row in table_rows
        if (n := re.search(r"另 (\d+) 个无类别", row))
    )
    expected = [(m.strftime("%Y-%m"), basin, n) for m, basin, n in unclassified]
    assert said == expected and expected  # the new section has no class this month
    assert 'id="unclassified-note"' in page
    assert missing_tp == "总磷"
    said = sorted(
        (row.split("<td>")[1].split("</td>")[0], row.split("<td>")[2].split("</td>")[0], int(n.group(1)))
        for row in table_rows
        if (n := re.search(r"其中 (\d+) 个断面定类缺项目（如总磷质控不合格），未计入比例", row))
    )
    assert said == [(m.strftime("%Y-%m"), basin, n) for m, basin, n in incomplete] and incomplete


def test_the_language_link_stays_on_this_site(web_server: str) -> None:
    """A path starting with // must not turn the language switch into a link to another site."""
    r = requests.get(f"{web_server}//evil.example/x", timeout=10)
    assert r.status_code == 404
    assert 'href="//evil.example' not in r.text
    assert 'href="/evil.example/x?lang=en"' in r.text


def test_sql_queries_beyond_the_web_app_s_slots_get_503(web_home: WebHome) -> None:
    """One slot: a long query holds it, a second one waits a few seconds and gets 503, not a third
    DuckDB query's memory."""
    from concurrent.futures import ThreadPoolExecutor

    env = web_home.env | {"ECOCLOUD_WEB_SQL_CONCURRENCY": "1", "ECOCLOUD_SQL_TIMEOUT_S": "12"}
    with running_web(env, "--insecure-cookies") as base:
        s = requests.Session()
        token = csrf_of(s.get(f"{base}/login", timeout=10).text)
        login_data = {"username": "ana", "password": web_home.password, "csrf_token": token}
        assert s.post(f"{base}/login", data=login_data, timeout=30).status_code == 200
        token = csrf_of(s.get(f"{base}/sql", timeout=10).text)

        def run(sql: str) -> requests.Response:
            return s.post(f"{base}/sql", data={"query": sql, "csrf_token": token}, timeout=60)

        with ThreadPoolExecutor(2) as pool:
            slow = pool.submit(
                run,
                # ~10¹⁰ combinations to look at (no statistics can rule them out): stopped at 12 s
                f"SELECT count(*) FROM {OPEN} a, {OPEN} b, {OPEN} c "
                "WHERE a.station_code || b.station_code || c.station_code = '-'",
            )
            busy = run("SELECT 1 AS waited")
            while busy.status_code == 200 and not slow.done():  # answered before the slow one took the slot
                busy = run("SELECT 1 AS waited")
            assert busy.status_code == 503 and "其他查询正在运行" in busy.text
            assert "SELECT 1 AS waited</textarea>" in busy.text  # the query kept, to run again
            assert slow.result().status_code == 400  # stopped by the time limit, and said so
        assert run("SELECT 1 AS one").status_code == 200  # the slot is free again


def test_a_query_s_page_is_rendered_inside_its_slot(
    web_home: WebHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rendering a result is the web app's own work (a cell per value, each escaped): the slots bound
    it as they bound the queries. The server runs in this process, so the page's renderer can look:
    no slot is free while it renders."""
    import uvicorn

    from ecocloud.ports import free_port
    from ecocloud.settings import Settings
    from ecocloud.web import routes_account
    from ecocloud.web.app import create_app

    slot_free = []

    def render(request: Any, template: str, status: int = 200, **context: Any) -> Any:
        if request.method == "POST":
            slots = request.app.state.sql_slots
            slot_free.append(slots.acquire(blocking=False))
            if slot_free[-1]:
                slots.release()
        return real_render(request, template, status, **context)

    real_render = routes_account.render
    monkeypatch.setattr(routes_account, "render", render)
    app = create_app(Settings(home=web_home.home, web_cookie_secure=False, web_sql_concurrency=1))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started and thread.is_alive():
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        s = requests.Session()
        token = csrf_of(s.get(f"{base}/login", timeout=10).text)
        login = {"username": "ana", "password": web_home.password, "csrf_token": token, "next": "/sql"}
        token = csrf_of(s.post(f"{base}/login", data=login, timeout=30).text)

        def run(sql: str) -> requests.Response:
            return s.post(f"{base}/sql", data={"query": sql, "csrf_token": token}, timeout=60)

        answered, refused = run("SELECT 1 AS one"), run(f"SELECT * FROM {NOT_SHARED}")
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    assert answered.status_code == 200 and 'id="sql-result"' in answered.text
    assert refused.status_code == 400
    assert slot_free == [False, False]


def test_a_catalog_not_rebuilt_since_its_due_time_reads_late(web_home: WebHome, tmp_path: Path) -> None:
    """The runs stopped after a catalog build that found every feed on time: the pages judge freshness
    when they are read, so once a table's due time has passed it shows late (its own and its source's
    health), not the verdict stored at the build."""
    home = tmp_path / "home"
    shutil.copytree(web_home.home, home)
    con = duckdb.connect(str(home / "ecocloud.duckdb"))
    try:
        con.execute(
            "UPDATE catalog_datasets SET freshness_status = 'on time', late_by_h = 0, "
            "freshness_reference_at = now() - INTERVAL 5 HOUR, freshness_due_at = now() - INTERVAL 3 HOUR "
            "WHERE table_name = $1",
            [OPEN],
        )
    finally:
        con.close()
    with running_web(web_home.env | {"ECOCLOUD_HOME": str(home)}, "--insecure-cookies") as base:
        page = requests.get(f"{base}/datasets/{OPEN}", params={"lang": "en"}, timeout=10).text
        # late by the 3 h since its due time, the "due by" beside it (not its age over the interval: 4 h)
        assert re.search(r'class="fresh late">late 3\.0 h<', page), page[:3000]
        assert "Due by" in page
        found = requests.get(f"{base}/datasets", params={"q": OPEN, "lang": "en"}, timeout=10).text
        assert 'class="fresh late"' in found


def test_dcat_dataset_uris_are_the_configured_public_address_whatever_the_host(web_home: WebHome) -> None:
    """/catalog.jsonld names datasets by URIs: with ECOCLOUD_CATALOG_BASE_URL set they are built on it,
    not on the Host a request names (a forged one, or a proxy's internal name); unset, on the address
    asked."""
    public = "https://data.example.gov.cn"
    with running_web(web_home.env | {"ECOCLOUD_CATALOG_BASE_URL": public}, "--insecure-cookies") as base:
        doc = requests.get(f"{base}/catalog.jsonld", headers={"Host": "evil.example"}, timeout=30).json()
    ids = [d["@id"] for d in doc["dcat:dataset"]]
    assert ids and all(i.startswith(f"{public}/datasets/") for i in ids), ids[:3]
    assert "evil.example" not in json.dumps(doc)
    with running_web(web_home.env, "--insecure-cookies") as base:
        doc = requests.get(f"{base}/catalog.jsonld", timeout=30).json()
    assert all(d["@id"].startswith(f"{base}/datasets/") for d in doc["dcat:dataset"])
