"""The log-in rate limit counts failures per log-in id and per address in a sliding window."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.staff import LoginFailures
from ivr.web.ratelimit import LoginThrottle
from tests.support.console import VirtualClock, console_config

pytestmark = pytest.mark.unit


def throttle(engine: AsyncEngine, clock: VirtualClock) -> LoginThrottle:
    cfg = console_config(login_max_failures=3, address_max_failures=5, login_window_s=300)
    return LoginThrottle(LoginFailures(engine), cfg.console, clock)


async def test_an_id_is_locked_until_its_oldest_failure_leaves_the_window(
    engine: AsyncEngine, clock: VirtualClock
) -> None:
    limit = throttle(engine, clock)
    for _ in range(2):
        await limit.failed("agent1", "10.0.0.1")
        clock.advance(10)
    assert await limit.retry_after("agent1", "10.0.0.1") is None
    await limit.failed("agent1", "10.0.0.2")  # the third, from another address
    assert await limit.retry_after("agent1", "10.0.0.3") == 300 - 20
    assert await limit.retry_after("agent2", "10.0.0.1") is None  # others are not locked
    clock.advance(300 - 20)
    assert await limit.retry_after("agent1", "10.0.0.1") is None  # the first has left


async def test_an_address_is_locked_across_ids_and_a_success_does_not_clear_it(
    engine: AsyncEngine, clock: VirtualClock
) -> None:
    limit = throttle(engine, clock)
    for n in range(5):
        await limit.failed(f"guess{n}", "10.0.0.9")
    assert await limit.retry_after("agent1", "10.0.0.9") == 300
    await limit.succeeded("guess4")
    assert await limit.retry_after("agent1", "10.0.0.9") == 300
    assert await limit.retry_after("agent1", "10.0.0.8") is None


async def test_a_success_clears_its_ids_failures(engine: AsyncEngine, clock: VirtualClock) -> None:
    limit = throttle(engine, clock)
    for _ in range(3):
        await limit.failed("agent1", "10.0.0.1")
    assert await limit.retry_after("agent1", "10.0.0.2") is not None
    await limit.succeeded("agent1")
    assert await limit.retry_after("agent1", "10.0.0.2") is None
