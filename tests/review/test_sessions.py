"""Console sessions and the login form on the embedded Redis: a rotated or revoked token ends
its sessions at once, the login CSRF cookie cannot be planted by another origin, and failed
logins are audited (without the token) and throttled per client address and per user."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
import redis as redis_lib
from fastapi.testclient import TestClient

from pipeline.review.web.app import create_app
from pipeline.review.web.auth import UserStore
from pipeline.settings import ReviewSettings
from tests.support.review import FakeClock, add_users, run_sync, service_settings

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def make_app(redis_url: str, clock: FakeClock | None = None, **review: object):
    return create_app(service_settings(redis_url),
                      review=ReviewSettings(**review), clock=clock or time.time,
                      background=False)


def form_token(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert found is not None
    return found.group(1)


def log_in(client: TestClient, token: str, **headers: str):
    return client.post("/login", data={"token": token, "csrf_token": form_token(client)},
                       headers=headers, follow_redirects=False)


def rotate(redis_url: str, name: str, role: str) -> str:
    async def run() -> str:
        redis = redis_lib.asyncio.Redis.from_url(redis_url)
        try:
            return await UserStore(redis).add_user(name, role, rotate=True)
        finally:
            await redis.aclose()
    return run_sync(run)


def revoke(redis_url: str, name: str) -> None:
    async def run() -> None:
        redis = redis_lib.asyncio.Redis.from_url(redis_url)
        try:
            await UserStore(redis).revoke(name)
        finally:
            await redis.aclose()
    run_sync(run)


def audit_entries(redis_url: str) -> list[dict[str, str]]:
    entries = redis_lib.Redis.from_url(redis_url).xrange("vigil:audit")
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]


@pytest.fixture
def client(redis_url: str) -> Iterator[TestClient]:
    with TestClient(make_app(redis_url)) as c:
        yield c


def test_rotating_or_revoking_a_token_ends_its_console_sessions_at_once(
        client: TestClient, redis_url: str) -> None:
    tokens = add_users(redis_url, {"alice": "analyst", "bob": "analyst"})
    assert log_in(client, tokens["alice"]).status_code == 303
    assert client.get("/queue", follow_redirects=False).status_code == 200
    new = rotate(redis_url, "alice", "analyst")
    assert client.get("/queue", follow_redirects=False).status_code == 303  # to the login page
    assert redis_lib.Redis.from_url(redis_url).keys("vigil:session:*") == []  # and it is gone
    assert log_in(client, new).status_code == 303
    assert client.get("/queue", follow_redirects=False).status_code == 200
    with TestClient(make_app(redis_url)) as other:
        assert log_in(other, tokens["bob"]).status_code == 303
        revoke(redis_url, "bob")
        assert other.get("/queue", follow_redirects=False).status_code == 303
    assert client.get("/queue", follow_redirects=False).status_code == 200  # alice's is hers


def test_the_login_csrf_cookie_is_host_prefixed_in_secure_mode_and_no_other_is_read(
        redis_url: str) -> None:
    tokens = add_users(redis_url, {"alice": "analyst", "mallory": "analyst"})
    with TestClient(make_app(redis_url), base_url="https://review.test") as c:
        page = c.get("/login")
        cookie = [v for v in page.headers.get_list("set-cookie") if "login_csrf" in v][0]
        assert cookie.startswith("__Host-vigil_login_csrf=")
        for attribute in ("Secure", "Path=/;", "HttpOnly", "SameSite=strict"):
            assert attribute.lower() in cookie.lower() + ";", cookie
        assert "domain=" not in cookie.lower()
        # Another origin on the host tosses a plain-named cookie and posts a matching form.
        c.cookies.clear()
        c.cookies.set("vigil_login_csrf", "x" * 43, domain="review.test")
        tossed = c.post("/login", data={"token": tokens["mallory"], "csrf_token": "x" * 43},
                        follow_redirects=False)
        assert tossed.status_code == 403
        # A plain-named session cookie is not read in secure mode either.
        with TestClient(make_app(redis_url)) as plain:
            assert log_in(plain, tokens["mallory"]).status_code == 303
            planted = plain.cookies.get("vigil_session")
        c.cookies.clear()
        c.cookies.set("vigil_session", planted, domain="review.test")
        assert c.get("/queue", follow_redirects=False).status_code == 303
        assert log_in(c, tokens["alice"]).status_code == 303


def test_a_login_posted_from_another_origin_is_refused(client: TestClient,
                                                       redis_url: str) -> None:
    tokens = add_users(redis_url, {"alice": "analyst"})
    for origin in ("http://evil.example", "http://testserver:8443", "null"):
        refused = log_in(client, tokens["alice"], Origin=origin)
        assert refused.status_code == 403, origin
    assert log_in(client, tokens["alice"], **{"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert log_in(client, tokens["alice"], Origin="http://testserver").status_code == 303


def test_failed_logins_are_audited_without_the_token_and_throttled(
        redis_url: str, clock: FakeClock) -> None:
    tokens = add_users(redis_url, {"alice": "analyst", "svc": "service"})
    app = make_app(redis_url, clock, login_failures_per_minute=3)
    with TestClient(app, client=("198.51.100.7", 5000)) as c:
        wrong = "vgl_" + "w" * 43
        for _ in range(3):
            assert log_in(c, wrong).status_code == 401
        throttled = log_in(c, tokens["alice"])  # even a right token, from this address
        assert throttled.status_code == 429 and "Too many failed logins" in throttled.text
        assert int(throttled.headers["retry-after"]) == 20
        clock.advance(20)
        assert log_in(c, tokens["alice"]).status_code == 303
    failures = [e for e in audit_entries(redis_url) if e["action"] == "login_failed"]
    assert len(failures) == 3
    assert json.loads(failures[0]["details"]) == {"client": "198.51.100.7",
                                                  "reason": "unknown token"}
    dump = json.dumps(audit_entries(redis_url))
    assert wrong not in dump and wrong[4:20] not in dump and tokens["alice"] not in dump
    assert [e["actor"] for e in audit_entries(redis_url) if e["action"] == "login"] == ["alice"]


def test_failed_logins_are_throttled_per_user_across_addresses(redis_url: str,
                                                               clock: FakeClock) -> None:
    old = add_users(redis_url, {"alice": "analyst"})["alice"]
    new = rotate(redis_url, "alice", "analyst")
    app = make_app(redis_url, clock, login_failures_per_minute=3)
    for n in range(3):  # someone tries alice's old token from three addresses
        with TestClient(app, client=(f"203.0.113.{n}", 5000)) as c:
            assert log_in(c, old).status_code == 401
    with TestClient(app, client=("192.0.2.1", 5000)) as c:
        assert log_in(c, new).status_code == 429  # her account waits out the minute
        clock.advance(20)
        assert log_in(c, new).status_code == 303
    failures = [e for e in audit_entries(redis_url) if e["action"] == "login_failed"]
    assert {e["actor"] for e in failures} == {"alice"}
    assert json.loads(failures[0]["details"])["reason"] == "rotated or revoked token"
    with TestClient(app, client=("192.0.2.9", 5000)) as c:
        assert log_in(c, "vgl_" + "q" * 43).status_code == 401  # other users are not held up
