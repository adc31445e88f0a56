"""Complaints and requests on the console (`ivr.store.cases`): an agent keys one on
`/agent/cases` (linked to the call they are on, and to the account by its customer number, if
given) and follows its status there; it lands on `/departments/{code}`, the work list of the
department it goes to, where the department's people take it in hand and answer it.

Who belongs to a department: a staff member with the skill ``dept:<code>`` (skills are edited
with the staff), and supervisors and admins for every department. Departments are the ones in
force in the database (`ivr.web.targets`, edited on `/admin/departments`), read for each page and
each post: one added there is offered at once, and a posted code that is not one is a field
error (422, the form shown again as keyed). A removed department's work list stays open for what
was sent to it before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.config import AppConfig
from ivr.domain import TOKYO
from ivr.errors import InvalidNumber
from ivr.numbers import parse_customer_number
from ivr.store.accounts import AuditContext
from ivr.store.cases import (
    MAX_ANSWER,
    MAX_SAID,
    CaseDraft,
    CaseNotFound,
    CaseStatus,
    CaseStore,
    StepRefused,
    draft_problems,
)
from ivr.store.staff import Role, StaffMember
from ivr.store.tables import CASE_KINDS
from ivr.web.access import add_route
from ivr.web.context import Clock
from ivr.web.desk import my_view
from ivr.web.forms import read_form, text_field
from ivr.web.hub import HUB
from ivr.web.i18n import register_texts
from ivr.web.messages import CaseStatusChanged
from ivr.web.pages import me
from ivr.web.render import render
from ivr.web.targets import TARGETS, Targets

CATEGORIES = (
    "water_quality",
    "water_pressure",
    "billing",
    "meter",
    "construction",
    "road_and_pipes",
    "staff_manner",
    "other",
)
AUDIT_REASON = "case_list"


def department_skill(code: str) -> str:
    return f"dept:{code}"


def departments_of(member: StaffMember, departments: Sequence[str]) -> tuple[str, ...]:
    """The departments whose work list `member` answers for."""
    if member.role is not Role.AGENT:
        return tuple(departments)
    return tuple(d for d in departments if department_skill(d) in member.skills)


class CaseDesk:
    def __init__(self, store: CaseStore, targets: Targets, clock: Clock) -> None:
        self.store = store
        self.targets = targets
        self.clock = clock


DESK = web.AppKey("case_desk", CaseDesk)

TEXTS: dict[str, tuple[str, str]] = {
    "page_cases": ("苦情・要望", "Complaints and requests"),
    "case_new": ("苦情・要望の記録", "Record a complaint or request"),
    "case_kind": ("種別", "Kind"),
    "case_kind_complaint": ("苦情", "Complaint"),
    "case_kind_request": ("要望", "Request"),
    "case_category": ("分類", "Category"),
    "case_cat_water_quality": ("水質（濁り・におい）", "Water quality"),
    "case_cat_water_pressure": ("水圧", "Water pressure"),
    "case_cat_billing": ("料金", "Billing"),
    "case_cat_meter": ("メーター", "Meter"),
    "case_cat_construction": ("工事", "Construction"),
    "case_cat_road_and_pipes": ("道路・配管", "Roads and pipes"),
    "case_cat_staff_manner": ("職員の対応", "Staff manner"),
    "case_cat_other": ("その他", "Other"),
    "case_said": ("お客さまのお話", "What the resident said"),
    "case_department": ("担当部署", "Department"),
    "case_customer": ("お客さま番号（わかれば）", "Customer number (if known)"),
    "case_call": ("通話", "Call"),
    "case_save": ("記録して部署へ送る", "Save and send to the department"),
    "case_saved": ("記録しました（番号 {id}）。", "Saved (number {id})."),
    "case_mine": ("あなたが記録したもの", "What you recorded"),
    "case_status": ("状況", "Status"),
    "case_status_received": ("受付", "Received"),
    "case_status_in_hand": ("対応中", "In hand"),
    "case_status_answered": ("回答済み", "Answered"),
    "case_received": ("受付", "Received"),
    "case_answer": ("回答", "Answer"),
    "case_take": ("対応を始める", "Take in hand"),
    "case_answered_button": ("回答済みにする", "Mark answered"),
    "case_none": ("ありません。", "None."),
    "case_work_list": ("部署の作業リスト", "Department work list"),
    "case_my_departments": ("担当部署の作業リスト", "Your departments' work lists"),
    "case_err_required": ("入力してください。", "Enter a value."),
    "case_err_unknown": ("選んでください。", "Choose one."),
    "case_err_unknown_department": (
        "この部署はありません（削除された可能性があります）。一覧から選んでください。",
        "No such department (it may have been removed): choose one of the list.",
    ),
    "case_err_too_long": ("長すぎます。", "This is too long."),
    "case_err_invalid_number": ("お客さま番号が正しくありません。", "Not a valid customer number."),
    "case_err_step": (
        "この案件はすでにその段階を過ぎています。",
        "This case is already at or past that step.",
    ),
}


def tokyo_time(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")


def actor_of(request: web.Request) -> str:
    member = me(request).member
    return f"{member.role.value}:{member.login}"


def login_of(actor: str) -> str:
    """The login in an `actor_of` string (``agent:agent1`` → ``agent1``)."""
    return actor.partition(":")[2]


def audit_of(request: web.Request) -> AuditContext:
    view = my_view(request)
    return AuditContext(actor_of(request), AUDIT_REASON, view.call_id if view else None)


# ------------------------------------------------------------------------------ the agent's


async def cases_page(
    request: web.Request,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    desk = request.app[DESK]
    member = me(request).member
    view = my_view(request)
    choices = await desk.targets.choices()
    context: dict[str, Any] = {
        "member": member,
        "kinds": CASE_KINDS,
        "categories": CATEGORIES,
        "departments": choices,
        "my_departments": [
            (code, names) for code, names in choices if departments_of(member, [code])
        ],
        "values": values or {},
        "errors": errors or {},
        "call_id": view.call_id if view else None,
        "saved": request.query.get("saved", ""),
        "mine": await desk.store.keyed_by(actor_of(request), audit_of(request), desk.clock()),
        "tokyo": tokyo_time,
        "max_said": MAX_SAID,
    }
    return render(request, "cases.html", context, status=status)


async def get_cases(request: web.Request) -> web.StreamResponse:
    return await cases_page(request)


async def post_case(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    values = {
        name: text
        for name in ("kind", "category", "said", "department", "customer_number")
        if (text := text_field(form, name, MAX_SAID + 1)) is not None
    }
    desk = request.app[DESK]
    customer: str | None = None
    problems: dict[str, str] = {}
    if raw := values.get("customer_number", "").strip():
        try:
            customer = parse_customer_number(raw)
        except InvalidNumber:
            problems["customer_number"] = "invalid_number"
    view = my_view(request)
    draft = CaseDraft(
        kind=values.get("kind", ""),
        category=values.get("category", ""),
        said=values.get("said", ""),
        department=values.get("department", ""),
        call_id=view.call_id if view else None,
        customer_number=customer,
    )
    problems |= draft_problems(draft, await desk.targets.codes())
    if problems.get("department") == "unknown":
        # a stale form: the department was removed (or renamed) since the page was loaded
        problems["department"] = "unknown_department"
    if draft.category and draft.category not in CATEGORIES:
        problems["category"] = "unknown"
    if problems:
        return await cases_page(request, values=values, errors=problems, status=422)
    case = await desk.store.add(draft, actor_of(request), desk.clock())
    raise web.HTTPSeeOther(f"/agent/cases?saved={case.id}")


# ------------------------------------------------------------------------------ the department's


async def department_of(request: web.Request) -> str:
    """The department in the path, if the member answers for it (else 404 / 403)."""
    desk = request.app[DESK]
    code = request.match_info["code"]
    if len(code) > 32 or not await desk.targets.kept(code):
        raise web.HTTPNotFound()
    if not departments_of(me(request).member, [code]):
        raise web.HTTPForbidden()
    return code


async def work_list_page(
    request: web.Request, *, error: str | None = None, status: int = 200
) -> web.Response:
    desk = request.app[DESK]
    code = await department_of(request)
    listed = await desk.store.work_list(code, audit_of(request), desk.clock())
    context: dict[str, Any] = {
        "member": me(request).member,
        "department": code,
        "cases": listed,
        "tokyo": tokyo_time,
        "error": error,
        "max_answer": MAX_ANSWER,
    }
    return render(request, "department_cases.html", context, status=status)


async def get_work_list(request: web.Request) -> web.StreamResponse:
    return await work_list_page(request)


async def post_step(request: web.Request) -> web.StreamResponse:
    code = await department_of(request)
    text = request.match_info["id"]
    if not text.isdigit() or len(text) > 12:
        raise web.HTTPNotFound()
    form = await read_form(request)
    step = text_field(form, "status", 16)
    answer = text_field(form, "answer", MAX_ANSWER)
    wanted: CaseStatus
    if step == "in_hand":
        wanted = "in_hand"
    elif step == "answered":
        wanted = "answered"
    else:
        raise web.HTTPBadRequest(reason="unknown step")
    desk = request.app[DESK]
    now = desk.clock()
    try:
        case = await desk.store.advance(int(text), code, wanted, actor_of(request), now, answer)
    except CaseNotFound:
        raise web.HTTPNotFound() from None
    except StepRefused:
        return await work_list_page(request, error="case_err_step", status=409)
    # the agent who keyed it sees the step at once on an open case list (never waits)
    request.app[HUB].push(
        login_of(case.received_by),
        CaseStatusChanged(
            case_id=case.id, status=wanted, by=actor_of(request), at=now, answer=case.answer
        ),
    )
    raise web.HTTPSeeOther(f"/departments/{code}")


def setup(app: web.Application, config: AppConfig, db: AsyncEngine, clock: Clock) -> None:
    """After `ivr.web.targets.setup` (the departments offered are its)."""
    register_texts(TEXTS)
    app[DESK] = CaseDesk(CaseStore(db), app[TARGETS], clock)
    add_route(app, "GET", "/agent/cases", get_cases, Role.AGENT, name="agent-cases")
    add_route(app, "POST", "/agent/cases", post_case, Role.AGENT)
    add_route(app, "GET", "/departments/{code}", get_work_list, Role.AGENT, name="department")
    add_route(app, "POST", "/departments/{code}/cases/{id}", post_step, Role.AGENT)
