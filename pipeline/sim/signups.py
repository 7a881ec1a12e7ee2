"""New accounts: a person, their device and network, and their ``user.signed_up`` envelope.

Benign signups draw every field; scenarios override the fields their fraud is about (a shared
device, a disposable domain, a bot's signup speed) and leave the rest to the same draws.
"""

from __future__ import annotations

import random
from typing import Any

from pipeline.sim.consent import signup_choice
from pipeline.sim.envelopes import Envelopes
from pipeline.sim.ids import Ids
from pipeline.sim.market import User
from pipeline.sim.words import (
    BENIGN_DOMAINS,
    CLIENT_BIOS,
    COUNTRIES,
    FIRST_NAMES,
    FREELANCER_BIOS,
    LAST_NAMES,
    USER_AGENTS,
)


class Signups:
    """Draws new users.

    >>> import random
    >>> from datetime import datetime, timezone
    >>> from pipeline.sim.clock import Clock
    >>> rng = random.Random(2)
    >>> ids = Ids(rng)
    >>> signups = Signups(rng, ids, Envelopes(ids, Clock(rng, datetime.now(timezone.utc), 2.0)))
    >>> user, env = signups.new_user(0.0, "client", email_domain="mailinator.com")
    >>> env["payload"]["email"].endswith("@mailinator.com"), env["subject_id"] == user.user_id
    (True, True)
    """

    def __init__(self, rng: random.Random, ids: Ids, envelopes: Envelopes) -> None:
        self.rng = rng
        self.ids = ids
        self.envelopes = envelopes

    def benign_ip(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.6:
            return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        if r < 0.97:  # carrier-grade NAT space 100.64.0.0/10
            return f"100.{rng.randrange(64, 128)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        # A busy shared range: benign users do share this /24, so rules should key on devices.
        return f"203.0.113.{rng.randrange(1, 255)}"

    def _username(self, first: str, last: str) -> str:
        # Benign usernames are name-based; a digit suffix, when present, is two digits,
        # unlike the word+3-5 digits of ring accounts.
        rng = self.rng
        style = rng.randrange(5)
        base = (f"{first}{last}", f"{first}.{last}", f"{first}_{last[0]}",
                f"{first[0]}{last}", f"{last}.{first}")[style].lower()
        return base + (f"{rng.randrange(10, 100)}" if rng.random() < 0.15 else "")

    def new_user(
        self,
        t: float,
        kind: str,
        *,
        email_domain: str | None = None,
        username: str | None = None,
        device_id: str | None = None,
        ip: str | None = None,
        country: str | None = None,
        user_agent: str | None = None,
        duration_ms: int | None = None,
        has_photo: bool | None = None,
        phone_verified: bool | None = None,
        id_verified: bool | None = None,
        bio: str | None = None,
    ) -> tuple[User, dict[str, Any]]:
        """A user and their signup envelope; any field not given is drawn as for a benign user."""
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        if username is None:
            username = self._username(first, last)
        if email_domain is None:
            email_domain = rng.choice(BENIGN_DOMAINS)
        if device_id is None:
            device_id = self.ids.device()
        if ip is None:
            ip = self.benign_ip()
        if duration_ms is None:
            # Humans take a while: lognormal around ~50 s, never faster than 6 s.
            duration_ms = max(6_000, int(rng.lognormvariate(10.8, 0.5)))
        if phone_verified is None:
            phone_verified = rng.random() < (0.75 if kind == "client" else 0.7)
        if id_verified is None:
            id_verified = rng.random() < (0.35 if kind == "client" else 0.5)
        if bio is None:
            bio = rng.choice(FREELANCER_BIOS if kind == "freelancer" else CLIENT_BIOS)
        user = User(
            user_id=self.ids.new("usr"), kind=kind, first=first, display_name=f"{first} {last}",
            username=username, device_id=device_id, ip=ip,
            country=country or rng.choice(COUNTRIES),
            user_agent=user_agent or rng.choice(USER_AGENTS), signed_up_at=t,
            phone_verified=phone_verified, id_verified=id_verified,
        )
        payload = {
            "user_id": user.user_id, "account_type": kind,
            "email": f"{username.replace('_', '.')}@{email_domain}",
            "ip": ip, "device_id": device_id, "country": user.country,
            "user_agent": user.user_agent, "signup_duration_ms": duration_ms,
            "username": username, "display_name": user.display_name, "bio": bio,
            "has_photo": rng.random() < 0.8 if has_photo is None else has_photo,
            "phone_verified": phone_verified, "id_verified": id_verified,
        }
        return user, self.envelopes.envelope(t, "user.signed_up", "accounts-service",
                                             user.user_id, payload)

    def onboarding_consent(self, t: float, user: User, *,
                           scripted: bool = False) -> dict[str, Any] | None:
        """The ``consent.changed`` a new user sends with their signup form (same instant; to be
        published before the signup), or None if they skip the choice (see
        :mod:`pipeline.sim.consent`)."""
        choice = signup_choice(self.rng, scripted=scripted)
        return None if choice is None else self.envelopes.consent(t, user, choice)
