"""The one executor of the interpreter's commands (`ivr.flow.executor`), shared by the call
session and the simulator: every command is carried out, the service commands give the flow the
same answers for both, and what is the caller's goes to the `Effects` it is given."""

from __future__ import annotations

import typing
from collections.abc import Awaitable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ivr.domain import RequestKind
from ivr.flow import interpreter as i
from ivr.flow.executor import Executor
from ivr.flow.ports import AccountSummary, FakeAccounts, FakeIntake, Fakes, IntakeOutcome

pytestmark = pytest.mark.unit

T0 = datetime(2027, 2, 1, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # a Monday in opening hours
ONE = AccountSummary("1000001", "chuo-01")
TWO = AccountSummary("1000002", "chuo-02")


class Recorded:
    """Effects that note what reached them; a prompt ends at once, a queue answers."""

    def __init__(self, *, failing_services: bool = False) -> None:
        self.seen: list[str] = []
        self.found_accounts: list[str] = []
        self.intakes: list[IntakeOutcome] = []
        self._failing = failing_services

    async def play(self, c: i.Play) -> i.FlowEvent | None:
        self.seen.append("play")
        return i.PlaybackDone(c.playback_id)

    async def stop_playback(self, c: i.StopPlayback) -> None:
        self.seen.append("stop_playback")

    def start_timer(self, c: i.StartTimer) -> None:
        self.seen.append("start_timer")

    def cancel_timer(self, c: i.CancelTimer) -> None:
        self.seen.append("cancel_timer")

    def set_language(self, c: i.SetLanguage) -> None:
        self.seen.append("set_language")

    def trail(self, c: i.Trail) -> None:
        self.seen.append("trail")

    async def hangup(self, c: i.Hangup) -> None:
        self.seen.append("hangup")

    async def enqueue(self, c: i.Enqueue) -> i.FlowEvent:
        self.seen.append("enqueue")
        return i.QueueResult("answered")

    async def transfer(self, c: i.Transfer) -> i.FlowEvent:
        self.seen.append("transfer")
        return i.TransferResult(ok=True)

    async def emergency(self, c: i.Emergency) -> i.FlowEvent:
        self.seen.append("emergency")
        return i.TransferResult(ok=True)

    async def start_recording(self, c: i.Record) -> i.FlowEvent | None:
        self.seen.append("start_recording")
        return None

    async def service(self, work: Awaitable[i.FlowEvent]) -> i.FlowEvent:
        self.seen.append("service")
        if self._failing:
            # as the session does when a service times out: the flow takes its error branch
            typing.cast("typing.Coroutine[object, object, i.FlowEvent]", work).close()
            return i.Failed("service failed")
        return await work

    def found(self, c: i.LookupAccount, account: AccountSummary) -> None:
        self.found_accounts.append(account.customer_number)

    def took(self, c: i.CreateIntake, outcome: IntakeOutcome) -> None:
        self.intakes.append(outcome)


def executor(effects: Recorded, fakes: Fakes | None = None) -> Executor:
    return Executor(effects, fakes or Fakes(), lambda: T0, "call-1")


ONE_OF_EACH: list[i.Command] = [
    i.Play(("welcome",), "pb-1"),
    i.StopPlayback("pb-1"),
    i.StartTimer("input", 5.0),
    i.CancelTimer("input"),
    i.SetLanguage("en"),
    i.Trail("entered", "greeting"),
    i.Hangup(),
    i.LookupAccount("phone", "0935821234"),
    i.CheckHours("phone"),
    i.FetchNotices("chuo-01"),
    i.CreateIntake(RequestKind.STOP, {"date": "20270331"}, "k1"),
    i.Enqueue("general", 0, {}),
    i.Transfer("waterworks", {}),
    i.Emergency({}),
    i.Record("rec-1", 60.0),
]


def test_every_command_the_interpreter_can_return_is_carried_out() -> None:
    # a command without an entry would end a real call in an apology; the list above is
    # checked against the interpreter's union so a new command cannot be forgotten here
    assert {type(c) for c in ONE_OF_EACH} == set(typing.get_args(i.Command))


async def test_effects_get_the_callers_commands_and_services_go_through_service() -> None:
    effects = Recorded()
    run = executor(effects)
    answers = [await run.carry_out(c) for c in ONE_OF_EACH]
    assert effects.seen == [
        "play",
        "stop_playback",
        "start_timer",
        "cancel_timer",
        "set_language",
        "trail",
        "hangup",
        "service",
        "service",
        "service",
        "service",
        "enqueue",
        "transfer",
        "emergency",
        "start_recording",
    ]
    assert answers[0] == i.PlaybackDone("pb-1")
    assert answers[8] == i.HoursResult("open")
    assert answers[9] == i.NoticesResult(())
    assert answers[11] == i.QueueResult("answered")


async def test_a_look_up_with_two_accounts_says_several_and_reports_no_match() -> None:
    fakes = Fakes(
        accounts=FakeAccounts(
            [ONE, TWO], {"0935821234": [ONE.customer_number, TWO.customer_number]}
        )
    )
    effects = Recorded()
    answer = await executor(effects, fakes).carry_out(i.LookupAccount("phone", "+81935821234"))
    assert answer == i.AccountResult("several", {"account_count": "2"})
    assert effects.found_accounts == []


async def test_one_account_found_is_reported_and_its_variables_reach_the_flow() -> None:
    fakes = Fakes(accounts=FakeAccounts([ONE], {"0935821234": [ONE.customer_number]}))
    effects = Recorded()
    answer = await executor(effects, fakes).carry_out(i.LookupAccount("phone", "0935821234"))
    assert answer == i.AccountResult("found", {**ONE.variables(), "account_count": "1"})
    assert effects.found_accounts == [ONE.customer_number]
    by_number = i.LookupAccount("customer_number", TWO.customer_number)
    assert await executor(effects, fakes).carry_out(by_number) == i.AccountResult("none")


async def test_an_intake_is_keyed_by_call_and_node_so_a_retry_creates_nothing_more() -> None:
    intake = FakeIntake()
    effects = Recorded()
    run = executor(effects, Fakes(intake=intake))
    command = i.CreateIntake(RequestKind.STOP, {"date": "20270331"}, "stop_confirm")
    first = await run.carry_out(command)
    again = await run.carry_out(command)
    assert first == again == i.IntakeResult(True, "K10001", ())
    assert intake.created == [("stop", {"date": "20270331"})]
    assert [o.confirmation for o in effects.intakes] == ["K10001", "K10001"]
    # another call's request with the same node is another request
    other = Executor(effects, Fakes(intake=intake), lambda: T0, "call-2")
    assert await other.carry_out(command) == i.IntakeResult(True, "K10002", ())


async def test_a_service_the_effects_give_up_on_reaches_the_flow_as_their_answer() -> None:
    intake = FakeIntake()
    effects = Recorded(failing_services=True)
    run = executor(effects, Fakes(intake=intake))
    answer = await run.carry_out(i.CreateIntake(RequestKind.STOP, {}, "k"))
    assert answer == i.Failed("service failed")
    assert intake.created == []
    assert effects.intakes == []
