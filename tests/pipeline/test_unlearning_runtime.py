"""The training log and the unlearner on a real Redis: what the learner teaches is logged under
pseudonyms; after an erasure the published count model equals one trained without the user and
the published logistic model equals one trained on the log without them; debounce, retention."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from redis.asyncio import Redis

from detectors.core import Context, decide
from detectors.examples import example_event
from detectors.models import default_models
from detectors.privacy import subject_pseudonym
from detectors.ruleset import RuleSet
from detectors.unlearning import rebuild
from pipeline.metrics import WORKER as REGISTRY
from pipeline.models.keys import (
    ERASED,
    LEARNING_WITHDRAWN,
    snapshot_key,
    training_log_key,
    version_key,
)
from pipeline.models.learner import Learner
from pipeline.models.scorer import Scorer
from pipeline.models.training_log import TrainingLog, learned_from
from pipeline.models.unlearning import Unlearner, queue_withdrawal, unlearning_status
from pipeline.stores.consent import RedisConsentStore
from schemas.decode import decode_event_obj
from tests.support.models import learned_state

pytestmark = pytest.mark.integration
KEY = b"test-key-0123456789"
SCAM, COUNTS = "message.scam_model", "message.scam_counts_model"
NOW = datetime.now(timezone.utc)
SPAM = ["Send the deposit by gift card now, WhatsApp me", "Pay the fee in bitcoin to unlock the job"]
HAM = ["I pushed the fixes to staging, please review", "Can we move our call to Thursday?"]


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)  # the module's embedded Redis, flushed for each test
    yield client
    await client.aclose()


class Clock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def learner_of(redis: Redis, **log: Any) -> Learner:
    return Learner(redis, Scorer(redis, default_models(KEY)), RedisConsentStore(redis),
                   TrainingLog(KEY, **log))


async def teach(redis: Redis, learner: Learner, user: str, text: str, fraud: bool) -> str:
    """A message of an opted-in user, scored, then an analyst's decision on it, learned."""
    consent = RedisConsentStore(redis)
    at = (NOW - timedelta(hours=1)).isoformat()
    await consent.record(decode_event_obj(example_event("consent.changed", {
        "user_id": user, "ai_features": "opted_in", "changed_at": at},
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, user)), occurred_at=at)))
    event = decode_event_obj(example_event(
        "message.sent", {"sender_id": user, "text": text, "message_id": str(uuid.uuid4()),
                         "has_active_contract": False},
        event_id=str(uuid.uuid4()), occurred_at=NOW.isoformat()))
    decision = decide(event, Context(features={}, consent=await consent.as_of(user, NOW)),
                      RuleSet((), fingerprint="none"), learner.scorer.models)
    pipe = redis.pipeline(transaction=False)
    learner.scorer.queue_inputs(pipe, event, decision)
    await pipe.execute()
    decision_id = f"d_{uuid.uuid4().hex[:8]}"
    await learner.learn(decode_event_obj(example_event("review.decided", {
        "decision_id": decision_id, "case_id": "c1", "entity_id": user,
        "outcome": "confirmed_fraud" if fraud else "legitimate",
        "policy_reason": "scam" if fraud else "", "event_ids": [str(event.event_id)]},
        event_id=str(uuid.uuid4()), subject_id=user)))
    return decision_id


async def teach_stream(redis: Redis, learner: Learner, users: list[str], n: int = 24) -> None:
    for i in range(n):
        fraud = i % 3 == 0
        await teach(redis, learner, users[i % len(users)],
                    f"{(SPAM if fraud else HAM)[i % 2]} {i % 5}", fraud)


async def published(redis: Redis, model_id: str) -> Any:
    scorer = Scorer(redis, default_models(KEY))
    await scorer.refresh()
    return scorer.by_id[model_id]


def fresh(model_id: str) -> Any:
    return next(m for m in default_models(KEY) if m.id == model_id)


async def test_every_label_learned_is_logged_under_the_subjects_pseudonym(redis: Redis) -> None:
    learner = learner_of(redis)
    decision = await teach(redis, learner, "u_raw_ZQX", SPAM[0], True)
    for model_id in (SCAM, COUNTS):
        [entry] = await TrainingLog.read(redis, model_id)
        assert entry.subject == subject_pseudonym("u_raw_ZQX", KEY)
        assert entry.label is True and entry.decision_id == decision
        assert entry.model_version == "1" and entry.x == json.loads(json.dumps(entry.x))
        assert abs(entry.occurred_at - NOW.timestamp()) < 1
        raw = await redis.xrange(training_log_key(model_id))
        assert b"u_raw_ZQX" not in repr(raw).encode()  # the raw id is never stored
    assert await learned_from(redis, [SCAM, COUNTS, "signup.fake_account_model"],
                              subject_pseudonym("u_raw_ZQX", KEY)) == {SCAM: 1, COUNTS: 1}
    # The log is exactly what the published model learned: trained on it, the same state.
    assert rebuild(fresh(COUNTS), await TrainingLog.read(redis, COUNTS)).snapshot() == \
        (await published(redis, COUNTS)).snapshot()


