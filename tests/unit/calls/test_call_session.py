"""Call sessions running a YAML flow against the in-memory ARI fake, in virtual time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from ivr.ari.client import Resynced
from ivr.ari.fake import FakeAri
from ivr.ari.models import CallerId, Channel, ChannelDtmfReceived, DialplanCep, StasisStart
from ivr.calls.flows import FlowRegistry
from ivr.calls.memory import InMemoryCallMemory
from ivr.calls.records import MemoryCallRecorder
from ivr.calls.services import CallServices
from ivr.calls.session import SERVICE_TIMEOUT_S, STATE_VARIABLE, CallSession, SessionInput
from ivr.calls.supervisor import ORPHAN_CLAIM_WAIT_S, Supervisor
from ivr.config import CallsConfig
from ivr.flow.ports import (
    AccountDirectory,
    AccountSummary,
    FakeAccounts,
    FakeCalendar,
    FakeIntake,
    FakeNotices,
)

pytestmark = [pytest.mark.unit, pytest.mark.looptime]

ROOT = Path(__file__).resolve().parents[3]
FLOWS = Path(__file__).parent / "flows"
WELCOME = "sound:/var/lib/hotline/prompts/ja/welcome"
GOODBYE = "sound:/var/lib/hotline/prompts/ja/thank-you-goodbye"


class Rig:
    def __init__(
        self, intake: FakeIntake | None = None, accounts: AccountDirectory | None = None
    ) -> None:
        self.ari = FakeAri()
        self.recorder = MemoryCallRecorder()
        self.memory = InMemoryCallMemory()
        registry = FlowRegistry(FLOWS, ROOT / "prompts" / "catalog.yaml")
        registry.load()
        self.intake = intake or FakeIntake()
        account = AccountSummary(customer_number="1000000018", area="north-3")
        self.services = CallServices(
            flows=registry,
            accounts=accounts or FakeAccounts([account], {"0935821234": ["1000000018"]}),
            calendar=FakeCalendar(),
            notices=FakeNotices(),
            intake=self.intake,
            entry_flows={"main": "hotline", "emergency": "hotline"},
            memory=self.memory,
        )
        self.sup = Supervisor(self.ari, self.recorder, CallsConfig(), self.services)
        self.ari.sink = self.sup.on_event

    def plays(self) -> list[str]:
        return [op[2] for op in self.ari.ops if op[0] == "play"]

    def press(self, channel_id: str, digit: str) -> None:
        channel = self.ari.channels[channel_id]
        self.ari.emit(ChannelDtmfReceived(type="ChannelDtmfReceived", channel=channel, digit=digit))

    def in_stasis_before_we_connected(
        self, channel_id: str, entry: str, number: str = "0935821234"
    ) -> Channel:
        """A channel already up in Stasis(hotline, `entry`), as a new engine's resync lists it."""
        channel = Channel(
            id=channel_id,
            state="Up",
            caller=CallerId(number=number),
            dialplan=DialplanCep(app_name="Stasis", app_data=f"hotline,{entry}"),
        )
        self.ari.channels[channel_id] = channel
        return channel

    def next_engine(self, channel_id: str, *, reconnect: bool = True) -> Supervisor:
        """A new engine (a new supervisor) that finds the call in Stasis when it connects."""
        second = Supervisor(self.ari, self.recorder, CallsConfig(), self.services)
        self.ari.sink = second.on_event
        channel = self.ari.channels[channel_id].model_copy(
            update={
                "state": "Up",
                "dialplan": DialplanCep(app_name="Stasis", app_data="hotline,main"),
            }
        )
        self.ari.emit(Resynced(channels=(channel,), reconnect=reconnect))
        return second

    def finish(self) -> None:
        [playback_id] = self.ari.playbacks
        self.ari.finish_playback(playback_id)


async def settle() -> None:
    # let the session task run until it waits on its inbox again (virtual time: instant)
    await asyncio.sleep(0.01)


