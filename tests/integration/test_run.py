"""`hotline run` as an operator stops it: SIGTERM (systemd) or SIGINT (Ctrl-C) ends the process
cleanly and soon, leaving a call in progress in Asterisk with its place in the flow stored for
the next start."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
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


async def test_a_start_with_a_broken_flow_on_disk_serves_the_version_accepted_last(
    sandbox: Sandbox, driver: Driver, tmp_path: Path, sqlite_db: AsyncEngine
) -> None:
    """An admin saves a broken edit while the engine is down (here: Latin-1, as some editors
    do): the next start serves the flows accepted last time instead of leaving the hotline to
    the dialplan fallback, and says so."""
    await hang_up_leftovers(sandbox)
    config = engine_config_file(sandbox, tmp_path)
    dialplans = tmp_path / "dialplans"
    shutil.copytree(ROOT / "dialplans", dialplans)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["flows"]["dir"] = str(dialplans)
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    env = {
        **os.environ,
        "HOTLINE_ARI_URL": sandbox.ari_url,
        "HOTLINE_ARI_USER": sandbox.ari_user,
        "HOTLINE_ARI_PASSWORD": sandbox.ari_password,
    }

    async def start(log_path: Path) -> asyncio.subprocess.Process:
        with log_path.open("wb") as log_file:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "ivr", "--config", str(config), "run"),
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=log_file,
            )
        await wait_for_line(log_path, "engine running", proc)
        return proc

    async def stop(proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(STOP_S):
                await proc.wait()

    first = await start(tmp_path / "first.log")
    await stop(first)
    hotline = dialplans / "hotline.yaml"
    hotline.write_bytes(hotline.read_bytes().replace(b"# ", b"# caf\xe9 ", 1))

    second_log = tmp_path / "second.log"
    second = await start(second_log)
    try:
        log_text = read_log(second_log)
        assert "serving the version accepted at" in log_text
        assert f"{hotline}:1: not UTF-8 at byte" in log_text
        ours, theirs = await driver.call("1000", caller_id=CALLER)
        await driver.answered(ours)
        # the kept hotline flow greets the caller
        await at_node(sqlite_db, theirs, "greeting")
    finally:
        await stop(second)
        if second.returncode is None:
            second.kill()
            await second.wait()
        await hang_up_leftovers(sandbox)
