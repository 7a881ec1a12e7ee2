"""What a running worker publishes keeps its contracts: every flag on tns.flags and every dead
letter on tns.dead_letters validates against the JSON Schema `vigil schemas export` writes;
flags name their review case and reference their event without carrying any of its content
(tns.flags is no second store of e-mail addresses, IP addresses or message text); and the
review queue still keeps each flagged event's envelope with its case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import schemas
from detectors.examples import example_event
from pipeline.kafka.publisher import Publisher
from schemas.topics import Topics
from tests.support.kafka import read_topic
from tests.support.stack import Stack
from tests.support.traffic import simulated, wait_processed
from tests.support.waiting import wait_until

jsonschema = pytest.importorskip("jsonschema")
pytestmark = pytest.mark.integration

JSON_DIR = Path(schemas.__file__).resolve().parent / "json"

#: Payload fields that hold personal data or user-written text.
PERSONAL = ("email", "ip", "text", "cover_letter", "description", "details", "bio",
            "display_name", "username", "title")


def _validator(name: str) -> Any:
    schema = json.loads((JSON_DIR / f"{name}.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _personal_values(events: list[dict]) -> dict[str, str]:
    values = {}
    for event in events:
        for field in PERSONAL:
            value = event["payload"].get(field)
            if isinstance(value, str) and len(value) >= 6:
                values[value] = f"{event['event_id']}.{field}"
    return values


def test_flags_and_dead_letters_keep_their_contracts_and_flags_carry_no_personal_data(
        stack: Stack) -> None:
    stack.start_worker()
    events = simulated(600, seed=31, fraud_rate=0.3)
    # A message that every text rule flags, with an e-mail and an IP inside its text.
    leaky = example_event("message.sent", {
        "has_active_contract": False,
        "text": "pay me via venmo or email ann.lee.8812@example.com from 203.0.113.77"})
    events.append(leaky)
    with Publisher(stack.settings.kafka_bootstrap) as publisher:
        for event in events:
            publisher.publish(event)
        publisher.publish_raw(Topics.MESSAGES, b"not json at all", key=b"u-raw")
        publisher.publish_raw(Topics.SIGNUPS, b'{"type": "user.signed_up"}')
    wait_processed(stack, {e["event_id"] for e in events})
    bootstrap = stack.settings.kafka_bootstrap
    wait_until(lambda: len(read_topic(bootstrap, Topics.DEAD_LETTERS, idle=0.5)) >= 2, 30,
               message="two dead letters")

    flags = [json.loads(r.value) for r in read_topic(bootstrap, Topics.FLAGS)]
    assert len(flags) == stack.client.hlen("vigil:flag_case") > 0
    flag_schema = _validator("flag")
    flag_case = {k.decode(): v.decode() for k, v in stack.client.hgetall("vigil:flag_case").items()}
    for flag in flags:
        flag_schema.validate(flag)
        assert flag["case_id"] == (flag_case[flag["flag_id"]] or None)
    assert any(f["event"]["event_id"] == leaky["event_id"] for f in flags)

    # No flag holds any event's e-mail, IP or text (nor does the key it is sent under).
    personal = _personal_values(events)
    leaked = {where for flag in flags for value, where in personal.items()
              if value in json.dumps(flag)}
    assert not leaked, f"personal data on tns.flags: {sorted(leaked)[:5]}"
    for needle in ("ann.lee.8812@example.com", "203.0.113.77", "venmo"):
        assert not any(needle in json.dumps(flag).lower() for flag in flags), needle

    # The case still shows the event: the queue stored its envelope, passed separately.
    (leaky_flag, *_) = [f for f in flags if f["event"]["event_id"] == leaky["event_id"]]
    stored = json.loads(stack.client.get(f"vigil:event:{leaky['event_id']}"))
    assert stored["payload"]["text"] == leaky["payload"]["text"] and leaky_flag["case_id"]

    letters = [json.loads(r.value) for r in read_topic(bootstrap, Topics.DEAD_LETTERS)]
    letter_schema = _validator("dead_letter")
    for letter in letters:
        letter_schema.validate(letter)
    assert {"bad_json", "invalid_field"} <= {letter["kind"] for letter in letters}
