"""The ACD against the in-memory ARI fake, in virtual time: admission, holding bridge,
offers, no-answer, overflow and the restart path."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict

import pytest

from ivr.ari.client import StreamItem
from ivr.ari.fake import FakeAri
from ivr.ari.models import (
    AriEvent,
    Bridge,
    CallerId,
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    PlaybackFinished,
    StasisEnd,
    StasisStart,
)
from ivr.ari.port import AriPort
from ivr.calls.codec import OFFER, QUEUE, Membership, Ringing
from ivr.calls.handle import CallHandle
from ivr.calls.memory import InMemoryCallMemory
from ivr.errors import AriError, AriUnavailable
from ivr.flow.catalog import load_catalog
from routing.agents import AgentPool
from routing.config import RoutingConfig
from routing.hours import calendars_of
from routing.policy import NO_ANSWER
from routing.ports import RoutingAri
from routing.queues import (
    CALLBACK_ENTRY_TIMEOUT_S,
    PROMPTS,
    Abandoned,
    Answered,
    CallbackScheduled,
    Closed,
    Overflow,
    QueueEvent,
    QueueOutcome,
    QueueService,
    QueueTiming,
)

pytestmark = [pytest.mark.unit, pytest.mark.looptime]

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class FakeRoutingAri(FakeAri):
    moh: list[str] = field(default_factory=list)
    # where the fake's own events go (a stopped prompt's PlaybackFinished): the call's inbox
    inboxes: dict[str, asyncio.Queue[AriEvent]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sink = self._deliver

    def _deliver(self, item: StreamItem) -> None:
        if isinstance(item, PlaybackFinished):
            channel_id = item.playback.target_uri.removeprefix("channel:")
            if channel_id in self.inboxes:
                self.inboxes[channel_id].put_nowait(item)

    async def remove_from_bridge(self, bridge_id: str, channel_id: str) -> None:
        self.ops.append(("remove_from_bridge", bridge_id, channel_id))

    async def bridge_moh(self, bridge_id: str, moh_class: str | None = None) -> None:
        self.moh.append(bridge_id)

    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None:
        self.ops.append(("start_moh", channel_id))

    async def stop_moh(self, channel_id: str) -> None:
        self.ops.append(("stop_moh", channel_id))


def _conforms(fake: FakeRoutingAri) -> RoutingAri:
    return fake


class FakeCall:
    """A `CallHandle` whose claimed legs behave like phones: `answers` lists, per offer, True
    (the phone answers) or False (it rings out: Asterisk destroys the channel)."""

    def __init__(
        self,
        ari: FakeRoutingAri,
        channel_id: str,
        answers: list[bool],
        number: str = "0935821234",
    ) -> None:
        self._ari = ari
        self._id = channel_id
        self.memory = InMemoryCallMemory()
        self._number = number
        self.answers = answers
        self.inbox: asyncio.Queue[AriEvent] = asyncio.Queue()
        ari.inboxes[channel_id] = self.inbox
        self.claimed: list[str] = []
        self._n = 0
        ari.channels[channel_id] = Channel(id=channel_id, caller=CallerId(number=number))

    @property
    def channel_id(self) -> str:
        return self._id

    @property
    def caller_number(self) -> str:
        return self._number

    @property
    def language(self) -> str:
        return "ja"

    @property
    def context(self) -> Mapping[str, str]:
        return {}

    @property
    def ari(self) -> AriPort:
        return self._ari

    def new_id(self, what: str) -> str:
        self._n += 1
        return f"{self._id}-{what}-{self._n}"

    def claim(self, channel_id: str) -> None:
        self.claimed.append(channel_id)
        leg = Channel(id=channel_id)
        if self.answers.pop(0):
            self.inbox.put_nowait(StasisStart(type="StasisStart", channel=leg))
        else:
            self.inbox.put_nowait(ChannelDestroyed(type="ChannelDestroyed", channel=leg))

    def release(self, channel_id: str) -> None:
        pass

    async def next_event(self, timeout_s: float) -> AriEvent | None:
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

    def hang_up(self) -> None:
        self.inbox.put_nowait(StasisEnd(type="StasisEnd", channel=Channel(id=self._id)))


def _handle(call: FakeCall) -> CallHandle:
    return call


def rig(
    agents: int = 0,
    calendar: Mapping[str, object] | None = None,
    ari: FakeRoutingAri | None = None,
    **queue: object,
) -> tuple[FakeRoutingAri, QueueService, list[QueueEvent]]:
    config = RoutingConfig.model_validate(
        {
            "calendars": {"cal": calendar or {"always_open": True}},
            "queues": {"q": {"calendar": "cal", "ring_timeout_s": 5, "wrap_up_s": 0, **queue}},
            "agents": {f"a{i}": {"endpoint": f"PJSIP/agent{i}"} for i in range(1, agents + 1)},
        }
    )
    loop = asyncio.get_running_loop()
    start = loop.time()

    def clock() -> datetime:
        return T0 + timedelta(seconds=loop.time() - start)

    ari = ari or FakeRoutingAri()
    trail: list[QueueEvent] = []
    pool = AgentPool(config.agents, clock=clock)
    svc = QueueService(
        config,
        pool,
        ari,
        calendars_of(config),
        clock=clock,
        timing=QueueTiming(tick_s=0.5),
        on_event=trail.append,
    )
    return ari, svc, trail


async def test_closed_calendar_touches_nothing() -> None:
    closed = {"weekly": {"sun": "08:30-19:00"}}  # T0 is a Monday
    ari, svc, _ = rig(calendar=closed)
    outcome = await svc.wait(FakeCall(ari, "c1", []), "q")
    assert outcome == Closed("q")
    assert ari.ops == []


async def test_no_agents_overflows_and_full_queue_refuses() -> None:
    ari, svc, _ = rig(when_no_agents="overflow")
    assert await svc.wait(FakeCall(ari, "c1", []), "q") == Overflow("q", "no_agents")
    ari, svc, _ = rig(when_no_agents="join", max_length=1, when_full="refuse")
    first = FakeCall(ari, "c1", [])
    waiting = asyncio.create_task(svc.wait(first, "q"))
    await asyncio.sleep(1)
    assert await svc.wait(FakeCall(ari, "c2", []), "q") == Overflow("q", "full", refused=True)
    first.hang_up()
    assert isinstance(await waiting, Abandoned)


async def test_waiting_caller_sits_in_the_holding_bridge_with_music() -> None:
    ari, svc, trail = rig(when_no_agents="join")
    call = FakeCall(ari, "c1", [])
    waiting = asyncio.create_task(svc.wait(call, "q", priority=2))
    await asyncio.sleep(1)
    bridge = svc.holding_bridge("q")
    assert ("create_bridge", bridge, "holding") in ari.ops
    assert ("add_to_bridge", bridge, "c1") in ari.ops
    assert ari.moh == [bridge]
    # the place, and when the caller heard it last (a standby goes on with that schedule)
    kept = Membership("q", 2, T0, announced_at=T0)
    assert QUEUE.decode(call.memory.kept["c1"][QUEUE.name]).value == kept
    plays = [op[2] for op in ari.ops if op[0] == "play"]
    assert plays == ["sound:queue-position,sound:num-1,sound:queue-position-end"]
    call.hang_up()
    assert isinstance(await waiting, Abandoned)
    assert [e.kind for e in trail] == ["enqueued", "announced", "abandoned"]
    assert svc.waiting("q") == []


@dataclass
class TakenOverAri(FakeRoutingAri):
    """The Asterisk a new engine finds after a take-over: the holding bridge exists (409 on
    creating it again) with the callers still in it."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.bridges["hold-q"] = Bridge(id="hold-q", bridge_type="holding", channels=["c1"])

    async def create_bridge(self, bridge_id: str, kind: str = "mixing", name: str = "") -> Bridge:
        if bridge_id in self.bridges:
            raise AriError(409, "POST", f"/bridges/{bridge_id}", "Bridge already exists")
        return await super().create_bridge(bridge_id, kind, name)


