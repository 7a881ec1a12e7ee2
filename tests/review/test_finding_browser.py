"""Issue 19's console in Debian's chromium (Playwright): search finds a case by e-mail, the queue
and case pages have no horizontal overflow at 390 px, keyboard shortcuts claim, decide and take
the next case, and a note typed before a validation error is still there. One server and one
browser for the module; each test seeds its own cases (``redis_url`` flushes Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from detectors.examples import example_event
from pipeline.review.web.app import create_app
from tests.support.browser import LiveServer, chromium
from tests.support.flags import flag, flag_for, seed
from tests.support.review import add_users, service_settings

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture(scope="module")
def live(redis_server: Any) -> Iterator[LiveServer]:
    app = create_app(service_settings(redis_server.url),
                     background=False)
    with LiveServer(app) as server:
        yield server


def logged_in(browser: Any, live: LiveServer, redis_url: str, **page: Any) -> Any:
    tokens = add_users(redis_url, {"alice": "analyst"})
    tab = browser.new_page(**page)
    tab.goto(f"{live.url}/login")
    tab.fill("#token", tokens["alice"])
    tab.click("button[type=submit]")
    tab.wait_for_url(f"{live.url}/queue")
    return tab


def signup_flag(user: str, email: str) -> tuple[Any, dict]:
    event = example_event("user.signed_up", {"user_id": user, "email": email,
                                             "ip": "198.51.100.23", "device_id": f"dev_{user}"},
                          event_id=str(uuid.uuid4()), subject_id=user)
    return flag_for(event, detector="user.disposable_email", severity="medium"), event


def test_search_finds_a_case_by_email(browser: Any, live: LiveServer, redis_url: str) -> None:
    wanted, _other = seed(redis_url, [signup_flag("u_mail", "Mia.Stone@example.net"),
                                      signup_flag("u_else", "someone@example.org")])
    page = logged_in(browser, live, redis_url)
    try:
        page.fill("#search-q", "mia.stone@EXAMPLE.net")
        page.press("#search-q", "Enter")
        page.wait_for_url(f"{live.url}/search?q=*")
        assert [r.get_attribute("data-case-id") for r in page.locator("tr.case-row").all()] == [wanted]
    finally:
        page.close()


def test_queue_and_case_pages_do_not_scroll_sideways_at_390px(
        browser: Any, live: LiveServer, redis_url: str) -> None:
    long = "x" * 300
    case_id, _ = seed(redis_url, [flag("u_narrow", severity="critical",
                                       text=f"pay me on venmo {long}"), flag("u_two")])
    page = logged_in(browser, live, redis_url, viewport={"width": 390, "height": 844})
    try:
        widths = {}
        for path in ("/queue", f"/cases/{case_id}", f"/search?q={case_id}"):
            page.goto(live.url + path)
            widths[path] = page.evaluate("document.documentElement.scrollWidth")
        assert all(w <= 390 for w in widths.values()), widths
        assert page.locator("tr.case-row").first.is_visible()
    finally:
        page.close()


def test_keyboard_shortcuts_claim_decide_and_take_the_next_case(
        browser: Any, live: LiveServer, redis_url: str) -> None:
    first, second = seed(redis_url, [flag("u_k1", severity="critical"),
                                     flag("u_k2", severity="low")])
    page = logged_in(browser, live, redis_url)
    try:
        page.goto(f"{live.url}/cases/{first}")
        page.keyboard.press("c")  # claim
        page.wait_for_url(f"{live.url}/cases/{first}?done=claim")
        assert page.inner_text("#claim-holder").startswith("alice")
        page.fill("#notes", "typed, then l: the key belongs to the field")
        assert page.url.endswith("?done=claim")  # the l typed into notes decided nothing
        page.locator("body").click(position={"x": 1, "y": 1})
        page.keyboard.press("l")  # decide: legitimate
        page.wait_for_url(f"{live.url}/queue?done=decided&case={first}")
        page.keyboard.press("n")  # claim the next case and open it
        page.wait_for_url(f"{live.url}/cases/{second}?done=claimed")
        assert page.inner_text("#claim-holder").startswith("alice")
    finally:
        page.close()


def test_a_note_survives_a_validation_error(browser: Any, live: LiveServer, redis_url: str) -> None:
    case_id, = seed(redis_url, [flag("u_note")])
    page = logged_in(browser, live, redis_url)
    try:
        page.goto(f"{live.url}/cases/{case_id}")
        page.click("#claim")
        page.wait_for_url(f"{live.url}/cases/{case_id}?done=claim")
        note = "Asked for Venmo twice; see message 2 — keep this"
        page.fill("#notes", note)
        page.click("#decide-confirmed_fraud")  # no policy reason: refused
        assert "policy_reason" in page.inner_text(".error")
        assert page.input_value("#notes") == note
        page.select_option("#policy_reason", "off_platform_payment")
        page.click("#decide-confirmed_fraud")
        page.wait_for_url(f"{live.url}/queue?done=decided&case={case_id}")
    finally:
        page.close()
