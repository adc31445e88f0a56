"""Hot standby with real calls (issue 15): two `hotline run --standby` processes on one
PostgreSQL and the sandbox's Asterisk. Started at once, exactly one is active; 20 SIPp callers
sit in the main menu, in the queue and (the first queued caller) in a conversation with the one
agent, whose phone is a SIPp UAS; the active engine is SIGKILLed; the standby takes the lock,
re-adopts all 20, follows the conversation and serves everyone to their end, while a leak call
placed during the take-over reaches the on-duty phone through the dialplan fallback. A second
scenario kills the engine while the agent's phone rings for one queued caller and another
waits: the agent answers the same ring after the take-over, then takes the other caller; the
waiting caller's announcements keep their schedule."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.ari.client import AriClient
from ivr.cli.run import EXIT_FENCED
from ivr.domain import utc_now
from ivr.leader import Holder, LeaderTiming, read_holder
from ivr.store.db import open_engine
from ivr.store.migrate import migrate
from ivr.store.staff import NewStaff, Role, StaffStore
from ivr.store.tables import call_events
from routing.fallback import STEPS_GLOBAL
from tests.integration.conftest import (
    CALLER,
    FALLBACK_GLOBALS,
    ROOT,
    hang_up_leftovers,
    kept_globals,
)
from tests.integration.store.storedata import seed
from tests.integration.test_call_trail import engine_config_file, read_log, wait_for_line
from tests.support.pgcluster import PgCluster
from tests.support.sandbox import Sandbox
from tests.support.sipp import SCENARIOS, WAIT_FOR_BYE, Sipp, caller_args, keys_scenario

# a PostgreSQL cluster of its own and 25 s of scripted calls: about a minute on a quiet machine,
# twice that on a loaded one
pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

WAIT_S = 60
PER_GROUP = 10
# the menu callers key 1 (Japanese) 2.5 s after the answer, then listen to the main menu (a
# 26 s prompt) until MENU_KEY_S, well after the take-over, and key 5 (information) there
MENU_KEY_S = 20.0
# the queue callers key 1 and 0 (operator), wait in the queue and hang up after QUEUE_WAIT_S
QUEUE_WAIT_S = 18.0


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def pg_url(pg_cluster: PgCluster, tmp_path: Path) -> str:
    """A fresh, migrated database with the test caller's account."""
    name = f"standby_{tmp_path.name[-20:].replace('-', '_').lower()}"
    admin = open_engine(pg_cluster.url())
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    await admin.dispose()
    url = pg_cluster.url(name)
    await migrate(url)
    db = open_engine(url)
    await seed(db)  # account 1 answers to CALLER: the callers go straight to the main menu
    await db.dispose()
    return url


def standby_config(
    sandbox: Sandbox, tmp_path: Path, url: str, duty: str, agent: str | None = None
) -> Path:
    """config.yaml as shipped on `url`; a queue callers wait in, answered by one agent on the
    phone `agent` (None: no agents), and `duty` the on-duty line."""
    path = engine_config_file(sandbox, tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["database"] = {"url": url}
    data["billing"]["database_url"] = url
    routing = data["routing"]
    routing["agents"] = (
        {} if agent is None else {"agent1": {"endpoint": agent, "ready_at_start": True}}
    )
    routing["queues"]["general"] = {
        "calendar": "phone",
        "when_no_agents": "join",
        "max_wait_s": 600,
    }
    routing["departments"]["emergency_duty"] = {"on_duty": [duty], "ring_timeout_s": 10}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


async def start_engine(
    config: Path, log_path: Path, sandbox: Sandbox
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "HOTLINE_ARI_URL": sandbox.ari_url,
        "HOTLINE_ARI_USER": sandbox.ari_user,
        "HOTLINE_ARI_PASSWORD": sandbox.ari_password,
    }
    with log_path.open("wb") as log_file:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "ivr", "--config", str(config), "run", "--standby"),
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=log_file,
        )


def info_keys_scenario(workdir: Path, name: str, second_key_after_ms: int, then_ms: int) -> Path:
    """tests/sipp/caller_info_keys.xml with its two waits changed: the second key
    `second_key_after_ms` after the first, then `then_ms` of listening before the BYE."""
    text = (SCENARIOS / "caller_info_keys.xml").read_text()
    text = text.replace(
        '<pause milliseconds="4000"/>', f'<pause milliseconds="{second_key_after_ms}"/>'
    )
    text = text.replace('<pause milliseconds="8000"/>', f'<pause milliseconds="{then_ms}"/>')
    path = workdir / name
    path.write_text(text)
    return path


