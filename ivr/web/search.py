"""An agent's account search on the console: the agent page's search section (`POST
/agent/search`, so that what is searched for stays out of the browser's history) and
`GET /api/v1/accounts?customer_number=|phone=|kana=`.

Both go through `ivr.store.search`, which writes one audit row per account shown with the agent
(``agent:<login>``) and the call they are on, if any. Nothing searched for is logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import aiohttp_jinja2
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.accounts import AuditContext
from ivr.store.models import Account
from ivr.store.search import (
    MAX_RESULTS,
    SEARCH_BY,
    AccountQuery,
    InvalidTerm,
    SearchBy,
    SearchResult,
    account_query,
    search_accounts,
)
from ivr.store.staff import Role
from ivr.web.access import add_route
from ivr.web.context import Clock
from ivr.web.desk import my_view, page_context
from ivr.web.forms import read_form, text_field
from ivr.web.i18n import language_of
from ivr.web.intake_texts import ACCOUNT_STATUSES, PAYMENT_METHODS, error_text, pick
from ivr.web.openapi import Operation, answer, api_route, read_query, unprocessable
from ivr.web.pages import me
from ivr.web.render import render
from ivr.web.targets import transfer_departments

AUDIT_REASON = "agent_search"
MAX_TERM = 64


class AccountsQuery(BaseModel):
    """Exactly one of the three: a customer number, a phone number (as typed, any format), or
    the first characters of the holder's name in kana (katakana or hiragana)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_number: str | None = Field(None, max_length=MAX_TERM, examples=["0000000013"])
    phone: str | None = Field(None, max_length=MAX_TERM, examples=["093-582-1234"])
    kana: str | None = Field(None, max_length=MAX_TERM, examples=["シケン", "すいどう"])


class PremiseFound(BaseModel):
    id: int
    address: str
    postal_code: str
    meter_number: str


class AccountFound(BaseModel):
    customer_number: str
    holder_name: str
    holder_kana: str
    status: Literal["active", "stopped", "shut_off"]
    balance_yen: int
    overdue_since: date | None
    payment_method: str
    premises: list[PremiseFound]
    phones: list[str]


class AccountList(BaseModel):
    """The accounts found, at most `limit`; `more`: others match too (narrow the search)."""

    accounts: list[AccountFound]
    more: bool
    limit: int


def account_found(account: Account) -> AccountFound:
    return AccountFound(
        customer_number=account.customer_number,
        holder_name=account.holder_name,
        holder_kana=account.holder_kana,
        status=account.status,
        balance_yen=account.balance_yen,
        overdue_since=account.overdue_since,
        payment_method=account.payment_method,
        premises=[
            PremiseFound(
                id=p.id, address=p.address, postal_code=p.postal_code, meter_number=p.meter_number
            )
            for p in account.premises
        ],
        phones=list(account.phones),
    )


@dataclass(frozen=True, slots=True)
class Searcher:
    db: AsyncEngine
    clock: Clock


SEARCHER = web.AppKey("searcher", Searcher)


def audit_context(request: web.Request) -> AuditContext:
    """The agent who searches and the call they are on (the pool knows it), if any."""
    view = my_view(request)
    return AuditContext(
        f"agent:{me(request).member.login}",
        AUDIT_REASON,
        view.call_id if view is not None else None,
    )


async def run_search(request: web.Request, query: AccountQuery) -> SearchResult:
    searcher = request.app[SEARCHER]
    return await search_accounts(searcher.db, query, audit_context(request), searcher.clock())


# ------------------------------------------------------------------------------ the API


def query_of(asked: AccountsQuery) -> AccountQuery:
    given = [(by, v) for by in SEARCH_BY if (v := getattr(asked, by)) not in (None, "")]
    if len(given) != 1:
        raise unprocessable({"query": "one_term" if given else "required"})
    by, raw = given[0]
    try:
        return account_query(by, raw)
    except InvalidTerm as bad:
        raise unprocessable({by: bad.code}) from None


async def get_accounts(request: web.Request) -> web.StreamResponse:
    query = query_of(read_query(request, AccountsQuery))
    found = await run_search(request, query)
    return answer(
        AccountList(
            accounts=[account_found(a) for a in found.accounts],
            more=found.more,
            limit=MAX_RESULTS,
        )
    )


# ------------------------------------------------------------------------------ the page


def empty_search() -> dict[str, Any]:
    return {"by": "kana", "term": "", "error": None, "accounts": None, "more": False}


async def post_search(request: web.Request) -> web.StreamResponse:
    """The agent page with the search's results (or why the term cannot be searched)."""
    form = await read_form(request)
    by_text = text_field(form, "by", 20)
    term = text_field(form, "term", MAX_TERM) or ""
    lang = language_of(request)
    search = empty_search() | {"term": term}
    by: SearchBy = "kana"
    for known in SEARCH_BY:
        if by_text == known:
            by = known
    search["by"] = by
    status = 200
    if not term.strip():
        search["error"] = error_text("required", lang)
        status = 422
    else:
        try:
            found = await run_search(request, account_query(by, term))
        except InvalidTerm as bad:
            search["error"] = error_text(bad.code, lang)
            status = 422
        else:
            search["accounts"] = found.accounts
            search["more"] = found.more
    context = {
        "member": me(request).member,
        **page_context(request),
        "transfer_departments": await transfer_departments(request),
        "search": search,
    }
    return render(request, "agent.html", context, status=status)


def setup(app: web.Application, db: AsyncEngine, clock: Clock) -> None:
    app[SEARCHER] = Searcher(db, clock)
    env = aiohttp_jinja2.get_env(app)
    env.globals["account_status"] = lambda status, lang: pick(ACCOUNT_STATUSES, status, lang)
    env.globals["payment_method"] = lambda method, lang: pick(PAYMENT_METHODS, method, lang)
    add_route(app, "POST", "/agent/search", post_search, Role.AGENT, name="agent-search")
    api_route(
        app,
        Operation(
            "GET",
            "/api/v1/accounts",
            Role.AGENT,
            "searchAccounts",
            "Search accounts by customer number, phone or name kana (audited)",
            {200: AccountList},
            query=AccountsQuery,
            description=(
                "Exactly one of the parameters. Kana matches the start of the holder's reading "
                f"(at least two characters); at most {MAX_RESULTS} accounts. Every account "
                "shown, and a search that found none, is written to the audit log with the "
                "member and the call they are on."
            ),
            tags=("accounts",),
            name="api-accounts",
        ),
        get_accounts,
    )
