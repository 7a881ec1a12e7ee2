"""The link index: which accounts share a device, an IP, a /24, a rare e-mail domain or a text.

The worker records each event's link keys (:func:`detectors.links.link_keys`, pseudonymised)
and each account an analyst confirmed as fraud (:func:`detectors.links.confirmed_subject`) with
:meth:`LinkIndex.observe`, which reports the devices that are rings by then
(:func:`detectors.links.is_ring`); the review service reads an account's network up to two hops
with :meth:`LinkIndex.graph`. :class:`RedisLinks` is the index in Redis, :class:`MemoryLinks`
its in-memory twin (a parity test runs both).

Memory is bounded: a key keeps its ``max_group`` most recent accounts (one more, to know it is
too common to link anyone: a webmail domain, a carrier's NAT), a user their ``max_keys`` most
recent keys of each sort (devices, IPs and domains; texts), and nothing is kept past
``retention`` seconds after it was last seen; confirmed accounts count for ``retention``
seconds after the decision, at most ``max_confirmed`` of them (the most recent). Keys:
``vigil:links:key:<kind>:<hash>``, ``vigil:links:user:<user>`` and ``vigil:links:texts:<user>``,
sorted sets by event time, and ``vigil:links:confirmed`` (by decision time).

>>> import asyncio
>>> links = MemoryLinks(ring_accounts=2, ring_confirmed=1, clock=lambda: 100.0)
>>> asyncio.run(links.observe([("u1", 10.0, ["device:d"]), ("u2", 11.0, ["device:d"])]))
[]
>>> asyncio.run(links.observe([], confirmed=[("u2", 50.0)]))
[('device:d', ['u1', 'u2'], ['u2'])]
>>> g = asyncio.run(links.graph("u1"))
>>> g.nodes, g.edges
({'u1': 0, 'u2': 1}, [('u1', 'u2', ('device',))])
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol

from redis.asyncio import Redis

from detectors.links import is_ring, link_kind
from pipeline.settings import Settings

USER, TEXTS, KEY = "vigil:links:user:", "vigil:links:texts:", "vigil:links:key:"
#: One event's user, its time and its link keys.
Observed = tuple[str, float, Sequence[str]]
#: An account an analyst confirmed as fraud, and when.
Confirmed = tuple[str, float]
#: A shared device that is a ring: its key, its accounts (oldest first) and those of them
#: confirmed as fraud.
Ring = tuple[str, list[str], list[str]]


@dataclass
class Graph:
    """An account's network: ``nodes`` maps each account to its hops from ``center``; ``edges``
    are ``(a, b, kinds)`` with ``a < b``; ``truncated`` when ``max_nodes`` cut it short."""

    center: str
    nodes: dict[str, int] = field(default_factory=dict)
    edges: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    truncated: bool = False


class LinkIndex(Protocol):
    async def observe(self, items: Sequence[Observed], confirmed: Sequence[Confirmed] = (),
                      withdrawn: Sequence[Confirmed] = ()) -> list[Ring]:
        """Record each user's link keys and each confirmed account, and forget each
        confirmation an appeal reversed (``withdrawn``: the user and when, unless confirmed
        again later); idempotent. The rings among the devices ``items`` showed and the devices
        of the ``confirmed`` accounts."""
        ...

    async def graph(self, user: str, *, hops: int = 2, max_nodes: int = 50) -> Graph:
        """``user``'s linked accounts up to ``hops`` away, at most ``max_nodes`` of them."""
        ...

    async def members(self, key: str) -> list[str]:
        """The accounts a link key links now, oldest first (none if too common to link)."""
        ...


