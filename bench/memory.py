"""Memory: Redis state after N simulated users, and how it grows per user. Prints, asserts nothing.

    .venv/bin/python bench/memory.py [--users 1000000]

Each user signs up (signup record, device and /24 counters, events window), records an AI
consent choice and publishes a marketplace profile (the catalogue keeps its latest record),
through the worker's own state path (:class:`pipeline.stores.state.RedisState`, one script call
per batch). A sample of users then sends messages, to price activity separately. Reports Redis
``used_memory`` and resident memory of redis-server and of this (worker-like) process, and
what each kind of per-user key costs (``MEMORY USAGE``, sampled).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import redis as redis_sync  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

from pipeline.local.embedded import start_redis  # noqa: E402
from pipeline.stores.state import RedisState  # noqa: E402
from schemas.decode import decode_event  # noqa: E402

T0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)


def signup(i: int) -> bytes:
    at = (T0 + timedelta(seconds=i * 0.05)).isoformat()
    user = f"usr_{i:08x}"
    return json.dumps({
        "event_id": str(uuid.UUID(int=i * 3 + 1)), "type": "user.signed_up", "schema_version": "1.0",
        "occurred_at": at, "producer": "bench", "subject_id": user,
        "payload": {"user_id": user, "account_type": "freelancer" if i % 3 else "client",
                    "email": f"{user}@example.com", "ip": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                    "device_id": f"dev_{i:08x}", "country": "PT", "user_agent": "Mozilla/5.0",
                    "signup_duration_ms": 40000, "username": f"user{i}", "display_name": "A. User",
                    "has_photo": True, "phone_verified": True}}).encode()


def consent(i: int) -> bytes:
    at = (T0 + timedelta(seconds=i * 0.05 + 1)).isoformat()
    user = f"usr_{i:08x}"
    return json.dumps({
        "event_id": str(uuid.UUID(int=i * 3 + 2)), "type": "consent.changed", "schema_version": "1.0",
        "occurred_at": at, "producer": "bench", "subject_id": user,
        "payload": {"user_id": user, "ai_features": "opted_in" if i % 5 else "opted_out",
                    "policy_version": "2026-01", "changed_at": at}}).encode()


def profile(i: int) -> bytes:
    """A typical new freelancer's or client's profile, a minute after signup."""
    at = (T0 + timedelta(seconds=i * 0.05 + 60)).isoformat()
    user = f"usr_{i:08x}"
    freelancer = bool(i % 3)
    body = {"user_id": user, "account_type": "freelancer" if freelancer else "client",
            "display_name": "A. User", "headline": "Copywriter for food brands",
            "overview": "I write websites, newsletters and product pages for small brands.",
            "country": "PT", "has_photo": True, "phone_verified": True, "following": i % 17}
    if freelancer:
        body.update(skills=["copywriting", "editing", "seo writing", "proofreading"],
                    hourly_rate=35.0, portfolio_items=i % 5)
    else:
        body.update(jobs_posted=i % 4, payment_verified=True)
    return json.dumps({
        "event_id": str(uuid.UUID(int=i * 3 + 3)), "type": "profile.updated",
        "schema_version": "1.0", "occurred_at": at, "producer": "bench", "subject_id": user,
        "payload": body}).encode()


def message(i: int, n: int) -> bytes:
    at = (T0 + timedelta(seconds=i * 0.05 + 2 + n)).isoformat()
    user = f"usr_{i:08x}"
    return json.dumps({
        "event_id": str(uuid.uuid4()), "type": "message.sent", "schema_version": "1.0",
        "occurred_at": at, "producer": "bench", "subject_id": user,
        "payload": {"message_id": f"m{i}_{n}", "thread_id": f"t{i}", "sender_id": user,
                    "recipient_id": f"usr_{(i + n + 1):08x}", "text": "Draft attached, thanks!",
                    "has_active_contract": bool(n % 2)}}).encode()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def run(users: int, active: int) -> None:
    server = start_redis(Path(tempfile.mkdtemp(prefix="vigil-mem-")), appendfsync="no")
    sync = redis_sync.Redis.from_url(server.url)
    client = Redis.from_url(server.url)
    state = RedisState(client)
    base = sync.info("memory")["used_memory"]
    print(f"users: {users:,} (each: signup + consent + profile); redis empty: {base / 2**20:.1f} MiB")
    checkpoints = sorted({users // 10, users // 4, users // 2, users})
    started = time.perf_counter()
    batch: list = []
    done = 0
    for i in range(users):
        batch += [decode_event(signup(i)), decode_event(consent(i)), decode_event(profile(i))]
        if len(batch) >= 1000:
            await state.load(batch)
            batch.clear()
        done = i + 1
        if done in checkpoints:
            if batch:
                await state.load(batch)
                batch.clear()
            used = sync.info("memory")["used_memory"]
            print(f"  {done:>9,} users: redis used_memory {used / 2**20:8.1f} MiB "
                  f"({(used - base) / done:6.0f} B/user), redis-server RSS "
                  f"{rss_kb(server.pid) / 1024:8.1f} MiB, worker-side RSS "
                  f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:6.1f} MiB, "
                  f"{done * 3 / (time.perf_counter() - started):,.0f} events/s")
    before = sync.info("memory")["used_memory"]
    batch = [decode_event(message(i, n)) for i in range(active) for n in range(10)]
    for k in range(0, len(batch), 1000):
        await state.load(batch[k:k + 1000])
    after = sync.info("memory")["used_memory"]
    print(f"activity: {active:,} users x 10 messages add {(after - before) / active:,.0f} B per active "
          f"user (windowed state; expires {25} h after the user's last event)")
    print(f"keys: {sync.dbsize():,}")
    # What stays per user once the 25 h windows have expired: the signup record, the latest
    # marketplace profile and the consent history.
    sample = range(0, users, max(1, users // 1000))
    kinds = {"signup record": "vigil:f:user:usr_{:08x}:profile",
             "public profile": "vigil:f:user:usr_{:08x}:public:1",
             "consent": "vigil:consent:usr_{:08x}",
             "events window": "vigil:f:user:usr_{:08x}:events", "device window": "vigil:f:device:dev_{:08x}:accounts"}
    for kind, pattern in kinds.items():
        sizes = [sync.memory_usage(pattern.format(i)) or 0 for i in sample]
        print(f"  {kind:<14} {sum(sizes) / len(sizes):6.0f} B per user (MEMORY USAGE, sampled)")
    await client.aclose()
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--active", type=int, default=20_000)
    args = parser.parse_args()
    asyncio.run(run(args.users, args.active))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
