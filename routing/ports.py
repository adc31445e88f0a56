"""What routing needs from ARI beyond the call session's `AriPort`: holding-bridge music, who is in
a bridge, taking a channel out of one, and hold music on one channel (attended transfer).
`AriClient` has all of it; mypy checks that below. Unit tests extend `FakeAri` with the same
methods."""

from __future__ import annotations

from typing import Protocol

from ivr.ari.client import AriClient
from ivr.ari.models import Bridge, Channel
from ivr.ari.port import AriPort
from routing.model import CallbackRequest


class RoutingAri(AriPort, Protocol):
    async def get_bridge(self, bridge_id: str) -> Bridge: ...

    async def remove_from_bridge(self, bridge_id: str, channel_id: str) -> None: ...

    async def bridge_moh(self, bridge_id: str, moh_class: str | None = None) -> None: ...

    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None: ...

    async def stop_moh(self, channel_id: str) -> None: ...


class ListenAri(RoutingAri, Protocol):
    """What a supervisor's listen needs besides: a snoop channel on the caller's channel."""

    async def snoop(
        self,
        channel_id: str,
        snoop_id: str,
        *,
        spy: str = "both",
        whisper: str = "none",
        app_args: str | None = None,
        app: str | None = None,
    ) -> Channel: ...


class CallbackStore(Protocol):
    """Where callback places survive an engine restart (the caller has hung up: nothing of the
    request is left in Asterisk). `ivr.adapters.DbCallbackStore` keeps them in the
    database; without a store they live in memory only."""

    async def keep(self, request: CallbackRequest) -> None: ...

    async def settle(self, call_id: str, state: str) -> None: ...

    async def pending(self) -> list[CallbackRequest]: ...

    async def dialing(self) -> list[CallbackRequest]:
        """Requests whose call back was being placed (ringing) when the last engine stopped."""
        ...


def _conforms(client: AriClient) -> ListenAri:
    # mypy checks here that the real client offers what routing uses
    return client
