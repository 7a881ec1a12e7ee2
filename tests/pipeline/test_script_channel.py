"""State scripts pipelined on one connection: sent without waiting for earlier replies, run and
answered in call order, resent in order after an outage, and an error failing only its call."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from redis.asyncio import Redis
from redis.exceptions import InvalidResponse, ResponseError

from pipeline.local.embedded import ServerProcess, start_redis
from pipeline.stores.script_channel import ScriptChannel
from pipeline.stores.state import MemoryState, RedisState
from tests.support.streams import generate_stream

pytestmark = pytest.mark.integration

#: Adds its argument to a set (idempotently) and answers how many members the set then has, so
#: the replies show the order calls ran in. 'bad' is refused; 'slow:<ms>' keeps Redis busy.
SCRIPT = """
local arg = ARGV[1]
if arg == 'bad' then return redis.error_reply('refused: ' .. arg) end
local ms = tonumber(string.match(arg, '^slow:(%d+)$') or '0')
if ms > 0 then
  local t0 = redis.call('TIME')
  repeat
    local t = redis.call('TIME')
  until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) >= ms * 1000
end
redis.call('ZADD', 'members', 0, arg)
return redis.call('ZCARD', 'members')
"""


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    process = start_redis(Path(tempfile.mkdtemp(prefix="vigil-channel-")))
    try:
        yield process
    finally:
        process.stop()


async def test_calls_are_answered_in_the_order_they_were_made(server: ServerProcess) -> None:
    channel = ScriptChannel(Redis.from_url(server.url), SCRIPT)
    try:
        replies = []
        for i in range(60):
            replies.append(channel.call(f"m{i}".encode()))
            if i % 7 == 0:
                await asyncio.sleep(0)  # some calls go out alone, some together
        assert [await reply for reply in replies] == list(range(1, 61))
    finally:
        await channel.close()


async def test_a_call_is_sent_before_the_reply_to_the_one_before_it_is_read(
        server: ServerProcess) -> None:
    channel = ScriptChannel(Redis.from_url(server.url), SCRIPT)
    try:
        first = channel.call(b"slow:400")  # Redis is busy with it for 400 ms
        await asyncio.sleep(0.05)  # sent
        second = channel.call(b"after")
        await asyncio.sleep(0.1)  # sent, while the first is still running
        # Block this event loop, so no reply can be read, until Redis is done with both.
        time.sleep(1.0)
        members = redis_sync.Redis.from_url(server.url).zrange("members", 0, -1)
        assert members == [b"after", b"slow:400"], "the second call waited for the first reply"
        assert (await first, await second) == (1, 2)
    finally:
        await channel.close()


async def test_an_error_about_one_call_fails_that_call_alone(server: ServerProcess) -> None:
    channel = ScriptChannel(Redis.from_url(server.url), SCRIPT)
    try:
        replies = [channel.call(arg) for arg in (b"a", b"bad", b"c")]
        assert await replies[0] == 1
        with pytest.raises(ResponseError, match="refused: bad"):
            await replies[1]
        assert await replies[2] == 2
        assert await channel.call(b"d") == 3  # and the channel goes on
    finally:
        await channel.close()


async def test_calls_made_while_redis_is_down_run_in_order_once_it_is_back(tmp_path: Path) -> None:
    server = start_redis(tmp_path)
    channel = ScriptChannel(Redis.from_url(server.url), SCRIPT, max_delay=0.2)
    try:
        assert [await channel.call(f"before{i}".encode()) for i in range(3)] == [1, 2, 3]
        port = Redis.from_url(server.url).connection_pool.connection_kwargs["port"]
        server.stop()
        during = [channel.call(f"during{i}".encode()) for i in range(5)]
        await asyncio.sleep(0.5)  # refused, retried with backoff
        assert not any(reply.done() for reply in during)
        server = start_redis(tmp_path, port=port)  # the AOF brings the first three back
        replies = await asyncio.wait_for(asyncio.gather(*during), timeout=20)
        assert replies == [4, 5, 6, 7, 8]
        assert await channel.call(b"after") == 9
    finally:
        await channel.close()
        server.stop()


async def test_a_closed_channel_cancels_the_calls_it_had_not_answered(tmp_path: Path) -> None:
    server = start_redis(tmp_path)
    channel = ScriptChannel(Redis.from_url(server.url), SCRIPT, max_delay=0.2)
    server.stop()
    try:
        waiting = channel.call(b"never")
        await asyncio.sleep(0.1)
        await channel.close()
        assert waiting.cancelled()
    finally:
        server.stop()


async def test_batches_submitted_together_read_what_they_would_read_one_by_one(stack: Any) -> None:
    events = generate_stream(2026, count=240)
    expected = await MemoryState().load(events)  # in order, one event at a time
    state = RedisState(Redis.from_url(stack.settings.redis_url))
    try:
        # Every batch's script is sent before the first reply comes back.
        futures = [state.submit(state.prepare(events[i:i + 30])) for i in range(0, 240, 30)]
        loaded = [one for future in futures for one in await future]
    finally:
        await state.close()
    assert [one.raw for one in loaded] == [one.raw for one in expected]
    assert [(one.consent_at_event, one.consent_now) for one in loaded] == \
        [(one.consent_at_event, one.consent_now) for one in expected]


async def test_a_reply_out_of_step_fails_every_waiting_call_and_the_next_call_starts_afresh(
        server: ServerProcess) -> None:
    channel = ScriptChannel(Redis.from_url(server.url), SCRIPT)
    try:
        assert await channel.call(b"first") == 1
        connection = channel._connection
        real_read = connection.read_response

        async def garbled(*args: Any, **kwargs: Any) -> Any:
            connection.read_response = real_read  # once: the protocol lost its place
            raise InvalidResponse("Protocol Error: b'?'")

        connection.read_response = garbled
        waiting = [channel.call(b"a"), channel.call(b"b")]
        for reply in waiting:  # neither may wait for a reply that will never be matched
            with pytest.raises(InvalidResponse):
                await asyncio.wait_for(reply, timeout=10)
        assert await asyncio.wait_for(channel.call(b"c"), timeout=10) == 4  # a, b ran too
    finally:
        await channel.close()
