"""Real SIPp calls into the whole hotline on the real Asterisk show up in `hotline report`:
one caller hangs up while the agent's phone rings (abandoned), one talks to an agent
(answered), one signs up for bank debit by keypad (finished in the IVR)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from ivr.app import build, flow_registry
from ivr.cli import main
from ivr.config import parse_config
from ivr.domain import TOKYO
from ivr.store.db import open_engine
from ivr.store.migrate import migrate
from ivr.store.staff import NewStaff, Role, StaffStore
from tests.integration.store.storedata import seed
from tests.support.sandbox import Sandbox
from tests.support.sipp import Sipp, caller_args, keys_scenario

pytestmark = pytest.mark.integration

CALLER = "0935821234"  # account 1 in storedata
ROOT = Path(__file__).resolve().parents[2]
ALWAYS = {"always_open": True}


def settings(sandbox: Sandbox, workdir: Path, phones: dict[str, int]) -> dict[str, object]:
    return {
        "ari": {"reconnect_initial_s": 0.05, "reconnect_max_s": 0.5},
        "database": {"url": f"sqlite+aiosqlite:///{workdir / 'hotline.sqlite3'}"},
        "billing": {
            "adapter": "database",
            "database_url": f"sqlite+aiosqlite:///{workdir / 'billing.sqlite3'}",
            "outbox": {"interval_s": 3600},
        },
        "routing": {
            "calendars": {"phone": ALWAYS, "emergency": ALWAYS, "construction": ALWAYS},
            "queues": {
                name: {"calendar": "phone", "when_no_agents": "overflow", "ring_timeout_s": 20}
                for name in ("general", "moving", "billing", "reconnection")
            },
            "departments": {
                "emergency_duty": {"on_duty": ["PJSIP/onduty"], "ring_timeout_s": 3},
                "construction": {"endpoint": "PJSIP/agent3", "calendar": "construction"},
            },
            "agents": {
                login: {"endpoint": f"PJSIP/{login}", "ready_at_start": login == "agent1"}
                for login in phones
            },
        },
        "reports": {"calendar": "phone"},
    }


async def add_phones(url: str, phones: dict[str, int]) -> None:
    await migrate(url)
    db = open_engine(url)
    try:
        await seed(db)
        staff = StaffStore(db)
        for login, port in phones.items():
            endpoint = f"PJSIP/{login}/sip:{login}@127.0.0.1:{port}"
            member = NewStaff(login, login, Role.AGENT, endpoint, ("moving", "billing"))
            await staff.add(member, "hash", datetime.now(TOKYO))
    finally:
        await db.dispose()


async def call_in(sandbox: Sandbox, workdir: Path, keys: str, hang_up_after_ms: int | None) -> None:
    caller = Sipp(
        keys_scenario(workdir, keys, gap_ms=2500, hang_up_after_ms=hang_up_after_ms),
        caller_args(sandbox.sip_host, sandbox.sip_port, "1000", CALLER),
        workdir,
    )
    result = await (await caller.start()).wait()
    assert result.ok, result.output[-500:]


async def test_answered_abandoned_and_self_served_calls_in_the_report(
    sandbox: Sandbox, workdir: Path, tmp_path: Path
) -> None:
    ringing = await Sipp("phone_noanswer.xml", [], workdir).start()
    answering = await Sipp("phone.xml", ["-d", "1500"], workdir).start()
    phones = {"agent1": ringing.port, "agent2": answering.port}
    data = settings(sandbox, workdir, phones)
    await add_phones(f"sqlite+aiosqlite:///{workdir / 'hotline.sqlite3'}", phones)
    env = {
        "HOTLINE_ARI_URL": sandbox.ari_url,
        "HOTLINE_ARI_USER": sandbox.ari_user,
        "HOTLINE_ARI_PASSWORD": sandbox.ari_password,
    }
    config = parse_config(data, env)
    try:
        async with await build(config, flows=flow_registry(config, ROOT)) as engine:
            assert engine.acd is not None
            pool = engine.acd.queues.agents
            # 1 Japanese, 0 operator; agent1's phone rings and the caller gives up. At the
            # same time (it needs no agent, and the test's time is mostly key gaps): 6 bills
            # and payment, 3 bank-debit sign-up, 1 confirm, finished in the IVR
            await asyncio.gather(
                call_in(sandbox, workdir, "10", hang_up_after_ms=6000),
                call_in(sandbox, workdir, "1631", hang_up_after_ms=None),
            )
            await engine.supervisor.wait_idle()
            pool.log_out("agent1")
            pool.log_in("agent2")
            # agent2's phone answers, talks 1.5 s and hangs up
            await call_in(sandbox, workdir, "10", hang_up_after_ms=None)
            await engine.supervisor.wait_idle()
    finally:
        ringing.kill()
        answering.kill()
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    today = datetime.now(TOKYO).date()
    out = tmp_path / "report.json"
    period = [(today - timedelta(days=1)).isoformat(), today.isoformat()]
    args = ["--config", str(config_path), "report", "--from", period[0], "--to", period[1]]
    # the command runs its own event loop: in a thread of its own, as from a shell
    assert await asyncio.to_thread(main, [*args, "--format", "json", "-o", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    general = report["queues"]["general"]
    assert (general["queued"], general["answered"]) == (2, 1)
    assert general["abandoned"] + general["short_abandons"] == 1
    assert general["talk_s"] > 0
    assert report["calls"]["calls"] == 3
    assert report["calls"]["ivr_completed"] == 1
    assert report["request_kinds"] == [{"kind": "bank_debit", "channel": "ivr", "requests": 1}]
    [abandoned] = report["abandoned_calls"]
    assert abandoned["caller"] == "+81935821234"
    assert report["agents"]["agent2"]["handled"] == 1
    assert report["outcomes"]["answered_by_agent"] == 1
