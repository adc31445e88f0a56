"""Call-storm load benchmark (issue 9): SIPp callers against a sandboxed Asterisk, on two paths.

Each step places `rate` new calls a second for `--seconds` through SIPp (bench/caller_info.xml:
SIP INFO DTMF from 127.0.0.2, key 1 two seconds after the answer, ~6 s calls), first to the
pure-dialplan baseline (extension 1999 in asterisk/extensions.conf: the same greeting and
Japanese main menu, no engine), then to the engine (extension 1000, `hotline run` on a bench
config), then the next rate. Per path and step it prints calls placed and failed (SIPp did not
complete them), INVITE→200 p50/p95 (SIPp `rtd`, `-trace_rtt`), CPU ms per call of Asterisk and
of the engine process (/proc/<pid>/stat utime+stime around the step), the engine's "call session
failed" apologies (its log), and for the engine DTMF→next command p50/p99: the time from
Asterisk sending `ChannelDtmfReceived` on the events WebSocket to the engine's next REST request
naming that channel (or one of its playbacks), both read from a `tcpdump` of the ARI port decoded
offline with `tshark` — measured outside the engine, as the requests reach the wire.

`--hold N` adds the 400-caller mode: N callers ramped in at 15/s, half sitting in the main menu
(caller_info.xml), half keying 0 into the operator queue (caller_operator.xml), of whom
`--callback-share` take the callback offer (caller_callback.xml: key 1 every 3 s once in the
queue, so the offer's 1 and the confirmation's 1 land whenever the offer comes, then the hotline
hangs up), plus a burst of 20 new short calls a second. Three SIPp agent phones (agent.xml)
answer, talk `--agent-talk` s and hang up, and the queues' wrap-up is cut to `--wrap-up` s, so
waiting callers and call backs are served within the run; a SIPp phone on the bench sandbox's
trunk port (trunk_phone.xml) answers every call back. Per caller group: placed, failed,
INVITE→200, DTMF→command (for the callback takers only their two menu keys: the queue ignores
the 1s keyed before the offer), and how the engine ended the calls (`calls.reason_code`); CPU
per call and apologies for the whole run; engine RSS before / peak / 60 s after the calls and
call backs end. Callbacks: offered (callers who were played `queue-callback-offer`, from the ARI
capture — the engine's database keeps no record of an offer), taken (`callback_requests` rows,
by state) and completed (call-back calls, `<call id>-callback` in `calls`, put through to an
agent).

`--database postgresql` runs the engine on a throwaway PostgreSQL cluster
(`tests.support.pgcluster.PgCluster`, with pg_stat_statements preloaded when the server has it)
instead of the SQLite file; then every engine step also prints the database's transactions
(`pg_stat_database` xact_commit + xact_rollback) and statements (pg_stat_statements calls,
transaction control apart) per call, and `--statements` lists them statement by statement. On
SQLite these are not measured.

Everything runs in its own sandbox (HOTLINE_SANDBOX_DIR, own ARI/SIP/RTP/trunk ports) with a
temporary database of demo accounts and staff (migrated with `ivr.store.migrate.migrate` and
filled by `hotline db demo` and `hotline agents demo`, all from the engine's checkout: the ACD's
agents are staff rows, one per agent phone of the bench config); callers use demo numbers that
match one account in an area without notices, each caller group its own numbers (so the capture
and the calls table tell the groups apart). The phone calendar is made always open so every call
reaches the main menu whatever the hour. `--engine-src DIR` runs the engine from another checkout
(PYTHONPATH); `--compare DIR` runs every rate step a second time on an engine from DIR (the same
database, Asterisk and config; the engines swapped between the steps), so a change is measured
against its baseline in one sitting: the engine's CPU per call moves by a millisecond from one
run to the next with the machine's other load. Needs root (chroot, tcpdump); prints numbers, asserts
nothing.

    .venv/bin/python bench/load.py --rates 10,15,20,40 --seconds 30 [--hold 400]
        [--database postgresql [--statements]]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import bisect
import contextlib
import csv
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

# the throw-away PostgreSQL of the tests lives in the checkout, not in the installed engine
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.pgcluster import PgCluster

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PYTHON = REPO / ".venv" / "bin" / "python"

SIP_HOST = "127.0.0.1"
# the caller-info endpoint (DTMF as SIP INFO) matches this source address
CALLER_IP = "127.0.0.2"
DIALPLAN_EXTEN = "1999"
ENGINE_EXTEN = "1000"
# the bench's agent phones (hold mode), clear of the tests' phones (5071.., 5271..)
AGENT_PORT = 5370
AGENTS = (1, 2, 3)
APOLOGY = "call session failed"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# what a call sits in before it hangs up: key 1 at 2 s, then the main menu
SHORT_CALL_LISTEN_MS = 4000
# hold mode: new holding callers per second, all groups together
HOLD_RAMP_RATE = 15
# caller_callback.xml: its first key in the queue comes 2 + 3 + 7 s after the answer, then one
# every 3 s
CALLBACK_FIRST_KEY_MS = 12_000
CALLBACK_KEY_EVERY_MS = 3_000
# the callback takers' menu keys (1, then 0): the keys after them are measured apart
MENU_KEYS = 2
PG_DATABASE = "hotline"
# pg_stat_statements counts these like any statement; they are the transactions, shown apart
_TRANSACTION_CONTROL = re.compile(
    r"\s*(BEGIN|COMMIT|ROLLBACK|START TRANSACTION|SAVEPOINT|RELEASE)\b", re.I
)


@dataclass(frozen=True)
class Ports:
    ari: int
    sip: int
    onduty: int
    trunk: int
    rtp_start: int
    rtp_end: int


@dataclass(frozen=True)
class DbWork:
    """What the database did during a step, per call placed."""

    transactions: float
    statements: float
    # pg_stat_statements' own count of BEGIN / COMMIT / ROLLBACK ... (None: not loaded)
    control: float | None
    by_statement: list[tuple[float, str]]


@dataclass
class Step:
    """One SIPp run's figures (CPU, apologies and database work None when not measured)."""

    label: str
    placed: int = 0
    failed: int = 0
    invite_ms: list[float] = field(default_factory=list)
    dtmf_ms: list[float] = field(default_factory=list)
    asterisk_cpu_ms: float | None = None
    engine_cpu_ms: float | None = None
    # the kernel's part of engine_cpu_ms (socket reads and writes, epoll, futex)
    engine_sys_ms: float | None = None
    # how often the engine's threads went to sleep and were woken up again (voluntary context
    # switches): each costs the engine CPU of its own, apart from the work it was woken for
    engine_wakeups: float | None = None
    apologies: int | None = None
    db: DbWork | None = None


# --------------------------------------------------------------------------- processes


