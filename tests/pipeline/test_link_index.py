"""The link index in Redis and in memory agree, stay bounded, forget, and find rings: enough
accounts on a device, enough of them confirmed fraud, whichever comes last."""

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
    settings = {"retention": 1000, "max_group": 6, "max_keys": 4, "ring_accounts": 3,
                "ring_confirmed": 0, **bounds}
    return (client, RedisLinks(client, clock=lambda: NOW, **settings),
            MemoryLinks(clock=lambda: NOW, **settings))


async def test_redis_and_memory_agree_on_rings_and_graphs(server: ServerProcess) -> None:
    client, redis_links, memory = pair(server, ring_confirmed=2, max_confirmed=8)
    await client.flushdb()
    rng = random.Random(19)
    users = [f"u{i}" for i in range(30)]
    keys = [f"{kind}:{i}" for kind in ("device", "ip", "ip24", "domain", "payment", "text")
            for i in range(6)]
    reported = 0
    try:
        for step in range(300):
            batch = [(rng.choice(users), NOW - 1000 + rng.random() * 999,
                      rng.sample(keys, rng.randint(0, 3))) for _ in range(rng.randint(1, 5))]
            confirmed = [(rng.choice(users), NOW - 1200 + rng.random() * 1199)
                         for _ in range(rng.choice((0, 0, 1, 2)))]
            withdrawn = [(rng.choice(users), NOW - 1200 + rng.random() * 1199)
                         for _ in range(rng.choice((0, 0, 0, 1)))]
            if step % 9 == 0:
                batch += batch[:1]  # a redelivery
                confirmed += confirmed[:1]
                withdrawn += withdrawn[:1]
            rings = await redis_links.observe(batch, confirmed, withdrawn)
            assert rings == await memory.observe(batch, confirmed, withdrawn), step
            reported += len(rings)
        assert reported  # the walk reached the threshold
        assert await client.zcard("vigil:links:confirmed") <= 8  # max_confirmed
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
        assert await links.observe([("c", NOW, ["device:d"])]) == [("device:d", ["a", "b", "c"], [])]
        more = [(f"x{i}", NOW, ["device:d"]) for i in range(3)]
        assert await links.observe(more) != []  # reported while at most max_group accounts
        many = [(f"x{i}", NOW, ["device:d"]) for i in range(10)]
        assert await links.observe(many) == []  # too common now
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


async def test_a_ring_needs_its_confirmed_members_whichever_comes_last(
        server: ServerProcess) -> None:
    client, links, _ = pair(server, ring_confirmed=2)
    await client.flushdb()
    accounts = [(u, NOW - 10, ["device:d", f"ip:{u}"]) for u in ("a", "b", "c")]
    try:
        assert await links.observe(accounts) == []  # three accounts, none confirmed
        # A confirmation of someone elsewhere, or of one member, is not enough.
        assert await links.observe([], [("z", NOW), ("b", NOW)]) == []
        assert await links.observe([("z", NOW, ["device:other"])]) == []
        # The second confirmation completes the ring without any new account on the device.
        second = await links.observe([], [("c", NOW - 1)])
        assert second == [("device:d", ["a", "b", "c"], ["b", "c"])]
        assert await links.observe([], [("c", NOW - 1)]) == second  # redelivered: the same
        # A device that reaches its accounts after its confirmations is a ring at once.
        early = [(u, NOW - 5, ["device:e"]) for u in ("b", "c")]
        assert await links.observe(early) == []
        assert await links.observe([("f", NOW, ["device:e"])]) == [
            ("device:e", ["b", "c", "f"], ["b", "c"])]
        assert 0 < await client.ttl("vigil:links:confirmed") <= 1000
    finally:
        await client.aclose()


async def test_confirmations_are_forgotten_after_the_retention(server: ServerProcess) -> None:
    client, links, memory = pair(server, ring_confirmed=1, max_confirmed=2)
    await client.flushdb()
    try:
        for index in (links, memory):
            assert await index.observe([], [("old", NOW - 5000)]) == []  # past it on arrival
            await index.observe([], [("p", NOW - 3), ("q", NOW - 2), ("r", NOW - 1)])
        assert await client.zrange("vigil:links:confirmed", 0, -1) == [b"q", b"r"]  # the newest
        assert sorted(memory.confirmed) == ["q", "r"]
        ring = [(u, NOW, ["device:g"]) for u in ("p", "x", "y")]
        assert await links.observe(ring) == []  # p's confirmation was pushed out
    finally:
        await client.aclose()


async def test_a_reversed_confirmation_no_longer_makes_a_ring(server: ServerProcess) -> None:
    client, links, memory = pair(server, ring_confirmed=2)
    await client.flushdb()
    accounts = [(u, NOW - 10, ["device:w"]) for u in ("a", "b", "c")]
    try:
        for index in (links, memory):
            assert await index.observe(accounts, [("a", NOW - 9), ("b", NOW - 8)]) != []
            # b's appeal is upheld: its confirmation no longer counts, so no ring.
            assert await index.observe([], withdrawn=[("b", NOW - 7)]) == []
            assert await index.observe([("d", NOW - 6, ["device:w"])]) == []
            # A reversal older than a later confirmation leaves the later one standing.
            assert await index.observe([], [("c", NOW - 4)], [("c", NOW - 5)]) == [
                ("device:w", ["a", "b", "c", "d"], ["a", "c"])]
        assert await client.zrange("vigil:links:confirmed", 0, -1) == [b"a", b"c"]
        assert sorted(memory.confirmed) == ["a", "c"]
    finally:
        await client.aclose()
