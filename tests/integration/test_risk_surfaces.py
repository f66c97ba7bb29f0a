"""The enforcement surfaces on the risk ground-truth scenario (tests/risk_scenario.py, built once per
session into a real home): `ecocloud risk` in every format, and the /risk pages over real HTTP
(`ecocloud serve`) — who may see them, bad filters, the XLSX download, the evidence pages.

Expected outcomes come from the scenario's labels (which outlet was made to exceed which limit in
which hours, which flat-lined, whose permit was revoked) and from the CLI's own JSON, never from
numbers written here."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import itertools
import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from openpyxl import load_workbook

from ecocloud.risk_export import ENTERPRISE_COLUMNS, EVIDENCE_COLUMNS, RANKING_COLUMNS
from ecocloud.simulator.fleet import load_labels
from schemas import risk as schema
from schemas.hj212_codes import POLLUTANTS

if TYPE_CHECKING:
    from conftest import RiskHome

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
BEIJING = dt.timezone(dt.timedelta(hours=8))
Login = Callable[[str], requests.Session]


def headings(columns: tuple[tuple[str, int], ...], lang: str = "zh") -> list[str]:
    """The headers an export's columns should have: the headings the registry declares."""
    return [schema.heading(key, lang) for key, _ in columns]


def cli_json(risk_home: RiskHome, *args: str) -> dict[str, Any]:
    r = risk_home.ecocloud("risk", "--format", "json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def labels(risk_home: RiskHome) -> list[dict[str, Any]]:
    return load_labels(risk_home.labels)


def labelled(labels: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(lb for lb in labels if lb["kind"] == kind)


@pytest.fixture(scope="module")
def ranked(risk_home: RiskHome) -> dict[str, Any]:
    """The whole ranking with its evidence, as `ecocloud risk --format json` gives it."""
    return cli_json(risk_home, "--top", "10000")


# ---------------------------------------------------------------------------------------------- CLI
def test_json_ranks_every_outlet_with_its_evidence(
    risk_home: RiskHome, ranked: dict[str, Any], labels: list[dict[str, Any]]
) -> None:
    assert ranked["period"]["end"] == risk_home.days[-1].isoformat()  # the newest day with risk marts
    assert ranked["period"]["days"] == 30
    outlets = ranked["outlets"]
    assert len(outlets) == ranked["outlets_total"] > 0
    assert [o["rank"] for o in outlets] == list(range(1, len(outlets) + 1))
    assert all(a["score"] >= b["score"] for a, b in itertools.pairwise(outlets))
    assert set(outlets[0]) == set(schema.outlet_scores.column_names)

    evidence = ranked["evidence"]
    assert {e["mn"] for e in evidence} == {o["mn"] for o in outlets}
    assert sum(e["category"] == "identity" for e in evidence) == len(outlets)  # one per ranked outlet
    for kind in ("exceedance", "flatline"):
        lb = labelled(labels, kind)
        rows = [e for e in evidence if e["mn"] == lb["mn"] and e["pollutant_code"] == lb["pollutant"]]
        days = {dt.datetime.fromisoformat(lb["start"]).date().isoformat()}
        if kind == "exceedance":
            found = [e for e in rows if e["category"] == "exceedance"]
            assert {e["date"] for e in found} == days
            assert sum(e["hours"] for e in found) == (
                dt.datetime.fromisoformat(lb["end"]) - dt.datetime.fromisoformat(lb["start"])
            ) // dt.timedelta(hours=1)
            assert all(e["limit_value"] == lb["details"]["limit"] for e in found)
        else:
            runs = [e for e in rows if e["indicator"] == "flatline"]
            assert runs and all(e["evidence"] for e in runs)
            assert dt.datetime.fromisoformat(runs[0]["run_start_at"]) == dt.datetime.fromisoformat(
                lb["start"]
            )


def test_table_csv_and_xlsx_hold_the_same_ranking(risk_home: RiskHome, tmp_path: Path) -> None:
    top = cli_json(risk_home, "--top", "12")
    mns = [o["mn"] for o in top["outlets"]]
    assert len(mns) == 12

    table = risk_home.ecocloud("risk", "--top", "12")
    assert table.returncode == 0, table.stderr
    text = table.stdout
    assert "污染源风险排名" in text and "主要原因" in text
    positions = [text.find(mn) for mn in mns]  # every ranked MN, in rank order (rich folds long cells)
    assert -1 not in positions and positions == sorted(positions)

    r = risk_home.ecocloud("risk", "--top", "12", "--format", "CSV", "--out", "-")  # "-": standard output
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == headings(RANKING_COLUMNS)
    assert [row[rows[0].index("数采仪MN")] for row in rows[1:]] == mns
    out = tmp_path / "risk.csv"
    assert risk_home.ecocloud("risk", "--top", "12", "-f", "csv", "--out", str(out)).returncode == 0
    assert out.read_bytes().startswith("\ufeff排名".encode())  # a BOM, for spreadsheets

    book_path = tmp_path / "risk.xlsx"
    r = risk_home.ecocloud("risk", "--top", "12", "--out", str(book_path))  # the format from the suffix
    assert r.returncode == 0, r.stderr
    book = load_workbook(book_path)
    assert book.sheetnames == ["说明", "排名", "企业排名", "证据"]
    ranking, enterprises, evidence = (list(book[name].values) for name in book.sheetnames[1:])
    assert list(ranking[0]) == headings(RANKING_COLUMNS)
    assert list(enterprises[0]) == headings(ENTERPRISE_COLUMNS)
    assert [row[3] for row in enterprises[1:]] == [e["uscc"] for e in top["enterprises"]]
    assert list(evidence[0]) == headings(EVIDENCE_COLUMNS)
    assert [row[6] for row in ranking[1:]] == mns
    assert len(evidence) - 1 == len(top["evidence"])
    assert {row[4] for row in evidence[1:]} == set(mns)

    # the enterprise ranking in the terminal and as CSV (json and xlsx only had it)
    usccs = [e["uscc"] for e in top["enterprises"]]
    table = risk_home.ecocloud("risk", "--top", "12", "--enterprises")
    assert table.returncode == 0 and "企业风险排名" in table.stdout, table.stderr
    positions = [table.stdout.find(u) for u in usccs]
    assert -1 not in positions and positions == sorted(positions)
    r = risk_home.ecocloud("risk", "--top", "12", "--enterprises", "-f", "csv")
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == headings(ENTERPRISE_COLUMNS)
    assert [row[3] for row in rows[1:]] == usccs


def test_filters_narrow_the_ranking(risk_home: RiskHome, ranked: dict[str, Any], labels: list) -> None:
    lb = labelled(labels, "exceedance")
    region = next(o["region_code"] for o in ranked["outlets"] if o["mn"] == lb["mn"])
    local = cli_json(
        risk_home, "--region", region[:4] + "00", "--pollutant", lb["pollutant"], "--top", "10000"
    )
    assert local["outlets"] and all(o["region_code"].startswith(region[:4]) for o in local["outlets"])
    assert lb["mn"] in {o["mn"] for o in local["outlets"]}
    assert {e["pollutant_code"] for e in local["evidence"]} <= {lb["pollutant"], schema.LOGGER_LEVEL}
    # its county: its outlets and no other county's (the simulated enterprises register under counties)
    county = cli_json(risk_home, "--region", region, "--top", "10000")
    assert region[4:] != "00" and lb["mn"] in {o["mn"] for o in county["outlets"]}
    assert {o["region_code"] for o in county["outlets"]} == {region}
    assert len(county["outlets"]) < len(
        cli_json(risk_home, "--region", region[:4] + "00", "--top", "10000")["outlets"]
    )
    day = dt.datetime.fromisoformat(lb["start"]).date() - dt.timedelta(days=1)
    before = cli_json(risk_home, "--from", day.isoformat(), "--to", day.isoformat(), "--top", "10000")
    assert not [e for e in before["evidence"] if e["mn"] == lb["mn"] and e["category"] == "exceedance"]


def test_a_period_without_risk_data_says_so_not_that_no_outlet_matched(
    risk_home: RiskHome, risk_server: str, enforcement: requests.Session
) -> None:
    after = risk_home.days[-1] + dt.timedelta(days=5)
    period = ["--from", after.isoformat(), "--to", (after + dt.timedelta(days=4)).isoformat()]
    table = risk_home.ecocloud("risk", *period)
    assert (
        table.returncode == 0 and "本时段没有风险数据" in table.stdout and "没有符合条件" not in table.stdout
    )
    assert f"{risk_home.days[-1]}）" in table.stdout  # where the data ends
    page = enforcement.get(f"{risk_server}/risk", params={"from": period[1], "to": period[3]}, timeout=60)
    assert '<p id="no-outlets">本时段没有风险数据' in page.text
    filtered = risk_home.ecocloud("risk", "--industry", "A01")  # data, but no farm
    assert filtered.returncode == 0 and "没有符合条件的排放口" in filtered.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--region", "3601"], "region"),
        (["--from", "2026-11-20", "--to", "2026-11-01"], "from"),
        (["--top", "0"], "top"),
        (["--pollutant", "COD"], "pollutant"),
        (["--format", "xlsx"], "--out"),
        (
            ["--format", "xlsx", "--out", "/nonexistent-folder/risk.xlsx"],
            "there is no folder /nonexistent-folder",
        ),
        (["--format", "csv", "--out", "/proc/risk.csv"], "--out: cannot write /proc/risk.csv"),
        (["--format", "xlsx", "--out", "risk.csv"], "names a .csv file, but --format is xlsx"),
        (["--out", "risk.txt"], "give --format csv, xlsx or json"),
        (["--format", "table", "--out", "risk.csv"], "--out needs --format"),
        (["--format", "xlsx", "--out", "-"], "a workbook is not written to standard output"),
        (["--out", "-"], "standard output names none of them"),
    ],
)
def test_bad_filters_exit_2(risk_home: RiskHome, args: list[str], says: str) -> None:
    r = risk_home.ecocloud("risk", *args)
    assert r.returncode == 2 and says in r.stderr and r.stdout == ""


