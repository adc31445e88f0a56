"""Editing a dialplan while the engine runs: valid edits go live for new calls, invalid ones are
rejected with `file:line` errors while the old version keeps serving, and a call in progress
finishes on the version it started with."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from ivr.ari.client import Resynced
from ivr.ari.fake import FakeAri
from ivr.ari.models import ChannelDtmfReceived, DialplanCep
from ivr.callerid import normalise_number
from ivr.calls.flows import FlowRegistry
from ivr.calls.memory import InMemoryCallMemory
from ivr.calls.records import MemoryCallRecorder
from ivr.calls.services import CallServices
from ivr.calls.session import STATE_VARIABLE
from ivr.calls.supervisor import Supervisor
from ivr.config import CallsConfig
from ivr.flow.ports import AccountSummary, FakeAccounts, FakeCalendar, FakeIntake, FakeNotices

pytestmark = [pytest.mark.unit, pytest.mark.looptime]

ROOT = Path(__file__).resolve().parents[3]
FLOWS = Path(__file__).parent / "flows"
PROMPTS = "sound:/var/lib/hotline/prompts/ja/"
WELCOME = PROMPTS + "welcome"
MAIN_MENU = PROMPTS + "main-menu"
GOODBYE = PROMPTS + "thank-you-goodbye"
CALLER = "0935821234"

# every edit gets its own explicit mtime: the registry fingerprints (path, mtime_ns, size), and
# an edit may keep the size and land within the file system's timestamp resolution
_BASE_NS = 1_800_000_000 * 10**9


class FlowFile:
    """The tmp copy of the test flow, edited by text replacement with a fresh mtime each time."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir()
        self.path = directory / "hotline.yaml"
        shutil.copyfile(FLOWS / "hotline.yaml", self.path)
        self.original = self.path.read_text(encoding="utf-8")
        self._edits = 0
        self._stamp()

    def _stamp(self) -> None:
        ns = _BASE_NS + self._edits * 10**9
        os.utime(self.path, ns=(ns, ns))
        self._edits += 1

    def write(self, text: str) -> None:
        self.path.write_text(text, encoding="utf-8")
        self._stamp()

    def edit(self, old: str, new: str) -> str:
        """Replace `old` (once, must be present) in the ORIGINAL text and write the result."""
        assert self.original.count(old) == 1, old
        text = self.original.replace(old, new)
        self.write(text)
        return text

    def line_of(self, fragment: str) -> int:
        lines = self.path.read_text(encoding="utf-8").splitlines()
        [line] = [n for n, text in enumerate(lines, 1) if fragment in text]
        return line


class Rig:
    """Supervisor + services over the in-memory ARI fake, with the given flow registry."""

    def __init__(self, registry: FlowRegistry) -> None:
        self.ari = FakeAri()
        self.recorder = MemoryCallRecorder()
        self.memory = InMemoryCallMemory()
        self.registry = registry
        self.intake = FakeIntake()
        account = AccountSummary(customer_number="1000000018", area="north-3")
        self.services = CallServices(
            flows=registry,
            accounts=FakeAccounts([account], {CALLER: ["1000000018"]}),
            calendar=FakeCalendar(),
            notices=FakeNotices(),
            intake=self.intake,
            entry_flows={"main": "hotline", "emergency": "hotline"},
            memory=self.memory,
        )
        self.sup = Supervisor(self.ari, self.recorder, CallsConfig(), self.services)
        self.ari.sink = self.sup.on_event

    def plays(self, channel_id: str) -> list[str]:
        return [op[2] for op in self.ari.ops if op[0] == "play" and op[1] == channel_id]

    def press(self, channel_id: str, digit: str) -> None:
        channel = self.ari.channels[channel_id]
        self.ari.emit(ChannelDtmfReceived(type="ChannelDtmfReceived", channel=channel, digit=digit))

    def finish_all(self, channel_id: str) -> None:
        for playback_id, playback in list(self.ari.playbacks.items()):
            if playback.target_uri == f"channel:{channel_id}":
                self.ari.finish_playback(playback_id)

    async def call(self, channel_id: str) -> list[str]:
        """A new call; returns what it has played once it waits at the menu."""
        self.ari.incoming(channel_id, number=CALLER)
        await settle()
        return self.plays(channel_id)

    def saved_digest(self, channel_id: str) -> str:
        saved: Mapping[str, object] = json.loads(self.memory.kept[channel_id][STATE_VARIABLE])
        return str(saved["digest"])


