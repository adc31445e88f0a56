"""The log-in rate limit: failed log-ins counted per log-in id and per client address over a
sliding window (`console.login_window_s`); past `login_max_failures` (an id) or
`address_max_failures` (an address) every attempt is refused with 429 and a Retry-After, before
the password is even checked, until the oldest counted failure leaves the window.

The failures are kept in the database (`ivr.store.staff.LoginFailures`), not in memory: a
restarted engine, or a standby that takes over, keeps counting, and guessing does not grow the
engine's memory. A success clears its id's failures, never the address's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

from ivr.config import ConsoleConfig
from ivr.store.staff import FailureKey, LoginFailures


class LoginThrottle:
    def __init__(
        self, failures: LoginFailures, config: ConsoleConfig, clock: Callable[[], datetime]
    ) -> None:
        self.failures = failures
        self.window = timedelta(seconds=config.login_window_s)
        self.limits = {"login": config.login_max_failures, "address": config.address_max_failures}
        self.clock = clock

    @staticmethod
    def keys(login: str, address: str) -> list[FailureKey]:
        return [FailureKey("login", login[:200]), FailureKey("address", address[:200])]

    async def retry_after(self, login: str, address: str) -> int | None:
        """Seconds until an attempt for `login` from `address` is accepted again, or None."""
        now = self.clock()
        waits = []
        for key in self.keys(login, address):
            limit = self.limits[key.scope]
            times = await self.failures.since(key, now - self.window)
            if len(times) >= limit:
                # the attempt is allowed again once only limit-1 failures remain in the window
                frees_at = times[len(times) - limit] + self.window
                waits.append(max(1, math.ceil((frees_at - now).total_seconds())))
        return max(waits) if waits else None

    async def failed(self, login: str, address: str) -> None:
        await self.failures.record(self.keys(login, address), self.clock())

    async def succeeded(self, login: str) -> None:
        await self.failures.clear(FailureKey("login", login[:200]))

    async def purge(self) -> None:
        await self.failures.purge(self.clock() - self.window)
