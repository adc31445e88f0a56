"""The agent's intake forms, one per request kind, and `POST /api/v1/intake`: both submit through
the one intake service (`IntakeService.submit`) with channel ``agent``, actor ``agent:<login>``
and the call the agent is on.

`GET /agent/intake/{kind}` shows the form (pre-filled from the query string: what the agent chose);
`GET /agent/calls/{call_id}/intake/{kind}` (the pop's links) shows it pre-filled from the IVR: the
server reads what the caller keyed on the agent's call from the engine and the account the IVR
matched from the database (audited as the pop is), never from the page; `POST /agent/intake/{kind}`
with ``step=open`` shows it pre-filled from the posted fields (the search results' buttons: no
customer number in a URL), otherwise submits it. The fields, their order, labels (ja/en) and which
are needed come from `ivr.intake.validation`; errors are the service's codes, shown next to their
field in the words of `ivr.web.intake_texts`; invalid input writes nothing. Each rendered form
carries an idempotency key (hidden), so a double submit gives the same receipt. The confirmation
number is shown in groups, as it is read aloud.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import aiohttp_jinja2
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.domain import RequestKind
from ivr.errors import IntakeRejected
from ivr.flow.model import Flow, IntakeNode
from ivr.intake.service import IntakeReceipt, IntakeRequest, IntakeService
from ivr.intake.validation import accepted_fields, field_problems, parse_date
from ivr.store.accounts import AuditContext
from ivr.store.pop import call_account
from ivr.store.staff import Role
from ivr.web.access import add_route
from ivr.web.calls import controls_of
from ivr.web.context import Clock
from ivr.web.desk import my_view
from ivr.web.forms import read_form, text_field
from ivr.web.i18n import language_of
from ivr.web.intake_texts import error_text, field_label, kind_label
from ivr.web.openapi import Operation, answer, api_route, read_json, unprocessable
from ivr.web.pages import me
from ivr.web.render import render

CHANNEL = "agent"
# the order an agent asks for things: who, where, when, then the rest
FIELD_ORDER = (
    "customer_number",
    "premise_id",
    "meter_number",
    "new_premise_id",
    "new_meter_number",
    "stop_date",
    "start_date",
    "effective_date",
    "paid_on",
    "holder_name",
    "holder_kana",
    "old_phone",
    "new_phone",
    "contact_phone",
    "forwarding_address",
    "address",
    "description",
    "reason",
)
# recordings are the IVR's (names the engine chose): carried along when pre-filled, never typed
CARRIED = ("recording",)
DATE_FIELDS = frozenset({"stop_date", "start_date", "effective_date", "paid_on"})
PHONE_FIELDS = frozenset({"contact_phone", "new_phone", "old_phone"})
LONG_FIELDS = frozenset({"forwarding_address", "address", "description", "reason"})
NUMERIC_FIELDS = frozenset({"customer_number", "premise_id", "new_premise_id"})
# past this a value is refused by the service as too_long anyway; the body limit bounds it too
MAX_VALUE_CHARS = 4000
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_API_FIELDS = 40


@dataclass(frozen=True, slots=True)
class FormField:
    name: str
    label: str
    input: str
    """text, date, tel or textarea."""
    needed: bool
    numeric: bool


def form_fields(kind: RequestKind, lang: str) -> tuple[FormField, ...]:
    """The fields of `kind`'s form, in the agent's order; `needed` marks what the intake
    requires when nothing else stands in (a start's holder when no customer number is given,
    the first of two alternatives)."""
    taken = accepted_fields(kind)
    needed = field_problems(kind, ())
    return tuple(
        FormField(
            name=name,
            label=field_label(name, lang),
            input=(
                "date"
                if name in DATE_FIELDS
                else "tel"
                if name in PHONE_FIELDS
                else "textarea"
                if name in LONG_FIELDS
                else "text"
            ),
            needed=needed.get(name) == "required",
            numeric=name in NUMERIC_FIELDS,
        )
        for name in FIELD_ORDER
        if name in taken
    )


def new_key() -> str:
    return secrets.token_urlsafe(18)


def kind_of(request: web.Request) -> RequestKind:
    try:
        return RequestKind(request.match_info["kind"])
    except ValueError:
        raise web.HTTPNotFound() from None


INTAKE = web.AppKey("intake_service", IntakeService)


@dataclass(frozen=True, slots=True)
class Prefill:
    """Where a call's form reads what it starts with: the database (the matched account)."""

    db: AsyncEngine
    clock: Clock


PREFILL = web.AppKey("intake_prefill", Prefill)


def actor_of(request: web.Request) -> str:
    return f"agent:{me(request).member.login}"


def call_of(request: web.Request) -> str | None:
    view = my_view(request)
    return view.call_id if view is not None else None


