"""The two things every staff connection does, written once for queues, transfers and the ACD:
ring a leg for a call (`ring_leg`: originate it into our Stasis app, claimed for the caller's
inbox, and wait for it to answer, ring out or the caller to hang up), and let the caller talk to
a leg until one side hangs up (`talk_until_hangup`: then end the other side and the bridge).
Both run inside the caller's session task and read only its inbox (`CallHandle.next_event`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from ivr.ari.models import ChannelDestroyed, ChannelHangupRequest, StasisEnd, StasisStart
from ivr.calls.handle import CALLER_OF_LEG_VAR, CallHandle
from ivr.errors import AriError, Detached
from routing.ports import RoutingAri

log = logging.getLogger(__name__)

HANGUP_EVENTS = (StasisEnd, ChannelDestroyed, ChannelHangupRequest)
"""Any of these for a channel means it is gone for us (hung up, destroyed, or left the app)."""

# how often a bridged conversation is looked at while nothing happens on it: it ends on a hangup
# event, the poll only bounds each wait on the inbox
TALK_POLL_S = 30.0

RingResult = Literal["answered", "no_answer", "caller_gone", "stopped"]
"""How ringing a leg ended; `stopped`: the `stop` the caller of `ring_leg` gave said so (the
agent rejected the offer, or cancelled the consultation), the leg was hung up."""

Stop = Callable[[object], bool]
"""Looks at each other item of the call's inbox while a leg rings; True ends the ringing."""
Side = Literal["caller", "leg"]


def is_gone(event: object, channel_id: str) -> bool:
    """`event` says `channel_id` hung up or left our app."""
    return isinstance(event, HANGUP_EVENTS) and event.channel.id == channel_id


@dataclass(frozen=True, slots=True)
class Leg:
    """A staff phone to ring for a call: `channel_id` is ours (chosen before the originate, so
    its StasisStart matches even if it overtakes the REST reply); `app_args` tell the engine
    what the leg is when it enters Stasis; `label` names it in logs (no personal data)."""

    endpoint: str
    channel_id: str
    app_args: str
    timeout_s: int
    label: str
    variables: Mapping[str, str] = field(default_factory=dict)


async def ring_leg(
    call: CallHandle,
    ari: RoutingAri,
    leg: Leg,
    *,
    grace_s: float,
    stop: Stop | None = None,
    ringing: bool = False,
) -> RingResult:
    """Ring `leg` for `call` (its events come to the call's inbox while it rings) and wait for
    it to answer. `grace_s` is added to the leg's own timeout before we hang it up ourselves
    (Asterisk's originate timeout normally ends it first). `stop` sees every other inbox item
    meanwhile (a console command, another leg's hangup) and may end the ringing. On anything
    but `answered` the leg is hung up if it still rings and no longer claimed; an answered
    leg stays claimed. `ringing`: the leg rings already (a previous engine placed it, the call
    was re-adopted): it is followed, not placed again."""
    call.claim(leg.channel_id)
    answered = False
    try:
        if not ringing:
            try:
                await ari.originate(
                    leg.endpoint,
                    channel_id=leg.channel_id,
                    app=ari.app,
                    app_args=leg.app_args,
                    caller_id=call.caller_number or None,
                    timeout_s=leg.timeout_s,
                    variables={CALLER_OF_LEG_VAR: call.channel_id, **leg.variables},
                )
            except AriError:
                log.warning("could not ring %s", leg.label)
                return "no_answer"
        ended = await _until_answered(call, leg, leg.timeout_s + grace_s, stop)
        answered = ended == "answered"
        if ended == "leg_gone":
            return "no_answer"
        if ended != "answered":
            await hang_up_quietly(ari, leg.channel_id)  # still ringing
        return ended or "no_answer"
    finally:
        # also on cancellation: a leg nobody follows must not keep routing into this inbox
        if not answered:
            call.release(leg.channel_id)


async def _until_answered(
    call: CallHandle, leg: Leg, timeout_s: float, stop: Stop | None
) -> Literal["answered", "leg_gone", "caller_gone", "stopped"] | None:
    """How the ringing ended; None when the wait ran out with the leg still ringing."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while (left := deadline - loop.time()) > 0:
        event = await call.next_event(left)
        if event is None:
            break
        if isinstance(event, StasisStart) and event.channel.id == leg.channel_id:
            return "answered"
        if is_gone(event, leg.channel_id):
            return "leg_gone"  # rang out or refused: Asterisk ended it
        if is_gone(event, call.channel_id):
            return "caller_gone"
        if stop is not None and stop(event):
            return "stopped"
    return None


async def talk_until_hangup(
    call: CallHandle,
    ari: RoutingAri,
    leg: str,
    bridge_id: str,
    *,
    leg_up: bool = True,
    poll_s: float = TALK_POLL_S,
) -> Side:
    """The caller talks to `leg` in `bridge_id` until either hangs up; then the other side is
    hung up and the bridge destroyed (shielded: a cancelled session still ends the call in
    Asterisk). Returns who hung up first. `leg_up` False: the leg is already gone (found so
    after a restart), the caller's side is ended at once. On `Detached` (the engine stops) both
    go on talking in Asterisk and nothing is ended: the next engine follows the conversation."""
    first: Side = "caller" if leg_up else "leg"
    detached = False
    try:
        while leg_up:
            event = await call.next_event(poll_s)
            if is_gone(event, call.channel_id):
                first = "caller"
                break
            if is_gone(event, leg):
                first = "leg"
                break
    except Detached:
        detached = True
        raise
    finally:
        call.release(leg)
        if not detached:
            other = leg if first == "caller" else call.channel_id
            await asyncio.shield(end_quietly(ari, other, bridge_id))
    return first


async def hang_up_quietly(ari: RoutingAri, channel_id: str) -> None:
    """Hang up a channel that may be gone already (404 is the normal case, not an error)."""
    with contextlib.suppress(AriError):
        await ari.hangup(channel_id)


async def end_quietly(ari: RoutingAri, channel_id: str, bridge_id: str | None = None) -> None:
    """Hang up `channel_id` and destroy `bridge_id`, either of which may be gone already."""
    await hang_up_quietly(ari, channel_id)
    if bridge_id is not None:
        with contextlib.suppress(AriError):
            await ari.destroy_bridge(bridge_id)
