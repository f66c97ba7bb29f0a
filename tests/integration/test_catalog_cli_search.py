"""`ecocloud catalog search | list` and `show`'s answer to a name it does not know, on simulator data
(the session's web home: two days of air and a water snapshot)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest
from conftest import ecocloud_bin, outside_env
from conftest import run_ecocloud as ecocloud

from ecocloud.web.queries import search_datasets
from schemas.hj212_codes import POLLUTANTS
from schemas.registry import Layer, Sharing, all_tables

if TYPE_CHECKING:
    from conftest import WebHome

ROW_KEYS = ["table_name", "title_zh", "layer", "source", "sharing", "freshness_status", "rows"]
# HJ 212 readings name a pollutant by its code only ("如 w01018"): 化学需氧量 (COD) finds them by it
HJ212_TABLES = {"core_source__readings", "mart_source__hourly", "mart_source__daily"}


def found(home: WebHome, *args: str) -> list[dict[str, Any]]:
    """The datasets a `catalog search|list … --format json` prints (it succeeded)."""
    done = ecocloud(home, "catalog", *args, "--format", "json")
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def test_search_finds_a_water_parameter_by_its_chinese_name(catalog_built: WebHome) -> None:
    done = ecocloud(catalog_built, "catalog", "search", "氨氮")
    assert done.returncode == 0, done.stderr
    assert "core_water__section_readings" in done.stdout and "地表水水质自动监测" in done.stdout
    rows = found(catalog_built, "search", "氨氮")
    assert rows[0]["table_name"] == "core_water__section_readings"
    assert list(rows[0]) == ROW_KEYS and rows[0]["sharing"] == Sharing.UNCONDITIONAL.value
    assert rows[0]["rows"] > 0 and rows[0]["layer"] == "core"


def test_a_pollutants_chinese_name_finds_the_hj212_tables_by_its_code(catalog_built: WebHome) -> None:
    by_name = [r["table_name"] for r in found(catalog_built, "search", "化学需氧量")]
    by_code = [r["table_name"] for r in found(catalog_built, "search", "w01018")]
    assert set(by_name) >= HJ212_TABLES and set(by_code) >= HJ212_TABLES
    # none of those entries says 化学需氧量: the name is matched by the code, as on the web
    con = duckdb.connect(str(catalog_built.home / "ecocloud.duckdb"), read_only=True)
    try:
        said = con.execute(
            "SELECT count(*) FROM catalog_columns WHERE list_contains($1, table_name) "
            "AND concat_ws(' ', column_name, description_zh, description, value_labels) LIKE '%化学需氧量%'",
            [sorted(HJ212_TABLES)],
        ).fetchall()[0][0]
    finally:
        con.close()
    assert said == 0
    # every pollutant of the HJ 212 table, by its code or a name (烟尘 is also written 颗粒物): they are
    # values of the tables' pollutant_code, which their entries name by an example only
    for term in ("氨氮", "w21003", "颗粒物", "烟尘", "a34013", "ammonia nitrogen"):
        assert {r["table_name"] for r in found(catalog_built, "search", term)} >= HJ212_TABLES, term


def test_a_pollutants_english_name_finds_what_its_chinese_name_and_formula_find(
    catalog_built: WebHome,
) -> None:
    """The HJ 212 table's English names were formulas (SO2, COD): "sulfur dioxide" and "chemical oxygen
    demand" found nothing, "ozone" the air tables only. Every name of a pollutant now finds the same."""
    done = ecocloud(catalog_built, "catalog", "search", "sulfur", "dioxide")
    assert done.returncode == 0 and "core_source__readings" in done.stdout, done.stderr
    con = duckdb.connect(str(catalog_built.home / "ecocloud.duckdb"), read_only=True)
    levels = [s.value for s in Sharing]
    try:

        def tables(q: str) -> set[str]:
            return {d["table_name"] for d in search_datasets(con, q, levels)}

        for p in POLLUTANTS.values():
            by_zh = tables(p.name_zh)
            assert by_zh >= HJ212_TABLES, p.name_zh
            for name in {p.full_name, p.name, p.full_name.upper(), *p.other_names}:
                assert tables(name) == by_zh, (p.code, name)
        # the air tables write SO2 and O3: found by the English names too
        for name in (
            "sulfur dioxide",
            "sulphur dioxide",
            "ozone",
            "carbon monoxide",
            "fine particulate matter",
        ):
            assert "core_air__station_hourly" in tables(name), name
        # a formula not typed matches in its own case only: 一氧化氮 (NO) is no "no" in a description
        assert "core_credit__ratings" not in tables("一氧化氮") | tables("nitric oxide")
    finally:
        con.close()


