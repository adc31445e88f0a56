"""The admin's notices page and `/api/v1/notices` through aiohttp's test client: the form's field
errors (nothing stored), a saved notice made into audio and shown live, a failed rendering shown
with its reason, ending a notice, the audit rows, and that agents and supervisors are refused.
The speech engine is a fake writing silence (the real one: tests/integration/test_notice_audio)."""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator, Collection
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters.notices import NoticeDesk
from ivr.prompts import NoticeVoices, PromptError, TtsUnavailable
from ivr.store.notices import NoticeStore
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.store.tables import audit_log
from ivr.web.app import create_app
from ivr.web.csrf import HEADER
from tests.support.console import VirtualClock, add_member, console_config
from tests.unit.web.conftest import Client, page_token, sign_in

pytestmark = pytest.mark.unit

JA = "3月3日の午前9時から正午まで、本町1丁目で断水します。"
EN = "Water will be off in Honcho 1-chome on March 3 from 9 a.m. to noon."


class SilentTts:
    """Writes 0.1 s of silence per character; `fail` in a text fails it, `missing` the tools."""

    def __init__(self) -> None:
        self.fail: str | None = None
        self.missing = False
        self.spoken: list[tuple[str, str]] = []

    def check(self, synthesize: Collection[str]) -> None:
        if self.missing:
            raise TtsUnavailable("missing speech tools: install the Debian packages open-jtalk")

    async def synthesize(self, text: str, lang: str, dest: Path) -> None:
        self.spoken.append((lang, text))
        if self.fail is not None and self.fail in text:
            raise PromptError("espeak-ng failed (exit 1): no voice")
        with wave.open(str(dest), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\0\0" * 800 * len(text))

    async def convert(self, source: Path, dest: Path) -> None:
        raise AssertionError("notices have no studio recordings")


@pytest.fixture
def tts() -> SilentTts:
    return SilentTts()


@pytest.fixture
def changes() -> list[str]:
    return []


@pytest.fixture
async def client(
    engine: AsyncEngine,
    clock: VirtualClock,
    passwords: Passwords,
    tts: SilentTts,
    tmp_path: Path,
    changes: list[str],
) -> AsyncIterator[Client]:
    await add_member(engine, passwords, "boss", Role.ADMIN, language="en")
    await add_member(engine, passwords, "sup", Role.SUPERVISOR)
    await add_member(engine, passwords, "agent1", Role.AGENT)
    voices = NoticeVoices(tmp_path / "prompts", tts, "/var/lib/hotline/prompts")
    desk = NoticeDesk(
        NoticeStore(engine), voices, on_change=lambda: changes.append("changed"), clock=clock
    )
    app = create_app(console_config(), engine, clock, passwords=passwords, notice_desk=desk)
    async with TestClient(TestServer(app)) as c:
        yield c


def form(token: str, **values: str) -> dict[str, str]:
    # the virtual clock is 2027-02-10 09:30 in Tokyo
    data = {
        "csrf_token": token,
        "kind": "planned_outage",
        "areas": "chuo-01, chuo-02",
        "valid_from": "2027-02-10T09:00",
        "valid_until": "2027-02-11T12:00",
        "text_ja": JA,
        "text_en": EN,
    }
    data.update(values)
    return data


async def audit_actions(engine: AsyncEngine) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.action)
            .where(audit_log.c.action.like("notice%"))
            .order_by(audit_log.c.id)
        )
        return [(r[0], r[1]) for r in rows]


async def test_a_saved_notice_is_rendered_and_shown_in_force(
    client: Client,
    engine: AsyncEngine,
    tts: SilentTts,
    tmp_path: Path,
    changes: list[str],
) -> None:
    await sign_in(client, "boss")
    admin = await client.get("/admin")
    assert 'href="/admin/notices"' in await admin.text()
    token = await page_token(client, "/admin/notices")
    saved = await client.post("/admin/notices", data=form(token), allow_redirects=False)
    assert saved.status == 303
    page = await client.get(saved.headers["Location"])
    html = await page.text()
    assert "is saved. Its audio is ready" in html
    in_force = html.split('id="notices-in-force"')[1].split("</table>")[0]
    assert JA in in_force
    assert "chuo-01, chuo-02" in in_force
    assert "2027-02-10 09:00 – 2027-02-11 12:00" in in_force  # Tokyo time, as typed
    assert "Japanese: ready" in in_force
    # its own text, spoken, in the directory Asterisk reads prompts from
    assert tts.spoken == [("ja", JA), ("en", EN)]
    for lang in ("ja", "en"):
        assert (tmp_path / "prompts" / lang / "notice-1.wav").is_file()
    assert changes == ["changed"]
    assert await audit_actions(engine) == [
        ("admin:boss", "notice_add"),
        ("ivr:tts", "notice_audio_ready"),
        ("ivr:tts", "notice_audio_ready"),
    ]


