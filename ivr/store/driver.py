"""`DriverStatement`: a SQLAlchemy statement compiled once, run on the DBAPI cursor.

The call trail and the call memory write a few hundred small rows a second at a peak, in batches
on the SQLite look-up path's thread (`ivr.store.lookup_path`). Through SQLAlchemy's execution
layer each row of an executemany costs more than the driver's whole insert (cache key, execution
context, `construct_params` and the result set up per row): 4.5 ms of CPU per call of the trail
in a micro-benchmark, against 0.5 ms in sqlite3 itself. Here the statement is compiled once for
the dialect and each row only goes through the bind processors SQLAlchemy would apply to it (the
UTC datetimes, JSON), so the rows written are the same; then one `executemany` on the cursor. A
driver error is raised as SQLAlchemy's wrapper of it, as it would be there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler


class DriverStatement:
    """`statement` compiled for `dialect`; `execute` and `executemany` bind named rows to it."""

    def __init__(
        self,
        statement: sa.ClauseElement,
        dialect: sa.Dialect,
        column_keys: Sequence[str] | None = None,
    ) -> None:
        compiled = statement.compile(
            dialect=dialect, column_keys=list(column_keys) if column_keys is not None else None
        )
        if not isinstance(compiled, SQLCompiler):
            raise TypeError(f"not a SQL statement: {statement!r}")
        self.sql = compiled.string
        order = list(compiled.positiontup or ())
        processors: list[Callable[[Any], Any] | None] = []
        for name in order:
            bind_type = compiled.binds[name].type
            processors.append(bind_type.dialect_impl(dialect).bind_processor(dialect))
        self._columns = tuple(zip(order, processors, strict=True))

    def params(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(row[name] if proc is None else proc(row[name]) for name, proc in self._columns)

    def execute(self, cursor: sqlite3.Cursor, row: Mapping[str, Any]) -> sqlite3.Cursor:
        params = self.params(row)
        try:
            return cursor.execute(self.sql, params)
        except sqlite3.Error as exc:
            raise _wrapped(self.sql, params, exc) from exc

    def executemany(self, cursor: sqlite3.Cursor, rows: Iterable[Mapping[str, Any]]) -> None:
        params = [self.params(row) for row in rows]
        try:
            cursor.executemany(self.sql, params)
        except sqlite3.Error as exc:
            raise _wrapped(self.sql, params, exc) from exc


def _wrapped(sql: str, params: Any, exc: sqlite3.Error) -> Exception:
    # a driver error comes out as SQLAlchemy's wrapper of it, as through `sa.Connection`, so
    # callers catch one family (`SQLAlchemyError`) whichever way the rows went
    # the values stay out of the error's text, as with our engines' `hide_parameters`
    return DBAPIError.instance(sql, params, exc, sqlite3.Error, hide_parameters=True)


def sqlite_driver(conn: sa.Connection) -> sqlite3.Connection | None:
    """The pysqlite connection under `conn` (None for another driver, aiosqlite included)."""
    driver = conn.connection.driver_connection
    return driver if isinstance(driver, sqlite3.Connection) else None
