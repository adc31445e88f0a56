"""The ports of the flow, the call session and routing implemented on the real services, one
module per port: accounts and notices from `ivr.store`, calendars from `routing.hours`, intake
through `ivr.intake`, the call trail into the database, callback places for the queues.

Which call asks: the adapters are shared by every call, so the call id comes with each request
(`call_id=` on the port methods), never from hidden state such as the logging context: an audit
row names the call that looked the account up, whatever task it ran in.
"""

from ivr.adapters.accounts import IVR_ACTOR, StoreAccounts, account_summary
from ivr.adapters.calendars import RoutingCalendar, UnknownCalendar
from ivr.adapters.callbacks import DbCallbackStore
from ivr.adapters.intake import ServiceIntake
from ivr.adapters.notices import (
    NOTICES_REFRESH_S,
    NoticeDesk,
    NoticeRejected,
    StoreNotices,
)
from ivr.adapters.records import DbCallRecorder

__all__ = [
    "IVR_ACTOR",
    "NOTICES_REFRESH_S",
    "DbCallRecorder",
    "DbCallbackStore",
    "NoticeDesk",
    "NoticeRejected",
    "RoutingCalendar",
    "ServiceIntake",
    "StoreAccounts",
    "StoreNotices",
    "UnknownCalendar",
    "account_summary",
]
