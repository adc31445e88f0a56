"""The agents' knowledge base: FAQ entries in Japanese and English (the question, the answer an
agent reads out, a category, the department for what the answer cannot settle), curated by
admins, proposed by agents from a wrap-up ("this answer worked") and accepted by an admin.

Search is a substring match of every word of the query on `search_text`: the question, answer
and category in one normalised form (`normalise_text`: NFKC, so half-width katakana and
full-width letters and digits become their ordinary forms, hiragana as katakana, case folded,
single spaces). The same form is stored and searched, so ｽｲﾄﾞｳ, すいどう and スイドウ find the same
entries. Japanese is written without spaces between words, so a word tokenizer (SQLite FTS5's
default, PostgreSQL's text search configurations) would index whole sentences as one token; a
`LIKE '%word%'` scan of a few thousand live entries is what the FAQ needs (bench/kb_search.py
measures it), on both databases alike.

Every change writes an audit row (who, what, when) in its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.errors import HotlineError
from ivr.store.search import normalise_kana
from ivr.store.tables import LANGUAGES, audit_log, call_events, kb_entries, service_requests

EntryState = Literal["proposed", "live", "retired"]
MAX_QUESTION = 500
MAX_ANSWER = 2000
MAX_CATEGORY = 32
MAX_QUERY = 100
MAX_WORDS = 8
FOUND_MAX = 20


class EntryNotFound(HotlineError):
    """No knowledge-base entry has this id (in the state asked for)."""


@dataclass(frozen=True, slots=True)
class EntryDraft:
    lang: str
    question: str
    answer: str
    category: str
    department: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    lang: str
    question: str
    answer: str
    category: str
    department: str | None
    state: EntryState
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    call_id: str | None


def normalise_text(text: str) -> str:
    """`text` in the form stored and searched (the account search's kana form, case folded)."""
    return normalise_kana(text).casefold()


def draft_problems(draft: EntryDraft, departments: Sequence[str]) -> dict[str, str]:
    """Field → problem code (`required`, `unknown`, `too_long`); empty when it can be stored."""
    problems: dict[str, str] = {}
    if draft.lang not in LANGUAGES:
        problems["lang"] = "unknown"
    for name, value, most in (
        ("question", draft.question, MAX_QUESTION),
        ("answer", draft.answer, MAX_ANSWER),
        ("category", draft.category, MAX_CATEGORY),
    ):
        if not value.strip():
            problems[name] = "required"
        elif len(value) > most:
            problems[name] = "too_long"
    if draft.department and draft.department not in departments:
        problems["department"] = "unknown"
    return problems


def query_words(query: str) -> list[str]:
    """The words searched for (normalised, at most `MAX_WORDS`)."""
    return normalise_text(query[:MAX_QUERY]).split()[:MAX_WORDS]


def _entry(row: Mapping[Any, Any]) -> Entry:
    return Entry(**{name: row[name] for name in Entry.__slots__})


def _values(draft: EntryDraft) -> dict[str, Any]:
    question, answer, category = draft.question.strip(), draft.answer.strip(), draft.category
    return {
        "lang": draft.lang,
        "question": question,
        "answer": answer,
        "category": category.strip(),
        "department": draft.department or None,
        "search_text": normalise_text(f"{question} {answer} {category}"),
    }


def _audit(actor: str, action: str, reason: str, at: datetime) -> sa.Insert:
    return sa.insert(audit_log).values(
        at=at, actor=actor[:100], account_id=None, action=action, reason=reason[:200]
    )


class KnowledgeBase:
    def __init__(self, db: AsyncEngine) -> None:
        self._db = db

    async def add(
        self,
        draft: EntryDraft,
        actor: str,
        now: datetime,
        *,
        state: EntryState = "live",
        call_id: str | None = None,
    ) -> Entry:
        """Store a checked draft: live (an admin's) or proposed (an agent's, from a call)."""
        async with self._db.begin() as conn:
            entry_id = (
                await conn.execute(
                    sa.insert(kb_entries)
                    .values(
                        **_values(draft),
                        state=state,
                        created_at=now,
                        created_by=actor[:100],
                        updated_at=now,
                        updated_by=actor[:100],
                        call_id=call_id,
                    )
                    .returning(kb_entries.c.id)
                )
            ).scalar_one()
            action = "kb_propose" if state == "proposed" else "kb_add"
            await conn.execute(_audit(actor, action, f"kb {entry_id} {draft.category}", now))
        return await self._one(entry_id)

    async def edit(self, entry_id: int, draft: EntryDraft, actor: str, now: datetime) -> Entry:
        return await self._change(entry_id, _values(draft), "kb_edit", actor, now)

    async def retire(self, entry_id: int, actor: str, now: datetime) -> Entry:
        return await self._change(entry_id, {"state": "retired"}, "kb_retire", actor, now)

    async def accept(self, entry_id: int, actor: str, now: datetime) -> Entry:
        """A proposed entry goes live (`EntryNotFound` if it is not proposed)."""
        return await self._change(
            entry_id, {"state": "live"}, "kb_accept", actor, now, only="proposed"
        )

    async def _change(
        self,
        entry_id: int,
        values: Mapping[str, Any],
        action: str,
        actor: str,
        now: datetime,
        *,
        only: EntryState | None = None,
    ) -> Entry:
        where = kb_entries.c.id == entry_id
        if only is not None:
            where = sa.and_(where, kb_entries.c.state == only)
        async with self._db.begin() as conn:
            done = await conn.execute(
                sa.update(kb_entries)
                .where(where)
                .values(**values, updated_at=now, updated_by=actor[:100])
            )
            if done.rowcount != 1:
                raise EntryNotFound(f"no entry {entry_id}")
            await conn.execute(_audit(actor, action, f"kb {entry_id}", now))
        return await self._one(entry_id)

    async def get(self, entry_id: int) -> Entry | None:
        found = await self._select(kb_entries.c.id == entry_id)
        return found[0] if found else None

    async def _one(self, entry_id: int) -> Entry:
        found = await self.get(entry_id)
        if found is None:
            raise EntryNotFound(f"no entry {entry_id}")
        return found

    async def listing(self, state: EntryState) -> list[Entry]:
        return await self._select(kb_entries.c.state == state, limit=500)

    async def search(
        self,
        query: str,
        *,
        lang: str | None = None,
        categories: Iterable[str] = (),
        limit: int = FOUND_MAX,
    ) -> list[Entry]:
        """Live entries holding every word of `query` (any, with no words), in `lang` if given
        and in one of `categories` if any are given."""
        conditions = [kb_entries.c.state == "live"]
        conditions += [
            kb_entries.c.search_text.contains(w, autoescape=True) for w in query_words(query)
        ]
        if lang is not None:
            conditions.append(kb_entries.c.lang == lang)
        wanted = list(categories)
        if wanted:
            conditions.append(kb_entries.c.category.in_(wanted))
        return await self._select(sa.and_(*conditions), limit=limit)

    async def call_path(self, call_id: str) -> list[str]:
        """What a call went through in the IVR, in order, once each: the flow nodes of its
        trail and the kinds of the requests made on it (the categories the pop suggests by)."""
        async with self._db.connect() as conn:
            rows = await conn.execute(
                sa.select(call_events.c.data)
                .where(call_events.c.call_id == call_id)
                .order_by(call_events.c.id)
            )
            path = [str(d["node"]) for (d,) in rows if isinstance(d, dict) and d.get("node")]
            kinds = await conn.execute(
                sa.select(service_requests.c.kind).where(service_requests.c.call_id == call_id)
            )
            path += [str(k) for (k,) in kinds]
        return list(dict.fromkeys(path))

    async def suggested(self, path: Sequence[str], limit: int = FOUND_MAX) -> list[Entry]:
        """Live entries whose category is a node or request kind of `path` (latest first)."""
        if not path:
            return []
        found = await self.search("", categories=path, limit=limit)
        rank = {category: i for i, category in enumerate(path)}
        return sorted(found, key=lambda e: -rank.get(e.category, -1))

    async def _select(self, where: sa.ColumnElement[bool], limit: int = 1) -> list[Entry]:
        query = sa.select(kb_entries).where(where).order_by(kb_entries.c.id).limit(limit)
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_entry(r) for r in rows]
