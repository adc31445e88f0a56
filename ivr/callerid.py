"""Caller-ID normalisation: what Asterisk hands us → an E.164 number or a named reason why not.

Japanese callers arrive as national numbers (``0935821234``), international (``+81935821234``),
with hyphens, or not at all. Carriers and Asterisk spell the absence of a number in several ways
(``anonymous``, ``Anonymous``, ``withheld``, ``unavailable``, ``公衆電話``, an empty string), and
the flow reacts differently to each: a withheld caller is asked to key their customer number, a
payphone is not offered a callback. Pure code: no I/O.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

import phonenumbers

DEFAULT_REGION = "JP"


class CallerIdKind(enum.StrEnum):
    NUMBER = "number"
    """A valid number; `CallerId.e164` holds it."""
    WITHHELD = "withheld"
    """The caller chose not to present it (非通知, ``anonymous``, presentation prohibited)."""
    UNAVAILABLE = "unavailable"
    """The network could not deliver it (表示圏外, international gateways)."""
    PAYPHONE = "payphone"
    """A public telephone (公衆電話): no number exists to call back."""
    EMPTY = "empty"
    """Nothing at all was presented."""
    MALFORMED = "malformed"
    """Something was presented that is not a valid phone number."""


@dataclass(frozen=True, slots=True)
class CallerId:
    kind: CallerIdKind
    e164: str | None = None

    @property
    def has_number(self) -> bool:
        return self.kind is CallerIdKind.NUMBER


_WITHHELD = {
    "anonymous",
    "withheld",
    "private",
    "restricted",
    "blocked",
    "非通知",
    "ユーザ拒否",
    "p",
}
_UNAVAILABLE = {"unavailable", "unknown", "not available", "out of area", "表示圏外", "o"}
_PAYPHONE = {"公衆電話", "payphone", "coin line", "c"}


_OWN_E164_LIMIT = 4096
_own_e164: dict[str, None] = {}
"""E.164 strings this module has produced lately. Re-normalising one gives the same string (a
valid number's E.164 form parses back to itself), so they skip the parse: the session normalises
the presented number, the flow looks its E.164 form up, and the store normalises that again."""


def normalise_number(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """The E.164 form of a phone number typed or presented in `region`, or None if not valid.
    Remembered for recent numbers: each call's number is normalised for the look-up and again for
    its record, and phonenumbers' parse is the dearest step of either."""
    if raw in _own_e164:
        return raw
    e164 = _parse_number(raw, region)
    if e164 is not None and e164 not in _own_e164:
        if len(_own_e164) >= _OWN_E164_LIMIT:
            _own_e164.clear()
        _own_e164[e164] = None
    return e164


@functools.lru_cache(maxsize=4096)
def _parse_number(raw: str, region: str) -> str | None:
    text = raw.strip()
    if not text or len(text) > 32:
        return None
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_caller_id(
    number: str | None, presentation: str | None = None, region: str = DEFAULT_REGION
) -> CallerId:
    """Classify what Asterisk reports as the caller's number.

    `presentation` is ``CALLERID(pres)`` when the dialplan passes it (``prohib_*`` means withheld
    even if a number is present: we must not use a number the caller asked to hide).
    """
    if presentation and presentation.strip().lower().startswith("prohib"):
        return CallerId(CallerIdKind.WITHHELD)
    text = (number or "").strip()
    if not text:
        return CallerId(CallerIdKind.EMPTY)
    folded = text.casefold()
    if folded in _WITHHELD:
        return CallerId(CallerIdKind.WITHHELD)
    if folded in _UNAVAILABLE:
        return CallerId(CallerIdKind.UNAVAILABLE)
    if folded in _PAYPHONE:
        return CallerId(CallerIdKind.PAYPHONE)
    # Japanese carriers prefix 184 to withhold and 186 to present for a single call
    digits = text.replace("-", "").replace(" ", "")
    if digits.startswith("184") and len(digits) > 10:
        return CallerId(CallerIdKind.WITHHELD)
    if digits.startswith("186") and len(digits) > 10:
        text = digits[3:]
    e164 = normalise_number(text, region)
    if e164 is None:
        return CallerId(CallerIdKind.MALFORMED)
    return CallerId(CallerIdKind.NUMBER, e164)
