"""The admin's changes to staff accounts, each with its audit row (who, what, when).

`StaffAdmin` adds members, changes their name, role, phone endpoint and skills, disables and
enables them and sets a new password, on `ivr.store.staff`'s table. The audit row names the
member's log-in id and what changed, never a password or its hash. A disabled member's sessions
end at once (and a new password ends them too), as `StaffStore` does for the command line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.domain import ENDPOINT_PATTERN
from ivr.store.staff import NewStaff, Role, StaffError, StaffMember, StaffStore
from ivr.store.tables import audit_log, staff

SKILL_PATTERN = re.compile(r"[a-z][a-z0-9_:-]{0,31}")
MAX_SKILLS = 20


@dataclass(frozen=True, slots=True)
class StaffChanges:
    """What an admin may change of a member (the log-in id stays)."""

    display_name: str
    role: Role
    endpoint: str | None
    skills: tuple[str, ...]


def check_changes(changes: StaffChanges) -> dict[str, str]:
    """Field error codes (`required`, `too_long`, `bad_endpoint`, `bad_skill`, `too_many`)."""
    errors: dict[str, str] = {}
    if not changes.display_name.strip():
        errors["display_name"] = "required"
    elif len(changes.display_name) > 100:
        errors["display_name"] = "too_long"
    if changes.endpoint is not None and not ENDPOINT_PATTERN.fullmatch(changes.endpoint):
        errors["endpoint"] = "bad_endpoint"
    if len(changes.skills) > MAX_SKILLS:
        errors["skills"] = "too_many"
    elif any(not SKILL_PATTERN.fullmatch(s) for s in changes.skills):
        errors["skills"] = "bad_skill"
    return errors


def _describe(changes: StaffChanges) -> str:
    return (
        f"role={changes.role.value} endpoint={changes.endpoint or '-'} "
        f"skills={','.join(changes.skills) or '-'}"
    )


class StaffAdmin:
    def __init__(self, db: AsyncEngine) -> None:
        self._db = db
        self.store = StaffStore(db)

    async def _audit(self, actor: str, action: str, reason: str, now: datetime) -> None:
        async with self._db.begin() as conn:
            await conn.execute(
                sa.insert(audit_log).values(
                    at=now, actor=actor[:100], account_id=None, action=action, reason=reason[:200]
                )
            )

    async def add(
        self, new: NewStaff, password_hash: str, actor: str, now: datetime
    ) -> StaffMember:
        """A new member (`StaffError` when the log-in id is taken or not one)."""
        member = await self.store.add(new, password_hash, now)
        changes = StaffChanges(member.display_name, member.role, member.endpoint, member.skills)
        await self._audit(actor, "staff_add", f"{member.login}: {_describe(changes)}", now)
        return member

    async def change(
        self, login: str, changes: StaffChanges, actor: str, now: datetime
    ) -> StaffMember | None:
        """The member with `changes` made (None: no such member)."""
        async with self._db.begin() as conn:
            done = await conn.execute(
                sa.update(staff)
                .where(staff.c.login == login)
                .values(
                    display_name=changes.display_name.strip(),
                    role=changes.role.value,
                    endpoint=changes.endpoint,
                    skills=list(changes.skills),
                    updated_at=now,
                )
            )
            if done.rowcount == 0:
                return None
            await conn.execute(
                sa.insert(audit_log).values(
                    at=now,
                    actor=actor[:100],
                    account_id=None,
                    action="staff_change",
                    reason=f"{login}: {_describe(changes)}"[:200],
                )
            )
        return await self.store.by_login(login)

    async def set_disabled(
        self, login: str, disabled: bool, actor: str, now: datetime
    ) -> StaffMember | None:
        if not await self.store.set_disabled(login, disabled, now):
            return None
        await self._audit(actor, "staff_disable" if disabled else "staff_enable", login, now)
        return await self.store.by_login(login)

    async def set_password(self, login: str, password_hash: str, actor: str, now: datetime) -> bool:
        """A new password (the member's sessions end); the audit row says only that."""
        if not await self.store.set_password(login, password_hash, now):
            return False
        await self._audit(actor, "staff_password", login, now)
        return True


__all__ = ["StaffAdmin", "StaffChanges", "StaffError", "check_changes"]
