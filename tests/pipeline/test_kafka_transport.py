"""Vigil's faust transport on the real embedded broker: fetch-at-a-time delivery and commits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from pipeline.kafka.publisher import Publisher
from pipeline.local.embedded import ServerProcess, create_topics, start_kafka
from tests.support.paths import REPO
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
PARTITIONS = 3


@pytest.fixture
def kafka(tmp_path: Path) -> Iterator[ServerProcess]:
    server = start_kafka(tmp_path / "kafka")
    create_topics(server.url, {"t.fetched": PARTITIONS, "t.agent": 1})
    try:
        yield server
    finally:
        server.stop()


def publish(kafka: ServerProcess, topic: str, values: list[str]) -> None:
    with Publisher(kafka.url) as publisher:
        for i, value in enumerate(values):
            publisher.publish_raw(topic, value.encode(), key=f"k{i}".encode())
        publisher.flush()


def run_app(kafka: ServerProcess, log: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.fetch_app", "worker", "-l", "info"], cwd=REPO,
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.url, "FETCH_LOG": str(log), **env},
        stdout=open(log.with_suffix(".out"), "ab"), stderr=subprocess.STDOUT,
        start_new_session=True)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    os.killpg(process.pid, sig)
    process.wait(30)


def entries(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def fetched_values(log: Path) -> list[str]:
    return [value for e in entries(log) if e["kind"] == "fetch" for _, _, value in e["records"]]


def committed(kafka: ServerProcess, group: str = "fetch-test") -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": kafka.url, "group.id": group,
                         "enable.auto.commit": False})
    try:
        offsets = consumer.committed([TopicPartition("t.fetched", p) for p in range(PARTITIONS)],
                                     timeout=10)
        return {tp.partition: tp.offset for tp in offsets if tp.offset >= 0}
    finally:
        consumer.close()


def test_records_come_a_fetch_at_a_time_and_acknowledged_fetches_are_committed(
        kafka: ServerProcess, tmp_path: Path) -> None:
    values = [f"v{i}" for i in range(60)]
    publish(kafka, "t.fetched", values)
    publish(kafka, "t.agent", ["a0", "a1", "a2"])
    log = tmp_path / "app.log"
    app = run_app(kafka, log)
    try:
        wait_until(lambda: len(fetched_values(log)) >= 60, 60, message="all records fetched")
        wait_until(lambda: len([e for e in entries(log) if e["kind"] == "agent"]) == 3, 30,
                   message="the agent's messages")
        per_partition: dict[int, int] = {}
        for entry in entries(log):
            if entry["kind"] != "fetch":
                continue
            assert 1 <= len(entry["records"]) <= 7  # FETCH_MAX
            for partition, offset, _ in entry["records"]:
                assert offset == per_partition.get(partition, 0)  # in order, none skipped
                per_partition[partition] = offset + 1
        wait_until(lambda: committed(kafka) == per_partition, 30,
                   message="the acknowledged offsets committed")
    finally:
        stop(app)
    assert sorted(fetched_values(log)) == sorted(values)  # each exactly once
    assert [e["value"] for e in entries(log) if e["kind"] == "agent"] == ["a0", "a1", "a2"]
    # faust's data folder went beside the log, not into the working directory (the checkout).
    assert (tmp_path / "fetch-test-data").is_dir()


def test_fetches_never_acknowledged_are_not_committed_and_come_again_after_a_restart(
        kafka: ServerProcess, tmp_path: Path) -> None:
    values = [f"v{i}" for i in range(30)]
    publish(kafka, "t.fetched", values)
    first = tmp_path / "first.log"
    app = run_app(kafka, first, FETCH_ACK="0")
    try:
        wait_until(lambda: len(fetched_values(first)) >= 30, 60, message="all records fetched")
    finally:
        stop(app)  # a graceful stop commits what was acknowledged: nothing
    assert committed(kafka) == {}
    second = tmp_path / "second.log"
    app = run_app(kafka, second)
    try:
        wait_until(lambda: len(fetched_values(second)) >= 30, 60, message="records again")
        wait_until(lambda: sum(committed(kafka).values()) == 30, 30, message="commits")
    finally:
        stop(app, signal.SIGKILL)
    assert sorted(fetched_values(second)) == sorted(values)


def test_a_small_fetch_is_topped_up_by_the_records_arriving_within_the_wait(
        kafka: ServerProcess, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    app = run_app(kafka, log, FETCH_MAX="1000", FETCH_WAIT="1.5")
    try:
        out = log.with_suffix(".out")
        wait_until(lambda: out.exists() and "Ready" in out.read_text(), 60, message="the app up")
        time.sleep(2)
        with Publisher(kafka.url) as publisher:
            for i in range(12):  # one by one, 50 ms apart: many fetches of one record
                publisher.publish_raw("t.fetched", f"v{i}".encode(), key=b"same-key")
                publisher.flush()
                time.sleep(0.05)
        wait_until(lambda: len(fetched_values(log)) >= 12, 30, message="all records fetched")
    finally:
        stop(app)
    fetches = [e for e in entries(log) if e["kind"] == "fetch"]
    assert sorted(fetched_values(log)) == sorted(f"v{i}" for i in range(12))
    assert len(fetches) <= 3, [len(f["records"]) for f in fetches]  # 12 records, 0.6 s: topped up
