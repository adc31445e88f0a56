"""The whole hotline on the real Asterisk: a SIPp caller recognised by caller ID from the
database signs up for bank debit by keypad; the request is committed with its billing outbox
row before the caller hears the confirmation number, and is then delivered to billing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from ivr.app import Engine, flow_registry
from ivr.config import parse_config
from ivr.intake.outbox import pending
from ivr.store.tables import audit_log, service_requests
from ivr.wiring import open_services
from tests.integration.store.storedata import seed
from tests.support.sandbox import Sandbox
from tests.support.sipp import Sipp, caller_args, keys_scenario

pytestmark = pytest.mark.integration

CALLER = "0935821234"  # account 1 in storedata: +81935821234
ROOT = Path(__file__).resolve().parents[2]


async def test_bank_debit_sign_up_from_a_recognised_caller_reaches_billing(
    sandbox: Sandbox, workdir: Path
) -> None:
    always = {"always_open": True}
    config = parse_config(
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
    flows = flow_registry(config, ROOT)
    async with open_services(config, flows) as wiring:
        await seed(wiring.db)
        engine = Engine(config, wiring.services, wiring.recorder)
        await engine.start()
        try:
            caller = Sipp(
                keys_scenario(workdir, "1631", gap_ms=2500, hang_up_after_ms=None),
                caller_args(sandbox.sip_host, sandbox.sip_port, "1000", CALLER),
                workdir,
            )
            result = await (await caller.start()).wait()
        finally:
            await engine.stop()
        assert result.ok, result.output[-500:]

        async with wiring.db.connect() as conn:
            rows = (await conn.execute(sa.select(service_requests))).mappings().all()
            audits = (await conn.execute(sa.select(audit_log))).mappings().all()
        [request] = rows
        assert request["kind"] == "bank_debit"
        assert request["channel"] == "ivr"
        # the caller was recognised by number: the account came from the caller-ID match
        assert request["account_id"] == 1
        assert request["confirmation"]
        assert request["call_id"]
        assert any(a["reason"] == "caller-id match" for a in audits)
        [waiting] = await pending(wiring.db)
        assert waiting.request_id == request["id"]

        report = await wiring.dispatcher.deliver_due(datetime.now(UTC))
        assert report.delivered == 1
        assert await pending(wiring.db) == []
