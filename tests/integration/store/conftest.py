"""Database fixtures for the store, intake and billing tests.

A throwaway PostgreSQL cluster per session and a fresh database per test.

`db_url` is parametrised over ``sqlite`` and ``postgresql``: each test that takes it runs on both.
PostgreSQL comes from `HOTLINE_TEST_PG_URL` (a server where we may CREATE DATABASE) or else a
private cluster (initdb + pg_ctl, see `tests.support.pgcluster`). A missing PostgreSQL FAILS the
tests: the production database is not optional.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ivr.store.accounts import AccountStore
from ivr.store.db import open_engine
from ivr.store.migrate import migrate
from tests.support.pgcluster import PgCluster, PgUnavailable


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a PostgreSQL server's maintenance database (``postgres``)."""
    given = os.environ.get("HOTLINE_TEST_PG_URL")
    if given:
        yield given
        return
    cluster: PgCluster | None = None
    try:
        cluster = PgCluster()
        url = cluster.start()
    except PgUnavailable as exc:
        if cluster is not None:
            cluster.stop()
        pytest.fail(f"PostgreSQL is required for the store tests: {exc}", pytrace=False)
    try:
        yield url
    finally:
        cluster.stop()


async def _admin(server_url: str, sql: str) -> None:
    admin: AsyncEngine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(sql)
    finally:
        await admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "hotline.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        await migrate(url)
        yield url
        return
    server = request.getfixturevalue("pg_server_url")
    name = f"hotline_test_{uuid.uuid4().hex[:12]}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        await migrate(url)
        yield url
    finally:
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = open_engine(db_url)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
async def store(engine: AsyncEngine) -> AsyncIterator[AccountStore]:
    """The account store on `engine`, its look-up path closed after the test."""
    async with AccountStore(engine) as accounts:
        yield accounts
