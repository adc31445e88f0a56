"""The admin's flows page, `/admin/flows`: the live flow versions, the last rejected edit with
its `file:line` errors, each live flow as a picture (`GET /admin/flows/{id}/graph.svg`, the
DOT text of `hotline graph` drawn by Graphviz) and a "simulate" form (caller ID, keys, time,
language) whose transcript is `hotline simulate`'s: the same simulator on the same demo data
(`ivr.adapters.flowtools`), run on the live version callers get now.

On the engine the page reads the engine's own `FlowRegistry` (its watcher reloads it). A console
started without an engine keeps a registry of its own on the configured files and looks at them
again on every visit, so an edit there is shown live or rejected the same way.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters.flowtools import DEMO_CALLER_NATIONAL, GraphUnavailable, render_dot, simulate_flow
from ivr.calls.flows import FlowRegistry
from ivr.config import AppConfig
from ivr.domain import TOKYO
from ivr.errors import FlowError
from ivr.flow.graph import to_dot
from ivr.flow.model import Language
from ivr.store.departments import DepartmentBook, config_departments
from ivr.store.staff import Role
from ivr.web.access import add_route
from ivr.web.context import Clock
from ivr.web.forms import read_form, text_field
from ivr.web.i18n import register_texts
from ivr.web.pages import me
from ivr.web.render import render

TIME_FORMAT = "%Y-%m-%dT%H:%M"
MAX_CALLER = 32
MAX_KEYS = 200
# what `hotline simulate --keys` reads: digits, * and #, groups split by spaces, "." or "T" a wait
KEYS = re.compile(r"[0-9*#.T ]*")
CALLER = re.compile(r"[0-9+()\- ]+|withheld")


@dataclass
class FlowsDesk:
    registry: FlowRegistry
    config: AppConfig
    clock: Clock
    own: bool
    """The registry is the console's own (no engine watches it): look at the files per visit."""

    async def current(self) -> FlowRegistry:
        if self.own:
            await self.registry.refresh_departments()
            await asyncio.to_thread(self.registry.reload_if_changed)
        return self.registry


DESK = web.AppKey("flows_desk", FlowsDesk)

TEXTS: dict[str, tuple[str, str]] = {
    "page_flows": ("通話フロー", "Call flows"),
    "flows_live": ("稼働中のフロー", "Live flows"),
    "flows_loaded_at": ("読み込み日時", "Loaded at"),
    "flow_id": ("フロー", "Flow"),
    "flow_version": ("版", "Version"),
    "flow_digest": ("ダイジェスト", "Digest"),
    "flow_picture": ("図", "Picture"),
    "flows_none": ("稼働中のフローはありません。", "No flow is live."),
    "flows_rejected": ("最後に却下された編集", "Last rejected edit"),
    "flows_rejected_note": (
        "この編集は使われていません。前の版が引き続き使われています。",
        "This edit is not used: the previous version goes on serving.",
    ),
    "flows_rejected_none": ("却下された編集はありません。", "No edit has been rejected."),
    "flows_serving_kept": (
        "ファイルが読み込めないため、データベースに保存された版で稼働しています（保存日時）",
        "The files do not load: serving the version kept in the database (accepted at)",
    ),
    "simulate": ("シミュレーション", "Simulate"),
    "simulate_note": (
        "デモデータ（hotline demo と同じ）で通話をたどります。実際の発信や受付は行いません。",
        "Walks a call through the live flow with the demo data (as hotline demo writes it); "
        "nothing is dialled or taken in.",
    ),
    "sim_caller": ("発信者番号（または withheld）", "Caller ID (or withheld)"),
    "sim_keys": ("押すキー（空白で区切る。. は待ち）", "Keys (groups split by spaces; . waits)"),
    "sim_at": ("日時（東京）", "Time (Tokyo)"),
    "sim_lang": ("最初の言語", "Language before the greeting"),
    "sim_lang_flow": ("フローの既定", "The flow's default"),
    "sim_run": ("シミュレーションする", "Simulate"),
    "sim_transcript": ("通話の記録", "Transcript"),
    "sim_err_required": ("入力してください。", "Enter a value."),
    "sim_err_invalid": ("この値は使えません。", "This value cannot be used."),
    "sim_err_bad_time": ("日時が読めません。", "This time cannot be read."),
    "sim_err_unknown": ("そのフローは稼働していません。", "No such live flow."),
}


def live_rows(registry: FlowRegistry) -> list[dict[str, str]]:
    rows = []
    for flow_id in sorted(registry.library()):
        version = registry.live(flow_id)
        rows.append(
            {"id": flow_id, "version": version.flow.flow.version or "", "digest": version.digest}
        )
    return rows


