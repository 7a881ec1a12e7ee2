"""Rule evaluations per second for the whole shipped library on simulator traffic.

Features are computed beforehand with the in-memory feature store, so the timed loop measures
rule evaluation only (one CEL context per event, every applicable rule's compiled program, RE2
patterns, reason templates of the rules that fire). A second figure times ``decide`` (which also
serialises the event) for events per second through the detector core.

    .venv/bin/python bench/rules_throughput.py [--count 20000] [--seed 1] [--repeat 3]

Figures are printed, never asserted: they depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from detectors.core import Context, decide
from detectors.features import assemble, plan_features
from detectors.ruleset import load_rules
from pipeline.sim import generate
from pipeline.stores.features import MemoryFeatureStore
from schemas.decode import decode_event_obj


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000, help="simulated events")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fraud-rate", type=float, default=0.08)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes (the best is kept)")
    args = parser.parse_args()

    rules = load_rules()
    store = MemoryFeatureStore()
    prepared = []
    started = time.perf_counter()
    for sim in generate(seed=args.seed, count=args.count, fraud_rate=args.fraud_rate):
        event = decode_event_obj(sim.envelope)
        features = assemble(event, store.execute_sync(plan_features(event)))
        prepared.append((event, event.model_dump(mode="json"), features))
    print(f"prepared {len(prepared)} events with features in {time.perf_counter() - started:.1f}s; "
          f"{len(rules.rules)} rules ({sum(r.spec.mode == 'enforce' for r in rules.rules)} enforce, "
          f"{sum(r.spec.mode == 'shadow' for r in rules.rules)} shadow)")

    evaluations, fired, errors = 0, Counter[str](), 0
    for event, data, features in prepared:
        for result in rules.evaluate(event, features, data):
            evaluations += 1
            fired[result.detector_id] += result.fired
            errors += bool(result.skipped and result.skipped.startswith("error"))

    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for event, data, features in prepared:
            rules.evaluate(event, features, data)
        best = min(best, time.perf_counter() - t0)
    print(f"rule evaluation: {evaluations} evaluations over {len(prepared)} events in {best:.2f}s "
          f"-> {evaluations / best:,.0f} rule evaluations/s, {len(prepared) / best:,.0f} events/s "
          f"({sum(fired.values())} hits, {errors} errors)")

    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for event, _data, features in prepared:
            decide(event, Context(features=features), rules)
        best = min(best, time.perf_counter() - t0)
    print(f"decide() (serialise + evaluate): {len(prepared) / best:,.0f} events/s")


if __name__ == "__main__":
    main()
