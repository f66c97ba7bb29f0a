"""Login and logout, user administration (admin), read-only SQL (analyst)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from starlette.background import BackgroundTask
from starlette.responses import RedirectResponse, Response, StreamingResponse

from ecocloud.query import QueryLimitError, QueryResult, ReadOnlyError, UnknownTable
from ecocloud.web import access, downloads
from ecocloud.web.access import ROLE_LABELS, Role
from ecocloud.web.deps import (
    CSRF_COOKIE,
    DEVICE_COOKIE,
    NEXT_MAX_CHARS,
    SESSION_COOKIE,
    Viewer,
    check_csrf,
    render,
    require,
    settings_of,
    users_of,
    viewer,
)
from ecocloud.web.sql_guard import QueryRefused, check_tables
from ecocloud.web.sql_worker import QueryFailed, export_capped, run_capped
from ecocloud.web.users import DEVICE_DAYS, Busy, Throttled, UserError
from ingest.addresses import client_key
from schemas.registry import Layer, all_tables

router = APIRouter()
log = logging.getLogger(__name__)
SQL_DISPLAY_ROWS = 500
SQL_CELL_CHARS = 1_000  # a cell's text shown at most (the CSV/JSON of `ecocloud sql` has it whole)
SQL_PAGE_CHARS = 2_000_000  # cells' text a page shows at most: the HTML is built in this process
SQL_ERROR_CHARS = 4_000  # of DuckDB's message: its hints (candidate columns, the line) and no more
SQL_WAIT_S = 1.0  # for a free query slot, before answering 503 (the wait holds a worker thread)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: no scheme, no host, no '//' or backslash tricks."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _client(request: Request) -> str:
    """Who the login throttle counts: the client's address, an IPv6 client by its /64 (a single host
    is handed a whole /64 and may send from any address in it)."""
    return client_key(request.client.host if request.client else "unknown")


@router.get("/login")
def login_form(request: Request, next: Annotated[str | None, "where to go after login"] = None) -> Response:
    return render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=NEXT_MAX_CHARS)] = "/",
) -> Response:
    check_csrf(request, csrf_token)
    v = viewer(request)
    users = users_of(request)
    device = request.cookies.get(DEVICE_COOKIE)
    try:
        role = users.authenticate(username.strip(), password, _client(request), device)
    except Throttled:
        raise HTTPException(
            429, v.t("登录失败次数过多，请稍后再试。", "Too many failed logins: try again later.")
        ) from None
    except Busy:
        raise HTTPException(
            503,
            v.t("同时登录的人太多，请稍后再试。", "Too many logins at once: try again in a few seconds."),
            headers={"Retry-After": "5"},
        ) from None
    if role is None:
        return render(
            request,
            "login.html",
            status=401,
            next=_safe_next(next),
            error=v.t("用户名或密码错误", "wrong user name or password"),
        )
    token, _session = users.open_session(username.strip())
    response = RedirectResponse(_safe_next(next), status_code=303)
    settings = settings_of(request)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(users.session_length.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.web_cookie_secure,
    )
    response.delete_cookie(CSRF_COOKIE, httponly=True, samesite="strict", secure=settings.web_cookie_secure)
    response.set_cookie(  # sent to the login form only
        DEVICE_COOKIE,
        users.remember_device(username.strip(), device),
        max_age=DEVICE_DAYS * 86_400,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=settings.web_cookie_secure,
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=128)] = "") -> Response:
    check_csrf(request, csrf_token)
    users_of(request).close_session(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=settings_of(request).web_cookie_secure
    )
    return response


# -------------------------------------------------------------------------------------------- admin


@router.get("/admin/users")
def users_page(request: Request) -> Response:
    require(request, Role.ADMIN)
    return render(
        request,
        "users.html",
        users=users_of(request).users(),
        roles=list(Role),
        labels=ROLE_LABELS,
        error=None,
    )


@router.post("/admin/users")
def add_user(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    role: Annotated[str, Form(max_length=16)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    v = require(request, Role.ADMIN)
    check_csrf(request, csrf_token)
    store = users_of(request)
    try:
        store.add_user(username.strip(), password, Role(role) if role in set(Role) else _bad_role(role))
    except UserError as exc:
        return render(
            request,
            "users.html",
            status=400,
            users=store.users(),
            roles=list(Role),
            labels=ROLE_LABELS,
            error=v.t(exc.zh, str(exc)),
        )
    return RedirectResponse("/admin/users", status_code=303)


def _bad_role(role: str) -> Role:
    known = ", ".join(r.value for r in Role)
    raise UserError(f"unknown role {role!r}: one of {known}", f"没有角色 {role}：可选 {known}")


@router.post("/admin/users/{name}/remove")
def remove_user(
    request: Request, name: str, csrf_token: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    v = require(request, Role.ADMIN)
    check_csrf(request, csrf_token)
    if v.session and v.session.username == name:
        raise HTTPException(400, v.t("不能删除自己的账号", "you cannot remove your own account"))
    if not users_of(request).remove_user(name):
        raise HTTPException(404, v.t(f"没有用户 {name}", f"no user {name!r}"))
    return RedirectResponse("/admin/users", status_code=303)


# ---------------------------------------------------------------------------------------------- SQL


def _sql_tables(role: Role | None) -> tuple[set[str], set[str]]:
    """Registry tables this role may query, and those it may not."""
    tables = [t for t in all_tables() if t.layer is not Layer.STAGE]
    allowed = {t.name for t in tables if access.can_see_data(role, t.sharing)}
    return allowed, {t.name for t in tables} - allowed


@router.get("/sql")
def sql_form(request: Request) -> Response:
    v = require(request, Role.ANALYST)
    allowed, _ = _sql_tables(v.role)
    return render(
        request,
        "sql.html",
        query="",
        columns=None,
        rows=None,
        error=None,
        tables=sorted(allowed),
        truncated=False,
    )


SQL_MAX_CHARS = 20_000  # a query's length
# what the form takes at all: a longer query gets the SQL page back with it and the limit, not an
# error page without it (the text box used to cut a pasted query silently at the limit)
SQL_FORM_MAX_CHARS = 1_000_000


def _sql_too_long(request: Request, v: Viewer, query: str) -> Response | None:
    """The SQL page again, with the query kept to shorten, for a query over ``SQL_MAX_CHARS``."""
    if len(query) <= SQL_MAX_CHARS:
        return None
    too_long = v.t(
        f"查询过长：{len(query):,} 个字符，最多 {SQL_MAX_CHARS:,} 个",
        f"the query is too long: {len(query):,} characters, at most {SQL_MAX_CHARS:,}",
    )
    return _sql_render(request, v, query, None, too_long, status=400)


def _sql_busy(request: Request, v: Viewer, query: str) -> Response:
    """The SQL page again, with the query kept, when no slot freed up in ``SQL_WAIT_S``."""
    busy = v.t("其他查询正在运行：请稍后再试", "other queries are running: try again in a moment")
    return _sql_render(request, v, query, None, busy, status=503)


@router.post("/sql")
def sql_run(
    request: Request,
    query: Annotated[str, Form(max_length=SQL_FORM_MAX_CHARS)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    v = require(request, Role.ANALYST)
    check_csrf(request, csrf_token)
    if (too_long := _sql_too_long(request, v, query)) is not None:
        return too_long
    slots = request.app.state.sql_slots
    if not slots.acquire(timeout=SQL_WAIT_S):
        return _sql_busy(request, v, query)
    try:  # until the page is rendered: a result's HTML is built in this process, not the query's
        return _sql_page(request, v, query)
    finally:
        slots.release()


@router.post("/sql/result.csv")
def sql_csv(
    request: Request,
    query: Annotated[str, Form(max_length=SQL_FORM_MAX_CHARS)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """The whole result of ``query`` as a CSV file for a spreadsheet (as `ecocloud sql --out x.csv`
    writes it): run as the SQL page runs it (the viewer's tables, the sandbox in a capped child, its
    time limit) within the SQL surface's caps (ECOCLOUD_SQL_MAX_ROWS rows, ECOCLOUD_SQL_MAX_RESULT_BYTES),
    written by the child to a download file and streamed from it; a refusal is the SQL page again."""
    v = require(request, Role.ANALYST)
    check_csrf(request, csrf_token)
    if (too_long := _sql_too_long(request, v, query)) is not None:
        return too_long
    settings = settings_of(request)
    slots = request.app.state.sql_slots
    if not slots.acquire(timeout=SQL_WAIT_S):
        return _sql_busy(request, v, query)
    try:
        allowed, forbidden = _sql_tables(v.role)
        readable = None if v.role is Role.ADMIN else allowed
        if readable is not None:
            check_tables(query, allowed, forbidden)
        prepared = downloads.prepare_file(
            lambda path: export_capped(settings, query, path, tables=readable),
            "query_result.csv",
            "csv",
            concurrency=settings.web_download_concurrency,
        )
    except (QueryRefused, ReadOnlyError, QueryLimitError, UnknownTable) as exc:
        return _sql_render(request, v, query, None, v.t(exc.zh, str(exc)), status=400)
    except QueryFailed as exc:
        return _sql_render(request, v, query, None, str(exc)[:SQL_ERROR_CHARS], status=400)
    except downloads.Busy as exc:
        return _sql_render(request, v, query, None, v.t(exc.zh, str(exc)), status=503)
    except OSError as exc:  # the temporary disk
        log.warning("CSV of a query failed: %s", exc)
        failed = v.t(
            "暂时无法准备下载（服务器临时磁盘出错，已记录），请稍后再试",
            "the download cannot be prepared now (the server's temporary disk failed; it is logged): "
            "try again later",
        )
        return _sql_render(request, v, query, None, failed, status=503)
    finally:
        slots.release()
    return StreamingResponse(
        prepared.chunks(),
        media_type=downloads.FORMATS["csv"],
        headers={
            "Content-Disposition": f'attachment; filename="{prepared.filename}"',
            "Content-Length": str(prepared.size),
        },
        background=BackgroundTask(prepared.close),  # a client gone before the end: the file closes
    )


def _within_page(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The first rows whose cells' text, as shown (each cut at ``SQL_CELL_CHARS``), stays within
    ``SQL_PAGE_CHARS``: the cell budget bounds cells, not their length (50,000 of 1,000 characters,
    each escaped, made a page of hundreds of MB)."""
    shown = 0
    for i, row in enumerate(rows):
        shown += sum(min(len(str(x)), SQL_CELL_CHARS) for x in row if x is not None)
        if shown > SQL_PAGE_CHARS:
            return rows[:i]
    return rows


