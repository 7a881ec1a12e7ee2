"""The network view and ring cases over HTTP on a real Redis: a simulated shared-device ring
opens one case, its network comes back as a graph, and a bulk decision records one decision
(and one review.decided event) per member, once however often it is sent."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import redis as redis_lib
from fastapi.testclient import TestClient

from pipeline.review.web.app import create_app
from pipeline.settings import Settings
from tests.support.links import ring_case, simulated_ring
from tests.support.review import USERS, add_users

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture
def client(redis_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(redis_url=redis_url, kafka_bootstrap="127.0.0.1:9"), background=False)
    with TestClient(app) as c:
        yield c


def auth(tokens: dict[str, str], name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[name]}"}


def test_a_ring_has_one_case_and_its_network_is_the_ring(client: TestClient,
                                                        redis_url: str) -> None:
    tokens = add_users(redis_url, USERS)
    case_id, members = ring_case(redis_url)
    r = redis_lib.Redis.from_url(redis_url)
    assert r.zcard("vigil:queue") == 1
    assert client.get(f"/api/cases/{case_id}/network").status_code == 401
    assert client.get(f"/api/cases/{case_id}/network",
                      headers=auth(tokens, "svc")).status_code == 403
    assert client.get("/api/cases/case_nope/network",
                      headers=auth(tokens, "alice")).status_code == 404
    assert client.get(f"/api/cases/{case_id}/network?max_nodes=0",
                      headers=auth(tokens, "alice")).status_code == 422
    view = client.get(f"/api/cases/{case_id}/network", headers=auth(tokens, "alice")).json()
    assert view["center"] == members[0]
    assert sorted(n["user_id"] for n in view["nodes"]) == sorted(members)
    assert view["ring"]["members"] == members
    device_edges = [e for e in view["edges"] if "device" in e["kinds"]]
    assert len(device_edges) == 10  # every pair of the five shares the device
    assert {n["user_id"]: n["open_case"] for n in view["nodes"]}[members[0]] == case_id
    # Nothing raw is stored: the index holds keyed hashes, never the device id or the IP.
    raw = {ring_key.decode() for ring_key in r.scan_iter("vigil:links:*")}
    device = simulated_ring(5)[0]["payload"]["device_id"]
    assert raw and not any(device in k for k in raw)
    masked = client.get(f"/api/cases/{case_id}/network", headers=auth(tokens, "eve")).json()
    assert masked["masked"] is True and len(masked["nodes"]) == 5
    page = client.get(f"/api/cases/{case_id}", headers=auth(tokens, "alice"))
    assert page.status_code == 200


def test_a_bulk_decision_decides_each_member_once(client: TestClient, redis_url: str) -> None:
    tokens = add_users(redis_url, USERS)
    case_id, members = ring_case(redis_url)
    body = {"outcome": "confirmed_fraud", "policy_reason": "fake_account",
            "decision_id": "dec_ring_1"}
    refused = client.post(f"/api/cases/{case_id}/ring-decision", headers=auth(tokens, "eve"),
                          json=body)
    assert refused.status_code == 403
    bad = client.post(f"/api/cases/{case_id}/ring-decision", headers=auth(tokens, "alice"),
                      json={**body, "policy_reason": ""})
    assert bad.status_code == 422
    first = client.post(f"/api/cases/{case_id}/ring-decision", headers=auth(tokens, "alice"),
                        json=body)
    assert first.status_code == 200, first.text
    out = first.json()
    assert sorted(out["decisions"]) == sorted(members) and out["replayed"] == []
    assert len({d["case_id"] for d in out["decisions"].values()}) == 5
    assert all(d["outcome"] == "confirmed_fraud" and d["subject_id"] == m
               for m, d in out["decisions"].items())
    again = client.post(f"/api/cases/{case_id}/ring-decision", headers=auth(tokens, "alice"),
                        json=body)
    assert sorted(again.json()["replayed"]) == sorted(members)
    r = redis_lib.Redis.from_url(redis_url)
    # One review.decided event per member waits for the relay (background tasks are off here).
    events = [json.loads(v) for v in r.hvals("vigil:outbox:pending")]
    assert sorted(e["subject_id"] for e in events) == sorted(members)
    decided = {json.loads(d)["subject_id"] for m in members
               for d in r.lrange(f"vigil:subject_decisions:{m}", 0, -1)}
    assert decided == set(members)
    assert all(r.llen(f"vigil:subject_decisions:{m}") == 1 for m in members)
    view = client.get(f"/api/cases/{case_id}/network", headers=auth(tokens, "alice")).json()
    assert all(n["decisions"] == {"confirmed_fraud": 1} for n in view["nodes"])
    # A case that is not a ring's cannot be bulk-decided.
    other = next(d["case_id"] for m, d in out["decisions"].items() if m != members[0])
    not_ring = client.post(f"/api/cases/{other}/ring-decision", headers=auth(tokens, "alice"),
                           json={**body, "decision_id": "dec_ring_2"})
    assert not_ring.status_code == 422


def test_the_case_page_draws_the_ring_with_a_table(client: TestClient, redis_url: str) -> None:
    tokens = add_users(redis_url, USERS)
    case_id, members = ring_case(redis_url)
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"token": tokens["alice"], "csrf_token": csrf, "next": "/queue"})
    html = client.get(f"/cases/{case_id}").text
    assert html.count("<circle") == 5
    assert all(f'<tr data-user="{m}">' in html for m in members[1:])
    assert 'id="ring-decision"' in html
