"""Database fixtures for the store, intake and billing tests.

A throwaway PostgreSQL cluster per session and a fresh database per test.

`db_url` is parametrised over ``sqlite`` and ``postgresql``: each test that takes it runs on both.
PostgreSQL comes from `HOTLINE_TEST_PG_URL` (a server where we may CREATE DATABASE) or else a
private cluster (initdb + pg_ctl, see `tests.support.pgcluster`). A missing PostgreSQL FAILS the
tests: the production database is not optional.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ivr.store.accounts import AccountStore
from ivr.store.db import open_engine
from ivr.store.migrate import migrate
from tests.support.pgcluster import PgCluster, PgUnavailable

T = TypeVar("T")


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


def _run_apart(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` to its end on an event loop of its own thread: the session's templates are
    made when the first test asks for them, from inside that test's running loop."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, work).result()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once per session; each test gets a copy of the file (the
    migrations ran twice for every store test before, minutes of the suite)."""
    path = tmp_path_factory.mktemp("template") / "hotline.sqlite3"
    _run_apart(migrate(f"sqlite+aiosqlite:///{path}"))
    for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        # the last connection's close checkpoints the log into the file: nothing else to copy
        if leftover.exists() and leftover.stat().st_size:
            raise RuntimeError(f"the template database left {leftover.name} behind")
    return path


@pytest.fixture(scope="session")
def pg_template(pg_server_url: str) -> str:
    """A PostgreSQL database migrated once per session, the template of each test's database."""
    name = f"hotline_template_{uuid.uuid4().hex[:12]}"
    _run_apart(_admin(pg_server_url, f'CREATE DATABASE "{name}"'))
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    _run_apart(migrate(url))
    return name


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated, empty database of each kind (a copy of the session's migrated template)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "hotline.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    server = request.getfixturevalue("pg_server_url")
    template = request.getfixturevalue("pg_template")
    name = f"hotline_test_{uuid.uuid4().hex[:12]}"
    await _admin(server, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
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