async def expand(user: str, hops: int, max_nodes: int, max_group: int,
                 keys_of: Callable[[list[str]], Awaitable[list[list[str]]]],
                 members_of: Callable[[list[str]], Awaitable[list[list[str]]]]) -> Graph:
    """Breadth-first over users and their keys, the same for both stores. A key with more than
    ``max_group`` accounts links nobody (too common)."""
    graph = Graph(user, {user: 0})
    kinds: dict[tuple[str, str], set[str]] = {}
    frontier = [user]
    for depth in range(1, hops + 1):
        if not frontier:
            break
        per_user = await keys_of(frontier)
        wanted = sorted({k for keys in per_user for k in keys})
        groups = dict(zip(wanted, await members_of(wanted)))
        following: list[str] = []
        for source, keys in zip(frontier, per_user):
            for key in keys:
                members = groups[key]
                if len(members) > max_group:
                    continue
                for other in members:
                    if other == source:
                        continue
                    if other not in graph.nodes:
                        if len(graph.nodes) >= max_nodes:
                            graph.truncated = True
                            continue
                        graph.nodes[other] = depth
                        following.append(other)
                    a, b = sorted((source, other))
                    kinds.setdefault((a, b), set()).add(link_kind(key))
        frontier = following
    graph.edges = [(a, b, tuple(sorted(k))) for (a, b), k in sorted(kinds.items())]
    return graph


class RedisLinks:
    """:class:`LinkIndex` in Redis: one script per batch of events, pipelined reads."""

    def __init__(self, redis: Redis, *, retention: float, max_group: int = 50,
                 max_keys: int = 32, ring_accounts: int = 5, ring_confirmed: int = 2,
                 max_confirmed: int = 200_000, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.retention = retention
        self.max_group = max_group
        self.max_keys = max_keys
        self.ring_accounts = ring_accounts
        self.ring_confirmed = ring_confirmed
        self.max_confirmed = max_confirmed
        self.clock = clock
        source = (resources.files(__package__) / "lua" / "links.lua").read_text(encoding="utf-8")
        self.script = redis.register_script(source)

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis) -> RedisLinks:
        """The index with the bounds of ``settings`` (the worker writes, the review service
        reads with the same)."""
        return cls(redis, retention=settings.link_retention, max_group=settings.link_max_group,
                   max_keys=settings.link_max_keys, ring_accounts=settings.ring_accounts,
                   ring_confirmed=settings.ring_confirmed,
                   max_confirmed=settings.link_max_confirmed)

    async def observe(self, items: Sequence[Observed], confirmed: Sequence[Confirmed] = (),
                      withdrawn: Sequence[Confirmed] = ()) -> list[Ring]:
        # What is past the retention on arrival (a backfill, a replay of old traffic) would be
        # trimmed at once: it is not sent.
        cutoff = self.clock() - self.retention
        items = [item for item in items if item[2] and item[1] >= cutoff]
        confirmed = [c for c in confirmed if c[1] >= cutoff]
        if not items and not confirmed and not withdrawn:
            return []
        payload = json.dumps([[user, at, list(keys)] for user, at, keys in items])
        return _rings(await self.script(args=[
            payload, self.max_group, self.max_keys, int(self.retention), repr(self.clock()),
            self.ring_accounts, json.dumps([list(c) for c in confirmed]), self.ring_confirmed,
            self.max_confirmed, json.dumps([list(w) for w in withdrawn])]))

    async def graph(self, user: str, *, hops: int = 2, max_nodes: int = 50) -> Graph:
        async def keys_of(users: list[str]) -> list[list[str]]:
            both = await self._ranges([p + u for u in users for p in (USER, TEXTS)], -1)
            return [both[i] + both[i + 1] for i in range(0, len(both), 2)]

        async def members_of(keys: list[str]) -> list[list[str]]:
            return await self._ranges([KEY + k for k in keys], self.max_group)

        return await expand(user, hops, max_nodes, self.max_group, keys_of, members_of)

    async def members(self, key: str) -> list[str]:
        members = (await self._ranges([KEY + key], self.max_group))[0]
        return members if len(members) <= self.max_group else []

    async def _ranges(self, keys: list[str], stop: int) -> list[list[str]]:
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.zrange(key, 0, stop)
        return [[_text(m) for m in reply] for reply in await pipe.execute()]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _rings(reply: Any) -> list[Ring]:
    # cjson writes an empty Lua table as {}: list() of it is [] all the same.
    return [(key, list(members), list(marked))
            for key, members, marked in json.loads(_text(reply))]


