"""Events, labels and identifiers the model tests share."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from detectors.consent import CURRENT_POLICY_VERSION, ConsentRecord
from detectors.core import learn_from_label, observe_unlabelled
from detectors.examples import example_event
from detectors.features import assemble
from detectors.models import OnlineModel
from schemas import decode_event_obj
from schemas.events import Envelope

KEY = b"test-hash-key-0123456789abcdef"
EVENT_AT = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)
CONSENT = ConsentRecord("opted_in", CURRENT_POLICY_VERSION, EVENT_AT - timedelta(days=3), "evt_consent")

# Distinctive raw identifiers: if any of them shows up in a model input, minimisation failed.
SUBJECT = "uZQX7subject"
OTHER = "uZQX7other"
EMAIL = "zqx7.person@zqx7mail.test"
PHONE = "+351 912 345 678"
IP = "203.0.113.97"
USERNAME = "zqx7handle"
DISPLAY_NAME = "Zephyrine Quillfeather"
DEVICE = "devZQX7abc"
RAW_IDENTIFIERS = [SUBJECT, OTHER, EMAIL, "912 345 678", "912345678", IP, USERNAME,
                   "Zephyrine", "Quillfeather", DEVICE, "jobZQX7", "msgZQX7", "thrZQX7", "propZQX7"]


def event(event_type: str, payload: dict[str, Any] | None = None, i: int = 0) -> Envelope:
    body = dict(payload or {})
    at = (EVENT_AT + timedelta(seconds=i)).isoformat()
    return decode_event_obj(example_event(event_type, body, occurred_at=at))


def identifying_event(event_type: str) -> tuple[Envelope, dict[str, Any]]:
    """An event (and features) whose every identifier is distinctive and whose text carries
    the subject's contact details."""
    contact = f"write to {EMAIL} or call {PHONE}, @{USERNAME}, my box is {IP}"
    payloads = {
        "message.sent": {"message_id": "msgZQX7", "thread_id": "thrZQX7", "sender_id": SUBJECT,
                         "recipient_id": OTHER, "text": f"Hello! {contact}",
                         "has_active_contract": False},
        "job_post.created": {"job_id": "jobZQX7", "client_id": SUBJECT, "title": f"Data entry {EMAIL}",
                             "description": f"Easy job. {contact}"},
        "proposal.submitted": {"proposal_id": "propZQX7", "job_id": "jobZQX7",
                               "freelancer_id": SUBJECT, "cover_letter": f"Hire me. {contact}"},
        "user.signed_up": {"user_id": SUBJECT, "email": EMAIL, "ip": IP, "device_id": DEVICE,
                           "username": USERNAME, "display_name": DISPLAY_NAME,
                           "bio": f"I am {DISPLAY_NAME} ({USERNAME}). {contact}"},
        "profile.updated": {"user_id": SUBJECT, "display_name": DISPLAY_NAME,
                            "headline": f"Designer, {EMAIL}",
                            "overview": f"I am {DISPLAY_NAME}. {contact}"},
    }
    ev = event(event_type, payloads[event_type])
    features = {**catalogue_features(ev), "job_client_id": OTHER, "job_known": True,
                "account_age_seconds": 3600, "device_accounts_24h": 2, "ip24_accounts_24h": 3}
    return ev, features


def catalogue_features(ev: Envelope) -> dict[str, Any]:
    """What the feature catalogue computes for ``ev`` from no stored state (a profile update's
    ``profile_*`` features come from the event itself)."""
    return assemble(ev, {})


