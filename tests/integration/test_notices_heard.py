"""The real call: a notice an admin enters for area chuo-01 is rendered with the real speech tools
into the prompt directory of the sandbox's Asterisk, and a SIPp caller whose account's premise is
in chuo-01 hears that notice's own audio (Asterisk reports the playback of its media URI finished
to the end), in the language they chose; a caller in chuo-02 does not, and the engine serving
them reads the accounts, premises and notices from its real database."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from ivr.adapters.notices import NoticeDesk, StoreNotices
from ivr.app import build, flow_registry, open_backends
from ivr.calls.records import MemoryCallRecorder
from ivr.domain import utc_now
from ivr.prompts import DEFAULT_ASTERISK_DIR, CommandTts, NoticeVoices
from ivr.store.notices import NoticeDraft, NoticeStore
from tests.integration.store.storedata import cust, seed
from tests.integration.test_full_stack import ROOT, call_in, hotline_config
from tests.support.sandbox import Sandbox

pytestmark = pytest.mark.integration

IN_X = "0935821234"  # account 1 in storedata: premise 101, area chuo-01
IN_Y = "09012345678"  # account 2: premise 102, area chuo-02
NOTICE_JA = "本日午後1時から3時まで、本町1丁目の一部で断水します。"
NOTICE_EN = "Water will be off in part of Honcho 1-chome today from 1 to 3 p.m."


async def test_a_notice_for_area_x_is_heard_by_a_caller_in_x_and_not_by_one_in_y(
    sandbox: Sandbox, workdir: Path
) -> None:
    config = hotline_config(sandbox, workdir)
    recorder = MemoryCallRecorder()
    async with AsyncExitStack() as stack:
        backends = await open_backends(config, flow_registry(config, ROOT), stack)
        assert backends.db is not None
        await seed(backends.db)
        board = backends.notices
        assert isinstance(board, StoreNotices)
        voices = NoticeVoices(
            sandbox.chroot / DEFAULT_ASTERISK_DIR.lstrip("/"),
            CommandTts(root=sandbox.chroot),
            config.prompts.asterisk_dir,
        )
        desk = NoticeDesk(NoticeStore(backends.db), voices, on_change=board.invalidate)
        now = utc_now()
        notice = await desk.add(
            NoticeDraft(
                "planned_outage",
                ("chuo-01", "kita-07"),
                NOTICE_JA,
                NOTICE_EN,
                now - timedelta(minutes=5),
                now + timedelta(days=1),
            ),
            "admin:test",
        )
        # the files are in the sandbox's own prompt directory: gone again after the test
        stack.push_async_callback(voices.remove, f"notice-{notice.id}")
        assert notice.live, notice.audio_reason
        assert voices.path(f"notice-{notice.id}", "ja").is_file()
        engine = await build(config, backends=replace(backends, recorder=recorder))
        try:
            # X chooses English (2), Y Japanese (1); both stay on while the menus play
            heard_x = await call_in(sandbox, workdir, "2", 2500, 20000, caller_id=IN_X)
            assert heard_x.ok, heard_x.output[-500:]
            heard_y = await call_in(sandbox, workdir, "1", 2500, 20000, caller_id=IN_Y)
            assert heard_y.ok, heard_y.output[-500:]
            await engine.supervisor.wait_idle()
        finally:
            await engine.stop()

    x, y = sorted(recorder.records, key=lambda r: r.started_at)
    # X heard its own audio to the end, in English, once; then the menu began
    ours = desk.media(notice.id, "en")
    assert ours == f"sound:/var/lib/hotline/prompts/en/notice-{notice.id}"
    assert x.media_finished.count(ours) == 1
    assert desk.media(notice.id, "ja") not in x.media_finished
    assert "main-menu" in x.prompts_played, x.prompts_played
    assert [e.get("count") for e in x.trail if e["event"] == "notices"] == ["1"]
    assert [e.get("count") for e in y.trail if e["event"] == "notices"] == ["0"]
    # Y, in chuo-02: no notice, and the same flow on to the menu
    assert not [m for m in y.media_finished if "/notice-" in m]
    assert "main-menu" in y.prompts_played, y.prompts_played
    # both were recognised by caller ID from the database, so their areas were known
    assert (x.account, y.account) == (cust(1), cust(2))