def callers(sandbox: Sandbox, workdir: Path, scenario: Path, key2: str) -> Sipp:
    return Sipp(
        scenario,
        [
            *caller_args(sandbox.sip_host, sandbox.sip_port, "1000", CALLER),
            *("-key", "key1", "1", "-key", "key2", key2, "-d", "2500"),
            *("-r", "10", "-l", str(PER_GROUP)),
        ],
        workdir,
        local_ip="127.0.0.2",
        calls=PER_GROUP,
    )


async def timed_trail(db: AsyncEngine) -> list[tuple[str, str, datetime]]:
    """(call id, kind, time) of every trail event, in the order written."""
    async with db.connect() as conn:
        rows = await conn.execute(
            sa.select(call_events.c.call_id, call_events.c.kind, call_events.c.at).order_by(
                call_events.c.id
            )
        )
        return [(str(r.call_id), str(r.kind), r.at) for r in rows]


async def trail(db: AsyncEngine) -> list[tuple[str, str]]:
    """(call id, kind) of every trail event, in the order written."""
    async with db.connect() as conn:
        rows = await conn.execute(
            sa.select(call_events.c.call_id, call_events.c.kind).order_by(call_events.c.id)
        )
        return [(str(r.call_id), str(r.kind)) for r in rows]


async def kinds_reach(db: AsyncEngine, kind: str, count: int) -> None:
    async with asyncio.timeout(WAIT_S):
        # other processes write the database: nothing here can signal us, so poll it
        while sum(1 for _, k in await trail(db) if k == kind) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.2)


async def active_engine(db: AsyncEngine) -> Holder:
    async with asyncio.timeout(WAIT_S), db.connect() as conn:
        while (holder := await read_holder(conn)) is None:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    return holder


async def start_pair(
    config: Path,
    logs: dict[str, Path],
    procs: dict[str, asyncio.subprocess.Process],
    sandbox: Sandbox,
    db: AsyncEngine,
) -> tuple[str, str]:
    """Two engines started at once (into `procs`): exactly one is active, the other waits;
    their names (active, standby)."""
    started = await asyncio.gather(*(start_engine(config, p, sandbox) for p in logs.values()))
    procs.update(zip(logs, started, strict=True))
    holder = await active_engine(db)
    [active] = [n for n, p in procs.items() if p.pid == holder.pid]
    [standby] = [n for n in procs if n != active]
    await wait_for_line(logs[active], "engine running", procs[active])
    await wait_for_line(logs[standby], "standby: waiting while engine", procs[standby])
    assert "ARI events connected" not in read_log(logs[standby])
    assert holder.generation == 1
    return active, standby


