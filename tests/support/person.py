"""One person with everything Vigil can keep about them, for the data-rights tests: a signup with
their own e-mail, IP and device, an AI opt-in, a profile, a job post, messages (one a scam that
is flagged, one to them from someone else), a proposal, a report they filed and one against
them, published among simulated traffic; then an analyst's note naming them and a decision.
:func:`leftovers` looks for any of their identifiers and texts in every Redis key and value."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis as redis_lib

from detectors.examples import example_event

USER = "usr_forget_me_7"
OTHER = "usr_bystander_3"


@dataclass(frozen=True)
class Person:
    user_id: str
    email: str
    ip: str
    device_id: str
    texts: tuple[str, ...]

    @property
    def needles(self) -> tuple[str, ...]:
        return (self.user_id, self.email, self.ip, self.device_id, *self.texts)


PERSON = Person(
    USER, "forget.me.7@example.org", "198.51.100.77", "dev_forget_me_77",
    texts=("Send the deposit by gift card now and I will release the work, WhatsApp +44 7700 900777",
           "Hello, I can start on your bakery site tomorrow morning, cheers from Porto",
           "Custom embroidery patterns for a small Porto bakery, quick turnaround please",
           "I have embroidered aprons for three Porto bakeries, samples on request",
           "This user kept asking me to pay outside the platform with gift cards"),
)
ALL_TEXTS = PERSON.texts + ("Are you still interested in the Porto embroidery job?",)


def _id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"person:{name}"))


def events(start: datetime) -> list[dict]:
    """The person's events, dated from ``start`` on, in causal order."""
    at = lambda n: (start + timedelta(seconds=n)).isoformat()  # noqa: E731
    p = PERSON
    return [
        example_event("user.signed_up", {"user_id": USER, "email": p.email, "ip": p.ip,
                                         "device_id": p.device_id, "username": "forget_me_7",
                                         "display_name": "Forgettable Seven"},
                      event_id=_id("signup"), occurred_at=at(0), subject_id=USER),
        example_event("consent.changed", {"user_id": USER, "ai_features": "opted_in",
                                          "changed_at": at(1)},
                      event_id=_id("consent"), occurred_at=at(1), subject_id=USER),
        example_event("profile.updated", {"user_id": USER, "display_name": "Forgettable Seven"},
                      event_id=_id("profile"), occurred_at=at(2), subject_id=USER),
        example_event("job_post.created", {"job_id": "job_forget_7", "client_id": USER,
                                           "description": p.texts[2]},
                      event_id=_id("job"), occurred_at=at(3), subject_id=USER),
        example_event("message.sent", {"message_id": "msg_forget_1", "sender_id": USER,
                                       "recipient_id": OTHER, "text": p.texts[0],
                                       "has_active_contract": False},
                      event_id=_id("scam"), occurred_at=at(4), subject_id=USER),
        example_event("message.sent", {"message_id": "msg_forget_2", "sender_id": USER,
                                       "recipient_id": OTHER, "text": p.texts[1],
                                       "has_active_contract": False},
                      event_id=_id("hello"), occurred_at=at(5), subject_id=USER),
        example_event("message.sent", {"message_id": "msg_forget_3", "sender_id": OTHER,
                                       "recipient_id": USER, "text": ALL_TEXTS[-1],
                                       "has_active_contract": False},
                      event_id=_id("to-them"), occurred_at=at(6), subject_id=OTHER),
        example_event("proposal.submitted", {"proposal_id": "prop_forget_7", "job_id": "job_x",
                                             "freelancer_id": USER, "cover_letter": p.texts[3]},
                      event_id=_id("proposal"), occurred_at=at(7), subject_id=USER),
        example_event("user_report.filed", {"reporter_id": USER, "target_type": "user",
                                            "target_id": OTHER, "reason": "scam",
                                            "details": p.texts[4]},
                      event_id=_id("their-report"), occurred_at=at(8), subject_id=USER),
        example_event("user_report.filed", {"reporter_id": OTHER, "target_type": "message",
                                            "target_id": "msg_forget_1", "reason": "scam",
                                            "details": "asked for gift cards"},
                      event_id=_id("report-on-them"), occurred_at=at(9), subject_id=OTHER),
    ]


def erasure_request(request_id: str = "dsr_7") -> dict:
    return example_event("erasure.requested", {"user_id": USER, "request_id": request_id,
                                               "requested_by": "privacy-desk:jo",
                                               "reason": "the user asked to be forgotten"},
                         event_id=_id(f"erase:{request_id}"), subject_id=USER,
                         producer="privacy")


def dump(client: redis_lib.Redis) -> dict[str, str]:
    """Every key's name -> its whole value as text (binary values decoded leniently)."""
    out = {}
    for raw in client.scan_iter(count=5000):
        key = raw.decode()
        kind = client.type(raw).decode()
        if kind == "string":
            value = client.get(raw)
            parts = [value] if value is not None else []
        elif kind == "hash":
            parts = [x for kv in client.hgetall(raw).items() for x in kv]
        elif kind == "set":
            parts = list(client.smembers(raw))
        elif kind == "zset":
            parts = [m for m, _ in client.zrange(raw, 0, -1, withscores=True)]
        elif kind == "list":
            parts = client.lrange(raw, 0, -1)
        elif kind == "stream":
            parts = [x for _, fields in client.xrange(raw) for kv in fields.items() for x in kv]
        else:
            parts = []
        out[key] = "\n".join(p.decode(errors="replace") if isinstance(p, bytes) else str(p)
                             for p in parts)
    return out


def leftovers(client: redis_lib.Redis, needles: tuple[str, ...] = PERSON.needles) -> dict[str, list[str]]:
    """Key -> the needles found in its name or value."""
    found = {}
    for key, text in dump(client).items():
        hits = [n for n in needles if n in key or n in text]
        if hits:
            found[key] = hits
    return found
