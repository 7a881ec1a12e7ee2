"""The learner's rounds on a real Redis: what a model observed is published once, or not at all,
also when two learners briefly run at once (a rebalance)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError

from detectors.core import Context, decide
from detectors.examples import example_event
from detectors.models import default_models
from detectors.ruleset import RuleSet
from pipeline.local.embedded import start_redis
from pipeline.metrics import WORKER as REGISTRY
from pipeline.models.keys import APPLIED, observed_key, version_key
from pipeline.models.learner import ROUND_ATTEMPTS, Learner
from pipeline.models.scorer import Scorer
from pipeline.stores.consent import RedisConsentStore
from pipeline.stores.outages import is_outage
from schemas.decode import decode_event_obj
from schemas.events import ReviewDecided

pytestmark = pytest.mark.integration
SIGNUP_MODEL = "signup.fake_account_model"
SCAM_MODEL = "message.scam_model"
#: Every model that learns a message's label: the scam model and the count model beside it.
MESSAGE_MODELS = ["message.scam_counts_model", SCAM_MODEL]
KEY = b"test-key-0123456789"
NOW = datetime.now(timezone.utc)


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[Redis]:
    server = start_redis(tmp_path, appendfsync="no")
    client = Redis.from_url(server.url)
    try:
        yield client
    finally:
        await client.aclose()
        server.stop()


def runtime_of(redis: Redis, key: bytes = KEY) -> Learner:
    """A worker's models: the scorer and, teaching it, the learner."""
    return Learner(redis, Scorer(redis, default_models(key)), RedisConsentStore(redis))


def opted_in(user: str) -> Any:
    at = (NOW - timedelta(hours=1)).isoformat()
    return decode_event_obj(example_event("consent.changed", {
        "user_id": user, "ai_features": "opted_in", "changed_at": at},
        event_id=str(uuid.uuid4()), occurred_at=at))


async def queue_consented_signups(redis: Redis, runtime: Learner, count: int,
                                  first: int = 0) -> None:
    """What scorers hand the learner: signups of opted-in users, scored by the signup model."""
    consent = RedisConsentStore(redis)
    pipe = redis.pipeline(transaction=False)
    for i in range(first, first + count):
        user = f"u_{i}"
        await consent.record(opted_in(user))
        event = decode_event_obj(example_event(
            "user.signed_up", {"user_id": user, "device_id": f"d_{i}"},
            event_id=str(uuid.uuid4()), occurred_at=NOW.isoformat()))
        record = await consent.as_of(user, event.occurred_at)
        decision = decide(event, Context(features={}, consent=record), RuleSet((), fingerprint="none"),
                          runtime.scorer.models)
        assert runtime.scorer.queue_unlabelled(pipe, event, decision) == 1
    await pipe.execute()


async def scored_message(redis: Redis, runtime: Learner, user: str, text: str) -> str:
    """A message of an opted-in user the scam model scored; what it saw waits for a label."""
    consent = RedisConsentStore(redis)
    await consent.record(opted_in(user))
    event = decode_event_obj(example_event(
        "message.sent", {"sender_id": user, "text": text, "message_id": str(uuid.uuid4()),
                         "has_active_contract": False},
        event_id=str(uuid.uuid4()), occurred_at=NOW.isoformat()))
    record = await consent.as_of(user, event.occurred_at)
    decision = decide(event, Context(features={}, consent=record), RuleSet((), fingerprint="none"),
                      runtime.scorer.models)
    pipe = redis.pipeline(transaction=False)
    assert runtime.scorer.queue_inputs(pipe, event, decision) == 2  # the scam and count models
    await pipe.execute()
    return str(event.event_id)


def label(decision_id: str, event_id: str, outcome: str) -> ReviewDecided:
    return decode_event_obj(example_event("review.decided", {
        "decision_id": decision_id, "case_id": f"c_{decision_id}", "entity_id": "u_x",
        "outcome": outcome, "policy_reason": "scam" if outcome == "confirmed_fraud" else "",
        "event_ids": [event_id]}, event_id=str(uuid.uuid4()), subject_id="u_x"))


async def published(redis: Redis, model_id: str) -> Any:
    """The model as the learners last published it, read by a scorer that starts now."""
    scorer = Scorer(redis, default_models(KEY))
    await scorer.refresh()
    return scorer.by_id[model_id]


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def conflicts(kind: str) -> float:
    return sample("vigil_model_publish_conflicts_total", {"round": kind})


