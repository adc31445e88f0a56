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

`--hold N` adds the 400-caller mode: N callers ramped in at 15/s who sit in the main menu or
key 0 into the operator queue (three SIPp agent phones, bench/agent.xml, answer and hold, so the
rest wait in the holding bridge with announcements), plus a burst of 20 new short calls a second;
it reports failed calls, DTMF→command and engine RSS before / peak / 60 s after the calls end.
After the run it counts callbacks offered, taken and completed in the engine's database.

Everything runs in its own sandbox (HOTLINE_SANDBOX_DIR, own ARI/SIP/RTP ports) with a
temporary SQLite database of demo accounts; callers use demo numbers that match one account in
an area without notices. The phone calendar is made always open so every call reaches the main
menu whatever the hour. `--engine-src DIR` runs the engine from another checkout (PYTHONPATH),
to compare before and after. Needs root (chroot, tcpdump); prints numbers, asserts nothing.

    .venv/bin/python bench/load.py --rates 10,15,20,40 --seconds 30 [--hold 400]
"""

from __future__ import annotations

import argparse
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
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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
APOLOGY = "call session failed"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# what a call sits in before it hangs up: key 1 at 2 s, then the main menu
SHORT_CALL_LISTEN_MS = 4000


@dataclass(frozen=True)
class Ports:
    ari: int
    sip: int
    onduty: int
    rtp_start: int
    rtp_end: int


@dataclass
class Step:
    """One SIPp run's figures."""

    label: str
    placed: int = 0
    failed: int = 0
    invite_ms: list[float] = field(default_factory=list)
    dtmf_ms: list[float] = field(default_factory=list)
    asterisk_cpu_ms: float = 0.0
    engine_cpu_ms: float = 0.0
    apologies: int = 0


# --------------------------------------------------------------------------- processes