async def test_a_rejoined_caller_still_in_the_holding_bridge_is_not_asked_in_again() -> None:
    # Asterisk runs an addChannel on the channel's thread, busy with the caller's prompt until
    # it ends: after a take-over such requests timed out, one per re-adopted caller
    ari = TakenOverAri()
    _, svc, trail = rig(ari=ari, when_no_agents="join")
    assert svc.holding_bridge("q") == "hold-q"
    calls = [FakeCall(ari, c, []) for c in ("c1", "c2")]
    for call in calls:  # both were waiting; c2 had been taken out of the bridge meanwhile
        await call.remember(QUEUE.name, QUEUE.encode(Membership("q", 0, T0)))
    waiting = [asyncio.create_task(svc.rejoin(call)) for call in calls]
    await asyncio.sleep(1)
    assert [op for op in ari.ops if op[0] == "add_to_bridge"] == [("add_to_bridge", "hold-q", "c2")]
    assert [c.call_id for c in svc.waiting("q")] == ["c1", "c2"]
    for call in calls:
        call.hang_up()
    assert [type(await w) for w in waiting] == [Abandoned, Abandoned]
    assert [e.kind for e in trail].count("rejoined") == 2


class TakenOverCall(FakeCall):
    """A re-adopted caller: the agent's leg rings already, claiming it emits nothing."""

    def claim(self, channel_id: str) -> None:
        self.claimed.append(channel_id)


