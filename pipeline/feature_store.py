"""Where feature state lives: Redis for workers, memory for ``vigil replay`` and backtests.

Both carry out a :class:`detectors.features.FeaturePlan` the same way: writes first (so counters
include the current event), then reads. Windowed sets are sorted sets of member -> time;
re-adding a member (a redelivered event) changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from detectors.features import (
    HORIZON,
    PROFILE_TTL,
    CountSince,
    FeaturePlan,
    Observe,
    Recall,
    Remember,
    SumSince,
)

PREFIX = "vigil:f:"


def _sum_members(members: list[Any]) -> float:
    total = 0.0
    for member in members:
        text = member.decode() if isinstance(member, bytes) else member
        total += float(text.rsplit("|", 1)[-1])
    return total


class RedisFeatureStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def queue(self, pipe: Any, plan: FeaturePlan) -> list[tuple[str, str]]:
        """Add the plan's commands to ``pipe``; returns how to read the replies that matter."""
        readers: list[tuple[str, str]] = []
        for write in plan.writes:
            key = PREFIX + write.key
            if isinstance(write, Observe):
                pipe.zadd(key, {write.member: write.at})
                pipe.zremrangebyscore(key, "-inf", write.at - HORIZON)
                pipe.expire(key, int(HORIZON))
                readers += [("", "skip")] * 3
            else:
                pipe.set(key, json.dumps(write.value, sort_keys=True), ex=int(PROFILE_TTL),
                         nx=write.only_if_absent)
                readers.append(("", "skip"))
        for read in plan.reads:
            key = PREFIX + read.key
            if isinstance(read, CountSince):
                pipe.zcount(key, f"({read.since}", read.until)
                readers.append((read.feature, "int"))
            elif isinstance(read, SumSince):
                pipe.zrangebyscore(key, f"({read.since}", read.until)
                readers.append((read.feature, "sum"))
            else:
                pipe.get(key)
                readers.append((read.feature, "json"))
        return readers

    @staticmethod
    def parse(readers: list[tuple[str, str]], replies: list[Any]) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        for (feature, kind), reply in zip(readers, replies):
            if kind == "int":
                raw[feature] = int(reply)
            elif kind == "sum":
                raw[feature] = _sum_members(reply)
            elif kind == "json":
                raw[feature] = json.loads(reply) if reply else None
        return raw

    async def execute(self, plan: FeaturePlan) -> dict[str, Any]:
        pipe = self.redis.pipeline(transaction=False)
        readers = self.queue(pipe, plan)
        return self.parse(readers, await pipe.execute())


class MemoryFeatureStore:
    """The same semantics in process memory; state is lost when the process ends."""

    def __init__(self) -> None:
        self.sets: dict[str, dict[str, float]] = {}
        # Like Redis's ZREMRANGEBYSCORE on every write: members at or before the highest
        # trim point a key has seen are gone, even for a late event's reads.
        self.trimmed: dict[str, float] = {}
        self.records: dict[str, dict[str, Any]] = {}

    async def execute(self, plan: FeaturePlan) -> dict[str, Any]:
        return self.execute_sync(plan)

    def execute_sync(self, plan: FeaturePlan) -> dict[str, Any]:
        for write in plan.writes:
            if isinstance(write, Observe):
                members = self.sets.setdefault(write.key, {})
                horizon = max(self.trimmed.get(write.key, float("-inf")), write.at - HORIZON)
                self.trimmed[write.key] = horizon
                members[write.member] = write.at
                if len(members) > 64:  # prune physically now and then; reads filter anyway
                    for member in [m for m, t in members.items() if t <= horizon]:
                        del members[member]
            elif isinstance(write, Remember):
                if not (write.only_if_absent and write.key in self.records):
                    self.records[write.key] = dict(write.value)
        raw: dict[str, Any] = {}
        for read in plan.reads:
            if isinstance(read, Recall):
                raw[read.feature] = self.records.get(read.key)
                continue
            times = self.sets.get(read.key, {})
            since = max(read.since, self.trimmed.get(read.key, float("-inf")))
            inside = [m for m, t in times.items() if since < t <= read.until]
            raw[read.feature] = len(inside) if isinstance(read, CountSince) else _sum_members(inside)
        return raw


