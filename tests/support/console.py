"""What the console's tests share: a virtual clock, a migrated SQLite database copied from one
template per test session, staff members with known passwords, and a config with the console on
a free port."""

from __future__ import annotations

import asyncio
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.config import AppConfig, parse_config
from ivr.store.migrate import migrate
from ivr.store.passwords import Passwords
from ivr.store.staff import NewStaff, Role, StaffMember, StaffStore

T0 = datetime(2027, 2, 10, 0, 30, tzinfo=UTC)  # 09:30 in Tokyo, a Wednesday
PASSWORD = "correct horse battery"


@dataclass
class VirtualClock:
    """The console's clock in tests: time moves only when a test says so."""

    now: datetime = T0
    calls: int = field(default=0)

    def __call__(self) -> datetime:
        self.calls += 1
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_template(folder: Path) -> Path:
    """A SQLite file migrated to head, to copy for each test (migrating takes ~0.5 s)."""
    path = folder / "template.sqlite3"
    # in a thread of its own: asyncio.run here would replace the test's event loop
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, migrate(f"sqlite+aiosqlite:///{path}")).result()
    return path


def copy_database(template: Path, folder: Path) -> str:
    path = folder / "hotline.sqlite3"
    shutil.copy(template, path)
    return f"sqlite+aiosqlite:///{path}"


def console_config(port: int = 0, **console: Any) -> AppConfig:
    return parse_config({"console": {"port": port, **console}}, {})


async def add_member(
    engine: AsyncEngine,
    passwords: Passwords,
    login: str,
    role: Role = Role.AGENT,
    *,
    password: str = PASSWORD,
    endpoint: str | None = None,
    language: str = "ja",
    name: str | None = None,
) -> StaffMember:
    return await StaffStore(engine).add(
        NewStaff(login, name or f"Staff {login}", role, endpoint, ("billing",), language),
        await passwords.hash(password),
        T0,
    )
