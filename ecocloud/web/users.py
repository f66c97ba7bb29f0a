"""Web users, sessions and the login throttle, in the state database (SQLAlchemy Core).

The state database is SQLite in the ecocloud home by default and Postgres when
``ECOCLOUD_STATE_DB_URL`` says so; the tables are created when missing, so the same code runs on both.

* Passwords are Argon2id hashes (argon2-cffi, its recommended parameters); a hash made with older
  parameters is replaced at the next successful login.
* A session is a server-side row: the browser holds a random token, the database only its SHA-256,
  with an absolute expiry and the session's CSRF token. Logging out deletes the row.
* Throttle: within the window, after ``max_failures`` failed logins for one user name from one client,
  four times as many from one client (any names), or ten times as many for one name (any clients),
  further such attempts are refused without checking the password. The client is the web app's
  (an IPv6 client by its /64); one client's guesses do not lock a user out of the others' logins;
  many clients guessing one name are held to the name's limit (ten clients can refuse the name's
  logins for a window to browsers it has not logged in from).
* Device cookies (OWASP's answer to that lockout): a browser the user logged in from holds a random
  token (the database keeps its SHA-256) naming the user. Its attempts for that user are counted
  for the device alone — ``max_failures`` in the window — and neither count towards nor wait for the
  name's and the client's limits, so guessing from elsewhere does not lock the user out of their own
  browser, and a stolen cookie still buys only ``max_failures`` guesses.
* Hashing is bounded: an Argon2id check takes 64 MiB and most of a core for ~0.1 s, so at most
  ``hashes_at_once`` run at once; a login that waits longer than ``hash_wait_s`` for its turn is
  refused as ``Busy`` (not counted as a failure) — a flood of logins from many clients, which the
  throttle does not hold, costs queueing, not the server's memory. At most ``logins_waiting`` wait
  at once; one more is ``Busy`` at once: each waits in one of the web app's worker threads, and a
  flood would otherwise hold them all, leaving none for the pages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ecocloud.errors import InTwoLanguages
from ecocloud.web.access import Role
from warehouse.ledger import make_sqlite_folder

_meta = sa.MetaData()
users_table = sa.Table(
    "web_users",
    _meta,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
sessions_table = sa.Table(
    "web_sessions",
    _meta,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column(
        "username", sa.String(64), sa.ForeignKey("web_users.username", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)
failures_table = sa.Table(
    "web_login_failures",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("client", sa.String(64), nullable=False),
    sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False, index=True),
    # the throttle counts by (name, client), name and client: many failures must not slow every login
    sa.Index("ix_web_login_failures_name_client", "username", "client"),
    sa.Index("ix_web_login_failures_client", "client"),
)

devices_table = sa.Table(
    "web_login_devices",
    _meta,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column(
        "username", sa.String(64), sa.ForeignKey("web_users.username", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
MIN_PASSWORD = 10
CLIENT_FACTOR = 4  # a client may fail this many times more often than for one user name
NAME_FACTOR = 10  # and a user name this many times, from all clients together
DEVICE_DAYS = 180  # a browser stays known this long after its last login
DEVICES_PER_USER = 20  # the most recent browsers a user is known on (a login without a cookie adds one)
_DEVICE = "device:"  # a known browser's failures are filed under this client prefix


class UserError(InTwoLanguages, ValueError):
    """A user cannot be created or changed as asked: the message in English (``str``) and in Chinese
    (``zh``), for the CLI and the web page alike."""


class UserExists(UserError):
    """The name is taken (the CLI replaces it with ``--replace``; the web page never does)."""


class Throttled(Exception):
    """Too many failed logins: refused without checking the password."""


class Busy(Exception):
    """Too many logins at once: refused before checking the password (try again shortly)."""


@dataclass(frozen=True)
class Session:
    username: str
    role: Role
    csrf_token: str
    expires_at: dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(t: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back without their zone; they were stored in UTC."""
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_username(name: str) -> str:
    if not 2 <= len(name) <= 64 or not set(name) <= USERNAME_CHARS:
        raise UserError(
            "user names are 2-64 characters: lower-case letters, digits, '.', '_' or '-'",
            "用户名为 2–64 个字符：小写字母、数字、“.”、“_”或“-”",
        )
    return name


