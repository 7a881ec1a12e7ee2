"""The review API and console over HTTP (FastAPI's TestClient) on a real Redis: roles, 401/403,
clear 4xx answers, OpenAPI, masking for engineers, sessions and CSRF."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import redis as redis_lib
from fastapi.testclient import TestClient
from redis.asyncio import Redis
from typer.testing import CliRunner

from detectors.examples import example_event
from pipeline.review.web.app import create_app
from schemas.topics import Topics
from tests.support.flags import flag, seed
from tests.support.kafka import read_topic
from tests.support.review import USERS, add_users, service_settings
from tests.support.stack import Stack
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]

PII_TEXT = "Pay me on venmo: ann.lee@example.com, +1 415 555 0199, from 203.0.113.7"


@pytest.fixture
def client(redis_url: str) -> Iterator[TestClient]:
    app = create_app(service_settings(redis_url), background=False)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def tokens(redis_url: str) -> dict[str, str]:
    return add_users(redis_url, USERS)


def auth(tokens: dict[str, str], name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[name]}"}


def login(client: TestClient, token: str) -> str:
    """Log in through the console form; returns the session's CSRF token."""
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = client.post("/login", data={"token": token, "csrf_token": csrf, "next": "/queue"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    queue = client.get("/queue")
    return re.search(r'name="csrf_token" value="([^"]+)"', queue.text).group(1)  # type: ignore[union-attr]


def test_requests_without_a_valid_token_get_401(client: TestClient, tokens: dict[str, str]) -> None:
    missing = client.get("/api/cases")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json() == {"error": "unauthenticated", "message": "send Authorization: Bearer <token>"}
    wrong = client.get("/api/cases", headers={"Authorization": "Bearer vgl_not-a-real-token"})
    assert wrong.status_code == 401 and "unknown" in wrong.json()["message"]
    assert client.get("/api/me", headers=auth(tokens, "alice")).json() == {"name": "alice", "role": "analyst"}


def test_each_role_can_do_only_its_own_things(client: TestClient, tokens: dict[str, str],
                                              redis_url: str) -> None:
    case_id, = seed(redis_url, [flag("u1")])
    cases = f"/api/cases/{case_id}"
    # Services publish only.
    assert client.get("/api/cases", headers=auth(tokens, "svc")).status_code == 403
    assert client.post(f"{cases}/claim", headers=auth(tokens, "svc")).status_code == 403
    # Engineers read (masked) but do not work cases.
    assert client.get(cases, headers=auth(tokens, "eve")).status_code == 200
    refused = client.post(f"{cases}/claim", headers=auth(tokens, "eve"))
    assert refused.status_code == 403 and refused.json()["message"] == "role engineer may not work cases"
    assert client.post(f"{cases}/notes", headers=auth(tokens, "eve"), json={"text": "x"}).status_code == 403
    assert client.post("/api/events", headers=auth(tokens, "alice"), json={}).status_code == 403
    # Analysts work cases but neither reassign nor read the audit log.
    assert client.post(f"{cases}/claim", headers=auth(tokens, "alice")).status_code == 200
    assert client.post(f"{cases}/reassign", headers=auth(tokens, "alice"),
                       json={"analyst": "bob"}).status_code == 403
    assert client.get("/api/audit", headers=auth(tokens, "alice")).status_code == 403
    # Leads do both.
    moved = client.post(f"{cases}/reassign", headers=auth(tokens, "lena"), json={"analyst": "bob"})
    assert moved.status_code == 200 and moved.json()["claimed_by"] == "bob"
    audit = client.get("/api/audit", headers=auth(tokens, "lena")).json()
    assert [e["action"] for e in audit["items"]] == ["reassign", "claim"]
    # Two analysts never work the same case.
    taken = client.post(f"{cases}/claim", headers=auth(tokens, "alice"))
    assert taken.status_code == 409 and "claimed by bob" in taken.json()["message"]


def test_invalid_input_gets_a_clear_4xx(client: TestClient, tokens: dict[str, str], redis_url: str) -> None:
    case_id, = seed(redis_url, [flag("u1")])
    h = auth(tokens, "alice")
    bad = client.get("/api/cases?severity=huge", headers=h)
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_request"
    assert bad.json()["message"].startswith("query.severity: Input should be 'low'")
    assert client.get("/api/cases?limit=0", headers=h).status_code == 422
    assert client.get("/api/cases/no_such_case", headers=h).status_code == 404
    assert client.post("/api/cases/no_such_case/claim", headers=h).json() == {
        "error": "not_found", "message": "no case no_such_case"}
    client.post(f"/api/cases/{case_id}/claim", headers=h)
    unknown = client.post(f"/api/cases/{case_id}/decision", headers=h, json={"outcome": "ban"})
    assert unknown.status_code == 422 and "outcome" in unknown.json()["message"]
    extra = client.post(f"/api/cases/{case_id}/decision", headers=h,
                        json={"outcome": "legitimate", "colour": "red"})
    assert extra.status_code == 422 and "colour: Extra inputs are not permitted" in extra.json()["message"]
    no_reason = client.post(f"/api/cases/{case_id}/decision", headers=h, json={"outcome": "confirmed_fraud"})
    assert no_reason.status_code == 422 and no_reason.json()["error"] == "invalid_decision"
    assert "policy_reason" in no_reason.json()["message"]
    not_json = client.post(f"/api/cases/{case_id}/notes", headers={**h, "Content-Type": "application/json"},
                           content=b"{nope")
    assert not_json.status_code == 422
    short = client.post("/api/snoozes", headers=h, json={
        "entity_type": "user", "entity_id": "u1", "detector_id": "message.off_platform_payment",
        "duration_seconds": 5})
    assert short.status_code == 422 and "duration_seconds" in short.json()["message"]


def test_claim_decide_and_paginate_over_the_api(client: TestClient, tokens: dict[str, str],
                                                redis_url: str) -> None:
    ids = seed(redis_url, [flag(f"u{n}") for n in range(7)])
    h = auth(tokens, "alice")
    first = client.get("/api/cases?limit=3", headers=h).json()
    assert first["total"] == 7 and len(first["items"]) == 3 and first["next_offset"] == 3
    rest = client.get("/api/cases?limit=10&offset=3", headers=h).json()
    assert rest["next_offset"] is None
    assert {c["case_id"] for c in first["items"] + rest["items"]} == set(ids)
    case_id = ids[0]
    assert client.post(f"/api/cases/{case_id}/claim", headers=h).json()["action"] == "claim"
    body = {"outcome": "confirmed_fraud", "policy_reason": "off_platform_payment", "notes": "venmo"}
    decided = client.post(f"/api/cases/{case_id}/decision", headers={**h, "Idempotency-Key": "k-1"}, json=body)
    assert decided.status_code == 200 and decided.json()["replayed"] is False
    again = client.post(f"/api/cases/{case_id}/decision", headers={**h, "Idempotency-Key": "k-1"}, json=body)
    assert again.json() == {**decided.json(), "replayed": True}
    assert client.get("/api/cases", headers=h).json()["total"] == 6
    closed = client.get("/api/cases?status=closed", headers=h).json()["items"]
    assert [c["case_id"] for c in closed] == [case_id] and closed[0]["outcome"] == "confirmed_fraud"
    note = client.post(f"/api/cases/{ids[1]}/notes", headers=h, json={"text": "looking"})
    assert note.status_code == 201
    assert client.get(f"/api/cases/{ids[1]}", headers=h).json()["notes"][0]["text"] == "looking"


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path in ("/api/cases", "/api/cases/{case_id}", "/api/cases/{case_id}/claim",
                 "/api/cases/{case_id}/release", "/api/cases/{case_id}/decision",
                 "/api/cases/{case_id}/notes", "/api/snoozes", "/api/cases/{case_id}/reassign",
                 "/api/audit", "/api/events"):
        assert path in schema["paths"], path
    assert "DecisionIn" in schema["components"]["schemas"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and '<script src="/static/docs.js">' in docs.text
    assert "<script>" not in docs.text  # no inline script, even here
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200


def test_engineers_see_personal_data_masked(client: TestClient, tokens: dict[str, str], redis_url: str) -> None:
    case_id, = seed(redis_url, [flag("u1", text=PII_TEXT, reason=f"Asked to move payment ({PII_TEXT})")])
    raw = client.get(f"/api/cases/{case_id}", headers=auth(tokens, "alice")).json()
    assert raw["events"][0]["payload"]["text"] == PII_TEXT
    masked = client.get(f"/api/cases/{case_id}", headers=auth(tokens, "eve")).json()
    dump = json.dumps(masked)
    for secret in ("ann.lee@example.com", "415 555 0199", "203.0.113.7"):
        assert secret not in dump
    assert masked["masked"] is True
    assert masked["events"][0]["payload"]["text"] == (
        "Pay me on venmo: a***@***.com, ***-**99, from ***.***.***.***")
    assert masked["case_id"] == case_id and masked["events"][0]["event_id"] == raw["events"][0]["event_id"]
    listing = client.get("/api/cases", headers=auth(tokens, "eve")).json()
    assert "ann.lee@example.com" not in json.dumps(listing)
    login(client, tokens["eve"])
    page = client.get(f"/cases/{case_id}")
    assert "ann.lee@example.com" not in page.text and "a***@***.com" in page.text


def test_console_posts_need_the_sessions_csrf_token(client: TestClient, tokens: dict[str, str],
                                                    redis_url: str) -> None:
    case_id, = seed(redis_url, [flag("u1")])
    csrf = login(client, tokens["alice"])
    forged = client.post(f"/cases/{case_id}/claim", data={}, follow_redirects=False)
    assert forged.status_code == 403 and "CSRF" in forged.text
    wrong = client.post(f"/cases/{case_id}/claim", data={"csrf_token": "x" * 43}, follow_redirects=False)
    assert wrong.status_code == 403
    assert client.get(f"/api/cases/{case_id}", headers=auth(tokens, "alice")).json()["claimed_by"] is None
    ok = client.post(f"/cases/{case_id}/claim", data={"csrf_token": csrf}, follow_redirects=False)
    assert ok.status_code == 303
    assert client.get(f"/api/cases/{case_id}", headers=auth(tokens, "alice")).json()["claimed_by"] == "alice"
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403


def test_login_needs_its_form_token_and_sets_a_strict_httponly_cookie(
        redis_url: str, tokens: dict[str, str]) -> None:
    app = create_app(service_settings(redis_url), background=False)
    with TestClient(app, base_url="https://review.test") as c:
        no_form_token = c.post("/login", data={"token": tokens["alice"]}, follow_redirects=False)
        assert no_form_token.status_code == 403
        page = c.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        assert c.post("/login", data={"token": "vgl_wrong", "csrf_token": csrf}).status_code == 401
        page = c.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        service = c.post("/login", data={"token": tokens["svc"], "csrf_token": csrf})
        assert service.status_code == 403 and "cannot use the console" in service.text
        page = c.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        ok = c.post("/login", data={"token": tokens["alice"], "csrf_token": csrf}, follow_redirects=False)
        cookie = [v for v in ok.headers.get_list("set-cookie") if "vigil_session=" in v][0]
        assert cookie.startswith("__Host-vigil_session=")
        for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
            assert attribute.lower() in cookie.lower(), cookie
        stored = redis_lib.Redis.from_url(redis_url).keys("vigil:session:*")
        assert len(stored) == 1 and cookie.split("=", 1)[1].split(".")[0] not in stored[0].decode()
        assert c.get("/queue").status_code == 200
        # A tampered signature is no session.
        c.cookies.set("__Host-vigil_session", cookie.split("=", 1)[1].split(";")[0][:-2] + "xx",
                      domain="review.test")
        assert c.get("/queue", follow_redirects=False).status_code == 303


def test_console_pages_send_a_strict_content_security_policy(client: TestClient, tokens: dict[str, str],
                                                             redis_url: str) -> None:
    case_id, = seed(redis_url, [flag("u1")])
    login(client, tokens["alice"])
    for path in ("/queue", f"/cases/{case_id}", "/overview", "/login"):
        response = client.get(path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp
        # The one script is the keyboard shortcuts' file, from /static (issue 19); none inline.
        scripts = re.findall(r"<script[^>]*>", response.text)
        assert all(tag == '<script src="/static/console.js" defer>' for tag in scripts), scripts
        assert "style=" not in response.text
    assert client.get("/queue?severity=huge").status_code == 400
    assert client.get("/audit").status_code == 403  # analysts do not see the audit log


def _sample(client: TestClient) -> None:
    """One round of the service's sampler (the tests' app runs no background tasks)."""
    client.portal.call(client.app.state.services.queue.record_sample)  # type: ignore[union-attr]


def test_metrics_expose_queue_gauges(client: TestClient, redis_url: str) -> None:
    seed(redis_url, [flag("u1", severity="critical"), flag("u2", severity="low")])
    _sample(client)  # /metrics serves what the sampler last read
    text = client.get("/metrics").text
    assert 'vigil_queue_depth{severity="critical"} 1.0' in text
    assert 'vigil_queue_depth{severity="low"} 1.0' in text
    assert "vigil_queue_oldest_age_seconds" in text and "vigil_sla_breached_cases" in text
    assert 'vigil_sla_breached_cases{severity="critical"} 0.0' in text


def test_the_sla_gauge_counts_the_open_cases_past_their_sla(client: TestClient,
                                                            redis_url: str) -> None:
    """By value, per severity: a gauge checked only by its name passes while always 0."""
    import time

    from pipeline.review.queue import ReviewQueue
    from pipeline.settings import QueueSettings
    from tests.support.review import run_sync

    async def open_cases_two_hours_ago() -> None:
        redis = Redis.from_url(redis_url)
        try:  # critical: due 1 h after opening, so breached by now; low: 72 h, not yet
            queue = ReviewQueue(redis, QueueSettings(), lambda: time.time() - 7200)
            for f, e in (flag("u1", severity="critical"), flag("u2", severity="critical"),
                         flag("u3", severity="low")):
                await queue.add_flag(f, e)
        finally:
            await redis.aclose()
    run_sync(open_cases_two_hours_ago)
    _sample(client)
    text = client.get("/metrics").text
    assert 'vigil_sla_breached_cases{severity="critical"} 2.0' in text
    assert 'vigil_sla_breached_cases{severity="low"} 0.0' in text
    age = float(re.search(r"^vigil_queue_oldest_age_seconds (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]
    assert 7100 < age < 7400


def test_a_scrape_reads_no_case_and_exports_the_services_own_metrics_only(
        client: TestClient, redis_url: str) -> None:
    seed(redis_url, [flag(f"u{i}") for i in range(5)])
    _sample(client)
    redis = redis_lib.Redis.from_url(redis_url)
    redis.config_resetstat()
    text = client.get("/metrics").text
    commands = {k for k in redis.info("commandstats") if k != "cmdstat_config"}
    assert commands <= {"cmdstat_info"}, f"a scrape ran Redis commands: {sorted(commands)}"
    # The worker's metrics are the workers' to export (vigil_rules_version 0 here made
    # VigilRulesVersionMismatch fire after every deploy).
    for worker_metric in ("vigil_rules_version", "vigil_events_total", "vigil_consumer_lag{"):
        assert worker_metric not in text, worker_metric
    # Every outcome's series exists from the start, not from its first decision (increase()
    # needs two samples; other tests in this process may have decided cases already).
    for outcome in ("confirmed_fraud", "legitimate", "escalate"):
        assert f'vigil_decisions_total{{outcome="{outcome}"}} ' in text


def test_add_user_prints_a_token_once_and_stores_only_its_hash(redis_url: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.cli.main import app

    monkeypatch.setenv("REDIS_URL", redis_url)
    result = CliRunner().invoke(app, ["review", "add-user", "maria", "--role", "lead"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("vgl_") and len(token) > 40
    dump = json.dumps({k.decode(): {f.decode(): v.decode() for f, v in
                                    redis_lib.Redis.from_url(redis_url).hgetall(k).items()}
                       for k in redis_lib.Redis.from_url(redis_url).keys("vigil:auth:*")})
    assert token not in dump
    again = CliRunner().invoke(app, ["review", "add-user", "maria", "--role", "lead"])
    assert again.exit_code == 2 and "--rotate" in again.output
    bad = CliRunner().invoke(app, ["review", "add-user", "x y", "--role", "boss"])
    assert bad.exit_code == 2


def test_services_publish_valid_events_through_the_ingest_endpoint(stack: Stack) -> None:
    tokens = add_users(stack.settings.redis_url, {"svc": "service"})
    app = create_app(stack.settings, background=False)
    event = example_event("message.sent", {"text": "hello there"})
    with TestClient(app) as c:
        h = auth(tokens, "svc")
        sent = c.post("/api/events", headers=h, json=event)
        assert sent.status_code == 202 and sent.json() == {"event_id": event["event_id"],
                                                           "topic": Topics.MESSAGES}
        missing = json.loads(json.dumps(event))
        del missing["payload"]["text"]
        invalid = c.post("/api/events", headers=h, json=missing)
        assert invalid.status_code == 422 and invalid.json()["message"] == "payload.text: required field is missing"
        label = {"event_id": "0b8a3f0e-8a8e-4b5e-9a53-6d0c8f1f00aa", "type": "review.decided",
                 "schema_version": "1.0", "occurred_at": "2026-01-05T10:00:00Z",
                 "producer": "not-review", "subject_id": "u1",
                 "payload": {"decision_id": "d1", "case_id": "c1", "entity_type": "user",
                             "entity_id": "u1", "outcome": "legitimate", "event_ids": [],
                             "analyst_id": "a"}}
        huge = c.post("/api/events", headers={**h, "Content-Type": "application/json"},
                      content=b"{" + b" " * 70_000 + b"}")
        assert huge.status_code == 413 and huge.json()["error"] == "oversized"
        forged = c.post("/api/events", headers=h, json=label)
        assert forged.status_code == 403 and "review service only" in forged.json()["message"]
    wait_until(lambda: read_topic(stack.settings.kafka_bootstrap, Topics.MESSAGES, idle=0.5), 20,
               message="the published event")
    values = [json.loads(r.value) for r in read_topic(stack.settings.kafka_bootstrap, Topics.MESSAGES, idle=0.5)]
    assert [v["event_id"] for v in values] == [event["event_id"]]


def test_the_unlearning_status_says_up_to_when_each_model_excludes_every_erasure(
        client: TestClient, tokens: dict[str, str], redis_url: str) -> None:
    from pipeline.models.keys import ERASED, UNLEARNING

    direct = redis_lib.Redis.from_url(redis_url)
    direct.zadd(ERASED, {"anon_a": 1_767_600_000.0, "anon_b": 1_767_700_000.0})
    direct.hset(UNLEARNING, "message.scam_counts_model", json.dumps(
        {"excluded_up_to": 1_767_600_000.0, "at": 1_767_600_030.0, "method": "exact",
         "forgotten": 3, "version": 9}))
    rows = {r["model"]: r for r in
            client.get("/api/models/unlearning", headers=auth(tokens, "alice")).json()["models"]}
    counts = rows["message.scam_counts_model"]
    assert counts["excluded_up_to"] == 1_767_600_000.0 and counts["pending"] == 1
    assert counts["summary"].startswith(
        "excluded all erasures and withdrawals up to 2026-01-05T08:00:00Z (exact")
    assert rows["message.scam_model"]["pending"] == 2  # never unlearned yet: both wait
    assert client.get("/api/models/unlearning").status_code == 401
