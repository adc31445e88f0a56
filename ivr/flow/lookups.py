"""Carrying out a `LookupAccount` command against an `AccountDirectory`: the same mapping from
accounts found to the flow's `AccountResult`, for the call session and the simulator."""

from __future__ import annotations

from ivr.flow.interpreter import AccountResult, LookupAccount
from ivr.flow.ports import AccountDirectory, AccountSummary


async def look_up(
    accounts: AccountDirectory, command: LookupAccount, call_id: str | None = None
) -> AccountResult:
    found: list[AccountSummary]
    if command.by == "phone":
        found = list(await accounts.lookup_by_phone(command.value, call_id=call_id))
    else:
        one = await accounts.lookup_by_customer_number(command.value, call_id=call_id)
        found = [one] if one is not None else []
    if len(found) > 1:
        return AccountResult("several", {"account_count": str(len(found))})
    if not found:
        return AccountResult("none")
    return AccountResult("found", {**found[0].variables(), "account_count": "1"})