class PausedLearner(Learner):
    """A learner that stops once, after reading and learning and just before publishing, until
    the test lets it go on: the other learner publishes in that window (a rebalance)."""

    def __init__(self, redis: Redis, pause_in: str) -> None:
        super().__init__(redis, Scorer(redis, default_models(KEY)), RedisConsentStore(redis))
        self.pause_in = pause_in
        self.paused = asyncio.Event()
        self.go_on = asyncio.Event()

    async def _before_publish(self, kind: str) -> None:
        if kind == self.pause_in and not self.paused.is_set():
            self.paused.set()
            await self.go_on.wait()


async def test_two_racing_learners_each_teach_their_label_exactly_once(redis: Redis) -> None:
    a = PausedLearner(redis, "label")
    b = runtime_of(redis)
    spam = await scored_message(redis, a, "u_s", "Pay the fee by gift card now, WhatsApp me")
    ham = await scored_message(redis, a, "u_h", "The second draft is in the shared folder")
    learned = {"detector": SCAM_MODEL, "result": "learned"}
    learned_before = sample("vigil_model_labels_total", learned)
    conflicts_before = conflicts("label")

    racing = asyncio.create_task(a.learn(label("d_a", spam, "confirmed_fraud")))
    await asyncio.wait_for(a.paused.wait(), 10)  # A has read version 0 and learned d_a
    assert (await b.learn(label("d_b", ham, "legitimate")))["learned"] == MESSAGE_MODELS
    a.go_on.set()
    assert (await racing)["learned"] == MESSAGE_MODELS

    model = await published(redis, SCAM_MODEL)
    assert (model.n_labels, model.n_positive) == (2, 1), "one learner's label was overwritten"
    assert int(await redis.get(version_key(SCAM_MODEL))) == 2
    assert (a.by_id[SCAM_MODEL].n_labels, a.versions[SCAM_MODEL]) == (2, 2)
    assert await redis.smembers(APPLIED) == {b"d_a", b"d_b"}
    assert conflicts("label") == conflicts_before + 1
    # Counted once per label, though A's round ran twice.
    assert sample("vigil_model_labels_total", learned) == learned_before + 2


async def test_a_decision_the_other_learner_applied_meanwhile_is_not_taught_again(
        redis: Redis) -> None:
    # Both learners get d_1 (the partition moves mid-decision); B then goes on with d_2.
    a = PausedLearner(redis, "label")
    b = runtime_of(redis)
    first = await scored_message(redis, a, "u_1", "Send the deposit in bitcoin to unlock the job")
    second = await scored_message(redis, a, "u_2", "Can we move our call to Thursday?")

    racing = asyncio.create_task(a.learn(label("d_1", first, "confirmed_fraud")))
    await asyncio.wait_for(a.paused.wait(), 10)
    await b.learn(label("d_1", first, "confirmed_fraud"))
    await b.learn(label("d_2", second, "legitimate"))
    a.go_on.set()
    result = await racing

    model = await published(redis, SCAM_MODEL)
    assert (model.n_labels, model.n_positive) == (2, 1), "d_2 was overwritten by A's d_1"
    assert int(await redis.get(version_key(SCAM_MODEL))) == 2
    assert result == {"skipped": "already applied"}
    assert a.by_id[SCAM_MODEL].n_labels == 0, "A keeps no d_1 of its own it did not publish"
    await a.scorer.refresh()  # what the snapshot timer does
    assert a.by_id[SCAM_MODEL].n_labels == 2
    assert await redis.smembers(APPLIED) == {b"d_1", b"d_2"}


async def test_two_racing_learners_observe_each_unlabelled_input_exactly_once(redis: Redis) -> None:
    a = PausedLearner(redis, "unlabelled")
    b = runtime_of(redis)
    await queue_consented_signups(redis, a, 5)
    conflicts_before = conflicts("unlabelled")

    racing = asyncio.create_task(a.observe_unlabelled())
    await asyncio.wait_for(a.paused.wait(), 10)  # A has observed the 5 but not published
    assert await b.observe_unlabelled() == {SIGNUP_MODEL: 5}
    await queue_consented_signups(redis, b, 3, first=5)
    assert await b.observe_unlabelled() == {SIGNUP_MODEL: 3}
    a.go_on.set()
    result = await racing

    assert (await published(redis, SIGNUP_MODEL)).n_observed == 8, "A overwrote B's snapshot"
    assert int(await redis.get(version_key(SIGNUP_MODEL))) == 2
    assert result == {}  # started over after B: nothing left for A
    assert a.by_id[SIGNUP_MODEL].n_observed == 8
    assert await redis.zcard(observed_key(SIGNUP_MODEL)) == 8
    assert conflicts("unlabelled") == conflicts_before + 1
    assert await a.observe_unlabelled() == {}


