"""`hotline run` as an operator stops it: SIGTERM (systemd) or SIGINT (Ctrl-C) ends the process
cleanly and soon, leaving a call in progress in Asterisk with its place in the flow stored for
the next start."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.calls.codec import STATE
from ivr.store.tables import call_memory
from tests.integration.conftest import CALLER, ROOT, Driver, hang_up_leftovers
from tests.integration.test_call_trail import engine_config_file, read_log, wait_for_line
from tests.support.sandbox import Sandbox

pytestmark = pytest.mark.integration

# the engine's own bounds (ivr.app: detach, flush, outbox, tasks) add up to well under this
STOP_S = 40
WAIT_S = 60


async def kept_node(db: AsyncEngine, call_id: str) -> str | None:
    async with db.connect() as conn:
        text = (
            await conn.execute(
                sa.select(call_memory.c.value).where(
                    call_memory.c.call_id == call_id, call_memory.c.key == STATE.name
                )
            )
        ).scalar_one_or_none()
    saved = STATE.decode(text or "").value
    return None if saved is None else saved.state.node


async def at_node(db: AsyncEngine, call_id: str, node: str) -> None:
    async with asyncio.timeout(WAIT_S):
        # another process writes the database: nothing here can signal us, so poll it
        while await kept_node(db, call_id) != node:  # noqa: ASYNC110
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_stops_the_engine_and_leaves_the_call_for_the_next(
    sig: signal.Signals,
    sandbox: Sandbox,
    driver: Driver,
    tmp_path: Path,
    sqlite_db: AsyncEngine,
) -> None:
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
            *("-m", "ivr", "--config", str(config), "run"),
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=log_file,
        )
    try:
        await wait_for_line(log_path, "engine running", proc)
        ours, theirs = await driver.call("1000", caller_id=CALLER)
        await driver.answered(ours)
        await at_node(sqlite_db, theirs, "greeting")
        # Japanese; the caller ID is not in this empty database: asked for the customer number
        await driver.ari.send_dtmf(ours, "1")
        await at_node(sqlite_db, theirs, "ask_customer_number")

        proc.send_signal(sig)
        async with asyncio.timeout(STOP_S):
            assert await proc.wait() == 0, read_log(log_path)[-2000:]
        assert "engine stopped" in read_log(log_path)
        # the caller is still there, in Stasis, for the next engine to re-adopt
        channel = await driver.ari.get_channel(theirs)
        assert channel.stasis_app == "hotline"
        assert await kept_node(sqlite_db, theirs) == "ask_customer_number"
        assert not (tmp_path / "status.json").exists()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await hang_up_leftovers(sandbox)
