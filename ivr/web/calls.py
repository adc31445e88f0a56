"""The agent's calls from the console: reject the offer ringing their phone, classify the call
just ended (wrap-up code and notes), put the caller of the call they are on on hold and take
them off it, and transfer that call — to a department or another queue, blind or attended,
then complete or cancel an attended one.

`POST /api/v1/agent/reject`, `POST /api/v1/agent/wrap-up`, `POST /api/v1/calls/{call_id}/hold`,
`.../resume`, `POST /api/v1/calls/{call_id}/transfer`
(`{"to_department" | "to_queue": name, "mode": "blind" | "attended"}`),
`.../transfer/complete`, `.../transfer/cancel`: JSON, the CSRF header, a 422 with the field
errors for bad input, a 409 with a code when the call is not in a state for it. Accept is the
agent's SIP phone: answering it answers the call (there is nothing for the page to do).

The console does not drive ARI for a call: `routing.commands.CallDesk` posts the request into
the caller's session (one task, one inbox per call) and waits for its answer; wrap-up goes to
`routing.wrapup.WrapUps`, which writes the code and notes to the call's trail (the notes are in
the trail's data only: no log line carries them). Without an engine (`hotline console`) these
answer 409 `no_engine`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Literal, get_args

import aiohttp_jinja2
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ivr.flow.model import Flow
from ivr.store.staff import Role
from ivr.web.openapi import (
    ApiError,
    Operation,
    answer,
    api_route,
    json_error,
    read_json,
    unprocessable,
)
from ivr.web.sessions import signed_in
from routing.commands import CallDesk, Refusal, Reply
from routing.config import Label, RoutingConfig
from routing.wrapup import MAX_NOTES, WrapUps

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
CallId = Annotated[str, Field(min_length=1, max_length=128)]


def _nothing_keyed(_call_id: str) -> Mapping[str, str] | None:
    return None


def _no_flows() -> Mapping[str, Flow]:
    return {}


@dataclass(frozen=True, slots=True)
class CallControls:
    """The engine's hold on calls for the console (None parts, nothing keyed: no engine)."""

    desk: CallDesk | None = None
    wrap_ups: WrapUps | None = None
    keyed: Callable[[str], Mapping[str, str] | None] = _nothing_keyed
    """What the caller keyed in the IVR on a call the engine still has (its flow variables)."""
    flows: Callable[[], Mapping[str, Flow]] = _no_flows
    """The live flows: their intake nodes say which variable fills which intake field."""


CONTROLS = web.AppKey("call_controls", CallControls)


class Done(BaseModel):
    """The request was carried out."""

    model_config = ConfigDict(frozen=True)

    result: Literal["ok"] = "ok"


class WrapUp(BaseModel):
    """The agent's classification of the call they just had."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    call_id: CallId
    reason: Name
    """One of the configured wrap-up codes (`routing.wrap_up_codes`)."""
    notes: Annotated[str, Field(max_length=MAX_NOTES)] = ""


class TransferRequest(BaseModel):
    """Where the call goes: exactly one of `to_department` and `to_queue`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    to_department: Name | None = None
    to_queue: Name | None = None
    mode: Literal["blind", "attended"] = "blind"

    @model_validator(mode="after")
    def _one_target(self) -> TransferRequest:
        if (self.to_department is None) == (self.to_queue is None):
            raise ValueError("give exactly one of to_department and to_queue")
        return self


# every code a call control's 409 may carry: the engine's refusals, and no engine at all
REFUSALS: tuple[str, ...] = (*get_args(Refusal), "no_engine")


def refusal_texts(t: Callable[[str], str]) -> dict[str, str]:
    """What each refusal code says to the agent, in the words of `t` (the page's translator):
    the agent page shows these after "Not done", never the code."""
    return {code: t(f"refusal_{code}") for code in REFUSALS}


def controls_of(request: web.Request) -> CallControls:
    return request.app.get(CONTROLS) or CallControls()


def _login(request: web.Request) -> str:
    who = signed_in(request)
    if who is None:  # the access middleware lets no one in without a session
        raise web.HTTPUnauthorized()
    return who.member.login


def _desk(request: web.Request) -> CallDesk:
    desk = controls_of(request).desk
    if desk is None:
        raise json_error(web.HTTPConflict, "no_engine")
    return desk


def _result(reply: Reply | str) -> web.Response:
    if reply != "ok":
        raise json_error(web.HTTPConflict, reply)
    return answer(Done())


