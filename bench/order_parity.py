"""How much the order events are processed in changes the flags (issue 18's mismatch, offline).

Replays one seeded simulator file twice through ``vigil replay``'s path (in-memory state):
in file order, and in the order a 4-partition worker may see it: each event on its type's
topic and its subject's partition (as the publisher keys it), the topic-partition queues
drained in a seeded random interleaving (order kept within each queue, as Kafka keeps it),
optionally with a backlog fetched a batch per queue at a time. Prints fired results per
detector for both orders and their difference. No Kafka or Redis: this isolates the cause
(processing order against shared counters and cross-topic joins) from the transport.

    .venv/bin/python -m bench.order_parity --count 3000 --seed 7
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import zlib
from collections import Counter, deque

from pipeline.offline.replay import InvalidLine, final_records, replay_lines
from schemas.topics import TOPIC_BY_TYPE


def interleave(lines: list[str], *, partitions: int, seed: int, batch: int) -> list[str]:
    """The lines in an order a consumer of ``partitions`` partitions per topic may see."""
    queues: dict[tuple[str, int], deque[str]] = {}
    for line in lines:
        obj = json.loads(line)
        key = str(obj.get("subject_id", "")).encode()
        queue = (TOPIC_BY_TYPE.get(obj["type"], "?"), zlib.crc32(key) % partitions)
        queues.setdefault(queue, deque()).append(line)
    rng, out = random.Random(seed), []
    live = sorted(queues)
    while live:
        name = rng.choice(live)
        for _ in range(rng.randint(1, batch)):
            if queues[name]:
                out.append(queues[name].popleft())
        if not queues[name]:
            live.remove(name)
    return out


def fired(lines: list[str], partitions: int = 1) -> Counter[str]:
    counts: Counter[str] = Counter()
    for record in final_records(replay_lines(lines, partitions=partitions)):
        if isinstance(record, InvalidLine):
            continue
        counts.update(r["detector_id"] for r in record["results"] if r.get("fired"))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--batch", type=int, default=50, help="most events taken per queue at a time")
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as handle:
        subprocess.run([sys.executable, "-m", "pipeline.cli.main", "simulate", "--count",
                        str(args.count), "--seed", str(args.seed), "--out", handle.name],
                       check=True, capture_output=True)
        lines = [line for line in handle.read().splitlines() if line.strip()]
    in_order = fired(lines)
    shuffled = fired(interleave(lines, partitions=args.partitions, seed=args.seed,
                                batch=args.batch), partitions=args.partitions)
    print(f"{'detector':48} {'file order':>10} {'interleaved':>11} {'diff':>6}")
    for name in sorted(set(in_order) | set(shuffled)):
        a, b = in_order[name], shuffled[name]
        print(f"{name:48} {a:10d} {b:11d} {b - a:+6d}")
    print(f"{'total':48} {sum(in_order.values()):10d} {sum(shuffled.values()):11d}")


if __name__ == "__main__":
    main()
