"""The console's calls on the ACD, against the in-memory ARI fake in virtual time: a reject
passes the call to the next agent, wrap-up keeps offers away until it ends (by its code or its
timer), and transfers — to a queue, to a department blind or attended — with each failure
leaving the caller with the agent or in the queue, never dropped."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from ivr.ari.models import AriEvent, CallerId, Channel, StasisEnd, StasisStart
from ivr.ari.port import AriPort
from ivr.calls.codec import TALK, Talk
from ivr.calls.handle import CallCommand
from ivr.calls.memory import InMemoryCallMemory
from ivr.calls.services import prompt_media
from ivr.errors import AriServerError
from ivr.store.departments import Department
from routing.acd import AcdRouter, QueueEvents
from routing.agents import AgentPool
from routing.config import RoutingConfig
from routing.hours import calendars_of
from routing.model import QueueEvent, TransferEvent, WrapUpEvent
from routing.queues import QueueService, QueueTiming
from routing.transfer import ACCEPT_PROMPT, TransferService
from tests.unit.routing.test_queues import FakeRoutingAri

pytestmark = [pytest.mark.unit, pytest.mark.looptime]

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
WRAP_UP_S = 10


@dataclass
class Phones(FakeRoutingAri):
    """Staff phones: every originate is a phone that rings until the test answers it."""

    rung: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)
    calls: dict[str, Call] = field(default_factory=dict)

    async def originate(self, endpoint: str, *, channel_id: str, **kw: object) -> Channel:
        channel = await super().originate(endpoint, channel_id=channel_id)
        self.rung.put_nowait((endpoint, channel_id))
        return channel

    def _deliver(self, item: object) -> None:
        channel = getattr(item, "channel", None)
        if channel is None:
            super()._deliver(item)  # type: ignore[arg-type]
            return
        for call in self.calls.values():
            if channel.id == call.channel_id or channel.id in call.claimed:
                call.inbox.put_nowait(item)  # type: ignore[arg-type]

    async def next_ring(self, timeout_s: float = 60) -> tuple[str, str]:
        async with asyncio.timeout(timeout_s):
            return await self.rung.get()

    def answers(self, leg: str) -> None:
        self.emit(StasisStart(type="StasisStart", channel=Channel(id=leg)))

    def hangs_up(self, channel_id: str) -> None:
        channel = self.channels.pop(channel_id, Channel(id=channel_id))
        self.emit(StasisEnd(type="StasisEnd", channel=channel))


class Call:
    """A `CallHandle` whose inbox gets the fake's events for it and its claimed legs."""

    def __init__(self, ari: Phones, channel_id: str) -> None:
        self._ari = ari
        self._id = channel_id
        self.memory = InMemoryCallMemory()
        self.inbox: asyncio.Queue[AriEvent | CallCommand] = asyncio.Queue()
        self.claimed: set[str] = set()
        self._n = 0
        ari.channels[channel_id] = Channel(id=channel_id, caller=CallerId(number="0935821234"))
        ari.calls[channel_id] = self

    @property
    def channel_id(self) -> str:
        return self._id

    @property
    def caller_number(self) -> str:
        return "0935821234"

    @property
    def language(self) -> str:
        return "ja"

    @property
    def context(self) -> Mapping[str, str]:
        return {"account": "1"}

    @property
    def ari(self) -> AriPort:
        return self._ari

    def new_id(self, what: str) -> str:
        self._n += 1
        return f"{self._id}-{what}-{self._n}"

    def claim(self, channel_id: str) -> None:
        self.claimed.add(channel_id)

    def release(self, channel_id: str) -> None:
        self.claimed.discard(channel_id)

    async def next_event(self, timeout_s: float) -> AriEvent | CallCommand | None:
        try:
            async with asyncio.timeout(timeout_s):
                return await self.inbox.get()
        except TimeoutError:
            return None

    async def remember(self, key: str, value: str) -> None:
        await self.memory.keep_durably(self._id, key, value)

    async def recall(self, key: str) -> str:
        return await self.memory.recall(self._id, key)

    def media(self, prompt_id: str) -> str:
        return f"sound:{prompt_id}"


