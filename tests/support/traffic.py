"""Traffic through a running stack: publishing simulated events, waiting until the worker has
processed and committed them, and reading back (and checking) the flags and cases in Redis."""

from __future__ import annotations

import json

from pipeline.kafka.publisher import Publisher
from pipeline.offline.replay import replay_lines
from pipeline.sim import generate
from schemas.topics import INPUT_TOPICS
from tests.support.kafka import group_lag
from tests.support.stack import Stack
from tests.support.waiting import wait_until


def simulated(count: int, seed: int = 11, fraud_rate: float = 0.15) -> list[dict]:
    return [s.envelope for s in generate(seed=seed, count=count, fraud_rate=fraud_rate)]


def publish(stack: Stack, events: list[dict]) -> None:
    with Publisher(stack.settings.kafka_bootstrap) as publisher:
        for event in events:
            publisher.publish(event)


#: Topics are consumed concurrently, so a proposal may be processed before the job post it
#: answers. Rules read state across topics in this causal order (signups -> job posts and
#: profiles -> messages and proposals); publishing phase by phase makes the live result
#: comparable, event for event, with replay's file order.
PHASES = (("user.signed_up", "consent.changed"), ("job_post.created", "profile.updated"),
          ("message.sent", "proposal.submitted", "user_report.filed"))


def publish_in_causal_phases(stack: Stack, events: list[dict]) -> None:
    unphased = {e["type"] for e in events} - {t for types in PHASES for t in types}
    assert not unphased, f"PHASES does not say when to publish {sorted(unphased)}"
    for types in PHASES:
        phase = [e for e in events if e["type"] in types]
        publish(stack, phase)
        wait_processed(stack, {e["event_id"] for e in phase})


def expected_flags(events: list[dict]) -> set[tuple[str, str]]:
    """(event_id, detector_id) of every enforced finding, computed offline by `vigil replay`."""
    lines = [json.dumps(e) for e in events]
    return {
        (record["event_id"], result["detector_id"])
        for record in replay_lines(lines)
        for result in record["results"]
        if result["fired"] and result["mode"] == "enforce"
    }


def flags_in_redis(stack: Stack) -> list[dict]:
    client = stack.client
    keys = [k for k in client.scan_iter("vigil:flag:*")]
    return [json.loads(v) for v in client.mget(keys)] if keys else []


def assert_cases_consistent(stack: Stack) -> None:
    """Every flag sits in exactly one case once, and each case's count matches its flags."""
    client = stack.client
    flags = {f["flag_id"] for f in flags_in_redis(stack)}
    seen: list[str] = []
    for key in client.scan_iter("vigil:case:*"):
        name = key.decode()
        if name.endswith((":flags", ":samples")):
            continue
        case = {k.decode(): v.decode() for k, v in client.hgetall(name).items()}
        members = [m.decode() for m in client.lrange(name + ":flags", 0, -1)]
        assert int(case["flag_count"]) == len(members), case
        seen += members
    assert len(seen) == len(set(seen)), "a flag was added to a case twice"
    # A repeat hit within a rule's dedup window is kept and counted as suppressed, not added.
    suppressed = {k.decode() for k in client.hkeys("vigil:flag_suppressed")}
    assert not set(seen) & suppressed
    assert set(seen) | suppressed == flags


def wait_processed(stack: Stack, event_ids: set[str], timeout: float = 90) -> None:
    wait_until(lambda: event_ids <= stack.ledger(), timeout,
               message=f"{len(event_ids)} events in the processing ledger")


def wait_caught_up(stack: Stack, timeout: float = 60) -> None:
    topics = list(INPUT_TOPICS)
    wait_until(lambda: group_lag(stack.settings.kafka_bootstrap, stack.settings.app_id, topics) == 0,
               timeout, message="the worker to commit every input and flag")
