from __future__ import annotations

import random
from datetime import date, timedelta

import jpholiday
import pytest

from ivr.domain import RequestKind
from ivr.intake.validation import (
    closed_weekdays,
    is_business_day,
    jp_business_days_between,
    prepare_business_days,
    validate_fields,
)
from ivr.numbers import customer_number

pytestmark = pytest.mark.unit

TODAY = date(2026, 3, 2)  # a Monday in moving season
CUST = customer_number(1234)


def weekdays_only(start: date, end: date, /) -> int:
    return sum(
        1
        for n in range(1, (end - start).days + 1)
        if date.fromordinal(start.toordinal() + n).weekday() < 5
    )


def check(kind: RequestKind, **fields: object) -> dict[str, str]:
    _, errors = validate_fields(kind, fields, TODAY, weekdays_only)
    return errors


VALID: dict[RequestKind, dict[str, object]] = {
    RequestKind.START: {
        "premise_id": 7,
        "start_date": "2026-03-05",
        "contact_phone": "090-1234-5678",
        "holder_name": "山田 花子",
        "holder_kana": "ヤマダ ハナコ",
    },
    RequestKind.STOP: {"customer_number": CUST, "stop_date": "20260306"},
    RequestKind.BANK_DEBIT: {"customer_number": CUST},
    RequestKind.TRANSFER: {
        "customer_number": CUST,
        "stop_date": "2026-03-10",
        "start_date": "2026-03-10",
        "new_premise_id": "12",
    },
    RequestKind.NAME_CHANGE: {
        "customer_number": CUST,
        "holder_name": "佐藤 太郎",
        "holder_kana": "サトウ タロウ",
    },
    RequestKind.PHONE_CHANGE: {"customer_number": CUST, "new_phone": "0935821234"},
    RequestKind.RECONNECTION: {"customer_number": CUST, "paid_on": "2026-03-01"},
    RequestKind.LEAK: {
        "address": "若葉市中央区本町1丁目 交差点",
        "description": "道路から水が噴き出している",
    },
}


@pytest.mark.parametrize("kind", list(RequestKind))
def test_every_kind_has_a_valid_form(kind: RequestKind) -> None:
    clean, errors = validate_fields(kind, VALID[kind], TODAY, weekdays_only)
    assert errors == {}
    assert clean is not None
    assert clean.kind is kind


@pytest.mark.parametrize("kind", list(RequestKind))
def test_empty_form_names_each_required_field(kind: RequestKind) -> None:
    errors = check(kind)
    if kind in (RequestKind.RECONNECTION,):
        assert errors == {"customer_number": "required"}
    elif kind is RequestKind.LEAK:
        assert errors == {"address": "required"}
    else:
        assert errors
        assert set(errors.values()) == {"required"}


def test_clean_values_are_typed_and_json_ready() -> None:
    clean, _ = validate_fields(RequestKind.START, VALID[RequestKind.START], TODAY, weekdays_only)
    assert clean is not None
    assert clean.values["contact_phone"] == "+819012345678"
    assert clean.values["start_date"] == "2026-03-05"
    assert clean.dates["start_date"] == date(2026, 3, 5)
    assert clean.ids["premise_id"] == 7
    assert clean.customer_number is None


@pytest.mark.parametrize(
    ("kind", "change", "field", "code"),
    [
        (RequestKind.STOP, {"stop_date": "2026-03-01"}, "stop_date", "in_the_past"),
        (RequestKind.STOP, {"stop_date": "2026-03-03"}, "stop_date", "too_soon"),
        (RequestKind.STOP, {"stop_date": "2026-12-31"}, "stop_date", "too_far"),
        (RequestKind.STOP, {"stop_date": "2026-02-30"}, "stop_date", "invalid_date"),
        (RequestKind.STOP, {"stop_date": "next week"}, "stop_date", "invalid_date"),
        (RequestKind.STOP, {"customer_number": "1234567890"}, "customer_number", "invalid_number"),
        (RequestKind.STOP, {"colour": "blue"}, "colour", "unknown_field"),
        (RequestKind.START, {"premise_id": "abc"}, "premise_id", "invalid"),
        (RequestKind.START, {"premise_id": 0}, "premise_id", "invalid"),
        (RequestKind.START, {"contact_phone": "12"}, "contact_phone", "invalid_phone"),
        (RequestKind.START, {"holder_kana": "やまだ"}, "holder_kana", "invalid_kana"),
        (RequestKind.START, {"holder_name": ""}, "holder_name", "required"),
        (RequestKind.TRANSFER, {"start_date": "2026-03-09"}, "start_date", "before_stop"),
        (RequestKind.TRANSFER, {"new_premise_id": None}, "new_premise_id", "required"),
        (RequestKind.NAME_CHANGE, {"holder_name": "x" * 101}, "holder_name", "too_long"),
        (
            RequestKind.NAME_CHANGE,
            {"effective_date": "2026-03-01"},
            "effective_date",
            "in_the_past",
        ),
        (RequestKind.PHONE_CHANGE, {"new_phone": "anonymous"}, "new_phone", "invalid_phone"),
        (RequestKind.RECONNECTION, {"paid_on": "2026-03-03"}, "paid_on", "in_the_future"),
        (RequestKind.LEAK, {"description": "x" * 501}, "description", "too_long"),
    ],
)
def test_invalid_fields_are_named(
    kind: RequestKind, change: dict[str, object], field: str, code: str
) -> None:
    errors = check(kind, **{**VALID[kind], **change})
    assert errors.get(field) == code