@dataclass
class Rig:
    ari: Phones
    router: AcdRouter
    pool: AgentPool

    @property
    def trail(self) -> list[QueueEvent | TransferEvent | WrapUpEvent]:
        return list(self.router.events.recent)

    def kinds(self, call_id: str) -> list[str]:
        return [e.kind for e in self.trail if e.call_id == call_id]

    def call(self, channel_id: str, queue: str = "q") -> tuple[Call, asyncio.Task[str]]:
        call = Call(self.ari, channel_id)
        task = asyncio.get_running_loop().create_task(
            self.router.enqueue(call, queue, 0, call.context), name=f"call:{channel_id}"
        )
        return call, task

    async def answered(self, agent: str, endpoint: str) -> str:
        """The next ring is `endpoint`'s; it answers; returns its leg."""
        rung, leg = await self.ari.next_ring()
        assert rung == endpoint
        self.ari.answers(leg)
        await self.until(lambda: self.pool.state(agent).status == "on_call")
        return leg

    async def until(self, condition: object, timeout_s: float = 60) -> None:
        async with asyncio.timeout(timeout_s):
            while not condition():  # type: ignore[operator]
                await self.pool.changed(1)


class Book:
    """The database's departments as a transfer reads them (`DepartmentBook`), changed by the
    test as an admin would on /admin/departments."""

    def __init__(self, *kept: Department) -> None:
        self.kept = {d.code: d for d in kept}

    async def department(self, code: str) -> Department | None:
        return self.kept.get(code)


def rig(
    *agents: str,
    departments: Mapping[str, object] | None = None,
    book: Book | None = None,
    ari: Phones | None = None,
) -> Rig:
    config = RoutingConfig.model_validate(
        {
            "calendars": {
                "cal": {"always_open": True},
                "shut": {"weekly": {"sun": ["01:00-02:00"]}},
            },
            "queues": {
                "q": {"calendar": "cal", "ring_timeout_s": 5, "wrap_up_s": WRAP_UP_S},
                "q2": {"calendar": "cal", "ring_timeout_s": 5, "skills": ["billing"]},
            },
            "agents": {
                a: {"endpoint": f"PJSIP/{a}", "skills": ["billing"] if a == "a9" else []}
                for a in agents
            },
            "departments": departments
            or {
                "works": {"endpoint": "PJSIP/works", "ring_timeout_s": 10},
                "closed_dept": {"endpoint": "PJSIP/closed", "calendar": "shut"},
            },
        }
    )
    loop = asyncio.get_running_loop()
    start = loop.time()

    def clock() -> datetime:
        return T0 + timedelta(seconds=loop.time() - start)

    ari = ari or Phones()
    pool = AgentPool(config.agents, clock=clock)
    events = QueueEvents()
    cals = calendars_of(config)
    queues = QueueService(
        config, pool, ari, cals, clock=clock, timing=QueueTiming(tick_s=0.5), on_event=events.add
    )
    transfers = TransferService(
        config, ari, cals, clock=clock, on_event=events.add, departments=book
    )
    router = AcdRouter(queues, transfers, ari, events=events)

    def post(call_id: str, command: CallCommand) -> bool:
        call = ari.calls.get(call_id)
        if call is None:
            return False
        call.inbox.put_nowait(command)
        return True

    router.bind_commands(post)
    for agent in agents:
        pool.log_in(agent)
    return Rig(ari, router, pool)


# ---------------------------------------------------------------------- reject


async def test_a_reject_passes_the_call_to_the_next_agent_and_not_back() -> None:
    r = rig("a1", "a2")
    call, task = r.call("c1")
    endpoint, first_leg = await r.ari.next_ring()
    assert endpoint == "PJSIP/a1"  # the longest idle
    assert await r.router.desk.reject("a1") == "ok"
    assert ("hangup", first_leg) in r.ari.ops  # the ringing phone stops
    assert r.pool.state("a1").status == "ready"  # ready at once, no pause
    endpoint, second_leg = await r.ari.next_ring()
    assert endpoint == "PJSIP/a2"
    # a2 lets it ring out: a1 is ready, yet the call is not offered to a1 again
    async with asyncio.timeout(60):
        await r.until(lambda: r.pool.state("a2").status == "paused")
    with pytest.raises(TimeoutError):
        await r.ari.next_ring(timeout_s=30)
    assert r.kinds("c1")[:4] == ["enqueued", "offered", "rejected", "offered"]
    rejected = next(e for e in r.trail if e.kind == "rejected")
    assert isinstance(rejected, QueueEvent)
    assert rejected.agent_id == "a1"
    # a1 still gets other calls
    _other, other_task = r.call("c2")
    assert (await r.ari.next_ring())[0] == "PJSIP/a1"
    r.ari.hangs_up("c1")
    r.ari.hangs_up("c2")
    assert await task == "abandoned"
    assert await other_task == "abandoned"


