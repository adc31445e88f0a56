"""A database error during an intake, with every logger at DEBUG: no line the engine logs (the
message, the exception's text, the traceback) carries the caller's name, address, phone or
customer number, on SQLite and PostgreSQL. SQLAlchemy used to print `[parameters: ...]` with
the insert's values; aiosqlite logs every statement's values at DEBUG."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.domain import RequestKind
from ivr.intake.service import IntakeRequest, IntakeService
from ivr.logs import quiet_data_loggers
from tests.integration.store.storedata import NOW, cust, seed

pytestmark = pytest.mark.integration

NAME, KANA, PHONE = "山田 花子", "ヤマダ ハナコ", "090-1234-5678"


async def test_a_failing_database_leaks_nothing_into_the_logs(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    await seed(engine)
    # the outbox is gone: the request row is written, then its outbox row fails, carrying
    # the billing payload (names, phone, customer number) as the statement's values
    async with engine.begin() as conn:
        await conn.execute(sa.text("DROP TABLE billing_outbox"))
    caplog.set_level(logging.DEBUG)
    quiet_data_loggers()
    service = IntakeService(engine, business_days=lambda a, b, /: 10, clock=lambda: NOW)
    request = IntakeRequest(
        RequestKind.NAME_CHANGE,
        "ivr",
        "ivr",
        {"customer_number": cust(2), "holder_name": NAME, "holder_kana": KANA},
        call_id="c-logs",
    )
    log = logging.getLogger("ivr.calls.session")
    with pytest.raises(DBAPIError) as info:
        await service.submit(request)
    # as the call session logs an unexpected error (with its traceback)
    log.error("call session failed; apologising", exc_info=info.value)
    formatter = logging.Formatter("%(name)s %(message)s")
    text = "\n".join(formatter.format(r) for r in caplog.records)
    assert "call session failed" in text
    assert "hide_parameters" in text  # SQLAlchemy says the values were left out
    for secret in (NAME, KANA, PHONE, cust(2), "ヤマダ", "山田"):
        assert secret not in text
