"""The link index: Redis memory per user and cost per event. Prints, asserts nothing.

    .venv/bin/python bench/links.py [--events 40000] [--batch 200]

Simulated traffic (dated from a day ago, so nothing is past the retention) goes through the
worker's link step (:class:`pipeline.worker.links.LinkStep`: :func:`detectors.links.link_keys`,
then one script call per batch on :class:`pipeline.stores.links.RedisLinks`) on a fresh
embedded Redis. Reports ``used_memory`` per user who has links, per link key, the worker-side
CPU per event (key extraction and the call's encoding) and the batch's wall time with Redis,
per event, and Redis's own CPU per event.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from redis.asyncio import Redis  # noqa: E402

from detectors.features import fingerprint_texts  # noqa: E402
from detectors.links import link_keys  # noqa: E402
from pipeline.local.embedded import start_redis  # noqa: E402
from pipeline.settings import DEVELOPMENT_HASH_KEY, Settings  # noqa: E402
from pipeline.sim import generate  # noqa: E402
from pipeline.stores.links import RedisLinks  # noqa: E402
from pipeline.worker.batches import Done  # noqa: E402
from pipeline.worker.links import LinkStep  # noqa: E402
from schemas import decode_event_obj  # noqa: E402
from schemas.events import ProposalSubmitted  # noqa: E402

KEY = DEVELOPMENT_HASH_KEY.encode()


async def run(events: int, batch: int, messages: bool) -> None:
    start = datetime.now(timezone.utc) - timedelta(days=1)
    decoded = [decode_event_obj(s.envelope)
               for s in generate(seed=7, count=events, fraud_rate=0.05, start=start,
                                 mean_gap_seconds=0.5)]
    server = start_redis(Path(tempfile.mkdtemp(prefix="vigil-bench-links-")), appendfsync="no")
    redis = Redis.from_url(server.url)
    try:
        links = RedisLinks.from_settings(Settings(embedded=True), redis)
        step = LinkStep(links, KEY, messages=messages)
        await redis.ping()
        before = (await redis.info("memory"))["used_memory"]
        cpu_redis0 = (await redis.info("cpu"))["used_cpu_user"] + (await redis.info("cpu"))["used_cpu_sys"]
        # The duplicate rules fingerprint every cover letter in decide (cached): as in the worker,
        # the link step finds them computed.
        fingerprint_texts([e.payload.cover_letter for e in decoded if isinstance(e, ProposalSubmitted)])
        t0 = time.process_time()
        for e in decoded:  # the pure part alone, worker CPU
            link_keys(e, KEY, messages=messages)
        extract = (time.process_time() - t0) / len(decoded)
        wall, cpu = 0.0, 0.0
        rings = 0
        for i in range(0, len(decoded), batch):
            done = [Done(None, e, None, [], False) for e in decoded[i:i + batch]]
            w0, c0 = time.perf_counter(), time.process_time()
            await step.apply(done)
            wall += time.perf_counter() - w0
            cpu += time.process_time() - c0
            rings += sum(len(d.flags) for d in done)
        info = await redis.info("cpu")
        cpu_redis = info["used_cpu_user"] + info["used_cpu_sys"] - cpu_redis0
        after = (await redis.info("memory"))["used_memory"]
        users = [k async for k in redis.scan_iter("vigil:links:user:*", count=1000)]
        keys = [k async for k in redis.scan_iter("vigil:links:key:*", count=1000)]
        linked = sum(1 for e in decoded if link_keys(e, KEY, messages=messages)[1])
        n = len(decoded)
        print(f"events {n:,} ({linked:,} with link keys), batches of {batch}; "
              f"{len(users):,} users with links, {len(keys):,} link keys, {rings} ring flags")
        print(f"Redis used_memory: +{after - before:,} B = {(after - before) / max(1, len(users)):,.0f} B "
              f"per user with links ({(after - before) / max(1, len(keys)):,.0f} B per link key)")
        print(f"worker CPU per event: link_keys {extract * 1e6:.1f} µs; link step in all "
              f"(keys, encoding, the call) {cpu / n * 1e6:.1f} µs")
        print(f"wall time of the link step with Redis: {wall / n * 1e6:.1f} µs per event "
              f"({wall / (n / batch) * 1e3:.2f} ms per batch); Redis CPU {cpu_redis / n * 1e6:.1f} µs per event")
    finally:
        await redis.aclose()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--messages", action="store_true",
                        help="link messages too (VIGIL_LINK_MESSAGES=1)")
    args = parser.parse_args()
    asyncio.run(run(args.events, args.batch, args.messages))


if __name__ == "__main__":
    main()
