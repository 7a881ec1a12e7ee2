"""``vigil models bootstrap``: models trained from history start warm in the workers, consent
judged per subject and policy version, and a second run teaches nothing twice."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from detectors.consent import CURRENT_POLICY_VERSION
from detectors.examples import example_event
from pipeline.cli.main import app
from pipeline.models.keys import APPLIED, training_log_key, version_key
from pipeline.stores.consent import RedisConsentStore
from schemas import decode_event_obj
from tests.support.labelling import published_model
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
MODEL = "message.scam_model"
T0 = datetime(2026, 1, 10, 9, 0, tzinfo=timezone.utc)
SCAM = "Pay the deposit by whatsapp +44 7700 9001{i:02d} or crypto before any contract"
FINE = "Thanks, draft {i} of the logo is attached; tell me what to change."


def _id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def history(tmp_path: Path) -> tuple[Path, Path, dict]:
    """Consent, 40 messages (half scams) from opted-in users, one from a user who opted out
    later, one under an older policy; and a decision per message."""
    events, decisions = [], []

    def consent(user: str, state: str, at: datetime, policy: str = CURRENT_POLICY_VERSION) -> dict:
        return example_event("consent.changed", {"user_id": user, "ai_features": state,
                                                 "policy_version": policy,
                                                 "changed_at": at.isoformat()},
                             event_id=_id(f"c:{user}:{state}:{policy}"), occurred_at=at.isoformat())

    users = {"u_a": CURRENT_POLICY_VERSION, "u_b": CURRENT_POLICY_VERSION, "u_gone": CURRENT_POLICY_VERSION,
             "u_old": "2025-06"}
    events += [consent(u, "opted_in", T0 - timedelta(days=1), p) for u, p in users.items()]
    for i in range(42):
        user = "u_gone" if i == 40 else "u_old" if i == 41 else ("u_a", "u_b")[i % 2]
        scam = i % 2 == 0
        at = T0 + timedelta(minutes=i)
        event = example_event("message.sent", {
            "message_id": f"m{i}", "sender_id": user, "text": (SCAM if scam else FINE).format(i=i),
            "has_active_contract": not scam}, event_id=_id(f"hist:{i}"), occurred_at=at.isoformat())
        events.append(event)
        decisions.append(example_event("review.decided", {
            "decision_id": f"hist_d{i}", "case_id": f"hist_c{i}", "entity_id": user,
            "outcome": "confirmed_fraud" if scam else "legitimate",
            "policy_reason": "spam" if scam else "", "event_ids": [event["event_id"]]},
            event_id=_id(f"hist:decision:{i}"), subject_id=user,
            occurred_at=(at + timedelta(hours=1)).isoformat()))
    events_file, labels_file = tmp_path / "history.jsonl", tmp_path / "decisions.jsonl"
    events_file.write_text("".join(json.dumps(e) + "\n" for e in events))
    labels_file.write_text("".join(json.dumps(d) + "\n" for d in decisions))
    # Since the history was exported, u_gone opted out: the live registry knows.
    gone = decode_event_obj(consent("u_gone", "opted_out", T0 + timedelta(days=2)))
    return events_file, labels_file, gone


def test_bootstrap_trains_from_history_and_the_model_says_it_starts_warm(
        stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from redis.asyncio import Redis

    events_file, labels_file, gone = history(tmp_path)

    async def opt_out() -> None:
        redis = Redis.from_url(stack.settings.redis_url)
        try:
            await RedisConsentStore(redis).record(gone)
        finally:
            await redis.aclose()

    asyncio.run(opt_out())
    for name, value in stack.settings.env().items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    first = runner.invoke(app, ["models", "bootstrap", "--events", str(events_file),
                                "--labels", str(labels_file)])
    assert first.exit_code == 0, first.output
    said = " ".join(first.output.split())
    # u_gone opted out since (the registry wins over the file); u_old's message was never
    # scored (consent under an older policy), so there was nothing to learn.
    assert "message.scam_model: 40 labels learned, 1 refused" in said
    client = stack.client
    assert int(client.get(version_key(MODEL))) == 1
    assert client.scard(APPLIED) == 42
    model = published_model(stack, MODEL)
    assert model.n_labels == 40 and model.n_positive == 20
    # Every label it taught is in the model's training log (for unlearning), under pseudonyms.
    logged = client.xrange(training_log_key(MODEL))
    assert len(logged) == 40 and all(f[b"subject"].startswith(b"anon_") for _, f in logged)
    assert all(f[b"decision"].startswith(b"hist_d") for _, f in logged)
    assert model.warm_start["labels"] == 40 and model.warm_start["source"] == "bootstrap"
    assert model.warm_start["history_from"].startswith("2026-01-09")  # the consent changes
    # Every explanation says so: a scam now fires, warm.
    probe = decode_event_obj(example_event("message.sent", {
        "text": SCAM.format(i=99), "has_active_contract": False}))
    result = model.detect(probe, {})
    assert result.fired and result.evidence["warm_start"]["labels"] == 40

    again = runner.invoke(app, ["models", "bootstrap", "--events", str(events_file),
                                "--labels", str(labels_file)])
    assert again.exit_code == 0, again.output
    assert "42 applied before (skipped)" in " ".join(again.output.split())
    assert int(client.get(version_key(MODEL))) == 1  # nothing taught twice, nothing published
    assert published_model(stack, MODEL).n_labels == 40