def test_no_risk_marts_exit_1_and_say_how_to_build_them(risk_home: RiskHome, tmp_path: Path) -> None:
    built = tmp_path / "no-risk"  # a home with a serving database, without risk marts
    assert risk_home.ecocloud("catalog", "build", home=built).returncode == 0
    r = risk_home.ecocloud("risk", home=built)
    assert r.returncode == 1 and "ecocloud run risk" in r.stderr
    # no serving database at all: perhaps not the home meant (it said to build the risk marts there)
    r = risk_home.ecocloud("risk", home=tmp_path / "empty")
    assert r.returncode == 1 and "is ECOCLOUD_HOME set" in r.stderr and "ecocloud run risk" not in r.stderr


# --------------------------------------------------------------------------------------------- HTTP
def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "form without a CSRF token"
    return found.group(1)


@pytest.fixture(scope="module")
def login(risk_server: str, risk_home: RiskHome) -> Login:
    def as_user(user: str) -> requests.Session:
        s = requests.Session()
        token = csrf_of(s.get(f"{risk_server}/login", timeout=10).text)
        r = s.post(
            f"{risk_server}/login",
            data={"username": user, "password": risk_home.password, "csrf_token": token, "next": "/"},
            timeout=30,
            allow_redirects=False,
        )
        assert r.status_code == 303, r.text[:300]
        return s

    return as_user


