"""Writes sent on the write channel, several in flight (:meth:`RedisOutputs.send`), leave Redis as
writing them one round trip at a time does (:meth:`RedisOutputs.write`); a Redis that lost its
scripts is answered by loading them again; and the channel's calls of several commands are
answered whole and in order."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from detectors.ruleset import load_rules
from pipeline.local.embedded import ServerProcess, start_redis
from pipeline.models.scorer import Scorer
from pipeline.review.queue import ReviewQueue
from pipeline.stores.script_channel import CommandChannel
from pipeline.stores.state import MemoryState
from pipeline.worker.batches import Done, flagged
from pipeline.worker.flags import flags_for
from pipeline.worker.outputs import RedisOutputs
from pipeline.worker.processor import Processor
from tests.support.streams import generate_stream

pytestmark = pytest.mark.integration

NOW = datetime(2026, 1, 9, tzinfo=timezone.utc)


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    process = start_redis(Path(tempfile.mkdtemp(prefix="vigil-writes-")))
    try:
        yield process
    finally:
        process.stop()


async def decided_batches(size: int = 40) -> list[list[Done]]:
    """A seeded stream decided by the packaged rules, in batches: events with and without flags,
    some flags on the same case across batches."""
    rules = load_rules()
    processor = Processor(MemoryState(clock=NOW.timestamp), lambda: rules)
    events = list({e.id: e for e in generate_stream(7, count=400)}.values())
    decisions = await processor.handle_batch(events)
    done = [Done(None, event, decision, flags_for(event, decision, now=NOW), keep_input=False)
            for event, decision in zip(events, decisions)]
    assert sum(bool(one.flags) for one in done) >= 10, "the stream should flag something"
    return [done[i:i + size] for i in range(0, len(done), size)]


def outputs_on(url: str) -> RedisOutputs:
    redis = Redis.from_url(url)
    clock = NOW.timestamp
    return RedisOutputs(redis, ReviewQueue(redis, clock=clock), Scorer(redis, []), clock=clock)


def keyspace(url: str) -> dict[bytes, Any]:
    """Every key with its value, in a canonical order (timestamps are the fixed clock's, so
    values compare)."""
    client = redis_sync.Redis.from_url(url)
    out = {}
    for key in sorted(client.keys("*")):
        kind = client.type(key)
        out[key] = {"string": client.get, "hash": lambda k: sorted(client.hgetall(k).items()),
                    "set": lambda k: sorted(client.smembers(k)),
                    "list": lambda k: client.lrange(k, 0, -1),
                    "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
                    "stream": lambda k: [f for _, f in client.xrange(k)]}[kind.decode()](key)
    return out


async def test_writes_in_flight_leave_redis_as_writes_one_at_a_time(tmp_path: Path) -> None:
    batches = await decided_batches()
    one_by_one, in_flight = start_redis(tmp_path / "a"), start_redis(tmp_path / "b")
    try:
        sequential = outputs_on(one_by_one.url)
        expected = [await sequential.write(flagged(done)[0], done) for done in batches]
        pipelined = outputs_on(in_flight.url)
        sent = [pipelined.send(flagged(done)[0], done) for done in batches]  # none awaited yet
        got = [await one for one in sent]
        assert not any(w.flag_error or w.finish_errors for w in got)
        results = [(r, e) for w, x in zip(got, expected) for r, e in zip(w.added, x.added)]
        assert len(results) == sum(len(x.added) for x in expected) > 10
        assert [(r.created, r.suppressed) for r, _ in results] == \
            [(e.created, e.suppressed) for _, e in results]
        # Case ids are random: the same flags share a case in both, and then every key and
        # value is the same once one run's ids are spelled as the other's.
        same_case = {r.case_id: e.case_id for r, e in results}
        assert len(same_case) == len(set(same_case.values())) > 1
        assert all(same_case[r.case_id] == e.case_id for r, e in results)
        spelled = repr(keyspace(in_flight.url))
        for ours, theirs in same_case.items():
            spelled = spelled.replace(ours, theirs)
        assert spelled == repr(keyspace(one_by_one.url))
    finally:
        one_by_one.stop()
        in_flight.stop()


async def test_a_redis_that_lost_its_scripts_has_them_loaded_again(server: ServerProcess) -> None:
    batches = await decided_batches()
    outputs = outputs_on(server.url)
    first = await outputs.send(flagged(batches[0])[0], batches[0])
    redis_sync.Redis.from_url(server.url).script_flush()  # as a restart without its scripts
    flags = flagged(batches[1])[0]
    again = await outputs.send(flags, batches[1])
    assert not again.flag_error and not again.finish_errors
    assert len(again.added) == len(flags) and all(r.error is None for r in again.added)
    assert first.added or again.added


async def test_a_call_of_several_commands_is_answered_whole_in_order(server: ServerProcess) -> None:
    channel = CommandChannel(Redis.from_url(server.url))
    try:
        calls = [channel.send([("RPUSH", "log", f"{i}a"), ("RPUSH", "log", f"{i}b")])
                 for i in range(20)]
        # A command Redis refuses answers with its error, in its place; the call goes on.
        refused = channel.send([("SET", "s", "x"), ("LPUSH", "s", "y"), ("GET", "s")])
        replies = [await call for call in calls]
        assert replies == [[2 * i + 1, 2 * i + 2] for i in range(20)]
        ok, wrong, value = await refused
        assert ok is not None and value == b"x"
        assert isinstance(wrong, ResponseError) and "WRONGTYPE" in str(wrong)
    finally:
        await channel.close()


async def test_calls_made_while_redis_is_down_land_once_it_is_back(tmp_path: Path) -> None:
    server = start_redis(tmp_path)
    channel = CommandChannel(Redis.from_url(server.url), max_delay=0.2)
    try:
        assert await channel.send([("SADD", "members", "before")]) == [1]
        port = Redis.from_url(server.url).connection_pool.connection_kwargs["port"]
        server.stop()
        during = [channel.send([("SADD", "members", f"m{i}"), ("SCARD", "members")])
                  for i in range(4)]
        await asyncio.sleep(0.5)
        assert not any(call.done() for call in during)
        server = start_redis(tmp_path, port=port)
        replies = await asyncio.wait_for(asyncio.gather(*during), timeout=20)
        assert [scard for _, scard in replies] == [2, 3, 4, 5]
    finally:
        await channel.close()
        server.stop()
