"""`CallHandle`: what routing code (queues, transfers, the emergency path) gets from a call
session while it holds the caller.

Routing code runs INSIDE the caller's session task (one task, one inbox per call): it reads the
call's events through `next_event`, never from its own socket. Channels it creates for the call
(agent legs, department legs) are `claim`ed so their events arrive in the same inbox. State that
must survive an engine restart is written with `remember` (the call memory, `ivr.calls.memory`)
and read back with `recall` after re-adoption.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ivr.ari.models import AriEvent
from ivr.ari.port import AriPort

CALLER_OF_LEG_VAR = "HOTLINE_CALL"
"""Channel variable on every staff leg the engine rings for a call (agent, department, on-duty
phone): the caller's channel id, so a restarted engine knows whose leg it finds."""
LISTEN_ENTRY = "listen"
"""The Stasis argument of a supervisor's listen (`routing.listen`): its snoop channel on a
caller's channel and the supervisor's phone leg. Never a caller."""
LISTEN_PREFIX = "listen-"
"""Every id a listen chooses starts so (`listen-<token>-snoop|phone|bridge`): a snoop channel
shows no Stasis application data in a channel list, its id tells."""


class CallCommand:
    """A request for the routing code that holds a call, from outside its ARI events (the agent
    console's reject or transfer): posted into the call's inbox (`Supervisor.post`) and read
    through `next_event` like an event, so the one task of the call carries it out. Code that
    reads the inbox and expects none ignores it."""


class CallHandle(Protocol):
    @property
    def channel_id(self) -> str:
        """The caller's channel."""

    @property
    def caller_number(self) -> str:
        """The caller's number as Asterisk reported it ("" when withheld)."""

    @property
    def language(self) -> str:
        """ "ja" or "en", as chosen in the IVR."""

    @property
    def context(self) -> Mapping[str, str]:
        """What the caller entered in the IVR (account, choices), for screen-pops and transfers."""

    @property
    def ari(self) -> AriPort: ...

    def new_id(self, what: str) -> str:
        """A fresh ARI id (channel, playback, bridge) derived from the call id."""

    def claim(self, channel_id: str) -> None:
        """Route events of another channel (an agent leg) into this call's inbox."""

    def release(self, channel_id: str) -> None:
        """Stop routing a claimed channel's events here."""

    async def next_event(self, timeout_s: float) -> AriEvent | CallCommand | None:
        """The call's next ARI event (or a posted `CallCommand`), or None after `timeout_s`
        (virtual time in tests).
        Raises `ivr.errors.Detached` when the engine stops: leave the call as it is."""

    async def remember(self, key: str, value: str) -> None:
        """Keep `value` for the call until it ends (survives an engine restart)."""

    async def recall(self, key: str) -> str:
        """Read back what `remember` kept ("" if nothing)."""

    def media(self, prompt_id: str) -> str:
        """The ARI media URI of a prompt from prompts/catalog.yaml in the call's language."""