async def test_reject_is_refused_when_the_phone_does_not_ring() -> None:
    r = rig("a1")
    assert await r.router.desk.reject("a1") == "not_ringing"
    assert await r.router.desk.reject("nobody") == "not_ringing"


# ---------------------------------------------------------------------- wrap-up


async def test_wrap_up_keeps_offers_away_until_its_timer_ends_unclassified() -> None:
    r = rig("a1")
    call, task = r.call("c1")
    leg = await r.answered("a1", "PJSIP/a1")
    r.ari.hangs_up("c1")
    assert await task == "answered"
    assert r.pool.state("a1").status == "wrap_up"
    loop = asyncio.get_running_loop()
    ended = loop.time()
    _next, next_task = r.call("c2")
    assert (await r.ari.next_ring())[0] == "PJSIP/a1"
    # not before the wrap-up's end (one waiting tick of slack)
    assert loop.time() - ended >= WRAP_UP_S
    [wrap] = [e for e in r.trail if isinstance(e, WrapUpEvent)]
    assert (wrap.call_id, wrap.agent_id, wrap.reason, wrap.ended_by) == (
        "c1",
        "a1",
        "unclassified",
        "timeout",
    )
    assert ("hangup", leg) in r.ari.ops
    r.ari.hangs_up("c2")
    assert await next_task == "abandoned"


async def test_a_wrap_up_code_ends_wrap_up_at_once_and_is_on_the_trail() -> None:
    r = rig("a1")
    call, task = r.call("c1")
    await r.answered("a1", "PJSIP/a1")
    r.ari.hangs_up("c1")
    await task
    wrap_ups = r.router.wrap_ups
    assert wrap_ups.submit("a1", "c1", "no_such_code") == "unknown_code"
    assert wrap_ups.submit("a1", "c9", "billing") == "no_call"
    assert r.pool.state("a1").status == "wrap_up"
    loop = asyncio.get_running_loop()
    submitted = loop.time()
    assert wrap_ups.submit("a1", "c1", "billing", "asked about the April bill") == "ok"
    assert r.pool.state("a1").status == "ready"
    _next, next_task = r.call("c2")
    assert (await r.ari.next_ring())[0] == "PJSIP/a1"
    assert loop.time() - submitted < WRAP_UP_S
    [wrap] = [e for e in r.trail if isinstance(e, WrapUpEvent)]
    assert (wrap.reason, wrap.notes, wrap.ended_by) == (
        "billing",
        "asked about the April bill",
        "agent",
    )
    assert wrap.started_at <= wrap.at
    assert r.kinds("c1") == ["enqueued", "offered", "answered", "call_ended", "wrap_up"]
    r.ari.hangs_up("c2")
    await next_task


async def test_going_ready_without_a_code_leaves_the_call_unclassified_a_late_code_counts() -> None:
    r = rig("a1")
    _call, task = r.call("c1")
    await r.answered("a1", "PJSIP/a1")
    r.ari.hangs_up("c1")
    await task
    r.pool.request_ready("a1")
    wraps = [e for e in r.trail if isinstance(e, WrapUpEvent)]
    assert [(w.reason, w.ended_by) for w in wraps] == [("unclassified", "WrapUpDone")]
    # the agent classifies it afterwards: a second wrap_up, the one the reports take
    assert r.router.wrap_ups.submit("a1", "c1", "moving") == "ok"
    wraps = [e for e in r.trail if isinstance(e, WrapUpEvent)]
    assert [w.reason for w in wraps] == ["unclassified", "moving"]


# ---------------------------------------------------------------------- transfers


async def on_call(r: Rig, call_id: str = "c1") -> tuple[Call, asyncio.Task[str], str]:
    call, task = r.call(call_id)
    leg = await r.answered("a1", "PJSIP/a1")
    return call, task, leg


