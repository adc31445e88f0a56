"""Customer and confirmation numbers: formats and their Damm check digit.

Residents key these numbers on a phone keypad or read them out to an agent, so a single wrong digit
or two swapped neighbours must be caught before any database look-up. The Damm check digit catches
every single-digit error and every adjacent transposition (Luhn misses 09↔90), which is why it is
used for both numbers.
"""

from __future__ import annotations

from ivr.errors import InvalidNumber

# A weakly totally anti-symmetric quasigroup of order 10 (Damm, 2004); rows are the interim digit.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

CUSTOMER_NUMBER_DIGITS = 10
"""9 digits of serial plus one check digit."""
CONFIRMATION_DIGITS = 8
"""7 digits plus one check digit: short enough to read back as two groups of four."""

_CONFIRMATION_SPACE = 10_000_000
# multiplier coprime with 10: the serial → confirmation map is a bijection on 0..10^7-1, so numbers
# are unique without a look-up, yet consecutive requests do not get consecutive numbers
_CONFIRMATION_MUL = 7_392_943
_CONFIRMATION_ADD = 1_234_567


def check_digit(digits: str) -> str:
    """The Damm check digit of a string of decimal digits."""
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return str(interim)


def has_valid_check_digit(number: str) -> bool:
    """True if `number` is all digits and its last digit is the Damm check digit of the rest."""
    if len(number) < 2 or not number.isascii() or not number.isdigit():
        return False
    interim = 0
    for ch in number:
        interim = _DAMM[interim][int(ch)]
    return interim == 0


def clean_digits(raw: str) -> str:
    """Drop the separators people type or say (spaces, hyphens, full-width digits become ASCII)."""
    out = []
    for ch in raw.strip():
        if ch in " -‐－ー―　":
            continue
        if "０" <= ch <= "９":
            ch = chr(ord(ch) - ord("０") + ord("0"))
        out.append(ch)
    return "".join(out)


def customer_number(serial: int) -> str:
    """The customer number for a serial (0 ≤ serial < 10^9)."""
    if not 0 <= serial < 10 ** (CUSTOMER_NUMBER_DIGITS - 1):
        raise ValueError("customer serial out of range")
    body = f"{serial:0{CUSTOMER_NUMBER_DIGITS - 1}d}"
    return body + check_digit(body)


def parse_customer_number(raw: str) -> str:
    """Normalise a keyed or typed customer number; `InvalidNumber` if format or check digit fail."""
    number = clean_digits(raw)
    if len(number) != CUSTOMER_NUMBER_DIGITS or not has_valid_check_digit(number):
        raise InvalidNumber("not a valid customer number")
    return number


def confirmation_number(serial: int) -> str:
    """The confirmation number for a request serial (its database id); unique below 10^7."""
    scrambled = (serial * _CONFIRMATION_MUL + _CONFIRMATION_ADD) % _CONFIRMATION_SPACE
    body = f"{scrambled:0{CONFIRMATION_DIGITS - 1}d}"
    return body + check_digit(body)


def parse_confirmation_number(raw: str) -> str:
    """Normalise a keyed confirmation number; `InvalidNumber` if format or check digit fail."""
    number = clean_digits(raw)
    if len(number) != CONFIRMATION_DIGITS or not has_valid_check_digit(number):
        raise InvalidNumber("not a valid confirmation number")
    return number


def speakable(number: str) -> tuple[str, ...]:
    """Groups of at most four digits, in the order a prompt reads them back."""
    return tuple(number[i : i + 4] for i in range(0, len(number), 4))
