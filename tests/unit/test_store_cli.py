"""`hotline db init`, `demo --accounts N`, `billing pending | retry` on a temporary SQLite file.

The handlers are registered on a parser of our own (the `hotline` parser registers the same
`add_commands`), so argument parsing is covered too. Each handler runs its own event loop
(`asyncio.run`), as under the `hotline` command, so the tests run them in a worker thread.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from ivr.cli import billing
from ivr.cli import db as db_commands
from ivr.domain import RequestKind
from ivr.intake.service import IntakeRequest, IntakeService
from ivr.store.db import open_engine
from ivr.store.migrate import current_revision, head_revision
from ivr.store.tables import accounts, billing_outbox

pytestmark = pytest.mark.unit


@pytest.fixture
def hotline(tmp_path: Path) -> tuple[argparse.ArgumentParser, Path, str]:
    db = tmp_path / "var" / "hotline.sqlite3"
    url = f"sqlite+aiosqlite:///{db}"
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {url}\n")
    parser = argparse.ArgumentParser(prog="hotline")
    parser.add_argument("--config")
    commands = parser.add_subparsers(dest="command")
    db_commands.add_commands(commands)
    billing.add_commands(commands)
    return parser, config, url


async def run(parser: argparse.ArgumentParser, config: Path, *argv: str) -> int:
    args = parser.parse_args(["--config", str(config), *argv])
    code: int = await asyncio.to_thread(args.func, args)
    return code


async def _leak_and_count(url: str) -> int:
    engine = open_engine(url)
    try:
        async with engine.connect() as conn:
            n = (await conn.execute(sa.select(sa.func.count()).select_from(accounts))).scalar()
        service = IntakeService(engine, clock=lambda: datetime(2026, 3, 2, 1, tzinfo=UTC))
        await service.submit(
            IntakeRequest(RequestKind.LEAK, "ivr", "ivr", {"address": "本町1丁目 交差点"})
        )
        async with engine.begin() as conn:
            await conn.execute(sa.update(billing_outbox).values(state="dead", attempts=10))
        return int(n or 0)
    finally:
        await engine.dispose()


async def test_init_demo_pending_retry(
    hotline: tuple[argparse.ArgumentParser, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    parser, config, url = hotline
    assert await run(parser, config, "db", "init") == 0
    assert await current_revision(url) == head_revision()
    assert await run(parser, config, "db", "init") == 0  # repeatable
    assert await run(parser, config, "db", "migrate") == 0
    assert await run(parser, config, "demo", "--accounts", "50") == 0
    out, err = capsys.readouterr()
    assert "added 50 demo accounts" in out
    assert "50/50 accounts" in err  # the progress bar is on stderr

    assert await run(parser, config, "billing", "pending") == 0
    assert "nothing pending" in capsys.readouterr().out

    assert await _leak_and_count(url) == 50
    assert await run(parser, config, "billing", "pending") == 0
    out = capsys.readouterr().out
    assert "leak" in out
    assert "dead" in out
    assert await run(parser, config, "billing", "pending", "--no-dead") == 0
    assert "nothing pending" in capsys.readouterr().out

    assert await run(parser, config, "billing", "retry", "1") == 0
    assert "1 outbox row(s) due again" in capsys.readouterr().out
    assert await run(parser, config, "billing", "retry") == 0  # no dead rows left
    assert "0 outbox row(s)" in capsys.readouterr().out


async def test_demo_needs_a_positive_count(
    hotline: tuple[argparse.ArgumentParser, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    parser, config, _ = hotline
    with pytest.raises(SystemExit):
        await run(parser, config, "demo", "--accounts", "0")
    assert "positive" in capsys.readouterr().err


async def test_db_demo_is_the_demo_command_too(
    hotline: tuple[argparse.ArgumentParser, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    parser, config, url = hotline
    assert await run(parser, config, "db", "init") == 0
    assert await run(parser, config, "db", "demo", "--accounts", "7") == 0
    out = capsys.readouterr().out
    assert "added 7 demo accounts" in out
    # a tester learns which meter numbers to key for a start or a move
    vacant = out.split("to try a start or a move: ")[1].strip().split(", ")
    assert vacant
    assert all(m.isdigit() for m in vacant)
    engine = open_engine(url)
    try:
        async with engine.connect() as conn:
            n = (await conn.execute(sa.select(sa.func.count()).select_from(accounts))).scalar()
    finally:
        await engine.dispose()
    assert n == 7
