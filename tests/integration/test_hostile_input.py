"""Hostile input drills on the embedded stack: records larger than any dead letter may be,
events dated far from now, and two different events sharing one event id. Each ends with an
exact account (processed, or a dead letter naming its origin) and a worker still running."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest
from kafka import KafkaProducer
from typer.testing import CliRunner

from detectors.examples import example_event
from pipeline.cli.main import app
from schemas.decode import decode_event_obj
from schemas.outputs import MAX_DEAD_LETTER_BYTES
from schemas.topics import Topics
from tests.support.events import trimming_id
from tests.support.kafka import read_topic
from tests.support.stack import Stack
from tests.support.traffic import flags_in_redis, publish, wait_caught_up, wait_processed

pytestmark = pytest.mark.integration


def large_request_producer(stack: Stack) -> KafkaProducer:
    """kafka-python, allowed requests of 4 MiB: what another team's producer may well send."""
    return KafkaProducer(bootstrap_servers=stack.settings.kafka_bootstrap, acks="all",
                         max_request_size=4 * 1024 * 1024)


def letters(stack: Stack) -> list[dict]:
    return [json.loads(r.value) for r in read_topic(stack.settings.kafka_bootstrap,
                                                    Topics.DEAD_LETTERS, idle=1.0)]


def test_records_too_large_for_a_dead_letter_are_dead_lettered_in_part_and_the_partition_moves_on(
        stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    stack.start_worker()
    huge_value = json.dumps(example_event("message.sent", {"text": "x" * 800_000})).encode()
    small_event = example_event("message.sent", {"message_id": "msg_huge_key"})
    small = json.dumps(small_event).encode()
    after = example_event("message.sent", {"message_id": "msg_after"})
    producer = large_request_producer(stack)
    sent = []
    for key, value in [(b"u_huge_value", huge_value), (b"k" * (1024 * 1024), small),
                       (after["subject_id"].encode(), json.dumps(after).encode())]:
        # One partition for all three: the valid event behind them must be processed and
        # committed, which it cannot be while the partition is stuck.
        meta = producer.send(Topics.MESSAGES, key=key, value=value, partition=0).get(30)
        sent.append((meta.partition, meta.offset))
    producer.close()

    wait_processed(stack, {after["event_id"]}, timeout=60)
    wait_caught_up(stack)
    found = letters(stack)
    by_origin = {(d["topic"], d["partition"], d["offset"]): d for d in found}
    assert set(by_origin) == {(Topics.MESSAGES, p, o) for p, o in sent[:2]}
    for raw in read_topic(stack.settings.kafka_bootstrap, Topics.DEAD_LETTERS, idle=1.0):
        assert len(raw.value) + len(raw.key or b"") <= MAX_DEAD_LETTER_BYTES
    value_letter = by_origin[(Topics.MESSAGES, *sent[0])]
    assert value_letter["kind"] == "oversized"
    assert value_letter["truncated"] is True
    assert value_letter["original_size"] == len(huge_value)
    assert value_letter["original_sha256"] == hashlib.sha256(huge_value).hexdigest()
    key_letter = by_origin[(Topics.MESSAGES, *sent[1])]
    assert key_letter["key_size"] == 1024 * 1024 and key_letter["key_truncated"] is True
    assert key_letter["key_sha256"] == hashlib.sha256(b"k" * (1024 * 1024)).hexdigest()
    assert all(w.poll() is None for w in stack.workers), "the worker must survive oversized input"

    # Replay: the value cut short cannot be, and the letter says where its original is; the
    # one with the long key kept its whole value, and is published again keyed by its subject.
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", stack.settings.kafka_bootstrap)
    monkeypatch.setenv("REDIS_URL", stack.settings.redis_url)
    replayed = CliRunner().invoke(app, ["dead-letters", "replay", "--kind", "oversized"])
    assert replayed.exit_code == 2, replayed.output
    assert "published 1 event(s) again; 1 still invalid" in replayed.output
    assert (f"truncated: the letter keeps 131072 of the original's {len(huge_value)} bytes"
            in replayed.output)
    assert f"{Topics.MESSAGES}/{sent[0][0]}@{sent[0][1]} while the topic retains it" in (
        " ".join(replayed.output.split()))
    wait_processed(stack, {small_event["event_id"]})


def proposal(freelancer: str, n: int, at: datetime, event_id: str | None = None) -> dict:
    return example_event("proposal.submitted", {
        "freelancer_id": freelancer, "proposal_id": f"prop_{freelancer}_{n}",
        "job_id": f"job_{n}", "cover_letter": f"Proposal number {n} for your job."},
        occurred_at=at.isoformat().replace("+00:00", "Z"),
        **({"event_id": event_id} if event_id else {}))


def test_a_far_future_event_is_dead_lettered_and_cannot_erase_the_history_a_burst_needs(
        stack: Stack) -> None:
    # Three proposals, one dated year 9999 (whose write trims: all but 1 in 8 do not), two more:
    # five in ten minutes is a burst. Trimmed at 9999 less the horizon, the first three were
    # gone and the fifth saw two.
    freelancer, now = "u_burst", datetime.now(timezone.utc)
    burst = [proposal(freelancer, n, now - timedelta(seconds=60 - n)) for n in range(5)]
    future = proposal(freelancer, 99, datetime(9999, 1, 1, tzinfo=timezone.utc),
                      event_id=trimming_id("future"))
    stack.start_worker()
    publish(stack, burst[:3])
    # Vigil's publisher refuses it (tests/pipeline/test_publisher_clock.py); a service with its
    # own Kafka client does not.
    with large_request_producer(stack) as other:
        other.send(Topics.PROPOSALS, key=freelancer.encode(), value=json.dumps(future).encode())
        other.flush()
    publish(stack, burst[3:])
    wait_processed(stack, {e["event_id"] for e in burst})
    wait_caught_up(stack)
    hits = [f for f in flags_in_redis(stack) if f["detector_id"] == "proposal.burst"]
    assert [f["event_id"] for f in hits] == [burst[4]["event_id"]]
    assert "5 proposals in 10 minutes" in hits[0]["reason"]
    [letter] = letters(stack)
    assert letter["kind"] == "clock_skew"
    assert "9999-01-01" in letter["reason"] and "300" in letter["reason"]
    assert future["event_id"] not in stack.ledger()


def test_a_conflicting_duplicate_is_dead_lettered_with_both_digests_and_a_redelivery_is_not(
        stack: Stack) -> None:
    first = example_event("message.sent", {"message_id": "msg_dup", "sender_id": "u_dup",
                                           "text": "See you tomorrow."}, subject_id="u_dup")
    # Another event under the same id: different text, another recipient. Merged, it would
    # flag u_dup for the first event and count a recipient the first never had.
    other = {**first, "payload": {**first["payload"], "recipient_id": "u_elsewhere",
                                  "has_active_contract": False,
                                  "text": "Pay the deposit to my PayPal first."}}
    later = example_event("message.sent", {"message_id": "msg_dup_after", "sender_id": "u_dup",
                                           "recipient_id": "u_third"}, subject_id="u_dup")
    stack.start_worker()
    # The first, the conflicting one, the first again (a producer's retry: the same content).
    publish(stack, [first, other, first, later])
    wait_processed(stack, {first["event_id"], later["event_id"]})
    wait_caught_up(stack)
    [letter] = letters(stack)
    assert letter["kind"] == "conflicting_duplicate"
    digests = [decode_event_obj(e).digest for e in (first, other)]
    assert digests[0] != digests[1] and all(d in letter["reason"] for d in digests)
    assert json.loads(base64.b64decode(letter["original_b64"]))["payload"]["recipient_id"] == (
        "u_elsewhere")
    assert [f for f in flags_in_redis(stack) if f["subject_id"] == "u_dup"] == []
    # The conflicting event wrote nothing: the sender messaged two people, not three.
    assert stack.client.zcard("vigil:f:sender:u_dup:recipients") == 2
    assert all(w.poll() is None for w in stack.workers)
