"""What every handler of the console reaches through its application: the config section, the
stores, the password hasher, the clock and the log-in throttle (one `Console` per app)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web

from ivr.config import ConsoleConfig
from ivr.store.passwords import Passwords
from ivr.store.staff import StaffStore, WebSessions
from ivr.web.ratelimit import LoginThrottle

if TYPE_CHECKING:
    from ivr.web.sessions import DbSessionStorage

Clock = Callable[[], datetime]
"""Aware UTC now; tests give a virtual one."""


@dataclass(frozen=True, slots=True)
class Console:
    config: ConsoleConfig
    staff: StaffStore
    sessions: WebSessions
    passwords: Passwords
    throttle: LoginThrottle
    storage: DbSessionStorage
    clock: Clock


CONSOLE = web.AppKey("console", Console)


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE]
