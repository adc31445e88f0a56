"""The admin's notices: `/admin/notices` (server-rendered) and `/api/v1/notices` (JSON), both on
one `NoticeDesk` (`ivr.adapters.notices`): what is entered is checked field by field, stored,
rendered to audio in Japanese and English and goes live only when that worked; the admin sees
the outcome at once (live, or the reason it is not played). Times are entered and shown in
Asia/Tokyo. Every change is in the audit log under ``admin:<login>``.

The page lists the notices in force, the upcoming ones, those that are not played (audio pending
or failed, with the reason) and the last ended ones, and has the form for a new notice and an
"end now" button per notice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters.notices import NoticeDesk, NoticeRejected
from ivr.config import AppConfig
from ivr.domain import TOKYO
from ivr.prompts import NoticeVoices, default_output_dir, default_tts
from ivr.store.notices import (
    MAX_AREAS,
    MAX_TEXT_CHARS,
    NoticeDraft,
    NoticeEntry,
    NoticeNotFound,
    NoticeStore,
    split_areas,
)
from ivr.store.staff import Role
from ivr.store.tables import NOTICE_KINDS
from ivr.web.access import add_route
from ivr.web.context import Clock
from ivr.web.forms import read_form, text_field
from ivr.web.i18n import language_of, translator
from ivr.web.openapi import Operation, answer, api_route, read_json, unprocessable
from ivr.web.pages import me
from ivr.web.render import render

DESK = web.AppKey("notice_desk", NoticeDesk)
TIME_FORMAT = "%Y-%m-%dT%H:%M"
ENDED_SHOWN = 20
FIELDS = ("kind", "areas", "valid_from", "valid_until", "text_ja", "text_en")

NoticeKind = Literal["construction", "planned_outage", "discoloured_water", "other"]
AudioStateName = Literal["pending", "ready", "failed"]
StatusName = Literal["in_force", "upcoming", "ended", "pending", "failed"]


def actor_of(request: web.Request) -> str:
    return f"admin:{me(request).member.login}"


def tokyo_time(value: datetime) -> str:
    return value.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")


def parse_tokyo(text: str | None) -> datetime | None:
    """A `datetime-local` value (Tokyo wall time) as an aware datetime, None if unreadable."""
    try:
        return datetime.strptime((text or "").strip(), TIME_FORMAT).replace(tzinfo=TOKYO)
    except ValueError:
        return None


# ------------------------------------------------------------------------------ the page


def _groups(entries: list[NoticeEntry], now: datetime) -> dict[str, list[NoticeEntry]]:
    groups: dict[str, list[NoticeEntry]] = {
        "in_force": [],
        "upcoming": [],
        "not_live": [],
        "ended": [],
    }
    for entry in sorted(entries, key=lambda e: (e.valid_from, e.id)):
        status = entry.status(now)
        key = "not_live" if status in ("pending", "failed") else status
        groups[key].append(entry)
    groups["ended"] = sorted(groups["ended"], key=lambda e: e.valid_until, reverse=True)[
        :ENDED_SHOWN
    ]
    return groups


def error_text(code: str, lang: str) -> str:
    return translator(lang)(f"notice_err_{code}")


async def notices_page(
    request: web.Request,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    desk = request.app[DESK]
    lang = language_of(request)
    now = desk.clock()
    saved: NoticeEntry | None = None
    if (asked := request.query.get("saved", "")).isdigit():
        saved = await desk.store.get(int(asked))
    context: dict[str, Any] = {
        "member": me(request).member,
        "groups": _groups(await desk.store.listing(), now),
        "kinds": NOTICE_KINDS,
        "values": values or {},
        "errors": {k: error_text(v, lang) for k, v in (errors or {}).items()},
        "saved": saved,
        "now": now,
        "tokyo": tokyo_time,
        "max_text": MAX_TEXT_CHARS,
    }
    return render(request, "admin_notices.html", context, status=status)


async def get_page(request: web.Request) -> web.StreamResponse:
    return await notices_page(request)


def _draft_of(values: Mapping[str, str]) -> tuple[NoticeDraft | None, dict[str, str]]:
    """The draft from the form's text, or the problems with the parts that are not text."""
    problems: dict[str, str] = {}
    start, end = parse_tokyo(values.get("valid_from")), parse_tokyo(values.get("valid_until"))
    for name, value in (("valid_from", start), ("valid_until", end)):
        if value is None:
            problems[name] = "required" if not values.get(name, "").strip() else "bad_time"
    if start is None or end is None:
        return None, problems
    draft = NoticeDraft(
        kind=values.get("kind", ""),
        areas=split_areas(values.get("areas", "")),
        text_ja=values.get("text_ja", "").strip(),
        text_en=values.get("text_en", "").strip(),
        valid_from=start,
        valid_until=end,
    )
    return draft, problems