class UserStore:
    def __init__(
        self,
        url: str,
        *,
        session_hours: float = 8.0,
        max_failures: int = 5,
        window: dt.timedelta = dt.timedelta(minutes=15),
        hashes_at_once: int = 2,
        hash_wait_s: float = 10.0,
        logins_waiting: int = 8,
    ) -> None:
        make_sqlite_folder(url)  # users may be added before anything is ingested
        self.engine = sa.create_engine(url)
        _meta.create_all(self.engine)
        for index in failures_table.indexes:  # tables made before the index (create_all skips them whole)
            index.create(self.engine, checkfirst=True)
        self.session_length = dt.timedelta(hours=session_hours)
        self.max_failures = max_failures
        self.window = window
        self.hasher = PasswordHasher()
        self._hashing = threading.BoundedSemaphore(hashes_at_once)
        self.hash_wait_s = hash_wait_s
        self._waiting = threading.BoundedSemaphore(hashes_at_once + logins_waiting)
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    @contextmanager
    def _hash_turn(self) -> Iterator[None]:
        """One of the ``hashes_at_once`` turns at Argon2 (see the module doc); raises Busy."""
        if not self._waiting.acquire(blocking=False):  # as many waiting as may: no thread more
            raise Busy
        try:
            if not self._hashing.acquire(timeout=self.hash_wait_s):
                raise Busy
            try:
                yield
            finally:
                self._hashing.release()
        finally:
            self._waiting.release()

    # -- users ------------------------------------------------------------------------------------
    def add_user(self, username: str, password: str, role: Role | str, *, replace: bool = False) -> None:
        check_username(username)
        role = Role(role)
        if len(password) < MIN_PASSWORD:
            raise UserError(
                f"passwords have at least {MIN_PASSWORD} characters", f"密码至少 {MIN_PASSWORD} 个字符"
            )
        row = {"password_hash": self.hasher.hash(password), "role": role.value}
        with self.engine.begin() as con:
            exists = con.execute(
                sa.select(users_table.c.username).where(users_table.c.username == username)
            ).first()
            if exists and not replace:
                raise UserExists(f"user {username!r} exists", f"用户 {username} 已存在")
            if exists:  # a reset password: its sessions end, its browsers are strangers again
                con.execute(users_table.update().where(users_table.c.username == username).values(**row))
                con.execute(sessions_table.delete().where(sessions_table.c.username == username))
                con.execute(devices_table.delete().where(devices_table.c.username == username))
            else:
                con.execute(users_table.insert().values(username=username, created_at=_now(), **row))

    def remove_user(self, username: str) -> bool:
        with self.engine.begin() as con:
            con.execute(sessions_table.delete().where(sessions_table.c.username == username))
            con.execute(devices_table.delete().where(devices_table.c.username == username))
            return con.execute(users_table.delete().where(users_table.c.username == username)).rowcount > 0

    def users(self) -> list[tuple[str, Role, dt.datetime]]:
        with self.engine.connect() as con:
            rows = con.execute(
                sa.select(users_table.c.username, users_table.c.role, users_table.c.created_at).order_by(
                    users_table.c.username
                )
            ).all()
        return [(r.username, Role(r.role), _utc(r.created_at)) for r in rows]

    # -- login ------------------------------------------------------------------------------------
    def authenticate(
        self, username: str, password: str, client: str, device: str | None = None
    ) -> Role | None:
        """The user's role when the password is right; None otherwise. Raises Throttled.

        The attempt is recorded as a failure before the password is checked, in the transaction that
        counts the failures (serialised per name and client), so attempts sent at once count each
        other; a right password deletes the failures of its name from its client, a throttled attempt is
        not recorded. ``device``: the browser's device token (``remember_device``); one of this user
        makes the device the client, held to ``max_failures`` alone."""
        now = _now()
        name = username[:64]
        known = self._known_device(device, name, now)
        origin = _DEVICE + known[:32] if known else client[:64]  # 128 bits of the digest fit the column
        with self.engine.begin() as con:
            self._serialise(con, name, origin)
            con.execute(failures_table.delete().where(failures_table.c.failed_at < now - self.window))
            attempt = con.execute(
                failures_table.insert()
                .values(username=name, client=origin, failed_at=now)
                .returning(failures_table.c.id)
            ).scalar_one()
            f = failures_table.c
            stranger = f.client.not_like(_DEVICE + "%")  # known browsers' failures are their own
            by_pair, by_name, by_client = con.execute(
                sa.select(
                    sa.func.count().filter(f.username == name, f.client == origin),
                    sa.func.count().filter(f.username == name, stranger),
                    sa.func.count().filter(f.client == origin),
                ).where(sa.or_(f.username == name, f.client == origin))
            ).one()
            limit = self.max_failures
            if by_pair > limit or (
                not known and (by_client > limit * CLIENT_FACTOR or by_name > limit * NAME_FACTOR)
            ):
                raise Throttled  # rolls the attempt back
        with self.engine.connect() as con:
            user = con.execute(sa.select(users_table).where(users_table.c.username == username)).first()
        stored = user.password_hash if user else self._dummy_hash  # same work for unknown names
        try:
            with self._hash_turn():
                ok = self._verify(stored, password) and user is not None
        except Busy:
            with self.engine.begin() as con:  # no password was checked: no failure to count
                con.execute(failures_table.delete().where(failures_table.c.id == attempt))
            raise
        if not ok:
            return None  # the attempt stays recorded as a failure
        rehashed = self._rehashed(stored, password)  # before the transaction: it may wait its turn
        with self.engine.begin() as con:
            con.execute(
                failures_table.delete().where(
                    failures_table.c.username == name, failures_table.c.client == origin
                )
            )
            if rehashed is not None:
                con.execute(
                    users_table.update()
                    .where(users_table.c.username == username)
                    .values(password_hash=rehashed)
                )
        assert user is not None
        return Role(user.role)

    def _rehashed(self, stored: str, password: str) -> str | None:
        """A hash with the current parameters where ``stored`` has older ones — None also when no turn
        at hashing comes in time (the next login replaces it)."""
        if not self.hasher.check_needs_rehash(stored):
            return None
        try:
            with self._hash_turn():
                return self.hasher.hash(password)
        except Busy:
            return None

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def _known_device(self, device: str | None, username: str, now: dt.datetime) -> str | None:
        """The digest of ``device`` when it is an unexpired device token of ``username``."""
        if not device or len(device) > 128:
            return None
        d = devices_table.c
        with self.engine.connect() as con:
            found: str | None = con.execute(
                sa.select(d.token_sha256).where(
                    d.token_sha256 == _digest(device), d.username == username, d.expires_at > now
                )
            ).scalar()
            return found

    def remember_device(self, username: str, previous: str | None = None) -> str:
        """A new device token for the browser ``username`` just logged in from (for its cookie; never
        stored), replacing the browser's ``previous`` token; expired tokens are purged."""
        token, now = secrets.token_urlsafe(32), _now()
        d = devices_table.c
        with self.engine.begin() as con:
            con.execute(devices_table.delete().where(d.expires_at < now))
            if previous and len(previous) <= 128:
                con.execute(devices_table.delete().where(d.token_sha256 == _digest(previous)))
            con.execute(
                devices_table.insert().values(
                    token_sha256=_digest(token),
                    username=username,
                    created_at=now,
                    expires_at=now + dt.timedelta(days=DEVICE_DAYS),
                )
            )
            newest = (
                sa.select(d.token_sha256)
                .where(d.username == username)
                .order_by(d.created_at.desc(), d.token_sha256)
                .limit(DEVICES_PER_USER)
            )
            con.execute(
                devices_table.delete().where(
                    d.username == username, d.token_sha256.not_in(newest.scalar_subquery())
                )
            )
        return token

    def _serialise(self, con: sa.Connection, *keys: str) -> None:
        """Make concurrent logins of one name or client take turns: SQLite has one writer at a time
        (the transaction writes first); Postgres takes a transaction lock per key, in sorted order."""
        if self.engine.dialect.name != "postgresql":
            return
        for key in sorted({f"login:name:{keys[0]}", *(f"login:client:{k}" for k in keys[1:])}):
            lock = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
            con.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})

    # -- sessions ---------------------------------------------------------------------------------
    def open_session(self, username: str) -> tuple[str, Session]:
        """A new session: the token for the cookie (never stored) and the session."""
        token = secrets.token_urlsafe(32)
        now = _now()
        csrf = secrets.token_urlsafe(32)
        with self.engine.begin() as con:
            con.execute(sessions_table.delete().where(sessions_table.c.expires_at < now))
            role = con.execute(
                sa.select(users_table.c.role).where(users_table.c.username == username)
            ).scalar_one()
            con.execute(
                sessions_table.insert().values(
                    token_sha256=_digest(token),
                    username=username,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + self.session_length,
                )
            )
        return token, Session(username, Role(role), csrf, now + self.session_length)

    def session(self, token: str | None) -> Session | None:
        if not token or len(token) > 128:
            return None
        with self.engine.connect() as con:
            row = con.execute(
                sa.select(
                    sessions_table.c.username,
                    sessions_table.c.csrf_token,
                    sessions_table.c.expires_at,
                    users_table.c.role,
                )
                .join(users_table, users_table.c.username == sessions_table.c.username)
                .where(sessions_table.c.token_sha256 == _digest(token))
            ).first()
        if row is None or _utc(row.expires_at) <= _now():
            return None
        return Session(row.username, Role(row.role), row.csrf_token, _utc(row.expires_at))

    def close_session(self, token: str | None) -> None:
        if token:
            with self.engine.begin() as con:
                con.execute(sessions_table.delete().where(sessions_table.c.token_sha256 == _digest(token)))
