"""Call control: the supervisor (ARI events → sessions) and one `CallSession` task per call."""

from ivr.calls.records import CallRecord, CallRecorder, JsonlCallRecorder, MemoryCallRecorder
from ivr.calls.session import STATE_VARIABLE, CallSession
from ivr.calls.supervisor import Supervisor

__all__ = [
    "STATE_VARIABLE",
    "CallRecord",
    "CallRecorder",
    "CallSession",
    "JsonlCallRecorder",
    "MemoryCallRecorder",
    "Supervisor",
]
