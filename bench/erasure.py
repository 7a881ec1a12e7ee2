"""Erasure: what one pass over the keyspace costs. Prints, asserts nothing.

    .venv/bin/python bench/erasure.py [--users 2000,10000]

An embedded Redis (AOF on, as the stack runs it) is filled with a keyspace shaped like the
inventory's families for ``--users`` users: per user a feature window of their events, their
flagged events (~600-byte JSON), consent history, a links record and subject history; per ten
users a case with its notes, a decision and a content record; plus the per-device account
indexes. This is synthetic (the stores' own writers would need the whole worker to fill a
large Redis), with the key names and value sizes of a running stack. Then one user is erased
with :class:`~pipeline.privacy.erasure.Eraser` as the worker runs it (``settle`` 0 so both
passes run back to back): the figure is the seconds per pass and keys walked per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import redis as redis_lib  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

from pipeline.local.embedded import start_redis  # noqa: E402
from pipeline.privacy.erasure import Eraser  # noqa: E402
from pipeline.settings import DEVELOPMENT_HASH_KEY  # noqa: E402

TEXT = "Hi! I can do this job for you, I have five years of experience with similar work. " * 3


def fill(client: redis_lib.Redis, users: int) -> int:
    pipe = client.pipeline(transaction=False)
    for u in range(users):
        user = f"usr_{u:07d}"
        events = {f"evt_{u}_{n}": float(n) for n in range(4)}
        pipe.zadd(f"vigil:f:user:{user}:events", events)
        for event_id in list(events)[:2]:
            pipe.set(f"vigil:event:{event_id}", json.dumps({
                "event_id": event_id, "type": "message.sent", "subject_id": user,
                "payload": {"sender_id": user, "recipient_id": f"usr_{(u + 1) % users:07d}",
                            "text": TEXT, "device_id": f"dev_{u}", "ip": f"10.{u % 250}.1.2"}}))
        pipe.zadd(f"vigil:consent:{user}", {json.dumps({"ai_features": "opted_in", "v": 1}): 1.0})
        pipe.hset(f"vigil:links:user:{user}", mapping={"device": f"h{u}", "ip": f"i{u}"})
        pipe.zadd(f"vigil:history:{user}", {f"evt_{u}_0": 1.0})
        pipe.zadd(f"vigil:f:device:dev_{u // 3}:accounts", {user: 1.0})
        if u % 10 == 0:
            case = f"case_{u}"
            pipe.hset(f"vigil:case:{case}", mapping={"case_id": case, "entity_id": f"user:{user}",
                                                     "status": "closed", "summary": TEXT[:200]})
            pipe.rpush(f"vigil:case_notes:{case}", json.dumps({"author": "ana", "text": TEXT[:120]}))
            pipe.set(f"vigil:decision:dec_{u}", json.dumps({"case_id": case, "entity_id": user,
                                                            "outcome": "dismissed"}))
            pipe.set(f"vigil:content:message:msg_{u}", json.dumps({"subject_id": user,
                                                                   "payload": {"text": TEXT}}))
        if u % 500 == 499:
            pipe.execute()
    pipe.execute()
    return client.dbsize()


async def erase_one(url: str, user: str) -> tuple[float, dict]:
    client = Redis.from_url(url)
    eraser = Eraser(client, DEVELOPMENT_HASH_KEY.encode(), settle=0.0)
    await eraser.request(user, requested_by="bench", request_id="bench-1")
    started = time.perf_counter()
    outcomes = await eraser.run_due(wait=True)
    elapsed = time.perf_counter() - started
    await client.aclose()
    return elapsed, outcomes[-1].changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="2000,10000")
    args = parser.parse_args()
    for users in (int(n) for n in args.users.split(",")):
        with tempfile.TemporaryDirectory() as state:
            server = start_redis(state)
            try:
                client = redis_lib.Redis.from_url(server.url)
                keys = fill(client, users)
                elapsed, changed = asyncio.run(erase_one(server.url, "usr_0000010"))
                per_pass = elapsed / 2
                print(f"{users:>7} users, {keys:>8} keys: erasure {elapsed:6.2f} s for two passes "
                      f"({per_pass:.2f} s a pass, {keys / per_pass:,.0f} keys/s walked); "
                      f"changed {sum(sum(v.values()) for v in changed.values())} keys in "
                      f"{len(changed)} families")
            finally:
                server.stop()


if __name__ == "__main__":
    main()
