"""Catalog pages: home, search, a page per dataset, its quality-gate runs, the DCAT-AP export."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import duckdb
from fastapi import APIRouter, HTTPException, Path, Query, Request
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from ecocloud.catalog_export import (
    PUBLISHER_SLUG,
    dcat_catalog,
    load_catalog,
    organisation_slug,
    region_bbox,
    shown_check,
    shown_input,
    shown_quarantine,
)
from ecocloud.web import access, downloads, queries
from ecocloud.web.deps import Viewer, render, settings_of, viewer
from ecocloud.web.lineage_svg import lineage_svg
from schemas.registry import Layer, Sharing, Table, get_table

router = APIRouter()
log = logging.getLogger(__name__)

LAYERS = [layer.value for layer in Layer if layer is not Layer.STAGE]
TableName = Annotated[str, "a registry table name"]


def visible_table(v: Viewer, name: str) -> Table:
    """The registry table, when the viewer may see its catalog entry: else 404 or 403 (no data)."""
    try:
        table = get_table(name)
    except KeyError:
        raise _no_dataset(v, name) from None
    if table.layer is Layer.STAGE:
        raise _no_dataset(v, name)
    if not access.can_see_entry(v.role, table.sharing):
        if table.sharing is not Sharing.CONDITIONAL:  # 不予共享: not even its existence
            raise _no_dataset(v, name)
        raise RestrictedDataset(
            table,
            v.t(
                f"该数据集为“{table.sharing.value}”，需以相应权限的账号登录后查看。",
                f"This dataset is {table.sharing.value} ({_sharing_en(table.sharing)}): log in with a role "
                "that may see it.",
            ),
        )
    return table


def _no_dataset(v: Viewer, name: str) -> HTTPException:
    """404 for a name that is no dataset, or one the viewer may not know of (a 不予共享 entry is
    answered alike, so a name tells nothing); a viewer not logged in is told to log in and try again."""
    hint = (
        v.t("（如有权限，请登录后再试）", " (if you have access, log in and try again)")
        if v.session is None
        else ""
    )
    return HTTPException(404, v.t(f"没有名为 {name} 的数据集", f"no dataset named {name}") + hint)


class RestrictedDataset(HTTPException):
    """A 403 for a 有条件共享 catalog entry the viewer may not see: its page names the dataset, its
    owner and the conditions of sharing (someone who followed a link learns whom to apply to, not
    only "no")."""

    def __init__(self, table: Table, message: str) -> None:
        super().__init__(403, message)
        self.table = table


def _sharing_en(s: Sharing) -> str:
    return {
        Sharing.UNCONDITIONAL: "shared",
        Sharing.CONDITIONAL: "shared on conditions",
        Sharing.NOT_SHARED: "not shared",
    }[s]


@router.get("/")
def home(request: Request) -> Response:
    v = viewer(request)
    with queries.serving(settings_of(request)) as con:
        counts = queries.layer_counts(con, access.visible_levels(v.role))
        levels = access.visible_levels(v.role)
        core = queries.search_datasets(con, None, levels, "core")
        marts = queries.search_datasets(con, None, levels, "mart")
    return render(request, "home.html", counts=counts, core=core, marts=marts)


@router.get("/datasets")
def search(
    request: Request,
    q: Annotated[str | None, Query(max_length=200)] = None,
    layer: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    v = viewer(request)
    layer = layer or None  # the form's "all layers" sends an empty value
    if layer is not None and layer not in LAYERS:
        raise HTTPException(400, v.t(f"未知的数据层：{layer}", f"unknown layer: {layer}"))
    with queries.serving(settings_of(request)) as con:
        found = queries.search_datasets(con, q, access.visible_levels(v.role), layer)
    return render(request, "search.html", q=q or "", layer=layer, layers=LAYERS, found=found)


@router.get("/datasets/{name}")
def dataset_page(request: Request, name: Annotated[str, "registry table"]) -> Response:
    v = viewer(request)
    table = visible_table(v, name)
    settings = settings_of(request)
    with queries.serving(settings) as con:
        entry = queries.dataset(con, table.name)
        if entry is None:
            raise HTTPException(
                404, v.t("目录中尚无此数据集：请重建目录", "not in the catalog yet: rebuild it")
            )
        cols = queries.columns(con, table, v.lang)
        edges = queries.lineage(con, table.name)
        checks = queries.quality(con, table.name)
        runs = queries.gate_runs(con, table.name, 5)
        sample = None
        if access.can_see_data(v.role, table.sharing) and settings.web_sample_rows:
            sample = queries.sample(con, table, settings.web_sample_rows)

    def visible(other: str) -> bool:
        try:
            return access.can_see_entry(v.role, get_table(other).sharing)
        except KeyError:
            return False

    title = entry["title_en"] if v.lang == "en" else entry["title_zh"]
    picture = lineage_svg(
        table.name, title, edges, visible, lambda n: f"/datasets/{n}", raw_word=v.t("原始数据", "raw data")
    )
    return render(
        request,
        "dataset.html",
        d=entry | {"quarantine_tables": shown_quarantine(entry["quarantine_tables"], visible)},
        cols=cols,
        producers=[shown_input(e, visible) for e in edges if e["output_table"] == table.name],
        consumers=[e for e in edges if e["output_table"] != table.name and visible(e["output_table"])],
        lineage_svg=picture,
        checks=[shown_check(c, visible) for c in checks],
        runs=runs,
        sample=sample,
        data_allowed=access.can_see_data(v.role, table.sharing),
        download_days=settings.web_download_max_days,
        download_rows=settings.web_download_max_rows,
    )


@router.get("/datasets/{name}/data.{fmt}")
def download(
    request: Request,
    name: TableName,
    fmt: Annotated[str, Path(pattern="^(csv|parquet)$")],
    first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    last: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> Response:
    """The dataset's rows in a partition range (default: its newest partition) as CSV or Parquet."""
    v = viewer(request)
    table = visible_table(v, name)
    if not access.can_see_data(v.role, table.sharing):
        raise HTTPException(
            403, v.t("无权下载该数据集的数据", f"Your role may not download the rows of {name}")
        )
    settings = settings_of(request)
    try:
        with queries.serving(settings) as con:
            entry = queries.dataset(con, table.name)
            if entry is None:
                raise HTTPException(
                    404, v.t("目录中尚无此数据集：请重建目录", "not in the catalog yet: rebuild it")
                )
            days = downloads.date_range(
                table, first, last, entry["last_partition"], settings.web_download_max_days
            )
            prepared = downloads.prepare(
                con,
                table,
                fmt,
                days,
                max_rows=settings.web_download_max_rows,
                concurrency=settings.web_download_concurrency,
                memory_limit=settings.sql_memory_limit,
                threads=settings.sql_threads,
            )
    except downloads.DownloadRefused as exc:
        raise HTTPException(400, v.t(exc.zh, str(exc))) from None
    except downloads.Busy as exc:
        raise HTTPException(503, v.t(exc.zh, str(exc)), headers={"Retry-After": "60"}) from None
    except (duckdb.IOException, duckdb.OutOfMemoryException, OSError) as exc:  # a full disk, the lake
        log.warning("download of %s (%s, %s) failed: %s", name, fmt, _days_asked(first, last), exc)
        raise HTTPException(
            503,
            v.t(
                "暂时无法准备下载（服务器临时磁盘或数据湖出错，已记录），请稍后再试",
                "the download cannot be prepared now (the server's temporary disk or the lake failed; "
                "it is logged): try again later",
            ),
            headers={"Retry-After": "300"},
        ) from None
    return StreamingResponse(
        prepared.chunks(),
        media_type=downloads.FORMATS[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{prepared.filename}"',
            "Content-Length": str(prepared.size),
        },
        background=BackgroundTask(prepared.close),  # a client gone before the end: the file closes
    )


