"""Every bad input gets a 4xx with a reason, never a 500: malformed ingest bodies, cursors Redis
refuses, oversized bodies, and a hypothesis fuzz of every API route's parameters and bodies,
which also checks that each answer's status is one the OpenAPI declares for the route."""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.examples import example_event
from pipeline.local.embedded import start_redis
from pipeline.review.web.app import create_app
from pipeline.settings import ReviewSettings
from tests.support.flags import flag, seed
from tests.support.review import USERS, FakePublisher, add_users, service_settings

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]


class Env(NamedTuple):
    client: TestClient
    tokens: dict[str, str]
    case_id: str
    csrf: str


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """One app for the module (hypothesis runs many examples per test) on a Redis of its own
    (the ``redis_url`` fixture flushes the shared one), with a lead logged in to the console."""
    server = start_redis(Path(tmp_path_factory.mktemp("fuzz-redis")), appendfsync="no")
    try:
        yield from _fuzz_env(server.url)
    finally:
        server.stop()


def _fuzz_env(url: str) -> Iterator[Env]:
    tokens = add_users(url, USERS)
    case_id, = seed(url, [flag("u1")])
    app = create_app(service_settings(url),
                     review=ReviewSettings(ingest_rate=1000, ingest_burst=100_000,
                                           login_failures_per_minute=1_000_000),
                     publisher=FakePublisher, background=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield Env(c, tokens, case_id, console_login(c, tokens["lena"]))


def console_login(client: TestClient, token: str) -> str:
    """Log in through the form; returns the session's CSRF token."""
    form = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert form is not None
    client.post("/login", data={"token": token, "csrf_token": form.group(1)})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/queue").text)
    assert csrf is not None
    return csrf.group(1)


def bearer(tokens: dict[str, str], name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[name]}"}


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) >= {"error", "message"} and body["message"], body
    return body  # type: ignore[no-any-return]


MALFORMED = {
    "deeply nested arrays": (b"[" * 20_000 + b"]" * 20_000, "too_deep"),
    "nesting past the depth limit": (b'{"a":' * 40 + b"1" + b"}" * 40, "too_deep"),
    "invalid UTF-8": (b'{"type": "message.sent", "x": "\xff\xfe"}', "bad_encoding"),
    "a very long digit string": (b'{"type": "message.sent", "n": ' + b"9" * 5000 + b"}",
                                 "number_too_long"),
    "a number past a double": (b'{"n": 1e999}', "number_out_of_range"),
    "NaN": (b'{"n": NaN}', "not_json"),
    "a lone surrogate": (b'{"t": "\\ud800"}', "bad_text"),
    "a duplicate key": (b'{"type": "message.sent", "type": "consent.changed"}', "duplicate_key"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_ingest_bodies_get_400_with_a_reason(
        fuzz_env: Env, name: str) -> None:
    client, tokens, _, _ = fuzz_env
    body, code = MALFORMED[name]
    answer = client.post("/api/events", content=body, headers={
        **bearer(tokens, "svc"), "Content-Type": "application/json"})
    assert problem(answer, 400)["error"] == code


def test_bodies_that_other_routes_cannot_read_get_400_with_a_reason(
        fuzz_env: Env) -> None:
    client, tokens, case_id, _ = fuzz_env
    h = {**bearer(tokens, "alice"), "Content-Type": "application/json"}
    for body, words in ((b'{"text": "\xff"}', "UTF-8"), (b"[" * 5000 + b"]" * 5000, "nested"),
                        (b'{"text": ' + b"1" * 5000 + b"}", "digits")):
        answer = client.post(f"/api/cases/{case_id}/notes", content=body, headers=h)
        assert words in problem(answer, 400)["message"]


def test_audit_cursors_redis_refuses_get_422(fuzz_env: Env
                                             ) -> None:
    client, tokens, _, _ = fuzz_env
    for cursor in ("0-0", "99999999999999999999-0", "1-18446744073709551616", "1-x", "١-١"):
        answer = client.get("/api/audit", params={"before": cursor},
                            headers=bearer(tokens, "lena"))
        assert "before" in problem(answer, 422)["message"], cursor
        log = client.get("/api/ingest-log", params={"before": cursor},
                         headers=bearer(tokens, "lena"))
        problem(log, 422)
    assert client.get("/api/audit?before=1-0", headers=bearer(tokens, "lena")).status_code == 200


def test_oversized_bodies_get_413_before_they_are_read_whole(redis_url: str) -> None:
    tokens = add_users(redis_url, USERS)
    case_id, = seed(redis_url, [flag("u1")])
    app = create_app(service_settings(redis_url),
                     review=ReviewSettings(ingest_max_bytes=2048), publisher=FakePublisher,
                     background=False)
    event = example_event("message.sent", {"text": "x" * 1500})
    with TestClient(app, raise_server_exceptions=False) as c:
        h = bearer(tokens, "svc")
        assert c.post("/api/events", headers=h, json=event).status_code == 202
        big = example_event("message.sent", {"text": "x" * 3000})
        assert problem(c.post("/api/events", headers=h, json=big), 413)["error"] == "oversized"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield json.dumps(big).encode()[:1500]
            yield json.dumps(big).encode()[1500:]

        chunked = c.post("/api/events", headers={**h, "Content-Type": "application/json"},
                         content=chunks())
        assert problem(chunked, 413)["error"] == "oversized"
        note = c.post(f"/api/cases/{case_id}/notes", headers=bearer(tokens, "alice"),
                      json={"text": "y" * 100_000})
        assert problem(note, 413)["error"] == "oversized"
        form = c.post("/login", data={"token": "z" * 100_000})
        assert form.status_code == 413


def test_the_openapi_declares_the_4xx_each_route_answers(
        fuzz_env: Env) -> None:
    client = fuzz_env.client
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        ("post", "/api/events"): {"400", "401", "403", "413", "422", "429", "503"},
        ("post", "/api/cases/{case_id}/claim"): {"401", "403", "404", "409", "422"},
        ("post", "/api/cases/{case_id}/notes"): {"400", "401", "403", "404", "413", "422"},
        ("get", "/api/audit"): {"401", "403", "422"},
        ("get", "/api/me"): {"401"},
    }
    for (method, path), codes in expected.items():
        declared = set(paths[path][method]["responses"])
        assert codes <= declared, (method, path, declared)
    # Every authenticated route can refuse a missing token; every one but /me is role-gated.
    for path, item in paths.items():
        for method, op in item.items():
            if op.get("security"):
                wanted = {"401"} if path == "/api/me" else {"401", "403"}
                assert wanted <= set(op["responses"]), (method, path, sorted(op["responses"]))
    problem_schema = paths["/api/events"]["post"]["responses"]["429"]["content"][
        "application/json"]["schema"]
    assert problem_schema["$ref"].endswith("/Problem")


# ---- the fuzz ----------------------------------------------------------------------------

TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=string.ascii_letters + string.digits + "_.:@-", min_size=1, max_size=20),
    st.sampled_from(["0-0", "1-0", "-1", "99999999999999999999999", "1e400", "NaN", "", " ",
                     "%00", "..", "user", "open", "c1", "message.off_platform_payment", "null"]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
CURSOR = st.one_of(st.sampled_from(["0-0", "00-0", "1-0", "18446744073709551616-0",
                                     "1-99999999999999999999", "-", "1-", "٣-٣"]), TEXT)
#: Values for the parameters whose names say what they hold; TEXT for the rest.
VALUES = {"before": CURSOR, "page": TEXT, "limit": TEXT, "offset": TEXT}
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                      st.text(max_size=30))
JSON = st.recursive(JSON_LEAF, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=12), kids, max_size=4)),
    max_leaves=20)
