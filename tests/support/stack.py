"""The real embedded Kafka broker and Redis with Vigil's topics, and worker processes on them.

Each stack is fresh (both servers start in well under a second), so no test sees another's
topics, offsets or keys. Workers run as real subprocesses so tests can kill them with SIGKILL.
The ``stack`` and ``single_partition_stack`` fixtures (:mod:`tests.support.fixtures`) hand one in.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis as redis_lib

from pipeline.local.embedded import ServerProcess, create_topics, start_kafka, start_redis
from pipeline.settings import Settings
from pipeline.stores.heartbeat import read_beats_sync
from schemas.topics import topic_plan
from tests.support.paths import REPO
from tests.support.waiting import wait_until


@dataclass
class Stack:
    kafka: ServerProcess
    redis: ServerProcess
    settings: Settings
    state_dir: Path
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def client(self) -> redis_lib.Redis:
        return redis_lib.Redis.from_url(self.settings.redis_url)

    def start_worker(self, name: str = "worker", wait: bool = True) -> subprocess.Popen:
        log = open(self.state_dir / f"{name}.log", "ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.worker"], cwd=REPO,
            env={**os.environ, **self.settings.env()}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers.append(process)
        if wait:
            self.wait_for_workers(1, pid=process.pid)
        return process

    def start_review(self, port: int, name: str = "review", **env: str) -> subprocess.Popen:
        """The review service (``python -m pipeline.review``) on this stack, on ``port``;
        returns once it answers ``/healthz``. ``env``: more variables (``VIGIL_REVIEW_*``)."""
        log = open(self.state_dir / f"{name}.log", "ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.review"], cwd=REPO,
            env={**os.environ, **self.settings.env(), "VIGIL_REVIEW_PORT": str(port), **env},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.workers.append(process)  # stopped with the workers

        def healthy() -> bool:
            assert process.poll() is None, f"the review service exited (see {log.name})"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    return True
            except OSError:
                return False
        wait_until(healthy, 60, message=f"the review service on :{port}")
        return process

    def heartbeats(self) -> list[dict]:
        return read_beats_sync(self.client)

    def wait_for_workers(self, count: int, pid: int | None = None, timeout: float = 60) -> None:
        def ready() -> bool:
            beats = [b for b in self.heartbeats() if b["assigned_partitions"] > 0]
            if pid is not None:
                beats = [b for b in beats if b["worker"].endswith(f"-{pid}")]
            return len(beats) >= (1 if pid is not None else count)
        wait_until(ready, timeout, message=f"{count} worker(s) to join the consumer group "
                   f"(logs in {self.state_dir})")

    def ledger(self) -> set[str]:
        return {m.decode() for m in self.client.zrange("vigil:ledger:processed", 0, -1)}

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def make_stack(tmp_path: Path, partitions: int = 4) -> Stack:
    state_dir = tmp_path / "state"
    kafka = start_kafka(state_dir)
    redis = start_redis(state_dir)
    settings = Settings(
        kafka_bootstrap=kafka.url, redis_url=redis.url, state_dir=state_dir,
        app_id="vigil-test", partitions=partitions, session_timeout=3.0, rebalance_timeout=3.0,
        heartbeat_interval=0.5, commit_interval=0.5, log_level="info",
        embedded=True,  # the embedded servers: the development hash key will do
    )
    create_topics(kafka.url, topic_plan(partitions))
    return Stack(kafka, redis, settings, state_dir)


@contextmanager
def running_stack(tmp_path: Path, partitions: int = 4) -> Iterator[Stack]:
    s = make_stack(tmp_path, partitions=partitions)
    try:
        yield s
    finally:
        s.stop_workers()
        s.redis.stop()
        s.kafka.stop()


def with_settings(stack: Stack, **changes: object) -> Stack:
    stack.settings = stack.settings.replace(**changes)
    return stack