async def post_reject(request: web.Request) -> web.StreamResponse:
    return _result(await _desk(request).reject(_login(request)))


async def post_wrap_up(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, WrapUp)
    wrap_ups = controls_of(request).wrap_ups
    if wrap_ups is None:
        raise json_error(web.HTTPConflict, "no_engine")
    if body.reason not in wrap_ups.codes:
        raise unprocessable({"reason": "invalid"})
    return _result(wrap_ups.submit(_login(request), body.call_id, body.reason, body.notes))


async def post_transfer(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, TransferRequest)
    desk = _desk(request)
    call_id = request.match_info["call_id"]
    if body.to_department is not None:
        reply = await desk.transfer(
            _login(request), call_id, "department", body.to_department, body.mode
        )
    else:
        reply = await desk.transfer(
            _login(request), call_id, "queue", body.to_queue or "", body.mode
        )
    return _result(reply)


async def post_hold(request: web.Request) -> web.StreamResponse:
    call_id = request.match_info["call_id"]
    return _result(await _desk(request).hold(_login(request), call_id, True))


async def post_resume(request: web.Request) -> web.StreamResponse:
    call_id = request.match_info["call_id"]
    return _result(await _desk(request).hold(_login(request), call_id, False))


async def post_complete(request: web.Request) -> web.StreamResponse:
    return _result(await _desk(request).complete(_login(request), request.match_info["call_id"]))


async def post_cancel(request: web.Request) -> web.StreamResponse:
    return _result(await _desk(request).cancel(_login(request), request.match_info["call_id"]))


def display_names(key: str, label: Label | None) -> dict[str, str]:
    """A transfer target's name per language: its configured label, else its config key."""
    if label is None:
        return {"ja": key, "en": key}
    return {"ja": label.ja, "en": label.en}


def setup(
    app: web.Application, routing: RoutingConfig, controls: CallControls | None = None
) -> None:
    """The routes, and what the page's call controls offer: the wrap-up codes and the queues
    (the departments, which the console edits, are read per page: `ivr.web.targets`)."""
    app[CONTROLS] = controls or CallControls()
    env = aiohttp_jinja2.get_env(app)
    env.globals["wrap_up_codes"] = dict(routing.wrap_up_codes)
    env.globals["transfer_queues"] = [
        (name, display_names(name, queue.label)) for name, queue in routing.queues.items()
    ]
    refused = {200: Done, 409: ApiError}
    api_route(
        app,
        Operation(
            "POST",
            "/api/v1/agent/reject",
            Role.AGENT,
            "rejectOffer",
            "Reject the call ringing the agent's phone: the caller keeps the place and is "
            "offered to the next ready agent (never to this one again during this wait)",
            refused,
            tags=("calls",),
        ),
        post_reject,
    )
    api_route(
        app,
        Operation(
            "POST",
            "/api/v1/agent/wrap-up",
            Role.AGENT,
            "wrapUp",
            "Classify the call just ended (a wrap-up code, notes); ends wrap-up at once",
            refused,
            body=WrapUp,
            tags=("calls",),
        ),
        post_wrap_up,
    )
    api_route(
        app,
        Operation(
            "POST",
            "/api/v1/calls/{call_id}/transfer",
            Role.AGENT,
            "transferCall",
            "Transfer the call the agent is on to a department or a queue, blind or attended",
            refused,
            body=TransferRequest,
            tags=("calls",),
        ),
        post_transfer,
    )
    holds = (
        (
            "hold",
            "holdCall",
            post_hold,
            "Put the caller of the agent's call on hold (music; the agent's leg stays up)",
        ),
        ("resume", "resumeCall", post_resume, "Take the caller off hold: back to the agent"),
    )
    for verb, operation_id, hold_handler, summary in holds:
        api_route(
            app,
            Operation(
                "POST",
                f"/api/v1/calls/{{call_id}}/{verb}",
                Role.AGENT,
                operation_id,
                summary,
                refused,
                tags=("calls",),
            ),
            hold_handler,
        )
    for verb, handler in (("complete", post_complete), ("cancel", post_cancel)):
        api_route(
            app,
            Operation(
                "POST",
                f"/api/v1/calls/{{call_id}}/transfer/{verb}",
                Role.AGENT,
                f"{verb}Transfer",
                f"{verb.capitalize()} the attended transfer in progress",
                refused,
                tags=("calls",),
            ),
            handler,
        )
