"""Reading a whole topic once, from its first offset: for tools (dead-letter replay) and tests.

The embedded broker (Tansu) reports a wrong high watermark when the last produced batch held
several records (the batch's base offset + 1), so a partition's end is found by reading until
nothing more arrives, never by asking for watermarks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from confluent_kafka import Consumer, TopicPartition


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes


def read_topic(bootstrap: str, topic: str, *, idle: float = 1.5, timeout: float = 30.0,
               group: str = "vigil-topic-reader", since: datetime | None = None) -> list[Record]:
    """Every message in ``topic`` (all partitions), reading until none arrives for ``idle``
    seconds; with ``since``, from each partition's first message produced at or after it.

    Assigns partitions itself and commits nothing, so ``group`` joins no rebalance and moves
    no one's offsets. Raises :class:`TimeoutError` if ``timeout`` seconds pass before an idle
    spell shows the end was reached: a partial read is never passed off as the whole topic.
    """
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False, "enable.partition.eof": False})
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        if topic not in metadata.topics or metadata.topics[topic].error is not None:
            raise LookupError(f"topic {topic} does not exist on {bootstrap}")
        starts = [TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions]
        at = int(since.timestamp() * 1000) if since is not None else None
        if at is not None:
            # Kafka answers the earliest offset at or after the time (the end where nothing is
            # that new); the embedded broker answers 0 for the latter, so older messages are
            # also dropped by their timestamps below.
            starts = consumer.offsets_for_times([TopicPartition(topic, tp.partition, at)
                                                 for tp in starts], timeout=10)
        consumer.assign(starts)
        out: list[Record] = []
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() - last < idle:
            if time.monotonic() > deadline:
                raise TimeoutError(f"did not reach the end of {topic} in {timeout:g}s "
                                   f"({len(out)} messages read)")
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            last = time.monotonic()
            if at is not None and message.timestamp()[1] < at:
                continue
            out.append(Record(message.partition(), message.offset(), message.key(), message.value()))
        return out
    finally:
        consumer.close()
