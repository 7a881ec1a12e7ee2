"""Finding work (issue 19) on a real Redis: claim-next is atomic and takes the highest-priority
case nobody holds, search finds cases by ids (exact and prefix), e-mail, IP and device without
the index holding the raw e-mail, saved filters are per analyst, and the routes answer over HTTP."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from fastapi.testclient import TestClient
from redis.asyncio import Redis

from detectors.examples import example_event
from pipeline.review.queue import ReviewQueue
from pipeline.review.web.app import create_app
from pipeline.settings import QueueSettings
from tests.support.flags import flag, flag_for, seed
from tests.support.review import USERS, add_users, service_settings

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def signup(user: str, email: str, ip: str, device: str) -> dict:
    return example_event("user.signed_up", {
        "user_id": user, "email": email, "ip": ip, "device_id": device},
        event_id=str(uuid.uuid4()), subject_id=user)


async def test_claim_next_never_gives_two_analysts_the_same_case(queue: ReviewQueue,
                                                                  redis_url: str) -> None:
    for n in range(30):
        await queue.add_flag(*flag(f"u{n}", severity="critical" if n < 5 else "low"))
    # Five analysts, each on a client of their own, 35 asks at once for 30 cases.
    others = [ReviewQueue(Redis.from_url(redis_url), QueueSettings(), queue.clock)
              for _ in range(5)]
    try:
        claims = await asyncio.gather(*(others[i % 5].claim_next(f"a{i % 5}") for i in range(35)))
    finally:
        for q in others:
            await q.redis.aclose()
    taken = [c.case_id for c in claims if c is not None]
    assert len(taken) == 30 and len(set(taken)) == 30  # each case once; five asked in vain
    assert claims.count(None) == 5


async def test_claim_next_takes_the_highest_priority_unheld_case(queue: ReviewQueue) -> None:
    low = (await queue.add_flag(*flag("u_low", severity="low"))).case_id
    top = (await queue.add_flag(*flag("u_top", severity="critical"))).case_id
    mid = (await queue.add_flag(*flag("u_mid", severity="high"))).case_id
    await queue.claim(top, "bob")
    got = await queue.claim_next("alice")
    assert got is not None and got.case_id == mid and got.claimed_by == "alice"
    assert (await queue.summary(mid))["claimed_by"] == "alice"
    assert (await queue.claim_next("alice")).case_id == low
    assert await queue.claim_next("alice") is None


async def test_search_finds_cases_by_ids_email_ip_and_device(queue: ReviewQueue) -> None:
    event = signup("u_ann", "Ann.Lee@Example.com", "203.0.113.7", "dev_42")
    case_id = (await queue.add_flag(flag_for(event, detector="account.disposable_email"),
                                    event)).case_id
    other = (await queue.add_flag(*flag("u_bob"))).case_id

    async def ids(query: str, **kw: object) -> list[str]:
        return [c["case_id"] for c in await queue.search(query, **kw)]

    assert await ids("ann.lee@example.com") == [case_id]  # normalised: case does not matter
    assert await ids("203.0.113.7") == [case_id]
    assert await ids("203.0.113.0/24") == [case_id]  # the address's network
    assert await ids("dev_42") == [case_id]
    assert await ids("u_ann") == [case_id] and await ids("u_a") == [case_id]  # prefix
    assert set(await ids("u_")) == {case_id, other}
    assert await ids("u_a", prefix=False) == []  # exact only
    assert await ids(case_id, kind="case") == [case_id]
    assert await ids("ann.lee@example.org") == [] and await ids("203.0.113.8") == []
    assert await ids("no such thing with spaces") == []
    members = b" ".join(await queue.redis.zrange("vigil:search", 0, -1))
    assert b"example.com" not in members.lower() and b"203.0.113" not in members
    # The digests are keyed with the secret hashing key: without it an e-mail finds nothing.
    stranger = ReviewQueue(queue.redis, queue.config, queue.clock, search_key=b"another-key-x" * 2)
    assert [c["case_id"] for c in await stranger.search("ann.lee@example.com")] == []
    assert [c["case_id"] for c in await stranger.search("u_ann")] == [case_id]  # ids as they are


async def test_the_search_index_is_bounded(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        queue = ReviewQueue(redis, QueueSettings(search_entries=10))
        for n in range(8):
            await queue.add_flag(*flag(f"u{n}"))
        assert await redis.zcard("vigil:search") == 10 == await redis.zcard("vigil:search:at")
        assert [c["entity_id"] for c in await queue.search("u7")] == ["u7"]  # newest kept
        assert await queue.search("u0") == []  # oldest gone
    finally:
        await redis.aclose()


def test_search_claim_next_and_saved_filters_over_http(redis_url: str) -> None:
    tokens = add_users(redis_url, USERS)
    case_id, = seed(redis_url, [flag("u_http")])
    app = create_app(service_settings(redis_url), background=False)
    alice, bob = ({"Authorization": f"Bearer {tokens[n]}"} for n in ("alice", "bob"))
    eve = {"Authorization": f"Bearer {tokens['eve']}"}
    with TestClient(app) as c:
        found = c.get("/api/search", params={"q": "u_ht"}, headers=alice).json()["items"]
        assert [x["case_id"] for x in found] == [case_id]
        assert c.get("/api/search", params={"q": "u", "kind": "nope"}, headers=alice).status_code == 422
        assert c.get("/api/search", params={"q": "u_http"}).status_code == 401
        assert c.post("/api/claim-next", headers=eve).status_code == 403  # engineers do not work cases
        claimed = c.post("/api/claim-next", headers=alice).json()
        assert claimed["case_id"] == case_id and claimed["claimed_by"] == "alice"
        assert c.post("/api/claim-next", headers=bob).status_code == 404
        timeline = c.get(f"/api/cases/{case_id}/timeline", headers=eve).json()
        assert timeline["masked"] is True and timeline["subject_id"] == "u_http"
        saved = c.put("/api/filters", json={"name": "mine high", "query": "severity=high&claimed=mine"},
                      headers=alice)
        assert saved.status_code == 200, saved.text
        assert c.put("/api/filters", json={"name": "x", "query": "evil=1"}, headers=alice).status_code == 422
        assert c.get("/api/filters", headers=alice).json() == [
            {"name": "mine high", "query": "severity=high&claimed=mine"}]
        assert c.get("/api/filters", headers=bob).json() == []  # per analyst
        assert c.delete("/api/filters/mine high", headers=alice).status_code == 204
        assert c.delete("/api/filters/mine high", headers=alice).status_code == 404
