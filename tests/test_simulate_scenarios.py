"""The simulator's output is pinned byte for byte, so refactoring it cannot change the traffic;
and its scenario registry lists every scenario module once, each labelling what it emits.

The constants are characterisation values: what the simulator produced when the test was
written (commit 5ad27ef), not anything derived from a specification. They last changed, by
design, when users began answering the AI-features choice with their signup, publishing and
editing marketplace profiles (profile.updated), and three scenarios the rules miss joined the
registry (scam_message, scam_proposal, fake_profile). Benchmarks, backtests
and saved demo files depend on a seed always giving the same stream, so a change that moves
these hashes changes the traffic and must be deliberate (update the constants in the same
commit and say why).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pipeline.sim import SCENARIOS, SimulatedEvent, generate, truth_record
from pipeline.sim.scenarios import BY_NAME, REGISTRY, Scenario
from pipeline.sim.world import World

SEED = 7  # `vigil simulate`'s default seed
COUNT = 20_000
FRAUD_RATE = 0.05  # `vigil simulate`'s default --fraud-rate

#: sha256 of the file `vigil simulate --count 20000 --out EVENTS --truth TRUTH` writes.
EVENTS_SHA256 = "9f7bc7f6cecff61cb053976fca62421b7a36cb6749b516e2d336764bb1dded2a"
#: sha256 of the TRUTH file written by the same command.
TRUTH_SHA256 = "e5a0660786d2eb80d612e59a05efbfc70c71085d86d915959c409385f2b437d5"


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
FAST_FRAUDULENT_SHA256 = "a41db7cb65d3edaee4d907cba7e8648f29530c6630251c1ac204c0b851331523"


def test_seeded_run_with_other_arguments_is_pinned() -> None:
    digest = hashlib.sha256()
    for sim in generate(seed=42, count=5_000, fraud_rate=0.3, mean_gap_seconds=0.5,
                        start=datetime(2025, 3, 1, 12)):
        digest.update((json.dumps(sim.envelope) + "\t" + json.dumps(sim.scenario) + "\n").encode())

    assert digest.hexdigest() == FAST_FRAUDULENT_SHA256


# ---- the registry -------------------------------------------------------------------------

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "pipeline" / "sim" / "scenarios"


def test_registry_lists_every_scenario_module_once() -> None:
    names = [scenario.name for scenario in REGISTRY]
    assert len(names) == len(set(names))
    assert tuple(names) == SCENARIOS
    assert set(BY_NAME) == set(names)
    # One module per scenario, named after it; a module left out of the registry fails here.
    modules = {p.stem for p in SCENARIO_DIR.glob("*.py")} - {"__init__", "base"}
    assert modules == set(names)
    for scenario in REGISTRY:
        assert scenario.description and scenario.weight > 0
        assert scenario.emits and len(set(scenario.emits)) == len(scenario.emits)


def warmed_world(seed: int) -> tuple[World, float]:
    """A world after ~1,500 benign ticks: enough users, jobs and proposals for every scenario."""
    world = World(random.Random(seed), datetime(2026, 1, 5, tzinfo=timezone.utc), 2.0)
    now = 0.0
    for _ in range(1_500):
        now += 2.0
        world.benign.next(now)
    drain(world)
    return world, now


def drain(world: World) -> list[SimulatedEvent]:
    events = []
    while (sim := world.agenda.pop_due(math.inf)) is not None:
        events.append(sim)
    return events


@pytest.mark.parametrize("scenario", REGISTRY, ids=lambda s: s.name)
def test_each_scenario_labels_its_events_with_its_name(scenario: Scenario) -> None:
    labelled_types = set()
    for seed in range(5):
        world, now = warmed_world(seed)
        assert scenario.feasible(world)
        scenario.inject(world, now)
        labelled = [e for e in drain(world) if e.scenario is not None]
        assert labelled, f"{scenario.name} scheduled no labelled event (seed {seed})"
        assert {e.scenario for e in labelled} == {scenario.name}
        labelled_types |= {e.envelope["type"] for e in labelled}
    # What it labels is what it declares; its main event type (listed first) always appears.
    assert scenario.emits[0] in labelled_types
    assert labelled_types <= set(scenario.emits)


def test_streamed_scenarios_label_only_what_they_declare() -> None:
    seen: dict[str, set[str]] = defaultdict(set)
    for sim in generate(seed=11, count=8_000, fraud_rate=0.3):
        if sim.scenario is not None:
            seen[sim.scenario].add(sim.envelope["type"])
    assert set(seen) == set(SCENARIOS)
    for name, types in seen.items():
        assert types <= set(BY_NAME[name].emits), name
