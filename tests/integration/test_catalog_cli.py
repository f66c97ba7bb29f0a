"""`ecocloud catalog build | show | export` on simulator data; the DCAT-AP export parsed as RDF."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest
from conftest import run_ecocloud as ecocloud
from rdflib import RDF, Graph, Literal, Namespace, URIRef

from ecocloud.catalog_export import HIDDEN
from schemas.registry import Layer, Sharing, all_tables, get_table
from warehouse.catalog import datasets_as_of

if TYPE_CHECKING:
    from conftest import WebHome

# plain namespaces: rdflib's closed DCAT namespace object trips pytest's introspection
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCTERMS = Namespace("http://purl.org/dc/terms/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
EU_FREQ = "http://publications.europa.eu/resource/authority/frequency/"
DATASETS = [t for t in all_tables() if t.layer is not Layer.STAGE]

# DCAT-AP mandatory properties per class
MANDATORY = {
    DCAT.Catalog: (DCTERMS.title, DCTERMS.description, DCTERMS.publisher, DCAT.dataset),
    DCAT.Dataset: (DCTERMS.title, DCTERMS.description),
    DCAT.Distribution: (DCAT.accessURL,),
    FOAF.Agent: (FOAF.name,),
    DCAT.DataService: (DCAT.endpointURL, DCTERMS.title),
}


def test_build_lists_every_registry_table_with_live_facts(catalog_built: WebHome) -> None:
    con = duckdb.connect(str(catalog_built.home / "ecocloud.duckdb"), read_only=True)
    try:
        names = {r[0] for r in con.execute("SELECT table_name FROM catalog_datasets").fetchall()}
        assert names == {t.name for t in DATASETS}
        (rows, parts, size, status, end) = con.execute(
            "SELECT rows, partitions, size_bytes, freshness_status, coverage_end FROM catalog_datasets "
            "WHERE table_name = 'core_air__station_hourly'"
        ).fetchall()[0]
        (lake_rows,) = con.execute("SELECT count(*) FROM core_air__station_hourly").fetchall()[0]
        assert rows == lake_rows > 0 and parts == len(catalog_built.days) and size > 0
        assert status in ("on time", "late") and end.date() >= catalog_built.days[-1]

        def judged(at: dt.datetime) -> str:
            relation = datasets_as_of(f"TIMESTAMPTZ '{at.isoformat()}'")
            query = f"SELECT freshness_status FROM {relation} WHERE table_name = 'core_air__station_hourly'"
            return str(con.execute(query).fetchall()[0][0])

        # an hourly feed: on time just after its newest hour, late once it has been silent a day
        assert (judged(end + dt.timedelta(minutes=30)), judged(end + dt.timedelta(days=1))) == (
            "on time",
            "late",
        )
        files = sum(
            f.stat().st_size
            for f in (catalog_built.home / "lake" / "core" / "core_air__station_hourly").rglob("*.parquet")
        )
        assert size == files
        agreement = con.execute(
            "SELECT share_percent, checked FROM catalog_quality WHERE table_name = 'core_air__station_hourly' "
            "AND kind = 'agreement'"
        ).fetchall()
        assert agreement and agreement[0][1] > 0 and 99 <= agreement[0][0] <= 100
    finally:
        con.close()


def test_show_prints_one_entry(catalog_built: WebHome) -> None:
    shown = ecocloud(catalog_built, "catalog", "show", "core_water__section_readings")
    assert shown.returncode == 0, shown.stderr
    assert (
        "water_class" in shown.stdout and "class_published" in shown.stdout and "无条件共享" in shown.stdout
    )
    assert (
        "ecocloud sql and the web show them in Beijing time (+08:00)" in shown.stdout
    )  # it has *_at columns
    missing = ecocloud(catalog_built, "catalog", "show", "no_such_table")
    assert missing.returncode == 2 and "no dataset" in missing.stderr


def test_show_fits_its_columns_in_a_terminal(catalog_built: WebHome) -> None:
    """In a 120-column terminal a column's Chinese description is whole (it was cut to four
    characters beside nine other columns; a long one now wraps), its range reads 0 … 5000."""
    env = {**catalog_built.env, "COLUMNS": "120"}
    shown = subprocess.run(
        [catalog_built.ecocloud, "catalog", "show", "core_air__station_hourly"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    table = get_table("core_air__station_hourly")
    assert max(len(line) for line in shown.splitlines()) <= 120
    short = [c for c in table.columns if len(c.description_zh) <= 20]  # a longer one wraps in its cell
    assert len(short) >= 10 and all(c.description_zh in shown for c in short)
    assert "0 … 5000" in shown and "5000.0" not in shown


def _graph(text: str) -> Graph:
    return Graph().parse(data=text, format="json-ld")


def test_dcat_export_is_dcat_ap_json_ld(catalog_built: WebHome) -> None:
    done = ecocloud(
        catalog_built, "catalog", "export", "--format", "dcat", "--base-url", "https://data.example.gov.cn"
    )
    assert done.returncode == 0, done.stderr
    g = _graph(done.stdout)
    for cls, props in MANDATORY.items():
        subjects = set(g.subjects(RDF.type, cls))
        assert subjects, f"no {cls}"
        for s in subjects:
            for p in props:
                assert (s, p, None) in g, f"{s} ({cls}) lacks {p}"
    datasets = set(g.subjects(RDF.type, DCAT.Dataset))
    public = {t.name for t in DATASETS if t.sharing is Sharing.UNCONDITIONAL}
    assert {str(g.value(d, DCTERMS.identifier)) for d in datasets} == public
    hourly = URIRef("https://data.example.gov.cn/datasets/core_air__station_hourly")
    titles = {(t.language, str(t)) for t in g.objects(hourly, DCTERMS.title) if isinstance(t, Literal)}
    assert {lang for lang, _ in titles} == {"zh", "en"}
    assert str(g.value(hourly, DCTERMS.accrualPeriodicity)).startswith(EU_FREQ)
    period = g.value(hourly, DCTERMS.temporal)
    assert g.value(period, DCAT.startDate) is not None and g.value(period, DCAT.endDate) is not None
    # in Beijing time: a portal showing the date alone shows the first day of data, not the day before
    assert str(g.value(period, DCAT.startDate)) == f"{catalog_built.days[0].isoformat()}T00:00:00+08:00"
    service = URIRef("https://data.example.gov.cn/sql#service")
    assert str(g.value(service, DCTERMS.accessRights)).endswith("/RESTRICTED")  # analysts' login only
    spatial = g.value(hourly, DCTERMS.spatial)
    assert (spatial, RDF.type, DCTERMS.Location) in g and g.value(spatial, DCAT.bbox) is not None
    assert g.value(hourly, DCTERMS.conformsTo) is not None
    contact = g.value(hourly, DCAT.contactPoint)
    assert g.value(contact, VCARD.fn) is not None
    owner = get_table("core_air__station_hourly").owner
    assert "@" in owner.contact  # every owner has a mailbox to name
    assert str(g.value(contact, VCARD.hasEmail)) == f"mailto:{owner.contact}"
    assert (g.value(hourly, DCTERMS.publisher), RDF.type, FOAF.Agent) in g
    formats = {str(g.value(d, DCTERMS["format"])) for d in g.objects(hourly, DCAT.distribution)}
    assert any(f.endswith("/PARQUET") for f in formats) and any(f.endswith("/CSV") for f in formats)
    assert len(list(g.objects(hourly, DCAT.distribution))) == 3
    # a 无条件共享 dataset's rows are anyone's: a portal gets direct download links
    downloads = {str(u) for d in g.objects(hourly, DCAT.distribution) for u in g.objects(d, DCAT.downloadURL)}
    page = "https://data.example.gov.cn/datasets/core_air__station_hourly"
    assert downloads == {f"{page}/data.csv", f"{page}/data.parquet"}
    keywords = {(k.language, str(k)) for k in g.objects(hourly, DCAT.keyword) if isinstance(k, Literal)}
    assert {("zh", "环境空气"), ("en", "ambient air"), ("zh", "核心层")} <= keywords
    assert str(g.value(hourly, DCAT.theme)).endswith("/data-theme/ENVI")


def _licensed_export(home: WebHome, licence: str, *args: str) -> Graph:
    """The DCAT export with ECOCLOUD_CATALOG_LICENSE_URL set to ``licence``."""
    done = subprocess.run(
        [home.ecocloud, "catalog", "export", *args, "--base-url", "https://data.example.gov.cn"],
        env=home.env | {"ECOCLOUD_CATALOG_LICENSE_URL": licence},
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return _graph(done.stdout)


def test_a_licence_is_claimed_only_when_named_and_only_for_open_data(catalog_built: WebHome) -> None:
    """No licence without the operator's word; with it, every download of openly shared data carries
    it, and nothing else does (not the SQL service, not an --all-levels entry behind a login)."""
    plain = _graph(ecocloud(catalog_built, "catalog", "export").stdout)
    assert not list(plain.triples((None, DCTERMS.license, None)))
    cc_by = "https://creativecommons.org/licenses/by/4.0/"
    lg = _licensed_export(catalog_built, cc_by)
    for dist in lg.subjects(RDF.type, DCAT.Distribution):
        has_download = lg.value(dist, DCAT.downloadURL) is not None
        assert (str(lg.value(dist, DCTERMS.license)) == cc_by) == has_download
    ag = _licensed_export(catalog_built, cc_by, "--all-levels")
    licensed = {
        str(ag.value(d, DCTERMS.identifier))
        for d in ag.subjects(RDF.type, DCAT.Dataset)
        for dist in ag.objects(d, DCAT.distribution)
        if ag.value(dist, DCTERMS.license) is not None
    }
    assert licensed == {t.name for t in DATASETS if t.sharing is Sharing.UNCONDITIONAL}


def test_dcat_export_all_levels_and_json(
    catalog_built: WebHome, tmp_path_factory: pytest.TempPathFactory
) -> None:
    out = tmp_path_factory.mktemp("export") / "catalog.jsonld"
    done = ecocloud(catalog_built, "catalog", "export", "--all-levels", "-o", str(out))
    assert done.returncode == 0, done.stderr
    # the default address is this machine's: a harvester elsewhere would get dead links, so it says so
    assert "points at http://127.0.0.1" in done.stderr and "--base-url" in done.stderr
    g = _graph(out.read_text(encoding="utf-8"))
    assert len(set(g.subjects(RDF.type, DCAT.Dataset))) == len(DATASETS)
    # rows behind a login have no download link a portal would show anyone
    (readings,) = [d for d in g.subjects(RDF.type, DCAT.Dataset) if str(d).endswith("/core_source__readings")]
    assert not [u for d in g.objects(readings, DCAT.distribution) for u in g.objects(d, DCAT.downloadURL)]
    plain = ecocloud(catalog_built, "catalog", "export", "--format", "json")
    doc = json.loads(plain.stdout)
    by = {d["table_name"]: d for d in doc["datasets"]}
    assert set(by) == {t.name for t in DATASETS if t.sharing is Sharing.UNCONDITIONAL}
    assert [c["column_name"] for c in by["core_air__stations"]["columns"]][:2] == [
        "station_code",
        "station_name",
    ]
    # the public export names no table it leaves out — not as a quarantine, an input or a quality check
    hidden = {t.name for t in DATASETS if t.sharing is not Sharing.UNCONDITIONAL}
    named = {q.strip() for d in doc["datasets"] for q in (d["quarantine_tables"] or "").split(",")}
    named |= {e["input_id"] for d in doc["datasets"] for e in d["lineage"]}
    named |= {c["check_name"] for d in doc["datasets"] for c in d["quality"]}
    assert HIDDEN in named and not named & hidden


@pytest.mark.parametrize("command", [("catalog", "export"), ("export-ddl", "--dialect", "trino")])
def test_an_output_path_that_cannot_be_written_is_a_message_not_a_traceback(
    catalog_built: WebHome, tmp_path_factory: pytest.TempPathFactory, command: tuple[str, ...]
) -> None:
    folder = tmp_path_factory.mktemp("out")
    for target, says in (
        (folder / "missing" / "x.out", f"--output: there is no folder {folder / 'missing'}"),
        (folder, f"--output: {folder} is a folder: give a file name"),
        (Path("/proc/x.out"), "--output: cannot write /proc/x.out"),
    ):
        done = ecocloud(catalog_built, *command, "-o", str(target))
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_base_url_that_is_no_address_is_refused(catalog_built: WebHome) -> None:
    done = ecocloud(catalog_built, "catalog", "export", "--base-url", "notaurl")
    assert done.returncode == 2 and "--base-url: 'notaurl' is not an http(s) address" in done.stderr
    assert done.stdout == ""
