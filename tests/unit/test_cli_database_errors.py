"""The admin's commands on a database that is not there: one line, exit code 2, nothing
created behind their back, never the URL (it may carry a password)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ivr.cli import main

pytestmark = pytest.mark.unit


async def hotline(*argv: str) -> int:
    # in a thread, as a terminal runs it: the command makes its own event loop
    return await asyncio.to_thread(main, list(argv))


def config_with(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"database:\n  url: '{url}'\n", encoding="utf-8")
    return path


async def test_billing_pending_on_a_fresh_checkout_says_so_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "var" / "hotline.sqlite3"
    config = config_with(tmp_path, f"sqlite+aiosqlite:///{db}")
    assert await hotline("--config", str(config), "billing", "pending") == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        f"hotline: database.url: no database at {db} yet "
        "(`hotline db migrate` or scripts/start creates it)"
    )
    assert not db.exists()
    assert not db.parent.exists()

    assert await hotline("--config", str(config), "db", "migrate") == 0
    capsys.readouterr()
    assert await hotline("--config", str(config), "billing", "pending") == 0
    assert "nothing pending" in capsys.readouterr().out


async def test_an_empty_database_file_is_not_a_database_yet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "hotline.sqlite3"
    db.touch()
    config = config_with(tmp_path, f"sqlite+aiosqlite:///{db}")
    assert await hotline("--config", str(config), "billing", "retry") == 2
    assert "the database has no tables yet" in capsys.readouterr().err


async def test_a_database_server_that_does_not_answer_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # port 1: nothing listens there
    config = config_with(tmp_path, "postgresql+asyncpg://hotline:s3cret@127.0.0.1:1/hotline")
    assert await hotline("--config", str(config), "billing", "pending") == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("hotline: database.url: cannot open the database (")
    assert "s3cret" not in line