def _times_ms(pid: int) -> tuple[float, float]:
    """(utime, stime) of a process (all its threads), in ms."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) * 1000 / CLK_TCK, int(fields[12]) * 1000 / CLK_TCK


def cpu_ms(pid: int) -> float:
    """utime + stime of a process (all its threads), in ms."""
    return sum(_times_ms(pid))


def wakeups(pid: int) -> int:
    """Voluntary context switches of all the process's threads so far."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
            for line in status.read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
    return total


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stop(
    proc: subprocess.Popen[str] | subprocess.Popen[bytes],
    sig: int = signal.SIGTERM,
    wait_s: float = 15,
) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(wait_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    # nearest rank
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# --------------------------------------------------------------------------- databases


class Db:
    """A database the bench reads from synchronous code (the engine's, or PostgreSQL's
    statistics): its own event loop, a fresh autocommit connection per query, so it holds
    nothing open between queries. The engine's own database is read only outside the windows
    whose database work is measured."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._loop = asyncio.new_event_loop()
        self._engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")

    def rows(self, sql: str, **params: object) -> list[tuple[Any, ...]]:
        async def run() -> list[tuple[Any, ...]]:
            async with self._engine.connect() as conn:
                result = await conn.execute(sa.text(sql), params)
                return [tuple(r) for r in result] if result.returns_rows else []

        return self._loop.run_until_complete(run())

    def close(self) -> None:
        self._loop.run_until_complete(self._engine.dispose())
        self._loop.close()


@dataclass(frozen=True)
class PgSnapshot:
    transactions: int
    # queryid → (normalised text, calls); empty when pg_stat_statements is not loaded
    statements: dict[int, tuple[str, int]]


class PgStats:
    """The engine database's counters, read from the cluster's `postgres` database (so the
    reading itself is not counted)."""

    def __init__(self, server_url: str, statements: bool) -> None:
        self._db = Db(server_url)
        self.statements = statements

    def snapshot(self) -> PgSnapshot:
        [(xacts,)] = self._db.rows(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = :d",
            d=PG_DATABASE,
        )
        statements: dict[int, tuple[str, int]] = {}
        if self.statements:
            for queryid, query, calls in self._db.rows(
                "SELECT s.queryid, s.query, s.calls FROM pg_stat_statements s "
                "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = :d",
                d=PG_DATABASE,
            ):
                text, before = statements.get(int(queryid), (str(query), 0))
                statements[int(queryid)] = (text, before + int(calls))
        return PgSnapshot(int(xacts), statements)

    def close(self) -> None:
        self._db.close()


def db_work(before: PgSnapshot, after: PgSnapshot, calls: int, statements: bool) -> DbWork:
    n = max(calls, 1)
    by_statement: list[tuple[float, str]] = []
    control = other = 0
    for queryid, (text, count) in after.statements.items():
        delta = count - before.statements.get(queryid, (text, 0))[1]
        if delta <= 0:
            continue
        if _TRANSACTION_CONTROL.match(text):
            control += delta
        else:
            other += delta
        by_statement.append((delta / n, " ".join(text.split())))
    by_statement.sort(key=lambda item: -item[0])
    return DbWork(
        (after.transactions - before.transactions) / n,
        other / n,
        control / n if statements else None,
        by_statement,
    )


@dataclass
class EngineDb:
    url: str
    # PostgreSQL only
    stats: PgStats | None = None


@contextlib.contextmanager
def engine_database(args: argparse.Namespace) -> Iterator[EngineDb]:
    """The engine's database: a SQLite file in the run folder, or a throwaway PostgreSQL
    cluster (pg_stat_statements preloaded when the server has the module)."""
    if args.database == "sqlite":
        yield EngineDb(f"sqlite+aiosqlite:///{args.work / 'hotline.sqlite3'}")
        return
    cluster = PgCluster()
    try:
        server = cluster.start()
        statements = (cluster.bindir.parent / "lib" / "pg_stat_statements.so").exists()
        if statements:
            with contextlib.closing(Db(server)) as admin:
                admin.rows("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            cluster.restart()
        with contextlib.closing(Db(server)) as admin:
            if statements:
                admin.rows("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            admin.rows(f'CREATE DATABASE "{PG_DATABASE}"')
        stats = PgStats(server, statements)
        try:
            yield EngineDb(cluster.url(PG_DATABASE), stats)
        finally:
            stats.close()
    finally:
        cluster.stop()


# --------------------------------------------------------------------------- sandbox + engine


def sandbox_env(sandbox: Path, ports: Ports) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        HOTLINE_SANDBOX_DIR=str(sandbox),
        HOTLINE_ARI_PORT=str(ports.ari),
        HOTLINE_SIP_PORT=str(ports.sip),
        HOTLINE_ONDUTY_PORT=str(ports.onduty),
        HOTLINE_TRUNK_PORT=str(ports.trunk),
        HOTLINE_RTP_START=str(ports.rtp_start),
        HOTLINE_RTP_END=str(ports.rtp_end),
        # the bench's SIPp callers send no RTP: Asterisk must not hang them up for silence
        HOTLINE_CALLER_RTP_TIMEOUT_S="0",
        HOTLINE_CALLER_RTP_TIMEOUT_HOLD_S="0",
    )
    return env


def sandbox_up(env: Mapping[str, str]) -> None:
    subprocess.run([str(REPO / "scripts" / "asterisk-sandbox"), "up"], env=env, check=True)
    subprocess.run(
        [str(REPO / ".venv" / "bin" / "hotline"), "prompts", "build"],
        env=env,
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def asterisk_pid(sandbox: Path) -> int:
    return int((sandbox / "run" / "asterisk.pid").read_text().strip())


def _agent_endpoint(value: object) -> object:
    """PJSIP/agentN → the same endpoint dialled at the bench's own agent phone port."""
    if isinstance(value, str):
        match = re.fullmatch(r"PJSIP/agent(\d+)", value)
        if match:
            n = int(match.group(1))
            return f"PJSIP/agent{n}/sip:agent{n}@{SIP_HOST}:{AGENT_PORT + n}"
        return value
    if isinstance(value, list):
        return [_agent_endpoint(v) for v in value]
    if isinstance(value, dict):
        return {k: _agent_endpoint(v) for k, v in value.items()}
    return value


def write_config(
    src: Path, work: Path, sandbox: Path, ports: Ports, db_url: str, wrap_up_s: int
) -> Path:
    """The engine checkout's own config.yaml, pointed at the bench's Asterisk and files."""
    cfg: dict[str, Any] = yaml.safe_load((src / "config.yaml").read_text()) or {}
    cfg.setdefault("ari", {}).update(
        url=f"http://{SIP_HOST}:{ports.ari}/ari", password_file=str(sandbox / "ari-password")
    )
    cfg.setdefault("flows", {}).update(
        dir=str(src / "dialplans"), catalog=str(src / "prompts" / "catalog.yaml")
    )
    cfg.setdefault("records", {})["path"] = str(work / "calls.jsonl")
    cfg["status_path"] = str(work / "status.json")
    cfg.setdefault("log", {}).update(level="info", json_lines=False)
    cfg.setdefault("database", {})["url"] = db_url
    # billing's own system stays a SQLite file in both cases (the bench's calls make no intake)
    cfg.setdefault("billing", {})["database_url"] = (
        f"sqlite+aiosqlite:///{work / 'billing.sqlite3'}"
    )
    routing = cfg.setdefault("routing", {})
    # every call reaches the main menu whatever the hour of the run
    routing.setdefault("calendars", {})["phone"] = {"always_open": True}
    # three agents serve the hold mode's queue within the run (shipped: 30 s after each call)
    for queue in (routing.get("queues") or {}).values():
        queue["wrap_up_s"] = wrap_up_s
    cfg["routing"] = _agent_endpoint(routing)
    # `hotline run` serves the agent console too: on a free port, not the shipped 8080
    cfg.setdefault("console", {})["port"] = 0
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False))
    return path


