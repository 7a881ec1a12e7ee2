"""Versioned, audited rule deploys on the real Redis of the embedded stack, and the worker's
reader following them."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
import yaml
from redis.asyncio import Redis as AsyncRedis

from detectors.errors import RuleSetInvalid
from detectors.ruleset import default_sources, load_rules
from pipeline.metrics import WORKER as REGISTRY
from pipeline.offline.backtest import backtest_expectation
from pipeline.offline.replay import InvalidLine, replay_lines
from pipeline.rules.live import LiveRules
from pipeline.rules.records import (
    BacktestExpectation,
    RuleExpectation,
    RuleStoreError,
    UnknownVersion,
)
from pipeline.rules.store import (
    AUDIT,
    CHANNEL,
    CURRENT,
    SEQ,
    RuleStore,
    version_key,
)
from pipeline.sim import generate
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

CONNECTS = "proposal.connects_burn.yaml"
BURST = "proposal.burst.yaml"
GENAI = "proposal.genai_restricted_job.yaml"


def edited(sources: dict[str, str], file_name: str, **changes: object) -> dict[str, str]:
    data = yaml.safe_load(sources[file_name])
    data.update(changes)
    return {**sources, file_name: yaml.safe_dump(data, sort_keys=False)}


def lower_connects_threshold(sources: dict[str, str]) -> dict[str, str]:
    """connects_burn at 70 instead of 80 Connects an hour (its examples still hold), as v2."""
    assert "features.freelancer_connects_1h >= 80" in sources[CONNECTS]
    return edited(sources, CONNECTS, version=2,
                  condition="features.freelancer_connects_1h >= 70")


def broken(sources: dict[str, str]) -> dict[str, str]:
    return edited(sources, BURST, condition="features.freelancer_proposals_10m >=")


@pytest.fixture
def client(stack: Stack) -> redis.Redis:
    return stack.client


@pytest.fixture
def store(client: redis.Redis) -> RuleStore:
    return RuleStore(client)


def test_first_deploy_writes_version_current_audit_and_announces_it(
        store: RuleStore, client: redis.Redis) -> None:
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    pubsub.get_message(timeout=1)  # the subscribe confirmation
    sources = default_sources()

    deployment = store.deploy(sources, author="ana", message="initial library")

    assert deployment.version == 1
    assert client.get(CURRENT) == b"1"
    assert json.loads(client.get(version_key(1)))["sources"] == sources
    assert deployment.fingerprint == load_rules(sources).fingerprint
    assert set(deployment.added) == set(load_rules(sources).by_id)
    assert deployment.removed == deployment.changed == () and deployment.previous is None
    (entry,) = store.history()
    assert (entry.version, entry.author, entry.message, entry.action) == (
        1, "ana", "initial library", "deploy")
    assert entry.added == deployment.added and entry.fingerprint == deployment.fingerprint
    assert store.current() == deployment
    message = pubsub.get_message(timeout=2)
    assert message is not None and message["data"] == b"1"
    pubsub.close()


def test_next_deploy_records_rules_added_removed_and_changed(store: RuleStore) -> None:
    sources = default_sources()
    store.deploy(sources, author="ana", message="initial")
    candidate = lower_connects_threshold(sources)
    del candidate[GENAI]
    candidate["proposal.burst_strict.yaml"] = sources[BURST].replace(
        "id: proposal.burst", "id: proposal.burst_strict")

    second = store.deploy(candidate, author="bo", message="tune Connects, retire genai rule")

    assert second.version == 2 and second.previous == 1
    assert second.added == ("proposal.burst_strict",)
    assert second.removed == ("proposal.genai_restricted_job",)
    assert second.changed == ("proposal.connects_burn",)
    assert second.rules["proposal.connects_burn"] == 2
    assert [d.version for d in store.history()] == [1, 2]
    assert store.get(1).sources == sources
    assert store.current().sources == candidate  # type: ignore[union-attr]


def test_deploying_the_rule_set_in_force_again_changes_nothing(
        store: RuleStore, client: redis.Redis) -> None:
    first = store.deploy(default_sources(), author="ana", message="initial")
    again = store.deploy(default_sources(), author="bo", message="same again")
    assert again == first
    assert client.get(SEQ) == b"1" and client.llen(AUDIT) == 1


def test_invalid_rule_set_is_refused_whole_and_current_stays(
        store: RuleStore, client: redis.Redis) -> None:
    store.deploy(default_sources(), author="ana", message="initial")
    before = sorted(client.keys("vigil:rules:*"))

    with pytest.raises(RuleSetInvalid) as info:
        store.deploy(broken(lower_connects_threshold(default_sources())), author="bo",
                     message="oops")

    assert [(p.file, p.field) for p in info.value.problems] == [(BURST, "condition")]
    with pytest.raises(RuleStoreError, match="empty"):
        store.deploy({}, author="bo", message="no rules at all")
    assert store.current_version() == 1
    assert store.current().sources == default_sources()  # type: ignore[union-attr]
    assert sorted(client.keys("vigil:rules:*")) == before and client.llen(AUDIT) == 1


def test_rollback_deploys_an_old_version_again_as_a_new_audited_version(store: RuleStore) -> None:
    first = store.deploy(default_sources(), author="ana", message="initial")
    store.deploy(lower_connects_threshold(default_sources()), author="bo", message="tune")

    rolled = store.rollback(1, author="cy", message="70 flags too many busy freelancers")

    assert rolled.version == 3 and rolled.action == "rollback" and rolled.rollback_of == 1
    assert rolled.fingerprint == first.fingerprint and rolled.previous == 2
    assert rolled.changed == ("proposal.connects_burn",)
    assert store.current().sources == default_sources()  # type: ignore[union-attr]
    history = store.history()
    assert [(d.version, d.action, d.rollback_of, d.author) for d in history] == [
        (1, "deploy", None, "ana"), (2, "deploy", None, "bo"), (3, "rollback", 1, "cy")]
    # Rolling back to what is already in force is a no-op like any repeated deploy.
    assert store.rollback(1, author="cy", message="again") == store.current()
    with pytest.raises(UnknownVersion):
        store.rollback(42, author="cy", message="no such version")


def test_a_deploy_that_raced_another_is_diffed_against_the_version_that_won(
        store: RuleStore, client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    store.deploy(default_sources(), author="ana", message="initial")
    other = RuleStore(client)
    read_current = store.current
    raced = []

    def current_then_someone_else_deploys():  # type: ignore[no-untyped-def]
        seen = read_current()
        if not raced:  # between our read and our write, bo deploys
            raced.append(other.deploy(lower_connects_threshold(default_sources()),
                                      author="bo", message="tune"))
        return seen

    monkeypatch.setattr(store, "current", current_then_someone_else_deploys)
    mine = store.deploy(edited(default_sources(), GENAI, mode="shadow"), author="cy",
                        message="shadow the genai rule")

    assert raced[0].version == 2
    assert mine.version == 3 and mine.previous == 2
    # Against v2, both rules differ: bo's Connects change is undone by this deploy, and shown.
    assert mine.changed == ("proposal.connects_burn", "proposal.genai_restricted_job")
    assert [d.version for d in store.history()] == [1, 2, 3]


async def test_live_rules_switch_to_a_new_deploy_and_survive_a_bad_stored_version(
        stack: Stack, store: RuleStore, client: redis.Redis) -> None:
    packaged = load_rules()
    live = LiveRules(AsyncRedis.from_url(stack.settings.redis_url), packaged)
    try:
        assert await live.refresh() is False  # nothing deployed: the packaged library runs
        assert live() is packaged and live.version is None

        deployed = store.deploy(lower_connects_threshold(default_sources()), author="bo",
                                message="tune")
        assert await live.refresh() is True
        assert live.version == 1 and live().fingerprint == deployed.fingerprint
        assert live().by_id["proposal.connects_burn"].spec.version == 2
        assert await live.refresh() is False  # unchanged: no reload

        # A version that bypassed validation (written by hand, or by an older Vigil).
        bad = {**json.loads(client.get(version_key(1))), "version": 2,
               "sources": broken(default_sources())}
        client.set(version_key(2), json.dumps(bad))
        client.set(CURRENT, 2)
        in_force = live()
        assert await live.refresh() is False
        assert live() is in_force and live.version == 1

        client.set(SEQ, 2)
        fixed = store.deploy(default_sources(), author="cy", message="fix")
        assert fixed.version == 3
        assert await live.refresh() is True
        assert live.version == 3 and live().fingerprint == load_rules().fingerprint
    finally:
        await live.client.aclose()


async def test_watch_follows_a_deploy_by_its_announcement(stack: Stack, store: RuleStore) -> None:
    live = LiveRules(AsyncRedis.from_url(stack.settings.redis_url), load_rules())
    # A poll an hour away: only the deploy's pub/sub announcement can switch the set in time.
    # (How soon a worker switches is a figure, not a test: see bench/ and the README.)
    task = asyncio.create_task(live.watch(poll_interval=3600.0))
    try:
        deadline = time.monotonic() + 60  # a failure's bound, not a speed target
        while dict(stack.client.pubsub_numsub(CHANNEL)).get(CHANNEL.encode(), 0) < 1:
            assert time.monotonic() < deadline, "the watch never subscribed"
            await asyncio.sleep(0.05)
        store.deploy(lower_connects_threshold(default_sources()), author="bo", message="tune")
        deadline = time.monotonic() + 60  # a failure's bound, not a speed target
        while live.version != 1:
            assert time.monotonic() < deadline, "the announcement never switched the set"
            await asyncio.sleep(0.05)
        assert live().by_id["proposal.connects_burn"].spec.version == 2
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await live.client.aclose()


# ---- backtest expectations ---------------------------------------------------------------------


def write_sample(path: Path, *, seed: int = 5, count: int = 1200) -> Path:
    """Simulated marketplace traffic with fraud in it, as a backtest sample (JSONL)."""
    sims = generate(seed=seed, count=count, fraud_rate=0.2)
    path.write_text("".join(json.dumps(s.envelope) + "\n" for s in sims))
    return path


def recount(sample: Path, sources: dict[str, str]) -> tuple[Counter[str], dict[str, tuple[int, int]]]:
    """Independently of the backtest: events per type, and per rule (hits, events of its types)."""
    rules = load_rules(sources)
    by_type: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    for record in replay_lines(sample.read_text().splitlines(), rules=rules):
        assert not isinstance(record, InvalidLine)
        by_type[record["type"]] += 1
        hits.update(r["detector_id"] for r in record["results"] if r["fired"])
    return by_type, {rule.id: (hits[rule.id], sum(by_type[t] for t in rule.spec.event_types))
                     for rule in rules.rules}


def expectation(sources: dict[str, str], **ratios: tuple[int, int]) -> BacktestExpectation:
    """A hand-made backtest of ``sources``: rule id (dots as __) -> (hits, events of its types)."""
    rules = load_rules(sources).by_id
    expected = {rule_id.replace("__", "."): RuleExpectation(
        mode=rules[rule_id.replace("__", ".")].spec.mode, hits=hits, events=events)
        for rule_id, (hits, events) in ratios.items()}
    return BacktestExpectation(
        fingerprint=load_rules(sources).fingerprint, sample="sample.jsonl", sample_sha256="ab" * 32,
        events=1000, invalid=0, events_by_type={"proposal.submitted": 300}, rules=expected)


def test_deploy_records_each_rules_expected_hit_ratio_computed_by_the_backtest_on_a_sample(
        store: RuleStore, client: redis.Redis, tmp_path: Path) -> None:
    sample = write_sample(tmp_path / "sample.jsonl")
    sources = lower_connects_threshold(default_sources())
    expected = backtest_expectation(sample, load_rules(sources))

    deployment = store.deploy(sources, author="ana", message="tune Connects", backtest=expected)

    record = json.loads(client.get(version_key(1)))["backtest"]
    by_type, per_rule = recount(sample, sources)
    assert record["fingerprint"] == deployment.fingerprint
    assert record["sample"] == str(sample)
    assert record["sample_sha256"] == hashlib.sha256(sample.read_bytes()).hexdigest()
    assert record["events"] == sum(by_type.values()) == 1200 and record["invalid"] == 0
    assert record["events_by_type"] == dict(by_type)
    assert record["rules"] == {
        rule_id: {"mode": load_rules(sources).by_id[rule_id].spec.mode, "hits": hits,
                  "events": events, "hit_ratio": hits / events if events else None}
        for rule_id, (hits, events) in per_rule.items()}
    # The per-type denominator, not the whole sample: a proposal rule is judged on proposals.
    hits, events = per_rule["proposal.connects_burn"]
    assert hits > 0 and 0 < events < 1200
    assert record["rules"]["signup.subnet_signup_burst"]["mode"] == "shadow"
    assert store.get(1).backtest == expected == deployment.backtest
    assert store.history()[0].backtest == expected  # the audit entry carries it too


def test_a_deploy_without_a_backtest_is_recorded_as_none_and_a_rollback_carries_its_targets(
        store: RuleStore, client: redis.Redis) -> None:
    sources = default_sources()
    first = store.deploy(sources, author="ana", message="initial",
                         backtest=expectation(sources, proposal__connects_burn=(3, 300)))
    tuned = lower_connects_threshold(sources)
    store.deploy(tuned, author="bo", message="emergency: Connects abuse")

    assert json.loads(client.get(version_key(2)))["backtest"] is None
    assert store.get(2).backtest is None and store.history()[1].backtest is None

    back_to_1 = store.rollback(1, author="cy", message="70 is too noisy")
    assert back_to_1.version == 3 and back_to_1.backtest == first.backtest
    assert json.loads(client.get(version_key(3)))["backtest"] == first.backtest.as_json()  # type: ignore[union-attr]
    back_to_2 = store.rollback(2, author="cy", message="no, 70 it is")
    assert back_to_2.version == 4 and back_to_2.backtest is None


def test_a_backtest_of_another_rule_set_is_refused_and_nothing_is_written(
        store: RuleStore, client: redis.Redis) -> None:
    store.deploy(default_sources(), author="ana", message="initial")
    before = sorted(client.keys("vigil:rules:*"))
    of_the_library = expectation(default_sources(), proposal__connects_burn=(3, 300))

    with pytest.raises(RuleStoreError, match="backtest ran rule set"):
        store.deploy(lower_connects_threshold(default_sources()), author="bo", message="tune",
                     backtest=of_the_library)

    assert store.current_version() == 1 and sorted(client.keys("vigil:rules:*")) == before


def test_redeploying_the_set_in_force_with_a_new_backtest_makes_a_version_recording_it(
        store: RuleStore, client: redis.Redis) -> None:
    sources = default_sources()
    store.deploy(sources, author="ana", message="emergency, no time to backtest")
    measured = expectation(sources, proposal__connects_burn=(3, 300))

    recorded = store.deploy(sources, author="ana", message="backtest of the emergency fix",
                            backtest=measured)

    assert recorded.version == 2 and recorded.backtest == measured
    assert recorded.summary == "no rule changed"
    # Again with the same backtest, or with none: nothing new to record.
    assert store.deploy(sources, author="ana", message="again", backtest=measured) == recorded
    assert store.deploy(sources, author="ana", message="again") == recorded
    assert client.llen(AUDIT) == 2


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def backtest_gauges() -> dict[tuple[str, str], float]:
    """Every vigil_rule_backtest_hit_ratio series this process exports."""
    (family,) = [m for m in REGISTRY.collect() if m.name == "vigil_rule_backtest_hit_ratio"]
    return {(s.labels["detector"], s.labels["mode"]): s.value for s in family.samples}


async def test_live_rules_export_the_expectations_in_force_and_replace_them_on_hot_reload(
        stack: Stack, store: RuleStore) -> None:
    sources = default_sources()
    live = LiveRules(AsyncRedis.from_url(stack.settings.redis_url), load_rules())
    try:
        # The packaged library runs: its rules' types are mapped, nothing is expected.
        assert gauge("vigil_rule_event_types", detector="proposal.genai_restricted_job",
                     type="proposal.submitted") == 1
        assert backtest_gauges() == {}

        store.deploy(sources, author="ana", message="initial", backtest=expectation(
            sources, proposal__connects_burn=(3, 300), proposal__burst=(0, 300),
            job_post__pay_to_work=(0, 0)))
        assert await live.refresh() is True
        # pay_to_work had no job posts in its sample: no expectation to export.
        assert backtest_gauges() == {("proposal.connects_burn", "enforce"): 0.01,
                                     ("proposal.burst", "enforce"): 0.0}
        assert gauge("vigil_rule_backtest_events", detector="proposal.connects_burn",
                     mode="enforce") == 300
        assert live.backtest is not None and live.backtest == store.get(1).backtest

        # v2: connects_burn in shadow, the genai rule retired, deployed without a backtest.
        shadowed = edited(sources, CONNECTS, mode="shadow", version=2)
        del shadowed[GENAI]
        store.deploy(shadowed, author="bo", message="emergency: shadow Connects")
        assert await live.refresh() is True
        assert backtest_gauges() == {}
        assert gauge("vigil_rule_backtest_events", detector="proposal.connects_burn",
                     mode="enforce") is None
        assert gauge("vigil_rule_event_types", detector="proposal.genai_restricted_job",
                     type="proposal.submitted") is None
        assert gauge("vigil_rule_event_types", detector="proposal.connects_burn",
                     type="proposal.submitted") == 1
        assert live.backtest is None

        # v3: shadow again, now with its backtest: the gauge carries the mode in force.
        store.deploy(shadowed, author="bo", message="backtest of the shadow deploy",
                     backtest=expectation(shadowed, proposal__connects_burn=(6, 300)))
        assert await live.refresh() is True
        assert backtest_gauges() == {("proposal.connects_burn", "shadow"): 0.02}

        # Rolling back to v1 brings v1's expectations back with its rules.
        store.rollback(1, author="cy", message="back to the library")
        assert await live.refresh() is True
        assert backtest_gauges() == {("proposal.connects_burn", "enforce"): 0.01,
                                     ("proposal.burst", "enforce"): 0.0}
        assert gauge("vigil_rule_event_types", detector="proposal.genai_restricted_job",
                     type="proposal.submitted") == 1
    finally:
        await live.client.aclose()