async def test_after_an_erasure_count_models_subtract_and_logistic_models_are_rebuilt(
        redis: Redis) -> None:
    learner = learner_of(redis)
    await teach_stream(redis, learner, ["u_erase", "u_a", "u_b"])
    before = {m: await TrainingLog.read(redis, m) for m in (SCAM, COUNTS)}
    gone = subject_pseudonym("u_erase", KEY)
    assert any(c.subject == gone for c in before[COUNTS])
    erased_at = NOW.timestamp() + 60
    await redis.zadd(ERASED, {gone: erased_at})
    clock = Clock(erased_at + 1)
    unlearner = Unlearner(learner, learner.training_log, debounce=0, clock=clock)

    done = await unlearner.run()

    assert done[COUNTS]["method"] == "exact" and done[SCAM]["method"] == "rebuild"
    assert done[COUNTS]["forgotten"] == done[SCAM]["forgotten"] == 8
    for model_id in (SCAM, COUNTS):
        without = [c for c in before[model_id] if c.subject != gone]
        # The published model equals the same model trained on the log without the user (same
        # order; the logistic one through river's AdaGrad, the count one exactly by subtraction).
        model, expected = await published(redis, model_id), rebuild(fresh(model_id), without)
        assert learned_state(model) == learned_state(expected)
        assert model.n_labels == expected.n_labels == len(without)
        assert await TrainingLog.read(redis, model_id) == without  # their entries are gone
    assert (await published(redis, SCAM))._weights == rebuild(fresh(SCAM), [
        c for c in before[SCAM] if c.subject != gone])._weights
    # No snapshot from before the round is left in Redis: they all held the user.
    for model_id in (SCAM, COUNTS):
        version = int(await redis.get(version_key(model_id)))
        assert [k async for k in redis.scan_iter(f"vigil:model:{model_id}:snapshot:*")] == [
            snapshot_key(model_id, version).encode()]
    rows = {r["model"]: r for r in await unlearning_status(redis, [SCAM, COUNTS], now=clock.at)}
    assert rows[SCAM]["excluded_up_to"] == erased_at and rows[SCAM]["pending"] == 0
    assert "excluded all erasures and withdrawals up to" in rows[COUNTS]["summary"]
    assert REGISTRY.get_sample_value("vigil_model_unlearned_up_to_timestamp_seconds",
                                     {"detector": SCAM}) == erased_at
    assert await unlearner.run() == {}  # nothing left to do


async def test_labels_learned_while_a_model_is_rebuilt_are_in_the_model_it_publishes(
        redis: Redis) -> None:
    learner = learner_of(redis)
    await teach_stream(redis, learner, ["u_erase", "u_a"], n=12)
    gone = subject_pseudonym("u_erase", KEY)
    await redis.zadd(ERASED, {gone: NOW.timestamp() + 60})

    class LabelsMeanwhile(Unlearner):
        async def _prebuild(self, force: bool) -> Any:
            rebuilt = await super()._prebuild(force)  # from the log as it was
            await teach(redis, learner, "u_new", SPAM[1], True)  # the learner goes on meanwhile
            return rebuilt

    await LabelsMeanwhile(learner, learner.training_log, debounce=0,
                          clock=Clock(NOW.timestamp() + 61)).run()
    log = await TrainingLog.read(redis, SCAM)
    assert [c.subject for c in log][-1] == subject_pseudonym("u_new", KEY) and len(log) == 7
    assert learned_state(await published(redis, SCAM)) == learned_state(rebuild(fresh(SCAM), log))


async def test_a_request_recorded_during_a_rebuild_waits_for_the_next_round(
        redis: Redis) -> None:
    learner = learner_of(redis)
    await teach_stream(redis, learner, ["u_first", "u_later", "u_c"], n=9)
    t0 = NOW.timestamp() + 60
    await redis.zadd(ERASED, {subject_pseudonym("u_first", KEY): t0})

    class ErasureMeanwhile(Unlearner):
        async def _prebuild(self, force: bool) -> Any:
            rebuilt = await super()._prebuild(force)
            await redis.zadd(ERASED, {subject_pseudonym("u_later", KEY): t0 + 5})
            return rebuilt

    unlearner = ErasureMeanwhile(learner, learner.training_log, debounce=0,
                                 clock=Clock(t0 + 10))
    done = await unlearner.run()
    assert done[SCAM]["requests"] == 1 and done[COUNTS]["requests"] == 2  # exact: both at once
    [row] = await unlearning_status(redis, [SCAM], now=t0 + 10)
    assert row["excluded_up_to"] == t0 and row["pending"] == 1
    await Unlearner(learner, learner.training_log, debounce=0, clock=Clock(t0 + 12)).run()
    [row] = await unlearning_status(redis, [SCAM], now=t0 + 12)
    assert row["excluded_up_to"] == t0 + 5 and row["pending"] == 0
    assert {c.subject for c in await TrainingLog.read(redis, SCAM)} == {
        subject_pseudonym("u_c", KEY)}


