"""Which Redis errors mean "wait and retry", and the retry loop the worker runs them in.

A Redis that is down, restarting, out of memory or read-only (a failover in progress) says
nothing about the event being processed: the worker waits it out and never skips the event. Any
other error (a key of the wrong type, a script bug) is about the data, and retrying it forever
would park the whole partition, so the caller dead-letters that one event instead.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("vigil.outages")
T = TypeVar("T")

#: Errors that mean "Redis is unreachable or cannot take writes for now".
OUTAGES: tuple[type[BaseException], ...] = (
    RedisConnectionError, RedisTimeoutError, BusyLoadingError, ConnectionError, OSError,
    OutOfMemoryError, ReadOnlyError, MasterDownError, TryAgainError, ClusterDownError,
)
# The same states as error replies redis-py leaves as a plain ResponseError: inside a Lua
# script ("... @user_script:12: -OOM command not allowed ...") or without a class of their own.
_STATE_REPLY = re.compile(
    r"^(?:Command # \d+ \(.*?\) of pipeline caused error: )?"
    r"(?:Error running script \(call to f_[0-9a-f]+\): (?:@user_script:? ?\d+: )+-?)?"
    r"(?:OOM|READONLY|MISCONF|MASTERDOWN|NOREPLICAS|TRYAGAIN|CLUSTERDOWN|BUSY|LOADING) ",
    re.DOTALL,
)


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` is about Redis's state, not about the data being written.

    >>> is_outage(ResponseError("Error running script (call to f_4e4b): @user_script:1: "
    ...                         "@user_script: 1: -OOM command not allowed when used memory > 'maxmemory'."))
    True
    >>> is_outage(ResponseError("MISCONF Redis is configured to save RDB snapshots, but ..."))
    True
    >>> is_outage(ResponseError("Error running script (call to f_eefd): @user_script:1: "
    ...                         "WRONGTYPE Operation against a key holding the wrong kind of value"))
    False
    >>> is_outage(ValueError("a bug"))
    False
    """
    if isinstance(exc, OUTAGES):
        return True
    return isinstance(exc, ResponseError) and bool(_STATE_REPLY.match(str(exc)))


async def retrying(what: str, action: Callable[[], Awaitable[T]], *, max_delay: float = 5.0) -> T:
    """Run ``action`` until it succeeds, backing off while Redis is out (:func:`is_outage`);
    any other error is raised at once."""
    delay = 0.05
    while True:
        try:
            return await action()
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("%s: Redis unavailable (%s); retrying in %.2fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(max_delay, delay * 2)
