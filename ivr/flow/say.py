"""Values read out to the caller: digits, numbers, dates, yen amounts and confirmation codes.

`say_prompts` turns a value into a sequence of prompt ids (`digit-3`, `num-300`, `month-3`, ...)
recorded once per language; Japanese numbers are built from 万/億 groups of place values because
their readings change with the place (さんびゃく, はっせん), English ones from words. `say_text` is
the same value as a person would write it, for the simulator and agent screens.
"""

from __future__ import annotations

import re
from datetime import date

from ivr.flow.model import SayKind

_ORDINAL_SUFFIX = {1: "st", 2: "nd", 3: "rd"}
_MONTHS_EN = (
    "January February March April May June July August September October November December"
).split()


def parse_date(value: str) -> date:
    """`2027-03-31` or `20270331` to a date; ValueError otherwise."""
    digits = value.replace("-", "").replace("/", "")
    if not re.fullmatch(r"\d{8}", digits):
        raise ValueError(f"not a date: {value!r}")
    return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))


def _int(value: str) -> int:
    text = value.replace(",", "").strip()
    if not re.fullmatch(r"\d{1,12}", text):
        raise ValueError(f"not a whole number: {value!r}")
    return int(text)


def _ja_small(n: int) -> list[str]:
    return [f"num-{(n // p % 10) * p}" for p in (1000, 100, 10, 1) if n // p % 10]


def _ja_number(n: int) -> list[str]:
    if n == 0:
        return ["num-0"]
    out: list[str] = []
    for unit, unit_id in ((10**8, "num-oku"), (10**4, "num-man")):
        if n >= unit:
            out += [*_ja_small(n // unit % 10**4), unit_id]
            n %= unit
    return out + _ja_small(n)


def _en_small(n: int) -> list[str]:
    out: list[str] = []
    if n >= 100:
        out += [f"num-{n // 100}", "num-hundred"]
        n %= 100
    if n >= 20:
        out.append(f"num-{n // 10 * 10}")
        n %= 10
    if n:
        out.append(f"num-{n}")
    return out


def _en_number(n: int) -> list[str]:
    if n == 0:
        return ["num-0"]
    out: list[str] = []
    for unit, unit_id in ((10**9, "num-billion"), (10**6, "num-million"), (10**3, "num-thousand")):
        if n >= unit:
            out += [*_en_small(n // unit % 1000), unit_id]
            n %= unit
    return out + _en_small(n)


def number_prompts(n: int, language: str) -> list[str]:
    return _ja_number(n) if language == "ja" else _en_number(n)


def say_prompts(kind: SayKind, value: str, language: str) -> tuple[str, ...]:
    """Prompt ids that read `value` as `kind`; ValueError if the value does not fit the kind."""
    if kind == "digits":
        return tuple(f"digit-{c}" for c in value if c.isdigit())
    if kind == "code":
        return tuple(
            f"digit-{c}" if c.isdigit() else f"letter-{c.lower()}"
            for c in value
            if c.isascii() and c.isalnum()
        )
    if kind == "number":
        return tuple(number_prompts(_int(value), language))
    if kind == "money":
        return (*number_prompts(_int(value), language), "unit-yen")
    day = parse_date(value)
    if language == "ja":
        year = [*number_prompts(day.year, "ja"), "unit-year"]
        return (*year, f"month-{day.month}", f"day-{day.day}")
    return (f"month-{day.month}", f"day-{day.day}", *number_prompts(day.year, "en"))


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else _ORDINAL_SUFFIX.get(n % 10, "th")
    return f"{n}{suffix}"


def say_text(kind: SayKind, value: str, language: str) -> str:
    """The value as written text (`2027年3月31日`, `March 31st 2027`, `12,300円`)."""
    if kind in ("digits", "code"):
        return value
    if kind == "number":
        return f"{_int(value):,}"
    if kind == "money":
        amount = f"{_int(value):,}"
        return f"{amount}円" if language == "ja" else f"{amount} yen"
    day = parse_date(value)
    if language == "ja":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{_MONTHS_EN[day.month - 1]} {ordinal(day.day)} {day.year}"


def all_say_prompt_ids() -> frozenset[str]:
    """Every id `say_prompts` can produce, in any language (the catalog must have them all)."""
    ids = {f"digit-{d}" for d in range(10)}
    ids |= {f"letter-{c}" for c in "abcdefghijklmnopqrstuvwxyz"}
    ids |= {f"num-{n}" for n in range(20)}
    ids |= {f"num-{d * p}" for d in range(1, 10) for p in (10, 100, 1000)}
    ids |= {"num-man", "num-oku", "num-hundred", "num-thousand", "num-million", "num-billion"}
    ids |= {f"month-{n}" for n in range(1, 13)} | {f"day-{n}" for n in range(1, 32)}
    ids |= {"unit-yen", "unit-year"}
    return frozenset(ids)
