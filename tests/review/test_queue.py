"""The review queue on a real Redis: cases, claims, decisions, dedup, snoozes, priority and SLA."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from detectors.examples import example_event
from pipeline.review.queue import (
    CaseClosed,
    ClaimConflict,
    DecisionConflict,
    InvalidDecision,
    LeadsOnly,
    NotClaimed,
    ReviewQueue,
)
from pipeline.settings import QueueSettings
from pipeline.stores.consent import RedisConsentStore
from pipeline.stores.outages import is_outage
from schemas.decode import decode_event_obj
from schemas.outputs import Flag
from tests.support.flags import flag, flag_for
from tests.support.review import FakeClock

pytestmark = pytest.mark.integration


async def open_case(queue: ReviewQueue, entity: str = "u1", **kwargs: object) -> str:
    f, event = flag(entity, **kwargs)  # type: ignore[arg-type]
    result = await queue.add_flag(f, event)
    assert result.created
    return result.case_id


async def test_many_concurrent_claimers_exactly_one_wins(redis_url: str, clock: FakeClock) -> None:
    clients = [Redis.from_url(redis_url) for _ in range(24)]
    try:
        queues = [ReviewQueue(c, QueueSettings(), clock) for c in clients]
        case_ids = [await open_case(queues[0], f"u{n}") for n in range(3)]

        async def attempt(queue: ReviewQueue, analyst: str, case_id: str) -> str | None:
            try:
                await queue.claim(case_id, analyst)
                return analyst
            except ClaimConflict:
                return None

        for case_id in case_ids:
            winners = await asyncio.gather(*(attempt(q, f"analyst{n}", case_id)
                                             for n, q in enumerate(queues)))
            won = [w for w in winners if w]
            assert len(won) == 1, winners
            assert (await queues[0].summary(case_id))["claimed_by"] == won[0]
    finally:
        for c in clients:
            await c.aclose()


async def test_an_expired_lease_lets_another_analyst_claim(queue: ReviewQueue, clock: FakeClock) -> None:
    case_id = await open_case(queue)
    first = await queue.claim(case_id, "alice")
    assert first.lease_until == clock.now + queue.config.lease_seconds
    with pytest.raises(ClaimConflict, match="claimed by alice"):
        await queue.claim(case_id, "bob")
    clock.advance(queue.config.lease_seconds - 1)
    renewed = await queue.claim(case_id, "alice")  # the holder renews
    assert renewed.action == "renew" and renewed.lease_until > first.lease_until
    clock.advance(queue.config.lease_seconds + 1)  # alice walked away
    assert (await queue.summary(case_id))["claimed_by"] is None
    assert (await queue.claim(case_id, "bob")).claimed_by == "bob"
    with pytest.raises(NotClaimed):
        await queue.decide(case_id, "alice", "legitimate")


async def test_release_frees_the_case_and_only_the_holder_releases(queue: ReviewQueue) -> None:
    case_id = await open_case(queue)
    await queue.claim(case_id, "alice")
    with pytest.raises(ClaimConflict):
        await queue.release(case_id, "bob")
    await queue.release(case_id, "alice")
    assert (await queue.claim(case_id, "bob")).claimed_by == "bob"


async def test_deciding_needs_the_claim_and_a_policy_reason_for_fraud(queue: ReviewQueue) -> None:
    case_id = await open_case(queue)
    with pytest.raises(NotClaimed):
        await queue.decide(case_id, "alice", "legitimate")
    await queue.claim(case_id, "bob")
    with pytest.raises(NotClaimed, match="claimed by bob"):
        await queue.decide(case_id, "alice", "legitimate")
    with pytest.raises(InvalidDecision, match="policy_reason"):
        await queue.decide(case_id, "bob", "confirmed_fraud")
    with pytest.raises(InvalidDecision, match="unknown policy_reason"):
        await queue.decide(case_id, "bob", "confirmed_fraud", policy_reason="vibes")


async def test_a_decision_is_idempotent_by_decision_id(queue: ReviewQueue, redis_url: str) -> None:
    case_id = await open_case(queue)
    await queue.claim(case_id, "alice")
    clients = [Redis.from_url(redis_url) for _ in range(8)]
    try:
        queues = [ReviewQueue(c, queue.config, queue.clock) for c in clients]
        results = await asyncio.gather(*(
            q.decide(case_id, "alice", "confirmed_fraud", policy_reason="payment_fraud",
                     decision_id="dec-1") for q in queues))
    finally:
        for c in clients:
            await c.aclose()
    assert sum(not r.replayed for r in results) == 1
    assert len({json.dumps(r.decision, sort_keys=True) for r in results}) == 1
    again = await queue.decide(case_id, "alice", "legitimate", decision_id="dec-1")
    assert again.replayed and again.decision["outcome"] == "confirmed_fraud"
    assert list(await queue.outbox_pending()) == ["dec-1"]
    entries, _ = await queue.audit(case_id=case_id)
    assert [e["action"] for e in entries].count("decide") == 1
    with pytest.raises(CaseClosed):
        await queue.decide(case_id, "alice", "legitimate", decision_id="dec-2")
    other = await open_case(queue, "u2")
    with pytest.raises(DecisionConflict):
        await queue.decide(other, "alice", "legitimate", decision_id="dec-1")


async def test_a_redelivered_flag_adds_nothing(queue: ReviewQueue) -> None:
    f, event = flag("u1")
    results = await asyncio.gather(*(queue.add_flag(f, event) for _ in range(10)))
    assert sum(r.created for r in results) == 1
    assert len({r.case_id for r in results}) == 1
    case = await queue.case(results[0].case_id)
    assert case["flag_count"] == 1 and len(case["flags"]) == 1
    assert await queue.flag_counts_by_detector() == {"message.off_platform_payment": 1}


async def test_a_batch_of_flags_is_added_in_order_as_one_by_one(queue: ReviewQueue) -> None:
    items = [flag("u1", minutes=0, dedup_seconds=0), flag("u2", minutes=1),
             flag("u1", minutes=2, detector="message.new_account_many_strangers")]
    items.append(items[0])  # the same flag twice in one batch
    results = await queue.add_flags([f for f, _ in items], [e for _, e in items])
    assert [r.created for r in results] == [True, True, True, False]
    # The third flag joined the case the first opened, inside the same call.
    assert results[2].case_id == results[0].case_id == results[3].case_id != results[1].case_id
    assert (await queue.case(results[0].case_id))["flag_count"] == 2
    assert await queue.add_flags([]) == []


async def test_a_flag_redis_refuses_writes_nothing_and_the_rest_of_its_batch_is_added(
        queue: ReviewQueue, redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    await redis.set("vigil:snooze:user:u_clash", "a string where a hash belongs")
    before, bad, after = flag("u1"), flag("u_clash", minutes=1), flag("u2", minutes=2)
    batch = ([before[0], bad[0], after[0]], [before[1], bad[1], after[1]])
    results = await queue.add_flags(*batch)
    assert [(r.created, r.error is not None) for r in results] == [(True, False), (False, True),
                                                                    (True, False)]
    assert results[1].error.startswith("WRONGTYPE")
    assert not await redis.exists(f"vigil:flag:{bad[0].flag_id}")  # retrying it is safe
    assert not await redis.exists("vigil:entity:user:u_clash:open_case")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await queue.add_flag(bad[0], bad[1])
    await redis.delete("vigil:snooze:user:u_clash")
    results = await queue.add_flags(*batch)
    assert [(r.created, r.error) for r in results] == [(False, None), (True, None), (False, None)]
    assert await queue.flag_counts_by_detector() == {"message.off_platform_payment": 3}
    await redis.aclose()


async def test_a_flag_refused_for_lack_of_memory_reads_as_an_outage(
        queue: ReviewQueue, redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    await redis.config_set("maxmemory-policy", "noeviction")
    await redis.config_set("maxmemory", "1")
    try:
        results = await queue.add_flags([flag("u1")[0], flag("u2", minutes=1)[0]])
    finally:
        await redis.config_set("maxmemory", "0")
    assert all(r.error and r.error.startswith("OOM ") for r in results), results
    assert all(is_outage(ResponseError(r.error)) for r in results)
    assert await queue.flag_counts_by_detector() == {}
    await redis.aclose()


async def test_repeat_hits_within_the_dedup_window_are_suppressed_and_counted(queue: ReviewQueue) -> None:
    first = await queue.add_flag(*flag("u1", minutes=0, dedup_seconds=3600))
    repeat_flag, repeat_event = flag("u1", minutes=30, dedup_seconds=3600)
    repeat = await queue.add_flag(repeat_flag, repeat_event)
    other_detector = await queue.add_flag(*flag("u1", minutes=31, detector="message.new_account_many_strangers"))
    later = await queue.add_flag(*flag("u1", minutes=61, dedup_seconds=3600))
    no_window = await queue.add_flag(*flag("u1", minutes=62, dedup_seconds=0))
    assert first.created and not repeat.created and repeat.suppressed == "dedup"
    assert repeat.case_id == first.case_id
    assert other_detector.created and later.created and no_window.created
    case = await queue.case_detail(first.case_id)
    assert case["flag_count"] == 4 and case["suppressed_count"] == 1
    assert [f["suppressed"] for f in case["suppressed_flags"]] == ["dedup"]
    assert await queue.suppressed_counts() == {"dedup": 1}
    # Redelivering the suppressed flag changes nothing and says why it was not added.
    again = await queue.add_flag(repeat_flag, repeat_event)
    assert again == repeat
    assert (await queue.case(first.case_id))["flag_count"] == 4
    assert await queue.suppressed_counts() == {"dedup": 1}


async def test_a_snoozed_detector_is_suppressed_for_that_entity_until_expiry(
        queue: ReviewQueue, clock: FakeClock) -> None:
    await queue.snooze("user", "u1", "message.off_platform_payment", 3600, by="alice", reason="known tester")
    snoozed = await queue.add_flag(*flag("u1"))
    assert not snoozed.created and snoozed.suppressed == "snoozed" and snoozed.case_id == ""
    elsewhere = await queue.add_flag(*flag("u2"))
    assert elsewhere.created
    assert [s["detector_id"] for s in await queue.snoozes("user", "u1")] == ["message.off_platform_payment"]
    clock.advance(3601)
    assert await queue.snoozes("user", "u1") == []
    assert (await queue.add_flag(*flag("u1", minutes=120))).created
    assert await queue.suppressed_counts() == {"snoozed": 1}
    entries, _ = await queue.audit()
    assert "snooze" in [e["action"] for e in entries]


async def test_priority_orders_by_severity_reports_and_age(queue: ReviewQueue, clock: FakeClock) -> None:
    low = await open_case(queue, "low", severity="low", score=0.9)
    high = await open_case(queue, "high", severity="high", score=0.5)
    critical = await open_case(queue, "crit", severity="critical", score=0.3)
    reported = await open_case(queue, "rep", severity="high", score=0.5)
    for n in range(3):
        f, event = flag("rep", minutes=n + 1, detector="report.user_report", dedup_seconds=0)
        assert (await queue.add_flag(f, event)).created
    items, total = await queue.list_cases()
    assert total == 4
    assert [c["case_id"] for c in items] == [critical, reported, high, low]
    assert items[1]["report_count"] == 3
    # Age raises priority: a high case that waited long enough passes a fresh critical one.
    clock.advance(3600)
    fresh = await open_case(queue, "fresh", severity="critical", score=0.3)
    items, _ = await queue.list_cases()
    assert items[0]["case_id"] == critical and items[1]["case_id"] == fresh
    clock.advance(200 * 3600)
    items, _ = await queue.list_cases(severity="high")
    assert [c["case_id"] for c in items] == [reported, high]


async def test_sla_due_times_follow_severity_and_breaches_are_counted_once(
        queue: ReviewQueue, clock: FakeClock) -> None:
    start = clock.now
    low = await open_case(queue, "a", severity="low")
    critical = await open_case(queue, "b", severity="critical")
    medium = await open_case(queue, "c", severity="medium")
    by_id = {c["case_id"]: c for c in (await queue.list_cases())[0]}
    assert by_id[critical]["due_at"] == start + 3600
    assert by_id[medium]["due_at"] == start + 24 * 3600
    assert by_id[low]["due_at"] == start + 72 * 3600
    items, _ = await queue.list_cases(sort="sla")
    assert [c["case_id"] for c in items] == [critical, medium, low]
    # A critical flag joining the low case pulls its due time in.
    await queue.add_flag(*flag("a", minutes=5, severity="critical", detector="signup.shared_device_ring"))
    assert (await queue.summary(low))["due_at"] == start + 3600
    clock.advance(3000)
    assert {c["case_id"] for c in (await queue.list_cases(sla="due_soon"))[0]} == {critical, low}
    clock.advance(700)
    assert await queue.mark_breaches() == 2
    assert await queue.mark_breaches() == 0
    stats = await queue.record_sample()
    assert stats["breached"]["critical"] == 2 and stats["breaches_total"] == 2
    assert {c["case_id"] for c in (await queue.list_cases(sla="breached"))[0]} == {critical, low}


async def test_a_decided_case_is_kept_and_a_new_flag_opens_a_new_case(queue: ReviewQueue) -> None:
    case_id = await open_case(queue, "u1")
    await queue.claim(case_id, "alice")
    await queue.decide(case_id, "alice", "legitimate", notes="a friend's PayPal joke")
    before = await queue.case_detail(case_id)
    f, event = flag("u1", minutes=600)
    result = await queue.add_flag(f, event)
    assert result.created and result.case_id != case_id
    after = await queue.case_detail(case_id)
    assert after["status"] == "closed" and after["flags"] == before["flags"]
    assert after["decisions"] == before["decisions"]
    new = await queue.case_detail(result.case_id)
    assert new["status"] == "open"
    assert [d["case_id"] for d in new["earlier_decisions"]] == [case_id]
    assert [c["case_id"] for c in (await queue.list_cases(status="closed"))[0]] == [case_id]
    assert [c["case_id"] for c in (await queue.list_cases())[0]] == [result.case_id]


async def test_escalated_cases_go_to_leads(queue: ReviewQueue) -> None:
    case_id = await open_case(queue)
    await queue.claim(case_id, "alice")
    await queue.decide(case_id, "alice", "escalate", notes="needs a lead")
    assert (await queue.list_cases())[1] == 0
    assert [c["case_id"] for c in (await queue.list_cases(status="escalated"))[0]] == [case_id]
    with pytest.raises(LeadsOnly):
        await queue.claim(case_id, "alice")
    joined = await queue.add_flag(*flag("u1", minutes=90))  # still the entity's active case
    assert joined.case_id == case_id
    await queue.claim(case_id, "lena", lead=True)
    result = await queue.decide(case_id, "lena", "confirmed_fraud", policy_reason="payment_fraud",
                                lead=True)
    assert result.decision["flag_count"] == 2
    case = await queue.case_detail(case_id)
    assert case["status"] == "closed" and [d["outcome"] for d in case["decisions"]] == [
        "escalate", "confirmed_fraud"]
    assert len(await queue.outbox_pending()) == 2


async def test_reassign_hands_the_claim_to_another_analyst(queue: ReviewQueue) -> None:
    case_id = await open_case(queue)
    await queue.claim(case_id, "alice")
    moved = await queue.reassign(case_id, "bob", by="lena")
    assert moved.claimed_by == "bob" and (await queue.summary(case_id))["claimed_by"] == "bob"
    entries, _ = await queue.audit(case_id=case_id)
    assert entries[0]["action"] == "reassign" and entries[0]["actor"] == "lena"


async def test_a_case_shows_events_reports_consent_and_earlier_decisions(
        queue: ReviewQueue, redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        consent = decode_event_obj(example_event("consent.changed", {"user_id": "client9"}))
        await RedisConsentStore(redis).record(consent)  # type: ignore[arg-type]
    finally:
        await redis.aclose()
    job = example_event("job_post.created", {"client_id": "client9", "job_id": "job42"},
                        event_id="0b8a3f0e-8a8e-4b5e-9a53-6d0c8f1f0001")
    post_flag = flag_for(job, detector="job_post.pay_to_work", entity_type="job_post",
                         entity_id="job42", severity="critical", reason="asks for a fee",
                         evidence={"matched": "registration fee"})
    report = example_event("user_report.filed", {"reporter_id": "u77", "target_type": "job_post",
                                                 "target_id": "job42"},
                           event_id="0b8a3f0e-8a8e-4b5e-9a53-6d0c8f1f0002")
    report_flag = flag_for(report, detector="user_report.reported_entity", entity_type="job_post",
                           entity_id="job42", severity="medium", score=0.5, dedup_seconds=0)
    first = await queue.add_flag(report_flag, report)
    second = await queue.add_flag(post_flag, job)
    assert first.case_id == second.case_id
    case = await queue.case_detail(first.case_id)
    assert case["entity"] == "job_post:job42" and case["report_count"] == 1
    assert case["subject_id"] == "client9"  # the client, not the reporter
    assert {e["type"] for e in case["events"]} == {"job_post.created", "user_report.filed"}
    assert case["flags"][1]["evidence"] == {"matched": "registration fee"}
    assert case["consent"]["current"]["state"] == "opted_in"
    assert case["severity"] == "critical" and case["top_detector"] == "job_post.pay_to_work"


async def test_the_envelope_a_flag_carries_is_stored_once_for_its_case(queue: ReviewQueue) -> None:
    # Flags carry no envelope (the flag log is no second store of personal data): the worker
    # hands the queue the flagged event beside its flag.
    assert "event" not in Flag.model_fields
    f, event = flag("u1", text="call me on signal")
    case_id = (await queue.add_flag(f, event)).case_id
    case = await queue.case_detail(case_id)
    assert case["events"] == [event]
    assert "event" not in case["flags"][0]  # not duplicated inside the stored flag


async def test_series_record_flags_decisions_and_depth_per_minute(queue: ReviewQueue, clock: FakeClock) -> None:
    case_id = await open_case(queue)
    await queue.record_sample()
    await queue.claim(case_id, "alice")
    await queue.decide(case_id, "alice", "legitimate")
    minute = int(clock.now // 60) * 60
    series = await queue.series(clock.now - 3600)
    assert series["flags"]["message.off_platform_payment"] == {minute: 1.0}
    assert series["decisions"]["legitimate"] == {minute: 1.0}
    assert series["queue_depth"]["open cases"] == {minute: 1.0}
    clock.advance(3 * 86400)
    assert await queue.trim_series() >= 3
    assert (await queue.series(0))["flags"]["message.off_platform_payment"] == {}


def test_iso_times_are_utc() -> None:
    from pipeline.review.queue import iso
    assert iso(datetime(2026, 1, 5, tzinfo=timezone.utc).timestamp()) == "2026-01-05T00:00:00Z"