async def test_answer_greet_take_a_key_and_say_goodbye() -> None:
    rig = Rig()
    rig.ari.incoming("c1", number="0935821234")
    await settle()
    assert rig.ari.ops[0] == ("answer", "c1")
    assert rig.plays() == [WELCOME]
    rig.finish()
    await settle()
    rig.press("c1", "1")
    await settle()
    assert rig.plays()[-1] == GOODBYE
    rig.finish()
    record = await rig.recorder.wait_for("c1")
    assert record.outcome == "completed"
    assert record.digits == ["1"]
    assert record.caller == "0935821234"
    assert ("hangup", "c1") in rig.ari.ops
    assert {"event": "menu_choice", "node": "menu", "key": "1", "to": "lookup"} in record.trail


async def test_key_during_the_prompt_stops_it_barge_in() -> None:
    rig = Rig()
    rig.ari.incoming("c2")
    await settle()
    [greeting] = rig.ari.playbacks
    rig.press("c2", "1")
    await settle()
    assert ("stop_playback", greeting) in rig.ari.ops
    assert rig.plays()[-1] == GOODBYE


async def test_silence_repeats_the_menu_then_says_goodbye() -> None:
    rig = Rig()
    rig.ari.incoming("c3")
    for _ in range(3):
        await settle()
        rig.finish()
        await asyncio.sleep(8.1)
    again = "sound:/var/lib/hotline/prompts/ja/no-input," + WELCOME
    assert rig.plays() == [WELCOME, again, again, GOODBYE]
    rig.finish()
    record = await rig.recorder.wait_for("c3")
    assert record.outcome == "completed"
    assert ("hangup", "c3") in rig.ari.ops


async def test_intake_confirmation_is_read_back_after_it_is_created() -> None:
    rig = Rig()
    rig.ari.incoming("c4", number="0935821234")
    await settle()
    rig.press("c4", "2")
    await settle()
    # the flow's caller_id is the number in its one normalised form, as the record keeps it
    assert rig.intake.created == [("leak", {"caller_id": "+81935821234"})]
    said = rig.plays()[-1].split(",")
    assert said[0].endswith("/leak-recorded")
    # K10001 read out character by character after "your confirmation number is"
    assert any(m.endswith("/confirmation-number-is") for m in said)
    assert len(said) > 3
    rig.finish()
    record = await rig.recorder.wait_for("c4")
    assert record.intakes == ["leak:K10001"]


async def test_withheld_caller_id_is_not_looked_up() -> None:
    rig = Rig()
    rig.ari.incoming("c5", number="anonymous")
    await settle()
    rig.press("c5", "1")
    await settle()
    rig.finish()
    record = await rig.recorder.wait_for("c5")
    assert {"event": "account_lookup", "node": "lookup", "outcome": "none"} not in record.trail
    assert record.trail[0]["event"] == "entered"


class BrokenAccounts:
    async def lookup_by_phone(
        self, phone: str, *, call_id: str | None = None
    ) -> list[AccountSummary]:
        raise ConnectionError("database down")

    async def lookup_by_customer_number(
        self, number: str, *, call_id: str | None = None
    ) -> AccountSummary | None:
        raise ConnectionError("database down")


async def test_a_failing_service_takes_the_error_branch_not_dead_air() -> None:
    rig = Rig(accounts=BrokenAccounts())
    rig.ari.incoming("c6", number="0935821234")
    await settle()
    rig.press("c6", "1")
    await settle()
    assert rig.plays()[-1].endswith("/system-error")


class SilentAccounts:
    """A database that never answers (a lock held, a network gone quiet)."""

    async def lookup_by_phone(
        self, phone: str, *, call_id: str | None = None
    ) -> list[AccountSummary]:
        await asyncio.Event().wait()
        return []

    async def lookup_by_customer_number(
        self, number: str, *, call_id: str | None = None
    ) -> AccountSummary | None:
        await asyncio.Event().wait()
        return None


