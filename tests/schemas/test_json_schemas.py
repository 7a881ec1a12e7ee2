"""The checked-in JSON Schema files match the pydantic contracts they are generated from."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

import schemas
from detectors.examples import example_event
from schemas.events import EVENT_MODELS
from schemas.export import json_schemas, output_schemas, render
from tests.support.events import EXAMPLE_TYPES

JSON_DIR = Path(schemas.__file__).resolve().parent / "json"
REGENERATE = "run `vigil schemas export` and commit schemas/json/"


def test_a_schema_file_exists_for_every_event_type() -> None:
    missing = [t for t in sorted(EVENT_MODELS) if not (JSON_DIR / f"{t}.json").is_file()]
    assert not missing, f"no JSON Schema file for {missing}; {REGENERATE}"


def test_no_schema_file_for_an_event_type_that_does_not_exist() -> None:
    known = {*EVENT_MODELS, *output_schemas()}
    stale = sorted(p.name for p in JSON_DIR.glob("*.json") if p.stem not in known)
    assert not stale, f"schema files for unknown event types: {stale}; delete them and {REGENERATE}"


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
def test_checked_in_schema_equals_the_generated_one(event_type: str) -> None:
    path = JSON_DIR / f"{event_type}.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing; {REGENERATE}")
    expected = render(json_schemas()[event_type])
    assert path.read_text(encoding="utf-8") == expected, f"{path.name} is out of date; {REGENERATE}"


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
def test_schema_describes_its_type_topic_and_strictness(event_type: str) -> None:
    schema = json_schemas()[event_type]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == event_type
    assert schema["properties"]["type"]["const"] == event_type
    assert schema["additionalProperties"] is False
    assert {"event_id", "type", "schema_version", "occurred_at", "producer", "subject_id",
            "payload"} <= set(schema["required"])
    assert schemas.TOPIC_BY_TYPE[event_type] in schema["description"]


def _validator(event_type: str) -> Any:
    import jsonschema

    schema = json.loads((JSON_DIR / f"{event_type}.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


needs_jsonschema = pytest.mark.skipif(
    importlib.util.find_spec("jsonschema") is None,
    reason="the jsonschema package is not installed; install it to validate examples against "
           "the exported JSON Schemas",
)


@needs_jsonschema
@pytest.mark.parametrize("event_type", EXAMPLE_TYPES)
def test_example_event_validates_against_its_json_schema(event_type: str) -> None:
    _validator(event_type).validate(example_event(event_type))


@needs_jsonschema
def test_json_schema_rejects_an_unknown_payload_field() -> None:
    import jsonschema

    event = example_event("message.sent", {"priority": "high"})
    with pytest.raises(jsonschema.ValidationError):
        _validator("message.sent").validate(event)


@needs_jsonschema
def test_json_schema_pins_the_schema_versions_readers_know() -> None:
    """A version the worker would dead-letter fails producer-side validation too."""
    import jsonschema

    for event_type in EXAMPLE_TYPES:
        with pytest.raises(jsonschema.ValidationError, match="schema_version|9.9"):
            _validator(event_type).validate({**example_event(event_type), "schema_version": "9.9"})


@pytest.mark.parametrize("name", sorted(output_schemas()))
def test_checked_in_output_schema_equals_the_generated_one(name: str) -> None:
    path = JSON_DIR / f"{name}.json"
    assert path.is_file(), f"{path} is missing; {REGENERATE}"
    assert path.read_text(encoding="utf-8") == render(output_schemas()[name]), \
        f"{path.name} is out of date; {REGENERATE}"


def test_the_flag_schema_carries_a_case_and_an_event_reference_and_no_event_content() -> None:
    schema = output_schemas()["flag"]
    assert {"flag_id", "case_id", "event", "detector_id", "severity", "score",
            "schema_version"} <= set(schema["required"]) | {"schema_version"}
    assert schema["additionalProperties"] is False
    event = schema["$defs"]["EventRef"]
    assert set(event["properties"]) == {"event_id", "type", "subject_id", "occurred_at"}
    assert not {"reason", "evidence", "payload"} & set(schema["properties"])