def own_key(request: web.Request, key: str) -> str:
    """A channel's key in the agent's own namespace: another member's key never meets it."""
    return f"{actor_of(request)}:{key}"


async def submit(
    request: web.Request, kind: RequestKind, fields: Mapping[str, object], key: str | None
) -> IntakeReceipt:
    return await request.app[INTAKE].submit(
        IntakeRequest(
            kind=kind,
            channel=CHANNEL,
            actor=actor_of(request),
            fields=fields,
            call_id=call_of(request),
            idempotency_key=None if key is None else own_key(request, key),
        )
    )


# ------------------------------------------------------------------------------ the pages


def form_page(
    request: web.Request,
    kind: RequestKind,
    prefill: Mapping[str, str],
    *,
    errors: Mapping[str, str] | None = None,
    key: str | None = None,
    status: int = 200,
) -> web.Response:
    """`kind`'s form with `prefill`'s values for the fields it takes (others are dropped), the
    field errors next to their fields and the rest above the form."""
    lang = language_of(request)
    fields = form_fields(kind, lang)
    names = {f.name for f in fields}
    errors = errors or {}
    messages = {name: error_text(code, lang) for name, code in errors.items()}
    carried = {n: prefill[n] for n in CARRIED if n in prefill and n in accepted_fields(kind)}
    context: dict[str, Any] = {
        "member": me(request).member,
        "kind": str(kind),
        "kind_label": kind_label(kind, lang),
        "fields": fields,
        "values": {n: v for n, v in prefill.items() if n in names},
        "carried": carried,
        "errors": {n: m for n, m in messages.items() if n in names},
        "other_errors": [
            f"{field_label(n, lang)}: {m}" for n, m in messages.items() if n not in names
        ],
        "idempotency_key": key or new_key(),
        "on_call": call_of(request) is not None,
    }
    return render(request, "intake_form.html", context, status=status)


def done_page(request: web.Request, receipt: IntakeReceipt) -> web.Response:
    lang = language_of(request)
    return render(
        request,
        "intake_done.html",
        {
            "member": me(request).member,
            "kind": str(receipt.kind),
            "kind_label": kind_label(receipt.kind, lang),
            "confirmation": receipt.confirmation,
            "spoken": receipt.spoken,
        },
        status=201,
    )


# ------------------------------------------------------------------------------ from the pop

PREFILL_REASON = "intake_prefill"


def keyed_fields(
    flows: Mapping[str, Flow], kind: RequestKind, keyed: Mapping[str, str]
) -> dict[str, str]:
    """The fields of `kind` the caller keyed in the IVR: every intake node of `kind` in the
    flows names the variable each field is taken from (the node need not have been reached: a
    caller sent to an agent half-way has keyed some of them). Dates as the form's date input
    takes them (ISO); a value that is not one is left out."""
    found: dict[str, str] = {}
    for flow in flows.values():
        for node in flow.nodes.values():
            if not isinstance(node, IntakeNode) or node.request != kind:
                continue
            for name, variable in node.fields.items():
                value = keyed.get(variable, "").strip()
                if value and name not in found:
                    found[name] = value
    return {name: shown for name, value in found.items() if (shown := _form_value(name, value))}


def _form_value(name: str, value: str) -> str | None:
    if name not in DATE_FIELDS:
        return value
    try:
        return parse_date(value).isoformat()
    except ValueError:
        return None


def is_my_call(request: web.Request, call_id: str) -> bool:
    """`call_id` is the call ringing the agent, the one they are on or the one they wrap up."""
    if call_of(request) == call_id:
        return True
    wrap_ups = controls_of(request).wrap_ups
    last = wrap_ups.last(me(request).member.login) if wrap_ups is not None else None
    return last is not None and last.call_id == call_id


async def call_prefill(request: web.Request, call_id: str, kind: RequestKind) -> dict[str, str]:
    """What the form of `kind` starts with for the agent's call: what the caller keyed in the
    IVR (read from the engine by the call's id, never from the page) and the customer number
    of the account the IVR matched, whose showing is audited as the pop's is."""
    controls = controls_of(request)
    found = keyed_fields(controls.flows(), kind, controls.keyed(call_id) or {})
    if "customer_number" in accepted_fields(kind) and "customer_number" not in found:
        ctx = AuditContext(actor_of(request), PREFILL_REASON, call_id)
        where = request.app[PREFILL]
        account = await call_account(where.db, call_id, ctx, where.clock())
        if account is not None:
            found["customer_number"] = account.customer_number
    return found


async def get_call_form(request: web.Request) -> web.StreamResponse:
    kind = kind_of(request)
    call_id = request.match_info["call_id"]
    if not is_my_call(request, call_id):
        raise web.HTTPNotFound(reason="not a call of yours")
    return form_page(request, kind, await call_prefill(request, call_id, kind))


