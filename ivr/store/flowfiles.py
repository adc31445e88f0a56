"""The flow files as they last went live: every dialplan file and the prompt catalog, by name.

`FlowRegistry.start` asks for them when the files on disk do not load at engine start, so a
broken edit saved while the engine was down does not keep the hotline down: the engine serves
the last accepted version and shows the rejection. Saved whole, in one transaction, whenever a
new version goes live (and only when something changed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.tables import accepted_flow_files

FileKind = Literal["flow", "catalog"]


@dataclass(frozen=True, slots=True)
class AcceptedFile:
    name: str
    kind: FileKind
    text: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


class AcceptedFlowFiles:
    """`ivr.calls.flows.FlowKeeper` on the engine's database."""

    def __init__(self, db: AsyncEngine) -> None:
        self._db = db

    async def save(self, files: Sequence[AcceptedFile], at: datetime) -> bool:
        """Replace the kept set with `files`; False (nothing written) when it is the same."""
        async with self._db.begin() as conn:
            kept = {
                row.name: row.digest
                for row in await conn.execute(
                    sa.select(accepted_flow_files.c.name, accepted_flow_files.c.digest)
                )
            }
            if kept == {f.name: f.digest for f in files}:
                return False
            await conn.execute(sa.delete(accepted_flow_files))
            if files:
                await conn.execute(
                    sa.insert(accepted_flow_files),
                    [
                        {
                            "name": f.name,
                            "kind": f.kind,
                            "text": f.text,
                            "digest": f.digest,
                            "accepted_at": at,
                        }
                        for f in files
                    ],
                )
        return True

    async def last(self) -> tuple[list[AcceptedFile], datetime | None]:
        """The kept files (catalog first) and when they went live; ([], None) if none."""
        async with self._db.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(accepted_flow_files).order_by(
                        accepted_flow_files.c.kind, accepted_flow_files.c.name
                    )
                )
            ).all()
        files = [AcceptedFile(r.name, r.kind, r.text) for r in rows]
        return files, (max(r.accepted_at for r in rows) if rows else None)
