"""Call backs the last engine left ringing: served if the resident answers, failed (never
dialled twice) if the ringing call is gone — on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters import DbCallbackStore
from ivr.ari.client import StreamItem
from ivr.ari.fake import FakeAri
from ivr.ari.models import CallerId, Channel
from ivr.store.tables import callback_requests
from routing.acd import AcdRouter
from routing.agents import AgentPool
from routing.config import RoutingConfig
from routing.hours import calendars_of
from routing.model import CallbackRequest
from routing.queues import QueueService
from routing.transfer import TransferService

pytestmark = pytest.mark.integration

T0 = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)


class RoutingFake(FakeAri):
    async def remove_from_bridge(self, bridge_id: str, channel_id: str) -> None: ...

    async def bridge_moh(self, bridge_id: str, moh_class: str | None = None) -> None: ...

    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None: ...

    async def stop_moh(self, channel_id: str) -> None: ...


def request(call_id: str, minute: int) -> CallbackRequest:
    return CallbackRequest(
        call_id=call_id,
        queue="general",
        number="0935821234",
        priority=0,
        enqueued_at=T0.replace(minute=minute),
        language="ja",
        context={},
    )


async def states(engine: AsyncEngine) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(callback_requests.c.call_id, callback_requests.c.state))
        return {r.call_id: r.state for r in rows}


async def test_callbacks_left_ringing_by_a_stopped_engine(engine: AsyncEngine) -> None:
    store = DbCallbackStore(engine)
    for n, call_id in enumerate(("still-ringing", "rang-out", "waiting")):
        await store.keep(request(call_id, n))
    await store.settle("still-ringing", "dialing")
    await store.settle("rang-out", "dialing")

    # the new engine: Asterisk still has the first call back ringing, not the second
    config = RoutingConfig.model_validate(
        {
            "calendars": {"cal": {"always_open": True}},
            "queues": {"general": {"calendar": "cal"}},
            "agents": {"a1": {"endpoint": "PJSIP/agent1"}},
        }
    )
    ari = RoutingFake()
    ari.channels["still-ringing-callback"] = Channel(
        id="still-ringing-callback", state="Ring", caller=CallerId(number="0935821234")
    )
    queues = QueueService(
        config,
        AgentPool(config.agents),
        ari,
        calendars_of(config),
        callback_store=store,
    )
    # the router dials the queues' callbacks
    router = AcdRouter(queues, TransferService(config, ari, calendars_of(config)), ari)
    watched: dict[str, Callable[[StreamItem], None] | None] = {}
    router.bind(watched.__setitem__)

    assert await queues.restore_callbacks() == 1  # "waiting" keeps its place
    assert await router.recover_callbacks() == 1
    await queues.settled()

    assert await states(engine) == {
        "still-ringing": "dialing",  # answered → served; rings out → failed (watched)
        "rang-out": "failed",
        "waiting": "pending",
    }
    assert watched.get("still-ringing-callback") is not None
    # both places are held; an agent comes free: the ringing one is not dialled a second time
    assert [c.call_id for c in queues.waiting("general")] == ["still-ringing", "waiting"]
    queues.agents.log_in("a1")
    await queues.dispatch_callbacks()
    assert [op[2] for op in ari.ops if op[0] == "originate"] == ["waiting-callback"]