def minimal_event(event_type: str) -> Envelope:
    """Only the required payload fields: every optional one left to its default."""
    required = {
        "message.sent": {"message_id": "m1", "thread_id": "t1", "sender_id": "u1",
                         "recipient_id": "u2", "text": "", "has_active_contract": False},
        "job_post.created": {"job_id": "j1", "client_id": "u1", "title": "x", "description": "",
                             "budget_type": "hourly", "budget_amount": 0.0},
        "proposal.submitted": {"proposal_id": "p1", "job_id": "j1", "freelancer_id": "u1",
                               "cover_letter": "", "bid_amount": 0.0, "connects_spent": 0},
        "user.signed_up": {"user_id": "u1", "account_type": "client", "email": "a@b.co",
                           "ip": "::1", "device_id": "d1", "country": "US", "user_agent": "",
                           "signup_duration_ms": 0, "username": "a", "display_name": ""},
        "profile.updated": {"user_id": "u1", "account_type": "client"},
    }[event_type]
    return decode_event_obj({
        "event_id": "6b1a7f36-77c5-4a2a-9a53-0c3a1d1e0b01", "type": event_type,
        "schema_version": "1.0", "occurred_at": EVENT_AT.isoformat(), "producer": "test",
        "subject_id": "u1", "payload": required})


# ---- labelled examples: clearly fraudulent and clearly fine, with small variations -----------


def _message(i: int, fraud: bool) -> tuple[Envelope, dict[str, Any], bool]:
    if fraud:
        text = f"Pay the deposit by whatsapp +44 7700 9001{i:02d} or crypto before any contract"
        return event("message.sent", {"text": text, "has_active_contract": False}, i), {
            "sender_strangers_1h": 8 + i % 3}, True
    text = f"Thanks, draft {i} of the logo is attached; tell me what to change in the colours."
    return event("message.sent", {"text": text, "has_active_contract": True, "attachment_count": 1}, i), {
        "sender_strangers_1h": 0}, False


def _job(i: int, fraud: bool) -> tuple[Envelope, dict[str, Any], bool]:
    if fraud:
        return event("job_post.created", {
            "title": f"Easy money from home {i}", "budget_amount": 9000.0, "skills": [],
            "description": f"Pay a starter fee by telegram @hr_desk{i}, earn $900 a week, no skills"}, i), {
            "account_age_seconds": 600}, True
    return event("job_post.created", {
        "title": f"Logo for a bakery {i}", "budget_amount": 300.0, "skills": ["logo design"],
        "description": "We need a friendly logo for our family bakery, vector files please."}, i), {
        "account_age_seconds": 90 * 86400}, False


def _proposal(i: int, fraud: bool) -> tuple[Envelope, dict[str, Any], bool]:
    if fraud:
        return event("proposal.submitted", {
            "cover_letter": f"Dear Sir/Madam, I am expert in all. Check my site cheapwork{i}.biz now!!!"}, i), {
            "freelancer_proposals_10m": 15 + i % 5, "similar_cover_letter_jobs_24h": 12}, True
    return event("proposal.submitted", {
        "cover_letter": f"I designed logos for three bakeries ({i} revisions included); portfolio attached."}, i), {
        "freelancer_proposals_10m": 1, "similar_cover_letter_jobs_24h": 0}, False


def _signup(i: int, fraud: bool) -> tuple[Envelope, dict[str, Any], bool]:
    if fraud:
        return event("user.signed_up", {
            "user_id": f"bot{i}", "email": f"bot{i}x{i * 7}@mailinator.com", "username": f"user{i}{i * 31}",
            "display_name": f"user{i}{i * 31}", "bio": "", "has_photo": False, "phone_verified": False,
            "signup_duration_ms": 1500, "user_agent": "python-requests/2.31"}, i), {
            "device_accounts_24h": 9, "ip24_accounts_24h": 30, "device_accounts_1h": 6}, True
    return event("user.signed_up", {
        "user_id": f"human{i}", "email": f"person{i}@example.com", "username": f"writer_{i}",
        "display_name": f"Ana Silva {i}", "bio": "Copywriter for food brands.", "has_photo": True,
        "phone_verified": True, "signup_duration_ms": 60_000 + i * 1000}, i), {
        "device_accounts_24h": 1, "ip24_accounts_24h": 1, "device_accounts_1h": 1}, False