def cpu_ms(pid: int) -> float:
    """utime + stime of a process (all its threads), in ms."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / CLK_TCK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, wait_s: float = 15) -> None:
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


# --------------------------------------------------------------------------- sandbox + engine


def sandbox_env(sandbox: Path, ports: Ports) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        HOTLINE_SANDBOX_DIR=str(sandbox),
        HOTLINE_ARI_PORT=str(ports.ari),
        HOTLINE_SIP_PORT=str(ports.sip),
        HOTLINE_ONDUTY_PORT=str(ports.onduty),
        HOTLINE_RTP_START=str(ports.rtp_start),
        HOTLINE_RTP_END=str(ports.rtp_end),
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


def _agent_endpoint(value: Any) -> Any:
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


def write_config(src: Path, work: Path, sandbox: Path, ports: Ports) -> Path:
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
    cfg.setdefault("database", {})["url"] = f"sqlite+aiosqlite:///{work / 'hotline.sqlite3'}"
    cfg.setdefault("billing", {})["database_url"] = (
        f"sqlite+aiosqlite:///{work / 'billing.sqlite3'}"
    )
    routing = cfg.setdefault("routing", {})
    # every call reaches the main menu whatever the hour of the run
    routing.setdefault("calendars", {})["phone"] = {"always_open": True}
    cfg["routing"] = _agent_endpoint(routing)
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False))
    return path


def engine_env(src: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env["PYTHONPATH"] = str(src)
    return env


def hotline(config: Path, *args: str) -> list[str]:
    return [str(PYTHON), "-m", "ivr", "--config", str(config), *args]


def demo_data(src: Path, config: Path, work: Path, accounts: int) -> None:
    subprocess.run(
        hotline(config, "db", "demo", "--accounts", str(accounts)),
        cwd=work,
        env=engine_env(src),
        check=True,
        stdout=(work / "demo.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


def caller_numbers(db: Path, limit: int) -> list[str]:
    """National numbers of demo phones that match exactly one account, one with a home in an
    area without notices: the caller-ID look-up finds it and the flow goes on to the menu."""
    query = """
        SELECT p.e164 FROM phones p
        WHERE p.e164 IN (SELECT e164 FROM phones GROUP BY e164 HAVING count(*) = 1)
          AND EXISTS (SELECT 1 FROM premises pr WHERE pr.account_id = p.account_id)
          AND NOT EXISTS (SELECT 1 FROM premises pr JOIN notices n ON n.area_code = pr.area_code
                          WHERE pr.account_id = p.account_id)
        ORDER BY p.id LIMIT ?"""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(query, (limit,)).fetchall()
    return ["0" + str(e164).removeprefix("+81") for (e164,) in rows]


def write_callers(numbers: Sequence[str], path: Path) -> Path:
    path.write_text("SEQUENTIAL\n" + "".join(f"{n};\n" for n in numbers))
    return path


def ari_get(ports: Ports, password: str, path: str) -> int:
    auth = base64.b64encode(f"hotline:{password}".encode()).decode()
    request = urllib.request.Request(
        f"http://{SIP_HOST}:{ports.ari}/ari{path}", headers={"Authorization": f"Basic {auth}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as resp:  # noqa: S310 - loopback ARI
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


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
    """One SIPp caller group: `rate` new calls per `period_ms`, `count` in all."""

    name: str
    scenario: str
    exten: str
    rate: int
    count: int
    listen_ms: int
    port: int
    period_ms: int = 1000


def start_sipp(
    group: Callers, ports: Ports, callers_csv: Path, work: Path
) -> subprocess.Popen[bytes]:
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
        str(callers_csv),
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
        f"{group.count // max(group.rate, 1) + group.listen_ms // 1000 + 120}s",
        "-timeout_error",
    ]
    return subprocess.Popen(
        cmd, cwd=out, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )


def media_port(sip_port: int) -> int:
    """SIPp's media ports for one instance: it takes -mp and the three above it, so instances
    are 10 apart (below the bench Asterisk's RTP range and the tests' media ports)."""
    return 16000 + (sip_port - 5200) * 10


def sipp_results(group: Callers, work: Path) -> tuple[int, int, list[float]]:
    """(placed, failed, INVITE→200 ms) from SIPp's statistics and response-time files."""
    out = work / group.name
    placed = failed = 0
    with (out / "stat.csv").open() as f:
        rows = list(csv.reader(f, delimiter=";"))
    if len(rows) > 1:
        head, last = rows[0], rows[-1]
        placed = int(last[head.index("TotalCallCreated")])
        failed = int(last[head.index("FailedCall(C)")])
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


