"""``ecocloud serve`` (the web app under uvicorn) and ``ecocloud users add | list | remove``."""

from __future__ import annotations

import ipaddress
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ecocloud.settings import Settings, get_settings
from ecocloud.terminal import PLAIN_HELP, cli_console, said
from ecocloud.web.access import Role
from schemas.clock import beijing_minute

if TYPE_CHECKING:
    from ecocloud.web.users import UserStore

users_app = typer.Typer(
    help="Web app users: add, list, remove.", no_args_is_help=True, rich_markup_mode=PLAIN_HELP
)
console = cli_console()
err = cli_console(stderr=True)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[str, typer.Option(help="address to listen on (0.0.0.0: every interface)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    insecure_cookies: Annotated[
        bool,
        typer.Option(
            "--insecure-cookies",
            help="session cookies without the Secure flag, for plain http on a loopback address only "
            "(same as ECOCLOUD_WEB_COOKIE_SECURE=false)",
        ),
    ] = False,
) -> None:
    """Run the web app (catalog, overview charts, login) with uvicorn."""
    settings = get_settings()
    if insecure_cookies:
        settings = settings.model_copy(update={"web_cookie_secure": False})
    try:
        check_cookie_policy(settings, host)
    except ValueError as exc:
        err.print(f"[red]{said(exc)}")
        raise typer.Exit(2) from exc
    shown = f"[{host}]" if ":" in host else host
    err.print(
        f"serving the web app of {settings.home} at http://{shown}:{port}/ (Ctrl-C stops it)", markup=False
    )
    if settings.web_cookie_secure:
        err.print(
            "session cookies carry the Secure flag: log in over https (a TLS proxy), or in a browser on "
            "this machine; for plain-http clients here, --insecure-cookies"
        )
    run_server(settings, host, port)


def check_cookie_policy(settings: Settings, host: str) -> None:
    """Raise ValueError for cookies without the Secure flag on an address other machines can reach."""
    if not settings.web_cookie_secure and not is_loopback(host):
        raise ValueError(
            f"cookies without the Secure flag are only allowed on a loopback address, not {host}: "
            "serve https (e.g. behind a TLS proxy) and keep ECOCLOUD_WEB_COOKIE_SECURE=true"
        )


def run_server(settings: Settings, host: str, port: int) -> None:
    """Serve until interrupted. Refuses insecure cookies on an address other machines can reach."""
    import uvicorn

    from ecocloud.web.app import create_app

    check_cookie_policy(settings, host)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=True,
        forwarded_allow_ips=settings.web_forwarded_allow_ips,
        server_header=False,
    )


def _store(settings: Settings) -> UserStore:
    from ecocloud.web.users import UserStore

    return UserStore(settings.state_url)


@users_app.command("add")
def add(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="user name: lower-case letters, digits, '.', '_', '-'")
    ],
    role: Annotated[Role, typer.Option(help="public, analyst, enforcement or admin")] = Role.ANALYST,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input (first line)")
    ] = False,
    replace: Annotated[bool, typer.Option(help="reset the password and role of an existing user")] = False,
) -> None:
    """Add a user (the password is prompted for, or read from standard input)."""
    from ecocloud.web.users import UserError, UserExists

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    settings = get_settings()
    try:
        _store(settings).add_user(name, password, role, replace=replace)
    except UserExists as exc:
        err.print(f"[red]{said(exc)} (use --replace to reset the password and role)")
        raise typer.Exit(2) from exc
    except UserError as exc:
        err.print(f"[red]{said(exc)}")
        raise typer.Exit(2) from exc
    console.print(
        f"user {name} ({role.value}) saved in {settings.state_url.split('://')[0]} state database",
        markup=False,
    )


@users_app.command("list")
def list_users() -> None:
    """List users and their roles."""
    settings = get_settings()
    users = _store(settings).users()
    for name, role, created in users:
        # in Beijing time, as /admin/users and every page show it
        console.print(f"{name:<24} {role.value:<12} created {beijing_minute(created)} (UTC+8)", markup=False)
    if not users:
        err.print(
            f"no users in {settings.home.absolute()}: add one with `ecocloud users add NAME --role ROLE`",
            markup=False,
        )


@users_app.command("remove")
def remove(name: Annotated[str, typer.Argument(metavar="NAME", help="user name")]) -> None:
    """Remove a user and end their sessions."""
    if not _store(get_settings()).remove_user(name):
        err.print(f"[red]no user {said(repr(name))}")
        raise typer.Exit(2)
    console.print(f"user {name} removed", markup=False)
