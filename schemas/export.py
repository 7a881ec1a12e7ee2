"""JSON Schema documents for producers in other languages (``vigil schemas export``).

>>> schema = json_schemas()["message.sent"]
>>> schema["properties"]["type"]["const"]
'message.sent'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.events import EVENT_MODELS
from schemas.topics import TOPIC_BY_TYPE


def json_schemas() -> dict[str, dict[str, Any]]:
    """{event type: JSON Schema (draft 2020-12)} generated from the pydantic contracts."""
    out = {}
    for event_type, model in sorted(EVENT_MODELS.items()):
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://vigil.example/schemas/{event_type}.json"
        schema["title"] = event_type
        schema["description"] = (
            f"Vigil event {event_type}, published to Kafka topic {TOPIC_BY_TYPE[event_type]} "
            f"keyed by subject_id. Supported schema_version values: "
            f"{', '.join(sorted(model.SUPPORTED_VERSIONS))}. "
            "Additive changes bump the minor version; readers accept every version they know."
        )
        out[event_type] = schema
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_json_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type, schema in json_schemas().items():
        path = directory / f"{event_type}.json"
        path.write_text(render(schema))
        written.append(path)
    return written
