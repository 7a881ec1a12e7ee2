"""Consent-gated online models on the real embedded stack: opt-outs across topics, the label loop."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from detectors.examples import example_event
from pipeline.kafka.publisher import Publisher
from pipeline.models.keys import (
    cursor_key,
    input_key,
    observed_key,
    unlabelled_key,
    version_key,
)
from tests.support.labelling import published_model
from tests.support.stack import Stack, with_settings
from tests.support.traffic import flags_in_redis, wait_caught_up
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
MODEL = "message.scam_model"
NOW = datetime.now(timezone.utc)


def consent(user: str, state: str, at: datetime) -> dict:
    return example_event("consent.changed", {"user_id": user, "ai_features": state,
                                             "changed_at": at.isoformat()},
                         event_id=str(uuid.uuid4()), occurred_at=at.isoformat())


def message(user: str, text: str, n: int, at: datetime | None = None) -> dict:
    at = at or datetime.now(timezone.utc)
    return example_event("message.sent", {"sender_id": user, "text": text, "message_id": f"m{n}",
                                          "has_active_contract": False},
                         event_id=str(uuid.uuid4()), occurred_at=at.isoformat())


def scored(stack: Stack, events: list[dict]) -> set[str]:
    """The events the model saw (it stores what it saw, waiting for a label)."""
    client = stack.client
    keys = [input_key(e["event_id"], MODEL) for e in events]
    return {e["event_id"] for e, v in zip(events, client.mget(keys)) if v is not None}


def test_an_opt_out_stops_scoring_of_events_already_queued_on_other_topics(stack: Stack) -> None:
    with_settings(stack, model_inputs="all")  # every scored event's input is kept: the evidence
    publisher = Publisher(stack.settings.kafka_bootstrap, consent_registry=stack.settings.redis_url)
    worker = stack.start_worker("worker-a")
    publisher.publish(consent("u_c", "opted_in", NOW - timedelta(hours=1)))
    before = [message("u_c", "Thanks, the draft is attached.", i) for i in range(10)]
    for event in before:
        publisher.publish(event)
    publisher.flush()
    wait_until(lambda: {e["event_id"] for e in before} <= stack.ledger(), 30, message="first messages")
    assert scored(stack, before) == {e["event_id"] for e in before}, "opted in: the model scores"

    # The worker is down while messages queue up; then the user opts out; more messages follow.
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(30)
    queued = [message("u_c", "Here is the second draft.", 100 + i,
                      at=datetime.now(timezone.utc) - timedelta(minutes=5)) for i in range(20)]
    for event in queued:
        publisher.publish(event)
    publisher.flush()
    publisher.publish(consent("u_c", "opted_out", datetime.now(timezone.utc)))
    after = [message("u_c", "Final version attached.", 200 + i) for i in range(10)]
    for event in after:
        publisher.publish(event)
    publisher.flush()

    stack.start_worker("worker-b")
    everything = queued + after
    wait_until(lambda: {e["event_id"] for e in everything} <= stack.ledger(), 60, message="the rest")
    # Queued before the opt-out was published, processed after it: never scored.
    assert scored(stack, everything) == set()


def test_analyst_labels_teach_the_model_every_worker_scores_with(stack: Stack) -> None:
    with_settings(stack, model_inputs="all")  # labels name unflagged events here too
    publisher = Publisher(stack.settings.kafka_bootstrap, consent_registry=stack.settings.redis_url)
    stack.start_worker()
    users = [f"u_l{i}" for i in range(8)]
    for user in users:
        publisher.publish(consent(user, "opted_in", NOW - timedelta(hours=1)))
    spam = ["Send the deposit by gift card now and I will release the work, WhatsApp me",
            "Pay the registration fee in bitcoin to my wallet to unlock the job",
            "Urgent: transfer the fee via western union before we start, text me"]
    ham = ["I pushed the fixes to the staging branch, please review",
           "The logo variants are in the shared folder, which one do you prefer?",
           "Can we move our call to Thursday afternoon?"]
    training = [(message(users[i % 8], spam[i % 3], i), True) for i in range(24)]
    training += [(message(users[i % 8], ham[i % 3], 100 + i), False) for i in range(24)]
    for event, _ in training:
        publisher.publish(event)
    publisher.flush()
    ids = {e["event_id"] for e, _ in training}
    wait_until(lambda: ids <= stack.ledger(), 60, message="training messages scored")
    assert scored(stack, [e for e, _ in training]) == ids

    for n, (event, is_fraud) in enumerate(training):
        publisher.publish(example_event("review.decided", {
            "decision_id": f"d{n}", "case_id": f"c{n}", "entity_id": event["subject_id"],
            "outcome": "confirmed_fraud" if is_fraud else "legitimate",
            "policy_reason": "scam" if is_fraud else "", "event_ids": [event["event_id"]]},
            event_id=str(uuid.uuid4()), subject_id=event["subject_id"]))
    publisher.flush()
    client = stack.client
    wait_until(lambda: int(client.get(version_key(MODEL)) or 0) >= 1, 60,
               message="the learner to publish a model snapshot")
    wait_until(lambda: client.scard("vigil:model:applied_decisions") == len(training), 60,
               message="every decision applied once")

    probe = [message(users[0], "Pay the fee by gift card and bitcoin first, WhatsApp me now", 900),
             message(users[1], "Please review the staging branch when you can", 901)]
    for event in probe:
        publisher.publish(event)
    publisher.flush()
    wait_until(lambda: {e["event_id"] for e in probe} <= stack.ledger(), 30, message="probes")
    wait_caught_up(stack)
    model_flags = {f["event_id"]: f for f in flags_in_redis(stack) if f["detector_id"] == MODEL}
    assert probe[0]["event_id"] in model_flags, "the taught model flags new spam"
    assert probe[1]["event_id"] not in model_flags
    flag = model_flags[probe[0]["event_id"]]
    assert flag["is_ai"] and flag["consent"]["state"] == "opted_in"  # the audit trail
    assert flag["evidence"].get("top_features"), "an analyst can see what drove the score"
    assert not any(users[0] in json.dumps(feature) for feature in flag["evidence"]["top_features"])


def test_by_default_flagged_events_keep_what_the_model_saw_for_a_label_others_for_a_report(
        stack: Stack) -> None:
    """Analysts' decisions label the events of flags (and of samples): those inputs wait for a
    label for the input TTL. A message neither flagged nor sampled keeps its input only for the
    report window, for a decision on a user report about it."""
    publisher = Publisher(stack.settings.kafka_bootstrap, consent_registry=stack.settings.redis_url)
    stack.start_worker()
    publisher.publish(consent("u_k", "opted_in", NOW - timedelta(hours=1)))
    flagged = message("u_k", "Let's skip the fees, pay me on venmo instead", 1)
    quiet = message("u_k", "The second draft is in the shared folder", 2)
    for event in (flagged, quiet):
        publisher.publish(event)
    publisher.flush()
    wait_until(lambda: {flagged["event_id"], quiet["event_id"]} <= stack.ledger(), 30,
               message="both messages processed")
    wait_caught_up(stack)
    assert {f["event_id"] for f in flags_in_redis(stack)} == {flagged["event_id"]}
    client = stack.client
    ttl = {e["event_id"]: client.ttl(input_key(e["event_id"], MODEL)) for e in (flagged, quiet)}
    assert ttl[flagged["event_id"]] > stack.settings.model_report_window
    sampled = client.exists(f"vigil:sample:{quiet['event_id']}")
    assert sampled or 0 < ttl[quiet["event_id"]] <= stack.settings.model_report_window
    assert client.get("vigil:model:content:message:m2").decode() == quiet["event_id"]


SIGNUP_MODEL = "signup.fake_account_model"


def signup(user: str) -> dict:
    return example_event("user.signed_up", {"user_id": user, "username": f"{user}_x",
                                            "email": f"{user}@example.com", "device_id": f"d_{user}"},
                         event_id=str(uuid.uuid4()),
                         occurred_at=datetime.now(timezone.utc).isoformat())


def test_the_learner_teaches_the_signup_model_each_consented_unlabelled_signup_once(
        stack: Stack) -> None:
    publisher = Publisher(stack.settings.kafka_bootstrap, consent_registry=stack.settings.redis_url)
    stack.start_worker()
    consented = [f"u_yes{i}" for i in range(30)]
    for user in consented:
        publisher.publish(consent(user, "opted_in", NOW - timedelta(hours=1)))
    signups = [signup(user) for user in consented + [f"u_no{i}" for i in range(20)]]
    for event in signups + signups[:10]:  # the first ten are redelivered
        publisher.publish(event)
    publisher.flush()
    wait_until(lambda: {e["event_id"] for e in signups} <= stack.ledger(), 60, message="signups")
    wait_until(lambda: published_model(stack, SIGNUP_MODEL).n_observed >= len(consented), 30,
               message="the learner to publish what the signup model observed")
    time.sleep(4.5)  # two more learner rounds: nothing is left to observe
    # Only consented signups, each once: no opt-in, no learning; a redelivery adds nothing.
    assert published_model(stack, SIGNUP_MODEL).n_observed == len(consented)
    client = stack.client
    cursor = client.get(cursor_key(SIGNUP_MODEL))
    assert client.xrange(unlabelled_key(SIGNUP_MODEL), min=b"(" + cursor) == []
    assert client.zcard(observed_key(SIGNUP_MODEL)) == len(consented)
