"""cresci-2015 profiles as marketplace events: a ``user.signed_up`` and a ``profile.updated`` per row.

    from bench.cresci import cresci_events
    for events, is_fake in cresci_events(path):   # events: [signup dict, profile dict]
        ...

The data set (``../shared/datasets/twitter_fake_profiles_cresci2015/profiles.csv``, read in
place; see its PROVENANCE.md) holds 1,481 genuine Twitter accounts and 1,337 bought fake
followers, their identifiers removed. Each row becomes two valid events of one synthetic user
(``cr<row>``): the signup (an account Vigil saw being created: the identifiers are synthetic and
distinct per row, each IP in its own /24, and the signup's duration and user agent the same
plausible values for every row, so they carry no signal and set off no signup rule) and, 30
seconds later, the profile the account shows. The label is the account's: :data:`LABELLED` says which event carries it (the profile:
the signup holds nothing of the row).

How the columns map (:data:`MAPPING` is the same table, for the README):

========================  ===========================  ==========================================
column                    ``profile.updated`` field    why
========================  ===========================  ==========================================
description               overview                     the account's own free-text description
statuses_count            completed_jobs               the work the account has delivered / shown
followers_count           followers                    users who chose to follow the profile
friends_count             following                    profiles the account follows
default_profile_image     has_photo (negated)          the default avatar is no photo
========================  ===========================  ==========================================

Left out, and why: ``lang``, ``time_zone``, ``utc_offset`` and ``location`` (the genuine accounts
are Italian by the way the sample was drawn: these columns encode the sampling, not fakeness);
``created_at`` and ``updated`` (the two groups were collected at different times, so account
age encodes the sampling too; the synthetic signup-to-profile gap is the same for every row);
``favourites_count`` (posts the account liked: a marketplace profile shows nothing of what its
owner liked); ``listed_count`` (curated lists others put the account on: the closest marketplace
notion, clients saving a profile, is what ``followers`` already carries);
``default_profile``, ``profile_use_background_image``, ``profile_background_tile`` and the colour
columns (the page's theme: a marketplace profile has none); ``geo_enabled`` (a per-tweet
location setting); ``protected`` and ``verified`` (empty in every row). Mapping the three
behavioural columns anyway (likes as reviews, lists as portfolio items, a customised theme as a
video introduction) moved F1 by under half a point, not worth analogies that loose. Nothing
maps to headline, skills, hourly rate, job success score, rating, badge, earnings or
verification: those fields keep their defaults (a new profile's).
"""

from __future__ import annotations

import csv
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

START = datetime(2026, 2, 1, tzinfo=timezone.utc)
#: Which of a row's events the label is about (the index in its list): the profile.
LABELLED = 1
PROFILE_DELAY = timedelta(seconds=30)

#: (column, profile field, why), as in the module docstring.
MAPPING: tuple[tuple[str, str, str], ...] = (
    ("description", "overview", "the account's own free-text description"),
    ("statuses_count", "completed_jobs", "the work the account has delivered and shown"),
    ("followers_count", "followers", "users who chose to follow the profile"),
    ("friends_count", "following", "profiles the account follows"),
    ("default_profile_image", "has_photo (negated)", "the default avatar is no photo"),
)
LEFT_OUT: tuple[tuple[str, str], ...] = (
    ("lang, time_zone, utc_offset, location", "encode the sampling (genuine accounts are Italian)"),
    ("created_at, updated", "collection times differ by group: account age encodes the sampling"),
    ("favourites_count", "posts the account liked: no profile shows that"),
    ("listed_count", "curated lists: the closest notion (being saved) is followers already"),
    ("default_profile, profile_use_background_image, profile_background_tile, colours",
     "the page's theme: a marketplace profile has none"),
    ("geo_enabled", "a per-tweet location setting"),
    ("protected, verified", "empty in every row"),
)


def _count(row: dict[str, str], column: str, cap: int) -> int:
    return min(int(float(row[column] or 0)), cap)


def _flag(row: dict[str, str], column: str) -> bool:
    return bool(row[column]) and float(row[column]) != 0.0


def _envelope(event_type: str, user: str, at: datetime, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench:cresci:{event_type}:{user}")),
        "type": event_type, "schema_version": "1.0", "occurred_at": at.isoformat(),
        "producer": "bench", "subject_id": user, "payload": payload,
    }


def row_events(i: int, row: dict[str, str]) -> list[dict[str, Any]]:
    """Row ``i`` as [its signup, its profile], JSON-ready (they pass ``decode_event_obj``)."""
    user = f"cr{i}"
    signed_up = START + timedelta(minutes=i)
    photo = not _flag(row, "default_profile_image")
    signup = _envelope("user.signed_up", user, signed_up, {
        "user_id": user, "account_type": "freelancer", "email": f"{user}@example.com",
        "ip": f"10.{i >> 8 & 255}.{i & 255}.7", "device_id": f"crdev{i}", "country": "ZZ",
        "user_agent": "Mozilla/5.0", "signup_duration_ms": 90_000, "username": user,
        "display_name": user, "has_photo": photo})
    profile = _envelope("profile.updated", user, signed_up + PROFILE_DELAY, {
        "user_id": user, "account_type": "freelancer", "display_name": user,
        "overview": row["description"][:5_000],
        "completed_jobs": _count(row, "statuses_count", 10_000_000),
        "followers": _count(row, "followers_count", 1_000_000_000),
        "following": _count(row, "friends_count", 10_000_000), "has_photo": photo})
    return [signup, profile]


def cresci_events(path: Path | str) -> list[tuple[list[dict[str, Any]], bool]]:
    """Every row of ``profiles.csv`` as ([signup, profile] event dicts, is_fake), in file order."""
    with open(path, encoding="utf-8") as f:
        return [(row_events(i, row), row["is_fake"] == "1")
                for i, row in enumerate(csv.DictReader(f))]
