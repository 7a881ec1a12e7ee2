"""The marketplace's state: who has signed up, open jobs, proposals and message threads.

Plain records and pools, no randomness: behaviour that changes them lives in
:mod:`pipeline.sim.benign` and :mod:`pipeline.sim.scenarios`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.sim.categories import Category


@dataclass(slots=True, eq=False)
class User:
    user_id: str
    kind: str
    first: str
    display_name: str
    username: str
    device_id: str
    ip: str
    country: str
    user_agent: str
    signed_up_at: float
    phone_verified: bool
    id_verified: bool
    consent: str | None = None
    #: The marketplace profile last published (a ``profile.updated`` payload), if any.
    profile: dict[str, Any] | None = None
    jobs_posted: int = 0
    hires: int = 0


@dataclass(slots=True, eq=False)
class Job:
    job_id: str
    client: User
    title: str
    category: Category
    budget_type: str
    budget_amount: float
    skills: list[str]
    restricted: bool
    #: Benign proposals only: (proposal_id, freelancer).
    proposals: list[tuple[str, User]] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Thread:
    thread_id: str
    client: User
    freelancer: User
    job: Job
    contract: bool = False
    messages: int = 0
    last_sender: str = ""


def trim(items: list[Any], cap: int) -> None:
    """Drop the oldest quarter once a pool is full: activity concentrates on recent jobs and
    threads, and bounded pools keep memory flat on long runs.

    >>> pool = list(range(9)); trim(pool, 8); pool
    [2, 3, 4, 5, 6, 7, 8]
    """
    if len(items) > cap:
        del items[: cap // 4]


def recent(book: dict[str, list[float]], key: str, now: float, window: float) -> int:
    """How many of ``key``'s times in ``book`` fall inside ``window`` before ``now`` (older
    ones are forgotten).

    >>> book = {"u": [1.0, 50.0, 90.0]}
    >>> recent(book, "u", 100.0, 60.0), book["u"], recent(book, "v", 100.0, 60.0)
    (2, [50.0, 90.0], 0)
    """
    times = book.get(key)
    if not times:
        return 0
    while times and times[0] < now - window:
        times.pop(0)
    return len(times)


@dataclass(slots=True, eq=False)
class Market:
    """Everyone and everything on the marketplace so far (pools are trimmed as they grow)."""

    users: list[User] = field(default_factory=list)
    clients: list[User] = field(default_factory=list)
    freelancers: list[User] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    restricted_jobs: list[Job] = field(default_factory=list)
    threads: list[Thread] = field(default_factory=list)
    #: (message_id, sender), the targets of benign reports.
    messages: list[tuple[str, User]] = field(default_factory=list)
    proposals: list[tuple[str, Job, User]] = field(default_factory=list)
    #: Accounts per device, so benign households share a device between two accounts at most.
    device_users: dict[str, int] = field(default_factory=dict)
    #: Times of each freelancer's recent proposals and each client's recent new threads.
    recent_proposals: dict[str, list[float]] = field(default_factory=dict)
    recent_threads: dict[str, list[float]] = field(default_factory=dict)
    #: Accounts that already sent a proposal_spam burst (one burst per account).
    spammers: set[str] = field(default_factory=set)
    #: Users who skipped the AI-features choice at signup (asked again later).
    undecided: list[User] = field(default_factory=list)
    #: Users with a published profile (who edit it now and then).
    profiled: list[User] = field(default_factory=list)
