"""Complaint / request cases and the knowledge base on SQLite and PostgreSQL: a case keyed on a
call reaches its department's work list (the account shown audited), its steps with who and
when, a step never undone; FAQ entries found by a half-width katakana, hiragana or full-width
query, only while live, proposed entries live once accepted, every change audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.domain import TOKYO
from ivr.reports.queries import ReportSpec, build_report
from ivr.reports.render import render
from ivr.store.accounts import AuditContext
from ivr.store.cases import CaseDraft, CaseNotFound, CaseStore, StepRefused, draft_problems
from ivr.store.knowledge import EntryDraft, EntryNotFound, KnowledgeBase, normalise_text
from ivr.store.tables import audit_log, call_events, calls
from tests.integration.store.storedata import NOW, cust, seed

pytestmark = pytest.mark.integration

DEPARTMENTS = ("construction", "emergency_duty")
CTX = AuditContext("agent:dept1", "case_list")


async def actions(engine: AsyncEngine, prefix: str) -> list[tuple[str, str, int | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.action, audit_log.c.account_id)
            .where(audit_log.c.action.like(f"{prefix}%"))
            .order_by(audit_log.c.id)
        )
        return [(r[0], r[1], r[2]) for r in rows]


async def test_a_case_reaches_the_department_and_is_followed_up(engine: AsyncEngine) -> None:
    await seed(engine)
    store = CaseStore(engine)
    draft = CaseDraft(
        "complaint", "water_quality", "水が濁っている", "construction", "call-1", cust(1)
    )
    assert draft_problems(draft, DEPARTMENTS) == {}
    case = await store.add(draft, "agent:agent1", NOW)
    assert (case.status, case.received_by, case.customer_number) == (
        "received",
        "agent:agent1",
        cust(1),
    )
    listed = await store.work_list("construction", CTX, NOW)
    assert [c.id for c in listed] == [case.id]
    assert await store.work_list("emergency_duty", CTX, NOW) == []

    later = NOW + timedelta(minutes=5)
    taken = await store.advance(case.id, "construction", "in_hand", "agent:dept1", later)
    assert (taken.status, taken.in_hand_by, taken.in_hand_at) == ("in_hand", "agent:dept1", later)
    done = await store.advance(
        case.id, "construction", "answered", "agent:dept1", later, answer="配管を洗浄しました"
    )
    assert (done.status, done.answer) == ("answered", "配管を洗浄しました")
    with pytest.raises(StepRefused):
        await store.advance(case.id, "construction", "in_hand", "agent:dept1", later)
    with pytest.raises(CaseNotFound):  # not on that department's list
        await store.advance(case.id, "emergency_duty", "answered", "agent:dept1", later)
    mine = await store.keyed_by("agent:agent1", CTX, later)
    assert [(c.id, c.status, c.answered_by) for c in mine] == [(case.id, "answered", "agent:dept1")]
    assert await store.count_received(NOW, NOW + timedelta(days=1)) == {"complaint": 1}
    audited = await actions(engine, "case")
    assert audited[0][:2] == ("agent:agent1", "case_add")
    assert ("agent:dept1", "case_list", 1) in audited  # the account shown on the list
    assert [a[1] for a in audited if a[1] in ("case_in_hand", "case_answered")] == [
        "case_in_hand",
        "case_answered",
    ]


async def test_bad_case_fields_are_named() -> None:
    bad = CaseDraft("praise", "", "x" * 2001, "nowhere")
    assert draft_problems(bad, DEPARTMENTS) == {
        "kind": "unknown",
        "category": "required",
        "said": "too_long",
        "department": "unknown",
    }


async def test_kb_search_matches_kana_width_and_hiragana(engine: AsyncEngine) -> None:
    kb = KnowledgeBase(engine)
    entry = await kb.add(
        EntryDraft(
            "ja",
            "スイドウ料金の支払い方法は？",
            "口座振替、コンビニ、クレジットカードです。",
            "billing",
        ),
        "admin:boss",
        NOW,
    )
    await kb.add(EntryDraft("en", "How do I pay?", "By bank debit.", "billing"), "admin:boss", NOW)
    for query in ("ｽｲﾄﾞｳ", "すいどう", "スイドウ　料金", "ｸﾚｼﾞｯﾄ"):
        assert [e.id for e in await kb.search(query, lang="ja")] == [entry.id], query
    assert [e.lang for e in await kb.search("PAY")] == ["en"]
    assert await kb.search("スイドウ", categories=["moving"]) == []
    assert normalise_text("ＡＢＣ　ｶﾞｽ") == "abc ガス"
    # a LIKE wildcard typed by the agent is a character, not a pattern
    assert await kb.search("%") == []

    await kb.retire(entry.id, "admin:boss", NOW)
    assert await kb.search("すいどう") == []


async def test_a_proposed_entry_goes_live_when_accepted(engine: AsyncEngine) -> None:
    kb = KnowledgeBase(engine)
    draft = EntryDraft(
        "ja", "漏水の連絡先は？", "24時間受け付けています。", "leak", "emergency_duty"
    )
    proposed = await kb.add(draft, "agent:agent1", NOW, state="proposed", call_id="call-9")
    assert await kb.search("漏水") == []
    assert [e.id for e in await kb.listing("proposed")] == [proposed.id]
    accepted = await kb.accept(proposed.id, "admin:boss", NOW)
    assert accepted.state == "live"
    assert [e.id for e in await kb.search("ろうすい 漏水")] == []  # hiragana is not kanji
    assert [e.id for e in await kb.search("漏水")] == [proposed.id]
    with pytest.raises(EntryNotFound):
        await kb.accept(proposed.id, "admin:boss", NOW)
    edited = await kb.edit(
        proposed.id,
        EntryDraft("ja", "水漏れの連絡先は？", "24時間です。", "leak"),
        "admin:boss",
        NOW,
    )
    assert (edited.question, edited.updated_by) == ("水漏れの連絡先は？", "admin:boss")
    assert [e.id for e in await kb.search("水漏れ")] == [proposed.id]
    assert [a[:2] for a in await actions(engine, "kb")] == [
        ("agent:agent1", "kb_propose"),
        ("admin:boss", "kb_accept"),
        ("admin:boss", "kb_edit"),
    ]


async def test_the_report_counts_the_cases_of_its_period(engine: AsyncEngine) -> None:
    store = CaseStore(engine)
    for kind, department, at in (
        ("complaint", "construction", NOW),
        ("complaint", "construction", NOW + timedelta(hours=1)),
        ("request", "emergency_duty", NOW),
        ("request", "construction", NOW + timedelta(days=2)),  # after the period
    ):
        await store.add(CaseDraft(kind, "billing", "…", department), "agent:agent1", at)
    day = NOW.astimezone(TOKYO).date()
    report = await build_report(engine, ReportSpec(day, day), NOW)
    assert report.cases == {("complaint", "construction"): 2, ("request", "emergency_duty"): 1}
    assert '"complaints_and_requests"' in render(report, "json")


async def test_entries_are_suggested_by_the_calls_ivr_path(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(calls).values(id="call-7", caller_kind="number", started_at=NOW)
        )
        await conn.execute(
            sa.insert(call_events),
            [
                {"call_id": "call-7", "at": NOW, "kind": kind, "data": data}
                for kind, data in (
                    ("entered_ivr", {"node": "greeting"}),
                    ("menu_choice", {"node": "main_menu", "digit": "3"}),
                    ("entered_node", {"node": "outage_info"}),
                    ("entered_node", {"node": "main_menu"}),
                    ("hung_up", {}),
                )
            ],
        )
    kb = KnowledgeBase(engine)
    menu = await kb.add(EntryDraft("ja", "メニューの使い方", "…", "main_menu"), "admin:boss", NOW)
    outage = await kb.add(
        EntryDraft("ja", "断水はいつまで？", "…", "outage_info"), "admin:boss", NOW
    )
    await kb.add(EntryDraft("ja", "引っ越し", "…", "moving_menu"), "admin:boss", NOW)
    path = await kb.call_path("call-7")
    assert path == ["greeting", "main_menu", "outage_info"]
    # the latest step of the call first
    assert [e.id for e in await kb.suggested(path)] == [outage.id, menu.id]
    assert await kb.suggested(await kb.call_path("no-such-call")) == []
