"""The admin's staff page, `/admin/staff`: add a member (log-in id, name, role, phone endpoint,
skills, first password), change a member's name, role, endpoint and skills, disable or enable
them, and set a new password (argon2, as `hotline agents passwd`). Each change is audited under
``admin:<login>`` (`ivr.store.staff_admin`) and reaches the engine's agent pool at once (the
next offer rings the new endpoint; a disabled agent leaves the queue, after their call if on
one). Bad input is shown again with its field errors (422), nothing saved; an admin cannot
disable themselves or take their own admin role away (nobody would be left to undo it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ivr.adapters.agents import refresh_agent
from ivr.domain import ENDPOINT_PATTERN
from ivr.store.passwords import password_problem
from ivr.store.staff import NewStaff, Role, StaffError, StaffMember, normalise_login
from ivr.store.staff_admin import (
    MAX_SKILLS,
    SKILL_PATTERN,
    StaffAdmin,
    StaffChanges,
    check_changes,
)
from ivr.store.tables import LANGUAGES
from ivr.web.access import add_route
from ivr.web.context import Clock, console_of
from ivr.web.desk import desk_of
from ivr.web.forms import Form, read_form, text_field
from ivr.web.i18n import language_of, register_texts, translator
from ivr.web.openapi import Operation, answer, api_route, read_json, unprocessable
from ivr.web.pages import me
from ivr.web.render import render

ADMIN = web.AppKey("staff_admin", StaffAdmin)
WEAK = "short_password"
"""The error code of a password `password_problem` refuses."""
FIELDS = ("login", "display_name", "role", "endpoint", "skills", "language", "password")

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("職員とアカウント", "Staff accounts"),
    "note": (
        "変更は監査記録に残り、次の電話から使われます。無効にした職員はすぐにサインアウトされます。",
        "Every change is audited and applies from the next call. A disabled member is signed "
        "out at once.",
    ),
    "add": ("職員を追加", "Add a member"),
    "login": ("ログインID", "Log-in id"),
    "display_name": ("名前", "Name"),
    "role": ("役割", "Role"),
    "endpoint": ("電話（エンドポイント、空欄可）", "Phone endpoint (may be empty)"),
    "skills": ("スキル（カンマ区切り）", "Skills (comma separated)"),
    "language": ("言語", "Language"),
    "password": ("パスワード（10文字以上）", "Password (10 characters or more)"),
    "new_password": ("新しいパスワード", "New password"),
    "save": ("保存", "Save"),
    "disable": ("無効にする", "Disable"),
    "enable": ("有効にする", "Enable"),
    "set_password": ("パスワードを設定", "Set password"),
    "saved": ("保存しました。", "Saved."),
    "disabled": ("無効", "Disabled"),
    "err_required": ("入力してください。", "Required."),
    "err_too_long": ("長すぎます。", "Too long."),
    "err_bad_login": (
        "小文字の英数字と . _ - で入力してください。",
        "Lower-case letters, digits, '.', '_' and '-'.",
    ),
    "err_taken": ("このログインIDは使われています。", "This log-in id is taken."),
    "err_bad_endpoint": (
        "PJSIP/agent1 のような電話のエンドポイントを入力してください。",
        "A phone endpoint such as PJSIP/agent1.",
    ),
    "err_bad_skill": (
        "スキルは小文字の英数字（と _ : -）で入力してください。",
        "Skills are lower-case letters and digits (and _ : -).",
    ),
    "err_too_many": ("多すぎます（20まで）。", "Too many (20 at most)."),
    "err_invalid": ("一覧から選んでください。", "Choose one of the list."),
    "err_short_password": ("10文字以上にしてください。", "10 characters or more."),
    "err_yourself": (
        "自分自身を無効にしたり、自分の管理者の役割を外すことはできません。",
        "You cannot disable yourself or take away your own admin role.",
    ),
}


def actor_of(request: web.Request) -> str:
    return f"admin:{me(request).member.login}"


def _skills(textual: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.strip().lower() for s in textual.split(",") if s.strip()))


def _values(form: Form) -> dict[str, str]:
    return {name: (text_field(form, name, 300) or "").strip() for name in FIELDS}


def _changes(values: Mapping[str, str]) -> tuple[StaffChanges | None, dict[str, str]]:
    try:
        role = Role(values.get("role", ""))
    except ValueError:
        return None, {"role": "invalid"}
    changes = StaffChanges(
        values.get("display_name", ""),
        role,
        values.get("endpoint") or None,
        _skills(values.get("skills", "")),
    )
    return changes, check_changes(changes)


async def staff_page(
    request: web.Request,
    *,
    editing: str | None = None,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    say = translator(language_of(request), TEXTS)
    members: list[StaffMember] = await request.app[ADMIN].store.all()
    context: dict[str, Any] = {
        "member": me(request).member,
        "members": members,
        "roles": [r.value for r in Role],
        "languages": LANGUAGES,
        "say": say,
        "editing": editing,
        "values": values or {},
        "errors": {k: say(f"err_{v}") for k, v in (errors or {}).items()},
        "saved": request.query.get("saved", ""),
    }
    return render(request, "admin_staff.html", context, status=status)


async def get_page(request: web.Request) -> web.StreamResponse:
    return await staff_page(request)


def _take_to_pool(request: web.Request, member: StaffMember) -> None:
    pool = desk_of(request).pool
    if pool is not None:
        refresh_agent(pool, member)


def _clock(request: web.Request) -> Clock:
    return console_of(request).clock


async def post_add(request: web.Request) -> web.StreamResponse:
    values = _values(await read_form(request))
    changes, errors = _changes(values)
    login = normalise_login(values["login"])
    if login is None:
        errors["login"] = "required" if not values["login"] else "bad_login"
    if values["language"] not in LANGUAGES:
        errors["language"] = "invalid"
    if password_problem(values["password"]) is not None:
        errors["password"] = WEAK
    if errors or changes is None or login is None:
        return await staff_page(request, editing="", values=values, errors=errors, status=422)
    new = NewStaff(
        login,
        changes.display_name.strip(),
        changes.role,
        changes.endpoint,
        changes.skills,
        values["language"],
    )
    hashed = await console_of(request).passwords.hash(values["password"])
    try:
        member = await request.app[ADMIN].add(new, hashed, actor_of(request), _clock(request)())
    except StaffError:
        return await staff_page(
            request, editing="", values=values, errors={"login": "taken"}, status=422
        )
    _take_to_pool(request, member)
    raise web.HTTPSeeOther(f"/admin/staff?saved={member.login}")


async def _target(request: web.Request) -> StaffMember:
    login = normalise_login(request.match_info["login"])
    member = await request.app[ADMIN].store.by_login(login) if login else None
    if member is None:
        raise web.HTTPNotFound()
    return member


async def post_change(request: web.Request) -> web.StreamResponse:
    member = await _target(request)
    values = _values(await read_form(request))
    changes, errors = _changes(values)
    if changes is not None and member.login == me(request).member.login:
        if changes.role is not Role.ADMIN:
            errors["role"] = "yourself"
    if errors or changes is None:
        return await staff_page(
            request, editing=member.login, values=values, errors=errors, status=422
        )
    changed = await request.app[ADMIN].change(
        member.login, changes, actor_of(request), _clock(request)()
    )
    if changed is None:
        raise web.HTTPNotFound()
    _take_to_pool(request, changed)
    raise web.HTTPSeeOther(f"/admin/staff?saved={member.login}")


async def _set_disabled(request: web.Request, disabled: bool) -> web.StreamResponse:
    member = await _target(request)
    await read_form(request)
    if disabled and member.login == me(request).member.login:
        return await staff_page(
            request, editing=member.login, errors={"disabled": "yourself"}, status=422
        )
    changed = await request.app[ADMIN].set_disabled(
        member.login, disabled, actor_of(request), _clock(request)()
    )
    if changed is None:
        raise web.HTTPNotFound()
    _take_to_pool(request, changed)
    raise web.HTTPSeeOther(f"/admin/staff?saved={member.login}")


async def post_disable(request: web.Request) -> web.StreamResponse:
    return await _set_disabled(request, True)


async def post_enable(request: web.Request) -> web.StreamResponse:
    return await _set_disabled(request, False)


async def post_password(request: web.Request) -> web.StreamResponse:
    member = await _target(request)
    password = text_field(await read_form(request), "password", 300) or ""
    if password_problem(password) is not None:
        return await staff_page(
            request, editing=member.login, errors={"password": WEAK}, status=422
        )
    hashed = await console_of(request).passwords.hash(password)
    await request.app[ADMIN].set_password(
        member.login, hashed, actor_of(request), _clock(request)()
    )
    raise web.HTTPSeeOther(f"/admin/staff?saved={member.login}")


def setup(app: web.Application, admin: StaffAdmin) -> None:
    app[ADMIN] = admin
    register_texts({"page_staff": TEXTS["title"]})
    add_route(app, "GET", "/admin/staff", get_page, Role.ADMIN, name="admin-staff")
    add_route(app, "POST", "/admin/staff", post_add, Role.ADMIN)
    add_route(app, "POST", "/admin/staff/{login}", post_change, Role.ADMIN)
    add_route(app, "POST", "/admin/staff/{login}/disable", post_disable, Role.ADMIN)
    add_route(app, "POST", "/admin/staff/{login}/enable", post_enable, Role.ADMIN)
    add_route(app, "POST", "/admin/staff/{login}/password", post_password, Role.ADMIN)
    add_api(app)


# ------------------------------------------------------------------------------ the API

Login = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Skill = Annotated[str, Field(min_length=1, max_length=32, pattern=f"^{SKILL_PATTERN.pattern}$")]
RoleName = Literal["agent", "supervisor", "admin"]


class StaffView(BaseModel):
    """A member of staff as the admin sees them (never their password)."""

    login: str
    display_name: str
    role: RoleName
    endpoint: str | None
    skills: list[str]
    language: str
    disabled: bool


class StaffListView(BaseModel):
    staff: list[StaffView]


class StaffChangeBody(BaseModel):
    """A member's new name, role, phone endpoint (null: takes no calls) and skills."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "login": "agent1",
                    "display_name": "オペレーター 1",
                    "role": "agent",
                    "endpoint": "PJSIP/agent1",
                    "skills": ["moving", "en"],
                }
            ]
        },
    )

    login: Login
    display_name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"\S")]
    role: RoleName
    endpoint: Annotated[str, Field(max_length=200, pattern=f"^{ENDPOINT_PATTERN.pattern}$")] | None
    skills: list[Skill] = Field(max_length=MAX_SKILLS)