@pytest.fixture(scope="module")
def enforcement(login: Login) -> requests.Session:
    return login("enf")


def pages(ranked: dict[str, Any]) -> list[str]:
    first = ranked["outlets"][0]
    return [
        "/risk",
        "/risk/export.xlsx",
        f"/risk/outlets/{first['mn']}",
        f"/risk/enterprises/{first['uscc']}",
    ]


def test_only_enforcement_and_admin_see_the_risk_pages(
    risk_server: str, login: Login, enforcement: requests.Session, ranked: dict[str, Any]
) -> None:
    first = next(o for o in ranked["outlets"] if o["uscc"])
    secrets = (first["enterprise_name"], first["top_reasons"].split("；")[0])  # data, not the URL echoed
    for who in (requests.Session(), login("pub"), login("ana")):
        for path in pages(ranked):
            r = who.get(risk_server + path, timeout=30)
            assert r.status_code == 403, path
            assert not any(s in r.text for s in secrets) and "Traceback" not in r.text
    admin = login("boss")
    for session in (enforcement, admin):
        for path in pages(ranked):
            assert session.get(risk_server + path, timeout=60).status_code == 200, path


def test_risk_rows_never_reach_other_roles_through_the_catalog(risk_server: str, login: Login) -> None:
    analyst = login("ana")
    for table in (schema.outlet_scores.name, schema.indicators.name):
        page = analyst.get(f"{risk_server}/datasets/{table}", timeout=30)
        assert page.status_code == 200 and 'id="no-sample"' in page.text and 'id="sample"' not in page.text
        token = csrf_of(analyst.get(f"{risk_server}/sql", timeout=10).text)
        refused = analyst.post(
            f"{risk_server}/sql", data={"query": f"SELECT * FROM {table}", "csrf_token": token}, timeout=30
        )
        assert refused.status_code == 400 and "您的角色无权查询，或没有这个表" in refused.text


