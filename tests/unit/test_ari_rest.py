"""Reading ARI's HTTP answer heads: status, length, keep-alive, and what is refused."""

from __future__ import annotations

import pytest

from ivr.ari.rest import RestProtocolError, _parse_head

pytestmark = pytest.mark.unit

# as Asterisk 22 answers a play (the sandbox's, headers in its order)
ASTERISK_201 = (
    b"HTTP/1.1 201 Created\r\nServer: Asterisk/22.5.2\r\nDate: Wed, 02 Dec 2026 03:26:44 GMT\r\n"
    b"Connection: Keep-Alive\r\nCache-Control: no-cache, no-store\r\n"
    b"Content-type: application/json\r\nContent-Length: 160\r\n\r\n"
)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (ASTERISK_201, (201, 160, True)),
        (b"HTTP/1.1 204 No Content\r\nServer: Asterisk\r\n\r\n", (204, 0, True)),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nConnection: close\r\n\r\n", (200, 2, False)),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", (200, 2, False)),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n", (200, 2, True)),
        (b"HTTP/1.1 404 Not Found\r\nCONTENT-LENGTH:  31 \r\n\r\n", (404, 31, True)),
    ],
)
def test_answer_heads_are_read(head: bytes, expected: tuple[int, int, bool]) -> None:
    assert _parse_head(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nServer: Asterisk\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n",
    ],
)
def test_what_this_client_does_not_speak_is_refused(head: bytes) -> None:
    with pytest.raises(RestProtocolError):
        _parse_head(head)
