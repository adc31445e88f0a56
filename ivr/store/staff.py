"""Staff accounts, console sessions and failed log-ins in the database (SQLite and PostgreSQL).

`StaffStore` keeps the people who sign in to the console: a log-in id, a display name, one role
(agent < supervisor < admin), the phone endpoint an agent takes calls on, skills, the UI language
and an argon2 hash (`ivr.store.passwords`); staff are disabled, never deleted, so the call trail's
references stay valid. `WebSessions` keeps the server-side sessions of `ivr.web.sessions` under
the SHA-256 of the cookie's random key. `LoginFailures` is the window the log-in rate limit counts
in. Every function returns frozen dataclasses; times are aware UTC from the caller's clock.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.errors import HotlineError
from ivr.store.tables import LANGUAGES, login_failures, staff, web_sessions

LOGIN_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class Role(enum.StrEnum):
    """What a member of staff may open; each role may open what the roles below it may."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANKS = {Role.AGENT: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}


class StaffError(HotlineError):
    """A staff account cannot be added or changed as asked (the message says why)."""


def normalise_login(text: str) -> str | None:
    """The log-in id as stored (lower case), or None when `text` cannot be one."""
    login = text.strip().lower()
    return login if LOGIN_PATTERN.fullmatch(login) else None


@dataclass(frozen=True, slots=True)
class StaffMember:
    id: int
    login: str
    display_name: str
    role: Role
    endpoint: str | None
    skills: tuple[str, ...]
    language: str
    disabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NewStaff:
    login: str
    display_name: str
    role: Role
    endpoint: str | None = None
    skills: tuple[str, ...] = ()
    language: str = "ja"


@dataclass(frozen=True, slots=True)
class Credentials:
    member: StaffMember
    password_hash: str


@dataclass(frozen=True, slots=True)
class WebSession:
    key_hash: str
    member: StaffMember
    csrf_token: str
    data: Mapping[str, Any]
    created_at: datetime
    last_seen_at: datetime


_MEMBER_COLUMNS = (
    staff.c.id,
    staff.c.login,
    staff.c.display_name,
    staff.c.role,
    staff.c.endpoint,
    staff.c.skills,
    staff.c.language,
    staff.c.disabled,
    staff.c.created_at,
    staff.c.updated_at,
)


