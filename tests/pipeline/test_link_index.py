"""The link index in Redis and in memory agree, stay bounded, forget, and find rings once."""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from pipeline.local.embedded import ServerProcess, start_redis
from pipeline.stores.links import MemoryLinks, RedisLinks

pytestmark = pytest.mark.integration

NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    process = start_redis(Path(tempfile.mkdtemp(prefix="vigil-links-")), appendfsync="no")
    try:
        yield process
    finally:
        process.stop()


def pair(server: ServerProcess, **bounds: int) -> tuple[Redis, RedisLinks, MemoryLinks]:
    client = Redis.from_url(server.url)
    settings = {"retention": 1000, "max_group": 6, "max_keys": 4, "ring_accounts": 3, **bounds}
    return (client, RedisLinks(client, clock=lambda: NOW, **settings),
            MemoryLinks(clock=lambda: NOW, **settings))


async def test_redis_and_memory_agree_on_rings_and_graphs(server: ServerProcess) -> None:
    client, redis_links, memory = pair(server)
    await client.flushdb()
    rng = random.Random(19)
    users = [f"u{i}" for i in range(30)]
    keys = [f"{kind}:{i}" for kind in ("device", "ip", "ip24", "domain", "text") for i in range(6)]
    try:
        for step in range(200):
            batch = [(rng.choice(users), NOW - 1000 + rng.random() * 999,
                      rng.sample(keys, rng.randint(0, 3))) for _ in range(rng.randint(1, 5))]
            if step % 9 == 0:
                batch += batch[:1]  # a redelivery
            assert await redis_links.observe(batch) == await memory.observe(batch), step
        for user in users:
            a, b = await redis_links.graph(user), await memory.graph(user)
            assert (a.nodes, a.edges, a.truncated) == (b.nodes, b.edges, b.truncated), user
    finally:
        await client.aclose()


async def test_a_ring_is_reported_from_its_threshold_and_only_while_linkable(
        server: ServerProcess) -> None:
    client, links, _ = pair(server)
    await client.flushdb()
    try:
        assert await links.observe([("a", NOW, ["device:d"]), ("b", NOW, ["device:d"])]) == []
        assert await links.observe([("c", NOW, ["device:d"])]) == [("device:d", ["a", "b", "c"])]
        many = [(f"x{i}", NOW, ["device:d"]) for i in range(10)]
        assert await links.observe(many) != []  # reported while at most max_group accounts
        assert await links.observe([("y", NOW, ["device:d"])]) == []  # too common now
        assert await client.zcard("vigil:links:key:device:d") == 7  # max_group + 1 kept
        assert await links.members("device:d") == []
        graph = await links.graph("y")
        assert graph.nodes == {"y": 0}  # a value shared by too many links nobody
    finally:
        await client.aclose()


async def test_memory_is_bounded_and_old_links_expire(server: ServerProcess) -> None:
    client, links, _ = pair(server)
    await client.flushdb()
    try:
        await links.observe([("u", NOW - 5000, ["ip:old"]), ("v", NOW - 5000, ["ip:old"])])
        assert await client.zcard("vigil:links:key:ip:old") == 0  # past retention on arrival
        await links.observe([("u", NOW - 100, ["device:u"])])
        await links.observe([("u", NOW - i, [f"text:{i}"]) for i in range(10)])
        assert await client.zcard("vigil:links:texts:u") == 4  # max_keys
        # Many messages do not push the account's device out of its keys.
        assert await client.zrange("vigil:links:user:u", 0, -1) == [b"device:u"]
        assert 0 < await client.ttl("vigil:links:texts:u") <= 1000
    finally:
        await client.aclose()


async def test_graph_reaches_two_hops_and_stops_at_max_nodes(server: ServerProcess) -> None:
    client, links, _ = pair(server, max_group=50, ring_accounts=50)
    await client.flushdb()
    try:
        await links.observe([("a", NOW, ["device:1"]), ("b", NOW, ["device:1", "ip:2"]),
                             ("c", NOW, ["ip:2", "text:3"]), ("d", NOW, ["text:3"])])
        graph = await links.graph("a")
        assert await links.members("ip:2") == ["b", "c"]
        assert graph.nodes == {"a": 0, "b": 1, "c": 2}
        assert graph.edges == [("a", "b", ("device",)), ("b", "c", ("ip",))]
        await links.observe([(f"m{i}", NOW, ["domain:big"]) for i in range(30)])
        small = await links.graph("m0", max_nodes=10)
        assert len(small.nodes) == 10 and small.truncated
    finally:
        await client.aclose()
