from __future__ import annotations

import pytest

from ivr.callerid import CallerIdKind, normalise_caller_id, normalise_number

pytestmark = pytest.mark.unit

KITAKYUSHU = "+81935821234"


@pytest.mark.parametrize(
    "raw",
    [
        "0935821234",
        "+81935821234",
        "093-582-1234",
        "093 582 1234",
        "(093) 582-1234",
        "81935821234",
        "+81 93-582-1234",
        "1860935821234",
        " 0935821234 ",
    ],
)
def test_same_number_in_every_spelling(raw: str) -> None:
    caller = normalise_caller_id(raw)
    assert caller.kind is CallerIdKind.NUMBER
    assert caller.e164 == KITAKYUSHU


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("09012345678", "+819012345678"),
        ("080-1234-5678", "+818012345678"),
        ("0312345678", "+81312345678"),
        ("0120-123-456", "+81120123456"),
        ("+14155552671", "+14155552671"),
    ],
)
def test_other_numbers(raw: str, e164: str) -> None:
    assert normalise_caller_id(raw).e164 == e164


@pytest.mark.parametrize(
    ("raw", "presentation", "kind"),
    [
        ("anonymous", None, CallerIdKind.WITHHELD),
        ("Anonymous", None, CallerIdKind.WITHHELD),
        ("ANONYMOUS", None, CallerIdKind.WITHHELD),
        ("withheld", None, CallerIdKind.WITHHELD),
        ("非通知", None, CallerIdKind.WITHHELD),
        ("1840935821234", None, CallerIdKind.WITHHELD),
        ("0935821234", "prohib_not_screened", CallerIdKind.WITHHELD),
        ("unavailable", None, CallerIdKind.UNAVAILABLE),
        ("表示圏外", None, CallerIdKind.UNAVAILABLE),
        ("公衆電話", None, CallerIdKind.PAYPHONE),
        ("", None, CallerIdKind.EMPTY),
        ("   ", None, CallerIdKind.EMPTY),
        (None, None, CallerIdKind.EMPTY),
        ("12", None, CallerIdKind.MALFORMED),
        ("abc", None, CallerIdKind.MALFORMED),
        ("0935", None, CallerIdKind.MALFORMED),
        ("09358212345678", None, CallerIdKind.MALFORMED),
        ("9" * 60, None, CallerIdKind.MALFORMED),
    ],
)
def test_no_usable_number_is_named(
    raw: str | None, presentation: str | None, kind: CallerIdKind
) -> None:
    caller = normalise_caller_id(raw, presentation)
    assert caller.kind is kind
    assert caller.e164 is None
    assert not caller.has_number


def test_allowed_presentation_keeps_number() -> None:
    assert normalise_caller_id("0935821234", "allowed_not_screened").e164 == KITAKYUSHU


def test_normalise_number_rejects_garbage() -> None:
    assert normalise_number("") is None
    assert normalise_number("not a number") is None
    assert normalise_number("09012345678") == "+819012345678"


@pytest.mark.parametrize(
    "raw", ["093-582-1234", "0935821234", "+81935821234", "81935821234", "anonymous", "withheld"]
)
def test_normalising_the_e164_form_again_gives_the_same_caller(raw: str) -> None:
    first = normalise_caller_id(raw)
    again = normalise_caller_id(first.e164) if first.e164 is not None else first
    assert again == first


def test_own_e164_output_is_not_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import phonenumbers

    parses: list[str] = []
    real_parse = phonenumbers.parse

    def counting_parse(text: str, region: str | None = None) -> phonenumbers.PhoneNumber:
        parses.append(text)
        return real_parse(text, region)

    monkeypatch.setattr(phonenumbers, "parse", counting_parse)
    presented = "093-582-7788"  # a number no other test normalises, so no cache holds it
    e164 = normalise_caller_id(presented).e164
    assert e164 == "+81935827788"
    assert normalise_caller_id(e164).e164 == e164
    assert normalise_number(e164) == e164
    assert parses == [presented]
