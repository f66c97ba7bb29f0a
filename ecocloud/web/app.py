"""The FastAPI application: middleware (session, language, CSRF cookie, security headers), error pages,
static files (including the chart library, plotly.js from the plotly package) and the routes."""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import plotly
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import FileResponse, Response

from ecocloud.catalog_export import organisation_slug
from ecocloud.settings import Settings, get_settings
from ecocloud.web import deps
from ecocloud.web.deps import CSRF_COOKIE, LANG_COOKIE, LANGS, SESSION_COOKIE, Viewer
from ecocloud.web.queries import NoServingDatabase
from ecocloud.web.users import UserStore
from schemas.registry import Table

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
# Plotly adds its own <style> rules at run time, hence 'unsafe-inline' for styles; scripts: this site only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="ecocloud 生态云", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.users = UserStore(
        settings.state_url,
        session_hours=settings.web_session_hours,
        max_failures=settings.web_login_max_failures,
        window=dt.timedelta(minutes=settings.web_login_window_minutes),
        hashes_at_once=settings.web_login_hashes_at_once,
    )
    # analysts' queries at once: each is a child process of up to memory_limit + 1 GiB (web.sql_worker)
    app.state.sql_slots = threading.BoundedSemaphore(max(settings.web_sql_concurrency, 1))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js(request: Request) -> Response:
        """4.8 MB as it is, 1.4 MB gzipped once per process (pages are never compressed: they hold
        CSRF tokens beside what a visitor typed, which a compressed size would leak — BREACH)."""
        gzipped = _accepts_gzip(request.headers.get("accept-encoding", ""))
        etag = f'"plotly-{plotly.__version__}{"-gz" if gzipped else ""}"'
        headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding", "ETag": etag}
        if request.headers.get("if-none-match") == etag:  # the browser's copy, still the same
            return Response(status_code=304, headers=headers)
        if gzipped:
            headers["Content-Encoding"] = "gzip"
            return Response(_plotly_gzipped(), media_type="text/javascript", headers=headers)
        return FileResponse(PLOTLY_JS, media_type="text/javascript", headers=headers)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:  # what a browser asks of every site (the pages link the SVG too)
        return FileResponse(
            STATIC / "favicon.svg",
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    from ecocloud.web.routes_account import router as account
    from ecocloud.web.routes_catalog import router as catalog
    from ecocloud.web.routes_overview import router as overview
    from ecocloud.web.routes_risk import router as risk

    app.include_router(catalog)
    app.include_router(overview)
    app.include_router(account)
    app.include_router(risk)
    _middleware(app, settings)
    _error_pages(app)
    return app


def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header takes gzip (``gzip;q=0`` refuses it)."""
    for item in accept_encoding.lower().split(","):
        name, _, params = item.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            q = params.strip().removeprefix("q=")
            try:
                return not params.strip() or float(q) > 0
            except ValueError:
                return False
    return False


@functools.cache
def _plotly_gzipped() -> bytes:
    return gzip.compress(PLOTLY_JS.read_bytes(), compresslevel=6)


# the same bytes for every visitor: no cookie set on them, and cached as their routes say
_ASSET_PATHS = ("/static/", "/vendor/", "/favicon.ico")


def _middleware(app: FastAPI, settings: Settings) -> None:
    @app.middleware("http")
    async def context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        asked = request.query_params.get("lang")
        lang = asked if asked in LANGS else request.cookies.get(LANG_COOKIE, "zh")
        lang = lang if lang in LANGS else "zh"
        if request.url.path.startswith(_ASSET_PATHS):  # (a missing one's error page is anonymous's)
            request.state.viewer = Viewer(None, lang, "")
            asset = await call_next(request)
            _security_headers(asset)
            asset.headers.setdefault("Cache-Control", "no-cache")  # /static: revalidated by its ETag
            return asset
        token = request.cookies.get(SESSION_COOKIE)
        session = await run_in_threadpool(app.state.users.session, token) if token else None
        anon_csrf = request.cookies.get(CSRF_COOKIE, "")
        new_csrf = None
        if session is None and not (20 <= len(anon_csrf) <= 64):
            new_csrf = anon_csrf = secrets.token_urlsafe(32)
        request.state.viewer = Viewer(session, lang, session.csrf_token if session else anon_csrf)

        response = await call_next(request)

        secure = settings.web_cookie_secure
        if new_csrf:
            response.set_cookie(CSRF_COOKIE, new_csrf, httponly=True, samesite="strict", secure=secure)
        if asked in LANGS:
            response.set_cookie(LANG_COOKIE, asked, max_age=365 * 86400, samesite="lax", secure=secure)
        if (
            token
            and session is None
            and not response.headers.get("set-cookie", "").startswith(SESSION_COOKIE)
        ):
            response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=secure)
        _security_headers(response)
        # a shared cache must not keep a page that sets a cookie: it would hand one visitor's CSRF
        # token (in the cookie and the page's forms) to everyone — a login CSRF
        sets_cookie = "set-cookie" in response.headers
        if sets_cookie or session is not None or request.url.path.startswith(("/login", "/admin", "/sql")):
            response.headers["Cache-Control"] = "no-store"
        return response


def _security_headers(response: Response) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"


def _error_pages(app: FastAPI) -> None:
    """Every error is a page saying what went wrong, never a stack trace."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        restricted = getattr(exc, "table", None)  # routes_catalog.RestrictedDataset: whom to ask
        message = str(exc.detail)
        if message in _ROUTING_ERRORS:  # Starlette's own words, for an address no route has
            v: Viewer | None = getattr(request.state, "viewer", None)
            zh, en = _ROUTING_ERRORS[message]
            message = v.t(zh, en) if v is not None else zh
        return _error(request, exc.status_code, message, getattr(exc, "headers", None), restricted)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> Response:
        v: Viewer | None = getattr(request.state, "viewer", None)
        chinese = v is None or v.lang == "zh"
        problems = []
        for e in exc.errors():
            # loc: where it came from (query, path, body), then the parameter's name (a form field may be "query")
            where = ".".join(str(p) for p in e.get("loc", ())[1:])
            limit = (e.get("ctx") or {}).get("max_length")
            zh, en = _PROBLEMS.get(e.get("type", ""), ("取值无效", "is not valid"))
            if chinese:
                problems.append(f"参数 {where} {zh}" + (f"（最多 {limit:,} 个字符）" if limit else ""))
            else:
                problems.append(
                    f"parameter {where} {en}" + (f" (at most {limit:,} characters)" if limit else "")
                )
        message = ("；" if chinese else "; ").join(problems)
        return _error(request, 400, message or ("请求无效" if chinese else "bad request"))

    @app.exception_handler(NoServingDatabase)
    async def no_data(request: Request, exc: NoServingDatabase) -> Response:
        return _error(
            request, 503, _said(request, "尚无数据：请先运行数据接入", "no data yet: run an ingest first")
        )

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.exception("error serving %s", request.url.path)
        return _error(
            request, 500, _said(request, "服务器内部错误，已记录", "internal error; it has been logged")
        )


def _said(request: Request, zh: str, en: str) -> str:
    """A message in the page's language (Chinese before the middleware has chosen one)."""
    v: Viewer | None = getattr(request.state, "viewer", None)
    return v.t(zh, en) if v is not None else zh


# what Starlette says of an address no route has, or a method it does not take, in both languages
_ROUTING_ERRORS = {
    "Not Found": ("没有这个页面：请检查地址", "no such page: check the address"),
    "Method Not Allowed": ("此地址不接受这种请求方法", "this address does not take that request method"),
}
# a request parameter's problem in Chinese and English, by pydantic's error type
_PROBLEMS = {
    "missing": ("缺失", "is missing"),
    "date_parsing": ("应为日期（YYYY-MM-DD）", "should be a date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": ("应为日期（YYYY-MM-DD）", "should be a date (YYYY-MM-DD)"),
    "datetime_parsing": ("应为日期时间", "should be a date and time"),
    "int_parsing": ("应为整数", "should be a whole number"),
    "float_parsing": ("应为数字", "should be a number"),
    "bool_parsing": ("应为 true 或 false", "should be true or false"),
    "string_too_long": ("过长", "is too long"),
    "string_too_short": ("过短", "is too short"),
    "greater_than_equal": ("过小", "is too small"),
    "less_than_equal": ("过大", "is too large"),
    "enum": ("不是可选的值之一", "is not one of the values it takes"),
    "literal_error": ("不是可选的值之一", "is not one of the values it takes"),
}


def _error(
    request: Request,
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
    restricted: Table | None = None,
) -> Response:
    if not hasattr(request.state, "viewer"):  # failed before the middleware ran
        request.state.viewer = Viewer(None, "zh", "")
    response = deps.render(
        request,
        "error.html",
        status=status,
        status_code=status,
        message=message,
        restricted=restricted,
        owner_slug=organisation_slug(restricted.owner.name_en) if restricted else None,
    )
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


__all__ = ["HTTPException", "create_app"]