class ContendedLearner(Learner):
    """A learner another writer beats to it in every round."""

    def __init__(self, redis: Redis, other: Redis) -> None:
        super().__init__(redis, Scorer(redis, default_models(KEY)), RedisConsentStore(redis))
        self.other = other
        self.contended = True

    async def _before_publish(self, kind: str) -> None:
        if self.contended:
            await self.other.sadd(APPLIED, f"other_{uuid.uuid4()}")


async def test_a_learner_that_keeps_losing_gives_up_after_a_few_rounds_unchanged(
        redis: Redis) -> None:
    learner = ContendedLearner(redis, redis)
    event = await scored_message(redis, learner, "u_c", "Pay the registration fee in bitcoin")
    conflicts_before = conflicts("label")
    with pytest.raises(WatchError):
        await learner.learn(label("d_c", event, "confirmed_fraud"))
    assert conflicts("label") == conflicts_before + ROUND_ATTEMPTS
    assert learner.by_id[SCAM_MODEL].n_labels == 0, "it must not keep what it did not publish"
    assert not await redis.sismember(APPLIED, "d_c")  # so the decision is retried
    assert await redis.get(version_key(SCAM_MODEL)) is None

    learner.contended = False
    assert (await learner.learn(label("d_c", event, "confirmed_fraud")))["learned"] == MESSAGE_MODELS
    assert learner.by_id[SCAM_MODEL].n_labels == 1
    assert (await published(redis, SCAM_MODEL)).n_labels == 1


class CutOffLearner(Learner):
    """A learner whose connections Redis drops once, just before it publishes."""

    def __init__(self, redis: Redis, killer: Redis) -> None:
        super().__init__(redis, Scorer(redis, default_models(KEY)), RedisConsentStore(redis))
        self.killer = killer
        self.cut = False

    async def _before_publish(self, kind: str) -> None:
        if not self.cut:
            self.cut = True
            await self.killer.client_kill_filter(_type="normal", skipme=True)


async def test_a_connection_lost_mid_round_is_an_outage_not_a_conflict(redis: Redis) -> None:
    learner = CutOffLearner(redis, redis)  # the killing connection is spared, the round's is not
    event = await scored_message(redis, learner, "u_o", "Transfer the fee via western union")
    conflicts_before = conflicts("label")
    with pytest.raises(RedisError) as raised:
        await learner.learn(label("d_o", event, "confirmed_fraud"))
    # The worker backs off and retries an outage; a WatchError would stop the learner.
    assert is_outage(raised.value) and not isinstance(raised.value, WatchError)
    assert conflicts("label") == conflicts_before
    assert learner.by_id[SCAM_MODEL].n_labels == 0
    assert (await learner.learn(label("d_o", event, "confirmed_fraud")))["learned"] == MESSAGE_MODELS
    assert (await published(redis, SCAM_MODEL)).n_labels == 1


async def test_a_round_that_cannot_publish_leaves_the_model_as_it_was(redis: Redis) -> None:
    runtime = runtime_of(redis, b"test-key-0123456789")
    model = runtime.by_id[SIGNUP_MODEL]
    await queue_consented_signups(redis, runtime, 5)
    # Redis refuses writes (out of memory): the round's MULTI fails as a whole.
    await redis.config_set("maxmemory-policy", "noeviction")
    await redis.config_set("maxmemory", "1")
    with pytest.raises(RedisError):
        await runtime.observe_unlabelled()
    assert model.n_observed == 0, "the model must not keep what it could not publish"
    await redis.config_set("maxmemory", "0")
    assert await runtime.observe_unlabelled() == {SIGNUP_MODEL: 5}
    assert model.n_observed == 5  # each input once, though the first round had seen them all
    assert int(await redis.get(version_key(SIGNUP_MODEL))) == 1
    assert await runtime.observe_unlabelled() == {}  # nothing new


async def test_an_opt_out_after_scoring_keeps_the_signup_out_of_the_model(redis: Redis) -> None:
    runtime = runtime_of(redis, b"test-key-0123456789")
    await queue_consented_signups(redis, runtime, 6)
    consent = RedisConsentStore(redis)
    for user in ("u_0", "u_3"):  # scored while opted in, then opted out before the learner ran
        await consent.record(decode_event_obj(example_event("consent.changed", {
            "user_id": user, "ai_features": "opted_out", "changed_at": NOW.isoformat()},
            event_id=str(uuid.uuid4()), occurred_at=NOW.isoformat())))
    assert await runtime.observe_unlabelled() == {SIGNUP_MODEL: 4}
    assert runtime.by_id[SIGNUP_MODEL].n_observed == 4
