"""The embedded stack against the real Tansu broker and redis-server binaries (no mocks)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from pipeline.local.embedded import (
    ServerProcess,
    StackError,
    create_topics,
    free_port,
    start_kafka,
    start_redis,
    wait_for_kafka,
    wait_for_redis,
)
from schemas.errors import VigilError

pytestmark = pytest.mark.integration


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_kafka(tmp_path_factory.mktemp("kafka"))
    yield server
    server.stop()


@pytest.fixture
def redis_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def test_kafka_starts_on_loopback_with_a_log(kafka: ServerProcess) -> None:
    assert kafka.name == "kafka"
    assert kafka.url.startswith("127.0.0.1:")
    assert kafka.process.poll() is None
    assert kafka.log_path.name == "kafka.log" and kafka.log_path.stat().st_size > 0
    wait_for_kafka(kafka.url, timeout=5)


def test_create_topics_is_idempotent_and_messages_round_trip(kafka: ServerProcess) -> None:
    topics = {"vigil.test.events": 3, "vigil.test.state": 1}
    create_topics(kafka.url, topics, compacted=["vigil.test.state"])
    create_topics(kafka.url, topics, compacted=["vigil.test.state"])  # already there: no error

    admin = AdminClient({"bootstrap.servers": kafka.url})
    md = admin.list_topics(timeout=5)
    assert len(md.topics["vigil.test.events"].partitions) == 3
    assert len(md.topics["vigil.test.state"].partitions) == 1
    [future] = admin.describe_configs([ConfigResource("topic", "vigil.test.state")]).values()
    assert future.result(timeout=5)["cleanup.policy"].value == "compact"

    producer = Producer({"bootstrap.servers": kafka.url})
    producer.produce("vigil.test.events", key=b"user-1", value=b'{"hello": "vigil"}', partition=1)
    assert producer.flush(10) == 0

    # assign() rather than subscribe(): a group join against Tansu costs seconds.
    consumer = Consumer(
        {"bootstrap.servers": kafka.url, "group.id": "test-embedded", "enable.auto.commit": False}
    )
    try:
        consumer.assign([TopicPartition("vigil.test.events", 1, 0)])
        msg = consumer.poll(10)
    finally:
        consumer.close()
    assert msg is not None and msg.error() is None
    assert (msg.key(), msg.value()) == (b"user-1", b'{"hello": "vigil"}')


@pytest.mark.parametrize(
    ("topics", "compacted", "match"),
    [
        ({"ok": 0}, (), "partitions must be an int >= 1"),
        ({"bad name!": 1}, (), "invalid topic name"),
        ({"ok": 1}, ("missing",), "not in the topics"),
    ],
)
def test_create_topics_rejects_what_tansu_would_accept(
    kafka: ServerProcess, topics: dict[str, int], compacted: tuple[str, ...], match: str
) -> None:
    with pytest.raises(StackError, match=match):
        create_topics(kafka.url, topics, compacted=compacted)


def test_create_topics_without_a_broker_raises_stack_error() -> None:
    with pytest.raises(VigilError, match="failed|cannot create"):
        create_topics(f"127.0.0.1:{free_port()}", {"nowhere": 1}, timeout=1.5)


def test_second_server_on_a_taken_port_is_refused(kafka: ServerProcess, tmp_path: Path) -> None:
    port = int(kafka.url.rpartition(":")[2])
    with pytest.raises(StackError, match="already in use"):
        start_kafka(tmp_path, port=port, ready_timeout=3)
    with pytest.raises(StackError, match="already in use"):
        start_redis(tmp_path, port=port, ready_timeout=3)
    assert kafka.process.poll() is None


def test_redis_set_get_and_aof_survives_stop_and_restart(redis_dir: Path) -> None:
    server = start_redis(redis_dir)
    try:
        assert server.name == "redis"
        assert server.url.startswith("redis://127.0.0.1:") and server.url.endswith("/0")
        client = redis.Redis.from_url(server.url)
        assert client.set("vigil:key", "kept")
        assert client.get("vigil:key") == b"kept"
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("save") == {"save": ""}
        client.close()
    finally:
        server.stop()
    server.stop()  # idempotent
    assert server.process.returncode == 0  # SIGTERM is a clean shutdown for redis-server
    assert (redis_dir / "redis" / "appendonly.aof").stat().st_size > 0
    assert "Ready to accept connections" in server.log_path.read_text()

    again = start_redis(redis_dir)  # same dir, fresh port
    try:
        client = redis.Redis.from_url(again.url)
        assert client.get("vigil:key") == b"kept"
        client.close()
    finally:
        again.stop()


def test_kill_is_immediate_and_always_fsync_survives_it(redis_dir: Path) -> None:
    server = start_redis(redis_dir, port=free_port())
    try:
        client = redis.Redis.from_url(server.url)
        client.set("vigil:crash", "durable")
        client.close()
        pid = server.pid
        server.kill()
        assert server.process.returncode == -9
        assert _pid_gone(pid)
        server.kill()  # idempotent
        with pytest.raises(StackError, match="not ready"):
            wait_for_redis(server.url, timeout=0.3)
    finally:
        server.stop()

    again = start_redis(redis_dir)
    try:
        client = redis.Redis.from_url(again.url)
        assert client.get("vigil:crash") == b"durable"
        client.close()
    finally:
        again.stop()


def test_kafka_kill_leaves_nothing_listening(tmp_path: Path) -> None:
    server = start_kafka(tmp_path)
    pid = server.pid
    server.kill()
    assert _pid_gone(pid)
    with pytest.raises(StackError, match="not ready"):
        wait_for_kafka(server.url, timeout=0.3)
    server.stop()  # no-op on a dead process


def test_a_broker_that_dies_while_starting_is_reported_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tansu exits 0 when its port is taken; stand in for it with a binary that does just that.
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\necho 'Address in use (fake tansu)'\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CALF_TANSU_BIN", str(fake))
    with pytest.raises(StackError, match=r"(?s)exited while starting \(exit code 0\).*fake tansu"):
        start_kafka(tmp_path / "state", ready_timeout=5)


def test_a_state_dir_that_cannot_be_created_is_a_stack_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StackError, match="cannot create state directory"):
        start_redis(tmp_path / "file")