RAW = st.one_of(
    st.binary(max_size=300),
    st.integers(min_value=1, max_value=3000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=20, max_value=6000).map(lambda n: b'{"n": ' + b"7" * n + b"}"),
    st.sampled_from([b'{"text": "\xff"}', b"{", b'{"a": NaN}', b'"\\ud800"', b"\xef\xbb\xbf{}"]),
)


def _event_like() -> st.SearchStrategy[dict[str, Any]]:
    types = st.sampled_from(["message.sent", "consent.changed", "user_report.filed",
                             "review.decided", "user.signed_up"])
    return types.flatmap(lambda t: st.fixed_dictionaries(
        {}, optional={"producer": TEXT, "subject_id": TEXT, "schema_version": TEXT,
                      "occurred_at": TEXT, "extra": JSON}).map(
        lambda changes: {**example_event(t if t != "review.decided" else "message.sent"),
                         "type": t, **changes}))


BODY = st.one_of(JSON.map(lambda v: ("json", v)), RAW.map(lambda v: ("raw", v)),
                 _event_like().map(lambda v: ("json", v)),
                 st.fixed_dictionaries({}, optional={
                     "outcome": TEXT, "policy_reason": TEXT, "notes": TEXT, "decision_id": TEXT,
                     "text": TEXT, "analyst": TEXT, "entity_type": TEXT, "entity_id": TEXT,
                     "detector_id": TEXT, "duration_seconds": st.integers(), "reason": TEXT,
                 }).map(lambda v: ("json", v)))


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    schema = client.get("/openapi.json").json()
    return [(method, path, op) for path, item in schema["paths"].items()
            for method, op in item.items()]