async def test_a_service_that_never_answers_takes_the_error_branch_after_its_timeout() -> None:
    rig = Rig(accounts=SilentAccounts())
    rig.ari.incoming("c13", number="0935821234")
    await settle()
    rig.press("c13", "1")
    await settle()
    assert not rig.plays()[-1].endswith("/system-error")  # still waiting for the look-up
    await asyncio.sleep(SERVICE_TIMEOUT_S)  # virtual time
    assert rig.plays()[-1].endswith("/system-error")


async def test_no_agents_yet_queue_overflows_to_the_flows_busy_branch() -> None:
    rig = Rig()
    rig.ari.incoming("c7")
    await settle()
    rig.press("c7", "0")
    await settle()
    assert rig.plays()[-1].endswith("/all-agents-busy")


async def test_caller_hanging_up_ends_the_session_with_a_record() -> None:
    rig = Rig()
    rig.ari.incoming("c8")
    await settle()
    rig.ari.caller_hangs_up("c8")
    record = await rig.recorder.wait_for("c8")
    assert record.outcome == "caller_hung_up"
    await rig.sup.wait_idle()
    assert "c8" not in rig.sup.sessions


async def test_hangup_race_on_answer_is_normal() -> None:
    rig = Rig()
    rig.ari.incoming("c9")
    del rig.ari.channels["c9"]  # gone before the session's first request reaches Asterisk
    assert (await rig.recorder.wait_for("c9")).outcome == "caller_hung_up"


async def test_engine_stop_detaches_and_the_next_engine_resumes_the_same_node() -> None:
    rig = Rig()
    rig.ari.incoming("c10", number="0935821234")
    await settle()
    rig.finish()
    await settle()
    await rig.sup.stop()
    record = await rig.recorder.wait_for("c10")
    assert record.outcome == "detached"
    assert ("hangup", "c10") not in rig.ari.ops
    saved: Mapping[str, object] = json.loads(rig.memory.kept["c10"][STATE_VARIABLE])
    assert saved["flow"] == "hotline"

    second = rig.next_engine("c10")
    await settle()
    assert "c10" in second.sessions
    # the menu is offered again (as after a pause), not the call restarted from the top
    assert rig.plays()[-1].endswith(WELCOME)
    rig.press("c10", "1")
    await settle()
    rig.finish()
    resumed = await rig.recorder.wait_for("c10", "completed")
    assert resumed.adopted
    assert resumed.started_at == record.started_at
    assert [op for op in rig.ari.ops if op[0] == "answer"] == [("answer", "c10")]


async def test_a_call_left_by_an_engine_of_before_the_call_memory_resumes_from_its_channel() -> (
    None
):
    rig = Rig()
    rig.ari.incoming("c12", number="0935821234")
    await settle()
    rig.press("c12", "1")  # found by caller ID: the goodbye plays, then the hang-up
    await settle()
    assert rig.plays()[-1].endswith("/thank-you-goodbye")
    await rig.sup.stop()
    # that engine kept the state on the channel, where the new engine's memory has nothing
    rig.ari.variables["c12"][STATE_VARIABLE] = rig.memory.kept.pop("c12")[STATE_VARIABLE]

    rig.next_engine("c12", reconnect=False)
    await settle()
    # the call goes on where it was (the goodbye, then the hang-up), not from the top
    assert (await rig.recorder.wait_for("c12", "completed")).adopted
    assert ("hangup", "c12") in rig.ari.ops
    assert sum(p.endswith(WELCOME) for p in rig.plays()) == 1


async def test_call_that_ended_while_we_were_away_is_closed_on_resync() -> None:
    rig = Rig()
    rig.ari.incoming("c11")
    await settle()
    del rig.ari.channels["c11"]
    rig.ari.emit(Resynced(channels=(), reconnect=True))
    assert (await rig.recorder.wait_for("c11")).outcome == "caller_hung_up"


