"""Erlang C and Erlang A against published worked examples and an independent tool's figures."""

from __future__ import annotations

import pytest

from ivr.reports.staffing import (
    Interval,
    Target,
    agents_needed,
    erlang_a_staffing,
    erlang_c_staffing,
    seats,
)

pytestmark = pytest.mark.unit

# Call Centre Helper: 100 calls in 30 minutes, AHT 180 s, 80 % answered within 20 s
CCH = Interval(calls=100, length_s=1800, aht_s=180)


def test_the_call_centre_helper_example_needs_14_agents_and_20_seats() -> None:
    figures = agents_needed(CCH, Target(service_level=0.8, answer_s=20, shrinkage=0.3))
    assert figures.agents == 14
    assert figures.load == pytest.approx(10.0)
    assert round(figures.service_level, 3) == 0.888
    assert round(figures.p_wait, 3) == 0.174
    assert round(figures.asa_s, 1) == 7.8
    assert round(figures.occupancy, 3) == 0.714
    assert figures.seats == 20


def test_one_agent_fewer_misses_the_target() -> None:
    assert round(erlang_c_staffing(13, CCH, 20).service_level, 3) == 0.796


def test_the_westbay_example() -> None:
    # 360 calls in 30 minutes, 4 minutes each, 55 agents, answered within 15 s
    figures = erlang_c_staffing(55, Interval(360, 1800, 240), 15)
    assert figures.load == pytest.approx(48.0)
    assert round(figures.p_wait, 3) == 0.239
    assert round(figures.service_level, 3) == 0.846
    assert round(figures.asa_s, 1) == 8.2
    assert round(figures.occupancy, 3) == 0.873


# pyworkforce 0.5.1's ErlangC.required_positions (service level 0.8, no occupancy cap,
# shrinkage 0.25), run once outside the suite: (calls, AHT s, interval s, T s) → raw agents,
# positions, service level, P(wait), occupancy
PYWORKFORCE = [
    ((100, 180, 1800, 20), 14, 19, 0.8883500191794669, 0.1741319335950498, 0.7142857142857143),
    ((360, 240, 1800, 15), 55, 74, 0.8458830921705803, 0.23870093637800924, 0.8727272727272727),
    ((40, 300, 3600, 30), 6, 8, 0.8864766620475466, 0.14821665718080057, 0.5555555555555555),
    ((250, 360, 1800, 20), 57, 76, 0.8329396496871372, 0.24647092005465793, 0.8771929824561403),
    ((1200, 270, 3600, 20), 98, 131, 0.8301403508207782, 0.30722030484497465, 0.9183673469387755),
    ((12, 420, 900, 60), 8, 11, 0.8079423842867863, 0.2706029322300023, 0.7000000000000001),
]


@pytest.mark.parametrize(("case", "agents", "positions", "sl", "pw", "occ"), PYWORKFORCE)
def test_erlang_c_agrees_with_pyworkforce(
    case: tuple[int, int, int, int], agents: int, positions: int, sl: float, pw: float, occ: float
) -> None:
    calls, aht, length, answer = case
    figures = agents_needed(Interval(calls, length, aht), Target(0.8, answer, shrinkage=0.25))
    assert (figures.agents, figures.seats) == (agents, positions)
    assert figures.service_level == pytest.approx(sl, rel=1e-9)
    assert figures.p_wait == pytest.approx(pw, rel=1e-9)
    assert figures.occupancy == pytest.approx(occ, rel=1e-9)


@pytest.mark.parametrize(
    ("agents", "p_wait", "abandon", "within"),
    [(12, 0.280, 0.062, 0.826), (13, 0.194, 0.038, 0.889), (14, 0.127, 0.023, 0.933)],
)
def test_erlang_a_with_two_minutes_patience(
    agents: int, p_wait: float, abandon: float, within: float
) -> None:
    figures = erlang_a_staffing(agents, Interval(100, 1800, 180, patience_s=120), 20)
    assert round(figures.p_wait, 3) == p_wait
    assert round(figures.abandon, 3) == abandon
    assert round(figures.service_level, 3) == within


def test_impatient_callers_need_fewer_agents_than_erlang_c_says() -> None:
    patient = agents_needed(CCH, Target(0.8, 20))
    impatient = agents_needed(
        Interval(100, 1800, 180, patience_s=120), Target(0.8, 20), erlang_a=True
    )
    assert (patient.agents, impatient.agents) == (14, 12)
    assert impatient.abandon > 0


def test_erlang_a_becomes_erlang_c_as_patience_grows() -> None:
    c = erlang_c_staffing(14, CCH, 20)
    a = erlang_a_staffing(14, Interval(100, 1800, 180, patience_s=1e8), 20)
    assert a.p_wait == pytest.approx(c.p_wait, abs=1e-5)
    assert a.service_level == pytest.approx(c.service_level, abs=1e-5)
    assert a.asa_s == pytest.approx(c.asa_s, abs=1e-3)


def test_too_few_agents_never_keep_up() -> None:
    figures = erlang_c_staffing(10, CCH, 20)
    assert (figures.p_wait, figures.service_level) == (1.0, 0.0)


def test_an_asa_bound_and_an_occupancy_cap_add_agents() -> None:
    assert agents_needed(CCH, Target(0.8, 20, max_asa_s=5)).agents == 15
    assert agents_needed(CCH, Target(0.8, 20, max_occupancy=0.65)).agents == 16


def test_seats_after_shrinkage() -> None:
    assert seats(14, 0.3) == 20
    assert seats(14, 0.0) == 14
    with pytest.raises(ValueError, match="shrinkage"):
        seats(14, 1.0)


def test_no_calls_need_no_agents() -> None:
    assert agents_needed(Interval(0, 1800, 180), Target()).agents == 0
