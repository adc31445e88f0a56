"""An agent's account search on SQLite and PostgreSQL: by customer number, phone and the kana
prefix (as agents type it: hiragana, full-width spaces), bounded, and every account shown in the
audit log with the agent and the call; a look-up that found nobody is audited too."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.numbers import customer_number
from ivr.store.accounts import AuditContext
from ivr.store.search import InvalidTerm, SearchBy, account_query, search_accounts
from ivr.store.tables import accounts, audit_log
from tests.integration.store.storedata import NOW, cust, seed

pytestmark = pytest.mark.integration

AGENT = AuditContext("agent:agent1", "search", call_id="call-9")

# id -> reading; the seed's five accounts all read シケン
READINGS = {
    11: "スイドウ ハナコ",
    12: "スイドウ タロウ",
    13: "スイセン ジロウ",
    14: "ミズノ ハナ",
    15: "スイドウ アキ",
}


async def seed_readings(engine: AsyncEngine, more: dict[int, str] | None = None) -> None:
    await seed(engine)
    rows = {**READINGS, **(more or {})}
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(accounts),
            [
                {
                    "id": aid,
                    "customer_number": customer_number(aid),
                    "holder_name": f"名前 {aid}",
                    "holder_kana": kana,
                    "status": "active",
                    "balance_yen": 0,
                    "overdue_since": None,
                    "payment_method": "invoice",
                    "created_at": NOW,
                }
                for aid, kana in rows.items()
            ],
        )


async def audit(engine: AsyncEngine) -> list[tuple[str, str, int | None, str, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(
                audit_log.c.actor,
                audit_log.c.action,
                audit_log.c.account_id,
                audit_log.c.reason,
                audit_log.c.call_id,
            ).order_by(audit_log.c.id)
        )
        return [tuple(r) for r in rows]


async def test_a_kana_prefix_finds_the_readings_in_order_and_audits_each_shown(
    engine: AsyncEngine,
) -> None:
    await seed_readings(engine)
    found = await search_accounts(engine, account_query("kana", "すいどう"), AGENT, NOW)
    assert [a.holder_kana for a in found.accounts] == [
        "スイドウ アキ",
        "スイドウ タロウ",
        "スイドウ ハナコ",
    ]
    assert not found.more
    assert await audit(engine) == [
        ("agent:agent1", "search_kana", aid, "search", "call-9") for aid in (15, 12, 11)
    ]


async def test_the_full_name_with_a_full_width_space_and_half_width_kana(
    engine: AsyncEngine,
) -> None:
    await seed_readings(engine)
    found = await search_accounts(engine, account_query("kana", "スイドウ　ハナ"), AGENT, NOW)
    assert [a.id for a in found.accounts] == [11]
    found = await search_accounts(engine, account_query("kana", "ｽｲｾﾝ"), AGENT, NOW)
    assert [a.id for a in found.accounts] == [13]


async def test_results_are_bounded_and_say_there_are_more(engine: AsyncEngine) -> None:
    many = {100 + n: f"ヤマダ {chr(0x30A2 + n)}" for n in range(25)}
    await seed_readings(engine, many)
    found = await search_accounts(engine, account_query("kana", "ヤマダ"), AGENT, NOW, limit=20)
    assert (len(found.accounts), found.more) == (20, True)
    rows = await audit(engine)
    assert len(rows) == 20  # the shown ones, not the five left over
    assert {r[2] for r in rows} == {a.id for a in found.accounts}


async def test_a_shared_landline_shows_both_accounts(engine: AsyncEngine) -> None:
    await seed_readings(engine)
    found = await search_accounts(engine, account_query("phone", "093-555-0000"), AGENT, NOW)
    assert [a.id for a in found.accounts] == [2, 3]
    assert found.accounts[0].premises[0].id == 102
    assert [(r[1], r[2]) for r in await audit(engine)] == [
        ("search_phone", 2),
        ("search_phone", 3),
    ]


async def test_by_customer_number_and_a_miss_is_audited_without_an_account(
    engine: AsyncEngine,
) -> None:
    await seed_readings(engine)
    found = await search_accounts(engine, account_query("customer_number", cust(5)), AGENT, NOW)
    assert [(a.id, len(a.premises)) for a in found.accounts] == [(5, 2)]
    missing = customer_number(999)
    assert (
        await search_accounts(engine, account_query("customer_number", missing), AGENT, NOW)
    ).accounts == ()
    assert [(r[1], r[2]) for r in await audit(engine)] == [
        ("search_number", 5),
        ("search_number", None),
    ]


@pytest.mark.parametrize(
    ("by", "raw", "code"),
    [
        ("customer_number", cust(5)[:-1] + str((int(cust(5)[-1]) + 1) % 10), "invalid_number"),
        ("customer_number", "12345", "invalid_number"),
        ("phone", "12", "invalid_phone"),
        ("kana", "ス", "too_short"),
        ("kana", "suido", "invalid_kana"),
        ("kana", "スイ%", "invalid_kana"),  # a LIKE wildcard never reaches the query
        ("kana", "ア" * 51, "too_long"),
    ],
)
def test_terms_that_cannot_be_searched(by: SearchBy, raw: str, code: str) -> None:
    with pytest.raises(InvalidTerm) as raised:
        account_query(by, raw)
    assert raised.value.code == code