# a Chinese term; two words, each of which must match; a pollutant's English name of two words (one term)
@pytest.mark.parametrize("q", [("氨氮",), ("water", "class"), ("ammonia", "nitrogen")])
def test_search_ranks_as_the_web_search_at_every_sharing_level(
    catalog_built: WebHome, q: tuple[str, ...]
) -> None:
    con = duckdb.connect(str(catalog_built.home / "ecocloud.duckdb"), read_only=True)
    try:
        web = [d["table_name"] for d in search_datasets(con, " ".join(q), [s.value for s in Sharing])]
    finally:
        con.close()
    assert web and [r["table_name"] for r in found(catalog_built, "search", *q)] == web


def test_no_match_is_exit_1_like_grep(catalog_built: WebHome) -> None:
    done = ecocloud(catalog_built, "catalog", "search", "xyzzy", "氨氮")
    assert done.returncode == 1 and done.stdout == "" and "no dataset matches xyzzy 氨氮" in done.stderr
    as_json = ecocloud(catalog_built, "catalog", "search", "xyzzy", "--format", "json")
    assert as_json.returncode == 1 and json.loads(as_json.stdout) == []
    blank = ecocloud(catalog_built, "catalog", "search", " ")
    assert blank.returncode == 2 and "catalog list" in blank.stderr


def test_list_every_dataset_or_one_layer(catalog_built: WebHome) -> None:
    every = found(catalog_built, "list")
    assert {r["table_name"] for r in every} == {t.name for t in all_tables() if t.layer is not Layer.STAGE}
    marts = found(catalog_built, "list", "--layer", "mart")
    assert {r["layer"] for r in marts} == {"mart"}
    assert {r["table_name"] for r in marts} == {t.name for t in all_tables() if t.layer is Layer.MART}
    done = ecocloud(
        catalog_built, "catalog", "list", "--layer", "mart", "--source", "water", "--format", "csv"
    )
    assert done.returncode == 0, done.stderr
    table = list(csv.DictReader(io.StringIO(done.stdout)))
    assert {r["table_name"] for r in table} == {"mart_water__basin_monthly", "mart_water__section_monthly"}


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (
            ("list", "--layer", "nope"),
            "--layer: no layer 'nope' in the catalog; one of: catalog, core, mart, platform, quality, quarantine",
        ),
        (("search", "氨氮", "--source", "nope"), "--source: no source 'nope' in the catalog; one of: air,"),
    ],
)
def test_an_unknown_layer_or_source_is_refused_with_the_allowed_values(
    catalog_built: WebHome, command: tuple[str, ...], says: str
) -> None:
    done = ecocloud(catalog_built, "catalog", *command)
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr


def test_show_a_typo_suggests_the_real_names(catalog_built: WebHome) -> None:
    done = ecocloud(catalog_built, "catalog", "show", "core_air__station")
    assert done.returncode == 2 and done.stdout == ""
    assert "no dataset named 'core_air__station'" in done.stderr
    assert (
        "did you mean core_air__stations or core_air__station_daily or core_air__station_hourly?"
        in done.stderr
    )
    assert "ecocloud catalog search" in done.stderr and "catalog build" not in done.stderr
    unlike = ecocloud(catalog_built, "catalog", "show", "zzz")
    assert (
        unlike.returncode == 2 and "did you mean" not in unlike.stderr and "catalog search" in unlike.stderr
    )


def test_without_a_serving_database_the_message_show_gives(tmp_path: Path) -> None:
    env = outside_env() | {"ECOCLOUD_HOME": str(tmp_path)}
    answers = [
        subprocess.run(
            [ecocloud_bin(), "catalog", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        for command in (("show", "x"), ("list",), ("search", "氨氮"))
    ]
    assert {a.returncode for a in answers} == {2}
    assert "no serving database at" in answers[0].stderr
    assert {a.stderr for a in answers} == {answers[0].stderr} and "Traceback" not in answers[0].stderr