async def test_unlearning_waits_for_the_debounce_then_takes_every_request_at_once(
        redis: Redis) -> None:
    learner = learner_of(redis)
    await teach_stream(redis, learner, ["u_x", "u_y", "u_z"], n=12)
    t0 = NOW.timestamp() + 100
    await redis.zadd(ERASED, {subject_pseudonym("u_x", KEY): t0})
    clock = Clock(t0 + 30)
    unlearner = Unlearner(learner, learner.training_log, debounce=600, clock=clock)
    assert await unlearner.run() == {}
    assert REGISTRY.get_sample_value("vigil_model_unlearning_pending", {"detector": SCAM}) == 1
    await redis.zadd(ERASED, {subject_pseudonym("u_y", KEY): t0 + 200})
    clock.at = t0 + 601
    done = await unlearner.run()
    assert done[SCAM]["requests"] == 2 and done[COUNTS]["forgotten"] == 8
    assert {c.subject for c in await TrainingLog.read(redis, COUNTS)} == {
        subject_pseudonym("u_z", KEY)}


async def test_entries_past_the_retention_leave_the_log_and_the_count_model(redis: Redis) -> None:
    learner = learner_of(redis, retention_seconds=3600)
    await teach_stream(redis, learner, ["u_old"], n=6)
    unlearner = Unlearner(learner, learner.training_log, debounce=0,
                          clock=Clock(NOW.timestamp() + 7200))
    done = await unlearner.run()
    assert done[COUNTS] == {"method": "exact", "requests": 0, "forgotten": 0, "expired": 6}
    assert await TrainingLog.read(redis, COUNTS) == []
    counts = await published(redis, COUNTS)
    assert counts.n_labels == 0 and counts.counts == {}  # it forgot what left its log


async def test_a_withdrawal_is_forgotten_once_excluded_and_past_the_logs_retention(
        redis: Redis) -> None:
    learner = learner_of(redis, retention_seconds=3600)
    await teach_stream(redis, learner, ["u_w", "u_v"], n=4)
    t0 = NOW.timestamp() + 10
    await redis.zadd(LEARNING_WITHDRAWN, {subject_pseudonym("u_w", KEY): t0})
    clock = Clock(t0 + 1)
    unlearner = Unlearner(learner, learner.training_log, debounce=0, clock=clock)
    assert (await unlearner.run())[SCAM]["forgotten"] == 2
    assert await redis.zcard(LEARNING_WITHDRAWN) == 1  # excluded, but within the retention
    clock.at = t0 + 7200
    await teach(redis, learner, "u_v", HAM[0], False)  # something for the round to do
    await unlearner.run()
    assert await redis.zcard(LEARNING_WITHDRAWN) == 0


async def test_a_log_over_its_cap_loses_its_oldest_entries_first(redis: Redis) -> None:
    learner = learner_of(redis, maxlen=4)
    await teach_stream(redis, learner, ["u_p", "u_q"], n=6)
    everything = await TrainingLog.read(redis, COUNTS)
    await Unlearner(learner, learner.training_log, debounce=0).run()
    assert await TrainingLog.read(redis, COUNTS) == everything[2:]
    assert (await published(redis, COUNTS)).snapshot() == \
        rebuild(fresh(COUNTS), everything[2:]).snapshot()


async def test_a_withdrawal_that_undoes_learning_is_recorded_once_as_a_pseudonym(
        redis: Redis) -> None:
    def change(undo: bool) -> Any:
        at = NOW.isoformat()
        return decode_event_obj(example_event("consent.changed", {
            "user_id": "u_w", "ai_features": "opted_out", "changed_at": at,
            "undo_learning": undo}, occurred_at=at, schema_version="1.1"))

    pipe = redis.pipeline(transaction=False)
    assert not queue_withdrawal(pipe, change(False), KEY, 100.0)  # an opt-out alone
    assert queue_withdrawal(pipe, change(True), KEY, 100.0)
    assert queue_withdrawal(pipe, change(True), KEY, 200.0)  # redelivered: keeps its time
    await pipe.execute()
    assert await redis.zrange(LEARNING_WITHDRAWN, 0, -1, withscores=True) == [
        (subject_pseudonym("u_w", KEY).encode(), 100.0)]