def engine_env(src: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env["PYTHONPATH"] = str(src)
    return env


def hotline(config: Path, *args: str) -> list[str]:
    return [str(PYTHON), "-m", "ivr", "--config", str(config), *args]


def migrate(src: Path, url: str, work: Path) -> None:
    """The engine checkout's own migrations (`ivr.store.migrate.migrate`) on `url`."""
    code = (
        "import asyncio, sys; from ivr.store.migrate import migrate; "
        "asyncio.run(migrate(sys.argv[1]))"
    )
    subprocess.run(
        [str(PYTHON), "-c", code, url],
        cwd=work,
        env=engine_env(src),
        check=True,
        stdout=(work / "migrate.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


def demo_data(src: Path, config: Path, work: Path, accounts: int) -> None:
    """Demo accounts, and demo staff: the ACD's agents are the staff table's, one per agent phone
    of the bench config's routing.agents (pointed at the bench's SIPp agent phones)."""
    for step in (("db", "demo", "--accounts", str(accounts)), ("agents", "demo")):
        subprocess.run(
            hotline(config, *step),
            cwd=work,
            env=engine_env(src),
            check=True,
            stdout=(work / f"demo-{step[0]}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )


_TABLES = {
    "sqlite+aiosqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "postgresql+asyncpg": "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
}


_CALLERS = {
    areas: f"""
        SELECT p.e164 FROM phones p
        WHERE p.e164 IN (SELECT e164 FROM phones GROUP BY e164 HAVING count(*) = 1)
          AND EXISTS (SELECT 1 FROM premises pr WHERE pr.account_id = p.account_id)
          AND NOT EXISTS (SELECT 1 FROM premises pr JOIN {areas} n ON n.area_code = pr.area_code
                          WHERE pr.account_id = p.account_id)
        ORDER BY p.id LIMIT :limit"""  # noqa: S608 (two fixed table names)
    for areas in ("notices", "notice_areas")
}


def caller_numbers(db: Db, limit: int) -> list[str]:
    """National numbers of demo phones that match exactly one account, one with a home in an
    area without notices: the caller-ID look-up finds it and the flow goes on to the menu."""
    # a notice's areas: its own column up to migration 0009, the notice_areas table from 0010
    tables = {str(name) for (name,) in db.rows(_TABLES[db.url.split(":", 1)[0]])}
    query = _CALLERS["notice_areas" if "notice_areas" in tables else "notices"]
    return ["0" + str(e164).removeprefix("+81") for (e164,) in db.rows(query, limit=limit)]


def write_callers(numbers: Sequence[str], path: Path) -> Path:
    path.write_text("SEQUENTIAL\n" + "".join(f"{n};\n" for n in numbers))
    return path


def split_numbers(numbers: Sequence[str], counts: Mapping[str, int]) -> dict[str, list[str]]:
    """Each group its own numbers, as many as it places calls (fewer, in proportion, when there
    are not enough: SIPp then starts its list again)."""
    total = max(sum(counts.values()), 1)
    slices: dict[str, list[str]] = {}
    start = 0
    for name, count in counts.items():
        size = count if total <= len(numbers) else max(1, len(numbers) * count // total)
        slices[name] = list(numbers[start : start + size]) or list(numbers[:1])
        start += size
    return slices


def _ari_request(ports: Ports, password: str, path: str) -> tuple[int, bytes]:
    auth = base64.b64encode(f"hotline:{password}".encode()).decode()
    request = urllib.request.Request(
        f"http://{SIP_HOST}:{ports.ari}/ari{path}", headers={"Authorization": f"Basic {auth}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as resp:  # noqa: S310 - loopback ARI
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except OSError:
        return 0, b""


def ari_get(ports: Ports, password: str, path: str) -> int:
    return _ari_request(ports, password, path)[0]


def asterisk_channels(ports: Ports, password: str) -> int | None:
    """Channels in the bench Asterisk now (None: ARI did not answer)."""
    status, body = _ari_request(ports, password, "/channels")
    return len(json.loads(body)) if status == 200 else None


# after the engine connects, its start-up goes on a few seconds (the first flow and prompt
# checks, the console): not part of any step
STARTUP_TAIL_S = 5.0


def start_engine(
    src: Path, config: Path, work: Path, ports: Ports, password: str
) -> subprocess.Popen[bytes]:
    log = (work / "engine.log").open("ab")
    proc = subprocess.Popen(
        hotline(config, "run"),
        cwd=work,
        env=engine_env(src),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    # the app exists in Asterisk once the engine's events WebSocket is connected
    while ari_get(ports, password, "/applications/hotline") != 200:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the engine did not connect; see {work / 'engine.log'}")
        time.sleep(0.2)
    return proc


def apologies_since(log: Path, offset: int) -> tuple[int, int]:
    data = log.read_bytes()
    return data[offset:].count(APOLOGY.encode()), len(data)


# --------------------------------------------------------------------------- SIPp


@dataclass(frozen=True)
class Callers:
    """One SIPp caller group: `rate` new calls per `period_ms`, `count` in all, from its own
    caller-ID list `callers_csv`; `extra` SIPp options."""

    name: str
    scenario: str
    exten: str
    rate: int
    count: int
    listen_ms: int
    port: int
    callers_csv: Path
    period_ms: int = 1000
    extra: tuple[str, ...] = ()

    @property
    def placing_s(self) -> float:
        return self.count * self.period_ms / max(self.rate, 1) / 1000


def start_sipp(group: Callers, ports: Ports, work: Path) -> subprocess.Popen[bytes]:
    out = work / group.name
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        "sipp",
        f"{SIP_HOST}:{ports.sip}",
        "-sf",
        str(HERE / group.scenario),
        "-s",
        group.exten,
        "-inf",
        str(group.callers_csv),
        "-i",
        CALLER_IP,
        "-p",
        str(group.port),
        "-mp",
        str(media_port(group.port)),
        "-r",
        str(group.rate),
        "-rp",
        str(group.period_ms),
        "-m",
        str(group.count),
        "-l",
        "5000",
        "-d",
        str(group.listen_ms),
        "-trace_rtt",
        "-rtt_freq",
        "1",
        "-trace_stat",
        "-stf",
        str(out / "stat.csv"),
        "-fd",
        "1",
        "-nostdin",
        "-timeout",
        f"{math.ceil(group.placing_s) + group.listen_ms // 1000 + 120}s",
        "-timeout_error",
        *group.extra,
    ]
    return subprocess.Popen(
        cmd,
        cwd=out,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=(out / "sipp.err").open("wb"),
    )


def media_port(sip_port: int) -> int:
    """SIPp's media ports for one instance: it takes -mp and the three above it, so instances
    are 10 apart (below the bench Asterisk's RTP range and the tests' media ports)."""
    return 16000 + (sip_port - 5200) * 10


def sipp_exit(name: str, proc: subprocess.Popen[bytes], work: Path) -> None:
    """Say so when SIPp itself failed (a port it could not bind, a bad scenario): its calls
    are then missing from the figures, not failed. 0: all calls succeeded, 1: some failed."""
    if proc.returncode not in (0, 1):
        err = (work / name / "sipp.err").read_text(errors="replace").strip().splitlines()
        print(f"warning: SIPp {name} exited {proc.returncode}: {' | '.join(err[-3:])}")


def sipp_stat(out: Path) -> dict[str, str]:
    """The last line of a SIPp statistics file, by column."""
    path = out / "stat.csv"
    if not path.exists():
        return {}
    with path.open() as f:
        rows = list(csv.reader(f, delimiter=";"))
    return dict(zip(rows[0], rows[-1], strict=False)) if len(rows) > 1 else {}


def sipp_results(group: Callers, work: Path) -> tuple[int, int, list[float]]:
    """(placed, failed, INVITE→200 ms) from SIPp's statistics and response-time files."""
    out = work / group.name
    stat = sipp_stat(out)
    placed = int(stat.get("TotalCallCreated", 0))
    failed = int(stat.get("FailedCall(C)", 0))
    times: list[float] = []
    for rtt in out.glob("*_rtt.csv"):
        with rtt.open() as f:
            for row in csv.reader(f, delimiter=";"):
                with contextlib.suppress(ValueError, IndexError):
                    times.append(float(row[1]))
    return placed, failed, times


def calls_step(label: str, groups: Sequence[Callers], work: Path) -> Step:
    step = Step(label)
    for group in groups:
        placed, failed, times = sipp_results(group, work)
        step.placed += placed
        step.failed += failed
        step.invite_ms += times
    return step


def phone(
    name: str, scenario: str, port: int, work: Path, talk_ms: int = 0
) -> subprocess.Popen[bytes]:
    """A SIPp phone (UAS) listening on `port` for any number of calls, until stopped."""
    out = work / name
    out.mkdir(parents=True, exist_ok=True)
    cmd = ["sipp", "-sf", str(HERE / scenario), "-i", SIP_HOST, "-p", str(port)]
    cmd += ["-mp", str(media_port(port)), "-nostdin", "-aa", "-d", str(talk_ms)]
    cmd += ["-trace_stat", "-stf", str(out / "stat.csv"), "-fd", "1"]
    return subprocess.Popen(
        cmd,
        cwd=out,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=(out / "sipp.err").open("wb"),
    )


def phone_calls(name: str, work: Path) -> int:
    """Calls a phone answered and saw to their end."""
    return int(sipp_stat(work / name).get("SuccessfulCall(C)", 0))


# --------------------------------------------------------------------------- ARI capture


@contextlib.contextmanager
def capture(ports: Ports, pcap: Path) -> Iterator[None]:
    """tcpdump of the ARI port on loopback while the block runs."""
    proc = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-s", "0", "-B", "32768", "-U", "-w", str(pcap)]
        + ["tcp", "port", str(ports.ari)],
        stdout=subprocess.DEVNULL,
        stderr=(pcap.with_suffix(".log")).open("wb"),
    )
    deadline = time.monotonic() + 10
    while b"listening" not in pcap.with_suffix(".log").read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"tcpdump did not start; see {pcap.with_suffix('.log')}")
        time.sleep(0.05)
    try:
        yield
    finally:
        time.sleep(0.5)
        stop(proc, signal.SIGINT)


_ID_IN_URI = re.compile(r"/ari/(?:channels|playbacks)/([^/?]+)")
_PLAY_URI = re.compile(r"/ari/channels/([^/?]+)/play")
CALLBACK_OFFER_PROMPT = "queue-callback-offer"
# the bench callers' channels (the caller-info endpoint of asterisk/pjsip.conf)
CALLER_CHANNEL = "PJSIP/caller-info-"


@dataclass
class Capture:
    """What the ARI capture shows: key presses, the engine's requests, who called."""

    # (epoch s, channel id) of every ChannelDtmfReceived, in order
    dtmf: list[tuple[float, str]] = field(default_factory=list)
    # channel id → times of the engine's requests naming it or one of its playbacks
    requests: dict[str, list[float]] = field(default_factory=dict)
    # channel id → (epoch s, caller number) of the bench callers' channels (StasisStart)
    callers: dict[str, tuple[float, str]] = field(default_factory=dict)
    # channel id → when the callback offer was first played to it
    offers: dict[str, float] = field(default_factory=dict)


def read_capture(pcap: Path, ports: Ports) -> Capture:
    """The capture must hold the WebSocket upgrade for tshark to read the frames after it; it
    may still be growing (tcpdump -U writes whole packets): a cut-short end is not an error."""
    lines = subprocess.run(
        ["tshark", "-r", str(pcap), "-d", f"tcp.port=={ports.ari},http", "-Y"]
        + ["http.request or websocket.payload.text", "-T", "fields", "-E", "occurrence=a"]
        + ["-E", "aggregator=\x1f", "-e", "frame.time_epoch", "-e", "http.request.uri"]
        + ["-e", "websocket.payload.text"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    cap = Capture()
    requests: dict[str, list[float]] = {}
    for line in lines:
        at_s, uris, texts = (line.split("\t") + ["", ""])[:3]
        at = float(at_s)
        for uri in filter(None, uris.split("\x1f")):
            _read_uri(cap, requests, uri, at)
        for text in filter(None, texts.split("\x1f")):
            _read_event(cap, text, at)
    for key, times in requests.items():
        # a playback id is "<channel id>-<what>-<n>"; channel ids themselves have no dash
        cap.requests.setdefault(key.split("-", 1)[0], []).extend(times)
    for times in cap.requests.values():
        times.sort()
    return cap


def _read_uri(cap: Capture, requests: dict[str, list[float]], uri: str, at: float) -> None:
    match = _ID_IN_URI.search(uri)
    if match:
        requests.setdefault(match.group(1), []).append(at)
    play = _PLAY_URI.search(uri)
    if play and CALLBACK_OFFER_PROMPT in uri:
        cap.offers.setdefault(play.group(1), at)


def _read_event(cap: Capture, text: str, at: float) -> None:
    if '"ChannelDtmfReceived"' in text:
        with contextlib.suppress(ValueError, KeyError):
            cap.dtmf.append((at, str(json.loads(text)["channel"]["id"])))
    elif '"StasisStart"' in text:
        with contextlib.suppress(ValueError, KeyError):
            channel = json.loads(text)["channel"]
            # not the agent legs, which show the caller's number too
            if str(channel["name"]).startswith(CALLER_CHANNEL):
                number = str(channel["caller"]["number"])
                cap.callers[str(channel["id"])] = (at, number)


def dtmf_delays(
    cap: Capture,
    window: tuple[float, float],
    channels: Collection[str] | None = None,
    first_keys: int | None = None,
) -> list[float]:
    """For every ChannelDtmfReceived sent within `window` (epoch s), on `channels` if given and
    among each channel's `first_keys` if given: ms until the engine's next REST request on that
    channel (a URI naming the channel id or one of its playbacks)."""
    delays = []
    keyed: Counter[str] = Counter()
    for at, channel in cap.dtmf:
        keyed[channel] += 1
        if channels is not None and channel not in channels:
            continue
        if first_keys is not None and keyed[channel] > first_keys:
            continue
        if not window[0] <= at <= window[1]:
            continue
        times = cap.requests.get(channel, [])
        i = bisect.bisect_right(times, at)
        if i < len(times):
            delays.append((times[i] - at) * 1000)
    return delays


# --------------------------------------------------------------------------- the steps


@dataclass
class Callbacks:
    """Callbacks in one hold run."""

    offered: int
    offered_takers: int
    # callback_requests rows by state: pending, dialing, served, failed
    requests: dict[str, int]
    # the engine's call backs (`<call id>-callback` rows of `calls`) by reason code
    calls: dict[str, int]

    @property
    def taken(self) -> int:
        return sum(self.requests.values())

    @property
    def completed(self) -> int:
        return sum(n for reason, n in self.calls.items() if reason.endswith("answered_by_agent"))


@dataclass
class Hold:
    steps: dict[str, Step]
    # caller group → engine outcomes (calls.reason_code) of its calls
    outcomes: dict[str, dict[str, int]]
    callbacks: Callbacks
    # phone → calls it answered and saw to the end
    phones: dict[str, int]
    drain_s: float
    drained: bool
    rss: tuple[float, float, float]


@dataclass
class Bench:
    args: argparse.Namespace
    ports: Ports
    work: Path
    callers_csv: Path
    numbers: list[str]
    asterisk: int
    engine: subprocess.Popen[bytes]
    # the whole run's ARI traffic, from before the engine connects
    pcap: Path
    db: Db
    pg: PgStats | None
    password: str
    config: Path
    log_offset: int = 0
    breakdowns: list[tuple[str, DbWork]] = field(default_factory=list)

    def db_snapshot(self) -> PgSnapshot | None:
        return self.pg.snapshot() if self.pg is not None else None

    def db_step(self, step: Step, before: PgSnapshot | None) -> None:
        """The database work since `before` (taken after the step has settled: PostgreSQL's
        backends publish their counters within a second of going idle)."""
        if self.pg is None or before is None:
            return
        step.db = db_work(before, self.pg.snapshot(), step.placed, self.pg.statements)
        self.breakdowns.append((step.label, step.db))

    def idle(self, seconds: float = 10) -> None:
        """The engine's and Asterisk's CPU with no calls (timers, pollers, heartbeats): it is
        part of every step's CPU-per-call figure, so a high idle share shows up here first."""
        time.sleep(STARTUP_TAIL_S)
        before = self.db_snapshot()
        cpu0 = self.cpu()
        time.sleep(seconds)
        cpu1 = self.cpu()
        print(
            f"with no calls: engine {(cpu1[1] - cpu0[1]) / seconds:.1f} ms CPU/s "
            f"({(cpu1[3] - cpu0[3]) / seconds:.0f} wake-ups/s), "
            f"Asterisk {(cpu1[0] - cpu0[0]) / seconds:.1f} ms CPU/s (over {seconds:.0f} s)",
            flush=True,
        )
        if self.pg is None or before is None:
            print("database work per call: not measured on SQLite (--database postgresql)")
            return
        idle = db_work(before, self.pg.snapshot(), 1, self.pg.statements)
        print(
            f"PostgreSQL with no calls: {idle.transactions:.0f} transactions, "
            f"{idle.statements:.0f} statements in {seconds:.0f} s (background loops; included "
            "in the per-call figures)"
            + ("" if self.pg.statements else "; pg_stat_statements not available"),
            flush=True,
        )

    def cpu(self) -> tuple[float, float, float, float]:
        """Asterisk's CPU, the engine's and the engine's system time, in ms so far, and the
        engine's wake-ups."""
        engine = self.engine.pid
        user, system = _times_ms(engine)  # one read: the two from the same moment
        return cpu_ms(self.asterisk), user + system, system, float(wakeups(engine))

    def run_step(self, label: str, groups: Sequence[Callers], engine: bool) -> Step:
        cpu0 = self.cpu()
        db0 = self.db_snapshot() if engine else None
        t0 = time.time()
        procs = [start_sipp(g, self.ports, self.work) for g in groups]
        for group, proc in zip(groups, procs, strict=True):
            proc.wait()
            sipp_exit(group.name, proc, self.work)
        cpu1 = self.cpu()
        step = self.figures(label, groups, (t0, time.time()) if engine else None, cpu0, cpu1)
        if not engine:
            step.apologies = None
            step.engine_cpu_ms = None
            step.engine_sys_ms = None
            step.engine_wakeups = None
        time.sleep(self.args.settle)
        self.db_step(step, db0)
        return step

    def figures(
        self,
        label: str,
        groups: Sequence[Callers],
        window: tuple[float, float] | None,
        cpu0: tuple[float, float, float, float],
        cpu1: tuple[float, float, float, float],
    ) -> Step:
        step = calls_step(label, groups, self.work)
        if window is not None:
            time.sleep(0.5)  # the last packets reach the capture file
            step.dtmf_ms = dtmf_delays(read_capture(self.pcap, self.ports), window)
        calls = max(step.placed, 1)
        step.asterisk_cpu_ms = (cpu1[0] - cpu0[0]) / calls
        step.engine_cpu_ms = (cpu1[1] - cpu0[1]) / calls
        step.engine_sys_ms = (cpu1[2] - cpu0[2]) / calls
        step.engine_wakeups = (cpu1[3] - cpu0[3]) / calls
        step.apologies, self.log_offset = apologies_since(self.work / "engine.log", self.log_offset)
        return step

    def short_calls(self, name: str, exten: str, rate: int, port: int) -> Callers:
        return Callers(
            name,
            "caller_info.xml",
            exten,
            rate,
            rate * self.args.seconds,
            SHORT_CALL_LISTEN_MS,
            port,
            self.callers_csv,
        )

    def rate_steps(self) -> list[tuple[int, Step, Step]]:
        rows = []
        for rate in self.args.rates:
            base = self.short_calls(f"dialplan-{rate}", DIALPLAN_EXTEN, rate, 5201)
            dialplan = self.run_step(base.name, [base], engine=False)
            eng = self.short_calls(f"engine-{rate}", ENGINE_EXTEN, rate, 5202)
            with self.profiled(rate):
                engine = self.run_step(eng.name, [eng], engine=True)
            rows.append((rate, dialplan, engine))
            print(row(rate, "dialplan", dialplan, self.pg is not None), flush=True)
            print(row(rate, "engine", engine, self.pg is not None), flush=True)
            if self.args.compare is not None:
                self.swap(self.args.compare)
                other = self.short_calls(f"compare-{rate}", ENGINE_EXTEN, rate, 5207)
                compared = self.run_step(other.name, [other], engine=True)
                self.swap(self.args.engine_src)
                print(row(rate, "compare", compared, self.pg is not None), flush=True)
        return rows

    def swap(self, src: Path) -> None:
        """Stop the engine; start one from `src` on the same database, Asterisk and config."""
        stop(self.engine)
        self.engine = start_engine(src, self.config, self.work, self.ports, self.password)
        time.sleep(STARTUP_TAIL_S)

    @contextlib.contextmanager
    def profiled(self, rate: int) -> Iterator[None]:
        if self.args.profile is None or rate != self.args.rates[0]:
            yield
            return
        out = self.work / "profile.txt"
        cmd = [self.args.py_spy, "record", "--pid", str(self.engine.pid), "--format", "raw"]
        # --native (C frames: uvloop, the parsers) has to stop the engine for each sample
        sampling = (
            ["--native", "--rate", "50"] if self.args.native else ["--rate", "200", "--nonblocking"]
        )
        proc = subprocess.Popen(
            [*cmd, *sampling, "--output", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield
        finally:
            stop(proc, signal.SIGINT, wait_s=60)
            shutil.copyfile(out, self.args.profile)

    # ------------------------------------------------------------------ hold mode

    def hold_groups(self) -> tuple[list[Callers], Callers | None, dict[str, list[str]]]:
        """The holding callers (ramped in together at 15/s), the burst on top of them and each
        group's caller numbers."""
        args = self.args
        n, listen_ms = args.hold, args.hold_listen * 1000
        menu = n // 2
        takers = round((n - menu) * args.callback_share)
        queue = n - menu - takers
        ramp_ms = max(1, round(n / HOLD_RAMP_RATE * 1000))
        tries = max(1, (listen_ms - CALLBACK_FIRST_KEY_MS) // CALLBACK_KEY_EVERY_MS)
        burst_count = args.burst_rate * args.seconds
        counts = {"hold-menu": menu, "hold-queue": queue, "hold-callback": takers}
        counts["hold-burst"] = burst_count
        numbers = split_numbers(self.numbers, counts)
        csvs = {
            name: write_callers(group, self.work / f"callers-{name}.csv")
            for name, group in numbers.items()
        }
        # each group at its share of 15/s: `count` calls per ramp period, spread evenly
        spec = [
            ("hold-menu", "caller_info.xml", menu, 5203, ()),
            ("hold-queue", "caller_operator.xml", queue, 5204, ()),
            ("hold-callback", "caller_callback.xml", takers, 5206, ("-set", "tries", str(tries))),
        ]
        groups = [
            Callers(
                name,
                scenario,
                ENGINE_EXTEN,
                count,
                count,
                listen_ms,
                port,
                csvs[name],
                ramp_ms,
                extra,
            )
            for name, scenario, count, port, extra in spec
            if count > 0
        ]
        burst = None
        if burst_count > 0:
            burst = Callers(
                "hold-burst",
                "caller_info.xml",
                ENGINE_EXTEN,
                args.burst_rate,
                burst_count,
                SHORT_CALL_LISTEN_MS,
                5205,
                csvs["hold-burst"],
            )
        return groups, burst, numbers

    def hold(self) -> Hold:
        """N callers ramped in at 15/s (half stay in the menu, half key 0 into the queue, a
        share of those take the callback offer), then a burst of short calls; agents and the
        trunk phone serve the queue; RSS before, peak and 60 s after everything ended."""
        groups, burst, numbers = self.hold_groups()
        talk_ms = self.args.agent_talk * 1000
        phones = {
            f"agent{n}": phone(f"agent{n}", "agent.xml", AGENT_PORT + n, self.work, talk_ms)
            for n in AGENTS
        }
        phones["trunk"] = phone("trunk", "trunk_phone.xml", self.ports.trunk, self.work)
        procs: dict[str, subprocess.Popen[bytes]] = {}
        try:
            return self._hold(groups, burst, numbers, phones, procs)
        finally:
            for proc in [*procs.values(), *phones.values()]:
                stop(proc)

    def _hold(
        self,
        groups: list[Callers],
        burst: Callers | None,
        numbers: Mapping[str, list[str]],
        phones: Mapping[str, subprocess.Popen[bytes]],
        procs: dict[str, subprocess.Popen[bytes]],
    ) -> Hold:
        everyone = [*groups, *([burst] if burst is not None else [])]
        time.sleep(0.5)  # the phones listen
        rss = [rss_mib(self.engine.pid)]

        def sample() -> None:
            rss.append(rss_mib(self.engine.pid))

        cpu0 = self.cpu()
        db0 = self.db_snapshot()
        t0 = time.time()
        procs.update({g.name: start_sipp(g, self.ports, self.work) for g in groups})
        ramp_end = time.monotonic() + self.args.hold / HOLD_RAMP_RATE
        while time.monotonic() < ramp_end:
            sample()
            time.sleep(1)
        if burst is not None:
            procs[burst.name] = start_sipp(burst, self.ports, self.work)
        while any(p.poll() is None for p in procs.values()):
            sample()
            time.sleep(1)
        cpu1 = self.cpu()
        window = (t0, time.time())
        for name, proc in procs.items():
            sipp_exit(name, proc, self.work)
        every = self.figures("all", everyone, None, cpu0, cpu1)
        time.sleep(self.args.settle)
        self.db_step(every, db0)
        drain_s, drained = self.drain(sample)
        for proc in phones.values():
            stop(proc)
        late, self.log_offset = apologies_since(self.work / "engine.log", self.log_offset)
        every.apologies = (every.apologies or 0) + late
        cap = read_capture(self.pcap, self.ports)
        group_of = {number: g.name for g in everyone for number in numbers[g.name]}
        channels: dict[str, set[str]] = {g.name: set() for g in everyone}
        for channel, (at, number) in cap.callers.items():
            # the rate steps before used the same numbers
            if number in group_of and window[0] <= at <= window[1]:
                channels[group_of[number]].add(channel)
        steps: dict[str, Step] = {}
        for g in everyone:
            step = calls_step(g.name, [g], self.work)
            first = MENU_KEYS if g.name == "hold-callback" else None
            step.dtmf_ms = dtmf_delays(cap, window, channels[g.name], first)
            steps[g.name] = step
            every.dtmf_ms += step.dtmf_ms
        steps["all"] = every
        outcomes, callbacks = self.hold_outcomes(cap, window, channels)
        counts = {name: phone_calls(name, self.work) for name in phones}
        time.sleep(60)
        return Hold(
            steps,
            outcomes,
            callbacks,
            counts,
            drain_s,
            drained,
            (rss[0], max(rss), rss_mib(self.engine.pid)),
        )

    def drain(self, sample: Callable[[], None]) -> tuple[float, bool]:
        """Wait (up to --drain s) until no callback is pending or ringing and Asterisk has no
        channel left: the call backs still owed after the callers left are made."""
        start = time.monotonic()
        while time.monotonic() - start < self.args.drain:
            [(owed,)] = self.db.rows(
                "SELECT count(*) FROM callback_requests WHERE state IN ('pending', 'dialing')"
            )
            if int(owed) == 0 and asterisk_channels(self.ports, self.password) == 0:
                return time.monotonic() - start, True
            sample()
            time.sleep(2)
        return time.monotonic() - start, False

    def hold_outcomes(
        self, cap: Capture, window: tuple[float, float], channels: Mapping[str, set[str]]
    ) -> tuple[dict[str, dict[str, int]], Callbacks]:
        reasons = {
            str(call_id): str(reason or "(none)")
            for call_id, reason in self.db.rows("SELECT id, reason_code FROM calls")
        }
        outcomes = {
            name: dict(Counter(reasons.get(c, "(no record)") for c in ids).most_common())
            for name, ids in channels.items()
        }
        offered = {c for c, at in cap.offers.items() if window[0] <= at}
        requests = {
            str(state): int(n)
            for state, n in self.db.rows(
                "SELECT state, count(*) FROM callback_requests GROUP BY state"
            )
        }
        call_backs = Counter(r for c, r in reasons.items() if c.endswith("-callback"))
        takers = channels.get("hold-callback", set())
        return outcomes, Callbacks(
            len(offered), len(offered & takers), requests, dict(call_backs.most_common())
        )


# --------------------------------------------------------------------------- report


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _ratio(s: Step) -> str:
    # the engine's CPU per call over Asterisk's: Asterisk does the same work for every call, so
    # its CPU per call gauges how fast the (shared, virtual) machine ran during the step; the
    # two move together by ±15 % from run to run, their ratio by a few per cent
    if s.engine_cpu_ms is None or not s.asterisk_cpu_ms:
        return ""
    return f"{s.engine_cpu_ms / s.asterisk_cpu_ms:.3f}"


def header(db: bool) -> str:
    head = (
        f"{'rate':>4} {'path':<8} {'placed':>6} {'failed':>6} {'inv200 p50':>10} {'p95':>7} "
        f"{'dtmf→cmd p50':>12} {'p99':>7} {'(n)':>6} {'ast ms/call':>11} {'eng ms/call':>11} "
        f"{'of it sys':>9} {'eng/ast':>7} {'wakeups':>7} {'apologies':>9}"
    )
    return head + (f" {'db xact/call':>12} {'stmt/call':>9}" if db else "")


def row(rate: int | str, path: str, s: Step, db: bool = False) -> str:
    engine = path != "dialplan"
    text = (
        f"{rate:>4} {path:<8} {s.placed:>6} {s.failed:>6} {_ms(percentile(s.invite_ms, 50)):>10} "
        f"{_ms(percentile(s.invite_ms, 95)):>7} "
        f"{_ms(percentile(s.dtmf_ms, 50)) if engine else '':>12} "
        f"{_ms(percentile(s.dtmf_ms, 99)) if engine else '':>7} "
        f"{len(s.dtmf_ms) if engine else '':>6} {_num(s.asterisk_cpu_ms):>11} "
        f"{_num(s.engine_cpu_ms):>11} {_num(s.engine_sys_ms):>9} {_ratio(s):>7} "
        f"{_num(s.engine_wakeups):>7} "
        f"{'' if s.apologies is None else s.apologies:>9}"
    )
    if db:
        xacts = None if s.db is None else s.db.transactions
        statements = None if s.db is None else s.db.statements
        text += f" {_num(xacts):>12} {_num(statements):>9}"
    return text


def print_breakdowns(breakdowns: Sequence[tuple[str, DbWork]]) -> None:
    """Statement by statement, per call, for each engine step (--statements)."""
    for label, work in breakdowns:
        control = "" if work.control is None else f", transaction control {work.control:.2f}"
        print(
            f"\n{label}: per call {work.transactions:.2f} transactions, "
            f"{work.statements:.2f} statements{control}"
        )
        for per_call, text in work.by_statement:
            if per_call >= 0.01:
                print(f"  {per_call:7.2f}  {text[:110]}")


def print_hold(args: argparse.Namespace, hold: Hold, db: bool) -> None:
    steps = hold.steps
    sizes = ", ".join(
        f"{steps[g].placed} {label}"
        for g, label in (
            ("hold-menu", "in the menu"),
            ("hold-queue", "waiting in the queue"),
            ("hold-callback", "taking the callback offer"),
        )
        if g in steps
    )
    print(
        f"\nhold: {args.hold} callers ramped in at {HOLD_RAMP_RATE}/s ({sizes}), then "
        f"{args.burst_rate}/s new calls for {args.seconds} s; {len(AGENTS)} agents answering for "
        f"{args.agent_talk} s, wrap-up {args.wrap_up} s"
    )
    print(header(db))
    for name, step in steps.items():
        print(row("", name.removeprefix("hold-"), step, db))
    print(
        "(CPU, apologies and database work are for the whole hold run, in the 'all' row; CPU and "
        "database work until the last caller hung up, per call placed)"
    )
    print("engine outcomes (calls.reason_code):")
    for name, outcome in hold.outcomes.items():
        print(f"  {name.removeprefix('hold-'):<9} {outcome}")
    cb = hold.callbacks
    print(
        f"callbacks: offered {cb.offered} ({cb.offered_takers} of them callback takers; the "
        f"ARI capture's plays of {CALLBACK_OFFER_PROMPT}: the database records no offer), "
        f"taken {cb.taken} (callback_requests {cb.requests}), completed {cb.completed} "
        f"(call backs put through to an agent; call-back calls by outcome: {cb.calls})"
    )
    agents = sum(n for name, n in hold.phones.items() if name.startswith("agent"))
    print(
        f"phones: the agents took {agents} calls to the end, the trunk phone "
        f"{hold.phones.get('trunk', 0)}; call backs "
        + (
            f"all made {hold.drain_s:.0f} s after the last caller hung up"
            if hold.drained
            else f"still owed {hold.drain_s:.0f} s after the last caller hung up (--drain)"
        )
    )
    before, peak, after = hold.rss
    print(f"engine RSS MiB: before {before:.0f}, peak {peak:.0f}, 60 s after the calls {after:.0f}")


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--rates", default="10,15,20,40", help="new calls/s per step (comma-separated; '' none)"
    )
    p.add_argument("--seconds", type=int, default=30, help="seconds of new calls per step")
    p.add_argument("--hold", type=int, default=0, help="callers for the hold mode (0: skip)")
    p.add_argument(
        "--hold-listen",
        type=int,
        default=90,
        # the main menu gives up on a silent caller after about 100 s
        help="s a holding caller stays (at most 100)",
    )
    p.add_argument("--burst-rate", type=int, default=20, help="new calls/s on top of the hold")
    p.add_argument(
        "--callback-share",
        type=float,
        default=0.25,
        help="share of the queued holding callers who take the callback offer",
    )
    p.add_argument("--agent-talk", type=int, default=3, help="s an agent phone talks")
    p.add_argument("--wrap-up", type=int, default=2, help="queues' wrap_up_s in the bench config")
    p.add_argument(
        "--drain", type=float, default=180, help="s to wait for call backs after the callers"
    )
    p.add_argument(
        "--database", choices=("sqlite", "postgresql"), default="sqlite", help="the engine's"
    )
    p.add_argument(
        "--statements",
        action="store_true",
        help="PostgreSQL: list each engine step's statements per call",
    )
    p.add_argument("--engine-src", type=Path, default=REPO, help="checkout to run the engine from")
    p.add_argument(
        "--compare", type=Path, default=None, help="checkout of a second engine for every step"
    )
    p.add_argument("--accounts", type=int, default=2000, help="demo accounts in the database")
    p.add_argument("--sandbox", type=Path, default=Path("/work/bench-sandbox"))
    p.add_argument("--work", type=Path, default=Path("/work/bench-run"), help="run files")
    p.add_argument("--ari-port", type=int, default=8189)
    p.add_argument("--sip-port", type=int, default=5170)
    p.add_argument("--onduty-port", type=int, default=5179)
    p.add_argument(
        "--trunk-port", type=int, default=5180, help="the bench sandbox's trunk phone (call backs)"
    )
    p.add_argument(
        "--rtp",
        default="22000-29999",
        # below the tests' SIPp media ports (30000..) and the ephemeral range, above the sandbox's
        help="the bench Asterisk's RTP port range",
    )
    p.add_argument("--settle", type=float, default=3.0, help="s between steps")
    p.add_argument("--profile", type=Path, help="py-spy raw profile of the first engine step")
    p.add_argument(
        "--native", action="store_true", help="profile with C frames (slows the engine down)"
    )
    p.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    p.add_argument("--keep-asterisk", action="store_true", help="leave the bench Asterisk up")
    args = p.parse_args(argv)
    args.rates = [int(r) for r in args.rates.split(",") if r]
    args.engine_src = args.engine_src.resolve()
    if args.compare is not None:
        args.compare = args.compare.resolve()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for tool in ("sipp", "tcpdump", "tshark"):
        if shutil.which(tool) is None:
            print(f"installing {tool} (Debian)", file=sys.stderr)
            package = {"sipp": "sip-tester"}.get(tool, tool)
            subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True)
    start, end = (int(x) for x in args.rtp.split("-"))
    ports = Ports(args.ari_port, args.sip_port, args.onduty_port, args.trunk_port, start, end)
    env = sandbox_env(args.sandbox, ports)
    sandbox_up(env)
    try:
        shutil.rmtree(args.work, ignore_errors=True)
        args.work.mkdir(parents=True)
        with engine_database(args) as db:
            config = write_config(
                args.engine_src, args.work, args.sandbox, ports, db.url, args.wrap_up
            )
            migrate(args.engine_src, db.url, args.work)
            demo_data(args.engine_src, config, args.work, args.accounts)
            with contextlib.closing(Db(db.url)) as reader:
                numbers = caller_numbers(reader, args.accounts)
                callers_csv = write_callers(numbers, args.work / "callers.csv")
                password = (args.sandbox / "ari-password").read_text().strip()
                with capture(ports, args.work / "ari.pcap"):
                    run(args, ports, config, callers_csv, numbers, password, reader, db)
    finally:
        if not args.keep_asterisk:
            subprocess.run([str(REPO / "scripts" / "asterisk-sandbox"), "down"], env=env)
    return 0


def run(
    args: argparse.Namespace,
    ports: Ports,
    config: Path,
    callers_csv: Path,
    numbers: list[str],
    password: str,
    reader: Db,
    db: EngineDb,
) -> None:
    engine = start_engine(args.engine_src, config, args.work, ports, password)
    print(
        f"engine from {args.engine_src} (git {git_head(args.engine_src)}) on {args.database}, "
        f"{len(numbers)} caller IDs, Asterisk RTP {args.rtp}, {os.cpu_count()} cores",
        flush=True,
    )
    bench = Bench(
        args,
        ports,
        args.work,
        callers_csv,
        numbers,
        asterisk_pid(args.sandbox),
        engine,
        args.work / "ari.pcap",
        reader,
        db.stats,
        password,
        config,
    )
    if args.compare is not None:
        print(f"compared with an engine from {args.compare} (git {git_head(args.compare)})")
    bench.log_offset = apologies_since(args.work / "engine.log", 0)[1]
    try:
        bench.idle()
        if args.rates:
            print(header(db.stats is not None), flush=True)
            bench.rate_steps()
        if args.hold:
            print_hold(args, bench.hold(), db.stats is not None)
        if args.statements:
            print_breakdowns(bench.breakdowns)
    finally:
        # the engine that runs now (`--compare` swaps them)
        stop(bench.engine)


def git_head(src: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(src), "status", "--porcelain", "ivr", "routing"],
        capture_output=True,
        text=True,
    ).stdout
    return out.stdout.strip() + (" + uncommitted changes" if dirty.strip() else "")


if __name__ == "__main__":
    sys.exit(main())
