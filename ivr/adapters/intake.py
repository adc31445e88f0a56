"""`ServiceIntake`: the flow's `IntakeSink` on the intake service."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from ivr.adapters.accounts import IVR_ACTOR
from ivr.domain import RequestKind
from ivr.errors import IntakeRejected
from ivr.flow.ports import IntakeOutcome
from ivr.intake.fields import intake_fields
from ivr.intake.service import MAX_KEY_LENGTH, IntakeRequest, IntakeService

_KEY_MAX = MAX_KEY_LENGTH


def _stored_key(key: str) -> str:
    if len(key) <= _KEY_MAX:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class ServiceIntake:
    """`IntakeSink` on `IntakeService`: field names mapped, rejections as ``field:code``, and
    at most one request per key (the service keeps the key in the request's own transaction).
    """

    def __init__(self, service: IntakeService) -> None:
        self._service = service

    async def create(
        self, kind: str, fields: Mapping[str, str], key: str, *, call_id: str | None = None
    ) -> IntakeOutcome:
        try:
            request_kind = RequestKind(kind)
        except ValueError:
            return IntakeOutcome(False, errors=("kind:unknown",))
        request = IntakeRequest(
            request_kind,
            IVR_ACTOR,
            IVR_ACTOR,
            intake_fields(request_kind, fields),
            call_id,
            idempotency_key=_stored_key(key),
        )
        try:
            receipt = await self._service.submit(request)
        except IntakeRejected as rejected:
            errors = tuple(f"{name}:{code}" for name, code in sorted(rejected.errors.items()))
            return IntakeOutcome(False, errors=errors)
        return IntakeOutcome(True, confirmation=receipt.confirmation)
