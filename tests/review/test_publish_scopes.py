"""Who may publish what through ``POST /api/events``: service tokens scoped to event types and
producer names, consent changes for the consent scope only, a capped log of who published
what, and a per-token rate limit (a token bucket in Redis), on the embedded Redis."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator

import pytest
import redis as redis_lib
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from detectors.examples import example_event
from pipeline.review.web.app import create_app
from pipeline.settings import ReviewSettings
from tests.support.review import (
    USERS,
    FakeClock,
    FakePublisher,
    add_service,
    add_users,
    service_settings,
)
from tests.support.stack import Stack

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]

CONSENT = example_event("consent.changed", {"user_id": "u_victim", "ai_features": "opted_in"},
                        producer="consent")
REPORT = example_event("user_report.filed", {"target_id": "u_other"}, producer="reports")


def app_for(redis_url: str, publisher: FakePublisher, clock: FakeClock | None = None,
            **review: object):
    return create_app(service_settings(redis_url),
                      review=ReviewSettings(**review), publisher=lambda: publisher,
                      clock=clock or time.time, background=False)


@pytest.fixture
def published() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def client(redis_url: str, published: FakePublisher) -> Iterator[TestClient]:
    with TestClient(app_for(redis_url, published)) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_publishes_only_its_event_types_and_producer_names(
        client: TestClient, redis_url: str, published: FakePublisher) -> None:
    token = add_service(redis_url, "reports-svc", event_types=["user_report.filed"],
                        producers=["reports"])
    h = bearer(token)
    assert client.post("/api/events", headers=h, json=REPORT).status_code == 202
    message = client.post("/api/events", headers=h, json=example_event("message.sent"))
    assert message.status_code == 403 and message.json()["error"] == "forbidden"
    assert "message.sent" in message.json()["message"]
    assert "user_report.filed" in message.json()["message"]  # says what the token may publish
    other = client.post("/api/events", headers=h, json={**REPORT, "producer": "messaging"})
    assert other.status_code == 403 and "'messaging'" in other.json()["message"]
    assert [str(e.event_id) for e in published.published] == [REPORT["event_id"]]


def test_only_a_token_with_the_consent_scope_publishes_consent_changes(stack: Stack) -> None:
    redis_url = stack.settings.redis_url
    plain = add_users(redis_url, {"svc": "service"})["svc"]
    everything = add_service(redis_url, "all-svc", event_types=["*"])
    consent = add_service(redis_url, "consent-svc", event_types=["consent.changed"],
                          producers=["consent"])
    registry = redis_lib.Redis.from_url(redis_url)
    with TestClient(create_app(stack.settings, background=False)) as c:
        for token in (plain, everything):
            refused = c.post("/api/events", headers=bearer(token), json=CONSENT)
            assert refused.status_code == 403, refused.text
            assert "consent" in refused.json()["message"]
        assert registry.zcard("vigil:consent:u_victim") == 0  # nothing reached the registry
        sent = c.post("/api/events", headers=bearer(consent), json=CONSENT)
        assert sent.status_code == 202, sent.text
        assert registry.zcard("vigil:consent:u_victim") == 1
        # The consent scope is consent.changed only: it is not a master key.
        other = c.post("/api/events", headers=bearer(consent), json=REPORT)
        assert other.status_code == 403
        # Even the consent scope cannot date a change past the workers' clock bound: it would
        # outrank every real change made before its date.
        future = {**CONSENT, "event_id": "9b1c2d3e-0000-4000-8000-00000000f00d",
                  "occurred_at": "9999-01-01T00:00:00+00:00",
                  "payload": {**CONSENT["payload"], "changed_at": "9999-01-01T00:00:00+00:00"}}
        skewed = c.post("/api/events", headers=bearer(consent), json=future)
        assert skewed.status_code == 422 and skewed.json()["error"] == "clock_skew", skewed.text
        assert registry.zcard("vigil:consent:u_victim") == 1
        lead = add_users(redis_url, {"lena2": "lead"})["lena2"]
        [last, *_] = c.get("/api/ingest-log", headers=bearer(lead)).json()["items"]
        assert (last["event_id"], last["outcome"]) == (future["event_id"], "refused")
        assert "clock_skew" in last["reason"]


def test_tokens_made_before_scopes_keep_every_type_but_the_restricted_ones(
        client: TestClient, redis_url: str, published: FakePublisher) -> None:
    token = "vgl_" + "legacy" * 8
    digest = hashlib.sha256(token.encode()).hexdigest()
    r = redis_lib.Redis.from_url(redis_url)
    r.hset("vigil:auth:tokens", digest, "old-svc")  # a record as add-user wrote it before scopes
    r.hset("vigil:auth:users", "old-svc", json.dumps(
        {"name": "old-svc", "role": "service", "token_sha256": digest, "created_at": 1.0}))
    assert client.post("/api/events", headers=bearer(token), json=REPORT).status_code == 202
    assert client.post("/api/events", headers=bearer(token),
                       json={**REPORT, "producer": "anything"}).status_code == 202
    assert client.post("/api/events", headers=bearer(token), json=CONSENT).status_code == 403
    assert len(published.published) == 2


def test_the_ingest_log_records_who_published_what_for_leads(
        redis_url: str, published: FakePublisher) -> None:
    tokens = add_users(redis_url, USERS)
    with TestClient(app_for(redis_url, published, ingest_log_max=3)) as c:
        assert c.post("/api/events", headers=bearer(tokens["svc"]), json=REPORT).status_code == 202
        assert c.post("/api/events", headers=bearer(tokens["svc"]), json=CONSENT).status_code == 403
        log = c.get("/api/ingest-log", headers=bearer(tokens["lena"]))
        assert log.status_code == 200, log.text
        refused, accepted = log.json()["items"]
        assert (accepted["publisher"], accepted["event_id"], accepted["type"], accepted["producer"],
                accepted["outcome"]) == ("svc", REPORT["event_id"], "user_report.filed", "reports",
                                         "published")
        assert (refused["publisher"], refused["type"], refused["outcome"]) == (
            "svc", "consent.changed", "refused")
        assert "consent" in refused["reason"] and refused["subject_id"] == "u_victim"
        only = c.get("/api/ingest-log?outcome=refused", headers=bearer(tokens["lena"])).json()
        assert [e["type"] for e in only["items"]] == ["consent.changed"]
        for name in ("alice", "eve", "svc"):
            assert c.get("/api/ingest-log", headers=bearer(tokens[name])).status_code == 403
        for n in range(5):
            c.post("/api/events", headers=bearer(tokens["svc"]),
                   json=example_event("message.sent", {"text": f"hello {n}"}))
    assert redis_lib.Redis.from_url(redis_url).xlen("vigil:ingest_log") == 3  # capped


def test_ingest_is_rate_limited_per_token_with_retry_after(
        redis_url: str, published: FakePublisher, clock: FakeClock) -> None:
    assert ReviewSettings().ingest_rate > 0 and ReviewSettings().ingest_burst > 0  # on by default
    tokens = add_users(redis_url, {"svc": "service", "svc2": "service"})
    with TestClient(app_for(redis_url, published, clock, ingest_rate=0.5, ingest_burst=3)) as c:
        h = bearer(tokens["svc"])
        for n in range(3):
            assert c.post("/api/events", headers=h,
                          json=example_event("message.sent", {"text": f"m{n}"})).status_code == 202
        limited = c.post("/api/events", headers=h, json=REPORT)
        assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
        assert limited.headers["retry-after"] == "2"
        # Bad bodies count too: a flood of garbage is no cheaper than a flood of reports.
        assert c.post("/api/events", headers=h, content=b"{").status_code == 429
        assert c.post("/api/events", headers=bearer(tokens["svc2"]), json=REPORT).status_code == 202
        clock.advance(2)
        assert c.post("/api/events", headers=h, json=REPORT).status_code == 202
    assert len(published.published) == 5


def test_add_user_sets_a_service_tokens_scope_and_users_shows_it(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.cli.main import app

    monkeypatch.setenv("REDIS_URL", redis_url)
    runner = CliRunner()
    made = runner.invoke(app, ["review", "add-user", "consent-svc", "--role", "service",
                               "--event-types", "consent.changed", "--producers", "consent,cmp"])
    assert made.exit_code == 0, made.output
    runner.invoke(app, ["review", "add-user", "plain-svc", "--role", "service"])
    runner.invoke(app, ["review", "add-user", "maria", "--role", "lead"])
    listing = runner.invoke(app, ["review", "users"]).stdout.splitlines()
    assert "consent-svc\tservice\tevent types: consent.changed\tproducers: cmp,consent" in listing
    assert ("plain-svc\tservice\tevent types: * (every type but action.applied, action.failed, appeal.filed, consent.changed, erasure.requested)\tproducers: *"
            in listing)
    assert "maria\tlead" in listing
    for bad in (["analyst-x", "--role", "analyst", "--event-types", "message.sent"],
                ["svc-x", "--role", "service", "--event-types", "message.snt"],
                ["svc-y", "--role", "service", "--event-types", "review.decided"],
                ["svc-z", "--role", "service", "--producers", "bad name"]):
        refused = runner.invoke(app, ["review", "add-user", *bad])
        assert refused.exit_code == 2, (bad, refused.output)
    rotated = runner.invoke(app, ["review", "add-user", "consent-svc", "--role", "service",
                                  "--rotate"])
    assert rotated.exit_code == 0
    listing = runner.invoke(app, ["review", "users"]).stdout.splitlines()
    assert "consent-svc\tservice\tevent types: consent.changed\tproducers: cmp,consent" in listing


def test_an_event_about_an_erased_user_is_logged_under_their_pseudonym(
        client: TestClient, redis_url: str) -> None:
    from detectors.privacy import subject_pseudonym
    from pipeline.models.keys import ERASED

    pseudonym = subject_pseudonym("u_victim", service_settings(redis_url).model_key())
    redis_lib.Redis.from_url(redis_url).zadd(ERASED, {pseudonym: 1.0})
    token = add_service(redis_url, "reports-svc", event_types=["user_report.filed"],
                        producers=["reports"])
    about = example_event("user_report.filed", {"reporter_id": "u_victim"}, producer="reports",
                          subject_id="u_victim")
    assert client.post("/api/events", headers=bearer(token), json=about).status_code == 202
    assert client.post("/api/events", headers=bearer(token), json=REPORT).status_code == 202
    entries = [f[b"subject_id"].decode() for _, f in
               redis_lib.Redis.from_url(redis_url).xrange("vigil:ingest_log")]
    assert entries == [pseudonym, REPORT["subject_id"]] and "u_victim" not in entries
