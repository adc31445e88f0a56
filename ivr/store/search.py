"""An agent's account search: by customer number, phone number, or the prefix of the holder's
name in kana, bounded to `MAX_RESULTS` accounts, audited.

The search and its audit rows are one transaction: one row per account shown, with the agent
and the call they are on (`AuditContext`), and a row without an account when nothing was found,
so every look-up is in the audit log whether it showed anyone or not. Kana is matched as stored
(katakana, one ASCII space between surname and given name): what the agent types is brought to
that form first (hiragana to katakana, full-width spaces, runs of spaces), so ``すいどう`` finds
``スイドウ ハナコ``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.callerid import normalise_number
from ivr.errors import InvalidNumber
from ivr.numbers import parse_customer_number
from ivr.store.accounts import AuditContext, load_accounts, write_audit
from ivr.store.models import Account
from ivr.store.tables import accounts, phones

MAX_RESULTS = 20
MIN_KANA = 2
"""A single kana would list twenty strangers: the reading's first two characters at least."""
MAX_KANA = 50

SearchBy = Literal["customer_number", "phone", "kana"]
SEARCH_BY: tuple[SearchBy, ...] = ("kana", "phone", "customer_number")

_KATAKANA = re.compile(r"[\u30a1-\u30fa\u30fc\u30fb ]+")
_HIRAGANA_TO_KATAKANA = {c: c + 0x60 for c in range(0x3041, 0x3097)}


class InvalidTerm(ValueError):
    """The search term cannot be what it is searched by; `code` says why (an intake code)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class AccountQuery:
    """One search: `term` as normalised by `account_query` (an E.164 number, a customer number
    with its check digit, or katakana)."""

    by: SearchBy
    term: str


@dataclass(frozen=True, slots=True)
class SearchResult:
    accounts: tuple[Account, ...]
    more: bool
    """More accounts match than were shown (the agent should narrow the search)."""


def normalise_kana(text: str) -> str:
    """What an agent typed as a reading, in the stored form (katakana, single ASCII spaces)."""
    text = unicodedata.normalize("NFKC", text).translate(_HIRAGANA_TO_KATAKANA)
    return " ".join(text.split())


def account_query(by: SearchBy, raw: str) -> AccountQuery:
    """The search for `raw` by `by`; `InvalidTerm` when it cannot be one."""
    if by == "customer_number":
        try:
            return AccountQuery(by, parse_customer_number(raw))
        except InvalidNumber:
            raise InvalidTerm("invalid_number") from None
    if by == "phone":
        e164 = normalise_number(raw)
        if e164 is None:
            raise InvalidTerm("invalid_phone")
        return AccountQuery(by, e164)
    kana = normalise_kana(raw)
    if len(kana) > MAX_KANA:
        raise InvalidTerm("too_long")
    if not _KATAKANA.fullmatch(kana):
        raise InvalidTerm("invalid_kana")
    if len(kana.replace(" ", "")) < MIN_KANA:
        raise InvalidTerm("too_short")
    return AccountQuery(by, kana)


_ACTIONS: dict[SearchBy, str] = {
    "customer_number": "search_number",
    "phone": "search_phone",
    "kana": "search_kana",
}


def _kana_prefix(conn: sa.Connection, prefix: str) -> sa.ColumnElement[bool]:
    if conn.dialect.name == "sqlite":
        # SQLite's LIKE folds case and so cannot use a plain index; its text compares by code
        # point, so the prefix's range is the same set of rows
        return sa.and_(accounts.c.holder_kana >= prefix, accounts.c.holder_kana < prefix + "\uffff")
    return accounts.c.holder_kana.startswith(prefix, autoescape=True)


def _matching_ids(conn: sa.Connection, query: AccountQuery, limit: int) -> list[int]:
    statement = sa.select(accounts.c.id)
    if query.by == "customer_number":
        statement = statement.where(accounts.c.customer_number == query.term)
    elif query.by == "phone":
        statement = statement.where(
            accounts.c.id.in_(sa.select(phones.c.account_id).where(phones.c.e164 == query.term))
        )
    else:
        statement = statement.where(_kana_prefix(conn, query.term)).order_by(accounts.c.holder_kana)
    rows = conn.execute(statement.order_by(accounts.c.id).limit(limit + 1)).scalars().all()
    return [int(r) for r in rows]


def _search(
    conn: sa.Connection, query: AccountQuery, ctx: AuditContext, now: datetime, limit: int
) -> SearchResult:
    ids = _matching_ids(conn, query, limit)
    shown = load_accounts(conn, ids[:limit])
    write_audit(conn, ctx, _ACTIONS[query.by], [a.id for a in shown] or [None], now)
    return SearchResult(shown, more=len(ids) > limit)


async def search_accounts(
    db: AsyncEngine,
    query: AccountQuery,
    ctx: AuditContext,
    now: datetime,
    limit: int = MAX_RESULTS,
) -> SearchResult:
    """The accounts `query` finds (at most `limit`, kana in reading order), audited under `ctx`
    at `now` in the same transaction."""
    async with db.begin() as conn:
        return await conn.run_sync(_search, query, ctx, now, limit)
