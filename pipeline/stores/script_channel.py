"""Calls that Redis runs in the order they were made, without a round trip each: one Lua script's
(:class:`ScriptChannel`, the state scripts) or any commands (:class:`CommandChannel`, the writes).

Redis runs the commands of one connection in the order they arrive, so calls sent one after
another on a connection of their own keep their order without waiting for each other's
replies. Waiting for each reply before sending the next call (as a connection from a pool
must) left Redis idle while the worker, busy deciding, had not yet read a reply, and then the
worker idle while Redis ran the next call: a fifth of a worker's time on a backlog.

A call Redis cannot take for now (:func:`pipeline.stores.outages.is_outage`: the connection lost,
Redis restarting, read-only, out of memory) is sent again once Redis is back, and so is every
call made after it that was not answered, in their order. An error about the call itself (a
bug in the script, a key of the wrong type) fails that call alone.

>>> import asyncio, tempfile
>>> from pathlib import Path
>>> from redis.asyncio import Redis
>>> from pipeline.local.embedded import start_redis
>>> server = start_redis(Path(tempfile.mkdtemp()))
>>> async def demo():
...     channel = ScriptChannel(Redis.from_url(server.url), "return redis.call('INCRBY', 'n', ARGV[1])")
...     replies = [channel.call(b"1"), channel.call(b"10"), channel.call(b"100")]
...     try:  # all three were sent before the first reply was read
...         return [await reply for reply in replies]
...     finally:
...         await channel.close()
>>> asyncio.run(demo())
[1, 11, 111]
>>> server.stop()
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from pipeline.stores.outages import is_outage

log = logging.getLogger("vigil.redis")


class _Call:
    """Commands sent together, and the future of their replies: the one reply (``single``: an
    error reply is raised) or the list of them (an error reply in its place)."""

    __slots__ = ("packed", "count", "single", "replies", "reply")

    def __init__(self, packed: list[bytes], count: int, single: bool) -> None:
        self.packed = packed
        self.count = count
        self.single = single
        self.replies: list[Any] = []
        self.reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def answer(self, reply: Any) -> bool:
        """Take one reply; True once the call has all of its replies (its future is set)."""
        self.replies.append(reply)
        if len(self.replies) < self.count:
            return False
        if not self.reply.done():
            if not self.single:
                self.reply.set_result(self.replies)
            elif isinstance(reply, Exception):
                self.reply.set_exception(reply)
            else:
                self.reply.set_result(reply)
        return True


class CommandChannel:
    """Sends calls (each one command or several) on a connection of its own, every call as
    soon as it is made, and hands back the replies in call order."""

    def __init__(self, redis: Redis, *, max_delay: float = 5.0, name: str = "writes") -> None:
        #: What the channel carries, for its log lines.
        self.name = name
        # Its own connection, made from the client's settings (address, timeouts, TLS), kept
        # out of the pool: pipelined calls need every reply read by this channel, in order.
        self._connection = redis.connection_pool.make_connection()
        self._max_delay = max_delay
        self._unsent: deque[_Call] = deque()
        self._unanswered: deque[_Call] = deque()
        self._made = asyncio.Event()  # a call was made: send it
        self._sent = asyncio.Event()  # a call was sent: read its reply
        self._task: asyncio.Task[None] | None = None
        self._answered_any = False

    def send(self, commands: Sequence[Sequence[Any]]) -> asyncio.Future[list[Any]]:
        """Send ``commands`` (each its arguments) behind the calls made before; the future
        gets their replies in order, an error reply as the :class:`ResponseError` it is. Redis
        runs them one after another, as a pipeline (not a transaction): after an outage the
        whole call is sent again, so each command must be idempotent."""
        return self._queue(_Call(self._connection.pack_commands(commands), len(commands), False))

    def _queue(self, call: _Call) -> asyncio.Future[Any]:
        self._unsent.append(call)
        self._made.set()
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())
        return call.reply

    async def close(self) -> None:
        """Stop; calls not answered yet are cancelled."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._fail(None)
        await self._connection.disconnect(nowait=True)

    async def _run(self) -> None:
        delay = 0.05
        while True:
            reading: asyncio.Task[None] | None = None
            try:
                await self._connection.connect()
                reading = asyncio.ensure_future(self._read())
                await self._send(reading)  # returns only by raising
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = exc
            finally:
                if reading is not None:
                    reading.cancel()
                await self._connection.disconnect(nowait=True)
            if not is_outage(error):  # a bug, or a reply out of step: fail every call waiting
                log.error("%s: channel failed (%r); failing %d calls", self.name, error,
                          len(self._unanswered) + len(self._unsent))
                self._fail(error)
                return  # the next call starts again on a new connection
            if self._answered_any:  # a new outage, not the same one still going on
                delay, self._answered_any = 0.05, False
            # Every call not answered goes again, in its order, once Redis is back (whole: the
            # replies of a call read so far are dropped with the connection).
            for call in self._unanswered:
                call.replies.clear()
            self._unsent.extendleft(reversed(self._unanswered))
            self._unanswered.clear()
            log.warning("%s: Redis unavailable (%s); retrying in %.2fs", self.name, error, delay)
            await asyncio.sleep(delay)
            delay = min(self._max_delay, delay * 2)

    async def _send(self, reading: asyncio.Task[None]) -> None:
        """Send calls as they are made, until the reader fails (raised here)."""
        while True:
            if not self._unsent:
                self._made.clear()
                made = asyncio.ensure_future(self._made.wait())
                await asyncio.wait({made, reading}, return_when=asyncio.FIRST_COMPLETED)
                made.cancel()
                if reading.done():
                    reading.result()
            calls = list(self._unsent)
            self._unsent.clear()
            self._unanswered.extend(calls)
            await self._connection.send_packed_command(
                [piece for call in calls for piece in call.packed], check_health=False)
            self._sent.set()

    async def _read(self) -> None:
        """Hand each reply to its call, in order; raises on an outage."""
        while True:
            if not self._unanswered:
                self._sent.clear()
                await self._sent.wait()
                continue
            try:
                reply: Any = await self._connection.read_response()
            except ResponseError as exc:  # an error reply: about this command, or an outage
                if is_outage(exc):
                    raise
                reply = exc
            if self._unanswered[0].answer(reply):
                self._unanswered.popleft()
                self._answered_any = True

    def _fail(self, exc: BaseException | None) -> None:
        for call in (*self._unanswered, *self._unsent):
            if not call.reply.done():
                call.reply.cancel() if exc is None else call.reply.set_exception(exc)
        self._unanswered.clear()
        self._unsent.clear()


class ScriptChannel(CommandChannel):
    """Runs ``script`` (``EVAL`` with one argument, no keys) through a :class:`CommandChannel`."""

    def __init__(self, redis: Redis, script: str, *, max_delay: float = 5.0,
                 name: str = "state scripts") -> None:
        super().__init__(redis, max_delay=max_delay, name=name)
        self._script = script

    def call(self, argument: bytes) -> asyncio.Future[Any]:
        """Send a call behind those made before it; its future gets the script's reply (an
        error reply is raised by it)."""
        # EVAL, not EVALSHA: the script's text is small beside a batch's argument, and a Redis
        # that restarted without its scripts needs nothing loaded before the next call.
        return self._queue(_Call(self._connection.pack_command("EVAL", self._script, 0, argument),
                                 1, True))
