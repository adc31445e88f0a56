from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.errors import InvalidNumber
from ivr.store.accounts import AccountStore, AuditContext
from ivr.store.demo import demo
from ivr.store.migrate import current_revision, head_revision, migrate
from ivr.store.models import MatchKind
from ivr.store.tables import accounts, audit_log, metadata, phones, premises
from tests.integration.store.storedata import NOW, cust, seed
from tests.support.notices import insert_notice

pytestmark = pytest.mark.integration

IVR = AuditContext("ivr", "caller-id", call_id="call-1")


async def test_migrations_match_the_tables(db_url: str, engine: AsyncEngine) -> None:
    assert await current_revision(db_url) == head_revision()
    assert await migrate(db_url) == head_revision()  # repeatable

    def diff(conn: sa.Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


@pytest.mark.parametrize(
    ("presented", "kind", "ids"),
    [
        ("0935821234", MatchKind.ONE, [1]),
        ("+81935821234", MatchKind.ONE, [1]),
        ("093-582-1234", MatchKind.ONE, [1]),
        ("0935550000", MatchKind.SEVERAL, [2, 3]),
        ("0935559999", MatchKind.NONE, []),
        ("0935", MatchKind.NONE, []),
        ("anonymous", MatchKind.WITHHELD, []),
        ("Anonymous", MatchKind.WITHHELD, []),
        ("unavailable", MatchKind.WITHHELD, []),
        ("", MatchKind.WITHHELD, []),
    ],
)
async def test_match_outcomes_and_audit(
    engine: AsyncEngine, store: AccountStore, presented: str, kind: MatchKind, ids: list[int]
) -> None:
    await seed(engine)
    match = await store.match_caller(presented, IVR)
    assert match.kind is kind
    assert [a.id for a in match.accounts] == ids
    if kind is MatchKind.ONE:
        assert match.account is not None
        assert match.account.premises[0].id == 101
        assert match.account.phones == ("+81935821234",)
    audit = await store.audit_trail()
    assert len(audit) == max(len(ids), 1)
    expected: set[int | None] = set(ids) or {None}
    assert {a.account_id for a in audit} == expected
    assert all(a.actor == "ivr" and a.call_id == "call-1" for a in audit)


async def test_several_lists_active_accounts_first(
    engine: AsyncEngine, store: AccountStore
) -> None:
    await seed(engine)
    match = await store.match_caller("0935550000", IVR)
    assert [a.status for a in match.accounts] == ["active", "shut_off"]
    assert match.account is None


async def test_lookup_by_customer_number_is_audited(
    engine: AsyncEngine, store: AccountStore
) -> None:
    await seed(engine)
    agent = AuditContext("agent:agent01", "screen-pop")
    found = await store.by_customer_number(cust(5), agent)
    assert found is not None
    assert [p.id for p in found.premises] == [105, 106]
    assert await store.by_customer_number(cust(99), agent) is None
    with pytest.raises(InvalidNumber):
        await store.by_customer_number("1234567890", agent)
    trail = await store.audit_trail()
    assert [(a.action, a.account_id) for a in trail] == [
        ("lookup_number_invalid", None),
        ("lookup_number", None),
        ("lookup_number", 5),
    ]
    assert await store.audit_trail(account_id=5) == [trail[-1]]


async def test_notices_for_an_area(engine: AsyncEngine, store: AccountStore) -> None:
    await seed(engine)
    async with engine.begin() as conn:
        for areas, until in ((["chuo-01", "chuo-03"], 5), (["chuo-01"], -0.5), (["chuo-02"], 5)):
            await insert_notice(conn, areas, NOW - timedelta(hours=1), NOW + timedelta(hours=until))
    found = await store.notices_for(["chuo-01"], NOW)
    # the notice of two areas is in force in both (told once); the one that ended is not
    assert [(n.area_code, n.valid_until > NOW) for n in found] == [("chuo-01", True)]
    both = await store.notices_for(["chuo-01", "chuo-03"], NOW)
    assert [(n.id, n.area_code) for n in both] == [(found[0].id, "chuo-01")]
    assert [n.id for n in await store.notices_for(["chuo-03"], NOW)] == [found[0].id]
    assert found[0].valid_from.tzinfo is not None


async def test_demo_data(engine: AsyncEngine, store: AccountStore) -> None:
    seen: list[tuple[int, int]] = []
    assert await demo(engine, 3000, chunk=1000, progress=lambda d, t: seen.append((d, t))) == 3000
    assert seen == [(1000, 3000), (2000, 3000), (3000, 3000)]
    async with engine.connect() as conn:
        counted = await conn.execute(
            sa.select(accounts.c.status, sa.func.count()).group_by(accounts.c.status)
        )
        statuses: dict[str, int] = {str(row[0]): int(row[1]) for row in counted}
        n_phones = (await conn.execute(sa.select(sa.func.count()).select_from(phones))).scalar()
        vacant = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(premises)
                .where(premises.c.account_id.is_(None))
            )
        ).scalar()
        sample = (await conn.execute(sa.select(phones.c.e164).limit(1))).scalar_one()
    assert sum(statuses.values()) == 3000
    assert statuses["shut_off"] > 30
    assert statuses["stopped"] > 30
    assert n_phones is not None
    assert n_phones > 2000
    assert vacant is not None
    assert vacant > 50
    match = await store.match_caller(sample, IVR)
    assert match.kind in (MatchKind.ONE, MatchKind.SEVERAL)
    # the README's test caller is account 1, active, at a premise of its own
    readme = await store.match_caller("0935821234", IVR)
    assert readme.account is not None
    assert (readme.account.id, readme.account.status) == (1, "active")
    assert readme.account.premises
    # a second run appends (new ids continue; sequences still work for normal inserts)
    await demo(engine, 10, seed=7)
    async with engine.begin() as conn:
        await conn.execute(sa.insert(audit_log).values(at=NOW, actor="t", action="x", reason="y"))
        total = (await conn.execute(sa.select(sa.func.count()).select_from(accounts))).scalar()
    assert total == 3010