async def test_a_notice_whose_audio_failed_is_not_played_and_says_why(
    client: Client, tts: SilentTts
) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/notices")
    tts.fail = "Honcho"
    saved = await client.post("/admin/notices", data=form(token), allow_redirects=False)
    page = await client.get(saved.headers["Location"])
    html = await page.text()
    assert 'role="alert" id="saved-note"' in html
    assert "is not played: its audio could not be made" in html
    assert "English: espeak-ng failed (exit 1): no voice" in html
    not_live = html.split('id="notices-not-live"')[1].split("</table>")[0]
    assert "English: could not be made" in not_live
    assert 'id="render-1"' in not_live
    assert 'id="notices-in-force"' not in html
    # once the cause is gone the admin makes the audio again, and the notice goes live
    tts.fail = None
    again = await client.post(
        "/admin/notices/1/render", data={"csrf_token": token}, allow_redirects=False
    )
    assert again.headers["Location"] == "/admin/notices?saved=1"
    html = await (await client.get(again.headers["Location"])).text()
    assert "Notice 1 is saved. Its audio is ready" in html
    assert 'id="render-1"' not in html
    # the tools missing altogether: every language says so
    tts.fail, tts.missing = None, True
    saved = await client.post("/admin/notices", data=form(token), allow_redirects=False)
    html = await (await client.get(saved.headers["Location"])).text()
    assert html.count("missing speech tools: install the Debian packages open-jtalk") >= 2


async def test_field_errors_are_shown_next_to_their_fields_and_nothing_is_stored(
    client: Client, engine: AsyncEngine, tts: SilentTts
) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/notices")
    refused = await client.post(
        "/admin/notices",
        data=form(
            token,
            kind="flood",
            areas="chuo 01;",
            valid_from="2027-02-10T09:00",
            valid_until="2027-02-10T08:00",
            text_ja=" ",
        ),
    )
    assert refused.status == 422
    html = await refused.text()
    for field in ("kind", "areas", "valid_until", "text_ja"):
        assert f'id="e-{field}"' in html, field
    assert "Must be after the start." in html
    # what was typed stays in the form
    assert 'value="chuo 01;"' in html
    unreadable = await client.post(
        "/admin/notices", data=form(token, valid_from="tomorrow", valid_until="")
    )
    assert unreadable.status == 422
    html = await unreadable.text()
    assert "Enter a date and time." in html
    assert 'id="e-valid_until"' in html
    assert tts.spoken == []
    assert await NoticeStore(engine).listing() == []
    assert await audit_actions(engine) == []


async def test_ending_a_notice_moves_it_to_ended_and_is_audited(
    client: Client, engine: AsyncEngine, clock: VirtualClock, changes: list[str]
) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/notices")
    await client.post("/admin/notices", data=form(token), allow_redirects=False)
    ended = await client.post(
        "/admin/notices/1/end", data={"csrf_token": token}, allow_redirects=False
    )
    assert ended.status == 303
    html = await (await client.get("/admin/notices")).text()
    assert 'id="notices-in-force"' not in html
    ended_rows = html.split('id="notices-ended"')[1].split("</table>")[0]
    assert "ended by: admin:boss" in ended_rows
    assert "2027-02-10 09:00 – 2027-02-10 09:30" in ended_rows  # ended at the clock's now
    assert changes == ["changed", "changed"]
    assert (await audit_actions(engine))[-1] == ("admin:boss", "notice_end")
    # no CSRF token, no end; an unknown notice is a 404
    assert (await client.post("/admin/notices/1/end", data={})).status == 403
    missing = await client.post("/admin/notices/99/end", data={"csrf_token": token})
    assert missing.status == 404


async def test_an_upcoming_notice_is_listed_as_upcoming(client: Client) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/notices")
    await client.post(
        "/admin/notices",
        data=form(token, valid_from="2027-03-01T00:00", valid_until="2027-03-02T00:00"),
    )
    html = await (await client.get("/admin/notices")).text()
    assert JA in html.split('id="notices-upcoming"')[1].split("</table>")[0]


@pytest.mark.parametrize("login", ["sup", "agent1"])
async def test_only_admins_open_the_notices(client: Client, login: str) -> None:
    await sign_in(client, login)
    assert (await client.get("/admin/notices")).status == 403
    assert (await client.get("/api/v1/notices")).status == 403


async def test_the_api_adds_lists_and_ends_notices(client: Client, engine: AsyncEngine) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/notices")
    body = {
        "kind": "discoloured_water",
        "areas": ["kita-03"],
        "valid_from": "2027-02-10T00:00:00+09:00",
        "valid_until": "2027-02-12T00:00:00+09:00",
        "text_ja": "北区で一時的に水がにごることがあります。",
    }
    created = await client.post("/api/v1/notices", json=body, headers={HEADER: token})
    assert created.status == 201
    view = await created.json()
    assert view["status"] == "in_force"
    assert view["audio"]["en"] == {
        "state": "ready",
        "reason": None,
        "media": f"sound:/var/lib/hotline/prompts/en/notice-{view['id']}",
    }
    listed = await (await client.get("/api/v1/notices")).json()
    assert [n["id"] for n in listed["notices"]] == [view["id"]]
    refused = await client.post(
        "/api/v1/notices", json={**body, "valid_until": body["valid_from"]}, headers={HEADER: token}
    )
    assert refused.status == 422
    assert (await refused.json())["fields"] == {"valid_until": "not_after_start"}
    ended = await client.post(
        "/api/v1/notices/end", json={"id": view["id"]}, headers={HEADER: token}
    )
    assert (await ended.json())["status"] == "ended"
    unknown = await client.post("/api/v1/notices/end", json={"id": 999}, headers={HEADER: token})
    assert unknown.status == 422
