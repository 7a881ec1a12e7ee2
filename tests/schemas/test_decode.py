"""Decoding Kafka values into typed events, and every way a value can be refused."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.examples import example_event
from schemas import (
    EVENT_MODELS,
    MAX_EVENT_BYTES,
    ConsentChanged,
    InvalidEvent,
    JobPostCreated,
    MessageSent,
    ProfileUpdated,
    ProposalSubmitted,
    ReviewDecided,
    Topics,
    UserReportFiled,
    UserSignedUp,
    decode_event,
    decode_event_obj,
)
from schemas.events import (
    ActionApplied,
    ActionFailed,
    AppealFiled,
    Envelope,
    ErasureRequested,
)
from tests.support.events import EXAMPLE_TYPES

#: Written out by hand (not derived from EVENT_MODELS) so a wrong mapping is caught.
EXPECTED_MODEL = {
    "user.signed_up": UserSignedUp,
    "job_post.created": JobPostCreated,
    "message.sent": MessageSent,
    "proposal.submitted": ProposalSubmitted,
    "consent.changed": ConsentChanged,
    "user_report.filed": UserReportFiled,
    "review.decided": ReviewDecided,
    "profile.updated": ProfileUpdated,
    "action.applied": ActionApplied,
    "action.failed": ActionFailed,
    "appeal.filed": AppealFiled,
    "erasure.requested": ErasureRequested,
}


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def refusal(raw: bytes, **kwargs: Any) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as info:
        decode_event(raw, **kwargs)
    return info.value


def review_decided_event() -> dict[str, Any]:
    """example_event has no base for review.decided; this is a valid one built by hand."""
    return {
        "event_id": "0b7e4a1c-2f34-4c1e-9a55-6f0f6c1d2e3f", "type": "review.decided",
        "schema_version": "1.0", "occurred_at": "2026-01-05T10:00:00Z", "producer": "review",
        "subject_id": "u_example",
        "payload": {
            "decision_id": "dec_1", "case_id": "case_1", "entity_type": "user",
            "entity_id": "u_example", "outcome": "confirmed_fraud",
            "event_ids": ["5f1c3a52-3d6a-4c37-9d8c-1d1c2f64b7a0"], "analyst_id": "an_1",
        },
    }


# ---- valid events ----------------------------------------------------------------------------


def test_examples_cover_every_event_type() -> None:
    assert set(EXAMPLE_TYPES) == set(EXPECTED_MODEL)
    assert set(EVENT_MODELS) == set(EXPECTED_MODEL)


@pytest.mark.parametrize("event_type", EXAMPLE_TYPES)
def test_valid_example_decodes_to_its_model(event_type: str) -> None:
    source = example_event(event_type)
    event = decode_event(encode(source))
    assert type(event) is EXPECTED_MODEL[event_type]
    assert event.type == event_type
    assert str(event.event_id) == source["event_id"]
    assert event.subject_id == source["subject_id"]
    dumped = event.payload.model_dump(mode="json")
    for name, value in source["payload"].items():
        if name == "changed_at":
            assert event.payload.changed_at == datetime(2026, 1, 5, 8, tzinfo=timezone.utc)
        else:
            assert dumped[name] == value, name


@pytest.mark.parametrize("event_type", EXAMPLE_TYPES)
def test_valid_example_decodes_on_its_own_topic(event_type: str) -> None:
    topic = {
        "user.signed_up": Topics.SIGNUPS, "job_post.created": Topics.JOB_POSTS,
        "message.sent": Topics.MESSAGES, "proposal.submitted": Topics.PROPOSALS,
        "consent.changed": Topics.CONSENT, "user_report.filed": Topics.REPORTS,
        "review.decided": Topics.DECISIONS, "profile.updated": Topics.PROFILES,
        "action.applied": Topics.ACTION_RESULTS, "action.failed": Topics.ACTION_RESULTS,
        "appeal.filed": Topics.APPEALS, "erasure.requested": Topics.PRIVACY,
    }[event_type]
    assert decode_event(encode(example_event(event_type)), topic=topic).type == event_type


def test_review_decision_decodes_to_its_model() -> None:
    event = decode_event(encode(review_decided_event()), topic=Topics.DECISIONS)
    assert type(event) is ReviewDecided
    assert event.payload.outcome == "confirmed_fraud"


def test_optional_payload_fields_take_their_defaults() -> None:
    source = example_event("message.sent")
    del source["payload"]["attachment_count"]
    assert decode_event(encode(source)).payload.attachment_count == 0


def test_offset_occurred_at_is_normalised_to_utc() -> None:
    event = decode_event(encode(example_event("message.sent",
                                              occurred_at="2026-01-05T12:00:00+02:00")))
    assert event.occurred_at == datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)
    assert event.occurred_at.utcoffset() == timedelta(0)


def test_offset_consent_changed_at_is_normalised_to_utc() -> None:
    event = decode_event(encode(example_event(
        "consent.changed", {"changed_at": "2026-01-05T03:30:00-05:00"})))
    assert event.payload.changed_at == datetime(2026, 1, 5, 8, 30, tzinfo=timezone.utc)
    assert event.payload.changed_at.utcoffset() == timedelta(0)


def test_event_of_exactly_the_size_limit_is_accepted() -> None:
    raw = encode(example_event("message.sent"))
    padded = raw + b" " * (MAX_EVENT_BYTES - len(raw))
    assert len(padded) == MAX_EVENT_BYTES
    assert decode_event(padded).type == "message.sent"


# ---- refusals --------------------------------------------------------------------------------


def test_refuses_bad_json() -> None:
    error = refusal(b'{"type": "message.sent", ')
    assert error.kind == "bad_json"
    assert "JSON" in error.reason


def test_refuses_bytes_that_are_not_utf8() -> None:
    raw = encode(example_event("message.sent")).replace(b"Thanks", b"Th\xffanks")
    error = refusal(raw)
    assert error.kind == "bad_json"
    assert "UTF-8" in error.reason


def test_refuses_missing_value() -> None:
    error = refusal(None)  # type: ignore[arg-type]
    assert error.kind == "empty"


@pytest.mark.parametrize(("raw", "named"), [
    (b"[1, 2]", "list"), (b'"message.sent"', "str"), (b"42", "int"), (b"null", "NoneType"),
])
def test_refuses_json_that_is_not_an_object(raw: bytes, named: str) -> None:
    error = refusal(raw)
    assert error.kind == "not_an_object"
    assert named in error.reason


@pytest.mark.parametrize("event_type", ["message.deleted", None, 7, ["message.sent"]])
def test_refuses_unknown_type_and_lists_known_ones(event_type: Any) -> None:
    source = example_event("message.sent")
    source["type"] = event_type
    error = refusal(encode(source))
    assert error.kind == "unknown_type"
    assert repr(event_type) in error.reason
    for known in EXPECTED_MODEL:
        assert known in error.reason


def test_refuses_missing_payload_field_naming_it() -> None:
    source = example_event("message.sent")
    del source["payload"]["text"]
    error = refusal(encode(source))
    assert error.kind == "invalid_field"
    assert "payload.text" in error.reason
    assert "missing" in error.reason


def test_refuses_missing_envelope_field_naming_it() -> None:
    source = example_event("proposal.submitted")
    del source["occurred_at"]
    error = refusal(encode(source))
    assert error.kind == "invalid_field"
    assert "occurred_at" in error.reason


@pytest.mark.parametrize(("event_type", "field", "value"), [
    ("message.sent", "has_active_contract", "false"),   # string for bool
    ("message.sent", "has_active_contract", 0),         # int for bool
    ("proposal.submitted", "connects_spent", "4"),      # string for int
    ("proposal.submitted", "connects_spent", 4.5),      # fractional float for int
    ("job_post.created", "budget_amount", "300"),       # string for float
    ("job_post.created", "skills", "logo design"),      # string for list
    ("user.signed_up", "signup_duration_ms", True),     # bool for int
    ("profile.updated", "completed_jobs", "12"),         # string for int
    ("profile.updated", "hourly_rate", "35"),            # string for float
    ("profile.updated", "has_photo", 1),                 # int for bool
])
def test_refuses_mistyped_field_without_coercion(event_type: str, field: str, value: Any) -> None:
    error = refusal(encode(example_event(event_type, {field: value})))
    assert error.kind == "invalid_field"
    assert f"payload.{field}" in error.reason


def test_a_withdrawal_may_ask_to_undo_past_learning_in_consent_changed_1_1() -> None:
    withdrawal = {"ai_features": "opted_out", "undo_learning": True}
    event = decode_event(encode(example_event("consent.changed", withdrawal,
                                              schema_version="1.1")))
    assert event.payload.undo_learning is True
    assert decode_event(encode(example_event("consent.changed", {}))).payload.undo_learning is False


def test_undo_learning_is_refused_with_an_opt_in_or_in_a_1_0_event() -> None:
    with_opt_in = refusal(encode(example_event(
        "consent.changed", {"ai_features": "opted_in", "undo_learning": True},
        schema_version="1.1")))
    assert with_opt_in.kind == "invalid_field" and "only valid with ai_features" in with_opt_in.reason
    in_1_0 = refusal(encode(example_event(
        "consent.changed", {"ai_features": "opted_out", "undo_learning": True})))
    assert "field of consent.changed 1.1" in in_1_0.reason


def test_refuses_unknown_payload_field() -> None:
    error = refusal(encode(example_event("message.sent", {"priority": "high"})))
    assert error.kind == "invalid_field"
    assert "payload.priority" in error.reason
    assert "Extra inputs" in error.reason


def test_refuses_unknown_envelope_field() -> None:
    source = example_event("message.sent")
    source["trace_id"] = "abc"
    error = refusal(encode(source))
    assert error.kind == "invalid_field"
    assert "trace_id" in error.reason


def test_refuses_oversized_event_before_parsing() -> None:
    raw = encode(example_event("message.sent"))
    padded = raw + b" " * (MAX_EVENT_BYTES + 1 - len(raw))  # valid JSON, one byte too many
    error = refusal(padded)
    assert error.kind == "oversized"
    assert str(MAX_EVENT_BYTES + 1) in error.reason
    assert str(MAX_EVENT_BYTES) in error.reason


def test_refuses_oversized_garbage_as_oversized_not_bad_json() -> None:
    assert refusal(b"\xff" * (MAX_EVENT_BYTES + 10)).kind == "oversized"


def test_refuses_naive_occurred_at() -> None:
    error = refusal(encode(example_event("message.sent", occurred_at="2026-01-05T10:00:00")))
    assert error.kind == "invalid_field"
    assert "occurred_at" in error.reason
    assert "timezone" in error.reason


def test_refuses_naive_consent_changed_at() -> None:
    error = refusal(encode(example_event("consent.changed", {"changed_at": "2026-01-05T08:00:00"})))
    assert error.kind == "invalid_field"
    assert "payload.changed_at" in error.reason


@pytest.mark.parametrize(("event_type", "subject_field"), [
    ("user.signed_up", "user_id"), ("job_post.created", "client_id"),
    ("message.sent", "sender_id"), ("proposal.submitted", "freelancer_id"),
    ("consent.changed", "user_id"), ("user_report.filed", "reporter_id"),
    ("profile.updated", "user_id"),
])
def test_refuses_subject_id_that_differs_from_the_payload_subject(event_type: str,
                                                                   subject_field: str) -> None:
    error = refusal(encode(example_event(event_type, subject_id="u_someone_else")))
    assert error.kind == "invalid_field"
    assert "subject_id" in error.reason
    assert f"payload.{subject_field}" in error.reason
    assert "u_someone_else" in error.reason


@pytest.mark.parametrize("version", ["2.0", "0.9", "1.1"])
def test_refuses_unsupported_schema_version_listing_known_ones(version: str) -> None:
    error = refusal(encode(example_event("message.sent", schema_version=version)))
    assert error.kind == "invalid_field"
    assert version in error.reason
    assert "1.0" in error.reason


def test_refuses_malformed_schema_version() -> None:
    error = refusal(encode(example_event("message.sent", schema_version="v1")))
    assert error.kind == "invalid_field"
    assert "schema_version" in error.reason


def test_refuses_event_on_the_wrong_topic_naming_both_topics() -> None:
    error = refusal(encode(example_event("message.sent")), topic=Topics.SIGNUPS)
    assert error.kind == "wrong_topic"
    assert Topics.MESSAGES in error.reason
    assert Topics.SIGNUPS in error.reason


def test_refuses_json_nested_too_deeply_within_the_size_limit() -> None:
    depth = 20_000
    raw = b'{"type": "message.sent", "x": ' + b"[" * depth + b"]" * depth + b"}"
    assert len(raw) <= MAX_EVENT_BYTES
    assert refusal(raw).kind == "bad_json"


def test_refuses_a_parsed_object_nested_too_deeply() -> None:
    nested: Any = []
    for _ in range(sys.getrecursionlimit() + 100):
        nested = [nested]
    with pytest.raises(InvalidEvent) as info:
        decode_event_obj({**example_event("message.sent"), "x": nested})
    assert info.value.kind in {"bad_json", "invalid_field"}


def test_reason_lists_at_most_five_problems_and_counts_the_rest() -> None:
    error = refusal(b'{"type": "message.sent"}')
    assert error.kind == "invalid_field"
    assert error.reason.count(": required field is missing") == 5
    # Six of the seven envelope fields are missing (only ``type`` is given): five shown, one more.
    assert error.reason.endswith("and 1 more")


# ---- properties ------------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(max_examples=250, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)


def _decodes_or_refuses(raw: bytes, topic: str | None = None) -> None:
    try:
        result = decode_event(raw, topic=topic)
    except InvalidEvent as exc:
        assert exc.kind and exc.reason
    else:
        assert isinstance(result, Envelope)


@PROPERTY_SETTINGS
@given(raw=st.binary(max_size=512)
       | st.text(max_size=200).map(str.encode)
       | st.sampled_from([b"[" * 3000, b"{" * 3000, b'{"type":' * 2000]))
def test_arbitrary_bytes_decode_or_raise_invalid_event(raw: bytes) -> None:
    _decodes_or_refuses(raw)


@PROPERTY_SETTINGS
@given(value=json_values, typed=st.sampled_from([None, *EVENT_MODELS]))
def test_arbitrary_json_decodes_or_raises_invalid_event(value: Any, typed: str | None) -> None:
    if typed is not None and isinstance(value, dict):
        value = {**value, "type": typed}  # get past the type check more often
    try:
        result = decode_event_obj(value)
    except InvalidEvent:
        pass
    else:
        assert isinstance(result, Envelope)
    _decodes_or_refuses(json.dumps(value).encode())


@PROPERTY_SETTINGS
@given(data=st.data(), event_type=st.sampled_from(EXAMPLE_TYPES), value=json_values,
       topic=st.sampled_from([None, Topics.MESSAGES, Topics.SIGNUPS]))
def test_valid_event_with_one_field_replaced_decodes_or_raises_invalid_event(
        data: st.DataObject, event_type: str, value: Any, topic: str | None) -> None:
    source = example_event(event_type)
    field = data.draw(st.sampled_from(sorted(source["payload"])), label="field")
    source["payload"][field] = value
    _decodes_or_refuses(encode(source), topic=topic)
    try:
        event = decode_event_obj(source)
    except InvalidEvent:
        return
    # Strict contracts: a value that survived is exactly the value given (no coercion).
    kept = event.payload.model_dump(mode="json")[field]
    if field != "changed_at":
        assert (kept == value and type(kept) is type(value)) or (
            isinstance(value, int) and not isinstance(value, bool) and kept == float(value))


@PROPERTY_SETTINGS
@given(data=st.data(), event_type=st.sampled_from(EXAMPLE_TYPES), value=json_values)
def test_valid_event_with_one_envelope_field_replaced_decodes_or_raises_invalid_event(
        data: st.DataObject, event_type: str, value: Any) -> None:
    source = example_event(event_type)
    field = data.draw(st.sampled_from(sorted(k for k in source if k != "payload")), label="field")
    source[field] = value
    _decodes_or_refuses(encode(source))


# ---- profile.updated: every field bounded ------------------------------------------------------


@pytest.mark.parametrize(("field", "value"), [
    ("headline", "x" * 151), ("overview", "x" * 5_001), ("display_name", "x" * 257),
    ("skills", ["python"] * 51), ("skills", ["x" * 65]),
    ("hourly_rate", -1.0), ("hourly_rate", 10_000.5),
    ("job_success_score", 101), ("job_success_score", -1),
    ("rating", 0.5), ("rating", 5.01),
    ("portfolio_items", 10_001), ("completed_jobs", -1), ("completed_jobs", 10_000_001),
    ("reviews", 10**8), ("followers", 10**9 + 1), ("following", -5), ("hires", 10**8),
    ("jobs_posted", -1), ("badge", "platinum"), ("total_earnings_band", "$10K+"),
    ("total_spent_band", "lots"), ("country", "Portugal"), ("currency", "usd"),
    ("account_type", "agency"),
])
def test_profile_update_refuses_values_out_of_bounds(field: str, value: Any) -> None:
    error = refusal(encode(example_event("profile.updated", {field: value})))
    assert error.kind == "invalid_field"
    assert f"payload.{field}" in error.reason


def test_profile_update_takes_defaults_and_none_for_what_a_new_profile_lacks() -> None:
    event = decode_event(encode(example_event("profile.updated", {
        "hourly_rate": None, "job_success_score": None, "rating": None, "country": None})))
    assert isinstance(event, ProfileUpdated)
    minimal = {"user_id": "u_new", "account_type": "client"}
    event = decode_event_obj(example_event("profile.updated", subject_id="u_new") | {
        "payload": minimal})
    p = event.payload
    assert (p.headline, p.overview, p.skills, p.hourly_rate, p.job_success_score) == ("", "", [], None, None)
    assert (p.badge, p.total_earnings_band, p.completed_jobs, p.has_photo) == ("none", "none", 0, False)


def test_every_profile_field_is_bounded_in_the_json_schema() -> None:
    from schemas.export import json_schemas

    schema = json_schemas()["profile.updated"]
    payload = schema["$defs"]["ProfileUpdatedPayload"]["properties"]
    for name, spec in payload.items():
        options = spec.get("anyOf", [spec])
        for option in options:
            kind = option.get("type")
            if kind == "string":
                assert "maxLength" in option or "enum" in option or "pattern" in option, name
            elif kind == "array":
                assert "maxItems" in option and "maxLength" in option["items"], name
            elif kind in ("integer", "number"):
                assert "maximum" in option and "minimum" in option, name