class StaffDisableBody(BaseModel):
    """Disable (the member's sessions end, they leave the queue) or enable a member."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    login: Login
    disabled: bool


def staff_view(member: StaffMember) -> StaffView:
    return StaffView(
        login=member.login,
        display_name=member.display_name,
        role=member.role.value,
        endpoint=member.endpoint,
        skills=list(member.skills),
        language=member.language,
        disabled=member.disabled,
    )


async def api_list(request: web.Request) -> web.StreamResponse:
    members = await request.app[ADMIN].store.all()
    return answer(StaffListView(staff=[staff_view(m) for m in members]))


def _myself(request: web.Request, login: str) -> bool:
    return normalise_login(login) == me(request).member.login


async def api_change(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, StaffChangeBody)
    if _myself(request, body.login) and body.role != Role.ADMIN.value:
        raise unprocessable({"role": "yourself"})
    changes = StaffChanges(
        body.display_name.strip(), Role(body.role), body.endpoint, tuple(dict.fromkeys(body.skills))
    )
    changed = await request.app[ADMIN].change(
        normalise_login(body.login) or "", changes, actor_of(request), _clock(request)()
    )
    if changed is None:
        raise unprocessable({"login": "unknown"}, "no such member of staff")
    _take_to_pool(request, changed)
    return answer(staff_view(changed))


async def api_disable(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, StaffDisableBody)
    if _myself(request, body.login) and body.disabled:
        raise unprocessable({"disabled": "yourself"})
    changed = await request.app[ADMIN].set_disabled(
        normalise_login(body.login) or "", body.disabled, actor_of(request), _clock(request)()
    )
    if changed is None:
        raise unprocessable({"login": "unknown"}, "no such member of staff")
    _take_to_pool(request, changed)
    return answer(staff_view(changed))


def add_api(app: web.Application) -> None:
    tags = ("staff",)
    api_route(
        app,
        Operation(
            "GET",
            "/api/v1/staff",
            Role.ADMIN,
            "listStaff",
            "Every member of staff",
            {200: StaffListView},
            tags=tags,
        ),
        api_list,
    )
    api_route(
        app,
        Operation(
            "POST",
            "/api/v1/staff/change",
            Role.ADMIN,
            "changeStaff",
            "Change a member's name, role, phone endpoint and skills (audited; the next offer "
            "rings the new endpoint)",
            {200: StaffView},
            body=StaffChangeBody,
            tags=tags,
        ),
        api_change,
    )
    api_route(
        app,
        Operation(
            "POST",
            "/api/v1/staff/disable",
            Role.ADMIN,
            "disableStaff",
            "Disable or enable a member (audited; disabling ends their sessions)",
            {200: StaffView},
            body=StaffDisableBody,
            tags=tags,
        ),
        api_disable,
    )
