"""Redis (workers) and memory (``vigil replay``) stores give the same answers for the same stream.

If they drifted, a backtest with ``vigil replay`` would not predict what production flags.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from detectors.examples import example_event
from detectors.features import (
    DAY,
    HORIZON,
    HOUR,
    TRIM_EVERY,
    assemble,
    plan_features,
    trims,
)
from pipeline.stores.consent import MemoryConsentStore, RedisConsentStore
from pipeline.stores.features import MemoryFeatureStore, RedisFeatureStore
from schemas import decode_event_obj
from schemas.events import ConsentChanged, Envelope
from tests.support.streams import T0, generate_stream

pytestmark = pytest.mark.integration

@pytest.mark.parametrize("seed", [7, 2026])
async def test_redis_and_memory_feature_stores_agree_event_by_event(stack: Any, seed: int) -> None:
    events = generate_stream(seed)
    types = {e.type for e in events}
    assert {"user.signed_up", "job_post.created", "message.sent", "proposal.submitted",
            "profile.updated"} <= types
    span = max(e.occurred_at for e in events) - min(e.occurred_at for e in events)
    assert span > timedelta(days=1), "the stream must roll the 24h windows over"

    client = Redis.from_url(stack.settings.redis_url)
    try:
        redis_store, memory_store = RedisFeatureStore(client), MemoryFeatureStore()
        nonzero: dict[str, int] = {}
        peak: dict[str, float] = {}
        for i, event in enumerate(events):
            plan = plan_features(event)
            from_redis = await redis_store.execute(plan)
            from_memory = memory_store.execute_sync(plan)
            assert from_redis == from_memory, f"raw answers differ at event {i} ({event.type})"
            values = assemble(event, from_redis)
            assert values == assemble(event, from_memory), f"features differ at event {i}"
            for name, value in values.items():
                if value not in (0, -1.0, False, "", None):
                    nonzero[name] = nonzero.get(name, 0) + 1
                if isinstance(value, (int, float)):
                    peak[name] = max(peak.get(name, value), value)
    finally:
        await redis_store.close()
        await client.aclose()
    # The comparison means something only if the stream exercised the features.
    for name in ("device_accounts_24h", "ip24_accounts_1h", "sender_strangers_1h",
                 "freelancer_connects_24h", "job_genai_restricted", "account_age_seconds",
                 "profile_known", "profile_completed_jobs", "profile_hourly_rate"):
        assert nonzero.get(name, 0) > 0, f"{name} was never non-zero in the stream"
    for name in ("device_accounts_24h", "similar_cover_letter_jobs_24h", "user_events_24h"):
        assert peak[name] > 1, f"{name} never counted more than one member"


async def test_stores_agree_that_the_latest_profile_by_event_time_wins(stack: Any) -> None:
    def profile_at(seconds: float, jobs: int, user: str = "u_prof") -> Envelope:
        return decode_event_obj(example_event(
            "profile.updated", {"user_id": user, "completed_jobs": jobs},
            occurred_at=(T0 + timedelta(seconds=seconds, microseconds=jobs)).isoformat(),
            event_id=str(uuid.uuid4())))

    def message_at(seconds: float, user: str = "u_prof") -> Envelope:
        return decode_event_obj(example_event(
            "message.sent", {"sender_id": user}, event_id=str(uuid.uuid4()),
            occurred_at=(T0 + timedelta(seconds=seconds)).isoformat()))

    client = Redis.from_url(stack.settings.redis_url)
    try:
        redis_store, memory_store = RedisFeatureStore(client), MemoryFeatureStore()
        seen = []
        # In order, out of order (an older one late), a redelivery, sub-second times.
        stream = [profile_at(100, 3), profile_at(100, 5), profile_at(50, 1), message_at(101),
                  profile_at(200, 9), profile_at(200, 9), profile_at(150.5, 4), message_at(201)]
        for event in stream:
            plan = plan_features(event)
            from_redis = await redis_store.execute(plan)
            assert from_redis == memory_store.execute_sync(plan), event.type
            if event.type == "message.sent":
                seen.append(assemble(event, from_redis)["profile_completed_jobs"])
        assert seen == [5, 9]
        stored = await client.get("vigil:f:user:u_prof:public:1")
        assert stored is not None and await client.ttl("vigil:f:user:u_prof:public:1") > HORIZON
    finally:
        await redis_store.close()
        await client.aclose()


def consent_stream(seed: int, count: int = 80) -> list[ConsentChanged]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        minute = rng.randrange(0, 600)
        if out and rng.random() < 0.1:  # several changes at one instant
            minute = int((out[-1].payload.changed_at - T0).total_seconds() // 60)
        changed_at = (T0 + timedelta(minutes=minute, microseconds=rng.choice([0, 250_000])))
        raw = example_event("consent.changed", {
            "user_id": rng.choice(["u_1", "u_2", "u_3"]),
            "ai_features": rng.choice(["opted_in", "opted_out"]),
            "policy_version": rng.choice(["2026-01", "2025-06"]),
            "changed_at": changed_at.isoformat(),
        }, event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        out.append(decode_event_obj(raw))  # type: ignore[arg-type]
    return out


async def test_redis_and_memory_consent_stores_agree_on_as_of(stack: Any) -> None:
    changes = consent_stream(11)
    client = Redis.from_url(stack.settings.redis_url)
    try:
        redis_store, memory_store = RedisConsentStore(client), MemoryConsentStore()
        for change in changes + changes[:10]:  # with redeliveries
            await redis_store.record(change)
            await memory_store.record(change)
        instants = sorted({c.payload.changed_at for c in changes})
        probes = [T0 - timedelta(minutes=1), T0 + timedelta(minutes=700)]
        probes += [t + d for t in instants for d in (timedelta(0), -timedelta(microseconds=1))]
        found = 0
        for user in ("u_1", "u_2", "u_3", "u_never"):
            for at in probes:
                from_redis = await redis_store.as_of(user, at)
                from_memory = await memory_store.as_of(user, at)
                assert from_redis == from_memory, (user, at)
                if from_redis is not None:
                    found += 1
                    assert from_redis.changed_at <= at
        assert found > 0
    finally:
        await client.aclose()


def trimming_id() -> str:
    """An event id whose write to its user's event set trims the set."""
    while not trims(event_id := str(uuid.uuid4())):
        pass
    return event_id


