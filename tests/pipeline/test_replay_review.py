"""``vigil replay --label-policy reviewed``: the product's loop offline. Models learn only the
labels of events that went to review (flag, sample, report), and every line says why."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from detectors.examples import example_event
from detectors.models import ScamMessageModel
from detectors.ruleset import load_rules
from detectors.sampling import SamplingPolicy, draw
from pipeline.offline.replay import InvalidLine, ReplaySummary, replay_lines

KEY = b"test-hash-key-0123456789abcdef"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
NO_SAMPLE = SamplingPolicy(rate=0.0, daily_budget=0)


def _id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def _at(minute: float) -> str:
    return (T0 + timedelta(minutes=minute)).isoformat()


def consent(user: str) -> str:
    return json.dumps(example_event("consent.changed", {
        "user_id": user, "ai_features": "opted_in", "changed_at": _at(-60)},
        event_id=_id(f"consent:{user}"), occurred_at=_at(-60)))


def message(i: int, text: str, *, contract: bool = True, user: str = "u1") -> tuple[str, str]:
    event_id = _id(f"msg:{i}")
    return event_id, json.dumps(example_event("message.sent", {
        "message_id": f"m{i}", "sender_id": user, "text": text, "has_active_contract": contract},
        event_id=event_id, occurred_at=_at(i)))


def report(i: int, message_id: str) -> tuple[str, str]:
    event_id = _id(f"report:{i}")
    return event_id, json.dumps(example_event("user_report.filed", {
        "reporter_id": "u_reporter", "target_type": "message", "target_id": message_id,
        "reason": "scam"}, event_id=event_id, subject_id="u_reporter", occurred_at=_at(i)))


def decision(name: str, event_ids: list[str], outcome: str, minute: float, *,
             entity: tuple[str, str] = ("user", "u1")) -> str:
    return json.dumps({
        "event_id": _id(f"decision:{name}"), "type": "review.decided", "schema_version": "1.0",
        "occurred_at": _at(minute), "producer": "review-service", "subject_id": "u_review",
        "payload": {"decision_id": name, "case_id": f"c_{name}", "entity_type": entity[0],
                    "entity_id": entity[1], "outcome": outcome, "event_ids": event_ids,
                    "analyst_id": "a1"}})


def run(lines: list[str], model: Any, policy: str, sampling: SamplingPolicy = NO_SAMPLE,
        summary: ReplaySummary | None = None) -> list[dict[str, Any]]:
    records = list(replay_lines(lines, models=[model], label_policy=policy, sampling=sampling,
                                summary=summary))
    assert not [r for r in records if isinstance(r, InvalidLine)]
    return records  # type: ignore[return-value]


def test_reviewed_learns_flagged_events_and_not_what_nobody_reviewed() -> None:
    flagged_id, flagged = message(1, "pay me on venmo instead, skip the fees", contract=False)
    quiet_id, quiet = message(2, "The second draft is in the folder")
    lines = [consent("u1"), flagged, quiet,
             decision("d1", [flagged_id], "confirmed_fraud", 10),
             decision("d2", [quiet_id], "legitimate", 11)]
    for policy, learned in (("all", 2), ("reviewed", 1)):
        model = ScamMessageModel(KEY)
        records = run(lines, model, policy)
        assert model.n_labels == learned
    by_id = {r["event_id"]: r for r in records}
    assert by_id[flagged_id]["review"] == {"to_review": True, "reasons": ["flag"],
                                           "inclusion_probability": None}
    assert by_id[quiet_id]["review"]["to_review"] is False
    refused = records[-1]["learning"][0]
    assert not refused["learned"] and refused["reason"].startswith("not_reviewed")
    assert records[-1]["sources"] == {quiet_id: "unreviewed"}


def test_reviewed_learns_the_labelling_sample_with_its_inclusion_probability() -> None:
    ids, lines = [], [consent("u1")]
    for i in range(60):
        event_id, line = message(i, f"Draft {i} of the logo is attached")
        ids.append(event_id)
        lines.append(line)
    lines += [decision(f"d{i}", [e], "legitimate", 100 + i) for i, e in enumerate(ids)]
    sampling = SamplingPolicy(seed="s1", rate=0.2, daily_budget=0)
    model, summary = ScamMessageModel(KEY), ReplaySummary()
    records = run(lines, model, "reviewed", sampling, summary)
    drawn = {e for e in ids if draw("s1", e) < 0.2}
    sampled = {r["event_id"] for r in records if r["review"]["reasons"] == ["random"]}
    assert sampled == drawn and drawn
    assert all(r["review"]["inclusion_probability"] == 0.2 for r in records
               if r["event_id"] in drawn)
    assert model.n_labels == len(drawn)
    assert summary.models[model.id].learned == {"sample": len(drawn)}
    assert summary.review["random"] == len(drawn)


def test_a_decision_on_a_report_labels_the_reported_message() -> None:
    scam_id, scam = message(1, "Send the money to my account and we start", contract=True)
    report_id, filed = report(2, "m1")
    lines = [consent("u1"), scam, filed,
             decision("d1", [report_id], "confirmed_fraud", 5, entity=("message", "m1"))]
    model, summary = ScamMessageModel(KEY), ReplaySummary()
    records = run(lines, model, "reviewed", summary=summary)
    report_line = next(r for r in records if r["event_id"] == report_id)
    assert report_line["review"]["labels_event"] == scam_id
    assert "report" in report_line["review"]["reasons"]
    assert records[-1]["sources"] == {scam_id: "report", report_id: "flag"}
    assert [x["event_id"] for x in records[-1]["learning"] if x["learned"]] == [scam_id]
    assert model.n_labels == 1 and model.n_positive == 1
    assert summary.models[model.id].learned == {"report": 1}


def test_the_summary_says_when_each_model_first_fired() -> None:
    lines = [consent("u1")]
    for i in range(30):
        scam = i % 2 == 0
        event_id, line = message(i, ("Pay the deposit by whatsapp +44 7700 9001%02d first" % i)
                                 if scam else f"Thanks, draft {i} is attached", contract=not scam)
        lines += [line, decision(f"d{i}", [event_id], "confirmed_fraud" if scam else "legitimate",
                                 i + 0.5)]
    summary = ReplaySummary()
    run(lines, ScamMessageModel(KEY, min_labels_per_class=3), "all", summary=summary)
    stats = summary.models["message.scam_model"]
    assert stats.scored == 30 and stats.first_fired_event is not None
    assert 6 <= stats.first_fired_event <= 12  # ready after 3 of each class
    assert any("first fired at line" in line for line in summary.lines())


def test_rules_alone_replay_as_before() -> None:
    _, line = message(1, "pay me on venmo instead", contract=False)
    (record,) = replay_lines([line], rules=load_rules())
    assert record["review"]["reasons"] == ["flag"]  # type: ignore[index]
