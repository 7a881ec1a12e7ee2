"""What platform services send back through ``POST /api/events``: acknowledgements of actions and
appeals are the platform scope's (restricted), and the queue's refusals (an appeal of someone
else's decision, an acknowledgement of an action never published to that user) are 403s with
the reason, on the embedded Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from redis.asyncio import Redis

from detectors.examples import example_event
from pipeline.review.queue import ReviewQueue
from pipeline.review.web.app import create_app
from pipeline.settings import QueueSettings, ReviewSettings
from tests.support.flags import flag
from tests.support.review import FakePublisher, add_service, run_sync, service_settings

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]
PLATFORM_TYPES = ["action.applied", "action.failed", "appeal.filed"]


@pytest.fixture
def published() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def client(redis_url: str, published: FakePublisher) -> Iterator[TestClient]:
    app = create_app(service_settings(redis_url),
                     review=ReviewSettings(), publisher=lambda: published, clock=time.time,
                     background=False)
    with TestClient(app) as c:
        yield c


def decided(redis_url: str, user: str) -> dict:
    async def run() -> dict:
        redis = Redis.from_url(redis_url)
        try:
            queue = ReviewQueue(redis, QueueSettings())
            f, event = flag(user)
            case_id = (await queue.add_flag(f, event)).case_id
            await queue.claim(case_id, "ana")
            return (await queue.decide(case_id, "ana", "confirmed_fraud", policy_reason="spam",
                                       decision_id=f"dec-{user}",
                                       actions=[("warn", None)])).decision
        finally:
            await redis.aclose()
    return run_sync(run)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@pytest.mark.parametrize("event_type", PLATFORM_TYPES)
def test_platform_events_need_a_token_that_names_them(client: TestClient, redis_url: str,
                                                      event_type: str) -> None:
    token = add_service(redis_url, "any-svc")  # every type but the restricted ones
    event = example_event(event_type, occurred_at=now())
    refused = client.post("/api/events", headers={"Authorization": f"Bearer {token}"}, json=event)
    assert refused.status_code == 403
    assert "the platform scope" in refused.json()["message"]


def test_an_appeal_of_someone_elses_decision_is_refused_with_the_reason(
        client: TestClient, redis_url: str, published: FakePublisher) -> None:
    decision = decided(redis_url, "u1")
    token = add_service(redis_url, "appeals-svc", event_types=["appeal.filed"])
    h = {"Authorization": f"Bearer {token}"}
    forged = example_event("appeal.filed", {"decision_id": decision["decision_id"],
                                            "user_id": "u2"}, occurred_at=now())
    refused = client.post("/api/events", headers=h, json=forged)
    assert refused.status_code == 403
    assert "u2 is not the subject of decision dec-u1" in refused.json()["message"]
    unknown = example_event("appeal.filed", {"decision_id": "dec-none", "user_id": "u1"},
                            occurred_at=now())
    assert "there is no decision dec-none" in client.post(
        "/api/events", headers=h, json=unknown).json()["message"]
    own = example_event("appeal.filed", {"decision_id": decision["decision_id"], "user_id": "u1"},
                        occurred_at=now())
    assert client.post("/api/events", headers=h, json=own).status_code == 202
    assert [e.type for e in published.published] == ["appeal.filed"]


def test_an_acknowledgement_needs_an_action_published_to_that_user(
        client: TestClient, redis_url: str, published: FakePublisher) -> None:
    decision = decided(redis_url, "u1")
    [action] = decision["actions"]
    token = add_service(redis_url, "accounts-svc", event_types=["action.applied", "action.failed"])
    h = {"Authorization": f"Bearer {token}"}
    wrong_user = example_event("action.failed", {"action_id": action["action_id"],
                                                 "user_id": "u2"}, occurred_at=now())
    refused = client.post("/api/events", headers=h, json=wrong_user)
    assert refused.status_code == 403 and "was published to user u2" in refused.json()["message"]
    right = example_event("action.applied", {"action_id": action["action_id"], "user_id": "u1"},
                          occurred_at=now())
    assert client.post("/api/events", headers=h, json=right).status_code == 202
    assert [e.type for e in published.published] == ["action.applied"]


def test_the_api_refuses_wrong_actions_and_the_original_decider_of_an_appeal(
        client: TestClient, redis_url: str) -> None:
    from tests.support.enforcement import appeal
    from tests.support.review import add_users

    tokens = add_users(redis_url, {"ana": "analyst", "lena": "lead", "eve": "engineer"})

    def h(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[name]}"}

    async def open_one() -> str:
        redis = Redis.from_url(redis_url)
        try:
            f, event = flag("u7")
            return (await ReviewQueue(redis, QueueSettings()).add_flag(f, event)).case_id
        finally:
            await redis.aclose()
    case_id = run_sync(open_one)
    assert client.post(f"/api/cases/{case_id}/claim", headers=h("ana")).status_code == 200
    body = {"outcome": "confirmed_fraud", "policy_reason": "spam", "decision_id": "dec-api"}
    for actions, message in (([{"action": "teleport"}], "unknown action 'teleport'"),
                             ([{"action": "hide_proposal"}], "applies to proposal, not user"),
                             ([{"action": "restrict_messaging"}], "needs duration_days"),
                             ([{"action": "restrict_messaging", "duration_days": 91}],
                              "lasts 1 to 90 days, not 91")):
        refused = client.post(f"/api/cases/{case_id}/decision", headers=h("ana"),
                              json={**body, "actions": actions})
        assert refused.status_code == 422 and message in refused.json()["message"], refused.text
    bad_shape = client.post(f"/api/cases/{case_id}/decision", headers=h("ana"),
                            json={**body, "actions": [{"action": "ban", "duration_days": 0}]})
    assert bad_shape.status_code == 422
    done = client.post(f"/api/cases/{case_id}/decision", headers=h("ana"), json={
        **body, "actions": [{"action": "restrict_messaging", "duration_days": 30}]})
    assert done.status_code == 200, done.text

    async def file() -> str:
        redis = Redis.from_url(redis_url)
        try:
            return (await ReviewQueue(redis, QueueSettings()).file_appeal(
                appeal("dec-api", "u7", statement="call me at +1 415 555 0100"))).case_id
        finally:
            await redis.aclose()
    appeal_case = run_sync(file)
    listed = client.get("/api/cases?kind=appeal", headers=h("ana")).json()
    assert [c["case_id"] for c in listed["items"]] == [appeal_case]
    assert listed["items"][0]["original_decider"] == "ana"
    for who in ("ana",):
        refused = client.post(f"/api/cases/{appeal_case}/claim", headers=h(who))
        assert refused.status_code == 403
        assert "another reviewer must hear the appeal" in refused.json()["message"]
    moved = client.post(f"/api/cases/{appeal_case}/reassign", headers=h("lena"),
                        json={"analyst": "ana"})
    assert moved.status_code == 403
    detail = client.get(f"/api/cases/{appeal_case}", headers=h("lena")).json()
    assert detail["appeal"]["decision"]["decision_id"] == "dec-api"
    assert [a["action"] for a in detail["appeal"]["actions"]] == ["restrict_messaging"]
    original = client.get(f"/api/cases/{case_id}", headers=h("ana")).json()
    assert [(a["action"], a["state"]) for a in original["actions"]] == [("restrict_messaging", "pending")]
    masked = client.get(f"/api/cases/{appeal_case}", headers=h("eve")).json()
    assert "555 0100" not in json.dumps(masked) and masked["masked"] is True