async def test_a_blind_transfer_puts_the_caller_through_to_the_department() -> None:
    r = rig("a1")
    call, task, leg = await on_call(r)
    assert await r.router.desk.transfer("a1", "c1", "department", "works", "blind") == "ok"
    # the agent is out at once (wrap-up), the department rings
    assert r.pool.state("a1").status == "wrap_up"
    assert ("hangup", leg) in r.ari.ops
    endpoint, dept = await r.ari.next_ring()
    assert endpoint == "PJSIP/works"
    r.ari.answers(dept)
    await r.until(lambda: "put_through" in r.kinds("c1"))
    bridge = next(op[1] for op in reversed(r.ari.ops) if op[:1] == ("create_bridge",))
    assert ("add_to_bridge", bridge, "c1") in r.ari.ops
    assert ("add_to_bridge", bridge, dept) in r.ari.ops
    r.ari.hangs_up(dept)
    assert await task == "answered"
    assert r.kinds("c1")[3:] == [
        "transfer_requested",
        "call_ended",
        "transfer_blind",
        "transfer_connected",
        "put_through",
    ]
    assert ("hangup", "c1") in r.ari.ops  # the department hung up: the caller's side ends


async def test_a_blind_transfer_nobody_answers_goes_back_to_the_queue_with_its_place() -> None:
    r = rig("a1", "a2")
    call, task, _leg = await on_call(r)
    assert await r.router.desk.transfer("a1", "c1", "department", "works", "blind") == "ok"
    endpoint, dept = await r.ari.next_ring()
    assert endpoint == "PJSIP/works"
    r.ari.hangs_up(dept)  # rang out
    # back in q, offered to the next free agent (a1 wraps up)
    endpoint, _again = await r.ari.next_ring()
    assert endpoint == "PJSIP/a2"
    kinds = r.kinds("c1")
    assert kinds[kinds.index("transfer_failed") + 1 :][:2] == ["enqueued", "offered"]
    r.ari.hangs_up("c1")
    assert await task == "abandoned"


async def test_a_transfer_to_a_closed_or_unknown_target_leaves_the_caller_with_the_agent() -> None:
    r = rig("a1")
    call, task, leg = await on_call(r)
    desk = r.router.desk
    assert await desk.transfer("a1", "c1", "department", "closed_dept", "blind") == "closed"
    assert await desk.transfer("a1", "c1", "department", "nowhere", "attended") == "unknown_target"
    assert await desk.transfer("a1", "c1", "queue", "nowhere", "blind") == "unknown_target"
    assert await desk.transfer("a1", "c1", "queue", "q2", "attended") == "attended_queue"
    assert await desk.transfer("a1", "c9", "department", "works", "blind") == "not_on_call"
    assert r.pool.state("a1").status == "on_call"
    assert ("hangup", leg) not in r.ari.ops
    r.ari.hangs_up("c1")
    assert await task == "answered"


async def test_a_transfer_rings_the_departments_line_as_the_console_left_it() -> None:
    # the database's row wins over config's: a new endpoint, a department config never had,
    # a removed one and one whose calendar is shut, each as it is when the agent transfers
    book = Book(
        Department("works", "工事課", "Works", "PJSIP/works-new", None, "cal"),
        Department("sewer", "下水道課", "Sewers", None, "0312345678"),
        Department("closed_dept", "x", "x", "PJSIP/closed", None, None, removed=True),
        Department("late", "x", "x", "PJSIP/late", None, "shut"),
    )
    r = rig("a1", book=book)
    call, task, leg = await on_call(r)
    desk = r.router.desk
    assert await desk.transfer("a1", "c1", "department", "closed_dept", "blind") == (
        "unknown_target"
    )
    assert await desk.transfer("a1", "c1", "department", "late", "blind") == "closed"
    assert await desk.transfer("a1", "c1", "department", "sewer", "attended") == "ok"
    endpoint, dept = await r.ari.next_ring()
    assert endpoint == "PJSIP/0312345678@trunk"  # the number, through the trunk
    r.ari.hangs_up(dept)  # rang out: the caller is back with the agent
    await r.until(lambda: "transfer_failed" in r.kinds("c1"))
    # the admin changes the endpoint again: the very next transfer rings it
    book.kept["works"] = Department("works", "工事課", "Works", "PJSIP/works-3")
    assert await desk.transfer("a1", "c1", "department", "works", "blind") == "ok"
    endpoint, dept = await r.ari.next_ring()
    assert endpoint == "PJSIP/works-3"
    r.ari.answers(dept)
    await r.until(lambda: "put_through" in r.kinds("c1"))
    r.ari.hangs_up(dept)
    assert await task == "answered"


