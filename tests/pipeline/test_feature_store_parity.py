"""Redis (workers) and memory (``vigil replay``) stores give the same answers for the same stream.

If they drifted, a backtest with ``vigil replay`` would not predict what production flags.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from redis.asyncio import Redis

from detectors.examples import example_event
from detectors.features import (
    DAY,
    HORIZON,
    HOUR,
    MINUTE,
    TRIM_EVERY,
    assemble,
    plan_features,
    trims,
)
from pipeline.stores.consent import MemoryConsentStore, RedisConsentStore
from pipeline.stores.features import MemoryFeatureStore, RedisFeatureStore
from schemas import decode_event_obj
from schemas.events import ConsentChanged, Envelope

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=timezone.utc)
LETTER = ("Hello {name}, I have built {n} similar {what} projects and can start {when}. "
          "I will share drafts every two days and keep you updated on every milestone.")
OTHER_LETTERS = [
    "Short and simple: I can do it for the budget you posted.",
    "I read your brief twice; the second section needs a clearer scope before I can quote.",
    "Ich habe viel Erfahrung mit solchen Projekten und kann sofort anfangen.",
    "Готов начать сегодня, примеры работ в профиле.",
]


def generate_stream(seed: int, count: int = 300) -> list[Envelope]:
    """A varied, mostly time-ordered stream: late events (< 1h, within the stores' slack),
    simultaneous events, redeliveries, and a span of several days so windows roll over."""
    rng = random.Random(seed)
    users = [f"u_{i}" for i in range(40)]
    devices = [f"dev_{i}" for i in range(8)]
    ips = ["203.0.113.{}", "198.51.100.{}", "2001:db8:{}::1", "2001:0db8:0005:{}::9",
           "::ffff:203.0.113.{}"]
    jobs: list[str] = []
    clock = 0.0
    events: list[Envelope] = []
    while len(events) < count:
        if events and rng.random() < 0.06:
            # A redelivery, of an event within the stores' slack for late events.
            recent = [e for e in events[-20:] if e.occurred_at >= T0 + timedelta(seconds=clock - 50 * MINUTE)]
            if recent:
                events.append(rng.choice(recent))
            continue
        # Whole seconds and whole-window steps, so events land exactly on window boundaries.
        clock += rng.choice([0, 1, MINUTE, 10 * MINUTE, HOUR, rng.randrange(300), rng.randrange(3600)])
        at = clock - (rng.choice([MINUTE, 10 * MINUTE, rng.randrange(3000)])
                      if rng.random() < 0.1 else 0)
        # One busy user, so some windowed sets outgrow the memory store's lazy-pruning size.
        user = users[0] if rng.random() < 0.3 else rng.choice(users)
        kind = rng.choices(["signup", "job", "message", "proposal", "report"],
                           weights=[3, 2, 4, 4, 1])[0]
        if kind == "signup":
            octet = rng.randrange(1, 255) if rng.random() < 0.5 else rng.randrange(1, 4)
            payload: dict[str, Any] = {
                "user_id": user, "device_id": rng.choice(devices),
                "ip": rng.choice(ips).format(octet), "phone_verified": rng.random() < 0.5,
                "id_verified": rng.random() < 0.2,
            }
            event_type = "user.signed_up"
        elif kind == "job":
            job = f"job_{len(jobs)}"
            jobs.append(job)
            payload = {"job_id": job, "client_id": user, "genai_restricted": rng.random() < 0.3,
                       "budget_amount": rng.choice([50, 300.0, 1234.5])}
            event_type = "job_post.created"
        elif kind == "message":
            payload = {"sender_id": user, "recipient_id": rng.choice(users),
                       "has_active_contract": rng.random() < 0.4}
            event_type = "message.sent"
        elif kind == "proposal":
            letter = (LETTER.format(name=rng.choice(["Ana", "Tom", "Kim"]), n=rng.randrange(2, 9),
                                    what=rng.choice(["logo", "website"]),
                                    when=rng.choice(["today", "tomorrow"]))
                      if rng.random() < 0.6 else rng.choice(OTHER_LETTERS))
            payload = {"freelancer_id": rng.choice(users[:8]),
                       "job_id": rng.choice(jobs) if jobs and rng.random() < 0.8 else "job_unseen",
                       "connects_spent": rng.randrange(0, 17), "cover_letter": letter}
            event_type = "proposal.submitted"
        else:
            payload = {"reporter_id": user, "target_id": rng.choice(users)}
            event_type = "user_report.filed"
        raw = example_event(event_type, payload,
                            occurred_at=(T0 + timedelta(seconds=at)).isoformat(),
                            event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        events.append(decode_event_obj(raw))
    return events


@pytest.mark.parametrize("seed", [7, 2026])
async def test_redis_and_memory_feature_stores_agree_event_by_event(stack: Any, seed: int) -> None:
    events = generate_stream(seed)
    types = {e.type for e in events}
    assert {"user.signed_up", "job_post.created", "message.sent", "proposal.submitted"} <= types
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
                 "freelancer_connects_24h", "job_genai_restricted", "account_age_seconds"):
        assert nonzero.get(name, 0) > 0, f"{name} was never non-zero in the stream"
    for name in ("device_accounts_24h", "similar_cover_letter_jobs_24h", "user_events_24h"):
        assert peak[name] > 1, f"{name} never counted more than one member"


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
