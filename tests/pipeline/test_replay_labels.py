"""``vigil replay`` with label events inline: one replay is a test-then-train evaluation."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from detectors.examples import example_event
from detectors.models import FakeSignupModel, ScamMessageModel
from pipeline.offline.replay import InvalidLine, replay_file, replay_lines

KEY = b"test-hash-key-0123456789abcdef"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
SCAM = "Pay the deposit by whatsapp +44 7700 900{i:03d} or crypto before any contract"
FINE = "Thanks, draft {i} of the logo is attached; tell me what to change."


def _at(minute: int) -> str:
    return (T0 + timedelta(minutes=minute)).isoformat()


def _id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def consent(user: str, state: str, minute: int, policy: str = "2026-01") -> str:
    return json.dumps(example_event("consent.changed", {
        "user_id": user, "ai_features": state, "policy_version": policy,
        "changed_at": _at(minute)}, event_id=_id(f"consent:{user}:{minute}:{state}"),
        occurred_at=_at(minute)))


def message(user: str, i: int, scam: bool, minute: int) -> tuple[str, str]:
    event_id = _id(f"msg:{user}:{i}")
    text = (SCAM if scam else FINE).format(i=i)
    return event_id, json.dumps(example_event("message.sent", {
        "message_id": f"m{i}", "sender_id": user, "text": text, "has_active_contract": not scam},
        event_id=event_id, occurred_at=_at(minute)))


def decision(event_ids: list[str], outcome: str, minute: int, name: str = "") -> str:
    return json.dumps({
        "event_id": _id(f"decision:{name or ','.join(event_ids)}:{outcome}"), "type": "review.decided",
        "schema_version": "1.0", "occurred_at": _at(minute), "producer": "review-service",
        "subject_id": "u_review", "payload": {
            "decision_id": f"d{minute}", "case_id": f"c{minute}", "entity_type": "user",
            "entity_id": "u1", "outcome": outcome, "event_ids": event_ids, "analyst_id": "a1"}})


def run(lines: list[str], models: list[Any]) -> list[dict[str, Any]]:
    records = list(replay_lines(lines, models=models))
    assert not [r for r in records if isinstance(r, InvalidLine)]
    return records  # type: ignore[return-value]


def model_result(record: dict[str, Any], model_id: str) -> dict[str, Any]:
    return next(r for r in record["results"] if r["detector_id"] == model_id)


def test_labels_teach_the_model_that_scored_the_event_test_then_train() -> None:
    model = ScamMessageModel(KEY, min_labels_per_class=3)
    lines = [consent("u1", "opted_in", 0)]
    for i in range(20):
        event_id, line = message("u1", i, scam=i % 2 == 0, minute=1 + i)
        lines += [line, decision([event_id], "confirmed_fraud" if i % 2 == 0 else "legitimate", 1 + i)]
    records = run(lines, [model])
    scored = [r for r in records if r["type"] == "message.sent"]
    decided = [r for r in records if r["type"] == "review.decided"]
    # Test first: the first message was scored by an untaught model, neutral and silent.
    first = model_result(scored[0], model.id)
    assert first["score"] == 0.5 and not first["fired"] and first["consent"]["state"] == "opted_in"
    # Then train: every decision taught it, and later scams fire.
    assert all(d["label"] is not None and d["learning"][0]["learned"] for d in decided)
    assert decided[0]["learning"][0]["label"] is True and decided[1]["learning"][0]["label"] is False
    assert model.n_labels == 20 and model.n_positive == 10
    assert model_result(scored[-2], model.id)["fired"] and not model_result(scored[-1], model.id)["fired"]
    assert decided[-1]["learning"][0]["state_version"] == "1.20"


def test_a_late_label_still_reaches_the_model() -> None:
    model = ScamMessageModel(KEY)
    first_id, first = message("u1", 0, scam=True, minute=1)
    lines = [consent("u1", "opted_in", 0), first]
    lines += [message("u1", i, scam=False, minute=1 + i)[1] for i in range(1, 50)]
    lines.append(decision([first_id], "confirmed_fraud", 600))
    (label_line,) = [r for r in run(lines, [model]) if r["type"] == "review.decided"]
    assert label_line["learning"] == [{"event_id": first_id, "model": model.id, "learned": True,
                                       "reason": "learned", "label": True,
                                       "consent": label_line["learning"][0]["consent"],
                                       "state_version": "1.1"}]


def test_no_learning_from_subjects_without_consent_then_or_now() -> None:
    model = ScamMessageModel(KEY)
    never_id, never = message("u_never", 1, scam=True, minute=1)
    before_id, before = message("u_late", 2, scam=True, minute=2)
    out_id, out = message("u_out", 3, scam=True, minute=3)
    lines = [never, before, consent("u_late", "opted_in", 5),
             consent("u_out", "opted_in", 0), out, consent("u_out", "opted_out", 10),
             decision([never_id, before_id, out_id], "confirmed_fraud", 20)]
    records = run(lines, [model])
    for record in records[:2]:
        assert model_result(record, model.id)["skipped"].startswith("no_consent")
    learning = {x["event_id"]: x for x in records[-1]["learning"]}
    assert learning[never_id]["reason"].startswith("no_input")  # never scored, nothing kept
    assert learning[before_id]["reason"].startswith("no_input")
    assert learning[out_id] == {"event_id": out_id, "model": model.id, "learned": False,
                                "reason": "no_consent: opted out since the event", "label": True}
    assert model.n_labels == 0


def test_escalations_and_repeated_decisions_teach_nothing() -> None:
    model = ScamMessageModel(KEY)
    event_id, line = message("u1", 0, scam=True, minute=1)
    again = decision([event_id], "confirmed_fraud", 3, name="same")
    records = run([consent("u1", "opted_in", 0), line, decision([event_id], "escalate", 2),
                   again, again], [model])
    escalate, first, repeat = records[2:]
    assert escalate["label"] is None and escalate["learning"] == []
    assert first["learning"][0]["learned"] is True
    assert repeat["learning"] == [] and "duplicate" in repeat["note"]
    assert model.n_labels == 1


def test_models_with_an_unsupervised_part_observe_consented_events_only() -> None:
    model = FakeSignupModel(KEY)
    lines = [consent("u_yes", "opted_in", 0)]
    for i, user in enumerate(["u_yes", "u_no", "u_yes"]):
        lines.append(json.dumps(example_event("user.signed_up", {"user_id": user},
                                              event_id=_id(f"signup:{i}"), occurred_at=_at(1 + i))))
    run(lines, [model])
    assert model.n_observed == 2 and model.n_labels == 0


def test_replay_file_passes_models_and_writes_what_was_learned(tmp_path: Path) -> None:
    event_id, line = message("u1", 0, scam=True, minute=1)
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join([consent("u1", "opted_in", 0), line,
                                 decision([event_id], "legitimate", 2)]) + "\n")
    written: list[str] = []
    model = ScamMessageModel(KEY)
    assert replay_file(str(source), written.append, models=[model]) == (3, 0)
    last = json.loads(written[-1])
    assert last["label"] is False and last["learning"][0]["learned"] is True
    assert model.n_labels == 1
