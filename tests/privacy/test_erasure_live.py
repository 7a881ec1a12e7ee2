"""Erasure on the real embedded stack, end to end (issue 20's "done when").

A person (:mod:`tests.support.person`) signs up, opts in, posts, writes (one message is a scam
and is flagged), proposes and reports, among simulated traffic; an analyst notes and decides
their case. A privacy service's token publishes ``erasure.requested`` through the review API.
Then every Redis key name and value is scanned for the person's id, e-mail, IP, device id and
texts, and their case pages and the audit log are read through the API: nothing is found; the
records the policy keeps carry the pseudonym, each family listed as kept in the audit entry.

The tests set ``VIGIL_ERASURE_SETTLE`` to 3 s (default 30 s) so the second pass comes sooner;
everything else runs with the defaults.
"""

from __future__ import annotations

import json
import os
import signal
from datetime import datetime

import httpx
import pytest

from detectors.privacy import subject_pseudonym
from pipeline.local.embedded import free_port
from pipeline.models.keys import APPLIED, ERASED
from pipeline.privacy.erasure import DONE, PENDING
from pipeline.privacy.inventory import entry_for_key
from pipeline.settings import DEVELOPMENT_HASH_KEY
from tests.support.labelling import publish
from tests.support.metrics import scrape, total
from tests.support.person import (
    OTHER,
    PERSON,
    USER,
    _id,
    dump,
    erasure_request,
    events,
    leftovers,
)
from tests.support.review import add_service, add_users
from tests.support.stack import Stack, with_settings
from tests.support.traffic import simulated, wait_caught_up, wait_processed
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
PSEUDONYM = subject_pseudonym(USER, DEVELOPMENT_HASH_KEY.encode())