async def settle() -> None:
    # let the session tasks run until they wait on their inboxes again (virtual time: instant)
    await asyncio.sleep(0.01)


@pytest.fixture
def flow_file(tmp_path: Path) -> FlowFile:
    return FlowFile(tmp_path / "flows")


@pytest.fixture
def registry(flow_file: FlowFile) -> FlowRegistry:
    registry = FlowRegistry(flow_file.path.parent, ROOT / "prompts" / "catalog.yaml")
    registry.load()
    return registry


# a valid edit: the menu says something else and offers a new key leading to a new node
GOOD_OLD = '    prompts: [welcome]\n    options: {"1": lookup, "2": leak, "0": operator}\n'
GOOD_NEW = (
    '    prompts: [main-menu]\n    options: {"1": lookup, "2": leak, "0": operator, "9": hours}\n'
)
NEW_NODE = "\n  hours:\n    kind: hangup\n    prompts: [closed-hours]\n"


def good_edit(flow_file: FlowFile) -> None:
    text = flow_file.original.replace(GOOD_OLD, GOOD_NEW) + NEW_NODE
    assert text != flow_file.original + NEW_NODE
    flow_file.write(text)


async def test_unchanged_files_are_not_reloaded(registry: FlowRegistry) -> None:
    loaded_at = registry.status.loaded_at
    assert registry.reload_if_changed() is False
    assert registry.status.loaded_at == loaded_at
    assert registry.status.errors == []


async def test_a_valid_edit_goes_live_for_new_calls(
    flow_file: FlowFile, registry: FlowRegistry
) -> None:
    rig = Rig(registry)
    before = registry.live("hotline")
    assert await rig.call("c1") == [WELCOME]

    good_edit(flow_file)
    assert registry.reload_if_changed() is True
    after = registry.live("hotline")
    assert after.digest != before.digest
    assert "hours" in after.flow.nodes
    assert registry.status.errors == []
    assert registry.status.files == 1
    # the same files again: nothing to do
    assert registry.reload_if_changed() is False

    assert await rig.call("c2") == [MAIN_MENU]
    assert rig.saved_digest("c2") == after.digest
    rig.press("c2", "9")
    await settle()
    assert rig.plays("c2")[-1] == PROMPTS + "closed-hours"
    rig.finish_all("c2")
    record = await rig.recorder.wait_for("c2")
    assert {"event": "menu_choice", "node": "menu", "key": "9", "to": "hours"} in record.trail


# (name, text replaced in the original, replacement, a fragment of the line the error names)
BAD_EDITS = [
    pytest.param(
        '"1": lookup, "2": leak',
        '"1": lookup, "2": nowhere',
        '"2": nowhere',
        id="unknown-target",
    ),
    pytest.param("    timeout_s: 8\n", "    timeout: 8\n", "timeout: 8", id="wrong-key"),
    pytest.param("    retries: 2\n", "   retries: 2\n", "retries: 2", id="bad-indentation"),
]


