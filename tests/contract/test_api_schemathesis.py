"""The REST API against its own OpenAPI document, by schemathesis: the console served on a free
port (a migrated SQLite file with the store tests' accounts, a virtual clock), signed in as an
agent with the session's CSRF header; every operation of /api/v1/openapi.json gets a bounded
number of generated requests, valid and invalid, and every answer must be no server error, a
documented status, of the documented content type and conforming to its schema.

schemathesis drives `requests` (blocking), so the console runs on an event loop of its own in a
thread; the test waits for it to be up and stops it at the end.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ivr.store.db import open_engine
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.web.app import create_app
from ivr.web.sessions import COOKIE_NAME
from tests.integration.store.storedata import seed
from tests.support.console import (
    PASSWORD,
    VirtualClock,
    add_member,
    console_config,
    copy_database,
    make_template,
)

pytestmark = pytest.mark.contract

EXAMPLES = 15  # per operation and generation mode: the run stays well under a minute
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class LiveConsole:
    url: str
    stop: threading.Event


async def _serve(db_path: Path, started: Future[str], stop: threading.Event) -> None:
    engine = open_engine(copy_database(db_path, db_path.parent / "live"))
    passwords = Passwords.for_tests()
    await seed(engine)
    await add_member(engine, passwords, "agent1", Role.AGENT, endpoint="PJSIP/agent1")
    await add_member(engine, passwords, "boss", Role.ADMIN)
    app = create_app(console_config(), engine, VirtualClock(), passwords=passwords)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        started.set_result(f"http://127.0.0.1:{port}")
        while not stop.is_set():  # noqa: ASYNC110 — the stop comes from another thread
            await asyncio.sleep(0.05)
    finally:
        await runner.cleanup()
        await engine.dispose()


@pytest.fixture
def live_console(tmp_path: Path) -> Iterator[LiveConsole]:
    (tmp_path / "live").mkdir()
    template = make_template(tmp_path)
    started: Future[str] = Future()
    stop = threading.Event()

    def run() -> None:
        try:
            asyncio.run(_serve(template, started, stop))
        except BaseException as exc:  # the test must hear of a console that did not start
            if not started.done():
                started.set_exception(exc)
            raise

    thread = threading.Thread(target=run, name="live-console", daemon=True)
    thread.start()
    try:
        yield LiveConsole(started.result(timeout=30), stop)
    finally:
        stop.set()
        thread.join(timeout=10)


def signed_in(console: LiveConsole, login: str = "agent1") -> tuple[requests.Session, str]:
    session = requests.Session()
    page = session.get(console.url + "/login", timeout=10)
    token = TOKEN.search(page.text)
    assert token
    answer = session.post(
        console.url + "/login",
        data={"login": login, "password": PASSWORD, "csrf_token": token.group(1)},
        timeout=10,
    )
    assert answer.status_code == 200  # followed to the member's start page
    me = session.get(console.url + "/api/v1/me", timeout=10).json()
    return session, str(me["csrf_token"])


def operations_of(console: LiveConsole, session: requests.Session) -> list[Any]:
    document: dict[str, Any] = session.get(console.url + "/api/v1/openapi.json", timeout=10).json()
    assert document["openapi"] == "3.1.0"
    schema = schemathesis.openapi.from_dict(document)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document is one schemathesis can read
        operations.append(result.ok())
    return operations


def exercise(
    console: LiveConsole, session: requests.Session, csrf: str, operations: list[Any]
) -> dict[str, set[int]]:
    """Each operation's generated requests, valid and invalid, checked against the document;
    the statuses seen per operation."""
    seen: dict[str, set[int]] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case[Any]) -> None:
                # schemathesis makes up values for the document's security schemes (a session
                # cookie, a bearer token): a made-up one is a 401 before the operation runs. This
                # run signs in by the real session (tokens: tests/unit/web/test_api_tokens.py)
                if case.headers:
                    case.headers.pop("Authorization", None)
                if case.cookies:
                    case.cookies.pop(COOKIE_NAME, None)
                response = case.call(
                    base_url=console.url,
                    session=session,
                    headers={"X-CSRF-Token": csrf},
                    timeout=10,
                )
                seen.setdefault(case.operation.label, set()).add(response.status_code)
                case.validate_response(response, checks=CHECKS)

            run()
    return seen


def test_every_operation_answers_by_its_document_and_never_a_5xx(
    live_console: LiveConsole,
) -> None:
    session, csrf = signed_in(live_console)
    operations = operations_of(live_console, session)
    labels = sorted(op.label for op in operations)
    assert labels == [
        "GET /api/v1/accounts",
        "GET /api/v1/agent/state",
        "GET /api/v1/departments",
        "GET /api/v1/me",
        "GET /api/v1/notices",
        "GET /api/v1/on-duty",
        "GET /api/v1/staff",
        "GET /api/v1/wallboard",
        "POST /api/v1/agent/reject",
        "POST /api/v1/agent/wrap-up",
        "POST /api/v1/calls/{call_id}/hold",
        "POST /api/v1/calls/{call_id}/resume",
        "POST /api/v1/calls/{call_id}/transfer",
        "POST /api/v1/calls/{call_id}/transfer/cancel",
        "POST /api/v1/calls/{call_id}/transfer/complete",
        "POST /api/v1/departments",
        "POST /api/v1/departments/change",
        "POST /api/v1/departments/remove",
        "POST /api/v1/intake",
        "POST /api/v1/notices",
        "POST /api/v1/notices/end",
        "POST /api/v1/on-duty",
        "POST /api/v1/staff/change",
        "POST /api/v1/staff/disable",
        "PUT /api/v1/agent/state",
        "PUT /api/v1/wallboard/agents/{agent}/state",
    ]
    seen = exercise(live_console, session, csrf, operations)
    # the runs reached the operations themselves (the documents' examples do), not only refusals
    assert {200, 422} <= seen["GET /api/v1/accounts"]
    assert {201, 422} <= seen["POST /api/v1/intake"]
    assert 200 in seen["PUT /api/v1/agent/state"]
    assert 200 in seen["GET /api/v1/me"]
    assert seen["GET /api/v1/departments"] == {403}  # an agent's session


def test_the_admins_department_operations_answer_by_their_document(
    live_console: LiveConsole,
) -> None:
    """As an admin, so the writes run for real (added, changed, refused, removed)."""
    session, csrf = signed_in(live_console, "boss")
    operations = [op for op in operations_of(live_console, session) if "/departments" in op.label]
    assert len(operations) == 4
    seen = exercise(live_console, session, csrf, operations)
    assert 200 in seen["GET /api/v1/departments"]
    assert {200, 422} <= seen["POST /api/v1/departments"]
    assert 422 in seen["POST /api/v1/departments/change"]
    assert 422 in seen["POST /api/v1/departments/remove"]
