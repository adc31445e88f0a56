"""The flow's ports on the real data layer (`ivr.adapters`, `ivr.app.open_backends`), on SQLite
and PostgreSQL.

Every `intake` node of the shipped dialplans is submitted with the fields the flow sends, and the
test pins down which ones the service accepts and which it rejects, and that nothing is lost:
an accepted request has its row and its outbox row, a rejected one has neither.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters import (
    DbCallRecorder,
    RoutingCalendar,
    ServiceIntake,
    StoreAccounts,
    StoreNotices,
    UnknownCalendar,
)
from ivr.app import open_backends
from ivr.calls.flows import FlowRegistry
from ivr.calls.records import CallRecord
from ivr.config import parse_config
from ivr.flow.ports import AccountSummary
from ivr.intake.billing import DatabaseBillingGateway
from ivr.intake.outbox import pending
from ivr.intake.service import IntakeService
from ivr.logs import call_context
from ivr.store.accounts import AccountStore
from ivr.store.calls import CallLog
from ivr.store.db import open_engine
from ivr.store.departments import Department, DepartmentBook
from ivr.store.migrate import current_revision, head_revision
from ivr.store.models import Notice
from ivr.store.tables import audit_log, billing_outbox, calls, service_requests
from routing.hours import DEFAULT_CALENDARS, calendars_from_config
from tests.integration.store.storedata import NOW, cust, seed
from tests.support.notices import insert_notice

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
CALL = "call-7"


def weekdays(start: date, end: date, /) -> int:
    return sum(1 for n in range(1, (end - start).days + 1) if (start + timedelta(n)).weekday() < 5)


def sink(engine: AsyncEngine) -> ServiceIntake:
    service = IntakeService(engine, business_days=weekdays, clock=lambda: NOW)
    return ServiceIntake(service)


async def rows(engine: AsyncEngine, table: sa.Table) -> list[dict[str, object]]:
    async with engine.connect() as conn:
        result = await conn.execute(sa.select(table).order_by(table.c.id))
        return [dict(r) for r in result.mappings()]


# --- accounts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("presented", "numbers", "audited"),
    [
        ("0935821234", [cust(1)], [1]),
        ("+81935550000", [cust(2), cust(3)], [2, 3]),  # the active account first
        ("0935559999", [], [None]),
        ("anonymous", [], [None]),
    ],
    ids=["one", "several", "none", "withheld"],
)
async def test_caller_id_match_is_audited(
    engine: AsyncEngine,
    store: AccountStore,
    presented: str,
    numbers: list[str],
    audited: list[int | None],
) -> None:
    await seed(engine)
    found = await StoreAccounts(store).lookup_by_phone(presented, call_id=CALL)
    assert [a.customer_number for a in found] == numbers
    audit = await rows(engine, audit_log)
    assert [r["account_id"] for r in audit] == audited
    assert {(r["actor"], r["reason"], r["call_id"]) for r in audit} == {
        ("ivr", "caller-id match", CALL)
    }


async def test_summary_carries_what_the_flow_reads(
    engine: AsyncEngine, store: AccountStore
) -> None:
    await seed(engine)
    accounts = StoreAccounts(store)
    shut_off = await accounts.lookup_by_customer_number(cust(3), call_id="call-8")
    assert shut_off == AccountSummary(cust(3), "chuo-01", "shut_off", 3000, "bank_debit")
    assert await accounts.lookup_by_customer_number(cust(77), call_id="call-8") is None
    # malformed: not found
    assert await accounts.lookup_by_customer_number("1234", call_id="call-8") is None
    audit = await rows(engine, audit_log)
    assert [(r["account_id"], r["action"]) for r in audit] == [
        (3, "lookup_number"),
        (None, "lookup_number"),
        (None, "lookup_number_invalid"),
    ]
    assert {(r["reason"], r["call_id"]) for r in audit} == {("customer number entered", "call-8")}


# --- intake: every intake node of the shipped flows -----------------------------------------

# what the flow's variables hold when it reaches each intake node (keyed dates are YYYYMMDD)
FLOW_VARIABLES = {
    "caller_id": "0935821234",
    "account_number": cust(1),
    "start_date": "20260305",
    "contact_phone": "09012345678",
    "stop_date": "20260306",
    "move_out_date": "20260310",
    "move_in_date": "20260311",
    "name_recording": "call-7-rec-3",
    "new_phone": "0935821299",
    "leak_recording": "call-7-rec-5",
}
# reconnection is offered to a shut-off account only (the flow switches on account_status)
ACCOUNT_FOR = {"reconnection": cust(3)}

# None: accepted. Otherwise the rejection, which sends the caller to an agent's queue: the IVR
# cannot collect a premise for a new start or a move, so those always reach a person.
EXPECTED: dict[str, tuple[str, ...] | None] = {
    "start": ("holder_kana:required", "holder_name:required", "premise_id:required"),
    "stop": None,
    "transfer": ("new_premise_id:required",),
    "name_change": None,
    "phone_change": None,
    "leak": None,
    "reconnection": None,
    "bank_debit": None,
}


def intake_nodes() -> list[pytest.ParameterSet]:
    out = []
    for path in sorted((ROOT / "dialplans").glob("*.yaml")):
        plan = yaml.safe_load(path.read_text())
        for node_id, node in plan["nodes"].items():
            if node["kind"] == "intake":
                out.append(
                    pytest.param(node["request"], node["fields"], id=f"{path.stem}.{node_id}")
                )
    return out


def test_every_intake_kind_of_the_flows_is_covered() -> None:
    assert {p.values[0] for p in intake_nodes()} == set(EXPECTED)


@pytest.mark.parametrize(("request_kind", "field_vars"), intake_nodes())
async def test_flow_intake_is_confirmed_or_clearly_rejected(
    engine: AsyncEngine, request_kind: str, field_vars: dict[str, str]
) -> None:
    await seed(engine)
    variables = {**FLOW_VARIABLES, "account_number": ACCOUNT_FOR.get(request_kind, cust(1))}
    fields = {name: variables[var] for name, var in field_vars.items() if var in variables}
    outcome = await sink(engine).create(request_kind, fields, f"{CALL}:intake-1", call_id=CALL)

    requests, outbox = await rows(engine, service_requests), await rows(engine, billing_outbox)
    expected = EXPECTED[request_kind]
    if expected is not None:
        assert (outcome.ok, outcome.confirmation, outcome.errors) == (False, None, expected)
        assert (requests, outbox) == ([], [])
        return
    assert outcome.ok, outcome.errors
    assert outcome.confirmation is not None
    (request,) = requests
    (entry,) = outbox
    assert (request["kind"], request["confirmation"]) == (request_kind, outcome.confirmation)
    assert (request["channel"], request["actor"], request["call_id"]) == ("ivr", "ivr", CALL)
    assert entry["request_id"] == request["id"]
    payload, written = entry["payload"], request["fields"]
    assert isinstance(payload, dict)  # the JSON columns hold objects
    assert isinstance(written, dict)
    assert payload["confirmation"] == outcome.confirmation
    if "caller_id" in field_vars and request_kind != "start":
        # the caller's number is where staff call back
        assert written["contact_phone"] == "+81935821234"
    if {"name_recording", "leak_recording"} & set(field_vars.values()):
        assert written["recording"].startswith("call-7-rec-")


async def test_withheld_caller_id_is_dropped_not_rejected(engine: AsyncEngine) -> None:
    await seed(engine)
    fields = {"caller_id": "anonymous", "recording": "call-7-rec-1", "customer_number": ""}
    outcome = await sink(engine).create("leak", fields, "k")
    assert outcome.ok
    (request,) = await rows(engine, service_requests)
    assert request["fields"] == {"recording": "call-7-rec-1"}


async def test_same_key_twice_creates_one_request(engine: AsyncEngine) -> None:
    await seed(engine)
    intake = sink(engine)
    fields = {"customer_number": cust(1), "caller_id": "0935821234"}
    first = await intake.create("bank_debit", fields, f"{CALL}:intake-1")
    again = await intake.create("bank_debit", fields, f"{CALL}:intake-1")
    both = await asyncio.gather(*(intake.create("leak", fields, f"{CALL}:intake-2") for _ in "ab"))
    # a new process (no in-memory state) still knows the key
    later = await sink(engine).create("bank_debit", fields, f"{CALL}:intake-1")
    assert first.ok
    assert first == again == later
    assert both[0].ok
    assert both[0] == both[1]
    assert len(await rows(engine, service_requests)) == 2
    assert len(await rows(engine, billing_outbox)) == 2
    other = await intake.create("bank_debit", fields, f"{CALL}:intake-3")
    assert other.ok
    assert other.confirmation != first.confirmation


async def test_bank_debit_needs_an_account(engine: AsyncEngine) -> None:
    await seed(engine)
    intake = sink(engine)
    ok = await intake.create("bank_debit", {"customer_number": cust(2)}, "a")
    assert ok.ok
    assert (await intake.create("bank_debit", {"customer_number": ""}, "b")).errors == (
        "customer_number:required",
    )
    assert (await intake.create("bank_debit", {"customer_number": cust(77)}, "c")).errors == (
        "customer_number:unknown_account",
    )
    assert (await intake.create("fax_order", {}, "d")).errors == ("kind:unknown",)
    (request,) = await rows(engine, service_requests)
    assert (request["kind"], request["account_id"]) == ("bank_debit", 2)


# --- notices, calendars, call records -------------------------------------------------------


async def test_a_caller_hears_the_live_notices_of_their_area_by_their_own_audio(
    engine: AsyncEngine, store: AccountStore
) -> None:
    await seed(engine)
    day = timedelta(days=1)
    async with engine.begin() as conn:
        outage = await insert_notice(conn, ["chuo-01", "chuo-02"], NOW - day, NOW + day)
        works = await insert_notice(conn, ["chuo-01"], NOW - day + timedelta(hours=1), NOW + day)
        await insert_notice(conn, ["chuo-01"], NOW + 3 * day, NOW + 4 * day)  # not yet
        await insert_notice(conn, ["chuo-01"], NOW - day, NOW + day, audio="failed")
        await insert_notice(conn, ["chuo-01"], NOW - day, NOW + day, audio="pending")
        await insert_notice(conn, ["chuo-01"], NOW - day, NOW - timedelta(minutes=1))  # over
    board = StoreNotices(store)
    assert await board.active_for("chuo-01", NOW) == [f"notice-{outage}", f"notice-{works}"]
    assert await board.active_for("chuo-02", NOW) == [f"notice-{outage}"]
    assert await board.active_for("kita-09", NOW) == []


async def test_notices_are_read_once_for_many_calls_and_start_and_end_on_time(
    engine: AsyncEngine, store: AccountStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(engine)
    hour = timedelta(hours=1)

    async def add_notice(start: datetime, end: datetime) -> int:
        async with engine.begin() as conn:
            return await insert_notice(conn, ["chuo-01"], start, end)

    first = await add_notice(NOW - hour, NOW + hour)
    later = await add_notice(NOW + hour, NOW + 2 * hour)
    seconds = [0.0]
    reads = 0
    real_read = store.notices_not_ended

    async def counted_read(at: datetime) -> tuple[Notice, ...]:
        nonlocal reads
        reads += 1
        return await real_read(at)

    monkeypatch.setattr(store, "notices_not_ended", counted_read)
    board = StoreNotices(store, refresh_s=10, clock=lambda: seconds[0])
    heard = await asyncio.gather(*(board.active_for("chuo-01", NOW) for _ in range(20)))
    assert heard == [[f"notice-{first}"]] * 20
    assert reads == 1  # twenty callers, one query
    # the second starts, the first ends: at their times, with no new read
    assert await board.active_for("chuo-01", NOW + hour) == [f"notice-{later}"]
    assert reads == 1
    # a notice added by another process is heard once the board reads again
    third = await add_notice(NOW - hour, NOW + hour)
    assert await board.active_for("chuo-01", NOW) == [f"notice-{first}"]
    seconds[0] = 10.0
    assert await board.active_for("chuo-01", NOW) == [f"notice-{first}", f"notice-{third}"]
    assert reads == 2
    # one added or ended through the engine's own desk is heard by the next call
    fourth = await add_notice(NOW - hour, NOW + hour)
    board.invalidate()
    assert f"notice-{fourth}" in await board.active_for("chuo-01", NOW)
    assert reads == 3


async def test_routing_calendar() -> None:
    calendar = RoutingCalendar(calendars_from_config(DEFAULT_CALENDARS))
    assert await calendar.state_at("phone", NOW) == "peak"  # a March Monday morning
    assert await calendar.state_at("phone", NOW + timedelta(hours=12)) == "closed"
    assert await calendar.state_at("emergency", NOW + timedelta(hours=12)) == "open"
    with pytest.raises(UnknownCalendar):
        await calendar.state_at("typo", NOW)


@pytest.mark.parametrize("on_path", [False, True], ids=["main engine", "look-up path"])
async def test_the_trail_is_written_as_the_call_goes_with_each_events_own_time(
    engine: AsyncEngine, store: AccountStore, on_path: bool
) -> None:
    await seed(engine)
    log = CallLog(engine, writes=store.path if on_path else None)
    recorder = DbCallRecorder(log, interval_s=0.01)
    recorder.opened(CALL, "093-582-1234", NOW)
    recorder.matched(CALL, cust(1), "caller_id", NOW + timedelta(seconds=1))
    recorder.event(
        CALL, "menu_choice", NOW + timedelta(seconds=9), {"node": "main_menu", "key": "1"}
    )
    recorder.event(CALL, "enqueued", NOW + timedelta(seconds=10), {"queue": "general"})
    # written while the call goes on, before its end: a killed engine leaves this much
    await recorder.flush()
    events = await CallLog(engine).events(CALL)
    assert [(e.kind, e.at) for e in events] == [
        ("entered_ivr", NOW),
        ("account_matched", NOW + timedelta(seconds=1)),
        ("menu_choice", NOW + timedelta(seconds=9)),
        ("enqueued", NOW + timedelta(seconds=10)),
    ]
    assert events[1].data == {"by": "caller_id"}
    (call,) = await rows(engine, calls)
    # the number keyed in any form is the one caller on the record; the account is on the call
    assert (call["caller_e164"], call["account_id"], call["ended_at"]) == ("+81935821234", 1, None)

    recorder.event(CALL, "answered", NOW + timedelta(seconds=70), {"queue": "general"})
    await recorder.write(
        CallRecord(
            call_id=CALL,
            caller="093-582-1234",
            entry="main",
            started_at=NOW.isoformat(),
            ended_at=(NOW + timedelta(seconds=90)).isoformat(),
            outcome="answered_by_agent",
        )
    )
    events = await CallLog(engine).events(CALL)
    assert [e.kind for e in events][-2:] == ["answered", "ended"]
    # a report's wait: enqueued → answered, from the trail alone
    assert events[-2].at - events[3].at == timedelta(seconds=60)
    (call,) = await rows(engine, calls)
    assert (call["reason_code"], call["ended_at"]) == (
        "answered_by_agent",
        NOW + timedelta(seconds=90),
    )
    await recorder.aclose()


async def test_a_re_adopted_call_continues_the_trail_of_the_engine_before(
    engine: AsyncEngine,
) -> None:
    first = DbCallRecorder(CallLog(engine), interval_s=0.01)
    first.opened(CALL, "0935821234", NOW)
    first.event(CALL, "menu_choice", NOW + timedelta(seconds=5), {"node": "main_menu"})
    await first.write(
        CallRecord(
            call_id=CALL,
            caller="0935821234",
            entry="main",
            started_at=NOW.isoformat(),
            ended_at=(NOW + timedelta(seconds=30)).isoformat(),
            outcome="detached",
        )
    )
    await first.aclose()
    # the next engine re-adopts the call and finishes it
    second = DbCallRecorder(CallLog(engine), interval_s=0.01)
    second.opened(CALL, "0935821234", NOW)
    second.event(CALL, "intake_created", NOW + timedelta(seconds=60), {"kind": "stop"})
    await second.write(
        CallRecord(
            call_id=CALL,
            caller="0935821234",
            entry="main",
            started_at=NOW.isoformat(),
            ended_at=(NOW + timedelta(seconds=90)).isoformat(),
            outcome="completed",
            adopted=True,
        )
    )
    (call,) = await rows(engine, calls)
    assert (call["caller_kind"], call["reason_code"]) == ("number", "completed")
    assert call["ended_at"] == NOW + timedelta(seconds=90)
    events = await CallLog(engine).events(CALL)
    assert [(e.kind, e.at - NOW) for e in events] == [
        ("entered_ivr", timedelta(0)),
        ("menu_choice", timedelta(seconds=5)),
        ("detached", timedelta(seconds=30)),
        ("intake_created", timedelta(seconds=60)),
        ("ended", timedelta(seconds=90)),
    ]
    await second.aclose()


async def test_call_records_ending_together_share_a_transaction(engine: AsyncEngine) -> None:
    recorder = DbCallRecorder(CallLog(engine))
    records = [
        CallRecord(
            call_id=f"storm-{n}",
            caller="0935821234" if n % 2 else "anonymous",
            entry="main",
            started_at=NOW.isoformat(),
            ended_at=(NOW + timedelta(seconds=n)).isoformat(),
            outcome="caller_hung_up",
        )
        for n in range(60)
    ]
    for r in records:
        recorder.opened(r.call_id, r.caller, NOW)
        recorder.event(r.call_id, "menu_choice", NOW, {"node": "greeting", "key": "1"})
    await asyncio.gather(*(recorder.write(r) for r in records))
    assert recorder.batches <= 2
    written = {c["id"]: c for c in await rows(engine, calls)}
    assert len(written) == 60
    assert written["storm-7"]["ended_at"] == NOW + timedelta(seconds=7)
    assert written["storm-8"]["caller_kind"] == "withheld"
    kinds = [e.kind for e in await CallLog(engine).events("storm-59")]
    assert kinds == ["entered_ivr", "menu_choice", "ended"]
    await recorder.aclose()


async def test_a_number_that_matches_no_account_leaves_the_call_without_one(
    engine: AsyncEngine,
) -> None:
    await seed(engine)
    recorder = DbCallRecorder(CallLog(engine), interval_s=0.01)
    recorder.opened(CALL, "anonymous", NOW)
    recorder.matched(CALL, "9999999999", "customer_number", NOW)
    await recorder.flush()
    (call,) = await rows(engine, calls)
    assert (call["caller_kind"], call["account_id"]) == ("withheld", None)
    await recorder.aclose()


# --- the data side as `hotline run` opens it ------------------------------------------------------


async def test_open_backends_runs_the_real_ports(db_url: str, tmp_path: Path) -> None:
    billing_url = f"sqlite+aiosqlite:///{tmp_path / 'billing.sqlite3'}"
    config = parse_config(
        {"database": {"url": db_url}, "billing": {"database_url": billing_url}}, {}
    )
    flows = FlowRegistry(ROOT / "dialplans", ROOT / "prompts/catalog.yaml")
    flows.load()
    async with AsyncExitStack() as stack:
        backends = await open_backends(config, flows, stack)
        assert backends.db is not None
        assert backends.outbox is not None
        await seed(backends.db)
        found = await backends.accounts.lookup_by_phone("0935821234")
        assert [a.customer_number for a in found] == [cust(1)]
        assert await backends.calendar.state_at("emergency", NOW) == "open"
        outcome = await backends.intake.create("leak", {"customer_number": cust(1)}, "w:1")
        assert outcome.ok
        # the engine's outbox task does this every billing.outbox.interval_s
        assert (await backends.outbox.deliver_due()).delivered == 1
        assert not await pending(backends.db)
        # written when the stack closes, before the database is
        await backends.recorder.write(
            CallRecord(call_id="w", caller="", entry="main", started_at=NOW.isoformat())
        )
    billing_db = open_engine(billing_url)
    try:
        received = await DatabaseBillingGateway(billing_db).received()
    finally:
        await billing_db.dispose()
    assert [(r["kind"], r["payload"]["confirmation"]) for r in received] == [
        ("leak", outcome.confirmation)
    ]
    main_db = open_engine(db_url)
    try:
        assert [r["id"] for r in await rows(main_db, calls)] == ["w"]
    finally:
        await main_db.dispose()


async def test_open_backends_creates_a_fresh_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'hotline.sqlite3'}"
    config = parse_config({"database": {"url": url}, "billing": {"database_url": url}}, {})
    flows = FlowRegistry(ROOT / "dialplans", ROOT / "prompts/catalog.yaml")
    flows.load()
    async with AsyncExitStack() as stack:
        backends = await open_backends(config, flows, stack)
        assert not await backends.accounts.lookup_by_phone("0935821234")
    assert await current_revision(url) == head_revision()


async def test_the_audit_names_the_call_the_session_passed_not_the_log_context(
    engine: AsyncEngine, store: AccountStore
) -> None:
    await seed(engine)
    accounts = StoreAccounts(store)
    await accounts.lookup_by_phone("0935821234")  # outside a call
    # a task whose log context says another call: the audit row follows the port's argument
    with call_context("call-logged"):
        await asyncio.create_task(accounts.lookup_by_phone("0935821234", call_id="call-9"))
    assert [r["call_id"] for r in await rows(engine, audit_log)] == [None, "call-9"]


async def test_the_engine_loads_a_flow_naming_a_department_only_the_database_has(
    db_url: str, tmp_path: Path
) -> None:
    """Added on /admin/departments, not in config.yaml: `hotline run` starts with the flow."""
    dialplans = tmp_path / "dialplans"
    dialplans.mkdir()
    (dialplans / "sewer.yaml").write_text(
        "flow: {id: sewer, start: hand_over, fallback: bye}\n"
        "nodes:\n"
        "  hand_over: {kind: transfer, department: sewer, on_failed: bye}\n"
        "  bye: {kind: hangup, prompts: [thank-you-goodbye]}\n",
        encoding="utf-8",
    )
    billing_url = f"sqlite+aiosqlite:///{tmp_path / 'billing.sqlite3'}"
    routing = {"departments": {"emergency_duty": {"on_duty": ["PJSIP/onduty"]}}}
    config = parse_config(
        {"database": {"url": db_url}, "billing": {"database_url": billing_url}, "routing": routing},
        {},
    )
    db = open_engine(db_url)
    try:
        sewer = Department("sewer", "下水道課", "Sewerage", "PJSIP/sewer")
        await DepartmentBook(db).save(sewer, "admin:boss", NOW, calendars=(), new=True)
    finally:
        await db.dispose()
    flows = FlowRegistry(dialplans, ROOT / "prompts/catalog.yaml", config)
    async with AsyncExitStack() as stack:
        await open_backends(config, flows, stack)
        assert flows.live("sewer").flow.nodes["hand_over"].kind == "transfer"
        assert flows.department_names == frozenset({"emergency_duty", "sewer"})
