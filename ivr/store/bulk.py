"""`bulk_insert`: many rows into one table at driver speed, for the demo data and the
generated trail of the report benchmark (a million calls, ten million events).

SQLAlchemy's executemany processes every value of every row in Python (type processors,
parameter dictionaries); for a million rows that is the whole cost. So the rows go straight to
the driver in the caller's transaction: PostgreSQL's COPY (asyncpg's `copy_records_to_table`),
SQLite's `executemany` of one prepared INSERT. The values are converted here, per column, as
the column's type would store them: aware datetimes as naive UTC (`UtcDateTime`; on SQLite in
SQLAlchemy's text format, which queries compare as strings), dates on SQLite as ISO text, JSON
columns as JSON text; other values go as they are (str, int, float, bool, None).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

Convert = Callable[[Any], Any]


def _naive_utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _sqlite_time(value: datetime | None) -> str | None:
    # SQLAlchemy's SQLite DateTime text: microseconds always written
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _json_text(value: Any) -> str:
    # asyncpg's json codec takes the text too
    return json.dumps(value)


def _converter(column: sa.Column[Any], dialect: str) -> Convert | None:
    """How a value of `column` is handed to the driver (None: as it is)."""
    kind = column.type
    if isinstance(kind, sa.JSON):
        return _json_text
    if isinstance(kind, sa.types.TypeDecorator) and isinstance(kind.impl_instance, sa.DateTime):
        return _naive_utc if dialect == "postgresql" else _sqlite_time
    if isinstance(kind, sa.DateTime):
        return _naive_utc if dialect == "postgresql" else _sqlite_time
    if isinstance(kind, sa.Date) and dialect == "sqlite":
        return _sqlite_date
    return None


def _records(
    table: sa.Table, columns: list[str], rows: Sequence[dict[str, Any]], dialect: str
) -> list[tuple[Any, ...]]:
    converters = [_converter(table.c[name], dialect) for name in columns]
    if not any(converters):
        return [tuple(r[c] for c in columns) for r in rows]
    pairs = list(zip(columns, converters, strict=True))
    return [tuple(r[c] if f is None else f(r[c]) for c, f in pairs) for r in rows]


async def bulk_insert(
    conn: AsyncConnection, table: sa.Table, rows: Sequence[dict[str, Any]]
) -> None:
    """Insert `rows` (all with the same keys, the column names) into `table` within `conn`'s
    transaction."""
    if not rows:
        return
    columns = list(rows[0])
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    name = conn.dialect.name
    if driver is None or name not in ("postgresql", "sqlite"):
        await conn.execute(sa.insert(table), list(rows))
        return
    records = _records(table, columns, rows, name)
    if name == "postgresql":
        await driver.copy_records_to_table(table.name, records=records, columns=columns)
        return
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    # table and column names are our metadata's, never input
    await driver.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', records)  # noqa: S608