async def _rejoining_while_it_rings(
    leg_state: str | None,
) -> tuple[FakeRoutingAri, QueueService, list[QueueEvent], TakenOverCall]:
    """c1 waited in q since T0 (heard its place then) and the old engine rang a1 for it on
    leg `c1-agent-1`, in Asterisk now in `leg_state` (None: gone)."""
    ari, svc, trail = rig(agents=1)
    svc.agents.log_in("a1")
    call = TakenOverCall(ari, "c1", [])
    if leg_state is not None:
        ari.channels["c1-agent-1"] = Channel(id="c1-agent-1", state=leg_state)
    await call.remember(QUEUE.name, QUEUE.encode(Membership("q", 0, T0, announced_at=T0)))
    await call.remember(OFFER.name, OFFER.encode(Ringing("a1", "c1-agent-1")))
    return ari, svc, trail, call


async def test_a_caller_re_adopted_while_the_agents_phone_rang_gets_that_agent_on_answer() -> None:
    ari, svc, trail, call = await _rejoining_while_it_rings("Ringing")
    waiting = asyncio.create_task(svc.rejoin(call))
    await asyncio.sleep(0.1)
    assert call.claimed[0] == "c1-agent-1"  # before anything else
    assert svc.agents.state("a1").status == "offered"
    assert not [op for op in ari.ops if op[0] in ("originate", "hangup", "play")]
    # the agent picks up the phone that has been ringing since before the take-over
    leg = Channel(id="c1-agent-1", state="Up")
    call.inbox.put_nowait(StasisStart(type="StasisStart", channel=leg))
    answered = await waiting
    assert isinstance(answered, Answered)
    assert (answered.agent_id, answered.agent_channel_id) == ("a1", "c1-agent-1")
    assert svc.agents.state("a1").status == "on_call"
    assert [e.kind for e in trail] == ["rejoined", "offer_resumed", "answered"]
    assert call.memory.kept["c1"][OFFER.name] == ""


async def test_a_ring_answered_in_the_take_over_is_put_through_at_once() -> None:
    # the agent answered after the standby connected but before the caller rejoined
    _, svc, trail, call = await _rejoining_while_it_rings("Up")
    answered = await svc.rejoin(call)
    assert isinstance(answered, Answered)
    assert answered.agent_channel_id == "c1-agent-1"
    assert [e.kind for e in trail] == ["rejoined", "offer_resumed", "answered"]


