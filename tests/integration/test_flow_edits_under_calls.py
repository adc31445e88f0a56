"""The leak line keeps answering while admins save broken files: a flow with an error, a
billion-laughs file and a Latin-1 file land in dialplans/ of a running engine; each is a
rejected edit (the watcher goes on), a leak call placed meanwhile reaches the on-duty phone,
and the admin's later valid edit goes live."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ivr.calls.flows import FlowRegistry
from ivr.calls.records import MemoryCallRecorder
from tests.integration.conftest import CALLER, ROOT, EngineFactory, hotline_backends
from tests.integration.test_calls import the_record
from tests.integration.test_routed_calls import routing
from tests.support.sandbox import Sandbox
from tests.support.sipp import Sipp, caller_args

pytestmark = pytest.mark.integration

# a billion laughs: 9^9 values once expanded, from under 1 KB
BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)
)


async def a_full_look(flows: FlowRegistry) -> None:
    """Until the watcher has looked at the files in a round that began after now (the round
    under way may have read them before the save)."""
    await flows.watched()
    await flows.watched()


def save(path: Path, content: bytes, edit: int) -> None:
    """An admin's save: new content with a fresh mtime (the watcher fingerprints mtime+size)."""
    path.write_bytes(content)
    ns = (1_900_000_000 + edit) * 10**9
    os.utime(path, ns=(ns, ns))


async def test_the_leak_line_answers_while_broken_files_are_saved(
    sandbox: Sandbox, start_engine: EngineFactory, workdir: Path, tmp_path: Path
) -> None:
    dialplans = tmp_path / "dialplans"
    shutil.copytree(ROOT / "dialplans", dialplans)
    flows = FlowRegistry(dialplans, ROOT / "prompts" / "catalog.yaml")
    flows.load()
    before = flows.live("hotline").digest
    duty = await Sipp("phone_press1_talk.xml", ["-d", "500"], workdir).start()
    recorder = MemoryCallRecorder()
    await start_engine(
        recorder,
        backends=hotline_backends(flows=flows),
        routing=routing(on_duty=[f"PJSIP/onduty/sip:onduty@127.0.0.1:{duty.port}"]),
    )
    hotline_yaml = dialplans / "hotline.yaml"
    broken = hotline_yaml.read_bytes().replace(b"start: greeting", b"start: nowhere", 1)
    saves = [
        (dialplans / "draft.yaml", broken.replace(b"id: hotline", b"id: draft", 1), "nowhere"),
        (dialplans / "laughs.yaml", BOMB.encode(), "expands to more than"),
        (dialplans / "latin1.yaml", "# café\nflow: {}\n".encode("latin-1"), "not UTF-8"),
    ]
    for edit, (path, content, says) in enumerate(saves, 1):
        save(path, content, edit)
        await a_full_look(flows)
        assert any(says in error for error in flows.status.errors), flows.status.errors
        assert flows.live("hotline").digest == before  # the old version serves on

    # with all three broken files in dialplans/, a leak report is put through to the on-duty phone
    caller = Sipp(
        "caller_silent.xml",
        caller_args(sandbox.sip_host, sandbox.sip_port, "1100", CALLER),
        workdir,
    )
    try:
        caller_result = await (await caller.start()).wait()
        duty_result = await duty.wait()
    finally:
        duty.kill()
    assert duty_result.ok, duty_result.output[-500:]
    assert caller_result.ok, caller_result.output[-500:]
    record = await the_record(recorder)
    assert (record.entry, record.outcome) == ("emergency", "handed_over")

    # the admin removes the broken files and makes a valid edit: it goes live
    for path, _, _ in saves:
        path.unlink()
    edited = hotline_yaml.read_bytes().replace(b'version: "2027.1"', b'version: "2027.2"', 1)
    save(hotline_yaml, edited, 9)
    await a_full_look(flows)
    assert flows.status.errors == []
    assert flows.live("hotline").digest != before
