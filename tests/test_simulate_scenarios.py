"""The simulator's output is pinned byte for byte, so refactoring it cannot change the traffic.

The constants are characterisation values: what the simulator produced when the test was
written (commit 5ad27ef), not anything derived from a specification. Benchmarks, backtests
and saved demo files depend on a seed always giving the same stream, so a change that moves
these hashes changes the traffic and must be deliberate (update the constants in the same
commit and say why).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from pipeline.sim import generate, truth_record

SEED = 7  # `vigil simulate`'s default seed
COUNT = 20_000
FRAUD_RATE = 0.05  # `vigil simulate`'s default --fraud-rate

#: sha256 of the file `vigil simulate --count 20000 --out EVENTS --truth TRUTH` writes.
EVENTS_SHA256 = "ee047b4f4cc8d448e8c67e6fc7662f00fe956484edc507792a574c64b241fea6"
#: sha256 of the TRUTH file written by the same command.
TRUTH_SHA256 = "d17d3283f32f7801d4ac97cb4d30de4e277eb2d217e54a02a081ef97a7e2ed3e"


def test_seeded_run_is_pinned_byte_for_byte() -> None:
    events, truth = hashlib.sha256(), hashlib.sha256()
    # Serialised as pipeline/cli/main.py's simulate command writes --out and --truth.
    for sim in generate(seed=SEED, count=COUNT, fraud_rate=FRAUD_RATE):
        events.update((json.dumps(sim.envelope) + "\n").encode())
        if sim.scenario:
            truth.update((json.dumps(truth_record(sim)) + "\n").encode())

    assert events.hexdigest() == EVENTS_SHA256
    assert truth.hexdigest() == TRUTH_SHA256


#: sha256 of every event and its label for non-default arguments: a compressed tempo (gaps below
#: 2 s), a high fraud rate (every scenario, often) and a naive start taken as UTC.
FAST_FRAUDULENT_SHA256 = "1568e60c2f95b5db3ba02b44a903d70287cc9609ba9e0e6a2c5cf897773cd785"


def test_seeded_run_with_other_arguments_is_pinned() -> None:
    digest = hashlib.sha256()
    for sim in generate(seed=42, count=5_000, fraud_rate=0.3, mean_gap_seconds=0.5,
                        start=datetime(2025, 3, 1, 12)):
        digest.update((json.dumps(sim.envelope) + "\t" + json.dumps(sim.scenario) + "\n").encode())

    assert digest.hexdigest() == FAST_FRAUDULENT_SHA256