async def test_the_standby_takes_over_menus_a_queue_and_a_conversation_and_a_leak_gets_through(
    sandbox: Sandbox, tmp_path: Path, pg_url: str
) -> None:
    await hang_up_leftovers(sandbox)
    # takes the leak call the dialplan fallback dials while no engine is connected: answers,
    # presses 1 (as the fallback asks, like the engine), talks, hangs up
    duty = await Sipp("phone_press1_talk.xml", ["-d", "2000"], tmp_path).start()
    duty_uri = f"PJSIP/onduty/sip:onduty@127.0.0.1:{duty.port}"
    # the agent's phone answers the first queued caller and stays on until the engine ends it
    agent_phone = await Sipp("phone_wait.xml", [], tmp_path).start()
    agent_uri = f"PJSIP/agent1/sip:agent1@127.0.0.1:{agent_phone.port}"
    config = standby_config(sandbox, tmp_path, pg_url, duty_uri, agent_uri)
    ari = AriClient(sandbox.ari_url, sandbox.ari_user, sandbox.ari_password, "standby-test")
    # the fallback's list is the one the engines publish: the sandbox's is put back after
    restore = contextlib.AsyncExitStack()
    await restore.enter_async_context(kept_globals(ari, *FALLBACK_GLOBALS))
    db = open_engine(pg_url)
    # the agent takes calls on that phone (the staff table; config.yaml puts them ready)
    await StaffStore(db).add(
        NewStaff("agent1", "Agent One", Role.AGENT, endpoint=agent_uri), "-", utc_now()
    )
    logs = {name: tmp_path / f"engine-{name}.log" for name in ("a", "b")}
    procs: dict[str, asyncio.subprocess.Process] = {}
    sipps: list[Sipp] = [duty, agent_phone]
    try:
        active, standby = await start_pair(config, logs, procs, sandbox, db)

        menu = callers(
            sandbox,
            tmp_path,
            info_keys_scenario(tmp_path, "menu.xml", int(MENU_KEY_S * 1000) - 2500, 3000),
            "5",
        )
        queue = callers(
            sandbox,
            tmp_path,
            info_keys_scenario(tmp_path, "queue.xml", 2500, int(QUEUE_WAIT_S * 1000)),
            "0",
        )
        sipps += [menu, queue]
        await menu.start()
        await queue.start()
        # everyone in place: 10 queue callers enqueued (the first talks to the agent), 20
        # greetings keyed
        await kinds_reach(db, "enqueued", PER_GROUP)
        await kinds_reach(db, "answered", 1)
        await kinds_reach(db, "menu_choice", 2 * PER_GROUP + PER_GROUP)

        # the active engine wrote its on-duty list (config.yaml's, seeded into the database)
        # for the dialplan fallback
        async with asyncio.timeout(WAIT_S):
            while await ari.get_global(STEPS_GLOBAL) != f"{duty_uri}~10":  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        procs[active].send_signal(signal.SIGKILL)
        await procs[active].wait()
        # the leak call comes in while the standby is taking over: Stasis fails, the fallback
        # rings the list the killed engine left
        leak = Sipp(
            keys_scenario(tmp_path, "", gap_ms=[], hang_up_after_ms=None),
            caller_args(sandbox.sip_host, sandbox.sip_port, "1100", CALLER),
            tmp_path,
        )
        sipps.append(leak)
        await leak.start()

        # the 20 callers and the agent's leg
        await wait_for_line(
            logs[standby], "ARI events connected (app hotline, 21 calls", procs[standby]
        )
        leak_result, duty_result = await leak.wait(), await duty.wait()
        assert duty_result.ok, duty_result.output[-1000:]
        assert CALLER in duty_result.log  # the on-duty phone saw who is calling
        assert leak_result.ok, leak_result.output[-1000:]

        menu_result, queue_result = await menu.wait(), await queue.wait()
        # every caller ran its scenario to its own BYE: nobody was hung up on
        assert menu_result.ok, menu_result.output[-1500:]
        assert queue_result.ok, queue_result.output[-1500:]
        standby_log = read_log(logs[standby])
        assert standby_log.count("call re-adopted at node") == 2 * PER_GROUP, standby_log[-3000:]
        assert standby_log.count("re-adopted while talking") == 1, standby_log[-3000:]
        # the queued callers were re-adopted during their position announcement: asking them
        # into the holding bridge again waited for its end, past the request timeout
        assert "joining the holding bridge timed out" not in standby_log
        # the caller in the conversation hung up: the standby ended the agent's side (BYE)
        agent_result = await agent_phone.wait()
        assert agent_result.ok, agent_result.output[-1000:]
        await kinds_reach(db, "ended", 2 * PER_GROUP)
        events = await trail(db)
        [talker] = [c for c, k in events if k == "answered"]
        assert [k for c, k in events if c == talker and k in ("talk_resumed", "call_ended")] == [
            "talk_resumed",
            "call_ended",
        ]
        calls = {c for c, k in events if k == "entered_ivr"}
        assert len(calls) == 2 * PER_GROUP
        ended = {c for c, k in events if k == "ended"}
        assert ended == calls
        # the menu callers' key 5 came after the take-over: the standby took it
        choices = [c for c, k in events if k == "menu_choice"]
        assert len(choices) == 4 * PER_GROUP
        holder = await active_engine(db)
        assert (holder.pid, holder.generation) == (procs[standby].pid, 2)
        status = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "ivr", "--config", str(config), "status"),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await status.communicate()
        assert f"active engine: engine {holder.host} pid {holder.pid} (generation 2" in out.decode()
    finally:
        for sipp in sipps:
            sipp.kill()
        for proc in procs.values():
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await restore.aclose()
        await ari.close()
        await db.dispose()
        await hang_up_leftovers(sandbox)


