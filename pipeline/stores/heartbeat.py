"""The workers' heartbeats: who is in the consumer group now, and what each has done.

Every worker writes its beat every couple of seconds under ``vigil:worker:<host>-<pid>`` with a
short expiry, so a worker that stops (or is killed) drops out of :func:`read_beats` on its own.
`vigil up`, `vigil status`, the tests and the benchmarks read them to see workers join.

>>> key("host-12")
'vigil:worker:host-12'
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from typing import Any

PREFIX = "vigil:worker:"
#: A beat outlives a few missed timer rounds (every 2 s), not a stopped worker.
TTL_SECONDS = 10


def key(worker_id: str) -> str:
    return PREFIX + worker_id


async def write_beat(redis: Any, worker_id: str, beat: Mapping[str, Any],
                     ttl: int = TTL_SECONDS) -> None:
    """Store ``beat`` (JSON) as ``worker_id``'s latest, expiring after ``ttl`` seconds."""
    await redis.set(key(worker_id), json.dumps(beat), ex=ttl)


async def read_beats(redis: Any) -> list[dict[str, Any]]:
    """Every live worker's latest beat (an asyncio Redis client)."""
    keys = await redis.keys(PREFIX + "*")
    return _parse(await redis.mget(keys)) if keys else []


def read_beats_sync(client: Any) -> list[dict[str, Any]]:
    """:func:`read_beats` with a blocking Redis client (the CLI, tests, benchmarks)."""
    keys = client.keys(PREFIX + "*")
    return _parse(client.mget(keys)) if keys else []


def _parse(values: list[Any]) -> list[dict[str, Any]]:
    # A beat can expire between KEYS and MGET: its value is then None.
    return [json.loads(v) for v in values if v]


def this_worker() -> str:
    """This process's id among the workers: ``<host>-<pid>`` (tests find a worker by its pid)."""
    return f"{socket.gethostname()}-{os.getpid()}"
