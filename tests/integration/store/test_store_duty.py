"""The leak line's on-duty lists in the database (SQLite and PostgreSQL): seeded once from
config.yaml, replaced from the console with an audit row, read back in ring order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.duty import DutyError, DutyRoster, DutyStep
from ivr.store.tables import audit_log

pytestmark = pytest.mark.integration

T0 = datetime(2027, 2, 10, 12, 0, tzinfo=UTC)
CONFIG = {"emergency_duty": [DutyStep("PJSIP/onduty", "PJSIP/onduty", 20)]}


async def audit(engine: AsyncEngine) -> list[tuple[str, str, str, datetime]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(
                audit_log.c.actor, audit_log.c.action, audit_log.c.reason, audit_log.c.at
            ).order_by(audit_log.c.id)
        )
        return [tuple(r) for r in rows]


async def test_config_seeds_a_list_once_and_the_consoles_edit_wins(engine: AsyncEngine) -> None:
    roster = DutyRoster(engine)
    assert await roster.on_duty("emergency_duty") is None  # nothing kept: config's is rung
    assert await roster.seed(CONFIG, T0) == ["emergency_duty"]
    assert await roster.on_duty("emergency_duty") == tuple(CONFIG["emergency_duty"])

    edited = [
        DutyStep("Sato", "PJSIP/duty-2", 15),
        DutyStep("Suzuki", "PJSIP/duty-1/sip:duty-1@127.0.0.1:5090", 30),
    ]
    later = T0 + timedelta(hours=1)
    kept = await roster.replace("emergency_duty", edited, "admin1", later)
    assert kept.steps == tuple(edited)
    # the engine's next start seeds nothing over the admin's list
    assert await roster.seed(CONFIG, later + timedelta(hours=1)) == []
    tonight = await roster.tonight("emergency_duty")
    assert tonight is not None
    assert (tonight.steps, tonight.updated_by, tonight.updated_at) == (
        tuple(edited),
        "admin1",
        later,
    )
    assert [(a, b) for a, b, _, _ in await audit(engine)] == [
        ("config.yaml", "on_duty_seed"),
        ("admin1", "on_duty_set"),
    ]
    reason, at = (await audit(engine))[1][2:]
    assert reason.startswith("emergency_duty: Sato (PJSIP/duty-2, 15 s), Suzuki")
    assert at == later


async def test_a_bad_list_gives_field_errors_and_changes_nothing(engine: AsyncEngine) -> None:
    roster = DutyRoster(engine)
    await roster.seed(CONFIG, T0)
    bad = [DutyStep("Sato", "PJSIP/duty-2", 15), DutyStep(" ", "tel:0312345678", 2)]
    with pytest.raises(DutyError) as raised:
        await roster.replace("emergency_duty", bad, "admin1", T0)
    assert set(raised.value.fields) == {"name-2", "endpoint-2", "ring_s-2"}
    assert await roster.on_duty("emergency_duty") == tuple(CONFIG["emergency_duty"])
    assert [b for _, b, _, _ in await audit(engine)] == ["on_duty_seed"]


async def test_an_emptied_list_is_kept_empty_not_config(engine: AsyncEngine) -> None:
    roster = DutyRoster(engine)
    await roster.seed(CONFIG, T0)
    await roster.replace("emergency_duty", [], "admin1", T0)
    assert await roster.on_duty("emergency_duty") == ()
    assert [kept.department for kept in await roster.all()] == ["emergency_duty"]