async def test_a_ring_that_ended_in_the_take_over_leaves_the_caller_at_the_head_offered_again() -> (
    None
):
    ari, svc, trail, call = await _rejoining_while_it_rings(None)
    waiting = asyncio.create_task(svc.rejoin(call))
    await asyncio.sleep(0.1)
    # the agent is ready (as the restored presence says), the caller waits on, no new
    # announcement: the one at T0 was heard
    assert svc.agents.state("a1").status == "ready"
    assert [c.call_id for c in svc.waiting("q")] == ["c1"]
    assert not [op for op in ari.ops if op[0] == "play"]
    # offered afresh once the re-adopted callers have rejoined
    await asyncio.sleep(svc.timing.rejoin_grace_s + svc.timing.tick_s)
    [(_, endpoint, leg)] = [op for op in ari.ops if op[0] == "originate"]
    assert endpoint == "PJSIP/agent1"
    assert OFFER.decode(call.memory.kept["c1"][OFFER.name]).value == Ringing("a1", leg)
    assert [e.kind for e in trail] == ["rejoined", "offered"]
    call.hang_up()
    assert isinstance(await waiting, Abandoned)


@dataclass
class SlowJoinAri(FakeRoutingAri):
    """Asterisk at its limit: the first requests to join the holding bridge time out."""

    slow_joins: int = 1

    async def add_to_bridge(self, bridge_id: str, channel_id: str, role: str | None = None) -> None:
        await super().add_to_bridge(bridge_id, channel_id, role)
        if self.slow_joins > 0:
            self.slow_joins -= 1
            raise AriUnavailable(f"POST /bridges/{bridge_id}/addChannel: TimeoutError")


@pytest.mark.parametrize("slow_joins", [1, 2])
async def test_a_join_asterisk_is_too_slow_to_confirm_keeps_the_caller_waiting(
    slow_joins: int,
) -> None:
    # the load bench's 400 callers: one join to the holding bridge timed out and the caller
    # was apologised to and hung up on; now they keep their place (asked in once more)
    slow = SlowJoinAri(slow_joins=slow_joins)
    _, svc, trail = rig(ari=slow, when_no_agents="join")
    call = FakeCall(slow, "c1", [])
    waiting = asyncio.create_task(svc.wait(call, "q"))
    await asyncio.sleep(1)
    joins = [op for op in slow.ops if op[0] == "add_to_bridge"]
    assert joins == [("add_to_bridge", svc.holding_bridge("q"), "c1")] * 2
    assert [c.call_id for c in svc.waiting("q")] == ["c1"]
    assert not waiting.done()
    call.hang_up()
    assert isinstance(await waiting, Abandoned)
    assert [e.kind for e in trail] == ["enqueued", "announced", "abandoned"]


async def test_rings_out_then_next_agent_answers() -> None:
    ari, svc, trail = rig(agents=2)
    svc.agents.log_in("a1")
    await asyncio.sleep(1)
    svc.agents.log_in("a2")
    call = FakeCall(ari, "c1", [False, True])
    outcome = await svc.wait(call, "q")
    assert isinstance(outcome, Answered)
    assert outcome.agent_id == "a2"
    assert svc.agents.state("a1").reason == NO_ANSWER
    assert svc.agents.state("a2").status == "on_call"
    originated = [op[1] for op in ari.ops if op[0] == "originate"]
    assert originated == ["PJSIP/agent1", "PJSIP/agent2"]
    assert ("add_to_bridge", outcome.bridge_id, "c1") in ari.ops
    assert ("add_to_bridge", outcome.bridge_id, outcome.agent_channel_id) in ari.ops
    assert call.memory.kept["c1"][QUEUE.name] == ""
    assert [(e.kind, e.agent_id) for e in trail][1:] == [
        ("offered", "a1"),
        ("no_answer", "a1"),
        ("offered", "a2"),
        ("answered", "a2"),
    ]


