"""The admin's on-duty lists for the leak line: `/admin/duty` (server-rendered) and
`/api/v1/on-duty` (JSON), both on the database's `DutyRoster` (`ivr.store.duty`).

A list is who is rung, in order, when a leak call escalates, each step with its own ring time.
The engine reads the list afresh at each escalation, so a saved list applies to the next leak
call without a restart. Until an admin saves one, a department's list is config.yaml's (seeded
into the database at the engine's start). Every save writes an audit row under
``admin:<login>``; bad input is a 422 with the field errors, nothing saved.
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
from ivr.domain import ENDPOINT_PATTERN, TOKYO
from ivr.store.duty import (
    MAX_STEPS,
    RING_S_RANGE,
    DutyList,
    DutyRoster,
    DutyStep,
    check_steps,
)
from ivr.store.staff import Role
from ivr.web.access import add_route
from ivr.web.context import Clock
from ivr.web.forms import Form, read_form, text_field
from ivr.web.i18n import language_of, register_texts, translator
from ivr.web.openapi import Operation, answer, api_route, read_json, unprocessable
from ivr.web.pages import me
from ivr.web.render import render


@dataclass(frozen=True, slots=True)
class DutyDesk:
    roster: DutyRoster
    config: AppConfig
    clock: Clock


DESK = web.AppKey("duty_desk", DutyDesk)
BLANK_ROWS = 2
"""Empty rows under a list's steps on the page, to add people."""

# the page's own words (ja, en); kept here so the page and its messages change together
TEXTS: dict[str, tuple[str, str]] = {
    "title": ("当番表（漏水）", "On-duty lists (leaks)"),
    "note": (
        "漏水の電話は、上から順に、それぞれの呼出時間だけ鳴らします。出た人が1を押すと"
        "つながります。保存した表は次の電話から使われます。",
        "A leak call rings these phones in order, each for its ring time; the person who "
        "answers must press 1 to take it. A saved list applies from the next call.",
    ),
    "order": ("順番", "Order"),
    "name": ("名前", "Name"),
    "endpoint": ("電話（エンドポイント）", "Phone (endpoint)"),
    "ring_s": ("呼出秒数", "Ring (s)"),
    "save": ("保存", "Save"),
    "from_config": (
        "config.yaml の表です（まだ保存されていません）。",
        "From config.yaml (not saved in the console yet).",
    ),
    "changed": ("最終変更", "Last changed"),
    "saved": (
        "保存しました。次の漏水の電話から使われます。",
        "Saved: the next leak call rings it.",
    ),
    "empty": ("空の表：漏水の電話は伝言に回ります。", "Empty: leak calls go to the voicemail."),
    "err_required": ("入力してください。", "Required."),
    "err_too_long": ("長すぎます（100文字まで）。", "Too long (100 characters at most)."),
    "err_bad_endpoint": (
        "PJSIP/duty-1 のような電話のエンドポイントを入力してください。",
        "A phone endpoint such as PJSIP/duty-1.",
    ),
    "err_ring_range": (
        f"{RING_S_RANGE[0]}〜{RING_S_RANGE[1]}秒の整数で入力してください。",
        f"A whole number of seconds, {RING_S_RANGE[0]} to {RING_S_RANGE[1]}.",
    ),
    "err_bad_order": ("順番は整数で入力してください。", "The order is a whole number."),
    "err_too_many": (f"{MAX_STEPS}人までです。", f"{MAX_STEPS} steps at most."),
}


def actor_of(request: web.Request) -> str:
    return f"admin:{me(request).member.login}"


def duty_departments(config: AppConfig) -> list[str]:
    """The departments whose on-duty list the console edits: the leak line's first, then every
    other with an on-duty list in config.yaml."""
    departments = config.routing.departments
    leak = config.calls.emergency_department
    others = sorted(name for name, dept in departments.items() if dept.on_duty and name != leak)
    return ([leak] if leak in departments else []) + others


def config_list(config: AppConfig, department: str) -> tuple[DutyStep, ...]:
    dept = config.routing.departments[department]
    return tuple(DutyStep(phone, phone, dept.ring_timeout_s) for phone in dept.on_duty)


