"""Per-request context: who is asking (session, role), in which language, and page rendering.

Cookies: ``ecocloud_session`` (the session token; HttpOnly, SameSite=Lax, Secure unless
``ECOCLOUD_WEB_COOKIE_SECURE=false``) and, before login, ``ecocloud_csrf`` (a random token for the
login form; HttpOnly, SameSite=Strict). Every form carries a CSRF token: the session's after login,
that cookie's before; a POST whose token does not match, or whose Origin is another site, gets 403.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import HTTPException, Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.responses import Response

from ecocloud.catalog_export import HIDDEN, organisation_slug, range_end
from ecocloud.settings import Settings
from ecocloud.web import access
from ecocloud.web.access import ROLE_LABELS, Role
from ecocloud.web.users import Session, UserStore
from schemas import credit as credit_schema
from schemas import permits as permit_schema
from schemas import risk as risk_schema
from schemas.air import AQI_CATEGORIES
from schemas.catalog import EXPECTATION_TYPES, QUALITY_KINDS
from schemas.clock import beijing_minute, in_beijing, instants_in_beijing
from schemas.fields import LAYERS, SOURCES
from schemas.registry import SEVERITIES
from schemas.risk import fixed

SESSION_COOKIE = "ecocloud_session"
CSRF_COOKIE = "ecocloud_csrf"
DEVICE_COOKIE = "ecocloud_device"  # a browser the user logged in from (web.users: device cookies)
LANG_COOKIE = "ecocloud_lang"
LANGS = ("zh", "en")
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def bj(value: dt.datetime) -> str:
    """An instant as Beijing wall time, for a chart's date axis: Plotly draws an ISO time's clock
    as written and ignores its offset, so a UTC instant would land 8 hours early. A naive value is UTC."""
    return beijing_minute(value)


def beijing(value: object) -> str:
    """Instants as Beijing time (the time everyone here reads); anything else as it is."""
    if isinstance(value, dt.datetime):
        return bj(value) + " (UTC+8)"
    return "" if value is None else str(value)


def cell(value: object) -> str:
    """A table cell of data (sample rows, query results): an instant in Beijing time with its offset,
    to the second, as ``ecocloud sql`` shows it; anything else as it is."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return in_beijing(value)
    return "" if value is None else str(value)


# Airflow's run id: its kind, "__", the time in UTC (the logical date, or when a run without one was
# due: asset-triggered and manual runs), and for those a random suffix ("_AbCdEf12")
_AIRFLOW_RUN_ID = re.compile(r"(?P<kind>[a-z_]+?)__(?P<instant>\d{4}-\d{2}-\d{2}T[\d:.]+\+00:00)(?:_\w+)?")


def observed_text(value: object) -> str:
    """A gate result's observed value for a reader: the unexpected values sampled and the keys of
    their rows (``{"partial_unexpected": [...], "partial_unexpected_keys": [...]}`` → ``[...] at rows
    [...]``), instants in Beijing time; any other observed value as :func:`instants_in_beijing` writes it."""
    text = instants_in_beijing(value)
    try:
        observed = json.loads(text)
    except ValueError:
        return text
    if not isinstance(observed, dict) or "partial_unexpected" not in observed:
        return text
    said = _compact(observed["partial_unexpected"])
    keys = observed.get("partial_unexpected_keys")
    return f"{said} at rows {_compact(keys)}" if keys else said


