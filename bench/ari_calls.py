"""Benchmark: Local-channel calls answered and hung up through our ARI client.

Per call: originate `Local/1000@hotline` (both halves into the app, ids chosen by us) → on the
`;2` half's StasisStart answer it → on the `;1` half's StasisStart hang it up → done when both
halves' StasisEnd arrived. That is 3 REST requests and ~20 events per call. K calls are kept in
flight.

Two clients run the same flow, interleaved round by round so both see the same machine:
- `ours`: `ivr.ari.AriClient` (typed pydantic events, the engine's client);
- `baseline`: a bare aiohttp loop with dict events and no validation (the research prototype's
  style) — the floor our typing and error handling are measured against.

Prints calls/s, client CPU ms per call and Asterisk CPU ms per call (from /proc); asserts nothing.
Needs the sandboxed Asterisk (`scripts/asterisk-sandbox up`) and no engine running on app
`hotline`.

    .venv/bin/python bench/ari_calls.py --calls 1000 --rounds 3 --concurrency 10
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ivr.ari.client import AriClient, StreamItem  # noqa: E402
from ivr.ari.models import StasisEnd, StasisStart  # noqa: E402
from tests.support.sandbox import provision, sandbox_dir  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def self_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class Calls:
    """Bookkeeping shared by both clients: which calls are in flight and when they end."""

    def __init__(self) -> None:
        self.ended: dict[str, int] = {}
        self.done: dict[str, asyncio.Event] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def new(self) -> str:
        call = uuid.uuid4().hex[:12]
        self.ended[call] = 0
        self.done[call] = asyncio.Event()
        return call

    def stasis_end(self, channel_id: str) -> None:
        call = channel_id.split("-", 1)[0]
        if call in self.ended:
            self.ended[call] += 1
            if self.ended[call] == 2:
                self.done.pop(call).set()
                del self.ended[call]


async def run_ours(url: str, user: str, pw: str, calls: int, k: int) -> tuple[float, float]:
    ari = AriClient(url, user, pw, "hotline")
    book = Calls()
    loop = asyncio.get_running_loop()

    def on_event(item: StreamItem) -> None:
        if isinstance(item, StasisStart):
            cid = item.channel.id
            if cid.endswith("-b"):
                book.spawn(ari.answer(cid))
            else:
                book.spawn(ari.hangup(cid))
        elif isinstance(item, StasisEnd):
            book.stasis_end(item.channel.id)

    reader = loop.create_task(ari.run(on_event))
    await ari.connected.wait()
    result = await drive(
        lambda call: ari.originate(
            "Local/1000@hotline",
            channel_id=f"{call}-a",
            other_channel_id=f"{call}-b",
            app_args="bench",
            formats="ulaw",
        ),
        book,
        calls,
        k,
    )
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    await ari.close()
    return result


async def run_baseline(url: str, user: str, pw: str, calls: int, k: int) -> tuple[float, float]:
    token = base64.b64encode(f"{user}:{pw}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    book = Calls()
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(base_url=url.rstrip("/") + "/", headers=headers) as http:

        async def post(path: str, **params: str) -> None:
            async with http.post(path, params=params) as r:
                await r.read()

        async def delete(path: str) -> None:
            async with http.delete(path) as r:
                await r.read()

        ws = await http.ws_connect("events", params={"app": "hotline"})

        async def read() -> None:
            async for msg in ws:
                ev = json.loads(msg.data)
                if ev["type"] == "StasisStart":
                    cid = ev["channel"]["id"]
                    if cid.endswith("-b"):
                        book.spawn(post(f"channels/{cid}/answer"))
                    else:
                        book.spawn(delete(f"channels/{cid}"))
                elif ev["type"] == "StasisEnd":
                    book.stasis_end(ev["channel"]["id"])

        reader = loop.create_task(read())
        result = await drive(
            lambda call: post(
                "channels",
                endpoint="Local/1000@hotline",
                app="hotline",
                appArgs="bench",
                channelId=f"{call}-a",
                otherChannelId=f"{call}-b",
                formats="ulaw",
            ),
            book,
            calls,
            k,
        )
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await ws.close()
    return result


async def drive(
    originate: Callable[[str], Awaitable[object]], book: Calls, calls: int, k: int
) -> tuple[float, float]:
    slots = asyncio.Semaphore(k)

    async def one() -> None:
        async with slots:
            call = book.new()
            done = book.done[call]
            await originate(call)
            await asyncio.wait_for(done.wait(), 30)

    # warm-up
    await asyncio.gather(*(one() for _ in range(20)))
    t0, c0 = time.perf_counter(), self_cpu_s()
    await asyncio.gather(*(one() for _ in range(calls)))
    return time.perf_counter() - t0, self_cpu_s() - c0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    sandbox = provision()
    pid_file = sandbox_dir() / "run" / "asterisk.pid"
    ast_pid = int(os.environ.get("HOTLINE_ASTERISK_PID") or pid_file.read_text())
    runners = {"ours": run_ours, "baseline": run_baseline}
    rows: dict[str, list[tuple[float, float, float]]] = {name: [] for name in runners}
    for rnd in range(args.rounds):
        order = list(runners) if rnd % 2 == 0 else list(reversed(runners))
        for name in order:
            a0 = proc_cpu_s(ast_pid)
            wall, cpu = await runners[name](
                sandbox.ari_url,
                sandbox.ari_user,
                sandbox.ari_password,
                args.calls,
                args.concurrency,
            )
            ast = proc_cpu_s(ast_pid) - a0
            rows[name].append((args.calls / wall, cpu / args.calls * 1000, ast / args.calls * 1000))
            print(
                f"round {rnd + 1} {name:8s} {args.calls / wall:7.0f} calls/s  "
                f"client {cpu / args.calls * 1000:5.2f} ms/call  "
                f"asterisk {ast / args.calls * 1000:5.2f} ms/call",
                flush=True,
            )
    print(f"\nmedians over {args.rounds} rounds, {args.calls} calls each, K={args.concurrency}")
    print(f"{'client':10s} {'calls/s':>8s} {'client ms/call':>15s} {'asterisk ms/call':>17s}")
    for name, r in rows.items():
        print(
            f"{name:10s} {statistics.median(x[0] for x in r):8.0f} "
            f"{statistics.median(x[1] for x in r):15.2f} {statistics.median(x[2] for x in r):17.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
