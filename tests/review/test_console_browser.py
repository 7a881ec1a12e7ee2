"""The console in a real browser: Playwright driving Debian's chromium, headless.

Needs /usr/bin/chromium (Debian package ``chromium``); skipped with that message where it is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.review.web.app import create_app
from tests.support.browser import LiveServer, chromium
from tests.support.flags import flag, seed
from tests.support.review import add_users, service_settings

HOSTILE = ('<script>window.__vigil_xss = 1</script><img src="x" id="injected-img" '
           'onerror="window.__vigil_xss = 2"><b id="injected-b">bold</b> & pay me on venmo')

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
def live(redis_url: str) -> Iterator[LiveServer]:
    app = create_app(service_settings(redis_url), background=False)
    with LiveServer(app) as server:
        yield server


def log_in(page: Any, live: LiveServer, token: str) -> None:
    page.goto(f"{live.url}/queue")
    assert page.url.startswith(f"{live.url}/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/queue")


def test_an_analyst_logs_in_claims_decides_and_the_case_leaves_the_queue(
        browser: Any, live: LiveServer, redis_url: str) -> None:
    tokens = add_users(redis_url, {"alice": "analyst"})
    first, second = seed(redis_url, [flag("u1", severity="critical"), flag("u2", severity="medium")])
    page = browser.new_page()
    try:
        log_in(page, live, tokens["alice"])
        rows = page.locator("tr.case-row")
        assert rows.count() == 2
        assert rows.first.get_attribute("data-case-id") == first  # critical first
        page.click(f"a[href='/cases/{first}']")
        page.wait_for_url(f"{live.url}/cases/{first}")
        page.click("#claim")
        page.wait_for_url(f"{live.url}/cases/{first}?done=claim")
        assert page.inner_text("#claim-holder").startswith("alice")
        # Confirmed fraud without a policy reason is refused with a message.
        page.click("#decide-confirmed_fraud")
        assert "policy_reason" in page.inner_text(".error")
        page.select_option("#policy_reason", "off_platform_payment")
        page.fill("#notes", "asked for Venmo before the contract")
        page.click("#decide-confirmed_fraud")
        page.wait_for_url(f"{live.url}/queue?done=decided&case={first}")
        assert "Decision recorded" in page.inner_text(".notice")
        assert [r.get_attribute("data-case-id") for r in page.locator("tr.case-row").all()] == [second]
        page.goto(f"{live.url}/queue?status=closed")
        assert page.locator(f"tr[data-case-id='{first}']").count() == 1
    finally:
        page.close()


def test_script_and_html_in_a_message_render_as_inert_text(
        browser: Any, live: LiveServer, redis_url: str) -> None:
    tokens = add_users(redis_url, {"alice": "analyst"})
    case_id, = seed(redis_url, [flag("u1", text=HOSTILE, reason=f"Asked to pay off platform ({HOSTILE})")])
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        log_in(page, live, tokens["alice"])
        assert HOSTILE[:60] in page.inner_text("td.reason")  # the queue shows it as text
        page.goto(f"{live.url}/cases/{case_id}")
        assert page.inner_text("pre.text") == HOSTILE
        assert HOSTILE in page.inner_text("td.reason")
        page.wait_for_timeout(300)  # give an injected onerror handler the chance to run
        assert page.evaluate("typeof window.__vigil_xss") == "undefined"
        for selector in ("#injected-b", "#injected-img", "main script", "img"):
            assert page.locator(selector).count() == 0, selector
        assert dialogs == []
    finally:
        page.close()


def test_long_unbroken_text_wraps_and_never_widens_the_case_page(
        browser: Any, live: LiveServer, redis_url: str) -> None:
    tokens = add_users(redis_url, {"lena": "lead"})
    word = "W" * 5000
    case_id, = seed(redis_url, [flag("u1", text=word, reason=f"reason {word}")])
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        log_in(page, live, tokens["lena"])
        page.goto(f"{live.url}/cases/{case_id}")
        page.click("#claim")
        page.wait_for_url(f"{live.url}/cases/{case_id}?done=claim")
        page.fill("textarea[name=text]", word)  # a note
        page.click("form[action$='/notes'] button[type=submit]")
        page.wait_for_url(f"{live.url}/cases/{case_id}?done=noted")
        page.fill("input[name=reason]", word[:500])  # a snooze reason
        page.click("form[action$='/snooze'] button[type=submit]")
        page.wait_for_url(f"{live.url}/cases/{case_id}?done=snoozed")
        page.click("#claim")  # renew, to decide with long notes
        page.fill("#notes", word)
        page.click("#decide-escalate")
        page.wait_for_url(f"{live.url}/cases/{case_id}?done=escalated")
        assert page.locator("blockquote p").first.inner_text() == word
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], widths
        for page_path in ("/queue?status=escalated", "/audit"):
            page.goto(f"{live.url}{page_path}")
            widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert widths[0] <= widths[1], (page_path, widths)
    finally:
        page.close()


#: A message whose bidi override would show "today ships 54321" reversed, with a zero-width
#: space inside "paypal" and a Cyrillic а in "PаyPal".
DISGUISED = ("Great, pay\u200bpal or P\u0430yPal first. Order \u202e12345 ships today\u202c "
             "thanks")
#: Each character's left edge, in the order the text is written (text nodes only: markers are
#: elements), for a selector's first match.
CHAR_LEFTS = """(selector) => {
  const root = document.querySelector(selector), out = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.classList.contains("hidden-char")) continue;
    for (let i = 0; i < node.length; i++) {
      const range = document.createRange();
      range.setStart(node, i); range.setEnd(node, i + 1);
      const rect = range.getBoundingClientRect();
      out.push([node.data[i], rect.left, rect.top]);
    }
  }
  return out;
}"""


def test_invisible_characters_show_as_markers_and_an_override_does_not_reverse_the_text(
        browser: Any, live: LiveServer, redis_url: str) -> None:
    tokens = add_users(redis_url, {"alice": "analyst"})
    case_id, = seed(redis_url, [flag("u1", text=DISGUISED)])
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    try:
        log_in(page, live, tokens["alice"])
        page.goto(f"{live.url}/cases/{case_id}")
        text = page.locator("pre.text")
        markers = text.locator(".hidden-char")
        assert [markers.nth(i).inner_text() for i in range(markers.count())] == [
            "⟦ZWSP⟧", "⟦RLO⟧", "⟦PDF⟧"]
        assert "RIGHT-TO-LEFT OVERRIDE" in (markers.nth(1).get_attribute("title") or "")
        lookalike = text.locator("mark.lookalike")
        assert lookalike.count() == 1 and lookalike.inner_text() == "\u0430"
        assert "CYRILLIC SMALL LETTER A" in (lookalike.get_attribute("title") or "")
        assert page.inner_text(".hidden-note") == (
            "This text holds 3 invisible and 1 look-alike characters, marked below.")
        # The characters themselves are not in the page: nothing there can reorder the text.
        assert "\u202e" not in page.content() and "\u200b" not in page.content()
        # Written order is display order: on one line, each character right of the one before.
        chars = page.evaluate(CHAR_LEFTS, "pre.text")
        assert "".join(c for c, _, _ in chars) == DISGUISED.translate(
            {0x200B: None, 0x202E: None, 0x202C: None})
        line = [(c, left) for c, left, top in chars if abs(top - chars[0][2]) < 2]
        assert len(line) == len(chars), "the text fits one line at this width"
        lefts = [left for c, left in line if not c.isspace()]
        assert lefts == sorted(lefts), "some text is shown right to left"
    finally:
        page.close()


def test_a_note_with_a_bidi_override_shows_it_and_stays_in_order(
        browser: Any, live: LiveServer, redis_url: str) -> None:
    tokens = add_users(redis_url, {"lena": "lead"})
    case_id, = seed(redis_url, [flag("u1", text="hello")])
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    try:
        log_in(page, live, tokens["lena"])
        page.goto(f"{live.url}/cases/{case_id}")
        page.click("#claim")
        page.wait_for_url(f"{live.url}/cases/{case_id}?done=claim")
        page.fill("textarea[name=text]", "Order \u202e12345 ships today\u202c thanks")
        page.click("form[action$='/notes'] button[type=submit]")
        page.wait_for_url(f"{live.url}/cases/{case_id}?done=noted")
        note = page.locator("blockquote p").first
        markers = note.locator(".hidden-char")
        assert [markers.nth(i).inner_text() for i in range(markers.count())] == ["⟦RLO⟧", "⟦PDF⟧"]
        assert "\u202e" not in page.content()
        chars = page.evaluate(CHAR_LEFTS, "blockquote p")
        lefts = [left for c, left, top in chars if not c.isspace()]
        assert lefts == sorted(lefts), "the note is shown right to left"
    finally:
        page.close()


def test_a_simulated_ring_shows_as_a_graph_and_one_bulk_decision_decides_every_member(
        browser: Any, live: LiveServer, redis_url: str) -> None:
    import redis as redis_lib

    from tests.support.links import confirm, simulated_ring, write_links

    tokens = add_users(redis_url, {"alice": "analyst"})
    ring = simulated_ring(5, profiles=True)
    members = [e["payload"]["user_id"] for e in ring[:5]]
    assert write_links(redis_url, ring) == []  # five accounts on a device, none confirmed
    assert write_links(redis_url, confirm(redis_url, ring[3:4])) == []  # one: not yet a ring
    case_id, = write_links(redis_url, confirm(redis_url, ring[1:2]))  # the second: one case
    page = browser.new_page()
    try:
        log_in(page, live, tokens["alice"])
        page.goto(f"{live.url}/cases/{case_id}")
        graph = page.locator("#network svg.network")
        assert graph.is_visible()
        assert graph.locator("circle").count() == 5
        assert graph.locator("line").count() == 10  # five accounts, every pair on the device
        box = graph.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 150
        rows = page.locator("#network-table tbody tr")
        assert sorted(r.get_attribute("data-user") for r in rows.all()) == sorted(members[1:])
        assert "same device" in rows.first.inner_text()
        assert "same payment or payout fingerprint" in rows.first.inner_text()
        def past() -> dict[str, str]:
            return {row.get_attribute("data-user"): row.locator("td").last.inner_text()
                    for row in page.locator("#network-table tbody tr").all()}

        confirmed = (members[1], members[3])
        assert past() == {m: "confirmed fraud ×1" if m in confirmed else "none"
                          for m in members[1:]}
        page.select_option("#ring_policy_reason", "fake_account")
        page.click("#ring-confirmed_fraud")
        page.wait_for_url(re.compile(rf".*/cases/{case_id}\?done=ring.*"))
        assert "one decision per account" in page.inner_text(".notice")
        r = redis_lib.Redis.from_url(redis_url)
        assert [r.llen(f"vigil:subject_decisions:{m}") for m in members] == [1, 2, 1, 2, 1]
        assert past() == {m: "confirmed fraud ×2" if m in confirmed else "confirmed fraud ×1"
                          for m in members[1:]}
    finally:
        page.close()
