"""Bytes in, a typed event out, or :class:`InvalidEvent` with a reason an engineer can act on."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter, ValidationError

from schemas.errors import InvalidEvent
from schemas.events import EVENT_MODELS, Envelope
from schemas.topics import TOPIC_BY_TYPE

#: Larger events are refused before parsing: a message is 20k characters at most, and nothing
#: legitimate comes near this, while a huge blob would stall a worker.
MAX_EVENT_BYTES = 64 * 1024
#: Longer Kafka keys are refused: a key is the subject id (128 characters at most).
MAX_KEY_BYTES = 1024
#: Longer runs of digits in a number are refused before the JSON is parsed by Python's json
#: (int() of a long digit string is quadratic, and refused past 4,300 digits with a message
#: about Python, not the event). int64 has 19 digits; no number of a contract needs more.
MAX_NUMBER_DIGITS = 100
#: A JSON string (skipped whole, escapes included) or a number's run of digits, integer part,
#: fraction or exponent: what is not a string is structure, literals or numbers.
_STRING_OR_DIGITS = re.compile(rb'"(?:[^"\\]|\\.)*"|[0-9]{%d,}' % (MAX_NUMBER_DIGITS + 1))

#: Every event model behind its ``type``: one pass of pydantic's Rust parser picks the model
#: and validates, where a json.loads to read the type first would parse every event twice.
_ANY_EVENT: TypeAdapter[Envelope] = TypeAdapter(
    Annotated[Union[tuple(EVENT_MODELS.values())], Field(discriminator="type")])  # type: ignore[misc]


def decode_event(raw: bytes, *, topic: str | None = None, key: bytes | None = None) -> Envelope:
    """Decode one Kafka value; when ``topic`` is given, the event type must belong on it, and
    the record's ``key``, if given, may have :data:`MAX_KEY_BYTES` at most.

    >>> decode_event(b'{"type": "nope"}')
    Traceback (most recent call last):
    ...
    schemas.errors.InvalidEvent: unknown_type: unknown event type 'nope' (known: action.applied, action.failed, appeal.filed, consent.changed, erasure.requested, job_post.created, message.sent, profile.updated, proposal.submitted, review.decided, user.signed_up, user_report.filed)
    """
    if raw is None:
        raise InvalidEvent("empty", "the message has no value")
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent(
            "oversized", f"event is {len(raw)} bytes; the limit is {MAX_EVENT_BYTES} bytes"
        )
    if key is not None and len(key) > MAX_KEY_BYTES:
        raise InvalidEvent("oversized", f"the Kafka key is {len(key)} bytes; the limit is "
                           f"{MAX_KEY_BYTES} bytes (a key is the subject id)")
    try:
        event = _ANY_EVENT.validate_json(raw)
    except ValidationError:
        pass  # invalid: the step-by-step path below says exactly why
    else:
        if topic is not None and TOPIC_BY_TYPE[event.type] != topic:
            _model_for({"type": event.type}, topic)  # raises wrong_topic
        return event
    _refuse_long_numbers(raw)
    try:
        obj = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidEvent("bad_json", f"not valid UTF-8 JSON: {exc}") from None
    except RecursionError:
        raise InvalidEvent("bad_json", "JSON is nested too deeply") from None
    model = _model_for(obj, topic)
    # Validate the original bytes: no second serialisation on the hot path.
    return _validate(model, raw)


def _refuse_long_numbers(raw: bytes) -> None:
    """Refuse a number with more than :data:`MAX_NUMBER_DIGITS` digits in a row (strings are
    skipped: digits in a text are not a number). Only for events pydantic refused already.

    >>> _refuse_long_numbers(b'{"a": "' + b"1" * 200 + b'", "b": 12}')
    >>> _refuse_long_numbers(b'{"a": ' + b"1" * 200 + b'}')
    Traceback (most recent call last):
    ...
    schemas.errors.InvalidEvent: invalid_field: a number has 200 digits; numbers have 100 at most
    """
    for match in _STRING_OR_DIGITS.finditer(raw):
        token = match.group()
        if token[:1] != b'"':
            raise InvalidEvent("invalid_field", f"a number has {len(token)} digits; numbers "
                               f"have {MAX_NUMBER_DIGITS} at most")


def decode_event_obj(obj: Any, *, topic: str | None = None) -> Envelope:
    """Validate an already-parsed JSON object (used by replay and the publisher)."""
    model = _model_for(obj, topic)
    try:
        text = json.dumps(obj)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidEvent("bad_json", f"not serialisable as JSON: {type(exc).__name__}: {exc}") from None
    return _validate(model, text)


def _model_for(obj: Any, topic: str | None) -> type[Envelope]:
    if not isinstance(obj, dict):
        raise InvalidEvent("not_an_object", f"an event is a JSON object, got {type(obj).__name__}")
    event_type = obj.get("type")
    model = EVENT_MODELS.get(event_type) if isinstance(event_type, str) else None
    if model is None:
        known = ", ".join(sorted(EVENT_MODELS))
        raise InvalidEvent("unknown_type", f"unknown event type {event_type!r} (known: {known})")
    if topic is not None and TOPIC_BY_TYPE[event_type] != topic:
        raise InvalidEvent(
            "wrong_topic",
            f"{event_type} belongs on {TOPIC_BY_TYPE[event_type]}, not on {topic}",
        )
    return model


def _validate(model: type[Envelope], text: str | bytes) -> Envelope:
    try:
        # JSON mode keeps strictness while accepting RFC 3339 strings for datetimes and UUIDs.
        return model.model_validate_json(text)
    except ValidationError as exc:
        raise InvalidEvent("invalid_field", describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, ``field.path: message``, at most five problems."""
    problems = []
    for error in exc.errors()[:5]:
        location = ".".join(str(part) for part in error["loc"]) or "event"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "required field is missing"
        problems.append(f"{location}: {message}")
    extra = len(exc.errors()) - len(problems)
    if extra > 0:
        problems.append(f"and {extra} more")
    return "; ".join(problems)
