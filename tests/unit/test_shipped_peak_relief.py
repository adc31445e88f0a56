"""Peak relief as shipped: config.yaml offers callers of the queues that fill at the peak a
callback, and the endpoint it calls back through exists in the shipped Asterisk configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.config import load_config
from routing.config import RoutingConfig
from routing.policy import callback_eligible

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def shipped_routing() -> RoutingConfig:
    return load_config(ROOT / "config.yaml", env={}).routing


@pytest.mark.parametrize("queue", ["general", "moving"])
def test_the_peak_queues_offer_a_callback_once_the_wait_runs_to_minutes(queue: str) -> None:
    callback = shipped_routing().queues[queue].callback

    def offered(expected_wait_s: float, waited_s: float) -> bool:
        return callback_eligible(
            callback,
            open_now=True,
            waited_s=waited_s,
            expected_wait=expected_wait_s,
            already_offered=False,
        )

    assert offered(expected_wait_s=4 * 60, waited_s=0)  # a long wait ahead: at once
    assert not offered(expected_wait_s=60, waited_s=0)  # nearly through: hold on
    assert offered(expected_wait_s=60, waited_s=5 * 60)  # but not for ever


def test_call_backs_go_out_through_an_endpoint_of_the_shipped_asterisk_config() -> None:
    assert shipped_routing().outbound_endpoint.format(number="0935821234") == (
        "PJSIP/0935821234@trunk"
    )
    # `[trunk](ep-common)` (the endpoint) and `[trunk]` (its AOR) are two objects of one name
    trunk: dict[str, str] = {}
    section = ""
    for raw in (ROOT / "asterisk" / "pjsip.conf").read_text().splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("["):
            section = line[1 : line.index("]")]
        elif section == "trunk" and "=" in line:
            key, _, value = line.partition("=")
            trunk[key.strip()] = value.strip()
    assert trunk.get("aors") == "trunk"
    # Asterisk dials PJSIP/<number>@trunk at this contact with the user part replaced by
    # <number>; scripts/asterisk-sandbox fills in the port (HOTLINE_TRUNK_PORT, 5080)
    assert trunk.get("contact") == "sip:trunk@127.0.0.1:@@TRUNK_PORT@@"