async def test_max_wait_overflows_and_leaves_the_bridge() -> None:
    ari, svc, _ = rig(when_no_agents="join", max_wait_s=120)
    outcome = await svc.wait(FakeCall(ari, "c1", []), "q")
    assert outcome == Overflow("q", "max_wait")
    assert ("remove_from_bridge", svc.holding_bridge("q"), "c1") in ari.ops


async def test_restore_rebuilds_the_order_from_the_call_memory() -> None:
    ari, svc, _ = rig(when_no_agents="join")
    memory = InMemoryCallMemory()
    memory.kept.update(
        {
            "late": {
                QUEUE.name: '{"queue":"q","priority":0,"enqueued_at":"2027-03-01T09:05:00+00:00"}'
            },
            "early": {
                QUEUE.name: '{"queue":"q","priority":0,"enqueued_at":"2027-03-01T09:01:00+00:00"}'
            },
            "vip": {
                QUEUE.name: '{"queue":"q","priority":9,"enqueued_at":"2027-03-01T09:09:00+00:00"}'
            },
            "menu": {},
            "damaged": {QUEUE.name: '{"queue":"q"'},
            "newer": {QUEUE.name: '{"v":2,"queue":"q","priority":0,"enqueued_at":"2027-03-01"}'},
        }
    )
    for channel_id in memory.kept:
        ari.channels[channel_id] = Channel(id=channel_id)
    # the values above are as engines of before the codec kept them: no format version
    assert await svc.restore(list(memory.kept), memory) == 3
    assert [c.call_id for c in svc.waiting("q")] == ["vip", "early", "late"]


# --- the call-back number -----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[3]


class CallbackQueue(TypedDict):
    """The queue settings of the call-back tests (`rig` takes them as keywords)."""

    when_no_agents: str
    announce: dict[str, object]
    callback: dict[str, object]


CALLBACK_QUEUE: CallbackQueue = {
    "when_no_agents": "join",
    "announce": {"on_entry": False, "every_s": None},
    "callback": {"enabled": True, "after_s": 0},
}


def press(call: FakeCall, digits: str) -> None:
    for digit in digits:
        call.inbox.put_nowait(
            ChannelDtmfReceived(
                type="ChannelDtmfReceived", digit=digit, channel=Channel(id=call.channel_id)
            )
        )


def heard(ari: FakeRoutingAri, call: FakeCall) -> list[str]:
    """What the caller heard, prompt by prompt (`sound:` and the say-digits split out)."""
    out: list[str] = []
    for op in ari.ops:
        if op[0] == "play" and op[1] == call.channel_id:
            out += [m.removeprefix("sound:") for m in op[2].split(",")]
    return out


def finish_playing(ari: FakeRoutingAri, call: FakeCall) -> None:
    """The prompt playing to the caller has ended."""
    (playback,) = [p for p in ari.playbacks.values() if p.target_uri.endswith(call.channel_id)]
    del ari.playbacks[playback.id]
    call.inbox.put_nowait(PlaybackFinished(type="PlaybackFinished", playback=playback))


def digits_of(number: str) -> list[str]:
    return [f"digit-{d}" for d in number]


async def confirm_callback(
    ari: FakeRoutingAri, call: FakeCall, waiting: asyncio.Task[QueueOutcome]
) -> CallbackScheduled:
    """The caller confirms the number read back and hears "we will call you back"."""
    press(call, "1")
    await asyncio.sleep(1)
    finish_playing(ari, call)
    outcome = await waiting
    assert isinstance(outcome, CallbackScheduled)
    return outcome


async def offered(ari: FakeRoutingAri, call: FakeCall) -> None:
    await asyncio.sleep(1)
    assert heard(ari, call)[-1] == "queue-callback-offer"


