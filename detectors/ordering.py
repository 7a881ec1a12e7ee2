"""Who owns each feature and join, and the event-time rules they follow (issue 18): pure data.

Kafka orders events only per topic and key. A counter shared across users (accounts per device,
per /24) or a join across topics (a proposal and its job post) therefore sees a different order
of its events in every partitioning, unless one owner computes it from its entity's events in
one order. This module says, for each feature and join, which entity owns it
(:data:`OWNERSHIP`), how an event is re-keyed to reach each owner (:func:`hops`), how a join
whose partner has not arrived yet is held and decided again (:class:`JoinBook`), and how an
event's lateness is classified against the event-time watermark (:func:`lateness`).

Nothing here does I/O: the worker's repartition hops and Redis-held joins, and replay's
in-memory twins, carry these decisions out.

>>> OWNERSHIP["device_accounts_1h"].entity
'device'
>>> lateness(at=100.0, watermark=160.0, allowed=120.0)
'late'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from detectors.features import CATALOGUE, ip_prefix
from schemas.events import Envelope

Entity = Literal["user", "device", "ip24", "email_domain", "job"]


@dataclass(frozen=True)
class Owner:
    """The entity a feature is computed by, and the events (by type) that reach it."""

    entity: Entity
    #: Event types whose hop to this entity feeds the feature.
    event_types: frozenset[str]
    #: Why this owner (what would go wrong if another worker computed it).
    why: str


_SIGNUP = frozenset({"user.signed_up"})
_DEVICE = Owner("device", _SIGNUP, "a ring's signups have different subjects, so partitions")
_IP24 = Owner("ip24", _SIGNUP, "a /24 burst's signups have different subjects, so partitions")
_JOB = Owner("job", frozenset({"job_post.created", "proposal.submitted"}),
             "a proposal and its job post are on different topics and keys")
_USER = Owner("user", frozenset({"user.signed_up", "job_post.created", "message.sent",
                                 "proposal.submitted", "consent.changed", "user_report.filed",
                                 "profile.updated"}),
              "the subject's own events on one topic share its key and partition: Kafka orders "
              "them; across topics it does not (see JOINS)")

#: Every cross-entity feature or join and its owner; a feature not named is owned by the
#: event's subject (``user``), whose events Kafka already orders per partition.
OWNERSHIP: dict[str, Owner] = {
    "device_accounts_1h": _DEVICE, "device_accounts_24h": _DEVICE,
    "ip24_accounts_1h": _IP24, "ip24_accounts_24h": _IP24,
    "job_known": _JOB, "job_genai_restricted": _JOB, "job_client_id": _JOB,
}


@dataclass(frozen=True)
class Join:
    """An event type that reads a record another event type writes, possibly on another topic
    (so arriving in either order): the waiting side is held (:class:`JoinBook`) until the
    record's event arrives, or its window ends."""

    waiting: str
    partner: str
    #: The partner's key, from the waiting event: what both sides are re-keyed by.
    key: Callable[[Any], str]
    features: tuple[str, ...]
    #: The same key from the partner event (None: no decision waits, see :func:`waits`).
    partner_key: Callable[[Any], str] | None = None
    #: The feature-store record the partner writes, from the join's key: once it is there
    #: the partner has arrived (a later waiting event is decided with it at once).
    record: Callable[[str], str] | None = None


#: The joins the catalogue reads. The first two change decisions today: 1 partition with topics
#: interleaved already loses ``job_post.new_client_large_budget`` (a job post before its client's
#: signup reads no account age), 4 partitions also ``proposal.genai_restricted_job``.
_SUBJECT_SIGNUP = ("account_age_seconds", "subject_phone_verified", "subject_id_verified")
JOINS: tuple[Join, ...] = (
    Join("proposal.submitted", "job_post.created", lambda e: f"job:{e.payload.job_id}",
         ("job_known", "job_genai_restricted", "job_client_id"),
         partner_key=lambda e: f"job:{e.payload.job_id}", record=lambda book: book),
    Join("job_post.created", "user.signed_up", lambda e: f"user:{e.subject_id}", _SUBJECT_SIGNUP,
         partner_key=lambda e: f"user:{e.subject_id}",
         record=lambda book: f"{book}:profile"),
    # message.new_account_many_strangers reads the sender's account age: the same join.
    Join("message.sent", "user.signed_up", lambda e: f"user:{e.subject_id}", _SUBJECT_SIGNUP,
         partner_key=lambda e: f"user:{e.subject_id}",
         record=lambda book: f"{book}:profile"),
    # No rule's decision reads the reported content (the review queue attaches it to the
    # case whichever comes first): nothing waits.
    Join("user_report.filed", "message.sent",
         lambda e: f"{e.payload.target_type}:{e.payload.target_id}", ()),
)