def test_the_list_shows_the_cli_ranking_and_downloads_it(
    risk_server: str, enforcement: requests.Session, risk_home: RiskHome
) -> None:
    expected = cli_json(risk_home, "--top", "15")
    page = enforcement.get(f"{risk_server}/risk", params={"top": "15"}, timeout=60)
    assert page.status_code == 200
    table = page.text[page.text.index('id="outlet-ranking"') :]
    shown = re.findall(r'href="/risk/outlets/([^"?]+)\?', table)
    assert shown == [o["mn"] for o in expected["outlets"]]
    assert 'id="enterprise-ranking"' in page.text
    # the download link carries the same filters and the resolved period
    link = re.search(r'id="download-xlsx" href="([^"]+)"', page.text)
    assert link
    download = enforcement.get(risk_server + link.group(1).replace("&amp;", "&"), timeout=60)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in download.headers["content-disposition"]
    book = load_workbook(io.BytesIO(download.content))
    assert book.sheetnames == ["说明", "排名", "企业排名", "证据"]
    assert [row[6] for row in list(book["排名"].values)[1:]] == [o["mn"] for o in expected["outlets"]]
    # the enterprises as the page lists them
    enterprise_table = page.text[page.text.index('id="enterprise-ranking"') :].split("</table>")[0]
    listed = re.findall(r'href="/risk/enterprises/([^"?]+)\?', enterprise_table)
    assert listed and [row[3] for row in list(book["企业排名"].values)[1:]] == listed
    assert book["证据"].max_row - 1 == len(expected["evidence"])


def test_the_download_from_an_english_page_has_english_headers(risk_server: str, login: Login) -> None:
    """The workbook from an English page had Chinese sheet names and headers; the rows are the same."""
    cjk = re.compile(r"[\u4e00-\u9fff]")
    officer = login("enf")  # its own session: ?lang=en sets its language cookie
    page = officer.get(f"{risk_server}/risk", params={"top": "15", "lang": "en"}, timeout=60).text
    link = re.search(r'id="download-xlsx" href="([^"]+)"', page)
    assert link
    english = load_workbook(io.BytesIO(officer.get(risk_server + html.unescape(link[1]), timeout=60).content))
    chinese = load_workbook(
        io.BytesIO(login("enf").get(risk_server + html.unescape(link[1]), timeout=60).content)
    )
    assert english.sheetnames == ["Notes", "Ranking", "Enterprises", "Evidence"]
    assert chinese.sheetnames == ["说明", "排名", "企业排名", "证据"]  # Chinese stays the default
    assert not [v for row in english["Notes"].values for v in row if cjk.search(str(v))]  # the notes too
    columns = (RANKING_COLUMNS, ENTERPRISE_COLUMNS, EVIDENCE_COLUMNS)
    pairs = zip(english.worksheets[1:], chinese.worksheets[1:], columns, strict=True)
    for sheet, chinese_sheet, listed in pairs:
        header, *rows = sheet.values
        chinese_header, *chinese_rows = chinese_sheet.values
        assert list(header) == headings(listed, "en")
        assert not [h for h in header if cjk.search(h)], header
        assert list(chinese_header) == headings(listed)
        assert rows == chinese_rows
    assert next(english["Ranking"].values)[:3] == ("Rank", "Risk score", "Enterprise")


