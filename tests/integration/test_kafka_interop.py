"""Vigil with a Kafka client nobody on the project wrote: kafka-python, whose partitioner is the
Java client's (murmur2). A JVM service publishing to Vigil's topics must put a user's events on
the partition Vigil's own publisher does, or one user's events are split over partitions (and
workers) and lose their order; and the stack must work for such a client end to end."""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("kafka", reason="kafka-python is in the dev extra: pip install -e '.[dev]'")

from kafka import KafkaConsumer, KafkaProducer  # noqa: E402
from kafka.partitioner import murmur2  # noqa: E402

from pipeline.kafka.publisher import Publisher  # noqa: E402
from pipeline.local.embedded import create_topics  # noqa: E402
from schemas.outputs import FlagRecord  # noqa: E402
from schemas.topics import TOPIC_BY_TYPE, Topics  # noqa: E402
from tests.support.kafka import read_topic  # noqa: E402
from tests.support.stack import Stack  # noqa: E402
from tests.support.traffic import simulated, wait_processed  # noqa: E402

pytestmark = pytest.mark.integration


def _java_partition(key: bytes, partitions: int) -> int:
    """The partition a Java client (and kafka-python's DefaultPartitioner) chooses for ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def test_vigils_publisher_and_a_java_compatible_client_agree_on_every_keys_partition(
        stack: Stack) -> None:
    events = [e for e in simulated(3000, seed=21) if e["type"] == "user.signed_up"]
    subjects = sorted({e["subject_id"] for e in events})
    assert len(subjects) > 20
    with Publisher(stack.settings.kafka_bootstrap) as publisher:
        for event in events:
            publisher.publish(event)
    ours = {r.key.decode(): r.partition for r in read_topic(stack.settings.kafka_bootstrap,
                                                             Topics.SIGNUPS)}
    create_topics(stack.settings.kafka_bootstrap, {"interop.scratch": stack.settings.partitions})
    producer = KafkaProducer(bootstrap_servers=stack.settings.kafka_bootstrap)
    try:
        sent = {s: producer.send("interop.scratch", key=s.encode(), value=b"{}") for s in subjects}
        producer.flush(10)
        theirs = {s: future.get(10).partition for s, future in sent.items()}
    finally:
        producer.close()
    disagree = [s for s in subjects if ours[s] != theirs[s]]
    assert not disagree, f"{len(disagree)} of {len(subjects)} keys land elsewhere: {disagree[:5]}"


def test_a_second_client_feeds_the_worker_and_reads_the_flags_it_publishes(stack: Stack) -> None:
    stack.start_worker()
    events = simulated(400, seed=22, fraud_rate=0.3)
    producer = KafkaProducer(bootstrap_servers=stack.settings.kafka_bootstrap)
    try:
        for event in events:
            producer.send(TOPIC_BY_TYPE[event["type"]], key=event["subject_id"].encode(),
                          value=json.dumps(event).encode())
        producer.flush(20)
    finally:
        producer.close()
    wait_processed(stack, {e["event_id"] for e in events})
    expected = int(stack.client.hlen("vigil:flag_case"))
    assert expected > 0, "the simulated fraud should produce flags"

    consumer = KafkaConsumer(Topics.FLAGS, bootstrap_servers=stack.settings.kafka_bootstrap,
                             group_id="interop-flag-reader", auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=1000)
    records = []
    try:
        deadline = time.monotonic() + 60
        while len(records) < expected and time.monotonic() < deadline:
            records.extend(consumer)  # until 1 s without a message
    finally:
        consumer.close()
    assert len({r.value for r in records}) == expected, (len(records), expected)
    partitions = stack.settings.partitions
    ids = {e["event_id"] for e in events}
    for record in records:
        flag = FlagRecord.model_validate_json(record.value)
        assert flag.event.event_id in ids
        assert record.key == f"{flag.entity_type}:{flag.entity_id}".encode()
        # The worker's producer (aiokafka) partitions flags as a Java client would.
        assert record.partition == _java_partition(record.key, partitions), record.key
