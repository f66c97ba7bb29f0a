"""The catalog for other systems: DCAT-AP JSON-LD (what a CKAN-style portal harvests) and plain JSON.

Both are made from the serving database's ``catalog_*`` tables, limited to the sharing levels the
reader may see (the public export: 无条件共享 only); a table the reader may not see is not named in a
visible one's quarantine, lineage or quality rows either (``HIDDEN``, as the web pages show it).

DCAT-AP mapping: the catalog is a ``dcat:Catalog`` published by the centre; each registry table is a
``dcat:Dataset`` (titles and descriptions with ``@language`` zh and en, the owner department as
``dct:publisher`` and ``dcat:contactPoint``, ``dct:temporal`` from the time coverage,
``dct:spatial`` the region with the bounding box of the shared stations and sections,
``dct:accrualPeriodicity`` from the EU frequency vocabulary, ``dct:conformsTo`` its registry schema,
``dct:accessRights`` from the sharing level) with two ``dcat:Distribution``s: the Parquet files in
the lake and the DuckDB view behind the SQL service.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

import duckdb

from ecocloud.settings import Settings
from schemas.clock import BEIJING
from schemas.fields import LAYERS, SOURCES
from schemas.registry import Sharing, all_tables, get_table
from warehouse.catalog import datasets_as_of

EU = "http://publications.europa.eu/resource/authority"
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "locn": "http://www.w3.org/ns/locn#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "gsp": "http://www.opengis.net/ont/geosparql#",
}
# EU access-right vocabulary for the three sharing levels
ACCESS_RIGHTS = {
    Sharing.UNCONDITIONAL.value: f"{EU}/access-right/PUBLIC",
    Sharing.CONDITIONAL.value: f"{EU}/access-right/RESTRICTED",
    Sharing.NOT_SHARED.value: f"{EU}/access-right/NON_PUBLIC",
}
# EU frequency vocabulary: the largest interval a code stands for, in hours
_FREQUENCIES = ((1, "HOURLY"), (2, "BIHOURLY"), (3, "TRIHOURLY"), (12, "12HRS"), (24, "DAILY"))
_LONGER = ((24 * 7, "WEEKLY"), (24 * 31, "MONTHLY"), (24 * 92, "QUARTERLY"), (24 * 366, "ANNUAL"))
HIDDEN = "受限数据集 (restricted)"  # how a table the reader may not see is named


def accrual_periodicity(expected_h: float | None) -> str:
    """The EU frequency URI for an expected update interval (None: irregular, on change)."""
    if expected_h is None:
        return f"{EU}/frequency/IRREG"
    for hours, code in _FREQUENCIES:
        if expected_h == hours:
            return f"{EU}/frequency/{code}"
    for hours, code in _LONGER:
        if expected_h <= hours and expected_h > hours / 2:
            return f"{EU}/frequency/{code}"
    return f"{EU}/frequency/OTHER"  # e.g. every 4 hours: no code in the vocabulary


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def load_catalog(con: duckdb.DuckDBPyConnection, levels: Sequence[str]) -> list[dict[str, Any]]:
    """Datasets at the given sharing levels, each with its columns, lineage and quality rows."""
    params = {"levels": list(levels)}
    datasets = _dicts(
        con.execute(
            f"SELECT * FROM {datasets_as_of()} d WHERE list_contains($levels, sharing) ORDER BY table_name",
            params,
        )
    )
    names = [d["table_name"] for d in datasets]

    def visible(other: str) -> bool:
        try:
            return get_table(other).sharing.value in levels
        except KeyError:
            return False

    by: dict[str, dict[str, list[dict[str, Any]]]] = {
        n: {"columns": [], "lineage": [], "quality": []} for n in names
    }
    for part, sql in (
        (
            "columns",
            "SELECT * FROM catalog_columns WHERE list_contains($names, table_name) ORDER BY table_name, position",
        ),
        ("lineage", "SELECT * FROM catalog_lineage WHERE list_contains($names, output_table) ORDER BY ALL"),
        ("quality", "SELECT * FROM catalog_quality WHERE list_contains($names, table_name) ORDER BY ALL"),
    ):
        for row in _dicts(con.execute(sql, {"names": names})):
            shown = shown_input(row, visible) if part == "lineage" else shown_check(row, visible)
            by[row.get("table_name") or row["output_table"]][part].append(shown)
    return [
        d | {"quarantine_tables": shown_quarantine(d["quarantine_tables"], visible)} | by[d["table_name"]]
        for d in datasets
    ]


def shown_quarantine(tables: str | None, visible: Callable[[str], bool]) -> str | None:
    """A dataset's quarantine tables (comma-separated) as a reader sees them: those it may not see (不予共享,
    as every quarantine is to the public) named ``HIDDEN``, once."""
    names = [q if visible(q) else HIDDEN for q in (tables or "").split(",") if q]
    return ", ".join(dict.fromkeys(names)) or None


def shown_check(check: dict[str, Any], visible: Callable[[str], bool]) -> dict[str, Any]:
    """A quality row as a reader sees it: a quarantine table it may not see named ``HIDDEN``; its row
    count stays, a figure of the dataset's own input."""
    if check.get("kind") != "quarantine" or visible(check["check_name"]):
        return check
    return {**check, "check_name": HIDDEN}


