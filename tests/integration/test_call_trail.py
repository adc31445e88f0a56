"""The call trail in the database, from real SIP calls: each event with the time it happened
(a caller who waits while the agent's phone rings shows that wait between the offer and the
answer), and written while the call goes on (an engine killed mid-call leaves the trail up to
the kill)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters import DbCallRecorder
from ivr.store.calls import CallEvent, CallLog
from ivr.store.tables import call_events, calls
from tests.integration.conftest import CALLER, ROOT, EngineFactory, hang_up_leftovers, sqlite_url
from tests.integration.test_routed_calls import routing, sip_call_to_the_operator
from tests.support.sandbox import Sandbox
from tests.support.sipp import Sipp, caller_args, keys_scenario

pytestmark = pytest.mark.integration

# how long to wait for the engine or the database to reach a state; only reached when broken
WAIT_S = 60
# the ringing phone (tests/sipp/phone_ring.xml) rings this long before its agent answers
RING_S = 4.0


async def the_call(db: AsyncEngine) -> str:
    async with db.connect() as conn:
        (call_id,) = (await conn.execute(sa.select(calls.c.id))).scalars().all()
    return str(call_id)


def first(events: list[CallEvent], kind: str) -> CallEvent:
    return next(e for e in events if e.kind == kind)


async def test_a_wait_for_the_agent_shows_in_the_trail_as_it_happened(
    sandbox: Sandbox, start_engine: EngineFactory, workdir: Path, sqlite_db: AsyncEngine
) -> None:
    db = sqlite_db
    agent_phone = await Sipp("phone_ring.xml", ["-d", "1500"], workdir).start()
    recorder = DbCallRecorder(CallLog(db))
    recorder.start()
    await start_engine(recorder, routing=routing(agent_phone.port))
    caller_result, agent_result = await sip_call_to_the_operator(sandbox, workdir, agent_phone)
    assert caller_result.ok, caller_result.output[-500:]
    assert agent_result.ok, agent_result.output[-500:]
    async with asyncio.timeout(WAIT_S):
        while "ended" not in [e.kind for e in await CallLog(db).events(await the_call(db))]:
            await recorder.flush()
    events = await CallLog(db).events(await the_call(db))
    kinds = [e.kind for e in events]
    for kind in ("entered_ivr", "entered", "menu_choice", "to_queue", "enqueued", "offered"):
        assert kind in kinds
    assert kinds.index("enqueued") < kinds.index("offered") < kinds.index("answered")
    assert kinds[-1] == "ended"
    # written in order, each with its own time: never the one time of the call's end
    times = [e.at for e in events]
    assert times == sorted(times)
    assert times[0] < times[-1]
    # the agent's phone rang RING_S before it was answered: that is where the caller waited
    rang = first(events, "answered").at - first(events, "offered").at
    assert timedelta(seconds=RING_S - 0.5) <= rang < timedelta(seconds=RING_S + 5)
    # the second key came a gap after the first: a report can see the time in the menu
    choices = [e for e in events if e.kind == "menu_choice"]
    assert choices[1].at - choices[0].at >= timedelta(seconds=2)
    await recorder.aclose()


def engine_config_file(sandbox: Sandbox, tmp_path: Path) -> Path:
    """config.yaml as shipped, on this test's database, status file and an open calendar."""
    data = yaml.safe_load((ROOT / "config.yaml").read_text())
    always = {"always_open": True}
    data["database"] = {"url": sqlite_url(tmp_path)}
    data["billing"]["database_url"] = f"sqlite+aiosqlite:///{tmp_path / 'billing.sqlite3'}"
    data["status_path"] = str(tmp_path / "status.json")
    # any free port: another engine (or scripts/start) may have the shipped one
    data["console"] = {**data.get("console", {}), "port": 0}
    data["records"] = {"path": str(tmp_path / "calls.jsonl")}
    data["flows"] = {
        "dir": str(ROOT / "dialplans"),
        "catalog": str(ROOT / "prompts" / "catalog.yaml"),
    }
    data["ari"]["password_file"] = str(tmp_path / "no-password-file")
    for name in data["routing"]["calendars"]:
        data["routing"]["calendars"][name] = always
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def read_log(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


async def wait_for_line(log_path: Path, text: str, proc: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(WAIT_S):
        while text not in (log := await asyncio.to_thread(read_log, log_path)):
            assert proc.returncode is None, log[-2000:]
            # another process's log: nothing here can signal us when the line is written
            await asyncio.sleep(0.1)


async def trail_kinds(db: AsyncEngine) -> list[str]:
    async with db.connect() as conn:
        rows = await conn.execute(sa.select(call_events.c.kind).order_by(call_events.c.id))
        return [str(k) for k in rows.scalars()]


async def test_an_engine_killed_mid_call_leaves_the_trail_up_to_the_kill(
    sandbox: Sandbox, workdir: Path, tmp_path: Path, sqlite_db: AsyncEngine
) -> None:
    db = sqlite_db
    await hang_up_leftovers(sandbox)
    config = engine_config_file(sandbox, tmp_path)
    log_path = tmp_path / "engine.log"
    env = {
        **os.environ,
        "HOTLINE_ARI_URL": sandbox.ari_url,
        "HOTLINE_ARI_USER": sandbox.ari_user,
        "HOTLINE_ARI_PASSWORD": sandbox.ari_password,
    }
    with log_path.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ivr",
            "--config",
            str(config),
            "run",
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=log_file,
        )
    try:
        await wait_for_line(log_path, "engine running", proc)
        # 1 Japanese; then the caller listens to the main menu until it hangs up
        caller = await Sipp(
            keys_scenario(workdir, "1", gap_ms=2500, hang_up_after_ms=5000),
            caller_args(sandbox.sip_host, sandbox.sip_port, "1000", CALLER),
            workdir,
        ).start()
        async with asyncio.timeout(WAIT_S):
            # another process writes the database: nothing here can signal us, so poll it
            while "menu_choice" not in await trail_kinds(db):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        # no stop, no flush: what the engine wrote while the call went on is all there is
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        await caller.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await hang_up_leftovers(sandbox)
    kinds = await trail_kinds(db)
    assert kinds[:2] == ["entered_ivr", "entered"]
    assert "menu_choice" in kinds
    # the call never ended in the database: the killed engine could not say so
    assert "ended" not in kinds
    async with db.connect() as conn:
        (row,) = (await conn.execute(sa.select(calls))).mappings().all()
    assert row["caller_e164"] == "+81935821234"
    assert row["ended_at"] is None
