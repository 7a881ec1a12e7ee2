"""Reading topics and consumer-group progress on the real broker, for assertions.

Partition ends are found by reading (:mod:`pipeline.kafka.topic_reader`), never from watermarks,
which the embedded broker reports wrongly.
"""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition

from pipeline.kafka.topic_reader import Record, read_topic

__all__ = ["Record", "end_offsets", "group_lag", "read_topic"]


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