async def tonight(desk: DutyDesk) -> tuple[tuple[DutyStep, ...], DutyList | None]:
    """The leak line's list a call tonight rings, in order, and the kept list it comes from
    (None: config.yaml's, never saved in the console) — for the supervisor's wallboard."""
    leak = desk.config.calls.emergency_department
    if leak not in desk.config.routing.departments:
        return (), None
    kept = await desk.roster.tonight(leak)
    if kept is not None:
        return kept.steps, kept
    return config_list(desk.config, leak), None


def tokyo_time(value: datetime) -> str:
    return value.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")


# ------------------------------------------------------------------------------ the page


def _row(index: int, step: DutyStep | None) -> dict[str, str]:
    if step is None:
        return {"row": str(index), "order": str(index), "name": "", "endpoint": "", "ring_s": ""}
    return {
        "row": str(index),
        "order": str(index),
        "name": step.name,
        "endpoint": step.endpoint,
        "ring_s": str(step.ring_s),
    }


async def duty_page(
    request: web.Request,
    *,
    department: str | None = None,
    rows: list[dict[str, str]] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    config = request.app[DESK].config
    kept = {k.department: k for k in await request.app[DESK].roster.all()}
    say = translator(language_of(request), TEXTS)
    sections = []
    for name in duty_departments(config):
        held = kept.get(name)
        steps = held.steps if held is not None else config_list(config, name)
        shown = [_row(i, s) for i, s in enumerate(steps, start=1)]
        shown += [_row(len(steps) + i, None) for i in range(1, BLANK_ROWS + 1)]
        mine = name == department
        sections.append(
            {
                "name": name,
                "kept": held,
                "rows": rows if mine and rows is not None else shown,
                "errors": {k: say(f"err_{v}") for k, v in (errors or {}).items()} if mine else {},
            }
        )
    context = {
        "member": me(request).member,
        "sections": sections,
        "say": say,
        "tokyo": tokyo_time,
        "saved": request.query.get("saved", ""),
    }
    return render(request, "admin_duty.html", context, status=status)


async def get_page(request: web.Request) -> web.StreamResponse:
    return await duty_page(request)


def department_of(request: web.Request) -> str:
    name = request.match_info["department"]
    if name not in duty_departments(request.app[DESK].config):
        raise web.HTTPNotFound()
    return name


def _form_rows(form: Form) -> list[tuple[int, dict[str, str]]]:
    """The rows posted (row number, fields), empty rows left out."""
    rows = []
    for number in range(1, MAX_STEPS + BLANK_ROWS + 2):
        fields = {
            key: (text_field(form, f"{key}-{number}", 200) or "").strip()
            for key in ("order", "name", "endpoint", "ring_s")
        }
        if f"name-{number}" not in form:
            break
        if fields["name"] or fields["endpoint"]:
            rows.append((number, fields))
    return rows


def _read_rows(form: Form) -> tuple[list[DutyStep], list[dict[str, str]], dict[str, str]]:
    """The steps in their order, the rows as posted (shown again on errors) and the errors
    keyed by field and row number (`ring_s-3`: the third row's ring time)."""
    errors: dict[str, str] = {}
    ordered: list[tuple[int, int, DutyStep]] = []
    posted: list[dict[str, str]] = []
    for number, fields in _form_rows(form):
        posted.append({**fields, "row": str(number)})
        order = int(fields["order"]) if fields["order"].isdigit() else 0
        if not fields["order"].isdigit():
            errors[f"order-{number}"] = "bad_order"
        ring = fields["ring_s"]
        step = DutyStep(fields["name"], fields["endpoint"], int(ring) if ring.isdigit() else 0)
        for key, code in check_steps([step]).items():
            errors[f"{key.rpartition('-')[0]}-{number}"] = code
        ordered.append((order, number, step))
    if len(ordered) > MAX_STEPS:
        errors["steps"] = "too_many"
    ordered.sort(key=lambda item: (item[0], item[1]))
    return [step for _, _, step in ordered], posted, errors


async def post_list(request: web.Request) -> web.StreamResponse:
    department = department_of(request)
    form = await read_form(request)
    steps, posted, errors = _read_rows(form)
    if errors:
        last = max((int(p["row"]) for p in posted), default=0)
        rows = posted + [_row(last + i, None) for i in range(1, BLANK_ROWS + 1)]
        return await duty_page(request, department=department, rows=rows, errors=errors, status=422)
    await request.app[DESK].roster.replace(
        department, steps, actor_of(request), request.app[DESK].clock()
    )
    raise web.HTTPSeeOther(f"/admin/duty?saved={department}")


# ------------------------------------------------------------------------------ the API

Department = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]


