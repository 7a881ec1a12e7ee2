"""A varied, seeded event stream for comparing state stores event by event (Redis against
memory, batched against one by one)."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from detectors.examples import example_event
from detectors.features import HOUR, MINUTE
from schemas import decode_event_obj
from schemas.events import Envelope

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=timezone.utc)
LETTER = ("Hello {name}, I have built {n} similar {what} projects and can start {when}. "
          "I will share drafts every two days and keep you updated on every milestone.")
OTHER_LETTERS = [
    "Short and simple: I can do it for the budget you posted.",
    "I read your brief twice; the second section needs a clearer scope before I can quote.",
    "Ich habe viel Erfahrung mit solchen Projekten und kann sofort anfangen.",
    "Готов начать сегодня, примеры работ в профиле.",
]


def generate_stream(seed: int, count: int = 300) -> list[Envelope]:
    """A varied, mostly time-ordered stream: late events (< 1h, within the stores' slack),
    simultaneous events, redeliveries, and a span of several days so windows roll over."""
    rng = random.Random(seed)
    users = [f"u_{i}" for i in range(40)]
    devices = [f"dev_{i}" for i in range(8)]
    ips = ["203.0.113.{}", "198.51.100.{}", "2001:db8:{}::1", "2001:0db8:0005:{}::9",
           "::ffff:203.0.113.{}"]
    jobs: list[str] = []
    clock = 0.0
    events: list[Envelope] = []
    while len(events) < count:
        if events and rng.random() < 0.06:
            # A redelivery, of an event within the stores' slack for late events.
            recent = [e for e in events[-20:] if e.occurred_at >= T0 + timedelta(seconds=clock - 50 * MINUTE)]
            if recent:
                events.append(rng.choice(recent))
            continue
        # Whole seconds and whole-window steps, so events land exactly on window boundaries.
        clock += rng.choice([0, 1, MINUTE, 10 * MINUTE, HOUR, rng.randrange(300), rng.randrange(3600)])
        at = clock - (rng.choice([MINUTE, 10 * MINUTE, rng.randrange(3000)])
                      if rng.random() < 0.1 else 0)
        # One busy user, so some windowed sets outgrow the memory store's lazy-pruning size.
        user = users[0] if rng.random() < 0.3 else rng.choice(users)
        kind = rng.choices(["signup", "job", "message", "proposal", "report", "profile"],
                           weights=[3, 2, 4, 4, 1, 2])[0]
        if kind == "signup":
            octet = rng.randrange(1, 255) if rng.random() < 0.5 else rng.randrange(1, 4)
            payload: dict[str, Any] = {
                "user_id": user, "device_id": rng.choice(devices),
                "ip": rng.choice(ips).format(octet), "phone_verified": rng.random() < 0.5,
                "id_verified": rng.random() < 0.2,
            }
            event_type = "user.signed_up"
        elif kind == "job":
            job = f"job_{len(jobs)}"
            jobs.append(job)
            payload = {"job_id": job, "client_id": user, "genai_restricted": rng.random() < 0.3,
                       "budget_amount": rng.choice([50, 300.0, 1234.5])}
            event_type = "job_post.created"
        elif kind == "message":
            payload = {"sender_id": user, "recipient_id": rng.choice(users),
                       "has_active_contract": rng.random() < 0.4}
            event_type = "message.sent"
        elif kind == "proposal":
            letter = (LETTER.format(name=rng.choice(["Ana", "Tom", "Kim"]), n=rng.randrange(2, 9),
                                    what=rng.choice(["logo", "website"]),
                                    when=rng.choice(["today", "tomorrow"]))
                      if rng.random() < 0.6 else rng.choice(OTHER_LETTERS))
            payload = {"freelancer_id": rng.choice(users[:8]),
                       "job_id": rng.choice(jobs) if jobs and rng.random() < 0.8 else "job_unseen",
                       "connects_spent": rng.randrange(0, 17), "cover_letter": letter}
            event_type = "proposal.submitted"
        elif kind == "profile":
            # Late updates (an older profile after a newer one) come from the 10 % above.
            payload = {"user_id": user, "completed_jobs": rng.randrange(0, 40),
                       "hourly_rate": rng.choice([None, 15.0, 42.5]),
                       "job_success_score": rng.choice([None, 88, 100]),
                       "badge": rng.choice(["none", "top_rated"]),
                       "has_photo": rng.random() < 0.7, "skills": ["python"] * rng.randrange(0, 6),
                       "overview": "Développeur Python, 10 ans." * rng.randrange(0, 3)}
            event_type = "profile.updated"
        else:
            payload = {"reporter_id": user, "target_id": rng.choice(users)}
            event_type = "user_report.filed"
        raw = example_event(event_type, payload,
                            occurred_at=(T0 + timedelta(seconds=at)).isoformat(),
                            event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        events.append(decode_event_obj(raw))
    return events
