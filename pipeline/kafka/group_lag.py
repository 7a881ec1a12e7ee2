"""A consumer group's lag as the broker sees it: each partition's end less the group's committed
offset. Read from outside the group (it joins nothing and commits nothing), so it is there
while no worker runs: the workers' own lag gauges vanish with the last worker, and with them
the lag alerts (a stalled pipeline once sat on 31,000 messages of lag that nothing reported).

A partition the group never committed on is read from its first offset (workers start at the
earliest), so its lag is end less start. The embedded broker (Tansu) reports a partition's
high watermark as the last produced batch's base offset + 1 when that batch held several
records; with ``read_tail`` the end is found by fetching from that watermark less one, which
returns the whole last batch (on a real Kafka it returns one record and changes nothing).
Committed offsets (OffsetFetch) are right on both.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_INVALID, Consumer, TopicPartition

from pipeline.kafka.admin import admin_client

Partition = tuple[str, int]


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    end: int
    committed: int | None  # None: the group never committed on it
    lag: int


class GroupLagReader:
    """Reads ``group``'s lag on ``topics`` (blocking calls: run it in a thread). Holds one
    admin client and one consumer (group ``<group>-lag-reader``, never subscribed) until
    :meth:`close`."""

    def __init__(self, bootstrap: str, group: str, topics: Iterable[str], *,
                 read_tail: bool = False, timeout: float = 5.0) -> None:
        self.group = group
        self.topics = tuple(topics)
        self.read_tail = read_tail
        self.timeout = timeout
        self._admin = admin_client(bootstrap)
        self._consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": f"{group}-lag-reader",
            "enable.auto.commit": False, "enable.partition.eof": False,
            "fetch.wait.max.ms": 10, "reconnect.backoff.max.ms": 1000,
            "log.connection.close": False,
        })

    def read(self) -> list[PartitionLag]:
        """Every partition's lag; raises ``KafkaException`` (or a ``TimeoutError``) if the
        broker cannot be asked: a partial answer is never passed off as the lag."""
        partitions = self._partitions()
        committed = self._committed(partitions)
        out = []
        for (topic, partition), (start, end) in self._ends(partitions).items():
            at = committed.get((topic, partition))
            position = at if at is not None else start
            out.append(PartitionLag(topic, partition, end, at, max(0, end - position)))
        return out

    def close(self) -> None:
        self._consumer.close()

    def _partitions(self) -> list[Partition]:
        metadata = self._admin.list_topics(timeout=self.timeout)
        return [(topic, p) for topic in self.topics if topic in metadata.topics
                and metadata.topics[topic].error is None
                for p in sorted(metadata.topics[topic].partitions)]

    def _committed(self, partitions: list[Partition]) -> dict[Partition, int]:
        from confluent_kafka import ConsumerGroupTopicPartitions

        request = ConsumerGroupTopicPartitions(
            self.group, [TopicPartition(t, p) for t, p in partitions])
        (future,) = self._admin.list_consumer_group_offsets([request]).values()
        reply = future.result(timeout=self.timeout)
        return {(tp.topic, tp.partition): tp.offset for tp in reply.topic_partitions
                if tp.error is None and tp.offset != OFFSET_INVALID and tp.offset >= 0}

    def _ends(self, partitions: list[Partition]) -> dict[Partition, tuple[int, int]]:
        """(first offset, end) of each partition."""
        ends = {}
        for topic, partition in partitions:
            low, high = self._consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=self.timeout, cached=False)
            ends[topic, partition] = (low, high)
        if self.read_tail:
            for key, last in self._last_offsets({k: v[1] for k, v in ends.items()}).items():
                low, high = ends[key]
                ends[key] = (low, max(high, last + 1))
        return ends

    def _last_offsets(self, highs: dict[Partition, int], idle: float = 0.3) -> dict[Partition, int]:
        """The last offset of each partition's last batch, fetched from its watermark less one
        (only partitions that hold anything)."""
        wanted = {key: high for key, high in highs.items() if high > 0}
        if not wanted:
            return {}
        consumer: Any = self._consumer
        consumer.assign([TopicPartition(t, p, high - 1) for (t, p), high in wanted.items()])
        last: dict[Partition, int] = {}
        deadline, quiet_since = time.monotonic() + self.timeout, time.monotonic()
        try:
            while time.monotonic() - quiet_since < idle and time.monotonic() < deadline:
                for message in consumer.consume(num_messages=10_000, timeout=0.05):
                    if message.error():
                        continue
                    key = (message.topic(), message.partition())
                    last[key] = max(last.get(key, -1), message.offset())
                    quiet_since = time.monotonic()
                if len(last) == len(wanted) and time.monotonic() - quiet_since >= 0.05:
                    break  # every partition answered, and nothing more came for a moment
        finally:
            consumer.unassign()
        return last