def _sql_page(request: Request, v: Viewer, query: str) -> Response:
    """``query`` run for viewer ``v``: the page of its result, or of why there is none."""
    allowed, forbidden = _sql_tables(v.role)
    result = None
    error = None
    try:
        readable = None if v.role is Role.ADMIN else allowed
        if readable is not None:
            check_tables(query, allowed, forbidden)
        # in a child process of capped memory; only the rows the page shows, and how many there are
        # (the whole result: the page's CSV download, /sql/result.csv)
        result = run_capped(settings_of(request), query, tables=readable, max_rows=SQL_DISPLAY_ROWS)
    except (QueryRefused, ReadOnlyError, QueryLimitError, UnknownTable) as exc:
        error = v.t(exc.zh, str(exc))
    except QueryFailed as exc:
        error = str(exc)[:SQL_ERROR_CHARS]  # a DuckDB error in the SQL: its message and hints, not a trace
    return _sql_render(request, v, query, result, error, status=400 if error else 200)


def _sql_render(
    request: Request, v: Viewer, query: str, result: QueryResult | None, error: str | None, *, status: int
) -> Response:
    allowed, _ = _sql_tables(v.role)
    rows = _within_page(result.rows) if result else None
    return render(
        request,
        "sql.html",
        status=status,
        query=query,
        columns=result.columns if result else None,
        rows=rows,
        cut_by_chars=bool(result and rows is not None and len(rows) < len(result.rows)),
        page_chars=SQL_PAGE_CHARS,
        truncated=bool(result and result.truncated),
        cut_by_cells=bool(result and result.cut_by_cells),
        total=result.total if result else None,
        max_cells=settings_of(request).web_sql_max_cells,
        max_rows=SQL_DISPLAY_ROWS,
        download_max_rows=settings_of(request).sql_max_rows,
        error=error,
        tables=sorted(allowed),
        CELL_CHARS=SQL_CELL_CHARS,
    )
