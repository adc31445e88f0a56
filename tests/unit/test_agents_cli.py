"""`hotline agents add | passwd | disable | enable | list | demo` on a temporary SQLite file:
passwords from stdin or the prompt (never argv), the stored hash verifies, demo passwords are
printed once."""

from __future__ import annotations

import argparse
import asyncio
import io
from pathlib import Path

import pytest

from ivr.cli import agents
from ivr.domain import utc_now
from ivr.store.db import open_engine
from ivr.store.passwords import Passwords
from ivr.store.staff import Credentials, StaffStore
from ivr.store.tokens import ApiTokens

pytestmark = pytest.mark.unit

Hotline = tuple[argparse.ArgumentParser, Path, str]


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agents, "passwords", Passwords.for_tests)


@pytest.fixture
def hotline(tmp_path: Path) -> Hotline:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.sqlite3'}"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database:\n  url: {url}\n"
        "routing:\n  agents:\n    agent1: {endpoint: PJSIP/agent1, skills: [billing]}\n"
    )
    parser = argparse.ArgumentParser(prog="hotline")
    parser.add_argument("--config")
    agents.add_commands(parser.add_subparsers(dest="command"))
    return parser, config, url


async def run(
    hotline: Hotline, monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = ""
) -> int:
    parser, config, _ = hotline
    args = parser.parse_args(["--config", str(config), "agents", *argv])
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code: int = await asyncio.to_thread(args.func, args)
    return code


async def credentials(url: str, login: str) -> Credentials | None:
    engine = open_engine(url)
    try:
        return await StaffStore(engine).credentials(login)
    finally:
        await engine.dispose()


async def test_add_from_stdin_then_passwd_disable_enable(
    hotline: Hotline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = hotline[2]
    code = await run(
        hotline,
        monkeypatch,
        "add", "Admin", "--name", "First Admin", "--role", "admin", "--password-stdin",
        stdin="first admin password\n",
    )  # fmt: skip
    assert code == 0
    creds = await credentials(url, "admin")
    assert creds is not None
    assert creds.member.role.value == "admin"
    assert (await Passwords.for_tests().verify(creds.password_hash, "first admin password")).ok
    assert "first admin password" not in capsys.readouterr().out

    assert (
        await run(
            hotline,
            monkeypatch,
            "passwd",
            "admin",
            "--password-stdin",
            stdin="a new password here\n",
        )
        == 0
    )
    creds = await credentials(url, "admin")
    assert creds is not None
    assert (await Passwords.for_tests().verify(creds.password_hash, "a new password here")).ok
    assert await run(hotline, monkeypatch, "disable", "admin") == 0
    creds = await credentials(url, "admin")
    assert creds is not None
    assert creds.member.disabled
    assert await run(hotline, monkeypatch, "enable", "admin") == 0
    assert "admin: enabled" in capsys.readouterr().out
    assert await run(hotline, monkeypatch, "list") == 0
    assert "admin            admin      -                ja  active" in capsys.readouterr().out


async def test_refusals(
    hotline: Hotline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add = ("add", "agent9", "--name", "A", "--password-stdin")
    assert await run(hotline, monkeypatch, *add, stdin="short\n") == 1
    assert "at least 10" in capsys.readouterr().err
    assert await run(hotline, monkeypatch, *add, stdin="long enough password\n") == 0
    assert await run(hotline, monkeypatch, *add, stdin="long enough password\n") == 1
    assert "already" in capsys.readouterr().err
    assert await run(hotline, monkeypatch, "disable", "nobody") == 1
    assert await run(hotline, monkeypatch, "passwd", "Not An Id", "--password-stdin") == 1


async def test_the_prompt_asks_twice(
    hotline: Hotline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter(["typed password one", "typed password two"])
    monkeypatch.setattr("getpass.getpass", lambda _prompt: next(answers))
    assert await run(hotline, monkeypatch, "add", "agent9", "--name", "A") == 1
    assert "differ" in capsys.readouterr().err
    monkeypatch.setattr("getpass.getpass", lambda _prompt: "typed password one")
    assert await run(hotline, monkeypatch, "add", "agent9", "--name", "A") == 0
    assert await credentials(hotline[2], "agent9") is not None


async def test_demo_prints_working_passwords_once(
    hotline: Hotline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run(hotline, monkeypatch, "demo") == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split()[-1] for line in out.splitlines() if "password:" in line}
    assert set(lines) == {"agent1", "supervisor", "admin"}
    creds = await credentials(hotline[2], "agent1")
    assert creds is not None
    assert creds.member.endpoint == "PJSIP/agent1"
    assert (await Passwords.for_tests().verify(creds.password_hash, lines["agent1"])).ok
    assert await run(hotline, monkeypatch, "demo") == 0
    assert "password:" not in capsys.readouterr().out


async def test_token_is_printed_once_and_only_its_hash_is_kept(
    hotline: Hotline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = hotline[2]
    assert (
        await run(
            hotline,
            monkeypatch,
            "add",
            "bot",
            "--name",
            "Bot",
            "--password-stdin",
            stdin="a long enough secret\n",
        )
        == 0
    )
    capsys.readouterr()
    assert await run(hotline, monkeypatch, "token", "bot") == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("hlt_")
    engine = open_engine(url)
    try:
        tokens = ApiTokens(engine)
        member = await tokens.member_of(token, utc_now())
        assert member is not None
        assert member.login == "bot"
        assert await run(hotline, monkeypatch, "token", "bot", "--revoke") == 0
        assert await tokens.member_of(token, utc_now()) is None
    finally:
        await engine.dispose()
    assert await run(hotline, monkeypatch, "token", "nobody") == 1
