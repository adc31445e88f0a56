"""The knowledge base on the console (`ivr.store.knowledge`): agents search it during a call on
`/agent/kb` (which also suggests the entries whose category is a flow node the caller went
through or a request kind made on the call) and propose an entry from the wrap-up ("this answer
worked"); admins curate it on `/admin/kb`: add, edit, retire, and accept what agents proposed.

An entry's category names what it answers: a node of the flow (``outage_info``), a request kind
(``start``, ``stop``) or any word of the admins' own; the categories the flows and request kinds
give are offered as choices on the admin's form. The department an entry hands over to is one
in force in the database (`ivr.web.targets`): the forms offer those, read for each page, and a
posted code that is not one is a field error, nothing saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.config import AppConfig
from ivr.domain import StoredKind
from ivr.store.knowledge import (
    MAX_ANSWER,
    MAX_QUERY,
    MAX_QUESTION,
    Entry,
    EntryDraft,
    EntryNotFound,
    KnowledgeBase,
    draft_problems,
)
from ivr.store.staff import Role
from ivr.web.access import add_route
from ivr.web.context import Clock
from ivr.web.desk import my_view
from ivr.web.flows import DESK as FLOWS
from ivr.web.forms import Form, read_form, text_field
from ivr.web.i18n import register_texts
from ivr.web.pages import me
from ivr.web.render import render
from ivr.web.targets import TARGETS, Targets

FIELDS = ("lang", "question", "answer", "category", "department")


class KbDesk:
    def __init__(self, kb: KnowledgeBase, targets: Targets, clock: Clock) -> None:
        self.kb = kb
        # the departments in force, read for each form and each post (`ivr.web.targets`)
        self.targets = targets
        self.clock = clock


DESK = web.AppKey("kb_desk", KbDesk)

TEXTS: dict[str, tuple[str, str]] = {
    "page_kb": ("FAQ（ナレッジ）", "Knowledge base"),
    "page_kb_admin": ("FAQの管理", "Knowledge base (curate)"),
    "kb_search": ("検索", "Search"),
    "kb_query": ("キーワード（かな・カナ・半角可）", "Words (any kana, any width)"),
    "kb_found": ("見つかった項目", "Entries found"),
    "kb_none": ("見つかりません。", "Nothing found."),
    "kb_suggested": ("この通話へのおすすめ", "Suggested for this call"),
    "kb_question": ("質問", "Question"),
    "kb_answer": ("読み上げる回答", "Answer to read out"),
    "kb_category": ("分類", "Category"),
    "kb_department": ("回答で解決しないときの部署", "Department for what it cannot settle"),
    "kb_lang": ("言語", "Language"),
    "kb_any_lang": ("すべて", "Any"),
    "kb_propose": ("この回答で解決した：FAQに提案する", "This answer worked: propose it"),
    "kb_proposed": (
        "提案しました（番号 {id}）。管理者が確認します。",
        "Proposed (number {id}); an admin reviews it.",
    ),
    "kb_new": ("新しい項目", "New entry"),
    "kb_edit": ("編集", "Edit"),
    "kb_save": ("保存", "Save"),
    "kb_retire": ("廃止", "Retire"),
    "kb_accept": ("採用", "Accept"),
    "kb_live": ("公開中", "Live"),
    "kb_proposals": ("提案", "Proposals"),
    "kb_by": ("記入者", "By"),
    "kb_err_required": ("入力してください。", "Enter a value."),
    "kb_err_unknown": ("選んでください。", "Choose one."),
    "kb_err_unknown_department": (
        "この部署はありません（削除された可能性があります）。一覧から選んでください。",
        "No such department (it may have been removed): choose one of the list.",
    ),
    "kb_err_too_long": ("長すぎます。", "This is too long."),
}


async def entry_problems(desk: KbDesk, draft: EntryDraft) -> dict[str, str]:
    problems = draft_problems(draft, await desk.targets.codes())
    if problems.get("department") == "unknown":
        # a stale form: the department was removed (or renamed) since the page was loaded
        problems["department"] = "unknown_department"
    return problems


async def known_categories(request: web.Request) -> list[str]:
    """The flows' node ids and the request kinds: what the pop suggests entries by."""
    registry = await request.app[FLOWS].current()
    nodes = {node for flow in registry.library().values() for node in flow.nodes}
    return sorted(nodes | set(get_args(StoredKind)))


def _values(form: Form) -> dict[str, str]:
    return {
        name: text
        for name in (*FIELDS, "id")
        if (text := text_field(form, name, MAX_ANSWER + 1)) is not None
    }


def _draft(values: Mapping[str, str]) -> EntryDraft:
    return EntryDraft(
        lang=values.get("lang", ""),
        question=values.get("question", ""),
        answer=values.get("answer", ""),
        category=values.get("category", ""),
        department=values.get("department") or None,
    )


# ------------------------------------------------------------------------------ the agent's


