"""RFC 4733 telephone-event packets as pcap files, for SIPp's `play_pcap_audio`.

Debian ships one pcap per key, all with their own fixed RTP sequence numbers and timestamps:
played one after another, a key whose numbers are lower than the previous key's is discarded by
Asterisk as a late packet ("1 6 3" arrives as "1 6"). So each key of a caller's sequence gets a
pcap of its own here, continuing the numbering of the key before it."""

from __future__ import annotations

import struct
from pathlib import Path

EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
PAYLOAD_TYPE = 101
SSRC = 0x48544C31
# 8 kHz clock: 20 ms per packet = 160 samples; a key is held for 140 ms, then 3 end packets
_HOLD_PACKETS = 7
_STEP_SAMPLES = 160


def _packet(seq: int, timestamp: int, marker: bool, event: int, end: bool, duration: int) -> bytes:
    rtp = struct.pack(
        "!BBHII", 0x80, (0x80 if marker else 0) | PAYLOAD_TYPE, seq & 0xFFFF, timestamp, SSRC
    )
    payload = rtp + struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)
    udp = struct.pack("!HHHH", 10000, 10000, 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(udp),
        0,
        0,
        64,
        17,
        0,
        bytes([127, 0, 0, 1]),
        bytes([127, 0, 0, 1]),
    )
    ether = b"\x00" * 12 + b"\x08\x00"
    return ether + ip + udp


def write_key_pcap(path: Path, key: str, index: int) -> Path:
    """The `index`-th key of a call: sequence numbers and timestamp above every earlier key's."""
    event = EVENTS[key]
    seq = 1000 + index * 16
    timestamp = 8000 * (index + 1)
    packets = []
    for n in range(_HOLD_PACKETS):
        packets.append(_packet(seq + n, timestamp, n == 0, event, False, n * _STEP_SAMPLES))
    end_duration = _HOLD_PACKETS * _STEP_SAMPLES
    for _ in range(3):  # the end packet is sent three times, as RFC 4733 recommends
        packets.append(_packet(seq + _HOLD_PACKETS, timestamp, False, event, True, end_duration))
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for n, pkt in enumerate(packets):
        usec = min(n, _HOLD_PACKETS) * 20000 + max(0, n - _HOLD_PACKETS) * 50
        out.append(struct.pack("<IIII", 1_700_000_000, usec, len(pkt), len(pkt)) + pkt)
    path.write_bytes(b"".join(out))
    return path