def test_start_for_existing_customer_needs_no_name() -> None:
    fields = {k: v for k, v in VALID[RequestKind.START].items() if not k.startswith("holder")}
    assert check(RequestKind.START, **fields, customer_number=CUST) == {}
    assert check(RequestKind.START, **fields) == {
        "holder_name": "required",
        "holder_kana": "required",
    }


def test_lead_time_uses_the_given_calendar() -> None:
    # Friday → the following Tuesday is two business days with a weekdays-only calendar
    friday = date(2026, 3, 6)
    fields = {"customer_number": CUST, "stop_date": "2026-03-10"}
    assert validate_fields(RequestKind.STOP, fields, friday, weekdays_only)[1] == {}
    never = validate_fields(RequestKind.STOP, fields, friday, lambda a, b: 0)[1]
    assert never == {"stop_date": "too_soon"}


def test_default_calendar_skips_weekends_holidays_and_year_end() -> None:
    assert not is_business_day(date(2026, 3, 20))  # 春分の日
    assert not is_business_day(date(2026, 3, 21))  # Saturday
    assert not is_business_day(date(2026, 12, 29))
    assert is_business_day(date(2026, 3, 19))
    # Thu 19 Mar → Mon 23 Mar: Fri 20 is a holiday, the weekend is off, Monday counts
    assert jp_business_days_between(date(2026, 3, 19), date(2026, 3, 23)) == 1
    assert jp_business_days_between(date(2026, 3, 23), date(2026, 3, 19)) == 0
    # Golden Week 2026: Apr 29, May 4, 5, 6 are holidays
    assert (
        jp_business_days_between(date(2026, 4, 28), date(2026, 5, 7)) == 3
    )  # Apr 30, May 1, May 7


def _business_days_day_by_day(start: date, end: date) -> int:
    """The plain definition, one day at a time, straight from jpholiday."""
    count = 0
    for n in range(1, (end - start).days + 1):
        day = date.fromordinal(start.toordinal() + n)
        year_end = (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)
        if day.weekday() < 5 and not year_end and not jpholiday.is_holiday(day):
            count += 1
    return count


@pytest.mark.parametrize("seed", range(60))
def test_business_days_by_arithmetic_equal_the_day_by_day_count(seed: int) -> None:
    rnd = random.Random(seed)
    start = date(2025, 1, 1) + timedelta(days=rnd.randrange(3 * 365))
    end = start + timedelta(days=rnd.randrange(-10, 800))
    assert jp_business_days_between(start, end) == _business_days_day_by_day(start, end)


@pytest.mark.parametrize("far", ["2100-01-01", "9999-12-31", "99991231"])
def test_a_far_future_date_is_too_far_without_counting_a_single_business_day(far: str) -> None:
    counted: list[tuple[date, date]] = []

    def counting(start: date, end: date, /) -> int:
        counted.append((start, end))
        return weekdays_only(start, end)

    fields = {"customer_number": CUST, "stop_date": far}
    assert validate_fields(RequestKind.STOP, fields, TODAY, counting)[1] == {"stop_date": "too_far"}
    # stopped at the horizon: a stop years away used to be counted day by day (5-6 s for 2100,
    # minutes and then OverflowError for 9999)
    assert counted == []


def test_each_years_closed_days_are_looked_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[date] = []
    real = jpholiday.is_holiday

    def counting(day: date) -> bool:
        looked_up.append(day)
        return bool(real(day))

    monkeypatch.setattr(jpholiday, "is_holiday", counting)
    closed_weekdays.cache_clear()
    try:
        jp_business_days_between(date(2031, 3, 2), date(2032, 2, 1))
        # every weekday of the two years once, then never again
        assert 0 < len(looked_up) <= 2 * 262
        assert len(set(looked_up)) == len(looked_up)
        first = len(looked_up)
        for _ in range(50):
            jp_business_days_between(date(2031, 3, 2), date(2032, 2, 1))
        assert len(looked_up) == first
    finally:
        closed_weekdays.cache_clear()


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("premise_id", 2**63, "invalid"),
        ("premise_id", str(2**64), "invalid"),
        ("premise_id", True, "invalid"),
        ("premise_id", 7.5, "invalid"),
        ("holder_name", {"first": "花子"}, "invalid"),
        ("holder_name", ["山田"], "invalid"),
        ("holder_name", b"\xe5\xb1\xb1", "invalid"),
        ("holder_name", "山田\x00花子", "invalid_characters"),
        ("holder_name", "山田\ud800", "invalid_characters"),
        ("contact_phone", {"tel": "0312345678"}, "invalid"),
    ],
    ids=repr,
)
def test_hostile_field_values_are_field_errors_not_stored_text(
    field: str, value: object, code: str
) -> None:
    fields = {**VALID[RequestKind.START], field: value}
    clean, errors = validate_fields(RequestKind.START, fields, TODAY, weekdays_only)
    assert clean is None
    assert errors == {field: code}


def test_the_largest_database_id_is_still_an_id() -> None:
    fields = {**VALID[RequestKind.START], "premise_id": 2**63 - 1}
    assert validate_fields(RequestKind.START, fields, TODAY, weekdays_only)[1] == {}


async def test_the_engine_works_out_the_closed_days_before_the_first_intake() -> None:
    # jpholiday needs a few hundred ms a year: done in a thread at start, the first intake of
    # the year then finds the year worked out instead of computing it on the event loop
    closed_weekdays.cache_clear()
    await prepare_business_days(date(2031, 12, 1))
    cached = closed_weekdays.cache_info()
    assert (cached.misses, cached.currsize) == (2, 2)
    _, errors = validate_fields(
        RequestKind.STOP, {"customer_number": CUST, "stop_date": "2032-01-20"}, date(2031, 12, 1)
    )
    assert errors == {}
    assert closed_weekdays.cache_info().misses == 2