async def test_an_engine_stalled_past_its_right_to_act_stops_when_it_wakes_and_the_standby_serves(
    sandbox: Sandbox, tmp_path: Path, pg_url: str
) -> None:
    """The active engine's process is stopped (SIGSTOP: a stall of its event loop, as a long
    collector pass or a blocking call would be) for longer than a confirmation of the lock
    lasts. Its session still holds the lock meanwhile (the kernel keeps its connection), so the
    standby cannot take over; when it wakes (SIGCONT), it finds its right to act run out,
    touches no call and exits (code 3); the standby then takes the calls over."""
    await hang_up_leftovers(sandbox)
    config = standby_config(sandbox, tmp_path, pg_url, "PJSIP/onduty")
    db = open_engine(pg_url)
    logs = {name: tmp_path / f"engine-{name}.log" for name in ("a", "b")}
    procs: dict[str, asyncio.subprocess.Process] = {}
    menu: Sipp | None = None
    try:
        active, standby = await start_pair(config, logs, procs, sandbox, db)
        menu = callers(
            sandbox,
            tmp_path,
            info_keys_scenario(tmp_path, "menu.xml", int(MENU_KEY_S * 1000) - 2500, 3000),
            "5",
        )
        await menu.start()
        await kinds_reach(db, "menu_choice", PER_GROUP)

        procs[active].send_signal(signal.SIGSTOP)
        # the stall under test: longer than a confirmation lets the engine act
        await asyncio.sleep(LeaderTiming().valid_s + 0.5)
        assert "leader lock taken: generation 2" not in read_log(logs[standby])
        procs[active].send_signal(signal.SIGCONT)
        assert await procs[active].wait() == EXIT_FENCED
        # (any request it would have sent on waking is refused: tests/contract/test_ari_client)
        assert "leader lock lost: the database did not confirm the lock in time" in read_log(
            logs[active]
        )

        await wait_for_line(
            logs[standby], f"ARI events connected (app hotline, {PER_GROUP} calls", procs[standby]
        )
        menu_result = await menu.wait()
        assert menu_result.ok, menu_result.output[-1500:]
        await kinds_reach(db, "ended", PER_GROUP)
        events = await trail(db)
        # every caller's key 5, pressed after the take-over, was taken by the standby
        assert sum(1 for _, k in events if k == "menu_choice") == 2 * PER_GROUP
        holder = await active_engine(db)
        assert (holder.pid, holder.generation) == (procs[standby].pid, 2)
    finally:
        if menu is not None:
            menu.kill()
        for proc in procs.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGCONT)
                proc.kill()
                await proc.wait()
        await db.dispose()
        await hang_up_leftovers(sandbox)


# the agent's phone rings this long before its agent picks up, each time: longer than the kill
# and the take-over (3-4 s, bench/standby.py) take, so the answer comes to the standby
RING_MS = 9000
# then the agent talks this long and hangs up
TALK_MS = 2000
# the waiting caller hears their place on entry and then every EVERY_S: the next one falls after
# the take-over and before the agent is free for them
EVERY_S = 8


def queue_caller_until_bye(workdir: Path) -> Path:
    """tests/sipp/caller_info_keys.xml (keys 1 and 0: the operator queue) that waits, after the
    second key, until the engine ends the call (the agent hung up)."""
    text = (SCENARIOS / "caller_info_keys.xml").read_text()
    text = text.replace('<pause milliseconds="4000"/>', '<pause milliseconds="2500"/>')
    head = text.split('  <pause milliseconds="8000"/>', 1)[0]
    path = workdir / "queue-until-bye.xml"
    path.write_text(head + WAIT_FOR_BYE)
    return path


def ringing_agent_phone(workdir: Path) -> Path:
    """tests/sipp/phone_ring_8s.xml ringing RING_MS before it answers."""
    text = (SCENARIOS / "phone_ring_8s.xml").read_text()
    text = text.replace('<pause milliseconds="8000"/>', f'<pause milliseconds="{RING_MS}"/>')
    path = workdir / "phone-ring.xml"
    path.write_text(text)
    return path


