"""The REST API's operations declared once with their pydantic models, the edge that reads a
request into them, and the OpenAPI 3.1 document generated from them (`/api/v1/openapi.json`).

`api_route(app, Operation(...), handler)` adds the route with its role (ivr.web.access) and
records the operation; `describe(app, Operation(...))` records one whose route is added elsewhere
(`/api/v1/me`, `/api/v1/agent/state`). The document is built from what is recorded: the query
model's fields become parameters, the body model the JSON request body, each response model a
response; the models' JSON Schemas go to `components.schemas` (requests in pydantic's validation
mode, responses in its serialization mode). `read_query` / `read_json` parse at the edge: a body
that is not JSON is a 415 or a 422, a value a model refuses is a 422 with the field errors as
codes (`ivr.web.intake_texts` has a message for each), never a 500.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from ivr.store.staff import Role
from ivr.web.access import Access, RouteHandler, add_route
from ivr.web.api import Me
from ivr.web.csrf import HEADER as CSRF_HEADER
from ivr.web.desk import AgentStateView, StateChange
from ivr.web.sessions import COOKIE_NAME

M = TypeVar("M", bound=BaseModel)

OPENAPI_PATH = "/api/v1/openapi.json"
VERSION = "1"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REF = "#/components/schemas/{model}"


class ApiError(BaseModel):
    """Why a request was refused (not signed in, not allowed, no CSRF token, too large)."""

    error: str


class FieldErrors(BaseModel):
    """Input refused: `fields` maps each field (dotted path) to an error code."""

    error: str
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class Operation:
    """One API operation: `responses` maps each success or domain status to its model; the
    errors every operation can answer (401, 403, 400, 413, 415, 422) are added by the document."""

    method: str
    path: str
    access: Access
    operation_id: str
    summary: str
    responses: Mapping[int, type[BaseModel]]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    name: str | None = None


@dataclass
class Operations:
    items: list[Operation] = field(default_factory=list)
    document: dict[str, Any] | None = None


OPERATIONS = web.AppKey("api_operations", Operations)


def operations_of(app: web.Application) -> Operations:
    if OPERATIONS not in app:
        app[OPERATIONS] = Operations()
    return app[OPERATIONS]


def describe(app: web.Application, operation: Operation) -> None:
    """Record an operation whose route is added elsewhere."""
    ops = operations_of(app)
    ops.items.append(operation)
    ops.document = None


def api_route(app: web.Application, operation: Operation, handler: RouteHandler) -> AbstractRoute:
    """Add the operation's route with its role, and record it for the document."""
    route = add_route(
        app, operation.method, operation.path, handler, operation.access, name=operation.name
    )
    describe(app, operation)
    return route


# ------------------------------------------------------------------------------ the edge

# pydantic's error types as the intake's codes, so one table of messages serves both
_CODES = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "string_too_long": "too_long",
    "too_long": "too_long",
    "string_too_short": "required",
    "literal_error": "invalid",
    "enum": "invalid",
}


def error_codes(exc: ValidationError, maps: Collection[str] = ()) -> dict[str, str]:
    """Each refused field (its location joined with dots) and its code; a value inside one of
    the mappings named in `maps` is named by its key alone (``fields.stop_date``, not the
    union member pydantic tried: ``stop_date``)."""
    out: dict[str, str] = {}
    for e in exc.errors():
        loc = e["loc"]
        if len(loc) >= 2 and loc[0] in maps:
            loc = loc[1:2]
        where = ".".join(str(p) for p in loc) or "body"
        out.setdefault(where, _CODES.get(e["type"], "invalid"))
    return out


def unprocessable(fields: Mapping[str, str], error: str = "invalid") -> web.HTTPException:
    body = FieldErrors(error=error, fields=dict(fields)).model_dump_json()
    return web.HTTPUnprocessableEntity(text=body, content_type="application/json")


def json_error(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=ApiError(error=message).model_dump_json(), content_type="application/json")


def answer(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=model.model_dump_json(), content_type="application/json"
    )


def read_query(request: web.Request, model: type[M]) -> M:
    """The query string as `model`: each parameter given once (a repeated one is a 422)."""
    query = request.query
    repeated = {k: "invalid" for k in query if len(query.getall(k)) > 1}
    if repeated:
        raise unprocessable(repeated)
    try:
        return model.model_validate(dict(query))
    except ValidationError as exc:
        raise unprocessable(error_codes(exc)) from None


async def read_json(request: web.Request, model: type[M], *, maps: Collection[str] = ()) -> M:
    """The JSON body as `model`; another content type is a 415, text that is not JSON a 422
    (`maps`: see `error_codes`)."""
    if request.content_type != "application/json":
        raise json_error(web.HTTPUnsupportedMediaType, "application/json is expected")
    try:
        data = json.loads(await request.text())
    except (ValueError, RecursionError):
        # bad UTF-8, bad JSON, a number of more digits than Python converts, nesting past the
        # parser's depth
        raise unprocessable({"body": "invalid"}) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise unprocessable(error_codes(exc, maps)) from None


