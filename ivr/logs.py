"""Structured logging for the engine.

Every record carries the current `call_id` (bound with `call_context`) so a call's lines can be
found without putting personal data into message text: caller numbers, account numbers, names
and DTMF digits never go into a log message — log the call id and what happened instead.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_call_id: contextvars.ContextVar[str] = contextvars.ContextVar("call_id", default="-")


@contextmanager
def call_context(call_id: str) -> Iterator[None]:
    """Bind `call_id` to every log record emitted inside the block (and tasks it creates)."""
    token = _call_id.set(call_id)
    try:
        yield
    finally:
        _call_id.reset(token)


def bind_call_id(call_id: str) -> None:
    """Bind `call_id` for the rest of the current task (a call session's own task)."""
    _call_id.set(call_id)


class _CallIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.call_id = _call_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, call_id, message (and exception)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "call_id": getattr(record, "call_id", "-"),
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(level: str = "info", json_lines: bool = False) -> None:
    """Configure the root logger once, for the `hotline` command."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_CallIdFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s [%(call_id)s] %(message)s")
        )
    # no format here shows the process, thread or multiprocessing name: not collecting them
    # saves a getpid() system call and two look-ups on every line
    logging.logProcesses = False
    logging.logThreads = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_data_loggers()


#: Libraries whose debug and info lines carry personal data or ids: SQL parameters (aiosqlite
#: logs every statement with its values at DEBUG, SQLAlchemy's engine logger at INFO), request
#: paths (aiohttp's access log); and APScheduler's line per job run says nothing.
DATA_LOGGERS = ("aiosqlite", "sqlalchemy", "asyncpg", "aiohttp.access", "apscheduler")


def quiet_data_loggers() -> None:
    """Keep `DATA_LOGGERS` at WARNING whatever `log.level` says."""
    for name in DATA_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def call_id_filter() -> logging.Filter:
    """The filter that adds `call_id` to records (for handlers set up elsewhere, e.g. tests)."""
    return _CallIdFilter()