def shown_input(edge: dict[str, Any], visible: Callable[[str], bool]) -> dict[str, Any]:
    """A lineage edge as a reader sees it: an input table it may not see named ``HIDDEN``."""
    if edge["input_kind"] == "raw" or visible(edge["input_id"]):
        return edge
    return {**edge, "input_id": HIDDEN}


def region_bbox(con: duckdb.DuckDBPyConnection) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of the coordinates in the unconditionally shared tables."""
    sources = [
        t.name
        for t in all_tables()
        if t.sharing is Sharing.UNCONDITIONAL and {"longitude", "latitude"} <= set(t.column_names)
    ]
    if not sources:
        return None
    union = " UNION ALL ".join(f'SELECT longitude, latitude FROM "{n}"' for n in sources)
    ((w, s, e, n),) = con.execute(
        f"SELECT min(longitude), min(latitude), max(longitude), max(latitude) FROM ({union})"
    ).fetchall()
    return None if w is None else (w, s, e, n)


def _text(zh: str | None, en: str | None) -> list[dict[str, str]]:
    return [{"@value": v, "@language": lang} for v, lang in ((zh, "zh"), (en, "en")) if v]


def _instant(t: dt.datetime | None) -> dict[str, str] | None:
    """In Beijing time: a portal showing the date part alone shows the day the data is of (a Beijing
    day's start in UTC is 16:00 of the day before)."""
    return {"@value": t.astimezone(BEIJING).isoformat(), "@type": "xsd:dateTime"} if t else None


PUBLISHER_SLUG = "centre"  # /organisations/centre: the catalog's publisher


def organisation_slug(owner_en: str) -> str:
    """The path part naming a department (``/organisations/<slug>``, its web page)."""
    return owner_en.lower().replace(" ", "-").replace(",", "")


def _agent(uri: str, zh: str, en: str) -> dict[str, Any]:
    return {"@id": uri, "@type": "foaf:Agent", "foaf:name": _text(zh, en)}


def range_end(value: object) -> str:
    """A column range's end as a reader writes it: 500 (not 500.0), 10000000000000 (not 1e+13), 0.5."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    return str(value)


def _keywords(d: dict[str, Any]) -> list[dict[str, str]]:
    """The dataset's source and layer, as the pages name them, in both languages."""
    return [
        {"@value": label, "@language": lang}
        for codes, code in ((SOURCES, d["source"]), (LAYERS, d["layer"]))
        if code in codes
        for lang in ("zh", "en")
        for label in (codes.in_language(lang)[code],)
    ]


def _download_text(d: dict[str, Any]) -> tuple[str, str]:
    """What a download link of the dataset gives, (zh, en)."""
    if d.get("partition_by"):
        return (
            "下载链接默认给出最新分区的数据行（?from=YYYY-MM-DD&to=YYYY-MM-DD 选择日期范围）",
            "the download link gives the newest partition's rows (?from=YYYY-MM-DD&to=YYYY-MM-DD for a range)",
        )
    return "下载链接给出全部数据行", "the download link gives all its rows"


def _csv_distribution(page: str, d: dict[str, Any], licence: dict[str, Any]) -> dict[str, Any]:
    """Anyone may download a 无条件共享 dataset's rows."""
    zh, en = _download_text(d)
    return licence | {
        "@id": f"{page}#csv",
        "@type": "dcat:Distribution",
        "dct:title": _text("CSV 下载", "CSV download"),
        "dct:description": _text(f"{zh}；UTF-8（带 BOM），北京时间", f"{en}; UTF-8 with a BOM, Beijing time"),
        "dcat:accessURL": {"@id": page},
        "dcat:downloadURL": {"@id": f"{page}/data.csv"},
        "dct:format": {"@id": f"{EU}/file-type/CSV"},
        "dcat:mediaType": {"@id": "https://www.iana.org/assignments/media-types/text/csv"},
    }


def dcat_dataset(
    d: dict[str, Any], base: str, spatial: dict[str, Any], licence_url: str | None = None
) -> dict[str, Any]:
    """A catalog dataset as DCAT-AP; ``licence_url``: the licence of the openly shared data's downloads."""
    name = d["table_name"]
    page = f"{base}/datasets/{name}"
    public = d["sharing"] == Sharing.UNCONDITIONAL.value  # its rows are anyone's to download
    licence = {"dct:license": {"@id": licence_url}} if public and licence_url else {}
    owner_id = f"{base}/organisations/{organisation_slug(d['owner_en'])}"
    node: dict[str, Any] = {
        "@id": page,
        "@type": "dcat:Dataset",
        "dct:identifier": name,
        "dct:title": _text(d["title_zh"], d["title_en"]),
        "dct:description": _text(d["description_zh"], d["description_en"]),
        "dct:publisher": _agent(owner_id, d["owner_zh"], d["owner_en"]),
        "dcat:contactPoint": {
            "@type": "vcard:Organization",
            "vcard:fn": d["owner_zh"],
            **({"vcard:hasEmail": {"@id": f"mailto:{d['contact']}"}} if "@" in (d["contact"] or "") else {}),
        },
        "dcat:keyword": _keywords(d),
        "dcat:theme": {"@id": f"{EU}/data-theme/ENVI"},
        "dct:accrualPeriodicity": {"@id": accrual_periodicity(d["expected_interval_h"])},
        "dct:accessRights": {"@id": ACCESS_RIGHTS[d["sharing"]]},
        "dct:spatial": spatial,
        "dct:conformsTo": {
            "@id": f"{page}#schema",
            "@type": "dct:Standard",
            "dct:title": _text(f"生态云登记表结构 {name}", f"ecocloud registry schema of {name}"),
        },
        "dcat:landingPage": {"@id": page},
        "dcat:distribution": [
            licence
            | {
                "@id": f"{page}#parquet",
                "@type": "dcat:Distribution",
                "dct:title": _text("Parquet 文件（数据湖）", "Parquet files (data lake)"),
                "dct:description": _text(
                    f"数据湖中按分区存放的 Parquet 文件：{d['layer']}/{name}/"
                    + (f"；{_download_text(d)[0]}" if public else ""),
                    f"hive-partitioned Parquet files in the lake: {d['layer']}/{name}/"
                    + (f"; {_download_text(d)[1]}" if public else ""),
                ),
                "dcat:accessURL": {"@id": page},
                **({"dcat:downloadURL": {"@id": f"{page}/data.parquet"}} if public else {}),
                "dct:format": {"@id": f"{EU}/file-type/PARQUET"},
                "dcat:mediaType": {
                    "@id": "https://www.iana.org/assignments/media-types/application/vnd.apache.parquet"
                },
                **(
                    {"dcat:byteSize": {"@value": str(d["size_bytes"]), "@type": "xsd:nonNegativeInteger"}}
                    if d["size_bytes"] is not None
                    else {}
                ),
            },
            *([_csv_distribution(page, d, licence)] if public else []),
            {
                "@id": f"{page}#duckdb",
                "@type": "dcat:Distribution",
                "dct:title": _text(f"DuckDB 视图 {name}", f"DuckDB view {name}"),
                "dct:description": _text(
                    "经只读 SQL 服务查询（需以分析人员或以上角色登录）",
                    "queried through the read-only SQL service (a login with the analyst role or above)",
                ),
                "dcat:accessURL": {"@id": f"{base}/sql"},
                "dcat:accessService": {
                    "@id": f"{base}/sql#service",
                    "@type": "dcat:DataService",
                    "dct:title": _text("生态云只读 SQL 服务", "ecocloud read-only SQL service"),
                    "dcat:endpointURL": {"@id": f"{base}/sql"},
                    # whatever the dataset's own rights: the service answers logged-in analysts only
                    "dct:accessRights": {"@id": ACCESS_RIGHTS[Sharing.CONDITIONAL.value]},
                },
            },
        ],
    }
    if d.get("sharing_conditions"):
        node["dct:rights"] = {"@type": "dct:RightsStatement", "dct:description": d["sharing_conditions"]}
    if d.get("coverage_start") or d.get("coverage_end"):
        period: dict[str, Any] = {"@type": "dct:PeriodOfTime"}
        if d.get("coverage_start"):
            period["dcat:startDate"] = _instant(d["coverage_start"])
        if d.get("coverage_end"):
            period["dcat:endDate"] = _instant(d["coverage_end"])
        node["dct:temporal"] = period
    if d.get("last_updated_at"):
        node["dct:modified"] = _instant(d["last_updated_at"])
    return node


def dcat_catalog(
    datasets: Sequence[dict[str, Any]],
    settings: Settings,
    *,
    base: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> dict[str, Any]:
    """The DCAT-AP JSON-LD document for these catalog datasets."""
    base = (base or settings.catalog_base_url).rstrip("/")
    # a blank node: the region is described here (name, GB/T 2260 code, box), no page of ours stands for it
    spatial: dict[str, Any] = {
        "@type": "dct:Location",
        "skos:prefLabel": settings.catalog_region_name,
        "dct:identifier": settings.catalog_region_code,
    }
    if bbox:
        w, s, e, n = bbox
        wkt = f"POLYGON(({w} {s}, {e} {s}, {e} {n}, {w} {n}, {w} {s}))"
        spatial["dcat:bbox"] = {"@value": wkt, "@type": "gsp:wktLiteral"}
    built = max((d["built_at"] for d in datasets if d.get("built_at")), default=None)
    return {
        "@context": CONTEXT,
        "@id": f"{base}/catalog.jsonld",  # this document
        "@type": "dcat:Catalog",
        "dct:title": _text("生态云 信息资源共享目录", "ecocloud shared data catalog"),
        "dct:description": _text(
            "生态环境监测数据（环境空气、地表水、污染源在线监测、排污许可、企业环境信用、主数据）的共享目录。",
            "Shared catalog of eco-environment monitoring data: ambient air, surface water, pollution-source "
            "online monitoring, discharge permits, enterprise environmental credit and master data.",
        ),
        "dct:publisher": _agent(
            f"{base}/organisations/{PUBLISHER_SLUG}",
            settings.catalog_publisher_zh,
            settings.catalog_publisher_en,
        ),
        "foaf:homepage": {"@id": f"{base}/"},
        "dct:language": [{"@id": f"{EU}/language/ZHO"}, {"@id": f"{EU}/language/ENG"}],
        "dct:spatial": spatial,
        **({"dct:modified": _instant(built)} if built else {}),
        "dcat:dataset": [dcat_dataset(d, base, spatial, settings.catalog_license_url) for d in datasets],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def json_catalog(datasets: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The catalog as plain JSON: every dataset row with its columns, lineage and quality rows."""
    return {"datasets": [_plain(d) for d in datasets]}


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2)
