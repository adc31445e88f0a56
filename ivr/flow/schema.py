"""The JSON Schema of a dialplan file, generated from the pydantic models (`hotline schema`)."""

from __future__ import annotations

import json
from typing import Any

from ivr.flow.model import Flow

SCHEMA_ID = "https://suido-hotline.example/schemas/dialplan.json"


def flow_schema() -> dict[str, Any]:
    schema = Flow.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "Suido Hotline dialplan",
    }


def flow_schema_json() -> str:
    return json.dumps(flow_schema(), indent=2, ensure_ascii=False) + "\n"
