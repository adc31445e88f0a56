"""Tonight's on-duty list as the wallboard shows it: who, in ring order, by name.

A wall screen shows people, not dial strings: a step saved in the console has its name; a step
seeded from config.yaml is named by its phone (`PJSIP/agent3`), so it is shown as the staff
member whose phone that is, else as the phone's short name (`onduty`, without the channel
technology or a contact). The heading names the leak line's department by its label.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ivr.store.duty import DutyStep
from ivr.store.staff import StaffMember


@dataclass(frozen=True, slots=True)
class DutyRow:
    order: int
    name: str
    ring_s: int


def short_phone(endpoint: str) -> str:
    """`PJSIP/onduty/sip:onduty@127.0.0.1:5079` → `onduty`."""
    _tech, _, rest = endpoint.partition("/")
    return rest.partition("/")[0] or endpoint


def step_name(step: DutyStep, people: dict[str, str]) -> str:
    if step.name != step.endpoint:
        return step.name
    return people.get(step.endpoint) or short_phone(step.endpoint)


def duty_rows(steps: Sequence[DutyStep], staff: Iterable[StaffMember]) -> list[DutyRow]:
    """The steps numbered in ring order, each with the name a wall screen shows."""
    people = {m.endpoint: m.display_name for m in staff if m.endpoint and not m.disabled}
    return [
        DutyRow(order, step_name(step, people), step.ring_s)
        for order, step in enumerate(steps, start=1)
    ]