async def flows_page(
    request: web.Request,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    transcript: list[str] | None = None,
    status: int = 200,
) -> web.Response:
    desk = request.app[DESK]
    registry = await desk.current()
    reload = registry.status
    now = desk.clock().astimezone(TOKYO)
    context: dict[str, Any] = {
        "member": me(request).member,
        "live": live_rows(registry),
        "reload": reload,
        "values": {"caller": DEMO_CALLER_NATIONAL, "at": now.strftime(TIME_FORMAT)}
        | dict(values or {}),
        "errors": errors or {},
        "transcript": transcript,
    }
    return render(request, "admin_flows.html", context, status=status)


async def get_page(request: web.Request) -> web.StreamResponse:
    return await flows_page(request)


async def get_graph(request: web.Request) -> web.StreamResponse:
    registry = await request.app[DESK].current()
    flow_id = request.match_info["flow_id"]
    if flow_id not in registry.library():
        raise web.HTTPNotFound()
    dot_text = to_dot(registry.live(flow_id).flow)
    try:
        svg = await asyncio.to_thread(render_dot, dot_text, "svg")
    except GraphUnavailable as exc:
        raise web.HTTPServiceUnavailable(text=str(exc)) from None
    return web.Response(body=svg, content_type="image/svg+xml")


def _form_problems(values: Mapping[str, str], live: Mapping[str, object]) -> dict[str, str]:
    problems: dict[str, str] = {}
    if values.get("flow", "") not in live:
        problems["flow"] = "unknown"
    caller = values.get("caller", "").strip()
    if not caller:
        problems["caller"] = "required"
    elif len(caller) > MAX_CALLER or not CALLER.fullmatch(caller):
        problems["caller"] = "invalid"
    keys = values.get("keys", "")
    if len(keys) > MAX_KEYS or not KEYS.fullmatch(keys):
        problems["keys"] = "invalid"
    if values.get("lang", "") not in ("", "ja", "en"):
        problems["lang"] = "invalid"
    if not values.get("at", "").strip():
        problems["at"] = "required"
    elif parse_tokyo(values["at"]) is None:
        problems["at"] = "bad_time"
    return problems


def parse_tokyo(text: str) -> datetime | None:
    try:
        return datetime.strptime(text.strip(), TIME_FORMAT).replace(tzinfo=TOKYO)
    except ValueError:
        return None


async def post_simulate(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    values = {
        name: text
        for name in ("flow", "caller", "keys", "at", "lang")
        if (text := text_field(form, name, MAX_KEYS + 1)) is not None
    }
    desk = request.app[DESK]
    registry = await desk.current()
    library = registry.library()
    problems = _form_problems(values, library)
    at = parse_tokyo(values.get("at", ""))
    if problems or at is None or registry.catalog is None:
        return await flows_page(request, values=values, errors=problems, status=422)
    lang: Language | None = "ja" if values.get("lang") == "ja" else None
    if values.get("lang") == "en":
        lang = "en"
    walk = simulate_flow(
        desk.config,
        library[values["flow"]],
        library,
        registry.catalog,
        values["caller"].strip(),
        values.get("keys", ""),
        at,
        language=lang,
    )
    try:
        # on a loop of its own in a thread: migrating and filling the throw-away demo database
        # is a second of Python work that would otherwise hold up the engine's calls
        transcript = await asyncio.to_thread(asyncio.run, walk)
    except FlowError as exc:  # the live version always loads; kept for a config it predates
        transcript = list(exc.errors)
    return await flows_page(request, values=values, transcript=transcript)


def own_registry(config: AppConfig, db: AsyncEngine | None = None) -> FlowRegistry:
    """The console's own registry, checked against `db`'s departments (None: config.yaml's)."""
    base = Path.cwd()
    names = None
    if db is not None:
        names = partial(DepartmentBook(db).codes, config_departments(config))
    return FlowRegistry(base / config.flows.dir, base / config.flows.catalog, config, names)


def setup(
    app: web.Application,
    config: AppConfig,
    clock: Clock,
    *,
    registry: FlowRegistry | None = None,
    db: AsyncEngine | None = None,
) -> None:
    """The page on the engine's `registry`, or on one of the console's own (`own_registry`, on
    `db`'s departments)."""
    register_texts(TEXTS)
    app[DESK] = FlowsDesk(registry or own_registry(config, db), config, clock, own=registry is None)
    add_route(app, "GET", "/admin/flows", get_page, Role.ADMIN, name="admin-flows")
    add_route(app, "POST", "/admin/flows/simulate", post_simulate, Role.ADMIN)
    add_route(app, "GET", "/admin/flows/{flow_id}/graph.svg", get_graph, Role.ADMIN)
