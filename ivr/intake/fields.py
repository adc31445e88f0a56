"""The fields a call flow hands over, in the intake service's own names.

A flow speaks of ``caller_id`` and of its recordings by node; the intake service takes
``contact_phone`` and ``recording``. `intake_fields` is the one mapping, used by the live call
(`ivr.adapters.intake.ServiceIntake`) and by the flow checks (`ivr.calls.flows`), so a flow that
passes `hotline check` hands over exactly what the service will accept.
"""

from __future__ import annotations

from collections.abc import Mapping

from ivr.callerid import normalise_number
from ivr.domain import RequestKind
from ivr.intake.validation import accepted_fields

# flow field names that the intake service knows by another name
_RENAMED = {"name_recording": "recording", "leak_recording": "recording"}


def intake_fields(kind: RequestKind, fields: Mapping[str, str]) -> dict[str, str]:
    """The flow's fields in the service's names.

    - blank values are left out (an unidentified caller's ``customer_number`` is ``""``);
    - ``caller_id`` becomes ``contact_phone`` when the kind takes one and none was keyed, and is
      dropped otherwise (a withheld or unusable caller id is dropped too: it is not an error the
      caller could fix);
    - ``name_recording`` / ``leak_recording`` become ``recording`` (a reference staff listen to).

    Any other name is passed through, so a flow field the service does not take is rejected as
    ``unknown_field`` rather than silently lost.
    """
    out: dict[str, str] = {}
    caller_id = ""
    for name, value in fields.items():
        if not value.strip():
            continue
        if name == "caller_id":
            caller_id = value
            continue
        out[_RENAMED.get(name, name)] = value
    if (
        caller_id
        and "contact_phone" in accepted_fields(kind)
        and "contact_phone" not in out
        and normalise_number(caller_id) is not None
    ):
        out["contact_phone"] = caller_id
    return out