async def test_a_queue_transfer_offers_the_same_call_in_the_other_queue() -> None:
    r = rig("a1", "a9")
    r.pool.pause("a9", "break")
    call, task, leg = await on_call(r)
    r.pool.resume("a9")
    assert await r.router.desk.transfer("a1", "c1", "queue", "q2", "blind") == "ok"
    assert ("hangup", leg) in r.ari.ops
    endpoint, leg2 = await r.ari.next_ring()
    assert endpoint == "PJSIP/a9"  # q2 needs billing
    r.ari.answers(leg2)
    await r.until(lambda: r.pool.state("a9").status == "on_call")
    assert r.pool.state("a9").call_id == "c1"
    r.ari.hangs_up("c1")
    assert await task == "answered"
    kinds = r.kinds("c1")
    at = kinds.index("transferred")
    assert kinds[at - 2 : at + 4] == [
        "transfer_requested",
        "call_ended",
        "transferred",
        "enqueued",
        "offered",
        "answered",
    ]
    enqueued = [e for e in r.trail if e.kind == "enqueued"]
    # the caller keeps the wait they had
    assert enqueued[1].at >= enqueued[0].at
    assert r.router.queues.waiting("q2") == []


async def consulting(r: Rig) -> tuple[Call, asyncio.Task[str], str, str]:
    call, task, leg = await on_call(r)
    assert await r.router.desk.transfer("a1", "c1", "department", "works", "attended") == "ok"
    assert ("start_moh", "c1") in r.ari.ops
    endpoint, dept = await r.ari.next_ring()
    assert endpoint == "PJSIP/works"
    r.ari.answers(dept)
    await r.until(lambda: "consult_started" in r.kinds("c1"))
    return call, task, leg, dept


async def test_an_attended_transfer_completes_with_the_caller_bridged_to_the_department() -> None:
    r = rig("a1")
    call, task, leg, dept = await consulting(r)
    assert await r.router.desk.complete("a1", "c1") == "ok"
    await r.until(lambda: r.pool.state("a1").status == "wrap_up")
    bridges = [op[1] for op in r.ari.ops if op[0] == "add_to_bridge" and op[2] == dept]
    assert bridges
    assert ("add_to_bridge", bridges[-1], "c1") in r.ari.ops
    assert ("hangup", leg) in r.ari.ops
    r.ari.hangs_up("c1")
    assert await task == "answered"
    kinds = r.kinds("c1")
    assert kinds[3:] == [
        "transfer_requested",
        "transfer_consult",
        "consult_started",
        "transfer_connected",
        "call_ended",
        "put_through",
    ]


async def test_an_attended_transfer_cancelled_brings_the_caller_back_to_the_agent() -> None:
    r = rig("a1")
    call, task, leg, dept = await consulting(r)
    assert await r.router.desk.cancel("a1", "c1") == "ok"
    await r.until(lambda: "transfer_cancelled" in r.kinds("c1"))
    assert ("hangup", dept) in r.ari.ops
    caller_bridge = next(op[1] for op in r.ari.ops if op[0] == "add_to_bridge" and op[2] == leg)
    assert r.ari.ops[-1] == ("add_to_bridge", caller_bridge, "c1")
    assert r.pool.state("a1").status == "on_call"
    assert await r.router.desk.complete("a1", "c1") == "no_consultation"
    r.ari.hangs_up("c1")
    assert await task == "answered"


async def test_the_department_not_answering_brings_the_caller_back_to_the_agent() -> None:
    r = rig("a1")
    call, task, leg = await on_call(r)
    assert await r.router.desk.transfer("a1", "c1", "department", "works", "attended") == "ok"
    _endpoint, dept = await r.ari.next_ring()
    r.ari.hangs_up(dept)  # rang out
    await r.until(lambda: "transfer_failed" in r.kinds("c1"))
    assert ("stop_moh", "c1") in r.ari.ops
    assert r.pool.state("a1").status == "on_call"
    # the conversation goes on: the agent can try again
    assert await r.router.desk.transfer("a1", "c1", "department", "works", "blind") == "ok"
    _endpoint, dept2 = await r.ari.next_ring()
    r.ari.answers(dept2)
    await r.until(lambda: "put_through" in r.kinds("c1"))
    r.ari.hangs_up("c1")
    assert await task == "answered"


