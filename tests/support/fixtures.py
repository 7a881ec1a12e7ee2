"""The fixtures every test directory may use (a pytest plugin, loaded by ``tests/conftest.py``):
a fresh embedded broker and Redis with Vigil's topics, or a Redis alone (one server per module,
flushed before each test). Fixtures only some directory uses live in that directory's
conftest.py (``tests/review/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib

from pipeline.local.embedded import ServerProcess, start_redis
from tests.support.stack import Stack, running_stack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A fresh embedded broker and Redis with Vigil's topics (4 partitions each)."""
    with running_stack(tmp_path) as s:
        yield s


@pytest.fixture
def single_partition_stack(tmp_path: Path) -> Iterator[Stack]:
    """One partition per topic: processing order equals publish order, as in `vigil replay`."""
    with running_stack(tmp_path, partitions=1) as s:
        yield s


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_redis(Path(tmp_path_factory.mktemp("redis")), appendfsync="no")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: ServerProcess) -> str:
    client = redis_lib.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url
