"""Hostile intakes, generated (seeded, so every run tries the same 3,000 forms): whatever
names and values a web form, the REST API or a scripted client sends for any request kind,
`validate_fields` answers with field errors the console can word, or with clean values — it
never raises, and no form makes it count days without end.

The slowest validation of the run is printed (`-s`) for the closing note; like every time in
this suite it is measured, not asserted."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import date, timedelta

import pytest

from ivr.domain import RequestKind
from ivr.intake.validation import jp_business_days_between, validate_fields
from ivr.web.intake_texts import ERRORS

pytestmark = pytest.mark.unit

TODAY = date(2027, 3, 1)
# every name any kind accepts, and a few nobody does
KNOWN = [
    "customer_number",
    "premise_id",
    "new_premise_id",
    "start_date",
    "stop_date",
    "effective_date",
    "paid_on",
    "contact_phone",
    "new_phone",
    "holder_name",
    "holder_kana",
    "address",
    "description",
    "meter_number",
]
JUNK_NAMES = [
    "",
    "kind",
    "__proto__",
    "customer_number\x00",
    "ＣＵＳＴＯＭＥＲ",
    "🙂" * 10,
    "x" * 300,
]
# what careless and hostile clients send as values
HOSTILE_VALUES: list[object] = [
    None,
    True,
    0,
    -1,
    2**63,
    -(2**70),
    1.5,
    float("nan"),
    float("inf"),
    "",
    " ",
    "\x00",
    "\ud800",
    "x" * 5000,
    "9999-12-31",
    "0001-01-01",
    "2100-01-01",
    "20270331",
    "2027-02-30",
    "2027-03-01T00:00:00",
    "３月１日",
    "1234567890",
    "+81-3-0000-0000",
    "やまだ",
    "ヤマダ　ハナコ",
    "<script>alert(1)</script>",
    "'; DROP TABLE accounts; --",
    b"\xff\xfe",
    [],
    {},
    ["2027-03-10"],
    {"$gt": ""},
]
FORMS = 3000


def _value(rnd: random.Random, depth: int = 0) -> object:
    pick = rnd.randrange(10)
    if pick == 0 and depth < 3:
        return [_value(rnd, depth + 1) for _ in range(rnd.randint(0, 3))]
    if pick == 1 and depth < 3:
        return {rnd.choice(KNOWN): _value(rnd, depth + 1) for _ in range(rnd.randint(0, 3))}
    if pick == 2:
        # a plausible date near today or far from it
        return (TODAY + timedelta(days=rnd.randint(-40_000, 40_000))).isoformat()
    return rnd.choice(HOSTILE_VALUES)


def _form(rnd: random.Random) -> dict[str, object]:
    names = KNOWN + JUNK_NAMES
    return {rnd.choice(names): _value(rnd) for _ in range(rnd.randint(0, 9))}


Timings = list[tuple[float, str]]


@pytest.fixture(scope="module")
def timings() -> Iterator[Timings]:
    """(seconds, kind) of every generated validation; the slowest is printed at the end."""
    seen: Timings = []
    yield seen
    worst = max(seen)
    print(f"\nslowest of {len(seen)} generated validations: {worst[0] * 1000:.2f} ms ({worst[1]})")


def _counting_business_days() -> tuple[list[int], Callable[[date, date], int]]:
    counted: list[int] = []

    def business_days(start: date, end: date, /) -> int:
        counted.append(abs((end - start).days))
        return jp_business_days_between(start, end)

    return counted, business_days


def test_any_form_gets_worded_field_errors_or_clean_values(timings: Timings) -> None:
    rnd = random.Random(5)
    for _ in range(FORMS):
        _check(rnd.choice(list(RequestKind)), _form(rnd), timings)


def _check(kind: RequestKind, form: Mapping[str, object], timings: Timings) -> None:
    counted, business_days = _counting_business_days()
    started = time.perf_counter()
    clean, errors = validate_fields(kind, form, TODAY, business_days)
    timings.append((time.perf_counter() - started, kind.value))
    if clean is None:
        assert errors
        for name, code in errors.items():
            assert isinstance(name, str)
            # a code the console has no words for would reach the resident as a bare code
            assert code in ERRORS, (name, code)
    else:
        assert errors == {}
        assert clean.kind is kind
        # what goes to the database and to billing is plain JSON text
        json.dumps(clean.values, ensure_ascii=False).encode("utf-8")
    # the horizon is checked before any counting: never more than the horizon's days
    assert all(days <= 366 for days in counted), counted
