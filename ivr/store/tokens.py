"""Per-member API tokens for `/api/v1` (`Authorization: Bearer <token>`): for scripts and other
systems that call the console's API without a browser session.

A member has at most one token; issuing a new one replaces the old. The token is shown once
(`hotline agents token <login>`) and only its SHA-256 is stored, so a copy of the table lets
nobody in. A disabled member's token signs nobody in.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.staff import _MEMBER_COLUMNS, StaffMember, _member
from ivr.store.tables import api_tokens, staff

PREFIX = "hlt_"
"""Tokens start with this: a secret scanner (or a person) can tell what leaked."""
# how often a token's last use is written: each API call would otherwise be a write
TOUCH_EVERY = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokens:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def issue(self, login: str, now: datetime) -> str | None:
        """A new token for `login` (replacing any earlier one); None if there is no such member."""
        token = PREFIX + secrets.token_urlsafe(32)
        async with self.engine.begin() as conn:
            staff_id = (
                await conn.execute(sa.select(staff.c.id).where(staff.c.login == login))
            ).scalar_one_or_none()
            if staff_id is None:
                return None
            await conn.execute(sa.delete(api_tokens).where(api_tokens.c.staff_id == staff_id))
            await conn.execute(
                sa.insert(api_tokens).values(
                    staff_id=staff_id, token_hash=token_hash(token), created_at=now
                )
            )
        return token

    async def revoke(self, login: str) -> bool:
        async with self.engine.begin() as conn:
            staff_id = (
                await conn.execute(sa.select(staff.c.id).where(staff.c.login == login))
            ).scalar_one_or_none()
            if staff_id is None:
                return False
            done = await conn.execute(
                sa.delete(api_tokens).where(api_tokens.c.staff_id == staff_id)
            )
        return done.rowcount > 0

    async def member_of(self, token: str, now: datetime) -> StaffMember | None:
        """The member `token` signs in (not disabled), or None."""
        if not token.startswith(PREFIX) or len(token) > 100:
            return None
        hashed = token_hash(token)
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(*_MEMBER_COLUMNS, api_tokens.c.last_used_at)
                    .join(api_tokens, api_tokens.c.staff_id == staff.c.id)
                    .where(api_tokens.c.token_hash == hashed)
                )
            ).first()
        if row is None:
            return None
        member = _member(row)
        if member.disabled:
            return None
        if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
            async with self.engine.begin() as conn:
                await conn.execute(
                    sa.update(api_tokens)
                    .where(api_tokens.c.token_hash == hashed)
                    .values(last_used_at=now)
                )
        return member