def test_the_list_says_how_many_it_shows_of_how_many_and_how_many_score(
    risk_server: str, enforcement: requests.Session, ranked: dict[str, Any]
) -> None:
    """The list showed 50 of 75 outlets, 25 of them at 0, and said neither."""
    total = len(ranked["outlets"])
    scored = sum(1 for o in ranked["outlets"] if o["score"] > 0)
    assert total > 3 and scored > 0
    page = enforcement.get(f"{risk_server}/risk", params={"top": "3"}, timeout=60).text
    said = " ".join(re.sub(r"<[^>]+>", " ", page.split('id="outlets-shown">')[1].split("</p>")[0]).split())
    assert said.startswith(f"显示前 3 名，共 {total} 个排放口；其中 {scored} 个得分高于 0"), said
    assert "用“前”显示更多" in said
    whole = enforcement.get(f"{risk_server}/risk", params={"top": "10000"}, timeout=60).text
    said = " ".join(whole.split('id="outlets-shown">')[1].split("</p>")[0].split())
    assert said.startswith(f"共 {total} 个排放口；其中 {scored} 个得分高于 0") and "显示更多" not in said


def test_a_pollutant_filter_follows_the_list_to_the_outlet_and_says_it_rescores(
    risk_server: str, enforcement: requests.Session, labels: list[dict[str, Any]]
) -> None:
    """The list filtered by a pollutant scores on it alone, as the outlet page with that filter does:
    the list's links dropped it (the page showed another score), and the page did not say why its
    score changed with the chart's pollutant."""
    lb = labelled(labels, "exceedance")
    page = enforcement.get(
        f"{risk_server}/risk", params={"pollutant": lb["pollutant"], "top": "50"}, timeout=60
    )
    links = re.findall(r'href="(/risk/outlets/[^"]+)"', page.text)
    assert links and all(f"pollutant={lb['pollutant']}" in html.unescape(link) for link in links)
    outlet = enforcement.get(risk_server + html.unescape(links[0]), timeout=60).text
    assert 'id="pollutant-only"' in outlet and lb["pollutant"] in outlet.split('id="pollutant-only"')[1][:300]
    plain = enforcement.get(f"{risk_server}/risk/outlets/{lb['mn']}", timeout=60).text
    assert 'id="pollutant-only"' not in plain
    # the enterprises' links too: their page scores on the pollutant as the list does, and says so
    firms = re.findall(r'href="(/risk/enterprises/[^"]+)"', page.text)
    assert firms and all(f"pollutant={lb['pollutant']}" in html.unescape(link) for link in firms)
    firm = enforcement.get(risk_server + html.unescape(firms[0]), timeout=60).text
    assert 'id="pollutant-only"' in firm and "/risk?from=" in firm and f"pollutant={lb['pollutant']}" in firm
    download = enforcement.get(
        f"{risk_server}/risk/export.xlsx", params={"pollutant": lb["pollutant"]}, timeout=60
    )
    assert (
        download.status_code == 200 and f"-{lb['pollutant']}.xlsx" in download.headers["content-disposition"]
    )


