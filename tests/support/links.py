"""Rings from the simulator, and the worker's link step run over them on a real Redis."""

from __future__ import annotations

import json
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
from tests.support.flags import flag_for
from tests.support.review import run_sync

KEY = DEVELOPMENT_HASH_KEY.encode()


def simulated_ring(size: int = 5, seed: int = 3, *, profiles: bool = False,
                   ) -> list[dict[str, Any]]:
    """The signups of the simulator's first ``fake_account_ring`` with at least ``size``
    accounts on one device, cut to ``size`` accounts; dated from two days ago (the link index
    forgets what is older than its retention). ``profiles``: the accounts' profiles too, after
    the signups (each names the ring's one payout fingerprint)."""
    start = datetime.now(timezone.utc).replace(microsecond=0, second=0, minute=0) - timedelta(days=2)
    rings: dict[str, list[dict[str, Any]]] = defaultdict(list)
    found: list[dict[str, Any]] = []
    shown: dict[str, dict[str, Any]] = {}
    for sim in generate(seed=seed, count=4000, fraud_rate=0.3, start=start):
        env = sim.envelope
        if sim.scenario != "fake_account_ring":
            continue
        if not found and env["type"] == "user.signed_up":
            group = rings[env["payload"]["device_id"]]
            group.append(env)
            if len(group) == size:
                found = group
        members = {e["payload"]["user_id"] for e in found}
        if env["type"] == "profile.updated" and env["subject_id"] in members:
            shown[env["subject_id"]] = env
        if found and (not profiles or len(shown) == size):
            return found + [shown[e["payload"]["user_id"]] for e in found if profiles]
    raise AssertionError(f"no simulated ring of {size} accounts")


def confirm(redis_url: str, signups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An analyst confirms each account as fraud through the review queue (a case from a
    signup rule's flag, claimed and decided); returns the ``review.decided`` events the outbox
    holds for them, as the worker reads them from ``tns.decisions``."""
    async def run() -> list[dict[str, Any]]:
        redis = Redis.from_url(redis_url)
        try:
            queue = ReviewQueue(redis)
            out = []
            for signup in signups:
                case = (await queue.add_flag(flag_for(
                    signup, detector="signup.shared_device_ring", reason="shared device"),
                    signup)).case_id
                await queue.claim(case, "carol")
                done = await queue.decide(case, "carol", "confirmed_fraud",
                                          policy_reason="fake_account")
                pending = await redis.hget("vigil:outbox:pending",
                                           done.decision["decision_id"])
                out.append(json.loads(pending))
            return out
        finally:
            await redis.aclose()
    return run_sync(run)


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
    """A simulated ring's five signups and profiles, then two of its accounts confirmed as
    fraud one after the other; the ring's case, and its members oldest first."""
    ring = simulated_ring(5, profiles=True)
    signups = ring[:5]
    members = [e["payload"]["user_id"] for e in signups]
    assert write_links(redis_url, ring) == []  # five accounts, none confirmed: not a ring
    first = confirm(redis_url, signups[1:2])
    assert write_links(redis_url, first) == []  # one confirmed: not yet
    second = confirm(redis_url, signups[2:3])
    cases = write_links(redis_url, second)  # the second confirmation makes it a ring
    assert len(cases) == 1
    again = write_links(redis_url, [*ring, *first, *second])  # redelivered: the same case
    assert set(again) == set(cases)
    return cases[0], members