def a_person_with_a_case(stack: Stack, *, background: int = 1200) -> dict:
    """Traffic with the person in it, their case noted and decided; returns the API handles."""
    stack.start_worker()
    traffic = simulated(background, seed=5, fraud_rate=0.2)
    middle = traffic[len(traffic) // 2]["occurred_at"].replace("Z", "+00:00")
    mine = events(datetime.fromisoformat(middle))
    publish(stack, traffic[:background // 2] + mine + traffic[background // 2:])
    wait_processed(stack, {e["event_id"] for e in traffic + mine})
    wait_caught_up(stack)
    tokens = add_users(stack.settings.redis_url, {"ana": "analyst", "lena": "lead"})
    privacy = add_service(stack.settings.redis_url, "privacy",
                          event_types=["erasure.requested"], producers=["privacy"])
    port = free_port()
    stack.start_review(port)
    base = f"http://127.0.0.1:{port}"
    analyst = httpx.Client(base_url=base, timeout=30,
                           headers={"Authorization": f"Bearer {tokens['ana']}"})
    cases = analyst.get("/api/cases", params={"entity_id": USER, "limit": 50}).json()["items"]
    assert cases, "the person's scam message opened no case"
    case_id = cases[0]["case_id"]
    assert analyst.post(f"/api/cases/{case_id}/claim").status_code == 200
    note = f"{USER} wrote from {PERSON.email} on device {PERSON.device_id}"
    assert analyst.post(f"/api/cases/{case_id}/notes", json={"text": note}).status_code == 201
    decided = analyst.post(f"/api/cases/{case_id}/decision",
                           json={"outcome": "confirmed_fraud",
                                 "policy_reason": "off_platform_payment"})
    assert decided.status_code == 200, decided.text
    wait_until(lambda: stack.client.scard(APPLIED) > 0, 90,
               message="the learner to learn the decision")
    found = leftovers(stack.client)
    # The person is all over the stores before: the scan below can find them.
    families = {entry_for_key(k).family for k in found if entry_for_key(k)}
    assert {"case", "case notes", "flagged event", "user feature windows", "consent history",
            "model inputs awaiting a label", "decision", "audit log"} <= families, families
    publisher = add_service(stack.settings.redis_url, "messages")
    return {"base": base, "analyst": analyst, "privacy": privacy, "lead": tokens["lena"],
            "publisher": publisher, "case_ids": [c["case_id"] for c in cases]}


def request_erasure(handles: dict, request_id: str = "dsr_7") -> None:
    published = httpx.post(f"{handles['base']}/api/events", json=erasure_request(request_id),
                           headers={"Authorization": f"Bearer {handles['privacy']}"}, timeout=30)
    assert published.status_code in (200, 202), published.text


def exported(handles: dict, token: str | None = None) -> httpx.Response:
    return httpx.get(f"{handles['base']}/api/privacy/users/{USER}", timeout=60,
                     headers={"Authorization": f"Bearer {token or handles['privacy']}"})


def assert_the_export_is_complete(stack: Stack, handles: dict) -> None:
    """Every key an independent scan (redis-py, every key and value) finds the person in is in
    their export, in the family the inventory gives it; and only the privacy scope reads it."""
    found = leftovers(stack.client)
    export = exported(handles)
    assert export.status_code == 200, export.text
    body = export.json()
    shown = {r["key"]: family for family, rs in body["records"].items() for r in rs}
    assert set(found) <= set(shown), sorted(set(found) - set(shown))
    for key in found:
        assert shown[key] == entry_for_key(key).family
    assert {PERSON.email, PERSON.ip, PERSON.device_id} <= set(body["identifiers"])
    [case] = [r for r in body["records"]["case"] if r["key"] == f"vigil:case:{handles['case_ids'][0]}"]
    assert USER in json.dumps(case["value"])
    assert body["records"]["consent history"][0]["value"]  # what they chose, and when
    assert body["models"]["inputs_learned"], "the models learned from their consented data"
    assert {t["topic"] for t in body["kafka"]} >= {"marketplace.messages", "tns.decisions"}
    for other in (handles["lead"], handles["publisher"]):
        assert exported(handles, other).status_code == 403
    assert found_by_search(handles), "their case is found by their user id"


def found_by_search(handles: dict) -> list[str]:
    """The cases an analyst finds by the person's id, e-mail, IP or device (the search index)."""
    found = []
    for q, kind in ((USER, "user"), (PERSON.email, "email"), (PERSON.ip, "ip"),
                    (PERSON.device_id, "device")):
        page = handles["analyst"].get("/api/search", params={"q": q, "kind": kind})
        assert page.status_code == 200, page.text
        found += [c["case_id"] for c in page.json()["items"]]
    return found


def erasure_audits(stack: Stack) -> list[dict]:
    return [json.loads(fields[b"details"]) for _, fields in stack.client.xrange("vigil:audit")
            if fields.get(b"action") == b"privacy.erase"]


def assert_nothing_left_but_the_kept_records(stack: Stack, handles: dict) -> None:
    assert leftovers(stack.client) == {}
    assert not stack.client.hexists(PENDING, PSEUDONYM)  # the raw id went with the request
    [audit] = erasure_audits(stack)
    assert audit["subject"] == PSEUDONYM and audit["requested_by"] == "privacy-desk:jo"
    # Every record that still speaks of the person (under their pseudonym) is of a family the
    # audit entry lists as kept, and says why.
    kept = set(audit["kept"])
    speaking = {key for key, text in dump(stack.client).items()
                if PSEUDONYM in key or PSEUDONYM in text} - {ERASED, DONE, "vigil:audit"}
    families = {entry_for_key(k).family for k in speaking}
    assert families <= kept, families - kept
    assert {"case", "decision", "case notes"} <= families
    # What analysts see: the case pages and the audit log through the API.
    lead = {"Authorization": f"Bearer {handles['lead']}"}
    pages = [handles["analyst"].get(f"/api/cases/{c}").text for c in handles["case_ids"]]
    pages.append(httpx.get(f"{handles['base']}/api/audit", headers=lead, timeout=30).text)
    pages.append(handles["analyst"].get("/api/cases", params={"limit": 200}).text)
    for page in pages:
        assert not [n for n in PERSON.needles if n in page]
    assert PSEUDONYM in pages[0]
    assert found_by_search(handles) == []  # the kept case no longer links back to them
    # On disk: Redis's append-only file, rewritten when the erasure finished.
    wait_until(lambda: stack.client.info("persistence")["aof_rewrite_in_progress"] == 0, 60,
               message="the append-only file's rewrite")
    on_disk = b"".join(p.read_bytes() for p in (stack.state_dir / "redis").rglob("*") if p.is_file())
    assert on_disk and not [n for n in PERSON.needles if n.encode() in on_disk]


def late_event_and_marker(stack: Stack) -> None:
    """A message from the erased user published after the erasure, then one from someone else."""
    from detectors.examples import example_event
    late = example_event("message.sent", {"sender_id": USER, "recipient_id": OTHER,
                                          "message_id": "msg_forget_late", "text": PERSON.texts[0],
                                          "has_active_contract": False},
                         event_id=_id("late"), subject_id=USER)
    marker = example_event("message.sent", {"sender_id": OTHER, "recipient_id": "usr_z",
                                            "message_id": "msg_marker", "text": "hello"},
                           event_id=_id("marker"), subject_id=OTHER)
    publish(stack, [late, marker])
    wait_processed(stack, {marker["event_id"]})


def test_an_erased_user_leaves_nothing_but_the_pseudonymised_records_the_policy_keeps(
        stack: Stack) -> None:
    port = free_port()
    with_settings(stack, erasure_settle=3.0, metrics_port=port)
    handles = a_person_with_a_case(stack)
    assert_the_export_is_complete(stack, handles)
    bystander_before = stack.client.zcard(f"vigil:f:user:{OTHER}:events")
    request_erasure(handles)
    wait_until(lambda: stack.client.hexists(DONE, PSEUDONYM), 120, message="the erasure")
    assert_nothing_left_but_the_kept_records(stack, handles)
    after = exported(handles).json()
    assert after["erasure"]["status"] == "erased" and not after["identifiers"]
    assert not [n for n in PERSON.needles if n in json.dumps(after["records"])]
    # Someone else's data stays: the bystander's own feature windows are theirs.
    assert stack.client.zcard(f"vigil:f:user:{OTHER}:events") == bystander_before > 0

    # The late-event rule: an event about the erased user is dropped and counted; a request
    # sent again (same request id) is not erased twice.
    request_erasure(handles)
    late_event_and_marker(stack)
    assert leftovers(stack.client) == {}
    assert len(erasure_audits(stack)) == 1
    samples, _ = scrape(port)
    assert total(samples, "vigil_events_of_erased_users_total") >= 1
    assert samples['vigil_erasures_total{stage="done"}'] == 1


def test_a_worker_killed_mid_erasure_ends_the_same_way(stack: Stack) -> None:
    with_settings(stack, erasure_settle=3.0)
    handles = a_person_with_a_case(stack, background=800)
    request_erasure(handles)

    def started() -> bool:  # the first pass found the person's identifiers and is erasing
        raw = stack.client.hget(PENDING, PSEUDONYM)
        return raw is not None and bool(json.loads(raw)["identifiers"])
    wait_until(started, 60, interval=0.02, message="the first erasure pass to start")
    first = stack.workers[0]
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert not stack.client.hexists(DONE, PSEUDONYM)
    stack.start_worker("worker-2")
    wait_until(lambda: stack.client.hexists(DONE, PSEUDONYM), 120,
               message="the erasure, resumed by the next worker")
    assert_nothing_left_but_the_kept_records(stack, handles)
