"""`vigil dead-letters`: a worker parks bad input; the listing says what and why; a replay sends
the originals that are valid now (once each, to their own topic) and refuses the others."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from detectors.examples import example_event
from pipeline.cli.main import app
from pipeline.kafka.publisher import Publisher
from schemas.topics import Topics
from tests.support.kafka import group_lag, read_topic
from tests.support.stack import Stack
from tests.support.traffic import flags_in_redis, wait_processed
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
runner = CliRunner()


def times_on_messages(bootstrap: str, event_id: str) -> int:
    return sum(event_id.encode() in r.value for r in read_topic(bootstrap, Topics.MESSAGES))


def test_dead_letters_are_listed_and_replayed_once_each_when_valid(
        stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", stack.settings.kafka_bootstrap)
    monkeypatch.setenv("REDIS_URL", stack.settings.redis_url)
    stack.start_worker()
    # A producer's bug: a valid message sent to the signups topic. Also a message missing its
    # text, and bytes that are not JSON.
    misrouted = example_event("message.sent", {"text": "pay me on venmo",
                                               "has_active_contract": False})
    missing = example_event("message.sent")
    del missing["payload"]["text"]
    with Publisher(stack.settings.kafka_bootstrap) as publisher:
        publisher.publish_raw(Topics.SIGNUPS, json.dumps(misrouted).encode(), key=b"u1")
        publisher.publish_raw(Topics.MESSAGES, json.dumps(missing).encode(), key=b"u1")
        publisher.publish_raw(Topics.MESSAGES, b"{not json", key=b"u1")
    bootstrap = stack.settings.kafka_bootstrap
    wait_until(lambda: len(read_topic(bootstrap, Topics.DEAD_LETTERS)) >= 3, 60,
               message="three dead letters")
    # The worker dead-letters an input again if it crashed before committing it: the same
    # letter twice, from the same origin.
    wrong_topic = next(r for r in read_topic(bootstrap, Topics.DEAD_LETTERS)
                       if json.loads(r.value)["kind"] == "wrong_topic")
    with Publisher(bootstrap) as publisher:
        publisher.publish_raw(Topics.DEAD_LETTERS, wrong_topic.value, key=wrong_topic.key)

    listed = runner.invoke(app, ["dead-letters", "list"])
    assert listed.exit_code == 0, listed.output
    assert "4 of 4 dead letter(s)" in listed.output
    assert "payload.text: required field is missing" in listed.output
    assert (f"message.sent belongs on {Topics.MESSAGES}, not on {Topics.SIGNUPS}"
            in listed.output)
    recent = runner.invoke(app, ["dead-letters", "list", "--since", "1h", "--kind", "bad_json"])
    assert "1 of 4 dead letter(s) received in the last 1h" in recent.output
    bad_span = runner.invoke(app, ["dead-letters", "list", "--since", "lately"])
    assert bad_span.exit_code == 2 and "--since" in bad_span.output
    as_json = runner.invoke(app, ["dead-letters", "list", "--kind", "bad_json", "--json"])
    assert [json.loads(line)["kind"] for line in as_json.stdout.splitlines()] == ["bad_json"]

    unchosen = runner.invoke(app, ["dead-letters", "replay"])
    assert unchosen.exit_code == 2 and "--kind KIND" in unchosen.output

    dry = runner.invoke(app, ["dead-letters", "replay", "--kind", "wrong_topic", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would publish 1 event(s) again; 0 still invalid; 1 repeat" in dry.output
    assert misrouted["event_id"] not in stack.ledger()

    refused = runner.invoke(app, ["dead-letters", "replay", "--kind", "invalid_field",
                                  "--kind", "bad_json"])
    assert refused.exit_code == 2
    assert "published 0 event(s) again; 2 still invalid" in refused.output
    assert "payload.text: required field is missing" in refused.output

    replayed = runner.invoke(app, ["dead-letters", "replay", "--kind", "wrong_topic"])
    assert replayed.exit_code == 0, replayed.output
    assert "published 1 event(s) again; 0 still invalid; 1 repeat" in replayed.output
    # Sent once, to the topic its type belongs on, and processed there: flagged.
    assert times_on_messages(bootstrap, misrouted["event_id"]) == 1
    wait_processed(stack, {misrouted["event_id"]})
    flags = [f for f in flags_in_redis(stack) if f["event_id"] == misrouted["event_id"]]
    assert [f["detector_id"] for f in flags] == ["message.off_platform_payment"]

    # Replaying again is harmless: processed again, no second flag or case.
    cases_before = int(stack.client.get("vigil:stats:cases_opened"))
    again = runner.invoke(app, ["dead-letters", "replay", "--all", "--topic", Topics.SIGNUPS])
    assert again.exit_code == 0 and "published 1 event(s) again" in again.output
    wait_until(lambda: times_on_messages(bootstrap, misrouted["event_id"]) == 2, 30,
               message="the second replay on the messages topic")
    wait_until(lambda: group_lag(bootstrap, stack.settings.app_id, [Topics.MESSAGES]) == 0, 60,
               message="the worker to commit the second replay")
    assert [f["event_id"] for f in flags_in_redis(stack)].count(misrouted["event_id"]) == 1
    assert int(stack.client.get("vigil:stats:cases_opened")) == cases_before
