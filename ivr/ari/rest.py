"""`RestConnections`: ARI's REST requests over a pool of keep-alive HTTP/1.1 connections.

Why not aiohttp's client (the events WebSocket still uses aiohttp): under a call storm the REST
requests were a quarter of the engine's CPU. aiohttp spends 0.3-0.45 ms of CPU on each request
(request and response objects, URL and header multidicts, trace signals, timers); the same
keep-alive exchange written out here costs about 0.11 ms (measured against the sandbox's Asterisk,
10-50 requests in flight). ARI's REST is a small, fixed part of HTTP: a request line with a
query string, Basic auth, an optional JSON body; an answer with `Content-Length`, kept alive
unless it says `Connection: close`. Anything else (no length, a chunked body, a garbled status
line) is refused as `RestProtocolError` and that connection is dropped.

A connection that sat idle is reused only within `keepalive_s` (Asterisk closes idle ones at 15 s,
http.conf session_keep_alive). If the server closed the connection before a byte of its answer,
`ClosedUnanswered` says so (a kept-alive one closed as our request crossed its idle timeout; under
overload a fresh one too): the request may not have reached Asterisk's handler, and an idempotent
one may be sent again. At most `limit` connections are open; a request that finds them all busy
waits for one, and that wait is reported apart from Asterisk's own time (`RequestStats`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus, urlsplit

# longest answer head we accept (Asterisk's are ~200 bytes)
MAX_HEAD_BYTES = 16_384


class RestProtocolError(ConnectionError):
    """The server answered something that is not the HTTP this client speaks."""


class ClosedUnanswered(ConnectionError):
    """The server closed the connection before a byte of its answer (`reused`: a kept-alive
    connection, which almost surely never reached Asterisk's handler)."""

    def __init__(self, message: str, *, reused: bool) -> None:
        super().__init__(message)
        self.reused = reused


class _Connection:
    __slots__ = ("reader", "writer", "idle_since")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def close(self) -> None:
        self.writer.close()


class RestConnections:
    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        *,
        limit: int,
        keepalive_s: float,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"ARI REST needs an http:// URL, not {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._prefix = parts.path.rstrip("/")
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._fixed_headers = f"Host: {parts.netloc}\r\n{extra}"
        self._keepalive_s = keepalive_s
        self._slots = asyncio.Semaphore(limit)
        self._idle: list[_Connection] = []
        self.in_flight = 0

    @property
    def full(self) -> bool:
        """Every connection is busy: the next request waits for one."""
        return self._slots.locked()

    async def acquire(self) -> None:
        """Take one of the `limit` slots (waits while all are busy)."""
        await self._slots.acquire()

    def release(self) -> None:
        self._slots.release()

    async def exchange(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        body: Mapping[str, Any] | None,
    ) -> tuple[int, bytes]:
        """One request on a slot already `acquire`d: (status, body bytes)."""
        target = self._prefix + path
        if query:
            target += "?" + "&".join([f"{_quoted(k)}={_quoted(v)}" for k, v in query.items()])
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {target} HTTP/1.1\r\n{self._fixed_headers}"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        data = (head + f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload

        conn, reused = self._idle_connection()
        if conn is None:
            reader, writer = await asyncio.open_connection(
                self._host, self._port, limit=MAX_HEAD_BYTES
            )
            conn = _Connection(reader, writer)
        keep = False
        try:
            conn.writer.write(data)
            try:
                answer = await conn.reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as exc:
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise  # part of an answer came: whatever it was, it is not sent again
                kind = "a kept-alive" if reused else "a new"
                raise ClosedUnanswered(
                    f"the server closed {kind} connection unanswered", reused=reused
                ) from exc
            except asyncio.LimitOverrunError as exc:
                raise RestProtocolError("answer head too long") from exc
            status, length, keep_alive = _parse_head(answer)
            content = await conn.reader.readexactly(length) if length else b""
            keep = keep_alive
        finally:
            if keep:
                conn.idle_since = time.monotonic()
                self._idle.append(conn)
            else:
                conn.close()
        return status, content

    def _idle_connection(self) -> tuple[_Connection | None, bool]:
        # the monotonic clock, not the loop's: on CPython 3.11 each get_running_loop() is a
        # getpid() system call, and this runs twice for every request
        now = time.monotonic()
        while self._idle:
            # the most recently used first: the least likely to have been closed by the server
            conn = self._idle.pop()
            if now - conn.idle_since < self._keepalive_s and not conn.reader.at_eof():
                return conn, True
            conn.close()
        return None, False

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        for conn in idle:
            with contextlib.suppress(OSError):
                await conn.writer.wait_closed()


@functools.lru_cache(maxsize=4096)
def _quoted(text: str) -> str:
    """`urlencode`'s quoting of one key or value. Remembered: the same parameter names and
    media URIs go out on every call, and quoting them anew was a third of building a request."""
    return quote_plus(text)


def _header(lower_head: bytes, name: bytes) -> bytes | None:
    """The value of header `name` (lower case, with its colon) in a lower-cased answer head."""
    start = lower_head.find(b"\r\n" + name)
    if start < 0:
        return None
    start += 2 + len(name)
    return lower_head[start : lower_head.index(b"\r\n", start)].strip()


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """(status, content length, keep the connection) from an HTTP/1.1 answer head (ending in
    its blank line). Read with bytes searches: the head is split into no lines or strings."""
    version, _, rest = head[: head.index(b"\r\n")].partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/1.") or not code.isdigit():
        raise RestProtocolError("not an HTTP/1.x status line")
    lower = head.lower()
    if _header(lower, b"transfer-encoding:") is not None:
        raise RestProtocolError("chunked answers are not expected from ARI")
    keep = version == b"HTTP/1.1"
    connection = _header(lower, b"connection:")
    if connection is not None:
        keep = connection == b"keep-alive" or (keep and connection != b"close")
    status = int(code)
    length = _header(lower, b"content-length:")
    if length is None:
        if status in (204, 304) or 100 <= status < 200:
            return status, 0, keep
        raise RestProtocolError("an answer without Content-Length")
    if not length.isdigit():
        raise RestProtocolError("bad Content-Length")
    return status, int(length), keep
