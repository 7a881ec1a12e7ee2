"""Platform actions reach ``tns.actions`` once per action id, however often a decision is
retried or the relay runs; read back with kafka-python (a client nobody on the project wrote)
and checked against the exported JSON Schema."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.review.web.app import create_app
from pipeline.settings import ReviewSettings
from schemas.actions import PlatformAction
from schemas.topics import Topics
from tests.support.flags import flag, seed
from tests.support.links import ring_case
from tests.support.review import add_users
from tests.support.stack import Stack
from tests.support.waiting import wait_until

pytest.importorskip("kafka", reason="kafka-python is in the dev extra: pip install -e '.[dev]'")
jsonschema = pytest.importorskip("jsonschema")
from kafka import KafkaConsumer  # noqa: E402

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]
SCHEMA = json.loads((Path(__file__).parents[2] / "schemas/json/platform_action.json").read_text())


def actions_on_topic(stack: Stack, expected: int) -> list[dict]:
    consumer = KafkaConsumer(Topics.ACTIONS, bootstrap_servers=stack.settings.kafka_bootstrap,
                             group_id=f"actions-reader-{time.monotonic_ns()}",
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=1500)
    records: list[dict] = []
    try:
        deadline = time.monotonic() + 30
        while len(records) < expected and time.monotonic() < deadline:
            records.extend(json.loads(r.value) for r in consumer)
        records.extend(json.loads(r.value) for r in consumer)  # and nothing after
    finally:
        consumer.close()
    return records


def test_a_retried_decision_publishes_each_action_once(stack: Stack) -> None:
    [case_id] = set(seed(stack.settings.redis_url, [flag("u1")]))
    tokens = add_users(stack.settings.redis_url, {"alice": "analyst"})
    h = {"Authorization": f"Bearer {tokens['alice']}"}
    body = {"outcome": "confirmed_fraud", "policy_reason": "payment_fraud",
            "decision_id": "dec-retried",
            "actions": [{"action": "suspend_account", "duration_days": 30},
                        {"action": "hold_payouts"}]}
    app = create_app(stack.settings, review=ReviewSettings(relay_interval=0.2, sample_interval=60))
    with TestClient(app) as c:
        assert c.post(f"/api/cases/{case_id}/claim", headers=h).status_code == 200
        first = c.post(f"/api/cases/{case_id}/decision", headers=h, json=body)
        assert first.status_code == 200, first.text
        ids = {a["action_id"] for a in first.json()["decision"]["actions"]}
        wait_until(lambda: not stack.client.hlen("vigil:outbox:actions:pending"), 20,
                   message="the relay publishing the actions")
        for _ in range(3):  # the analyst's browser retries; each relay round runs meanwhile
            again = c.post(f"/api/cases/{case_id}/decision", headers=h, json=body)
            assert again.json()["replayed"] is True
            time.sleep(0.3)
        detail = c.get(f"/api/cases/{case_id}", headers=h).json()
    records = actions_on_topic(stack, len(ids))
    assert Counter(r["action_id"] for r in records) == {i: 1 for i in ids}
    for record in records:
        jsonschema.validate(record, SCHEMA)
        action = PlatformAction.model_validate(record)
        assert action.subject_id == "u1" and action.decision_id == "dec-retried"
        assert action.statement is not None and action.statement.text
    assert {a["action_id"]: a["state"] for a in detail["actions"]} == {i: "pending" for i in ids}


def test_a_ring_decision_suspends_every_member_once(stack: Stack) -> None:
    case_id, members = ring_case(stack.settings.redis_url)
    tokens = add_users(stack.settings.redis_url, {"alice": "analyst"})
    h = {"Authorization": f"Bearer {tokens['alice']}"}
    body = {"outcome": "confirmed_fraud", "policy_reason": "fake_account",
            "decision_id": "dec-ring", "actions": [{"action": "suspend_account",
                                                    "duration_days": 90}]}
    app = create_app(stack.settings, review=ReviewSettings(relay_interval=0.2, sample_interval=60))
    with TestClient(app) as c:
        bad = c.post(f"/api/cases/{case_id}/ring-decision", headers=h,
                     json={**body, "actions": [{"action": "remove_job_post"}]})
        assert bad.status_code == 422 and "applies to job_post" in bad.json()["message"]
        for _ in range(2):
            assert c.post(f"/api/cases/{case_id}/ring-decision", headers=h,
                          json=body).status_code == 200
        wait_until(lambda: not stack.client.hlen("vigil:outbox:actions:pending"), 20,
                   message="the relay publishing the actions")
    records = actions_on_topic(stack, len(members))
    assert sorted(r["subject_id"] for r in records) == sorted(members)
    assert {r["action"] for r in records} == {"suspend_account"}
    assert len({r["action_id"] for r in records}) == len(members)
