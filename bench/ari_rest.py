"""CPU of the ARI client's REST requests, in-process against a minimal HTTP server.

    .venv/bin/python bench/ari_rest.py [CHECKOUT ...]     # default: this one

Each "call" is the four requests an IVR call makes (answer, play, stop the playback, play two
prompts), ten calls at a time; the server answers at once as Asterisk does (201 with the
playback, or 204). Client and server share one process and one uvloop, so the figure is CPU per
call of both; compare checkouts in one run (each in its own interpreter, interleaved) to see
the client's share change. Prints ms per call; asserts nothing.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CALLS = 3000
AT_ONCE = 10
BODY = (
    b'{"id":"pb-1","media_uri":"sound:/var/lib/hotline/prompts/ja/main-menu",'
    b'"target_uri":"channel:1796182004.11","language":"ja","state":"queued"}'
)
MEDIA = "sound:/var/lib/hotline/prompts/ja/main-menu"


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            at = head.find(b"Content-Length: ")
            length = int(head[at + 16 : head.index(b"\r", at)]) if at >= 0 else 0
            if length:
                await reader.readexactly(length)
            if head.startswith(b"POST /ari/channels/c1/play"):
                writer.write(
                    b"HTTP/1.1 201 Created\r\nServer: Asterisk\r\n"
                    b"Content-type: application/json\r\nContent-Length: "
                    + str(len(BODY)).encode()
                    + b"\r\n\r\n"
                    + BODY
                )
            else:
                writer.write(b"HTTP/1.1 204 No Content\r\nServer: Asterisk\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def _measure() -> float:
    from ivr.ari.client import AriClient

    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ari = AriClient(f"http://127.0.0.1:{port}/ari", "hotline", "pw", "hotline")

    async def call(n: int) -> None:
        await ari.answer("c1")
        await ari.play("c1", MEDIA, f"c1-pb-{n}", lang="ja")
        await ari.stop_playback(f"c1-pb-{n}")
        await ari.play("c1", [MEDIA, MEDIA], f"c1-pb2-{n}", lang="ja")

    for n in range(200):  # warm up
        await call(n)
    started = time.process_time()
    for batch in range(CALLS // AT_ONCE):
        await asyncio.gather(*(call(batch * AT_ONCE + k) for k in range(AT_ONCE)))
    spent = time.process_time() - started
    await ari.close()
    server.close()
    return spent / CALLS * 1e3


def _one(checkout: Path) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--one", str(checkout)], capture_output=True, text=True
    )
    return float(out.stdout.strip())


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        sys.path.insert(0, sys.argv[2])
        import uvloop

        uvloop.install()
        print(asyncio.run(_measure()))
        return
    checkouts = [Path(a).resolve() for a in sys.argv[1:]] or [REPO]
    runs: dict[Path, list[float]] = {c: [] for c in checkouts}
    for _ in range(3):
        for checkout in checkouts:
            runs[checkout].append(_one(checkout))
    for checkout, values in runs.items():
        print(
            f"{checkout}: {statistics.median(values):.3f} ms CPU per call of 4 requests "
            f"(median of {len(values)}: {', '.join(f'{v:.3f}' for v in values)})"
        )


if __name__ == "__main__":
    main()
