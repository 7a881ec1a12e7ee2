"""The marketplace profile as the feature catalogue keeps it: one small record per user.

A ``profile.updated`` event carries a user's whole profile. The catalogue
(:mod:`detectors.features`) keeps only the latest one by event time, as the compact record
:func:`encode` makes (numbers, flags and ordinal bands; no text, no names), and exposes it to
every event of that user as the ``profile_*`` features of :data:`PROFILE_FEATURES`. For the
``profile.updated`` event itself the features describe that event's profile.

The record is a JSON array, not an object: field names would triple its size, and one is kept
per user for as long as the signup record (``bench/memory.py`` measures it). Its layout is
:data:`LAYOUT`, versioned in the key (``user:<id>:public:1``): a new layout is a new key, so a
worker never misreads a record written by older code.

>>> from schemas import decode_event_obj
>>> from detectors.examples import example_event
>>> event = decode_event_obj(example_event("profile.updated"))
>>> record = encode(event.payload, 1767603600.0)
>>> record[:6]
[1767603600.0, 35.0, 3, 4, 12, 96]
>>> value(record, "badge"), value(record, "job_success_score"), value(None, "completed_jobs")
('rising_talent', 96, 0)
"""

from __future__ import annotations

from typing import Any, get_args

from schemas.events import MoneyBand, ProfileUpdatedPayload

#: The money bands in order (their index is what the record stores).
MONEY_BANDS: tuple[str, ...] = get_args(MoneyBand)
BADGES: tuple[str, ...] = get_args(ProfileUpdatedPayload.model_fields["badge"].annotation)

#: The record's positions: (name, what it holds, the value when no profile is known).
LAYOUT: tuple[tuple[str, str, Any], ...] = (
    ("at", "when the profile was updated (POSIX seconds, event time)", None),
    ("hourly_rate", "asking rate, -1 if not set", -1.0),
    ("skills", "number of skills listed", 0),
    ("portfolio_items", "portfolio items", 0),
    ("completed_jobs", "contracts completed", 0),
    ("job_success_score", "job success score 0-100, -1 until the platform computes one", -1),
    ("rating", "mean star rating 1-5, -1 without reviews", -1.0),
    ("reviews", "reviews received", 0),
    ("badge", "badge, as an index of BADGES", 0),
    ("total_earnings_band", "total earned, as an index of MONEY_BANDS", 0),
    ("followers", "users following (having saved) the profile", 0),
    ("following", "profiles the user follows", 0),
    ("has_photo", "1 if the profile has a photo", 0),
    ("has_video_intro", "1 if it has a video introduction", 0),
    ("identity_verified", "1 if the identity is verified", 0),
    ("phone_verified", "1 if the phone is verified", 0),
    ("payment_verified", "1 if a payment method is verified", 0),
    ("jobs_posted", "jobs posted (clients)", 0),
    ("hires", "freelancers hired (clients)", 0),
    ("total_spent_band", "total spent (clients), as an index of MONEY_BANDS", 0),
    ("overview_length", "characters in the overview", 0),
    ("headline_length", "characters in the headline", 0),
)
POSITION: dict[str, int] = {name: i for i, (name, _, _) in enumerate(LAYOUT)}
_EMPTY: dict[str, Any] = {name: empty for name, _, empty in LAYOUT}
#: Positions stored as an index into a tuple of names, and the tuple.
_NAMED: dict[str, tuple[str, ...]] = {
    "badge": BADGES, "total_earnings_band": MONEY_BANDS, "total_spent_band": MONEY_BANDS}
_FLAGS = frozenset({"has_photo", "has_video_intro", "identity_verified", "phone_verified",
                    "payment_verified"})


def encode(p: ProfileUpdatedPayload, at: float) -> list[Any]:
    """The record of a profile updated at ``at`` (see :data:`LAYOUT`)."""
    return [
        at, -1.0 if p.hourly_rate is None else float(p.hourly_rate), len(p.skills),
        p.portfolio_items, p.completed_jobs,
        -1 if p.job_success_score is None else p.job_success_score,
        -1.0 if p.rating is None else float(p.rating), p.reviews, BADGES.index(p.badge),
        MONEY_BANDS.index(p.total_earnings_band), p.followers, p.following, int(p.has_photo),
        int(p.has_video_intro), int(p.identity_verified), int(p.phone_verified),
        int(p.payment_verified), p.jobs_posted, p.hires, MONEY_BANDS.index(p.total_spent_band),
        len(p.overview), len(p.headline),
    ]


def value(record: list[Any] | None, name: str) -> Any:
    """Field ``name`` of a record (``None``: no profile known), decoded: flags as bools, bands
    and badges as their names. A record of another length (foreign data) counts as none."""
    if record is None or len(record) != len(LAYOUT):
        empty = _EMPTY[name]
        if name in _NAMED:
            return _NAMED[name][0]
        return False if name in _FLAGS else empty
    raw = record[POSITION[name]]
    if name in _NAMED:
        names = _NAMED[name]
        return names[raw] if isinstance(raw, int) and 0 <= raw < len(names) else names[0]
    return bool(raw) if name in _FLAGS else raw


#: A typical established freelancer's profile: the catalogue's example values.
EXAMPLE = ProfileUpdatedPayload(
    user_id="u1", account_type="freelancer", headline="Copywriter for food brands",
    overview="I write websites, newsletters and product pages for small food brands.",
    skills=["copywriting", "editing", "seo writing"], hourly_rate=35.0, portfolio_items=4,
    completed_jobs=12, job_success_score=96, rating=4.9, reviews=10, badge="rising_talent",
    total_earnings_band="1k+", followers=25, following=18, has_photo=True,
    identity_verified=True, phone_verified=True)
EXAMPLE_RECORD = encode(EXAMPLE, 1767603600.0)
