"""An engine started while a broken flow file is on disk serves the last accepted version, kept
in the database, and shows the rejection; with nothing kept (or a kept version the config no
longer allows) it refuses to start as before. On SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.calls.flows import FlowRegistry
from ivr.config import load_config
from ivr.errors import FlowError
from ivr.store.flowfiles import AcceptedFlowFiles
from ivr.store.tables import accepted_flow_files

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
CONFIG = load_config(ROOT / "config.yaml", env={})


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "dialplans", tmp_path / "dialplans")
    shutil.copy(ROOT / "prompts" / "catalog.yaml", tmp_path / "catalog.yaml")
    return tmp_path


def registry(site: Path) -> FlowRegistry:
    return FlowRegistry(site / "dialplans", site / "catalog.yaml", CONFIG)


def break_the_greeting(site: Path) -> None:
    path = site / "dialplans" / "hotline.yaml"
    # saved by an editor in Latin-1
    path.write_bytes(path.read_bytes().replace(b"# ", b"# caf\xe9 ", 1))


async def kept_names(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return sorted((await conn.execute(sa.select(accepted_flow_files.c.name))).scalars().all())


async def test_what_goes_live_is_kept_once(engine: AsyncEngine, site: Path) -> None:
    keeper = AcceptedFlowFiles(engine)
    await registry(site).start(keeper)
    assert await kept_names(engine) == sorted(
        [str(site / "catalog.yaml"), *(str(p) for p in (site / "dialplans").glob("*.yaml"))]
    )
    files, at = await keeper.last()
    assert files[0].kind == "catalog"
    assert at is not None
    # the same files again: nothing rewritten
    again = registry(site)
    await again.start()
    assert await keeper.save(again.accepted, at) is False


async def test_a_start_with_a_broken_file_serves_the_kept_version(
    engine: AsyncEngine, site: Path
) -> None:
    keeper = AcceptedFlowFiles(engine)
    first = registry(site)
    await first.start(keeper)
    break_the_greeting(site)

    restarted = registry(site)
    await restarted.start(keeper)
    assert restarted.live("hotline").digest == first.live("hotline").digest
    assert set(restarted.library()) == set(first.library())
    [error] = restarted.status.errors
    assert error.startswith(f"{site / 'dialplans' / 'hotline.yaml'}:1: not UTF-8 at byte")
    assert restarted.status.serving_accepted_from
    assert restarted.status.rejected_at
    # the broken file is not reported again on every poll; the fix goes live and is kept
    assert restarted.reload_if_changed() is False
    shutil.copy(ROOT / "dialplans" / "hotline.yaml", site / "dialplans" / "hotline.yaml")
    assert restarted.reload_if_changed() is True
    assert restarted.status.errors == []
    assert restarted.status.serving_accepted_from == ""


async def test_with_nothing_kept_a_broken_file_still_stops_the_start(
    engine: AsyncEngine, site: Path
) -> None:
    break_the_greeting(site)
    with pytest.raises(FlowError) as info:
        await registry(site).start(AcceptedFlowFiles(engine))
    assert "not UTF-8" in info.value.errors[0]
    assert await kept_names(engine) == []


async def test_a_kept_version_the_config_no_longer_allows_is_not_served(
    engine: AsyncEngine, site: Path
) -> None:
    keeper = AcceptedFlowFiles(engine)
    await registry(site).start(keeper)
    break_the_greeting(site)
    queues = {k: v for k, v in CONFIG.routing.queues.items() if k != "moving"}
    without_moving = CONFIG.model_copy(
        update={"routing": CONFIG.routing.model_copy(update={"queues": queues})}
    )
    restarted = FlowRegistry(site / "dialplans", site / "catalog.yaml", without_moving)
    with pytest.raises(FlowError):
        await restarted.start(keeper)