def test_english_pages_give_the_reasons_in_english(risk_server: str, enforcement: requests.Session) -> None:
    """The marts keep each reason's Chinese sentence; an English page says it from the reason's code
    and numbers (on the simulated province every reason's code is one the pages know)."""
    cjk = re.compile(r"[\u4e00-\u9fff]")
    try:  # ?lang= sets the session's language cookie: set back to Chinese for the other tests
        page = enforcement.get(f"{risk_server}/risk", params={"top": "15", "lang": "en"}, timeout=60).text
        for table_id in ("outlet-ranking", "enterprise-ranking"):
            table = page[page.index(f'id="{table_id}"') :].split("</table>")[0]
            reasons = [html.unescape(r) for r in re.findall(r'<td class="reasons">(.*?)</td>', table)]
            assert any(r != "—" for r in reasons)
            assert not [r for r in reasons if cjk.search(r)], reasons
        # regions by their English names (the filter's choices too), not "360102 南昌下辖"
        regions = re.findall(r'<option value="\d{6}">(.*?)</option>', page.split('id="regions"')[1])
        assert "360100 Nanchang" in regions and not [r for r in regions if cjk.search(r)], regions
        ranking = page[page.index('id="outlet-ranking"') :].split("</table>")[0]
        assert re.search(r"<td>36\d{4} (?:\(in )?[A-Z]", ranking), ranking[:3000]
        assert not re.search(r"<td>\d{6} [\u4e00-\u9fff]", ranking)
        first = re.search(r'href="(/risk/outlets/[^"]+)"', page)
        assert first
        outlet = enforcement.get(risk_server + html.unescape(first.group(1)), timeout=60).text
        cells = re.findall(
            r"<tr><td>(.*?)</td>", outlet.split('class="compact reasons"')[1].split("</table>")[0]
        )
        assert cells and not [c for c in cells if cjk.search(html.unescape(c))], cells
    finally:
        enforcement.get(f"{risk_server}/", params={"lang": "zh"}, timeout=60)


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/risk?region=3601", 400, "行政区划 '3601' 不是 GB/T 2260 代码"),  # the page's language
        ("/risk?region=360100%27%20OR%201%3D1%20--", 400, "行政区划"),
        ("/risk?industry=44", 400, "行业"),
        ("/risk?pollutant=COD", 400, "污染物"),
        ("/risk?from=2026-11-20&to=2026-11-01", 400, "起始日 2026-11-20 晚于截止日 2026-11-01"),
        ("/risk?from=2026-02-30", 400, "起始日"),
        ("/risk?top=0", 400, "前 '0' 名"),
        ("/risk?top=many", 400, "前"),
        ("/risk/export.xlsx?region=99", 400, "行政区划"),
        ("/risk/outlets/bad%20mn", 404, "bad mn"),  # an MN the parser only warned about is read
        ("/risk/outlets/NOSUCHMN0000", 404, "NOSUCHMN0000"),
        ("/risk/outlets/NOSUCHMN0000?to=2026-13-01", 400, "截止日"),
        ("/risk/enterprises/91360000", 404, "91360000"),  # a USCC failing its checks is still ranked
        ("/risk/enterprises/913600000000000000", 404, "913600000000000000"),
    ],
)
def test_bad_filters_get_a_4xx_page(
    risk_server: str, enforcement: requests.Session, path: str, status: int, says: str
) -> None:
    r = enforcement.get(risk_server + path, timeout=30)
    assert r.status_code == status
    message = re.search(r'class="message">([^<]*)', r.text)
    assert message and says in html.unescape(message.group(1))
    assert "Traceback" not in r.text


def test_a_bad_filter_is_explained_in_english_on_english_pages(
    risk_server: str, enforcement: requests.Session
) -> None:
    try:  # ?lang= sets the session's language cookie: set back to Chinese for the other tests
        r = enforcement.get(f"{risk_server}/risk", params={"region": "3601", "lang": "en"}, timeout=30)
        message = re.search(r'class="message">([^<]*)', r.text)
        assert r.status_code == 400 and message
        assert "region: '3601' is not a GB/T 2260 region code" in html.unescape(message.group(1))
    finally:
        enforcement.get(f"{risk_server}/", params={"lang": "zh"}, timeout=30)


def chart(html: str, mn: str, code: str) -> dict[str, Any]:
    found = re.search(
        rf'<script type="application/json" id="chart-{mn}-{code}-figure">(.*?)</script>', html, re.S
    )
    assert found, f"no chart of {code}"
    return json.loads(found.group(1))


