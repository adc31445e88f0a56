"""The one translator every page uses (`ivr.web.i18n.translator`): the console's words or a page
module's own table, English for "en" and Japanese otherwise, a missing key a KeyError."""

from __future__ import annotations

import pytest

from ivr.web import admin_departments, report_texts, wallboard_texts
from ivr.web.i18n import translator

pytestmark = pytest.mark.unit


def test_a_page_table_is_read_in_the_pages_language() -> None:
    table = {"save": ("保存", "Save")}
    assert translator("en", table)("save") == "Save"
    assert translator("ja", table)("save") == "保存"
    assert translator("fr", table)("save") == "保存"  # our default language
    with pytest.raises(KeyError):
        translator("en", table)("missing")


def test_the_console_and_the_pages_tables_go_through_it() -> None:
    assert translator("en")("sign_in") == "Sign in"
    assert translator("en", admin_departments.TEXTS)("title") == "Departments"
    assert translator("ja", wallboard_texts.TEXTS)("title") == "ウォールボード"
    assert translator("en", report_texts.TEXTS)("report_title") == "Hotline report"
