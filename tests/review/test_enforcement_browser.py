"""Acting on the platform in a real browser (Playwright, Debian's chromium), against the embedded
broker and Redis: a ring's bulk decision with "suspend account" publishes one action per member;
an appeal reopens the decision for a second analyst (the first is refused), who reverses it, and
the reversal actions and the corrected label appear."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.review.queue import ReviewQueue
from pipeline.review.web.app import create_app
from pipeline.settings import ReviewSettings
from schemas.topics import Topics
from tests.support.browser import LiveServer, chromium
from tests.support.enforcement import appeal
from tests.support.flags import flag, seed
from tests.support.kafka import read_topic
from tests.support.links import ring_case
from tests.support.review import add_users, run_sync
from tests.support.stack import Stack
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
def live(stack: Stack) -> Iterator[LiveServer]:
    app = create_app(stack.settings, review=ReviewSettings(relay_interval=0.2, sample_interval=60))
    with LiveServer(app) as server:
        yield server


def log_in(page: Any, live: LiveServer, token: str) -> None:
    page.goto(f"{live.url}/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf"{live.url}/queue.*"))


def topic(stack: Stack, name: str) -> list[dict]:
    return [json.loads(r.value) for r in
            read_topic(stack.settings.kafka_bootstrap, name, idle=0.6)]


def test_a_ring_suspended_from_the_console_gets_one_action_per_member(
        browser: Any, live: LiveServer, stack: Stack) -> None:
    tokens = add_users(stack.settings.redis_url, {"alice": "analyst"})
    case_id, members = ring_case(stack.settings.redis_url)
    page = browser.new_page()
    try:
        log_in(page, live, tokens["alice"])
        page.goto(f"{live.url}/cases/{case_id}")
        page.select_option("#ring_policy_reason", "fake_account")
        page.check("#ring-act-suspend_account")
        page.select_option("#ring-days-suspend_account", "30")
        page.click("#ring-confirmed_fraud")
        page.wait_for_url(re.compile(rf".*/cases/{case_id}\?done=ring.*"))
        rows = page.locator("#platform-actions tbody tr")
        assert rows.count() == 1 and rows.first.get_attribute("data-action") == "suspend_account"
        assert "30 days" in rows.first.inner_text()
        wait_until(lambda: len(topic(stack, Topics.ACTIONS)) >= len(members), 30,
                   message="one action per member on tns.actions")
        published = topic(stack, Topics.ACTIONS)
        assert sorted(a["subject_id"] for a in published) == sorted(members)
        assert all(a["action"] == "suspend_account" and a["duration_days"] == 30
                   and a["statement"]["restriction"]["duration_days"] == 30 for a in published)
    finally:
        page.close()


def test_an_appeal_is_reversed_by_a_second_analyst_and_the_reversals_appear(
        browser: Any, live: LiveServer, stack: Stack) -> None:
    url = stack.settings.redis_url
    tokens = add_users(url, {"alice": "analyst", "bob": "analyst"})
    case_id, = seed(url, [flag("u1")])
    page = browser.new_page()
    try:
        log_in(page, live, tokens["alice"])
        page.goto(f"{live.url}/cases/{case_id}")
        page.click("#claim")
        page.check("#act-suspend_account")
        page.select_option("#days-suspend_account", "30")
        page.click("#decide-confirmed_fraud")  # no policy reason: refused, the choices kept
        assert "policy_reason" in page.inner_text(".error")
        assert page.is_checked("#act-suspend_account")
        assert page.input_value("#days-suspend_account") == "30"
        page.select_option("#days-suspend_account", "7")
        page.select_option("#policy_reason", "payment_fraud")
        page.click("#decide-confirmed_fraud")
        page.wait_for_url(re.compile(r".*/queue\?done=decided.*"))
        decision_id = stack.client.hget(f"vigil:case:{case_id}", "decision_id").decode()

        async def file() -> str:
            from redis.asyncio import Redis
            redis = Redis.from_url(url)
            try:
                return (await ReviewQueue(redis).file_appeal(appeal(decision_id, "u1"))).case_id
            finally:
                await redis.aclose()
        appeal_case = run_sync(file)

        page.goto(f"{live.url}/queue?kind=appeal")
        assert page.locator(f"tr[data-case-id='{appeal_case}']").count() == 1
        page.goto(f"{live.url}/cases/{appeal_case}")
        assert "by alice" in page.inner_text("#appeal")
        page.click("#claim")
        assert "another reviewer must hear the appeal" in page.inner_text(".error")
        page.context.clear_cookies()

        log_in(page, live, tokens["bob"])
        page.goto(f"{live.url}/cases/{appeal_case}")
        assert "suspend account" in page.inner_text("#appealed-actions")
        assert "message.off_platform_payment" in page.inner_text("#appealed-flags")
        page.click("#claim")
        page.click("#decide-legitimate")
        page.wait_for_url(re.compile(r".*/queue\?done=decided.*"))
        page.goto(f"{live.url}/cases/{appeal_case}")
        rows = page.locator("#platform-actions tbody tr")
        assert rows.first.get_attribute("data-action") == "reinstate_account"
        assert "legitimate" in page.inner_text("body")
        wait_until(lambda: any(a["kind"] == "reverse" for a in topic(stack, Topics.ACTIONS)), 30,
                   message="the reversal on tns.actions")
        labels = [d["payload"] for d in topic(stack, Topics.DECISIONS)]
        assert [(d["outcome"], d["analyst_id"]) for d in labels] == [
            ("confirmed_fraud", "alice"), ("legitimate", "bob")]
        assert labels[0]["event_ids"] == labels[1]["event_ids"]
        page.goto(f"{live.url}/cases/{case_id}")
        assert "reversed by" in page.inner_text("#platform-actions")
    finally:
        page.close()
