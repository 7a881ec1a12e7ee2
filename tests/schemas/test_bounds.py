"""Every number in the contracts is bounded, and the JSON Schemas say what the decoder does.

A number no replay can fix (10**400 in a count, NaN in an amount) must fail validation with a
reason naming the field, never reach the worker's outputs and be parked as a processing error.
The exported JSON Schemas must refuse what the decoder refuses (and accept what it accepts), so a
producer validating against them learns of a bad event before the worker dead-letters it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import annotated_types
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import schemas
from detectors.examples import example_event
from schemas import EVENT_MODELS, InvalidEvent, decode_event
from schemas.decode import MAX_NUMBER_DIGITS
from tests.support.events import EXAMPLE_TYPES

JSON_DIR = Path(schemas.__file__).resolve().parent / "json"
INT64 = (-(2**63), 2**63 - 1)


def numeric_fields(model: type[BaseModel], path: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], type, float | None, float | None]]:
    """(path, int or float, lower bound, upper bound) of every number field, payloads included."""
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from numeric_fields(annotation, (*path, name))
        elif annotation in (int, float):
            lo = hi = None
            for meta in info.metadata:
                if isinstance(meta, annotated_types.Ge):
                    lo = meta.ge
                if isinstance(meta, annotated_types.Le):
                    hi = meta.le
            yield (*path, name), annotation, lo, hi


FIELDS = sorted({(event_type, path, kind, lo, hi)
                 for event_type in EXAMPLE_TYPES
                 for path, kind, lo, hi in numeric_fields(EVENT_MODELS[event_type])})
INT_FIELDS = [f for f in FIELDS if f[2] is int]


def with_value(event_type: str, path: tuple[str, ...], value: Any) -> dict[str, Any]:
    event = example_event(event_type)
    target = event
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return event


def validator(event_type: str) -> Any:
    import jsonschema

    schema = json.loads((JSON_DIR / f"{event_type}.json").read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


def test_there_are_number_fields_to_check() -> None:
    assert {path[-1] for _, path, *_ in INT_FIELDS} >= {
        "signup_duration_ms", "attachment_count", "connects_spent"}


@pytest.mark.parametrize(("event_type", "path", "kind", "lo", "hi"), FIELDS)
def test_every_number_field_has_both_bounds_within_int64(event_type: str, path: tuple[str, ...],
                                                          kind: type, lo: Any, hi: Any) -> None:
    assert lo is not None and hi is not None, f"{event_type} {'.'.join(path)} is unbounded"
    assert INT64[0] <= lo <= hi <= INT64[1]


big_ints = (st.integers() | st.integers(min_value=-(2**70), max_value=2**70)
            | st.sampled_from([10**400, -(10**400), 2**63, 2**63 - 1, -(2**63) - 1, 10**18, -1, 0]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(INT_FIELDS), value=big_ints)
def test_an_integer_field_is_accepted_exactly_within_its_bounds_by_decoder_and_schema(
        field: tuple[Any, ...], value: int) -> None:
    event_type, path, _, lo, hi = field
    event = with_value(event_type, path, value)
    inside = lo <= value <= hi
    try:
        decoded = decode_event(json.dumps(event).encode())
    except InvalidEvent as exc:
        assert not inside, exc
        assert exc.kind == "invalid_field"
        assert ".".join(path) in exc.reason or "digits" in exc.reason, exc.reason
    else:
        assert inside
        got: Any = decoded
        for part in path:
            got = getattr(got, part)
        assert got == value
    assert validator(event_type).is_valid(event) == inside


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
@pytest.mark.parametrize(("event_type", "path"),
                         [(f[0], f[1]) for f in FIELDS if f[2] is float])
def test_a_float_field_refuses_what_is_not_a_finite_number(event_type: str,
                                                           path: tuple[str, ...],
                                                           token: str) -> None:
    marker = 123456.5
    raw = json.dumps(with_value(event_type, path, marker)).replace(str(marker), token).encode()
    with pytest.raises(InvalidEvent) as info:
        decode_event(raw)
    assert info.value.kind == "invalid_field"
    assert ".".join(path) in info.value.reason


@pytest.mark.parametrize("digits", [MAX_NUMBER_DIGITS + 1, 5_000, 60_000])
def test_a_very_long_digit_string_is_refused_before_it_is_parsed(digits: int) -> None:
    event = with_value("user.signed_up", ("payload", "signup_duration_ms"), 424242)
    raw = json.dumps(event).replace("424242", "9" * digits).encode()
    with pytest.raises(InvalidEvent) as info:
        decode_event(raw[:65536] if len(raw) > 65536 else raw)
    error = info.value
    if len(raw) <= 65536:
        assert error.kind == "invalid_field"
        assert f"{digits} digits" in error.reason and str(MAX_NUMBER_DIGITS) in error.reason


def test_long_digit_runs_inside_text_are_not_numbers() -> None:
    text = "ref " + "7" * 500 + ' and "quoted \\" 1' + "2" * 300 + '"'
    event = example_event("message.sent", {"text": text})
    assert decode_event(json.dumps(event).encode()).payload.text == text  # type: ignore[attr-defined]


@pytest.mark.parametrize("event_type", EXAMPLE_TYPES)
def test_json_schema_pins_schema_version_to_the_known_versions(event_type: str) -> None:
    model = EVENT_MODELS[event_type]
    schema = json.loads((JSON_DIR / f"{event_type}.json").read_text(encoding="utf-8"))
    assert schema["properties"]["schema_version"]["enum"] == sorted(model.SUPPORTED_VERSIONS)


@pytest.mark.parametrize("version", ["1.0", "1.1", "2.0", "0.9", "v1", ""])
@pytest.mark.parametrize("event_type", EXAMPLE_TYPES)
def test_json_schema_and_decoder_agree_on_schema_version(event_type: str, version: str) -> None:
    event = example_event(event_type, schema_version=version)
    try:
        decode_event(json.dumps(event).encode())
        accepted = True
    except InvalidEvent:
        accepted = False
    assert validator(event_type).is_valid(event) == accepted


def test_finite_bounds_are_finite() -> None:
    assert all(math.isfinite(lo) and math.isfinite(hi) for *_, lo, hi in FIELDS)


def test_a_huge_integer_in_a_parsed_object_is_refused_naming_the_field() -> None:
    # What POST /api/events and the publisher validate: an object already parsed.
    from schemas import decode_event_obj

    event = with_value("user.signed_up", ("payload", "signup_duration_ms"), 10**400)
    with pytest.raises(InvalidEvent) as info:
        decode_event_obj(event)
    assert info.value.kind == "invalid_field"
    assert "payload.signup_duration_ms: Input should be less than or equal to" in info.value.reason


@pytest.mark.parametrize("field", ["payout_fingerprint", "payment_fingerprint"])
@pytest.mark.parametrize(("version", "token", "accepted"), [
    ("1.1", "pm_1Qx7ZzT9fingerprint", True),
    ("1.0", "pm_1Qx7ZzT9fingerprint", False),  # a field new in 1.1 on a 1.0 event
    ("1.1", "short", False), ("1.1", "x" * 65, False),  # bounded length
    ("1.1", "4242 4242 4242 4242", False),  # a card number is not an opaque token
    ("1.1", "4242424242424242", False), ("1.1", "4242424242424242x", True),
    ("1.1", "tok/../../etc", False),
])
def test_a_payment_fingerprint_is_an_opaque_bounded_token_of_its_version(
        field: str, version: str, token: str, accepted: bool) -> None:
    event = example_event("profile.updated", {field: token}, schema_version=version)
    try:
        decode_event(json.dumps(event).encode())
        decoded = True
    except InvalidEvent:
        decoded = False
    assert decoded is accepted
    assert validator("profile.updated").is_valid(event) is accepted