def bj(text: str) -> str:
    return dt.datetime.fromisoformat(text).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def test_outlet_page_draws_the_limit_and_marks_exceedances_and_runs(
    risk_server: str, enforcement: requests.Session, labels: list[dict[str, Any]]
) -> None:
    lb = labelled(labels, "exceedance")
    page = enforcement.get(f"{risk_server}/risk/outlets/{lb['mn']}", timeout=60)
    assert page.status_code == 200
    fig = chart(page.text, lb["mn"], lb["pollutant"])
    traces = {t["name"]: t for t in fig["data"]}
    (limit,) = [t for name, t in traces.items() if name.startswith("限值")]
    assert limit["line"]["shape"] == "hv" and lb["details"]["limit"] in limit["y"]
    marked = traces["超标小时"]["x"]
    start, end = bj(lb["start"]), bj(lb["end"])
    assert marked and all(start <= x < end for x in marked)
    # the same hours listed with their values and limit, for an officer to quote (only the chart had them)
    listed = page.text.split('id="hours-over"')[1].split("</table>")[0]
    rows = listed.split("<tr>")[2:]
    for x in marked:
        (row,) = [r for r in rows if f'<td class="nowrap">{x}' in r and lb["pollutant"] in r]
        assert f'<td class="limit">{float(lb["details"]["limit"]):g} ' in row
    assert 'id="permit-versions"' in page.text and 'id="permit-limits"' in page.text
    assert 'id="credit-history"' in page.text and 'id="evidence"' in page.text
    assert "<td>已匹配</td>" in page.text and ">matched<" not in page.text  # the identity, in Chinese
    try:  # ?lang= sets the session's language cookie: set back to Chinese for the other tests
        english = enforcement.get(f"{risk_server}/risk/outlets/{lb['mn']}", params={"lang": "en"}, timeout=60)
        assert "<td>matched</td>" in english.text and "已匹配" not in english.text  # the registry's English
        evidence = english.text.split('id="evidence"')[1].split("</table>")[0]
        found = evidence.split("<tr")[2:]  # its days over a limit and its findings
        over = [r for r in found if 'class="bad"' in r]  # exceedance days
        assert over and all("over the limit" in r for r in over)
        assert not [r for r in found if re.search(r"[\u4e00-\u9fff]", r.split("<td>")[-1])]
        name = POLLUTANTS[lb["pollutant"]].name  # the HJ 212 table's English name, in the chart's title too
        figure = json.dumps(chart(english.text, lb["mn"], lb["pollutant"]), ensure_ascii=False)
        assert f'"{name} {lb["pollutant"]} (' in english.text and name in figure
        assert POLLUTANTS[lb["pollutant"]].name_zh not in figure
    finally:
        enforcement.get(f"{risk_server}/", params={"lang": "zh"}, timeout=60)

    flat = labelled(labels, "flatline")
    page = enforcement.get(f"{risk_server}/risk/outlets/{flat['mn']}", timeout=60)
    shapes = chart(page.text, flat["mn"], flat["pollutant"])["layout"]["shapes"]
    assert bj(flat["start"]) in {s["x0"] for s in shapes}
    assert max(s["x1"] for s in shapes if s["x0"] == bj(flat["start"])) == bj(flat["end"])
    try:  # the finding's sentence in English too
        english = enforcement.get(
            f"{risk_server}/risk/outlets/{flat['mn']}", params={"lang": "en"}, timeout=60
        )
        evidence = english.text.split('id="evidence"')[1].split("</table>")[0]
        rows = [r for r in evidence.split("<tr")[2:] if f"constant from {bj(flat['start'])[5:]}" in r]
        assert rows and not [r for r in rows if re.search(r"[\u4e00-\u9fff]", r.split("<td>")[-1])]
    finally:
        enforcement.get(f"{risk_server}/", params={"lang": "zh"}, timeout=60)


def test_enterprise_page_shows_the_revoked_permit_and_credit(
    risk_server: str, enforcement: requests.Session, labels: list[dict[str, Any]]
) -> None:
    lb = labelled(labels, "revoked_permit")
    uscc = lb["details"]["uscc"]
    page = enforcement.get(f"{risk_server}/risk/enterprises/{uscc}", timeout=60)
    assert page.status_code == 200
    versions = page.text[
        page.text.index('id="permit-versions"') : page.text.index(
            "</table>", page.text.index('id="permit-versions"')
        )
    ]
    assert "已撤销" in versions and ">revoked<" not in versions  # the version's status, in Chinese
    outlets = page.text[page.text.index('id="enterprise-outlets"') :]
    assert all(f"/risk/outlets/{x['mn']}?" in outlets for x in labels if x["kind"] == "revoked_permit")
    assert 'id="credit-history"' in page.text and "已撤销" in page.text
    history = page.text[page.text.index('id="credit-history"') :]
    history = history[: history.index("</table>")]
    assert "江西五级（含黑牌）" in history and "jiangxi-5" not in history  # the scheme by name, not by code
    assert "<td>首次申请</td>" in versions
    try:  # the permit platform's version kinds in English (?lang= sets the session's cookie)
        english = enforcement.get(f"{risk_server}/risk/enterprises/{uscc}", params={"lang": "en"}, timeout=60)
        start = english.text.index('id="permit-versions"')
        versions_en = english.text[start : english.text.index("</table>", start)]
        assert "<td>first application</td>" in versions_en and "首次申请" not in versions_en
    finally:
        enforcement.get(f"{risk_server}/", params={"lang": "zh"}, timeout=60)


