"""A worker loading a deployed rule set keeps its event loop turning, and counts over-budget
rule evaluations in Prometheus (on the stack's real Redis)."""

from __future__ import annotations

import asyncio
import threading

import pytest
import yaml
from redis.asyncio import Redis as AsyncRedis

from detectors.examples import example_event
from detectors.ruleset import RuleSet, compile_file, default_sources, load_rules
from pipeline.metrics import WORKER
from pipeline.rules import live as live_module
from pipeline.rules.live import LiveRules
from pipeline.rules.store import RuleStore
from schemas.decode import decode_event_obj
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


def many_copies(copies: int) -> dict[str, str]:
    """The library and ``copies`` renamed copies of it: a valid set that takes a while to load
    (every rule's examples run and its cost is measured)."""
    sources = dict(default_sources())
    for n in range(copies):
        for name, text in default_sources().items():
            data = yaml.safe_load(text)
            data["id"] = f"{data['id']}_copy{n}"
            sources[f"{data['id']}.yaml"] = yaml.safe_dump(data, sort_keys=False)
    return sources


async def test_loading_a_deployed_set_does_not_block_the_event_loop(
        stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    RuleStore(stack.client).deploy(many_copies(1), author="bo", message="a big set")
    live = LiveRules(AsyncRedis.from_url(stack.settings.redis_url), load_rules())
    # The load waits, inside, until a task on the loop has run. Loaded on the loop itself, it
    # would wait in vain (nothing else runs while it does) and fail; in a thread the loop turns.
    loading, loop_turned = threading.Event(), threading.Event()
    load_record = live_module._load_record

    def load_once_the_loop_turns(record: bytes) -> object:
        loading.set()
        assert loop_turned.wait(timeout=30), "the event loop did not turn while the set loaded"
        return load_record(record)

    async def turn_once_loading() -> None:
        while not loading.is_set():
            await asyncio.sleep(0.001)
        loop_turned.set()

    monkeypatch.setattr(live_module, "_load_record", load_once_the_loop_turns)
    turner = asyncio.create_task(turn_once_loading())
    try:
        assert await live.refresh() is True
    finally:
        turner.cancel()
        await live.client.aclose()
    assert live.version == 1 and len(live().rules) == 2 * len(default_sources())


async def test_an_over_budget_evaluation_is_counted_per_rule_in_prometheus(stack: Stack) -> None:
    live = LiveRules(AsyncRedis.from_url(stack.settings.redis_url), load_rules())
    try:
        # The library's rules are exported at 0 before any slow evaluation.
        assert WORKER.get_sample_value("vigil_rule_over_budget_total",
                                         {"detector": "message.off_platform_payment"}) is not None
        text = yaml.safe_dump({
            "id": "job_post.skills_check", "version": 1, "owner": "t-s",
            "description": "Checks a job post's skills against each other.",
            "event_types": ["job_post.created"], "severity": "low", "score": 0.2,
            "reason": "skills", "condition": (
                "payload.skills.all(a, payload.skills.all(b, "
                "!(a + payload.description + b + payload.description).contains(\"~\")))"),
            "examples": [{"name": "f", "expect": "flag"}, {"name": "p", "expect": "pass"}]})
        rule, _ = compile_file("job_post.skills_check.yaml", text)
        assert rule is not None
        unchecked = RuleSet((rule,), "stored by hand")  # never went through the cost check
        event = decode_event_obj(example_event("job_post.created", {
            "skills": [f"skill {i}" for i in range(50)], "description": "lorem ipsum " * 1600}))
        labels = {"detector": "job_post.skills_check"}
        before = WORKER.get_sample_value("vigil_rule_over_budget_total", labels) or 0.0
        unchecked.evaluate(event, {})
        assert WORKER.get_sample_value("vigil_rule_over_budget_total", labels) == before + 1
    finally:
        await live.client.aclose()