async def test_unexpected_error_plays_an_apology_never_dead_air(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig = Rig()

    async def broken(channel_id: str) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(rig.ari, "answer", broken)
    rig.ari.incoming("c12")
    await settle()
    assert rig.plays() == ["sound:/var/lib/hotline/prompts/ja/system-error"]
    rig.finish()
    record = await rig.recorder.wait_for("c12")
    assert record.outcome == "failed"
    assert ("hangup", "c12") in rig.ari.ops


async def test_other_stasis_entries_do_not_start_calls() -> None:
    rig = Rig()
    rig.ari.incoming("someone-else", args="conference")
    await settle()
    assert rig.sup.sessions == {}
    assert rig.ari.ops == []


@pytest.mark.parametrize("entry", ["agent", "department,construction"])
async def test_a_staff_phone_answering_an_offer_from_before_a_restart_is_hung_up(
    entry: str,
) -> None:
    # the engine that rang this phone is gone and no re-adopted caller follows its ring
    # (HOTLINE_OFFER): the agent must not sit on a line with nobody on it
    rig = Rig()
    rig.ari.incoming("old-agent-leg", args=entry)
    await asyncio.sleep(ORPHAN_CLAIM_WAIT_S - 0.1)
    assert rig.ari.ops == []  # a re-adopted caller may still be about to claim it
    await asyncio.sleep(0.2)
    assert rig.sup.sessions == {}
    assert rig.ari.ops == [("hangup", "old-agent-leg")]


async def test_an_answer_just_before_the_re_adopted_caller_claims_the_leg_reaches_it() -> None:
    # the standby's session follows the ring the old engine placed; the agent answered in the
    # instant before the session claimed the leg: the answer is handed to it, not hung up
    rig = Rig()
    rig.ari.incoming("c1", number="0935821234")
    await settle()
    seen: list[object] = []
    session = rig.sup.sessions["c1"]
    put = session.inbox.put_nowait

    def spy(item: SessionInput) -> None:
        seen.append(item)
        put(item)

    session.inbox.put_nowait = spy  # type: ignore[method-assign]
    rig.ari.incoming("old-agent-leg", args="agent")
    await settle()
    session.claim("old-agent-leg")
    await asyncio.sleep(ORPHAN_CLAIM_WAIT_S + 1)
    assert ("hangup", "old-agent-leg") not in rig.ari.ops
    assert [s.channel.id for s in seen if isinstance(s, StasisStart)] == ["old-agent-leg"]


async def test_an_adopted_call_never_reuses_an_id_the_previous_engine_chose() -> None:
    # the old engine's last prompt may still play under its id: a stop of "ours" must not
    # stop theirs (a queue caller's first prompt after a take-over had the same id)
    rig = Rig()
    channel = rig.in_stasis_before_we_connected("c1", "main")
    fresh = CallSession(
        channel, rig.ari, rig.recorder, CallsConfig(), rig.services, entry="main", adopted=False
    )
    ids = [fresh.new_id("playback"), fresh.new_id("agent")]
    assert ids == ["c1-playback-1", "c1-agent-2"]
    adopted = [
        CallSession(
            channel, rig.ari, rig.recorder, CallsConfig(), rig.services, entry="main", adopted=True
        )
        for _ in range(2)
    ]
    again = [s.new_id("playback") for s in adopted]
    assert again[0] != again[1]
    assert not {*ids, *again[:1]} & {again[1]}
    assert all(i.startswith("c1-") and i.endswith("-playback-1") for i in again)


def test_session_ids_are_ours() -> None:
    channel = Channel(id="abc", caller=CallerId(number="1"))
    assert channel.stasis_app is None


async def test_no_personal_data_in_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    rig = Rig()
    rig.ari.incoming("c13", number="0935821234")
    await settle()
    rig.press("c13", "2")  # leak report: the intake reads back a confirmation number
    await settle()
    rig.finish()
    record = await rig.recorder.wait_for("c13")
    assert record.intakes == ["leak:K10001"]
    assert caplog.records  # the call was logged...
    text = "\n".join(r.getMessage() for r in caplog.records)
    # ...without the caller's number, account or confirmation number
    for secret in ("0935821234", "+81935821234", "K10001", "1000000018"):
        assert secret not in text


@pytest.mark.parametrize(("caller_still_here", "hung_up"), [(False, True), (True, False)])
async def test_a_staff_leg_found_on_resync_is_hung_up_only_if_its_caller_left(
    caller_still_here: bool, hung_up: bool
) -> None:
    # an agent was talking to c20 when the engine stopped; a new engine connects
    rig = Rig()
    leg = rig.in_stasis_before_we_connected("c20-agent", "agent", number="201")
    rig.ari.variables[leg.id] = {"HOTLINE_CALL": "c20"}
    present = [leg]
    if caller_still_here:
        rig.ari.incoming("c20")  # its session follows the agent leg again
        await settle()
        present.append(rig.ari.channels["c20"])
    rig.ari.emit(Resynced(channels=tuple(present), reconnect=True))
    await settle()
    assert (("hangup", "c20-agent") in rig.ari.ops) is hung_up


async def test_a_re_adopted_call_back_without_a_place_is_closed_politely() -> None:
    # the engine stopped right after the resident answered our call back; nothing of the place
    # is on the channel, so the new engine apologises and closes instead of leaving silence
    rig = Rig()
    channel = rig.in_stasis_before_we_connected("cb1-callback", "callback")
    rig.ari.emit(Resynced(channels=(channel,), reconnect=True))
    await settle()
    assert "cb1-callback" in rig.sup.sessions
    assert rig.plays()[-1].endswith("system-error")
    rig.finish()
    record = await rig.recorder.wait_for("cb1-callback")
    assert ("hangup", "cb1-callback") in rig.ari.ops
    assert record.outcome != "detached"


async def test_a_listen_left_from_a_stopped_engine_is_hung_up_and_never_a_call() -> None:
    # a supervisor listened to c30 when the engine stopped: the new engine finds the snoop (no
    # Stasis data in a channel list, only its id) and the supervisor's phone; c30 is adopted
    rig = Rig()
    caller = rig.in_stasis_before_we_connected("c30", "main")
    snoop = Channel(id="listen-ab12-snoop", state="Up")
    phone = rig.in_stasis_before_we_connected("listen-ab12-phone", "listen", number="301")
    rig.ari.channels[snoop.id] = snoop
    rig.ari.emit(Resynced(channels=(caller, snoop, phone), reconnect=False))
    await settle()
    assert set(rig.sup.sessions) == {"c30"}
    for op in (
        ("hangup", "listen-ab12-snoop"),
        ("hangup", "listen-ab12-phone"),
        ("destroy_bridge", "listen-ab12-bridge"),
    ):
        assert op in rig.ari.ops
    assert ("hangup", "c30") not in rig.ari.ops
    # a supervisor's phone answering a ring of the stopped engine: hung up, no session
    rig.ari.incoming("listen-cd34-phone", number="301", args="listen")
    await settle()
    assert "listen-cd34-phone" not in rig.sup.sessions
    assert ("hangup", "listen-cd34-phone") in rig.ari.ops


async def test_a_watched_listen_channel_goes_to_its_watcher_not_a_session() -> None:
    rig = Rig()
    seen: list[object] = []
    rig.sup.watch("listen-ef56-snoop", seen.append)
    rig.ari.incoming("listen-ef56-snoop", args="listen")
    await settle()
    assert rig.sup.sessions == {}
    assert [type(e).__name__ for e in seen] == ["StasisStart"]
    assert ("hangup", "listen-ef56-snoop") not in rig.ari.ops
    # a resync while the listen goes on (the events socket reconnected) leaves it alone
    channel = rig.ari.channels["listen-ef56-snoop"]
    rig.ari.emit(Resynced(channels=(channel,), reconnect=True))
    await settle()
    assert ("hangup", "listen-ef56-snoop") not in rig.ari.ops