def test_an_enterprise_pages_reasons_add_up_to_its_score(
    risk_server: str, enforcement: requests.Session, ranked: dict[str, Any]
) -> None:
    """An enterprise's page showed a score of 80.78 over reasons of 45.0 + 35.0 + 0.63 + 0.63: its
    second outlet's reason at full points, though only other_outlets_factor of them count. Each
    reason now shows what it adds, and they add up to the score shown."""
    several = [e for e in ranked["enterprises"] if e["outlets_with_reasons"] > 1]
    assert several  # the scenario's: an enterprise counting a share of a second outlet's reasons
    checked = 0
    for e in several[:5]:
        reasons = json.loads(e["reasons_json"])
        assert schema.fixed(sum(r["points"] for r in reasons), "score") == schema.fixed(e["score"], "score")
        page = enforcement.get(f"{risk_server}/risk/enterprises/{e['uscc']}", timeout=60).text
        score = re.search(r"<div><strong>([0-9.]+)</strong><span>得分；企业排名", page)
        assert score and score[1] == schema.fixed(e["score"], "score")
        if 'class="compact reasons"' not in page:
            continue
        table = page[page.index('class="compact reasons"') :].split("</table>")[0]
        points = re.findall(r'<td class="num">([0-9.]+)', table)
        assert points and sum(Decimal(p) for p in points) == Decimal(score[1]), (e["uscc"], points)
        checked += 1
    assert checked


def test_the_public_sees_no_data_logger_id(risk_server: str, labels: list[dict[str, Any]]) -> None:
    """The outlet marts are keyed by the logger's MN, which is not published (an MN could be used to
    impersonate a logger): the public gets their catalog entry's conditions, not their rows."""
    mns = {lb["mn"] for lb in labels if lb.get("mn")}
    assert mns
    for name in ("mart_source__hourly", "mart_source__daily"):
        page = requests.get(f"{risk_server}/datasets/{name}", timeout=30)
        assert page.status_code == 403 and "有条件共享" in page.text, name
        assert not any(mn in page.text for mn in mns), name
    catalog = requests.get(f"{risk_server}/catalog.jsonld", timeout=30).text
    assert not any(mn in catalog for mn in mns)


def test_the_public_sees_disclosed_results_by_enterprise_and_never_an_mn(
    risk_server: str, ranked: dict[str, Any], labels: list[dict[str, Any]]
) -> None:
    lb = labelled(labels, "exceedance")
    day = dt.datetime.fromisoformat(lb["start"]).date().isoformat()
    (outlet,) = [o for o in ranked["outlets"] if o["mn"] == lb["mn"]]
    page = requests.get(
        f"{risk_server}/overview/sources", params={"date": day, "exceeded": "true"}, timeout=30
    )
    assert page.status_code == 200  # anonymous: the table is shared unconditionally
    over = re.findall(r'<tr class="bad">(.*?)</tr>', page.text, re.S)
    assert over and len(over) == len(re.findall(r"<tr[ >]", page.text)) - 1  # every row over, no others
    mine = [r for r in over if outlet["uscc"] in r and f">{lb['pollutant']}<" in r]
    assert len(mine) == 1 and outlet["outlet_code"] in mine[0]
    assert f"{lb['details']['limit']:g}" in mine[0]
    whole = requests.get(f"{risk_server}/overview/sources", params={"date": day}, timeout=30).text
    assert not [o["mn"] for o in ranked["outlets"] if o["mn"] in page.text + whole]
    # a daily mean at its declared decimals (it showed 1.21025, 34.3195: "%.6g")
    rows = [
        re.findall(r'<td class="num">(.*?)</td>', row)
        for row in re.findall(r"<tr[ >](.*?)</tr>", whole, re.S)
    ]
    means = [cells[0] for cells in rows if cells]
    decimals = schema.DECIMALS["daily_mean_value"]
    assert [m for m in means if m] and all(re.fullmatch(rf"-?\d+\.\d{{{decimals}}}", m) for m in means if m)
    one = requests.get(
        f"{risk_server}/overview/sources", params={"date": day, "q": outlet["uscc"]}, timeout=30
    )
    uscc_cells = set(re.findall(r"<td>([0-9A-Z]{18})</td>", one.text))
    assert uscc_cells == {outlet["uscc"]}
    prefecture = outlet["region_code"][:4] + "00"  # stands for its counties too
    by_region = requests.get(
        f"{risk_server}/overview/sources", params={"date": day, "q": prefecture}, timeout=30
    )
    assert outlet["uscc"] in by_region.text
    assert requests.get(f"{risk_server}/overview/sources?date=1999-01-01", timeout=30).status_code == 404
