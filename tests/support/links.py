"""Rings from the simulator, and the worker's link step run over them on a real Redis."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

from redis.asyncio import Redis

from pipeline.review.queue import ReviewQueue
from pipeline.settings import DEVELOPMENT_HASH_KEY, Settings
from pipeline.sim import generate
from pipeline.stores.links import RedisLinks
from pipeline.worker.batches import Done, flagged
from pipeline.worker.links import LinkStep
from schemas import decode_event_obj
from tests.support.review import run_sync

KEY = DEVELOPMENT_HASH_KEY.encode()


def simulated_ring(size: int = 5, seed: int = 3) -> list[dict[str, Any]]:
    """The signups of the simulator's first ``fake_account_ring`` with at least ``size``
    accounts on one device, cut to ``size`` accounts; dated from two days ago (the link index
    forgets what is older than its retention)."""
    start = datetime.now(timezone.utc).replace(microsecond=0, second=0, minute=0) - timedelta(days=2)
    rings: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for sim in generate(seed=seed, count=4000, fraud_rate=0.3, start=start):
        env = sim.envelope
        if sim.scenario == "fake_account_ring" and env["type"] == "user.signed_up":
            group = rings[env["payload"]["device_id"]]
            group.append(env)
            if len(group) == size:
                return group
    raise AssertionError(f"no simulated ring of {size} accounts")


def write_links(redis_url: str, envelopes: list[dict[str, Any]]) -> list[str]:
    """Run the worker's link step, then add the flags it made (a ring's) to the review queue,
    as the write stage does; returns the cases those flags opened or joined."""
    async def run() -> list[str]:
        redis = Redis.from_url(redis_url)
        try:
            step = LinkStep(RedisLinks.from_settings(Settings(embedded=True), redis), KEY)
            done = [Done(None, decode_event_obj(e), None, [], False) for e in envelopes]
            await step.apply(done)
            flags, events = flagged(done)
            results = await ReviewQueue(redis).add_flags(flags, events)
            return [r.case_id for r in results]
        finally:
            await redis.aclose()
    return run_sync(run)


def ring_case(redis_url: str) -> tuple[str, list[str]]:
    """A ring case of five simulated accounts on one device (its id and the members)."""
    ring = simulated_ring(5)
    members = [e["payload"]["user_id"] for e in ring]
    cases = write_links(redis_url, ring[:4])
    assert cases == []  # four accounts on a device are not a ring yet
    cases = write_links(redis_url, ring)  # a redelivery of the four, and the fifth
    assert len(cases) == 1
    again = write_links(redis_url, ring)  # redelivered again: the same case, no second one
    assert again == cases
    return cases[0], members