def _days_asked(first: str | None, last: str | None) -> str:
    return f"from {first or '-'} to {last or '-'}"


@router.get("/datasets/{name}/quality")
def quality_page(
    request: Request,
    name: Annotated[str, "registry table"],
    run: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The Great Expectations results of the table's latest gate runs (every expectation, per partition)."""
    v = viewer(request)
    table = visible_table(v, name)
    with queries.serving(settings_of(request)) as con:
        runs = queries.gate_runs(con, table.name, 20)
        chosen = run or (runs[0]["run_id"] if runs else None)
        if run is not None and run not in {r["run_id"] for r in runs}:
            raise HTTPException(404, v.t(f"没有这次运行：{run}", f"no such gate run among the latest: {run}"))
        results = queries.gate_run_results(con, table.name, chosen) if chosen else []
    return render(request, "quality.html", table=table, runs=runs, chosen=chosen, results=results)


@router.get("/organisations/{slug}")
def organisation(request: Request, slug: Annotated[str, Path(max_length=100)]) -> Response:
    """A department's page (the DCAT export's publisher URIs): who it is, how to reach it, and the
    datasets it owns that the viewer may see. The publisher's is the whole catalog."""
    v = viewer(request)
    if slug == PUBLISHER_SLUG:
        return RedirectResponse("/datasets", status_code=303)
    with queries.serving(settings_of(request)) as con:
        owner = next((o for o in queries.owners(con) if organisation_slug(o["owner_en"]) == slug), None)
        if owner is None:
            raise HTTPException(404, v.t(f"没有这个部门：{slug}", f"no such department: {slug}"))
        visible = queries.search_datasets(con, None, access.visible_levels(v.role))
    found = [d for d in visible if organisation_slug(d["owner_en"]) == slug]
    return render(request, "organisation.html", owner=owner, found=found)


@router.get("/catalog.jsonld")
async def dcat_export(request: Request) -> Response:
    """DCAT-AP JSON-LD of the datasets the viewer may see (anonymous: 无条件共享)."""
    v = viewer(request)
    settings = settings_of(request)
    # dataset URIs are identifiers: the public address when one is configured, not whatever Host a
    # request names (a proxy's internal name, or a forged header); else the address asked
    configured = "catalog_base_url" in settings.model_fields_set
    base = settings.catalog_base_url if configured else str(request.base_url)

    def build() -> dict[str, Any]:
        with queries.serving(settings) as con:
            datasets = load_catalog(con, access.visible_levels(v.role))
            bbox = region_bbox(con)
        return dcat_catalog(datasets, settings, base=base, bbox=bbox)

    doc = await run_in_threadpool(build)
    return JSONResponse(doc, media_type="application/ld+json")
