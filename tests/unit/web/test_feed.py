"""The console feed's order on an agent's page: a phone that answers before the screen-pop is
read still leaves the page at "answered" (the pop is followed by the answer again), and a pop
for an offer already withdrawn is not pushed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.web import feed as feed_module
from ivr.web.feed import ConsoleFeed
from ivr.web.hub import Hub
from ivr.web.messages import ConsoleMessage, bare_offer
from routing.model import QueueEvent

pytestmark = pytest.mark.unit

T0 = datetime(2027, 3, 2, 1, 0, tzinfo=UTC)


class RecordingHub(Hub):
    def __init__(self) -> None:
        super().__init__(lambda: T0)
        self.sent: list[tuple[str, str]] = []

    def push(self, agent: str, message: ConsoleMessage) -> int:
        self.sent.append((agent, message.type))
        return 0


def event(kind: str, seconds: float = 0) -> QueueEvent:
    return QueueEvent("c1", "general", T0 + timedelta(seconds=seconds), kind, "agent1")  # type: ignore[arg-type]


@pytest.fixture
def slow_pop(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """The pop's database read, held until the test lets it finish."""
    release = asyncio.Event()

    async def pop_for(*_args: object, **_kw: object) -> object:
        await release.wait()
        return bare_offer("c1", T0)

    monkeypatch.setattr(feed_module, "pop_for", pop_for)
    return release


async def test_an_answer_that_beats_the_pop_is_told_again_after_it(
    slow_pop: asyncio.Event,
) -> None:
    hub = RecordingHub()
    feed = ConsoleFeed(hub, AsyncEngine.__new__(AsyncEngine))
    feed.queue_event(event("offered"))
    feed.queue_event(event("answered", 0.05))
    slow_pop.set()
    await feed.aclose_after_pops()
    assert hub.sent == [
        ("agent1", "call_answered"),
        ("agent1", "offer"),
        ("agent1", "call_answered"),
    ]


async def test_a_pop_for_a_withdrawn_offer_is_not_pushed(slow_pop: asyncio.Event) -> None:
    hub = RecordingHub()
    feed = ConsoleFeed(hub, AsyncEngine.__new__(AsyncEngine))
    feed.queue_event(event("offered"))
    feed.queue_event(event("abandoned", 1))
    slow_pop.set()
    await feed.aclose_after_pops()
    assert hub.sent == [("agent1", "offer_withdrawn")]
