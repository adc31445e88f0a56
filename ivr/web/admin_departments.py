"""The admin's departments: `/admin/departments` (server-rendered) and `/api/v1/departments`
(JSON), both on the database's `DepartmentBook` (`ivr.store.departments`).

A department is a transfer target: its name in Japanese and English, its line (a SIP endpoint,
or a phone number dialled through the trunk) and the calendar of its hours. The engine reads a
department afresh at each transfer and the agent page its targets at each load, so a saved
change applies to the next call without a restart. config.yaml's departments are the seed: a
console that finds no row for one writes config's before the first change. A department a live
flow transfers to, or the leak line's, cannot be removed (the page says which flow; the API
answers 409). Every change writes an audit row under ``admin:<login>``; bad input is a 422 with
the field errors, nothing saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.config import AppConfig
from ivr.domain import DEPARTMENT_NUMBER_PATTERN, ENDPOINT_PATTERN
from ivr.flow.model import TransferNode
from ivr.store.departments import (
    CODE_PATTERN,
    LABEL_MAX,
    Department,
    DepartmentBook,
    DepartmentError,
    config_departments,
    line_optional,
)
from ivr.store.staff import Role
from ivr.web import flows
from ivr.web.access import add_route
from ivr.web.admin_duty import tokyo_time
from ivr.web.context import Clock
from ivr.web.forms import Form, read_form, text_field
from ivr.web.i18n import language_of, register_texts, translator
from ivr.web.openapi import FieldErrors, Operation, answer, api_route, read_json, unprocessable
from ivr.web.pages import me
from ivr.web.render import render


@dataclass(frozen=True, slots=True)
class DepartmentDesk:
    book: DepartmentBook
    config: AppConfig
    clock: Clock

    async def current(self) -> list[Department]:
        return await self.book.current(config_departments(self.config))


DONE = frozenset({"saved", "added", "removed"})
"""What the page may say was done (the `done` query after a change)."""


DESK = web.AppKey("department_desk", DepartmentDesk)

# the page's own words (ja, en); kept here so the page and its messages change together
TEXTS: dict[str, tuple[str, str]] = {
    "title": ("部署", "Departments"),
    "note": (
        "通話を転送する部署です。電話はエンドポイントか電話番号のどちらか一方を入力します。"
        "保存した内容は次の電話から使われます。",
        "The departments calls are transferred to: give a phone endpoint or a phone number, "
        "not both. A saved change applies from the next call.",
    ),
    "code": ("コード", "Code"),
    "label_ja": ("名前（日本語）", "Name (Japanese)"),
    "label_en": ("名前（英語）", "Name (English)"),
    "endpoint": ("電話（エンドポイント）", "Phone (endpoint)"),
    "number": ("電話番号", "Phone number"),
    "calendar": ("受付時間（カレンダー）", "Hours (calendar)"),
    "always": ("常時（24時間）", "Always (24 h)"),
    "save": ("保存", "Save"),
    "add": ("部署を追加", "Add a department"),
    "remove": ("削除", "Remove"),
    "changed": ("最終変更", "Last changed"),
    "from_config": (
        "config.yaml の内容です（まだ保存されていません）。",
        "From config.yaml (not saved in the console yet).",
    ),
    "no_line_note": (
        "当番表だけの部署です（転送先ではなく、緊急時に当番表を鳴らします）。",
        "Only an on-duty list: it takes emergencies, not transfers.",
    ),
    "saved": ("保存しました。次の電話から使われます。", "Saved: the next call uses it."),
    "added": ("追加しました。転送先に表示されます。", "Added: agents can transfer to it now."),
    "removed": ("削除しました。", "Removed."),
    "in_use_flow": (
        "フロー {flows} が転送先にしているため削除できません。",
        "Cannot be removed: flow {flows} transfers to it.",
    ),
    "in_use_leak": (
        "漏水の電話の当番部署のため削除できません。",
        "Cannot be removed: the leak line rings its on-duty list.",
    ),
    "err_bad_code": (
        "英小文字で始まる英小文字・数字・_（32文字まで）で入力してください。",
        "Lower-case letters, digits and _, starting with a letter (32 at most).",
    ),
    "err_taken": ("このコードの部署はすでにあります。", "A department with this code exists."),
    "err_unknown": ("この部署はありません。", "No such department."),
    "err_in_use": ("使用中のため削除できません。", "In use: it cannot be removed."),
    "err_required": ("入力してください。", "Required."),
    "err_too_long": (f"長すぎます（{LABEL_MAX}文字まで）。", f"Too long ({LABEL_MAX} at most)."),
    "err_bad_label": (
        "改行やタブなどの制御文字は使えません。",
        "One line, without tabs or other control characters.",
    ),
    "err_bad_endpoint": (
        "PJSIP/sewer のような電話のエンドポイントを入力してください。",
        "A phone endpoint such as PJSIP/sewer.",
    ),
    "err_bad_number": (
        "電話番号は数字だけで入力してください（2〜20桁、先頭に + も可）。",
        "A phone number: 2 to 20 digits, optionally after a +.",
    ),
    "err_both_lines": (
        "エンドポイントと電話番号のどちらか一方だけを入力してください。",
        "Give an endpoint or a number, not both.",
    ),
    "err_no_line": (
        "エンドポイントか電話番号を入力してください。",
        "Give an endpoint or a phone number.",
    ),
    "err_unknown_calendar": ("一覧のカレンダーを選んでください。", "Choose a listed calendar."),
}

FIELDS = ("label_ja", "label_en", "endpoint", "number", "calendar")
MAX_FIELD = 200


def actor_of(request: web.Request) -> str:
    return f"admin:{me(request).member.login}"


async def in_use(request: web.Request) -> dict[str, str]:
    """Why each department in use cannot be removed: the live flows that transfer to it, or the
    leak line's on-duty list (the reason's text key and the flows)."""
    config = request.app[DESK].config
    registry = await request.app[flows.DESK].current()
    users: dict[str, list[str]] = {}
    for flow_id, flow in registry.library().items():
        for node in flow.nodes.values():
            if isinstance(node, TransferNode):
                users.setdefault(node.department, []).append(flow_id)
    say = translator(language_of(request), TEXTS)
    reasons = {
        code: say("in_use_flow").format(flows=", ".join(sorted(set(ids))))
        for code, ids in users.items()
    }
    reasons[config.calls.emergency_department] = say("in_use_leak")
    return reasons


# ------------------------------------------------------------------------------ the page


def _values(dept: Department) -> dict[str, str]:
    return {
        "code": dept.code,
        "label_ja": dept.label_ja,
        "label_en": dept.label_en,
        "endpoint": dept.endpoint or "",
        "number": dept.number or "",
        "calendar": dept.calendar or "",
    }


async def departments_page(
    request: web.Request,
    *,
    section: str | None = None,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    """The page; `section` (a code, or "" for the add form) shows `values` as posted with
    their `errors`."""
    desk = request.app[DESK]
    say = translator(language_of(request), TEXTS)
    blocked = await in_use(request)
    shown = {k: say(f"err_{v}") for k, v in (errors or {}).items()}
    sections = []
    for dept in await desk.current():
        mine = section == dept.code
        sections.append(
            {
                "dept": dept,
                "values": dict(values or {}) if mine else _values(dept),
                "errors": shown if mine else {},
                "blocked": blocked.get(dept.code, ""),
                "no_line": line_optional(desk.config, dept.code) and not dept.has_line,
            }
        )
    adding = section == ""
    context = {
        "member": me(request).member,
        "sections": sections,
        "new": {
            "values": dict(values or {}) if adding else dict.fromkeys(("code", *FIELDS), ""),
            "errors": shown if adding else {},
        },
        "calendars": sorted(desk.config.routing.calendars),
        "say": say,
        "tokyo": tokyo_time,
        "done": done if (done := request.query.get("done", "")) in DONE else "",
        "which": request.query.get("code", ""),
    }
    return render(request, "admin_departments.html", context, status=status)


async def get_page(request: web.Request) -> web.StreamResponse:
    return await departments_page(request)


def _read(form: Form, code: str) -> tuple[Department, dict[str, str], dict[str, str]]:
    """The department posted, the fields as posted (shown again on errors) and the fields too
    long to read at all."""
    posted: dict[str, str] = {"code": code}
    errors: dict[str, str] = {}
    for key in FIELDS:
        value = text_field(form, key, MAX_FIELD)
        if value is None and key in form:
            errors[key] = "too_long"
        posted[key] = (value or "").strip()
    dept = Department(
        code,
        posted["label_ja"],
        posted["label_en"],
        posted["endpoint"] or None,
        posted["number"] or None,
        posted["calendar"] or None,
    )
    return dept, posted, errors


async def _save(request: web.Request, dept: Department, *, new: bool) -> None:
    desk = request.app[DESK]
    now = desk.clock()
    # a console started before any engine: config's departments are written first, so the
    # edit is of a row and the audit shows config's values before the admin's
    await desk.book.seed(config_departments(desk.config), now)
    await desk.book.save(
        dept,
        actor_of(request),
        now,
        calendars=desk.config.routing.calendars,
        new=new,
        line_optional=line_optional(desk.config, dept.code),
    )


async def post_add(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    code = (text_field(form, "code", 64) or "").strip()
    dept, posted, errors = _read(form, code)
    if not errors:
        try:
            await _save(request, dept, new=True)
        except DepartmentError as bad:
            errors = bad.fields
    if errors:
        return await departments_page(request, section="", values=posted, errors=errors, status=422)
    raise web.HTTPSeeOther(f"/admin/departments?done=added&code={code}")


async def post_save(request: web.Request) -> web.StreamResponse:
    code = request.match_info["code"]
    if code not in {d.code for d in await request.app[DESK].current()}:
        raise web.HTTPNotFound()
    form = await read_form(request)
    dept, posted, errors = _read(form, code)
    if not errors:
        try:
            await _save(request, dept, new=False)
        except DepartmentError as bad:
            errors = bad.fields
    if errors:
        return await departments_page(
            request, section=code, values=posted, errors=errors, status=422
        )
    raise web.HTTPSeeOther(f"/admin/departments?done=saved&code={code}")


async def post_remove(request: web.Request) -> web.StreamResponse:
    code = request.match_info["code"]
    desk = request.app[DESK]
    if code not in {d.code for d in await desk.current()}:
        raise web.HTTPNotFound()
    await read_form(request)  # the CSRF middleware has read the token; nothing else is posted
    blocked = await in_use(request)
    if code in blocked:
        dept = next(d for d in await desk.current() if d.code == code)
        return await departments_page(
            request, section=code, values=_values(dept), errors={"code": "in_use"}, status=409
        )
    now = desk.clock()
    await desk.book.seed(config_departments(desk.config), now)
    await desk.book.remove(code, actor_of(request), now, in_use=blocked)
    raise web.HTTPSeeOther(f"/admin/departments?done=removed&code={code}")


# ------------------------------------------------------------------------------ the API

Code = Annotated[str, Field(min_length=1, max_length=32, pattern=f"^{CODE_PATTERN.pattern}$")]
Label = Annotated[str, Field(min_length=1, max_length=LABEL_MAX, pattern=r"\S")]
Endpoint = Annotated[str, Field(max_length=200, pattern=f"^{ENDPOINT_PATTERN.pattern}$")]
Number = Annotated[str, Field(max_length=21, pattern=f"^{DEPARTMENT_NUMBER_PATTERN.pattern}$")]
CalendarName = Annotated[str, Field(min_length=1, max_length=64)]


class DepartmentBody(BaseModel):
    """A department: its names, its line (an endpoint or a number through the trunk, not both;
    neither only for one with an on-duty list) and its hours' calendar (null: always open)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "code": "sewerage",
                    "label_ja": "下水道課",
                    "label_en": "Sewerage",
                    "endpoint": "PJSIP/sewerage",
                    "number": None,
                    "calendar": None,
                }
            ]
        },
    )

    code: Code
    label_ja: Label
    label_en: Label
    endpoint: Endpoint | None = None
    number: Number | None = None
    calendar: CalendarName | None = None


