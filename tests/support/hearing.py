"""What a caller hears on the real Asterisk, measured: an ARI snoop channel on their channel
(spy "out": what Asterisk writes to it) is recorded for a second and the recording's loudness
read back from the sandbox's recording directory (the sandbox loads no res_ari_recordings to
fetch it over ARI). The snoop goes into the test's own ARI app: the engine's would take it for a
call. Used to tell hold music from the silence of a bridge with a SIPp phone that sends no
sound."""

from __future__ import annotations

import array
import itertools
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path

from ivr.ari.client import AriClient, StreamItem
from ivr.ari.models import RecordingFinished, StasisStart

LISTEN_S = 1
"""How much of what the caller hears is recorded each time."""
LOUD = 300.0
"""A mean absolute 16-bit sample above this is sound: the stock hold music measures in the
thousands, a bridge with a silent SIPp phone 0."""

Wait = Callable[[Callable[[StreamItem], bool]], Awaitable[None]]


class Ears:
    """`level(channel_id)`: the mean absolute sample of `LISTEN_S` of what the channel hears.
    `ari` is a client of the test's app `app`, `wait_for` waits on its events."""

    def __init__(self, ari: AriClient, wait_for: Wait, recordings: Path) -> None:
        self._ari = ari
        self._wait_for = wait_for
        self._recordings = recordings
        self._n = itertools.count(1)

    async def level(self, channel_id: str) -> float:
        n = next(self._n)
        snoop = f"{channel_id}-ears{n}"
        # no dot in the recording's name: Asterisk would take what follows for its format
        name = f"ears-{channel_id.replace('.', '-')}-{n}"
        await self._ari.request(
            "POST",
            f"/channels/{channel_id}/snoop",
            {"spy": "out", "app": self._ari.app, "snoopId": snoop},
        )
        try:
            await self._wait_for(lambda e: isinstance(e, StasisStart) and e.channel.id == snoop)
            await self._ari.record(snoop, name, max_duration_s=LISTEN_S)
            await self._wait_for(
                lambda e: isinstance(e, RecordingFinished) and e.recording.name == name
            )
        finally:
            await self._ari.hangup(snoop)
        stored = self._recordings / f"{name}.wav"
        try:
            with wave.open(str(stored)) as wav:
                assert wav.getsampwidth() == 2
                samples = array.array("h", wav.readframes(wav.getnframes()))
        finally:
            stored.unlink()
        assert len(samples) > 0
        return float(sum(abs(s) for s in samples)) / len(samples)


def recordings_of(chroot: Path) -> Path:
    """Where the sandboxed Asterisk writes ARI recordings."""
    return chroot / "var" / "spool" / "asterisk" / "recording"
