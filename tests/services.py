"""The machine's PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) for integration tests.

Every test gets its own database or Redis db number, made for it and dropped or flushed after it,
even when it fails; nothing is shared between tests or runs. `.ci/run` checks that both services are
up before the tests start.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


@contextmanager
def postgres_database(prefix: str = "ecocloud_test") -> Iterator[str]:
    """A new, empty PostgreSQL database; yields its SQLAlchemy URL and drops it afterwards."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{POSTGRES}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # ends lingering sessions


def end_advisory_lock_sessions(url: str) -> int:
    """End every session holding an advisory lock in the database at ``url`` (as a server restart or
    a dropped connection would end a lock holder's); returns how many."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as con:
            return int(
                con.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM (SELECT DISTINCT pid FROM pg_locks "
                        "WHERE locktype = 'advisory' "
                        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) s"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


@contextmanager
def redis_database() -> Iterator[int]:
    """A Redis db number (1..15, at random) that no one else uses: empty, and claimed with a key so
    that a test starting at the same moment takes another; flushed afterwards."""
    import redis

    claim = secrets.token_hex(8)
    for db in secrets.SystemRandom().sample(range(1, 16), 15):
        client = redis.Redis(REDIS_HOST, REDIS_PORT, db=db)
        if client.dbsize() == 0 and client.set("ecocloud-test-claim", claim, nx=True):
            if client.dbsize() == 1:
                break
            client.delete("ecocloud-test-claim")  # someone else's keys arrived meanwhile
        client.close()
    else:
        raise RuntimeError("every Redis db 1..15 is in use: none is free for a test")
    try:
        yield db
    finally:
        client.flushdb()
        client.close()