def _profile(i: int, fraud: bool) -> tuple[Envelope, dict[str, Any], bool]:
    if fraud:
        ev = event("profile.updated", {
            "user_id": f"bot{i}", "headline": "Expert in all kind of work",
            "overview": f"I can do any job {i} fast and cheap. Message me on telegram @fast{i}.",
            "skills": [f"skill {k}" for k in range(20)], "hourly_rate": 3.0, "has_photo": False,
            "following": 900 + i, "followers": i % 3, "completed_jobs": 0,
            "job_success_score": None, "rating": None, "reviews": 0, "badge": "none",
            "total_earnings_band": "none", "identity_verified": False, "phone_verified": False}, i)
        return ev, {**catalogue_features(ev), "account_age_seconds": 600}, True
    ev = event("profile.updated", {
        "user_id": f"human{i}", "headline": "Brand designer for bakeries and cafes",
        "overview": f"I design logos and packaging for food brands; {i} years of client work.",
        "skills": ["logo design", "packaging", "illustrator"], "hourly_rate": 45.0 + i,
        "has_photo": True, "has_video_intro": i % 2 == 0, "following": 12, "followers": 40 + i,
        "completed_jobs": 30 + i, "job_success_score": 97, "rating": 4.9, "reviews": 25 + i,
        "badge": "top_rated", "total_earnings_band": "10k+", "identity_verified": True,
        "phone_verified": True}, i)
    return ev, {**catalogue_features(ev), "account_age_seconds": 400 * 86400}, False


EXAMPLES = {"message.sent": _message, "job_post.created": _job,
            "proposal.submitted": _proposal, "user.signed_up": _signup,
            "profile.updated": _profile}


def event_types(model: OnlineModel) -> list[str]:
    """The model's event types, its main one (the one it is named after) first."""
    return sorted(model.event_types, key=list(EXAMPLES).index)


def labelled(event_type: str, n: int = 30) -> list[tuple[Envelope, dict[str, Any], bool]]:
    """``n`` alternating fraudulent and fine examples of ``event_type``."""
    make = EXAMPLES[event_type]
    return [make(i, fraud=i % 2 == 0) for i in range(2 * n)]


def labelled_for(model: OnlineModel, n: int = 30) -> list[tuple[Envelope, dict[str, Any], bool]]:
    """``n`` alternating fraudulent and fine examples over all the model's event types: pairs
    (one fraud, one fine) of each type in turn."""
    types = event_types(model)
    return [EXAMPLES[types[(i // 2) % len(types)]](i, fraud=i % 2 == 0) for i in range(2 * n)]


def train(model: OnlineModel, n: int = 30) -> None:
    """Teach ``model`` ``n`` examples of each class through the consent-gated learning path."""
    for ev, features, label in labelled_for(model, n):
        x = model.featurize(ev, features)
        if model.observes_unlabelled:
            observe_unlabelled(model, x, consent_at_event=CONSENT, consent_now=CONSENT,
                               event_time=ev.occurred_at)
        outcome = learn_from_label(model, x, label, consent_at_event=CONSENT, consent_now=CONSENT,
                                   event_time=ev.occurred_at)
        assert outcome.learned, outcome.reason


def fraud_example(model: OnlineModel, event_type: str | None = None) -> tuple[Envelope, dict[str, Any]]:
    ev, features, _ = EXAMPLES[event_type or event_types(model)[0]](101, True)
    return ev, features


def fine_example(model: OnlineModel, event_type: str | None = None) -> tuple[Envelope, dict[str, Any]]:
    ev, features, _ = EXAMPLES[event_type or event_types(model)[0]](102, False)
    return ev, features


def learned_state(model: OnlineModel) -> bytes:
    """The model's snapshot as a worker that restored it would take it: two models with equal
    learned state give equal bytes. (A model that learned in this process pickles the feature
    names its weights share with river's once; restored, they are separate strings, pickled
    twice, so raw snapshots of equal states can differ in length. One round trip settles it.)"""
    copy = type(model)(model._hash_key or b"learned-state-key-0123")
    copy.restore(model.snapshot())
    return copy.snapshot()
