"""The REST API under `/api/v1` (JSON; pydantic models at the edge) and the public `/health`.

Today: `GET /api/v1/me`, the signed-in member. A state-changing API call sends the session's
CSRF token in `X-CSRF-Token` (ivr.web.csrf); without a session the API answers 401 JSON.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from ivr.store.staff import Role
from ivr.web.access import PUBLIC, add_route
from ivr.web.pages import me


class Me(BaseModel):
    """The member signed in on this session."""

    model_config = ConfigDict(frozen=True)

    login: str
    display_name: str
    role: Role
    endpoint: str | None
    skills: tuple[str, ...]
    language: str
    csrf_token: str


def json_response(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=model.model_dump_json(), content_type="application/json"
    )


async def get_me(request: web.Request) -> web.StreamResponse:
    who = me(request)
    m = who.member
    return json_response(
        Me(
            login=m.login,
            display_name=m.display_name,
            role=m.role,
            endpoint=m.endpoint,
            skills=m.skills,
            language=str(who.data.get("lang", m.language)),
            csrf_token=who.csrf_token,
        )
    )


async def health(_request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


def add_routes(app: web.Application) -> None:
    add_route(app, "GET", "/health", health, PUBLIC, name="health")
    add_route(app, "GET", "/api/v1/me", get_me, Role.AGENT, name="api-me")