async def get_form(request: web.Request) -> web.StreamResponse:
    kind = kind_of(request)
    prefill = {k: v for k, v in request.query.items() if len(v) <= MAX_VALUE_CHARS}
    return form_page(request, kind, prefill)


async def post_form(request: web.Request) -> web.StreamResponse:
    kind = kind_of(request)
    form = await read_form(request)
    names = [f.name for f in form_fields(kind, "ja")] + [
        n for n in CARRIED if n in accepted_fields(kind)
    ]
    values = {
        name: text
        for name in names
        if (text := text_field(form, name, MAX_VALUE_CHARS)) is not None
    }
    if text_field(form, "step", 8) == "open":
        return form_page(request, kind, values)
    given = text_field(form, "idempotency_key", 64)
    key = given if given is not None and KEY_PATTERN.fullmatch(given) else new_key()
    try:
        receipt = await submit(request, kind, {k: v for k, v in values.items() if v.strip()}, key)
    except IntakeRejected as rejected:
        return form_page(request, kind, values, errors=rejected.errors, key=key, status=422)
    return done_page(request, receipt)


# ------------------------------------------------------------------------------ the API

FieldName = Annotated[str, Field(min_length=1, max_length=64)]
FieldValue = StrictStr | StrictInt | None


class IntakeBody(BaseModel):
    """A request as the agent keyed it: `fields` are the kind's fields (`ivr.intake.validation`:
    dates as ISO 2027-04-01, phone numbers as typed); the same `idempotency_key` again returns
    the first receipt and writes nothing."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "kind": "leak",
                    "fields": {"address": "若葉市中央区本町1丁目5番", "description": "道路に水"},
                },
                {"kind": "stop", "fields": {"customer_number": "0000000013", "stop_date": ""}},
            ]
        },
    )

    kind: RequestKind
    fields: dict[FieldName, FieldValue] = Field(max_length=MAX_API_FIELDS)
    idempotency_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None


class IntakeCreated(BaseModel):
    """The committed request: read `confirmation` back in the groups of `spoken`; a move has
    two request ids (the stop and the start) under one confirmation number."""

    kind: RequestKind
    confirmation: str
    spoken: list[str]
    request_ids: list[int]


async def post_intake(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, IntakeBody, maps=("fields",))
    try:
        receipt = await submit(request, body.kind, body.fields, body.idempotency_key)
    except IntakeRejected as rejected:
        raise unprocessable(rejected.errors) from None
    created = IntakeCreated(
        kind=receipt.kind,
        confirmation=receipt.confirmation,
        spoken=list(receipt.spoken),
        request_ids=list(receipt.request_ids),
    )
    return answer(created, 201)


# ------------------------------------------------------------------------------ setting up


def request_kinds(lang: str) -> list[tuple[str, str]]:
    """Every kind with its name, for the agent page's list of forms."""
    return [(str(k), kind_label(k, lang)) for k in RequestKind]


def account_kinds(lang: str) -> list[tuple[str, str]]:
    """The kinds an agent starts from an account found (a start needs none)."""
    return [(k, label) for k, label in request_kinds(lang) if k != RequestKind.START]


def setup(
    app: web.Application,
    db: AsyncEngine,
    clock: Clock,
    *,
    intake: IntakeService | None = None,
) -> None:
    """The forms and the API on `intake` (the engine's), or an intake service of their own on
    `db` with the console's clock."""
    app[INTAKE] = intake or IntakeService(db, clock=clock)
    app[PREFILL] = Prefill(db, clock)
    env = aiohttp_jinja2.get_env(app)
    env.globals["request_kinds"] = request_kinds
    env.globals["account_kinds"] = account_kinds
    add_route(app, "GET", "/agent/intake/{kind}", get_form, Role.AGENT, name="intake-form")
    add_route(app, "POST", "/agent/intake/{kind}", post_form, Role.AGENT)
    add_route(
        app,
        "GET",
        "/agent/calls/{call_id}/intake/{kind}",
        get_call_form,
        Role.AGENT,
        name="call-intake-form",
    )
    api_route(
        app,
        Operation(
            "POST",
            "/api/v1/intake",
            Role.AGENT,
            "submitIntake",
            "Submit a request (start, stop, move, name or phone change, reconnection, ...)",
            {201: IntakeCreated},
            body=IntakeBody,
            description=(
                "Checked and written by the same intake service as the IVR's: 422 with a code "
                "per field when refused (nothing is written), 201 with the confirmation number "
                "when committed."
            ),
            tags=("intake",),
            name="api-intake",
        ),
        post_intake,
    )
