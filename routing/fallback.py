"""Tonight's on-duty list, kept in Asterisk for the dialplan fallback.

When no engine is connected (it died, or a standby is taking over) `Stasis()` fails and
Asterisk's own `[hotline-duty]` (asterisk/extensions.conf) rings the leak call through the
global `HOTLINE_ONDUTY_STEPS`. `FallbackDuty` writes the list the engine itself would ring
(`TransferService.duty_steps` of the emergency department: the database's, else config.yaml's)
into that global, and the accept timeout into `HOTLINE_ONDUTY_ACCEPT_S`, at every ARI
(re)connect and every `PUBLISH_EVERY_S`: so the fallback rings the list as it was at most that
long before the engine went away. An empty list is not written: the last one written (or the
dialplan's default) stays, since a fallback that rings nobody would leave a leak unheard.

The value is `endpoint~seconds` steps joined by `^`: the dialplan splits it with `CUT`, and
neither character can occur in an endpoint (`ivr.domain.ENDPOINT_PATTERN`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from ivr.ari.client import AriClient, Disconnected, Resynced, StreamItem
from ivr.errors import AriError, AriUnavailable
from ivr.store.duty import DutyStep

log = logging.getLogger(__name__)

STEPS_GLOBAL = "HOTLINE_ONDUTY_STEPS"
ACCEPT_GLOBAL = "HOTLINE_ONDUTY_ACCEPT_S"
PUBLISH_EVERY_S = 15.0
"""How stale the fallback's list may be when the engine dies: a console edit reaches it
within this; one REST request per round."""
STEP_SEP = "^"
FIELD_SEP = "~"


class GlobalsAri(Protocol):
    async def set_global(self, variable: str, value: str) -> None: ...


class DutySteps(Protocol):
    """`routing.transfer.TransferService`: the list the engine rings for a department now."""

    async def duty_steps(self, department: str) -> tuple[DutyStep, ...]: ...


def steps_value(steps: Sequence[DutyStep]) -> str:
    """The list as `[hotline-duty]` reads it: `PJSIP/a~30^PJSIP/b~20`."""
    return STEP_SEP.join(f"{s.endpoint}{FIELD_SEP}{s.ring_s}" for s in steps)


class FallbackDuty:
    """Publishes `department`'s on-duty list (and `accept_timeout_s`) into Asterisk's globals.
    `on_event` is fed the ARI client's stream items (a `Resynced` publishes at once); `run` is
    the long-running task."""

    def __init__(
        self,
        ari: GlobalsAri,
        source: DutySteps,
        department: str,
        accept_timeout_s: int,
        *,
        every_s: float = PUBLISH_EVERY_S,
    ) -> None:
        self._ari = ari
        self._source = source
        self._department = department
        self._accept_s = accept_timeout_s
        self._every_s = every_s
        self._connected = False
        self._wake = asyncio.Event()
        self._empty_said = False
        #: the value last written to `HOTLINE_ONDUTY_STEPS` (None: nothing yet)
        self.published: str | None = None

    def on_event(self, item: StreamItem) -> None:
        if isinstance(item, Resynced):
            self._connected = True
            self._wake.set()
        elif isinstance(item, Disconnected):
            self._connected = False

    async def run(self) -> None:
        while True:
            # a reconnect cuts the wait short: Asterisk may have restarted with its defaults
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._every_s):
                    await self._wake.wait()
            self._wake.clear()
            if not self._connected:
                continue
            try:
                await self.publish()
            except Exception:
                # a side task: a failed round must not end the engine that takes the calls
                log.exception("publishing the fallback's on-duty list failed; next round retries")

    async def publish(self) -> bool:
        """Write the list now; False when it was empty or Asterisk refused (the next round
        tries again)."""
        steps = await self._source.duty_steps(self._department)
        if not steps:
            if not self._empty_said:
                log.warning(
                    "the leak line's on-duty list is empty: the dialplan fallback keeps the "
                    "list it had"
                )
                self._empty_said = True
            return False
        self._empty_said = False
        value = steps_value(steps)
        try:
            await self._ari.set_global(ACCEPT_GLOBAL, str(self._accept_s))
            await self._ari.set_global(STEPS_GLOBAL, value)
        except (AriError, AriUnavailable) as exc:
            # Asterisk away or this engine fenced: the next round or reconnect tries again
            log.warning("publishing the fallback's on-duty list failed (%s)", type(exc).__name__)
            return False
        if value != self.published:
            log.info("dialplan fallback rings %d on-duty step(s)", len(steps))
        self.published = value
        return True


def _conforms(client: AriClient) -> GlobalsAri:
    # mypy checks here that the real client has what this needs
    return client