async def test_the_caller_hanging_up_during_the_consultation_ends_it_for_everyone() -> None:
    r = rig("a1")
    call, task, leg, dept = await consulting(r)
    r.ari.hangs_up("c1")
    assert await task == "answered"
    assert ("hangup", dept) in r.ari.ops
    assert ("hangup", leg) in r.ari.ops
    assert r.pool.state("a1").status == "wrap_up"
    cancelled = next(e for e in r.trail if e.kind == "transfer_cancelled")
    assert isinstance(cancelled, TransferEvent)
    assert cancelled.detail == "caller_gone"


async def test_the_department_hanging_up_during_the_consultation_brings_the_caller_back() -> None:
    r = rig("a1")
    call, task, leg, dept = await consulting(r)
    r.ari.hangs_up(dept)
    await r.until(lambda: "transfer_failed" in r.kinds("c1"))
    failed = next(e for e in r.trail if e.kind == "transfer_failed")
    assert isinstance(failed, TransferEvent)
    assert failed.detail == "department_hung_up"
    assert r.pool.state("a1").status == "on_call"
    r.ari.hangs_up("c1")
    assert await task == "answered"


async def test_the_agent_hanging_up_during_the_consultation_hands_the_caller_over() -> None:
    r = rig("a1")
    call, task, leg, dept = await consulting(r)
    r.ari.hangs_up(leg)
    await r.until(lambda: "put_through" in r.kinds("c1"))
    assert r.pool.state("a1").status == "wrap_up"
    r.ari.hangs_up(dept)
    assert await task == "answered"


class EnglishCall(Call):
    """A caller who chose English in the IVR, with the engine's own prompt URIs."""

    media_of = staticmethod(prompt_media())

    @property
    def language(self) -> str:
        return "en"

    def media(self, prompt_id: str) -> str:
        return self.media_of(prompt_id, self.language)


async def test_the_on_duty_phone_hears_the_accept_prompt_in_the_callers_language() -> None:
    # the on-duty person learns, before pressing 1, that the caller speaks English (on-duty
    # steps are names and phones, not staff with a language of their own)
    r = rig(departments={"leaks": {"on_duty": ["PJSIP/duty"], "accept_timeout_s": 15}})
    assert r.router.transfers is not None
    call = EnglishCall(r.ari, "c1")
    task = asyncio.get_running_loop().create_task(r.router.transfers.emergency(call, "leaks"))
    endpoint, leg = await r.ari.next_ring()
    assert endpoint == "PJSIP/duty"
    r.ari.answers(leg)
    async with asyncio.timeout(5):
        while not any(op[:2] == ("play", leg) for op in r.ari.ops):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    [played] = [op[2] for op in r.ari.ops if op[:2] == ("play", leg)]
    assert played == f"sound:/var/lib/hotline/prompts/en/{ACCEPT_PROMPT}"
    r.ari.hangs_up("c1")
    assert (await task).caller_hung_up


# ---------------------------------------------------------------------- hold


def bridge_of(r: Rig, leg: str) -> str:
    """The conversation's bridge: the one the agent's leg was added to."""
    return next(op[1] for op in r.ari.ops if op[0] == "add_to_bridge" and op[2] == leg)


def holds(r: Rig, call_id: str) -> list[QueueEvent]:
    return [
        e
        for e in r.trail
        if isinstance(e, QueueEvent)
        and e.call_id == call_id
        and e.kind in ("hold_started", "hold_ended")
    ]


