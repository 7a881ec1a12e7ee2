"""Issue 19 on the embedded stack: a user report about a message joins the case of the user who
wrote it (with the message shown), a report before the message opens a case for the message,
and the author's history (timeline) holds every event type with the consent state of each."""

from __future__ import annotations

import uuid
from datetime import timedelta

from redis.asyncio import Redis

from detectors.examples import example_event
from pipeline.review.queue import ReviewQueue
from tests.support.labelling import consent, hours_ago, message, publish
from tests.support.review import run_sync
from tests.support.stack import Stack
from tests.support.traffic import wait_processed


def report(target_id: str, n: int, target_type: str = "message") -> dict:
    return example_event("user_report.filed", {
        "reporter_id": "u_reporter", "target_type": target_type, "target_id": target_id,
        "reason": "scam"}, event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"rep:{target_id}:{n}")),
        subject_id="u_reporter")


def cases(stack: Stack) -> dict[str, dict]:
    """Every open case, by entity, as the case page reads it (timeline included)."""
    async def run() -> dict[str, dict]:
        redis = Redis.from_url(stack.settings.redis_url)
        try:
            queue = ReviewQueue(redis)
            items, _ = await queue.list_cases(kind="detection", limit=200)
            out = {}
            for item in items:
                case = await queue.case_detail(item["case_id"])
                case["timeline"] = await queue.timeline(case["subject_id"])
                out[case["entity"]] = case
            return out
        finally:
            await redis.aclose()
    return run_sync(run)


def test_a_report_joins_the_authors_case_and_the_timeline_shows_their_events(stack: Stack) -> None:
    stack.start_worker()
    early = report("m2", 1)  # about a message the worker has not seen yet
    publish(stack, [early])
    wait_processed(stack, {early["event_id"]})
    # u_auth opts in, sends two messages, opts out; then both messages are reported.
    first = message("u_auth", "Hello, happy to help with your logo", 1,
                    at=hours_ago(2), contract=True, name="join")
    second = message("u_auth", "Thanks for the brief", 2,
                     at=hours_ago(2) + timedelta(minutes=5), contract=True, name="join")
    events = [consent("u_auth", "opted_in", hours_ago(3)), first, second,
              consent("u_auth", "opted_out", hours_ago(1))]
    publish(stack, events)
    wait_processed(stack, {e["event_id"] for e in events})
    later = [report("m1", 2), report("m2", 3)]
    publish(stack, later)
    wait_processed(stack, {e["event_id"] for e in later})

    found = cases(stack)
    # The early report had no author to join: a case for the message itself, which stays; its
    # subject (consent, earlier decisions, the decision's subject) is the author once known.
    assert found["message:m2"]["subject_id"] == "u_auth"
    assert found["message:m2"]["reported_content"] == []
    case = found["user:u_auth"]
    assert case["entity_type"] == "user" and case["subject_id"] == "u_auth"
    assert case["report_count"] == 2
    assert [c["target_id"] for c in case["reported_content"]] == ["m1", "m2"]
    assert all(c["author"] == "u_auth" for c in case["reported_content"])
    shown = {e["event_id"]: e for e in case["events"]}
    assert shown[first["event_id"]]["payload"]["text"] == first["payload"]["text"]
    assert case["consent"] is not None  # looked up for the author, not for a message id
    # The timeline: newest first, every type, consent state as of each event.
    timeline = [(e["type"], e["consent"]) for e in case["timeline"]]
    assert timeline == [("consent.changed", "opted_out"), ("message.sent", "opted_in"),
                        ("message.sent", "opted_in"), ("consent.changed", "opted_in")]
    assert "text" not in str(case["timeline"])  # the history keeps no message text