def dtmf_to_command_ms(pcap: Path, ports: Ports, window: tuple[float, float]) -> list[float]:
    """For every ChannelDtmfReceived sent within `window` (epoch s): ms until the engine's next
    REST request on that channel (a URI naming the channel id or one of its playbacks). The
    capture must hold the WebSocket upgrade for tshark to read the frames after it; it may still
    be growing (tcpdump -U writes whole packets): a cut-short end is not an error here."""
    lines = subprocess.run(
        ["tshark", "-r", str(pcap), "-d", f"tcp.port=={ports.ari},http", "-Y"]
        + ["http.request or websocket.payload.text", "-T", "fields", "-E", "occurrence=a"]
        + ["-E", "aggregator=\x1f", "-e", "frame.time_epoch", "-e", "http.request.uri"]
        + ["-e", "websocket.payload.text"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    dtmf: list[tuple[float, str]] = []
    requests: dict[str, list[float]] = {}
    for line in lines:
        at_s, uris, texts = (line.split("\t") + ["", ""])[:3]
        at = float(at_s)
        for uri in filter(None, uris.split("\x1f")):
            match = _ID_IN_URI.search(uri)
            if match:
                requests.setdefault(match.group(1), []).append(at)
        for text in filter(None, texts.split("\x1f")):
            if '"ChannelDtmfReceived"' in text and window[0] <= at <= window[1]:
                with contextlib.suppress(ValueError, KeyError):
                    dtmf.append((at, str(json.loads(text)["channel"]["id"])))
    return _delays(dtmf, requests)


def _delays(dtmf: list[tuple[float, str]], requests: dict[str, list[float]]) -> list[float]:
    by_channel: dict[str, list[float]] = {}
    for key, times in requests.items():
        # a playback id is "<channel id>-<what>-<n>"; channel ids themselves have no dash
        by_channel.setdefault(key.split("-", 1)[0], []).extend(times)
    for times in by_channel.values():
        times.sort()
    delays = []
    for at, channel in dtmf:
        times = by_channel.get(channel, [])
        i = bisect.bisect_right(times, at)
        if i < len(times):
            delays.append((times[i] - at) * 1000)
    return delays


# --------------------------------------------------------------------------- the steps


@dataclass
class Bench:
    args: argparse.Namespace
    ports: Ports
    work: Path
    callers_csv: Path
    asterisk: int
    engine: subprocess.Popen[bytes]
    # the whole run's ARI traffic, from before the engine connects
    pcap: Path
    log_offset: int = 0

    def run_step(self, label: str, groups: Sequence[Callers], engine: bool) -> Step:
        cpu0 = cpu_ms(self.asterisk), cpu_ms(self.engine.pid)
        t0 = time.time()
        procs = [start_sipp(g, self.ports, self.callers_csv, self.work) for g in groups]
        for proc in procs:
            proc.wait()
        cpu1 = cpu_ms(self.asterisk), cpu_ms(self.engine.pid)
        return self.figures(label, groups, (t0, time.time()) if engine else None, cpu0, cpu1)

    def figures(
        self,
        label: str,
        groups: Sequence[Callers],
        window: tuple[float, float] | None,
        cpu0: tuple[float, float],
        cpu1: tuple[float, float],
    ) -> Step:
        step = calls_step(label, groups, self.work)
        if window is not None:
            time.sleep(0.5)  # the last packets reach the capture file
            step.dtmf_ms = dtmf_to_command_ms(self.pcap, self.ports, window)
        calls = max(step.placed, 1)
        step.asterisk_cpu_ms = (cpu1[0] - cpu0[0]) / calls
        step.engine_cpu_ms = (cpu1[1] - cpu0[1]) / calls
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
        )

    def rate_steps(self) -> list[tuple[int, Step, Step]]:
        rows = []
        for rate in self.args.rates:
            base = self.short_calls(f"dialplan-{rate}", DIALPLAN_EXTEN, rate, 5201)
            dialplan = self.run_step(base.name, [base], engine=False)
            time.sleep(self.args.settle)
            eng = self.short_calls(f"engine-{rate}", ENGINE_EXTEN, rate, 5202)
            with self.profiled(rate):
                engine = self.run_step(eng.name, [eng], engine=True)
            time.sleep(self.args.settle)
            rows.append((rate, dialplan, engine))
            print(row(rate, "dialplan", dialplan), flush=True)
            print(row(rate, "engine", engine), flush=True)
        return rows

    @contextlib.contextmanager
    def profiled(self, rate: int) -> Iterator[None]:
        if self.args.profile is None or rate != self.args.rates[0]:
            yield
            return
        out = self.work / "profile.txt"
        cmd = [self.args.py_spy, "record", "--pid", str(self.engine.pid), "--format", "raw"]
        proc = subprocess.Popen(
            [*cmd, "--rate", "200", "--output", str(out), "--nonblocking"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield
        finally:
            stop(proc, signal.SIGINT, wait_s=60)
            shutil.copyfile(out, self.args.profile)

    def hold(self) -> tuple[dict[str, Step], tuple[float, float, float]]:
        """N callers ramped in at 15/s (half stay in the menu, half key 0 into the queue), then
        a burst of 20 short calls a second; RSS before, peak and 60 s after the calls end."""
        n, listen_ms = self.args.hold, self.args.hold_listen * 1000
        groups = [
            # 3 calls per 400 ms: 7.5/s each, 15/s together
            Callers("hold-menu", "caller_info.xml", ENGINE_EXTEN, 3, n // 2, listen_ms, 5203, 400),
            Callers(
                "hold-queue",
                "caller_operator.xml",
                ENGINE_EXTEN,
                3,
                n - n // 2,
                listen_ms,
                5204,
                400,
            ),
        ]
        burst = Callers(
            "hold-burst",
            "caller_info.xml",
            ENGINE_EXTEN,
            self.args.burst_rate,
            self.args.burst_rate * self.args.seconds,
            SHORT_CALL_LISTEN_MS,
            5205,
        )
        agents = [agent_phone(i, self.work) for i in (1, 2, 3)]
        rss_before = rss_mib(self.engine.pid)
        peak = rss_before
        cpu0 = cpu_ms(self.asterisk), cpu_ms(self.engine.pid)
        t0 = time.time()
        procs = [start_sipp(g, self.ports, self.callers_csv, self.work) for g in groups]
        ramp_end = time.monotonic() + n / 15
        while time.monotonic() < ramp_end:
            peak = max(peak, rss_mib(self.engine.pid))
            time.sleep(1)
        procs.append(start_sipp(burst, self.ports, self.callers_csv, self.work))
        while any(p.poll() is None for p in procs):
            peak = max(peak, rss_mib(self.engine.pid))
            time.sleep(1)
        cpu1 = cpu_ms(self.asterisk), cpu_ms(self.engine.pid)
        window = (t0, time.time())
        for phone in agents:
            stop(phone)
        everyone = [*groups, burst]
        steps = {g.name: calls_step(g.name, [g], self.work) for g in everyone}
        steps["all"] = self.figures("all", everyone, window, cpu0, cpu1)
        time.sleep(60)
        return steps, (rss_before, peak, rss_mib(self.engine.pid))


def agent_phone(n: int, work: Path) -> subprocess.Popen[bytes]:
    out = work / f"agent{n}"
    out.mkdir(parents=True, exist_ok=True)
    cmd = ["sipp", "-sf", str(HERE / "agent.xml"), "-i", SIP_HOST, "-p", str(AGENT_PORT + n)]
    cmd += ["-mp", str(media_port(AGENT_PORT + n)), "-nostdin", "-aa"]
    return subprocess.Popen(
        cmd, cwd=out, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )


# --------------------------------------------------------------------------- report


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


HEADER = (
    f"{'rate':>4} {'path':<8} {'placed':>6} {'failed':>6} {'inv200 p50':>10} {'p95':>7} "
    f"{'dtmf→cmd p50':>12} {'p99':>7} {'(n)':>6} {'ast ms/call':>11} {'eng ms/call':>11} "
    f"{'apologies':>9}"
)


def row(rate: int | str, path: str, s: Step) -> str:
    engine = path != "dialplan"
    return (
        f"{rate:>4} {path:<8} {s.placed:>6} {s.failed:>6} {_ms(percentile(s.invite_ms, 50)):>10} "
        f"{_ms(percentile(s.invite_ms, 95)):>7} "
        f"{_ms(percentile(s.dtmf_ms, 50)) if engine else '':>12} "
        f"{_ms(percentile(s.dtmf_ms, 99)) if engine else '':>7} "
        f"{len(s.dtmf_ms) if engine else '':>6} {s.asterisk_cpu_ms:>11.1f} "
        f"{s.engine_cpu_ms if engine else 0:>11.1f} {s.apologies if engine else '':>9}"
    )


def callbacks(db: Path) -> tuple[int, int, int, dict[str, int]]:
    """(offered, taken, completed) and the callback trail kinds, from the engine's database.
    Offered = trail events naming a callback offer; taken = callback requests kept; completed =
    those served."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        kinds = dict(
            conn.execute(
                "SELECT kind, count(*) FROM call_events WHERE kind LIKE '%callback%' GROUP BY kind"
            ).fetchall()
        )
        states = dict(
            conn.execute("SELECT state, count(*) FROM callback_requests GROUP BY state").fetchall()
        )
    offered = sum(v for k, v in kinds.items() if "offer" in k)
    return offered, sum(states.values()), states.get("served", 0), kinds


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rates", default="10,15,20,40", help="new calls/s per step (comma-separated)")
    p.add_argument("--seconds", type=int, default=30, help="seconds of new calls per step")
    p.add_argument("--hold", type=int, default=0, help="callers for the hold mode (0: skip)")
    p.add_argument("--hold-listen", type=int, default=90, help="s a holding caller stays")
    p.add_argument("--burst-rate", type=int, default=20, help="new calls/s on top of the hold")
    p.add_argument("--engine-src", type=Path, default=REPO, help="checkout to run the engine from")
    p.add_argument("--accounts", type=int, default=2000, help="demo accounts in the database")
    p.add_argument("--sandbox", type=Path, default=Path("/work/bench-sandbox"))
    p.add_argument("--work", type=Path, default=Path("/work/bench-run"), help="run files")
    p.add_argument("--ari-port", type=int, default=8189)
    p.add_argument("--sip-port", type=int, default=5170)
    p.add_argument("--onduty-port", type=int, default=5179)
    p.add_argument(
        "--rtp",
        default="22000-29999",
        # below the tests' SIPp media ports (30000..) and the ephemeral range, above the sandbox's
        help="the bench Asterisk's RTP port range",
    )
    p.add_argument("--settle", type=float, default=3.0, help="s between steps")
    p.add_argument("--profile", type=Path, help="py-spy raw profile of the first engine step")
    p.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    p.add_argument("--keep-asterisk", action="store_true", help="leave the bench Asterisk up")
    args = p.parse_args(argv)
    args.rates = [int(r) for r in args.rates.split(",") if r]
    args.engine_src = args.engine_src.resolve()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for tool in ("sipp", "tcpdump", "tshark"):
        if shutil.which(tool) is None:
            print(f"installing {tool} (Debian)", file=sys.stderr)
            package = {"sipp": "sip-tester"}.get(tool, tool)
            subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True)
    start, end = (int(x) for x in args.rtp.split("-"))
    ports = Ports(args.ari_port, args.sip_port, args.onduty_port, start, end)
    env = sandbox_env(args.sandbox, ports)
    sandbox_up(env)
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    config = write_config(args.engine_src, args.work, args.sandbox, ports)
    demo_data(args.engine_src, config, args.work, args.accounts)
    numbers = caller_numbers(args.work / "hotline.sqlite3", args.accounts)
    callers_csv = write_callers(numbers, args.work / "callers.csv")
    password = (args.sandbox / "ari-password").read_text().strip()
    with capture(ports, args.work / "ari.pcap"):
        run(args, env, ports, config, callers_csv, password, len(numbers))
    offered, taken, completed, kinds = callbacks(args.work / "hotline.sqlite3")
    print(f"callbacks: offered {offered}, taken {taken}, completed {completed} (trail: {kinds})")
    return 0


def run(
    args: argparse.Namespace,
    env: Mapping[str, str],
    ports: Ports,
    config: Path,
    callers_csv: Path,
    password: str,
    numbers: int,
) -> None:
    engine = start_engine(args.engine_src, config, args.work, ports, password)
    print(
        f"engine from {args.engine_src} (git {git_head(args.engine_src)}), {numbers} caller "
        f"IDs, Asterisk RTP {args.rtp}, {os.cpu_count()} cores",
        flush=True,
    )
    bench = Bench(
        args,
        ports,
        args.work,
        callers_csv,
        asterisk_pid(args.sandbox),
        engine,
        args.work / "ari.pcap",
    )
    bench.log_offset = apologies_since(args.work / "engine.log", 0)[1]
    try:
        print(HEADER, flush=True)
        bench.rate_steps()
        if args.hold:
            print_hold(args, *bench.hold())
    finally:
        stop(engine)
        if not args.keep_asterisk:
            subprocess.run([str(REPO / "scripts" / "asterisk-sandbox"), "down"], env=env)


def print_hold(
    args: argparse.Namespace, steps: dict[str, Step], rss: tuple[float, float, float]
) -> None:
    print(
        f"\nhold: {args.hold} callers at 15/s (half menu, half queue) + {args.burst_rate}/s burst"
    )
    print(HEADER)
    for name, step in steps.items():
        print(row("", name.removeprefix("hold-"), step))
    before, peak, after = rss
    print(f"engine RSS MiB: before {before:.0f}, peak {peak:.0f}, 60 s after the calls {after:.0f}")
    print("(DTMF, CPU and apologies are for the whole hold run, in the 'all' row)")


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
