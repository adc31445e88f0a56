"""Server-side console sessions: an aiohttp-session storage whose cookie holds only a random key.

The key (32 random bytes) is in an HttpOnly, SameSite=Strict cookie; the database keeps its
SHA-256, the member it signs in, the session's CSRF token and a little data (the UI language),
so a copy of the table signs nobody in. A session ends at log-out (its row deleted), after
`console.session_idle_s` without a request, `console.session_absolute_s` after sign-in, or when
the member is disabled or given a new password (`ivr.store.staff`). Expiry is judged with the
console's clock on every load and by `purge_expired` (at each sign-in and every
`SWEEP_EVERY_S` on its own, `ivr.web.desk`), so tests move a virtual clock instead of waiting. A
member left without a live session is handed to `on_expired`: nobody sits at that console.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp_session import AbstractStorage, Session, get_session, new_session

from ivr.config import ConsoleConfig
from ivr.store.staff import StaffMember, WebSessions
from ivr.web.context import Clock

COOKIE_NAME = "hotline_session"
# a busy page asks often: its session's last-seen time is written at most this often
TOUCH_EVERY_S = 60.0
# longer cookies are not ours (token_urlsafe(32) is 43 characters)
MAX_COOKIE_CHARS = 64


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The member a request's session signs in, with the session's CSRF token."""

    member: StaffMember
    csrf_token: str
    data: dict[str, Any]


SIGNED_IN = web.RequestKey("signed_in", SignedIn)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class DbSessionStorage(AbstractStorage):
    def __init__(self, sessions: WebSessions, config: ConsoleConfig, clock: Clock) -> None:
        # no max_age: a browser-session cookie; the server decides when a session ends
        super().__init__(
            cookie_name=COOKIE_NAME,
            httponly=True,
            samesite="Strict",
            secure=config.secure_cookie,
            path="/",
        )
        self.sessions = sessions
        self.idle = timedelta(seconds=config.session_idle_s)
        self.absolute = timedelta(seconds=config.session_absolute_s)
        self.clock = clock
        self.on_expired: list[Callable[[str], Awaitable[None]]] = []
        """Told the login of a member whose last live session expired (nobody sits at their
        console any more): the desk logs them out of the queue."""

    def _bounds(self, now: datetime) -> tuple[datetime, datetime]:
        return now - self.idle, now - self.absolute

    async def _expired(self, login: str) -> None:
        if await self.sessions.live_count(login, *self._bounds(self.clock())):
            return  # another browser of theirs is still signed in
        for hook in self.on_expired:
            await hook(login)

    async def purge_expired(self) -> int:
        """Delete the expired sessions, telling `on_expired` of each member left without a
        live one (a browser closed or left: no request came to expire it); how many deleted."""
        bounds = self._bounds(self.clock())
        logins = await self.sessions.expired_members(*bounds)
        deleted = await self.sessions.delete_expired(*bounds)
        for login in sorted(logins):
            await self._expired(login)
        return deleted

    async def load_session(self, request: web.Request) -> Session:
        key = self.load_cookie(request)
        if not key or len(key) > MAX_COOKIE_CHARS:
            return Session(None, data=None, new=True)
        hashed = key_hash(key)
        found = await self.sessions.get(hashed)
        if found is None:
            return Session(None, data=None, new=True)
        now = self.clock()
        if found.member.disabled:
            await self.sessions.delete(hashed)
            return Session(None, data=None, new=True)
        if now - found.last_seen_at > self.idle or now - found.created_at > self.absolute:
            await self.sessions.delete(hashed)
            await self._expired(found.member.login)
            return Session(None, data=None, new=True)
        if (now - found.last_seen_at).total_seconds() >= TOUCH_EVERY_S:
            await self.sessions.touch(hashed, now)
        data = dict(found.data)
        request[SIGNED_IN] = SignedIn(found.member, found.csrf_token, data)
        return Session(
            key,
            data={"created": int(found.created_at.timestamp()), "session": data},
            new=False,
        )

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        if session.empty:
            if session.identity is not None:
                await self.sessions.delete(key_hash(str(session.identity)))
            self.save_cookie(response, "")
            return
        data = dict(session)
        if session.identity is None:
            staff_id = data.pop("staff_id")
            key = secrets.token_urlsafe(32)
            await self.sessions.create(
                key_hash(key), int(staff_id), secrets.token_urlsafe(32), data, self.clock()
            )
            session.set_new_identity(key)
            self.save_cookie(response, key)
            return
        await self.sessions.set_data(key_hash(str(session.identity)), data)

    async def forget(self, session: Session) -> None:
        if session.identity is not None:
            await self.sessions.delete(key_hash(str(session.identity)))


def signed_in(request: web.Request) -> SignedIn | None:
    """The member signed in on this request (the access middleware has loaded the session)."""
    return request.get(SIGNED_IN)


async def load_signed_in(request: web.Request) -> SignedIn | None:
    await get_session(request)
    return signed_in(request)


async def begin_session(
    request: web.Request, storage: DbSessionStorage, member: StaffMember
) -> None:
    """Sign `member` in with a NEW session (the old one, if any, is deleted: no fixation)."""
    await storage.forget(await get_session(request))
    session = await new_session(request)
    session["staff_id"] = member.id
    session["lang"] = member.language


async def end_session(request: web.Request) -> None:
    (await get_session(request)).invalidate()
