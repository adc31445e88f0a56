"""Demo data that looks like a Japanese city's waterworks: `hotline demo` and the benchmarks.

A fictional city (若葉市) with seven wards; holders with kanji names and katakana readings;
landlines in the 093 area and 090/080/070 mobiles, some shared between accounts (a landlord, a
family with two premises); about 4 % of accounts shut off and 8 % overdue; vacant premises to
start service at; a few notices. Rows are generated in chunks and bulk-inserted (COPY on
PostgreSQL), so a million accounts take about a minute, not an hour.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.numbers import customer_number
from ivr.store.bulk import bulk_insert
from ivr.store.passwords import Passwords
from ivr.store.staff import NewStaff, Role, StaffMember, StaffStore
from ivr.store.tables import accounts, notice_areas, notices, phones, premises

Progress = Callable[[int, int], None]
"""Called with (accounts written so far, total)."""

CITY = "若葉市"
WARDS = (
    ("中央区", "chuo", "800"),
    ("北区", "kita", "801"),
    ("東区", "higashi", "802"),
    ("西区", "nishi", "803"),
    ("南区", "minami", "804"),
    ("港区", "minato", "805"),
    ("山手区", "yamate", "806"),
)
TOWNS = (
    "本町",
    "栄町",
    "旭町",
    "緑町",
    "桜ケ丘",
    "若松",
    "大手町",
    "新町",
    "松原",
    "高見",
    "浜町",
    "泉台",
)
SURNAMES = (
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("清水", "シミズ"),
    ("山口", "ヤマグチ"),
    ("森", "モリ"),
    ("池田", "イケダ"),
)
GIVEN = (
    ("太郎", "タロウ"),
    ("花子", "ハナコ"),
    ("健一", "ケンイチ"),
    ("美咲", "ミサキ"),
    ("大輔", "ダイスケ"),
    ("陽子", "ヨウコ"),
    ("翔太", "ショウタ"),
    ("由美", "ユミ"),
    ("誠", "マコト"),
    ("恵子", "ケイコ"),
    ("拓也", "タクヤ"),
    ("直美", "ナオミ"),
    ("浩二", "コウジ"),
    ("さくら", "サクラ"),
    ("修", "オサム"),
    ("明美", "アケミ"),
)
COMPANIES = (("若葉不動産株式会社", "ワカバフドウサン"), ("有限会社みなと商店", "ミナトショウテン"))
PAYMENT_WEIGHTS = (
    ("bank_debit", 60),
    ("convenience_store", 25),
    ("credit_card", 10),
    ("invoice", 5),
)


def area_code(ward_index: int, town_index: int) -> str:
    return f"{WARDS[ward_index][1]}-{town_index + 1:02d}"


async def _max_id(conn: AsyncConnection, table: sa.Table) -> int:
    return int(
        (await conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0)))).scalar_one()
    )


async def _fix_sequences(conn: AsyncConnection, tables: tuple[sa.Table, ...]) -> None:
    if conn.dialect.name != "postgresql":
        return
    for t in tables:
        await conn.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('{t.name}', 'id'), "  # noqa: S608
                f"(SELECT COALESCE(MAX(id), 1) FROM {t.name}))"
            )
        )


# demo account 1 answers to this number: `sipp ... -key cid 0935821234` is recognised
DEMO_CALLER = "+81935821234"


async def demo(
    engine: AsyncEngine,
    n: int,
    *,
    seed: int = 2004,
    progress: Progress | None = None,
    chunk: int = 20_000,
    today: date | None = None,
) -> int:
    """Add `n` demo accounts (with premises, phones and a few notices).

    Returns the number of accounts written. Deterministic for a given seed and starting state.
    """
    rnd = random.Random(seed)  # noqa: S311 — demo data, not secrets
    day = today or datetime.now(UTC).date()
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        acc0 = await _max_id(conn, accounts)
        prem0 = await _max_id(conn, premises)
        phone0 = await _max_id(conn, phones)
    draw = _DemoDraw(rnd, day, now, prem0, phone0)
    done = 0
    while done < n:
        size = min(chunk, n - done)
        rows = _Rows()
        for k in range(size):
            draw.account(acc0 + done + k + 1, rows)
        async with engine.begin() as conn:
            await bulk_insert(conn, accounts, rows.accounts)
            await bulk_insert(conn, premises, rows.premises)
            await bulk_insert(conn, phones, rows.phones)
        done += size
        if progress is not None:
            progress(done, n)
    async with engine.begin() as conn:
        await _fix_sequences(conn, (accounts, premises, phones))
        await _seed_notices(conn, rnd, now)
    return done


@dataclass
class _Rows:
    accounts: list[dict[str, Any]] = field(default_factory=list)
    premises: list[dict[str, Any]] = field(default_factory=list)
    phones: list[dict[str, Any]] = field(default_factory=list)


class _DemoDraw:
    """The demo rows, drawn from one random sequence: a seed reproduces the same data only while
    the draws keep their order, so any change here changes every demo database."""

    def __init__(
        self, rnd: random.Random, day: date, now: datetime, prem_id: int, phone_id: int
    ) -> None:
        self.rnd = rnd
        self.day = day
        self.now = now
        self.prem_id = prem_id
        self.phone_id = phone_id
        self.shared_pool: list[str] = []
        self.pay_methods = [m for m, _ in PAYMENT_WEIGHTS]
        self.pay_weights = [w for _, w in PAYMENT_WEIGHTS]

    def account(self, aid: int, rows: _Rows) -> None:
        rnd = self.rnd
        name, kana = self.holder()
        status, balance, overdue = self.standing(aid)
        rows.accounts.append(
            {
                "id": aid,
                "customer_number": customer_number(aid),
                "holder_name": name,
                "holder_kana": kana,
                "status": status,
                "balance_yen": balance,
                "overdue_since": overdue,
                "payment_method": rnd.choices(self.pay_methods, self.pay_weights)[0],
                "created_at": self.now,
            }
        )
        self.premises(aid, status, rows.premises)
        for label, e164 in zip(
            ("home", "mobile", "other"), dict.fromkeys(self.numbers(aid)), strict=False
        ):
            self.phone_id += 1
            rows.phones.append(
                {"id": self.phone_id, "account_id": aid, "e164": e164, "label": label}
            )

    def holder(self) -> tuple[str, str]:
        rnd = self.rnd
        if rnd.random() < 0.02:
            return rnd.choice(COMPANIES)
        s, sk = rnd.choice(SURNAMES)
        g, gk = rnd.choice(GIVEN)
        return f"{s} {g}", f"{sk} {gk}"

    def standing(self, aid: int) -> tuple[str, int, date | None]:
        """Status, balance and the date the balance is overdue since."""
        rnd = self.rnd
        r = rnd.random()
        status = "active" if r < 0.90 else ("stopped" if r < 0.96 else "shut_off")
        if aid == 1:
            # the README's test caller: an ordinary active customer, so every self-service
            # path (stop, move, changes) can be tried with it
            status = "active"
        overdue: date | None = None
        balance = 0
        if status == "shut_off" or (status == "active" and rnd.random() < 0.08):
            overdue = self.day - timedelta(days=rnd.randint(20, 200))
            balance = rnd.randint(2, 60) * 500
        return status, balance, overdue

    def premises(self, aid: int, status: str, prem_rows: list[dict[str, Any]]) -> None:
        rnd = self.rnd
        # one premise per account; 3 % have a second one; 5 % extra vacant premises
        for owner in (aid, aid if rnd.random() < 0.03 else None, None):
            if (
                owner is None
                and rnd.random() >= 0.05
                and len(prem_rows)
                and prem_rows[-1]["account_id"] == aid
            ):
                continue
            self.prem_id += 1
            w = rnd.randrange(len(WARDS))
            t = rnd.randrange(len(TOWNS))
            ward, _, postal = WARDS[w]
            prem_rows.append(
                {
                    "id": self.prem_id,
                    "account_id": owner if status != "stopped" else None,
                    "address": f"{CITY}{ward}{TOWNS[t]}{rnd.randint(1, 5)}丁目"
                    f"{rnd.randint(1, 30)}番{rnd.randint(1, 20)}号",
                    "postal_code": f"{postal}-{t * 7 + w:04d}",
                    "area_code": area_code(w, t),
                    "meter_number": f"{self.prem_id:08d}",  # keyable: the IVR takes it for a move
                }
            )

    def numbers(self, aid: int) -> list[str]:
        rnd = self.rnd
        numbers: list[str] = []
        if rnd.random() < 0.7:
            numbers.append(f"+8193{rnd.randint(2000000, 9999999)}")
        if rnd.random() < 0.6:
            numbers.append(f"+81{rnd.choice('987')}0{rnd.randint(10000000, 99999999)}")
        if aid == 1:
            # the README's test call (SIPp caller ID 0935821234) finds this account
            numbers = [DEMO_CALLER]
        elif self.shared_pool and rnd.random() < 0.02:
            numbers.append(rnd.choice(self.shared_pool))
        elif numbers and rnd.random() < 0.01 and len(self.shared_pool) < 5000:
            self.shared_pool.append(numbers[0])
        return numbers


async def _seed_notices(conn: AsyncConnection, rnd: random.Random, now: datetime) -> None:
    texts = {
        "construction": ("水道管の工事を行います。", "Water main construction is under way."),
        "planned_outage": ("断水を予定しています。", "A planned water outage is scheduled."),
        "discoloured_water": ("濁り水が出る場合があります。", "Tap water may be discoloured."),
    }
    for kind, (ja, en) in texts.items():
        w, t = rnd.randrange(len(WARDS)), rnd.randrange(len(TOWNS))
        # audio pending: the engine renders it as it does an admin's new notice
        notice_id = (
            await conn.execute(
                sa.insert(notices)
                .values(
                    kind=kind,
                    text_ja=ja,
                    text_en=en,
                    valid_from=now - timedelta(days=1),
                    valid_until=now + timedelta(days=14),
                    created_at=now,
                    created_by="demo",
                )
                .returning(notices.c.id)
            )
        ).scalar_one()
        await conn.execute(
            sa.insert(notice_areas).values(notice_id=notice_id, area_code=area_code(w, t))
        )


@dataclass(frozen=True, slots=True)
class DemoPhone:
    """An agent phone of the configuration (`routing.agents`): who the demo agent is."""

    login: str
    endpoint: str
    skills: tuple[str, ...]


async def demo_staff(
    store: StaffStore, phones: Sequence[DemoPhone], passwords: Passwords, now: datetime
) -> list[tuple[StaffMember, str]]:
    """Demo staff for `scripts/start`: one agent per configured agent phone, a supervisor and an
    admin, each with a new random password (returned once, stored only as its hash). Returns
    nothing when the database has staff already: an existing console is never reset."""
    if await store.all():
        return []
    people = [
        NewStaff(p.login, f"オペレーター {p.login}", Role.AGENT, p.endpoint, p.skills)
        for p in phones
    ]
    people += [
        NewStaff("supervisor", "スーパーバイザー", Role.SUPERVISOR),
        NewStaff("admin", "管理者", Role.ADMIN, language="en"),
    ]
    made = []
    for person in people:
        password = secrets.token_urlsafe(12)
        member = await store.add(person, await passwords.hash(password), now)
        made.append((member, password))
    return made
