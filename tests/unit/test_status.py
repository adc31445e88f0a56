"""The engine's status file and `hotline status`: live flows, a rejected edit with its
`file:line` errors, calls in progress, ARI; a missing or stale file means "not running"."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ivr.ari.client import RequestStats
from ivr.calls.flows import FlowRegistry
from ivr.cli import status as status_cli
from ivr.status import STATUS_PATH, publish_status, read_status, write_status

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "tests" / "unit" / "calls" / "flows"


@pytest.fixture
def registry(tmp_path: Path) -> FlowRegistry:
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copyfile(FLOWS / "hotline.yaml", flows / "hotline.yaml")
    registry = FlowRegistry(flows, ROOT / "prompts" / "catalog.yaml")
    registry.load()
    return registry


def reject_an_edit(registry: FlowRegistry) -> Path:
    path = registry.directory / "hotline.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"2": leak', '"2": nowhere'), encoding="utf-8")
    os.utime(path, ns=(10**18, 10**18))
    assert registry.reload_if_changed() is False
    return path


def run_status(path: Path) -> int:
    parser = argparse.ArgumentParser(prog="hotline")
    status_cli.add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["status", "--path", str(path)])
    code: int = args.func(args)
    return code


def test_status_file_holds_what_an_admin_needs(registry: FlowRegistry, tmp_path: Path) -> None:
    path = tmp_path / "var" / "status.json"
    now = datetime(2027, 4, 1, 9, 30, tzinfo=UTC)
    write_status(path, registry, calls=3, ari_connected=True, now=now)
    data = read_status(path)
    live = registry.live("hotline")
    assert data["written_at"] == "2027-04-01T09:30:00+00:00"
    assert data["flows"]["live"] == {"hotline": {"version": "test", "digest": live.digest}}
    assert data["flows"]["files"] == 1
    assert data["flows"]["loaded_at"] == registry.status.loaded_at
    assert data["rejected"] is None
    assert data["calls"] == 3
    assert data["ari_connected"] is True
    # the temp file was renamed over the target: nothing else is left behind
    assert sorted(p.name for p in path.parent.iterdir()) == ["status.json"]


def test_status_needs_an_aware_time(registry: FlowRegistry, tmp_path: Path) -> None:
    naive = datetime.now()
    with pytest.raises(ValueError, match="timezone"):
        write_status(tmp_path / "s.json", registry, calls=0, ari_connected=False, now=naive)


def test_rejected_edit_shows_its_errors_in_hotline_status(
    registry: FlowRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = reject_an_edit(registry)
    path = tmp_path / "status.json"
    write_status(path, registry, calls=2, ari_connected=False, now=datetime.now(UTC))

    assert run_status(path) == 0
    out = capsys.readouterr().out
    digest = registry.live("hotline").digest
    assert f"hotline  version test  digest {digest}" in out
    assert f"last edit REJECTED at {registry.status.rejected_at}:" in out
    assert f"  {bad}:13: node 'menu' goes to unknown node 'nowhere'" in out.splitlines()
    assert "calls in progress: 2" in out
    assert "ARI connected: no" in out

    # fixed: the rejection is gone from the next status
    bad.write_text((FLOWS / "hotline.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    os.utime(bad, ns=(2 * 10**18, 2 * 10**18))
    assert registry.reload_if_changed() is True
    stats = RequestStats()
    stats.asterisk.add(0.002)
    stats.pool.add(0.75)
    write_status(
        path, registry, calls=0, ari_connected=True, now=datetime.now(UTC), ari_requests=stats
    )
    assert run_status(path) == 0
    out = capsys.readouterr().out
    assert "REJECTED" not in out
    assert "rejected edits: none" in out
    assert "ARI connected: yes" in out
    # a full pool is told apart from a slow Asterisk
    assert "Asterisk answered in 2.0 ms on average" in out
    assert "waited for a free connection of the engine's pool: 1 (at worst 750.0 ms)" in out


def test_missing_status_file_means_the_engine_is_not_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "var" / "status.json"
    assert run_status(path) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"engine not running: no status file at {path}\n"


def test_default_path_is_where_the_configured_engine_writes(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="hotline")
    status_cli.add_commands(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["status"]).path is None  # taken from config.yaml at run time
    config = tmp_path / "config.yaml"
    config.write_text("status_path: run/engine-status.json\n", encoding="utf-8")
    assert status_cli._configured_path(str(config)) == "run/engine-status.json"
    config.write_text("status_pth: typo\n", encoding="utf-8")
    assert status_cli._configured_path(str(config)) == STATUS_PATH == "var/status.json"


def test_unreadable_status_file_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "status.json"
    path.write_text("{not json", encoding="utf-8")
    assert run_status(path) == 1
    assert capsys.readouterr().err.startswith(f"cannot read the status file {path}:")


def test_stale_status_file_says_the_engine_is_probably_gone(
    registry: FlowRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "status.json"
    old = datetime.now(UTC) - timedelta(minutes=10)
    write_status(path, registry, calls=1, ari_connected=True, now=old, stale_after_s=15)
    assert run_status(path) == 1
    assert "WARNING: the status is stale" in capsys.readouterr().out


class FakeSupervisor:
    def __init__(self) -> None:
        self.sessions: dict[str, object] = {}


class FakeAriClient:
    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.stats = RequestStats()


def read_if_there(path: Path) -> dict[str, object] | None:
    try:
        data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return data


async def wait_for_file(path: Path, check: str) -> dict[str, object]:
    # real time, bounded: the publisher writes from a worker thread
    for _ in range(200):
        data = await asyncio.to_thread(read_if_there, path)
        if data is not None and check in json.dumps(data):
            return data
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} never showed {check}")


async def test_publisher_rewrites_the_file_and_removes_it_on_stop(
    registry: FlowRegistry, tmp_path: Path
) -> None:
    path = tmp_path / "var" / "status.json"
    sup, ari = FakeSupervisor(), FakeAriClient()
    task = asyncio.create_task(publish_status(path, registry, sup, ari, 0.02))
    first = await wait_for_file(path, '"calls": 0')
    assert first["ari_connected"] is False
    assert first["stale_after_s"] == pytest.approx(0.06)

    sup.sessions["c1"] = object()
    ari.connected.set()
    ari.stats.asterisk.add(0.004)
    ari.stats.asterisk.add(0.002)
    ari.stats.pool.add(1.5)  # one request found the pool full
    second = await wait_for_file(path, '"calls": 1')
    assert second["ari_connected"] is True
    assert second["ari_requests"] == {
        "count": 2,
        "asterisk_avg_ms": 3.0,
        "asterisk_max_ms": 4.0,
        "pool_waits": 1,
        "pool_wait_max_ms": 1500.0,
        "in_flight_max": 0,
    }

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(read_if_there, path) is None
    assert await asyncio.to_thread(lambda: list(path.parent.iterdir())) == []
