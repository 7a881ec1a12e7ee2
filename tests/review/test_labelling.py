"""Labelling cases on a real Redis: their own index and kind, no SLA, idempotent by event, a
model's daily budget spent in the script; their decisions publish review.decided as any case's,
and count the random sample's events once for the estimates; precision per detector."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from detectors.sampling import Sample
from pipeline.review.queue import NOT_A_DETECTION, ReviewQueue
from pipeline.review.queue.labelling import budget_key
from pipeline.review.web.app import create_app
from pipeline.settings import ReviewSettings
from schemas.decode import decode_event_obj
from tests.support.flags import flag_for, message_event
from tests.support.review import USERS, FakeClock, add_users, service_settings

pytestmark = pytest.mark.integration


def sampled(event: dict[str, Any], reason: str = "random", p: float = 0.01,
            model: str | None = None, fired: tuple[str, ...] = ()) -> tuple[Any, Sample, list[str]]:
    envelope = decode_event_obj(event)
    sample = Sample(envelope.id, envelope.type, envelope.occurred_at.date().isoformat(), reason,
                    p, model, {"message.scam_model": 0.4}, fired)
    return envelope, sample, []


async def decide(queue: ReviewQueue, case_id: str, outcome: str) -> dict[str, Any]:
    await queue.claim(case_id, "alice")
    reason = "spam" if outcome == "confirmed_fraud" else ""
    return (await queue.decide(case_id, "alice", outcome, policy_reason=reason)).decision


async def test_a_sample_opens_a_labelling_case_outside_the_detection_queue(
        queue: ReviewQueue) -> None:
    event = message_event("u7", "the second draft is attached")
    (result,) = await queue.add_samples([sampled(event)], budget=10)
    assert result.status == "opened" and result.case_id.startswith("lab_")
    stats = await queue.queue_stats()
    assert stats["open"] == 0 and sum(stats["depth"].values()) == 0  # detections only
    assert (await queue.list_cases())[1] == 0
    (case,), total = await queue.list_cases(kind="labelling")
    assert total == 1 and case["kind"] == "labelling" and case["sla_state"] == "none"
    assert case["due_at"] is None and NOT_A_DETECTION in case["top_reason"]
    detail = await queue.case_detail(result.case_id)
    assert detail["samples"][0]["reason"] == "random"
    assert detail["samples"][0]["inclusion_probability"] == 0.01
    assert detail["events"][0]["event_id"] == event["event_id"]  # the analyst sees the message


async def test_a_redelivered_sample_opens_nothing_and_spends_nothing_twice(
        queue: ReviewQueue) -> None:
    event = message_event("u7", "the draft")
    pick = sampled(event, reason="cold_start", p=1.0, model="message.scam_model")
    first = await queue.add_samples([pick], budget=10)
    again = await queue.add_samples([pick], budget=10)
    assert [r.status for r in first + again] == ["opened", "duplicate"]
    assert first[0].spent == 1 and again[0].case_id == first[0].case_id
    day = pick[1].day
    assert int(await queue.redis.get(budget_key("message.scam_model", day))) == 1
    assert (await queue.list_cases(kind="labelling"))[1] == 1


async def test_a_models_day_is_spent_in_the_script(queue: ReviewQueue) -> None:
    picks = [sampled(message_event("u8", f"draft {i}"), reason="uncertainty", p=1.0,
                     model="message.scam_model") for i in range(5)]
    results = await queue.add_samples(picks, budget=3)
    assert [r.status for r in results] == ["opened"] * 3 + ["budget"] * 2
    assert [r.spent for r in results] == [1, 2, 3, 3, 3]


async def test_a_random_sample_of_a_flagged_event_joins_its_flag_case(queue: ReviewQueue) -> None:
    event = message_event("u9", "pay me via venmo")
    flag = flag_for(event)
    case_id = (await queue.add_flag(flag, event)).case_id
    envelope, sample, _ = sampled(event, fired=(flag.detector_id,))
    pick = sampled(event, reason="cold_start", p=1.0, model="message.scam_model")
    (linked,) = await queue.add_samples([(envelope, sample, [flag.flag_id])], budget=10)
    assert linked.status == "linked" and linked.case_id == case_id
    assert (await queue.list_cases(kind="labelling"))[1] == 0
    other = message_event("u9", "pay me via venmo too")
    other_flag = flag_for(other)
    await queue.add_flag(other_flag, other)
    (needless,) = await queue.add_samples([(pick[0], pick[1], [other_flag.flag_id])], budget=10)
    assert needless.status in ("flagged", "duplicate")


async def test_deciding_labelling_cases_publishes_decisions_and_counts_the_estimates_once(
        queue: ReviewQueue, clock: FakeClock) -> None:
    fraud = [message_event(f"u{i}", f"fraud {i}") for i in range(3)]
    fine = [message_event(f"v{i}", f"fine {i}") for i in range(7)]
    results = await queue.add_samples([sampled(e, p=0.1) for e in fraud + fine], budget=10)
    for result, event in zip(results, fraud + fine):
        decision = await decide(queue, result.case_id,
                                "confirmed_fraud" if event in fraud else "legitimate")
        assert decision["event_ids"] == [event["event_id"]]
    pending = await queue.outbox_pending()
    assert len(pending) == 10
    assert {json.loads(e)["payload"]["event_ids"][0] for e in pending.values()} == {
        e["event_id"] for e in fraud + fine}
    estimates = await queue.estimates()
    prevalence = estimates["prevalence"]["message.sent"]
    assert prevalence["value"] == pytest.approx(0.3) and prevalence["decided"] == 10
    assert prevalence["low"] < 0.3 < prevalence["high"]
    assert estimates["labelling_decided"] == {"confirmed_fraud": 3, "legitimate": 7}
    assert (await queue.queue_stats())["decisions"] == {}  # detection decisions only


async def test_a_flag_cases_decision_counts_its_random_sample_and_each_detectors_precision(
        queue: ReviewQueue) -> None:
    caught = message_event("u1", "pay me via venmo")
    flag = flag_for(caught)
    case_id = (await queue.add_flag(flag, caught)).case_id
    envelope, sample, _ = sampled(caught, p=0.5, fired=(flag.detector_id,))
    await queue.add_samples([(envelope, sample, [flag.flag_id])], budget=10)
    missed = message_event("u2", "send the fee first")
    (labelling,) = await queue.add_samples([sampled(missed, p=0.5)], budget=10)
    await decide(queue, case_id, "confirmed_fraud")
    await decide(queue, labelling.case_id, "confirmed_fraud")
    estimates = await queue.estimates()
    recall = {r["detector"]: r for r in estimates["recall"]}
    assert recall[flag.detector_id]["value"] == pytest.approx(0.5)
    assert recall["any"]["value"] == pytest.approx(0.5)
    assert estimates["precision"][flag.detector_id]["confirmed"] == 1
    assert estimates["precision"][flag.detector_id]["value"] == 1.0


async def test_escalated_labelling_cases_stay_out_of_the_detection_figures(
        queue: ReviewQueue) -> None:
    (result,) = await queue.add_samples([sampled(message_event("u3", "hm"))], budget=10)
    await decide(queue, result.case_id, "escalate")
    assert (await queue.queue_stats())["escalated"] == 0
    assert (await queue.list_cases(status="escalated", kind="labelling"))[1] == 1
    assert (await queue.estimates())["prevalence"] == {}  # not final: not counted


def test_the_api_filters_labelling_cases_and_the_console_has_their_tab(redis_url: str) -> None:
    import asyncio

    from redis.asyncio import Redis

    async def seed() -> str:
        redis = Redis.from_url(redis_url)
        try:
            queue = ReviewQueue(redis)
            (result,) = await queue.add_samples([sampled(message_event("u4", "hello"))], budget=5)
            return result.case_id
        finally:
            await redis.aclose()

    case_id = asyncio.run(seed())
    tokens = add_users(redis_url, USERS)
    app = create_app(service_settings(redis_url), review=ReviewSettings(), background=False)
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {tokens['alice']}"}
        detections = client.get("/api/cases", headers=auth).json()
        labelling = client.get("/api/cases?kind=labelling", headers=auth).json()
        assert detections["total"] == 0 and labelling["total"] == 1
        assert labelling["items"][0]["kind"] == "labelling"
        assert client.get(f"/api/cases/{case_id}", headers=auth).json()["samples"]
        assert client.get("/api/cases?kind=nonsense", headers=auth).status_code == 422
        assert "prevalence" in client.get("/api/estimates", headers=auth).json()
        login = client.get("/login")
        csrf = login.text.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/login", data={"token": tokens["alice"], "csrf_token": csrf})
        page = client.get("/queue?kind=labelling")
        assert page.status_code == 200 and "Sampled for labelling, not detections" in page.text
        assert case_id in page.text and "no SLA" in page.text
        case_page = client.get(f"/cases/{case_id}")
        assert "Sampled for labelling, not a detection" in case_page.text
        assert "Honest estimates" in client.get("/overview").text


def test_the_demo_says_how_many_flags_came_from_models_and_shows_one_explained(
        redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from redis.asyncio import Redis

    from pipeline.cli.models import print_model_flags

    print_model_flags(redis_url)
    assert "flags from models: 0 of 0" in capsys.readouterr().out  # and says why none

    event = message_event("u5", "pay the deposit by whatsapp first")
    model_flag = flag_for(event, detector="message.scam_model", reason="scam message score 0.97",
                          evidence={"mode": "supervised", "state_version": "1.40",
                                    "top_features": [{"feature": "w:deposit", "value": 1.0,
                                                      "contribution": 2.5}]})

    async def add() -> None:
        redis = Redis.from_url(redis_url)
        try:
            await ReviewQueue(redis).add_flag(model_flag, event)
        finally:
            await redis.aclose()

    asyncio.run(add())
    print_model_flags(redis_url)
    said = " ".join(capsys.readouterr().out.split())
    assert "flags from models: 1 of 1 (message.scam_model 1)" in said
    assert "scam message score 0.97" in said and "w:deposit" in said
