"""Base events that rule examples start from, so an example states only what matters to it."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from schemas.events import EVENT_MODELS

_BASE_PAYLOADS: dict[str, dict[str, Any]] = {
    "user.signed_up": {
        "user_id": "u_example", "account_type": "freelancer", "email": "ana@example.com",
        "ip": "203.0.113.7", "device_id": "dev_example", "country": "PT",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)", "signup_duration_ms": 48000,
        "username": "ana_writes", "display_name": "Ana", "bio": "Copywriter.",
        "has_photo": True, "phone_verified": True, "id_verified": False,
    },
    "job_post.created": {
        "job_id": "job_example", "client_id": "u_example", "title": "Logo for a bakery",
        "description": "We need a friendly logo for our family bakery.", "budget_type": "fixed",
        "budget_amount": 300.0, "currency": "USD", "skills": ["logo design"],
        "genai_restricted": False,
    },
    "message.sent": {
        "message_id": "msg_example", "thread_id": "thr_example", "sender_id": "u_example",
        "recipient_id": "u_other", "text": "Thanks, I will send the first draft tomorrow.",
        "has_active_contract": True, "attachment_count": 0,
    },
    "proposal.submitted": {
        "proposal_id": "prop_example", "job_id": "job_example", "freelancer_id": "u_example",
        "cover_letter": "I have designed logos for three bakeries; portfolio attached.",
        "bid_amount": 250.0, "connects_spent": 4, "ai_assisted": False,
    },
    "profile.updated": {
        "user_id": "u_example", "account_type": "freelancer", "display_name": "Ana S.",
        "headline": "Copywriter for food and travel brands",
        "overview": "I write websites, newsletters and product pages for small food brands.",
        "skills": ["copywriting", "seo writing", "editing"], "hourly_rate": 35.0,
        "currency": "USD", "country": "PT", "portfolio_items": 4, "completed_jobs": 12,
        "job_success_score": 96, "rating": 4.9, "reviews": 10, "badge": "rising_talent",
        "total_earnings_band": "1k+", "followers": 25, "following": 18, "has_photo": True,
        "has_video_intro": False, "identity_verified": True, "phone_verified": True,
        "payment_verified": False, "jobs_posted": 0, "hires": 0, "total_spent_band": "none",
    },
    "consent.changed": {
        "user_id": "u_example", "ai_features": "opted_in", "policy_version": "2026-01",
        "changed_at": "2026-01-05T08:00:00Z",
    },
    "review.decided": {
        "decision_id": "dec_example", "case_id": "case_example", "entity_type": "user",
        "entity_id": "u_example", "outcome": "confirmed_fraud", "policy_reason": "scam",
        "event_ids": ["3b9b0c8e-8a51-4d5e-9a3c-0f7d0d1a2b3c"], "analyst_id": "analyst_1",
    },
    "action.applied": {
        "action_id": "6f1c3a52-3d6a-4c37-9d8c-1d1c2f64b7a0", "user_id": "u_example",
        "service": "accounts",
    },
    "action.failed": {
        "action_id": "6f1c3a52-3d6a-4c37-9d8c-1d1c2f64b7a0", "user_id": "u_example",
        "service": "accounts", "reason": "the account service timed out",
    },
    "appeal.filed": {
        "appeal_id": "apl_example", "decision_id": "dec_example", "user_id": "u_example",
        "statement": "I did not do this.",
    },
    "erasure.requested": {
        "user_id": "u_example", "request_id": "dsr_example", "requested_by": "privacy-desk",
        "reason": "the user asked to be forgotten",
    },
    "user_report.filed": {
        "reporter_id": "u_example", "target_type": "user", "target_id": "u_other",
        "reason": "scam", "details": "",
    },
}


def example_event(event_type: str, payload: dict[str, Any] | None = None,
                  **envelope: Any) -> dict[str, Any]:
    """A valid envelope of ``event_type`` with ``payload`` fields overriding the base ones.

    >>> example_event("message.sent", {"text": "hi"})["payload"]["text"]
    'hi'
    """
    if event_type not in _BASE_PAYLOADS:
        raise KeyError(f"no example base for event type {event_type!r}")
    body = copy.deepcopy(_BASE_PAYLOADS[event_type])
    body.update(payload or {})
    model = EVENT_MODELS[event_type]
    subject_field = model.SUBJECT_FIELD
    event = {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{event_type}:{sorted(body.items())!r}")),
        "type": event_type,
        "schema_version": "1.0",
        "occurred_at": "2026-01-05T10:00:00Z",
        "producer": "rule-example",
        "subject_id": body[subject_field] if subject_field else "u_example",
        "payload": body,
    }
    event.update(envelope)
    return event