def owner_of(feature: str) -> Owner:
    """The owner of a feature (the subject's ``user`` entity unless :data:`OWNERSHIP` says).

    >>> owner_of("user_events_1h").entity, owner_of("job_known").entity
    ('user', 'job')
    """
    return OWNERSHIP.get(feature, _USER)


_HOP_KEYS: dict[str, tuple[tuple[Entity, Callable[[Any], str]], ...]] = {
    "user.signed_up": (("device", lambda p: str(p.device_id)), ("ip24", lambda p: ip_prefix(p.ip))),
    "job_post.created": (("job", lambda p: str(p.job_id)),),
    "proposal.submitted": (("job", lambda p: str(p.job_id)),),
}


def hops(event: Envelope) -> tuple[tuple[Entity, str], ...]:
    """The (entity, key) pairs an event is re-keyed to, one repartition hop each, in a fixed
    order; the decision joins their results back to the event's subject. Events of the
    subject alone need none.

    >>> from schemas import decode_event_obj
    >>> from detectors.features import EXAMPLE_SIGNUP
    >>> hops(decode_event_obj(EXAMPLE_SIGNUP))
    (('device', 'd1'), ('ip24', '203.0.113.0/24'))
    """
    return tuple((entity, key(event.payload)) for entity, key in _HOP_KEYS.get(event.type, ()))


# ---- what an event waits for, and what it releases -------------------------------------------


class Hold(NamedTuple):
    """Wait in ``book`` for the partner (an event of type ``partner``) unless its feature-store
    ``record`` is there already: the event is decided at once, and again, late, when the
    partner arrives within the join window."""

    book: str
    record: str
    partner: str


class Arrive(NamedTuple):
    """This event is the partner ``book``'s held events wait for (it writes ``record``):
    they are decided again."""

    book: str
    record: str


class Watch(NamedTuple):
    """A cross-entity counter's ``book`` (its entity, :func:`hops`): this event is counted
    there for ``window`` seconds of event time. One of ``partner`` type dated before events
    already decided (arriving late, on another partition) decides those again, so every count
    is the count of every event dated inside the window, whatever order they arrived in."""

    book: str
    window: float
    partner: str


Wait = Hold | Arrive | Watch


def _owner_window(entity: Entity) -> float:
    windows = [f.window[1] for f in CATALOGUE
               if f.window is not None and OWNERSHIP.get(f.name, _USER).entity == entity]
    return max(windows)


_WAITING = {join.waiting: join for join in JOINS if join.record is not None}
_ARRIVING: dict[str, list[Join]] = {}
for _join in JOINS:
    if _join.partner_key is not None:
        _ARRIVING.setdefault(_join.partner, []).append(_join)
_WINDOWS: dict[str, float] = {entity: _owner_window(entity) for entity in ("device", "ip24")}


def waits(event: Envelope) -> list[Wait]:
    """The join books an event waits in, arrives at or is counted in, in a fixed order.

    >>> from schemas import decode_event_obj
    >>> from detectors.features import EXAMPLE_SIGNUP
    >>> [type(w).__name__ + ":" + w.book for w in waits(decode_event_obj(EXAMPLE_SIGNUP))]
    ['Arrive:user:u1', 'Watch:device:d1', 'Watch:ip24:203.0.113.0/24']
    """
    out: list[Wait] = []
    join = _WAITING.get(event.type)
    if join is not None and join.record is not None:
        book = join.key(event)
        out.append(Hold(book, join.record(book), join.partner))
    for arriving in _ARRIVING.get(event.type, ()):
        book = arriving.partner_key(event)  # type: ignore[misc]
        if arriving.record is not None and not any(
                isinstance(w, Arrive) and w.book == book for w in out):
            out.append(Arrive(book, arriving.record(book)))
    for entity, key in hops(event):
        if entity in _WINDOWS:
            out.append(Watch(f"{entity}:{key}", _WINDOWS[entity], event.type))
    return out