async def test_the_ring_at_the_kill_and_the_caller_waiting_behind_it_are_answered_by_the_agent(
    sandbox: Sandbox, tmp_path: Path, pg_url: str
) -> None:
    """Two callers queue for the one agent; the agent's phone rings for the first (RING_MS
    before they pick up) when the active engine is SIGKILLed. The standby re-adopts both
    callers and follows the ringing leg: the agent's answer connects them to the first caller
    (answered once, not rung again, nobody hung up on). When the agent hangs up, they are
    offered the second caller, who waited through the take-over, and answer that too. The
    second caller heard their place at entry and once more EVERY_S later, as if no engine had
    changed (not again at the take-over)."""
    await hang_up_leftovers(sandbox)
    phone = Sipp(ringing_agent_phone(tmp_path), ["-d", str(TALK_MS)], tmp_path, calls=2)
    agent_phone = await phone.start()
    agent_uri = f"PJSIP/agent1/sip:agent1@127.0.0.1:{agent_phone.port}"
    config = standby_config(sandbox, tmp_path, pg_url, "PJSIP/onduty", agent_uri)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["routing"]["queues"]["general"].update(
        {"ring_timeout_s": 30, "wrap_up_s": 0, "announce": {"every_s": EVERY_S}}
    )
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    db = open_engine(pg_url)
    await StaffStore(db).add(
        NewStaff("agent1", "Agent One", Role.AGENT, endpoint=agent_uri), "-", utc_now()
    )
    logs = {name: tmp_path / f"engine-{name}.log" for name in ("a", "b")}
    procs: dict[str, asyncio.subprocess.Process] = {}
    queue = Sipp(
        queue_caller_until_bye(tmp_path),
        [
            *caller_args(sandbox.sip_host, sandbox.sip_port, "1000", CALLER),
            *("-key", "key1", "1", "-key", "key2", "0", "-d", "2500"),
            *("-r", "10", "-l", "2"),
        ],
        tmp_path,
        local_ip="127.0.0.2",
        calls=2,
    )
    sipps = [agent_phone, queue]
    try:
        active, standby = await start_pair(config, logs, procs, sandbox, db)
        await queue.start()
        # the first caller's offer rings the agent; the second heard their place
        await kinds_reach(db, "enqueued", 2)
        await kinds_reach(db, "offered", 1)
        await kinds_reach(db, "announced", 1)
        procs[active].send_signal(signal.SIGKILL)
        await procs[active].wait()
        killed_at = utc_now()

        await wait_for_line(logs[standby], "ARI events connected (app hotline", procs[standby])
        queue_result, phone_result = await queue.wait(), await agent_phone.wait()
        events = await timed_trail(db)
        told = "\n".join(f"{at:%H:%M:%S.%f} {c[-4:]} {k}" for c, k, at in events)
        # both callers were ended by the engine when the agent hung up on them; the phone had
        # two calls, each answered and hung up by the agent: nobody was hung up on
        assert queue_result.ok, queue_result.output[-1500:] + told
        assert phone_result.ok, phone_result.output[-1500:] + told
        await kinds_reach(db, "ended", 2)
        events = await timed_trail(db)
        [ringing] = [c for c, k, _ in events if k == "offered"][:1]
        [waiting] = {c for c, k, _ in events if k == "enqueued"} - {ringing}

        def kinds(call_id: str) -> list[str]:
            return [k for c, k, _ in events if c == call_id and k not in ("menu_choice",)]

        # the ring the old engine placed is the one the agent answered, once
        first = kinds(ringing)
        assert first.count("offered") == 1, first
        assert first.count("offer_resumed") == 1, first
        assert first.count("answered") == 1, first
        assert "abandoned" not in first, first
        assert "no_answer" not in first, first
        assert first.index("rejoined") < first.index("offer_resumed") < first.index("answered")
        # the caller who waited at the kill was offered by the standby and answered
        second = kinds(waiting)
        assert second.count("answered") == 1, second
        assert second.count("offered") == 1, second
        assert "abandoned" not in second, second
        assert second.index("rejoined") < second.index("offered")
        # their place: on entry (the old engine) and EVERY_S later (the standby), not at the
        # take-over; the second after the kill
        heard = [at for c, k, at in events if c == waiting and k == "announced"]
        assert len(heard) == 2, second
        assert heard[1] > killed_at
        assert EVERY_S - 0.5 <= (heard[1] - heard[0]).total_seconds() <= EVERY_S + 2
        standby_log = read_log(logs[standby])
        assert "hanging up a staff leg left over" not in standby_log
        assert "stopped ringing in the restart" not in standby_log
    finally:
        for sipp in sipps:
            sipp.kill()
        for proc in procs.values():
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await db.dispose()
        await hang_up_leftovers(sandbox)