@pytest.mark.parametrize(("old", "new", "where"), BAD_EDITS)
async def test_an_invalid_edit_is_rejected_and_the_old_version_keeps_serving(
    flow_file: FlowFile,
    registry: FlowRegistry,
    caplog: pytest.LogCaptureFixture,
    old: str,
    new: str,
    where: str,
) -> None:
    rig = Rig(registry)
    before = registry.live("hotline")
    loaded_at = registry.status.loaded_at

    flow_file.edit(old, new)
    with caplog.at_level(logging.ERROR, logger="ivr.calls.flows"):
        assert registry.reload_if_changed() is False
    status = registry.status
    assert status.errors
    pattern = re.compile(re.escape(str(flow_file.path)) + r":(\d+): \S")
    for error in status.errors:
        assert pattern.match(error), error
    lines = {int(m[1]) for e in status.errors if (m := pattern.match(e))}
    assert flow_file.line_of(where) in lines, status.errors
    assert status.rejected_at
    assert status.loaded_at == loaded_at
    # logged with every error, once: the same broken files are not reported again
    [logged] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert all(error in logged.getMessage() for error in status.errors)
    assert registry.reload_if_changed() is False
    assert [r for r in caplog.records if r.levelno == logging.ERROR] == [logged]

    assert registry.live("hotline") == before
    assert await rig.call("c1") == [WELCOME]
    assert rig.saved_digest("c1") == before.digest

    # the admin fixes the file: the fix goes live and the errors are cleared
    good_edit(flow_file)
    assert registry.reload_if_changed() is True
    assert registry.status.errors == []
    assert registry.status.rejected_at == ""
    assert registry.live("hotline").digest != before.digest
    assert await rig.call("c2") == [MAIN_MENU]


async def test_a_broken_catalog_is_rejected_too(tmp_path: Path, flow_file: FlowFile) -> None:
    catalog = tmp_path / "catalog.yaml"
    shutil.copyfile(ROOT / "prompts" / "catalog.yaml", catalog)
    registry = FlowRegistry(flow_file.path.parent, catalog)
    registry.load()
    before = registry.live("hotline")
    text = catalog.read_text(encoding="utf-8")
    catalog.write_text(text.replace("\nwelcome:\n", "\nwelcom:\n", 1), encoding="utf-8")
    os.utime(catalog, ns=(_BASE_NS, _BASE_NS))
    assert registry.reload_if_changed() is False
    assert any("'welcome'" in e for e in registry.status.errors), registry.status.errors
    assert registry.live("hotline") == before


# the menu's keys 1 and 2 swap targets: the old version looks the caller up on 1 (and says
# goodbye), the new one takes a leak report on 1
SWAP_OLD = '"1": lookup, "2": leak'
SWAP_NEW = '"1": leak, "2": lookup'


async def test_a_call_in_progress_keeps_the_version_it_started_with(
    flow_file: FlowFile, registry: FlowRegistry
) -> None:
    rig = Rig(registry)
    old = registry.live("hotline")
    assert await rig.call("old") == [WELCOME]

    flow_file.edit(SWAP_OLD, SWAP_NEW)
    assert registry.reload_if_changed() is True
    new = registry.live("hotline")
    assert new.digest != old.digest
    assert await rig.call("new") == [WELCOME]

    rig.press("old", "1")
    rig.press("new", "1")
    await settle()
    assert rig.plays("old")[-1] == GOODBYE
    assert rig.plays("new")[-1].split(",")[0] == PROMPTS + "leak-recorded"
    assert rig.intake.created == [("leak", {"caller_id": normalise_number(CALLER)})]
    rig.finish_all("old")
    rig.finish_all("new")
    old_record = await rig.recorder.wait_for("old")
    new_record = await rig.recorder.wait_for("new")
    assert {"event": "menu_choice", "node": "menu", "key": "1", "to": "lookup"} in old_record.trail
    assert {"event": "menu_choice", "node": "menu", "key": "1", "to": "leak"} in new_record.trail
    assert old_record.intakes == []
    assert new_record.intakes == ["leak:K10001"]


