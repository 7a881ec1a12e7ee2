"""A running worker's /metrics, scraped over HTTP after real traffic."""

from __future__ import annotations

import os
import signal
import uuid

import pytest

from pipeline.kafka.publisher import Publisher
from pipeline.local.embedded import free_port
from pipeline.sim import generate
from schemas.topics import Topics
from tests.support.metrics import scrape, total
from tests.support.stack import Stack, with_settings
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def test_worker_metrics_count_events_dead_letters_and_flags_without_personal_data(stack: Stack) -> None:
    port = free_port()
    with_settings(stack, metrics_port=port)
    events = [s.envelope for s in generate(seed=3, count=400, fraud_rate=0.2)]
    stack.start_worker()
    with Publisher(stack.settings.kafka_bootstrap) as publisher:
        for event in events:
            publisher.publish(event)
        publisher.publish_raw(Topics.MESSAGES, b"not json at all")
        publisher.publish_raw(Topics.SIGNUPS, b'{"type": "user.signed_up"}')
    wait_until(lambda: len(stack.ledger()) == len(events), 60, message="all events processed")
    wait_until(lambda: total(scrape(port)[0], "vigil_dead_letters_total") == 2, 20,
               message="two dead letters counted")
    samples, text = scrape(port)
    # Each event counted once; one Kafka delivered again (the consumer group settling at
    # start may hand a partition over) is counted apart, as decided again.
    assert total(samples, "vigil_events_total") == len(events)
    redelivered = total(samples, "vigil_events_redelivered_total")
    assert samples['vigil_dead_letters_total{kind="bad_json",topic="marketplace.messages"}'] == 1
    assert samples['vigil_dead_letters_total{kind="invalid_field",topic="marketplace.signups"}'] == 1
    published = total(samples, "vigil_flags_published_total")
    assert published > 0, "the simulated fraud should produce flags"
    wait_until(lambda: total(scrape(port)[0], "vigil_queue_flags_total") == published, 20,
               message="the queue sink to account for every published flag")
    samples, text = scrape(port)
    assert total(samples, "vigil_detector_hits_total") >= published
    assert samples["vigil_event_processing_seconds_count{}"] == len(events) + redelivered
    # One state round trip per fetch that held a valid event, and at least one write.
    fetches = samples["vigil_batch_events_count{}"]
    assert 0 < samples['vigil_redis_round_trip_seconds_count{step="state"}'] <= fetches
    assert 0 < samples['vigil_redis_round_trip_seconds_count{step="write"}'] <= fetches
    assert samples['vigil_redis_round_trip_seconds_sum{step="state"}'] > 0
    # Every stage from fetch to case is observed, per batch: prepare once per fetch.
    assert samples['vigil_stage_seconds_count{phase="ran",stage="prepare"}'] == fetches
    assert samples['vigil_stage_seconds_count{phase="waited",stage="prepare"}'] == fetches
    for stage in ("decide", "write", "finish", "publish"):
        assert 0 < samples[f'vigil_stage_seconds_count{{phase="ran",stage="{stage}"}}'] <= fetches
    for stage in ("decide", "write", "finish"):
        waited = f'vigil_stage_seconds_count{{phase="waited",stage="{stage}"}}'
        assert samples[waited] == samples[f'vigil_stage_seconds_count{{phase="ran",stage="{stage}"}}']
    # No personal data in label values: no user id, email, IP or device id appears anywhere.
    personal = set()
    for event in events:
        personal.add(event["subject_id"])
        payload = event["payload"]
        personal.update(str(payload[k]) for k in ("email", "ip", "device_id", "username") if k in payload)
    leaked = [p for p in personal if p in text]
    assert not leaked, f"personal data in /metrics: {leaked[:5]}"


def test_unreadable_consent_skips_ai_as_unavailable_and_the_rules_still_run(stack: Stack) -> None:
    """VigilAiSkippedConsentUnavailable watches vigil_ai_skipped_total{reason="unavailable"}: the
    gate must say so where a subject's consent cannot be read, and the event must still be
    judged by the rules (not dead-lettered as a processing error)."""
    from detectors.examples import example_event

    port = free_port()
    with_settings(stack, metrics_port=port)
    client = stack.client
    client.set("vigil:consent:u_wrongtype", "not a sorted set")       # a key of the wrong type
    client.zadd("vigil:consent:u_garbage", {"{not json": 1.0})         # an entry that does not parse
    events = [example_event("message.sent", {"sender_id": user, "has_active_contract": False,
                                             "text": "pay me via venmo before we start"},
                            subject_id=user, event_id=str(uuid.uuid4()))
              for user in ("u_wrongtype", "u_garbage")]
    stack.start_worker()
    with Publisher(stack.settings.kafka_bootstrap) as publisher:
        for event in events:
            publisher.publish(event)
    wait_until(lambda: {e["event_id"] for e in events} <= stack.ledger(), 60,
               message="both events processed")
    wait_until(lambda: scrape(port)[0].get(
        'vigil_ai_skipped_total{detector="message.scam_model",reason="unavailable"}') == 2, 20,
        message="two AI runs skipped as unavailable")
    samples, _ = scrape(port)
    assert samples['vigil_dead_letters_total{kind="processing_error",topic="marketplace.messages"}'] == 0
    assert samples['vigil_detector_hits_total{detector="message.off_platform_payment",mode="enforce"}'] == 2


def test_events_delivered_again_after_a_kill_are_counted_as_redeliveries(stack: Stack) -> None:
    """A worker killed before it committed: the next one is handed every event again, and
    counts each as a redelivery (its content digest was seen), none as a new event, and opens
    no case twice."""
    events = [s.envelope for s in generate(seed=5, count=200, fraud_rate=0.2)]
    with_settings(stack, commit_interval=600)  # the first worker commits nothing
    first = stack.start_worker("first")
    with Publisher(stack.settings.kafka_bootstrap) as publisher:
        for event in events:
            publisher.publish(event)
    wait_until(lambda: len(stack.ledger()) == len(events), 60, message="all events processed")
    cases = stack.client.zcard("vigil:queue")
    assert cases > 0, "the simulated fraud should open cases"
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    port = free_port()
    with_settings(stack, commit_interval=0.5, metrics_port=port)
    stack.start_worker("second")
    wait_until(lambda: total(scrape(port)[0], "vigil_events_redelivered_total") == len(events),
               60, message="every event delivered again and counted so")
    samples, _ = scrape(port)
    assert total(samples, "vigil_events_total") == 0
    assert samples['vigil_events_redelivered_total{topic="marketplace.messages"}'] == \
        sum(e["type"] == "message.sent" for e in events)
    assert stack.client.zcard("vigil:queue") == cases
    assert not any(k.endswith('result="created"}') and v
                   for k, v in samples.items() if k.startswith("vigil_queue_flags_total{"))