def _member(row: Any) -> StaffMember:
    return StaffMember(
        id=row.id,
        login=row.login,
        display_name=row.display_name,
        role=Role(row.role),
        endpoint=row.endpoint,
        skills=tuple(row.skills),
        language=row.language,
        disabled=bool(row.disabled),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class StaffStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, new: NewStaff, password_hash: str, now: datetime) -> StaffMember:
        login = normalise_login(new.login)
        if login is None:
            raise StaffError(
                f"{new.login!r} is not a log-in id: lower-case letters, digits, '.', '_', '-'"
            )
        if new.language not in LANGUAGES:
            raise StaffError(f"language must be one of {', '.join(LANGUAGES)}")
        row = {
            "login": login,
            "display_name": new.display_name,
            "role": new.role.value,
            "endpoint": new.endpoint,
            "skills": list(new.skills),
            "language": new.language,
            "password_hash": password_hash,
            "disabled": False,
            "created_at": now,
            "updated_at": now,
        }
        try:
            async with self.engine.begin() as conn:
                await conn.execute(sa.insert(staff).values(row))
        except IntegrityError:
            raise StaffError(f"there is already a member of staff {login!r}") from None
        member = await self.by_login(login)
        assert member is not None  # noqa: S101 — inserted just above
        return member

    async def by_login(self, login: str) -> StaffMember | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(*_MEMBER_COLUMNS).where(staff.c.login == login))
            ).first()
        return _member(row) if row is not None else None

    async def by_id(self, staff_id: int) -> StaffMember | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(*_MEMBER_COLUMNS).where(staff.c.id == staff_id))
            ).first()
        return _member(row) if row is not None else None

    async def credentials(self, login: str) -> Credentials | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(*_MEMBER_COLUMNS, staff.c.password_hash).where(staff.c.login == login)
                )
            ).first()
        return Credentials(_member(row), row.password_hash) if row is not None else None

    async def all(self) -> list[StaffMember]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(*_MEMBER_COLUMNS).order_by(staff.c.login))
            return [_member(r) for r in rows]

    async def set_password(self, login: str, password_hash: str, now: datetime) -> bool:
        """A new password; every session of the member ends. False when there is no such id."""
        return await self._change(login, {"password_hash": password_hash}, now, end_sessions=True)

    async def replace_hash(self, staff_id: int, password_hash: str, now: datetime) -> None:
        """The same password hashed with today's parameters (rehash on need): sessions stay."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(staff)
                .where(staff.c.id == staff_id)
                .values(password_hash=password_hash, updated_at=now)
            )

    async def set_disabled(self, login: str, disabled: bool, now: datetime) -> bool:
        """Disable (every session ends) or enable again. False when there is no such id."""
        return await self._change(login, {"disabled": disabled}, now, end_sessions=disabled)

    async def _change(
        self, login: str, values: dict[str, Any], now: datetime, *, end_sessions: bool
    ) -> bool:
        async with self.engine.begin() as conn:
            found = (
                await conn.execute(sa.select(staff.c.id).where(staff.c.login == login))
            ).scalar()
            if found is None:
                return False
            await conn.execute(
                sa.update(staff).where(staff.c.id == found).values(**values, updated_at=now)
            )
            if end_sessions:
                await conn.execute(sa.delete(web_sessions).where(web_sessions.c.staff_id == found))
        return True


def _expired(idle_before: datetime, created_before: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        web_sessions.c.last_seen_at < idle_before, web_sessions.c.created_at < created_before
    )


class WebSessions:
    """The console's sessions; the caller hashes the cookie's key (`ivr.web.sessions`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(
        self,
        key_hash: str,
        staff_id: int,
        csrf_token: str,
        data: Mapping[str, Any],
        now: datetime,
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.insert(web_sessions).values(
                    key_hash=key_hash,
                    staff_id=staff_id,
                    csrf_token=csrf_token,
                    data=dict(data),
                    created_at=now,
                    last_seen_at=now,
                )
            )

    async def get(self, key_hash: str) -> WebSession | None:
        """The session with its member (a disabled member's sessions are gone already)."""
        query = (
            sa.select(
                *_MEMBER_COLUMNS,
                web_sessions.c.key_hash,
                web_sessions.c.csrf_token,
                web_sessions.c.data,
                web_sessions.c.created_at.label("session_created_at"),
                web_sessions.c.last_seen_at,
            )
            .join(staff, staff.c.id == web_sessions.c.staff_id)
            .where(web_sessions.c.key_hash == key_hash)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return WebSession(
            key_hash=row.key_hash,
            member=_member(row),
            csrf_token=row.csrf_token,
            data=dict(row.data),
            created_at=row.session_created_at,
            last_seen_at=row.last_seen_at,
        )

    async def touch(self, key_hash: str, now: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(web_sessions)
                .where(web_sessions.c.key_hash == key_hash)
                .values(last_seen_at=now)
            )

    async def set_data(self, key_hash: str, data: Mapping[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(web_sessions)
                .where(web_sessions.c.key_hash == key_hash)
                .values(data=dict(data))
            )

    async def delete(self, key_hash: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sa.delete(web_sessions).where(web_sessions.c.key_hash == key_hash))

    async def delete_expired(self, idle_before: datetime, created_before: datetime) -> int:
        """Delete sessions idle since before `idle_before` or created before `created_before`."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.delete(web_sessions).where(
                    sa.or_(
                        web_sessions.c.last_seen_at < idle_before,
                        web_sessions.c.created_at < created_before,
                    )
                )
            )
        return int(result.rowcount)

    async def expired_members(self, idle_before: datetime, created_before: datetime) -> set[str]:
        """The logins of members who have a session idle since before `idle_before` or created
        before `created_before` (expired, not yet deleted)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(staff.c.login)
                .join(web_sessions, web_sessions.c.staff_id == staff.c.id)
                .where(_expired(idle_before, created_before))
                .distinct()
            )
            return {str(r.login) for r in rows}

    async def live_count(self, login: str, idle_before: datetime, created_before: datetime) -> int:
        """How many sessions of `login` have not expired."""
        async with self.engine.connect() as conn:
            n = await conn.execute(
                sa.select(sa.func.count())
                .select_from(web_sessions.join(staff, staff.c.id == web_sessions.c.staff_id))
                .where(staff.c.login == login, sa.not_(_expired(idle_before, created_before)))
            )
            return int(n.scalar() or 0)

    async def count_of(self, staff_id: int) -> int:
        async with self.engine.connect() as conn:
            n = await conn.execute(
                sa.select(sa.func.count())
                .select_from(web_sessions)
                .where(web_sessions.c.staff_id == staff_id)
            )
            return int(n.scalar() or 0)


@dataclass(frozen=True, slots=True)
class FailureKey:
    scope: str  # "login" or "address"
    key: str


class LoginFailures:
    """Failed log-ins by log-in id and by client address, kept while they count."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(self, keys: Sequence[FailureKey], at: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.insert(login_failures),
                [{"scope": k.scope, "key": k.key, "at": at} for k in keys],
            )

    async def since(self, key: FailureKey, since: datetime) -> list[datetime]:
        """The times of `key`'s failures after `since`, oldest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(login_failures.c.at)
                .where(
                    login_failures.c.scope == key.scope,
                    login_failures.c.key == key.key,
                    login_failures.c.at > since,
                )
                .order_by(login_failures.c.at)
            )
            return [r.at for r in rows]

    async def clear(self, key: FailureKey) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.delete(login_failures).where(
                    login_failures.c.scope == key.scope, login_failures.c.key == key.key
                )
            )

    async def purge(self, before: datetime) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.delete(login_failures).where(login_failures.c.at < before)
            )
        return int(result.rowcount)