async def test_a_readopted_call_resumes_on_its_own_version_after_a_reload(
    flow_file: FlowFile, registry: FlowRegistry
) -> None:
    rig = Rig(registry)
    old = registry.live("hotline")
    assert await rig.call("c1") == [WELCOME]
    rig.finish_all("c1")
    await settle()
    await rig.sup.stop()
    assert rig.saved_digest("c1") == old.digest

    # edited while no engine runs the call; the next engine picks it up again
    flow_file.edit(SWAP_OLD, SWAP_NEW)
    assert registry.reload_if_changed() is True
    second = Supervisor(rig.ari, rig.recorder, CallsConfig(), rig.services)
    rig.ari.sink = second.on_event
    channel = rig.ari.channels["c1"].model_copy(
        update={"state": "Up", "dialplan": DialplanCep(app_name="Stasis", app_data="hotline,main")}
    )
    rig.ari.emit(Resynced(channels=(channel,), reconnect=True))
    await settle()
    assert "c1" in second.sessions
    rig.press("c1", "1")
    await settle()
    assert rig.plays("c1")[-1] == GOODBYE
    assert rig.intake.created == []
    rig.finish_all("c1")
    record = await rig.recorder.wait_for("c1", "completed")
    assert record.adopted
    assert {"event": "menu_choice", "node": "menu", "key": "1", "to": "lookup"} in record.trail


def _latin1(text: str) -> bytes:
    return text.replace("# ", "# café ", 1).encode("latin-1", "replace")


def _cp932(text: str) -> bytes:
    return text.encode("utf-8").replace(b"# ", "# 水道 ".encode("cp932"), 1)


def _alias_bomb(text: str) -> bytes:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    return ("\n".join(lines) + "\n" + text).encode()


def _deep(text: str) -> bytes:
    return text.replace("nodes:\n", "deep: " + "[" * 500 + "]" * 500 + "\nnodes:\n", 1).encode()


# (a broken save of the whole file, a fragment of the error it must give): files that are not
# text the loader can read, as editors and attackers save them
BAD_FILES = [
    pytest.param(_latin1, "not UTF-8 at byte", id="latin-1"),
    pytest.param(_cp932, "not UTF-8 at byte", id="cp932"),
    pytest.param(lambda t: t.encode("utf-16"), "not UTF-8 at byte 0", id="utf-16"),
    pytest.param(_alias_bomb, "expands to more than", id="billion-laughs"),
    pytest.param(_deep, "nested deeper than", id="deep-nesting"),
    pytest.param(lambda t: ("a: &a [*a]\n" + t).encode(), "refers to the value", id="alias-loop"),
]


@pytest.mark.parametrize(("broken", "says"), BAD_FILES)
async def test_a_file_that_cannot_be_read_is_a_rejected_edit_and_the_watcher_goes_on(
    flow_file: FlowFile,
    registry: FlowRegistry,
    broken: Callable[[str], bytes],
    says: str,
) -> None:
    rig = Rig(registry)
    before = registry.live("hotline")
    watcher = asyncio.get_running_loop().create_task(registry.watch(1.0), name="flow-reload")
    try:
        flow_file.path.write_bytes(broken(flow_file.original))
        flow_file._stamp()
        await registry.watched()
        assert not watcher.done()
        [error] = registry.status.errors
        assert error.startswith(f"{flow_file.path}:")
        assert says in error
        assert registry.live("hotline") == before
        assert await rig.call("c1") == [WELCOME]

        # the watcher is still there: the admin's next valid edit goes live
        good_edit(flow_file)
        await registry.watched()
        assert registry.status.errors == []
        assert registry.live("hotline").digest != before.digest
        assert await rig.call("c2") == [MAIN_MENU]
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def test_a_fault_while_loading_is_a_rejected_edit_not_the_end_of_reloading(
    flow_file: FlowFile, registry: FlowRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = registry.live("hotline")

    def broken_load() -> None:
        raise RecursionError("maximum recursion depth exceeded")

    good_edit(flow_file)
    with monkeypatch.context() as patch:
        patch.setattr(registry, "load", broken_load)
        assert registry.reload_if_changed() is False
    [error] = registry.status.errors
    assert "could not be loaded" in error
    assert "RecursionError" in error
    assert registry.live("hotline") == before
    # the same files are looked at again once they change
    good_edit(flow_file)
    assert registry.reload_if_changed() is True
    assert registry.status.errors == []
