"""Reading and changing keys for erasure (pipeline.privacy.keyspace) on a real Redis."""

from __future__ import annotations

import json

import redis as redis_lib
from redis.asyncio import Redis

from pipeline.privacy.keyspace import Record, apply, records
from pipeline.privacy.plan import plan_key
from pipeline.privacy.scrub import ERASED, Subject

ANA = Subject("usr_1", "anon_x", identifiers=frozenset({"ana@example.com"}))


def replan(item: Record):
    return plan_key(item.key, item.kind, item.value, ANA)


async def test_the_walk_reads_every_key_of_every_type_but_not_model_state(redis_url: str) -> None:
    sync = redis_lib.Redis.from_url(redis_url)
    sync.set("vigil:content:message:m1", "{}")
    sync.hset("vigil:case:c1", "entity_id", "usr_1")
    sync.zadd("vigil:f:device:d1:accounts", {"usr_1": 1})
    sync.rpush("vigil:subject_decisions:usr_1", "{}")
    sync.xadd("vigil:audit", {"action": "x"})
    sync.set("vigil:model:message:snapshot:1", b"\x80\x04binary")
    for n in range(2500):  # more than a round trip's worth
        sync.set(f"vigil:digest:e{n}", "d")
    redis = Redis.from_url(redis_url)
    seen = {r.key: r async for r in records(redis)}
    await redis.aclose()
    assert len(seen) == 2506
    assert seen["vigil:case:c1"].value == {"entity_id": "usr_1"}
    assert seen["vigil:f:device:d1:accounts"].value == [("usr_1", 1.0)]
    assert seen["vigil:audit"].kind == "stream" and seen["vigil:audit"].value[0][1] == {
        "action": "x"}
    assert seen["vigil:model:message:snapshot:1"].value is None  # named only, never read


async def test_a_write_between_the_read_and_the_change_is_not_lost(redis_url: str) -> None:
    sync = redis_lib.Redis.from_url(redis_url)
    key = "vigil:f:device:d1:accounts"
    sync.zadd(key, {"usr_1": 1, "usr_2": 2})
    redis = Redis.from_url(redis_url)
    [stale] = [r async for r in records(redis)]
    change = replan(stale)
    sync.zadd(key, {"usr_3": 3})  # a worker writes after the plan was made
    done = await apply(redis, change, replan=replan)
    await redis.aclose()
    assert done is not None and done.remove == ("usr_1",)
    assert sync.zrange(key, 0, -1) == [b"usr_2", b"usr_3"]


async def test_a_renamed_key_keeps_its_time_to_live(redis_url: str) -> None:
    sync = redis_lib.Redis.from_url(redis_url)
    sync.rpush("vigil:subject_decisions:usr_1", json.dumps({"entity_id": "usr_1"}))
    sync.expire("vigil:subject_decisions:usr_1", 1000)
    redis = Redis.from_url(redis_url)
    [item] = [r async for r in records(redis)]
    await apply(redis, replan(item), replan=replan)
    await redis.aclose()
    assert not sync.exists("vigil:subject_decisions:usr_1")
    assert json.loads(sync.lindex("vigil:subject_decisions:anon_x", 0)) == {"entity_id": "anon_x"}
    assert 990 < sync.ttl("vigil:subject_decisions:anon_x") <= 1000


async def test_a_kept_stream_is_rewritten_in_place_keeping_every_id_and_its_order(
        redis_url: str) -> None:
    sync = redis_lib.Redis.from_url(redis_url)
    ids = [sync.xadd("vigil:audit", {"actor": actor, "details": details}) for actor, details in
           [("lena", "claimed"), ("lena", "ana@example.com appealed for usr_1"), ("jo", "done")]]
    redis = Redis.from_url(redis_url)
    [item] = [r async for r in records(redis)]
    done = await apply(redis, replan(item), replan=replan)
    await redis.aclose()
    assert done is not None and list(done.rewrite) == [ids[1].decode()]
    entries = sync.xrange("vigil:audit")
    assert [i for i, _ in entries] == ids
    assert entries[1][1] == {b"actor": b"lena", b"details": f"{ERASED} appealed for anon_x".encode()}
    assert entries[2][1] == {b"actor": b"jo", b"details": b"done"}