async def test_hold_plays_music_to_the_caller_the_agent_stays_and_resume_brings_them_back() -> None:
    r = rig("a1")
    call, task, leg = await on_call(r)
    bridge = bridge_of(r, leg)
    desk = r.router.desk
    assert await desk.hold("a1", "c1", False) == "not_on_hold"
    before = len(r.ari.ops)
    assert await desk.hold("a1", "c1", True) == "ok"
    # out of the bridge, then the music on the caller's own channel; the agent's leg stays
    assert r.ari.ops[before:] == [("remove_from_bridge", bridge, "c1"), ("start_moh", "c1")]
    assert r.pool.state("a1").status == "on_call"
    kept = TALK.decode(await call.recall(TALK.name)).value
    assert kept is not None
    assert kept.held_since is not None
    # held: a second Hold and a transfer are refused, another agent or call is not theirs
    assert await desk.hold("a1", "c1", True) == "on_hold"
    assert await desk.transfer("a1", "c1", "department", "works", "blind") == "on_hold"
    assert await desk.hold("a1", "c9", False) == "not_on_call"
    await asyncio.sleep(42)  # virtual time: 42 s on hold
    before = len(r.ari.ops)
    assert await desk.hold("a1", "c1", False) == "ok"
    assert r.ari.ops[before:] == [("stop_moh", "c1"), ("add_to_bridge", bridge, "c1")]
    kept = TALK.decode(await call.recall(TALK.name)).value
    assert kept is not None
    assert kept.held_since is None
    started, ended = holds(r, "c1")
    assert (started.kind, ended.kind, started.agent_id, ended.detail) == (
        "hold_started",
        "hold_ended",
        "a1",
        "",
    )
    assert (ended.at - started.at).total_seconds() == pytest.approx(42, abs=0.5)
    assert ("hangup", leg) not in r.ari.ops
    r.ari.hangs_up("c1")
    assert await task == "answered"
    assert r.kinds("c1")[-2:] == ["hold_ended", "call_ended"]


async def test_a_hang_up_while_held_closes_the_hold_on_the_trail() -> None:
    r = rig("a1")
    _call, task, leg = await on_call(r)
    assert await r.router.desk.hold("a1", "c1", True) == "ok"
    r.ari.hangs_up(leg)  # the agent hangs up while the caller hears the music
    assert await task == "answered"
    assert [(e.kind, e.detail) for e in holds(r, "c1")] == [
        ("hold_started", ""),
        ("hold_ended", "agent"),
    ]
    assert r.kinds("c1")[-3:] == ["hold_started", "hold_ended", "call_ended"]
    assert ("hangup", "c1") in r.ari.ops  # the caller's side ends with the agent's

    r2 = rig("a1")
    _call, task, _leg = await on_call(r2)
    assert await r2.router.desk.hold("a1", "c1", True) == "ok"
    r2.ari.hangs_up("c1")
    assert await task == "answered"
    assert [(e.kind, e.detail) for e in holds(r2, "c1")] == [
        ("hold_started", ""),
        ("hold_ended", "caller"),
    ]


async def test_a_restarted_engine_keeps_the_held_caller_on_music_and_the_agent_can_resume() -> None:
    r = rig("a1")
    call = Call(r.ari, "c1")
    leg, bridge = "c1-agent-1", "c1-bridge-2"
    r.ari.channels[leg] = Channel(id=leg)
    held_since = T0 - timedelta(seconds=30)
    await call.remember(TALK.name, TALK.encode(Talk("q", "a1", leg, bridge, held_since)))
    task = asyncio.get_running_loop().create_task(r.router.resume_talk(call), name="call:c1")
    await r.until(lambda: r.pool.state("a1").status == "on_call")
    await r.until(lambda: ("start_moh", "c1") in r.ari.ops)
    assert ("add_to_bridge", bridge, "c1") not in r.ari.ops  # still held
    kept = TALK.decode(await call.recall(TALK.name)).value
    assert kept is not None
    assert kept.held_since == held_since  # a second restart would find the hold too
    assert await r.router.desk.hold("a1", "c1", False) == "ok"
    assert ("add_to_bridge", bridge, "c1") in r.ari.ops
    [ended] = holds(r, "c1")  # the hold_started is the first engine's
    assert ended.kind == "hold_ended"
    r.ari.hangs_up("c1")
    assert await task == "answered"


async def test_a_hold_whose_music_does_not_start_leaves_the_caller_with_the_agent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    r = rig("a1")
    _call, task, leg = await on_call(r)
    bridge = bridge_of(r, leg)

    async def no_music(channel_id: str, moh_class: str | None = None) -> None:
        raise AriServerError(500, "POST", f"/channels/{channel_id}/moh", "no class")

    monkeypatch.setattr(r.ari, "start_moh", no_music)
    before = len(r.ari.ops)
    assert await r.router.desk.hold("a1", "c1", True) == "too_late"
    # never silence: out of the bridge and straight back in
    assert r.ari.ops[before:] == [
        ("remove_from_bridge", bridge, "c1"),
        ("add_to_bridge", bridge, "c1"),
    ]
    assert holds(r, "c1") == []
    r.ari.hangs_up("c1")
    assert await task == "answered"
