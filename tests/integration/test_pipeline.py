"""End to end on the real embedded stack: events in through Kafka, flags out in the Redis queue."""

from __future__ import annotations

import base64
import json
import os
import signal

import pytest

from detectors.examples import example_event
from pipeline.kafka.publisher import Publisher
from schemas import MAX_EVENT_BYTES
from schemas.topics import Topics
from tests.support.kafka import read_topic
from tests.support.stack import Stack
from tests.support.traffic import (
    assert_cases_consistent,
    expected_flags,
    flags_in_redis,
    publish,
    publish_in_causal_phases,
    simulated,
    wait_caught_up,
    wait_processed,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def test_every_published_event_is_processed_and_the_queue_holds_exactly_the_replayed_flags(
        single_partition_stack: Stack) -> None:
    stack = single_partition_stack
    events = simulated(1500)
    stack.start_worker()
    publish_in_causal_phases(stack, events)
    wait_processed(stack, {e["event_id"] for e in events})
    wait_caught_up(stack)
    want = expected_flags(events)
    assert want, "the simulated traffic should contain fraud the rules catch"
    got = {(f["event_id"], f["detector_id"]) for f in flags_in_redis(stack)}
    assert got == want
    assert_cases_consistent(stack)
    counts = {k.decode(): int(v) for k, v in stack.client.hgetall("vigil:stats:flags_by_detector").items()}
    assert sum(counts.values()) == len(want)


def test_invalid_events_go_to_dead_letters_with_reason_and_original_bytes(stack: Stack) -> None:
    stack.start_worker()
    valid = example_event("message.sent", {"text": "pay me on venmo", "has_active_contract": False})
    missing = example_event("message.sent")
    del missing["payload"]["text"]
    mistyped = example_event("job_post.created", {"budget_amount": "lots"})
    bad = {
        "bad_json": (Topics.MESSAGES, b"{not json"),
        "unknown_type": (Topics.MESSAGES, json.dumps({**valid, "type": "message.deleted"}).encode()),
        "missing": (Topics.MESSAGES, json.dumps(missing).encode()),
        "mistyped": (Topics.JOB_POSTS, json.dumps(mistyped).encode()),
        "oversized": (Topics.MESSAGES, b'{"pad": "' + b"x" * MAX_EVENT_BYTES + b'"}'),
        "wrong_topic": (Topics.SIGNUPS, json.dumps(valid).encode()),
    }
    with Publisher(stack.settings.kafka_bootstrap) as publisher:
        for topic, raw in bad.values():
            publisher.publish_raw(topic, raw, key=b"k")
        publisher.publish(valid)
    wait_processed(stack, {valid["event_id"]})
    wait_until(lambda: len(read_topic(stack.settings.kafka_bootstrap, Topics.DEAD_LETTERS)) >= len(bad),
               30, message="dead letters")
    letters = [json.loads(r.value) for r in read_topic(stack.settings.kafka_bootstrap, Topics.DEAD_LETTERS)]
    assert len(letters) == len(bad)
    by_original = {base64.b64decode(d["original_b64"]): d for d in letters}
    for name, (topic, raw) in bad.items():
        letter = by_original[raw]
        assert letter["topic"] == topic, name
        assert letter["offset"] >= 0 and letter["partition"] >= 0
        assert letter["reason"], name
    assert by_original[bad["bad_json"][1]]["kind"] == "bad_json"
    assert by_original[bad["unknown_type"][1]]["kind"] == "unknown_type"
    assert "payload.text" in by_original[bad["missing"][1]]["reason"]
    assert "payload.budget_amount" in by_original[bad["mistyped"][1]]["reason"]
    assert by_original[bad["oversized"][1]]["kind"] == "oversized"
    assert by_original[bad["wrong_topic"][1]]["kind"] == "wrong_topic"
    # The worker kept going: the valid event after the bad ones was flagged.
    assert {f["event_id"] for f in flags_in_redis(stack)} == {valid["event_id"]}


def test_publishing_the_same_events_twice_creates_no_duplicate_flags_or_cases(
        single_partition_stack: Stack) -> None:
    # One partition, so both passes see events in the same order and must flag the same things.
    stack = single_partition_stack
    events = simulated(600, seed=5, fraud_rate=0.2)
    stack.start_worker()
    publish_in_causal_phases(stack, events)
    wait_processed(stack, {e["event_id"] for e in events})
    wait_caught_up(stack)
    first_flags = {f["flag_id"] for f in flags_in_redis(stack)}
    first_cases = stack.client.zcard("vigil:queue")
    assert first_flags
    publish_in_causal_phases(stack, events)  # a producer retrying a whole batch
    wait_caught_up(stack)
    assert {f["flag_id"] for f in flags_in_redis(stack)} == first_flags
    assert stack.client.zcard("vigil:queue") == first_cases
    assert_cases_consistent(stack)


def test_a_worker_killed_mid_stream_loses_and_duplicates_nothing(stack: Stack) -> None:
    events = simulated(4000, seed=23, fraud_rate=0.15)
    ids = {e["event_id"] for e in events}
    first = stack.start_worker("worker-a")
    publish(stack, events)
    wait_until(lambda: len(stack.ledger()) >= 800, 60, message="the worker to be mid-stream")
    os.killpg(first.pid, signal.SIGKILL)  # a crash: no commit, no flush, no goodbye
    first.wait()
    done_before_crash = len(stack.ledger())
    assert done_before_crash < len(ids), "the crash should land mid-stream"
    stack.start_worker("worker-b")
    wait_processed(stack, ids)
    wait_caught_up(stack)
    # Nothing lost: every flag the pipeline published reached the queue, and the
    # order-independent rule flagged exactly what replay flags.
    published = {json.loads(r.value)["flag_id"] for r in read_topic(stack.settings.kafka_bootstrap, Topics.FLAGS)}
    in_queue = {f["flag_id"] for f in flags_in_redis(stack)}
    assert published == in_queue
    payment = {(e, d) for e, d in expected_flags(events) if d == "message.off_platform_payment"}
    got = {(f["event_id"], f["detector_id"]) for f in flags_in_redis(stack)
           if f["detector_id"] == "message.off_platform_payment"}
    assert got == payment
    # Nothing duplicated.
    assert_cases_consistent(stack)
