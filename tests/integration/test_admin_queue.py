"""A queue an admin adds: `water_quality` in the routing config and the operator key of the main
flow pointed at it. The engine's flows are checked against that config (as `hotline run` loads
them), and a real SIPp call keyed to the operator waits in the new queue and is answered there by
a SIPp agent phone."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.app import flow_registry
from ivr.calls.records import MemoryCallRecorder
from ivr.config import FlowsConfig
from tests.integration.conftest import ROOT, EngineFactory, engine_config, hotline_backends
from tests.integration.test_calls import choices, the_record
from tests.integration.test_routed_calls import routing, sip_call_to_the_operator
from tests.support.sandbox import Sandbox
from tests.support.sipp import Sipp

pytestmark = pytest.mark.integration


def flows_with_the_operator_on(queue: str, directory: Path) -> Path:
    """The shipped flows, the operator node (key 0 on the main menu) sent to `queue`."""
    directory.mkdir()
    for path in (ROOT / "dialplans").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if path.name == "hotline.yaml":
            operator = "  operator:\n    kind: queue\n    queue: general\n"
            assert operator in text
            text = text.replace(operator, operator.replace("general", queue))
        (directory / path.name).write_text(text, encoding="utf-8")
    return directory


async def test_a_call_is_answered_in_a_queue_the_admin_added(
    sandbox: Sandbox, start_engine: EngineFactory, workdir: Path
) -> None:
    agent_phone = await Sipp("phone.xml", ["-d", "1500"], workdir).start()
    admin_routing = routing(agent_phone.port)
    admin_routing["queues"]["water_quality"] = {
        "calendar": "phone",
        "when_no_agents": "overflow",
        "ring_timeout_s": 10,
    }
    config = engine_config(sandbox, dict(admin_routing))
    dialplans = flows_with_the_operator_on("water_quality", workdir / "dialplans")
    config = config.model_copy(
        update={
            "flows": FlowsConfig(dir=str(dialplans), catalog=str(ROOT / "prompts/catalog.yaml"))
        }
    )
    # what `hotline run` does first: the flows, checked against this config
    flows = flow_registry(config)
    recorder = MemoryCallRecorder()
    await start_engine(
        recorder, backends=hotline_backends(flows=flows), routing=dict(admin_routing)
    )
    caller_result, agent_result = await sip_call_to_the_operator(sandbox, workdir, agent_phone)
    record = await the_record(recorder)
    assert agent_result.ok, agent_result.output[-500:]
    assert caller_result.ok, caller_result.output[-500:]
    assert choices(record) == [("greeting", "1"), ("main_menu", "0")]
    results = [t for t in record.trail if t["event"] == "queue_result"]
    assert [(t["queue"], t["outcome"]) for t in results] == [("water_quality", "answered")]
    assert record.outcome == "answered_by_agent"