async def test_a_caller_without_caller_id_keys_the_number_to_call_back() -> None:
    ari, svc, trail = rig(**CALLBACK_QUEUE)
    call = FakeCall(ari, "c1", [], number="")
    waiting = asyncio.create_task(svc.wait(call, "q"))
    await offered(ari, call)
    press(call, "1")
    await asyncio.sleep(1)
    assert heard(ari, call)[-1] == "queue-callback-enter-number"
    press(call, "09012345678#")
    await asyncio.sleep(1)
    assert heard(ari, call)[-13:] == [
        "queue-callback-confirm",
        *digits_of("09012345678"),
        "queue-callback-confirm-keys",
    ]
    outcome = await confirm_callback(ari, call, waiting)
    assert outcome.request.number == "09012345678"
    # the offer is in the trail (reports count offers against callbacks taken)
    kinds = [e.kind for e in trail]
    assert kinds[-2:] == ["callback_offered", "callback_scheduled"]


async def test_a_caller_may_give_another_number_than_the_caller_id() -> None:
    ari, svc, _ = rig(**CALLBACK_QUEUE)
    call = FakeCall(ari, "c1", [])
    waiting = asyncio.create_task(svc.wait(call, "q"))
    await offered(ari, call)
    press(call, "1")
    await asyncio.sleep(1)
    assert digits_of("0935821234") == heard(ari, call)[-11:-1]
    press(call, "3")
    await asyncio.sleep(1)
    # keys without the hash key: the entry ends after a pause
    finish_playing(ari, call)
    press(call, "0939876543")
    await asyncio.sleep(CALLBACK_ENTRY_TIMEOUT_S + 1)
    assert heard(ari, call)[-11:-1] == digits_of("0939876543")
    outcome = await confirm_callback(ari, call, waiting)
    assert outcome.request.number == "0939876543"


async def test_unusable_numbers_leave_the_caller_waiting_in_place() -> None:
    ari, svc, trail = rig(**CALLBACK_QUEUE)
    call = FakeCall(ari, "c1", [], number="")
    waiting = asyncio.create_task(svc.wait(call, "q"))
    await offered(ari, call)
    press(call, "1")
    await asyncio.sleep(1)
    press(call, "119#")  # not a number we can call back
    await asyncio.sleep(1)
    assert heard(ari, call)[-2:] == ["queue-callback-number-invalid", "queue-callback-enter-number"]
    finish_playing(ari, call)
    await asyncio.sleep(CALLBACK_ENTRY_TIMEOUT_S + 1)  # and then nothing at all
    assert heard(ari, call)[-2:] == ["queue-callback-number-invalid", "queue-keep-waiting"]
    assert not waiting.done()
    assert svc.position("q", "c1") == 1
    call.hang_up()
    assert isinstance(await waiting, Abandoned)
    assert "callback_scheduled" not in [e.kind for e in trail]


def test_every_queue_prompt_is_in_the_catalog_in_both_languages() -> None:
    catalog = load_catalog(ROOT / "prompts" / "catalog.yaml")
    sources = "".join(p.read_text() for p in (ROOT / "routing" / "queues").glob("*.py"))
    used = set(re.findall(r'"(queue-[a-z-]+)"', sources))
    assert used <= PROMPTS
    for prompt_id in PROMPTS:
        assert set(catalog.texts.get(prompt_id, {})) >= {"ja", "en"}, prompt_id


async def test_the_position_is_announced_again_every_minute_and_goes_down() -> None:
    ari, svc, _ = rig(when_no_agents="join", announce={"on_entry": True, "every_s": 60})
    first = FakeCall(ari, "c1", [])
    second = FakeCall(ari, "c2", [])
    waiting = [asyncio.create_task(svc.wait(c, "q")) for c in (first, second)]
    await asyncio.sleep(1)
    assert heard(ari, second) == ["queue-position", "num-2", "queue-position-end"]
    finish_playing(ari, second)
    await asyncio.sleep(30)
    assert len(heard(ari, second)) == 3  # nothing more within the minute
    first.hang_up()  # the caller ahead gives up
    await asyncio.sleep(31)
    assert heard(ari, second)[3:] == ["queue-position", "num-1", "queue-position-end"]
    second.hang_up()
    outcomes = await asyncio.gather(*waiting)
    assert all(isinstance(o, Abandoned) for o in outcomes)
