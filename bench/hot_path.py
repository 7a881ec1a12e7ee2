"""Where a worker's CPU goes per event, stage by stage, without Kafka; prints, asserts nothing.

    .venv/bin/python bench/hot_path.py [--events 20000] [--batch 200] [--repeat 3]

Runs the worker's own steps on simulator traffic in micro-batches against an embedded Redis:
decode, the state script (its arguments built, the round trip, the replies parsed), the pure
``decide`` for every event, the labelling sampler (``sample``: the random draw, the consent
gate and the models' picks, with the worker's default policy), flags for the findings and the
metrics. Each figure is the best of
``--repeat`` passes over fresh Redis state, in microseconds of this process's CPU per event (the
Redis line is wall time, which includes redis-server's own CPU). bench/e2e.py measures the same
path through Kafka.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from redis.asyncio import Redis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from detectors.models import default_models  # noqa: E402
from detectors.ruleset import RuleSet, load_rules  # noqa: E402
from detectors.sampling import Sampler  # noqa: E402
from pipeline.local.embedded import start_redis  # noqa: E402
from pipeline.models.scorer import Scorer  # noqa: E402
from pipeline.sim import generate  # noqa: E402
from pipeline.stores.state import RedisState  # noqa: E402
from pipeline.worker.flags import flags_for  # noqa: E402
from pipeline.worker.observe import record_decisions  # noqa: E402
from pipeline.worker.processor import Processor  # noqa: E402
from pipeline.worker.run import quiet_gc  # noqa: E402
from schemas.decode import decode_event  # noqa: E402
from schemas.topics import TOPIC_BY_TYPE  # noqa: E402


class Stages:
    """CPU time per named stage (``process_time``), and wall time of the awaited ones."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)

    def timed(self, name: str, fn, *args):  # noqa: ANN001, ANN201
        t0 = time.process_time()
        out = fn(*args)
        self.cpu[name] += time.process_time() - t0
        return out


async def one_pass(raw: list[tuple[str, bytes]], redis: Redis, batch: int,
                   rules: RuleSet) -> Stages:
    await redis.flushdb()
    scorer = Scorer(redis, default_models(b"bench-hash-key-of-16-bytes"))
    processor = Processor(RedisState(redis), lambda: rules, scorer, sampler=Sampler())
    stages = Stages()
    for start in range(0, len(raw), batch):
        chunk = raw[start:start + batch]
        events = stages.timed("decode", lambda: [decode_event(v, topic=t) for t, v in chunk])
        t0, w0 = time.process_time(), time.perf_counter()
        loaded = await processor.load(events)
        stages.cpu["state script (client)"] += time.process_time() - t0
        stages.cpu["state script (wall)"] += time.perf_counter() - w0
        decisions = stages.timed("decide", processor.decide, events, loaded)
        stages.timed("sample", processor.select, events, loaded, decisions)
        stages.timed("flags", lambda: [flags_for(e, d) for e, d in zip(events, decisions)
                                       if d.findings])
        stages.timed("metrics", record_decisions, [("t", d) for d in decisions])
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gap", type=float, default=2.0,
                        help="mean seconds of event time between benign events (e2e's latency "
                             "runs use 1/rate: dense traffic, fuller feature windows)")
    parser.add_argument("--fraud-rate", type=float, default=0.05)
    args = parser.parse_args()
    rules = load_rules()
    raw = [(TOPIC_BY_TYPE[s.envelope["type"]], json.dumps(s.envelope).encode())
           for s in generate(seed=2026, count=args.events, fraud_rate=args.fraud_rate,
                                mean_gap_seconds=args.gap)]
    server = start_redis(Path(tempfile.mkdtemp(prefix="vigil-hot-")), appendfsync="everysec")
    quiet_gc()  # as the worker does after start-up
    try:
        async def run() -> list[Stages]:
            redis = Redis.from_url(server.url)
            try:
                return [await one_pass(raw, redis, args.batch, rules) for _ in range(args.repeat)]
            finally:
                await redis.aclose()
        passes = asyncio.run(run())
    finally:
        server.stop()
    names = list(passes[0].cpu)
    best = {name: min(p.cpu[name] for p in passes) for name in names}
    n = len(raw)
    print(f"{n} events in batches of {args.batch}; best of {args.repeat} passes, us per event:")
    for name in names:
        print(f"  {name:24s} {best[name] / n * 1e6:7.1f}")
    client = sum(v for k, v in best.items() if k != "state script (wall)")
    print(f"  {'worker CPU, all stages':24s} {client / n * 1e6:7.1f}")


if __name__ == "__main__":
    main()
