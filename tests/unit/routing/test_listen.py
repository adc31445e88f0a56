"""A supervisor listens to an agent's call (`routing.listen`) against the in-memory ARI fake in
virtual time: the exact ARI calls (a snoop on the caller's channel, spy both and whisper none;
the supervisor's phone rung into our app; one mixing bridge of the snoop and the phone), and the
teardown of all three when the caller hangs up, when the agent hangs up, when the supervisor
hangs up or does not answer. Refusals change nothing in Asterisk. The wallboard's hold flag is
here too: the router says which calls are on hold now. The rig is the console-calls tests'."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from ivr.ari.client import StreamItem
from ivr.ari.models import Channel, ChannelDestroyed, StasisEnd, StasisStart
from ivr.calls.handle import LISTEN_ENTRY
from ivr.errors import ChannelGone
from routing.listen import Listening
from routing.ports import ListenAri
from tests.unit.routing.test_console_calls import Phones, Rig, rig

pytestmark = [pytest.mark.unit, pytest.mark.looptime]

BOSS_PHONE = "PJSIP/boss"


@dataclass
class ListenPhones(Phones):
    """Staff phones that also take snoops, and hand a listen's channels' events to whoever
    watches them (the call supervisor's `watch`)."""

    watchers: dict[str, Callable[[StreamItem], None]] = field(default_factory=dict)
    snoops: list[tuple[str, str, str, str, str | None]] = field(default_factory=list)

    def watch(self, channel_id: str, watcher: Callable[[StreamItem], None] | None) -> None:
        if watcher is None:
            self.watchers.pop(channel_id, None)
        else:
            self.watchers[channel_id] = watcher

    async def snoop(
        self,
        channel_id: str,
        snoop_id: str,
        *,
        spy: str = "both",
        whisper: str = "none",
        app_args: str | None = None,
        app: str | None = None,
    ) -> Channel:
        if channel_id not in self.channels:
            raise ChannelGone(404, "POST", f"/channels/{channel_id}/snoop", "Channel not found")
        self.ops.append(("snoop", channel_id, snoop_id, spy, whisper))
        self.snoops.append((channel_id, snoop_id, spy, whisper, app_args))
        channel = Channel(id=snoop_id, state="Up")
        self.channels[snoop_id] = channel
        # a snoop enters the app at once (Asterisk's comes right after the reply)
        self.emit(StasisStart(type="StasisStart", channel=channel, args=[app_args or ""]))
        return channel

    def _deliver(self, item: object) -> None:
        channel = getattr(item, "channel", None)
        if channel is not None and channel.id in self.watchers:
            self.watchers[channel.id](item)  # type: ignore[arg-type]
            return
        super()._deliver(item)

    def destroyed(self, channel_id: str) -> None:
        self.channels.pop(channel_id, None)
        self.emit(ChannelDestroyed(type="ChannelDestroyed", channel=Channel(id=channel_id)))


def _conforms(fake: ListenPhones) -> ListenAri:
    return fake


@dataclass
class ListenRig:
    r: Rig
    ari: ListenPhones
    listening: Listening

    def since(self, mark: int) -> list[tuple[str, ...]]:
        return [op for op in self.ari.ops[mark:] if op[0] != "set_variable"]


def listen_rig(*agents: str) -> ListenRig:
    ari = ListenPhones()
    r = rig(*agents, ari=ari)
    listening = Listening(ari, r.pool, ring_timeout_s=20, grace_s=2)
    listening.bind(ari.watch)
    return ListenRig(r, ari, listening)


async def talking(lr: ListenRig, call_id: str = "c1") -> tuple[str, asyncio.Task[str]]:
    _call, task = lr.r.call(call_id)
    leg = await lr.r.answered("a1", "PJSIP/a1")
    return leg, task


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(60):
        # virtual time: the listen's REST calls happen in its own task, no event to wait on
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def test_a_listen_snoops_on_the_caller_rings_the_supervisor_and_bridges_them() -> None:
    lr = listen_rig("a1")
    _agent_leg, task = await talking(lr)
    mark = len(lr.ari.ops)
    assert await lr.listening.start("a1", BOSS_PHONE) == "ok"
    [(spied, snoop, spy, whisper, args)] = lr.ari.snoops
    assert (spied, spy, whisper, args) == ("c1", "both", "none", LISTEN_ENTRY)
    endpoint, phone = await lr.ari.next_ring()
    assert endpoint == BOSS_PHONE
    assert snoop.startswith("listen-")
    assert phone.startswith("listen-")
    assert lr.since(mark) == [
        ("snoop", "c1", snoop, "both", "none"),
        ("originate", BOSS_PHONE, phone),
    ]
    lr.ari.answers(phone)
    bridge = phone.removesuffix("-phone") + "-bridge"
    await until(lambda: ("add_to_bridge", bridge, phone) in lr.ari.ops)
    assert lr.since(mark)[2:] == [
        ("create_bridge", bridge, "mixing"),
        ("add_to_bridge", bridge, snoop),
        ("add_to_bridge", bridge, phone),
    ]
    # the caller's side is untouched: no bridge, hold or hang-up of theirs
    assert not [op for op in lr.since(mark) if "c1" in op[1:] and op[0] != "snoop"]

    # the caller hangs up: the conversation ends the agent's leg, Asterisk ends the snoop
    mark = len(lr.ari.ops)
    lr.ari.hangs_up("c1")
    lr.ari.hangs_up(snoop)
    assert await task == "answered"
    await until(lambda: not lr.listening.active)
    ends = lr.since(mark)
    assert ("hangup", phone) in ends
    assert ("destroy_bridge", bridge) in ends
    assert not lr.ari.watchers


async def test_the_agent_hanging_up_ends_the_listen() -> None:
    lr = listen_rig("a1")
    agent_leg, task = await talking(lr)
    assert await lr.listening.start("a1", BOSS_PHONE) == "ok"
    [(_c, snoop, *_)] = lr.ari.snoops
    _endpoint, phone = await lr.ari.next_ring()
    lr.ari.answers(phone)
    bridge = phone.removesuffix("-phone") + "-bridge"
    await until(lambda: ("add_to_bridge", bridge, phone) in lr.ari.ops)
    mark = len(lr.ari.ops)
    lr.ari.hangs_up(agent_leg)
    assert await task == "answered"
    await until(lambda: not lr.listening.active)
    ends = lr.since(mark)
    for op in (("hangup", phone), ("hangup", snoop), ("destroy_bridge", bridge)):
        assert op in ends


async def test_the_supervisor_hanging_up_ends_the_listen_and_the_call_goes_on() -> None:
    lr = listen_rig("a1")
    _agent_leg, task = await talking(lr)
    assert await lr.listening.start("a1", BOSS_PHONE) == "ok"
    # the supervisor's phone is held by the listen (they may not go ready meanwhile)
    assert lr.listening.listens_on(BOSS_PHONE)
    assert not lr.listening.listens_on("PJSIP/a1")
    [(_c, snoop, *_)] = lr.ari.snoops
    _endpoint, phone = await lr.ari.next_ring()
    lr.ari.answers(phone)
    bridge = phone.removesuffix("-phone") + "-bridge"
    await until(lambda: ("add_to_bridge", bridge, phone) in lr.ari.ops)
    mark = len(lr.ari.ops)
    lr.ari.emit(StasisEnd(type="StasisEnd", channel=Channel(id=phone)))
    await until(lambda: not lr.listening.active)
    assert not lr.listening.listens_on(BOSS_PHONE)
    assert ("hangup", snoop) in lr.since(mark)
    assert ("destroy_bridge", bridge) in lr.since(mark)
    assert ("hangup", "c1") not in lr.ari.ops
    assert lr.r.pool.state("a1").status == "on_call"
    assert not task.done()
    lr.ari.hangs_up("c1")
    assert await task == "answered"


async def test_a_phone_that_does_not_answer_ends_the_listen() -> None:
    lr = listen_rig("a1")
    _agent_leg, task = await talking(lr)
    assert await lr.listening.start("a1", BOSS_PHONE) == "ok"
    [(_c, snoop, *_)] = lr.ari.snoops
    _endpoint, phone = await lr.ari.next_ring()
    lr.ari.destroyed(phone)  # rang out: Asterisk destroys it
    await until(lambda: not lr.listening.active)
    assert ("hangup", snoop) in lr.ari.ops
    assert not [op for op in lr.ari.ops if op[0] == "create_bridge" and "listen-" in op[1]]
    lr.ari.hangs_up("c1")
    await task


async def test_one_phone_listens_to_one_call_at_a_time() -> None:
    lr = listen_rig("a1", "a2")
    await talking(lr)
    _call, _task = lr.r.call("c2")
    await lr.r.answered("a2", "PJSIP/a2")
    assert await lr.listening.start("a1", BOSS_PHONE) == "ok"
    assert await lr.listening.start("a2", BOSS_PHONE) == "busy"
    assert len(lr.ari.snoops) == 1
    assert await lr.listening.start("a2", "PJSIP/other-boss") == "ok"


async def test_a_supervisor_taking_calls_pauses_before_listening() -> None:
    lr = listen_rig("a1", "boss")  # the supervisor takes calls on their phone too
    await talking(lr)
    assert lr.r.pool.state("boss").status == "ready"
    assert await lr.listening.start("a1", "PJSIP/boss", "boss") == "taking_calls"
    assert lr.ari.snoops == []
    lr.r.pool.pause("boss", "break")
    assert await lr.listening.start("a1", "PJSIP/boss", "boss") == "ok"


async def test_refusals_touch_nothing() -> None:
    lr = listen_rig("a1", "a2")
    await talking(lr)
    mark = len(lr.ari.ops)
    assert await lr.listening.start("a2", BOSS_PHONE) == "not_on_call"  # ready, no call
    assert await lr.listening.start("ghost", BOSS_PHONE) == "not_on_call"
    assert await lr.listening.start("a1", None) == "no_phone"
    assert await lr.listening.start("a1", "") == "no_phone"
    assert lr.since(mark) == []
    assert not lr.ari.watchers
    # the caller's channel went in that instant: the snoop is refused (404)
    del lr.ari.channels["c1"]
    assert await lr.listening.start("a1", BOSS_PHONE) == "not_on_call"
    assert not lr.ari.watchers


async def test_the_router_says_which_calls_are_on_hold() -> None:
    lr = listen_rig("a1")
    await talking(lr)
    router = lr.r.router
    assert router.held_calls() == frozenset()
    assert await router.desk.hold("a1", "c1", True) == "ok"
    assert router.held_calls() == {"c1"}
    assert await router.desk.hold("a1", "c1", False) == "ok"
    assert router.held_calls() == frozenset()


@dataclass
class StuckPhones(ListenPhones):
    """Staff phones, but ringing the supervisor's never returns (the request is given up
    meanwhile)."""

    async def originate(self, endpoint: str, *, channel_id: str, **kw: object) -> Channel:
        if endpoint == BOSS_PHONE:
            await asyncio.Event().wait()
        return await super().originate(endpoint, channel_id=channel_id)


async def test_a_listen_given_up_while_ringing_is_placed_leaves_nothing() -> None:
    ari = StuckPhones()
    r = rig("a1", ari=ari)
    listening = Listening(ari, r.pool)
    listening.bind(ari.watch)
    _call, _task = r.call("c1")
    await r.answered("a1", "PJSIP/a1")
    start = asyncio.get_running_loop().create_task(listening.start("a1", BOSS_PHONE))
    await until(lambda: bool(ari.snoops))
    start.cancel()
    with pytest.raises(asyncio.CancelledError):
        await start
    [(_c, snoop, *_)] = ari.snoops
    assert ("hangup", snoop) in ari.ops
    assert not listening.active
    assert not ari.watchers
