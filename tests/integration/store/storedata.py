"""Small, explicit fixtures for the store tests (the demo generator is tested separately)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.numbers import customer_number
from ivr.store.tables import accounts, phones, premises

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 10:00 in Tokyo
TODAY = date(2026, 3, 2)

# account id → (status, phones, premise ids)
ACCOUNTS: dict[int, tuple[str, tuple[str, ...], tuple[int, ...]]] = {
    1: ("active", ("+81935821234",), (101,)),
    2: ("active", ("+819012345678", "+81935550000"), (102,)),
    3: ("shut_off", ("+81935550000",), (103,)),  # shares a landline with account 2
    4: ("stopped", (), ()),
    5: ("active", ("+818011112222",), (105, 106)),  # two premises
}
VACANT = (201, 202)


def cust(account_id: int) -> str:
    return customer_number(account_id)


async def seed(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(accounts),
            [
                {
                    "id": aid,
                    "customer_number": cust(aid),
                    "holder_name": f"試験 {aid}",
                    "holder_kana": "シケン",
                    "status": status,
                    "balance_yen": 3000 if status == "shut_off" else 0,
                    "overdue_since": date(2026, 1, 10) if status == "shut_off" else None,
                    "payment_method": "bank_debit",
                    "created_at": NOW,
                }
                for aid, (status, _, _) in ACCOUNTS.items()
            ],
        )
        prem: list[tuple[int, int | None]] = [
            (pid, aid) for aid, (_, _, pids) in ACCOUNTS.items() for pid in pids
        ]
        prem += [(pid, None) for pid in VACANT]
        await conn.execute(
            sa.insert(premises),
            [
                {
                    "id": pid,
                    "account_id": aid,
                    "address": f"若葉市中央区本町1丁目{pid}番",
                    "postal_code": "800-0001",
                    "area_code": "chuo-01" if pid % 2 else "chuo-02",
                    "meter_number": f"M{pid:09d}",
                }
                for pid, aid in prem
            ],
        )
        await conn.execute(
            sa.insert(phones),
            [
                {"account_id": aid, "e164": e164, "label": "home"}
                for aid, (_, nums, _) in ACCOUNTS.items()
                for e164 in nums
            ],
        )
        if conn.dialect.name == "postgresql":
            for t in ("accounts", "premises", "phones"):
                await conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT MAX(id) FROM {t}))"  # noqa: S608
                )
