"""Benign marketplace profiles: the one a user builds after signing up, and later edits.

Most users publish a profile soon after signup (:data:`CREATE_SHARE`: freelancers need one to
apply, clients fill in less); a profile then changes now and then (a portfolio item, a new
rate, a verification, a first review). Every simulated user is new to the marketplace, so a
benign profile starts without history: no completed jobs, no job success score, no reviews.
What tells a fake profile apart (``pipeline.sim.scenarios.fake_profile``) is how it is built,
not its history.
"""

from __future__ import annotations

import random
from typing import Any

from pipeline.sim.categories import CATEGORIES
from pipeline.sim.envelopes import Envelopes
from pipeline.sim.ids import has_payout, payment_of
from pipeline.sim.market import User
from pipeline.sim.profile_words import (
    CLIENT_HEADLINES,
    CLIENT_OVERVIEWS,
    HEADLINES,
    OVERVIEW_CLOSINGS,
    OVERVIEW_MIDDLES,
    OVERVIEW_OPENERS,
    ROLES,
)

#: Share of new users who publish a profile, by account type (assumption: a freelancer cannot
#: apply without one; many clients only post jobs).
CREATE_SHARE = {"freelancer": 0.85, "client": 0.6}


class Profiles:
    """Builds benign profile envelopes (and records each on its user).

    >>> import random
    >>> from datetime import datetime, timezone
    >>> from pipeline.sim.clock import Clock
    >>> from pipeline.sim.ids import Ids
    >>> from pipeline.sim.market import User
    >>> rng = random.Random(4)
    >>> profiles = Profiles(rng, Envelopes(Ids(rng), Clock(rng, datetime(2026, 1, 5, tzinfo=timezone.utc), 2.0)))
    >>> ana = User("usr_1", "freelancer", "Ana", "Ana Silva", "anasilva", "d", "10.0.0.1", "PT",
    ...            "Mozilla/5.0", 0.0, True, False)
    >>> env = profiles.first(60.0, ana)
    >>> env["type"], env["payload"].get("completed_jobs", 0), 3 <= len(env["payload"]["skills"]) <= 12
    ('profile.updated', 0, True)
    >>> profiles.edit(900.0, ana)["payload"]["user_id"] == ana.user_id
    True
    """

    def __init__(self, rng: random.Random, envelopes: Envelopes) -> None:
        self.rng = rng
        self.envelopes = envelopes

    def first(self, t: float, user: User) -> dict[str, Any]:
        """The profile a user publishes after signing up."""
        payload = self._freelancer(user) if user.kind == "freelancer" else self._client(user)
        return self.envelopes.profile(t, user, payload)

    def _base(self, user: User) -> dict[str, Any]:
        rng = self.rng
        # Networkers follow many profiles from the start; most people follow a handful.
        following = rng.randint(30, 400) if rng.random() < 0.08 else rng.randint(0, 25)
        return {
            "user_id": user.user_id, "account_type": user.kind,
            "display_name": f"{user.first} {user.display_name.split()[-1][0]}.",
            "country": user.country, "followers": rng.choice((0, 0, 0, 1, 2, 3, 5)),
            "following": following, "has_photo": rng.random() < 0.88,
            "identity_verified": user.id_verified, "phone_verified": user.phone_verified,
        }

    def _freelancer(self, user: User) -> dict[str, Any]:
        rng = self.rng
        index = rng.randrange(len(CATEGORIES))
        cat, role = CATEGORIES[index], ROLES[index]
        skills = rng.sample(cat.skills, min(len(cat.skills), rng.randint(3, 12)))
        skill, skill2 = skills[0], skills[1]
        fill = {"role": role, "role_lower": role.lower(), "skill": skill, "skill2": skill2,
                "years": rng.randint(1, 15)}
        overview = " ".join(part.format(**fill) for part in (
            rng.choice(OVERVIEW_OPENERS), rng.choice(OVERVIEW_MIDDLES),
            rng.choice(OVERVIEW_CLOSINGS)) if part)
        return {
            **self._base(user), "headline": rng.choice(HEADLINES).format(**fill),
            "overview": overview if rng.random() < 0.93 else "", "skills": skills,
            "hourly_rate": float(rng.randint(*cat.hourly)),
            "portfolio_items": rng.choice((0, 0, 1, 2, 3, 4, 6, 8)),
            "has_video_intro": rng.random() < 0.1,
            "badge": "rising_talent" if rng.random() < 0.03 else "none",
            **({"payout_fingerprint": payment_of(user.user_id)} if has_payout(user.user_id) else {}),
        }

    def _client(self, user: User) -> dict[str, Any]:
        rng = self.rng
        verified = rng.random() < 0.6
        return {
            **self._base(user), "headline": rng.choice(CLIENT_HEADLINES),
            "overview": rng.choice(CLIENT_OVERVIEWS), "payment_verified": verified,
            "jobs_posted": user.jobs_posted,
            # A verified payment method is one the provider fingerprinted.
            **({"payment_fingerprint": payment_of(user.user_id)} if verified else {}),
        }

    def edit(self, t: float, user: User) -> dict[str, Any]:
        """A later change to ``user``'s profile (which must exist): one field moves."""
        rng = self.rng
        payload = dict(user.profile or self._base(user))
        r = rng.random()
        if user.kind == "client":
            payload.update(jobs_posted=user.jobs_posted, hires=user.hires,
                           total_spent_band="1+" if user.hires else "none")
            if r < 0.3:
                payload.update(payment_verified=True, payment_fingerprint=payment_of(user.user_id))
        elif r < 0.3:
            payload["portfolio_items"] = min(payload.get("portfolio_items", 0) + 1, 10_000)
        elif r < 0.5 and payload.get("hourly_rate"):
            payload["hourly_rate"] = float(max(3, round(payload["hourly_rate"] * rng.uniform(0.9, 1.25))))
        elif r < 0.7:
            # A first contract closed: the platform adds it and the client's review.
            jobs = payload.get("completed_jobs", 0) + 1
            reviews = payload.get("reviews", 0) + 1
            rating = payload.get("rating") or 5.0
            payload.update(completed_jobs=jobs, reviews=reviews,
                           rating=round((rating * (reviews - 1) + rng.choice((4.0, 4.5, 5.0, 5.0))) / reviews, 2),
                           total_earnings_band="1+" if jobs < 3 else "100+")
            if jobs >= 3:  # the platform shows a job success score after a few contracts
                payload["job_success_score"] = rng.randint(85, 100)
            # Paid for a first contract: payouts are set up by now.
            payload["payout_fingerprint"] = payment_of(user.user_id)
        if r >= 0.85:
            payload["identity_verified"] = True
        payload["following"] = min(payload.get("following", 0) + rng.choice((0, 0, 1, 2)), 10_000_000)
        return self.envelopes.profile(t, user, payload)
