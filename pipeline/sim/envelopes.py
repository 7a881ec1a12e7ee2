"""Event envelopes, one builder per event type the simulator emits.

Every builder draws the event id (and any entity id it mints) from the stream's generator, in
a fixed order, so the same calls give the same bytes.
"""

from __future__ import annotations

from typing import Any

from pipeline.sim.clock import Clock
from pipeline.sim.ids import Ids
from pipeline.sim.market import Job, User

POLICY_VERSION = "2026-01"


class Envelopes:
    """Builds JSON-ready envelopes that pass :func:`schemas.decode_event_obj`.

    >>> import random
    >>> from datetime import datetime, timezone
    >>> rng = random.Random(5)
    >>> envelopes = Envelopes(Ids(rng), Clock(rng, datetime(2026, 1, 5, tzinfo=timezone.utc), 2.0))
    >>> env = envelopes.envelope(1.5, "user.signed_up", "accounts-service", "usr_1", {})
    >>> env["occurred_at"], env["schema_version"]
    ('2026-01-05T00:00:01.500Z', '1.0')
    """

    def __init__(self, ids: Ids, clock: Clock) -> None:
        self.ids = ids
        self.clock = clock

    def envelope(
        self, t: float, etype: str, producer: str, subject: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "event_id": self.ids.event_id(),
            "type": etype,
            "schema_version": "1.0",
            "occurred_at": self.clock.stamp(t),
            "producer": producer,
            "subject_id": subject,
            "payload": payload,
        }

    def consent(self, t: float, user: User, choice: str) -> dict[str, Any]:
        """A consent change; also records ``choice`` on ``user``."""
        user.consent = choice
        payload = {"user_id": user.user_id, "ai_features": choice,
                   "policy_version": POLICY_VERSION, "changed_at": self.clock.stamp(t)}
        return self.envelope(t, "consent.changed", "privacy-service", user.user_id, payload)

    def profile(self, t: float, user: User, payload: dict[str, Any]) -> dict[str, Any]:
        """A profile update carrying the whole profile; also records it on ``user``."""
        user.profile = payload
        env = self.envelope(t, "profile.updated", "profiles-service", user.user_id, payload)
        if payload.get("payout_fingerprint") or payload.get("payment_fingerprint"):
            env["schema_version"] = "1.1"  # the fingerprints are new in 1.1
        return env

    def job_post(self, t: float, job: Job, description: str) -> dict[str, Any]:
        payload = {
            "job_id": job.job_id, "client_id": job.client.user_id, "title": job.title,
            "description": description, "budget_type": job.budget_type,
            "budget_amount": job.budget_amount, "currency": "USD", "skills": job.skills,
            "genai_restricted": job.restricted,
        }
        return self.envelope(t, "job_post.created", "jobs-service", job.client.user_id, payload)

    def proposal(
        self, t: float, job: Job, freelancer: User, letter: str, bid: float, connects: int,
        ai: bool,
    ) -> tuple[str, dict[str, Any]]:
        """A new proposal's id and its envelope."""
        pid = self.ids.new("prp")
        payload = {"proposal_id": pid, "job_id": job.job_id,
                   "freelancer_id": freelancer.user_id, "cover_letter": letter,
                   "bid_amount": bid, "connects_spent": connects, "ai_assisted": ai}
        return pid, self.envelope(t, "proposal.submitted", "proposals-service",
                                  freelancer.user_id, payload)

    def message(
        self, t: float, thread_id: str, sender: User, recipient: User, text: str,
        contract: bool, attachments: int = 0,
    ) -> tuple[str, dict[str, Any]]:
        """A new message's id and its envelope."""
        mid = self.ids.new("msg")
        payload = {"message_id": mid, "thread_id": thread_id, "sender_id": sender.user_id,
                   "recipient_id": recipient.user_id, "text": text,
                   "has_active_contract": contract, "attachment_count": attachments}
        return mid, self.envelope(t, "message.sent", "messaging-service", sender.user_id,
                                  payload)

    def report(
        self, t: float, reporter: User, target_type: str, target_id: str, reason: str,
        details: str,
    ) -> dict[str, Any]:
        payload = {"reporter_id": reporter.user_id, "target_type": target_type,
                   "target_id": target_id, "reason": reason, "details": details}
        return self.envelope(t, "user_report.filed", "trust-service", reporter.user_id,
                             payload)
