"""The whole hotline on the real Asterisk: a SIPp caller recognised by caller ID from the
database signs up for bank debit by keypad; the request is committed with its billing outbox
row before the caller hears the confirmation number, and is then delivered to billing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.app import Engine, build, flow_registry
from ivr.config import AppConfig, parse_config
from ivr.intake.outbox import pending
from ivr.store.tables import audit_log, call_events, calls, premises, service_requests
from tests.integration.store.storedata import seed
from tests.support.sandbox import Sandbox
from tests.support.sipp import Sipp, SippResult, caller_args, keys_scenario

pytestmark = pytest.mark.integration

CALLER = "0935821234"  # account 1 in storedata: +81935821234
ROOT = Path(__file__).resolve().parents[2]


def hotline_config(sandbox: Sandbox, workdir: Path) -> AppConfig:
    always = {"always_open": True}
    return parse_config(
        {
            "ari": {"reconnect_initial_s": 0.05, "reconnect_max_s": 0.5},
            "database": {"url": f"sqlite+aiosqlite:///{workdir / 'hotline.sqlite3'}"},
            "billing": {
                "adapter": "database",
                "database_url": f"sqlite+aiosqlite:///{workdir / 'billing.sqlite3'}",
                # delivery is driven by the test below, not by the timer
                "outbox": {"interval_s": 3600},
            },
            "routing": {
                "calendars": {"phone": always, "emergency": always, "construction": always}
            },
        },
        {
            "HOTLINE_ARI_URL": sandbox.ari_url,
            "HOTLINE_ARI_USER": sandbox.ari_user,
            "HOTLINE_ARI_PASSWORD": sandbox.ari_password,
        },
    )


async def call_in(
    sandbox: Sandbox,
    workdir: Path,
    keys: str,
    gaps: int | list[int],
    hang_up_after_ms: int | None,
    caller_id: str = CALLER,
) -> SippResult:
    """The demo caller presses `keys` on the main number."""
    caller = Sipp(
        keys_scenario(workdir, keys, gap_ms=gaps, hang_up_after_ms=hang_up_after_ms),
        caller_args(sandbox.sip_host, sandbox.sip_port, "1000", caller_id),
        workdir,
    )
    return await (await caller.start()).wait()


def database(engine: Engine) -> AsyncEngine:
    assert engine.db is not None  # `build` on config.yaml's database
    return engine.db


async def test_bank_debit_sign_up_from_a_recognised_caller_reaches_billing(
    sandbox: Sandbox, workdir: Path
) -> None:
    config = hotline_config(sandbox, workdir)
    flows = flow_registry(config, ROOT)
    async with await build(config, flows=flows) as engine:
        db = database(engine)
        await seed(db)
        # the number as a carrier may present it, with hyphens: the same caller as 0935821234
        result = await call_in(sandbox, workdir, "1631", 2500, None, caller_id="093-582-1234")
        assert result.ok, result.output[-500:]
        # the trail is written in batches: the call's end is there once its record is
        await engine.supervisor.wait_idle()

        async with db.connect() as conn:
            rows = (await conn.execute(sa.select(service_requests))).mappings().all()
            audits = (await conn.execute(sa.select(audit_log))).mappings().all()
            [call] = (await conn.execute(sa.select(calls))).mappings().all()
            trail = (await conn.execute(sa.select(call_events.c.kind))).scalars().all()
        [request] = rows
        assert request["kind"] == "bank_debit"
        assert request["channel"] == "ivr"
        # the caller was recognised by number: the account came from the caller-ID match
        assert request["account_id"] == 1
        assert request["confirmation"]
        assert request["call_id"]
        assert any(a["reason"] == "caller-id match" for a in audits)
        # the call itself says whose it was, for repeat contacts per account
        assert (call["caller_e164"], call["account_id"]) == ("+81935821234", 1)
        assert "account_matched" in trail
        [waiting] = await pending(db)
        assert waiting.request_id == request["id"]

        assert engine.backends.outbox is not None
        report = await engine.backends.outbox.deliver_due(datetime.now(UTC))
        assert report.delivered == 1
        assert await pending(db) == []


async def test_an_in_city_move_is_done_by_keypad_in_one_call(
    sandbox: Sandbox, workdir: Path
) -> None:
    config = hotline_config(sandbox, workdir)
    flows = flow_registry(config, ROOT)
    today = datetime.now(ZoneInfo("Asia/Tokyo")).date()
    out, into = today + timedelta(days=21), today + timedelta(days=22)
    menu = "113"  # Japanese, moving, in-city move (the caller is recognised as account 1)
    keys = [
        *menu,
        *out.strftime("%Y%m%d"),
        "1",  # that date is right
        *into.strftime("%Y%m%d"),
        "1",
        *"00000303#",  # the meter number on the card at the new home
        "1",
    ]
    # menu keys wait for their prompt; digits of one entry follow each other quickly
    gaps = [2500, 2500, 2500]
    for entry in (8, 8, 9):
        gaps += [3000] + [300] * (entry - 1) + [4000]
    async with await build(config, flows=flows) as engine:
        db = database(engine)
        await seed(db)
        async with db.begin() as conn:
            await conn.execute(
                sa.insert(premises).values(
                    id=303,
                    account_id=None,
                    address="北九州市小倉北区中央1丁目3番3号",
                    postal_code="802-0001",
                    area_code="chuo-01",
                    meter_number="00000303",
                )
            )
        # the request is committed before its number is read out: hang up meanwhile
        result = await call_in(sandbox, workdir, "".join(keys), gaps, 6000)
        assert result.ok, result.output[-500:]
        await engine.supervisor.wait_idle()

        async with db.connect() as conn:
            rows = (
                (await conn.execute(sa.select(service_requests).order_by(service_requests.c.id)))
                .mappings()
                .all()
            )
        stop, start = rows
        assert (stop["kind"], stop["premise_id"], stop["account_id"]) == ("transfer_stop", 101, 1)
        assert (start["kind"], start["premise_id"]) == ("transfer_start", 303)
        assert stop["confirmation"] == start["confirmation"]
        assert stop["linked_request_id"] == start["id"]
        assert stop["fields"]["stop_date"] == out.isoformat()
        assert start["fields"]["start_date"] == into.isoformat()
        assert len(await pending(db)) == 2
