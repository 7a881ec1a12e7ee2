"""JSON Schema documents for producers and consumers in other languages (``vigil schemas
export``): one per event type (what producers send) and one per output (``flag``: what
``tns.flags`` carries; ``dead_letter``: what ``tns.dead_letters`` carries; ``platform_action``:
what ``tns.actions`` carries, with its ``statement_of_reasons``).

>>> schema = json_schemas()["message.sent"]
>>> schema["properties"]["type"]["const"], schema["properties"]["schema_version"]["enum"]
('message.sent', ['1.0'])
>>> sorted(output_schemas())
['dead_letter', 'flag', 'platform_action', 'statement_of_reasons']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.actions import PlatformAction, StatementOfReasons
from schemas.events import EVENT_MODELS
from schemas.outputs import DEAD_LETTER_KINDS, DeadLetter, FlagRecord
from schemas.topics import TOPIC_BY_TYPE, Topics

_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _document(model: type[BaseModel], name: str, description: str) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = _DRAFT
    schema["$id"] = f"https://vigil.example/schemas/{name}.json"
    schema["title"] = name
    schema["description"] = description
    return schema


def json_schemas() -> dict[str, dict[str, Any]]:
    """{event type: JSON Schema (draft 2020-12)} generated from the pydantic contracts.

    ``schema_version`` is pinned to the versions readers know: the model's pattern alone
    (``MAJOR.MINOR``) let events pass producer-side validation that the worker dead-letters.
    """
    out = {}
    for event_type, model in sorted(EVENT_MODELS.items()):
        versions = sorted(model.SUPPORTED_VERSIONS)
        schema = _document(model, event_type, (
            f"Vigil event {event_type}, published to Kafka topic {TOPIC_BY_TYPE[event_type]} "
            f"keyed by subject_id. Supported schema_version values: {', '.join(versions)}. "
            "Additive changes bump the minor version; readers accept every version they know."))
        schema["properties"]["schema_version"]["enum"] = versions
        out[event_type] = schema
    return out


def output_schemas() -> dict[str, dict[str, Any]]:
    """{output name: JSON Schema} of what Vigil publishes, generated from the models (so
    fields added to them follow)."""
    flag = _document(FlagRecord, "flag", (
        f"A flag on Kafka topic {Topics.FLAGS}, keyed by <entity_type>:<entity_id>, published "
        "once its review case is written. It references its event and carries no event "
        "content, reason text or evidence (personal data stays with the case)."))
    letter = _document(DeadLetter, "dead_letter", (
        f"A dead letter on Kafka topic {Topics.DEAD_LETTERS}, keyed by the original's key: an "
        "input the worker could not process, why, and the original bytes (base64). "
        f"kind is one of: {', '.join(DEAD_LETTER_KINDS)}."))
    letter["properties"]["kind"]["examples"] = list(DEAD_LETTER_KINDS)
    action = _document(PlatformAction, "platform_action", (
        f"A platform action on Kafka topic {Topics.ACTIONS}, keyed by subject_id: carry it out "
        "once per action_id (a redelivery repeats the id) and acknowledge it with an "
        "action.applied or action.failed event naming the action_id. A restrictive action "
        "carries its statement of reasons (EU DSA Art. 17) for the affected user."))
    statement = _document(StatementOfReasons, "statement_of_reasons", (
        "The statement of reasons sent with every restrictive platform action (EU DSA "
        "Art. 17(3)): the restriction and its duration, the facts relied on, whether automated "
        "means detected or decided it, the ground, and the redress open to the user."))
    return {"flag": flag, "dead_letter": letter, "platform_action": action,
            "statement_of_reasons": statement}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_json_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in {**json_schemas(), **output_schemas()}.items():
        path = directory / f"{name}.json"
        path.write_text(render(schema))
        written.append(path)
    return written
