"""Run SIPp scenarios (tests/sipp/*.xml) as real SIP phones, on ports no other test uses."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from tests.support.rtp_dtmf import write_key_pcap

SCENARIOS = Path(__file__).resolve().parents[1] / "sipp"
# a phone that never finishes its scenario fails the test instead of hanging it
SIPP_TIMEOUT_S = 150
_media_ports = itertools.count(30000 + (os.getpid() % 200) * 40, 4)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def free_media_port() -> int:
    """An even port with the next three free too (RTP, RTCP and SIPp's extra media ports)."""
    while True:
        base = next(_media_ports)
        try:
            socks = []
            for p in range(base, base + 4):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()


@dataclass
class SippResult:
    returncode: int
    output: str
    log: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Sipp:
    """One SIPp process. `start()` returns once it runs; `wait()` gives its result. It listens
    on a free port, or on `port` for a phone Asterisk reaches at a fixed address (the trunk)."""

    def __init__(
        self,
        scenario: str | Path,
        args: list[str],
        workdir: Path,
        port: int | None = None,
        *,
        local_ip: str = "127.0.0.1",
        calls: int = 1,
    ) -> None:
        if shutil.which("sipp") is None:
            raise RuntimeError("sipp is not installed (Debian package sip-tester)")
        self.scenario = scenario if isinstance(scenario, Path) else SCENARIOS / scenario
        self.args = args
        self.workdir = workdir
        # 127.0.0.2 reaches the caller-info endpoint (DTMF as SIP INFO)
        self.local_ip = local_ip
        self.calls = calls
        self.port = port if port is not None else free_udp_port()
        self.log_file = workdir / f"sipp-{self.port}.log"
        self.error_file = workdir / f"sipp-{self.port}.errors"
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> Sipp:
        self._proc = await asyncio.create_subprocess_exec(
            "sipp",
            *self.args,
            "-sf",
            str(self.scenario),
            "-i",
            self.local_ip,
            "-p",
            str(self.port),
            "-mp",
            str(free_media_port()),
            "-m",
            str(self.calls),
            "-nostdin",
            "-timeout",
            f"{SIPP_TIMEOUT_S}s",
            "-trace_logs",
            "-log_file",
            str(self.log_file),
            "-trace_err",
            "-error_file",
            str(self.error_file),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=self.workdir,
        )
        return self

    async def wait(self) -> SippResult:
        if self._proc is None:
            raise RuntimeError("not started")
        try:
            out, _ = await asyncio.wait_for(self._proc.communicate(), SIPP_TIMEOUT_S + 10)
        except TimeoutError:
            self._proc.kill()
            out, _ = await self._proc.communicate()
        log = self.log_file.read_text() if self.log_file.exists() else ""
        errors = self.error_file.read_text() if self.error_file.exists() else ""
        # SIPp's own account of what went wrong first, then the end of its screen
        output = errors + out.decode(errors="replace")[-1500:]
        return SippResult(self._proc.returncode or 0, output, log)

    def kill(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()


def caller_args(sip_host: str, sip_port: int, number: str, caller_id: str) -> list[str]:
    return [f"{sip_host}:{sip_port}", "-s", number, "-key", "cid", caller_id]


def keys_scenario(
    workdir: Path, keys: str, gap_ms: int | list[int], hang_up_after_ms: int | None
) -> Path:
    """A caller pressing `keys` (RFC 2833 events, see `rtp_dtmf`), one every `gap_ms` after
    the answer; then either hangs up after `hang_up_after_ms` or waits for the far end's BYE.

    Keys land during a menu's prompt (barge-in) or its input wait, whichever comes first."""
    text = (SCENARIOS / "caller.xml").read_text()
    head = text.split("  <pause/>", 1)[0]
    steps = []
    n = len(list(workdir.glob("caller-keys-*")))
    gaps = gap_ms if isinstance(gap_ms, list) else [gap_ms] * len(keys)
    for index, (key, gap) in enumerate(zip(keys, gaps, strict=True)):
        pcap = write_key_pcap(workdir / f"key-{n}-{index}.pcap", key, index)
        steps.append(
            f'  <pause milliseconds="{gap}"/>\n'
            f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
        )
    if hang_up_after_ms is None:
        end = WAIT_FOR_BYE
    else:
        end = f'  <pause milliseconds="{hang_up_after_ms}"/>\n' + _BYE
    path = workdir / f"caller-keys-{n}.xml"
    path.write_text(head + "".join(steps) + end)
    return path


# a scenario's end: the far end hangs up (the engine ends the call), the phone confirms
WAIT_FOR_BYE = """  <recv request="BYE" timeout="90000"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>
"""

_BYE = """  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[cid]" <sip:[cid]@[local_ip]:[local_port]>;tag=[pid]HL[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:[cid]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
"""
