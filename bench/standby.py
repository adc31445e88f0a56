"""Take-over time of the hot standby (issue 15), over several kills.

Two `hotline run --standby` engines on one throwaway PostgreSQL (`tests.support.pgcluster`) and
the sandboxed Asterisk of the environment (HOTLINE_SANDBOX_DIR and ports, as for the tests;
`scripts/asterisk-sandbox up` first). `--calls` Local-channel callers are placed into the
hotline and stay (greeting, main menu, then the queue). Each round SIGKILLs the active engine
and reads the standby's log: when it took the lock, when its ARI application was connected, and
when the last call was re-adopted, each counted from the kill; the killed engine is started
again as the next standby. Prints one line per kill and the min / median / max. `--talk`: one
more caller keys 1 and 0 and talks to an agent (a SIPp phone that answers and stays on) through
every kill; the conversation's re-adoption is timed too.

    .venv/bin/python bench/standby.py --kills 5 --calls 20 --talk
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ivr.ari.client import AriClient  # noqa: E402
from ivr.domain import utc_now  # noqa: E402
from ivr.leader import read_holder  # noqa: E402
from ivr.store.db import open_engine  # noqa: E402
from ivr.store.migrate import migrate  # noqa: E402
from ivr.store.staff import NewStaff, Role, StaffStore  # noqa: E402
from tests.integration.store.storedata import seed  # noqa: E402
from tests.support.pgcluster import PgCluster  # noqa: E402
from tests.support.sandbox import Sandbox, provision  # noqa: E402
from tests.support.sipp import Sipp  # noqa: E402

CALLER = "0935821234"
WAIT_S = 60.0
STEPS = ("leader lock taken", "ARI events connected", "call re-adopted")
TALK = "re-adopted while talking"
# the talking caller's keys: 1 (Japanese) once the greeting asks, then 0 (operator)
KEY_GAP_S = 2.5


def config_file(work: Path, url: str, agent: str | None = None) -> Path:
    """config.yaml as shipped, on `url`, always open; one agent on the phone `agent` (None: no
    agents): callers wait in the queue."""
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    data["database"] = {"url": url}
    data["billing"]["database_url"] = url
    data["status_path"] = str(work / "status.json")
    data["console"] = {**data.get("console", {}), "port": 0}
    data["records"] = {"path": str(work / "calls.jsonl")}
    data["flows"] = {
        "dir": str(ROOT / "dialplans"),
        "catalog": str(ROOT / "prompts" / "catalog.yaml"),
    }
    data["ari"]["password_file"] = str(work / "no-password-file")
    routing = data["routing"]
    for name in routing["calendars"]:
        routing["calendars"][name] = {"always_open": True}
    routing["agents"] = (
        {} if agent is None else {"agent1": {"endpoint": agent, "ready_at_start": True}}
    )
    routing["queues"]["general"] = {
        "calendar": "phone",
        "when_no_agents": "join",
        "max_wait_s": 3600,
    }
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


class Engines:
    """The engine processes, each with its own log file (one per start)."""

    def __init__(self, sandbox: Sandbox, config: Path, work: Path) -> None:
        self.config = config
        self.work = work
        self.env = {
            **os.environ,
            "HOTLINE_ARI_URL": sandbox.ari_url,
            "HOTLINE_ARI_USER": sandbox.ari_user,
            "HOTLINE_ARI_PASSWORD": sandbox.ari_password,
        }
        self.procs: dict[int, tuple[asyncio.subprocess.Process, Path]] = {}
        self.starts = 0

    async def start(self) -> asyncio.subprocess.Process:
        self.starts += 1
        log_path = self.work / f"engine-{self.starts}.log"
        with log_path.open("wb") as log_file:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "ivr", "--config", str(self.config), "run", "--standby"),
                cwd=ROOT,
                env=self.env,
                stdout=log_file,
                stderr=log_file,
            )
        self.procs[proc.pid] = (proc, log_path)
        return proc

    def log_of(self, pid: int) -> str:
        return self.procs[pid][1].read_text(encoding="utf-8", errors="replace")

    async def wait_for(self, pid: int, text: str, count: int = 1) -> str:
        async with asyncio.timeout(WAIT_S):
            while (log := self.log_of(pid)).count(text) < count:
                if self.procs[pid][0].returncode is not None:
                    raise RuntimeError(f"engine {pid} ended:\n{log[-2000:]}")
                await asyncio.sleep(0.05)
        return log

    async def stop(self) -> None:
        for proc, _ in self.procs.values():
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


def line_time(log: str, text: str, nth: int = -1) -> float:
    """The epoch time of the `nth` log line containing `text` (asctime: local, ms)."""
    lines = [line for line in log.splitlines() if text in line]
    stamp = " ".join(lines[nth].split()[:2])
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


async def active_pid(url: str, not_pid: int | None = None) -> int:
    db = open_engine(url)
    try:
        async with asyncio.timeout(WAIT_S), db.connect() as conn:
            while True:
                holder = await read_holder(conn)
                if holder is not None and holder.held and holder.pid != not_pid:
                    return holder.pid
                await asyncio.sleep(0.05)
    finally:
        await db.dispose()


async def place_calls(driver: AriClient, n: int) -> None:
    for _ in range(n):
        ours = f"sb-{uuid.uuid4().hex[:10]}"
        await driver.originate(
            "Local/1000@hotline",
            channel_id=ours,
            other_channel_id=f"{ours}-in",
            caller_id=CALLER,
            formats="ulaw",
        )


async def hang_up_ours(sandbox: Sandbox) -> None:
    async with AriClient(sandbox.ari_url, sandbox.ari_user, sandbox.ari_password, "hotline") as ari:
        for channel in await ari.list_channels():
            if channel.stasis_app == "hotline" or channel.id.startswith("sb-"):
                with contextlib.suppress(Exception):
                    await ari.hangup(channel.id)


async def one_kill(
    engines: Engines, url: str, calls: int, *, talk: bool
) -> tuple[float, float, float, float | None]:
    """SIGKILL the active engine; (lock, connected, all adopted, conversation followed: None
    without `talk`) seconds after the kill."""
    active = await active_pid(url)
    standby = next(
        pid for pid, (p, _) in engines.procs.items() if p.returncode is None and pid != active
    )
    await engines.wait_for(standby, "standby: waiting")
    engines.procs[active][0].send_signal(signal.SIGKILL)
    killed = time.time()
    await engines.procs[active][0].wait()
    # the talking caller's session logs "call re-adopted at node" and then TALK
    log = await engines.wait_for(standby, "call re-adopted", calls + 2 * talk)
    took = [line_time(log, step) - killed for step in STEPS]
    talked = None
    if talk:
        talked = line_time(await engines.wait_for(standby, TALK), TALK) - killed
    await engines.start()  # the next standby
    return took[0], took[1], took[2], talked


async def call_the_agent(driver: AriClient, url: str) -> None:
    """One more caller keys 1 and 0 and is answered by the agent."""
    ours = f"sb-{uuid.uuid4().hex[:10]}"
    await driver.originate(
        "Local/1000@hotline",
        channel_id=ours,
        other_channel_id=f"{ours}-in",
        caller_id=CALLER,
        formats="ulaw",
    )
    for key in "10":
        await asyncio.sleep(KEY_GAP_S)
        await driver.send_dtmf(ours, key)
    db = open_engine(url)
    try:
        async with asyncio.timeout(WAIT_S), db.connect() as conn:
            query = "SELECT count(*) FROM call_events WHERE kind = 'answered'"
            # the engine writes the database from its own process: nothing here can signal us
            while not (await conn.exec_driver_sql(query)).scalar_one():  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    finally:
        await db.dispose()


async def run(args: argparse.Namespace) -> None:
    sandbox = provision()
    cluster = PgCluster()
    work = Path(tempfile.mkdtemp(prefix="bench-standby-"))
    driver = AriClient(sandbox.ari_url, sandbox.ari_user, sandbox.ari_password, "bench-standby")
    events = asyncio.get_running_loop().create_task(driver.run(lambda _item: None))
    engines: Engines | None = None
    phone: Sipp | None = None
    try:
        cluster.start()
        admin = open_engine(cluster.url())
        async with admin.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql('CREATE DATABASE "hotline"')
        await admin.dispose()
        url = cluster.url("hotline")  # the port is known once started
        await migrate(url)
        await hang_up_ours(sandbox)
        agent = None
        if args.talk:
            # the agent's phone: answers and stays on the line through every kill
            phone = await Sipp("phone_wait.xml", [], work).start()
            agent = f"PJSIP/agent1/sip:agent1@127.0.0.1:{phone.port}"
            db = open_engine(url)
            await seed(db)  # the caller's account: straight to the main menu, as in the tests
            await StaffStore(db).add(
                NewStaff("agent1", "Agent One", Role.AGENT, endpoint=agent), "-", utc_now()
            )
            await db.dispose()
        engines = Engines(sandbox, config_file(work, url, agent), work)
        await engines.start()
        await engines.start()
        await engines.wait_for(await active_pid(url), "engine running")
        await asyncio.wait_for(driver.connected.wait(), WAIT_S)
        if args.talk:
            await call_the_agent(driver, url)
        await place_calls(driver, args.calls)
        await engines.wait_for(await active_pid(url), "call started", args.calls + args.talk)
        rows = []
        talks = []
        total = args.calls + args.talk
        for n in range(1, args.kills + 1):
            lock, connected, adopted, talked = await one_kill(
                engines, url, args.calls, talk=args.talk
            )
            rows.append((lock, connected, adopted))
            followed = "" if talked is None else f", conversation followed {talked:.2f} s"
            if talked is not None:
                talks.append(talked)
            print(
                f"kill {n}: lock taken {lock:.2f} s, ARI connected {connected:.2f} s, "
                f"all {total} calls re-adopted {adopted:.2f} s{followed} after the kill",
                flush=True,
            )
        columns = list(zip(*rows, strict=True))
        names = ["lock taken", "ARI connected", "all re-adopted"]
        if talks:
            columns.append(tuple(talks))
            names.append("talk followed")
        for name, values in zip(names, columns, strict=True):
            print(
                f"{name:>15}: min {min(values):.2f} s, median {statistics.median(values):.2f} s, "
                f"max {max(values):.2f} s over {len(values)} kills"
            )
    finally:
        if engines is not None:
            await engines.stop()
        if phone is not None:
            phone.kill()
        events.cancel()
        await asyncio.gather(events, return_exceptions=True)
        await driver.close()
        await hang_up_ours(sandbox)
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--talk", action="store_true", help="one more caller talks to an agent")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
