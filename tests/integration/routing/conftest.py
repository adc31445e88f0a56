"""Fixtures for routing against the real Asterisk: our own `hotline` app (no engine runs in
these tests), services with short timeouts, SIPp phones on free ports."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.ari.client import AriClient
from tests.integration.conftest import Driver
from tests.integration.routing.handle import Hub, TestCall
from tests.support.sandbox import Sandbox
from tests.support.sipp import Sipp

APP = "hotline"


@pytest.fixture
async def hub(sandbox: Sandbox) -> AsyncIterator[Hub]:
    client = AriClient(sandbox.ari_url, sandbox.ari_user, sandbox.ari_password, APP)
    started = await Hub(client, bridge_prefix=unique("hold-")).start()
    yield started
    await started.stop()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}-"


async def phone(workdir: Path, scenario: str = "phone.xml", talk_ms: int = 2000) -> Sipp:
    return await Sipp(scenario, ["-d", str(talk_ms)], workdir).start()


def endpoint(sipp: Sipp, name: str = "agent1") -> str:
    return f"PJSIP/{name}/sip:{name}@127.0.0.1:{sipp.port}"


async def incoming(hub: Hub, driver: Driver, caller_id: str = "0935821234") -> tuple[str, TestCall]:
    """A Local-channel caller reaches Stasis(hotline); returns (driver's half, answered call)."""
    ours, theirs = await driver.call("1000", caller_id=caller_id)
    channel = await hub.arrival(theirs)
    call = hub.adopt(channel)
    await hub.ari.answer(channel.id)
    await driver.answered(ours)
    return ours, call
