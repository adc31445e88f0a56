"""The service-level variants side by side, against the Cisco test vector."""

from __future__ import annotations

import pytest

from ivr.reports.metrics import QueueFigures

pytestmark = pytest.mark.unit


def test_the_three_cisco_methods_on_the_published_vector() -> None:
    # 70 answered within T, 10 abandoned within T, 20 answered after T
    figures = QueueFigures(
        queued=100, answered=90, answered_within=70, abandoned=10, abandoned_within=10
    )
    levels = figures.service_levels()
    assert round(levels["abandons_ignored"] or 0, 3) == 0.778
    assert levels["abandons_against"] == pytest.approx(0.70)
    assert levels["abandons_in_favour"] == pytest.approx(0.80)
    assert levels["answered_only"] == pytest.approx(70 / 90)


def test_flow_outs_and_short_abandons() -> None:
    figures = QueueFigures(
        queued=12, short_abandons=2, answered=6, answered_within=5, abandoned=1, callbacks=3
    )
    assert figures.offered == 10
    assert figures.service_levels()["of_offered"] == pytest.approx(0.5)
    assert figures.service_levels()["abandons_against"] == pytest.approx(5 / 7)
    assert figures.abandon_rate == pytest.approx(0.1)
    assert figures.abandon_rate_with_short == pytest.approx(3 / 12)


def test_an_empty_queue_has_no_rates() -> None:
    figures = QueueFigures()
    assert set(figures.service_levels().values()) == {None}
    assert figures.asa_s is None
    assert figures.aht_s is None


def test_totals_add_up_and_keep_the_longest_wait() -> None:
    a = QueueFigures(queued=2, answered=2, wait_answered_s=30, longest_wait_s=20, talk_s=100)
    a.add(QueueFigures(queued=1, answered=1, wait_answered_s=60, longest_wait_s=60, wrap_s=50))
    assert (a.queued, a.answered, a.longest_wait_s) == (3, 3, 60)
    assert a.asa_s == pytest.approx(30)
    assert a.aht_s == pytest.approx(50)
