"""The console feed's order on an agent's page: a phone that answers before the screen-pop is
read still leaves the page at "answered" (the pop is followed by the answer again), a pop
for an offer already withdrawn is not pushed, and a call transferred to another queue pops the
same for the agent who receives it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.callerid import CallerId, CallerIdKind
from ivr.store.calls import AccountMatched, CallLog, CallOpened, TrailEvent
from ivr.web import feed as feed_module
from ivr.web.feed import ConsoleFeed
from ivr.web.hub import Hub
from ivr.web.messages import CallHold, ConsoleMessage, Offer, bare_offer
from routing.model import QueueEvent
from tests.integration.store.storedata import cust, seed

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


class KeepingHub(Hub):
    def __init__(self) -> None:
        super().__init__(lambda: T0)
        self.sent: list[tuple[str, ConsoleMessage]] = []

    def push(self, agent: str, message: ConsoleMessage) -> int:
        self.sent.append((agent, message))
        return 0


async def test_a_call_transferred_to_another_queue_pops_the_same_for_the_receiving_agent(
    engine: AsyncEngine,
) -> None:
    await seed(engine)
    caller = CallerId(CallerIdKind.NUMBER, "+81935821234")  # account 1 of the seed
    await CallLog(engine).append_many(
        [
            CallOpened("c1", caller, T0),
            AccountMatched("c1", cust(1), "caller_id", T0 + timedelta(seconds=3)),
            TrailEvent(
                "c1", "menu_choice", T0 + timedelta(seconds=5), {"node": "main", "key": "3"}
            ),
            TrailEvent("c1", "collected", T0 + timedelta(seconds=9), {"variable": "stop_date"}),
            TrailEvent("c1", "enqueued", T0 + timedelta(seconds=10), {"queue": "general"}),
            TrailEvent("c1", "enqueued", T0 + timedelta(seconds=80), {"queue": "billing"}),
        ]
    )
    hub = KeepingHub()
    feed = ConsoleFeed(hub, engine, context_of=lambda _call: {"stop_date": "20270216"})
    steps = [
        QueueEvent("c1", "general", T0 + timedelta(seconds=12), "offered", "agent1"),
        QueueEvent("c1", "general", T0 + timedelta(seconds=14), "answered", "agent1"),
        QueueEvent("c1", "general", T0 + timedelta(seconds=70), "transfer_requested", "agent1"),
        QueueEvent("c1", "general", T0 + timedelta(seconds=71), "call_ended", "agent1"),
        QueueEvent(
            "c1", "general", T0 + timedelta(seconds=71), "transferred", "agent1", "queue:billing"
        ),
        QueueEvent("c1", "billing", T0 + timedelta(seconds=85), "offered", "agent2"),
    ]
    for step in steps:
        feed.queue_event(step)
        await feed.aclose_after_pops()
    offers = {a: m for a, m in hub.sent if isinstance(m, Offer)}
    first, second = offers["agent1"], offers["agent2"]
    assert second.call_id == first.call_id == "c1"
    assert [a.customer_number for a in second.accounts] == [cust(1)]
    assert second.accounts == first.accounts
    assert second.ivr_path == first.ivr_path
    assert [(e.field, e.value) for e in second.entries] == [("stop_date", "20270216")]
    assert (second.queue, second.waited_s) == ("billing", 5.0)
    told_first = [m.type for a, m in hub.sent if a == "agent1"]
    assert told_first[-2:] == ["call_ended", "transfer"]


async def test_a_hold_is_pushed_and_a_page_that_opens_later_is_told_it() -> None:
    # a restarted engine's hold_ended names the agent though this feed saw no offer
    hub = Hub(lambda: T0)
    feed = ConsoleFeed(hub, AsyncEngine.__new__(AsyncEngine))
    hub.push("agent1", bare_offer("c1", T0))
    feed.queue_event(event("answered", 1))
    feed.queue_event(event("hold_started", 5))
    assert [(m.type, getattr(m, "held", None)) for m in hub.current("agent1")] == [
        ("offer", None),
        ("call_answered", None),
        ("hold", True),
    ]
    feed.queue_event(event("hold_ended", 50))
    [*_, last] = hub.current("agent1")
    assert isinstance(last, CallHold)
    assert (last.call_id, last.held, last.at) == ("c1", False, T0 + timedelta(seconds=50))