async def post_notice(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    values = {
        name: text
        for name in FIELDS
        if (text := text_field(form, name, MAX_TEXT_CHARS + 100)) is not None
    }
    draft, problems = _draft_of(values)
    if draft is None:
        return await notices_page(request, values=values, errors=problems, status=422)
    try:
        entry = await request.app[DESK].add(draft, actor_of(request))
    except NoticeRejected as rejected:
        return await notices_page(
            request, values=values, errors={**rejected.problems, **problems}, status=422
        )
    raise web.HTTPSeeOther(f"/admin/notices?saved={entry.id}")


def notice_id_of(request: web.Request) -> int:
    text = request.match_info["id"]
    if not text.isdigit() or len(text) > 12:
        raise web.HTTPNotFound()
    return int(text)


async def post_end(request: web.Request) -> web.StreamResponse:
    notice_id = notice_id_of(request)
    await read_form(request)
    try:
        await request.app[DESK].end(notice_id, actor_of(request))
    except NoticeNotFound:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther("/admin/notices")


async def post_render(request: web.Request) -> web.StreamResponse:
    """Make a notice's audio again (its audio failed, e.g. while the speech tools were missing)."""
    notice_id = notice_id_of(request)
    await read_form(request)
    desk = request.app[DESK]
    entry = await desk.store.get(notice_id)
    if entry is None:
        raise web.HTTPNotFound()
    if entry.status(desk.clock()) in ("pending", "failed"):
        await desk.render(entry)
    raise web.HTTPSeeOther(f"/admin/notices?saved={notice_id}")


# ------------------------------------------------------------------------------ the API

AreaCode = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_-]+$")]


class NoticeBody(BaseModel):
    """A new notice: spoken to callers whose account's premise is in one of `areas` from
    `valid_from` until `valid_until` (the text as written; `text_en` may be empty: English
    callers then hear the Japanese audio)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "kind": "planned_outage",
                    "areas": ["chuo-01", "chuo-02"],
                    "valid_from": "2027-03-02T00:00:00+09:00",
                    "valid_until": "2027-03-03T12:00:00+09:00",
                    "text_ja": "3月3日の午前9時から正午まで、本町1丁目で断水します。",
                    "text_en": "Water will be off in Honcho 1-chome on March 3 from 9 to noon.",
                }
            ]
        },
    )

    kind: NoticeKind
    areas: list[AreaCode] = Field(min_length=1, max_length=MAX_AREAS)
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    text_ja: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]
    text_en: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] = ""


class EndBody(BaseModel):
    """The notice to end now (it stops playing for the next call)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[int, Field(ge=1, le=2**31 - 1)]


class NoticeAudio(BaseModel):
    state: AudioStateName
    reason: str | None
    media: str
    """The ARI media URI callers' playbacks use."""


class NoticeView(BaseModel):
    """A notice and whether callers hear it: `status` is `in_force` or `upcoming` when its audio
    is ready in both languages, `pending` / `failed` when not (see `audio`), or `ended`."""

    id: int
    kind: NoticeKind
    areas: list[str]
    valid_from: datetime
    valid_until: datetime
    text_ja: str
    text_en: str
    status: StatusName
    audio: dict[str, NoticeAudio]
    created_by: str | None
    ended_by: str | None


