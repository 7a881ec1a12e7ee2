"""Identifiers drawn from the stream's random generator, so a seed fixes every id."""

from __future__ import annotations

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
