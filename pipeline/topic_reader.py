"""Reading a whole topic once, from its first offset: for tools (dead-letter replay) and tests.

The embedded broker (Tansu) reports a wrong high watermark when the last produced batch held
several records (the batch's base offset + 1), so a partition's end is found by reading until
nothing more arrives, never by asking for watermarks.
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


def read_topic(bootstrap: str, topic: str, *, idle: float = 1.5, timeout: float = 30.0,
               group: str = "vigil-topic-reader") -> list[Record]:
    """Every message in ``topic`` (all partitions), reading until none arrives for ``idle``
    seconds or ``timeout`` passes. Assigns partitions itself and commits nothing, so ``group``
    joins no rebalance and moves no one's offsets."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False, "enable.partition.eof": False})
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        if topic not in metadata.topics or metadata.topics[topic].error is not None:
            raise LookupError(f"topic {topic} does not exist on {bootstrap}")
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