# ---- event time ------------------------------------------------------------------------------

Lateness = Literal["on_time", "late", "too_late"]


def lateness(*, at: float, watermark: float, allowed: float) -> Lateness:
    """How late an event is: windows are by ``occurred_at`` (``at``); the watermark is the
    latest event time its owner has seen. An event no older than the watermark is on time; one
    up to ``allowed`` seconds behind it is late but still counted in its window; one further
    behind is too late: counted as late, not added to any window, and still decided.

    >>> [lateness(at=a, watermark=100.0, allowed=30.0) for a in (120.0, 100.0, 70.0, 69.0)]
    ['on_time', 'on_time', 'late', 'too_late']
    """
    if at >= watermark:
        return "on_time"
    return "late" if watermark - at <= allowed else "too_late"


# ---- joins that wait ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """A held event decided again: with its partner (``matched``) or without (window ended,
    or the book was full); ``late`` when it is decided after it first arrived."""

    event_id: str
    partner: str
    matched: bool
    late: bool
    reason: Literal["partner_arrived", "window_ended", "book_full", "partner_known"]


@dataclass
class JoinBook:
    """Events waiting for a join partner (a proposal for its job post, a report for the reported
    message), held up to ``window`` seconds of event time and at most ``max_held`` at once.

    Pure state: the worker keeps the same fields in Redis (so a kill loses nothing held), replay
    in memory. Every call returns the releases to decide; a redelivered call releases nothing
    twice (arrivals and holds are idempotent by id).

    >>> book = JoinBook(window=600.0, max_held=10)
    >>> book.hold("p1", partner="job9", at=0.0)
    []
    >>> [r.reason for r in book.arrive("job9", at=5.0)]
    ['partner_arrived']
    >>> [r.matched for r in book.hold("p2", partner="job9", at=7.0)]
    [True]
    """

    window: float
    max_held: int
    #: Held event id -> (partner key, event time it was held at).
    held: dict[str, tuple[str, float]] = field(default_factory=dict)
    #: Partners that have arrived (a later event for them matches at once).
    arrived: set[str] = field(default_factory=set)
    #: Ids already released, so a redelivery neither holds nor releases them again.
    released: set[str] = field(default_factory=set)

    def hold(self, event_id: str, *, partner: str, at: float) -> list[Release]:
        """An event needing ``partner``: decided at once if the partner is known, else held
        (or, when the book is full, decided without it: the oldest held event is let go)."""
        if event_id in self.released or event_id in self.held:
            return []
        if partner in self.arrived:
            self.released.add(event_id)
            return [Release(event_id, partner, matched=True, late=False, reason="partner_known")]
        out: list[Release] = []
        if len(self.held) >= self.max_held:
            oldest = min(self.held, key=lambda k: (self.held[k][1], k))
            out.append(self._let_go(oldest, "book_full"))
        self.held[event_id] = (partner, at)
        return out

    def arrive(self, partner: str, *, at: float) -> list[Release]:
        """The partner arrived: every event held for it is decided again, late, with it. Then
        the window advances to ``at`` (see :meth:`expire`)."""
        self.arrived.add(partner)
        waiting = sorted(k for k, (p, _) in self.held.items() if p == partner)
        out = []
        for event_id in waiting:
            del self.held[event_id]
            self.released.add(event_id)
            out.append(Release(event_id, partner, matched=True, late=True, reason="partner_arrived"))
        return out + self.expire(at)

    def expire(self, watermark: float) -> list[Release]:
        """Decide without their partner the held events whose window ended by ``watermark``."""
        ended = sorted((at, k) for k, (_, at) in self.held.items() if watermark - at > self.window)
        return [self._let_go(k, "window_ended") for _, k in ended]

    def _let_go(self, event_id: str, reason: Literal["window_ended", "book_full"]) -> Release:
        partner, _ = self.held.pop(event_id)
        self.released.add(event_id)
        return Release(event_id, partner, matched=False, late=True, reason=reason)
