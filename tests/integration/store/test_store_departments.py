"""Departments in the database (SQLite and PostgreSQL): seeded once from config.yaml, changed,
added and removed from the console with an audit row each, a removed one never seeded back,
and a bad department refused whole with its field codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.departments import Department, DepartmentBook, DepartmentError
from ivr.store.tables import audit_log

pytestmark = pytest.mark.integration

T0 = datetime(2027, 2, 10, 12, 0, tzinfo=UTC)
CALENDARS = ("phone", "construction")
CONFIG = [
    Department("construction", "工事課", "Construction", "PJSIP/agent3", None, "construction"),
    Department("emergency_duty", "漏水当番", "Leak duty"),
]


async def actions(engine: AsyncEngine) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.action).order_by(audit_log.c.id)
        )
        return [(r[0], r[1]) for r in rows]


async def test_config_seeds_once_and_the_consoles_changes_win(engine: AsyncEngine) -> None:
    book = DepartmentBook(engine)
    assert await book.department("construction") is None  # nothing kept: config's is rung
    assert await book.seed(CONFIG, T0) == ["construction", "emergency_duty"]
    later = T0 + timedelta(hours=1)
    changed = Department("construction", "工事課", "Works", None, "+81312345678", "phone")
    await book.save(changed, "admin:boss", later, calendars=CALENDARS, new=False)
    await book.save(
        Department("sewer", "下水道課", "Sewers", "PJSIP/sewer/sip:s@127.0.0.1:5090"),
        "admin:boss",
        later,
        calendars=CALENDARS,
        new=True,
    )
    await book.remove("sewer", "admin:boss", later, in_use=())
    # the next start seeds nothing over the admin's rows, nor the removed one back
    assert await book.seed([*CONFIG, Department("sewer", "a", "b", "PJSIP/x")], later) == []
    kept = await book.department("construction")
    assert kept is not None
    assert (kept.label_en, kept.endpoint, kept.number, kept.calendar) == (
        "Works",
        None,
        "+81312345678",
        "phone",
    )
    assert (kept.updated_by, kept.updated_at) == ("admin:boss", later)
    gone = await book.department("sewer")
    assert gone is not None
    assert gone.removed
    assert [d.code for d in await book.all()] == ["construction", "emergency_duty"]
    assert await actions(engine) == [
        ("config.yaml", "department_seed"),
        ("config.yaml", "department_seed"),
        ("admin:boss", "department_set"),
        ("admin:boss", "department_add"),
        ("admin:boss", "department_removed"),
    ]
    # a removed code may be added again
    await book.save(
        Department("sewer", "下水道課", "Sewers", "PJSIP/sewer"),
        "admin:boss",
        later,
        calendars=CALENDARS,
        new=True,
    )
    assert [d.code for d in await book.all()] == ["construction", "emergency_duty", "sewer"]


async def test_a_bad_department_is_refused_whole(engine: AsyncEngine) -> None:
    book = DepartmentBook(engine)
    await book.seed(CONFIG, T0)
    bad = Department("construction", " ", "x" * 101, "tel:03", "03-12", "nope")
    with pytest.raises(DepartmentError) as raised:
        await book.save(bad, "admin:boss", T0, calendars=CALENDARS, new=False)
    assert raised.value.fields == {
        "label_ja": "required",
        "label_en": "too_long",
        "endpoint": "bad_endpoint",
        "number": "bad_number",
        "line": "both_lines",
        "calendar": "unknown_calendar",
    }
    with pytest.raises(DepartmentError) as taken:
        await book.save(CONFIG[0], "admin:boss", T0, calendars=CALENDARS, new=True)
    assert taken.value.fields == {"code": "taken"}
    with pytest.raises(DepartmentError) as unknown:
        await book.save(
            Department("nope", "a", "b", "PJSIP/x"), "admin:boss", T0, calendars=(), new=False
        )
    assert unknown.value.fields == {"code": "unknown"}
    with pytest.raises(DepartmentError) as control:
        await book.save(
            Department("sewer", "下水\x00道課", "Sewer\nage", "PJSIP/x"),
            "admin:boss",
            T0,
            calendars=(),
            new=True,
        )
    assert control.value.fields == {"label_ja": "bad_label", "label_en": "bad_label"}
    with pytest.raises(DepartmentError) as in_use:
        await book.remove("construction", "admin:boss", T0, in_use={"construction"})
    assert in_use.value.fields == {"code": "in_use"}
    # the leak line's department may have no line; others must have one
    leak = Department("emergency_duty", "漏水", "Leaks")
    with pytest.raises(DepartmentError):
        await book.save(leak, "admin:boss", T0, calendars=(), new=False)
    await book.save(leak, "admin:boss", T0, calendars=(), new=False, line_optional=True)
    assert [a for _, a in await actions(engine)] == ["department_seed"] * 2 + ["department_set"]


async def test_the_codes_a_flow_may_name_are_the_rows_in_force_and_configs_not_yet_kept(
    engine: AsyncEngine,
) -> None:
    book = DepartmentBook(engine)
    # nothing kept yet: config's (a console or a check before any engine start)
    assert await book.codes(CONFIG) == {"construction", "emergency_duty"}
    await book.seed(CONFIG, T0)
    sewer = Department("sewer", "下水道課", "Sewers", "PJSIP/sewer")
    await book.save(sewer, "admin:boss", T0, calendars=CALENDARS, new=True)
    await book.remove("construction", "admin:boss", T0, in_use=())
    # removed in the console: gone, though config.yaml still names it
    assert await book.codes(CONFIG) == {"emergency_duty", "sewer"}