def _compact(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def run_time(run_id: object) -> str:
    """An Airflow run id (``scheduled__2026-12-07T02:00:00+00:00``, ``manual__…T16:30:00.123456+00:00``,
    ``asset_triggered__…+00:00_AbCdEf12``) as its kind and its time as the pages show times (``scheduled
    2026-12-07 10:00 (UTC+8)``: to the minute, a manual run's microseconds are noise; the id is shown
    beside it); another run id (the CLI's ``cli-…``) as :func:`instants_in_beijing` writes it. (Word
    characters join the parts, so instants_in_beijing would not see the time in the whole id.)"""
    if run_id is None:
        return ""
    m = _AIRFLOW_RUN_ID.fullmatch(str(run_id))
    if m is None:
        return instants_in_beijing(run_id)
    try:
        return f"{m['kind']} {beijing(dt.datetime.fromisoformat(m['instant']))}"
    except ValueError:  # only looks like a time (24:00)
        return instants_in_beijing(run_id)


def says_code(label: str, code: str) -> bool:
    """Whether ``label`` already says ``code``: a word of it starts with the code ("ambient air" for
    air, "discharge permits" for permit, "the platform itself" for platform). A page then shows the
    label alone where it would show the code after it ("ambient air air")."""
    return any(word.startswith(code.lower()) for word in re.split(r"[^a-z0-9]+", label.lower()) if word)


# the registry's codes the pages show, by the name a template reads their labels under (in the page's
# language: ``labels.source.get(code, code)``)
PAGE_CODES = {
    "source": SOURCES,
    "layer": LAYERS,
    "severity": SEVERITIES,
    "check_kind": QUALITY_KINDS,
    "expectation": EXPECTATION_TYPES,
    "aqi": AQI_CATEGORIES,
    "permit": risk_schema.PERMIT_STATUSES,
    "version": permit_schema.STATUSES,
    "kind": permit_schema.VERSION_KINDS,
    "identity": risk_schema.IDENTITY_STATUSES,
    "credit": risk_schema.CREDIT_LEVELS,
    "scheme": credit_schema.SCHEME_CODES,
    "category": risk_schema.REASON_CATEGORIES,
    "indicator": risk_schema.INDICATORS,
    "limit_source": risk_schema.LIMIT_SOURCES,
}

_CODE = re.compile(r"`([^`]+)`")


def prose(text: object) -> Markup:
    """Registry text (descriptions) as HTML: a `name` in backticks as code, the rest escaped."""
    escaped = str(escape("" if text is None else text))
    return Markup(_CODE.sub(lambda m: f"<code>{m.group(1)}</code>", escaped))


TEMPLATES.env.filters["bj"] = beijing
TEMPLATES.env.filters["prose"] = prose
TEMPLATES.env.filters["bound"] = range_end
TEMPLATES.env.filters["cell"] = cell
TEMPLATES.env.filters["bj_text"] = instants_in_beijing
TEMPLATES.env.filters["observed"] = observed_text
TEMPLATES.env.filters["run_time"] = run_time
TEMPLATES.env.tests["saying"] = says_code  # {% if label is saying(code) %}
TEMPLATES.env.filters["fixed"] = fixed  # a risk number at its field's declared decimals
TEMPLATES.env.filters["organisation"] = organisation_slug  # a department's page: /organisations/<slug>


@dataclass(frozen=True)
class Viewer:
    session: Session | None
    lang: str
    csrf_token: str

    @property
    def role(self) -> Role | None:
        return self.session.role if self.session else None

    def t(self, zh: str, en: str) -> str:
        """The label in the viewer's language (Chinese first)."""
        return en if self.lang == "en" else zh

    def at_least(self, role: Role) -> bool:
        return access.at_least(self.role, role)


def viewer(request: Request) -> Viewer:
    return request.state.viewer


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def users_of(request: Request) -> UserStore:
    return request.app.state.users


def require(request: Request, role: Role) -> Viewer:
    """The viewer, when at least ``role``; otherwise a 403 page (never the data)."""
    v = viewer(request)
    if not v.at_least(role):
        raise HTTPException(
            403,
            v.t(
                f"此页面需要“{ROLE_LABELS[role][0]}”或更高权限的账号登录。",
                f"This page needs a login with the {ROLE_LABELS[role][1]} role or higher.",
            ),
        )
    return v


def _same_site(request: Request, origin: str) -> bool:
    """``origin`` is this app: the Host it was asked for, or its public address (a reverse proxy may
    pass another Host on)."""
    if urlsplit(origin).netloc == request.headers.get("host", ""):
        return True
    return _site(origin) == _site(settings_of(request).catalog_base_url) != ("", "", None)


def _site(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of ``url``, as browsers compare origins (case-insensitive, default port)."""
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:  # not a port
        return ("", "", None)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def check_csrf(request: Request, token: str) -> None:
    """Refuse a form post without the viewer's CSRF token or from another site."""
    v = viewer(request)
    origin = request.headers.get("origin")
    if origin and origin != "null" and not _same_site(request, origin):
        raise HTTPException(
            403,
            v.t(
                "拒绝来自其他网站的表单提交（Origin 与本站不符）",
                "cross-site form post refused (Origin does not match)",
            ),
        )
    if not token or not hmac.compare_digest(token.encode(), v.csrf_token.encode()):
        raise HTTPException(
            403,
            v.t(
                "表单已过期或缺少安全令牌（CSRF）：请刷新页面后重试",
                "CSRF token missing or invalid: reload the page and try again",
            ),
        )


def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    v = viewer(request)
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "v": v,
            "t": v.t,
            "Role": Role,
            "lang_url": _lang_url(request),
            "role_label": lambda role: v.t(*ROLE_LABELS[role]),
            "hidden_name": lambda names: (names or "").replace(
                HIDDEN, v.t("受限数据集", "a restricted dataset")
            ),
            "login_url": _login_url(request),
            "labels": {name: codes.in_language(v.lang) for name, codes in PAGE_CODES.items()},
            **context,
        },
        status_code=status,
    )


# the login form takes a return address of at most this many characters (routes_account.login)
NEXT_MAX_CHARS = 500


def _login_url(request: Request) -> str:
    """The login page, returning to this page with its filters (``?region=…``) after; to the path
    alone where the whole would be longer than the form takes (on the login page: itself)."""
    if request.url.path == "/login":
        return _this_page(request)
    whole = _this_page(request)
    here = whole.split("?", 1)[0]
    return "/login?" + urlencode({"next": whole if len(whole) <= NEXT_MAX_CHARS else here})


def _lang_url(request: Request) -> Callable[[str], str]:
    return lambda lang: _this_page(request, {"lang": lang})


def _this_page(request: Request, changes: dict[str, str] | None = None) -> str:
    """This page's path and query (``lang`` left out, ``changes`` added). The path as "/" + itself
    without its leading slashes: a request for //other.site/x must not make a link protocol-relative
    (a link to another site)."""
    here = "/" + request.url.path.lstrip("/")
    items = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    items += list((changes or {}).items())
    return f"{here}?{urlencode(items)}" if items else here