class StepBody(BaseModel):
    """One step: who (`name`, as the console shows it), the phone rung, and for how long
    before the next step is rung."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"\S")]
    endpoint: Annotated[str, Field(max_length=200, pattern=f"^{ENDPOINT_PATTERN.pattern}$")]
    ring_s: Annotated[int, Field(ge=RING_S_RANGE[0], le=RING_S_RANGE[1])]


class DutyListBody(BaseModel):
    """A department's new on-duty list, in ring order (empty: leak calls go to voicemail)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "department": "emergency_duty",
                    "steps": [
                        {"name": "Sato", "endpoint": "PJSIP/duty-1", "ring_s": 20},
                        {"name": "Suzuki", "endpoint": "PJSIP/duty-2", "ring_s": 30},
                    ],
                }
            ]
        },
    )

    department: Department
    steps: list[StepBody] = Field(max_length=MAX_STEPS)


class DutyListView(BaseModel):
    """A department's on-duty list: `source` is `database` once saved from the console (or
    seeded at the engine's start), `config` while config.yaml's is the one rung."""

    department: str
    source: Literal["database", "config"]
    steps: list[StepBody]
    updated_at: datetime | None
    updated_by: str | None


class DutyLists(BaseModel):
    lists: list[DutyListView]


def view_of(config: AppConfig, department: str, kept: DutyList | None) -> DutyListView:
    steps = kept.steps if kept is not None else config_list(config, department)
    return DutyListView(
        department=department,
        source="database" if kept is not None else "config",
        steps=[
            StepBody.model_construct(name=s.name, endpoint=s.endpoint, ring_s=s.ring_s)
            for s in steps
        ],
        updated_at=kept.updated_at if kept is not None else None,
        updated_by=kept.updated_by if kept is not None else None,
    )


async def api_list(request: web.Request) -> web.StreamResponse:
    config = request.app[DESK].config
    kept = {k.department: k for k in await request.app[DESK].roster.all()}
    return answer(
        DutyLists(lists=[view_of(config, d, kept.get(d)) for d in duty_departments(config)])
    )


async def api_save(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, DutyListBody)
    config = request.app[DESK].config
    if body.department not in duty_departments(config):
        raise unprocessable({"department": "unknown"}, "no on-duty list for that department")
    steps = [DutyStep(s.name.strip(), s.endpoint, s.ring_s) for s in body.steps]
    kept = await request.app[DESK].roster.replace(
        body.department, steps, actor_of(request), request.app[DESK].clock()
    )
    return answer(view_of(config, body.department, kept))


# ------------------------------------------------------------------------------ setting up


def setup(app: web.Application, config: AppConfig, db: AsyncEngine, clock: Clock) -> None:
    """The page and the API on the database's on-duty lists (the engine reads the same rows at
    each escalation: nothing needs telling)."""
    app[DESK] = DutyDesk(DutyRoster(db), config, clock)
    register_texts({"page_duty": TEXTS["title"]})
    add_route(app, "GET", "/admin/duty", get_page, Role.ADMIN, name="admin-duty")
    add_route(app, "POST", "/admin/duty/{department}", post_list, Role.ADMIN)
    tags = ("on-duty",)
    api_route(
        app,
        Operation(
            "GET",
            "/api/v1/on-duty",
            Role.ADMIN,
            "listOnDuty",
            "The leak line's on-duty lists, in ring order",
            {200: DutyLists},
            tags=tags,
        ),
        api_list,
    )
    api_route(
        app,
        Operation(
            "POST",
            "/api/v1/on-duty",
            Role.ADMIN,
            "saveOnDuty",
            "Replace a department's on-duty list: the next leak call rings it",
            {200: DutyListView},
            body=DutyListBody,
            description="Checked whole (422 with a code per field, nothing saved), then audited.",
            tags=tags,
        ),
        api_save,
    )