async def test_stores_agree_for_an_event_later_than_the_slack(stack: Any) -> None:
    def message_at(seconds: float) -> Envelope:
        return decode_event_obj(example_event(
            "message.sent", occurred_at=(T0 + timedelta(seconds=seconds)).isoformat(),
            event_id=trimming_id()))

    client = Redis.from_url(stack.settings.redis_url)
    try:
        redis_store, memory_store = RedisFeatureStore(client), MemoryFeatureStore()
        # The last event is 2h late: the 24h window of it still holds the first one.
        for event in (message_at(100), message_at(DAY + 2 * HOUR), message_at(DAY)):
            plan = plan_features(event)
            assert await redis_store.execute(plan) == memory_store.execute_sync(plan)
    finally:
        await redis_store.close()
        await client.aclose()


async def test_windowed_sets_stay_bounded_while_written_for_days(stack: Any) -> None:
    """Trimming is sampled (one write in TRIM_EVERY), yet a busy key keeps about a horizon of
    members, not everything it ever saw."""
    client = Redis.from_url(stack.settings.redis_url)
    try:
        store = RedisFeatureStore(client)
        per_hour, hours = 20, 24 * 4
        for i in range(per_hour * hours):
            event = decode_event_obj(example_event(
                "message.sent", occurred_at=(T0 + timedelta(seconds=i * HOUR / per_hour)).isoformat(),
                event_id=str(uuid.uuid4())))
            await store.execute(plan_features(event))
        held = await client.zcard(f"vigil:f:user:{event.subject_id}:events")
        in_horizon = per_hour * HORIZON / HOUR
        assert in_horizon <= held <= in_horizon + 20 * TRIM_EVERY, held
        assert held < per_hour * hours / 2
    finally:
        await store.close()
        await client.aclose()


async def test_window_bounds_keep_every_digit_of_sub_second_times(stack: Any) -> None:
    # A window opens just after its start: an event exactly one hour (to the microsecond)
    # before is out of the 1h count, one a microsecond later is in. Times travel to Lua as
    # numbers; a bound formatted with fewer digits would move the edge.
    def message_at(seconds: float) -> Envelope:
        return decode_event_obj(example_event(
            "message.sent", {"sender_id": "u_edge", "recipient_id": f"r_{seconds}"},
            occurred_at=(T0 + timedelta(seconds=seconds)).isoformat(), event_id=str(uuid.uuid4())))

    client = Redis.from_url(stack.settings.redis_url)
    try:
        redis_store, memory_store = RedisFeatureStore(client), MemoryFeatureStore()
        answers = []
        for at in (1.123456, 1.123457, HOUR + 1.123456):
            plan = plan_features(message_at(at))
            answers.append(await redis_store.execute(plan))
            assert answers[-1] == memory_store.execute_sync(plan)
        event = message_at(HOUR + 1.123456)
        assert assemble(event, answers[-1])["user_events_1h"] == 2  # itself and 1.123457
    finally:
        await redis_store.close()
        await client.aclose()
