"""Access rules, the SQL table guard, the lineage picture, users and sessions, DCAT frequency codes."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from ecocloud.catalog_export import accrual_periodicity
from ecocloud.web.access import Role, can_see_data, can_see_entry, data_levels, visible_levels
from ecocloud.web.deps import TEMPLATES, Viewer
from ecocloud.web.lineage_svg import HIDDEN, lineage_svg
from ecocloud.web.routes_overview import figure_json, ranking_chart
from ecocloud.web.sql_guard import QueryRefused, check_tables
from ecocloud.web.users import (
    DEVICES_PER_USER,
    Busy,
    Throttled,
    UserError,
    UserStore,
    devices_table,
    sessions_table,
    users_table,
)
from schemas.air import AQI_CATEGORIES
from schemas.registry import Sharing

OPEN, COND, CLOSED = Sharing.UNCONDITIONAL, Sharing.CONDITIONAL, Sharing.NOT_SHARED


@pytest.mark.parametrize(
    ("role", "entries", "data"),
    [
        (None, {OPEN}, {OPEN}),
        (Role.PUBLIC, {OPEN}, {OPEN}),
        (Role.ANALYST, {OPEN, COND, CLOSED}, {OPEN, COND}),
        (Role.ENFORCEMENT, {OPEN, COND, CLOSED}, {OPEN, COND}),
        (Role.ADMIN, {OPEN, COND, CLOSED}, {OPEN, COND, CLOSED}),
    ],
)
def test_roles_against_sharing_levels(role: Role | None, entries: set[Sharing], data: set[Sharing]) -> None:
    assert {s for s in Sharing if can_see_entry(role, s)} == entries
    assert {s for s in Sharing if can_see_data(role, s)} == data
    assert set(visible_levels(role)) == {s.value for s in entries}
    assert set(data_levels(role)) == {s.value for s in data}


ALLOWED = {"core_air__station_hourly", "core_air__stations"}
FORBIDDEN = {"quarantine_air__station_hourly"}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM core_air__station_hourly",
        'SELECT count(*) FROM "core_air__station_hourly" h JOIN core_air__stations s USING (station_code)',
        "WITH h AS (SELECT * FROM core_air__station_hourly) SELECT * FROM h WHERE aqi > 100",
        "SELECT * FROM core_air__station_hourly UNION ALL SELECT * FROM core_air__station_hourly",
        "SELECT * FROM main.core_air__stations",
        "SHOW core_air__stations",
        "DESCRIBE core_air__stations",
        "SHOW TABLES",  # listings of names (the catalog shows them too), not a table's columns
        "SHOW ALL TABLES",
    ],
)
def test_sql_guard_lets_allowed_tables_through(sql: str) -> None:
    check_tables(sql, ALLOWED, FORBIDDEN)


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT * FROM quarantine_air__station_hourly", "not allowed"),
        ('SELECT * FROM "QUARANTINE_AIR__STATION_HOURLY"', "not allowed"),
        (
            "SELECT * FROM core_air__stations WHERE station_code IN (SELECT station_code FROM quarantine_air__station_hourly)",
            "not allowed",
        ),
        (
            "WITH quarantine_air__station_hourly AS (SELECT * FROM quarantine_air__station_hourly) SELECT 1",
            "plain names of your own",
        ),
        (  # a path named as a CTE in a subquery, read as a file outside it
            'SELECT * FROM (WITH "/lake/q/x.parquet" AS (SELECT 1) SELECT 1) t, "/lake/q/x.parquet"',
            "plain names of your own",
        ),
        ("WITH core_air__stations AS (SELECT 1) SELECT * FROM core_air__stations", "plain names of your own"),
        ("WITH duckdb_views AS (FROM duckdb_views) SELECT * FROM duckdb_views", "plain names of your own"),
        (  # a table function called without parentheses, let through by a decoy CTE in a subquery
            "SELECT * FROM (WITH pragma_database_list AS (SELECT 2) SELECT 2) s, pragma_database_list",
            "plain names of your own",
        ),
        (
            "SELECT * FROM (WITH test_all_types AS (SELECT 1) SELECT 1) s, test_all_types",
            "plain names of your own",
        ),
        ("SELECT * FROM read_parquet('/etc/passwd')", "table functions"),
        ("SELECT * FROM core_air__stations, glob('/*')", "table functions"),
        ("SELECT * FROM information_schema.tables", "without a database or schema"),
        ("SELECT * FROM other.main.core_air__stations", "without a database or schema"),
        ("SELECT * FROM platform_ledger__builds", "not allowed"),
        # a bare SHOW names its table in a SHOW_REF node, not a BASE_TABLE
        ("SHOW quarantine_air__station_hourly", "not allowed"),
        ('SELECT * FROM (SHOW "QUARANTINE_AIR__STATION_HOURLY")', "not allowed"),
        ("DESCRIBE quarantine_air__station_hourly", "not allowed"),
        ("SUMMARIZE quarantine_air__station_hourly", "not allowed"),
        ("SHOW memory_limit", "not allowed"),  # a setting, or a table of that name
        (
            "COPY core_air__stations TO '/tmp/x.csv'",
            r"only queries \(SELECT, WITH …, FROM …\) are accepted here$",
        ),
        (
            "PIVOT core_air__stations ON city USING count(*)",
            "a PIVOT statement cannot be checked here: write it as a query",
        ),
        ("DROP TABLE core_air__stations", r"are accepted here$"),  # not DuckDB's "can be serialized to json"
        ("SELEC * FROM core_air__stations", 'the query has a syntax error: syntax error at or near "SELEC"'),
    ],
)
def test_sql_guard_refuses(sql: str, why: str) -> None:
    with pytest.raises(QueryRefused, match=why):
        check_tables(sql, ALLOWED, FORBIDDEN)


def test_lineage_picture_draws_producers_consumers_and_hides_what_the_viewer_may_not_see() -> None:
    edges = [
        {
            "output_table": "core_a__x",
            "input_kind": "raw",
            "input_id": "raw/air",
            "build": "a.hourly",
            "task": "air.build",
        },
        {
            "output_table": "core_a__x",
            "input_kind": "table",
            "input_id": "core_a__secret",
            "build": "a.hourly",
            "task": None,
        },
        {
            "output_table": "mart_a__y",
            "input_kind": "table",
            "input_id": "core_a__x",
            "build": "a.daily",
            "task": "air.daily",
        },
    ]
    svg = lineage_svg(
        "core_a__x", "X <&>", edges, lambda n: n != "core_a__secret", lambda n: f"/datasets/{n}"
    )
    root = ET.fromstring(svg)  # well-formed, titles escaped
    ns = {"s": "http://www.w3.org/2000/svg"}
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "原始数据 raw/air" in labels and "core_a__x" in labels and "mart_a__y" in labels
    assert HIDDEN in labels and "core_a__secret" not in svg
    assert {a.get("href") for a in root.findall(".//s:a", ns)} == {"/datasets/mart_a__y"}
    assert len(root.findall(".//s:path[@marker-end]", ns)) == 3
    assert "air.daily" in labels and "a.hourly" in labels  # edges named by task, else build
    # arrows that share their task are labelled once, not once each on top of one another
    shared = [
        {
            "output_table": "core_a__x",
            "input_kind": "raw",
            "input_id": f"raw/a/{k}",
            "build": "a.core",
            "task": "a.core",
        }
        for k in ("one", "two", "three")
    ]
    labels = [
        t.text
        for t in ET.fromstring(lineage_svg("core_a__x", "X", shared, bool, str)).iter(f"{{{ns['s']}}}text")
    ]
    assert labels.count("a.core") == 1 and len(labels) == 5  # three inputs, the table, one label
    empty = lineage_svg("core_a__x", "X", [], lambda n: True, lambda n: n)
    assert "no lineage recorded yet" in empty


def test_users_passwords_sessions_and_throttle(tmp_path: Path) -> None:
    # a home nothing was ingested into yet (its folder not there): users are added before the data
    store = UserStore(f"sqlite:///{tmp_path / 'new-home' / 'state.sqlite'}", session_hours=1, max_failures=3)
    store.add_user("ana", "long-enough-pw", "analyst")
    with pytest.raises(UserError, match="exists"):
        store.add_user("ana", "long-enough-pw", Role.ADMIN)
    with pytest.raises(UserError, match="at least"):
        store.add_user("bob", "short", Role.ADMIN)
    with pytest.raises(UserError, match="user names"):
        store.add_user("Bob Smith", "long-enough-pw", Role.ADMIN)
    with store.engine.connect() as con:
        stored = con.execute(sa.text("SELECT password_hash FROM web_users")).scalar_one()
    assert stored.startswith("$argon2id$") and "long-enough-pw" not in stored

    assert store.authenticate("ana", "long-enough-pw", "10.0.0.1") is Role.ANALYST
    assert store.authenticate("ana", "wrong-password", "10.0.0.1") is None
    assert store.authenticate("nobody", "whatever-pass", "10.0.0.1") is None

    token, session = store.open_session("ana")
    assert store.session(token) == session and session.role is Role.ANALYST
    with store.engine.connect() as con:
        digests = con.execute(sa.select(sessions_table.c.token_sha256)).scalars().all()
    assert token not in digests and len(digests[0]) == 64  # only the token's hash is stored
    assert store.session("forged") is None
    store.close_session(token)
    assert store.session(token) is None

    token, _ = store.open_session("ana")
    with store.engine.begin() as con:  # the session's time is up
        con.execute(
            sessions_table.update().values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert store.session(token) is None

    for _ in range(3):
        assert store.authenticate("ana", "wrong-password", "10.0.0.2") is None
    with pytest.raises(Throttled):  # 3 failures for this name from this client: even the right password waits
        store.authenticate("ana", "long-enough-pw", "10.0.0.2")
    assert store.authenticate("ana", "long-enough-pw", "10.0.0.3") is Role.ANALYST  # not from another client
    for i in range(4, 4 + 3 * 10 - 4):  # many clients guessing one name: 30 failures in all (4 before)
        assert store.authenticate("ana", "wrong-password", f"10.0.1.{i}") is None
    with pytest.raises(Throttled):  # the name's own limit, 10 × max_failures
        store.authenticate("ana", "long-enough-pw", "10.0.0.4")
    for i in range(10):  # one client guessing many names: 12 failures (2 before), 4 × max_failures
        assert store.authenticate(f"user{i}", "wrong-password", "10.0.0.1") is None
    with pytest.raises(Throttled):
        store.authenticate("someone", "wrong-password", "10.0.0.1")

    store.add_user("ana", "a-new-password", Role.ADMIN, replace=True)
    assert [(n, r) for n, r, _ in store.users()] == [("ana", Role.ADMIN)]
    assert store.remove_user("ana") and not store.remove_user("ana")


def test_a_browser_the_user_logged_in_from_is_not_locked_out_by_guesses_from_elsewhere(
    tmp_path: Path,
) -> None:
    store = UserStore(f"sqlite:///{tmp_path / 'state.sqlite'}", max_failures=2)
    store.add_user("ana", "long-enough-pw", "analyst")
    store.add_user("bob", "long-enough-pw", "analyst")
    assert store.authenticate("ana", "long-enough-pw", "10.0.0.1") is Role.ANALYST
    device = store.remember_device("ana")
    bobs = store.remember_device("bob")
    with store.engine.connect() as con:
        digests = con.execute(sa.select(devices_table.c.token_sha256)).scalars().all()
    assert device not in digests and len(digests) == 2  # only the tokens' hashes are stored

    for i in range(2 * 10):  # many clients guessing ana's password: the name's limit
        assert store.authenticate("ana", "wrong-password", f"10.0.1.{i}") is None
    for client in ("10.0.0.1", "10.0.2.1"):  # strangers wait, from anywhere, even with the password
        with pytest.raises(Throttled):
            store.authenticate("ana", "long-enough-pw", client)
    for stranger in (None, "forged-token", bobs):  # another user's browser is a stranger to ana
        with pytest.raises(Throttled):
            store.authenticate("ana", "long-enough-pw", "10.0.0.1", stranger)
    assert store.authenticate("ana", "long-enough-pw", "10.0.0.1", device) is Role.ANALYST
    assert store.authenticate("bob", "long-enough-pw", "10.0.0.1", bobs) is Role.ANALYST

    # a known browser's own guesses: max_failures, then it waits too (a stolen cookie buys 2 guesses)
    for _ in range(2):
        assert store.authenticate("ana", "wrong-password", "10.0.3.1", device) is None
    with pytest.raises(Throttled):
        store.authenticate("ana", "long-enough-pw", "10.0.3.1", device)

    renewed = store.remember_device("ana", device)  # a login replaces the browser's token
    assert store.authenticate("ana", "long-enough-pw", "10.0.0.1", renewed) is Role.ANALYST
    with pytest.raises(Throttled):
        store.authenticate("ana", "long-enough-pw", "10.0.0.1", device)
    with store.engine.begin() as con:  # the token's time is up
        con.execute(
            devices_table.update().values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    with pytest.raises(Throttled):
        store.authenticate("ana", "long-enough-pw", "10.0.0.1", renewed)
    store.remember_device("bob")  # purges the expired tokens
    with store.engine.connect() as con:
        assert con.execute(sa.select(sa.func.count()).select_from(devices_table)).scalar_one() == 1
    tokens = [store.remember_device("bob") for _ in range(DEVICES_PER_USER + 5)]  # logins without a cookie
    with store.engine.connect() as con:
        kept = con.execute(sa.select(devices_table.c.token_sha256).where(devices_table.c.username == "bob"))
        assert len(kept.all()) == DEVICES_PER_USER  # the newest: a user's rows do not pile up
    assert store.authenticate("bob", "long-enough-pw", "10.0.9.9", tokens[-1]) is Role.ANALYST
    bobs = store.remember_device("bob")
    store.add_user("bob", "a-new-password", Role.ADMIN, replace=True)  # a reset forgets bob's browsers
    assert store.remove_user("ana")
    with store.engine.connect() as con:
        assert con.execute(sa.select(sa.func.count()).select_from(devices_table)).scalar_one() == 0


@pytest.mark.parametrize(
    ("hours", "code"),
    [(1, "HOURLY"), (4, "OTHER"), (24, "DAILY"), (24 * 31, "MONTHLY"), (24 * 366, "ANNUAL"), (None, "IRREG")],
)
def test_accrual_periodicity_uses_the_eu_frequency_vocabulary(hours: float | None, code: str) -> None:
    assert accrual_periodicity(hours) == f"http://publications.europa.eu/resource/authority/frequency/{code}"


def test_chart_json_holds_no_markup_whatever_upstream_names_say() -> None:
    name = "站</script><!--<script>"  # would end the element, or hide its end from the HTML parser
    text = figure_json([{"type": "bar", "x": [name], "y": [1]}], {"title": {"text": name}})
    assert "<" not in text
    assert json.loads(text)["data"][0]["x"] == [name]


def test_password_checks_run_a_few_at_a_time_and_a_login_kept_waiting_is_busy_not_failed(
    tmp_path: Path,
) -> None:
    """Argon2id takes 64 MiB a check: a flood of logins from many clients (no throttle holds it) waits
    for one of ``hashes_at_once`` turns; one waiting longer than ``hash_wait_s`` is Busy, and — no
    password having been checked — is not counted as a failed login."""
    store = UserStore(f"sqlite:///{tmp_path / 'state.sqlite'}", max_failures=2, hashes_at_once=2)
    store.add_user("ana", "long-enough-pw", "analyst")
    store.hash_wait_s = 0.2
    entered = threading.Barrier(3)

    class SlowHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            entered.wait(10)  # two checks at once: both turns taken
            time.sleep(1.0)
            return super().verify(hash, password)

    real_hasher, store.hasher = store.hasher, SlowHasher()
    results: list[Role | None] = []

    def log_in(client: str) -> None:
        results.append(store.authenticate("ana", "long-enough-pw", client))

    checks = [threading.Thread(target=log_in, args=(c,)) for c in ("10.0.0.1", "10.0.0.2")]
    for t in checks:
        t.start()
    entered.wait(10)
    for _ in range(3):  # more than max_failures: none of them counts
        with pytest.raises(Busy):
            store.authenticate("ana", "long-enough-pw", "10.0.0.3")
    for t in checks:
        t.join(10)
    assert results == [Role.ANALYST, Role.ANALYST]
    store.hasher = real_hasher
    assert store.authenticate("ana", "long-enough-pw", "10.0.0.3") is Role.ANALYST


def test_a_login_beyond_those_allowed_to_wait_is_busy_at_once(tmp_path: Path) -> None:
    """Each waiting login holds one of the web app's worker threads: with ``logins_waiting`` waiting,
    the next is refused at once, not after ``hash_wait_s`` — a flood from many clients cannot hold
    every thread."""
    store = UserStore(f"sqlite:///{tmp_path / 'state.sqlite'}", hashes_at_once=1, logins_waiting=1)
    store.add_user("ana", "long-enough-pw", "analyst")
    store.hash_wait_s = 60.0
    checking, release = threading.Event(), threading.Event()

    class HeldHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            checking.set()
            release.wait(30)
            return super().verify(hash, password)

    store.hasher = HeldHasher()
    results: list[Role | str | None] = []

    def log_in(client: str) -> None:
        try:
            results.append(store.authenticate("ana", "long-enough-pw", client))
        except Busy:
            results.append("busy")

    first = threading.Thread(target=log_in, args=("10.0.0.1",))
    first.start()
    assert checking.wait(10)
    # two more while the one turn is taken: one may wait for it, the other is refused at once
    more = [threading.Thread(target=log_in, args=(c,)) for c in ("10.0.0.2", "10.0.0.3")]
    for t in more:
        t.start()
    deadline = time.monotonic() + 10
    while not results and time.monotonic() < deadline:
        time.sleep(0.05)
    assert results == ["busy"], "no login was refused at once: both wait for the turn"
    release.set()
    for t in (first, *more):
        t.join(30)
    assert sorted(map(str, results)) == sorted(["busy", str(Role.ANALYST), str(Role.ANALYST)])


def test_a_hash_with_older_parameters_is_replaced_at_the_next_login(tmp_path: Path) -> None:
    store = UserStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    store.add_user("ana", "long-enough-pw", "analyst")
    older = PasswordHasher(time_cost=1, memory_cost=8192).hash("long-enough-pw")
    with store.engine.begin() as con:
        con.execute(sa.update(users_table).values(password_hash=older))
    assert store.authenticate("ana", "long-enough-pw", "10.0.0.1") is Role.ANALYST
    with store.engine.connect() as con:
        now = con.execute(sa.select(users_table.c.password_hash)).scalar_one()
    assert now != older and not store.hasher.check_needs_rehash(now)
    assert store.authenticate("ana", "long-enough-pw", "10.0.0.1") is Role.ANALYST


# -- /overview/air: unranked cities (an indicator without a valid statistic) -------------------------
RANKING: list[dict[str, Any]] = [
    {
        "rank": 1,
        "city": "乙市",
        "stations": 1,
        "aqi": 69,
        "aqi_category": "良",
        "primary_pollutants": "PM2.5",
        "pm25_ugm3": 50.0,
        "pm10_ugm3": 80.0,
        "o3_8h_max_ugm3": 60.0,
        "missing_indicators": None,
    },
    {
        "rank": 2,
        "city": "丁市",
        "stations": 2,
        "aqi": 120,
        "aqi_category": "轻度污染",
        "primary_pollutants": "PM2.5",
        "pm25_ugm3": 91.0,
        "pm10_ugm3": 100.0,
        "o3_8h_max_ugm3": 50.0,
        "missing_indicators": None,
    },
    {
        "rank": None,
        "city": "甲市",
        "stations": 1,
        "aqi": None,
        "aqi_category": None,
        "primary_pollutants": None,
        "pm25_ugm3": None,
        "pm10_ugm3": None,
        "o3_8h_max_ugm3": 60.0,
        "missing_indicators": "PM2.5,PM10",
    },
]


def test_ranking_chart_puts_unranked_cities_after_the_ranked_with_their_reason() -> None:
    figure = json.loads(ranking_chart(RANKING, dt.date(2023, 1, 20), lambda zh, en: zh))
    ranked, unranked = figure["data"]
    assert (ranked["y"], ranked["x"]) == (["乙市", "丁市"], [69, 120])  # rank order, no unranked bar
    assert (unranked["y"], unranked["x"]) == (["甲市"], [0])
    assert unranked["text"] == ["无排名：缺少有效的 PM2.5,PM10"] and unranked["marker"]["color"] == "#888"
    assert figure["layout"]["yaxis"]["categoryarray"] == ["乙市", "丁市", "甲市"]
    assert ranked["text"][0] == "良 PM2.5"
    english = json.loads(ranking_chart(RANKING, dt.date(2023, 1, 20), lambda zh, en: en, "en"))
    assert english["data"][0]["text"][0] == "good PM2.5"  # HJ 633's English category names


def test_air_page_lists_unranked_cities_with_their_reason() -> None:
    html = TEMPLATES.env.get_template("air.html").render(
        v=Viewer(None, "en", ""),
        t=lambda zh, en: en,
        Role=Role,
        lang_url=lambda lang: "/",
        request=SimpleNamespace(url=SimpleNamespace(path="/overview/air")),
        dates=[dt.date(2023, 1, 20)],
        day=dt.date(2023, 1, 20),
        ranking=RANKING,
        stations=[],
        chart="{}",
        labels={"aqi": AQI_CATEGORIES.in_language("en")},
    )
    rows = [r for r in html.split("<tr")[1:] if "甲市" in r or "乙市" in r]
    assert '<td class="num">1</td><td>乙市</td>' in rows[0] and "no valid" not in rows[0]
    assert "<td>good</td>" in rows[0] and "良" not in rows[0]
    assert 'class="unranked"><td class="num">—</td><td>甲市</td>' in rows[1]
    assert "no valid PM2.5,PM10" in rows[1]


def test_sample_rows_are_the_newest_day_s_first_rows_by_key_on_every_visit() -> None:
    """A date-partitioned table's newest day has many rows: the sample is its first ones by key, not
    whichever the scan met first (it changed from visit to visit, and with each refresh)."""
    import duckdb
    import pyarrow as pa

    from ecocloud.web.queries import sample
    from schemas.registry import get_table

    table = get_table("mart_source__disclosure_daily")
    newest, older = dt.date(2026, 11, 20), dt.date(2026, 11, 19)
    usccs = [f"91360100MA35T{i:04d}X" for i in range(50)]
    rows = [{"date": d, "uscc": u, "outlet_code": "DA001", "point_no": 1, "pollutant_code": "a21026",
             "identity_from_at": dt.datetime(2026, 11, 18, 16, tzinfo=dt.UTC), "hours_present": 24,
             "hours_valid": 24, "hours_judged": 24, "hours_exceeded": 0, "limit_changed": False}
            for d in (older, newest) for u in reversed(usccs)]  # fmt: skip
    data = table.conform(pa.Table.from_pylist([dict.fromkeys(table.column_names) | r for r in rows]))
    con = duckdb.connect()
    con.execute("SET threads = 4")
    for i in range(4):  # several row groups, scanned in parallel
        con.register(f"chunk{i}", data.slice(i * 25, 25))
    con.execute(
        f'CREATE TABLE "{table.name}" AS ' + " UNION ALL ".join(f"SELECT * FROM chunk{i}" for i in range(4))
    )
    names, got = sample(con, table, 5)
    picked = [dict(zip(names, r, strict=True)) for r in got]
    assert [(r["date"], r["uscc"]) for r in picked] == [(newest, u) for u in usccs[:5]]


def test_a_dated_page_opens_on_the_newest_complete_day_and_today_only_when_asked() -> None:
    """The disclosure and air pages: today's rows are rebuilt each hour from its hours so far (a
    partial day's mean is not the day's), so they show it only when asked, marked as under way."""
    from fastapi import HTTPException

    from ecocloud.web.routes_overview import shown_day, under_way
    from schemas.clock import BEIJING

    v = Viewer(session=None, lang="zh", csrf_token="")
    today = dt.datetime.now(BEIJING).date()
    noon = dt.datetime.combine(today, dt.time(12), BEIJING)
    dates = [today, today - dt.timedelta(days=1), today - dt.timedelta(days=2)]
    assert shown_day(v, dates, None, ("无", "none"), noon) == dates[1] and not under_way(dates[1], noon)
    assert shown_day(v, dates, today, ("无", "none"), noon) == today and under_way(today, noon)
    assert shown_day(v, [today], None, ("无", "none"), noon) == today  # nothing complete: today, marked
    assert shown_day(v, [], None, ("无", "none"), noon) is None
    # a day is complete from its midnight on, whatever the wall clock of the machine running the test
    early = dt.datetime.combine(today, dt.time(0, 30), BEIJING)
    assert not under_way(dates[1], early) and shown_day(v, dates, None, ("无", "none"), early) == dates[1]
    with pytest.raises(HTTPException) as missing:
        shown_day(v, dates, today - dt.timedelta(days=9), ("无", "none"))
    assert missing.value.status_code == 404


def test_an_outlet_without_evidence_or_limits_charts_what_it_measures() -> None:
    """An outlet no permit lists, with no exceedance: its page said "no hourly values to draw" above the
    list of the items it measured."""
    from ecocloud.web.routes_risk import _chart_codes
    from transforms.risk import load_rules

    rules = load_rules()
    measured = [{"pollutant_code": c} for c in ("w00000", "w01018", "w21003")]  # flow is auxiliary
    assert _chart_codes(measured, [], set(), rules) == ["w01018", "w21003"]
    found = [{"pollutant_code": "w21003"}]
    assert _chart_codes(measured, found, {"w01018"}, rules) == ["w21003", "w01018"]  # evidence, then limits
    assert _chart_codes(measured, found, set(), rules) == ["w21003"]
