"""The network view and ring cases over HTTP on a real Redis: a simulated shared-device ring
opens one case once two of its accounts are confirmed fraud, its network (device and payout
fingerprint) comes back as a graph, and a bulk decision records one decision (and one
review.decided event) per member, once however often it is sent."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import redis as redis_lib
from fastapi.testclient import TestClient

from pipeline.review.web.app import create_app
from tests.support.links import ring_case, simulated_ring
from tests.support.review import USERS, add_users, service_settings

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture
def client(redis_url: str) -> Iterator[TestClient]:
    app = create_app(service_settings(redis_url), background=False)
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
    assert view["ring"]["members"] == members and view["ring"]["confirmed"] == members[1:3]
    device_edges = [e for e in view["edges"] if "device" in e["kinds"]]
    assert len(device_edges) == 10  # every pair of the five shares the device
    payout_edges = [e for e in view["edges"] if "payment" in e["kinds"]]
    assert len(payout_edges) == 10  # and the payout fingerprint
    decided = {n["user_id"]: n["decisions"] for n in view["nodes"]}
    assert [m for m in members if decided[m]] == members[1:3]
    flag = next(f for f in client.get(f"/api/cases/{case_id}", headers=auth(tokens, "alice"))
                .json()["flags"] if f["detector_id"] == "link.shared_device_ring")
    assert flag["evidence"]["confirmed"] == members[1:3]
    assert flag["event_type"] == "review.decided"  # the second confirmation completed it
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
    # One review.decided event per member waits for the relay (background tasks are off
    # here), beside the two confirmations that made the ring.
    events = [json.loads(v) for v in r.hvals("vigil:outbox:pending")]
    assert sorted(e["subject_id"] for e in events) == sorted(members + members[1:3])
    decided = {json.loads(d)["subject_id"] for m in members
               for d in r.lrange(f"vigil:subject_decisions:{m}", 0, -1)}
    assert decided == set(members)
    assert [r.llen(f"vigil:subject_decisions:{m}") for m in members] == [1, 2, 2, 1, 1]
    view = client.get(f"/api/cases/{case_id}/network", headers=auth(tokens, "alice")).json()
    assert {n["user_id"]: n["decisions"] for n in view["nodes"]} == {
        m: {"confirmed_fraud": 2 if m in members[1:3] else 1} for m in members}
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
    assert "ring of 5 accounts on one device, 2 confirmed fraud" in html
    assert all(f'<tr data-user="{m}">' in html for m in members[1:])
    assert 'id="ring-decision"' in html
