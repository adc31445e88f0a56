"""`StoreAccounts`: the flow's `AccountDirectory` on the account store, every look-up audited."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from ivr.errors import InvalidNumber
from ivr.flow.ports import AccountSummary
from ivr.store.accounts import AccountStore, AuditContext
from ivr.store.models import Account, MatchKind

IVR_ACTOR = "ivr"

_STATUS: Mapping[str, Literal["active", "stopped", "shut_off"]] = {
    "active": "active",
    "stopped": "stopped",
    "shut_off": "shut_off",
}
# the flow knows three ways to pay: debit, a slip (convenience store or invoice), a card
_PAYMENT: Mapping[str, Literal["bank_debit", "slip", "card"]] = {
    "bank_debit": "bank_debit",
    "convenience_store": "slip",
    "invoice": "slip",
    "credit_card": "card",
}


def account_summary(account: Account) -> AccountSummary:
    """What the flow may know: no name, no address; the area of the first premise for notices."""
    return AccountSummary(
        customer_number=account.customer_number,
        area=account.premises[0].area_code if account.premises else "",
        status=_STATUS.get(account.status, "active"),
        balance_yen=account.balance_yen,
        payment=_PAYMENT.get(account.payment_method, "slip"),
    )


class StoreAccounts:
    """`AccountDirectory` on `AccountStore`; every look-up is audited as actor ``ivr``, with the
    call it was made for (the caller of the port says which: one adapter serves every call)."""

    def __init__(self, store: AccountStore) -> None:
        self._store = store

    async def lookup_by_phone(
        self, phone: str, *, call_id: str | None = None
    ) -> Sequence[AccountSummary]:
        ctx = AuditContext(IVR_ACTOR, "caller-id match", call_id)
        match = await self._store.match_caller(phone, ctx)
        if match.kind is MatchKind.WITHHELD:
            return []
        return [account_summary(a) for a in match.accounts]

    async def lookup_by_customer_number(
        self, number: str, *, call_id: str | None = None
    ) -> AccountSummary | None:
        ctx = AuditContext(IVR_ACTOR, "customer number entered", call_id)
        try:
            account = await self._store.by_customer_number(number, ctx)
        except InvalidNumber:
            # audited by the store as a failed look-up; to the caller it is "not found"
            return None
        return None if account is None else account_summary(account)