async def kb_page(
    request: web.Request,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    desk = request.app[DESK]
    query = request.query.get("q", "")[:MAX_QUERY]
    lang = request.query.get("lang", "")
    found: list[Entry] | None = None
    if query.strip():
        found = await desk.kb.search(query, lang=lang if lang in ("ja", "en") else None)
    view = my_view(request)
    suggested: list[Entry] = []
    if view is not None and view.call_id:
        suggested = await desk.kb.suggested(await desk.kb.call_path(view.call_id))
    context: dict[str, Any] = {
        "member": me(request).member,
        "query": query,
        "query_lang": lang,
        "found": found,
        "suggested": suggested,
        "values": values or {},
        "errors": errors or {},
        "proposed": request.query.get("proposed", ""),
        "departments": await desk.targets.choices(),
        "max_question": MAX_QUESTION,
        "max_answer": MAX_ANSWER,
    }
    return render(request, "kb.html", context, status=status)


async def get_kb(request: web.Request) -> web.StreamResponse:
    return await kb_page(request)


async def get_suggestions(request: web.Request) -> web.StreamResponse:
    """The entries suggested for the call offered to the agent, or the one they are on or wrap
    up (the pop shows them); 404 for any other call."""
    call_id = request.match_info["call_id"]
    view = my_view(request)
    if view is None or not call_id or view.call_id != call_id:
        raise web.HTTPNotFound()
    desk = request.app[DESK]
    found = await desk.kb.suggested(await desk.kb.call_path(call_id))
    return web.json_response(
        {
            "call_id": call_id,
            "entries": [
                {"id": e.id, "lang": e.lang, "question": e.question, "answer": e.answer,
                 "category": e.category, "department": e.department}
                for e in found
            ],
        }
    )  # fmt: skip


async def post_propose(request: web.Request) -> web.StreamResponse:
    values = _values(await read_form(request))
    desk = request.app[DESK]
    draft = _draft(values)
    problems = await entry_problems(desk, draft)
    if problems:
        return await kb_page(request, values=values, errors=problems, status=422)
    view = my_view(request)
    entry = await desk.kb.add(
        draft,
        f"agent:{me(request).member.login}",
        desk.clock(),
        state="proposed",
        call_id=view.call_id if view else None,
    )
    raise web.HTTPSeeOther(f"/agent/kb?proposed={entry.id}")


# ------------------------------------------------------------------------------ the admin's


async def admin_page(
    request: web.Request,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    desk = request.app[DESK]
    shown = dict(values or {})
    if not shown and (asked := request.query.get("edit", "")).isdigit():
        entry = await desk.kb.get(int(asked))
        if entry is not None:
            shown = {name: getattr(entry, name) or "" for name in FIELDS} | {"id": str(entry.id)}
    context: dict[str, Any] = {
        "member": me(request).member,
        "proposals": await desk.kb.listing("proposed"),
        "live": await desk.kb.listing("live"),
        "values": shown,
        "errors": errors or {},
        "categories": await known_categories(request),
        "departments": await desk.targets.choices(),
        "max_question": MAX_QUESTION,
        "max_answer": MAX_ANSWER,
    }
    return render(request, "admin_kb.html", context, status=status)


async def get_admin(request: web.Request) -> web.StreamResponse:
    return await admin_page(request)


def admin_actor(request: web.Request) -> str:
    return f"admin:{me(request).member.login}"


async def post_entry(request: web.Request) -> web.StreamResponse:
    """A new entry, or the edit of the one named by `id`."""
    values = _values(await read_form(request))
    desk = request.app[DESK]
    draft = _draft(values)
    problems = await entry_problems(desk, draft)
    entry_id = values.get("id", "")
    if entry_id and not (entry_id.isdigit() and len(entry_id) <= 12):
        problems["id"] = "unknown"
    if problems:
        return await admin_page(request, values=values, errors=problems, status=422)
    try:
        if entry_id:
            await desk.kb.edit(int(entry_id), draft, admin_actor(request), desk.clock())
        else:
            await desk.kb.add(draft, admin_actor(request), desk.clock())
    except EntryNotFound:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther("/admin/kb")


def entry_id_of(request: web.Request) -> int:
    text = request.match_info["id"]
    if not text.isdigit() or len(text) > 12:
        raise web.HTTPNotFound()
    return int(text)


async def post_retire(request: web.Request) -> web.StreamResponse:
    entry_id = entry_id_of(request)
    await read_form(request)
    desk = request.app[DESK]
    try:
        await desk.kb.retire(entry_id, admin_actor(request), desk.clock())
    except EntryNotFound:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther("/admin/kb")


async def post_accept(request: web.Request) -> web.StreamResponse:
    entry_id = entry_id_of(request)
    await read_form(request)
    desk = request.app[DESK]
    try:
        await desk.kb.accept(entry_id, admin_actor(request), desk.clock())
    except EntryNotFound:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther("/admin/kb")


def setup(app: web.Application, config: AppConfig, db: AsyncEngine, clock: Clock) -> None:
    """After `ivr.web.flows.setup` (the categories come from its live flows) and
    `ivr.web.targets.setup` (the departments offered are its)."""
    register_texts(TEXTS)
    app[DESK] = KbDesk(KnowledgeBase(db), app[TARGETS], clock)
    add_route(app, "GET", "/agent/kb", get_kb, Role.AGENT, name="agent-kb")
    add_route(app, "POST", "/agent/kb/propose", post_propose, Role.AGENT)
    add_route(app, "GET", "/agent/kb/suggestions/{call_id}", get_suggestions, Role.AGENT)
    add_route(app, "GET", "/admin/kb", get_admin, Role.ADMIN, name="admin-kb")
    add_route(app, "POST", "/admin/kb", post_entry, Role.ADMIN)
    add_route(app, "POST", "/admin/kb/{id}/retire", post_retire, Role.ADMIN)
    add_route(app, "POST", "/admin/kb/{id}/accept", post_accept, Role.ADMIN)
