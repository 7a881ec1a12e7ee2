"""A running worker's /metrics, scraped over HTTP after real traffic."""

from __future__ import annotations

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
    assert total(samples, "vigil_events_total") == len(events)
    assert samples['vigil_dead_letters_total{kind="bad_json",topic="marketplace.messages"}'] == 1
    assert samples['vigil_dead_letters_total{kind="invalid_field",topic="marketplace.signups"}'] == 1
    published = total(samples, "vigil_flags_published_total")
    assert published > 0, "the simulated fraud should produce flags"
    wait_until(lambda: total(scrape(port)[0], "vigil_queue_flags_total") == published, 20,
               message="the queue sink to account for every published flag")
    samples, text = scrape(port)
    assert total(samples, "vigil_detector_hits_total") >= published
    assert samples["vigil_event_processing_seconds_count{}"] == len(events)
    # One state round trip per fetch that held a valid event, and at least one write.
    fetches = samples["vigil_batch_events_count{}"]
    assert 0 < samples['vigil_redis_round_trip_seconds_count{step="state"}'] <= fetches
    assert 0 < samples['vigil_redis_round_trip_seconds_count{step="write"}'] <= fetches
    assert samples['vigil_redis_round_trip_seconds_sum{step="state"}'] > 0
    # No personal data in label values: no user id, email, IP or device id appears anywhere.
    personal = set()
    for event in events:
        personal.add(event["subject_id"])
        payload = event["payload"]
        personal.update(str(payload[k]) for k in ("email", "ip", "device_id", "username") if k in payload)
    leaked = [p for p in personal if p in text]
    assert not leaked, f"personal data in /metrics: {leaked[:5]}"