class DepartmentRemoveBody(BaseModel):
    """The department to remove (refused, 409, while a live flow or the leak line uses it)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [{"code": "sewerage"}]}
    )

    code: Code


class DepartmentView(BaseModel):
    """A department in force: `source` is `database` once kept (seeded at the engine's start or
    saved in the console), `config` while config.yaml's is the one used; `in_use` says why it
    cannot be removed (empty: it can)."""

    code: str
    label_ja: str
    label_en: str
    endpoint: str | None
    number: str | None
    calendar: str | None
    source: Literal["database", "config"]
    updated_at: datetime | None
    updated_by: str | None
    in_use: str


class DepartmentList(BaseModel):
    departments: list[DepartmentView]


def view_of(dept: Department, blocked: Mapping[str, str]) -> DepartmentView:
    kept = dept.updated_at is not None
    return DepartmentView(
        code=dept.code,
        label_ja=dept.label_ja,
        label_en=dept.label_en,
        endpoint=dept.endpoint,
        number=dept.number,
        calendar=dept.calendar,
        source="database" if kept else "config",
        updated_at=dept.updated_at,
        updated_by=dept.updated_by if kept else None,
        in_use=blocked.get(dept.code, ""),
    )


async def api_list(request: web.Request) -> web.StreamResponse:
    blocked = await in_use(request)
    departments = await request.app[DESK].current()
    return answer(DepartmentList(departments=[view_of(d, blocked) for d in departments]))


async def _api_save(request: web.Request, *, new: bool) -> web.StreamResponse:
    body = await read_json(request, DepartmentBody)
    if not new and body.code not in {d.code for d in await request.app[DESK].current()}:
        raise unprocessable({"code": "unknown"}, "no such department")
    dept = Department(
        body.code,
        body.label_ja.strip(),
        body.label_en.strip(),
        body.endpoint,
        body.number,
        body.calendar,
    )
    try:
        await _save(request, dept, new=new)
    except DepartmentError as bad:
        raise unprocessable(bad.fields) from None
    return await _api_one(request, body.code)


async def _api_one(request: web.Request, code: str) -> web.Response:
    blocked = await in_use(request)
    dept = next(d for d in await request.app[DESK].current() if d.code == code)
    return answer(view_of(dept, blocked))


async def api_add(request: web.Request) -> web.StreamResponse:
    return await _api_save(request, new=True)


async def api_change(request: web.Request) -> web.StreamResponse:
    return await _api_save(request, new=False)


async def api_remove(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, DepartmentRemoveBody)
    desk = request.app[DESK]
    if body.code not in {d.code for d in await desk.current()}:
        raise unprocessable({"code": "unknown"}, "no such department")
    blocked = await in_use(request)
    if body.code in blocked:
        conflict = FieldErrors(error=blocked[body.code], fields={"code": "in_use"})
        raise web.HTTPConflict(text=conflict.model_dump_json(), content_type="application/json")
    now = desk.clock()
    await desk.book.seed(config_departments(desk.config), now)
    try:
        await desk.book.remove(body.code, actor_of(request), now, in_use=blocked)
    except DepartmentError as bad:  # removed meanwhile by another admin
        raise unprocessable(bad.fields) from None
    return answer(DepartmentList(departments=[view_of(d, blocked) for d in await desk.current()]))


def add_api(app: web.Application) -> None:
    tags = ("departments",)
    api_route(
        app,
        Operation(
            "GET",
            "/api/v1/departments",
            Role.ADMIN,
            "listDepartments",
            "The departments calls are transferred to, as the next transfer reads them",
            {200: DepartmentList},
            tags=tags,
        ),
        api_list,
    )
    api_route(
        app,
        Operation(
            "POST",
            "/api/v1/departments",
            Role.ADMIN,
            "addDepartment",
            "Add a department: agents can transfer to it and flows may name it at once",
            {200: DepartmentView},
            body=DepartmentBody,
            description="Checked whole (422 with a code per field, nothing saved), then audited.",
            tags=tags,
        ),
        api_add,
    )
    api_route(
        app,
        Operation(
            "POST",
            "/api/v1/departments/change",
            Role.ADMIN,
            "changeDepartment",
            "Change a department's names, line or hours: the next transfer uses them",
            {200: DepartmentView},
            body=DepartmentBody,
            description="Checked whole (422 with a code per field, nothing saved), then audited.",
            tags=tags,
        ),
        api_change,
    )
    api_route(
        app,
        Operation(
            "POST",
            "/api/v1/departments/remove",
            Role.ADMIN,
            "removeDepartment",
            "Remove a department nothing uses; answers the departments left",
            {200: DepartmentList, 409: FieldErrors},
            body=DepartmentRemoveBody,
            description="409 while a live flow transfers to it or the leak line rings its "
            "on-duty list (`error` says which); audited.",
            tags=tags,
        ),
        api_remove,
    )


# ------------------------------------------------------------------------------ setting up


def setup(app: web.Application, config: AppConfig, db: AsyncEngine, clock: Clock) -> None:
    """The page on the database's departments (the engine reads the same rows at each
    transfer: nothing needs telling)."""
    app[DESK] = DepartmentDesk(DepartmentBook(db), config, clock)
    register_texts({"page_departments": TEXTS["title"]})
    add_route(app, "GET", "/admin/departments", get_page, Role.ADMIN, name="admin-departments")
    add_route(app, "POST", "/admin/departments", post_add, Role.ADMIN)
    add_route(app, "POST", "/admin/departments/{code}", post_save, Role.ADMIN)
    add_route(app, "POST", "/admin/departments/{code}/remove", post_remove, Role.ADMIN)
    add_api(app)
