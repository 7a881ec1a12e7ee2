"""Failure drills on the real embedded stack, each ending with an exact account.

Every accepted event must be processed (it is in the processing ledger) or dead-lettered (a dead
letter names its topic, partition and offset); no flag may be published to tns.flags
without being in the queue, and no flag or case duplicated.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import time

import pytest
from confluent_kafka import Producer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.examples import example_event
from pipeline.kafka.publisher import Publisher
from pipeline.local.embedded import free_port, start_redis
from pipeline.sim import generate
from schemas.decode import decode_event
from schemas.errors import InvalidEvent
from schemas.topics import INPUT_TOPICS, Topics
from tests.support.kafka import read_topic
from tests.support.metrics import scrape
from tests.support.stack import Stack, with_settings
from tests.support.traffic import (
    assert_cases_consistent,
    flags_in_redis,
    publish,
    wait_caught_up,
    wait_processed,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def assert_no_flag_lost(stack: Stack) -> None:
    published = {json.loads(r.value)["flag_id"]
                 for r in read_topic(stack.settings.kafka_bootstrap, Topics.FLAGS)}
    assert published == {f["flag_id"] for f in flags_in_redis(stack)}


def test_redis_restarted_mid_stream_loses_and_duplicates_nothing(stack: Stack) -> None:
    events = [s.envelope for s in generate(seed=31, count=3000, fraud_rate=0.15)]
    stack.start_worker()
    publish(stack, events)
    wait_until(lambda: len(stack.ledger()) >= 500, 60, message="the worker to be mid-stream")
    port = int(stack.settings.redis_url.rsplit(":", 1)[1].split("/")[0])
    stack.redis.stop()  # SIGTERM: Redis flushes its append-only file and exits
    time.sleep(3)  # the worker keeps retrying meanwhile
    stack.redis = start_redis(stack.state_dir, port=port)
    wait_processed(stack, {e["event_id"] for e in events})
    wait_caught_up(stack)
    assert_no_flag_lost(stack)
    assert_cases_consistent(stack)
    assert all(w.poll() is None for w in stack.workers), "the worker must survive the outage"


def test_two_workers_one_killed_the_survivor_takes_over_its_partitions(stack: Stack) -> None:
    events = [s.envelope for s in generate(seed=37, count=4000, fraud_rate=0.15)]
    first = stack.start_worker("worker-a")
    second = stack.start_worker("worker-b")
    stack.wait_for_workers(2)
    publish(stack, events)
    wait_until(lambda: len(stack.ledger()) >= 600, 60, message="both workers mid-stream")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    wait_processed(stack, {e["event_id"] for e in events}, timeout=120)
    wait_caught_up(stack)
    assert second.poll() is None
    assert_no_flag_lost(stack)
    assert_cases_consistent(stack)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def _mutate(event: dict, data: st.DataObject) -> bytes:
    """A hostile variant of a valid event: broken bytes, wrong types, missing or alien fields."""
    kind = data.draw(st.sampled_from(["bytes", "field", "drop", "payload_field", "truncate", "huge"]))
    if kind == "bytes":
        return data.draw(st.binary(min_size=0, max_size=200))
    if kind == "truncate":
        raw = json.dumps(event).encode()
        return raw[: data.draw(st.integers(0, len(raw) - 1))]
    if kind == "huge":
        return json.dumps({**event, "payload": {**event["payload"], "text": "x" * 70_000}}).encode()
    mutated = json.loads(json.dumps(event))
    if kind == "field":
        mutated[data.draw(st.sampled_from(sorted(mutated)))] = data.draw(_json_values)
    elif kind == "drop":
        mutated.pop(data.draw(st.sampled_from(sorted(mutated))))
    else:
        key = data.draw(st.sampled_from(sorted(mutated["payload"])))
        mutated["payload"][key] = data.draw(_json_values)
    return json.dumps(mutated).encode()


@settings(max_examples=1, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_fuzzed_hostile_input_is_all_accounted_for_and_the_worker_survives(
        stack: Stack, data: st.DataObject) -> None:
    valid = [s.envelope for s in generate(seed=41, count=400, fraud_rate=0.1)]
    rng = random.Random(41)
    sent: list[tuple[str, int, int, bytes]] = []
    producer = Producer({"bootstrap.servers": stack.settings.kafka_bootstrap, "acks": "all"})

    def delivered(err, msg) -> None:  # noqa: ANN001
        assert err is None, err
        sent.append((msg.topic(), msg.partition(), msg.offset(), msg.value()))

    stack.start_worker()
    for i in range(2000):
        base = valid[i % len(valid)]
        raw = json.dumps(base).encode() if i % 4 == 0 else _mutate(base, data)
        producer.produce(rng.choice(INPUT_TOPICS), key=str(i).encode(), value=raw,
                         on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(30) == 0
    assert len(sent) == 2000

    def accounted() -> tuple[dict, set]:
        letters = {(d["topic"], d["partition"], d["offset"]): d["kind"] for d in
                   (json.loads(r.value) for r in read_topic(stack.settings.kafka_bootstrap,
                                                            Topics.DEAD_LETTERS, idle=1.0))}
        return letters, stack.ledger()

    def all_accounted() -> bool:
        letters, ledger = accounted()
        return all((t, p, o) in letters or _event_id(raw) in ledger for t, p, o, raw in sent)

    wait_until(all_accounted, 120, interval=2, message="every fuzzed message processed or dead-lettered")
    letters, ledger = accounted()
    # Exact: what the decoder refuses offline was dead-lettered, and only that; the rest processed,
    # but for a valid variant whose event id another valid record had with other content (one
    # of the two is dead-lettered as a conflicting duplicate: the one processed second).
    invalid, conflicting = 0, 0
    digests: dict[str, set[str]] = {}
    for topic, _, _, raw in sent:
        try:
            event = decode_event(raw, topic=topic)
        except InvalidEvent:
            continue
        digests.setdefault(event.id, set()).add(event.digest)
    for topic, partition, offset, raw in sent:
        try:
            event = decode_event(raw, topic=topic)
        except InvalidEvent:
            invalid += 1
            assert (topic, partition, offset) in letters
        else:
            if (topic, partition, offset) in letters:
                assert letters[topic, partition, offset] == "conflicting_duplicate"
                assert len(digests[event.id]) > 1
                conflicting += 1
            assert str(event.event_id) in ledger
    assert invalid + conflicting == len(letters) and invalid > 1000
    assert all(w.poll() is None for w in stack.workers), "the worker must survive hostile input"


def _event_id(raw: bytes) -> str | None:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return value.get("event_id") if isinstance(value, dict) and isinstance(value.get("event_id"), str) else None


def test_a_worker_stopped_gracefully_mid_stream_commits_nothing_it_did_not_process(stack: Stack) -> None:
    # A rolling restart: SIGTERM lets the worker stop cleanly (it commits what it acked).
    events = [s.envelope for s in generate(seed=43, count=4000, fraud_rate=0.15)]
    first = stack.start_worker("worker-a")
    publish(stack, events)
    wait_until(lambda: len(stack.ledger()) >= 800, 60, message="the worker to be mid-stream")
    os.killpg(first.pid, signal.SIGTERM)
    first.wait(60)
    assert len(stack.ledger()) < len(events), "the stop should land mid-stream"
    stack.start_worker("worker-b")
    wait_processed(stack, {e["event_id"] for e in events})
    wait_caught_up(stack)
    assert_no_flag_lost(stack)
    assert_cases_consistent(stack)


def test_an_event_whose_case_cannot_be_written_is_dead_lettered_and_its_partition_moves_on(
        stack: Stack) -> None:
    # Something wrote a plain string where the queue keeps a user's snoozes (a hash): opening a
    # case on that user fails inside the queue's script, however often it is retried.
    victim = "u_key_clash"
    stack.client.set(f"vigil:snooze:user:{victim}", "not a hash")

    def asks_for_paypal(sender: str) -> dict:
        return example_event("message.sent", {
            "sender_id": sender, "message_id": f"msg_{sender}",
            "text": "Send the deposit to my PayPal and we can start.", "has_active_contract": False})

    bad = asks_for_paypal(victim)
    others = [asks_for_paypal(f"u_fine_{i}") for i in range(20)] + [
        s.envelope for s in generate(seed=47, count=400, fraud_rate=0.15)]
    port = free_port()
    with_settings(stack, metrics_port=port)
    stack.start_worker()
    publish(stack, others[:210] + [bad] + others[210:])
    wait_processed(stack, {e["event_id"] for e in others})
    wait_caught_up(stack)  # the committed offsets went past the event that failed
    letters = [json.loads(r.value) for r in read_topic(stack.settings.kafka_bootstrap,
                                                       Topics.DEAD_LETTERS, idle=1.0)]
    assert [(d["kind"], json.loads(base64.b64decode(d["original_b64"]))["event_id"])
            for d in letters] == [("processing_error", bad["event_id"])]
    assert "WRONGTYPE" in letters[0]["reason"]
    assert bad["event_id"] not in stack.ledger()
    # Only the refused flag failed; its batch's other flags were added once, none counted twice.
    results: dict[str, float] = {}
    for key, value in scrape(port)[0].items():
        if key.startswith("vigil_queue_flags_total{"):
            result = key.split('result="')[1].split('"')[0]
            results[result] = results.get(result, 0) + value
    assert results.get("failed") == 1, results
    assert results.get("duplicate", 0) == 0, results
    assert results.get("created", 0) >= 20, results
    assert all(w.poll() is None for w in stack.workers), "the worker must keep running"
    assert_no_flag_lost(stack)

    # The failed script wrote nothing, so once the key is repaired a replay opens the case.
    stack.client.delete(f"vigil:snooze:user:{victim}")
    with Publisher(stack.settings.kafka_bootstrap) as publisher:
        publisher.publish_raw(letters[0]["topic"], base64.b64decode(letters[0]["original_b64"]),
                              key=b"replay")
    wait_processed(stack, {bad["event_id"]})
    flagged = [f for f in flags_in_redis(stack) if f["event_id"] == bad["event_id"]]
    assert [(f["entity_id"], f["detector_id"]) for f in flagged] == [
        (victim, "message.off_platform_payment")]
    assert stack.client.get(f"vigil:entity:user:{victim}:open_case")
    wait_caught_up(stack)
    assert_no_flag_lost(stack)
    assert_cases_consistent(stack)


def test_redis_out_of_memory_is_waited_out_and_nothing_is_dead_lettered(stack: Stack) -> None:
    events = [s.envelope for s in generate(seed=53, count=1200, fraud_rate=0.15)]
    stack.start_worker()
    publish(stack, events[:200])
    wait_processed(stack, {e["event_id"] for e in events[:200]})
    client = stack.client
    # Below what Redis already holds, with no eviction: every write is refused with OOM,
    # whether a plain command or a write inside one of Vigil's Lua scripts.
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", str(client.info("memory")["used_memory"] // 2))
    publish(stack, events[200:])
    time.sleep(4)
    assert len(stack.ledger()) < len(events), "no batch can be finished while Redis refuses writes"
    client.config_set("maxmemory", "0")
    wait_processed(stack, {e["event_id"] for e in events})
    wait_caught_up(stack)
    assert read_topic(stack.settings.kafka_bootstrap, Topics.DEAD_LETTERS, idle=1.0) == []
    assert_no_flag_lost(stack)
    assert_cases_consistent(stack)
    assert all(w.poll() is None for w in stack.workers), "the worker must survive the outage"
