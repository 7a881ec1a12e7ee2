"""Reading a whole topic on the real embedded broker: from a time on, and never a partial read
passed off as the whole."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from confluent_kafka import Producer

from pipeline.kafka.topic_reader import read_topic
from schemas.topics import Topics
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


def produce(bootstrap: str, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i, value in enumerate(values):
        producer.produce(Topics.DEAD_LETTERS, value=value, partition=i % 2)
    producer.flush(10)


def test_reads_every_partition_or_from_a_time_on(stack: Stack) -> None:
    bootstrap = stack.settings.kafka_bootstrap
    produce(bootstrap, [b"old-%d" % i for i in range(5)])
    time.sleep(1.2)  # produce times are in milliseconds: keep the two sets well apart
    since = datetime.now(timezone.utc)
    time.sleep(0.2)
    produce(bootstrap, [b"new-%d" % i for i in range(3)])
    everything = read_topic(bootstrap, Topics.DEAD_LETTERS, idle=0.7)
    assert sorted(r.value for r in everything) == sorted(
        [b"old-%d" % i for i in range(5)] + [b"new-%d" % i for i in range(3)])
    assert {r.partition for r in everything} == {0, 1}
    recent = read_topic(bootstrap, Topics.DEAD_LETTERS, idle=0.7, since=since)
    assert sorted(r.value for r in recent) == [b"new-0", b"new-1", b"new-2"]
    assert read_topic(bootstrap, Topics.DEAD_LETTERS, idle=0.7,
                      since=datetime.now(timezone.utc)) == []


def test_a_read_that_cannot_show_it_reached_the_end_raises(stack: Stack) -> None:
    produce(stack.settings.kafka_bootstrap, [b"x"] * 3)
    with pytest.raises(TimeoutError, match="did not reach the end of tns.dead_letters"):
        read_topic(stack.settings.kafka_bootstrap, Topics.DEAD_LETTERS, idle=5, timeout=1)
    with pytest.raises(LookupError, match="does not exist"):
        read_topic(stack.settings.kafka_bootstrap, "no.such.topic", idle=0.5)
