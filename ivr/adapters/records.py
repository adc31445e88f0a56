"""`DbCallRecorder`: the call session's `CallRecorder` into the database's contact trail."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from ivr.callerid import normalise_caller_id
from ivr.calls.records import CallRecord
from ivr.store.batching import BatchLoop
from ivr.store.calls import (
    AccountMatched,
    CallClosed,
    CallLog,
    CallOpened,
    TrailEntry,
    TrailEvent,
)

log = logging.getLogger(__name__)

# trail entries handed over within this long of each other share one transaction (a SIGKILL may
# lose the last interval of the trail)
RECORD_BATCH_S = 0.25
RECORD_RETRY_S = 1.0
# how long `DbCallRecorder.write` waits for its batch (the session bounds it too)
RECORD_WAIT_S = 10.0


def _parse_time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class DbCallRecorder:
    """`CallRecorder` into the append-only contact trail (`calls` + `call_events`).

    Every trail entry is handed over as it happens, with its own time, and written in batches
    (`ivr.store.batching`): whatever all calls handed over in the last `interval_s` is one
    transaction, in order. So a killed engine loses at most the last batch of the trail, and
    reports see waits and answer times as they were. `write` (the session's end) adds the end
    and waits until it is committed. Keyed digits are not stored: they may be customer
    numbers, and the trail already says what the caller chose.
    """

    def __init__(self, call_log: CallLog, *, interval_s: float = RECORD_BATCH_S) -> None:
        self._log = call_log
        self._pending: list[TrailEntry] = []
        self._loop = BatchLoop(
            "call-records",
            self._write_batch,
            lambda: bool(self._pending),
            interval_s=interval_s,
            retry_s=RECORD_RETRY_S,
        )

    @property
    def batches(self) -> int:
        return self._loop.batches

    def start(self) -> None:
        self._loop.start()

    async def aclose(self) -> None:
        await self._loop.aclose()

    async def flush(self) -> bool:
        """Wait until every entry handed over so far is committed (False: not within the
        record wait; the entries stay pending)."""
        return await self._loop.stored(RECORD_WAIT_S)

    def _hand_over(self, entry: TrailEntry) -> None:
        self._pending.append(entry)
        self._loop.start()
        self._loop.poke()

    def opened(self, call_id: str, caller: str, at: datetime) -> None:
        self._hand_over(CallOpened(call_id, normalise_caller_id(caller), at))

    def event(self, call_id: str, kind: str, at: datetime, data: Mapping[str, str]) -> None:
        self._hand_over(TrailEvent(call_id, kind, at, data))

    def matched(self, call_id: str, customer_number: str, by: str, at: datetime) -> None:
        self._hand_over(AccountMatched(call_id, customer_number, by, at))

    async def write(self, record: CallRecord) -> None:
        now = datetime.now(UTC)
        self._hand_over(
            CallClosed(
                record.call_id,
                _parse_time(record.ended_at) or now,
                ended=record.outcome != "detached",
                reason_code=record.outcome or None,
                caller=normalise_caller_id(record.caller),
                started_at=_parse_time(record.started_at) or now,
            )
        )
        # the session bounds this wait (calls.record_write_timeout_s); the entries stay pending
        # and are written with a later batch if the database is slow
        await self.flush()

    async def _write_batch(self) -> bool:
        batch, self._pending = self._pending, []
        try:
            await self._log.append_many(batch)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("call trail not written (%s); retrying", type(exc).__name__)
            self._pending = batch + self._pending
            return False
        return True
