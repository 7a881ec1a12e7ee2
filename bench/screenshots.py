"""Screenshots of the review console for the README: ``docs/queue.png``, ``docs/case.png``,
``docs/overview.png``.

    .venv/bin/python bench/screenshots.py [--out docs]

Starts its own embedded Redis in a temporary directory, fills the queue with three hours of
simulated flags, samples and decisions (through the real ReviewQueue, with a moving clock), serves
the console on a free local port and photographs it with Debian's chromium (/usr/bin/chromium)
through Playwright. Nothing outside the temporary directory and ``--out`` is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from detectors.examples import example_event
from pipeline.local.embedded import free_port, start_redis
from pipeline.review.queue import ReviewQueue
from pipeline.review.web.app import create_app
from pipeline.review.web.auth import UserStore
from pipeline.settings import QueueSettings, Settings
from pipeline.stores.consent import RedisConsentStore
from schemas.decode import decode_event_obj
from schemas.outputs import Flag, flag_id_for

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
STAR_TEXT = ("Hi! Before we start, please send the $300 deposit to my PayPal "
             "(payments.desk@mailbox.example) or WhatsApp me on +1 415 555 0199. "
             "<script>alert('hi')</script> I can start today.")
DETECTORS = [
    ("message.off_platform_payment", "message.sent", "high", 0.85,
     'Asked to move payment or contact off the platform before a contract ("PayPal")'),
    ("signup.shared_device_ring", "user.signed_up", "high", 0.8,
     "4 accounts signed up from one device in 24h"),
    ("signup.disposable_email", "user.signed_up", "low", 0.4,
     "Signed up with a disposable email domain (mailinator.com)"),
    ("proposal.duplicate_cover_letter", "proposal.submitted", "medium", 0.6,
     "Near-identical cover letter sent to 9 jobs in 24h"),
    ("job_post.pay_to_work", "job_post.created", "critical", 0.95,
     'Job post asks freelancers to pay to get work ("registration fee")'),
    ("message.new_account_many_strangers", "message.sent", "medium", 0.55,
     "Account 2h old messaged 14 strangers in an hour"),
]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _event(event_type: str, subject: str, at: float, rng: random.Random, text: str | None = None) -> dict[str, Any]:
    when = datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    payload: dict[str, Any]
    if event_type == "message.sent":
        payload = {"sender_id": subject, "message_id": f"msg_{event_id[:8]}", "has_active_contract": False,
                   "text": text or "Let's continue on Telegram, I'll send the invoice there."}
    elif event_type == "user.signed_up":
        payload = {"user_id": subject, "email": f"{subject}@mailinator.com", "ip": "203.0.113.77",
                   "device_id": "dev_shared_31", "display_name": "Jordan Smith", "username": subject}
    elif event_type == "proposal.submitted":
        payload = {"freelancer_id": subject, "proposal_id": f"prp_{event_id[:8]}",
                   "cover_letter": "Dear client, I am expert in all the skills you need. 100% satisfaction."}
    else:
        payload = {"client_id": subject, "job_id": f"job_{subject[-4:]}",
                   "title": "Data entry from home – paid training",
                   "description": "Pay the $49 registration fee to unlock the project brief.",
                   "budget_type": "fixed", "budget_amount": 9000.0}
    return example_event(event_type, payload, event_id=event_id, occurred_at=when)


def _flag(event: dict[str, Any], detector: str, severity: str, score: float, reason: str,
          entity: tuple[str, str]) -> Flag:
    at = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
    return Flag(flag_id=flag_id_for(event["event_id"], detector, "1"), event_id=event["event_id"],
                event_type=event["type"], subject_id=event["subject_id"], entity_type=entity[0],  # type: ignore[arg-type]
                entity_id=entity[1], detector_id=detector, detector_version="1", is_ai=False,
                mode="enforce", severity=severity, score=score, reason=reason,  # type: ignore[arg-type]
                occurred_at=at, flagged_at=at, dedup_seconds=3600,
                evidence={"rule_version": "1", "window": "1h"})


async def fill(redis_url: str) -> tuple[str, str]:
    """Three hours of queue history ending now; returns (analyst token, showcase case id)."""
    rng = random.Random(7)
    redis = Redis.from_url(redis_url)
    now = time.time()
    clock = Clock(now - 3 * 3600)
    queue = ReviewQueue(redis, QueueSettings(), clock)
    token = await UserStore(redis).add_user("maria", "lead")
    users = [f"usr_{rng.getrandbits(32):08x}" for _ in range(40)]
    showcase = ""
    minute = 0
    while clock.now < now - 60:
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            detector, etype, severity, score, reason = rng.choice(DETECTORS)
            user = rng.choice(users)
            event = _event(etype, user, clock.now, rng)
            entity = ("job_post", event["payload"]["job_id"]) if etype == "job_post.created" else ("user", user)
            await queue.add_flag(_flag(event, detector, severity, score, reason, entity), event)
        if minute % 7 == 3:
            open_items, _ = await queue.list_cases(limit=5)
            if open_items and rng.random() < 0.8:
                case = rng.choice(open_items)
                await queue.claim(case["case_id"], "maria", lead=True)
                outcome = rng.choice(("confirmed_fraud", "legitimate", "legitimate", "escalate"))
                await queue.decide(case["case_id"], "maria", outcome, lead=True,
                                   policy_reason="payment_fraud" if outcome == "confirmed_fraud" else "")
        await queue.record_sample()
        clock.now += 60
        minute += 1
    clock.now = now - 25 * 60
    star = "usr_5a7e01c2"
    consent = example_event("consent.changed", {"user_id": star, "ai_features": "opted_in",
                                                "changed_at": "2026-01-02T09:00:00Z"})
    await RedisConsentStore(redis).record(decode_event_obj(consent))  # type: ignore[arg-type]
    event = _event("message.sent", star, clock.now, rng, STAR_TEXT)
    detector, _, severity, score, _ = DETECTORS[0]
    reason = 'Asked to move payment or contact off the platform before a contract ("PayPal")'
    showcase = (await queue.add_flag(_flag(event, detector, severity, score, reason, ("user", star)),
                                     event)).case_id
    clock.now += 120
    signup = _event("user.signed_up", star, clock.now - 3600, rng)
    await queue.add_flag(_flag(signup, *DETECTORS[1][:1], "high", 0.8, DETECTORS[1][4], ("user", star)), signup)
    report = example_event("user_report.filed", {"reporter_id": "usr_c0ffee01", "target_type": "user",
                                                 "target_id": star, "reason": "off_platform_payment",
                                                 "details": "Asked me to pay a deposit by PayPal"},
                           event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                           occurred_at=datetime.fromtimestamp(clock.now, timezone.utc).isoformat().replace("+00:00", "Z"))
    report_flag = _flag(report, "user_report.reported_entity", "medium", 0.5,
                        "Reported for off_platform_payment", ("user", star))
    await queue.add_flag(report_flag, report)
    await queue.add_note(showcase, "maria", "Second report this week; checking the thread history.")
    clock.now = now
    await queue.record_sample()
    await redis.aclose()
    return token, showcase


def main() -> None:
    import uvicorn
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server_process = start_redis(Path(tmp), appendfsync="no")
        try:
            token, showcase = asyncio.run(fill(server_process.url))
            app = create_app(Settings(redis_url=server_process.url, kafka_bootstrap="127.0.0.1:9"),
                             background=False)
            port = free_port()
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.05)
            base = f"http://127.0.0.1:{port}"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.goto(f"{base}/login")
                page.fill("#token", token)
                page.click("button[type=submit]")
                page.wait_for_url(f"{base}/queue")
                page.screenshot(path=str(args.out / "queue.png"))
                page.goto(f"{base}/cases/{showcase}")
                page.click("#claim")
                page.wait_for_url(f"{base}/cases/{showcase}?done=claim")
                page.screenshot(path=str(args.out / "case.png"), full_page=True)
                page.goto(f"{base}/overview?window=6h")
                page.screenshot(path=str(args.out / "overview.png"), full_page=True)
                browser.close()
            server.should_exit = True
            thread.join(10)
        finally:
            server_process.stop()
    print(f"wrote {args.out}/queue.png, case.png, overview.png")


if __name__ == "__main__":
    main()