class NoticeList(BaseModel):
    notices: list[NoticeView]


def view_of(entry: NoticeEntry, desk: NoticeDesk) -> NoticeView:
    return NoticeView(
        id=entry.id,
        kind=entry.kind,
        areas=list(entry.areas),
        valid_from=entry.valid_from,
        valid_until=entry.valid_until,
        text_ja=entry.text_ja,
        text_en=entry.text_en,
        status=entry.status(desk.clock()),
        audio={
            lang: NoticeAudio(
                state=entry.audio[lang],
                reason=entry.audio_reason[lang],
                media=desk.media(entry.id, lang),
            )
            for lang in entry.audio
        },
        created_by=entry.created_by,
        ended_by=entry.ended_by,
    )


async def api_list(request: web.Request) -> web.StreamResponse:
    desk = request.app[DESK]
    return answer(NoticeList(notices=[view_of(e, desk) for e in await desk.store.listing()]))


async def api_add(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, NoticeBody)
    draft = NoticeDraft(
        kind=body.kind,
        areas=tuple(dict.fromkeys(body.areas)),
        text_ja=body.text_ja.strip(),
        text_en=body.text_en.strip(),
        valid_from=body.valid_from,
        valid_until=body.valid_until,
    )
    desk = request.app[DESK]
    try:
        entry = await desk.add(draft, actor_of(request))
    except NoticeRejected as rejected:
        raise unprocessable(rejected.problems) from None
    return answer(view_of(entry, desk), 201)


async def api_end(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, EndBody)
    desk = request.app[DESK]
    try:
        entry = await desk.end(body.id, actor_of(request))
    except NoticeNotFound:
        raise unprocessable({"id": "unknown"}, "no such notice") from None
    return answer(view_of(entry, desk))


# ------------------------------------------------------------------------------ setting up


def default_desk(config: AppConfig, db: AsyncEngine, clock: Clock) -> NoticeDesk:
    """A desk of the console's own: the prompts' speech engine, writing where Asterisk reads
    prompts (the sandbox chroot's directory in development)."""
    root = Path.cwd()
    voices = NoticeVoices(default_output_dir(root), default_tts(root), config.prompts.asterisk_dir)
    return NoticeDesk(NoticeStore(db), voices, clock=clock)


def setup(
    app: web.Application,
    config: AppConfig,
    db: AsyncEngine,
    clock: Clock,
    *,
    desk: NoticeDesk | None = None,
) -> None:
    """The page and the API on `desk` (the engine's, which tells its notice board at once), or
    on a desk of their own (`default_desk`)."""
    app[DESK] = desk or default_desk(config, db, clock)
    add_route(app, "GET", "/admin/notices", get_page, Role.ADMIN, name="admin-notices")
    add_route(app, "POST", "/admin/notices", post_notice, Role.ADMIN)
    add_route(app, "POST", "/admin/notices/{id}/end", post_end, Role.ADMIN)
    add_route(app, "POST", "/admin/notices/{id}/render", post_render, Role.ADMIN)
    tags = ("notices",)
    api_route(
        app,
        Operation(
            "GET",
            "/api/v1/notices",
            Role.ADMIN,
            "listNotices",
            "The notices, newest first, with whether callers hear them",
            {200: NoticeList},
            tags=tags,
        ),
        api_list,
    )
    api_route(
        app,
        Operation(
            "POST",
            "/api/v1/notices",
            Role.ADMIN,
            "addNotice",
            "Enter a notice: it is rendered to audio and goes live when that worked",
            {201: NoticeView},
            body=NoticeBody,
            description=(
                "Checked field by field (422 with a code per field, nothing stored), then stored "
                "and rendered: the answer's `status` and `audio` say whether callers hear it, "
                "or why not."
            ),
            tags=tags,
        ),
        api_add,
    )
    api_route(
        app,
        Operation(
            "POST",
            "/api/v1/notices/end",
            Role.ADMIN,
            "endNotice",
            "End a notice now",
            {200: NoticeView},
            body=EndBody,
            tags=tags,
        ),
        api_end,
    )