class MemoryLinks:
    """:class:`LinkIndex` in memory, with the same bounds (for tests, replay and benchmarks)."""

    def __init__(self, *, retention: float = 90 * 86400.0, max_group: int = 50,
                 max_keys: int = 32, ring_accounts: int = 5, ring_confirmed: int = 2,
                 max_confirmed: int = 200_000, clock: Callable[[], float] = time.time) -> None:
        self.retention = retention
        self.max_group = max_group
        self.max_keys = max_keys
        self.ring_accounts = ring_accounts
        self.ring_confirmed = ring_confirmed
        self.max_confirmed = max_confirmed
        self.clock = clock
        self.keys: dict[str, dict[str, float]] = {}
        self.users: dict[str, dict[str, float]] = {}
        self.confirmed: dict[str, float] = {}

    async def observe(self, items: Sequence[Observed], confirmed: Sequence[Confirmed] = (),
                      withdrawn: Sequence[Confirmed] = ()) -> list[Ring]:
        now = self.clock()
        cutoff = now - self.retention
        devices: dict[str, None] = {}  # to test once the batch is written, in order
        for user, at, keys in items:
            if not keys or at < cutoff:
                continue
            touched = []
            for key in keys:
                group = self.keys.setdefault(key, {})
                # As the script: a write that changes nothing trims and touches nothing.
                if _add(group, user, at):
                    _trim(group, cutoff, self.max_group + 1)
                    mine = self.users.setdefault(
                        (TEXTS if key.startswith("text:") else USER) + user, {})
                    if _add(mine, key, at):
                        touched.append(mine)
                if key.startswith("device:"):
                    devices[key] = None
            for mine in {id(m): m for m in touched}.values():
                _trim(mine, cutoff, self.max_keys)
        changed = False
        for user, at in confirmed:
            if at < cutoff:
                continue
            changed = _add(self.confirmed, user, at) or changed
            for key in _ordered(self.users.get(USER + user, {})):
                if key.startswith("device:"):
                    devices[key] = None
        for user, at in withdrawn:
            if user in self.confirmed and self.confirmed[user] <= at:
                del self.confirmed[user]
        if changed:
            _trim(self.confirmed, cutoff, self.max_confirmed)
        rings = []
        for key in devices:
            members = _ordered(self.keys.get(key, {}))
            if not self.ring_accounts <= len(members) <= self.max_group:
                continue
            marked = [] if self.ring_confirmed <= 0 else [
                m for m in members if m in self.confirmed and self.confirmed[m] >= cutoff]
            if is_ring(len(members), len(marked), ring_accounts=self.ring_accounts,
                       ring_confirmed=self.ring_confirmed, max_group=self.max_group):
                rings.append((key, members, marked))
        return rings

    async def graph(self, user: str, *, hops: int = 2, max_nodes: int = 50) -> Graph:
        async def keys_of(users: list[str]) -> list[list[str]]:
            return [_ordered(self.users.get(USER + u, {})) + _ordered(self.users.get(TEXTS + u, {}))
                    for u in users]

        async def members_of(keys: list[str]) -> list[list[str]]:
            return [_ordered(self.keys.get(k, {}))[:self.max_group + 1] for k in keys]

        return await expand(user, hops, max_nodes, self.max_group, keys_of, members_of)

    async def members(self, key: str) -> list[str]:
        members = _ordered(self.keys.get(key, {}))
        return members if len(members) <= self.max_group else []


def _order(item: tuple[str, float]) -> tuple[float, str]:
    return item[1], item[0]  # Redis orders a sorted set by score, then member


def _ordered(group: dict[str, float]) -> list[str]:
    return [member for member, _ in sorted(group.items(), key=_order)]


def _add(group: dict[str, float], member: str, at: float) -> bool:
    """ZADD GT CH: whether ``member`` is new or now later."""
    if member in group and group[member] >= at:
        return False
    group[member] = at
    return True


def _trim(group: dict[str, float], cutoff: float, keep: int) -> None:
    for member in [m for m, at in group.items() if at < cutoff]:
        del group[member]
    if len(group) > keep:
        for member in _ordered(group)[:len(group) - keep]:
            del group[member]
