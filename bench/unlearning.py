"""Unlearning: what a rebuild and an exact subtraction cost, and what the training log holds.
Prints, asserts nothing.

    .venv/bin/python bench/unlearning.py [--labels 20000,100000] [--users 2000]

Simulated messages (labelled by their ground truth, spread over ``--users`` subjects) are
featurized by the scam-message model and the count model beside it, as the learner logs them.
For each log size: the time to rebuild the logistic model from the log without one user
(what the learner does after an erasure), the time to subtract that user from the count model
exactly, and the training log's size per entry (JSON of ``x``, as the stream stores it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import orjson  # noqa: E402

from detectors.models import ScamMessageCountsModel, ScamMessageModel  # noqa: E402
from detectors.unlearning import Contribution, rebuild, split, subtract  # noqa: E402
from pipeline.settings import DEVELOPMENT_HASH_KEY  # noqa: E402
from pipeline.sim import generate  # noqa: E402
from schemas import decode_event_obj  # noqa: E402

KEY = DEVELOPMENT_HASH_KEY.encode()


def logs(n: int, users: int) -> tuple[list[Contribution], list[Contribution]]:
    """``n`` labelled messages as the two message models' training logs hold them."""
    scam, counts = ScamMessageModel(KEY), ScamMessageCountsModel(KEY)
    out_scam: list[Contribution] = []
    out_counts: list[Contribution] = []
    seed = 0
    while len(out_scam) < n:
        for sim in generate(seed=seed, count=50_000, fraud_rate=0.1):
            if sim.envelope["type"] != "message.sent":
                continue
            event = decode_event_obj(sim.envelope)
            i = len(out_scam)
            subject, fraud = f"anon_{i % users}", sim.scenario is not None
            out_scam.append(Contribution(subject, scam.featurize(event, {}), fraud, float(i)))
            out_counts.append(Contribution(subject, counts.featurize(event, {}), fraud, float(i)))
            if len(out_scam) == n:
                break
        seed += 1
    return out_scam, out_counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default="20000,100000")
    parser.add_argument("--users", type=int, default=2000)
    args = parser.parse_args()
    for n in (int(x) for x in args.labels.split(",")):
        log_scam, log_counts = logs(n, args.users)
        request = {"anon_7": float(n)}
        keep, _ = split(log_scam, request)
        started = time.perf_counter()
        rebuild(ScamMessageModel(KEY), keep)
        rebuilt = time.perf_counter() - started
        model = rebuild(ScamMessageCountsModel(KEY), log_counts)
        _, forget = split(log_counts, request)
        started = time.perf_counter()
        subtract(model, forget)
        subtracted = time.perf_counter() - started
        size = sum(len(orjson.dumps(c.x)) for c in log_scam) / n
        size_counts = sum(len(orjson.dumps(c.x)) for c in log_counts) / n
        print(f"{n:,} labels: rebuild of message.scam_model {rebuilt:.2f} s "
              f"({rebuilt / n * 1e6:.0f} us a label); exact subtraction of one user's "
              f"{len(forget)} labels from the count model {subtracted * 1e3:.2f} ms; log x "
              f"{size:,.0f} B (scam model) + {size_counts:,.0f} B (count model) per label")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
