"""Unlearning on the real embedded stack: labels through tns.decisions are logged by the learner;
an erasure recorded in Redis, and a consent withdrawal that asks for its learning to be undone
(a consent.changed through Kafka), are taken out of every published model: the count model by
subtraction, exactly; the logistic models by a rebuild from the log; and the status says so."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from detectors.examples import example_event
from detectors.privacy import subject_pseudonym
from detectors.unlearning import Contribution, rebuild
from pipeline.cli.main import app
from pipeline.kafka.publisher import Publisher
from pipeline.models.keys import (
    APPLIED,
    ERASED,
    LEARNING_WITHDRAWN,
    UNLEARNING,
    training_log_key,
)
from pipeline.models.training_log import parse
from tests.support.labelling import published_model
from tests.support.models import learned_state
from tests.support.stack import Stack, with_settings
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
SCAM, COUNTS = "message.scam_model", "message.scam_counts_model"
NOW = datetime.now(timezone.utc)
SPAM = ["Send the deposit by gift card now and I will release the work, WhatsApp me",
        "Pay the registration fee in bitcoin to my wallet to unlock the job"]
HAM = ["I pushed the fixes to the staging branch, please review",
       "Can we move our call to Thursday afternoon?"]
USERS = ["u_erase", "u_withdraw", "u_keep1", "u_keep2"]


def consent(user: str, state: str, at: datetime, **extra: object) -> dict:
    return example_event("consent.changed", {"user_id": user, "ai_features": state,
                                             "changed_at": at.isoformat(), **extra},
                         event_id=str(uuid.uuid4()), occurred_at=at.isoformat(),
                         schema_version="1.1" if extra else "1.0")


def message(user: str, text: str, n: int) -> dict:
    return example_event("message.sent", {"sender_id": user, "text": text, "message_id": f"m{n}",
                                          "has_active_contract": False},
                         event_id=str(uuid.uuid4()),
                         occurred_at=datetime.now(timezone.utc).isoformat())


def decision(n: int, event: dict, fraud: bool) -> dict:
    return example_event("review.decided", {
        "decision_id": f"d{n}", "case_id": f"c{n}", "entity_id": event["subject_id"],
        "outcome": "confirmed_fraud" if fraud else "legitimate",
        "policy_reason": "scam" if fraud else "", "event_ids": [event["event_id"]]},
        event_id=str(uuid.uuid4()), subject_id=event["subject_id"])


def log_of(stack: Stack, model_id: str) -> list[Contribution]:
    return [parse(i, f) for i, f in stack.client.xrange(training_log_key(model_id))]


def excluded_up_to(stack: Stack, model_id: str) -> float:
    import json

    raw = stack.client.hget(UNLEARNING, model_id)
    return json.loads(raw)["excluded_up_to"] if raw else 0.0


def trained_without(stack: Stack, model_id: str, log: list[Contribution],
                    subjects: set[str]) -> object:
    fresh = published_model(stack, model_id).fresh()
    return rebuild(fresh, [c for c in log if c.subject not in subjects])


def test_erasure_and_withdrawal_are_unlearned_by_every_published_model(
        stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    with_settings(stack, model_inputs="all", unlearn_debounce=0)
    key = stack.settings.model_key()
    publisher = Publisher(stack.settings.kafka_bootstrap, consent_registry=stack.settings.redis_url)
    stack.start_worker()
    for user in USERS:
        publisher.publish(consent(user, "opted_in", NOW - timedelta(hours=1)))
    training = [(message(USERS[i % 4], f"{(SPAM if i % 3 == 0 else HAM)[i % 2]} {i}", i),
                 i % 3 == 0) for i in range(32)]
    for event, _ in training:
        publisher.publish(event)
    publisher.flush()
    ids = {e["event_id"] for e, _ in training}
    wait_until(lambda: ids <= stack.ledger(), 60, message="training messages scored")
    for n, (event, fraud) in enumerate(training):
        publisher.publish(decision(n, event, fraud))
    publisher.flush()
    client = stack.client
    wait_until(lambda: client.scard(APPLIED) == len(training), 60, message="decisions applied")

    # The learner logged every label under pseudonyms, and the log is what the models learned.
    before = {m: log_of(stack, m) for m in (SCAM, COUNTS)}
    assert len(before[SCAM]) == len(before[COUNTS]) == len(training)
    assert {c.subject for c in before[COUNTS]} == {subject_pseudonym(u, key) for u in USERS}
    assert {c.decision_id for c in before[SCAM]} == {f"d{n}" for n in range(len(training))}
    assert learned_state(published_model(stack, COUNTS)) == learned_state(
        trained_without(stack, COUNTS, before[COUNTS], set()))

    # Erasure (as the erasure service records it): the raw id is never written.
    erased = subject_pseudonym("u_erase", key)
    erased_at = time.time()
    client.zadd(ERASED, {erased: erased_at})
    wait_until(lambda: all(excluded_up_to(stack, m) >= erased_at for m in (SCAM, COUNTS)), 60,
               message="the learner to unlearn the erased user")
    for model_id in (SCAM, COUNTS):
        assert learned_state(published_model(stack, model_id)) == learned_state(
            trained_without(stack, model_id, before[model_id], {erased}))
        assert erased not in {c.subject for c in log_of(stack, model_id)}

    # A withdrawal of consent that asks for past learning to be undone, through Kafka.
    withdrawn = subject_pseudonym("u_withdraw", key)
    publisher.publish(consent("u_withdraw", "opted_out", datetime.now(timezone.utc),
                              undo_learning=True))
    publisher.flush()
    wait_until(lambda: client.zscore(LEARNING_WITHDRAWN, withdrawn) is not None, 60,
               message="the worker to record the withdrawal")
    asked_at = client.zscore(LEARNING_WITHDRAWN, withdrawn)
    wait_until(lambda: all(excluded_up_to(stack, m) >= asked_at for m in (SCAM, COUNTS)), 60,
               message="the learner to unlearn the withdrawn user")
    for model_id in (SCAM, COUNTS):
        model = published_model(stack, model_id)
        expected = trained_without(stack, model_id, before[model_id], {erased, withdrawn})
        assert learned_state(model) == learned_state(expected)
        assert model.n_labels == len(training) // 2  # two users of four remain
    assert client.get("vigil:model:message.scam_counts_model:version") is not None

    for name, value in stack.settings.env().items():
        monkeypatch.setenv(name, value)
    shown = CliRunner().invoke(app, ["models", "unlearning-status"])
    assert shown.exit_code == 0, shown.output
    said = " ".join(shown.output.split())
    assert f"{COUNTS}: excluded all erasures and withdrawals up to" in said
    assert "(exact," in said and "(rebuild," in said and "waiting" not in said
