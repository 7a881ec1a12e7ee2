"""Reading topics and consumer-group progress on the real broker, for assertions.

Tansu (the embedded broker) reports a wrong high watermark when the last produced batch held
several records (it answers the batch's base offset + 1), so these helpers find a partition's
end by reading it, never by asking for watermarks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes


def read_topic(bootstrap: str, topic: str, *, idle: float = 1.5, timeout: float = 30.0) -> list[Record]:
    """Every message in ``topic`` (all partitions), reading until none arrives for ``idle`` s."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "vigil-test-reader",
                         "enable.auto.commit": False, "enable.partition.eof": False})
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = list(metadata.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        out: list[Record] = []
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - last < idle:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            last = time.monotonic()
            out.append(Record(message.partition(), message.offset(), message.key(), message.value()))
        return out
    finally:
        consumer.close()


def end_offsets(bootstrap: str, topics: list[str]) -> dict[tuple[str, int], int]:
    ends: dict[tuple[str, int], int] = {}
    for topic in topics:
        for record in read_topic(bootstrap, topic, idle=0.7):
            key = (topic, record.partition)
            ends[key] = max(ends.get(key, 0), record.offset + 1)
    return ends


def group_lag(bootstrap: str, group: str, topics: list[str]) -> int:
    """Messages in ``topics`` that ``group`` has not committed yet."""
    ends = end_offsets(bootstrap, topics)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    try:
        committed = consumer.committed([TopicPartition(t, p) for t, p in ends], timeout=10)
        return sum(ends[(tp.topic, tp.partition)] - max(tp.offset, 0) for tp in committed)
    finally:
        consumer.close()
