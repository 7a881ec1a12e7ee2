"""Identifiers drawn from the stream's random generator, so a seed fixes every id."""

from __future__ import annotations

import hashlib
import random
import uuid


class Ids:
    """Entity ids (``usr_``, ``job_``, ``prp_``, ``msg_``, ``thr_``), devices and event ids.

    >>> ids = Ids(random.Random(3))
    >>> ids.new("usr").startswith("usr_"), len(ids.new("job")), len(ids.device())
    (True, 16, 20)
    >>> len(ids.event_id())
    36
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def new(self, prefix: str) -> str:
        return f"{prefix}_{self.rng.getrandbits(48):012x}"

    def device(self) -> str:
        return f"dev_{self.rng.getrandbits(64):016x}"

    def event_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def payment(self) -> str:
        """A payment provider's fingerprint of a card or bank account (an opaque token)."""
        return f"fp_{self.rng.getrandbits(96):024x}"


def payment_of(owner: str) -> str:
    """The fingerprint of ``owner``'s own payment instrument: derived, not drawn, so giving
    benign profiles one leaves every other draw of the stream as it was.

    >>> payment_of("usr_1") == payment_of("usr_1") != payment_of("usr_2")
    True
    """
    return "fp_" + hashlib.sha256(f"payment:{owner}".encode()).hexdigest()[:24]


def has_payout(owner: str) -> bool:
    """Whether a freelancer has set up payouts by their first profile (about half; derived,
    like :func:`payment_of`)."""
    return hashlib.sha256(f"payout:{owner}".encode()).digest()[0] < 128
