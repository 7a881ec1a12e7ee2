"""The learner's rounds on a real Redis: what a model observed is published once, or not at all."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from detectors.core import Context, decide
from detectors.examples import example_event
from detectors.models import default_models
from detectors.ruleset import RuleSet
from pipeline.consent_store import RedisConsentStore
from pipeline.embedded import start_redis
from pipeline.models_runtime import ModelRuntime, version_key
from schemas.decode import decode_event_obj

pytestmark = pytest.mark.integration
SIGNUP_MODEL = "signup.fake_account_model"
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


async def queue_consented_signups(redis: Redis, runtime: ModelRuntime, count: int) -> None:
    """What scorers hand the learner: signups of opted-in users, scored by the signup model."""
    consent = RedisConsentStore(redis)
    pipe = redis.pipeline(transaction=False)
    for i in range(count):
        user = f"u_{i}"
        await consent.record(decode_event_obj(example_event("consent.changed", {
            "user_id": user, "ai_features": "opted_in",
            "changed_at": (NOW - timedelta(hours=1)).isoformat()},
            event_id=str(uuid.uuid4()), occurred_at=(NOW - timedelta(hours=1)).isoformat())))
        event = decode_event_obj(example_event(
            "user.signed_up", {"user_id": user, "device_id": f"d_{i}"},
            event_id=str(uuid.uuid4()), occurred_at=NOW.isoformat()))
        record = await consent.as_of(user, event.occurred_at)
        decision = decide(event, Context(features={}, consent=record), RuleSet((), fingerprint="none"),
                          runtime.models)
        assert runtime.queue_unlabelled(pipe, event, decision) == 1
    await pipe.execute()


async def test_a_round_that_cannot_publish_leaves_the_model_as_it_was(redis: Redis) -> None:
    runtime = ModelRuntime(redis, default_models(b"test-key-0123456789"))
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
    runtime = ModelRuntime(redis, default_models(b"test-key-0123456789"))
    await queue_consented_signups(redis, runtime, 6)
    consent = RedisConsentStore(redis)
    for user in ("u_0", "u_3"):  # scored while opted in, then opted out before the learner ran
        await consent.record(decode_event_obj(example_event("consent.changed", {
            "user_id": user, "ai_features": "opted_out", "changed_at": NOW.isoformat()},
            event_id=str(uuid.uuid4()), occurred_at=NOW.isoformat())))
    assert await runtime.observe_unlabelled() == {SIGNUP_MODEL: 4}
    assert runtime.by_id[SIGNUP_MODEL].n_observed == 4