# ------------------------------------------------------------------------------ the document

_ERRORS: dict[int, tuple[str, type[BaseModel]]] = {
    400: ("The request could not be read", ApiError),
    401: ("Not signed in (no session, or an expired one)", ApiError),
    403: ("The member's role may not do this, or the CSRF token is missing or wrong", ApiError),
}
_BODY_ERRORS: dict[int, tuple[str, type[BaseModel]]] = {
    413: ("The body is larger than console.max_body_bytes", ApiError),
    415: ("The body is not application/json", ApiError),
}
_REASONS = {
    200: "OK",
    201: "Created",
    404: "Not found",
    409: "Not possible in the member's present state",
    422: "Input refused: the field errors",
}


def _responses_of(op: Operation) -> dict[int, tuple[str, type[BaseModel]]]:
    out = dict(_ERRORS)
    if op.body is not None:
        out.update(_BODY_ERRORS)
    if op.body is not None or op.query is not None:
        out[422] = (_REASONS[422], FieldErrors)
    for status, model in op.responses.items():
        out[status] = (_REASONS.get(status, "OK"), model)
    return dict(sorted(out.items()))


Refs = dict[tuple[type[BaseModel], str], Any]


def _schemas(ops: list[Operation]) -> tuple[Refs, Any]:
    pairs: set[tuple[type[BaseModel], JsonSchemaMode]] = set()
    for op in ops:
        if op.body is not None:
            pairs.add((op.body, "validation"))
        if op.query is not None:
            pairs.add((op.query, "validation"))
        for _, model in _responses_of(op).values():
            pairs.add((model, "serialization"))
    ordered = sorted(pairs, key=lambda p: (p[0].__name__, p[1]))
    refs, top = models_json_schema(ordered, ref_template=REF)
    out: Refs = {}
    for (found, mode), schema in refs.items():
        if issubclass(found, BaseModel):
            out[(found, mode)] = schema
    return out, top.get("$defs", {})


def _parameters(model: type[BaseModel], defs: Mapping[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in prop.items() if k not in ("title", "description")},
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _security(op: Operation) -> list[dict[str, list[str]]]:
    # a browser session (state changes with its CSRF token), or a member's API token
    if op.method in STATE_CHANGING:
        return [{"session": [], "csrf": []}, {"token": []}]
    return [{"session": []}, {"token": []}]


def _operation(op: Operation, refs: Refs, defs: Mapping[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": list(op.tags),
        "security": _security(op),
        "x-role": str(op.access),
    }
    if op.description:
        doc["description"] = op.description
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{(\w+)\}", op.path)
    ]
    if op.query is not None:
        parameters += _parameters(op.query, defs)
    if parameters:
        doc["parameters"] = parameters
    if op.body is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    doc["responses"] = {
        str(status): {
            "description": text,
            "content": {"application/json": {"schema": refs[(model, "serialization")]}},
        }
        for status, (text, model) in _responses_of(op).items()
    }
    return doc


def openapi_document(operations: list[Operation]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `operations` (deterministic: sorted paths and schemas)."""
    refs, defs = _schemas(operations)
    paths: dict[str, dict[str, Any]] = {}
    for op in sorted(operations, key=lambda o: (o.path, o.method)):
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs, defs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Suido Hotline console API",
            "version": VERSION,
            "description": (
                "The agent console's operations. Sign in on the console (a session cookie); "
                f"state changes send the session's CSRF token (GET /api/v1/me) in {CSRF_HEADER}. "
                "Or send a member's API token (`hotline agents token <login>`) as "
                "`Authorization: Bearer <token>`: no cookie and no CSRF token then."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(defs.items())),
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": COOKIE_NAME},
                "csrf": {"type": "apiKey", "in": "header", "name": CSRF_HEADER},
                "token": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def document_of(app: web.Application) -> dict[str, Any]:
    ops = operations_of(app)
    if ops.document is None:
        ops.document = openapi_document(ops.items)
    return ops.document


async def get_openapi(request: web.Request) -> web.StreamResponse:
    return web.json_response(document_of(request.app))


def setup(app: web.Application) -> None:
    """Describe the routes added before the generator existed and serve the document."""
    describe(
        app,
        Operation(
            "GET",
            "/api/v1/me",
            Role.AGENT,
            "getMe",
            "The member signed in",
            {200: Me},
            tags=("me",),
        ),
    )
    describe(
        app,
        Operation(
            "GET",
            "/api/v1/agent/state",
            Role.AGENT,
            "getAgentState",
            "The signed-in agent's state in the queue",
            {200: AgentStateView, 409: ApiError},
            tags=("agent",),
        ),
    )
    describe(
        app,
        Operation(
            "PUT",
            "/api/v1/agent/state",
            Role.AGENT,
            "putAgentState",
            "Go ready, pause with a reason, or log out of the queue",
            {200: AgentStateView, 409: ApiError},
            body=StateChange,
            tags=("agent",),
        ),
    )
    add_route(app, "GET", OPENAPI_PATH, get_openapi, Role.AGENT, name="api-openapi")