def _fill(path: str, values: dict[str, str]) -> str:
    from urllib.parse import quote

    return re.sub(r"\{(\w+)\}", lambda m: quote(values.get(m.group(1), "x"), safe=""), path)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_api_route_answers_fuzzed_input_with_a_declared_4xx_not_a_500(
        fuzz_env: Env, data: st.DataObject) -> None:
    client, tokens, case_id, _ = fuzz_env
    method, path, op = data.draw(st.sampled_from(_operations(client)), label="operation")
    names = [p["name"] for p in op.get("parameters", [])]
    # Not "", "." or "..": the client resolves those into another path, which is no route's.
    segment = TEXT.filter(lambda v: v.strip() not in ("", ".", ".."))
    path_values = {n: data.draw(st.one_of(st.just(case_id), segment), label=n)
                   for n in re.findall(r"\{(\w+)\}", path)}
    query = data.draw(st.fixed_dictionaries({}, optional={
        name: VALUES.get(name, TEXT) for name in [*names, "junk"]}), label="query")
    who = data.draw(st.sampled_from([*USERS, None, "forged"]), label="who")
    headers: dict[str, Any] = bearer(tokens, who) if who in tokens else {}
    if who == "forged":  # any bytes a client can put in the header
        headers["Authorization"] = (data.draw(st.sampled_from(["Bearer ", "bearer ", ""])) +
                                    data.draw(st.text(st.characters(
                                        max_codepoint=255, exclude_characters="\r\n\x00"),
                                        max_size=60))).encode("latin-1")
    if data.draw(st.booleans(), label="idempotency header"):
        headers["Idempotency-Key"] = data.draw(TEXT.filter(str.isascii), label="key")
    kwargs: dict[str, Any] = {"params": query, "headers": headers}
    if method in ("post", "put", "patch"):
        kind, body = data.draw(BODY, label="body")
        if kind == "json":
            kwargs["content"] = json.dumps(body).encode()
        else:
            kwargs["content"] = body
        headers["Content-Type"] = "application/json"
    response = client.request(method.upper(), _fill(path, path_values), **kwargs)
    assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert body.get("error") and body.get("message"), body
        assert str(response.status_code) in op["responses"], (
            method, path, response.status_code, sorted(op["responses"]), body)


CONSOLE = ["/queue", "/cases/{case_id}", "/overview", "/audit", "/login"]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_console_pages_and_forms_answer_fuzzed_input_without_a_500(
        fuzz_env: Env, data: st.DataObject) -> None:
    client, tokens, case_id, csrf = fuzz_env
    page = data.draw(st.sampled_from(CONSOLE + ["/cases/{case_id}/{action}", "/logout"]))
    path = _fill(page, {"case_id": data.draw(st.one_of(st.just(case_id), TEXT)),
                        "action": data.draw(st.sampled_from(
                            ["claim", "release", "decide", "notes", "snooze", "reassign", "x"]))})
    query = data.draw(st.fixed_dictionaries({}, optional={
        name: VALUES.get(name, TEXT) for name in
        ["status", "severity", "sla", "sort", "page", "window", "before", "next", "done",
         "case", "detector", "claimed", "entity_type"]}))
    headers: dict[str, Any] = {}
    if data.draw(st.booleans(), label="forged cookie"):  # in place of the session's cookie
        cookie = data.draw(st.text(st.characters(min_codepoint=33, max_codepoint=255,
                                                 exclude_characters=";,"), max_size=80))
        name = data.draw(st.sampled_from(["vigil_session", "__Host-vigil_session",
                                          "vigil_login_csrf"]))
        headers["Cookie"] = f"{name}={cookie}".encode("latin-1")
    if page in CONSOLE[:-1] or page == "/login":
        response = client.get(path, params=query, headers=headers, follow_redirects=False)
    else:
        form = data.draw(st.fixed_dictionaries({"csrf_token": st.one_of(st.just(csrf), TEXT)}))
        form |= data.draw(st.dictionaries(st.sampled_from(
            ["outcome", "notes", "text", "detector_id", "duration_seconds",
             "reason", "analyst", "decision_id", "token", "next"]), TEXT, max_size=5))
        raw = data.draw(st.one_of(st.none(), st.binary(max_size=200)))
        response = (client.post(path, data=form, headers=headers, follow_redirects=False)
                    if raw is None else
                    client.post(path, content=raw, follow_redirects=False, headers={
                        **headers, "Content-Type": data.draw(st.sampled_from([
                            "application/x-www-form-urlencoded", "multipart/form-data",
                            "multipart/form-data; boundary=x", "text/plain"]))}))
    assert response.status_code < 500, (page, response.status_code, response.text[:300])


def test_console_cursors_redis_refuses_get_400(fuzz_env: Env) -> None:
    console_login(fuzz_env.client, fuzz_env.tokens["lena"])  # the fuzz may have logged out
    for cursor in ("0-0", "99999999999999999999-0", "1-18446744073709551616"):
        answer = fuzz_env.client.get("/audit", params={"before": cursor}, follow_redirects=False)
        assert answer.status_code == 400 and "cursor" in answer.text, cursor
    assert fuzz_env.client.get("/audit", params={"before": "1-0"}).status_code == 200
