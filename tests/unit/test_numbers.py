from __future__ import annotations

import pytest

from ivr.errors import InvalidNumber
from ivr.numbers import (
    check_digit,
    confirmation_number,
    customer_number,
    has_valid_check_digit,
    parse_confirmation_number,
    parse_customer_number,
    speakable,
)

pytestmark = pytest.mark.unit


def test_customer_number_round_trip() -> None:
    for serial in (0, 1, 42, 123_456_789, 999_999_999):
        number = customer_number(serial)
        assert len(number) == 10
        assert parse_customer_number(number) == number


def test_every_single_digit_error_and_adjacent_swap_is_caught() -> None:
    for serial in (7, 1_000_003, 584_210_937):
        number = customer_number(serial)
        for i, ch in enumerate(number):
            for d in "0123456789":
                if d != ch:
                    assert not has_valid_check_digit(number[:i] + d + number[i + 1 :])
        for i in range(len(number) - 1):
            if number[i] != number[i + 1]:
                swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
                assert not has_valid_check_digit(swapped)


@pytest.mark.parametrize("raw", ["", "123", "abcdefghij", "12345678901", "０１２３４５６７８９"])
def test_bad_customer_numbers(raw: str) -> None:
    with pytest.raises(InvalidNumber):
        parse_customer_number(raw)


def test_keyed_separators_and_full_width_digits_are_accepted() -> None:
    number = customer_number(4711)
    spaced = f"{number[:4]}-{number[4:8]} {number[8:]}"
    wide = "".join(chr(ord(c) - ord("0") + ord("０")) for c in number)
    assert parse_customer_number(spaced) == number
    assert parse_customer_number(wide) == number


def test_confirmation_numbers_are_unique_valid_and_not_sequential() -> None:
    numbers = [confirmation_number(i) for i in range(1, 20_001)]
    assert len(set(numbers)) == len(numbers)
    assert all(len(n) == 8 and parse_confirmation_number(n) == n for n in numbers)
    assert int(numbers[1]) - int(numbers[0]) != 1
    assert speakable(numbers[0]) == (numbers[0][:4], numbers[0][4:])


def test_check_digit_known_value() -> None:
    # the worked example of the Damm algorithm: 572 → 4
    assert check_digit("572") == "4"
    assert has_valid_check_digit("5724")
